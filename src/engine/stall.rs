//! blip's own stalls: a stopped process (SIGSTOP, a paused CI runner), a frozen VM.
//!
//! A probe in flight across one cannot say when its answer came: the answer waited in the socket
//! while blip could not run, and its latency would be blip's pause. The scheduler sees a stall
//! only at its next slot, and at low rates not at all, so a heartbeat thread of its own keeps
//! the record: a beat that comes [`STALL`] late is a stall, and a probe whose exchange spans one
//! is missed, not the service's latency.

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A gap in blip's own running longer than this is a stall: the scheduler's rule for a slot
/// sent late ([`crate::engine::scheduler::MISS_AFTER`]), so one stall is one rule.
pub const STALL: Duration = crate::engine::scheduler::MISS_AFTER;

/// How often the heartbeat beats: fine beside [`STALL`], and a hundred wakes a second cost
/// nothing beside the probes.
const TICK: Duration = Duration::from_millis(10);

/// Stalls kept: a probe asks about its own exchange, at most `--timeout` ago, so only the last
/// few matter.
const KEPT: usize = 64;

/// Bound on waiting for the beat that follows an exchange: a heartbeat that does not come in
/// this long is itself stalled, and what it recorded so far is all there is.
const BEAT_WAIT: Duration = Duration::from_millis(250);

/// The process's record of its stalls, fed by one heartbeat thread.
pub struct StallWatch {
    stalls: Mutex<VecDeque<(Instant, Instant)>>,
    beat: watch::Sender<Instant>,
}

/// The process's stall watch, its heartbeat started on first use; `None` where the thread could
/// not be started (a thread limit): probes are then judged as they are.
pub fn watch() -> Option<&'static StallWatch> {
    static WATCH: OnceLock<Option<&'static StallWatch>> = OnceLock::new();
    *WATCH.get_or_init(|| {
        let watch: &'static StallWatch = Box::leak(Box::new(StallWatch {
            stalls: Mutex::new(VecDeque::with_capacity(KEPT)),
            beat: watch::Sender::new(Instant::now()),
        }));
        std::thread::Builder::new().name("blip-stall-watch".into()).spawn(move || watch.beat()).ok().map(|_| watch)
    })
}

impl StallWatch {
    /// The heartbeat: records every gap between beats longer than [`STALL`].
    fn beat(&self) {
        let mut last = Instant::now();
        loop {
            std::thread::sleep(TICK);
            let now = Instant::now();
            if let Some(stall) = stall(last, now) {
                let mut stalls = self.stalls.lock().unwrap_or_else(PoisonError::into_inner);
                if stalls.len() == KEPT {
                    stalls.pop_front();
                }
                stalls.push_back(stall);
            }
            self.beat.send_replace(now);
            last = now;
        }
    }

    /// The longest stall of blip's within an exchange from `sent` to `done`, once the heartbeat
    /// has beaten past `done` (so a stall that ended just before is recorded). Only an exchange
    /// longer than [`STALL`] can hold one; a shorter one returns at once. A stall is recorded
    /// from the beat before it, so its ends are a beat or so wide: an exchange holds it when it
    /// overlaps more than half of [`STALL`], and one sent just after blip resumed does not.
    pub async fn within(&self, sent: Instant, done: Instant) -> Option<Duration> {
        if done.saturating_duration_since(sent) <= STALL {
            return None;
        }
        let mut beats = self.beat.subscribe();
        let _ = tokio::time::timeout(BEAT_WAIT, beats.wait_for(|beat| *beat >= done)).await;
        let stalls = self.stalls.lock().unwrap_or_else(PoisonError::into_inner);
        longest_within(stalls.iter().copied(), sent, done)
    }
}

/// The stall between beats at `last` and `now`, if the gap is longer than [`STALL`].
fn stall(last: Instant, now: Instant) -> Option<(Instant, Instant)> {
    (now.saturating_duration_since(last) > STALL).then_some((last, now))
}

/// The longest overlap of `stalls` with the span from `sent` to `done`, if it is more than half
/// of [`STALL`].
fn longest_within(stalls: impl Iterator<Item = (Instant, Instant)>, sent: Instant, done: Instant) -> Option<Duration> {
    stalls
        .map(|(from, to)| to.min(done).saturating_duration_since(from.max(sent)))
        .max()
        .filter(|&overlap| overlap > STALL / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn only_a_gap_longer_than_a_stall_is_one() {
        let t = Instant::now();
        assert_eq!(stall(t, t + STALL), None);
        assert_eq!(stall(t, t + TICK + 3 * MS), None, "a late beat on a busy machine");
        assert_eq!(stall(t, t + STALL + MS), Some((t, t + STALL + MS)));
    }

    #[test]
    fn an_exchange_holds_the_stalls_it_overlaps() {
        let t = Instant::now();
        let stalls = [(t + 100 * MS, t + 700 * MS), (t + 2000 * MS, t + 2150 * MS)];
        let within = |sent, done| longest_within(stalls.iter().copied(), t + sent * MS, t + done * MS);
        assert_eq!(within(90, 702), Some(600 * MS), "sent before the stop, answered at the resume");
        assert_eq!(within(690, 900), None, "sent as blip resumed, before the heartbeat woke");
        assert_eq!(within(600, 900), Some(100 * MS), "only what overlaps counts");
        assert_eq!(within(0, 1900), Some(600 * MS), "the longest of them");
        assert_eq!(within(0, 2100), Some(600 * MS));
        assert_eq!(within(700, 2000), None, "between stalls");
    }

    #[tokio::test]
    async fn a_short_exchange_never_waits_for_the_heartbeat() {
        let watch = watch().expect("the heartbeat starts");
        let now = Instant::now();
        // Due a beat in the future that has not come: only a long exchange would wait for it.
        let started = Instant::now();
        assert_eq!(watch.within(now, now + STALL).await, None);
        assert!(started.elapsed() < BEAT_WAIT);
    }
}
