//! What a report says of the run beside its targets: the wrapped deploy and its output, the
//! hooks, the stretches blip missed, and for a merged report the runs and windows merged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::lane::Lane;

/// A stretch of the run whose slots blip missed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PauseReport {
    /// Due time of its first missed slot, from the start of the run.
    pub start_offset_ms: f64,
    /// To the due time of its last missed slot.
    pub duration_ms: f64,
    /// Slots missed in it, over all URLs.
    pub missed: u64,
}

/// One run of a merge: where it probed from and when, by its own clock.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MergedRun {
    /// Its `vantage`.
    pub vantage: String,
    /// Its `started_at`, by its own clock.
    pub started_at: String,
    /// When it started, from the start of the merged report (the earliest run's start).
    pub start_offset_ms: f64,
    /// Its own `duration_ms`.
    pub duration_ms: f64,
    /// The overall verdict of its own gates.
    pub passed: bool,
}

/// `blip merge`: an outage window as the vantages saw it, on the merged report's time line.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MergedWindow {
    /// The earliest start any of `vantages` saw, RFC 3339, UTC, milliseconds. The vantages'
    /// windows that overlap, or come within one probe interval of each other, are one merged
    /// window.
    pub start: String,
    /// The latest end any of `vantages` saw, RFC 3339.
    pub end: String,
    /// `start`, from the start of the merged report (the earliest run's start), ms.
    pub start_offset_ms: f64,
    /// `end`, from the start of the merged report, ms.
    pub end_offset_ms: f64,
    /// `end_offset_ms − start_offset_ms`.
    pub duration_ms: f64,
    /// How long all of `vantages` saw it at once (0 when their clocks disagree by more than the
    /// window).
    pub overlap_ms: f64,
    /// The vantages that saw it, in the order of `merged_from`.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub vantages: Vec<String>,
    /// The failed probes of the vantages' windows in it, summed.
    pub failed_probes: u64,
    /// Failed probes per status code or error kind, over the vantages.
    #[serde(deserialize_with = "crate::report::bounded::map::<_, _, _, 65_536>")]
    pub causes: BTreeMap<String, u64>,
    /// The `first_error` of the vantage's window that began first.
    pub first_error: String,
    /// A vantage's window in it was still open when that vantage's run ended.
    pub open: bool,
}

/// One run of a hook.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct HookReport {
    /// `on-down` or `on-up`.
    pub hook: String,
    /// The URL whose outage window opened (`on-down`) or closed (`on-up`), as `targets[].url`
    /// names it.
    pub url: String,
    /// The lane of the target whose window triggered it: `reused` or `fresh`.
    pub connection: Lane,
    /// When blip started it, from the start of the run, ms (a hook that waited for the one
    /// before it of the same URL starts when that one ends).
    pub start_offset_ms: f64,
    /// How long it ran, ms: from its start until it exited, or until blip found it could not be
    /// started or waited for.
    pub duration_ms: f64,
    /// Null when a signal ended it or it never started.
    pub exit_code: Option<i32>,
    /// Name of the signal that ended it (`SIGTERM` when the run ended first).
    pub signal: Option<String>,
    /// Why it could not be started or waited for.
    pub error: Option<String>,
}

/// The wrapped COMMAND and how it went.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DeployReport {
    /// The command's argument vector, program first, as given after `--` (`blip demo`: blip's
    /// own call of its simulated deploy, which `label` names).
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub command: Vec<String>,
    /// What the human reports call the command when it is not the command line itself (`blip
    /// demo`'s simulated deploy: `demo deploy (restart)`); null for a command given after `--`.
    #[serde(default)]
    pub label: Option<String>,
    /// `--warmup`, ms: how long blip probes before it starts the command.
    pub warmup_ms: f64,
    /// `--cooldown`, ms: how long blip probes after the command exits (not after a stop
    /// request, which ends the run when the command exits).
    pub cooldown_ms: f64,
    /// When the command started, from the start of the run, ms; null if it never started.
    pub start_offset_ms: Option<f64>,
    /// When blip saw it exit, from the start of the run, ms; null if it never started.
    pub end_offset_ms: Option<f64>,
    /// `end_offset_ms − start_offset_ms`; null if it never started.
    pub duration_ms: Option<f64>,
    /// Exit code, or null when a signal ended it or it never started.
    pub exit_code: Option<i32>,
    /// Name of the signal that ended it (`SIGTERM`).
    pub signal: Option<String>,
    /// Why it could not be started.
    pub error: Option<String>,
    /// Whether the command succeeded (exit code 0).
    pub succeeded: bool,
    /// blip stopped the command itself because a gate failed (`--fail-fast`): its end is not the
    /// deploy's failure, the gate is.
    #[serde(default)]
    pub stopped_by_gate: bool,
    /// The last lines of its output, stdout and stderr interleaved as they arrived.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub output_tail: Vec<String>,
    /// Lines of its output not shown because it printed faster than they could be.
    pub output_lines_dropped: u64,
    /// Its first and last 200 lines (each cut to 200 characters), with when blip read them:
    /// marks on the HTML report's time axis.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub output_marks: Vec<OutputMark>,
    /// Lines between the first and the last 200, not in `output_marks`.
    pub output_marks_dropped: u64,
}

