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
    color: bool,
    /// (elapsed, probes) per URL at the last rate measurement, and the rates then.
    rate_base: Option<(Duration, Vec<u64>)>,
    rates: Vec<f64>,
}

impl Dashboard {
    /// Takes over the terminal. `stop` is how a key press asks the run to end.
    pub fn start(stop: UnboundedSender<()>) -> std::io::Result<Dashboard> {
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
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            rate_base: None,
            rates: Vec::new(),
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
        self.rates = vec![0.0; info.urls.len()];
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
        match &self.rate_base {
            Some((at, base)) if tick.elapsed >= *at + Duration::from_secs(1) => {
                let dt = (tick.elapsed - *at).as_secs_f64();
                self.rates = probes.iter().zip(base).map(|(now, then)| (now - then) as f64 / dt).collect();
                self.rate_base = Some((tick.elapsed, probes));
            }
            Some(_) => {}
            None => self.rate_base = Some((tick.elapsed, probes)),
        }
        let view = View {
            elapsed: tick.elapsed,
            phase: self.phase.map(|(phase, at)| (phase, tick.now.saturating_duration_since(at))),
            command: self.command.clone(),
            targets,
            rates: self.rates.clone(),
            output: self.output.iter().cloned().collect(),
            notice: self.notice.clone(),
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

    fn phase(&mut self, phase: Phase) {
        self.phase = Some((phase, Instant::now()));
    }

    fn output(&mut self, stream: Stream, line: &str) {
        if self.output.len() == OUTPUT_LINES {
            self.output.pop_front();
        }
        self.output.push_back((stream, line.to_string()));
    }

    fn finished(&mut self, report: &Report) {
        self.close();
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{}", text::render(report));
        let _ = out.flush();
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
