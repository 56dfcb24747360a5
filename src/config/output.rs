//! Where results go: the report files, the event log, the UI, and who owns stdout.

use std::io::IsTerminal as _;

use std::path::{Path, PathBuf};

use super::{ConfigError, bad};
use crate::cli::{ColorChoice, OutputArgs, ReportPaths, UiChoice};
pub use crate::destination::{Destination, Reports};

/// Where results go.
#[derive(Clone, Debug)]
pub struct Output {
    /// The report files, the JSON report and the CI service's summary and annotations.
    pub reports: Reports,
    pub ui: UiMode,
    pub events: Option<Destination>,
    pub events_probes: bool,
    /// `--color`: whether the lines UI and the summary are coloured, asked of [`Output::color`].
    pub color: ColorChoice,
    /// `--metrics ADDR`: where to serve Prometheus metrics.
    pub metrics: Option<std::net::SocketAddr>,
    /// `--vantage`, or the host name: where blip probes from.
    pub vantage: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UiMode {
    Dashboard,
    Lines,
    Quiet,
}

/// CI services whose logs show ANSI colour, by the variable each sets in its jobs.
pub const COLOR_CI: [&str; 5] = ["GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "TF_BUILD"];

/// Whether text for a stream is coloured: `--color always` or `never` as said; `auto` when the
/// stream is a terminal or a CI log that shows colour, and never under `NO_COLOR`
/// (<https://no-color.org>). `env` reads a variable (the process's, or a test's).
pub fn use_color(choice: ColorChoice, terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty() && v != "false");
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !set("NO_COLOR") && (terminal || COLOR_CI.iter().any(|name| set(name))),
    }
}

/// Longest vantage name kept: a label, not a text.
const VANTAGE_MAX: usize = 128;

/// This machine's name.
#[cfg(unix)]
fn hostname() -> Option<String> {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok())
}

/// This machine's name, as Windows gives it to every process.
#[cfg(windows)]
fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

/// `--vantage`, checked, or this machine's host name (`unknown` if it has none).
fn vantage(given: Option<&str>) -> Result<String, ConfigError> {
    match given {
        Some(name) if name.trim().is_empty() => Err(bad("--vantage needs a name, e.g. --vantage eu-west-1a")),
        Some(name) if name.chars().count() > VANTAGE_MAX || name.chars().any(char::is_control) => {
            Err(bad(format!("--vantage takes a name of at most {VANTAGE_MAX} characters with no control character")))
        }
        Some(name) => Ok(name.to_string()),
        None => Ok(hostname()
            .filter(|h| !h.is_empty())
            .map_or_else(|| "unknown".to_string(), |h| crate::sanitize::line(&h))),
    }
}

impl Output {
    pub fn new(args: &OutputArgs) -> Result<Output, ConfigError> {
        let reports = report_files(&args.reports)?;
        refuse_bodies(&[("--events", &args.events)])?;
        let json = reports.json.clone();
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
        let events_file = match &events {
            Some(Destination::File(path)) => Some(path.clone()),
            _ => None,
        };
        let events_stdout = (events == Some(Destination::Stdout)).then(|| STDOUT.into());
        check_files(&reports, &[("--events", events_file), ("--events -", events_stdout)], &[], args.reports.force)?;
        Ok(Output {
            reports,
            ui,
            events,
            events_probes: args.events_probes,
            color: args.color,
            metrics: args.metrics,
            vantage: vantage(args.vantage.as_deref())?,
        })
    }
}

/// Where `blip judge` and `blip merge` write their reports, under a run's rules: the same paths
/// refused, the same CI summary and annotations, and never over a report being read (`inputs`).
pub fn saved_reports(paths: &ReportPaths, inputs: &[&Path]) -> Result<Reports, ConfigError> {
    let reports = report_files(paths)?;
    check_files(&reports, &[], inputs, paths.force)?;
    Ok(reports)
}

/// The reports these flags ask for, each path as a report flag takes it, with the job summary
/// and annotations of a GitHub Actions job; whether they may be written is [`check_files`]'s.
fn report_files(paths: &ReportPaths) -> Result<Reports, ConfigError> {
    refuse_bodies(&[
        ("--json", &paths.json),
        ("--junit", &paths.junit),
        ("--markdown", &paths.markdown),
        ("--html", &paths.html),
    ])?;
    let json = json_destination(paths.json.as_deref())?;
    reports(json, &paths.junit, &paths.markdown, &paths.html)
}

