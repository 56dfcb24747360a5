//! The final report: plain data built by the recorder, rendered by the writers beside this file.
//!
//! These structs are the JSON schema (`schema_version` 2), and their doc comments are its
//! descriptions: `schema/report.schema.json` is derived from them (see `schema.rs`), and
//! docs/report.md's list of fields is generated from that schema (`tests/docs.rs`). So each field
//! is documented once: here, or in `wire.rs` for the wire figures flattened into each target.
//! Field names are a public contract; a test fails when the schema or the page is stale.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::phase::Phase;
use crate::engine::lane::Lane;

mod gate;
mod run;
pub use gate::*;
pub use run::*;

/// 2: a target is a (URL, lane) pair with its `connection`; `run_id`; router errors; request
/// ids of outage windows.
pub const SCHEMA_VERSION: u32 = 2;

/// The JSON report of one run, or of runs merged by `blip merge`. Offsets are from the start of
/// the run (`started_at`) unless a field says otherwise.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Report {
    /// The version of the report's layout: 2. A reader refuses a report without it or with a
    /// version it does not know.
    pub schema_version: u32,
    /// The version of blip that wrote the report (`blip merge`: the merging blip's; `blip judge`
    /// keeps the saved report's).
    pub blip_version: String,
    /// Where blip probed from: `--vantage`, or the host name.
    pub vantage: String,
    /// A short random id of the run; with `--request-id` every probe's id starts with it.
    pub run_id: String,
    /// RFC 3339, UTC, milliseconds.
    pub started_at: String,
    /// Length of the run, ms: from `started_at` to the end of its schedule (`--duration`, or the
    /// warmup, the command and the cooldown; sooner after a stop request). Probes due before the
    /// end that answered after it still count. Availability is judged against it. In a merged
    /// report: from the earliest run's start to the latest run's end.
    pub duration_ms: f64,
    /// Probes per second per URL.
    pub rate: f64,
    /// The overall verdict: every gate passed for every URL, the wrapped COMMAND (if any)
    /// succeeded, and it was started (see `stop_reason`).
    pub passed: bool,
    /// blip added its own gate, `--max-downtime 0s` on the judged phases, because no gate given
    /// bounds downtime or failed probes (none of `--max-downtime`, `--max-outage`, `--max-failed`,
    /// `--max-error-rate`, `--max-outages`): a gate on anything else (`--fail-on-status`, a
    /// latency limit) leaves it on. False with `--measure-only`. Each URL's gate of it has
    /// `default` true.
    pub default_gates: bool,
    /// `--measure-only`: nothing was judged, `passed` is true and no URL has a gate.
    pub measure_only: bool,
    /// Why the run was stopped before its end (`quit requested`, `SIGINT received`, a gate that
    /// `--fail-fast` stopped on, or `down_before_deploy`: a URL never answered in the warmup, so
    /// the COMMAND was not started); null when it ran to its end. The figures cover the run until
    /// then.
    pub stop_reason: Option<String>,
    /// Which phases of a wrapped deploy the gates judged; null without a command (all probes).
    pub gate_phases: Option<crate::analysis::phase::GatePhases>,
    /// Things that make the figures less trustworthy, such as blip itself sending late.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub warnings: Vec<String>,
    /// Stretches whose slots blip missed, because it was stopped or starved (a paused CI
    /// runner, a frozen VM): gaps in observation, not outages.
    #[serde(default)]
    pub paused: Vec<PauseReport>,
    /// `--allow-missed`: a run that missed more than 10 % of a URL's slots is still judged.
    #[serde(default)]
    pub allow_missed: bool,
    /// `--connect-to` and `--resolve` as given (`--resolve notes.test:443:127.0.0.2`): where the
    /// URLs they match were connected to instead of where their names resolve. Absent when none
    /// was given.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>"
    )]
    pub routes: Vec<String>,
    /// The wrapped command; null when none was given.
    pub deploy: Option<DeployReport>,
    /// One entry per URL and lane, in command-line order, each URL's `reused` lane before its
    /// `fresh` one.
    pub targets: Vec<TargetReport>,
    /// `--on-down` and `--on-up` runs, in the order they ended (the first 1000).
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub hooks: Vec<HookReport>,
    /// Hook runs in all, including any past the list's bound.
    pub hooks_run: u64,
    /// Triggers not run: one came while a hook of the same URL ran and another waited, or the
    /// run ended first.
    pub hooks_skipped: u64,
    /// `blip merge`: the runs merged, one per vantage; absent from a run's own report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<MergedRun>>,
    /// `blip merge`: the largest offset between the vantages' clocks it can infer, ms: how far
    /// apart the vantages saw a window that all of them saw begin (clock offset plus up to one
    /// probe interval). Absent when no window was seen by all, and from a run's own report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<f64>,
}

