//! blip's own trouble is never the target's downtime: a paused blip misses slots (a gap in
//! observation, not an outage), and a blip out of descriptors counts local errors, not failed
//! probes; either ends the run with exit code 2, against a server that counts what it served.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::server::TestServer;
use crate::support::{Report, tempdir};

/// Runs blip with `args` (a report to `json`), stopped with SIGSTOP 1 s in for `pause`, then
/// continued; its exit code and report.
async fn paused_run(args: &[&str], pause: Duration, name: &str) -> (Option<i32>, Report) {
    let json = tempdir(name).join("r.json");
    let child = tokio::process::Command::new(crate::support::BLIP)
        .args(args)
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id().unwrap() as i32);
    tokio::time::sleep(Duration::from_secs(1)).await;
    kill(pid, Signal::SIGSTOP).unwrap();
    tokio::time::sleep(pause).await;
    kill(pid, Signal::SIGCONT).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    crate::support::check_schema(&report);
    (out.status.code(), serde_json::from_value(report).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_blip_reports_a_gap_in_observation_not_an_outage() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let (code, report) =
        paused_run(&["-r", "50", "-d", "5s", "--ui", "quiet", &url], Duration::from_secs(2), "pause").await;
    let t = &report.targets[0];
    // Ground truth: every probe blip sent was answered, in well under a millisecond.
    assert_eq!((t.failed, t.outage_count), (0, 0), "{t:?}");
    // Every probe counted was one the server answered; a probe in flight when blip was stopped
    // woke past its deadline and is missed though the server saw it (at 50/s and sub-ms
    // answers, at most one or two).
    let received = server.requests();
    assert!(t.probes <= received && received <= t.probes + 2, "{} probes, {received} received", t.probes);
    // About 2 s of slots at 50/s, give or take the timeout's second and the stop's own timing.
    assert!((40..=130).contains(&t.missed), "missed {}", t.missed);
    assert_eq!(t.probes + t.missed, 250, "every slot of the 5 s is ok, failed or missed");
    assert_eq!(report.paused.len(), 1, "{:?}", report.paused);
    assert_eq!(report.paused[0].missed, t.missed);
    assert!(report.warnings.iter().any(|w| w.contains("stopped or starved")), "{:?}", report.warnings);
    // More than 10 % missed: not judged, exit 2, and the verdict says why.
    assert_eq!(code, Some(2));
    assert!(!report.passed);
    // Asked to judge it anyway: it passes, on what was observed.
    let (code, report) = paused_run(
        &["-r", "50", "-d", "5s", "--ui", "quiet", "--allow-missed", &url],
        Duration::from_secs(2),
        "pause-allowed",
    )
    .await;
    let t = &report.targets[0];
    assert_eq!((code, t.failed), (Some(0), 0), "{t:?}");
    assert!(t.latency_ms.as_ref().unwrap().p90 < 100.0, "no latency from a burst's stale due times: {t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_shorter_than_the_timeout_is_no_latency_of_the_service() {
    // Paused for 0.6 s of a 1 s timeout: the slots it held up are missed, not sent late in a
    // burst whose latencies would count from their stale due times. Answers take 50 ms and come
    // due every 40 ms, so a probe is always in flight at the stop: its answer waits in the socket
    // while blip cannot run, and its exchange is missed, not 600 ms of the service's latency.
    let server = TestServer::start().await;
    server.set(crate::support::server::Mode::Delay(Duration::from_millis(50)));
    let args = ["-r", "25", "-d", "4s", "--ui", "quiet", "--allow-missed", "--max-latency", "p99=200ms"];
    let (code, report) =
        paused_run(&[&args[..], &[server.url("/").as_str()]].concat(), Duration::from_millis(600), "short-pause").await;
    let t = &report.targets[0];
    assert_eq!((code, t.failed, t.outage_count), (Some(0), 0, 0), "{t:?}");
    assert!(t.missed >= 10, "about 0.6 s of slots at 25/s: {}", t.missed);
    assert_eq!(t.probes + t.missed, 100);
    // Ground truth: the server answered each in 50 ms, and at least one more than blip counted.
    let received = server.requests();
    assert!(t.probes < received, "{} probes, {received} received", t.probes);
    assert!(t.latency_ms.as_ref().unwrap().max < 200.0, "no probe measured across the pause: {t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blip_out_of_descriptors_blames_itself_not_the_urls() {
    let server = TestServer::start().await;
    let urls: Vec<String> = (0..200).map(|i| server.url(&format!("/u{i}"))).collect();
    let json = tempdir("fd-limit").join("r.json");
    let out = tokio::process::Command::new("sh")
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", crate::support::BLIP])
        .args(["-r", "2", "-d", "3s", "--ui", "lines", "--json"])
        .arg(&json)
        .args(&urls)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "blip's own trouble: {stdout}");
    let report: Report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let local: u64 = report.targets.iter().map(|t| t.local_errors).sum();
    let failed: u64 = report.targets.iter().map(|t| t.failed).sum();
    let probes: u64 = report.targets.iter().map(|t| t.probes).sum();
    assert!(local > 0, "{stdout}");
    // Ground truth: the server answered every request it received; none is a failure.
    assert_eq!((failed, probes), (0, server.requests()), "{stdout}");
    assert!(stdout.contains("file descriptors") && stdout.contains("raise ulimit -n"), "said before probing: {stdout}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.starts_with("FAILED: not judged: blip could not probe"), "{last}");
    assert!(!stdout.contains("NEVER answered"), "no URL is blamed: {stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_that_printed_a_lot_does_not_hold_back_the_next_one() {
    use crate::support::server::Mode;
    let server = TestServer::start().await;
    let url = server.url("/");
    // The first hook prints 300 000 lines and exits at once; showing them takes seconds.
    let args = ["-r", "100", "-d", "2500ms", "--measure-only", "--ui", "lines", "--on-down", "seq 1 300000", &url];
    let run = crate::support::blip_json(&args, 0);
    let faults = async {
        server.inject(Duration::from_millis(300), Mode::Status(503, ""), Duration::from_millis(200)).await;
        server.inject(Duration::from_millis(700), Mode::Status(503, ""), Duration::from_millis(200)).await;
    };
    let (report, ()) = tokio::join!(run, faults);
    let t = &report.targets[0];
    assert_eq!(t.outages.len(), 2, "{:?}", t.outages);
    let downs: Vec<&crate::support::Hook> = report.hooks.iter().filter(|h| h.hook == "on-down").collect();
    assert_eq!(downs.len(), 2, "{:?}", report.hooks);
    // Each hook starts as its window opens: a fork and an exec later, not after the first
    // hook's lines were shown, which takes seconds. A bound of one second tells the two apart
    // and leaves room for a busy machine (350 ms was seen beside a build).
    for (hook, window) in downs.iter().zip(&t.outages) {
        let late = hook.start_offset_ms - window.start_offset_ms;
        assert!((0.0..1000.0).contains(&late), "started {late} ms after its window opened");
    }
}
