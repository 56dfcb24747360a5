//! The application layer: one run, from a typed [`Config`] to the reports and an [`Exit`].
//!
//! The run loop here wires config → scheduler → Sample channel → recorder → live consumers;
//! [`run`](mod@run) holds what its select arms act on, [`command`] supervises a wrapped deploy command
//! (and, through [`hooks`], the `--on-down` and `--on-up` commands),
//! [`signals`] turns stop requests into one stream, and [`output`] is the one place that
//! decides who owns stdout, makes the UI and writes the reports. The parts it wires are pure or
//! own a single job.

mod command;
mod hooks;
mod limits;
mod output;
mod run;
mod signals;
mod stage;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use crate::analysis::clock::RunClock;
use crate::cli::Cli;
use crate::config::{Config, HookCommands};
use crate::engine::lane::Lane;
use crate::engine::probe::Prober;
use crate::engine::scheduler::{self, Schedule};
use crate::exit::Exit;
use crate::live::metrics::{self, Metrics};
use crate::report::Report;
use command::Channels;
use hooks::HookMessage;
use run::{Beside, Run};
use signals::{Signal, Signals};
use stage::Stage;

/// Lines of the command's output shown at a time before the probes get their turn.
const OUTPUT_BATCH: usize = 64;
/// Samples taken at a time before the rest of the run loop gets its turn.
const SAMPLE_BATCH: usize = 64;
/// The pause after a full batch of output lines (see the run loop).
const OUTPUT_PAUSE: Duration = Duration::from_millis(1);
/// How long a hook sent SIGKILL at the end of the run is waited for.
const HOOK_KILL_WAIT: Duration = Duration::from_secs(1);
/// How long output still in the command's pipes is awaited at the end of the run.
const DRAIN_FOR: Duration = Duration::from_millis(500);

/// A run's result, before it is turned into an exit code.
pub struct Finished {
    pub report: Report,
}

impl Finished {
    pub fn exit(&self) -> Exit {
        self.report.exit(false)
    }
}

/// Total probes per second up to which one worker thread runs everything.
const ONE_WORKER_UP_TO: f64 = 5000.0;

/// How many runtime worker threads a run of `rate` probes per second over all URLs gets. One
/// thread does the whole job below [`ONE_WORKER_UP_TO`] probes/s, so no probe costs a wake of a
/// second thread. Above it, every core is used, or one thread would fall behind the schedule.
pub fn worker_threads(rate: f64) -> usize {
    if rate <= ONE_WORKER_UP_TO { 1 } else { std::thread::available_parallelism().map_or(2, usize::from) }
}

/// Probes the command line's URLs, around its COMMAND if one is given.
pub async fn run(cli: &Cli) -> anyhow::Result<Exit> {
    let mut config = Config::new(&cli.urls, &cli.probe, &cli.deploy, &cli.gates, &cli.command, &cli.output)?;
    config.hooks = HookCommands::new(&cli.hooks)?;
    with_baseline(&mut config, cli)?;
    // A command that cannot start is found before anything is probed.
    let program = match &config.wrap {
        Some(wrap) => match command::resolve(&wrap.argv[0]) {
            Ok(program) => Some(program),
            Err(err) => {
                say!("blip: {err}");
                return Ok(Exit::CommandFailed);
            }
        },
        None => None,
    };
    Ok(monitor(&config, program.as_deref()).await?.exit())
}

/// `--baseline GLOB`: the past runs of the same URLs and COMMAND are read before anything is
/// probed (a bad glob or gate is found at once), and their `--…-vs-baseline` gates join the
/// run's, judged live and at the end as every gate is.
fn with_baseline(config: &mut Config, cli: &Cli) -> anyhow::Result<()> {
    use crate::offline::baseline;
    baseline::measure_only_refuses(&cli.baseline, config.measure_only)?;
    // The run's own --json, should the glob name it, is the report this run is about to write:
    // no past run, as blip judge leaves out the report it judges.
    let json = match &config.output.reports.json {
        Some(crate::config::Destination::File(path)) => Some(path.as_path()),
        _ => None,
    };
    let own = baseline::Own {
        urls: config.display_urls().into_iter().collect(),
        command: config.wrap.as_ref().map(|w| w.argv.clone()),
        path: json,
        writes: config.output.reports.files(),
    };
    let more = baseline::gates(&cli.baseline, &own, config.gate_phases)?;
    if !more.is_empty() {
        config.gates = crate::config::gates(&cli.gates, more);
    }
    Ok(())
}

