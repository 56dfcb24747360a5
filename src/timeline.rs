//! The timeline: ok and failed probe counts per slice of the run, by due time.
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
}

#[derive(Clone, Debug)]
pub struct Timeline {
    width_s: u64,
    slices: Vec<Slice>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline { width_s: 1, slices: Vec::new() }
    }
}

impl Timeline {
    /// Counts one probe due at `offset` from the start of the run.
    pub fn record(&mut self, offset: Duration, ok: bool) {
        let mut index = (offset.as_secs() / self.width_s) as usize;
        while index >= MAX_SLICES {
            self.coarsen();
            index = (offset.as_secs() / self.width_s) as usize;
        }
        if self.slices.len() <= index {
            self.slices.resize(index + 1, Slice::default());
        }
        let slice = &mut self.slices[index];
        if ok {
            slice.ok += 1;
        } else {
            slice.failed += 1;
        }
    }

    fn coarsen(&mut self) {
        self.slices = self
            .slices
            .chunks(2)
            .map(|pair| {
                pair.iter().fold(Slice::default(), |a, s| Slice { ok: a.ok + s.ok, failed: a.failed + s.failed })
            })
            .collect();
        self.width_s *= 2;
    }

    /// Width of one slice in seconds: 1 unless the run outgrew [`MAX_SLICES`].
    pub fn width_s(&self) -> u64 {
        self.width_s
    }

    /// `(offset in seconds, counts)` for every slice from the start of the run.
    pub fn slices(&self) -> impl Iterator<Item = (u64, Slice)> + '_ {
        self.slices.iter().enumerate().map(|(i, s)| (i as u64 * self.width_s, *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_second_by_due_time() {
        let mut t = Timeline::default();
        t.record(Duration::from_millis(10), true);
        t.record(Duration::from_millis(990), false);
        t.record(Duration::from_millis(2500), true);
        let slices: Vec<_> = t.slices().collect();
        assert_eq!(
            slices,
            vec![(0, Slice { ok: 1, failed: 1 }), (1, Slice::default()), (2, Slice { ok: 1, failed: 0 })]
        );
    }

    #[test]
    fn stays_bounded_on_long_runs() {
        let mut t = Timeline::default();
        t.record(Duration::ZERO, true);
        t.record(Duration::from_secs(MAX_SLICES as u64 * 3), false);
        assert!(t.slices().count() <= MAX_SLICES);
        assert_eq!(t.width_s(), 4);
        let total: u64 = t.slices().map(|(_, s)| s.ok + s.failed).sum();
        assert_eq!(total, 2);
    }
}
