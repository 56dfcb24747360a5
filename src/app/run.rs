//! The run: wires config → scheduler → Sample channel → recorder → UI, runs a wrapped deploy
//! command through its phases, handles Ctrl-C, SIGTERM and SIGHUP, and writes the reports. This is the
//! application layer; the parts it wires are pure or own a single job.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, watch};

use crate::analysis::clock::{RunClock, millis};
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Recorder;
use crate::app::command::{self as deploy, Channels, Exited, OutputLine, Relay, RunningCommand, Termination};
use crate::cli::{Cli, Command};
use crate::config::{Config, Destination, Markdown, UiMode, Wrap};
use crate::engine::probe::Prober;
use crate::engine::sample::Sample;
use crate::engine::scheduler::{self, Schedule};
use crate::exit;
use crate::gates::{self, Gate};
use crate::live::detached::Detached;
use crate::live::events::EventLog;
use crate::live::{self, RunInfo, Ui};
use crate::report::{DeployReport, Report, annotations, file, json, junit, markdown};

/// Lines of the command's output shown at a time before the probes get their turn.
const OUTPUT_BATCH: usize = 64;
/// The pause after a full batch of output lines (see the run loop).
const OUTPUT_PAUSE: Duration = Duration::from_millis(1);
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
    /// The command's output on its way to the UI; outlives the command while a process it left
    /// behind still writes.
    relay: Option<Arc<Relay>>,
    /// Whether the user was told that output is being dropped.
    drops_said: bool,
}

/// Probes until the configured duration has passed, the wrapped command and its cooldown are
/// over, or a stop signal arrives; then writes the reports. `program` is the resolved path of the
/// wrapped command.
pub async fn monitor(config: &Config, program: Option<&Path>) -> anyhow::Result<Finished> {
    if let Some(Destination::File(path)) = &config.output.json {
        file::check_writable(path).with_context(|| format!("cannot write --json {}", path.display()))?;
    }
    if let Some(path) = &config.output.junit {
        file::check_writable(path).with_context(|| format!("cannot write --junit {}", path.display()))?;
    }
    if let Some(Markdown::File(path)) = &config.output.markdown {
        file::check_writable(path).with_context(|| format!("cannot write --markdown {}", path.display()))?;
    }
    let probers = Prober::for_config(config)?;
    let clock = RunClock::now();
    // Every output that can fail is opened before the UI says a word.
    let urls = config.display_urls();
    let events = match &config.output.events {
        Some(destination) => Some(EventLog::open(destination, config.output.events_probes, &urls, clock)?),
        None => None,
    };
    let (ui_stop_tx, mut ui_stop) = mpsc::unbounded_channel();
    let ui = make_ui(config, ui_stop_tx)?;
    let (end_tx, end_rx) = watch::channel(config.duration.map(|d| clock.start + d));
    let mut run = Run::new(config, program, ui, events, clock, end_tx);
    let (sample_tx, mut samples) = mpsc::unbounded_channel();
    let schedule = Schedule { start: clock.start, rate: config.rate, urls: config.urls.len() };
    let dispatched = scheduler::spawn(probers, schedule, config.concurrency, end_rx, sample_tx)
        .context("cannot set up the scheduler's timer")?;

    let (output_tx, mut output) = mpsc::unbounded_channel();
    let (exited_tx, mut exited) = mpsc::unbounded_channel();
    let channels = Channels { output: output_tx, exited: exited_tx };
    let warmup_end = clock.start + config.wrap.as_ref().map_or(Duration::ZERO, |w| w.warmup);
    let mut tick = tokio::time::interval(live::TICK);
    let mut signals = Signals::new();
    // Every sample is in once the channel closes; the run still lasts until its end.
    let mut drained = false;
    loop {
        if run.cancelled {
            run.recorder.cancel_in_flight(|target| schedule.probes_of(target, dispatched.slots()));
            break;
        }
        let end = *run.end_tx.borrow();
        let warming_up = matches!(run.stage, Stage::Warmup);
        let running = matches!(run.stage, Stage::Running { .. });
        let started = run.deploy.as_ref().is_some_and(|d| d.relay.is_some());
        let kill_at = match &run.stage {
            Stage::Running { kill_at: Some(at), .. } => Some(*at),
            _ => None,
        };
        tokio::select! {
            sample = samples.recv(), if !drained => match sample {
                Some(sample) => run.sample(&sample),
                // The schedule ended and every probe in flight has reported.
                None => drained = true,
            },
            // A run lasts its whole length even when no slot is due near its end (a slot every
            // 5 s in a 7 s run).
            () = tokio::time::sleep_until(end.unwrap_or(clock.start).into()), if drained => break,
            _ = tick.tick() => run.tick(),
            signal = signals.recv() => run.stop(signal, &format!("{signal} received")),
            Some(()) = ui_stop.recv() => run.stop(Signal::SIGINT, "quit requested"),
            () = tokio::time::sleep_until(warmup_end.into()), if warming_up => run.start_command(&channels),
            Some(exit) = exited.recv(), if running => run.exited(exit),
            // Output keeps coming after the command exits while a process it left behind writes.
            Some(line) = output.recv(), if started => {
                run.output(&line);
                let mut taken = 1;
                while taken < OUTPUT_BATCH && let Ok(line) = output.try_recv() {
                    run.output(&line);
                    taken += 1;
                }
                // A flood of output would keep this task ready for ever, and a runtime whose
                // tasks are always ready looks at its reactor, where the scheduler's timer
                // waits, only every few dozen polls: probes would go out late. So a full batch
                // is followed by a pause, which caps what is shown at OUTPUT_BATCH lines a
                // millisecond; the bounded queue behind it drops, and counts, the rest.
                if taken == OUTPUT_BATCH {
                    tokio::time::sleep(OUTPUT_PAUSE).await;
                }
            }
            () = tokio::time::sleep_until(kill_at.unwrap_or(clock.start).into()), if kill_at.is_some() => run.kill(),
        }
    }
    // What is still queued is shown before the summary.
    while let Ok(line) = output.try_recv() {
        run.output(&line);
    }
    run.finish()
}

