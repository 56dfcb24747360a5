//! A router's own answers told apart from the app's: Cloud Foundry's gorouter says in
//! `X-Cf-Routererror` when it answered a request itself (`unknown_route` while no app instance
//! is mapped), and blip counts those apart from the app's own answers with the same code.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::{blip, blip_json};

const OK: u8 = 0;
const ROUTER_404: u8 = 1;
const APP_404: u8 = 2;

/// What the server answered, per mode: the ground truth.
#[derive(Default)]
struct Sent {
    mode: AtomicU8,
    answers: [AtomicU64; 3],
}

async fn serve(listener: TcpListener, sent: Arc<Sent>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let sent = sent.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                let mode = sent.mode.load(Ordering::SeqCst);
                sent.answers[usize::from(mode)].fetch_add(1, Ordering::SeqCst);
                let reply = match mode {
                    OK => Response::new(Full::new(Bytes::from_static(b"ok"))),
                    ROUTER_404 => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .header("X-Cf-Routererror", "unknown_route")
                        .body(Full::new(Bytes::from_static(
                            b"404 Not Found: Requested route ('notes') does not exist.\n",
                        )))
                        .unwrap(),
                    _ => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(Full::new(Bytes::from_static(b"no such note\n")))
                        .unwrap(),
                };
                async { Ok::<_, Infallible>(reply) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_routers_404_is_counted_apart_from_the_apps_own() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let sent = Arc::new(Sent::default());
    let server = tokio::spawn(serve(listener, sent.clone()));
    let run = blip_json(&["-r", "50", "-d", "1500ms", "--fail-on-status", "404", &url], 1);
    let (report, ()) = tokio::join!(run, deploy_from_start(&sent));
    server.abort();
    let router = sent.answers[usize::from(ROUTER_404)].load(Ordering::SeqCst);
    let app = sent.answers[usize::from(APP_404)].load(Ordering::SeqCst);
    assert!(router > 5 && app > 5, "both kinds were answered: {router}, {app}");

    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.status_counts["404"], router + app, "a router's 404 is a 404");
    assert_eq!(t.router_error_counts, [("404 unknown_route".to_string(), router)].into(), "{t:#?}");
    let [window] = t.outages.as_slice() else { panic!("one window: {t:#?}") };
    let causes = [("404".to_string(), app), ("404 unknown_route (router)".to_string(), router)].into();
    assert_eq!(window.causes, causes, "{window:?}");
    assert_eq!(window.first_error, "404 unknown_route (router): Requested route ('notes') does not exist.");

    // --fail-on-status 404 matches both, and its evidence names the router's first.
    let gate = &t.gates[0];
    assert_eq!((gate.gate.as_str(), gate.passed), ("fail-on-status 404", false));
    assert_eq!(gate.observed, format!("{} probes", router + app));
    let first = gate.evidence.as_ref().and_then(|e| e.first_error.as_deref()).unwrap();
    assert!(first.starts_with("404 unknown_route (router)"), "{first}");
}

/// Switches the server through the modes, counted from now, as blip's run starts now: a router
/// 404 from 300 ms, the app's own 404 from 700 ms, up again from 1100 ms.
async fn deploy_from_start(sent: &Sent) {
    let start = tokio::time::Instant::now();
    for (at, mode) in [(300, ROUTER_404), (700, APP_404), (1100, OK)] {
        tokio::time::sleep_until(start + Duration::from_millis(at)).await;
        sent.mode.store(mode, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_shows_router_answers_apart() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let sent = Arc::new(Sent::default());
    sent.mode.store(ROUTER_404, Ordering::SeqCst);
    let server = tokio::spawn(serve(listener, sent.clone()));
    let out = blip(&["-r", "20", "-d", "300ms", "--ui", "lines", "--measure-only", &url]).await;
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let n = sent.answers[usize::from(ROUTER_404)].load(Ordering::SeqCst);
    assert!(stdout.contains(&format!("  router     404 unknown_route ×{n}")), "{stdout}");
    assert!(stdout.contains(&format!("404 unknown_route (router) ×{n}")), "{stdout}");
}

/// A router that names every answer's error differently cannot grow blip's counts or reports:
/// past the first 64 names, each is counted as `other`.
#[tokio::test(flavor = "multi_thread")]
async fn router_error_names_are_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicU64::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let reply = Response::builder()
                        .status(StatusCode::BAD_GATEWAY)
                        .header("X-Cf-Routererror", format!("endpoint_failure {n}"))
                        .body(Full::new(Bytes::from_static(b"bad gateway\n")))
                        .unwrap();
                    async { Ok::<_, Infallible>(reply) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    let report = blip_json(&["-r", "200", "-d", "1s", "--measure-only", &url], 0).await;
    let t = &report.targets[0];
    assert_eq!(t.probes, 200);
    assert_eq!(t.router_error_counts.len(), 65, "64 names and `other`: {:?}", t.router_error_counts.keys());
    assert_eq!(t.router_error_counts["502 other"], 200 - 64);
    assert_eq!(t.router_error_counts.values().sum::<u64>(), answered.load(Ordering::SeqCst));
    assert!(t.outages[0].causes.len() <= 65, "{:?}", t.outages[0].causes.len());
}
