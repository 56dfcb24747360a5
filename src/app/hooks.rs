//! Hooks: `--on-down` and `--on-up`, shell commands (`sh -c`; `cmd /C` on Windows) run the moment a URL's outage
//! window opens and closes, to capture evidence or tell someone.
//!
//! A hook never delays a probe: it is started on a blocking-pool thread (forking is not free),
//! supervised like the wrapped command (`command::RunningCommand`: a process group of its own,
//! output relayed through a bounded queue), and the run loop only hears of it through one
//! channel. At most one hook runs per URL; a trigger that comes while one runs waits in a queue
//! of one, and a trigger that finds the queue full is skipped and counted. Hooks still running
//! when the run ends get the wrapped command's grace: SIGTERM, then SIGKILL after it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::command::{Channels, Exited, OutputLine, Relay, RunningCommand, Termination};
use super::signals::Signal;
use crate::analysis::clock::{RunClock, rfc3339_ms};
use crate::analysis::outage::Transition;
use crate::config::HookCommands;
use crate::engine::lane::{Lane, TargetName};
use crate::report::HookReport;
use crate::units::millis;

/// The shell a hook runs in, and its flag for a command line.
const SHELL: (&str, &str) = if cfg!(windows) { ("cmd", "/C") } else { ("/bin/sh", "-c") };

/// Hook runs kept for the report; a flapping URL triggers one per window, and memory must stay
/// flat. Runs past it are still counted in `hooks_run`.
const MAX_RUNS: usize = 1000;

/// Where a hook's supervising task tells the run loop what happened: its start and end on one
/// channel, its output on another, so that a hook that printed a lot never keeps its URL's slot
/// busy after it exited while its queued lines are shown (the next hook starts on time).
#[derive(Clone)]
pub struct HookSenders {
    pub control: mpsc::UnboundedSender<HookMessage>,
    pub output: mpsc::UnboundedSender<HookMessage>,
}

/// What a hook's supervising task tells the run loop.
pub enum HookMessage {
    Started { target: usize, command: RunningCommand },
    Output { relay: Arc<Relay>, line: OutputLine },
    Exited { target: usize, exited: Exited },
    Failed { target: usize, error: String },
}

/// One start of a hook: which, and its environment.
struct Trigger {
    hook: &'static str,
    command: String,
    env: Vec<(&'static str, String)>,
}

/// A hook that runs now.
struct Running {
    hook: &'static str,
    start: Instant,
    command: Option<RunningCommand>,
}

#[derive(Default)]
struct Slot {
    running: Option<Running>,
    queued: Option<Trigger>,
}

/// Every URL's hooks, as the run loop drives them.
pub struct Hooks {
    commands: HookCommands,
    slots: Vec<Slot>,
    urls: Vec<String>,
    /// Each target's lane, beside its URL.
    lanes: Vec<Lane>,
    tx: HookSenders,
    /// Set once the run ended: nothing more starts, and what starts late is stopped at once.
    stopping: Option<Signal>,
    runs: Vec<HookReport>,
    /// Hook runs that finished, including any past [`MAX_RUNS`].
    finished: u64,
    skipped: u64,
}

impl Hooks {
    pub fn new(commands: HookCommands, targets: &[TargetName], tx: HookSenders) -> Hooks {
        Hooks {
            commands,
            slots: targets.iter().map(|_| Slot::default()).collect(),
            urls: targets.iter().map(|t| t.url.clone()).collect(),
            lanes: targets.iter().map(|t| t.lane).collect(),
            tx,
            stopping: None,
            runs: Vec::new(),
            finished: 0,
            skipped: 0,
        }
    }

    /// A URL changed state: starts its hook, or queues or skips it behind the one running.
    /// A window closed by the end of the run is no recovery and triggers nothing.
    pub fn transition(&mut self, clock: &RunClock, target: usize, transition: &Transition) {
        let url = self.urls.get(target).cloned().unwrap_or_default();
        let (hook, command, cause, start, duration) = match transition {
            Transition::Down { start, cause, .. } => ("on-down", &self.commands.on_down, cause, *start, None),
            Transition::Up(w) if !w.open => {
                ("on-up", &self.commands.on_up, &w.first_cause, w.start, Some(w.duration()))
            }
            Transition::Up(_) => return,
        };
        let Some(command) = command.clone() else { return };
        let env = vec![
            ("BLIP_EVENT", if hook == "on-down" { "down" } else { "up" }.to_string()),
            ("BLIP_URL", url),
            ("BLIP_CONNECTION", self.lanes.get(target).copied().unwrap_or_default().to_string()),
            ("BLIP_CAUSE", cause.to_string()),
            ("BLIP_START", rfc3339_ms(clock.wall(start))),
            ("BLIP_START_OFFSET_MS", millis(start).to_string()),
            ("BLIP_DURATION_MS", duration.map(|d| millis(d).to_string()).unwrap_or_default()),
        ];
        self.trigger(target, Trigger { hook, command, env });
    }

