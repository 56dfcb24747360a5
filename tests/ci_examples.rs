//! The CI examples run as written. Every YAML block of README.md and docs/ parses; every `blip`
//! command in one uses only flags that `blip --help` lists; every use of blip's own action
//! (action.yml) names only inputs the action has, gives the required ones and passes only real
//! flags in `args`; and every CI job keeps a report (`--junit` or `--json`, which the action
//! writes unless told otherwise). The README shows one short example per CI (GitHub Actions with
//! the action, GitLab, Concourse), docs/ci.md the full recipes, docs/monitoring.md a DaemonSet.

use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The fenced ```yaml blocks of a Markdown text, with the line each starts on.
fn yaml_blocks(name: &str, text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```yaml" => current = Some((i + 1, String::new())),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "{name}: a ```yaml block is never closed");
    blocks
}

/// Every string scalar in a YAML document, keys included.
fn strings<'a>(yaml: &'a Yaml, out: &mut Vec<&'a str>) {
    match yaml {
        Yaml::String(s) => out.push(s),
        Yaml::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Yaml::Hash(map) => map.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        _ => {}
    }
}

/// Every mapping in a YAML document, nested ones included.
fn mappings<'a>(yaml: &'a Yaml, out: &mut Vec<&'a Yaml>) {
    match yaml {
        Yaml::Array(items) => items.iter().for_each(|item| mappings(item, out)),
        Yaml::Hash(map) => {
            out.push(yaml);
            map.iter().for_each(|(_, v)| mappings(v, out));
        }
        _ => {}
    }
}

/// The shell commands that run blip in a script: lines joined across `\` continuations (a YAML
/// plain scalar is already folded into one line), whose first word is `blip` or a path to it and
/// which have arguments (a lone `blip` is a name, such as a checkout's `path: blip`), split into
/// words up to `--`, which starts the wrapped COMMAND.
fn blip_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let first = words.first()?.trim_matches('"');
            (words.len() > 1 && (first == "blip" || first.ends_with("/blip")))
                .then(|| words[1..].iter().take_while(|w| **w != "--").map(|w| w.to_string()).collect())
        })
        .collect()
}

/// The words of the action's `args` input, split as a shell splits them (quotes removed,
/// nothing expanded), as action/run.sh splits them.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "a quote is not closed in the args input: {text}");
    words.extend(word);
    words
}

/// The flags a command uses: `--name` (without any `=value`) and `-x`.
fn flags(command: &[String]) -> impl Iterator<Item = &str> {
    command.iter().filter(|w| w.starts_with('-') && w.len() > 1).map(|w| w.split('=').next().unwrap_or(w))
}

/// What a YAML block is, by its shape.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A Kubernetes manifest (`kind:`): blip runs there as a monitor, scraped for its metrics.
    Manifest,
    /// A GitHub Actions workflow (`jobs.<id>.steps`), or a list of its steps.
    GitHub,
    /// A GitLab CI job (`<job>.script`).
    GitLab,
    /// A Concourse pipeline (`jobs[].plan`).
    Concourse,
    Unknown,
}

fn kind(doc: &Yaml) -> Kind {
    let jobs = &doc["jobs"];
    let workflow = jobs.as_hash().is_some_and(|jobs| jobs.values().any(|job| job["steps"].as_vec().is_some()));
    let steps = doc.as_vec().is_some_and(|steps| steps.iter().any(|step| !step["uses"].is_badvalue()));
    if doc["kind"].as_str().is_some() {
        Kind::Manifest
    } else if workflow || steps {
        Kind::GitHub
    } else if jobs.as_vec().is_some_and(|jobs| jobs.iter().any(|job| job["plan"].as_vec().is_some())) {
        Kind::Concourse
    } else if doc.as_hash().is_some_and(|map| map.values().any(|job| !job["script"].is_badvalue())) {
        Kind::GitLab
    } else {
        Kind::Unknown
    }
}

/// blip's own action: its name on GitHub (`owner/name`, from Cargo.toml's repository) and its
/// inputs, each with whether it is required.
struct Action {
    name: String,
    inputs: Vec<(String, bool)>,
}

impl Action {
    fn load() -> Action {
        let manifest = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
        let repository = manifest
            .lines()
            .find_map(|line| line.strip_prefix("repository = "))
            .expect("Cargo.toml names no repository")
            .trim_matches('"');
        let name = repository.strip_prefix("https://github.com/").expect("the repository is on GitHub").to_string();
        let action = std::fs::read_to_string(Path::new(ROOT).join("action.yml")).unwrap();
        let action = YamlLoader::load_from_str(&action).expect("action.yml does not parse").remove(0);
        let inputs = action["inputs"]
            .as_hash()
            .expect("action.yml has no inputs")
            .iter()
            .map(|(name, input)| (name.as_str().unwrap().to_string(), input["required"].as_bool() == Some(true)))
            .collect();
        Action { name, inputs }
    }
}

/// A place blip runs in one YAML block: a command line, or a use of the action.
struct Run {
    words: Vec<String>,
    keeps_report: bool,
}

/// Every run of blip in a YAML document; panics, naming `at`, on a use of the action that does
/// not fit action.yml.
fn runs(doc: &Yaml, action: &Action, at: &str) -> Vec<Run> {
    let mut scalars = Vec::new();
    strings(doc, &mut scalars);
    let mut runs: Vec<Run> = scalars
        .iter()
        .flat_map(|s| blip_commands(s))
        .map(|words| {
            let keeps_report = words.iter().any(|w| w == "--junit" || w == "--json");
            Run { words, keeps_report }
        })
        .collect();
    let mut maps = Vec::new();
    mappings(doc, &mut maps);
    for step in maps {
        let Some(uses) = step["uses"].as_str() else { continue };
        let Some(version) = uses.strip_prefix(&format!("{}@", action.name)) else { continue };
        assert!(!version.is_empty(), "{at}: `uses: {uses}` names no version");
        let with = step["with"].as_hash().unwrap_or_else(|| panic!("{at}: `uses: {uses}` has no `with:` inputs"));
        let given: Vec<&str> = with.keys().map(|k| k.as_str().expect("an input name is a string")).collect();
        for input in &given {
            assert!(
                action.inputs.iter().any(|(name, _)| name == input),
                "{at}: `{input}` is not an input of action.yml (it has {:?})",
                action.inputs.iter().map(|(name, _)| name).collect::<Vec<_>>()
            );
        }
        for (name, required) in &action.inputs {
            assert!(
                !required || given.contains(&name.as_str()),
                "{at}: the action's required input `{name}` is missing"
            );
        }
        let input = |name: &str| step["with"][name].as_str().map(str::to_string);
        let words = input("args").map(|args| shell_words(&args)).unwrap_or_default();
        // The action writes every report unless `reports` says otherwise (action/run.sh).
        let reports = input("reports").unwrap_or_else(|| "json junit markdown html".to_string());
        let keeps_report = reports.split([' ', ',', '\n']).any(|r| r == "json" || r == "junit");
        runs.push(Run { words, keeps_report });
    }
    runs
}

/// The kinds of YAML block each file must show, at least once each.
const EXPECTED: &[(&str, &[Kind])] = &[
    ("README.md", &[Kind::GitHub, Kind::GitLab, Kind::Concourse]),
    ("docs/ci.md", &[Kind::GitHub, Kind::GitLab, Kind::Concourse]),
    ("docs/monitoring.md", &[Kind::Manifest]),
];

#[test]
fn the_ci_examples_parse_and_name_only_real_flags() {
    // The help of blip, or of its subcommand when the command names one (`blip judge …`).
    let help_of = |sub: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_blip"));
        command.args(sub).arg("--help");
        let help = command.output().unwrap();
        assert!(help.status.success(), "blip {sub:?} --help failed");
        String::from_utf8(help.stdout).unwrap()
    };
    let helps: Vec<(Option<&str>, String)> =
        [None, Some("judge"), Some("merge"), Some("demo")].into_iter().map(|sub| (sub, help_of(sub))).collect();
    // A flag is listed when it stands as a word in the help: `--junit <PATH>`, `-r, --rate`.
    let listed = |words: &[String], flag: &str| {
        let sub = words.first().map(String::as_str).filter(|w| ["judge", "merge", "demo"].contains(w));
        let help = &helps.iter().find(|(s, _)| *s == sub).expect("a help for each subcommand").1;
        help.match_indices(flag).any(|(at, _)| {
            let before = help[..at].chars().next_back();
            let after = help[at + flag.len()..].chars().next();
            matches!(before, None | Some(' ' | '\n' | '['))
                && matches!(after, None | Some(' ' | ',' | '\n' | '=' | ']'))
        })
    };
    let action = Action::load();

    let mut seen: Vec<(String, Kind)> = Vec::new();
    for file in crate::support::markdown_files() {
        let name = file.strip_prefix(ROOT).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, block) in yaml_blocks(&name, &text) {
            let at = format!("{name}:{line}");
            let docs = YamlLoader::load_from_str(&block)
                .unwrap_or_else(|e| panic!("{at}: the YAML block does not parse: {e}"));
            assert!(!docs.is_empty(), "{at}: the YAML block is empty");
            let kinds: Vec<Kind> = docs.iter().map(kind).collect();
            assert!(!kinds.contains(&Kind::Unknown), "{at}: neither a CI job nor a Kubernetes manifest");
            let runs: Vec<Run> = docs.iter().flat_map(|doc| runs(doc, &action, &at)).collect();
            assert!(!runs.is_empty(), "{at}: the YAML block runs no blip command and uses no blip action");
            for run in &runs {
                for flag in flags(&run.words) {
                    assert!(listed(&run.words, flag), "{at}: `{flag}` is not a flag of blip: {:?}", run.words);
                }
            }
            // A Kubernetes manifest runs blip as a monitor, scraped for its metrics; a CI job
            // keeps a report.
            let manifest = kinds.contains(&Kind::Manifest);
            assert!(
                manifest || runs.iter().all(|run| run.keeps_report),
                "{at}: a blip run here writes no report CI keeps (--junit or --json)"
            );
            seen.extend(kinds.into_iter().map(|kind| (name.clone(), kind)));
        }
    }
    for (file, kinds) in EXPECTED {
        for kind in *kinds {
            assert!(
                seen.contains(&(file.to_string(), *kind)),
                "{file}: expected a {kind:?} example among its YAML blocks, found {:?}",
                seen.iter().filter(|(f, _)| f == file).map(|(_, k)| k).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn commands_are_found_across_continuations_and_stop_at_the_wrapped_command() {
    let script = "cargo install --locked --path blip\nblip --rate 5 \\\n  --junit b.xml URL -- cf push -f x\n";
    assert_eq!(blip_commands(script), vec![vec!["--rate", "5", "--junit", "b.xml", "URL"]]);
    assert_eq!(blip_commands("../blip/blip -k URL"), vec![vec!["-k", "URL"]]);
    assert!(blip_commands("blip").is_empty(), "a lone word is a name, not a command");
    let cmd = blip_commands("blip --max-latency=p99=1s -r 2 URL").remove(0);
    assert_eq!(flags(&cmd).collect::<Vec<_>>(), ["--max-latency", "-r"]);
    assert_eq!(shell_words(" --header 'X-A: b c' \"--rate\"  5 "), ["--header", "X-A: b c", "--rate", "5"]);
}

#[test]
fn a_use_of_the_action_is_checked_against_action_yml() {
    let action = Action::load();
    let uses = |with: &str| format!("- uses: {}@v1\n  with:\n{with}", action.name);
    let check = |yaml: String| {
        let doc = YamlLoader::load_from_str(&yaml).unwrap().remove(0);
        std::panic::catch_unwind(|| {
            runs(&doc, &action, "t").into_iter().map(|r| (r.words, r.keeps_report)).collect::<Vec<_>>()
        })
    };
    let good = check(uses("    urls: https://x/\n    args: --fail-on-status 404\n")).unwrap();
    assert_eq!(good, vec![(vec!["--fail-on-status".to_string(), "404".to_string()], true)]);
    let no_report = check(uses("    urls: https://x/\n    reports: markdown html\n")).unwrap();
    assert_eq!(no_report, vec![(vec![], false)]);
    assert!(check(uses("    urls: https://x/\n    flags: --rate 5\n")).is_err(), "an unknown input");
    assert!(check(uses("    command: ./deploy.sh\n")).is_err(), "the required urls is missing");
}
