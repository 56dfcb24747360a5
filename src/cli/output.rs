//! The flags that say where results go: the report files, the UI, the event log, colour,
//! metrics and the vantage's name.

use clap::{Args, ValueEnum};

use super::values::*;

/// The report files: a run's, and those `blip judge` and `blip merge` write besides the text
/// summary.
#[derive(Clone, Debug, Args)]
pub struct ReportPaths {
    /// Write the full report as JSON to PATH; `-` is stdout (then nothing else goes there).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub json: Option<String>,

    /// Write a JUnit XML report to PATH: a testsuite per URL, a testcase per gate.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub junit: Option<String>,

    /// Write a Markdown summary to PATH (by default appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub markdown: Option<String>,

    /// Write a self-contained HTML report to PATH: the verdict, a timeline per URL (availability,
    /// latency, outages, phases, the command's output), and the summary tables.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub html: Option<String>,

    /// Let a report flag write over a file that is not a blip report (refused without it, so
    /// that `--json body.json` never costs a request body).
    #[arg(long, help_heading = "Output")]
    pub force: bool,
}

/// Where results go.
#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub reports: ReportPaths,

    /// How to show progress: `dashboard` is a live terminal view, `lines` prints state changes,
    /// `quiet` prints nothing.
    #[arg(long, value_enum, default_value_t = UiChoice::Auto, help_heading = "Output")]
    pub ui: UiChoice,

    /// Write NDJSON events to PATH (`-` is stdout), flushed line by line: run start, state
    /// changes, per-second counts, gate verdicts, run end.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub events: Option<String>,

    /// With --events: also one event per probe.
    #[arg(long, help_heading = "Output")]
    pub events_probes: bool,

    /// Colour in the lines UI, the dashboard and the summary: `auto` colours a terminal or a CI
    /// log that shows colour (GitHub Actions, GitLab CI, Buildkite, CircleCI, Azure Pipelines),
    /// never with NO_COLOR set; `always` wins over NO_COLOR, `never` over everything.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,

    /// Serve Prometheus metrics at http://ADDR/metrics while the run goes on, e.g.
    /// 127.0.0.1:9464 (port 0 picks a free port, said on stderr).
    #[arg(long, value_name = "ADDR", value_parser = socket_addr, help_heading = "Output")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Name of the place blip probes from, in every report and metric [default: the host name].
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub vantage: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum UiChoice {
    /// `dashboard` when stdout is a terminal, `lines` otherwise.
    Auto,
    /// A live terminal view (needs a terminal on stdout).
    Dashboard,
    /// One line per state change, progress every few seconds, then a summary.
    Lines,
    /// Nothing of blip's own but errors (a wrapped command's output still passes through);
    /// reports still go to their files.
    Quiet,
}
