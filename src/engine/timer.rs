//! A precise sleep for the scheduler: a Linux timerfd watched by tokio's reactor.
//!
//! tokio's own timer wheel ticks once a millisecond, so every deadline is rounded up to the next
//! tick: at 1000 probes/s that is a whole probe interval of send lag. A timerfd is a
//! high-resolution kernel timer that becomes readable at its deadline; registered with the
//! reactor, it wakes the worker that waits in `epoll_wait` within microseconds, with no thread of
//! its own and no cross-thread wake per probe.

use std::io;
use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timer::{Expiration, TimerSetTimeFlags};
use nix::sys::timerfd::{ClockId, TimerFd, TimerFlags};
use tokio::io::unix::AsyncFd;

pub struct PreciseTimer {
    fd: AsyncFd<Fd>,
}

/// `AsyncFd` wants `AsRawFd`, which nix's `TimerFd` does not implement (it has `AsFd`).
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl PreciseTimer {
    /// Must be called within the runtime.
    pub fn new() -> io::Result<PreciseTimer> {
        let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        // SAFETY: `Fd` owns the timerfd (an `OwnedFd` inside nix's `TimerFd`), so the descriptor
        // stays open and the same for as long as the `AsyncFd` that owns `Fd` lives.
        #[allow(unsafe_code)]
        let fd = unsafe { AsyncFd::register(Fd(timer)) }.map_err(io::Error::from)?;
        Ok(PreciseTimer { fd })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_at_the_deadline_and_not_before() {
        let timer = PreciseTimer::new().unwrap();
        for micros in [0, 150, 1_500, 20_000] {
            let deadline = Instant::now() + Duration::from_micros(micros);
            timer.sleep_until(deadline).await.unwrap();
            assert!(Instant::now() >= deadline);
        }
        // A cancelled sleep leaves no expiry behind for the next one.
        let early =
            tokio::time::timeout(Duration::from_millis(1), timer.sleep_until(Instant::now() + Duration::from_secs(5)));
        assert!(early.await.is_err());
        let deadline = Instant::now() + Duration::from_millis(20);
        timer.sleep_until(deadline).await.unwrap();
        assert!(Instant::now() >= deadline);
    }
}
