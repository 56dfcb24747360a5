//! User interfaces: interchangeable consumers of the recorder's events and snapshots.
//!
//! The engine never knows which one is there. Each gets the state changes as they are detected,
//! a snapshot on every tick, and the final report.

use std::time::Duration;

use std::io::Write as _;

use crate::clock::RunClock;
use crate::deploy::Stream;
use crate::phase::Phase;
use crate::recorder::{Event, TargetSnapshot};
use crate::report::Report;

pub mod lines;

/// What a UI is told when the run starts.
pub struct RunInfo {
    pub urls: Vec<String>,
    pub rate: f64,
    pub timeout: Duration,
    pub duration: Option<Duration>,
    /// The wrapped command, if any.
    pub command: Option<Vec<String>>,
}

pub trait Ui {
    fn started(&mut self, info: &RunInfo);
    fn event(&mut self, clock: &RunClock, event: &Event);
    /// Called about every [`TICK`]; `elapsed` is the time since the start of the run.
    fn tick(&mut self, elapsed: Duration, snapshot: &[TargetSnapshot]);
    /// A notice from blip itself, such as a stop request.
    fn notice(&mut self, text: &str);
    /// A phase of the wrapped deploy began.
    fn phase(&mut self, phase: Phase);
    /// A whole line of the wrapped command's output.
    fn output(&mut self, stream: Stream, line: &str);
    fn finished(&mut self, report: &Report);
}

/// How often UIs get a snapshot.
pub const TICK: Duration = Duration::from_millis(250);

/// Prints nothing of blip's own; reports still go to their files. A wrapped command's output is
/// passed through as it is, because hiding a deploy's log would hurt more than it quiets.
pub struct Quiet {
    /// Where the command's output goes: stderr when stdout carries `--json -`.
    pub to_stderr: bool,
}

impl Ui for Quiet {
    fn started(&mut self, _: &RunInfo) {}
    fn event(&mut self, _: &RunClock, _: &Event) {}
    fn tick(&mut self, _: Duration, _: &[TargetSnapshot]) {}
    fn notice(&mut self, _: &str) {}
    fn phase(&mut self, _: Phase) {}
    fn output(&mut self, _: Stream, line: &str) {
        let _ =
            if self.to_stderr { writeln!(std::io::stderr(), "{line}") } else { writeln!(std::io::stdout(), "{line}") };
    }
    fn finished(&mut self, _: &Report) {}
}