/// The state of one run, owned by the run loop: everything the select arms act on.
struct Run<'a> {
    config: &'a Config,
    program: PathBuf,
    clock: RunClock,
    urls: Vec<String>,
    ui: Box<dyn Ui>,
    events: Option<EventLog>,
    recorder: Recorder,
    /// The end of the schedule, which the scheduler watches.
    end_tx: watch::Sender<Option<Instant>>,
    stage: Stage,
    deploy: Option<DeployLog>,
    stopping: bool,
    /// A second stop request came while blip waited for probes in flight: stop waiting.
    cancelled: bool,
    /// A command that blip stopped because a gate failed did not fail on its own.
    stopped_by_gate: bool,
}

impl<'a> Run<'a> {
    fn new(
        config: &'a Config,
        program: Option<&Path>,
        mut ui: Box<dyn Ui>,
        mut events: Option<EventLog>,
        clock: RunClock,
        end_tx: watch::Sender<Option<Instant>>,
    ) -> Run<'a> {
        let urls = config.display_urls();
        ui.started(&RunInfo {
            urls: urls.clone(),
            rate: config.rate,
            timeout: config.timeout,
            duration: config.duration,
            command: config.wrap.as_ref().map(|w| w.argv.clone()),
        });
        if let Some(events) = events.as_mut() {
            events.run_start(config.rate, config.wrap.as_ref().map(|w| w.argv.as_slice()));
        }
        let phased = config.wrap.as_ref().map(|_| config.gate_phases);
        let mut recorder = Recorder::new(&urls, config.rate, config.min_failures, clock, phased);
        if config.output.ui == UiMode::Dashboard {
            recorder.keep_recent_latency();
        }
        let mut run = Run {
            config,
            program: program.map(Path::to_path_buf).unwrap_or_default(),
            clock,
            urls,
            ui,
            events,
            recorder,
            end_tx,
            stage: Stage::Unwrapped,
            deploy: None,
            stopping: false,
            cancelled: false,
            stopped_by_gate: false,
        };
        if let Some(wrap) = &config.wrap {
            run.begin_phase(Phase::Warmup, clock.start);
            run.stage = Stage::Warmup;
            run.deploy = Some(DeployLog {
                wrap: wrap.clone(),
                start: None,
                end: None,
                termination: None,
                error: None,
                relay: None,
                drops_said: false,
            });
        }
        run
    }

    fn begin_phase(&mut self, phase: Phase, at: Instant) {
        self.recorder.begin_phase(phase, at);
        self.ui.phase(phase);
        if let Some(events) = self.events.as_mut() {
            events.phase(phase, self.clock.offset(at));
        }
    }

    fn sample(&mut self, sample: &Sample) {
        if let Some(events) = self.events.as_mut() {
            events.probe(sample);
        }
        for event in self.recorder.record(sample) {
            self.ui.event(&self.clock, &event);
            if let Some(events) = self.events.as_mut() {
                events.transition(&event);
            }
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let due_until = self.end_tx.borrow().map_or(now, |end| end.min(now));
        let elapsed = self.clock.offset(now);
        if let Some(deploy) = self.deploy.as_mut()
            && !deploy.drops_said
            && deploy.relay.as_ref().is_some_and(|r| r.dropped() > 0)
        {
            deploy.drops_said = true;
            self.ui.notice(
                "the command prints faster than its output can be shown: dropping lines (counted in the report)",
            );
        }
        self.ui.tick(&live::Tick { now, elapsed, due_until, recorder: &self.recorder });
        if let Some(events) = self.events.as_mut() {
            events.tick(elapsed, &self.recorder.snapshot());
        }
        if self.config.fail_fast
            && !self.stopping
            && let Some(reason) = settled_gate_failure(&self.recorder, &self.config.gates, now)
        {
            self.stop(Signal::SIGTERM, &format!("{reason}; stopping (--fail-fast)"));
            self.stopped_by_gate = true;
        }
    }

    /// Ends the run the one normal way, for Ctrl-C, SIGTERM, SIGHUP, a quit key and `--fail-fast`
    /// alike: a running command is signalled (SIGKILL if asked twice) and the run ends when it
    /// exits; otherwise the schedule ends now. SIGHUP reaches the command as SIGTERM: the command
    /// has no terminal of its own to lose, and a tool that reloads on SIGHUP would not stop.
    fn stop(&mut self, signal: Signal, why: &str) {
        self.ui.notice(why);
        let signal = if signal == Signal::SIGHUP { Signal::SIGTERM } else { signal };
        match &mut self.stage {
            Stage::Running { command, kill_at } => {
                let forward = if kill_at.is_some() { Signal::SIGKILL } else { signal };
                command.signal(forward);
                kill_at.get_or_insert(Instant::now() + KILL_AFTER);
                self.ui.notice(&format!("sent {forward} to the command; probing until it exits"));
            }
            _ if !self.stopping => {
                end_at(&self.end_tx, Instant::now());
                self.stage = Stage::Done;
                self.ui.notice(&format!(
                    "stopping: waiting up to {} for probes in flight",
                    humantime::format_duration(self.config.timeout)
                ));
            }
            _ => {
                self.ui.notice("stopping now: probes still in flight are cancelled");
                self.cancelled = true;
            }
        }
        self.stopping = true;
    }

    /// The warmup is over: warn about URLs that were already failing, and start the command.
    fn start_command(&mut self, channels: &Channels) {
        for (url, (failed, probes)) in self.urls.iter().zip(self.recorder.phase_failures(Phase::Warmup)) {
            if failed > 0 {
                self.ui.notice(&format!(
                    "WARNING: {url} was already failing before the deploy: {failed} of {probes} warmup probes failed"
                ));
            }
        }
        let Some(deploy) = self.deploy.as_mut() else { return };
        let start = Instant::now();
        match RunningCommand::spawn(&self.program, &deploy.wrap.argv, channels.clone()) {
            Ok(command) => {
                deploy.start = Some(start);
                deploy.relay = Some(command.relay.clone());
                self.stage = Stage::Running { command, kill_at: None };
                self.begin_phase(Phase::Deploy, start);
            }
            Err(err) => {
                deploy.error = Some(err.to_string());
                self.ui.notice(&err.to_string());
                end_at(&self.end_tx, start);
                self.stage = Stage::Done;
            }
        }
    }

    /// A line of the command's output.
    fn output(&mut self, line: &OutputLine) {
        if let Some(relay) = self.deploy.as_ref().and_then(|d| d.relay.as_ref()) {
            relay.taken(line);
        }
        if line.ends_line {
            self.ui.output(line.stream, &line.text);
        } else {
            self.ui.output_part(line.stream, &line.text);
        }
    }

    /// The command exited: the deploy phase ends at the instant its wait returned, and the
    /// cooldown begins then, unless a stop request skips it.
    fn exited(&mut self, Exited { status, at }: Exited) {
        let Some(deploy) = self.deploy.as_mut() else { return };
        deploy.end = Some(at);
        match status {
            Ok(status) => deploy.termination = Some(Termination::of(status)),
            Err(err) => deploy.error = Some(format!("cannot wait for the command: {err}")),
        }
        let how = deploy.termination.as_ref().map_or("ended".to_string(), Termination::describe);
        let took = at.saturating_duration_since(deploy.start.unwrap_or(at)).as_secs_f64();
        if self.stopping {
            // A cooldown of no length is not listed among the phases.
            self.ui.notice(&format!("command finished ({how}) after {took:.3} s; no cooldown after a stop request"));
            end_at(&self.end_tx, at);
        } else {
            let cooldown = deploy.wrap.cooldown;
            self.begin_phase(Phase::Cooldown, at);
            self.ui.notice(&format!(
                "command finished ({how}) after {took:.3} s; cooldown {}",
                humantime::format_duration(cooldown)
            ));
            end_at(&self.end_tx, at + cooldown);
        }
        self.stage = Stage::Done;
    }

    /// The command outlived its grace after a stop request.
    fn kill(&mut self) {
        if let Stage::Running { command, kill_at } = &mut self.stage {
            command.signal(Signal::SIGKILL);
            *kill_at = None;
            self.ui.notice(&format!(
                "the command outlived {} of grace: sent SIGKILL",
                humantime::format_duration(KILL_AFTER)
            ));
        }
    }

    /// Closes the books and writes every report.
    fn finish(mut self) -> anyhow::Result<Finished> {
        let end = self.end_tx.borrow().unwrap_or_else(Instant::now);
        let (last, mut report) = self.recorder.finish(end, &self.config.gates);
        for event in &last {
            self.ui.event(&self.clock, event);
            if let Some(events) = self.events.as_mut() {
                events.transition(event);
            }
        }
        if let Some(dropped) = self.deploy.as_ref().and_then(|d| d.relay.as_ref()).map(|r| r.dropped())
            && dropped > 0
        {
            self.ui.notice(&format!(
                "{dropped} lines of the command's output were not shown: it printed faster than they could be"
            ));
        }
        let command_failed = !self.stopped_by_gate
            && self.deploy.as_ref().is_some_and(|d| !d.termination.as_ref().is_some_and(Termination::succeeded));
        report.deploy = self.deploy.map(|d| deploy_report(&self.clock, d));
        report.default_gates = self.config.default_gates;
        report.measure_only = self.config.measure_only;
        self.ui.finished(&report);
        let written = write_reports(&report, self.config);
        // An event log that could not be written is a report lost, as a --json one is: exit 2.
        let logged = match self.events.as_mut() {
            Some(events) => {
                let failed = written.is_err() || events.failed();
                let code = if failed { exit::USAGE_OR_FAILURE } else { exit_status(command_failed, report.passed) };
                events.finish(&report, code)
            }
            None => Ok(()),
        };
        written?;
        logged?;
        Ok(Finished { report, command_failed })
    }
}

