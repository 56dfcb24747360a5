//! The command line as clap sees it: flags and their help, nothing more. The gate and hook
//! flags are in `gates`, the output flags in `output`; the values flags take are parsed in
//! `values`, the hints for unknown flags made in `hints`, the `BLIP_*` variables read in `env`,
//! the man page and the completions written in `man` and `complete`.
//!
//! These structs stay dumb on purpose. Defaults that depend on other flags, and every check that
//! spans flags, live in [`crate::config`], which turns a [`Cli`] into a validated [`crate::config::Config`].

use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

use crate::engine::route::{ConnectTo, Resolve};
use crate::engine::status_set::StatusSet;

pub mod complete;
mod env;
mod gates;
mod hints;
mod man;
mod output;
mod values;
use env::{from_environment, with_env};
pub use gates::{BaselineArgs, GateArgs, HookArgs};
use hints::{unknown_flag, unknown_flag_of};
pub use man::write_man_page;
pub use output::{ColorChoice, OutputArgs, ReportPaths, UiChoice};
pub use values::*;

/// `blip -V`: the version and the commit it was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BLIP_COMMIT"), " ", env!("BLIP_COMMIT_DATE"), ")");

/// `blip --version`: what a bug report needs, a fact a line, as `rg -V` and `curl -V` give them.
fn long_version() -> String {
    format!(
        "{}\ncommit: {} ({})\ntarget: {}\ntls: rustls {} (ring), certificates checked against the platform's trust store\nplatform: {}",
        env!("CARGO_PKG_VERSION"),
        env!("BLIP_COMMIT"),
        env!("BLIP_COMMIT_DATE"),
        env!("BLIP_TARGET"),
        env!("BLIP_RUSTLS"),
        crate::platform::describe()
    )
}

/// Probe HTTP services on a fixed schedule and report, to the millisecond, when they were down.
#[derive(Debug, Parser)]
#[command(
    name = "blip",
    version = VERSION,
    long_version = long_version(),
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
)]
pub struct Cli {
    #[command(subcommand)]
    pub subcommand: Option<Command>,

    /// http:// or https:// URLs; each is probed on its own schedule, concurrently.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,

    // Gates and reports first: the help lists headings in this order, and they are what a CI
    // user looks for.
    #[command(flatten)]
    pub gates: GateArgs,

    #[command(flatten)]
    pub hooks: HookArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub probe: ProbeArgs,

    #[command(flatten)]
    pub deploy: DeployArgs,

    #[command(flatten)]
    pub baseline: BaselineArgs,

    /// A deploy command to wrap: blip probes before, during and after it, and reports its downtime.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe an embedded demo app through a simulated deploy, with no setup.
    Demo(Box<DemoArgs>),
    /// Print a shell completion script: blip completions bash > ~/.local/share/bash-completion/completions/blip
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print blip's man page (roff): blip man > ~/.local/share/man/man1/blip.1
    Man,
    /// Judge a saved JSON report again against other gates, without probing
    Judge(Box<JudgeArgs>),
    /// Merge JSON reports of the same URLs from several vantages into one, and judge it
    Merge(Box<MergeArgs>),
}

/// Flags of `blip judge`.
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// A JSON report blip wrote with --json.
    #[arg(value_name = "REPORT")]
    pub report: std::path::PathBuf,

    #[command(flatten)]
    pub gates: GateArgs,

    #[command(flatten)]
    pub baseline: BaselineArgs,

    #[command(flatten)]
    pub output: ReportPaths,
}

/// Flags of `blip merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports of runs against the same URLs, from different vantage points, that overlap in time.
    #[arg(value_name = "REPORT", required = true, num_args = 2..)]
    pub reports: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub gates: GateArgs,

    #[command(flatten)]
    pub output: ReportPaths,
}

/// The first argument that runs the simulated deploy `blip demo` wraps. It is parsed apart from
/// [`Cli`], so that help, completions and the man page never offer it.
pub const DEMO_DEPLOY: &str = "demo-deploy";

/// How a wrapped COMMAND is framed.
#[derive(Clone, Debug, Args)]
pub struct DeployArgs {
    /// Probe this long before starting COMMAND, for a baseline [default: 2s].
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_PHASE), help_heading = "Deploy")]
    pub warmup: Option<Duration>,

    /// Keep probing this long after COMMAND exits [default: 5s].
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_PHASE), help_heading = "Deploy")]
    pub cooldown: Option<Duration>,

    /// Warn when COMMAND succeeds in less than this: it likely only started a rollout (`kubectl
    /// apply`, `helm upgrade` without --wait) and blip measured nothing of it; 0s turns the
    /// warning off [default: 2s].
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_PHASE), help_heading = "Deploy")]
    pub min_deploy: Option<Duration>,

    /// Start COMMAND even when a URL had no successful probe in the whole warmup (a first
    /// deploy, a service expected to be down). Without it blip does not deploy blind: it exits 2
    /// before starting COMMAND.
    #[arg(long, help_heading = "Deploy")]
    pub allow_down_before_deploy: bool,
}

