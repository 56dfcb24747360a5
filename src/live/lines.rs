//! The `lines` UI: one line per state change and per gate that fails, a progress line every few
//! seconds, then the summary. Suited to logs and CI, where a terminal dashboard would be noise.
//! Times are UTC, written with their `Z` as in RFC 3339.
//!
//! Text that may come from a server (an error, a URL) passes [`sanitize::line`]: a log or a
//! terminal gets it on one line, with no control character to act on.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use std::time::SystemTime;

use ratatui::crossterm::style::{Color, Stylize as _};

use crate::analysis::clock::{RunClock, time_of_day};
use crate::analysis::outage::Transition;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Event;
use crate::live::Stream;
use crate::live::gates::GateState;
use crate::live::{RunInfo, Tick, Ui};
use crate::report::{Report, text};
use crate::sanitize;
use crate::units::secs;

/// Time between progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub struct Lines<W: Write> {
    out: W,
    urls: Vec<String>,
    next_progress: Duration,
    clock: Option<RunClock>,
    /// (URL, gate) pairs already said to have failed: each is said once, when it first fails.
    failed_gates: HashSet<(usize, String)>,
    /// The terminal's width when `out` is one: the summary is wrapped to it.
    wrap: Option<usize>,
    /// `--color`: DOWN and failures red, UP and passes green, warnings yellow.
    color: bool,
}

/// `word` in `color` when colour is on, as ANSI escapes (crossterm's).
fn paint(on: bool, word: &str, color: Color) -> String {
    if on { word.with(color).to_string() } else { word.to_string() }
}

/// Column where a gate's `passed`/`FAILED` mark starts in the summary (see `report::text`).
const GATE_MARK_AT: usize = 13;

/// The summary with its verdict, gate marks and warnings coloured. It works on the finished
/// text, so the summary written to files stays the same function of the report.
fn paint_summary(summary: &str) -> String {
    let mut out = String::with_capacity(summary.len() + 64);
    for line in summary.split_inclusive('\n') {
        let (text, end) = line.strip_suffix('\n').map_or((line, ""), |t| (t, "\n"));
        let painted = if text.starts_with("FAILED") {
            paint(true, text, Color::Red)
        } else if text.starts_with("passed") {
            paint(true, text, Color::Green)
        } else if text.starts_with("warning:") || text.starts_with("WARNING") {
            paint(true, text, Color::Yellow)
        } else if let Some(rest) = text.get(GATE_MARK_AT..)
            && let Some((mark, color)) =
                [("FAILED  ", Color::Red), ("passed  ", Color::Green)].into_iter().find(|(m, _)| rest.starts_with(m))
        {
            let mark = mark.trim_end();
            format!("{}{}{}", &text[..GATE_MARK_AT], paint(true, mark, color), &rest[mark.len()..])
        } else {
            text.to_string()
        };
        out.push_str(&painted);
        out.push_str(end);
    }
    out
}

/// A wall time as lines print it: `HH:MM:SS.mmmZ`, UTC.
fn utc(time: SystemTime) -> String {
    format!("{}Z", time_of_day(time))
}

impl<W: Write> Lines<W> {
    pub fn new(out: W) -> Lines<W> {
        Lines {
            out,
            urls: Vec::new(),
            next_progress: PROGRESS_EVERY,
            clock: None,
            failed_gates: HashSet::new(),
            wrap: None,
            color: false,
        }
    }

    /// Colours state changes, failed gates, warnings and the summary's verdict.
    pub fn colored(mut self, on: bool) -> Lines<W> {
        super::follow_color_choice(on);
        self.color = on;
        self
    }

    /// Wraps the summary at word boundaries to `width`, the width of the terminal `out` is.
    pub fn wrap_to(mut self, width: Option<usize>) -> Lines<W> {
        self.wrap = width;
        self
    }

    // A UI that cannot write (a closed pipe) must not stop the measurement; the report files
    // are still written, so write errors are ignored here. Not flushed: the writer given to
    // `new` (a `Detached` one in blip) passes whole lines on as they complete.
    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{text}");
    }
}

impl<W: Write + Send> Ui for Lines<W> {
    fn started(&mut self, info: &RunInfo) {
        self.urls = info.urls.clone();
        let until = match info.duration {
            Some(d) => format!("for {}", humantime::format_duration(d)),
            None => "until Ctrl-C".to_string(),
        };
        let until = match &info.command {
            Some(argv) => format!("around `{}`", argv.join(" ")),
            None => until,
        };
        let urls = info.urls.len() / info.lanes.len().max(1);
        let lanes = match info.lanes.as_slice() {
            [] | [crate::engine::lane::Lane::Reused] => String::new(),
            [lane] => format!(" on {lane} connections"),
            lanes => format!(
                " on {} lanes ({})",
                lanes.len(),
                lanes.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
            ),
        };
        self.line(format_args!(
            "blip: probing {urls} URL{}{lanes} at {}/s each, timeout {}, {until}",
            if urls == 1 { "" } else { "s" },
            info.rate,
            humantime::format_duration(info.timeout),
        ));
    }

