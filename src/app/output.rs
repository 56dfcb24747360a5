//! Output wiring: the one place that decides where each output goes. It checks and opens the
//! report destinations before anything is probed, makes the UI, and writes the reports at the
//! end. With `--json -` or `--events -` stdout carries that stream alone
//! ([`Output::stdout_taken`](crate::config::Output::stdout_taken)); everything else goes to stderr.

use std::io::{IsTerminal as _, Write};

use anyhow::Context;
use tokio::sync::mpsc;

use crate::analysis::clock::RunClock;
use crate::config::{Config, Destination, Output, UiMode};
use crate::live::detached::Detached;
use crate::live::events::EventLog;
use crate::live::{self, Ui};
use crate::report::{Report, file, outputs};

/// Fails before anything is probed when a report file cannot be written.
pub fn check_writable(output: &Output) -> anyhow::Result<()> {
    outputs::check_writable(&output.reports)
}

/// Opens (truncates) the event log's destination before anything is probed, without waiting: a
/// named pipe nobody reads is an error here, not a hang.
pub fn open_events(
    destination: &Destination,
    probes: bool,
    urls: &[String],
    clock: RunClock,
) -> anyhow::Result<EventLog> {
    let (out, name): (Box<dyn Write + Send>, String) = match destination {
        // Queued to a writer thread, so a stdout nobody reads never stalls the probes; each
        // whole line is passed on as soon as it is complete.
        Destination::Stdout => (Box::new(Detached::stdout()), "-".to_string()),
        Destination::File(path) => {
            let cannot = || format!("cannot write --events {}", path.display());
            let out: Box<dyn Write + Send> = if file::replaceable(path).with_context(cannot)? {
                Box::new(std::fs::File::create(path).with_context(cannot)?)
            } else if file::is_fifo(path) {
                // A pipe's reader may stall as stdout's may.
                Box::new(Detached::spawn(Box::new(file::open_in_place(path).with_context(cannot)?), "--events"))
            } else {
                Box::new(file::open_in_place(path).with_context(cannot)?)
            };
            (out, path.display().to_string())
        }
    };
    Ok(EventLog::new(out, name, probes, urls, clock))
}

fn color_for(config: &Config, terminal: bool) -> bool {
    crate::config::use_color(config.output.color, terminal, |name| std::env::var(name).ok())
}

/// The UI the config asks for, writing to the terminal stream it may use.
pub fn make_ui(config: &Config, stop: mpsc::UnboundedSender<()>) -> anyhow::Result<Box<dyn Ui>> {
    let to_stderr = config.output.stdout_taken();
    Ok(match config.output.ui {
        UiMode::Quiet => Box::new(live::Quiet { out: if to_stderr { Detached::stderr() } else { Detached::stdout() } }),
        UiMode::Lines if to_stderr => Box::new(
            live::lines::Lines::new(Detached::stderr())
                .wrap_to(live::terminal_width(&std::io::stderr()))
                .colored(color_for(config, std::io::stderr().is_terminal())),
        ),
        UiMode::Lines => Box::new(
            live::lines::Lines::new(Detached::stdout())
                .wrap_to(live::terminal_width(&std::io::stdout()))
                .colored(color_for(config, std::io::stdout().is_terminal())),
        ),
        UiMode::Dashboard => Box::new(
            live::dashboard::Dashboard::start(stop, color_for(config, true))
                .context("cannot start the dashboard on this terminal")?,
        ),
    })
}

/// Writes every requested report; a failure does not keep the others from being written.
pub fn write_reports(report: &Report, config: &Config) -> anyhow::Result<()> {
    outputs::write_all(report, &config.output.reports, config.output.stdout_taken())
}

/// Writes every report on a thread of its own, so that a reader that stopped reading (a pipe, a
/// named pipe) cannot hold blip past a stop request: a signal while the reports are being written
/// gives up on them (an error, exit 2) and blip exits, leaving the thread to the kernel.
pub async fn write_reports_or_stop(
    report: &Report,
    config: &Config,
    signals: &mut super::signals::Signals,
) -> anyhow::Result<()> {
    let (report, config) = (report.clone(), config.clone());
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("blip-reports".into())
        .spawn(move || {
            let _ = done_tx.send(write_reports(&report, &config));
        })
        .context("cannot start the thread that writes the reports")?;
    tokio::select! {
        written = done => written.unwrap_or_else(|_| Err(anyhow::anyhow!("the thread writing the reports stopped"))),
        signal = signals.recv() => Err(anyhow::anyhow!(
            "{signal} received while the reports were being written (a reader stopped reading?): gave up, they may be incomplete"
        )),
    }
}