/// How the demo's simulated deploy replaces the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoStyle {
    /// Stop the old instance, then start the new one: the route is unmapped in between (404s).
    Restart,
    /// Start the new instance, map it, then unmap and stop the old one: no failure.
    BlueGreen,
}

/// Flags of the simulated deploy (`blip demo-deploy`), which `blip demo` runs as its COMMAND.
#[derive(Debug, Parser)]
#[command(name = "blip demo-deploy")]
pub struct DemoDeployArgs {
    #[arg(long, value_enum)]
    pub style: DemoStyle,
    /// Base URL of the demo router's admin listener.
    #[arg(long)]
    pub admin: String,
}

/// Flags of `blip demo`: the same probe, deploy and output flags as a real run (the demo probes
/// at 50/s with a 1s warmup and 2s cooldown unless told otherwise, and wraps its own simulated
/// deploy, so `--duration` does not apply).
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How the simulated deploy replaces the app.
    #[arg(long, value_enum, default_value_t = DemoStyle::Restart)]
    pub style: DemoStyle,

    #[command(flatten)]
    pub gates: GateArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub probe: ProbeArgs,

    #[command(flatten)]
    pub deploy: DeployArgs,
}

/// How and how often each URL is probed, and what counts as up.
#[derive(Clone, Debug, Args)]
pub struct ProbeArgs {
    /// Probes per second per URL; fractional rates are allowed (0.2 = every 5 s) [default: 20].
    #[arg(short, long, value_name = "N", value_parser = parse_rate, help_heading = "Schedule")]
    pub rate: Option<f64>,

    /// Stop after this long (500ms, 10s, 2m); without it, run until Ctrl-C or SIGTERM.
    #[arg(short, long, value_name = "DUR", value_parser = parse_run_duration, help_heading = "Schedule")]
    pub duration: Option<Duration>,

    /// Deadline of each probe; a probe past it fails as `timeout` [default: 1s].
    #[arg(short, long, value_name = "DUR", value_parser = duration_up_to(MAX_TIMEOUT), help_heading = "Schedule")]
    pub timeout: Option<Duration>,

    /// Most probes in flight per URL; a slot due at the cap is counted as failed (`skipped`)
    /// [default: twice rate × timeout, plus 16, so the schedule never reaches it].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_COUNT), help_heading = "Schedule")]
    pub concurrency: Option<u32>,

    /// HTTP method [default: GET, or POST with --data or --data-binary, as curl].
    #[arg(short = 'X', long, value_name = "METHOD", help_heading = "Request")]
    pub method: Option<String>,

    /// Extra request header, 'Name: value'; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = "Request")]
    pub headers: Vec<String>,

    /// Request body, sent as curl's -d sends it: by POST unless -X says otherwise, as
    /// application/x-www-form-urlencoded unless -H gives a Content-Type; @FILE reads it from FILE
    /// with its line breaks removed, @- from stdin.
    #[arg(long, value_name = "BODY", help_heading = "Request")]
    pub data: Option<String>,

    /// Request body sent byte for byte; @FILE reads it from FILE as it is, @- from stdin.
    #[arg(long, value_name = "BODY", conflicts_with = "data", help_heading = "Request")]
    pub data_binary: Option<String>,

    /// Basic auth credentials for every URL; the password is shown as *** everywhere, as a
    /// password in a URL is.
    #[arg(short = 'u', long, value_name = "USER:PASS", help_heading = "Request")]
    pub user: Option<String>,

    /// Accept any TLS certificate (verified by default).
    #[arg(short = 'k', long, help_heading = "Request")]
    pub insecure: bool,

    /// Open a new connection for every probe, as curl does, instead of reusing keep-alive ones
    /// (the same as --connections fresh).
    #[arg(long, help_heading = "Request")]
    pub fresh_connections: bool,

    /// Which connections probes go out on: `reused` keep-alive ones, a `fresh` one per probe, or
    /// `both`: each URL probed on two lanes at --rate each, reported apart [default: reused].
    #[arg(long, value_enum, value_name = "LANES", help_heading = "Request")]
    pub connections: Option<Connections>,