    fn event(&mut self, clock: &RunClock, event: &Event) {
        self.clock = Some(*clock);
        let url = sanitize::line(self.urls.get(event.target).map_or("", String::as_str));
        match &event.transition {
            Transition::Down { start, first_error, .. } => {
                let at = utc(clock.wall(*start));
                let down = paint(self.color, "DOWN", Color::Red);
                self.line(format_args!("{at}  {down}  {url}  {}", sanitize::line(first_error)));
            }
            Transition::Up(w) => {
                let at = utc(clock.wall(w.end));
                let failed = w.failed_probes;
                let probes = if failed == 1 { "" } else { "s" };
                let lasted = secs(w.duration());
                // A window the run ended in never came up: say so, not `UP`.
                if w.open {
                    let down = paint(self.color, "STILL DOWN", Color::Red);
                    self.line(format_args!(
                        "{at}  {down}  {url}  at the end of the run, down for {lasted} ({failed} probe{probes} failed)"
                    ));
                } else {
                    let up = paint(self.color, "UP", Color::Green);
                    self.line(format_args!("{at}  {up}    {url}  after {lasted} ({failed} probe{probes} failed)"));
                }
            }
        }
    }

    fn tick(&mut self, tick: Tick<'_>) {
        for (i, gates) in tick.gates.iter().enumerate() {
            for g in gates {
                let GateState::Failed { observed, settled } = &g.state else { continue };
                if !self.failed_gates.insert((i, g.gate.clone())) {
                    continue;
                }
                let at = utc(SystemTime::now());
                let url = sanitize::line(self.urls.get(i).map_or("", String::as_str));
                let how = if *settled { "failed" } else { "failing (may still pass by the end)" };
                let observed = sanitize::line(observed);
                let gate = paint(self.color, "GATE", Color::Red);
                self.line(format_args!("{at}  {gate}  {url}  {} {how}: observed {observed}", g.gate));
            }
        }
        let elapsed = tick.elapsed;
        if elapsed < self.next_progress {
            return;
        }
        self.next_progress = elapsed + PROGRESS_EVERY;
        for (i, t) in tick.targets.iter().enumerate() {
            let url = sanitize::line(self.urls.get(i).map_or("", String::as_str));
            let state = match t.down_since {
                Some(since) => format!("DOWN for {:.1} s", elapsed.saturating_sub(since).as_secs_f64()),
                None => "up".to_string(),
            };
            self.line(format_args!(
                "{:>10.1} s  ..    {}  {} probes, {} failed, {} outage{}, {state}",
                elapsed.as_secs_f64(),
                url,
                t.probes,
                t.failed,
                t.windows,
                if t.windows == 1 { "" } else { "s" },
            ));
        }
    }

    fn notice(&mut self, text: &str) {
        let text = sanitize::line(text);
        let text = if text.starts_with("WARNING") { paint(self.color, &text, Color::Yellow) } else { text };
        self.line(format_args!("blip: {text}"));
    }

    fn phase(&mut self, phase: Phase) {
        let at = utc(SystemTime::now());
        let what = match phase {
            Phase::Warmup => "warmup: probing before the command starts",
            Phase::Deploy => "deploy: the command is running",
            Phase::Cooldown => "cooldown: probing after the command exited",
        };
        self.line(format_args!("{at}  ----  {what}"));
    }

    fn output(&mut self, stream: Stream, line: &str) {
        let mark = match stream {
            Stream::Stdout => '|',
            Stream::Stderr => '!',
        };
        // The command's output may carry a server's text (app logs a deploy tool echoes): it gets
        // the same cleaning, so it cannot retitle or clear the terminal. `--ui quiet` passes it
        // through untouched.
        let line = sanitize::line(line);
        self.line(format_args!("              {mark} {line}"));
    }

