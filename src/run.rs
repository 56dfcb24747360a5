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
use crate::config::{Config, Destination, Markdown, UiMode, Wrap};
use crate::deploy::{self, ChildEvent, RunningCommand, Termination};
use crate::exit;
use crate::gates::{self, Gate};
use crate::phase::Phase;
use crate::probe::Prober;
use crate::recorder::Recorder;
use crate::report::events::EventLog;
use crate::report::{DeployReport, Report, annotations, json, junit, markdown};
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
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(exit_status(self.command_failed, self.report.passed))
    }
}

/// Precedence: a failed command (3) before a failed gate (1); blip's own failures (2) never get
/// here.
fn exit_status(command_failed: bool, passed: bool) -> u8 {
    if command_failed {
        exit::COMMAND_FAILED
    } else if !passed {
        exit::GATE_FAILED
    } else {
        exit::OK
    }
}

/// Total probes per second up to which one worker thread runs everything.
const ONE_WORKER_UP_TO: f64 = 5000.0;

/// How many runtime worker threads a run gets. One thread does the whole job below
/// [`ONE_WORKER_UP_TO`] probes/s: each probe then costs no wake of a second thread, which at
/// 1000/s saves a fifth of blip's CPU (scripts/bench). Above it, every core is used, or one
/// thread would fall behind the schedule.
pub fn worker_threads(cli: &Cli) -> usize {
    let (rate, urls) = match &cli.subcommand {
        Some(Command::Demo(args)) => (args.probe.rate.unwrap_or(crate::demo::DEMO_RATE), 1),
        Some(Command::DemoDeploy(_)) => (1.0, 1),
        None => (cli.probe.rate.unwrap_or(crate::config::DEFAULT_RATE), cli.urls.len()),
    };
    if rate * urls as f64 <= ONE_WORKER_UP_TO { 1 } else { std::thread::available_parallelism().map_or(2, usize::from) }
}

