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

async fn serve(mut conn: TcpStream, close: Close, answered: Arc<AtomicU64>, dropped: Arc<AtomicU64>) {
    let mut requests = Requests::default();
    let mut served = 0;
    loop {
        let next = match close {
            Close::Idle(idle) => match tokio::time::timeout(idle, requests.next(&mut conn)).await {
                Ok(next) => next,
                Err(_) => break,
            },
            _ => requests.next(&mut conn).await,
        };
        let Some(()) = next else { return };
        let unanswered = match close {
            Close::Every => true,
            Close::SecondRequest | Close::PartialSecond => served == 1,
            Close::Idle(_) | Close::AfterAnswer => false,
        };
        if unanswered {
            dropped.fetch_add(1, Ordering::SeqCst);
            if let Close::PartialSecond = close {
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-").await;
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
    // Every probe after the first went out on a reused connection that the server closed unread.
    assert_eq!((t.probes, t.ok, t.failed), (20, 20, 0), "{t:#?}");
    assert_eq!(t.resent, server.dropped(), "{t:#?}");
    assert_eq!(t.resent, 19, "{t:#?}");
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

/// The races as they happen: a server closing idle connections after 99 ms probed every 100 ms,
/// and one closing after every answer probed at 500/s. Whether a request crosses a close depends
/// on timing; whatever crossed must be resent, and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn closing_races_cost_no_probe() {
    let idle = ClosingServer::start(Close::Idle(Duration::from_millis(99))).await;
    let after = ClosingServer::start(Close::AfterAnswer).await;
    let (idle_report, after_report) = tokio::join!(
        blip_json(&["-r", "10", "-d", "5s", &idle.url], 0),
        blip_json(&["-r", "500", "-d", "3s", &after.url], 0),
    );
    for (report, server) in [(&idle_report, &idle), (&after_report, &after)] {
        let t = &report.targets[0];
        t.check_consistency();
        assert_eq!(t.failed, 0, "{t:#?}");
        assert_eq!(t.resent, server.dropped(), "{t:#?}");
        assert_eq!(server.answered(), t.probes, "{t:#?}");
    }
}
