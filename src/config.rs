//! Validation: turns the parsed command line into one typed [`Config`], in one place.
//!
//! Every error here names the input that is wrong and the flag that fixes it; the caller maps
//! any of them to exit code 2 before a single probe is sent.

use std::io::IsTerminal as _;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::cli::{DeployArgs, GateArgs, OutputArgs, ProbeArgs, UiChoice};
use crate::gates::{Gate, GatePhases};
use crate::status_set::StatusSet;

/// Probes per second per URL when `--rate` is not given.
pub const DEFAULT_RATE: f64 = 20.0;
/// Deadline of one probe when `--timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Probing before a wrapped command starts, when `--warmup` is not given.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(2);
/// Probing after a wrapped command exits, when `--cooldown` is not given.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);

/// A configuration error: the message names the flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn bad(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// Everything a run needs, checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub urls: Vec<Url>,
    pub rate: f64,
    pub duration: Option<Duration>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub request: RequestSpec,
    pub expect: Expect,
    pub min_failures: u32,
    pub output: Output,
    /// The deploy command to wrap, if any.
    pub wrap: Option<Wrap>,
    pub gates: Vec<Gate>,
    /// Which phases of a wrapped deploy the gates judge.
    pub gate_phases: GatePhases,
    pub fail_fast: bool,
}

/// A wrapped COMMAND and the probing around it.
#[derive(Clone, Debug)]
pub struct Wrap {
    pub argv: Vec<String>,
    pub warmup: Duration,
    pub cooldown: Duration,
}

/// What every probe sends.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub method: reqwest::Method,
    pub headers: HeaderMap,
    pub body: Option<String>,
    pub insecure: bool,
    pub fresh_connections: bool,
}

/// What counts as up.
#[derive(Clone, Debug)]
pub struct Expect {
    pub status: StatusSet,
    pub body: Option<String>,
    pub slow: Option<Duration>,
}

/// Where results go.
#[derive(Clone, Debug)]
pub struct Output {
    /// `None`: no JSON; `Some(Stdout)`: `--json -`.
    pub json: Option<Destination>,
    pub ui: UiMode,
    pub junit: Option<std::path::PathBuf>,
    /// Where the Markdown summary goes; `$GITHUB_STEP_SUMMARY` is appended to.
    pub markdown: Option<Markdown>,
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

impl Config {
    /// Validates the flags against a list of URLs (from the command line, or the demo's own) and
    /// an optional COMMAND to wrap.
    pub fn new(
        urls: &[String],
        probe: &ProbeArgs,
        deploy: &DeployArgs,
        gates: &GateArgs,
        command: &[String],
        output: &OutputArgs,
    ) -> Result<Config, ConfigError> {
        let urls = urls.iter().map(|u| parse_url(u)).collect::<Result<Vec<_>, _>>()?;
        let rate = probe.rate.unwrap_or(DEFAULT_RATE);
        let timeout = probe.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(bad("--timeout must be longer than 0s"));
        }
        if probe.duration.is_some_and(|d| d.is_zero()) {
            return Err(bad("--duration must be longer than 0s"));
        }
        let concurrency = match probe.concurrency {
            Some(0) => return Err(bad("--concurrency must be at least 1")),
            Some(n) => n,
            None => default_concurrency(rate, timeout),
        };
        if probe.min_failures == 0 {
            return Err(bad("--min-failures must be at least 1"));
        }
        let method = reqwest::Method::from_bytes(probe.method.as_bytes())
            .map_err(|_| bad(format!("`{}` is not an HTTP method: fix --method", probe.method)))?;
        let headers = parse_headers(&probe.headers)?;
        let wrap = match command {
            [] if deploy.warmup.is_some() => return Err(bad("--warmup applies only to a COMMAND given after --")),
            [] if deploy.cooldown.is_some() => return Err(bad("--cooldown applies only to a COMMAND given after --")),
            [] => None,
            [program, ..] if program.is_empty() => return Err(bad("the COMMAND after -- is empty")),
            _ if probe.duration.is_some() => {
                return Err(bad(
                    "--duration does not apply with a COMMAND: the run lasts --warmup, the command, then --cooldown",
                ));
            }
            argv => Some(Wrap {
                argv: argv.to_vec(),
                warmup: deploy.warmup.unwrap_or(DEFAULT_WARMUP),
                cooldown: deploy.cooldown.unwrap_or(DEFAULT_COOLDOWN),
            }),
        };
        if gates.gate_phase.is_some() && wrap.is_none() {
            return Err(bad("--gate-phase applies only to a COMMAND given after --"));
        }
        let gate_list = gate_list(gates);
        if gates.fail_fast && gate_list.is_empty() {
            return Err(bad("--fail-fast needs a gate such as --fail-on-status 404 or --max-downtime 0s"));
        }
        if probe.expect_body.as_deref() == Some("") {
            return Err(bad("--expect-body needs some text to look for"));
        }
        Ok(Config {
            urls,
            rate,
            duration: probe.duration,
            timeout,
            concurrency,
            request: RequestSpec {
                method,
                headers,
                body: probe.data.clone(),
                insecure: probe.insecure,
                fresh_connections: probe.fresh_connections,
            },
            expect: Expect { status: probe.expect_status.clone(), body: probe.expect_body.clone(), slow: probe.slow },
            min_failures: probe.min_failures,
            output: Output::new(output)?,
            wrap,
            gates: gate_list,
            gate_phases: gates.gate_phase.unwrap_or_default(),
            fail_fast: gates.fail_fast,
        })
    }
}

