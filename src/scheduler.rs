//! The scheduler: sends each URL's probes on a fixed, open-loop schedule.
//!
//! Probe `k` of a URL is due at `start + k / rate` and is sent then, whether or not earlier
//! probes have answered, so a stalled server can neither slow the schedule nor hide failures.
//!
//! The timing runs on a thread of its own rather than on tokio's timer, whose wheel ticks once a
//! millisecond: a millisecond of send lag is a whole probe interval at 1000 probes/s. The thread
//! sleeps to each due time with the kernel's timer slack lowered to a microsecond, then hands
//! every URL's slot to the runtime in one batch. Each probe runs in its own task and reports one
//! [`Sample`] on the engine's channel. The channel closes once the schedule has ended and every
//! probe in flight has finished, which is how the consumer knows that nothing is lost.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::probe::Prober;
use crate::sample::{ErrorKind, Outcome, Sample};

/// When each slot is due.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub start: Instant,
    pub rate: f64,
}

impl Schedule {
    /// Due time of slot `k`, computed from the start rather than from the previous slot, so
    /// rounding never accumulates into drift.
    pub fn due(&self, k: u64) -> Instant {
        self.start + Duration::from_secs_f64(k as f64 / self.rate)
    }
}

/// One URL's share of the schedule: its prober and its cap on probes in flight.
struct Lane {
    prober: Prober,
    cap: Arc<Semaphore>,
}

/// Starts the schedule. Slots due before the value of `end` (once it is set) are sent; the
/// schedule finishes at the first slot due at or after it. Must be called within the runtime.
pub fn spawn(
    probers: Vec<Prober>,
    schedule: Schedule,
    concurrency: usize,
    mut end: watch::Receiver<Option<Instant>>,
    samples: mpsc::UnboundedSender<Sample>,
) -> std::io::Result<()> {
    let lanes: Vec<Lane> =
        probers.into_iter().map(|prober| Lane { prober, cap: Arc::new(Semaphore::new(concurrency)) }).collect();
    let first_end = *end.borrow_and_update();
    // The timing thread cannot await the watch channel, so changes of the end are forwarded to
    // it; the forwarder ends, and so the thread, when the run drops the sender.
    let (end_tx, end_rx) = std::sync::mpsc::channel();
    tokio::spawn(async move {
        while end.changed().await.is_ok() {
            if end_tx.send(*end.borrow_and_update()).is_err() {
                return;
            }
        }
    });
    let runtime = Handle::current();
    std::thread::Builder::new()
        .name("blip-scheduler".into())
        .spawn(move || drive(&runtime, &lanes, schedule, concurrency, first_end, &end_rx, &samples))?;
    Ok(())
}

fn drive(
    runtime: &Handle,
    lanes: &[Lane],
    schedule: Schedule,
    concurrency: usize,
    mut end: Option<Instant>,
    end_changes: &Receiver<Option<Instant>>,
    samples: &mpsc::UnboundedSender<Sample>,
) {
    // Best effort: without it the kernel may let each sleep run 50 µs long.
    let _ = nix::sys::prctl::set_timerslack(1_000);
    for seq in 0.. {
        let due = schedule.due(seq);
        loop {
            if end.is_some_and(|end| due >= end) {
                return;
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            match end_changes.recv_timeout(due - now) {
                Ok(changed) => end = changed,
                Err(RecvTimeoutError::Timeout) => {}
                // The run is over without an end being set: nothing more is due.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        // Every URL shares the schedule, so one wake dispatches the slot for all of them.
        for (target, lane) in lanes.iter().enumerate() {
            dispatch(runtime, lane, target, seq, due, concurrency, samples);
        }
    }
}

fn dispatch(
    runtime: &Handle,
    lane: &Lane,
    target: usize,
    seq: u64,
    due: Instant,
    concurrency: usize,
    samples: &mpsc::UnboundedSender<Sample>,
) {
    match lane.cap.clone().try_acquire_owned() {
        Ok(permit) => {
            let prober = lane.prober.clone();
            let samples = samples.clone();
            runtime.spawn(async move {
                let sample = prober.probe(target, seq, due).await;
                drop(permit);
                // The receiver outlives every sender; a send error means the run was torn down.
                let _ = samples.send(sample);
            });
        }
        Err(_) => {
            let _ = samples.send(Sample {
                target,
                seq,
                due,
                sent: due,
                done: due,
                outcome: Outcome::Error {
                    kind: ErrorKind::Skipped,
                    status: None,
                    text: format!("{concurrency} probes already in flight (raise --concurrency)"),
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_do_not_drift() {
        let s = Schedule { start: Instant::now(), rate: 3.0 };
        assert_eq!(s.due(0), s.start);
        let d = s.due(3_000_000) - s.start;
        assert!(d.abs_diff(Duration::from_secs(1_000_000)) < Duration::from_micros(1), "{d:?}");
        let slow = Schedule { start: s.start, rate: 0.2 };
        assert_eq!(slow.due(1) - s.start, Duration::from_secs(5));
    }
}
