//! The keep-alive pool after a brownout: probes that overlapped each got a connection of their
//! own at once, and once answers are fast again blip keeps a bounded number open, as a server
//! counting its open connections sees.

use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::blip_json;

/// The server's count of connections, and when the first request came.
#[derive(Default)]
struct Counts {
    first: OnceLock<Instant>,
    open: AtomicI64,
    peak: AtomicI64,
    accepted: AtomicI64,
}

/// Answers every request that arrives within `slow_for` of the first one after `delay`, and the
/// later ones at once; counts the connections open now and at most, and all it accepted.
async fn serve(listener: TcpListener, slow_for: Duration, delay: Duration, counts: Arc<Counts>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        counts.accepted.fetch_add(1, Ordering::SeqCst);
        let now = counts.open.fetch_add(1, Ordering::SeqCst) + 1;
        counts.peak.fetch_max(now, Ordering::SeqCst);
        let counts = counts.clone();
        tokio::spawn(async move {
            let first = counts.clone();
            let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                let first = *first.first.get_or_init(Instant::now);
                async move {
                    if first.elapsed() < slow_for {
                        tokio::time::sleep(delay).await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            counts.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_brownout_blip_keeps_a_bounded_number_of_connections_open() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let counts = Arc::new(Counts::default());
    // For its first 600 ms the server holds each answer 600 ms: at 200/s about 120 probes
    // overlap, each on a connection of its own. Then every answer is immediate.
    let slow = Duration::from_millis(600);
    let server = tokio::spawn(serve(listener, slow, slow, counts.clone()));
    let run = blip_json(&["-r", "200", "-d", "3s", "-t", "5s", "--measure-only", &url], 0);
    let watch = async {
        // Well after the last slow answer (1.2 s after the first request), while fast probes go on.
        let first = loop {
            match counts.first.get() {
                Some(first) => break *first,
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        tokio::time::sleep_until((first + Duration::from_millis(1900)).into()).await;
        counts.open.load(Ordering::SeqCst)
    };
    let (report, open_late) = tokio::join!(run, watch);
    server.abort();
    let t = &report.targets[0];
    assert_eq!(t.failed, 0, "{t:#?}");
    let peak = counts.peak.load(Ordering::SeqCst);
    assert!(peak > 64, "the brownout needed more connections than blip keeps: {peak}");
    assert_eq!(t.connections_opened, counts.accepted.load(Ordering::SeqCst) as u64);
    assert!(open_late <= 64, "{open_late} connections still open after the brownout (peak {peak})");
}
