//! Who answered: per URL and per tracked value (`--track-header`, `--track-body`), how many
//! probes each distinct value answered, when it was first and last seen, and a count per second;
//! and, around a wrapped deploy, the cutover from the value that answered before it to the new
//! ones.
//!
//! Values come from servers and are bounded here as everything else is: the first
//! [`MAX_VALUES`] distinct values are counted apart, the rest together as `other`, and each
//! value's per-second counts coarsen past [`MAX_SLICES`] slices as the timeline does.

use std::time::Duration;

use crate::analysis::outage::Window;
use crate::analysis::timeline::MAX_SLICES;

/// Distinct values counted apart per tracked source.
pub const MAX_VALUES: usize = 64;

/// One URL's tracked sources, in the order of `Track::names`.
#[derive(Debug, Default)]
pub struct Tracking {
    pub sources: Vec<Source>,
}

/// One tracked header or body pattern and the values it took.
#[derive(Debug)]
pub struct Source {
    /// `header x-app-version`, `body <regex>`.
    pub name: String,
    /// In the order they first answered.
    pub values: Vec<ValueStats>,
    /// Answers with a value past the first [`MAX_VALUES`].
    pub other: Counted,
    /// Answers that did not carry the value.
    pub missing: Counted,
}

/// Probes and failed probes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub probes: u64,
    pub failed: u64,
}

/// One distinct value: its counts, when it was seen (due times from the start of the run), and
/// how many answers carried it per slice of the run.
#[derive(Debug)]
pub struct ValueStats {
    pub value: String,
    pub counted: Counted,
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// First and last successful probe that carried it: when it served.
    pub first_ok: Option<Duration>,
    pub last_ok: Option<Duration>,
    pub per_slice: SliceCounts,
}

/// Answers per slice of the run, kept from the first slice the value was seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceCounts {
    width_s: u64,
    /// Slice index of `counts[0]`.
    first: u64,
    counts: Vec<u64>,
}

impl SliceCounts {
    fn new(at: Duration) -> SliceCounts {
        SliceCounts { width_s: 1, first: at.as_secs(), counts: Vec::new() }
    }

    fn add(&mut self, at: Duration) {
        let mut index = at.as_secs() / self.width_s;
        if index < self.first {
            // A probe that finished after later ones but was due earlier than any seen yet.
            let before = usize::try_from(self.first - index).unwrap_or(usize::MAX);
            self.counts.splice(0..0, std::iter::repeat_n(0, before));
            self.first = index;
        }
        while index - self.first >= MAX_SLICES as u64 {
            self.coarsen();
            index = at.as_secs() / self.width_s;
        }
        let i = (index - self.first) as usize;
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
    }

    fn coarsen(&mut self) {
        // Keep slices aligned on the wider width: an odd first slice starts a pair of its own.
        let mut counts = if self.first % 2 == 1 { vec![0] } else { Vec::new() };
        counts.extend(&self.counts);
        self.counts = counts.chunks(2).map(|pair| pair.iter().sum()).collect();
        self.first /= 2;
        self.width_s *= 2;
    }

    /// Width of a slice in seconds.
    pub fn width_s(&self) -> u64 {
        self.width_s
    }

    /// `(offset in seconds, answers)` for every slice with answers.
    pub fn slices(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| ((self.first + i as u64) * self.width_s, *n))
    }
}

impl Tracking {
    /// Tracking of the sources `names`.
    pub fn new(names: &[String]) -> Tracking {
        let sources = names
            .iter()
            .map(|name| Source {
                name: name.clone(),
                values: Vec::new(),
                other: Counted::default(),
                missing: Counted::default(),
            })
            .collect();
        Tracking { sources }
    }

    /// Takes the values one answer carried (`tracked`, one per source), due at `due`.
    pub fn record(&mut self, due: Duration, tracked: &[Option<String>], ok: bool) {
        for (source, value) in self.sources.iter_mut().zip(tracked) {
            source.record(due, value.as_deref(), ok);
        }
    }
}

impl Source {
    fn record(&mut self, due: Duration, value: Option<&str>, ok: bool) {
        let count = |c: &mut Counted| {
            c.probes += 1;
            c.failed += u64::from(!ok);
        };
        let Some(value) = value else {
            count(&mut self.missing);
            return;
        };
        let stats = match self.values.iter().position(|v| v.value == value) {
            Some(i) => &mut self.values[i],
            None if self.values.len() < MAX_VALUES => {
                self.values.push(ValueStats {
                    value: value.to_string(),
                    counted: Counted::default(),
                    first_seen: due,
                    last_seen: due,
                    first_ok: None,
                    last_ok: None,
                    per_slice: SliceCounts::new(due),
                });
                self.values.last_mut().expect("just pushed")
            }
            None => {
                count(&mut self.other);
                return;
            }
        };
        count(&mut stats.counted);
        stats.first_seen = stats.first_seen.min(due);
        stats.last_seen = stats.last_seen.max(due);
        if ok {
            stats.first_ok = Some(stats.first_ok.map_or(due, |f| f.min(due)));
            stats.last_ok = Some(stats.last_ok.map_or(due, |l| l.max(due)));
        }
        stats.per_slice.add(due);
    }

