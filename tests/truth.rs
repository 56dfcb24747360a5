//! Verdicts that cannot lie: values that once panicked or passed runs that never probed, runs that
//! end before their length, gates over nothing, and the wait that a second Ctrl-C cuts short.

use std::time::{Duration, Instant};

use crate::support::server::{Mode, TestServer};
use crate::support::{blip, blip_json};

#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_numbers_are_refused_before_probing() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "9999999999999999999s", "--fail-on-status", "5xx", "--max-downtime", "0s", &url], "--timeout"),
        (&["-r", "1e-20", &url], "--rate"),
        (&["-r", "1e-19", &url], "--rate"),
        (&["-c", "3000000000000000000", &url], "--concurrency"),
        (&["-d", "18446744073709551615s", &url], "--duration"),
        (&["--warmup", "18446744073709551615s", &url, "--", "true"], "--warmup"),
        (&["--cooldown", "9999999999999s", &url, "--", "true"], "--cooldown"),
        (&["--slow", "99999999999h", &url], "--slow"),
        (&["--min-failures", "0", &url], "--min-failures"),
        (&["--max-outage", "99999999999999d", &url], "--max-outage"),
    ];
    crate::support::assert_refused(cases).await;
    assert_eq!(server.requests(), 0, "nothing was probed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_that_never_answers_fails_the_default_gate_and_says_so() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{dead}/api/notes");
    let out = blip(&["-r", "20", "-d", "300ms", "--ui", "lines", &url]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("warning: {url} NEVER answered successfully (6 probes: refused ×6)")), "{stdout}");
    assert!(stdout.contains("FAILED: 2 of 2 gates failed; max-downtime 0s is blip's default"), "{stdout}");

    // A gate that holds vacuously over a URL that only ever refused does not pass the run.
    let report = blip_json(&["-r", "20", "-d", "300ms", "--fail-on-status", "404", &url], 1).await;
    let gates = &report.targets[0].gates;
    assert_eq!(gates.len(), 3, "{gates:?}");
    assert!(gates[0].passed, "no 404 was seen: {gates:?}");
    assert!(gates[1].default && !gates[1].passed, "blip's zero-downtime default: {gates:?}");
    assert_eq!((gates[2].gate.as_str(), gates[2].passed), ("answered at least once", false));
    assert_eq!(gates[2].observed, "0 of 6 probes");

    // With --measure-only nothing is judged, and the warning still stands.
    let report = blip_json(&["-r", "20", "-d", "300ms", "--measure-only", &url], 0).await;
    assert!(report.measure_only && report.passed && report.targets[0].gates.is_empty());
    assert!(report.warnings.iter().any(|w| w.contains("NEVER answered")), "{:?}", report.warnings);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_lasts_its_duration_with_one_probe_per_slot() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let slow = async {
        let begun = Instant::now();
        // Slots at 0 s and 5 s: the second is due at the end, so only one is sent.
        let report = blip_json(&["-r", "0.2", "-d", "5s", &url], 0).await;
        (report, begun.elapsed())
    };
    let other = TestServer::start().await;
    let other_url = other.url("/");
    let each_second = async {
        let begun = Instant::now();
        let report = blip_json(&["-r", "1", "-d", "5s", &other_url], 0).await;
        (report, begun.elapsed())
    };
    let ((slow, slow_took), (each, each_took)) = tokio::join!(slow, each_second);
    assert_eq!((slow.targets[0].probes, server.requests()), (1, 1));
    assert_eq!(slow.duration_ms, 5000.0);
    assert!(slow_took >= Duration::from_secs(5), "the run lasted {slow_took:?}, not its 5 s");
    assert_eq!((each.targets[0].probes, other.requests()), (5, 5), "5 s × 1/s");
    assert!(each_took >= Duration::from_secs(5), "the run lasted {each_took:?}, not its 5 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_over_no_probe_fails() {
    let server = TestServer::start().await;
    // One probe a second: the first is due in the warmup, the next after the 1 ms deploy.
    let report = blip_json(
        &[
            "-r",
            "1",
            "--warmup",
            "300ms",
            "--cooldown",
            "1200ms",
            "--gate-phase",
            "deploy",
            "--fail-on-status",
            "5xx",
            &server.url("/"),
            "--",
            "true",
        ],
        1,
    )
    .await;
    let t = &report.targets[0];
    assert_eq!(t.phases.as_ref().unwrap()["deploy"].probes, 0, "{t:#?}");
    assert!(!report.passed);
    assert_eq!((t.gates[0].passed, t.gates[0].observed.as_str()), (false, "no probe judged"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_ctrl_c_cancels_the_probes_in_flight() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let server = TestServer::start().await;
    server.set(Mode::Stall);
    let dir = crate::support::tempdir("second-ctrl-c");
    let path = dir.join("report.json");
    let child = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "10", "-t", "20s", "--ui", "quiet", "--json", path.to_str().unwrap(), &server.url("/")])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id().unwrap() as i32);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let begun = Instant::now();
    kill(pid, Signal::SIGINT).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(pid, Signal::SIGINT).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output()).await.expect("blip stopped");
    let out = out.unwrap();
    assert!(begun.elapsed() < Duration::from_secs(15), "it did not wait out the 20 s timeout");
    let report: crate::support::Report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let t = &report.targets[0];
    // Every request the server received is either reported or cancelled, never failed.
    assert_eq!(t.probes + t.cancelled, server.requests(), "{t:#?}");
    assert!(t.cancelled >= 7, "{t:#?}");
    assert_eq!(t.failed, t.probes, "probes that did report are failures: {t:#?}");
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(report.stop_reason.as_deref(), Some("SIGINT received"), "the report says the run was stopped early");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_measures_and_says_what_ci_would_have_done() {
    let out = blip(&["demo", "--ui", "lines"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("measured only: no gate was judged"), "{stdout}");
    assert!(!stdout.contains("--measure-only"), "nobody typed it: {stdout}");
    assert!(stdout.contains("this run would have exited 1"), "{stdout}");
    // The simulated deploy is shown by what it does, not by blip's internal call.
    let start = stdout.lines().find(|l| l.starts_with("blip: probing")).unwrap_or_default();
    assert!(start.ends_with("around `demo deploy (restart)`"), "{stdout}");
    let out = blip(&["demo", "--ui", "lines", "--max-downtime", "0s"]).await;
    assert_eq!(out.status.code(), Some(1), "gates given: judged");
    let out = blip(&["demo", "--ui", "quiet", "--measure-only"]).await;
    assert_eq!(out.status.code(), Some(0), "--measure-only measures only, in the demo too");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_down_before_the_deploy_has_no_first_failure_blamed_on_it() {
    let server = TestServer::start().await;
    server.set(Mode::Status(503, "maintenance"));
    let fix = crate::support::script(&server, "fix-late", "sleep 0.3\necho ok >CONTROL\n");
    let dir = crate::support::tempdir("down-at-start");
    let json = dir.join("r.json");
    let out = blip(&[
        "-r",
        "50",
        "--warmup",
        "400ms",
        "--cooldown",
        "300ms",
        "--ui",
        "lines",
        // Down for the whole warmup: started only when asked to.
        "--allow-down-before-deploy",
        "--json",
        json.to_str().unwrap(),
        &server.url("/"),
        "--",
        fix.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: crate::support::Report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let timing = report.targets[0].deploy_timing.as_ref().unwrap();
    assert!(timing.down_at_start, "{timing:?}");
    assert!(timing.first_failure_ms.is_some(), "it kept failing after the start: {timing:?}");
    assert!(stdout.contains("deploy     already down when the deploy started"), "{stdout}");
    // The default gate's evidence starts where the judged phases do, not at a warmup probe.
    let t = &report.targets[0];
    let deploy_start = t.phases.as_ref().unwrap()["deploy"].start_offset_ms;
    let evidence = t.gates[0].evidence.as_ref().unwrap();
    assert_eq!(evidence.first_offset_ms, Some(deploy_start), "{:?}", t.gates[0]);
    assert!(!stdout.contains("first failure"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_proxy_is_named_in_the_failure() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let proxy = format!("http://squid:pr0xypw@{dead}");
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "20", "-d", "200ms", "--measure-only", "--json", "-", "http://notes.blip-test.invalid/"])
        .env("HTTP_PROXY", &proxy)
        .env("NO_PROXY", "")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("pr0xypw"), "{stdout}");
    let report: crate::support::Report = serde_json::from_slice(&out.stdout).unwrap();
    let t = &report.targets[0];
    assert_eq!(t.error_counts.get("refused"), Some(&t.probes), "{t:#?}");
    let shown = format!("through the proxy HTTP_PROXY=http://squid:***@{dead}");
    assert!(t.outages[0].first_error.contains(&shown), "{}", t.outages[0].first_error);
}

/// A server whose every answer is `200 ok` with `lines` header lines in all.
async fn answers_with_header_lines(lines: usize) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let mut answer = String::from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n");
    for i in 1..lines {
        answer.push_str(&format!("x-hop-{i}: via\r\n"));
    }
    answer.push_str("\r\nok");
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if conn.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_with_many_header_lines_is_an_answer() {
    // Up to 256 header lines, as a response that passed through a few proxies may carry (curl
    // takes more), are read; one more fails, and says why.
    let url = answers_with_header_lines(256).await;
    let report = blip_json(&["-r", "20", "-d", "250ms", &url], 0).await;
    let t = &report.targets[0];
    assert_eq!((t.probes, t.ok), (5, 5), "{t:#?}");

    let url = answers_with_header_lines(257).await;
    let report = blip_json(&["-r", "20", "-d", "250ms", &url], 1).await;
    let t = &report.targets[0];
    assert_eq!((t.probes, t.failed), (5, 5), "{t:#?}");
    assert!(t.outages[0].first_error.contains("message head is too large"), "{:?}", t.outages[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn warnings_about_many_urls_are_one_line() {
    let dead: Vec<String> = (0..5)
        .map(|_| format!("http://{}/", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()))
        .collect();
    let mut args = vec!["-r", "10", "-d", "200ms", "--measure-only"];
    args.extend(dead.iter().map(String::as_str));
    let report = blip_json(&args, 0).await;
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].starts_with("5 of 5 URLs NEVER answered successfully"), "{:?}", report.warnings);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_summary_that_cannot_be_written_is_refused_before_probing() {
    let server = TestServer::start().await;
    let dir = crate::support::tempdir("step-summary");
    let fifo = dir.join("summary-pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for path in [fifo.as_path(), dir.as_path()] {
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::process::Command::new(crate::support::BLIP)
                .args(["-r", "20", "-d", "200ms", "--ui", "quiet", &server.url("/")])
                .env("GITHUB_STEP_SUMMARY", path)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("blip does not wait for a reader")
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with("blip: cannot append to GITHUB_STEP_SUMMARY"), "{stderr}");
    }
    assert_eq!(server.requests(), 0, "nothing was probed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_reader_that_stops_reading_does_not_keep_blip_alive() {
    let server = TestServer::start().await;
    let mut child = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "2000", "-d", "1s", "--ui", "quiet", "--events", "-", "--events-probes", &server.url("/")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The pipe stays open and is never read: its buffer fills within the first second.
    let _unread = child.stdout.take();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("blip exited").unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).await.unwrap();
    assert_eq!(status.code(), Some(2), "the event log could not be written whole: {stderr}");
    assert!(stderr.contains("was not read for 3 s"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn availability_is_judged_from_each_urls_first_probe() {
    let server = TestServer::start().await;
    let dead = format!("http://{}/", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    // Two URLs at 1/s: the second one's schedule starts half a second in.
    let report = blip_json(&["-r", "1", "-d", "2s", "--measure-only", &server.url("/"), &dead], 0).await;
    let (up, down) = (&report.targets[0], &report.targets[1]);
    assert_eq!((up.probes, up.availability), (2, 1.0), "{up:#?}");
    assert_eq!((down.probes, down.ok), (2, 0), "{down:#?}");
    assert_eq!(down.availability, 0.0, "never up is not 25 % available: {down:#?}");
    assert_eq!(down.outages[0].start_offset_ms, 500.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_path_that_is_stdout_already_taken_is_refused() {
    // The test harness gives blip a pipe for stdout, so /dev/stdout is that pipe.
    let out = blip(&["-d", "100ms", "--json", "/dev/stdout", "--events", "-", "http://127.0.0.1:9/"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--json and --events - both name /dev/stdout"), "{stderr}");
}