impl Report {
    /// How many gates were judged over all URLs, and how many of them failed.
    pub fn gate_counts(&self) -> (usize, usize) {
        let gates = self.targets.iter().map(|t| t.gates.len()).sum();
        let failed = self.targets.iter().map(|t| t.gates.iter().filter(|g| !g.passed).count()).sum();
        (gates, failed)
    }
}

impl TargetReport {
    /// The target as the human reports name it: its label, or its URL when it has none.
    pub fn name(&self) -> &str {
        if self.label.is_empty() { &self.url } else { &self.label }
    }

    /// The phases of a wrapped deploy as the recorder spans them, from the start of the run;
    /// empty without a COMMAND.
    pub fn phase_spans(&self) -> Vec<(Phase, std::time::Duration, std::time::Duration)> {
        let from_ms = crate::units::from_ms;
        self.phases
            .iter()
            .flatten()
            .map(|(phase, p)| (*phase, from_ms(p.start_offset_ms), from_ms(p.end_offset_ms)))
            .collect()
    }
}

impl OutageReport {
    /// `--request-id`: the ids of the window's first and last failed probes, as the human
    /// reports show them; `None` without it.
    pub fn request_ids(&self) -> Option<String> {
        let (first, last) = self.first_request_id.as_ref().zip(self.last_request_id.as_ref())?;
        Some(if first == last { format!("request {first}") } else { format!("requests {first} … {last}") })
    }
}

impl Report {
    /// Whether the human reports name each target's lane beside its URL (see
    /// [`crate::engine::lane::lanes_shown`]).
    pub fn lanes_shown(&self) -> bool {
        self.targets.iter().any(|t| t.connection != Lane::Reused)
    }
}

