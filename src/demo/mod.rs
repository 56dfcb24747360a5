//! `blip demo`: the whole story on an embedded app, with no setup.
//!
//! It starts the notes app (two instances behind a Cloud Foundry–like router) on loopback inside
//! the process, and wraps a simulated deploy exactly as a real command is wrapped: blip runs
//! itself as a child process (`blip demo-deploy`), which drives the platform the way `cf push`
//! does. `--style restart` stops the old instance before starting the new one, so the route has
//! no backend for 1.5 s (404s); `--style blue-green` starts the new instance, maps it beside the
//! old one, then unmaps and stops the old one (no failure). The instances answer `X-App-Version:
//! v1` and `v2`, which the demo tracks unless `--track-header` or `--track-body` is given, so the
//! report shows the cutover: a gap for a restart, an overlap for blue-green.

mod app;

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context;

use crate::app::monitor;
use crate::cli::{DemoArgs, DemoDeployArgs, DemoStyle};
use crate::config::{Config, UiMode};
use crate::exit::Exit;
use crate::units::secs_ms;

/// Probes per second of the demo unless `--rate` says otherwise: fine enough to time a 1.5 s
/// outage to 20 ms.
pub const DEMO_RATE: f64 = 50.0;
const DEMO_WARMUP: Duration = Duration::from_secs(1);
const DEMO_COOLDOWN: Duration = Duration::from_secs(2);
/// How long a restart-style deploy leaves the route without a backend.
pub const RESTART_GAP: Duration = Duration::from_millis(1500);

pub async fn run(args: DemoArgs) -> anyhow::Result<Exit> {
    if args.probe.duration.is_some() {
        anyhow::bail!("blip demo lasts as long as its simulated deploy; leave out --duration");
    }
    let app = app::DemoApp::start().await.context("cannot start the demo app on 127.0.0.1")?;
    let exe = std::env::current_exe().context("cannot find blip's own executable to run the simulated deploy")?;
    let style = match args.style {
        DemoStyle::Restart => "restart",
        DemoStyle::BlueGreen => "blue-green",
    };
    let command = vec![
        exe.to_string_lossy().into_owned(),
        crate::cli::DEMO_DEPLOY.to_string(),
        "--style".to_string(),
        style.to_string(),
        "--admin".to_string(),
        app.admin_url(),
    ];
    let mut probe = args.probe.clone();
    probe.rate = probe.rate.or(Some(DEMO_RATE));
    if probe.track_headers.is_empty() && probe.track_body.is_none() {
        probe.track_headers.push(app::VERSION_HEADER.to_string());
    }
    let mut deploy = args.deploy.clone();
    deploy.warmup = deploy.warmup.or(Some(DEMO_WARMUP));
    deploy.cooldown = deploy.cooldown.or(Some(DEMO_COOLDOWN));
    // The simulated deploy waits for its own rollout, in under the default --min-deploy.
    deploy.min_deploy = deploy.min_deploy.or(Some(Duration::ZERO));
    // The demo shows what blip measures; it judges only when asked to, and says below what a
    // CI step would have made of the run.
    let mut gates = args.gates.clone();
    let judged = crate::config::gates_given(&gates);
    gates.measure_only = !judged;
    let mut config = Config::new(&[app.url()], &probe, &deploy, &gates, &command, &args.output)?;
    // The live views show what the command does, not blip's internal call with its admin URL.
    if let Some(wrap) = config.wrap.as_mut() {
        wrap.label = Some(format!("demo deploy ({style})"));
    }
    if config.output.ui == UiMode::Lines {
        let intro = match args.style {
            DemoStyle::Restart => format!(
                "blip demo: a {style} deploy of the notes app (route '{}'): the old instance stops before the new one starts, as in a `cf push` without blue-green. Try --style blue-green.",
                app::ROUTE
            ),
            DemoStyle::BlueGreen => format!(
                "blip demo: a {style} deploy of the notes app (route '{}'): the new instance is mapped before the old one is unmapped.",
                app::ROUTE
            ),
        };
        crate::destination::for_people(config.output.stdout_taken(), &format!("{intro}\n"));
    }
    let finished = monitor(&config, Some(&exe)).await?;
    if !judged && config.output.ui != UiMode::Quiet {
        let line = as_a_ci_step(&finished.report);
        crate::destination::for_people(config.output.stdout_taken(), &format!("{line}\n"));
    }
    Ok(finished.exit())
}