    /// The cutover around a deploy that started at `deploy_start`: the values that served before
    /// it and when each last served, the values that first served after it and when, and the
    /// failed probes between the last old and the first new answer, from the URL's outage
    /// `windows` (a failure between two answers lies in a window between them).
    pub fn cutover(&self, deploy_start: Duration, windows: &[Window]) -> Cutover {
        let mut old: Vec<(String, Duration)> = Vec::new();
        let mut new: Vec<(String, Duration)> = Vec::new();
        for v in &self.values {
            match (v.first_ok, v.last_ok) {
                (Some(first), Some(last)) if first < deploy_start => old.push((v.value.clone(), last)),
                (Some(first), _) => new.push((v.value.clone(), first)),
                _ => {}
            }
        }
        let old_last = old.iter().map(|(_, at)| *at).max();
        let new_first = new.iter().map(|(_, at)| *at).min();
        let failed_between = match (old_last, new_first) {
            (Some(from), Some(to)) if from < to => {
                // A closed window ends at the probe that closed it: the first new answer, at most.
                windows.iter().filter(|w| w.start > from && w.end <= to).map(|w| w.failed_probes).sum()
            }
            _ => 0,
        };
        Cutover { old, new, failed_between }
    }
}

/// A tracked value as `--expect-new` judges it: due times from the start of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub value: String,
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// The first successful probe that carried it: when it first served.
    pub first_ok: Option<Duration>,
}

/// One tracked source as `--expect-new` judges it, built alike from a run's [`Source`] and from
/// a saved report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenSource {
    /// `header x-app-version`, `body <regex>`.
    pub name: String,
    pub values: Vec<Seen>,
    /// Answers with a value past the first [`MAX_VALUES`], whose times are not kept.
    pub other: u64,
}

impl Source {
    /// The source as `--expect-new` judges it.
    pub fn seen(&self) -> SeenSource {
        SeenSource {
            name: self.name.clone(),
            values: self
                .values
                .iter()
                .map(|v| Seen {
                    value: v.value.clone(),
                    first_seen: v.first_seen,
                    last_seen: v.last_seen,
                    first_ok: v.first_ok,
                })
                .collect(),
            other: self.other.probes,
        }
    }
}

impl SeenSource {
    /// Values first seen at or after `deploy_start` that served: what the deploy brought. A value
    /// the warmup saw, even failing, is not new.
    pub fn new_values(&self, deploy_start: Duration) -> impl Iterator<Item = &Seen> {
        self.values.iter().filter(move |v| v.first_seen >= deploy_start && v.first_ok.is_some())
    }

    /// Values the warmup saw that still answered at or after `after`.
    pub fn lingering(&self, deploy_start: Duration, after: Duration) -> impl Iterator<Item = &Seen> {
        self.values.iter().filter(move |v| v.first_seen < deploy_start && v.last_seen >= after)
    }

    /// Values the warmup saw.
    pub fn old_values(&self, deploy_start: Duration) -> impl Iterator<Item = &Seen> {
        self.values.iter().filter(move |v| v.first_seen < deploy_start)
    }
}

/// Who served before a deploy and who after: due times from the start of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cutover {
    /// Values that served before the deploy, with their last successful answer.
    pub old: Vec<(String, Duration)>,
    /// Values first served after the deploy started, with their first successful answer.
    pub new: Vec<(String, Duration)>,
    /// Probes that failed between the last old answer and the first new one.
    pub failed_between: u64,
}

/// How the old values gave way to the new ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handover {
    /// Old and new both served for this long: old → both → new.
    Overlap(Duration),
    /// Neither served for this long, and probes between failed: old → nothing → new.
    Gap(Duration),
    /// The last old and the first new answer were this far apart and no probe between them
    /// failed: a clean switch between two probes, not a hole.
    Switch(Duration),
}

