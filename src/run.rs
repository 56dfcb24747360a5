//! The run: wires config → scheduler → Sample channel → recorder → UI, runs a wrapped deploy
//! command through its phases, handles Ctrl-C and SIGTERM, and writes the reports. This is the
//! application layer; the parts it wires are pure or own a single job.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, watch};

use crate::cli::{Cli, Command};
use crate::clock::{RunClock, millis};
use crate::config::{Config, Destination, UiMode, Wrap};
use crate::deploy::{self, ChildEvent, RunningCommand, Termination};
use crate::exit;
use crate::phase::Phase;
use crate::probe::Prober;
use crate::recorder::Recorder;
use crate::report::{DeployReport, Report, json};
use crate::scheduler::{self, Schedule};
use crate::ui::{self, RunInfo, Ui};

/// Lines of the command's output kept for the report.
const OUTPUT_TAIL: usize = 20;
/// How long a signalled command has to exit before it is killed.
const KILL_AFTER: Duration = Duration::from_secs(5);

/// A run's result, before it is turned into an exit code.
pub struct Finished {
    pub report: Report,
    /// The wrapped command failed or could not start.
    pub command_failed: bool,
}

impl Finished {
    /// Precedence: a failed command (3) before a failed gate (1); blip's own failures (2) never
    /// get here.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(if self.command_failed {
            exit::COMMAND_FAILED
        } else if !self.report.passed {
            exit::GATE_FAILED
        } else {
            exit::OK
        })
    }
}

/// Runs what the command line asks for and returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.subcommand {
        Some(Command::Demo(args)) => crate::demo::run(*args).await,
        Some(Command::DemoDeploy(args)) => crate::demo::deploy(args).await,
        None => {
            let config = Config::new(&cli.urls, &cli.probe, &cli.deploy, &cli.command, &cli.output)?;
            // A command that cannot start is found before anything is probed.
            let program = match &config.wrap {
                Some(wrap) => match deploy::resolve(&wrap.argv[0]) {
                    Ok(program) => Some(program),
                    Err(err) => {
                        eprintln!("blip: {err}");
                        return Ok(ExitCode::from(exit::COMMAND_FAILED));
                    }
                },
                None => None,
            };
            Ok(monitor(&config, program.as_deref()).await?.exit_code())
        }
    }
}

