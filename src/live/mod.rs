//! Live consumers: what follows the run while it goes on. The user interfaces (`lines`, the
//! quiet one here, `dashboard` with its `view`) are interchangeable; the NDJSON event log
//! (`events`) and the Prometheus metrics (`metrics`) run beside them; `detached` is the terminal
//! writer that never blocks the run.
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
pub mod metrics;
pub mod view;

/// What a UI is told when the run starts.
pub struct RunInfo {
    /// Every target's label: its URL, with its lane when the run has more than the default one.
    pub urls: Vec<String>,
    /// The lanes each URL is probed on (`reused`, `fresh`, or both).
    pub lanes: Vec<crate::engine::lane::Lane>,
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
    /// The run is over: shows the summary, if this UI does, and waits until what it wrote is out.
    /// An error says that some of it could not be written.
    fn finished(&mut self, report: &Report) -> std::io::Result<()>;
}

/// Which of the wrapped command's pipes a line of its output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Makes crossterm's escapes follow blip's colour choice (`--color`, `NO_COLOR`: config's
/// `use_color`), made before any UI starts. crossterm reads `NO_COLOR` on its own and would
/// otherwise drop the colours of `--color always`, leaving bare `ESC[m` resets behind.
pub fn follow_color_choice(on: bool) {
    if on {
        ratatui::crossterm::style::Colored::set_ansi_color_disabled(false);
    }
}

/// The width of the terminal `out` is, or `None` when it is not one: text for a file or a pipe
/// is not wrapped.
pub fn terminal_width(out: &impl std::io::IsTerminal) -> Option<usize> {
    if !out.is_terminal() {
        return None;
    }
    ratatui::crossterm::terminal::size().ok().map(|(columns, _)| usize::from(columns)).filter(|w| *w > 0)
}

/// `text` with every line wider than `width` wrapped at word boundaries, as a terminal would
/// otherwise wrap it mid-word. A continuation line is indented two cells past its line's own
/// indentation; the spaces at a break are dropped, and a word wider than the line stays whole.
pub fn wrap(text: &str, width: usize) -> String {
    let cells = |s: &str| ratatui::text::Span::raw(s).width();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (line, end) = match line.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (line, ""),
        };
        if cells(line) <= width {
            out.push_str(line);
            out.push_str(end);
            continue;
        }
        let body = line.trim_start_matches(' ');
        let indent = " ".repeat(line.len() - body.len() + 2);
        let mut current = line[..line.len() - body.len()].to_string();
        let mut at_start = true;
        // Words with the run of spaces before each, so a summary's aligned columns keep their gaps.
        let mut rest = body;
        while !rest.is_empty() {
            let spaces = rest.len() - rest.trim_start_matches(' ').len();
            let after = &rest[spaces..];
            let word_end = after.find(' ').unwrap_or(after.len());
            let (gap, word) = (&rest[..spaces], &after[..word_end]);
            rest = &after[word_end..];
            if !at_start && cells(&current) + cells(gap) + cells(word) > width {
                out.push_str(current.trim_end());
                out.push('\n');
                current = format!("{indent}{word}");
            } else {
                current.push_str(gap);
                current.push_str(word);
            }
            at_start = false;
        }
        out.push_str(current.trim_end());
        out.push_str(end);
    }
    out
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
    fn finished(&mut self, _: &Report) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_at_word_boundaries_with_a_hanging_indent() {
        let text = "  probes     600 (520 ok, 80 failed)   availability 86.670%   downtime 1.600 s (1 outage)\nshort\n";
        let wrapped = wrap(text, 40);
        assert_eq!(
            wrapped,
            "  probes     600 (520 ok, 80 failed)\n    availability 86.670%   downtime\n    1.600 s (1 outage)\nshort\n"
        );
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40), "{wrapped}");
        // Every word is kept whole, in order.
        let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(text));
        // Lines that fit, and a word wider than the line, are left alone.
        assert_eq!(wrap("fits\n", 4), "fits\n");
        assert_eq!(wrap("a https://example.test/a/very/long/path", 10), "a\n  https://example.test/a/very/long/path");
    }
}