impl Output {
    pub fn new(args: &OutputArgs) -> Result<Output, ConfigError> {
        let json = match args.json.as_deref() {
            None => None,
            Some("-") => Some(Destination::Stdout),
            Some("") => return Err(bad("--json needs a path, or - for stdout")),
            Some(path) => Some(Destination::File(path.into())),
        };
        let stdout_taken = args.json.as_deref() == Some("-") || args.events.as_deref() == Some("-");
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
            ("--events", file(&events)),
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
            events,
            events_probes: args.events_probes,
            annotations: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        })
    }
}

/// Whether two report paths name one file: the same path as given, or one file reached two ways.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a == b
        || match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
}

/// The gates in the order a report lists them.
fn gate_list(args: &GateArgs) -> Vec<Gate> {
    let mut gates: Vec<Gate> = args.fail_on_status.iter().cloned().map(Gate::FailOnStatus).collect();
    gates.extend(args.max_downtime.map(Gate::MaxDowntime));
    gates.extend(args.max_outage.map(Gate::MaxOutage));
    gates.extend(args.max_failed.map(Gate::MaxFailed));
    gates.extend(args.max_latency.iter().copied().map(Gate::MaxLatency));
    gates
}

/// A cap the schedule never reaches: a probe lives at most `timeout`, so at most
/// `rate × timeout` (+1) are in flight; twice that plus 16 leaves room for timer jitter.
pub fn default_concurrency(rate: f64, timeout: Duration) -> usize {
    let in_flight = (rate * timeout.as_secs_f64()).ceil();
    (in_flight * 2.0 + 16.0).min(1_000_000.0) as usize
}

fn parse_url(text: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| bad(format!("`{text}` is not a URL ({e}); give one like https://host/path")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(bad(format!("`{text}` has scheme `{other}`; blip probes http:// and https:// URLs")));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!("`{text}` has no host")));
    }
    Ok(url)
}

