//! The timeline: ok and failed probe counts per slice of the run, by due time, with the mean and
//! maximum latency of the successful ones for the dashboard's chart.
//!
//! Slices are one second wide. Memory grows with the length of the run, not with the rate, and
//! stays bounded: past [`MAX_SLICES`] slices, neighbours are merged and the slice width doubles.

use std::time::Duration;

/// One day of one-second slices.
pub const MAX_SLICES: usize = 86_400;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slice {
    pub ok: u64,
    pub failed: u64,
    /// Sum and maximum of successful probes' latency, µs.
    pub latency_sum_us: u64,
    pub latency_max_us: u64,
}

impl Slice {
    fn merge(self, other: Slice) -> Slice {
        Slice {
            ok: self.ok + other.ok,
            failed: self.failed + other.failed,
            latency_sum_us: self.latency_sum_us + other.latency_sum_us,
            latency_max_us: self.latency_max_us.max(other.latency_max_us),
        }
    }

    /// Mean latency of the slice's successful probes.
    pub fn mean_latency(&self) -> Option<Duration> {
        (self.ok > 0).then(|| Duration::from_micros(self.latency_sum_us / self.ok))
    }
}

/// Slices kept over all URLs of a run (2 Mi slices, 64 MiB): with many URLs each gets its share,
/// so memory and the JSON report stay bounded by this, not by URLs × run length.
pub const ALL_SLICES: usize = 2 * 1024 * 1024;
/// The fewest slices a URL keeps, whatever the number of URLs: ten minutes at one a second.
pub const MIN_SLICES: usize = 600;

#[derive(Clone, Debug)]
pub struct Timeline {
    width_s: u64,
    slices: Vec<Slice>,
    /// Past this many slices, neighbours are merged.
    max_slices: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::for_one_of(1)
    }
}

impl Timeline {
    /// The timeline of one of `urls` URLs: [`MAX_SLICES`] slices, or its share of
    /// [`ALL_SLICES`] when that is fewer (at least [`MIN_SLICES`]).
    pub fn for_one_of(urls: usize) -> Timeline {
        let max_slices = (ALL_SLICES / urls.max(1)).clamp(MIN_SLICES, MAX_SLICES);
        Timeline { width_s: 1, slices: Vec::new(), max_slices }
    }

    /// Counts one probe due at `offset` from the start of the run: a success with its latency,
    /// or a failure.
    pub fn record(&mut self, offset: Duration, ok: Option<Duration>) {
        let mut index = (offset.as_secs() / self.width_s) as usize;
        while index >= self.max_slices {
            self.coarsen();
            index = (offset.as_secs() / self.width_s) as usize;
        }
        if self.slices.len() <= index {
            self.slices.resize(index + 1, Slice::default());
        }
        let slice = &mut self.slices[index];
        match ok {
            Some(latency) => {
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                slice.ok += 1;
                slice.latency_sum_us = slice.latency_sum_us.saturating_add(us);
                slice.latency_max_us = slice.latency_max_us.max(us);
            }
            None => slice.failed += 1,
        }
    }

    fn coarsen(&mut self) {
        self.slices =
            self.slices.chunks(2).map(|pair| pair.iter().fold(Slice::default(), |a, s| a.merge(*s))).collect();
        self.width_s *= 2;
    }

    /// A timeline of `slices` of `width_s` seconds each, as a saved report lists them (for
    /// judging the report again).
    pub fn from_slices(width_s: u64, slices: Vec<Slice>) -> Timeline {
        Timeline { width_s: width_s.max(1), slices, max_slices: MAX_SLICES }
    }

    /// Width of one slice in seconds: 1 unless the run outgrew its slices.
    pub fn width_s(&self) -> u64 {
        self.width_s
    }

    /// `(offset in seconds, counts)` for every slice from the start of the run.
    pub fn slices(&self) -> impl Iterator<Item = (u64, Slice)> + '_ {
        self.slices.iter().enumerate().map(|(i, s)| (i as u64 * self.width_s, *s))
    }

    /// The last `n` slices (fewer early in the run).
    pub fn last(&self, n: usize) -> &[Slice] {
        &self.slices[self.slices.len().saturating_sub(n)..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_second_by_due_time() {
        let mut t = Timeline::default();
        let ms = Duration::from_millis;
        t.record(ms(10), Some(ms(3)));
        t.record(ms(20), Some(ms(5)));
        t.record(ms(990), None);
        t.record(ms(2500), Some(ms(1)));
        let slices: Vec<_> = t.slices().collect();
        let first = Slice { ok: 2, failed: 1, latency_sum_us: 8000, latency_max_us: 5000 };
        let third = Slice { ok: 1, failed: 0, latency_sum_us: 1000, latency_max_us: 1000 };
        assert_eq!(slices, vec![(0, first), (1, Slice::default()), (2, third)]);
        assert_eq!(first.mean_latency(), Some(ms(4)));
        assert_eq!(t.last(2), &[Slice::default(), third]);
    }

    #[test]
    fn stays_bounded_on_long_runs() {
        let mut t = Timeline::default();
        t.record(Duration::ZERO, Some(Duration::from_millis(1)));
        t.record(Duration::from_secs(MAX_SLICES as u64 * 3), None);
        assert!(t.slices().count() <= MAX_SLICES);
        assert_eq!(t.width_s(), 4);
        let total: u64 = t.slices().map(|(_, s)| s.ok + s.failed).sum();
        assert_eq!(total, 2);
    }

    #[test]
    fn many_urls_share_the_slices() {
        assert_eq!(Timeline::for_one_of(1).max_slices, MAX_SLICES);
        assert_eq!(Timeline::for_one_of(2000).max_slices, ALL_SLICES / 2000);
        assert_eq!(Timeline::for_one_of(1_000_000).max_slices, MIN_SLICES);
        let mut t = Timeline::for_one_of(2000);
        t.record(Duration::from_secs(3 * 3600), None);
        assert!(t.slices().count() <= ALL_SLICES / 2000, "{}", t.slices().count());
        assert_eq!(t.width_s(), 16);
    }
}
