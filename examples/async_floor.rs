//! The async request floor: `raw_floor`'s loop on blip's own machinery. One task on a tokio
//! runtime of one worker thread (as blip runs at up to 5000 probes/s), spawned onto the worker as
//! blip's run loop is; at each due time, slept to on a timerfd watched by tokio's reactor (as
//! blip's scheduler sleeps, see src/engine/timer.rs), it writes one prebuilt request on one
//! keep-alive connection and reads one whole answer. No HTTP library, no task per request, no
//! recording: what is left between this and `raw_floor` is the cost of async I/O itself (a
//! reactor, readiness, wakes), and what is left between blip and this is blip's own work.
//!
//! Usage: `async_floor HOST:PORT RATE SECONDS`; prints the same line as `raw_floor`.

use std::io;
use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timer::{Expiration, TimerSetTimeFlags};
use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[path = "floor/mod.rs"]
mod floor;

/// `AsyncFd` wants `AsRawFd`, which nix's `TimerFd` does not implement.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Sleeps until `deadline` on the timerfd, as blip's scheduler does.
async fn sleep_until(timer: &AsyncFd<Fd>, deadline: Instant) -> io::Result<()> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        timer
            .get_ref()
            .0
            .set(Expiration::OneShot(TimeSpec::from_duration(deadline - now)), TimerSetTimeFlags::empty())?;
        let mut ready = timer.readable().await?;
        if let Ok(Ok(_)) = ready.try_io(|fd| fd.get_ref().0.wait().map_err(io::Error::from)) {
            ready.clear_ready();
        }
    }
}

/// Writes the request and reads one whole answer; returns its status code.
async fn exchange(conn: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> io::Result<u16> {
    conn.write_all(request).await?;
    buf.clear();
    loop {
        if let Some((status, length)) = floor::answer_extent(buf)?
            && buf.len() >= length
        {
            return Ok(status);
        }
        if conn.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

async fn connect(addr: &str) -> io::Result<TcpStream> {
    let conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    Ok(conn)
}

async fn run(addr: String, rate: f64, seconds: f64) -> io::Result<()> {
    let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
    // SAFETY: `Fd` owns the timerfd (an `OwnedFd` inside nix's `TimerFd`), so the descriptor
    // stays open and the same for as long as the `AsyncFd` that owns `Fd` lives.
    #[allow(unsafe_code)]
    let timer = unsafe { AsyncFd::register(Fd(timer)) }?;
    let request = floor::request(&addr, "async_floor");
    let slots = (rate * seconds) as u64;
    let mut conn = None;
    let mut connections = 0u64;
    let mut failed = 0u64;
    let mut buf = Vec::with_capacity(4096);
    let mut late = Vec::with_capacity(slots as usize);
    let start = Instant::now();
    for k in 0..slots {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        sleep_until(&timer, due).await?;
        late.push(Instant::now().saturating_duration_since(due));
        if conn.is_none() {
            conn = connect(&addr).await.ok();
            connections += u64::from(conn.is_some());
        }
        let Some(stream) = conn.as_mut() else {
            failed += 1;
            continue;
        };
        match exchange(stream, request.as_bytes(), &mut buf).await {
            Ok(200) => {}
            Ok(_) => failed += 1,
            Err(_) => {
                failed += 1;
                conn = None;
            }
        }
    }
    floor::print_summary(slots, failed, connections, late);
    Ok(())
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(async { tokio::spawn(run(addr, rate, seconds)).await })?
}
