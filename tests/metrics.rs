//! `--metrics`: what Prometheus scrapes while the run goes on agrees with the JSON report and with
//! the faults the test server injected; a real Prometheus, when installed, scrapes it too.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt as _;

use crate::support::server::{Mode, TestServer};
use crate::support::{Report, tempdir};

/// A blip run with `--metrics 127.0.0.1:0`, and the address it said it serves on.
struct MetricsRun {
    child: tokio::process::Child,
    addr: String,
    json: std::path::PathBuf,
}

async fn start(server: &TestServer, duration: &str, name: &str) -> MetricsRun {
    let dir = tempdir(name);
    let json = dir.join("report.json");
    let mut child = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "50", "-d", duration, "--ui", "lines", "--metrics", "127.0.0.1:0", "--vantage", "zone-a"])
        .arg("--json")
        .arg(&json)
        .args(["--measure-only", &server.url("/")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The lines UI writes its notices to stdout, which no report takes here.
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("blip says where it serves metrics");
        if let Some(rest) = line.strip_prefix("blip: serving metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    // Keep reading so blip never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    MetricsRun { child, addr, json }
}

/// A plain-http client (reqwest wants a TLS crypto provider even so; blip's is ring).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The body of a GET of `http://addr/path`, which must answer 200.
async fn get(addr: &str, path: &str) -> String {
    let response = client().get(format!("http://{addr}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The value of the one sample of `metric` whose line carries every one of `labels`.
fn value(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_agree_with_the_report_and_the_injected_outage() {
    let server = TestServer::start().await;
    let mut run = start(&server, "3s", "metrics").await;
    // 404 from about +0.5 s for 0.6 s; scraped once it is over and the window has closed.
    server.inject(Duration::from_millis(500), Mode::Status(404, "gone"), Duration::from_millis(600)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = get(&run.addr, "/metrics").await;
    assert_eq!(run.child.wait().await.unwrap().code(), Some(0));
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&run.json).unwrap()).unwrap();
    let t = &report.targets[0];
    let url = format!("url=\"{}\"", server.url("/"));
    let failed_404 = value(&text, "blip_probes_total", &[&url, "result=\"failed\"", "outcome=\"404\""]);
    assert_eq!(failed_404, Some(t.status_counts["404"] as f64), "{text}");
    assert!(t.status_counts["404"] >= 25, "the outage was probed: {:?}", t.status_counts);
    assert_eq!(value(&text, "blip_outages_total", &[&url]), Some(t.outage_count as f64), "{text}");
    assert_eq!(t.outage_count, 1);
    // The window closed before the scrape, so its downtime was final by then.
    let downtime = value(&text, "blip_downtime_seconds_total", &[&url]).unwrap();
    assert!((downtime * 1000.0 - t.downtime_ms).abs() < 0.01, "{downtime} s vs {} ms", t.downtime_ms);
    assert_eq!(value(&text, "blip_up", &[&url]), Some(1.0));
    let ok = value(&text, "blip_probes_total", &[&url, "result=\"ok\"", "outcome=\"200\""]).unwrap();
    assert!(ok > 0.0 && ok <= t.ok as f64, "{ok} ok so far, {} in the end", t.ok);
    assert_eq!(value(&text, "blip_latency_seconds_count", &[&url]), Some(ok), "one latency per ok probe");
    assert!(text.contains("blip_info{version=\"") && text.contains("vantage=\"zone-a\"} 1"), "{text}");
    assert_eq!(report.vantage, "zone-a");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_metrics_addresses_are_refused_before_probing() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--metrics", ":9464", "http://127.0.0.1:9/"], "`:9464` has no IP: 127.0.0.1:9464"),
        (&["--metrics", "localhost", "http://127.0.0.1:9/"], "`localhost` is not an IP:PORT address"),
        (&["--metrics", &taken, "-d", "1s", "http://127.0.0.1:9/"], "cannot serve --metrics on"),
        (&["--vantage", "", "http://127.0.0.1:9/"], "--vantage needs a name"),
    ];
    crate::support::assert_refused(cases).await;
}

/// Whether Prometheus is installed; CI installs it, so there a missing one fails the test.
fn has_prometheus() -> bool {
    if std::process::Command::new("prometheus").arg("--version").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "prometheus is missing in CI");
    eprintln!("skipped: prometheus is not installed");
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_what_the_report_says() {
    if !has_prometheus() {
        return;
    }
    let server = TestServer::start().await;
    let mut run = start(&server, "8s", "prometheus").await;
    let dir = tempdir("prometheus-data");
    let web = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().to_string()
    };
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: blip\n    static_configs:\n      - targets: ['{}']\n",
            run.addr
        ),
    )
    .unwrap();
    let _prometheus = tokio::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Once Prometheus is up, 404 for 0.8 s, while it scrapes every 200 ms.
    let ready = std::time::Instant::now();
    while !ready_at(&web).await {
        assert!(ready.elapsed() < Duration::from_secs(5), "Prometheus did not get ready within 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.inject(Duration::from_millis(300), Mode::Status(404, "gone"), Duration::from_millis(800)).await;
    assert_eq!(run.child.wait().await.unwrap().code(), Some(0));
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&run.json).unwrap()).unwrap();
    let t = &report.targets[0];
    // The last value each series took while blip ran (a scrape after it ended marks it stale).
    let query = |promql: &str| {
        let url = format!("/api/v1/query?query={}", percent_encode(promql));
        let web = web.clone();
        async move {
            let body = get(&web, &url).await;
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            json["data"]["result"][0]["value"][1].as_str().map(|v| v.parse::<f64>().unwrap())
        }
    };
    let failed = query("max_over_time(blip_probes_total{result=\"failed\",outcome=\"404\"}[5m])").await;
    assert_eq!(failed, Some(t.status_counts["404"] as f64), "report: {:?}", t.status_counts);
    let outages = query("max_over_time(blip_outages_total[5m])").await;
    assert_eq!(outages, Some(1.0));
    let downtime = query("max_over_time(blip_downtime_seconds_total[5m])").await.unwrap();
    assert!((downtime * 1000.0 - t.downtime_ms).abs() < 0.01, "{downtime} s vs {} ms", t.downtime_ms);
    let vantage = get(&web, &format!("/api/v1/query?query={}", percent_encode("last_over_time(blip_info[5m])"))).await;
    assert!(vantage.contains("\"vantage\":\"zone-a\""), "{vantage}");
}

async fn ready_at(addr: &str) -> bool {
    client().get(format!("http://{addr}/-/ready")).send().await.is_ok_and(|r| r.status() == 200)
}

/// A PromQL query as a URL's query value.
fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_to_the_metrics_listener_cannot_take_the_probes_descriptors() {
    let server = TestServer::start().await;
    let dir = tempdir("metrics-flood");
    let json = dir.join("report.json");
    // blip with 256 descriptors in all, soft and hard, as a lowered `ulimit -n` leaves it; every
    // probe on a new connection, which needs a descriptor of its own.
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "ulimit -n 256 && exec \"$0\" \"$@\"", crate::support::BLIP])
        .args(["-r", "50", "-d", "4s", "--connections", "fresh", "--ui", "lines", "--metrics", "127.0.0.1:0", "--json"])
        .arg(&json)
        .arg(server.url("/"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("blip says where it serves metrics");
        if let Some(rest) = line.strip_prefix("blip: serving metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // More idle connections than blip has descriptors: those past the cap are closed at once.
    let mut idle = Vec::new();
    for _ in 0..400 {
        if let Ok(stream) = tokio::net::TcpStream::connect(&addr).await {
            idle.push(stream);
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.unwrap().unwrap();
    drop(idle);
    let report: Report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let t = &report.targets[0];
    // Ground truth: the server answered every probe blip sent, and blip blamed it for none.
    assert_eq!((t.failed, t.probes), (0, server.requests()), "{:?}", t.error_counts);
    assert!(t.probes >= 150, "{t:?}");
    assert_eq!(status.code(), Some(0));
}
