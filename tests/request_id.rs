//! Request ids: every probe carries `blip-<run>-<lane>-<slot>`, unique in the run, and an outage
//! window names its first and last failed probes by the ids the server logged.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::{assert_refused, blip_json, tempdir};

/// Requests from this one on (in the order they arrived) fail, up to [`FAIL_UNTIL`].
const FAIL_FROM: usize = 30;
const FAIL_UNTIL: usize = 50;

/// The server's log: each request's id (the header named `header`), and whether it was failed.
type Log = Arc<Mutex<Vec<(String, bool)>>>;

async fn serve(listener: TcpListener, header: &'static str, log: Log) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let log = log.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let id = request.headers().get(header).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                let mut log = log.lock().unwrap();
                let fail = (FAIL_FROM..FAIL_UNTIL).contains(&log.len());
                log.push((id, fail));
                let status = if fail { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
                let reply = Response::builder().status(status).body(Full::new(Bytes::from_static(b"x"))).unwrap();
                async { Ok::<_, Infallible>(reply) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_windows_request_ids_are_the_first_and_last_failed_ones_the_server_logged() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let log = Log::default();
    let server = tokio::spawn(serve(listener, "x-probe-id", log.clone()));
    let events = tempdir("request-id").join("events.ndjson");
    let events_arg = events.to_str().unwrap();
    let args = [
        "-r",
        "20",
        "-d",
        "2s",
        "--connections",
        "both",
        "--request-id=X-Probe-Id",
        "--measure-only",
        "--events",
        events_arg,
        "--events-probes",
        &url,
    ];
    let report = blip_json(&args, 0).await;
    server.abort();
    let log = log.lock().unwrap().clone();

    assert_eq!(report.run_id.len(), 8, "{}", report.run_id);
    assert!(report.run_id.chars().all(|c| c.is_ascii_hexdigit()), "{}", report.run_id);
    for (t, lane) in report.targets.iter().zip(["reused", "fresh"]) {
        assert_eq!(t.connection, lane);
        let prefix = format!("blip-{}-{lane}-", report.run_id);
        let ids: Vec<&(String, bool)> = log.iter().filter(|(id, _)| id.starts_with(&prefix)).collect();
        assert_eq!(ids.len() as u64, t.probes, "every probe of the lane reached the server with its id");
        let failed: Vec<&str> = ids.iter().filter(|(_, fail)| *fail).map(|(id, _)| id.as_str()).collect();
        let [window] = t.outages.as_slice() else { panic!("one window on {lane}: {t:#?}") };
        assert_eq!(window.failed_probes, failed.len() as u64);
        assert_eq!(window.first_request_id.as_deref(), failed.first().copied(), "{lane}: {failed:?}");
        assert_eq!(window.last_request_id.as_deref(), failed.last().copied(), "{lane}: {failed:?}");
    }

    // The probe events carry every id the server saw, once each; down and up events their
    // window's.
    let text = std::fs::read_to_string(&events).unwrap();
    let events: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    for t in &report.targets {
        let of = |kind: &str| {
            events.iter().find(|e| e["event"] == kind && e["connection"] == t.connection.as_str()).unwrap().clone()
        };
        let (down, up, window) = (of("down"), of("up"), &t.outages[0]);
        assert_eq!(down["request_id"].as_str(), window.first_request_id.as_deref(), "{down}");
        assert_eq!(up["first_request_id"].as_str(), window.first_request_id.as_deref(), "{up}");
        assert_eq!(up["last_request_id"].as_str(), window.last_request_id.as_deref(), "{up}");
    }
    let mut sent: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] == "probe")
        .map(|event| event["request_id"].as_str().unwrap().to_string())
        .collect();
    let mut logged: Vec<String> = log.iter().map(|(id, _)| id.clone()).collect();
    sent.sort();
    logged.sort();
    assert_eq!(sent, logged);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_two_probes_of_a_run_share_an_id_across_urls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let server = tokio::spawn(serve(listener, "x-request-id", log.clone()));
    let (a, b) = (format!("http://{addr}/a"), format!("http://{addr}/b"));
    let report = blip_json(&["-r", "20", "-d", "200ms", "--request-id", &a, &b], 0).await;
    server.abort();
    // The URLs take turns in the schedule: the server saw slots 0 to 7, each once.
    let mut ids: Vec<String> = log.lock().unwrap().iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    let mut expected: Vec<String> = (0..8).map(|slot| format!("blip-{}-reused-{slot}", report.run_id)).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_take_the_default_header_and_only_valid_names() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let log = Log::default();
    let server = tokio::spawn(serve(listener, "x-request-id", log.clone()));
    // Without a value the flag takes X-Request-Id, and the URL after it stays a URL.
    let report = blip_json(&["-r", "20", "-d", "200ms", "--request-id", &url], 0).await;
    server.abort();
    let ids: Vec<String> = log.lock().unwrap().iter().map(|(id, _)| id.clone()).collect();
    let expected: Vec<String> = (0..4).map(|seq| format!("blip-{}-reused-{seq}", report.run_id)).collect();
    assert_eq!(ids, expected);

    let cases: &[(&[&str], &str)] = &[
        (&["--request-id=Bad Header", &url], "--request-id"),
        (&["--request-id=", &url], "--request-id"),
        (&["--request-id=Host", &url], "--request-id"),
        (&["--request-id", "-H", "X-Request-Id: mine", &url], "--request-id"),
        // An id there would replace the credentials.
        (&["--request-id=Authorization", "-u", "a:b", &url], "`authorization` carries credentials"),
        (&["--request-id=Content-Type", "--data", "x", &url], "by --data for content-type"),
    ];
    assert_refused(cases).await;
}
