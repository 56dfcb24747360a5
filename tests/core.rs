//! The core contract: open-loop schedule, classified failures, outage windows that match the
//! injected ones, nothing lost, bad input refused with exit 2.

use std::time::Duration;

use crate::support::server::{Mode, TestServer};
use crate::support::{blip, blip_json, ms, tempdir, tolerance_of};

const NOT_FOUND: &str = "404 Not Found: Requested route ('notes.test') does not exist.\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_404_window_matches_the_injected_one() {
    let server = TestServer::start().await;
    let url = server.url("/api/notes");
    // No gate given: blip judges zero downtime, so the outage fails the run.
    let run = blip_json(&["-r", "100", "-d", "3s", &url], 1);
    let fault = server.inject(Duration::from_millis(1000), Mode::Status(404, NOT_FOUND), Duration::from_millis(500));
    let (report, (start, end)) = tokio::join!(run, fault);

    assert_eq!(report.schema_version, 2);
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.probes, 300, "3 s at 100/s");
    assert_eq!(server.requests(), t.probes, "every probe reached the server, none invented");
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    let o = &t.outages[0];
    let injected = ms(end - start);
    assert!(
        (o.duration_ms - injected).abs() <= tolerance_of(100.0, t),
        "measured {} ms, injected {injected} ms",
        o.duration_ms
    );
    assert_eq!(o.causes.keys().collect::<Vec<_>>(), ["404"]);
    assert_eq!(o.failed_probes, t.failed);
    assert!((o.failed_probes as f64 - injected / 10.0).abs() <= 2.0, "{} probes in {injected} ms", o.failed_probes);
    assert_eq!(o.first_error, NOT_FOUND.trim());
    assert!(!o.open);
    assert!((900.0..1100.0).contains(&o.start_offset_ms), "{o:?}");
    assert_eq!(t.status_counts["404"], t.failed);
    assert_eq!(t.status_counts["200"], t.ok);
    let expected_availability = 1.0 - o.duration_ms / report.duration_ms;
    assert!((t.availability - expected_availability).abs() < 1e-6);
    assert!(t.latency_ms.is_some());
    assert!(report.default_gates && !report.passed);
    assert_eq!((t.gates.len(), t.gates[0].gate.as_str(), t.gates[0].passed), (1, "max-downtime 0s", false));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_listener_is_a_refused_window() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let run = blip_json(&["-r", "100", "-d", "2s", "--fresh-connections", "--measure-only", &url], 0);
    let fault = server.inject(Duration::from_millis(600), Mode::Refused, Duration::from_millis(500));
    let (report, (start, end)) = tokio::join!(run, fault);

    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    let o = &t.outages[0];
    assert!((o.duration_ms - ms(end - start)).abs() <= tolerance_of(100.0, t), "{o:?} vs {:?}", end - start);
    // A probe whose connection was open when the listener closed sees a reset; all later ones
    // are refused.
    let reset = t.error_counts.get("reset").copied().unwrap_or(0);
    assert!(reset <= 1, "{:?}", t.error_counts);
    assert_eq!(t.error_counts["refused"] + reset, t.failed);
    assert!(o.causes["refused"] >= o.failed_probes - 1);
    // Refused probes never reach the server; a cut one may or may not have been read.
    assert!((t.ok..=t.ok + reset).contains(&server.requests()), "{} requests, {} ok", server.requests(), t.ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_server_neither_slows_the_schedule_nor_hides_the_outage() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let run = blip_json(&["-r", "50", "-d", "2s", "-t", "300ms", "--measure-only", &url], 0);
    let fault = server.inject(Duration::from_millis(500), Mode::Stall, Duration::from_millis(600));
    let (report, (start, end)) = tokio::join!(run, fault);

    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.probes, 100, "the schedule went on while probes stalled");
    assert_eq!(server.requests(), t.probes);
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    let o = &t.outages[0];
    assert!((o.duration_ms - ms(end - start)).abs() <= tolerance_of(50.0, t), "{o:?} vs {:?}", end - start);
    assert_eq!(o.causes.keys().collect::<Vec<_>>(), ["timeout"]);
    // The detector ordered the late timeouts before the answers sent after them.
    assert_eq!(t.error_counts["timeout"], o.failed_probes);
}

