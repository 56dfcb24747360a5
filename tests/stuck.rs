//! Outputs that do not take what blip writes: named pipes nobody reads, a full device, a stdout
//! nobody reads, and a wrapped command that prints faster than anything could show.

use std::time::Duration;

use crate::support::server::TestServer;
use crate::support::{BLIP, Report, blip, blip_with_closed_stdout, blip_with_stdout, script, tempdir, tolerance_of};

/// Runs blip, or gives up after `limit` (the child is then killed): a hang is a failure, not a
/// test that never ends.
async fn blip_within(limit: Duration, args: &[&str]) -> Option<std::process::Output> {
    tokio::time::timeout(limit, blip(args)).await.ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_pipe_nobody_reads_is_refused_before_probing() {
    let server = TestServer::start().await;
    let dir = tempdir("fifo-nobody");
    let fifo = dir.join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let fifo = fifo.to_str().unwrap();
    for flag in ["--json", "--events", "--junit", "--markdown"] {
        let out = blip_within(Duration::from_secs(10), &[flag, fifo, "-d", "300ms", &server.url("/")])
            .await
            .unwrap_or_else(|| panic!("blip {flag} FIFO hung"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains(fifo) && stderr.contains("no process reads"), "{stderr}");
    }
    assert_eq!(server.requests(), 0, "nothing was probed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_pipe_with_a_reader_gets_the_whole_report() {
    let server = TestServer::start().await;
    let dir = tempdir("fifo-read");
    let fifo = dir.join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read(fifo).unwrap()
    });
    // The reader opens its end first, as a shell's `cat pipe &` would.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out =
        blip_within(Duration::from_secs(10), &["--json", fifo.to_str().unwrap(), "-d", "300ms", &server.url("/")])
            .await
            .expect("blip finished");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Report = serde_json::from_slice(&reader.join().unwrap()).unwrap();
    assert_eq!(report.targets[0].probes, server.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_log_that_cannot_be_written_exits_2() {
    let server = TestServer::start().await;
    let out = blip(&["--events", "/dev/full", "-d", "300ms", &server.url("/")]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--events /dev/full"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_summary_that_cannot_be_written_exits_2_and_a_closed_stdout_does_not() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = blip_with_stdout(&["-d", "300ms", &url], full.into()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write blip's output: stdout: No space left on device"), "{stderr}");

    // A reader that closes its end (`blip … | head -1`) chose to stop: the run's verdict stands.
    let out = blip_with_closed_stdout(&["-d", "300ms", &url]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_stream_nobody_reads_is_bounded_and_its_drops_are_said() {
    use tokio::io::AsyncReadExt as _;
    let server = TestServer::start().await;
    // Long URLs make long events: 6000 probe events of over 1 KB each, more than the queue and the
    // pipe together hold.
    let path = format!("/{}", "p".repeat(1000));
    let (a, b) = (server.url(&format!("{path}?a")), server.url(&format!("{path}?b")));
    let mut child = tokio::process::Command::new(BLIP)
        .args(["--events", "-", "--events-probes", "--ui", "quiet", "--measure-only", "-r", "1000", "-d", "3s", &a, &b])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Nobody reads blip's stdout until every probe of the schedule reached the server, and its
    // event was written, however long a busy machine takes. A machine busy enough to fail probes
    // before they reach the server shows as a count that stops short: 500 ms without a request.
    let (started, mut seen, mut since) = (std::time::Instant::now(), 0, std::time::Instant::now());
    while server.requests() < 6000 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = server.requests();
        if now != seen {
            (seen, since) = (now, std::time::Instant::now());
        } else if seen > 0 && since.elapsed() > Duration::from_millis(500) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (mut printed, mut said) = (Vec::new(), Vec::new());
    let (read_out, read_err) = tokio::join!(stdout.read_to_end(&mut printed), stderr.read_to_end(&mut said));
    read_out.unwrap();
    read_err.unwrap();
    let said = String::from_utf8_lossy(&said);
    let code = child.wait().await.unwrap().code();
    let dropped: u64 = said
        .lines()
        .find_map(|l| {
            l.strip_prefix("blip: ")?.strip_suffix(" lines were not written to stdout: it was not read fast enough")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the drops are said: {said}"));
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&printed).lines().map(|l| serde_json::from_str(l).expect("whole events")).collect();
    let kind = |k: &str| events.iter().filter(|e| e["event"] == k).count() as u64;
    let end = events.last().expect("events");
    assert_eq!(end["event"], "run_end", "the last event waits for room rather than being dropped");
    let sum = |field: &str| end["targets"].as_array().unwrap().iter().map(|t| t[field].as_u64().unwrap()).sum::<u64>();
    let (probes, failed, received) = (sum("probes"), sum("failed"), server.requests());
    // Every slot was probed, and a probe the server never saw (a machine too busy for the test
    // server to keep up) is counted as failed.
    // A slot blip could not send in time (a machine too busy for it) is missed, not probed; more
    // than 10 % missed is a run not judged (exit 2).
    let missed = sum("missed");
    assert_eq!(probes + missed, 6000);
    assert_eq!(code, Some(if missed * 10 > 6000 { 2 } else { 0 }), "{missed} missed: {said}");
    assert!(received <= probes && received + failed >= probes, "{received} received, {probes} probes, {failed} failed");
    // Every event is either on stdout or counted as dropped: a run_start, a probe event per slot
    // (a missed one too, as `error_kind: missed`), a `down` and an `up` (or `still_down`) per outage (a busy machine can slow the test server
    // past the timeout), the run_end, and a `second` per URL for each second the run loop saw
    // pass (the 3 s schedule, give or take the last tick and a slow end).
    let shown = events.len() as u64;
    // A missed slot has its probe event too.
    assert!(
        dropped > 0 && kind("probe") < probes + missed,
        "{dropped} dropped, {} probe events, {probes} probes, {missed} missed",
        kind("probe")
    );
    let outages = sum("outages");
    let seconds = (shown + dropped).checked_sub(2 + probes + missed + 2 * outages);
    assert!(
        seconds.is_some_and(|s| s % 2 == 0 && (2 * 2..=2 * 6).contains(&s)),
        "{shown} shown + {dropped} dropped, {probes} probes, {missed} missed, {outages} outages: {seconds:?} `second` events"
    );
}

/// Resident memory of process `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_printing_50_mb_keeps_the_phases_and_counts_what_it_dropped() {
    use tokio::io::AsyncReadExt as _;
    let server = TestServer::start().await;
    let dir = tempdir("50mb");
    let report_path = dir.join("r.json");
    // 500 000 lines of 100 bytes, printed as fast as the pipe takes them.
    let flood = script(&server, "flood50", "head -c 49500000 /dev/zero | tr '\\0' x | fold -w 99\n");
    let rate = 200.0;
    let mut child = tokio::process::Command::new(BLIP)
        .args(["-r", "200", "--warmup", "300ms", "--cooldown", "1s", "--json", report_path.to_str().unwrap()])
        .args([&server.url("/"), "--", flood.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (mut printed, mut said) = (Vec::new(), Vec::new());
    let peak = async {
        let mut peak = 0;
        while let Some(rss) = rss_kib(pid) {
            peak = peak.max(rss);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak
    };
    let (read_out, read_err, peak) =
        tokio::join!(stdout.read_to_end(&mut printed), stderr.read_to_end(&mut said), peak);
    read_out.unwrap();
    read_err.unwrap();
    assert_eq!(child.wait().await.unwrap().code(), Some(0), "{}", String::from_utf8_lossy(&said));
    let report: Report = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let d = report.deploy.as_ref().unwrap();
    let t = &report.targets[0];
    let phases = t.phases.as_ref().unwrap();
    for (name, p) in phases {
        let expected = (p.end_offset_ms - p.start_offset_ms) * rate / 1000.0;
        assert!((p.probes as f64 - expected).abs() <= 2.0, "{name}: {} probes in {expected:.1} intervals", p.probes);
    }
    assert!((phases["deploy"].end_offset_ms - d.end_offset_ms.unwrap()).abs() < 0.01);
    let cooldown = &phases["cooldown"];
    assert!((cooldown.end_offset_ms - cooldown.start_offset_ms - 1000.0).abs() <= tolerance_of(rate, t));
    // Every line was shown or counted: blip's relay drops, and its stdout's.
    let stdout = String::from_utf8_lossy(&printed);
    let shown = stdout.lines().filter(|l| l.trim_start().starts_with("| x")).count() as u64;
    let said = String::from_utf8_lossy(&said);
    let unwritten: u64 = said
        .lines()
        .find_map(|l| {
            l.strip_prefix("blip: ")?.strip_suffix(" lines were not written to stdout: it was not read fast enough")
        })
        .map_or(0, |n| n.parse().unwrap());
    assert_eq!(shown + d.output_lines_dropped + unwritten, 500_000, "{said}");
    if d.output_lines_dropped > 0 {
        assert!(stdout.contains("dropping lines"), "the drops are said as they begin");
        assert!(stdout.contains(&format!("{} lines of the command's output were not shown", d.output_lines_dropped)));
    }
    eprintln!("peak RSS {peak} KiB; {} of 500000 lines dropped", d.output_lines_dropped);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_reader_that_stops_reading_cannot_hold_blip_past_a_signal() {
    use tokio::io::AsyncReadExt as _;
    let server = TestServer::start().await;
    // Four URLs of 20 KB each: a JSON report far larger than a pipe holds.
    let path = format!("/{}", "q".repeat(20_000));
    let urls: Vec<String> = (0..4).map(|i| server.url(&format!("{path}?{i}"))).collect();
    let mut child = tokio::process::Command::new(BLIP)
        .args(["--json", "-", "--ui", "quiet", "--measure-only", "-r", "10", "-d", "300ms"])
        .args(&urls)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The run is over long before this; its report is stuck in the pipe nobody reads.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(child.try_wait().unwrap().is_none(), "the report is bigger than the pipe");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id().unwrap() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await.expect("blip ends on SIGTERM");
    assert_eq!(status.unwrap().code(), Some(2));
    let mut said = String::new();
    child.stderr.take().unwrap().read_to_string(&mut said).await.unwrap();
    assert!(said.contains("SIGTERM received while the reports were being written"), "{said}");
}
