//! Gates that see brownouts and regressions (a flapping URL, an error rate over a sliding
//! window, latency against the warmup's), against a loopback server that injects them.

use std::time::Duration;

use crate::support::server::{Mode, TestServer};
use crate::support::{blip, blip_json, script, tempdir, tolerance};

const MS: Duration = Duration::from_millis(1);

/// Holds `mode` for `hold` `count` times, `gap` apart, the first `after` from now.
async fn bursts(server: &TestServer, after: Duration, mode: Mode, hold: Duration, gap: Duration, count: u32) {
    tokio::time::sleep(after).await;
    for _ in 0..count {
        server.inject(Duration::ZERO, mode.clone(), hold).await;
        tokio::time::sleep(gap).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn four_short_outages_trip_max_outages_3_and_three_do_not() {
    let server = TestServer::start().await;
    let url = server.url("/");
    // 100 ms of 503 is about ten probes at 100/s: each burst is one window of its own. Two
    // probes in flight at a switch of the server's mode can be answered in the other order than
    // they were sent (a busy machine schedules the server's connections as it likes), which
    // would make a lone failure or success at a burst's edge; a window needs two failures here.
    let args = ["-r", "100", "-d", "2500ms", "--min-failures", "2", "--max-outages", "3", url.as_str()];
    let flaps = bursts(&server, MS * 300, Mode::Status(503, "flap"), MS * 100, MS * 300, 4);
    let (report, ()) = tokio::join!(blip_json(&args, 1), flaps);
    let t = &report.targets[0];
    assert_eq!(t.outage_count, 4, "{:?}", t.outages);
    let gate = &t.gates[0];
    assert_eq!((gate.gate.as_str(), gate.observed.as_str(), gate.passed), ("max-outages 3", "4 windows", false));
    let evidence = gate.evidence.as_ref().unwrap();
    assert_eq!(evidence.outages, [0, 1, 2, 3]);
    assert_eq!(evidence.first_offset_ms, Some(t.outages[3].start_offset_ms), "the window past the limit");

    let flaps = bursts(&server, MS * 300, Mode::Status(503, "flap"), MS * 100, MS * 300, 3);
    let (report, ()) = tokio::join!(blip_json(&args, 0), flaps);
    assert_eq!(report.targets[0].outage_count, 3);
    assert_eq!(report.targets[0].gates[0].observed, "3 windows");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_rate_over_a_sliding_window_trips_only_when_concentrated() {
    let server = TestServer::start().await;
    let url = server.url("/");
    // 8 s at 100/s; four 50 ms bursts of 503 (about 20 failures, 2.5% of the run) either within
    // 0.65 s, so inside one 2 s window, or 2.1 s apart, so no 2 s window holds two of them
    // (at most 6 of its 200 probes, 3%).
    let args = ["-r", "100", "-d", "8s", "--max-error-rate", "5%/2s", url.as_str()];
    let concentrated = bursts(&server, MS * 2000, Mode::Status(503, "brownout"), MS * 50, MS * 150, 4);
    let (report, ()) = tokio::join!(blip_json(&args, 1), concentrated);
    let t = &report.targets[0];
    let gate = &t.gates[0];
    assert_eq!((gate.gate.as_str(), gate.passed), ("max-error-rate 5%/2s", false));
    let evidence = gate.evidence.as_ref().unwrap();
    let w = evidence.worst_window.as_ref().unwrap();
    assert_eq!(w.failed, t.failed, "every burst inside the worst window: {w:?}");
    assert_eq!(w.end_offset_ms - w.start_offset_ms, 2000.0);
    assert!((w.rate_percent - w.failed as f64 * 100.0 / w.probes as f64).abs() < 1e-9);
    assert!(w.rate_percent > 5.0 && w.probes <= 201, "{w:?}");
    assert_eq!(evidence.outages.len() as u64, t.outage_count, "the bursts' windows");
    let concentrated_failed = t.failed;

    let spread = bursts(&server, MS * 500, Mode::Status(503, "brownout"), MS * 50, MS * 2050, 4);
    let (report, ()) = tokio::join!(blip_json(&args, 0), spread);
    let t = &report.targets[0];
    assert!(t.gates[0].passed, "{:?}", t.gates[0]);
    assert!(t.failed.abs_diff(concentrated_failed) <= 8, "the same total: {} vs {concentrated_failed}", t.failed);
    assert_eq!(t.outage_count, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_median_five_times_the_warmups_trips_2x_and_not_10x() {
    let server = TestServer::start().await;
    // 20 ms in the warmup (200 probes at 100/s), 100 ms from 0.3 s into the deploy: the switch
    // comes well after the warmup's last probe. The gates judge the median: latency counts from
    // the due time, and one stall of a busy machine (a CI runner building beside the tests) makes
    // every probe due during it late, enough to carry a p99 but not a median.
    server.set(Mode::Delay(MS * 20));
    let deploy = script(&server, "slower", "sleep 0.3\necho 'delay 100' >CONTROL\nsleep 1\n");
    let url = server.url("/");
    let args = [
        "-r",
        "100",
        "--warmup",
        "2s",
        "--cooldown",
        "300ms",
        "--max-latency-increase",
        "p50=2x",
        "--max-latency-increase",
        "p50=10x",
        url.as_str(),
        "--",
        deploy.to_str().unwrap(),
    ];
    let report = blip_json(&args, 1).await;
    let gates = &report.targets[0].gates;
    let (tight, loose) = (&gates[0], &gates[1]);
    assert_eq!((tight.gate.as_str(), tight.passed), ("max-latency-increase p50=2x", false), "{tight:?}");
    assert_eq!((loose.gate.as_str(), loose.passed), ("max-latency-increase p50=10x", true), "{loose:?}");
    let increase = tight.evidence.as_ref().unwrap().latency_increase.as_ref().unwrap();
    // The server's own delays, plus at most the run's worst send lag and loopback's few ms.
    let lag = report.targets[0].send_lag_ms.max;
    assert!((20.0..30.0 + lag).contains(&increase.warmup_ms), "{increase:?}, send lag max {lag} ms");
    assert!((100.0..110.0 + lag).contains(&increase.judged_ms), "{increase:?}, send lag max {lag} ms");
    assert!((increase.ratio - increase.judged_ms / increase.warmup_ms).abs() < 0.01, "{increase:?}");
    assert!(loose.observed.contains(" vs ") && loose.observed.ends_with('x'), "{}", loose.observed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warmup_too_short_fails_the_latency_increase_as_not_judged() {
    let server = TestServer::start().await;
    let deploy = script(&server, "quick", "sleep 0.2\n");
    let url = server.url("/");
    let args = ["-r", "100", "--warmup", "300ms", "--cooldown", "100ms", "--max-latency-increase", "p99=2x"];
    let mut args = args.to_vec();
    args.extend([url.as_str(), "--", deploy.to_str().unwrap()]);
    let report = blip_json(&args, 1).await;
    let gate = &report.targets[0].gates[0];
    assert!(!gate.passed && gate.observed.starts_with("not judged: "), "{gate:?}");
    assert!(gate.observed.contains("100 needed"), "{}", gate.observed);

    // Without a COMMAND there is no warmup to compare with: refused before any probe.
    let before = server.requests();
    let out = blip(&["-d", "1s", "--max-latency-increase", "p99=2x", &url]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--max-latency-increase") && stderr.contains("COMMAND"), "{stderr}");
    assert_eq!(server.requests(), before, "not a probe sent");
}

/// Lines of a file hooks append to (the report is written once every hook ended).
fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_down_and_on_up_run_once_per_window_with_its_environment() {
    let server = TestServer::start().await;
    let dir = tempdir("hooks-env");
    let (down, up) = (dir.join("down.txt"), dir.join("up.txt"));
    let on_down = format!(
        "echo \"$BLIP_URL|$BLIP_CAUSE|$BLIP_START|$BLIP_DURATION_MS\" >>{}; echo hook says down",
        down.display()
    );
    let on_up = format!("echo \"$BLIP_URL|$BLIP_CAUSE|$BLIP_START|$BLIP_DURATION_MS\" >>{}", up.display());
    let url = server.url("/");
    let events = dir.join("events.ndjson");
    let events_path = events.to_str().unwrap();
    let args = [
        "-r",
        "100",
        "-d",
        "2s",
        "--measure-only",
        "--events",
        events_path,
        "--on-down",
        &on_down,
        "--on-up",
        &on_up,
        &url,
    ];
    let flaps = bursts(&server, MS * 300, Mode::Status(503, "hooked"), MS * 200, MS * 400, 2);
    let (report, ()) = tokio::join!(blip_json(&args, 0), flaps);
    let t = &report.targets[0];
    assert_eq!(t.outage_count, 2);
    let down = lines_of(&down);
    let up = lines_of(&up);
    assert_eq!((down.len(), up.len()), (2, 2), "{down:?} {up:?}");
    for (i, w) in t.outages.iter().enumerate() {
        assert_eq!(down[i], format!("{url}|503|{}|", w.start));
        assert_eq!(up[i], format!("{url}|503|{}|{}", w.start, w.duration_ms));
    }
    assert_eq!((report.hooks.len() as u64, report.hooks_run, report.hooks_skipped), (4, 4, 0));
    assert!(report.hooks.iter().all(|h| h.exit_code == Some(0) && h.url == url), "{:?}", report.hooks);
    let kinds: Vec<&str> = report.hooks.iter().map(|h| h.hook.as_str()).collect();
    assert_eq!(kinds, ["on-down", "on-up", "on-down", "on-up"]);
    // The event log has a `hook` event per run, before the run's end.
    let logged: Vec<serde_json::Value> = lines_of(&events)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "hook")
        .collect();
    assert_eq!(logged.len(), 4);
    assert!(logged.iter().all(|e| e["exit_code"] == 0 && e["url"] == url.as_str()), "{logged:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_that_sleeps_delays_no_probe_and_is_killed_at_the_end() {
    let server = TestServer::start().await;
    let dir = tempdir("hooks-sleep");
    let pid = dir.join("pid");
    // The shell becomes the sleep, so the pid written is the process that must be gone.
    let on_down = format!("echo $$ >{}; exec sleep 10", pid.display());
    let url = server.url("/");
    let args = ["-r", "100", "-d", "2s", "--measure-only", "--on-down", &on_down, &url];
    // Three windows while the first hook sleeps: the second waits, the third is skipped.
    let flaps = bursts(&server, MS * 300, Mode::Status(503, "slow hook"), MS * 100, MS * 300, 3);
    let started = std::time::Instant::now();
    let (report, ()) = tokio::join!(blip_json(&args, 0), flaps);
    assert!(started.elapsed() < Duration::from_secs(6), "not waited for: {:?}", started.elapsed());
    let t = &report.targets[0];
    assert_eq!(t.outage_count, 3);
    // Every slot probed. Had the hook held up the probing, probes would have gone out up to the
    // 1.7 s left of the run late (it sleeps 10 s); the machine's own noise is tens of ms.
    assert_eq!(t.probes, 200);
    assert!(t.send_lag_ms.max < 1000.0, "{:?}", t.send_lag_ms);
    assert!(t.send_lag_ms.p50 <= tolerance(100.0), "{:?}", t.send_lag_ms);
    assert_eq!((report.hooks.len(), report.hooks_skipped), (1, 2), "{:?}", report.hooks);
    let hook = &report.hooks[0];
    assert_eq!(hook.signal.as_deref(), Some("SIGTERM"), "{hook:?}");
    assert!(hook.duration_ms < 10_000.0, "{hook:?}");
    let pid = std::fs::read_to_string(&pid).unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(), "the sleep is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_fast_stops_at_the_window_past_max_outages() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let args = ["-r", "100", "-d", "10s", "--max-outages", "1", "--fail-fast", url.as_str()];
    let flaps = bursts(&server, MS * 300, Mode::Status(503, "flap"), MS * 100, MS * 300, 2);
    let started = std::time::Instant::now();
    let (report, ()) = tokio::join!(blip_json(&args, 1), flaps);
    // The second window opens about 0.7 s in; the run stops within a tick or two of it.
    assert!(started.elapsed() < Duration::from_secs(3), "stopped early: {:?}", started.elapsed());
    assert!(report.duration_ms < 2000.0, "{}", report.duration_ms);
    assert_eq!(report.targets[0].gates[0].observed, "2 windows");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_that_ignores_sigterm_is_killed_after_the_grace() {
    let server = TestServer::start().await;
    let dir = tempdir("hooks-stubborn");
    let pid = dir.join("pid");
    // An ignored signal stays ignored across exec: neither the shell nor its sleep ends on SIGTERM.
    let on_down = format!("trap '' TERM; echo $$ >{}; exec sleep 30", pid.display());
    let url = server.url("/");
    let args = ["-r", "50", "-d", "1s", "--measure-only", "--on-down", &on_down, &url];
    let fault = server.inject(MS * 200, Mode::Status(503, "stubborn hook"), MS * 100);
    let started = std::time::Instant::now();
    let (report, _) = tokio::join!(blip_json(&args, 0), fault);
    let took = started.elapsed();
    // The run's 1 s, then the wrapped command's 5 s of grace, then SIGKILL.
    assert!(took > Duration::from_secs(5) && took < Duration::from_secs(9), "{took:?}");
    let hook = &report.hooks[0];
    assert_eq!(hook.signal.as_deref(), Some("SIGKILL"), "{hook:?}");
    let pid = std::fs::read_to_string(&pid).unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(), "the sleep is gone");
}

/// A load balancer with one of two backends dead: every other request fails for 2 s. The
/// windows are confetti; the degraded span tells it as one story, edge to edge, with its share.
#[tokio::test(flavor = "multi_thread")]
async fn a_brownout_is_one_failing_span_with_its_share() {
    let server = TestServer::start().await;
    let rate = 50.0;
    let run = blip_json(&["-r", "50", "-d", "4s", "--measure-only", &server.url("/")], 0);
    let (report, (start, end)) =
        tokio::join!(run, server.inject(Duration::from_secs(1), Mode::Alternate(503), Duration::from_secs(2)));
    let t = &report.targets[0];
    assert!(t.outages.len() >= 10, "confetti: {} windows", t.outages.len());
    let [d] = &t.degraded[..] else { panic!("one span: {:?}", t.degraded) };
    assert_eq!(d.kind, "failing");
    // The fault's length as the server held it; the span's edges are its first failed probe's
    // due time and its last window's end, each within one interval (and the run's lag) of it.
    let truth = crate::support::ms(end - start);
    let tolerance = 2.0 * crate::support::tolerance_of(rate, t);
    assert!((d.duration_ms - truth).abs() <= tolerance, "{d:?}: the fault lasted {truth:.0} ms");
    let share = d.failed_share.unwrap();
    assert!((0.4..=0.6).contains(&share), "{d:?}");
    assert_eq!(d.causes.get("503"), Some(&d.causes.values().sum()), "{d:?}");
    assert_eq!(d.windows, t.outages.len() as u64);
    let out = blip(&["-r", "50", "-d", "1s", "--measure-only", &server.url("/")]).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("degraded"), "none when nothing failed");
}

/// A server that answers 800 ms late for a second, after a warmup at loopback speed: no probe
/// fails, and one slow span says when it was slow, to the second.
#[tokio::test(flavor = "multi_thread")]
async fn a_stall_that_still_answers_is_one_slow_span() {
    let server = TestServer::start().await;
    let deploy =
        script(&server, "stall", "sleep 0.5\necho 'delay 800' >CONTROL\nsleep 1\necho ok >CONTROL\nsleep 0.2\n");
    let args = ["-r", "20", "-t", "2s", "--warmup", "1s", "--cooldown", "1.5s", "--measure-only", &server.url("/")];
    let mut args = args.to_vec();
    args.extend(["--", deploy.to_str().unwrap()]);
    let report = blip_json(&args, 0).await;
    let t = &report.targets[0];
    assert_eq!(t.failed, 0, "{t:#?}");
    let [d] = &t.degraded[..] else { panic!("one span: {:?}", t.degraded) };
    assert_eq!(d.kind, "slow");
    // The server was slow for one second, which spans one or two of the timeline's seconds.
    assert!(d.duration_ms == 1000.0 || d.duration_ms == 2000.0, "{d:?}");
    assert!(d.p50_ms.unwrap() >= 700.0 && d.limit_ms.unwrap() >= 50.0, "{d:?}");
    assert_eq!(d.phase.as_deref(), Some("deploy"));
}

/// `--max-degraded`: the brownout's span is judged against the limit, in the run and again by
/// `blip judge` of its report, and the gate leaves the default downtime gate on.
#[tokio::test(flavor = "multi_thread")]
async fn max_degraded_judges_the_brownouts_span_and_keeps_the_default_gate() {
    let server = TestServer::start().await;
    let dir = tempdir("max-degraded");
    let saved = dir.join("run.json");
    let run =
        blip(&["-r", "50", "-d", "4s", "--max-degraded", "500ms", "--json", saved.to_str().unwrap(), &server.url("/")]);
    let (out, (start, end)) =
        tokio::join!(run, server.inject(Duration::from_secs(1), Mode::Alternate(503), Duration::from_secs(2)));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: crate::support::Report = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let t = &report.targets[0];
    let [d] = &t.degraded[..] else { panic!("one span: {:?}", t.degraded) };
    let gates: Vec<(&str, bool, bool)> = t.gates.iter().map(|g| (g.gate.as_str(), g.passed, g.default)).collect();
    assert_eq!(gates, [("max-degraded 500ms", false, false), ("max-downtime 0s", false, true)], "{:#?}", t.gates);
    let g = &t.gates[0];
    let shown = format!("{:.3} s in 1 span", d.duration_ms / 1000.0);
    assert_eq!(g.observed, shown, "the span the report holds");
    let truth = crate::support::ms(end - start);
    assert!((d.duration_ms - truth).abs() <= 2.0 * tolerance(50.0), "{d:?}: the fault lasted {truth:.0} ms");
    let first = g.evidence.as_ref().and_then(|e| e.first_offset_ms).unwrap();
    assert_eq!(first, d.start_offset_ms, "the evidence is the span");

    // Judged again: the same span fails a tighter limit and passes a looser one.
    let judged = |limit: &'static str| {
        let saved = saved.clone();
        async move {
            let path = saved.with_file_name(format!("judged-{limit}.json"));
            let out = blip(&[
                "judge",
                saved.to_str().unwrap(),
                "--max-degraded",
                limit,
                "--max-failed",
                "100%",
                "--json",
                path.to_str().unwrap(),
            ])
            .await;
            let report: crate::support::Report =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (out.status.code(), report.targets[0].gates[0].passed, report.targets[0].gates[0].observed.clone())
        }
    };
    assert_eq!(judged("1s").await, (Some(1), false, shown.clone()));
    assert_eq!(judged("10s").await, (Some(0), true, shown));
}
