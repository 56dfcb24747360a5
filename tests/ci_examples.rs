//! The README's CI examples run as written: each YAML block parses, and every `blip` command in it
//! uses only flags that `blip --help` lists and writes a report CI can keep (`--junit` or `--json`).

use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

/// The fenced ```yaml blocks of README.md, with the line each starts on.
fn yaml_blocks(readme: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in readme.lines().enumerate() {
        match &mut current {
            None if line.trim_end() == "```yaml" => current = Some((i + 1, String::new())),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "README.md: a ```yaml block is never closed");
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

/// The shell commands that run blip in a script: lines joined across `\` continuations (a YAML
/// plain scalar is already folded into one line), whose first word is `blip` or a path to it,
/// split into words up to `--`, which starts the wrapped COMMAND.
fn blip_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let first = words.first()?.trim_matches('"');
            (first == "blip" || first.ends_with("/blip"))
                .then(|| words[1..].iter().take_while(|w| **w != "--").map(|w| w.to_string()).collect())
        })
        .collect()
}

/// The flags a command uses: `--name` (without any `=value`) and `-x`.
fn flags(command: &[String]) -> impl Iterator<Item = &str> {
    command.iter().filter(|w| w.starts_with('-') && w.len() > 1).map(|w| w.split('=').next().unwrap_or(w))
}

#[test]
fn the_readme_ci_examples_parse_and_name_only_real_flags() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_blip")).arg("--help").output().unwrap();
    assert!(help.status.success(), "blip --help failed");
    let help = String::from_utf8(help.stdout).unwrap();
    // A flag is listed when it stands as a word in the help: `--junit <PATH>`, `-r, --rate`.
    let listed = |flag: &str| {
        help.match_indices(flag).any(|(at, _)| {
            let before = help[..at].chars().next_back();
            let after = help[at + flag.len()..].chars().next();
            matches!(before, None | Some(' ' | '\n' | '['))
                && matches!(after, None | Some(' ' | ',' | '\n' | '=' | ']'))
        })
    };

    let blocks = yaml_blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "README.md: expected three CI examples and a DaemonSet, found {} YAML blocks",
        blocks.len()
    );
    for (line, text) in &blocks {
        let docs = YamlLoader::load_from_str(text)
            .unwrap_or_else(|e| panic!("README.md:{line}: the YAML block does not parse: {e}"));
        let mut scalars = Vec::new();
        docs.iter().for_each(|doc| strings(doc, &mut scalars));
        let commands: Vec<Vec<String>> = scalars.iter().flat_map(|s| blip_commands(s)).collect();
        assert!(!commands.is_empty(), "README.md:{line}: the YAML block runs no blip command");
        for command in &commands {
            for flag in flags(command) {
                assert!(listed(flag), "README.md:{line}: `{flag}` is not a flag of blip: {command:?}");
            }
        }
        // A Kubernetes manifest runs blip as a monitor, scraped for its metrics; a CI job keeps
        // a report.
        let manifest = docs.iter().any(|doc| !doc["kind"].is_badvalue());
        assert!(
            manifest || commands.iter().flatten().any(|w| w == "--junit" || w == "--json"),
            "README.md:{line}: no blip command writes a report CI keeps (--junit or --json)"
        );
    }
}

#[test]
fn commands_are_found_across_continuations_and_stop_at_the_wrapped_command() {
    let script = "cargo install --locked --path blip\nblip --rate 5 \\\n  --junit b.xml URL -- cf push -f x\n";
    assert_eq!(blip_commands(script), vec![vec!["--rate", "5", "--junit", "b.xml", "URL"]]);
    assert_eq!(blip_commands("../blip/blip -k URL"), vec![vec!["-k", "URL"]]);
    let cmd = blip_commands("blip --max-latency=p99=1s -r 2 URL").remove(0);
    assert_eq!(flags(&cmd).collect::<Vec<_>>(), ["--max-latency", "-r"]);
}