/// `--json`'s value: `-` is stdout.
fn json_destination(value: Option<&str>) -> Result<Option<Destination>, ConfigError> {
    match value {
        None => Ok(None),
        Some("-") => Ok(Some(Destination::Stdout)),
        Some("") => Err(bad("--json needs a path, or - for stdout")),
        Some(path) => Ok(Some(Destination::File(path.into()))),
    }
}

/// The reports of these flags, with the job summary and annotations of a GitHub Actions job.
fn reports(
    json: Option<Destination>,
    junit: &Option<String>,
    markdown: &Option<String>,
    html: &Option<String>,
) -> Result<Reports, ConfigError> {
    let path = |flag: &str, value: &Option<String>| match value.as_deref() {
        Some("-") => {
            Err(bad(format!("{flag} writes a file: give it a path (only --json and --events take - for stdout)")))
        }
        Some("") => Err(bad(format!("{flag} needs a path"))),
        Some(path) => Ok(Some(PathBuf::from(path))),
        None => Ok(None),
    };
    Ok(Reports {
        json,
        junit: path("--junit", junit)?,
        markdown: path("--markdown", markdown)?,
        step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(PathBuf::from),
        html: path("--html", html)?,
        annotations: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
    })
}

/// Refuses report paths that would write over a file blip did not write, over a report being
/// read (`inputs`), or over each other: two reports into one file would leave only the last.
/// `more` are other streams of the run (the event log).
fn check_files(
    r: &Reports,
    more: &[(&str, Option<PathBuf>)],
    inputs: &[&Path],
    force: bool,
) -> Result<(), ConfigError> {
    let mut files: Vec<(&str, Option<PathBuf>)> =
        r.files().into_iter().map(|(flag, path)| (flag, Some(path))).collect();
    // What `-` writes to: a path that names the same file (`/dev/stdout`) would mix two reports
    // in one stream.
    files.push(("--json -", r.json_to_stdout().then(|| STDOUT.into())));
    files.extend(more.iter().cloned());
    for (i, (flag, path)) in files.iter().enumerate() {
        let Some(path) = path else { continue };
        // Stdout is no file of ours; GITHUB_STEP_SUMMARY is appended to, never replaced (other
        // steps write there too), but a report being read must not get it.
        let to_stdout = flag.ends_with(" -");
        if !to_stdout && *flag != "GITHUB_STEP_SUMMARY" {
            refuse_overwrite(flag, path, force)?;
        }
        if let Some(input) = inputs.iter().find(|input| !to_stdout && same_file(input, path)) {
            return Err(bad(format!(
                "{flag} {} is a report being read ({}): write to another path",
                path.display(),
                input.display()
            )));
        }
        if let Some((other, _)) = files[i + 1..].iter().find(|(_, p)| p.as_ref().is_some_and(|p| same_file(p, path))) {
            return Err(bad(format!(
                "{flag} and {other} both name {}: give each report a file of its own",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A report flag given a request body, as curl's `--json '{..}'` takes one, would write the report
/// to a file named after the body and pass: refused, with where a body goes.
fn refuse_bodies(flags: &[(&str, &Option<String>)]) -> Result<(), ConfigError> {
    for &(flag, value) in flags {
        let Some(value) = value else { continue };
        if let Some(name) = value.strip_prefix('@') {
            let shown = crate::sanitize::line(value);
            return Err(bad(format!(
                "{flag} takes the PATH of a report file, and `{shown}` starts with @ as curl's file arguments do: \
                 send a file as the body with --data @{name}; for a report file of that name, give ./{shown}"
            )));
        }
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

/// Refuses a report path that names a file with content blip did not write (a request body, a
/// source file, someone's notes): a report flag replaces what it names, and a curl habit
/// (`--json body.json`) must not cost the user a file. An empty file, a file blip wrote (a
/// report of an earlier run, of any kind) and anything but a regular file (`/dev/null`, a pipe)
/// are written as asked; `force` writes over anything.
pub fn refuse_overwrite(flag: &str, path: &std::path::Path, force: bool) -> Result<(), ConfigError> {
    use std::io::Read as _;
    let is_file = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0);
    if force || !is_file {
        return Ok(());
    }
    let mut head = Vec::with_capacity(HEAD_LEN);
    // A file that cannot be read cannot be told; the write then succeeds or fails on its own.
    let Ok(file) = std::fs::File::open(path) else { return Ok(()) };
    if file.take(HEAD_LEN as u64).read_to_end(&mut head).is_err() || written_by_blip(&head) {
        return Ok(());
    }
    let shown = crate::sanitize::line(&path.display().to_string());
    Err(bad(format!(
        "{flag} would write over {shown}, which is not a blip report: give another path, or add --force to replace it"
    )))
}

/// How much of a file [`written_by_blip`] reads.
const HEAD_LEN: usize = 4096;

/// Whether `head`, the start of a file, is the start of a report blip writes: JSON (`--json`,
/// also judge's and merge's), JUnit, Markdown, HTML or NDJSON events. Each mark is what that
/// writer puts first; tests/habits.rs writes every kind and writes over each again.
fn written_by_blip(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let first_line = text.lines().next().unwrap_or_default();
    (text.starts_with('{') && text.contains("\"blip_version\""))
        || text.contains("<testsuites name=\"blip\"")
        || (first_line.starts_with("## ") && first_line.contains("blip"))
        || (text.starts_with("<!DOCTYPE html>") && text.contains("<title>blip"))
        || (first_line.starts_with('{') && first_line.contains("\"event\":\"run_start\""))
}

impl Output {
    /// Whether stdout carries a report stream (`--json -` or `--events -`): everything else blip
    /// prints (the UI, the command's output, annotations, the demo's lines) then goes to stderr.
    pub fn stdout_taken(&self) -> bool {
        takes_stdout(self.reports.json.as_ref(), self.events.as_ref())
    }
}

/// The one rule for who owns stdout: a report stream sent there has it alone.
fn takes_stdout(json: Option<&Destination>, events: Option<&Destination>) -> bool {
    [json, events].contains(&Some(&Destination::Stdout))
}

/// The file blip's stdout is, as a path: Linux names it for this process, macOS has
/// `/dev/stdout`, Windows its console's output.
const STDOUT: &str = if cfg!(target_os = "linux") {
    "/proc/self/fd/1"
} else if cfg!(unix) {
    "/dev/stdout"
} else {
    "CONOUT$"
};

/// Whether two report paths name one file: the same path as given, one file reached two ways
/// (a link, `/dev/stdout`), or one file yet to be made, spelled two ways (`a.json`, `./a.json`).
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b
        || match (std::fs::metadata(a), std::fs::metadata(b)) {
            // Devices (`/dev/null`, a terminal) take any number of writers.
            (Ok(a), _) if is_device(&a) => false,
            (Ok(a_meta), Ok(b_meta)) => same_inode(a, &a_meta, b, &b_meta),
            _ => absolute(a).is_some_and(|a| absolute(b).is_some_and(|b| a == b)),
        }
}

#[cfg(unix)]
fn is_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    meta.file_type().is_char_device()
}

/// Windows has no device files a report could be written to but through their names.
#[cfg(windows)]
fn is_device(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn same_inode(_: &std::path::Path, a: &std::fs::Metadata, _: &std::path::Path, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Stable Rust gives no file index on Windows: two existing paths are one file when they
/// resolve to one path.
#[cfg(windows)]
fn same_inode(a: &std::path::Path, _: &std::fs::Metadata, b: &std::path::Path, _: &std::fs::Metadata) -> bool {
    std::fs::canonicalize(a).is_ok_and(|a| std::fs::canonicalize(b).is_ok_and(|b| a == b))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_flag_the_stream_and_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let none: &[(&str, &str)] = &[];
        assert!(use_color(ColorChoice::Auto, true, env(none)));
        assert!(!use_color(ColorChoice::Auto, false, env(none)), "a pipe or file gets no escapes");
        assert!(use_color(ColorChoice::Auto, false, env(&[("GITHUB_ACTIONS", "true")])));
        assert!(use_color(ColorChoice::Auto, false, env(&[("GITLAB_CI", "true")])));
        assert!(!use_color(ColorChoice::Auto, false, env(&[("GITHUB_ACTIONS", "false")])));
        assert!(!use_color(ColorChoice::Auto, true, env(&[("NO_COLOR", "1")])));
        assert!(!use_color(ColorChoice::Auto, false, env(&[("NO_COLOR", "1"), ("BUILDKITE", "true")])));
        // An empty NO_COLOR is not set (no-color.org).
        assert!(use_color(ColorChoice::Auto, true, env(&[("NO_COLOR", "")])));
        assert!(use_color(ColorChoice::Always, false, env(&[("NO_COLOR", "1")])), "asked for explicitly");
        assert!(!use_color(ColorChoice::Never, true, env(&[("GITHUB_ACTIONS", "true")])));
    }
}
