//! The timeline: ok and failed probe counts per slice of the run, by due time, with the mean and
//! maximum latency of the successful ones for the dashboard's chart, and their p50 and p99 for the
//! report's.
//!
//! Slices are one second wide. Memory grows with the length of the run, not with the rate, and
//! stays bounded: past [`MAX_SLICES`] slices, neighbours are merged and the slice width doubles.
//! The quantiles come from a [`Buckets`] per slice: 32 bytes of fixed log buckets that merge as
//! slices do, where a list of latencies would grow with the rate and quantiles taken when a slice
//! closes could not be merged.

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

/// Slices kept over all URLs of a run (2 Mi slices, 128 MiB with their buckets): with many URLs each gets its share,
/// so memory and the JSON report stay bounded by this, not by URLs × run length.
pub const ALL_SLICES: usize = 2 * 1024 * 1024;
/// The fewest slices a URL keeps, whatever the number of URLs: ten minutes at one a second.
pub const MIN_SLICES: usize = 600;

#[derive(Clone, Debug)]
pub struct Timeline {
    width_s: u64,
    slices: Vec<Slice>,
    /// Latency of each slice's successful probes, beside `slices` (same index).
    buckets: Vec<Buckets>,
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
        Timeline { width_s: 1, slices: Vec::new(), buckets: Vec::new(), max_slices }
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
            self.buckets.resize(index + 1, Buckets::default());
        }
        let slice = &mut self.slices[index];
        match ok {
            Some(latency) => {
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.buckets[index].record(us);
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
        self.buckets =
            self.buckets.chunks(2).map(|pair| pair.iter().fold(Buckets::default(), |a, b| a.merge(b))).collect();
        self.width_s *= 2;
    }

    /// A timeline of `slices` of `width_s` seconds each, as a saved report lists them (for
    /// judging the report again).
    pub fn from_slices(width_s: u64, slices: Vec<Slice>) -> Timeline {
        // Per-slice latency is not judged by any gate, so a saved report's is not needed here.
        let buckets = vec![Buckets::default(); slices.len()];
        Timeline { width_s: width_s.max(1), slices, buckets, max_slices: MAX_SLICES }
    }

    /// Width of one slice in seconds: 1 unless the run outgrew its slices.
    pub fn width_s(&self) -> u64 {
        self.width_s
    }

    /// `(offset in seconds, counts)` for every slice from the start of the run.
    pub fn slices(&self) -> impl Iterator<Item = (u64, Slice)> + '_ {
        self.slices.iter().enumerate().map(|(i, s)| ((i as u64).saturating_mul(self.width_s), *s))
    }

    /// The p50 and p99 latency of each slice's successful probes, in the order of
    /// [`slices`](Self::slices); None for a slice without success. Estimates: see [`Buckets`].
    pub fn quantiles(&self) -> impl Iterator<Item = (Option<Duration>, Option<Duration>)> + '_ {
        self.slices.iter().zip(&self.buckets).map(|(s, b)| {
            let at = |q| b.quantile_us(q, s.latency_max_us).map(Duration::from_micros);
            (at(0.5), at(0.99))
        })
    }

    /// The last `n` slices (fewer early in the run).
    pub fn last(&self, n: usize) -> &[Slice] {
        &self.slices[self.slices.len().saturating_sub(n)..]
    }
}

/// Buckets per octave of latency.
const PER_OCTAVE: u32 = 2;
/// Upper bound of the lowest bucket, µs; the highest bucket holds everything above
/// `FIRST_US · 2^(BUCKETS / PER_OCTAVE - 1)` (4.2 s).
const FIRST_US: f64 = 128.0;
const BUCKETS: usize = 32;

/// The latency of one slice's successful probes as a log histogram small enough to keep per
/// slice: 32 one-byte buckets, two per octave, from 128 µs to 4.2 s and above. A bucket about to
/// pass 255 halves them all (rounding up, so a rare slow answer is never lost): the shape, which
/// is all the quantiles need, survives, while the counts live in [`Slice`]. A quantile is read
/// by interpolating within its bucket and capped at the slice's maximum, so it is within half a
/// bucket (±19 %) of the true value: enough to draw, not to gate on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buckets([u8; BUCKETS]);

impl Buckets {
    fn index(us: u64) -> usize {
        if (us as f64) <= FIRST_US {
            return 0;
        }
        let i = ((us as f64 / FIRST_US).log2() * f64::from(PER_OCTAVE)).ceil() as usize;
        i.min(BUCKETS - 1)
    }

    /// Upper bound of bucket `i`, µs.
    fn upper_us(i: usize) -> f64 {
        FIRST_US * 2f64.powf(i as f64 / f64::from(PER_OCTAVE))
    }

    fn record(&mut self, us: u64) {
        let i = Self::index(us);
        if self.0[i] == u8::MAX {
            self.halve();
        }
        self.0[i] += 1;
    }

    fn halve(&mut self) {
        for count in &mut self.0 {
            *count = count.div_ceil(2);
        }
    }

    fn merge(mut self, other: &Buckets) -> Buckets {
        let mut other = *other;
        while self.0.iter().zip(&other.0).any(|(a, b)| u16::from(*a) + u16::from(*b) > u16::from(u8::MAX)) {
            self.halve();
            other.halve();
        }
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
        self
    }

    /// The `q` quantile, µs, no higher than `max_us`; None when empty.
    fn quantile_us(&self, q: f64, max_us: u64) -> Option<u64> {
        let total: u64 = self.0.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0.0;
        for (i, &count) in self.0.iter().enumerate() {
            let count = f64::from(count);
            if count > 0.0 && below + count >= rank {
                let low = if i == 0 { 0.0 } else { Self::upper_us(i - 1) };
                let high = Self::upper_us(i).min(max_us as f64).max(low);
                let within = ((rank - below) / count).clamp(0.0, 1.0);
                return Some((low + (high - low) * within).round() as u64);
            }
            below += count;
        }
        Some(max_us)
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
    fn quantiles_per_slice_are_within_half_a_bucket() {
        let mut t = Timeline::default();
        let ms = Duration::from_millis;
        // Slice 0: 980 answers at 3 ms, 20 at 80 ms (enough to pass a bucket's 255 often).
        for i in 0..1000u64 {
            let latency = if i % 50 == 49 { ms(80) } else { ms(3) };
            t.record(Duration::from_micros(i * 900), Some(latency));
        }
        // Slice 1: failures only.
        t.record(ms(1500), None);
        let q: Vec<_> = t.quantiles().collect();
        let (p50, p99) = (q[0].0.unwrap().as_secs_f64() * 1e3, q[0].1.unwrap().as_secs_f64() * 1e3);
        assert!((3.0 / 1.19..=3.0 * 1.19).contains(&p50), "{p50}");
        assert!((80.0 / 1.19..=80.0).contains(&p99), "{p99}");
        assert_eq!(q[1], (None, None));
        // Merged slices keep their shape.
        t.record(Duration::from_secs(MAX_SLICES as u64 + 1), Some(ms(1)));
        let (p50, p99) = t.quantiles().next().unwrap();
        let (p50, p99) = (p50.unwrap().as_secs_f64() * 1e3, p99.unwrap().as_secs_f64() * 1e3);
        assert!((3.0 / 1.19..=3.0 * 1.19).contains(&p50), "{p50}");
        assert!((80.0 / 1.19..=80.0).contains(&p99), "{p99}");
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
