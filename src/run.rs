//! The run: wires config → scheduler → Sample channel → recorder → UI, handles Ctrl-C and
//! SIGTERM, and writes the reports. This is the application layer; the parts it wires are pure
//! or own a single job.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use crate::cli::{Cli, Command};
use crate::clock::RunClock;
use crate::config::{Config, Destination, UiMode};
use crate::exit;
use crate::probe::Prober;
use crate::recorder::Recorder;
use crate::report::{Report, json};
use crate::scheduler::{self, Schedule};
use crate::ui::{self, RunInfo, Ui};

/// Runs what the command line asks for and returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Demo(args)) => crate::demo::run(args).await,
        None => {
            let config = Config::new(&cli.urls, &cli.probe, &cli.output)?;
            let report = monitor(&config).await?;
            Ok(exit_code(&report))
        }
    }
}

/// The exit code a finished report calls for.
pub fn exit_code(report: &Report) -> ExitCode {
    if report.passed {
        ExitCode::from(exit::OK)
    } else {
        ExitCode::from(exit::GATE_FAILED)
    }
}

/// Probes until the configured duration has passed or a stop signal arrives, then writes the
/// reports and returns the report.
pub async fn monitor(config: &Config) -> anyhow::Result<Report> {
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
    });

    let clock = RunClock::now();
    let mut recorder = Recorder::new(&urls, config.rate, config.min_failures, clock);
    let (end_tx, end_rx) = watch::channel(config.duration.map(|d| clock.start + d));
    let (sample_tx, mut samples) = mpsc::unbounded_channel();
    scheduler::spawn(
        probers,
        Schedule {
            start: clock.start,
            rate: config.rate,
        },
        config.concurrency,
        end_rx,
        sample_tx,
    );

    let mut tick = tokio::time::interval(ui::TICK);
    let mut stop = std::pin::pin!(stop_signal());
    let mut stopping = false;
    while let Some(sample) = tokio::select! {
        sample = samples.recv() => sample.map(Some),
        _ = tick.tick() => Some(None),
        () = &mut stop, if !stopping => {
            stopping = true;
            let now = Instant::now();
            end_tx.send_modify(|end| *end = Some(end.map_or(now, |e| e.min(now))));
            ui.notice(&format!(
                "stopping: waiting up to {} for probes in flight",
                humantime::format_duration(config.timeout)
            ));
            Some(None)
        }
    } {
        match sample {
            Some(sample) => {
                for event in recorder.record(&sample) {
                    ui.event(&clock, &event);
                }
            }
            None => ui.tick(clock.offset(Instant::now()), &recorder.snapshot()),
        }
    }

    // The channel closed: the schedule ended and every probe in flight has reported.
    let end = end_tx.borrow().unwrap_or_else(Instant::now);
    let (events, report) = recorder.finish(end);
    for event in &events {
        ui.event(&clock, event);
    }
    ui.finished(&report);
    if let Some(destination) = &config.output.json {
        json::write(&report, destination)?;
    }
    Ok(report)
}

fn make_ui(config: &Config) -> Box<dyn Ui> {
    match config.output.ui {
        UiMode::Quiet => Box::new(ui::Quiet),
        // With `--json -` stdout carries the JSON alone, so the lines go to stderr.
        UiMode::Lines if config.output.json == Some(Destination::Stdout) => {
            Box::new(ui::lines::Lines::new(std::io::stderr()))
        }
        UiMode::Lines => Box::new(ui::lines::Lines::new(std::io::stdout())),
    }
}

/// Fails early, before anything is probed, if the report could not be written at the end.
fn check_writable(path: &Path) -> std::io::Result<()> {
    json::write_whole(&path.with_extension("blip-check"), b"")?;
    std::fs::remove_file(path.with_extension("blip-check"))
}

/// Resolves at Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
