//! Connection lanes against a server that knows which connection each request came on: a
//! listener that stops accepting while its open keep-alive connections keep answering is an
//! outage of the fresh lane only.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::{BLIP, assert_refused, blip_json, ms, tolerance_of};

/// Requests served per accepted connection, in the order they were accepted.
type PerConnection = Arc<Mutex<Vec<u64>>>;

/// Serves 200 on every connection `listener` accepts, counting each connection's requests,
/// until the task is aborted: then the listener is closed and new connections are refused, while
/// the connections already open keep answering in tasks of their own.
async fn serve(listener: TcpListener, per_connection: PerConnection) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let index = {
            let mut counts = per_connection.lock().unwrap();
            counts.push(0);
            counts.len() - 1
        };
        let counts = per_connection.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                counts.lock().unwrap()[index] += 1;
                async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Milliseconds from the report's `started_at` to `at`.
fn offset_ms(started_at: &str, at: SystemTime) -> f64 {
    let start = humantime::parse_rfc3339(started_at).unwrap();
    ms(at.duration_since(start).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_that_stops_accepting_is_an_outage_of_the_fresh_lane_only() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let per_connection = PerConnection::default();
    let server = tokio::spawn(serve(listener, per_connection.clone()));
    // 20/s per lane: a reused probe is done long before the next one of its lane is due, even on
    // a loaded machine, so the reused lane never needs a second connection (which would be
    // refused after the close, rightly).
    let run = blip_json(&["-r", "20", "-d", "3s", "--connections", "both", "--measure-only", &url], 0);
    let close = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let at = SystemTime::now();
        server.abort();
        let _ = server.await;
        at
    };
    let (report, closed_at) = tokio::join!(run, close);

    assert_eq!(report.schema_version, 2);
    let [reused, fresh] = report.targets.as_slice() else { panic!("two targets: {:#?}", report.targets) };
    assert_eq!((reused.url.as_str(), reused.connection.as_str()), (url.as_str(), "reused"));
    assert_eq!((fresh.url.as_str(), fresh.connection.as_str()), (url.as_str(), "fresh"));
    reused.check_consistency();
    fresh.check_consistency();
    // Each lane is probed at the full rate: 3 s at 20/s.
    assert_eq!((reused.probes, fresh.probes), (60, 60));

    assert!(reused.outages.is_empty() && reused.failed == 0, "the open connection kept answering: {reused:#?}");
    let [window] = fresh.outages.as_slice() else { panic!("one window on the fresh lane: {fresh:#?}") };
    assert!(window.open, "nothing accepted again: {window:?}");
    assert_eq!(window.causes.keys().collect::<Vec<_>>(), ["refused"], "{window:?}");
    // It opens at the first fresh probe due after the close: within one interval of it.
    let closed = offset_ms(&report.started_at, closed_at);
    let late = window.start_offset_ms - closed;
    assert!(
        (-2.0 - fresh.send_lag_ms.max..=tolerance_of(20.0, fresh)).contains(&late),
        "window at {} ms, listener closed at {closed} ms",
        window.start_offset_ms
    );

    // The server saw every successful probe, the fresh ones each on a connection of its own, the
    // reused ones on the connections that carried more than one.
    let per_connection = per_connection.lock().unwrap().clone();
    let (shared, single): (Vec<u64>, Vec<u64>) = per_connection.iter().partition(|&&n| n > 1);
    assert_eq!(single.len() as u64, fresh.ok, "{per_connection:?}");
    assert_eq!(shared.iter().sum::<u64>(), reused.ok, "{per_connection:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lanes_come_from_the_environment_and_conflicting_lanes_are_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let per_connection = PerConnection::default();
    let server = tokio::spawn(serve(listener, per_connection.clone()));
    let out = tokio::process::Command::new(BLIP)
        .args(["-r", "20", "-d", "300ms", "--ui", "lines", &url])
        .env("BLIP_CONNECTIONS", "both")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(&format!("{url} (reused)")) && stdout.contains(&format!("{url} (fresh)")), "{stdout}");
    assert!(stdout.starts_with("blip: probing 1 URL on 2 lanes (reused, fresh) at "), "one URL, two lanes: {stdout}");
    // A typed --fresh-connections wins over the variable it conflicts with.
    let out = tokio::process::Command::new(BLIP)
        .args(["-r", "20", "-d", "300ms", "--ui", "lines", "--fresh-connections", &url])
        .env("BLIP_CONNECTIONS", "both")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("blip: probing 1 URL on fresh connections at "), "{stdout}");
    server.abort();

    let cases: &[(&[&str], &str)] = &[
        (&["--fresh-connections", "--connections", "both", &url], "--connections"),
        (&["--fresh-connections", "--connections", "reused", &url], "--fresh-connections"),
        (&["--connections", "sometimes", &url], "--connections"),
    ];
    assert_refused(cases).await;
}
