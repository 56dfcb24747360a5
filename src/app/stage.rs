//! Where the wrapped command is in its life, and what the run knows of it for the report.

use std::sync::Arc;
use std::time::Instant;

use super::command::{Relay, RunningCommand, Termination};
use crate::analysis::clock::RunClock;
use crate::config::Wrap;
use crate::live::Stream;
use crate::report::{DeployReport, OutputMark};
use crate::units::millis;

/// Where the wrapped command is in its life.
pub enum Stage {
    /// No command is wrapped.
    Unwrapped,
    Warmup,
    Running {
        command: RunningCommand,
        kill_at: Option<Instant>,
    },
    Done,
}

/// What the run knows of the wrapped command, for the report.
pub struct DeployLog {
    pub wrap: Wrap,
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    pub termination: Option<Termination>,
    pub error: Option<String>,
    /// The command's output on its way to the UI; outlives the command while a process it left
    /// behind still writes.
    pub relay: Option<Arc<Relay>>,
    /// Whether the user was told that output is being dropped.
    pub drops_said: bool,
}

/// The report's view of the wrapped command.
/// `stopped_by_gate`: blip stopped it because a gate failed (`--fail-fast`).
pub fn deploy_report(clock: &RunClock, log: DeployLog, stopped_by_gate: bool) -> DeployReport {
    let offset = |at: Option<Instant>| at.map(|at| millis(clock.offset(at)));
    let termination = log.termination.unwrap_or_default();
    let error = log.error.or_else(|| log.start.is_none().then(|| "stopped before the command started".to_string()));
    let (output_tail, output_lines_dropped) = log.relay.as_ref().map_or((Vec::new(), 0), |r| (r.tail(), r.dropped()));
    let (marks, output_marks_dropped) = log.relay.as_ref().map_or((Vec::new(), 0), |r| r.marks());
    let output_marks = marks
        .into_iter()
        .map(|m| OutputMark {
            offset_ms: millis(clock.offset(m.at)),
            stream: match m.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            }
            .to_string(),
            line: m.text,
        })
        .collect();
    DeployReport {
        label: log.wrap.label,
        command: log.wrap.argv,
        warmup_ms: millis(log.wrap.warmup),
        cooldown_ms: millis(log.wrap.cooldown),
        start_offset_ms: offset(log.start),
        end_offset_ms: offset(log.end),
        duration_ms: log.start.zip(log.end).map(|(s, e)| millis(e.saturating_duration_since(s))),
        succeeded: termination.succeeded(),
        stopped_by_gate: stopped_by_gate && !termination.succeeded(),
        exit_code: termination.exit_code,
        signal: termination.signal,
        error,
        output_tail,
        output_lines_dropped,
        output_marks,
        output_marks_dropped,
    }
}
