//! Keep-alive connections closing under a request: against servers that count every request they
//! receive, blip must report no outage that never happened, count each resend, and still fail
//! what really failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::blip_json;

/// How a [`ClosingServer`] ends its connections.
#[derive(Clone, Copy, Debug)]
enum Close {
    /// After this long without a request, as nginx's `keepalive_timeout` does.
    Idle(Duration),
    /// After each answer, without saying `Connection: close`.
    AfterAnswer,
    /// Answers the first request of each connection; reads the second and closes unanswered.
    SecondRequest,
    /// Reads every request and closes unanswered.
    Every,
    /// Answers the first request; to the second, sends part of an answer's head and closes.
    PartialSecond,
    /// After this long without a request, sends `408 Request Timeout` and closes, as Apache,
    /// Jetty and many proxies time out an idle keep-alive connection.
    Idle408(Duration),
    /// Answers the first request; the second finds a `408` already sent, as when the idle
    /// timeout above fired just before the request arrived, and is never served.
    Second408,
    /// Answers every request with a `408` and closes: a real one, on each new connection.
    Every408,
}

/// A keep-alive HTTP/1.1 server that closes connections on its own. It closes by shutting down
/// its writing half and reading on until the client closes, so a request that crossed the close
/// still arrives and is counted (`dropped`), unanswered: the ground truth of what was lost.
struct ClosingServer {
    url: String,
    answered: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl ClosingServer {
    async fn start(close: Close) -> ClosingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        let answered = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let counts = (answered.clone(), dropped.clone());
        tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else { continue };
                tokio::spawn(serve(conn, close, counts.0.clone(), counts.1.clone()));
            }
        });
        ClosingServer { url, answered, dropped }
    }

    fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }
}

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
const TIMED_OUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