/// Where the wrapped command is in its life.
enum Stage {
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
struct DeployLog {
    wrap: Wrap,
    start: Option<Instant>,
    end: Option<Instant>,
    termination: Option<Termination>,
    error: Option<String>,
    tail: VecDeque<String>,
}

/// Probes until the configured duration has passed, the wrapped command and its cooldown are
/// over, or a stop signal arrives; then writes the reports. `program` is the resolved path of the
/// wrapped command.
pub async fn monitor(config: &Config, program: Option<&Path>) -> anyhow::Result<Finished> {
    if let Some(Destination::File(path)) = &config.output.json {
        check_writable(path).with_context(|| format!("cannot write --json {}", path.display()))?;
    }
    let probers = Prober::for_config(config)?;
    let mut ui = make_ui(config);
    let urls: Vec<String> = config.urls.iter().map(|u| u.to_string()).collect();
    ui.started(&RunInfo {
        urls: urls.clone(),
        rate: config.rate,
        timeout: config.timeout,
        duration: config.duration,
        command: config.wrap.as_ref().map(|w| w.argv.clone()),
    });

    let clock = RunClock::now();
    let mut recorder = Recorder::new(&urls, config.rate, config.min_failures, clock, config.wrap.is_some());
    let (end_tx, end_rx) = watch::channel(config.duration.map(|d| clock.start + d));
    let (sample_tx, mut samples) = mpsc::unbounded_channel();
    scheduler::spawn(
        probers,
        Schedule { start: clock.start, rate: config.rate },
        config.concurrency,
        end_rx,
        sample_tx,
    );

    let (child_tx, mut child_events) = mpsc::unbounded_channel();
    let mut stage = Stage::Unwrapped;
    let mut log = None;
    if let Some(wrap) = &config.wrap {
        recorder.begin_phase(Phase::Warmup, clock.start);
        ui.phase(Phase::Warmup);
        stage = Stage::Warmup;
        log = Some(DeployLog {
            wrap: wrap.clone(),
            start: None,
            end: None,
            termination: None,
            error: None,
            tail: VecDeque::new(),
        });
    }
    let warmup_end = clock.start + config.wrap.as_ref().map_or(Duration::ZERO, |w| w.warmup);
    let program: PathBuf = program.map(Path::to_path_buf).unwrap_or_default();

    let mut tick = tokio::time::interval(ui::TICK);
    let mut signals = Signals::new();
    let mut stopping = false;
    let end_now = |end_tx: &watch::Sender<Option<Instant>>, at: Instant| {
        end_tx.send_modify(|end| *end = Some(end.map_or(at, |e| e.min(at))));
    };
    loop {
        let kill_at = match &stage {
            Stage::Running { kill_at: Some(at), .. } => Some(*at),
            _ => None,
        };
        tokio::select! {
            sample = samples.recv() => match sample {
                Some(sample) => {
                    for event in recorder.record(&sample) {
                        ui.event(&clock, &event);
                    }
                }
                // The schedule ended and every probe in flight has reported.
                None => break,
            },
            _ = tick.tick() => ui.tick(clock.offset(Instant::now()), &recorder.snapshot()),
            signal = signals.recv() => {
                match &mut stage {
                    Stage::Running { command, kill_at } => {
                        // Forward the stop to the deploy; a second one kills it.
                        let forward = if kill_at.is_some() { Signal::SIGKILL } else { signal };
                        command.signal(forward);
                        kill_at.get_or_insert(Instant::now() + KILL_AFTER);
                        ui.notice(&format!("{signal} received: sent {forward} to the command; probing until it exits"));
                    }
                    _ if !stopping => {
                        end_now(&end_tx, Instant::now());
                        ui.notice(&format!(
                            "stopping: waiting up to {} for probes in flight",
                            humantime::format_duration(config.timeout)
                        ));
                    }
                    _ => {}
                }
                if matches!(stage, Stage::Warmup) {
                    stage = Stage::Done;
                }
                stopping = true;
            }
            () = tokio::time::sleep_until(warmup_end.into()), if matches!(stage, Stage::Warmup) => {
                let log = log.as_mut().expect("a wrapped run has a deploy log");
                for (url, (failed, probes)) in urls.iter().zip(recorder.phase_failures(Phase::Warmup)) {
                    if failed > 0 {
                        ui.notice(&format!(
                            "WARNING: {url} was already failing before the deploy: {failed} of {probes} warmup probes failed"
                        ));
                    }
                }
                let start = Instant::now();
                match RunningCommand::spawn(&program, &log.wrap.argv, child_tx.clone()) {
                    Ok(command) => {
                        recorder.begin_phase(Phase::Deploy, start);
                        ui.phase(Phase::Deploy);
                        log.start = Some(start);
                        stage = Stage::Running { command, kill_at: None };
                    }
                    Err(err) => {
                        ui.notice(&err.to_string());
                        log.error = Some(err.to_string());
                        end_now(&end_tx, start);
                        stage = Stage::Done;
                    }
                }
            }
            Some(event) = child_events.recv(), if matches!(stage, Stage::Running { .. }) => match event {
                ChildEvent::Line { stream, text } => {
                    ui.output(stream, &text);
                    if let Some(log) = log.as_mut() {
                        if log.tail.len() == OUTPUT_TAIL {
                            log.tail.pop_front();
                        }
                        log.tail.push_back(text);
                    }
                }
                ChildEvent::Exited { status, at } => {
                    let log = log.as_mut().expect("a wrapped run has a deploy log");
                    log.end = Some(at);
                    match status {
                        Ok(status) => log.termination = Some(Termination::of(status)),
                        Err(err) => log.error = Some(format!("cannot wait for the command: {err}")),
                    }
                    let cooldown = if stopping { Duration::ZERO } else { log.wrap.cooldown };
                    recorder.begin_phase(Phase::Cooldown, at);
                    ui.phase(Phase::Cooldown);
                    let how = log.termination.as_ref().map_or("ended".to_string(), Termination::describe);
                    ui.notice(&format!(
                        "command finished ({how}) after {:.3} s; cooldown {}",
                        at.saturating_duration_since(log.start.unwrap_or(at)).as_secs_f64(),
                        humantime::format_duration(cooldown)
                    ));
                    end_now(&end_tx, at + cooldown);
                    stage = Stage::Done;
                }
            },
            () = tokio::time::sleep_until(kill_at.unwrap_or(clock.start).into()), if kill_at.is_some() => {
                if let Stage::Running { command, kill_at } = &mut stage {
                    command.signal(Signal::SIGKILL);
                    *kill_at = None;
                    ui.notice(&format!("the command outlived {} of grace: sent SIGKILL", humantime::format_duration(KILL_AFTER)));
                }
            }
        }
    }

    let end = end_tx.borrow().unwrap_or_else(Instant::now);
    let (events, mut report) = recorder.finish(end);
    for event in &events {
        ui.event(&clock, event);
    }
    let command_failed = log.as_ref().is_some_and(|l| !l.termination.as_ref().is_some_and(Termination::succeeded));
    report.deploy = log.map(|l| deploy_report(&clock, l));
    ui.finished(&report);
    if let Some(destination) = &config.output.json {
        json::write(&report, destination)?;
    }
    Ok(Finished { report, command_failed })
}

fn deploy_report(clock: &RunClock, log: DeployLog) -> DeployReport {
    let offset = |at: Option<Instant>| at.map(|at| millis(clock.offset(at)));
    let termination = log.termination.unwrap_or_default();
    let error = log.error.or_else(|| log.start.is_none().then(|| "stopped before the command started".to_string()));
    DeployReport {
        command: log.wrap.argv,
        warmup_ms: millis(log.wrap.warmup),
        cooldown_ms: millis(log.wrap.cooldown),
        start_offset_ms: offset(log.start),
        end_offset_ms: offset(log.end),
        duration_ms: log.start.zip(log.end).map(|(s, e)| millis(e.saturating_duration_since(s))),
        succeeded: termination.succeeded(),
        exit_code: termination.exit_code,
        signal: termination.signal,
        error,
        output_tail: log.tail.into(),
    }
}

fn make_ui(config: &Config) -> Box<dyn Ui> {
    // With `--json -` stdout carries the JSON alone, so everything else goes to stderr.
    let to_stderr = config.output.json == Some(Destination::Stdout);
    match config.output.ui {
        UiMode::Quiet => Box::new(ui::Quiet { to_stderr }),
        UiMode::Lines if to_stderr => Box::new(ui::lines::Lines::new(std::io::stderr())),
        UiMode::Lines => Box::new(ui::lines::Lines::new(std::io::stdout())),
    }
}

/// Fails early, before anything is probed, if the report could not be written at the end.
fn check_writable(path: &Path) -> std::io::Result<()> {
    json::write_whole(&path.with_extension("blip-check"), b"")?;
    std::fs::remove_file(path.with_extension("blip-check"))
}

/// Ctrl-C and SIGTERM, as a stream: each arrival is one stop request.
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals { int: signal(SignalKind::interrupt()).ok(), term: signal(SignalKind::terminate()).ok() }
    }

    async fn recv(&mut self) -> Signal {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => Signal::SIGINT,
            () = next(&mut self.term) => Signal::SIGTERM,
        }
    }
}
