//! The scheduler: sends each URL's probes on a fixed, open-loop schedule.
//!
//! Probe `k` of URL `i` (of `n`) is due at `start + (k + i/n) / rate` and is sent then, whether
//! or not earlier probes have answered, so a stalled server can neither slow the schedule nor
//! hide failures. The URLs' schedules are staggered evenly across the interval: 2000 URLs at
//! 1/s are 2000 slots a second, one every 0.5 ms, not 2000 requests at once that would make the
//! last of them late.
//!
//! One task keeps the schedule for every URL and sleeps between slots on a [`PreciseTimer`],
//! not on tokio's timer, whose millisecond ticks would make every probe up to a millisecond late.
//! Above 10 000 slots/s, where slots are less than [`COALESCE`] apart, one wake sends every slot
//! due within that window, each at most that late.
//!
//! Probes run on long-lived workers, one task each, rather than on a task spawned per probe,
//! which would allocate and move a probe's whole future every time. Each target keeps a stack
//! of its idle workers; a slot goes to the one idle most recently, or, when none is idle, to a
//! new worker spawned at once, so no slot waits for a worker. A worker sends the probe, reports
//! its [`Sample`] on the engine's channel and goes back on the stack (or ends, when
//! [`MAX_IDLE`] already wait there). The channel closes once the schedule has ended and every
//! probe in flight has finished, which is how the consumer knows that nothing is lost: every
//! worker holds a sender, an idle one ends when the schedule does, and a busy one after its probe.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::engine::probe::Prober;
use crate::engine::sample::{ErrorKind, Outcome, Sample};
use crate::engine::timer::PreciseTimer;

/// When each slot is due.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub start: Instant,
    /// Probes per second of each URL.
    pub rate: f64,
    /// How many URLs share the schedule.
    pub urls: usize,
}

impl Schedule {
    /// Due time of slot `k` of the whole schedule (every URL's slots, in turn), computed from
    /// the start rather than from the previous slot, so rounding never accumulates into drift.
    pub fn due(&self, k: u64) -> Instant {
        self.start + Duration::from_secs_f64(k as f64 / (self.rate * self.urls.max(1) as f64))
    }

    /// The URL and its probe number that slot `k` belongs to.
    pub fn slot(&self, k: u64) -> (usize, u64) {
        let urls = self.urls.max(1) as u64;
        ((k % urls) as usize, k / urls)
    }

    /// How many probes of URL `target` the first `slots` slots hold.
    pub fn probes_of(&self, target: usize, slots: u64) -> u64 {
        let urls = self.urls.max(1) as u64;
        (slots + urls - 1 - target as u64 % urls) / urls
    }
}

/// How many slots the scheduler has sent so far; read when the run must stop without waiting
/// for the probes in flight, to count those as cancelled.
#[derive(Clone, Default)]
pub struct Dispatched(Arc<AtomicU64>);

