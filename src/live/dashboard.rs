//! The `dashboard` UI: a live terminal view, drawn by a thread of its own.
//!
//! The run loop hands over a [`View`] at most once per tick, with a non-blocking send: a slow
//! terminal drops frames, never probes. The drawing thread owns the terminal (raw mode, the
//! alternate screen) and reads the keys; `q`, `Esc` and Ctrl-C ask the run loop to stop the
//! normal way. The terminal is restored when the run ends, on a panic (ratatui's hook), and on
//! every error path, before the summary is printed.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc::UnboundedSender;

use crate::analysis::clock::RunClock;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Event;
use crate::live::Stream;
use crate::live::view::{self, View};
use crate::live::{RunInfo, Tick, Ui};
use crate::report::{Report, text};

/// Lines of the command's output kept for the pane.
const OUTPUT_LINES: usize = 200;
/// Timeline slices sent with each frame: wider than any terminal.
const SLICES: usize = 512;

pub struct Dashboard {
    frames: Option<SyncSender<View>>,
    drawer: Option<JoinHandle<()>>,
    command: Option<String>,
    phase: Option<(Phase, Instant)>,
    output: VecDeque<(Stream, String)>,
    notice: Option<String>,
    stopping: Option<String>,
    warmup: Option<Duration>,
    color: bool,
    rates: RateMeter,
}

/// Probes per second per URL: over the last whole second, and before a whole second has passed,
/// since the start of the run, so the rate shows from the first probe on.
#[derive(Default)]
struct RateMeter {
    /// Elapsed time and probes per URL at the start of the current window.
    base: (Duration, Vec<u64>),
    /// A whole window has been measured.
    full: bool,
    rates: Vec<f64>,
}

impl RateMeter {
    fn update(&mut self, elapsed: Duration, probes: &[u64]) -> &[f64] {
        let (at, base) = &self.base;
        let dt = elapsed.saturating_sub(*at);
        let per_second = |then: &[u64], dt: Duration| {
            probes
                .iter()
                .enumerate()
                .map(|(i, now)| now.saturating_sub(then.get(i).copied().unwrap_or(0)) as f64 / dt.as_secs_f64())
                .collect()
        };
        if dt >= Duration::from_secs(1) {
            self.rates = per_second(base, dt);
            self.base = (elapsed, probes.to_vec());
            self.full = true;
        } else if !self.full && !dt.is_zero() {
            self.rates = per_second(base, dt);
        }
        &self.rates
    }
}

impl Dashboard {
    /// Takes over the terminal. `stop` is how a key press asks the run to end.
    /// `color`: whether the strip and states are coloured; without it they speak through glyphs
    /// and reverse video.
    pub fn start(stop: UnboundedSender<()>, color: bool) -> std::io::Result<Dashboard> {
        super::follow_color_choice(color);
        let terminal = ratatui::try_init()?;
        let (frames, receiver) = sync_channel(1);
        let drawer =
            std::thread::Builder::new().name("blip-dashboard".into()).spawn(move || draw(terminal, receiver, stop))?;
        Ok(Dashboard {
            frames: Some(frames),
            drawer: Some(drawer),
            command: None,
            phase: None,
            output: VecDeque::new(),
            notice: None,
            stopping: None,
            warmup: None,
            color,
            rates: RateMeter::default(),
        })
    }

    /// Hands the terminal back: the drawing thread restores it and ends.
    fn close(&mut self) {
        self.frames = None;
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.close();
    }
}

impl Ui for Dashboard {
    fn started(&mut self, info: &RunInfo) {
        self.command = info.command.as_ref().map(|argv| argv.join(" "));
        self.warmup = info.warmup;
        self.rates = RateMeter { base: (Duration::ZERO, vec![0; info.urls.len()]), ..RateMeter::default() };
    }

    fn event(&mut self, _: &RunClock, _: &Event) {
        // The next frame shows it; frames come every tick.
    }

    fn detail_slices(&self) -> Option<usize> {
        Some(SLICES)
    }

