//! Live consumers: what follows the run while it goes on. The user interfaces (`lines`, the
//! quiet one here, `dashboard` with its `view`) are interchangeable; the NDJSON event log
//! (`events`) runs beside them; `detached` is the terminal writer that never blocks the run.
//!
//! The engine never knows which one is there. Each gets plain data from the run loop: the state
//! changes as they are detected, a snapshot on every tick (the detail only when it asks), and
//! the final report.

use std::time::{Duration, Instant};

use std::io::Write as _;

use crate::analysis::clock::RunClock;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Event;
use crate::analysis::snapshot::{TargetDetail, TargetSnapshot};
use crate::report::Report;

pub mod dashboard;
pub mod detached;
pub mod events;
#[cfg(test)]
mod fixtures;
pub mod gates;
pub mod lines;
pub mod view;

/// What a UI is told when the run starts.
pub struct RunInfo {
    pub urls: Vec<String>,
    pub rate: f64,
    pub timeout: Duration,
    pub duration: Option<Duration>,
    /// The wrapped command, if any, or the label it is shown by.
    pub command: Option<Vec<String>>,
    /// How long the warmup before the command lasts.
    pub warmup: Option<Duration>,
}

pub trait Ui: Send {
    fn started(&mut self, info: &RunInfo);
    fn event(&mut self, clock: &RunClock, event: &Event);
    /// Called every [`TICK`] with what the run knows now.
    fn tick(&mut self, tick: Tick<'_>);
    /// How many timeline slices of detail per URL the UI shows on a tick; `None` (the default)
    /// when it shows no detail, which then is not built.
    fn detail_slices(&self) -> Option<usize> {
        None
    }
    /// A notice from blip itself.
    fn notice(&mut self, text: &str);
    /// The run is being stopped before its end (a key, a signal, `--fail-fast`), and why.
    fn stopping(&mut self, why: &str) {
        self.notice(why);
    }
    /// A phase of the wrapped deploy began.
    fn phase(&mut self, phase: Phase);
    /// A whole line of the wrapped command's output.
    fn output(&mut self, stream: Stream, line: &str);
    /// A piece of a line of the command's output too long to wait for its end; by default shown
    /// as a line of its own.
    fn output_part(&mut self, stream: Stream, part: &str) {
        self.output(stream, part);
    }
    fn finished(&mut self, report: &Report);
}

/// Which of the wrapped command's pipes a line of its output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How often UIs are ticked: ten frames a second for the dashboard.
pub const TICK: Duration = Duration::from_millis(100);

/// What a UI gets on each tick: plain data, taken from the recorder by the run loop.
pub struct Tick<'a> {
    pub now: Instant,
    /// Time since the start of the run.
    pub elapsed: Duration,
    /// Every URL's counts, in the order of the URLs.
    pub targets: &'a [TargetSnapshot],
    /// The detail of every URL, when the UI asked for it (see [`Ui::detail_slices`]).
    pub detail: Option<Vec<TargetDetail>>,
    /// When the run ends, from its start, once that is known (`--duration`, a cooldown begun).
    pub end: Option<Duration>,
    /// Every URL's gates and their state now, in the order of the URLs.
    pub gates: &'a [Vec<gates::GateLive>],
}

/// Prints nothing of blip's own; reports still go to their files. A wrapped command's output is
/// passed through as it is, long lines unbroken, because hiding a deploy's log would hurt more
/// than it quiets.
pub struct Quiet {
    /// Where the command's output goes: stderr when stdout carries `--json -`.
    pub out: detached::Detached,
}

impl Ui for Quiet {
    fn started(&mut self, _: &RunInfo) {}
    fn event(&mut self, _: &RunClock, _: &Event) {}
    fn tick(&mut self, _: Tick<'_>) {}
    fn notice(&mut self, _: &str) {}
    fn phase(&mut self, _: Phase) {}
    fn output(&mut self, _: Stream, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }
    fn output_part(&mut self, _: Stream, part: &str) {
        let _ = write!(self.out, "{part}");
    }
    fn finished(&mut self, _: &Report) {
        let _ = self.out.flush();
    }
}