    fn finished(&mut self, report: &Report) -> std::io::Result<()> {
        // Waits for a backlog of the command's output first, so the summary is never what a
        // full queue drops.
        let backlog = self.out.flush();
        let summary = text::render(report);
        let summary = match self.wrap {
            Some(width) => crate::live::wrap(&summary, width),
            None => summary,
        };
        // Painted after wrapping, so escapes never count towards a line's width.
        let summary = if self.color { paint_summary(&summary) } else { summary };
        let summary = write!(self.out, "\n{summary}").and_then(|()| self.out.flush());
        // The later error counts everything lost, the summary included.
        summary.and(backlog)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::outage::Window;
    use crate::live::gates::GateLive;
    use std::collections::BTreeMap;

    const MS: Duration = Duration::from_millis(1);

    fn lines() -> Lines<Vec<u8>> {
        let mut lines = Lines::new(Vec::new());
        lines.urls = vec!["http://a/".into()];
        lines
    }

    fn text(lines: &Lines<Vec<u8>>) -> String {
        String::from_utf8_lossy(&lines.out).into_owned()
    }

    /// `HH:MM:SS.mmmZ` at the start of the line.
    fn starts_with_utc_time(line: &str) -> bool {
        let b = line.as_bytes();
        b.len() > 13
            && b[2] == b':'
            && b[5] == b':'
            && b[8] == b'.'
            && b[12] == b'Z'
            && [0, 1, 3, 4, 6, 7, 9, 10, 11].iter().all(|i| b[*i].is_ascii_digit())
    }

    #[test]
    fn every_time_is_utc_with_its_z() {
        let mut lines = lines();
        let clock = RunClock::now();
        let down = Transition::Down {
            start: MS * 300,
            cause: crate::engine::sample::Cause::Status(503),
            first_error: "503".into(),
            first_seq: 6,
        };
        lines.event(&clock, &Event { target: 0, transition: down });
        let window = Window {
            start: MS * 300,
            end: MS * 900,
            failed_probes: 6,
            causes: BTreeMap::new(),
            first_cause: crate::engine::sample::Cause::Status(503),
            first_error: "503".into(),
            first_seq: 6,
            last_seq: 11,
            failed_in: [0; crate::engine::detail::RequestPhase::ALL.len()],
            open: false,
        };
        lines.event(&clock, &Event { target: 0, transition: Transition::Up(window) });
        lines.phase(Phase::Deploy);
        let text = text(&lines);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().all(starts_with_utc_time), "{text}");
    }

    #[test]
    fn colour_marks_states_verdicts_and_warnings_and_nothing_else() {
        let summary = "http://a/\n  gates      FAILED  max-downtime 0s: observed 1 s\n             passed  max-outage 2s: observed 1 s\nwarning: late\n\nFAILED: 1 of 2 gates failed\n";
        let painted = paint_summary(summary);
        let red = |s: &str| s.with(Color::Red).to_string();
        let green = |s: &str| s.with(Color::Green).to_string();
        assert!(painted.contains(&format!("  gates      {}  max-downtime", red("FAILED"))), "{painted:?}");
        assert!(painted.contains(&format!("             {}  max-outage", green("passed"))), "{painted:?}");
        assert!(painted.contains(&"warning: late".with(Color::Yellow).to_string()), "{painted:?}");
        assert!(painted.ends_with(&format!("{}\n", red("FAILED: 1 of 2 gates failed"))), "{painted:?}");
        assert!(painted.starts_with("http://a/\n"), "a URL line stays plain: {painted:?}");

        let mut lines = lines().colored(true);
        let clock = RunClock::now();
        let down = Transition::Down {
            start: MS,
            cause: crate::engine::sample::Cause::Status(503),
            first_error: "503".into(),
            first_seq: 0,
        };
        lines.event(&clock, &Event { target: 0, transition: down });
        assert!(text(&lines).contains(&format!("  {}  http://a/  503", red("DOWN"))), "{}", text(&lines));
        let mut plain = self::lines();
        let down = Transition::Down {
            start: MS,
            cause: crate::engine::sample::Cause::Status(503),
            first_error: "503".into(),
            first_seq: 0,
        };
        plain.event(&clock, &Event { target: 0, transition: down });
        assert!(!text(&plain).contains('\x1b'), "{}", text(&plain));
    }

    #[test]
    fn the_commands_output_reaches_the_terminal_without_control_characters() {
        let mut lines = lines();
        lines.output(Stream::Stdout, "\x1b]0;TITLE\x07deployed \x1b[2J\u{202e}ok");
        let text = text(&lines);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n') && !text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("deployed"), "{text:?}");
    }

    #[test]
    fn a_gate_is_said_once_when_it_first_fails() {
        let mut lines = lines();
        let failed = |settled| GateLive {
            gate: "max-downtime 0s".into(),
            state: GateState::Failed { observed: "0.600 s".into(), settled },
        };
        let passing = vec![vec![GateLive { gate: "max-downtime 0s".into(), state: GateState::Passing }]];
        let tick = |gates: &[Vec<GateLive>], lines: &mut Lines<Vec<u8>>| {
            let now = std::time::Instant::now();
            lines.tick(Tick { now, elapsed: MS, targets: &[], detail: None, end: None, gates });
        };
        tick(&passing, &mut lines);
        assert_eq!(text(&lines), "");
        tick(&[vec![failed(true)]], &mut lines);
        tick(&[vec![failed(true)]], &mut lines);
        let text = text(&lines);
        assert_eq!(text.lines().count(), 1, "{text}");
        let line = text.lines().next().unwrap_or_default();
        assert!(starts_with_utc_time(line), "{line}");
        assert!(line.ends_with("  GATE  http://a/  max-downtime 0s failed: observed 0.600 s"), "{line}");
    }
}