impl Dispatched {
    pub fn slots(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// How many idle workers a target keeps; one that finds this many waiting ends instead, so a
/// burst of slow answers leaves no crowd of tasks behind.
pub const MAX_IDLE: usize = 64;

/// One target's share of the schedule: its prober, its probes in flight and its idle workers.
/// Shared by the scheduler and the target's workers.
struct Share {
    target: usize,
    prober: Prober,
    /// Probes sent and not yet finished; the scheduler alone adds to it, so a slot that finds
    /// it below the cap may send.
    busy: AtomicUsize,
    idle: Mutex<Idle>,
}

/// A target's idle workers, the most recently idle last.
#[derive(Default)]
struct Idle {
    workers: Vec<mpsc::UnboundedSender<Job>>,
    /// The schedule has ended: a worker that finishes its probe ends too.
    closed: bool,
}

/// A slot handed to a worker, with the worker's own sender, which it puts back on the idle
/// stack when it is done.
struct Job {
    seq: u64,
    due: Instant,
    back: mpsc::UnboundedSender<Job>,
}

impl Share {
    fn idle(&self) -> std::sync::MutexGuard<'_, Idle> {
        // Nothing can panic while the lock is held; a poisoned stack is still a valid one.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Lateness past which a slot is missed rather than sent, whatever the rate: a stall of blip's
/// own longer than this (a paused process, a frozen VM) is a gap in observation, never the
/// service's latency or downtime. Well above a busy machine's timer noise (a few ms), well below
/// any stall worth seeing.
pub const MISS_AFTER: Duration = Duration::from_millis(100);

/// How late a slot of a URL probed at `rate` may be sent: [`MISS_AFTER`], or one probe interval
/// where that is longer (at low rates a slot late by less than an interval still lands in its
/// own slice of time), and never past `timeout`, by which the probe would be over.
pub fn miss_after(rate: f64, timeout: Duration) -> Duration {
    let interval = if rate > 0.0 { Duration::try_from_secs_f64(1.0 / rate).unwrap_or(timeout) } else { timeout };
    MISS_AFTER.max(interval).min(timeout)
}

/// Starts the schedule. Slots due before the value of `end` (once it is set) are sent; the
/// schedule finishes at the first slot due at or after it. A slot that could not be sent within
/// `miss_after` of its due time (blip was stopped or starved) is missed, and so is every slot
/// due before blip got going again: no catch-up burst. Must be called within the runtime.
pub fn spawn(
    probers: Vec<Prober>,
    schedule: Schedule,
    concurrency: usize,
    miss_after: Duration,
    end: watch::Receiver<Option<Instant>>,
    samples: mpsc::UnboundedSender<Sample>,
) -> std::io::Result<Dispatched> {
    let shares: Vec<Arc<Share>> = probers
        .into_iter()
        .enumerate()
        .map(|(target, prober)| {
            Arc::new(Share { target, prober, busy: AtomicUsize::new(0), idle: Mutex::new(Idle::default()) })
        })
        .collect();
    let timer = PreciseTimer::new()?;
    let dispatched = Dispatched::default();
    let driven = dispatched.clone();
    tokio::spawn(async move {
        drive(timer, &shares, schedule, (concurrency, miss_after), end, &samples, driven).await;
        // Idle workers end once their senders are gone; busy ones when they next finish.
        for share in &shares {
            let mut idle = share.idle();
            idle.closed = true;
            idle.workers.clear();
        }
    });
    Ok(dispatched)
}

async fn drive(
    timer: PreciseTimer,
    shares: &[Arc<Share>],
    schedule: Schedule,
    (concurrency, miss_after): (usize, Duration),
    mut end: watch::Receiver<Option<Instant>>,
    samples: &mpsc::UnboundedSender<Sample>,
    dispatched: Dispatched,
) {
    let coalesce = coalescing(schedule.rate * shares.len() as f64);
    // Once blip finds itself more than `miss_after` behind, every slot due before that moment
    // is missed rather than sent in one burst: their answers could not be judged by their due
    // times, and the burst would meet the concurrency cap.
    let mut missed_until: Option<Instant> = None;
    for slot in 0.. {
        let due = schedule.due(slot);
        let wake = wake_for(due, Instant::now(), coalesce);
        loop {
            if end.borrow_and_update().is_some_and(|end| due >= end) {
                return;
            }
            tokio::select! {
                biased;
                changed = end.changed() => if changed.is_err() { return },
                slept = timer.sleep_until(wake) => {
                    if slept.is_err() {
                        // The timer failed (it should not); tokio's timer keeps the schedule.
                        tokio::time::sleep_until(due.into()).await;
                    }
                    break;
                }
            }
        }
        let (target, seq) = schedule.slot(slot);
        let now = Instant::now();
        if now.saturating_duration_since(due) > miss_after {
            missed_until = missed_until.max(Some(now));
        }
        if missed_until.is_some_and(|until| due < until) {
            let _ = samples.send(missed(target, seq, due, now));
        } else if let Some(share) = shares.get(target) {
            dispatch(share, seq, due, concurrency, samples);
        }
        dispatched.0.store(slot + 1, Ordering::Release);
    }
}

/// How late a slot may be sent so that one wake sends several, at rates whose interval is
/// shorter than this. Each wake of the scheduler costs a timer interrupt and a trip through the
/// reactor: at 30 000 probes/s this window took blip from 36–39 µs of CPU per probe to 29 µs.
pub const COALESCE: Duration = Duration::from_micros(100);

/// The lateness allowed at `rate`: [`COALESCE`] when slots come closer together than that,
/// else none, so at 10 000 slots/s or fewer every slot gets a wake of its own.
fn coalescing(rate: f64) -> Duration {
    if 1.0 / rate < COALESCE.as_secs_f64() { COALESCE } else { Duration::ZERO }
}

/// When to wake for a slot due at `due`. A slot already due is sent now; a later one at its due
/// time plus `coalesce`, and that wake sends every slot due by then.
fn wake_for(due: Instant, now: Instant, coalesce: Duration) -> Instant {
    if now >= due { due } else { due + coalesce }
}

/// Hands the slot to an idle worker of the target, or to a new one, or, at the cap on probes in
/// flight, reports it skipped.
/// The sample of a slot blip could not send in time: neither ok nor failed.
fn missed(target: usize, seq: u64, due: Instant, now: Instant) -> Sample {
    Sample {
        target,
        seq,
        due,
        sent: due,
        done: due,
        outcome: Outcome::Error {
            kind: ErrorKind::Missed,
            status: None,
            text: format!(
                "not sent: blip could run again only {} after it was due (stopped or starved)",
                crate::units::secs(now.saturating_duration_since(due))
            ),
        },
        resent: false,
        detail: Default::default(),
    }
}

fn dispatch(share: &Arc<Share>, seq: u64, due: Instant, concurrency: usize, samples: &mpsc::UnboundedSender<Sample>) {
    if share.busy.load(Ordering::Acquire) >= concurrency {
        let _ = samples.send(Sample {
            target: share.target,
            seq,
            due,
            sent: due,
            done: due,
            outcome: Outcome::Error {
                kind: ErrorKind::Skipped,
                status: None,
                // The cap's default is twice what the schedule needs; reaching it is either a
                // lower --concurrency or a machine too busy to end probes on time.
                text: format!(
                    "{concurrency} probes already in flight (raise --concurrency, or lower --rate if blip's send lag is high)"
                ),
            },
            resent: false,
            detail: Default::default(),
        });
        return;
    }
    share.busy.fetch_add(1, Ordering::AcqRel);
    loop {
        let Some(worker) = share.idle().workers.pop() else { break };
        let job = Job { seq, due, back: worker.clone() };
        // A worker's receiver is gone only if its task was torn down with the runtime.
        if worker.send(job).is_ok() {
            return;
        }
    }
    let (back, jobs) = mpsc::unbounded_channel();
    tokio::spawn(work(share.clone(), Job { seq, due, back }, jobs, samples.clone()));
}

/// A worker: sends the probe of each slot it is handed and reports its sample, until the
/// schedule ends or enough other workers are idle.
async fn work(
    share: Arc<Share>,
    mut job: Job,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    samples: mpsc::UnboundedSender<Sample>,
) {
    loop {
        let sample = share.prober.probe(share.target, job.seq, job.due).await;
        share.busy.fetch_sub(1, Ordering::AcqRel);
        // The receiver outlives every sender; a send error means the run was torn down.
        let _ = samples.send(sample);
        {
            let mut idle = share.idle();
            if idle.closed || idle.workers.len() >= MAX_IDLE {
                return;
            }
            idle.workers.push(job.back);
        }
        match jobs.recv().await {
            Some(next) => job = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_slot_is_missed_once_blip_is_a_tenth_of_a_second_or_an_interval_late() {
        let second = Duration::from_secs(1);
        assert_eq!(miss_after(50.0, second), MISS_AFTER);
        assert_eq!(miss_after(5.0, second), Duration::from_millis(200));
        assert_eq!(miss_after(0.5, second), second, "never past the timeout");
        assert_eq!(miss_after(1000.0, Duration::from_millis(20)), Duration::from_millis(20));
    }

    use super::*;

    #[test]
    fn due_times_do_not_drift() {
        let s = Schedule { start: Instant::now(), rate: 3.0, urls: 1 };
        assert_eq!(s.due(0), s.start);
        let d = s.due(3_000_000) - s.start;
        assert!(d.abs_diff(Duration::from_secs(1_000_000)) < Duration::from_micros(1), "{d:?}");
        let slow = Schedule { start: s.start, rate: 0.2, urls: 1 };
        assert_eq!(slow.due(1) - s.start, Duration::from_secs(5));
    }

    #[test]
    fn urls_take_turns_spread_across_the_interval() {
        let s = Schedule { start: Instant::now(), rate: 1.0, urls: 4 };
        let slots: Vec<_> = (0..6).map(|k| (s.slot(k), s.due(k) - s.start)).collect();
        let ms = Duration::from_millis;
        assert_eq!(
            slots,
            [
                ((0, 0), ms(0)),
                ((1, 0), ms(250)),
                ((2, 0), ms(500)),
                ((3, 0), ms(750)),
                ((0, 1), ms(1000)),
                ((1, 1), ms(1250))
            ]
        );
        // Request ids number a probe by its slot: the inverse of `slot`.
        for k in 0..100 {
            let (target, seq) = s.slot(k);
            assert_eq!(crate::engine::request::slot_number(target, seq, s.urls), k);
        }
        // After 6 slots: URLs 0 and 1 have had two probes, 2 and 3 one.
        assert_eq!((0..4).map(|t| s.probes_of(t, 6)).collect::<Vec<_>>(), [2, 2, 1, 1]);
        assert_eq!((0..4).map(|t| s.probes_of(t, 0)).collect::<Vec<_>>(), [0, 0, 0, 0]);
    }

    #[test]
    fn only_slots_closer_than_the_coalescing_window_share_a_wake() {
        assert_eq!(coalescing(1000.0), Duration::ZERO);
        assert_eq!(coalescing(10_000.0), Duration::ZERO);
        assert_eq!(coalescing(20_000.0), COALESCE);
        let now = Instant::now();
        let later = now + Duration::from_micros(30);
        assert_eq!(wake_for(later, now, Duration::ZERO), later);
        assert_eq!(wake_for(later, now, COALESCE), later + COALESCE);
        // A slot already due is never held back.
        assert_eq!(wake_for(now, later, COALESCE), now);
    }
}