/// A line of the wrapped command's output and when blip read it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct OutputMark {
    /// From the start of the run.
    pub offset_ms: f64,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The line's text, its first 200 characters.
    pub line: String,
}

impl DeployReport {
    /// The command as the human reports name it: its label, or its command line.
    pub fn shown(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.command.join(" "))
    }

    /// How the command ended, in words: `exit code 0`, `killed by SIGTERM`, or why it never ran.
    pub fn outcome(&self) -> String {
        match &self.error {
            Some(error) => error.clone(),
            None => describe_end(self.exit_code, self.signal.as_deref()),
        }
    }
}

/// How a command that ran ended, in words: `exit code 0`, `killed by SIGTERM`.
pub fn describe_end(exit_code: Option<i32>, signal: Option<&str>) -> String {
    match (exit_code, signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by {signal}"),
        (None, None) => "did not finish".to_string(),
    }
}

impl super::Report {
    /// The one constructor of a report, for a run ([`crate::report::build::report`]) and for a
    /// merge alike: what the run knew of itself and what was measured, with the verdict
    /// (`passed`) read from them. Every field comes from one of the two, so a new one cannot be
    /// left as a placeholder to patch later.
    pub fn new(facts: RunFacts, figures: RunFigures) -> super::Report {
        let RunFacts {
            vantage,
            run_id,
            default_gates,
            measure_only,
            allow_missed,
            routes,
            stop_reason,
            deploy,
            hooks,
            hooks_run,
            hooks_skipped,
            warnings: more_warnings,
        } = facts;
        let RunFigures {
            started_at,
            duration_ms,
            rate,
            gate_phases,
            mut warnings,
            paused,
            targets,
            merged_from,
            clock_offset_ms,
        } = figures;
        warnings.extend(more_warnings);
        let mut report = super::Report {
            schema_version: super::SCHEMA_VERSION,
            blip_version: env!("CARGO_PKG_VERSION").to_string(),
            vantage,
            run_id,
            started_at,
            duration_ms,
            rate,
            passed: false,
            default_gates,
            measure_only,
            stop_reason,
            gate_phases,
            warnings,
            paused,
            allow_missed,
            routes,
            deploy,
            targets,
            hooks,
            hooks_run,
            hooks_skipped,
            merged_from,
            clock_offset_ms,
        };
        report.passed = report.headline().passed;
        report
    }
}

/// What a run knew of itself that its figures do not hold: where it ran, how it was judged,
/// what it wrapped, its hooks and why it stopped. Given to [`Report::new`](super::Report::new).
#[derive(Clone, Debug)]
#[cfg_attr(test, derive(Default))]
pub struct RunFacts {
    pub vantage: String,
    pub run_id: String,
    pub default_gates: bool,
    pub measure_only: bool,
    pub allow_missed: bool,
    pub routes: Vec<String>,
    pub stop_reason: Option<String>,
    pub deploy: Option<DeployReport>,
    pub hooks: Vec<HookReport>,
    pub hooks_run: u64,
    pub hooks_skipped: u64,
    /// Warnings the run itself adds after the figures' own (a deploy too short to judge).
    pub warnings: Vec<String>,
}

/// What was measured: the run's span and rate, its targets, the warnings about its figures, the
/// stretches blip missed, and for a merge the runs merged. Given to
/// [`Report::new`](super::Report::new).
#[derive(Clone, Debug)]
pub struct RunFigures {
    pub started_at: String,
    pub duration_ms: f64,
    pub rate: f64,
    pub gate_phases: Option<crate::analysis::phase::GatePhases>,
    pub warnings: Vec<String>,
    pub paused: Vec<PauseReport>,
    pub targets: Vec<super::TargetReport>,
    pub merged_from: Option<Vec<MergedRun>>,
    pub clock_offset_ms: Option<f64>,
}
