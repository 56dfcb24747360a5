//! https probes on blip's own connections, against a loopback TLS server whose certificate the
//! test makes: verified by default, taken as it is with `-k`, and a handshake that never finishes
//! told apart from a connection that never opens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::support::blip_json;

/// A TLS server with a self-signed certificate for `localhost` that answers every request with
/// 200 and counts the requests it received.
struct TlsServer {
    url: String,
    requests: Arc<AtomicU64>,
    /// Once set, a new connection gets a plain-text answer instead of a handshake (a listener
    /// that lost its certificate), while connections already open keep answering.
    broken: Arc<AtomicBool>,
}

impl TlsServer {
    async fn start() -> TlsServer {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/health", listener.local_addr().unwrap().port());
        let requests = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(AtomicBool::new(false));
        let counted = requests.clone();
        let breaks = broken.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else { continue };
                if breaks.load(Ordering::SeqCst) {
                    let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
                    continue;
                }
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut seen = Vec::new();
                    let mut buf = [0; 4096];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            counted.fetch_add(1, Ordering::SeqCst);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if tls.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        TlsServer { url, requests, broken }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_certificate_fails_unless_insecure() {
    let server = TlsServer::start().await;
    let (strict, insecure) = tokio::join!(
        blip_json(&["-r", "20", "-d", "250ms", "--measure-only", &server.url], 0),
        blip_json(&["-r", "20", "-d", "250ms", "-k", &server.url], 0),
    );
    let t = &strict.targets[0];
    assert_eq!(t.error_counts.get("tls"), Some(&5), "{t:#?}");
    assert!(t.outages[0].first_error.contains("certificate"), "{}", t.outages[0].first_error);
    let t = &insecure.targets[0];
    assert_eq!((t.probes, t.ok), (5, 5), "{t:#?}");
    // Only the insecure run's requests got through the handshake; over one kept-alive connection.
    assert_eq!(server.requests.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handshake_that_never_finishes_is_tls_not_a_connect_timeout() {
    // Accepts the connection and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}/", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let report = blip_json(&["-r", "10", "-d", "300ms", "-t", "200ms", "-k", "--measure-only", &url], 0).await;
    let t = &report.targets[0];
    assert_eq!(t.error_counts.get("tls"), Some(&3), "{t:#?}");
    assert!(t.outages[0].first_error.contains("TLS handshake did not finish"), "{}", t.outages[0].first_error);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handshake_is_timed_on_new_connections_only() {
    let server = TlsServer::start().await;
    let (reused, fresh) = tokio::join!(
        blip_json(&["-r", "20", "-d", "500ms", "-k", &server.url], 0),
        blip_json(&["-r", "20", "-d", "500ms", "-k", "--fresh-connections", &server.url], 0),
    );
    let t = &fresh.targets[0];
    t.check_consistency();
    assert_eq!(t.connections_opened, t.probes, "{t:#?}");
    for phase in ["dns", "connect", "tls", "ttfb", "transfer"] {
        assert_eq!(t.phases_ms.get(phase).map(|p| p.count), Some(t.probes), "{phase}: {:?}", t.phases_ms);
    }
    // Keep-alive: one connection, or a second when a slot came due while the first was still
    // busy with its handshake (a slot never waits for a connection); each is timed once.
    let t = &reused.targets[0];
    assert!(t.connections_opened >= 1 && t.connections_opened < t.probes / 2, "{t:#?}");
    let opened = t.connections_opened;
    assert_eq!(t.phases_ms["tls"].count, opened, "a reused connection has no handshake: {:?}", t.phases_ms);
    assert_eq!(t.phases_ms["dns"].count, opened);
    assert_eq!(t.phases_ms["ttfb"].count, t.probes);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_handshake_is_a_failure_in_the_tls_phase() {
    let server = TlsServer::start().await;
    let report = blip_json(&["-r", "20", "-d", "250ms", "--fresh-connections", "--measure-only", &server.url], 0).await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    assert_eq!(t.outages[0].failed_in, [("tls".to_string(), 5)].into(), "{:?}", t.outages[0]);
    assert_eq!(t.connections_opened, 5, "each connection opened, then its handshake failed");
    assert!(!t.phases_ms.contains_key("tls"), "no handshake finished: {:?}", t.phases_ms);
    assert!(t.peers.is_empty(), "nothing answered");
}

#[tokio::test(flavor = "multi_thread")]
async fn handshakes_that_start_failing_fail_the_fresh_lane_only() {
    let server = TlsServer::start().await;
    let args = ["-r", "10", "-d", "1500ms", "-k", "--connections", "both", "--measure-only", server.url.as_str()];
    let broken = server.broken.clone();
    let breaks = async move {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        broken.store(true, Ordering::SeqCst);
    };
    let (report, ()) = tokio::join!(blip_json(&args, 0), breaks);
    let (reused, fresh) = (&report.targets[0], &report.targets[1]);
    assert_eq!((reused.connection.as_str(), fresh.connection.as_str()), ("reused", "fresh"));
    // The kept-alive connection was open before the break and went on answering.
    assert_eq!(reused.failed, 0, "{reused:#?}");
    assert_eq!(fresh.outages.len(), 1, "{fresh:#?}");
    let w = &fresh.outages[0];
    assert!(w.open && w.causes.keys().all(|c| c == "tls"), "{w:?}");
    assert_eq!(w.failed_in, [("tls".to_string(), w.failed_probes)].into(), "{w:?}");
    assert!(w.failed_probes >= 6, "about 9 probes after the break: {w:?}");
    // Handshakes were timed on the fresh lane until the break.
    assert!(fresh.phases_ms["tls"].count >= 3 && fresh.ok >= 3, "{:?}", fresh.phases_ms);
}