/// One prober per target of the run, in schedule order: each URL on each of its lanes.
fn probers(config: &Config) -> anyhow::Result<Vec<Prober>> {
    let mut per_lane = Vec::with_capacity(config.lanes.len());
    for lane in &config.lanes {
        let mut spec = config.request.clone();
        spec.fresh_connections = *lane == Lane::Fresh;
        spec.request_id = config.request_ids.as_ref().map(|ids| ids.of_lane(*lane));
        per_lane.push(Prober::for_urls(&config.urls, &spec, &config.expect, config.timeout)?.into_iter());
    }
    let mut probers = Vec::with_capacity(config.urls.len() * config.lanes.len());
    for _ in &config.urls {
        probers.extend(per_lane.iter_mut().filter_map(Iterator::next));
    }
    Ok(probers)
}

/// Probes until the configured duration has passed, the wrapped command and its cooldown are
/// over, or a stop signal arrives; then writes the reports. `program` is the resolved path of the
/// wrapped command.
pub async fn monitor(config: &Config, program: Option<&Path>) -> anyhow::Result<Finished> {
    output::check_writable(&config.output)?;
    let probers = probers(config)?;
    let clock = RunClock::now();
    // Every output that can fail is opened before the UI says a word.
    let targets = config.targets();
    let (beside, metrics_server) = open_beside(config, &targets, clock)?;
    let (ui_stop_tx, mut ui_stop) = mpsc::unbounded_channel();
    let mut ui = output::make_ui(config, ui_stop_tx)?;
    start_notices(ui.as_mut(), config, metrics_server.as_ref());
    let (end_tx, end_rx) = watch::channel(config.duration.map(|d| clock.start + d));
    let (control, mut hook_control) = mpsc::unbounded_channel();
    let (output, mut hook_messages) = mpsc::unbounded_channel();
    let hook_tx = hooks::HookSenders { control, output };
    let mut run = Run::new(config, program, ui, beside, clock, end_tx, hook_tx);
    let (sample_tx, mut samples) = mpsc::unbounded_channel();
    let schedule = Schedule { start: clock.start, rate: config.rate, urls: targets.len() };
    let miss_after = scheduler::miss_after(config.rate, config.timeout);
    let dispatched = scheduler::spawn(probers, schedule, config.concurrency, miss_after, end_rx, sample_tx)
        .context("cannot set up the scheduler's timer")?;

    let (output_tx, mut output) = mpsc::unbounded_channel();
    let (exited_tx, mut exited) = mpsc::unbounded_channel();
    let channels = Channels { output: output_tx, exited: exited_tx };
    let warmup_end = clock.start + config.wrap.as_ref().map_or(Duration::ZERO, |w| w.warmup);
    let mut tick = tokio::time::interval(crate::live::TICK);
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
                Some(sample) => {
                    run.sample(&sample);
                    // Samples already waiting are taken without a turn of the whole loop, whose
                    // every branch is set up again on each turn.
                    for _ in 1..SAMPLE_BATCH {
                        match samples.try_recv() {
                            Ok(sample) => run.sample(&sample),
                            Err(_) => break,
                        }
                    }
                }
                // The schedule ended and every probe in flight has reported.
                None => drained = true,
            },
            // A run lasts its whole length even when no slot is due near its end (a slot every
            // 5 s in a 7 s run).
            () = tokio::time::sleep_until(end.unwrap_or(clock.start).into()), if drained => break,
            _ = tick.tick() => run.tick(),
            signal = signals.recv() => run.stop(signal, &format!("{signal} received")),
            Some(()) = ui_stop.recv() => run.stop(Signal::Interrupt, "quit requested"),
            () = tokio::time::sleep_until(warmup_end.into()), if warming_up => run.start_command(&channels),
            Some(exit) = exited.recv(), if running => run.exited(exit),
            // Output keeps coming after the command exits while a process it left behind writes.
            Some(line) = output.recv(), if started => {
                paced(line, || output.try_recv().ok(), |line| run.output(&line)).await;
            }
            () = tokio::time::sleep_until(kill_at.unwrap_or(clock.start).into()), if kill_at.is_some() => run.kill(),
            // A hook's output is paced as the command's is (above).
            // A hook's start and end, apart from its output: its slot frees when it exits.
            Some(message) = hook_control.recv() => run.hook(message),
            Some(message) = hook_messages.recv() => {
                paced(message, || hook_messages.try_recv().ok(), |message| run.hook(message)).await;
            }
        }
    }
    end_hooks(&mut run, [&mut hook_control, &mut hook_messages], &mut signals).await;
    // What the command wrote just before it exited may still be in its pipes: the readers get up
    // to DRAIN_FOR to reach their end (the channel closes when both have), unless a process it
    // left behind holds the pipes open.
    drop(channels);
    let drain_until = tokio::time::Instant::now() + DRAIN_FOR;
    while let Ok(Some(line)) = tokio::time::timeout_at(drain_until, output.recv()).await {
        run.output(&line);
    }
    run.finish(&mut signals).await
}

