//! What live views show of the run, taken from the recorder at one instant: plain data, so a
//! consumer never holds the recorder itself.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::analysis::histogram::{self, record};
use crate::analysis::outage::Window;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Recorder;
use crate::analysis::timeline::Slice;
use crate::analysis::tracking::Cutover;
use crate::engine::detail::RequestPhase;
use crate::engine::sample::ErrorKind;

/// Seconds the dashboard's "last 10 s" latency covers.
pub const RECENT_S: u64 = 10;

/// Latency of the last [`RECENT_S`] seconds (by due time), as a ring of one-second histograms at
/// two significant digits: enough for a live view, small enough to keep ten of.
pub struct RecentLatency {
    slots: Vec<(u64, Histogram<u32>)>,
}

impl RecentLatency {
    pub fn new() -> RecentLatency {
        // Counts of one second fit a u32 at any rate blip allows.
        let slot = || (u64::MAX, histogram::coarse());
        RecentLatency { slots: (0..RECENT_S).map(|_| slot()).collect() }
    }

    pub fn record(&mut self, due: Duration, us: u64) {
        let second = due.as_secs();
        let (slot_second, histogram) = &mut self.slots[(second % RECENT_S) as usize];
        if *slot_second != second {
            if *slot_second != u64::MAX && *slot_second > second {
                return; // a late answer for a second the ring has moved past
            }
            histogram.reset();
            *slot_second = second;
        }
        record(histogram, us);
    }

    /// Quantiles over the slots within [`RECENT_S`] seconds of `now`.
    fn quantiles(&self, now: Duration) -> Option<Quantiles> {
        let now = now.as_secs();
        let mut merged: Option<Histogram<u32>> = None;
        for (second, h) in &self.slots {
            if *second != u64::MAX && *second + RECENT_S > now && !h.is_empty() {
                match merged.as_mut() {
                    Some(m) => {
                        let _ = m.add(h);
                    }
                    None => merged = Some(h.clone()),
                }
            }
        }
        merged.map(|h| Quantiles::of(&h))
    }
}

/// Latency quantiles for live views.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Quantiles {
    pub fn of<C: hdrhistogram::Counter>(h: &Histogram<C>) -> Quantiles {
        let at = |q: f64| Duration::from_micros(h.value_at_quantile(q));
        Quantiles { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Duration::from_micros(h.max()) }
    }
}

/// What the dashboard shows of one URL, taken at one instant.
#[derive(Clone, Debug)]
pub struct TargetDetail {
    pub url: String,
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    /// The window open now: its start and first error.
    pub down: Option<(Duration, String)>,
    /// When the state last changed (start of the open window, or end of the last closed one).
    pub since: Duration,
    /// Downtime so far, the open window counted up to its last failed probe.
    pub downtime: Duration,
    pub availability: f64,
    /// Slots due so far that have not reported yet.
    pub in_flight: u64,
    pub latency_recent: Option<Quantiles>,
    pub latency_all: Option<Quantiles>,
    pub send_lag_p99: Duration,
    pub status_counts: Vec<(u16, u64)>,
    pub error_counts: Vec<(ErrorKind, u64)>,
    /// The last closed windows, most recent last.
    pub windows: Vec<Window>,
    pub window_count: u64,
    /// The last one-second slices of the timeline, most recent last.
    pub slices: Vec<Slice>,
    /// The median of each request phase measured so far, in phase order.
    pub phases_p50: Vec<(RequestPhase, Duration)>,
    /// With a wrapped command that has started and a tracked value: who served before it and
    /// who after, with the deploy's start.
    pub cutover: Option<(Cutover, Duration)>,
}

/// What a UI shows of one URL while the run goes on; URLs come in the order of the run's URLs.
#[derive(Clone, Debug)]
pub struct TargetSnapshot {
    pub probes: u64,
    pub failed: u64,
    /// Start of the window open now, as an offset from the start of the run.
    pub down_since: Option<Duration>,
    /// Outage windows so far, the open one included.
    pub windows: u64,
    /// Downtime so far, the open window counted up to its last failed probe.
    pub downtime: Duration,
}

impl Recorder {
    /// Every URL's counts now, in the order of the URLs.
    pub fn snapshot(&self) -> Vec<TargetSnapshot> {
        self.targets
            .iter()
            .map(|t| TargetSnapshot {
                probes: t.probes,
                failed: t.failed,
                down_since: t.detector.current().map(|w| w.start),
                // The open window counts: "0 outages, DOWN for 1.5 s" would contradict itself.
                windows: t.detector.window_count() + u64::from(t.detector.current().is_some()),
                downtime: t.detector.downtime() + t.detector.current().map_or(Duration::ZERO, Window::duration),
            })
            .collect()
    }

    /// A detailed view of every URL for the dashboard: `now` is the time of the view,
    /// `due_until` the end of the schedule so far (now, or the end of the run if earlier), and
    /// `slices` how many timeline slices to return.
    pub fn detail(&self, now: Instant, due_until: Instant, slices: usize) -> Vec<TargetDetail> {
        let now = self.clock.offset(now);
        let due_until = self.clock.offset(due_until);
        let due = (due_until.as_secs_f64() * self.rate).floor() as u64 + 1;
        self.targets
            .iter()
            .map(|t| {
                let open = t.detector.current();
                let downtime = t.detector.downtime() + open.map_or(Duration::ZERO, Window::duration);
                let windows = t.detector.windows();
                let last_end = windows.last().map(|w| w.end);
                TargetDetail {
                    url: t.label.clone(),
                    probes: t.probes,
                    ok: t.ok,
                    failed: t.failed,
                    down: open.map(|w| (w.start, w.first_error.clone())),
                    since: open.map(|w| w.start).or(last_end).unwrap_or(Duration::ZERO),
                    downtime,
                    // A URL with no verdict yet has not been unavailable.
                    availability: crate::analysis::outage::availability(
                        downtime,
                        now.saturating_sub(t.first_due.unwrap_or(Duration::ZERO)),
                        t.ok > 0 || t.probes == 0,
                    ),
                    in_flight: due.saturating_sub(t.probes),
                    latency_recent: t.recent.as_ref().and_then(|r| r.quantiles(now)),
                    latency_all: (!t.latency.is_empty()).then(|| Quantiles::of(&t.latency)),
                    send_lag_p99: Duration::from_micros(t.send_lag.value_at_quantile(0.99)),
                    status_counts: t.status_counts.iter().map(|(c, n)| (*c, *n)).collect(),
                    error_counts: ErrorKind::ALL
                        .iter()
                        .filter(|k| t.error_counts[k.index()] > 0)
                        .map(|k| (*k, t.error_counts[k.index()]))
                        .collect(),
                    windows: windows[windows.len().saturating_sub(5)..].to_vec(),
                    window_count: t.detector.window_count(),
                    slices: t.timeline.last(slices).to_vec(),
                    phases_p50: RequestPhase::TIMED
                        .iter()
                        .filter_map(|&p| t.wire.phase(p).map(|h| (p, Duration::from_micros(h.value_at_quantile(0.5)))))
                        .collect(),
                    cutover: self.phases.start_of(Phase::Deploy).and_then(|start| {
                        let source = t.tracking.sources.first()?;
                        Some((source.cutover(start, t.detector.windows()), start))
                    }),
                }
            })
            .collect()
    }
}
