//! The recorder's histograms: how they are made and filled. A leaf of `analysis`, used by the
//! recorder, the wire figures, the phases and the snapshots alike.

use std::time::Duration;

use hdrhistogram::Histogram;

/// A latency histogram in microseconds, three significant digits. It grows to the largest value
/// it holds instead of being sized for an hour up front, which matters at thousands of URLs with
/// several histograms each.
pub fn latency() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2048, 3).expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// A histogram in microseconds at two significant digits, for figures where 1 % is precision
/// enough (how late blip sent a probe): an eighth of the memory of [`latency`].
pub fn coarse<C: hdrhistogram::Counter>() -> Histogram<C> {
    let mut h = Histogram::new_with_bounds(1, 256, 2).expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Records `us` in a histogram that grows to hold it (`saturating_record` would clamp it to the
/// histogram's current range instead).
pub fn record<C: hdrhistogram::Counter>(h: &mut Histogram<C>, us: u64) {
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// `d` in whole microseconds, at least 1 (a histogram's lowest value).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
