//! The Linux timer: a timerfd watched by tokio's reactor.
//!
//! A timerfd is a high-resolution kernel timer that becomes readable at its deadline; registered
//! with the reactor, it wakes the worker that waits in `epoll_wait` within microseconds, with no
//! thread of its own and no cross-thread wake per probe.

use std::io;
use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timer::{Expiration, TimerSetTimeFlags};
use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags};
use tokio::io::unix::AsyncFd;

pub struct Timerfd {
    fd: AsyncFd<Fd>,
}

/// `AsyncFd` wants `AsRawFd`, which nix's `TimerFd` does not implement (it has `AsFd`).
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Timerfd {
    /// Must be called within the runtime.
    pub fn new() -> io::Result<Timerfd> {
        let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        // SAFETY: `Fd` owns the timerfd (an `OwnedFd` inside nix's `TimerFd`), so the descriptor
        // stays open and the same for as long as the `AsyncFd` that owns `Fd` lives.
        #[allow(unsafe_code)]
        let fd = unsafe { AsyncFd::register(Fd(timer)) }.map_err(io::Error::from)?;
        Ok(Timerfd { fd })
    }

    /// Waits until `deadline`. Cancel-safe: a sleep dropped early leaves nothing behind that a
    /// later one would mistake for its own expiry.
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            // Relative to now, re-armed on every pass; re-arming also clears an expiry left over
            // from a cancelled sleep. (A zero TimeSpec would disarm it: `deadline > now` here.)
            let wait = TimeSpec::from_duration(deadline - now);
            self.fd.get_ref().0.set(Expiration::OneShot(wait), TimerSetTimeFlags::empty())?;
            let mut ready = self.fd.readable().await?;
            // Reading the expiry leaves the one-shot timer unreadable until it is armed again, so
            // the readiness is cleared by hand; left set, the next sleep would find it stale,
            // read EAGAIN and arm the timer a second time. A failed read clears it through
            // `try_io`. Either way the loop checks the clock.
            if let Ok(Ok(_)) = ready.try_io(|fd| fd.get_ref().0.wait().map_err(io::Error::from)) {
                ready.clear_ready();
            }
        }
    }
}