/// The outputs beside the UI: the event log and the metrics, with the server that serves them.
fn open_beside(
    config: &Config,
    targets: &[crate::engine::lane::TargetName],
    clock: RunClock,
) -> anyhow::Result<(Beside, Option<metrics::MetricsServer>)> {
    let urls: Vec<String> = targets.iter().map(|t| t.url.clone()).collect();
    let events = match &config.output.events {
        Some(destination) => Some(
            output::open_events(destination, config.output.events_probes, &urls, clock)?
                .with_lanes(targets.iter().map(|t| t.lane).collect())
                .with_request_ids(config.request_ids.clone()),
        ),
        None => None,
    };
    let (metrics, server) = match config.output.metrics {
        Some(addr) => {
            let metrics = Metrics::new(targets, &config.output.vantage);
            let server = metrics::serve(addr, &metrics).with_context(|| format!("cannot serve --metrics on {addr}"))?;
            (Some(metrics), Some(server))
        }
        None => (None, None),
    };
    Ok((Beside { events, metrics }, server))
}

/// What the user hears before the first probe: a raised descriptor limit, and where the
/// metrics are served (and that anyone can read them off loopback).
fn start_notices(ui: &mut dyn crate::live::Ui, config: &Config, metrics: Option<&metrics::MetricsServer>) {
    if let Some(warning) = limits::raise_descriptor_limit(config) {
        ui.notice(&warning);
    }
    if let Some(server) = metrics {
        ui.notice(&format!("serving metrics at http://{}/metrics", server.addr));
        if !server.addr.ip().is_loopback() {
            ui.notice(&format!(
                "--metrics {} is not a loopback address: anyone who can reach it can read the metrics (URLs, versions, figures)",
                server.addr
            ));
        }
    }
}

/// Takes `first` and what already waits behind it (`next`), up to [`OUTPUT_BATCH`] in all, through
/// `take`. A flood of output would keep the run loop's task ready for ever, and a runtime whose
/// tasks are always ready looks at its reactor, where the scheduler's timer waits, only every few
/// dozen polls: probes would go out late. So a full batch is followed by [`OUTPUT_PAUSE`], which
/// caps what is shown at a batch a millisecond; the bounded queue behind it drops, and counts,
/// the rest.
async fn paced<T>(first: T, mut next: impl FnMut() -> Option<T>, mut take: impl FnMut(T)) {
    take(first);
    let mut taken = 1;
    while taken < OUTPUT_BATCH
        && let Some(item) = next()
    {
        take(item);
        taken += 1;
    }
    if taken == OUTPUT_BATCH {
        tokio::time::sleep(OUTPUT_PAUSE).await;
    }
}

/// Hooks still running when the run ends get the wrapped command's grace: SIGTERM, then SIGKILL
/// after [`run::KILL_AFTER`] or at a further stop request.
async fn end_hooks(
    run: &mut Run<'_>,
    [control, messages]: [&mut mpsc::UnboundedReceiver<HookMessage>; 2],
    signals: &mut Signals,
) {
    if !run.hooks.busy() {
        return;
    }
    run.hooks.stop(Signal::Terminate);
    run.ui.notice(&format!(
        "sent SIGTERM to the hooks still running; waiting up to {} for them",
        humantime::format_duration(run::KILL_AFTER)
    ));
    let mut kill_at = tokio::time::Instant::now() + run::KILL_AFTER;
    let mut killed = false;
    while run.hooks.busy() {
        tokio::select! {
            message = control.recv() => match message {
                Some(message) => run.hook(message),
                None => break,
            },
            Some(message) = messages.recv() => run.hook(message),
            signal = signals.recv(), if !killed => {
                run.ui.notice(&format!("{signal} received: sent {} to the hooks", Signal::Kill));
                run.hooks.stop(Signal::Kill);
                killed = true;
                kill_at = tokio::time::Instant::now() + HOOK_KILL_WAIT;
            }
            () = tokio::time::sleep_until(kill_at) => {
                if killed {
                    // A hook that outlives SIGKILL is stuck in the kernel: the report says what is known.
                    break;
                }
                run.ui.notice(&format!("hooks outlived their grace: sent {}", Signal::Kill));
                run.hooks.stop(Signal::Kill);
                killed = true;
                kill_at = tokio::time::Instant::now() + HOOK_KILL_WAIT;
            }
        }
    }
}