/// Runs blip against a server held in `mode` and returns the error kinds it counted.
async fn kinds_in(mode: Mode, extra: &[&str]) -> (u64, std::collections::BTreeMap<String, u64>) {
    let server = TestServer::start().await;
    server.set(mode);
    let url = server.url("/");
    let mut args = vec!["-r", "20", "-d", "500ms", "-t", "300ms", "--measure-only"];
    args.extend(extra);
    args.push(&url);
    let report = blip_json(&args, 0).await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.probes, 10);
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    assert!(t.outages[0].open, "still down at the end");
    (t.failed, t.error_counts.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_servers_are_classified_failures() {
    let (failed, kinds) = kinds_in(Mode::Reset, &[]).await;
    assert_eq!(kinds.get("reset"), Some(&failed), "{kinds:?}");
    let (failed, kinds) = kinds_in(Mode::EndlessBody, &[]).await;
    assert_eq!(kinds.get("timeout"), Some(&failed), "{kinds:?}");
    let (failed, kinds) = kinds_in(Mode::Truncated, &[]).await;
    assert_eq!(kinds.get("reset"), Some(&failed), "{kinds:?}");
    let (failed, kinds) = kinds_in(Mode::Ok, &["--expect-body", "no such text"]).await;
    assert_eq!(kinds.get("body_mismatch"), Some(&failed), "{kinds:?}");
    let (failed, kinds) = kinds_in(Mode::Delay(Duration::from_millis(60)), &["--slow", "30ms"]).await;
    assert_eq!(kinds.get("slow"), Some(&failed), "{kinds:?}");
    let (failed, kinds) = kinds_in(Mode::Status(503, "draining"), &["--expect-status", "200"]).await;
    assert!(kinds.is_empty() && failed == 10, "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_to_a_plain_listener_is_a_tls_failure() {
    let server = TestServer::start().await;
    let url = format!("https://{}/", server.addr);
    let report = blip_json(&["-r", "20", "-d", "300ms", "--measure-only", &url], 0).await;
    let t = &report.targets[0];
    assert_eq!(t.error_counts.get("tls"), Some(&t.probes), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn min_failures_ignores_blips_shorter_than_the_streak() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let run = blip_json(&["-r", "100", "-d", "1500ms", "--min-failures", "15", "--measure-only", &url], 0);
    let faults = async {
        // Two short blips of a few probes each, then one long outage.
        server.inject(Duration::from_millis(200), Mode::Status(503, ""), Duration::from_millis(30)).await;
        server.inject(Duration::from_millis(200), Mode::Status(503, ""), Duration::from_millis(30)).await;
        server.inject(Duration::from_millis(200), Mode::Status(503, ""), Duration::from_millis(400)).await
    };
    let (report, (start, end)) = tokio::join!(run, faults);
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    assert!(t.failed > t.outages[0].failed_probes, "the short blips failed probes without opening windows");
    let o = &t.outages[0];
    assert!((o.duration_ms - ms(end - start)).abs() <= tolerance_of(100.0, t), "{o:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reached_concurrency_cap_counts_skipped_slots() {
    let server = TestServer::start().await;
    server.set(Mode::Stall);
    let url = server.url("/");
    let report = blip_json(&["-r", "50", "-d", "1s", "-t", "2s", "-c", "3", "--measure-only", &url], 0).await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.probes, 50, "no slot dropped silently");
    assert_eq!(t.error_counts["skipped"], 47, "{t:#?}");
    assert_eq!(t.error_counts["timeout"], 3);
    assert_eq!(server.requests(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn several_urls_are_probed_independently() {
    let up = TestServer::start().await;
    let down = TestServer::start().await;
    down.set(Mode::Status(502, ""));
    let report = blip_json(&["-r", "40", "-d", "500ms", "--measure-only", &up.url("/a"), &down.url("/b")], 0).await;
    assert_eq!(report.targets.len(), 2);
    assert_eq!(report.targets[0].url, up.url("/a"));
    assert_eq!((report.targets[0].ok, report.targets[0].outage_count), (20, 0));
    assert_eq!((report.targets[1].failed, report.targets[1].outage_count), (20, 1));
    assert_eq!(report.targets[1].status_counts["502"], 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_the_run_with_a_whole_report() {
    let server = TestServer::start().await;
    let dir = tempdir("sigterm");
    let path = dir.join("report.json");
    let child = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "50", "--json", path.to_str().unwrap(), "--ui", "quiet", &server.url("/")])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: crate::support::Report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let t = &report.targets[0];
    t.check_consistency();
    assert!(t.probes >= 20, "probed until the signal: {}", t.probes);
    assert_eq!(server.requests(), t.probes);
    assert!(std::fs::read_dir(&dir).unwrap().count() == 1, "no temporary file left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_one_line_and_exit_2() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let cases: &[(&[&str], &str)] = &[
        (&["ftp://example.com/"], "ftp"),
        (&["not a url"], "not a URL"),
        (&["-r", "0", &url], "--rate"),
        (&["-r", "fast", &url], "--rate"),
        (&["-d", "10", &url], "--duration"),
        (&["--expect-status", "2x", &url], "--expect-status"),
        (&["-H", "broken", &url], "--header"),
        (&["--json", "/nonexistent-dir/report.json", "-d", "1s", &url], "--json /nonexistent-dir/report.json"),
        (&["--junit", "/nonexistent-dir/report.xml", "-d", "1s", &url], "--junit /nonexistent-dir/report.xml"),
        (&["--markdown", "/nonexistent-dir/summary.md", "-d", "1s", &url], "--markdown /nonexistent-dir"),
        (&["--events", "/nonexistent-dir/events.ndjson", "-d", "1s", &url], "--events /nonexistent-dir"),
        (&["--json", "/tmp", "-d", "1s", &url], "--json /tmp"),
        (&["demo", "-d", "5s"], "--duration"),
    ];
    crate::support::assert_refused(cases).await;
    assert_eq!(server.requests(), 0, "nothing was probed");
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_mode_prints_state_changes_and_a_summary() {
    let server = TestServer::start().await;
    let url = server.url("/api/notes");
    let run = blip(&["-r", "100", "-d", "1s", &url]);
    let fault = server.inject(Duration::from_millis(300), Mode::Status(404, NOT_FOUND), Duration::from_millis(300));
    let (out, _) = tokio::join!(run, fault);
    assert_eq!(out.status.code(), Some(1), "the default gate, zero downtime, failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let down = stdout.lines().find(|l| l.contains("  DOWN  ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(down.contains(&url) && down.ends_with(NOT_FOUND.trim()), "{down}");
    let up = stdout.lines().find(|l| l.contains("  UP    ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(up.contains("after 0.") && up.contains("probes failed"), "{up}");
    assert!(stdout.contains("availability") && stdout.contains("send lag"), "{stdout}");
    let verdict = stdout.lines().last().unwrap_or_default();
    assert!(verdict.starts_with("FAILED: 1 of 1 gate failed; max-downtime 0s is blip's default"), "{stdout}");
}

/// Reads one request, head and as many body bytes as Content-Length says; `None` if the
/// connection ends first.
async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut request = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = conn.read(&mut buf).await.ok().filter(|&n| n > 0)?;
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if request.len() >= end + 4 + length {
                return Some(request);
            }
        }
    }
}

/// Runs one probe of `args` against a bare listener and returns the request as it arrived.
pub(crate) async fn one_request(args: &[&str], url_path: &str, env: &[(&str, String)]) -> String {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let request = read_request(&mut conn).await.expect("a whole request");
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
        String::from_utf8(request).unwrap()
    });
    let url = url_path.replace("ADDR", &addr.to_string());
    let mut command = tokio::process::Command::new(crate::support::BLIP);
    command.args(["-r", "1", "-d", "1s", "--ui", "quiet", "--json", "-"]).args(args).arg(&url).kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value.replace("ADDR", &addr.to_string()));
    }
    let out = command.output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: crate::support::Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report.targets[0].probes, report.targets[0].ok), (1, 1));
    assert_eq!(report.stop_reason, None, "a run that lasted its --duration was not stopped early");
    server.await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_carries_method_target_host_headers_and_body() {
    let args = ["-X", "POST", "-H", "X-Probe: 1", "-H", "User-Agent: ci-check", "--data", "hello"];
    let request = one_request(&args, "http://ADDR/api/notes?limit=1", &[]).await;
    let head = request.to_lowercase();
    assert!(request.starts_with("POST /api/notes?limit=1 HTTP/1.1\r\n"), "{request}");
    assert!(head.contains("\r\nx-probe: 1\r\n"), "{request}");
    assert!(head.contains("\r\nuser-agent: ci-check\r\n") && !head.contains("user-agent: blip"), "{request}");
    assert!(head.contains("\r\ncontent-length: 5\r\n") && request.ends_with("\r\n\r\nhello"), "{request}");
    let host = head.lines().find_map(|l| l.strip_prefix("host: ")).unwrap_or_default().to_string();
    assert!(host.starts_with("127.0.0.1:"), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_from_the_environment_is_used_for_plain_http() {
    let env = [("HTTP_PROXY", "http://ADDR".to_string()), ("NO_PROXY", String::new())];
    let request = one_request(&[], "http://notes.blip-proxy-test.invalid/api/notes", &env).await;
    assert!(request.starts_with("GET http://notes.blip-proxy-test.invalid/api/notes HTTP/1.1\r\n"), "{request}");
    assert!(request.to_lowercase().contains("\r\nhost: notes.blip-proxy-test.invalid\r\n"), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_the_url_become_basic_auth() {
    let request = one_request(&[], "http://notes:s3cret@ADDR/api/notes", &[]).await;
    assert!(request.starts_with("GET /api/notes HTTP/1.1\r\n"), "{request}");
    let auth = request.lines().find_map(|l| l.to_lowercase().starts_with("authorization:").then(|| l[14..].trim()));
    // base64("notes:s3cret")
    assert_eq!(auth, Some("Basic bm90ZXM6czNjcmV0"), "{request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_closing_idle_keep_alive_connections_is_not_an_outage() {
    use tokio::io::AsyncWriteExt as _;
    // Each connection answers one request as keep-alive would, then the server closes it after
    // 10 ms idle, well before the next probe (every 50 ms) can use it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if read_request(&mut conn).await.is_none() {
                    return;
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            });
        }
    });
    let report = blip_json(&["-r", "20", "-d", "1s", &url], 0).await;
    let t = &report.targets[0];
    assert_eq!((t.probes, t.ok, t.failed), (20, 20, 0), "{t:#?}");
    // The server really did close them: every probe needed a connection of its own.
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 20);
}