impl Cutover {
    /// The last answer of any old value and the first of any new one, and how they relate; `None`
    /// without both.
    pub fn handover(&self) -> Option<Handover> {
        let old_last = self.old.iter().map(|(_, at)| *at).max()?;
        let new_first = self.new.iter().map(|(_, at)| *at).min()?;
        Some(if old_last >= new_first {
            Handover::Overlap(old_last - new_first)
        } else if self.failed_between > 0 {
            Handover::Gap(new_first - old_last)
        } else {
            Handover::Switch(new_first - old_last)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn feed(answers: &[(u64, &str, bool)]) -> Source {
        let mut t = Tracking::new(&["header x-app-version".into()]);
        for (at, value, ok) in answers {
            let value = (!value.is_empty()).then(|| value.to_string());
            t.record(MS * *at as u32, &[value], *ok);
        }
        t.sources.pop().unwrap()
    }

    #[test]
    fn blue_green_overlaps_and_a_restart_leaves_a_gap() {
        let blue_green =
            feed(&[(0, "v1", true), (1000, "v1", true), (1500, "v2", true), (1600, "v1", true), (1700, "v2", true)]);
        let c = blue_green.cutover(MS * 500, &[]);
        assert_eq!(c.old, [("v1".to_string(), MS * 1600)]);
        assert_eq!(c.new, [("v2".to_string(), MS * 1500)]);
        assert_eq!(c.handover(), Some(Handover::Overlap(MS * 100)));

        let restart =
            feed(&[(0, "v1", true), (1000, "v1", true), (1100, "", false), (1200, "v2", false), (1300, "v2", true)]);
        let hole = Window {
            start: MS * 1100,
            end: MS * 1200,
            failed_probes: 2,
            causes: Default::default(),
            first_cause: crate::engine::sample::Cause::Status(503),
            first_error: String::new(),
            first_seq: 0,
            last_seq: 0,
            open: false,
            failed_in: Default::default(),
        };
        let c = restart.cutover(MS * 500, std::slice::from_ref(&hole));
        assert_eq!(c.handover(), Some(Handover::Gap(MS * 300)), "a failed answer from v2 is not serving");
        assert_eq!(c.failed_between, 2);
        // The same answers with no failure between them (a window elsewhere): a clean switch.
        let switch = feed(&[(0, "v1", true), (1000, "v1", true), (1010, "v2", true)]);
        let c = switch.cutover(MS * 500, std::slice::from_ref(&hole));
        assert_eq!((c.handover(), c.failed_between), (Some(Handover::Switch(MS * 10)), 0));
        assert_eq!(restart.missing, Counted { probes: 1, failed: 1 });
        assert_eq!(restart.values[1].counted, Counted { probes: 2, failed: 1 });
        assert_eq!(restart.values[1].first_seen, MS * 1200);

        let unchanged = feed(&[(0, "v1", true), (1000, "v1", true)]);
        assert_eq!(unchanged.cutover(MS * 500, &[]).handover(), None);
    }

    #[test]
    fn new_values_are_those_the_warmup_never_saw_and_that_served() {
        // v0 failed in the warmup and served later: seen before, so not new; v3 never served.
        let source = feed(&[
            (0, "v1", true),
            (100, "v0", false),
            (900, "v1", true),
            (1200, "v0", true),
            (1500, "v2", true),
            (1600, "v3", false),
            (3000, "v1", true),
        ])
        .seen();
        let deploy = MS * 500;
        let new: Vec<&str> = source.new_values(deploy).map(|v| v.value.as_str()).collect();
        assert_eq!(new, ["v2"]);
        let old: Vec<&str> = source.old_values(deploy).map(|v| v.value.as_str()).collect();
        assert_eq!(old, ["v1", "v0"]);
        let lingering: Vec<&str> = source.lingering(deploy, MS * 2000).map(|v| v.value.as_str()).collect();
        assert_eq!(lingering, ["v1"], "v1 answered at +3 s, after +2 s");
        assert_eq!(source.lingering(deploy, MS * 3001).count(), 0);
    }

    #[test]
    fn values_and_slices_are_bounded() {
        let mut t = Tracking::new(&["body x".into()]);
        for i in 0..(MAX_VALUES as u64 + 5) {
            t.record(Duration::from_secs(i), &[Some(format!("v{i}"))], true);
        }
        let s = &t.sources[0];
        assert_eq!(s.values.len(), MAX_VALUES);
        assert_eq!(s.other, Counted { probes: 5, failed: 0 });

        let mut counts = SliceCounts::new(Duration::from_secs(3));
        counts.add(Duration::from_secs(3));
        counts.add(Duration::from_millis(2500));
        counts.add(Duration::from_secs(5));
        assert_eq!(counts.slices().collect::<Vec<_>>(), [(2, 1), (3, 1), (5, 1)]);
        counts.add(Duration::from_secs(3 * MAX_SLICES as u64));
        assert!(counts.counts.len() <= MAX_SLICES && counts.width_s() == 4, "{}", counts.width_s());
        assert_eq!(counts.slices().map(|(_, n)| n).sum::<u64>(), 4);
        assert_eq!(counts.slices().collect::<Vec<_>>(), [(0, 2), (4, 1), (3 * MAX_SLICES as u64, 1)]);
    }
}