fn parse_headers(lines: &[String]) -> Result<HeaderMap, ConfigError> {
    let mut headers = HeaderMap::new();
    for line in lines {
        let invalid = || bad(format!("`{line}` is not a header like 'Name: value': fix --header"));
        let (name, value) = line.split_once(':').ok_or_else(invalid)?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| invalid())?;
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("blip").chain(args.iter().copied())).unwrap();
        Config::new(&cli.urls, &cli.probe, &cli.deploy, &cli.gates, &cli.command, &cli.output)
    }

    #[test]
    fn defaults() {
        let c = config(&["http://127.0.0.1:8080/health"]).unwrap();
        assert_eq!(c.rate, 20.0);
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert!(c.concurrency as f64 > c.rate * c.timeout.as_secs_f64());
        assert!(c.expect.status.contains(200) && c.expect.status.contains(302));
        assert!(!c.expect.status.contains(404));
        // `auto` picks the dashboard only when stdout is a terminal.
        assert_eq!(c.output.ui == UiMode::Dashboard, std::io::stdout().is_terminal());
    }

    #[test]
    fn default_cap_is_never_reached_by_the_schedule() {
        for (rate, timeout_ms) in [(0.2, 1000), (20.0, 1000), (5000.0, 1000), (1000.0, 30_000)] {
            let timeout = Duration::from_millis(timeout_ms);
            let cap = default_concurrency(rate, timeout);
            assert!(cap as f64 >= rate * timeout.as_secs_f64() + 1.0, "{rate} {timeout_ms}");
        }
    }

    #[test]
    fn bad_input_names_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["ftp://example.com/"], "scheme `ftp`"),
            (&["notaurl"], "`notaurl` is not a URL"),
            (&["-t", "0s", "http://a/"], "--timeout"),
            (&["-d", "0s", "http://a/"], "--duration"),
            (&["-c", "0", "http://a/"], "--concurrency"),
            (&["--min-failures", "0", "http://a/"], "--min-failures"),
            (&["-H", "nocolon", "http://a/"], "--header"),
            (&["-X", "GE T", "http://a/"], "--method"),
            (&["--json", "", "http://a/"], "--json"),
            (&["--warmup", "1s", "http://a/"], "--warmup"),
            (&["-d", "1s", "http://a/", "--", "true"], "--duration"),
            (&["--gate-phase", "deploy", "http://a/"], "--gate-phase"),
            (&["--fail-fast", "http://a/"], "--fail-fast"),
            (&["--json", "-", "--events", "-", "http://a/"], "--events"),
            (&["--events-probes", "http://a/"], "--events-probes"),
            (&["--json", "r.json", "--junit", "r.json", "http://a/"], "--json and --junit both name r.json"),
            (&["--junit", "out/r", "--markdown", "out/./r", "http://a/"], "--junit and --markdown"),
            (&["--events", "e", "--markdown", "x", "--json", "e", "http://a/"], "--json and --events"),
        ];
        for (args, needle) in cases {
            let err = config(args).unwrap_err().to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn a_wrapped_command_gets_default_warmup_and_cooldown() {
        let c = config(&["http://a/", "--", "cf", "push", "notes"]).unwrap();
        let wrap = c.wrap.unwrap();
        assert_eq!(wrap.argv, ["cf", "push", "notes"]);
        assert_eq!((wrap.warmup, wrap.cooldown), (DEFAULT_WARMUP, DEFAULT_COOLDOWN));
        assert!(config(&["http://a/"]).unwrap().wrap.is_none());
    }

    #[test]
    fn gates_in_order() {
        let c = config(&[
            "--max-latency",
            "p99=300ms",
            "--fail-on-status",
            "404",
            "--fail-on-status",
            "5xx",
            "--max-downtime",
            "0s",
            "http://a/",
        ])
        .unwrap();
        let names: Vec<String> = c.gates.iter().map(Gate::name).collect();
        assert_eq!(names, ["fail-on-status 404", "fail-on-status 5xx", "max-downtime 0s", "max-latency p99=300ms"]);
        assert_eq!(c.gate_phases, GatePhases::DeployCooldown);
    }

    #[test]
    fn headers_keep_repeats() {
        let c = config(&["-H", "X-A: 1", "-H", "X-A: 2", "-H", "Authorization: Bearer t", "http://a/"]).unwrap();
        assert_eq!(c.request.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(c.request.headers["authorization"], "Bearer t");
    }
}
