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
use std::time::Instant;

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
    let mut tally = floor::Tally::new(rate, seconds);
    let mut conn = None;
    let mut buf = Vec::with_capacity(4096);
    for k in 0..tally.slots {
        let due = tally.due(k);
        sleep_until(&timer, due).await?;
        tally.woke(due);
        if conn.is_none() {
            conn = connect(&addr).await.ok();
            tally.connected(conn.is_some());
        }
        let Some(stream) = conn.as_mut() else { continue };
        if !tally.answered(exchange(stream, request.as_bytes(), &mut buf).await) {
            conn = None;
        }
    }
    tally.print();
    Ok(())
}

fn main() -> io::Result<()> {
    let (addr, rate, seconds) = floor::args();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(async { tokio::spawn(run(addr, rate, seconds)).await })?
}