async fn serve(mut conn: TcpStream, close: Close, answered: Arc<AtomicU64>, dropped: Arc<AtomicU64>) {
    let mut requests = Requests::default();
    let mut served = 0;
    loop {
        let next = match close {
            Close::Idle(idle) | Close::Idle408(idle) => {
                match tokio::time::timeout(idle, requests.next(&mut conn)).await {
                    Ok(next) => next,
                    Err(_) => {
                        if let Close::Idle408(_) = close {
                            let _ = conn.write_all(TIMED_OUT).await;
                        }
                        break;
                    }
                }
            }
            _ => requests.next(&mut conn).await,
        };
        let Some(()) = next else { return };
        let unanswered = match close {
            Close::Every | Close::Every408 => true,
            Close::SecondRequest | Close::PartialSecond | Close::Second408 => served == 1,
            Close::Idle(_) | Close::Idle408(_) | Close::AfterAnswer => false,
        };
        if unanswered {
            dropped.fetch_add(1, Ordering::SeqCst);
            match close {
                Close::PartialSecond => {
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-").await;
                }
                Close::Second408 | Close::Every408 => {
                    let _ = conn.write_all(TIMED_OUT).await;
                }
                _ => {}
            }
            break;
        }
        served += 1;
        answered.fetch_add(1, Ordering::SeqCst);
        if conn.write_all(ANSWER).await.is_err() {
            return;
        }
        if let Close::AfterAnswer = close {
            break;
        }
    }
    // Close our half, then count what still arrives until the client closes its own.
    let _ = conn.shutdown().await;
    while let Some(()) = requests.next(&mut conn).await {
        dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Request heads read from one connection; cancel-safe, so an idle timeout loses no byte.
#[derive(Default)]
struct Requests {
    buf: Vec<u8>,
}

impl Requests {
    /// The next whole request head (probes carry no body); `None` when the connection ends.
    async fn next(&mut self, conn: &mut TcpStream) -> Option<()> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                self.buf.drain(..end + 4);
                return Some(());
            }
            let mut chunk = [0; 4096];
            let n = conn.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_lost_to_a_closing_keep_alive_connection_is_resent_and_counted() {
    let server = ClosingServer::start(Close::SecondRequest).await;
    let report = blip_json(&["-r", "20", "-d", "1s", &server.url], 0).await;
    let t = &report.targets[0];
    t.check_consistency();
    // A probe that found the last one's connection idle sent on it, the server closed it unread,
    // and the probe was resent on a new one: every probe ends on a connection of its own. On a
    // busy machine a probe may find no idle connection yet and open one without a resend.
    assert_eq!((t.probes, t.ok, t.failed), (20, 20, 0), "{t:#?}");
    assert_eq!(t.resent, server.dropped(), "{t:#?}");
    assert!(t.resent >= 10, "most probes after the first went out on a reused connection: {t:#?}");
    assert_eq!(t.connections_opened, 20, "{t:#?}");
    assert_eq!(server.answered(), t.probes);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_resend_shows_the_raw_failures() {
    let server = ClosingServer::start(Close::SecondRequest).await;
    let report = blip_json(&["-r", "20", "-d", "1s", "--no-resend", "--measure-only", &server.url], 0).await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.resent, 0);
    assert_eq!(t.failed, server.dropped(), "{t:#?}");
    assert_eq!(t.ok, server.answered(), "{t:#?}");
    assert!(t.failed >= 9, "every other probe is lost: {t:#?}");
    assert_eq!(t.error_counts.get("reset"), Some(&t.failed), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_on_a_new_connection_or_after_answer_bytes_is_not_resent() {
    // Every connection is new when the server closes each one unanswered.
    let every = ClosingServer::start(Close::Every).await;
    // Part of an answer came back on the reused connection before it closed.
    let partial = ClosingServer::start(Close::PartialSecond).await;
    let (every_report, partial_report) = tokio::join!(
        blip_json(&["-r", "20", "-d", "500ms", "--measure-only", &every.url], 0),
        blip_json(&["-r", "20", "-d", "1s", "--measure-only", &partial.url], 0),
    );
    let t = &every_report.targets[0];
    assert_eq!((t.probes, t.failed, t.resent), (10, 10, 0), "{t:#?}");
    assert_eq!(every.dropped(), 10);
    let t = &partial_report.targets[0];
    assert_eq!(t.resent, 0, "{t:#?}");
    assert_eq!(t.failed, partial.dropped(), "{t:#?}");
    assert!(t.failed >= 9, "{t:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_is_never_sent_twice() {
    let server = ClosingServer::start(Close::SecondRequest).await;
    let report = blip_json(&["-X", "POST", "-r", "20", "-d", "1s", "--measure-only", &server.url], 0).await;
    let t = &report.targets[0];
    assert_eq!(t.resent, 0);
    assert_eq!(t.failed, server.dropped(), "{t:#?}");
    assert_eq!(t.ok + t.failed, server.answered() + server.dropped());
}

/// A `408` on a reused connection is the server's idle timeout crossing the request: the answer
/// went out before the request arrived, and the request was never served. It is sent again on a
/// new connection, as Chromium does; a `408` on a new connection is a real answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_408_on_a_reused_connection_is_resent_and_one_on_a_new_connection_is_not() {
    let second = ClosingServer::start(Close::Second408).await;
    let every = ClosingServer::start(Close::Every408).await;
    let raw = ClosingServer::start(Close::Second408).await;
    let (second_report, every_report, raw_report) = tokio::join!(
        blip_json(&["-r", "20", "-d", "1s", &second.url], 0),
        blip_json(&["-r", "20", "-d", "500ms", "--measure-only", &every.url], 0),
        blip_json(&["-r", "20", "-d", "1s", "--no-resend", "--measure-only", &raw.url], 0),
    );
    let t = &second_report.targets[0];
    t.check_consistency();
    assert_eq!((t.probes, t.ok, t.failed), (20, 20, 0), "{t:#?}");
    assert_eq!((t.resent, second.dropped()), (19, 19), "{t:#?}");
    assert_eq!(second.answered(), t.probes);
    let t = &every_report.targets[0];
    assert_eq!((t.probes, t.failed, t.resent), (10, 10, 0), "{t:#?}");
    assert_eq!(t.status_counts.get("408"), Some(&10), "{t:#?}");
    let t = &raw_report.targets[0];
    assert_eq!(t.resent, 0);
    assert_eq!((t.ok, t.failed), (raw.answered(), raw.dropped()), "{t:#?}");
    assert_eq!(t.status_counts.get("408"), Some(&t.failed), "{t:#?}");
}

/// Through a proxy from the environment (the reqwest path) the rule is the same: the proxy's
/// connection answering 408 to a request on a reused connection gets the request sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_408_through_a_proxy_is_resent_too() {
    // The closing server plays the proxy: it reads each request, whatever its target's form.
    let proxy = ClosingServer::start(Close::Second408).await;
    let proxy_addr = proxy.url.trim_end_matches("/health").to_string();
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["--json", "-", "-r", "20", "-d", "1s", "http://notes.blip-proxy-test.invalid/health"])
        .env("HTTP_PROXY", &proxy_addr)
        .env("NO_PROXY", "")
        .env_remove("no_proxy")
        .env_remove("http_proxy")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: crate::support::Report = serde_json::from_slice(&out.stdout).unwrap();
    let t = &report.targets[0];
    assert_eq!((t.probes, t.ok, t.failed), (20, 20, 0), "{t:#?}");
    assert_eq!((t.resent, proxy.dropped()), (19, 19), "{t:#?}");
}

/// The races as they happen: servers closing idle connections after 99 ms (one saying `408`
/// first) probed every 100 ms, and one closing after every answer probed at 500/s. Whether a
/// request crosses a close depends on timing; whatever crossed must be resent, and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn closing_races_cost_no_probe() {
    let idle = ClosingServer::start(Close::Idle(Duration::from_millis(99))).await;
    let idle_408 = ClosingServer::start(Close::Idle408(Duration::from_millis(99))).await;
    let after = ClosingServer::start(Close::AfterAnswer).await;
    let (idle_report, idle_408_report, after_report) = tokio::join!(
        blip_json(&["-r", "10", "-d", "5s", &idle.url], 0),
        blip_json(&["-r", "10", "-d", "5s", &idle_408.url], 0),
        blip_json(&["-r", "500", "-d", "3s", &after.url], 0),
    );
    for (report, server) in [(&idle_report, &idle), (&idle_408_report, &idle_408), (&after_report, &after)] {
        let t = &report.targets[0];
        t.check_consistency();
        assert_eq!(t.failed, 0, "{t:#?}");
        assert_eq!(t.resent, server.dropped(), "{t:#?}");
        assert_eq!(server.answered(), t.probes, "{t:#?}");
    }
}