    /// Send each probe's id, blip-<run>-<lane>-<seq>, in HEADER (give it as --request-id=HEADER)
    /// [default: X-Request-Id]; each outage window names its first and last failed probes' ids.
    #[arg(
        long,
        value_name = "HEADER",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "X-Request-Id",
        help_heading = "Request"
    )]
    pub request_id: Option<String>,

    /// Connect to ADDR for HOST at PORT instead of looking HOST up, as curl's --resolve:
    /// HOST:PORT:ADDR, more addresses joined by commas, HOST may be *; repeatable. Host and TLS
    /// keep the URL's name.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve, help_heading = "Request")]
    pub resolve: Vec<Resolve>,

    /// Connect to HOST2:PORT2 for HOST:PORT, as curl's --connect-to (an empty HOST or PORT
    /// matches any, an empty HOST2 or PORT2 keeps the URL's); repeatable, the first match wins.
    /// Host and TLS keep the URL's name.
    #[arg(long, value_name = "HOST:PORT:HOST2:PORT2", value_parser = parse_connect_to, help_heading = "Request")]
    pub connect_to: Vec<ConnectTo>,

    /// Fail a probe whose reused keep-alive connection closed before any byte of an answer (or
    /// answered 408, an idle timeout), instead of sending it once more on a new connection
    /// (counted as `resent`) as curl and browsers do.
    #[arg(long, help_heading = "Request")]
    pub no_resend: bool,

    /// Status codes that count as up: 200, 200,204, 2xx, 200-299 (redirects are not followed).
    #[arg(
        long,
        value_name = "SET",
        default_value = "2xx,3xx",
        value_parser = parse_status_set,
        help_heading = "Success"
    )]
    pub expect_status: StatusSet,

    /// Text the body must contain (searched in its first 64 KiB).
    #[arg(long, value_name = "TEXT", help_heading = "Success")]
    pub expect_body: Option<String>,

    /// An answer slower than this fails as `slow`.
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_TIMEOUT), help_heading = "Success")]
    pub slow: Option<Duration>,

    /// Consecutive failed probes that open an outage window.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_COUNT), help_heading = "Success")]
    pub min_failures: u32,

    /// Count answers by this response header's value (an app version, an instance id) and, with
    /// a COMMAND, report the cutover from the old value to the new; repeatable.
    #[arg(long = "track-header", value_name = "NAME", help_heading = "Who answered")]
    pub track_headers: Vec<String>,

    /// Count answers by the first capture group of this regular expression in the body (its
    /// first 64 KiB), as --track-header does with a header.
    #[arg(long, value_name = "REGEX", help_heading = "Who answered")]
    pub track_body: Option<String>,
}

/// `--connections`: the lanes each URL is probed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Connections {
    /// Reuse keep-alive connections.
    Reused,
    /// Open a new connection for every probe.
    Fresh,
    /// Both lanes, each on its own schedule and with its own figures.
    Both,
}

/// What `blip --help` ends with: examples, exit codes, the environment.
/// The examples of `--help` and of the man page.
const EXAMPLES: &str = "  blip https://notes.example.com/health
      probe 20 times a second until Ctrl-C, then summarise the outages
  blip https://notes.example.com/ -- cf push notes
      wrap a deploy: probe 2s before, during and 5s after it
  blip --fail-on-status 404 --max-downtime 500ms https://notes.example.com/ -- ./deploy.sh
      gate it: exit 1 on any 404 or more than 500ms of downtime (without a downtime limit,
      any downtime fails: max-downtime 0s is the default)
  blip --ui lines --json blip.json --junit blip.xml https://notes.example.com/ -- ./deploy.sh
      in CI: progress lines, and reports kept as build artifacts";

/// What `--help` ends with: examples, exit codes, the environment, and the demo.
fn help_footer() -> String {
    let exits: String =
        crate::exit::Exit::ALL.iter().map(|exit| format!("\n  {} {}", exit.code(), exit.meaning())).collect();
    format!(
        "Examples:\n{EXAMPLES}\n\nExit codes:{exits}\n\n\
         Every flag can also be set as BLIP_<FLAG> (BLIP_MAX_DOWNTIME=0s); the command line wins.\n\
         Try `blip demo` to see an outage measured on an embedded app."
    )
}

/// blip's command line: [`Cli`]'s definition, with every flag of a run (and of `blip demo`) also
/// read from a `BLIP_<FLAG>` environment variable (`BLIP_MAX_DOWNTIME=0s`, `BLIP_FAIL_FAST=true`);
/// a flag given on the command line wins.
pub fn command() -> clap::Command {
    with_env(Cli::command().after_help(help_footer())).mut_subcommand("demo", |demo| with_env(demo_help(demo)))
}

