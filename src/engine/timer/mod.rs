//! A precise sleep for the scheduler.
//!
//! tokio's own timer wheel ticks once a millisecond, so every deadline is rounded up to the next
//! tick: at 1000 probes/s that is a whole probe interval of send lag. Two timers do better:
//! [`timerfd`] on Linux, woken by the reactor itself, and [`thread`] everywhere else, a thread
//! that sleeps with the platform's own high-resolution sleep. Linux runs the second one too when
//! [`crate::platform::portable`] asks for it, so the timer macOS and Windows run is tested on
//! every commit.

mod thread;
#[cfg(target_os = "linux")]
mod timerfd;

use std::io;
use std::time::Instant;

/// The scheduler's timer: one sleep at a time.
pub enum PreciseTimer {
    #[cfg(target_os = "linux")]
    Timerfd(timerfd::Timerfd),
    Thread(thread::ThreadTimer),
}

impl PreciseTimer {
    /// The platform's best timer. Must be called within the runtime.
    pub fn new() -> io::Result<PreciseTimer> {
        #[cfg(target_os = "linux")]
        if !crate::platform::portable() {
            return timerfd::Timerfd::new().map(PreciseTimer::Timerfd);
        }
        thread::ThreadTimer::new().map(PreciseTimer::Thread)
    }

    /// Waits until `deadline`. Cancel-safe: a sleep dropped early leaves nothing behind that a
    /// later one would mistake for its own expiry.
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            PreciseTimer::Timerfd(timer) => timer.sleep_until(deadline).await,
            PreciseTimer::Thread(timer) => timer.sleep_until(deadline).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Both timers where both exist: each wakes at its deadline and not before, and a cancelled
    /// sleep leaves no expiry behind for the next one.
    fn timers() -> Vec<PreciseTimer> {
        let mut timers = vec![PreciseTimer::Thread(thread::ThreadTimer::new().unwrap())];
        #[cfg(target_os = "linux")]
        timers.push(PreciseTimer::Timerfd(timerfd::Timerfd::new().unwrap()));
        timers
    }

    #[tokio::test]
    async fn wakes_at_the_deadline_and_not_before() {
        for timer in timers() {
            for micros in [0, 150, 1_500, 20_000] {
                let deadline = Instant::now() + Duration::from_micros(micros);
                timer.sleep_until(deadline).await.unwrap();
                assert!(Instant::now() >= deadline);
            }
            let early = tokio::time::timeout(
                Duration::from_millis(1),
                timer.sleep_until(Instant::now() + Duration::from_secs(5)),
            );
            assert!(early.await.is_err());
            let started = Instant::now();
            let deadline = started + Duration::from_millis(20);
            timer.sleep_until(deadline).await.unwrap();
            assert!(Instant::now() >= deadline);
            // Not held up by the cancelled five seconds.
            assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        }
    }
}