/// One target: a URL probed on one lane, and what blip measured of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TargetReport {
    /// The URL as blip parsed it (`http://a` reads `http://a/`), a password in it shown as
    /// `***` (and a user name without a password too). The same for both lanes of a URL.
    pub url: String,
    /// The lane this target's probes went out on: `reused` keep-alive connections or a `fresh`
    /// one per probe. With `--connections both` each URL has one target per lane.
    pub connection: Lane,
    /// The target as the human reports name it: the URL, with its lane beside it when the run
    /// has more than one lane or only the fresh one. Not part of the JSON.
    #[serde(skip)]
    #[cfg_attr(test, schemars(skip))]
    pub label: String,
    /// Probes with a verdict: `ok + failed`. A slot `skipped` at the `--concurrency` cap is a
    /// failed probe; `cancelled`, `local_errors` and `missed` slots are not in it.
    pub probes: u64,
    /// Probes that succeeded: an expected status (`--expect-status`), with `--expect-body` and
    /// `--slow` met when given.
    pub ok: u64,
    /// Probes that failed: an unexpected status (see `status_counts`) or an error (see
    /// `error_counts`).
    pub failed: u64,
    /// Probes sent a second time, on a new connection, because the reused keep-alive connection
    /// they first went out on closed before any byte of an answer, or answered 408 (none with
    /// `--no-resend`).
    pub resent: u64,
    /// Probes sent but not waited for: a second stop request (Ctrl-C) ended the run while they
    /// were in flight. Not counted in `probes`.
    pub cancelled: u64,
    /// Slots blip could not probe for a reason of its own machine (no descriptor, buffer or
    /// local port left: `ulimit -n`): not the target's failures, not in `probes`; any of them
    /// ends the run with exit code 2.
    #[serde(default)]
    pub local_errors: u64,
    /// Slots blip could not send in time, or whose exchange spanned a stall of blip's own (blip
    /// was stopped or starved): neither ok nor failed, not in `probes` (see `paused`).
    #[serde(default)]
    pub missed: u64,
    /// Answers per status code, as string keys ("200", "404").
    #[serde(deserialize_with = "crate::report::bounded::map::<_, _, _, 65_536>")]
    pub status_counts: BTreeMap<String, u64>,
    /// Of the answers in `status_counts`, those a router gave itself rather than the app (it
    /// said so in `X-Cf-Routererror`), per code and the router's error: `"404 unknown_route"`.
    #[serde(deserialize_with = "crate::report::bounded::map::<_, _, _, 65_536>")]
    pub router_error_counts: BTreeMap<String, u64>,
    /// Failed probes per error kind, only kinds that occurred.
    #[serde(deserialize_with = "crate::report::bounded::map::<_, _, _, 65_536>")]
    pub error_counts: BTreeMap<String, u64>,
    /// Of this URL's successful probes; null when none succeeded.
    pub latency_ms: Option<Latency>,
    /// The histogram `latency_ms` is taken from, µs, in HdrHistogram's V2 serialized form
    /// (deflate, base64), so that quantiles can be recomputed after a merge; null when none
    /// succeeded.
    #[serde(default)]
    pub latency_histogram: Option<String>,
    /// Of this URL's probes; a merged report gives the highest of the vantages' for each figure.
    pub send_lag_ms: SendLag,
    /// The sum of the durations of all outage windows, ms, those past `outages`' bound included.
    /// A merged report's is the sum of `windows_all`.
    pub downtime_ms: f64,
    /// The share of time the URL was up, a fraction from 0 to 1 (6 decimals):
    /// `1 − downtime_ms / (duration_ms − the due offset of the URL's first probe)`; 0 when no
    /// probe succeeded.
    pub availability: f64,
    /// Number of outage windows, including any past the detailed list's bound.
    pub outage_count: u64,
    /// The outage windows in the order they opened, the first 1000 (`outage_count` counts them
    /// all).
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub outages: Vec<OutageReport>,
    /// Stretches that were bad but not down, one span each: `failing` (a share of the probes
    /// failed, not all: a brownout, which the windows show as confetti) or `slow` (the answers
    /// came, late). Beside the windows, which stay as they are.
    #[serde(default, deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub degraded: Vec<crate::report::degraded::DegradedReport>,
    /// Width of each timeline slice in seconds: 1, doubled each time the run outgrows its
    /// slices (a day of them; with many URLs, each URL's share of 2 Mi slices, at least 600).
    pub timeline_width_s: u64,
    /// Probes per slice of the run by due time, from its first slice to the one of the last
    /// probe, empty slices included.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 262_144>")]
    pub timeline: Vec<TimelinePoint>,
    /// Per phase of a wrapped deploy (only phases that began); null when no command is wrapped.
    pub phases: Option<BTreeMap<Phase, PhaseReport>>,
    /// When the deploy hurt this URL; null when no command is wrapped.
    pub deploy_timing: Option<DeployTiming>,
    /// One entry per gate judged on this URL: those given, in their order, then blip's default
    /// (see `default_gates`), then `answered at least once` when the URL had probes and none
    /// succeeded. Empty with `--measure-only`.
    pub gates: Vec<GateReport>,
    /// Request phases, connections, peers, tracked values and the cutover.
    #[serde(flatten)]
    pub wire: crate::report::wire::WireReport,
    /// `blip merge`: windows every vantage probing at the time saw (the service was down); the
    /// merged `outages` are these. Absent from a run's own report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_all: Option<Vec<MergedWindow>>,
    /// `blip merge`: windows only some vantages saw (a path to the service was down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_some: Option<Vec<MergedWindow>>,
    /// `blip merge`: each vantage's own availability of this URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::report::bounded::option_map::<_, _, _, 65_536>")]
    pub availability_by_vantage: Option<BTreeMap<String, f64>>,
}

/// One phase of a wrapped deploy, for one URL: its span, and the probes due in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PhaseReport {
    /// When the phase began, from the start of the run, ms: 0 for `warmup`, the command's start
    /// for `deploy`, its exit for `cooldown`.
    pub start_offset_ms: f64,
    /// When it ended, ms: the next phase's start, or the end of the run for the last one.
    pub end_offset_ms: f64,
    /// Probes due in the phase: `ok + failed`.
    pub probes: u64,
    /// Of them, those that succeeded.
    pub ok: u64,
    /// Of them, those that failed.
    pub failed: u64,
    /// Downtime that fell within the phase (a window may span phases).
    pub downtime_ms: f64,
    /// Of successful probes; null when none succeeded.
    pub latency_ms: Option<PhaseLatency>,
    /// The phase's latency histogram, as the URL's `latency_histogram`; null when none succeeded.
    #[serde(default)]
    pub latency_histogram: Option<String>,
}

/// Latency of a phase's successful probes, ms, taken as the URL's `latency_ms` is.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PhaseLatency {
    /// Median, ms.
    pub p50: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Highest, ms, exact.
    pub max: f64,
}

/// Offsets from the start of the deploy command; each null when it does not apply.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DeployTiming {
    /// To the first failed probe after the command started.
    pub first_failure_ms: Option<f64>,
    /// The URL was already in an outage window when the command started: the first failure
    /// after the start is not the deploy's first harm.
    pub down_at_start: bool,
    /// To the last failed probe after the command started.
    pub last_failure_ms: Option<f64>,
    /// To full recovery: the end of the last outage window (null while still down at the end).
    pub recovered_ms: Option<f64>,
    /// From the last failed probe to full recovery.
    pub recovery_ms: Option<f64>,
}

