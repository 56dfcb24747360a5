//! `blip demo`: the whole story on an embedded app, with no setup.
//!
//! It starts the notes app on loopback inside the process, unmaps its route for 1.5 s midway
//! through a 6 s run (as a `cf push` without blue-green does), probes it exactly as a real URL is
//! probed, and prints the report.

mod app;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::DemoArgs;
use crate::config::Config;
use crate::run::{exit_code, monitor};

/// Probes per second of the demo unless `--rate` says otherwise: fine enough to time a 1.5 s
/// outage to 20 ms.
const DEMO_RATE: f64 = 50.0;
const RUN: Duration = Duration::from_secs(6);
const OUTAGE_AT: Duration = Duration::from_secs(2);
const OUTAGE_FOR: Duration = Duration::from_millis(1500);

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.probe.duration.is_some() {
        anyhow::bail!(
            "blip demo runs its own {} scenario; leave out --duration",
            humantime::format_duration(RUN)
        );
    }
    let app = app::DemoApp::start()
        .await
        .context("cannot start the demo app on 127.0.0.1")?;
    let mut probe = args.probe.clone();
    probe.rate = probe.rate.or(Some(DEMO_RATE));
    probe.duration = Some(RUN);
    let config = Config::new(&[app.url()], &probe, &args.output)?;
    if config.output.ui == crate::config::UiMode::Lines {
        let intro = format!(
            "blip demo: the notes app's route ('{}') will be unmapped {} into the run for {}, as in a `cf push` without blue-green.",
            app::ROUTE,
            humantime::format_duration(OUTAGE_AT),
            humantime::format_duration(OUTAGE_FOR),
        );
        if config.output.json == Some(crate::config::Destination::Stdout) {
            eprintln!("{intro}");
        } else {
            println!("{intro}");
        }
    }
    let scenario = async {
        tokio::time::sleep(OUTAGE_AT).await;
        app.set_mapped(false);
        tokio::time::sleep(OUTAGE_FOR).await;
        app.set_mapped(true);
    };
    let (report, ()) = tokio::join!(monitor(&config), scenario);
    Ok(exit_code(&report?))
}