    fn trigger(&mut self, target: usize, trigger: Trigger) {
        let Some(slot) = self.slots.get_mut(target) else { return };
        if self.stopping.is_some() {
            self.skipped += 1;
        } else if slot.running.is_none() {
            self.start(target, trigger);
        } else if slot.queued.is_none() {
            slot.queued = Some(trigger);
        } else {
            self.skipped += 1;
        }
    }

    fn start(&mut self, target: usize, trigger: Trigger) {
        let tx = self.tx.clone();
        self.slots[target].running = Some(Running { hook: trigger.hook, start: Instant::now(), command: None });
        tokio::spawn(async move {
            let (output, mut lines) = mpsc::unbounded_channel();
            let (exited, mut exit) = mpsc::unbounded_channel();
            let channels = Channels { output, exited };
            let (shell, flag) = SHELL;
            let argv = vec![shell.to_string(), flag.to_string(), trigger.command];
            let env = trigger.env;
            let spawned =
                tokio::task::spawn_blocking(move || RunningCommand::spawn(Path::new(shell), &argv, &env, channels))
                    .await;
            let relay = match spawned {
                Ok(Ok(command)) => {
                    let relay = command.relay.clone();
                    let _ = tx.control.send(HookMessage::Started { target, command });
                    relay
                }
                Ok(Err(err)) => {
                    let _ = tx.control.send(HookMessage::Failed { target, error: err.to_string() });
                    return;
                }
                Err(err) => {
                    let error = format!("cannot start the hook: {err}");
                    let _ = tx.control.send(HookMessage::Failed { target, error });
                    return;
                }
            };
            let (mut output_open, mut exit_open) = (true, true);
            while output_open || exit_open {
                tokio::select! {
                    // The exit first: it frees the URL's slot, whatever output is still queued.
                    biased;
                    done = exit.recv(), if exit_open => {
                        if let Some(exited) = done {
                            let _ = tx.control.send(HookMessage::Exited { target, exited });
                        }
                        exit_open = false;
                    }
                    line = lines.recv(), if output_open => match line {
                        Some(line) => { let _ = tx.output.send(HookMessage::Output { relay: relay.clone(), line }); }
                        None => output_open = false,
                    },
                }
            }
        });
    }

    /// The hook of `target` started.
    pub fn started(&mut self, target: usize, command: RunningCommand) {
        if let Some(signal) = self.stopping {
            command.signal(signal);
        }
        if let Some(running) = self.slots.get_mut(target).and_then(|s| s.running.as_mut()) {
            running.command = Some(command);
        }
    }

    /// The hook of `target` ended (or could not start): books it, starts the queued one, and
    /// returns the run as the report has it.
    pub fn ended(&mut self, clock: &RunClock, target: usize, end: Result<Exited, String>) -> Option<HookReport> {
        let slot = self.slots.get_mut(target)?;
        let running = slot.running.take()?;
        let (at, termination, error) = match end {
            Ok(Exited { status: Ok(status), at }) => (at, Termination::of(status), None),
            Ok(Exited { status: Err(err), at }) => (at, Termination::default(), Some(format!("cannot wait: {err}"))),
            Err(error) => (Instant::now(), Termination::default(), Some(error)),
        };
        self.finished += 1;
        let run = HookReport {
            hook: running.hook.to_string(),
            url: self.urls.get(target).cloned().unwrap_or_default(),
            connection: self.lanes.get(target).copied().unwrap_or_default(),
            start_offset_ms: millis(clock.offset(running.start)),
            duration_ms: millis(at.saturating_duration_since(running.start)),
            exit_code: termination.exit_code,
            signal: termination.signal,
            error,
        };
        if self.runs.len() < MAX_RUNS {
            self.runs.push(run.clone());
        }
        if let Some(next) = slot.queued.take() {
            if self.stopping.is_some() {
                self.skipped += 1;
            } else {
                self.start(target, next);
            }
        }
        Some(run)
    }

    /// Whether any hook still runs (or is starting).
    pub fn busy(&self) -> bool {
        self.slots.iter().any(|s| s.running.is_some())
    }

    /// The run ended: queued hooks are skipped, and running ones get `signal`.
    pub fn stop(&mut self, signal: Signal) {
        self.stopping = Some(signal);
        for slot in &mut self.slots {
            if slot.queued.take().is_some() {
                self.skipped += 1;
            }
            if let Some(command) = slot.running.as_ref().and_then(|r| r.command.as_ref()) {
                command.signal(signal);
            }
        }
    }

    /// The runs for the report (taken: the run has ended), how many ran in all, and how many
    /// triggers were skipped.
    pub fn take_report(&mut self) -> (Vec<HookReport>, u64, u64) {
        (std::mem::take(&mut self.runs), self.finished, self.skipped)
    }
}