    fn tick(&mut self, tick: Tick<'_>) {
        let targets = tick.detail.unwrap_or_default();
        let probes: Vec<u64> = targets.iter().map(|t| t.probes).collect();
        let rates = self.rates.update(tick.elapsed, &probes).to_vec();
        let left = tick.end.map(|end| end.saturating_sub(tick.elapsed));
        let phase = self.phase.map(|(phase, at)| {
            let lasted = tick.now.saturating_duration_since(at);
            let phase_left = match phase {
                Phase::Warmup => self.warmup.map(|w| w.saturating_sub(lasted)),
                Phase::Deploy => None,
                Phase::Cooldown => left,
            };
            (phase, lasted, phase_left)
        });
        let view = View {
            elapsed: tick.elapsed,
            left,
            phase,
            command: self.command.clone(),
            targets,
            rates,
            gates: tick.gates.to_vec(),
            output: self.output.iter().cloned().collect(),
            notice: self.notice.clone(),
            stopping: self.stopping.clone(),
            help: false,
            color: self.color,
        };
        if let Some(frames) = &self.frames
            && let Err(TrySendError::Disconnected(_)) = frames.try_send(view)
        {
            self.frames = None;
        }
    }

    fn notice(&mut self, text: &str) {
        self.notice = Some(text.to_string());
    }

    fn stopping(&mut self, why: &str) {
        self.stopping.get_or_insert_with(|| why.to_string());
        self.notice(why);
    }

    fn phase(&mut self, phase: Phase) {
        self.phase = Some((phase, Instant::now()));
    }

    fn output(&mut self, stream: Stream, line: &str) {
        if self.output.len() == OUTPUT_LINES {
            self.output.pop_front();
        }
        self.output.push_back((stream, line.to_string()));
    }

    fn finished(&mut self, report: &Report) -> std::io::Result<()> {
        self.close();
        let mut out = std::io::stdout().lock();
        let summary = text::render(report);
        let summary = match crate::live::terminal_width(&out) {
            Some(width) => crate::live::wrap(&summary, width),
            None => summary,
        };
        write!(out, "{summary}").and_then(|()| out.flush())
    }
}

/// The drawing thread: draws the latest view, reads keys, and restores the terminal at the end.
fn draw(mut terminal: DefaultTerminal, frames: Receiver<View>, stop: UnboundedSender<()>) {
    let mut latest: Option<View> = None;
    let mut help = false;
    loop {
        let mut dirty = false;
        match frames.recv_timeout(Duration::from_millis(50)) {
            Ok(view) => {
                latest = Some(view);
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while event::poll(Duration::ZERO).unwrap_or(false) {
            match event::read() {
                Ok(TermEvent::Key(key)) if key.kind == KeyEventKind::Press => match key.code {
                    KeyCode::Char('q') | KeyCode::Esc => {
                        let _ = stop.send(());
                    }
                    KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        let _ = stop.send(());
                    }
                    KeyCode::Char('?') => {
                        help = !help;
                        dirty = true;
                    }
                    _ => {}
                },
                Ok(TermEvent::Resize(..)) => dirty = true,
                _ => {}
            }
        }
        if dirty && let Some(view) = latest.as_mut() {
            view.help = help;
            if terminal.draw(|frame| view::render(frame, view)).is_err() {
                break;
            }
        }
    }
    let _ = terminal.show_cursor();
    drop(terminal);
    ratatui::restore();
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_rate_shows_from_the_first_probe_then_over_the_last_second() {
        let mut meter = RateMeter { base: (Duration::ZERO, vec![0]), ..RateMeter::default() };
        // 50/s: five probes have reported 100 ms in.
        assert_eq!(meter.update(MS * 100, &[5]), &[50.0]);
        assert_eq!(meter.update(MS * 500, &[25]), &[50.0]);
        assert_eq!(meter.update(MS * 1000, &[50]), &[50.0]);
        // Then whole seconds: the rate drops to 10/s only once a second at that rate has passed.
        assert_eq!(meter.update(MS * 1500, &[55]), &[50.0]);
        assert_eq!(meter.update(MS * 2000, &[60]), &[10.0]);
    }
}
