//! The benchmark's target: a fast HTTP/1.1 server on loopback that answers `200 ok`, and injects
//! outages on request with a known ground truth.
//!
//! It prints `127.0.0.1:PORT 127.0.0.1:CONTROL` on its first line. A line `404 250` or
//! `refused 250` written to the control port makes it answer 404, or refuse connections (closing
//! those open), for 250 ms; when the outage is over it answers the line with the outage's
//! measured length in microseconds. `scripts/bench` drives it with bash's `/dev/tcp`.
//!
//! `bench_target LATENCY_MS` holds every answer that long (a slow server, whose probes overlap).
//! `bench_target --stall` accepts every connection, reads what it is sent and never answers (a
//! hung server: each probe ends at the client's timeout, the case where a client's memory could
//! grow with every probe in flight).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Ok,
    NotFound,
    Refused,
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Serves until the mode says to refuse, then drops the listener and binds it again after.
async fn serve(addr: SocketAddr, first: TcpListener, mut mode: watch::Receiver<Mode>, latency: Duration) {
    let mut listener = Some(first);
    loop {
        if *mode.borrow_and_update() == Mode::Refused {
            listener = None;
        } else if listener.is_none() {
            listener = Some(bind(addr).expect("the port is ours to bind again"));
        }
        let Some(current) = listener.as_ref() else {
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = current.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let mut conn_mode = mode.clone();
                let service_mode = mode.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_request| {
                        let status = if *service_mode.borrow() == Mode::NotFound { StatusCode::NOT_FOUND } else { StatusCode::OK };
                        async move {
                            if !latency.is_zero() {
                                tokio::time::sleep(latency).await;
                            }
                            let body = if status == StatusCode::OK { "ok\n" } else { "404 Not Found: injected\n" };
                            Ok::<_, Infallible>(Response::builder().status(status).body(Full::new(Bytes::from(body))).unwrap())
                        }
                    });
                    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = conn_mode.wait_for(|m| *m == Mode::Refused) => {}
                    }
                });
            }
            changed = mode.changed() => if changed.is_err() { return },
        }
    }
}

/// Accepts and never answers: each connection's bytes are read and dropped until the client
/// closes it, so the server holds no more connections than the client keeps open.
async fn stall(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        });
    }
}

async fn control(listener: TcpListener, mode: watch::Sender<Mode>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut words = line.split_whitespace();
            let (kind, ms) = (words.next(), words.next().and_then(|w| w.parse::<u64>().ok()));
            let (Some(kind), Some(ms)) = (kind, ms) else { continue };
            let outage = match kind {
                "404" => Mode::NotFound,
                "refused" => Mode::Refused,
                _ => continue,
            };
            let start = Instant::now();
            mode.send_replace(outage);
            tokio::time::sleep_until((start + Duration::from_millis(ms)).into()).await;
            mode.send_replace(Mode::Ok);
            let lasted = start.elapsed();
            let _ = write.write_all(format!("{}\n", lasted.as_micros()).as_bytes()).await;
        }
    }
}

fn main() -> std::io::Result<()> {
    let first = std::env::args().nth(1);
    let stalls = first.as_deref() == Some("--stall");
    let latency = Duration::from_millis(first.and_then(|a| a.parse().ok()).unwrap_or(0));
    // One thread: the target takes one core and leaves the other to the client under test.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = bind("127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        let control_listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("{addr} {}", control_listener.local_addr()?);
        let (mode, receiver) = watch::channel(Mode::Ok);
        tokio::spawn(control(control_listener, mode));
        if stalls {
            stall(listener).await;
        } else {
            serve(addr, listener, receiver, latency).await;
        }
        Ok(())
    })
}