/// Runs what the command line asks for and returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.subcommand {
        Some(Command::Demo(args)) => crate::demo::run(*args).await,
        Some(Command::DemoDeploy(args)) => crate::demo::deploy(args).await,
        None => {
            let config = Config::new(&cli.urls, &cli.probe, &cli.deploy, &cli.gates, &cli.command, &cli.output)?;
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
    if let Some(path) = &config.output.junit {
        check_writable(path).with_context(|| format!("cannot write --junit {}", path.display()))?;
    }
    if let Some(Markdown::File(path)) = &config.output.markdown {
        check_writable(path).with_context(|| format!("cannot write --markdown {}", path.display()))?;
    }
    let probers = Prober::for_config(config)?;
    let (ui_stop_tx, mut ui_stop) = mpsc::unbounded_channel();
    let mut ui = make_ui(config, ui_stop_tx)?;
    let urls: Vec<String> = config.urls.iter().map(|u| u.to_string()).collect();
    ui.started(&RunInfo {
        urls: urls.clone(),
        rate: config.rate,
        timeout: config.timeout,
        duration: config.duration,
        command: config.wrap.as_ref().map(|w| w.argv.clone()),
    });

    let clock = RunClock::now();
    let mut events = match &config.output.events {
        Some(destination) => Some(EventLog::open(destination, config.output.events_probes, &urls, clock)?),
        None => None,
    };
    if let Some(events) = events.as_mut() {
        events.run_start(config.rate, config.wrap.as_ref().map(|w| w.argv.as_slice()));
    }
    let phased = config.wrap.as_ref().map(|_| config.gate_phases);
    let mut recorder = Recorder::new(&urls, config.rate, config.min_failures, clock, phased);
    let (end_tx, end_rx) = watch::channel(config.duration.map(|d| clock.start + d));
    let (sample_tx, mut samples) = mpsc::unbounded_channel();
    scheduler::spawn(
        probers,
        Schedule { start: clock.start, rate: config.rate },
        config.concurrency,
        end_rx,
        sample_tx,
    )
    .context("cannot set up the scheduler's timer")?;

    let (child_tx, mut child_events) = mpsc::unbounded_channel();
    let mut stage = Stage::Unwrapped;
    let mut deploy = None;
    if let Some(wrap) = &config.wrap {
        recorder.begin_phase(Phase::Warmup, clock.start);
        ui.phase(Phase::Warmup);
        if let Some(events) = events.as_mut() {
            events.phase(Phase::Warmup, Duration::ZERO);
        }
        stage = Stage::Warmup;
        deploy = Some(DeployLog {
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
    // A command that blip stopped because a gate failed did not fail on its own.
    let mut stopped_by_gate = false;
    loop {
        let kill_at = match &stage {
            Stage::Running { kill_at: Some(at), .. } => Some(*at),
            _ => None,
        };
        tokio::select! {
            sample = samples.recv() => match sample {
                Some(sample) => {
                    if let Some(events) = events.as_mut() {
                        events.probe(&sample);
                    }
                    for event in recorder.record(&sample) {
                        ui.event(&clock, &event);
                        if let Some(events) = events.as_mut() {
                            events.transition(&event);
                        }
                    }
                }
                // The schedule ended and every probe in flight has reported.
                None => break,
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let due_until = end_tx.borrow().map_or(now, |end| end.min(now));
                ui.tick(&ui::Tick { now, elapsed: clock.offset(now), due_until, recorder: &recorder });
                if let Some(events) = events.as_mut() {
                    events.tick(clock.offset(now), &recorder.snapshot());
                }
                if config.fail_fast && !stopping
                    && let Some(reason) = settled_gate_failure(&recorder, &config.gates, now)
                {
                    ui.notice(&format!("{reason}; stopping (--fail-fast)"));
                    request_stop(&mut stage, &end_tx, ui.as_mut(), Signal::SIGTERM, config.timeout, stopping);
                    stopping = true;
                    stopped_by_gate = true;
                }
            }
            signal = signals.recv() => {
                ui.notice(&format!("{signal} received"));
                request_stop(&mut stage, &end_tx, ui.as_mut(), signal, config.timeout, stopping);
                stopping = true;
            }
            Some(()) = ui_stop.recv() => {
                ui.notice("quit requested");
                request_stop(&mut stage, &end_tx, ui.as_mut(), Signal::SIGINT, config.timeout, stopping);
                stopping = true;
            }
            () = tokio::time::sleep_until(warmup_end.into()), if matches!(stage, Stage::Warmup) => {
                let deploy = deploy.as_mut().expect("a wrapped run has a deploy log");
                for (url, (failed, probes)) in urls.iter().zip(recorder.phase_failures(Phase::Warmup)) {
                    if failed > 0 {
                        ui.notice(&format!(
                            "WARNING: {url} was already failing before the deploy: {failed} of {probes} warmup probes failed"
                        ));
                    }
                }
                let start = Instant::now();
                match RunningCommand::spawn(&program, &deploy.wrap.argv, child_tx.clone()) {
                    Ok(command) => {
                        recorder.begin_phase(Phase::Deploy, start);
                        ui.phase(Phase::Deploy);
                        if let Some(events) = events.as_mut() {
                            events.phase(Phase::Deploy, clock.offset(start));
                        }
                        deploy.start = Some(start);
                        stage = Stage::Running { command, kill_at: None };
                    }
                    Err(err) => {
                        ui.notice(&err.to_string());
                        deploy.error = Some(err.to_string());
                        end_at(&end_tx, start);
                        stage = Stage::Done;
                    }
                }
            }
            Some(event) = child_events.recv(), if matches!(stage, Stage::Running { .. }) => match event {
                ChildEvent::Line { stream, text } => {
                    ui.output(stream, &text);
                    if let Some(deploy) = deploy.as_mut() {
                        if deploy.tail.len() == OUTPUT_TAIL {
                            deploy.tail.pop_front();
                        }
                        deploy.tail.push_back(text);
                    }
                }
                ChildEvent::Exited { status, at } => {
                    let deploy = deploy.as_mut().expect("a wrapped run has a deploy log");
                    deploy.end = Some(at);
                    match status {
                        Ok(status) => deploy.termination = Some(Termination::of(status)),
                        Err(err) => deploy.error = Some(format!("cannot wait for the command: {err}")),
                    }
                    let cooldown = if stopping { Duration::ZERO } else { deploy.wrap.cooldown };
                    recorder.begin_phase(Phase::Cooldown, at);
                    ui.phase(Phase::Cooldown);
                    if let Some(events) = events.as_mut() {
                        events.phase(Phase::Cooldown, clock.offset(at));
                    }
                    let how = deploy.termination.as_ref().map_or("ended".to_string(), Termination::describe);
                    ui.notice(&format!(
                        "command finished ({how}) after {:.3} s; cooldown {}",
                        at.saturating_duration_since(deploy.start.unwrap_or(at)).as_secs_f64(),
                        humantime::format_duration(cooldown)
                    ));
                    end_at(&end_tx, at + cooldown);
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
    let (last, mut report) = recorder.finish(end, &config.gates);
    for event in &last {
        ui.event(&clock, event);
        if let Some(events) = events.as_mut() {
            events.transition(event);
        }
    }
    let command_failed = !stopped_by_gate
        && deploy.as_ref().is_some_and(|l| !l.termination.as_ref().is_some_and(Termination::succeeded));
    report.deploy = deploy.map(|l| deploy_report(&clock, l));
    ui.finished(&report);
    let written = write_reports(&report, config);
    if let Some(events) = events.as_mut() {
        let code = if written.is_err() { exit::USAGE_OR_FAILURE } else { exit_status(command_failed, report.passed) };
        events.finish(&report, code);
    }
    written?;
    Ok(Finished { report, command_failed })
}

/// Sets the end of the schedule to `at`, unless it ends earlier already.
fn end_at(end_tx: &watch::Sender<Option<Instant>>, at: Instant) {
    end_tx.send_modify(|end| *end = Some(end.map_or(at, |e| e.min(at))));
}

/// Ends the run the one normal way, for Ctrl-C, SIGTERM and `--fail-fast` alike: a running
/// command is signalled (SIGKILL if asked twice) and the run ends when it exits; otherwise the
/// schedule ends now.
fn request_stop(
    stage: &mut Stage,
    end_tx: &watch::Sender<Option<Instant>>,
    ui: &mut dyn Ui,
    signal: Signal,
    timeout: Duration,
    already_stopping: bool,
) {
    match stage {
        Stage::Running { command, kill_at } => {
            let forward = if kill_at.is_some() { Signal::SIGKILL } else { signal };
            command.signal(forward);
            kill_at.get_or_insert(Instant::now() + KILL_AFTER);
            ui.notice(&format!("sent {forward} to the command; probing until it exits"));
        }
        _ if !already_stopping => {
            end_at(end_tx, Instant::now());
            *stage = Stage::Done;
            ui.notice(&format!("stopping: waiting up to {} for probes in flight", humantime::format_duration(timeout)));
        }
        _ => {}
    }
}

/// The first gate that failed for good, as a line for the user.
fn settled_gate_failure(recorder: &Recorder, gate_list: &[Gate], now: Instant) -> Option<String> {
    recorder.judged_views(Some(now)).iter().find_map(|view| {
        gate_list
            .iter()
            .map(|gate| gates::judge(gate, view))
            .find(|v| v.settled)
            .map(|v| format!("gate {} failed for {}: observed {}, limit {}", v.gate, view.url, v.observed, v.limit))
    })
}

/// Writes every requested report; a failure does not keep the others from being written.
fn write_reports(report: &Report, config: &Config) -> anyhow::Result<()> {
    let mut results = Vec::new();
    if let Some(destination) = &config.output.json {
        results.push(json::write(report, destination));
    }
    if let Some(path) = &config.output.junit {
        results.push(junit::render(report).and_then(|xml| {
            json::write_whole(path, xml.as_bytes()).with_context(|| format!("cannot write --junit {}", path.display()))
        }));
    }
    match &config.output.markdown {
        Some(Markdown::File(path)) => results.push(
            json::write_whole(path, markdown::render(report).as_bytes())
                .with_context(|| format!("cannot write --markdown {}", path.display())),
        ),
        Some(Markdown::StepSummary(path)) => results.push(append(path, &markdown::render(report))),
        None => {}
    }
    if config.output.annotations {
        // GitHub reads workflow commands from the step's output; stdout may carry `--json -`.
        let to_stderr =
            config.output.json == Some(Destination::Stdout) || config.output.events == Some(Destination::Stdout);
        for line in annotations::render(report) {
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    results.into_iter().collect()
}

/// Appends to GitHub's job summary file, which other steps write to as well.
fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY {}", path.display()))
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

fn make_ui(config: &Config, stop: mpsc::UnboundedSender<()>) -> anyhow::Result<Box<dyn Ui>> {
    // With `--json -` or `--events -` stdout carries those alone, so everything else goes to
    // stderr.
    let to_stderr =
        config.output.json == Some(Destination::Stdout) || config.output.events == Some(Destination::Stdout);
    Ok(match config.output.ui {
        UiMode::Quiet => Box::new(ui::Quiet { to_stderr }),
        UiMode::Lines if to_stderr => Box::new(ui::lines::Lines::new(std::io::stderr())),
        UiMode::Lines => Box::new(ui::lines::Lines::new(std::io::stdout())),
        UiMode::Dashboard => {
            Box::new(ui::dashboard::Dashboard::start(stop).context("cannot start the dashboard on this terminal")?)
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn one_worker_thread_up_to_5000_probes_per_second() {
        let workers = |args: &[&str]| worker_threads(&Cli::try_parse_from(args).unwrap());
        assert_eq!(workers(&["blip", "demo"]), 1);
        assert_eq!(workers(&["blip", "http://a/"]), 1);
        assert_eq!(workers(&["blip", "-r", "2500", "http://a/", "http://b/"]), 1);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(workers(&["blip", "-r", "2501", "http://a/", "http://b/"]), cores);
    }
}
