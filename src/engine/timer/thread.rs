//! The portable timer: a thread that sleeps until each deadline with the platform's own
//! high-resolution sleep (`nanosleep` on Unix, a high-resolution waitable timer on Windows; both
//! behind `std::thread::sleep`), then wakes the scheduler.
//!
//! While a deadline is far off the thread waits on its channel instead, so a sleep cancelled
//! early is replaced by the next one at once; only the last [`PRECISE`] of a sleep is spent in
//! `std::thread::sleep`, which nothing interrupts. Each sleep costs a cross-thread wake, which
//! the timerfd on Linux does without.

use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The end of a sleep spent in `std::thread::sleep`: longer than a channel's timed wait may
/// overrun, which is the system's tick on Windows (15.6 ms unless a program asked for finer).
const PRECISE: Duration = if cfg!(windows) { Duration::from_millis(16) } else { Duration::from_millis(2) };

/// A deadline and who waits for it.
type Request = (Instant, oneshot::Sender<()>);

pub struct ThreadTimer {
    requests: mpsc::Sender<Request>,
}

impl ThreadTimer {
    pub fn new() -> io::Result<ThreadTimer> {
        let (requests, received) = mpsc::channel();
        std::thread::Builder::new().name("blip-timer".into()).spawn(move || serve(&received))?;
        Ok(ThreadTimer { requests })
    }

    /// Waits until `deadline`. One sleep at a time: a new one replaces the one before it, which
    /// ends with an error if it was still awaited.
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        if Instant::now() >= deadline {
            return Ok(());
        }
        let ended = || io::Error::other("the timer thread ended");
        let (wake, woken) = oneshot::channel();
        self.requests.send((deadline, wake)).map_err(|_| ended())?;
        woken.await.map_err(|_| ended())
    }
}

/// The timer thread: serves requests until the [`ThreadTimer`] is dropped.
fn serve(requests: &mpsc::Receiver<Request>) {
    let mut pending: Option<Request> = None;
    loop {
        let (deadline, wake) = match pending.take() {
            Some(request) => request,
            None => match requests.recv() {
                Ok(request) => request,
                Err(_) => return,
            },
        };
        if wake.is_closed() {
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left > PRECISE {
            pending = match requests.recv_timeout(left - PRECISE) {
                Ok(newer) => Some(newer),
                Err(RecvTimeoutError::Timeout) => Some((deadline, wake)),
                Err(RecvTimeoutError::Disconnected) => return,
            };
            continue;
        }
        std::thread::sleep(left);
        let _ = wake.send(());
    }
}