/// `blip demo --help` as the demo runs: its own defaults, and no `--duration`, which it refuses
/// (it lasts as long as its simulated deploy).
fn demo_help(demo: clap::Command) -> clap::Command {
    demo.mut_arg("rate", |a| a.help("Probes per second; fractional rates are allowed [default: 50]"))
        .mut_arg("warmup", |a| a.help("Probe this long before the simulated deploy starts [default: 1s]"))
        .mut_arg("cooldown", |a| a.help("Keep probing this long after the simulated deploy ends [default: 2s]"))
        .mut_arg("duration", |a| a.hide(true))
        .mut_arg("user", |a| a.hide(true))
        .after_help(
            "The demo measures and shows; it judges only when given a gate.\n\
             Example: blip demo --style blue-green --max-downtime 0s",
        )
}

/// Parses `args` (the program name first) as [`command`] defines them. An unknown flag gets
/// blip's own hint instead of clap's tip, which would send it after `--`, where blip's COMMAND
/// starts.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = command();
    let args = env::with_env_switches(args.into_iter().map(Into::into).collect(), &command)?;
    let parsed = command.try_get_matches_from_mut(&args).and_then(|mut matches| {
        // `--fresh-connections` typed wins over a `BLIP_CONNECTIONS` it would conflict with.
        if matches.value_source("connections") == Some(clap::parser::ValueSource::EnvVariable)
            && matches.get_flag("fresh_connections")
        {
            let _ = matches.remove_one::<Connections>("connections");
        }
        Cli::from_arg_matches_mut(&mut matches)
    });
    parsed.map_err(|err| match err.kind() {
        ErrorKind::UnknownArgument => {
            // A subcommand's own flags are its help's to list; only a run has a COMMAND.
            let sub = args.get(1).and_then(|a| a.to_str()).filter(|a| command.find_subcommand(a).is_some());
            match sub {
                Some(sub) => unknown_flag_of(err, sub),
                None => unknown_flag(err, &mut command),
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => from_environment(err, &args, &command),
        _ => err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    /// The help as a terminal 100 columns wide shows it.
    fn help(subcommand: Option<&str>) -> String {
        let mut command = command().term_width(100);
        command.build();
        match subcommand {
            Some(name) => command.find_subcommand_mut(name).unwrap().render_long_help().to_string(),
            None => command.render_long_help().to_string(),
        }
    }

    #[test]
    fn help_has_examples_exit_codes_and_gates_first() {
        let help = help(None);
        let gates = help.find("Gates:").unwrap();
        assert!(gates < help.find("Request:").unwrap() && gates < help.find("Deploy:").unwrap(), "{help}");
        for code in ["0 passed", "1 a gate failed", "2 bad usage", "3 the COMMAND failed"] {
            assert!(help.contains(code), "{code}: {help}");
        }
        insta::assert_snapshot!(help);
    }

    #[test]
    fn demo_help_shows_the_demo_defaults() {
        let help = help(Some("demo"));
        assert!(help.contains("[default: 50]") && help.contains("[default: 1s]") && help.contains("[default: 2s]"));
        assert!(!help.contains("--duration") && !help.contains("[default: 20]"), "{help}");
        insta::assert_snapshot!(help);
    }

    #[test]
    fn rates_must_be_positive_and_finite() {
        assert_eq!(parse_rate("0.2"), Ok(0.2));
        assert_eq!(parse_rate("5000"), Ok(5000.0));
        for bad in ["0", "-1", "nan", "inf", "fast", "", "2000000", "1e-20", "0.0009"] {
            assert!(parse_rate(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn durations_use_humantime_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn urls_and_demo_are_exclusive() {
        let cli = Cli::try_parse_from(["blip", "demo", "--json", "-"]).unwrap();
        assert!(matches!(cli.subcommand, Some(Command::Demo(_))));
        assert!(Cli::try_parse_from(["blip"]).is_err());
        let cli = Cli::try_parse_from(["blip", "-r", "5", "http://a/", "http://b/"]).unwrap();
        assert_eq!(cli.urls.len(), 2);
        assert_eq!(cli.probe.rate, Some(5.0));
    }

    #[test]
    fn a_command_follows_the_double_dash() {
        let cli = Cli::try_parse_from(["blip", "--warmup", "1s", "http://a/", "--", "cf", "push", "-f", "x"]).unwrap();
        assert_eq!(cli.urls, ["http://a/"]);
        assert_eq!(cli.command, ["cf", "push", "-f", "x"]);
        assert_eq!(cli.deploy.warmup, Some(Duration::from_secs(1)));
    }
}
