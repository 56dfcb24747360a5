//! A loopback test server whose faults are switched on and off by the test, so every outage
//! blip measures has a known ground truth: the instants the fault began and ended.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// How the server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 with a small JSON body.
    Ok,
    /// This status with this body.
    Status(u16, &'static str),
    /// Nothing listens: connections are refused and open ones are cut.
    Refused,
    /// Reads the request and never answers.
    Stall,
    /// Reads the request and resets the connection.
    Reset,
    /// 200 with a body that never ends.
    EndlessBody,
    /// 200 whose body stops halfway and the connection closes.
    Truncated,
    /// 200 after this long.
    Delay(Duration),
    /// 200 after a delay drawn evenly from this range, per request.
    DelayBetween(Duration, Duration),
    /// Every other request (by the server's count) answered with this status, the rest 200: a
    /// load balancer with one of two backends dead.
    Alternate(u16),
}

type Reply = Response<BoxBody<Bytes, std::io::Error>>;

pub struct TestServer {
    pub addr: SocketAddr,
    /// A line-based control port: a deploy script writes `404`, `503`, `refused`, `stall`, `ok`
    /// or `delay <ms>` to it (`echo 404 >/dev/tcp/127.0.0.1/PORT` in bash) to switch the mode.
    pub control: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    requests: Arc<AtomicU64>,
    changes: Arc<std::sync::Mutex<Vec<(Instant, Mode)>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let listener = bind(None).await;
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Ok);
        let mode = Arc::new(mode);
        let requests = Arc::new(AtomicU64::new(0));
        tokio::spawn(accept_loop(listener, addr, mode.subscribe(), requests.clone()));
        let control_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let control = control_listener.local_addr().unwrap();
        let changes = Arc::new(std::sync::Mutex::new(Vec::new()));
        tokio::spawn(control_loop(control_listener, mode.clone(), changes.clone()));
        TestServer { addr, control, mode, requests, changes }
    }

    /// The mode changes made through the control port, with the instants they took effect.
    pub fn changes(&self) -> Vec<(Instant, Mode)> {
        self.changes.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Switches the mode and returns the instant it took effect.
    pub fn set(&self, mode: Mode) -> Instant {
        self.mode.send_replace(mode);
        Instant::now()
    }

    /// Requests that reached the server (refused connections never do).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Holds `mode` from `after` to `after + hold` (both from now) and returns the injected span
    /// as measured here: (start, end).
    pub async fn inject(&self, after: Duration, mode: Mode, hold: Duration) -> (Instant, Instant) {
        tokio::time::sleep(after).await;
        let start = self.set(mode);
        tokio::time::sleep(hold).await;
        let end = self.set(Mode::Ok);
        (start, end)
    }
}

async fn control_loop(
    listener: TcpListener,
    mode: Arc<watch::Sender<Mode>>,
    changes: Arc<std::sync::Mutex<Vec<(Instant, Mode)>>>,
) {
    use tokio::io::AsyncBufReadExt as _;
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let mut lines = tokio::io::BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let next = match line.trim() {
                "ok" => Mode::Ok,
                "refused" => Mode::Refused,
                "stall" => Mode::Stall,
                delay if delay.starts_with("delay ") => {
                    Mode::Delay(Duration::from_millis(delay[6..].trim().parse().expect("delay <ms>")))
                }
                code => Mode::Status(code.parse().expect("a mode or a status code"), "down for a deploy"),
            };
            mode.send_replace(next.clone());
            changes.lock().unwrap().push((Instant::now(), next));
        }
    }
}

async fn bind(addr: Option<SocketAddr>) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap())).unwrap();
    socket.listen(1024).unwrap()
}

async fn accept_loop(
    mut listener: TcpListener,
    addr: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    requests: Arc<AtomicU64>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(serve(stream, mode.clone(), requests.clone()));
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                if *mode.borrow_and_update() == Mode::Refused {
                    drop(listener);
                    while *mode.borrow_and_update() == Mode::Refused {
                        if mode.changed().await.is_err() {
                            return;
                        }
                    }
                    listener = bind(Some(addr)).await;
                }
            }
        }
    }
}

async fn serve(stream: TcpStream, mut mode: watch::Receiver<Mode>, requests: Arc<AtomicU64>) {
    // Linger 0 turns every close by the server into a reset, which is what `Reset` needs; in the
    // other modes the client closes first, so it changes nothing there.
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    let kill = Arc::new(tokio::sync::Notify::new());
    let service = {
        let mode = mode.clone();
        let kill = kill.clone();
        service_fn(move |request: Request<Incoming>| {
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let mode = mode.borrow().clone();
            let kill = kill.clone();
            async move { Ok::<_, Infallible>(answer(request, mode, kill, n).await) }
        })
    };
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = kill.notified() => {}
        _ = mode.wait_for(|m| *m == Mode::Refused) => {}
    }
}

/// The answer to request number `n` (from 0) in `mode`.
async fn answer(request: Request<Incoming>, mode: Mode, kill: Arc<tokio::sync::Notify>, n: u64) -> Reply {
    drop(request);
    match mode {
        Mode::Alternate(code) if n.is_multiple_of(2) => {
            reply(StatusCode::from_u16(code).unwrap(), full(b"backend down"))
        }
        Mode::Alternate(_) => reply(StatusCode::OK, full(b"[{\"id\":1}]")),
        Mode::Ok | Mode::Refused => reply(StatusCode::OK, full(b"[{\"id\":1}]")),
        Mode::Status(code, body) => reply(StatusCode::from_u16(code).unwrap(), full(body.as_bytes())),
        Mode::Stall => std::future::pending().await,
        Mode::Reset => {
            kill.notify_one();
            std::future::pending().await
        }
        Mode::EndlessBody => reply(StatusCode::OK, Endless.boxed()),
        Mode::Truncated => reply(StatusCode::OK, Truncated { sent: false }.boxed()),
        Mode::Delay(delay) => {
            tokio::time::sleep(delay).await;
            reply(StatusCode::OK, full(b"late"))
        }
        Mode::DelayBetween(low, high) => {
            // A cheap spread without a random crate: the clock's nanoseconds.
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            let spread = high.saturating_sub(low).as_nanos().max(1) as u64;
            tokio::time::sleep(low + Duration::from_nanos(u64::from(nanos) % spread)).await;
            reply(StatusCode::OK, full(b"late"))
        }
    }
}

fn reply(status: StatusCode, body: BoxBody<Bytes, std::io::Error>) -> Reply {
    Response::builder().status(status).body(body).unwrap()
}

fn full(bytes: &'static [u8]) -> BoxBody<Bytes, std::io::Error> {
    Full::new(Bytes::from_static(bytes)).map_err(|never| match never {}).boxed()
}

/// A body that never ends.
struct Endless;

impl Body for Endless {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[b'x'; 8192])))))
    }
}

/// A body that sends a little, then fails, so the connection closes mid-response.
struct Truncated {
    sent: bool,
}

impl Body for Truncated {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.sent {
            return Poll::Ready(Some(Err(std::io::Error::other("cut"))));
        }
        self.sent = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"partial")))))
    }
}