/// Sets the end of the schedule to `at`, unless it ends earlier already.
fn end_at(end_tx: &watch::Sender<Option<Instant>>, at: Instant) {
    end_tx.send_modify(|end| *end = Some(end.map_or(at, |e| e.min(at))));
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
            file::write_whole(path, xml.as_bytes()).with_context(|| format!("cannot write --junit {}", path.display()))
        }));
    }
    match &config.output.markdown {
        Some(Markdown::File(path)) => results.push(
            file::write_whole(path, markdown::render(report).as_bytes())
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
    let (output_tail, output_lines_dropped) = log.relay.map_or((Vec::new(), 0), |r| (r.tail(), r.dropped()));
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
        output_tail,
        output_lines_dropped,
    }
}

fn make_ui(config: &Config, stop: mpsc::UnboundedSender<()>) -> anyhow::Result<Box<dyn Ui>> {
    // With `--json -` or `--events -` stdout carries those alone, so everything else goes to
    // stderr.
    let to_stderr =
        config.output.json == Some(Destination::Stdout) || config.output.events == Some(Destination::Stdout);
    Ok(match config.output.ui {
        UiMode::Quiet => Box::new(live::Quiet { out: if to_stderr { Detached::stderr() } else { Detached::stdout() } }),
        UiMode::Lines if to_stderr => Box::new(live::lines::Lines::new(Detached::stderr())),
        UiMode::Lines => Box::new(live::lines::Lines::new(Detached::stdout())),
        UiMode::Dashboard => {
            Box::new(live::dashboard::Dashboard::start(stop).context("cannot start the dashboard on this terminal")?)
        }
    })
}

/// Ctrl-C, SIGTERM and SIGHUP (a closed terminal or ssh session), as a stream: each arrival is
/// one stop request.
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
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
            () = next(&mut self.hup) => Signal::SIGHUP,
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