/// Latency of successful probes, ms, each from its due time to its verdict: quantiles of a
/// histogram at 3 significant digits, none above `max`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Latency {
    /// Lowest, ms.
    pub min: f64,
    /// Mean, ms.
    pub mean: f64,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Highest, ms: exact in a run's own report; a merged report takes it from the merged
    /// histogram, as its quantiles.
    pub max: f64,
}

/// How late blip itself sent probes after their due time, ms, at 2 significant digits; slots
/// `skipped` at the `--concurrency` cap are left out. All 0 when none was sent.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SendLag {
    /// Median, ms.
    pub p50: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Highest, ms.
    pub max: f64,
}

/// An outage window: it opens at the due time of the first failed probe once `--min-failures`
/// consecutive probes have failed, and closes at the due time of the next successful probe.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct OutageReport {
    /// When it opened, RFC 3339, UTC, milliseconds: the due time of its first failed probe.
    pub start: String,
    /// When it closed, RFC 3339: the due time of the next successful probe, or the end of the
    /// run for an `open` window.
    pub end: String,
    /// `start`, from the start of the run, ms.
    pub start_offset_ms: f64,
    /// `end`, from the start of the run, ms.
    pub end_offset_ms: f64,
    /// `end_offset_ms − start_offset_ms`.
    pub duration_ms: f64,
    /// Probes that failed in it, from its first failed probe to the last before it closed.
    pub failed_probes: u64,
    /// Failed probes per status code or error kind.
    #[serde(deserialize_with = "crate::report::bounded::map::<_, _, _, 65_536>")]
    pub causes: BTreeMap<String, u64>,
    /// The most frequent of `causes` (the first by name among equals): what the window was,
    /// where `first_error` is only how it began (`reset` for a window of 222 `refused`).
    #[serde(default)]
    pub main_cause: String,
    /// What its first failed probe got: for a failed status the status and the body's first
    /// line (`404 Not Found: Requested route …`), for an error its kind and message.
    pub first_error: String,
    /// With `--request-id`: the ids the window's first and last failed probes were sent with,
    /// to look up in the server's logs; absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_request_id: Option<String>,
    /// With `--request-id`: the id the window's last failed probe was sent with; absent without
    /// it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_request_id: Option<String>,
    /// The run ended while the window was still open: `end` is the end of the run.
    pub open: bool,
    /// The phase the window started in; null when no command is wrapped.
    pub phase: Option<Phase>,
    /// The phase the window ended in (or is still open in); differs from `phase` when the window
    /// spans phases, and then each phase's `downtime_ms` holds its own part of the window.
    pub end_phase: Option<Phase>,
    /// Failed probes per request phase they failed in (`dns`, `connect`, `tls`, `ttfb`,
    /// `transfer`, or `answer` for an answer judged failed); only phases with any. Slots never
    /// sent (`skipped`) are in none.
    pub failed_in: BTreeMap<crate::engine::detail::RequestPhase, u64>,
}

/// The most frequent cause of `causes`, the first by name among equals; empty for none.
pub fn main_cause(causes: &BTreeMap<String, u64>) -> String {
    // max_by_key keeps the last of equals; reversed, the first by name.
    causes.iter().rev().max_by_key(|(_, n)| **n).map(|(cause, _)| cause.clone()).unwrap_or_default()
}

impl OutageReport {
    /// The phase or phases the window fell in: `deploy`, or `deploy→cooldown` for a window that
    /// spans phases; None when no command is wrapped.
    pub fn phase_label(&self) -> Option<String> {
        match (self.phase, self.end_phase) {
            (Some(start), Some(end)) if start != end => Some(format!("{start}→{end}")),
            (Some(start), _) => Some(start.to_string()),
            _ => None,
        }
    }
}

/// One slice of a URL's timeline: the probes due in it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TimelinePoint {
    /// Start of the slice, seconds from the start of the run (a multiple of `timeline_width_s`).
    pub offset_s: u64,
    /// Probes due in the slice that succeeded.
    pub ok: u64,
    /// Probes due in the slice that failed.
    pub failed: u64,
    /// Median latency of the slice's successful probes, ms, estimated from a log histogram
    /// (within ±19 %); null when none succeeded, and in a merged report.
    pub p50_ms: Option<f64>,
    /// Their 99th percentile, ms, estimated the same way; null likewise.
    pub p99_ms: Option<f64>,
}