/// What a CI step without gates would have exited with: blip judges zero downtime in the
/// deploy and cooldown by default.
fn as_a_ci_step(report: &crate::report::Report) -> String {
    let judged = || {
        report
            .targets
            .iter()
            .filter_map(|t| t.phases.as_ref())
            .flat_map(|phases| phases.iter())
            .filter(|(phase, _)| **phase != crate::analysis::phase::Phase::Warmup)
            .map(|(_, p)| p)
    };
    // The longest of the targets' (with --connections both, each lane's), not their sum: the
    // lanes measure the same downtime twice.
    let downtime_ms = report
        .targets
        .iter()
        .filter_map(|t| t.phases.as_ref())
        .map(|phases| phases.iter().filter(|(phase, _)| **phase != crate::analysis::phase::Phase::Warmup))
        .map(|judged| judged.map(|(_, p)| p.downtime_ms).sum::<f64>())
        .fold(0.0, f64::max);
    let probes: u64 = judged().map(|p| p.probes).sum();
    if probes == 0 {
        format!(
            "blip demo only measures. As a CI step (`blip URL -- deploy`, no gate given) this run would have exited {}: no probe fell in the deploy or after it, and a gate over no probe fails (raise --rate).",
            Exit::GateFailed.code()
        )
    } else if downtime_ms > 0.0 {
        format!(
            "blip demo only measures. As a CI step (`blip URL -- deploy`, no gate given) this run would have exited {}: {} of downtime during the deploy, and zero is judged by default.",
            Exit::GateFailed.code(),
            secs_ms(downtime_ms)
        )
    } else {
        format!(
            "blip demo only measures. As a CI step (`blip URL -- deploy`, no gate given) this run would have exited {}: no downtime during the deploy.",
            Exit::Ok.code()
        )
    }
}

/// The simulated deploy, run as blip's child: prints what a deploy tool prints and drives the
/// demo platform's admin listener.
pub async fn deploy(args: DemoDeployArgs) -> anyhow::Result<Exit> {
    let client = reqwest::Client::new();
    let admin = |action: &'static str, instance: &'static str| {
        let request = client.post(format!("{}/{action}/{instance}", args.admin));
        async move {
            let response = request.send().await.with_context(|| format!("cannot {action} {instance}"))?;
            anyhow::ensure!(response.status().is_success(), "cannot {action} {instance}: {}", response.status());
            Ok::<_, anyhow::Error>(())
        }
    };
    let say = |line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let pause = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
    match args.style {
        DemoStyle::Restart => {
            say("Pushing app notes to org demo / space demo as demo@example.com...");
            pause(300).await;
            say("Uploading app files... done");
            say("Stopping app notes...");
            admin("unmap", app::BLUE).await?;
            // The gap is timed from the unmap, so it is RESTART_GAP whatever the steps between take.
            let remap_at = tokio::time::Instant::now() + RESTART_GAP;
            admin("stop", app::BLUE).await?;
            say("Staging app and tracing logs...");
            pause(800).await;
            say("   Downloading binary_buildpack... done");
            say("Starting app notes...");
            admin("start", app::GREEN).await?;
            tokio::time::sleep_until(remap_at).await;
            admin("map", app::GREEN).await?;
            say("     state     since                  cpu    memory");
            say("#0   running   just now               0.0%   24M of 256M");
        }
        DemoStyle::BlueGreen => {
            say("Pushing app notes-venerable beside notes...");
            admin("start", app::GREEN).await?;
            pause(600).await;
            say("Mapping route notes.demo to the new instance...");
            admin("map", app::GREEN).await?;
            pause(400).await;
            say("Unmapping route notes.demo from the old instance...");
            admin("unmap", app::BLUE).await?;
            pause(200).await;
            say("Stopping the old instance...");
            admin("stop", app::BLUE).await?;
            say("Renaming notes-venerable to notes... done");
        }
    }
    Ok(Exit::Ok)
}
