//! Where results go: the report files, the event log, the UI, and who owns stdout.

use std::io::IsTerminal as _;

use super::{ConfigError, bad};
use crate::cli::{OutputArgs, UiChoice};

/// Where results go.
#[derive(Clone, Debug)]
pub struct Output {
    /// `None`: no JSON; `Some(Stdout)`: `--json -`.
    pub json: Option<Destination>,
    pub ui: UiMode,
    pub junit: Option<std::path::PathBuf>,
    /// Where the Markdown summary goes; `$GITHUB_STEP_SUMMARY` is appended to.
    pub markdown: Option<Markdown>,
    /// `--html PATH`: written whole.
    pub html: Option<std::path::PathBuf>,
    pub events: Option<Destination>,
    pub events_probes: bool,
    /// Print GitHub Actions annotations for failed gates (`GITHUB_ACTIONS=true`).
    pub annotations: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Markdown {
    /// `--markdown PATH`: written whole.
    File(std::path::PathBuf),
    /// `$GITHUB_STEP_SUMMARY`: appended to, as GitHub expects.
    StepSummary(std::path::PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(std::path::PathBuf),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UiMode {
    Dashboard,
    Lines,
    Quiet,
}

impl Output {
    pub fn new(args: &OutputArgs) -> Result<Output, ConfigError> {
        refuse_bodies(args)?;
        let json = match args.json.as_deref() {
            None => None,
            Some("-") => Some(Destination::Stdout),
            Some("") => return Err(bad("--json needs a path, or - for stdout")),
            Some(path) => Some(Destination::File(path.into())),
        };
        let events_to_stdout = (args.events.as_deref() == Some("-")).then_some(&Destination::Stdout);
        let stdout_taken = takes_stdout(json.as_ref(), events_to_stdout);
        let terminal = std::io::stdout().is_terminal();
        let ui = match args.ui {
            UiChoice::Auto if terminal && !stdout_taken => UiMode::Dashboard,
            UiChoice::Auto | UiChoice::Lines => UiMode::Lines,
            UiChoice::Quiet => UiMode::Quiet,
            UiChoice::Dashboard if stdout_taken => {
                return Err(bad("--ui dashboard needs stdout, which --json - or --events - takes: give that a path"));
            }
            UiChoice::Dashboard if !terminal => {
                return Err(bad("--ui dashboard needs a terminal on stdout; use --ui lines when piping or in CI"));
            }
            UiChoice::Dashboard => UiMode::Dashboard,
        };
        let path = |flag: &str, value: &Option<String>| match value.as_deref() {
            Some("") => Err(bad(format!("{flag} needs a path"))),
            Some(path) => Ok(Some(std::path::PathBuf::from(path))),
            None => Ok(None),
        };
        let events = match args.events.as_deref() {
            None => None,
            Some("-") if json == Some(Destination::Stdout) => {
                return Err(bad("--events - and --json - cannot both use stdout: give one of them a path"));
            }
            Some("-") => Some(Destination::Stdout),
            Some("") => return Err(bad("--events needs a path, or - for stdout")),
            Some(path) => Some(Destination::File(path.into())),
        };
        if args.events_probes && events.is_none() {
            return Err(bad("--events-probes goes with --events PATH"));
        }
        let markdown = match path("--markdown", &args.markdown)? {
            Some(path) => Some(Markdown::File(path)),
            None => std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|p| !p.is_empty())
                .map(|p| Markdown::StepSummary(p.into())),
        };
        let junit = path("--junit", &args.junit)?;
        let html = path("--html", &args.html)?;
        // Two reports into one file would leave only the last one written.
        let file = |d: &Option<Destination>| match d {
            Some(Destination::File(path)) => Some(path.clone()),
            _ => None,
        };
        let files = [
            ("--json", file(&json)),
            ("--junit", junit.clone()),
            (
                "--markdown",
                match &markdown {
                    Some(Markdown::File(path)) => Some(path.clone()),
                    _ => None,
                },
            ),
            ("--html", html.clone()),
            ("--events", file(&events)),
            (
                "GITHUB_STEP_SUMMARY",
                match &markdown {
                    Some(Markdown::StepSummary(path)) => Some(path.clone()),
                    _ => None,
                },
            ),
            // What `-` writes to: a path that names the same file (`/dev/stdout`) would mix two
            // reports in one stream.
            ("--json -", (json == Some(Destination::Stdout)).then(|| STDOUT.into())),
            ("--events -", (events == Some(Destination::Stdout)).then(|| STDOUT.into())),
        ];
        for (i, (flag, path)) in files.iter().enumerate() {
            let Some(path) = path else { continue };
            if let Some((other, _)) =
                files[i + 1..].iter().find(|(_, p)| p.as_ref().is_some_and(|p| same_file(p, path)))
            {
                return Err(bad(format!(
                    "{flag} and {other} both name {}: give each report a file of its own",
                    path.display()
                )));
            }
        }
        Ok(Output {
            json,
            ui,
            junit,
            markdown,
            html,
            events,
            events_probes: args.events_probes,
            annotations: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        })
    }
}

/// A report flag given a request body, as curl's `--json '{..}'` takes one, would write the report
/// to a file named after the body and pass: refused, with where a body goes.
fn refuse_bodies(args: &OutputArgs) -> Result<(), ConfigError> {
    let flags = [
        ("--json", &args.json),
        ("--junit", &args.junit),
        ("--markdown", &args.markdown),
        ("--html", &args.html),
        ("--events", &args.events),
    ];
    for (flag, value) in flags {
        let Some(value) = value else { continue };
        if value.trim_start().starts_with(['{', '[']) {
            let shown: String = crate::sanitize::line(value).chars().take(40).collect();
            return Err(bad(format!(
                "{flag} takes the PATH of a report file, and `{shown}` looks like a request body: \
                 send a body with --data (and a header with -H 'Content-Type: application/json')"
            )));
        }
    }
    Ok(())
}

impl Output {
    /// Whether stdout carries a report stream (`--json -` or `--events -`): everything else blip
    /// prints (the UI, the command's output, annotations, the demo's lines) then goes to stderr.
    pub fn stdout_taken(&self) -> bool {
        takes_stdout(self.json.as_ref(), self.events.as_ref())
    }
}

/// The one rule for who owns stdout: a report stream sent there has it alone.
fn takes_stdout(json: Option<&Destination>, events: Option<&Destination>) -> bool {
    [json, events].contains(&Some(&Destination::Stdout))
}

/// The file blip's stdout is, as a path.
const STDOUT: &str = "/proc/self/fd/1";

/// Whether two report paths name one file: the same path as given, one file reached two ways
/// (a link, `/dev/stdout`), or one file yet to be made, spelled two ways (`a.json`, `./a.json`).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    a == b
        || match (std::fs::metadata(a), std::fs::metadata(b)) {
            // Devices (`/dev/null`, a terminal) take any number of writers.
            (Ok(a), _) if a.file_type().is_char_device() => false,
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => absolute(a).is_some_and(|a| absolute(b).is_some_and(|b| a == b)),
        }
}

/// `path` made absolute through its directory, which must exist (the file itself need not).
fn absolute(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}
