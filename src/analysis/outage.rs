//! The outage detector: turns one URL's probe results (observations) into outage windows.
//!
//! Probes complete out of order (a stalled probe answers after the ones sent behind it), so the
//! detector first puts observations back in schedule order with a reorder buffer keyed by sequence
//! number. The buffer holds only probes that finished ahead of an earlier one still in flight, so
//! it is bounded by `rate × timeout`. Times are offsets from the start of the run, which keeps the
//! detector a pure function of its inputs.
//!
//! A window opens at the due time of the first failed probe of a streak once `--min-failures`
//! consecutive probes have failed, and closes at the due time of the next successful probe.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::detail::RequestPhase;
use crate::engine::sample::Cause;

/// Windows kept in detail per URL; a flapping service opens a window per probe, and memory must
/// stay flat. Further windows still count in the totals.
pub const MAX_WINDOWS: usize = 1000;

/// One probe's result as the detector needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub seq: u64,
    /// Due time, from the start of the run.
    pub due: Duration,
    /// `None` for a success.
    pub failure: Option<ProbeFailure>,
    /// blip could not observe the slot (a local error, a slot missed during a pause): it takes
    /// its place in the order, and neither opens nor closes a window.
    pub unobserved: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFailure {
    pub cause: Cause,
    pub text: String,
    /// The request phase it failed in; `None` for a slot never sent.
    pub failed_in: Option<RequestPhase>,
}

/// A span of time during which the URL was down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Duration,
    pub end: Duration,
    pub failed_probes: u64,
    pub causes: BTreeMap<Cause, u64>,
    /// Cause and text of the window's first failed probe.
    pub first_cause: Cause,
    pub first_error: String,
    /// Slot numbers of the window's first and last failed probes, which name their request ids.
    pub first_seq: u64,
    pub last_seq: u64,
    /// The run ended while the window was still open; `end` is the end of the run.
    pub open: bool,
    /// Failed probes per request phase they failed in, in [`RequestPhase::ALL`] order.
    pub failed_in: [u64; RequestPhase::ALL.len()],
}

impl Window {
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// A change of state, in schedule order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// A window opened at `start`; `first_error` describes its first failed probe, which was
    /// slot `first_seq`.
    Down { start: Duration, cause: Cause, first_error: String, first_seq: u64 },
    /// A window closed.
    Up(Window),
}

/// Tracks streaks of failures and the windows they open, for one URL.
#[derive(Debug)]
pub struct OutageDetector {
    min_failures: u64,
    next_seq: u64,
    pending: BTreeMap<u64, Observation>,
    /// The current run of consecutive failures, which is a window once it is long enough.
    streak: Option<Window>,
    windows: Vec<Window>,
    window_count: u64,
    downtime: Duration,
}

impl OutageDetector {
    pub fn new(min_failures: u32) -> OutageDetector {
        OutageDetector {
            min_failures: u64::from(min_failures.max(1)),
            next_seq: 0,
            pending: BTreeMap::new(),
            streak: None,
            windows: Vec::new(),
            window_count: 0,
            downtime: Duration::ZERO,
        }
    }

    /// Takes one verdict, in any order, and returns the transitions it completes, in order.
    pub fn observe(&mut self, verdict: Observation) -> Vec<Transition> {
        let mut transitions = Vec::new();
        if verdict.seq < self.next_seq {
            return transitions; // a duplicate; every slot has exactly one verdict
        }
        self.pending.insert(verdict.seq, verdict);
        while let Some(next) = self.pending.remove(&self.next_seq) {
            self.next_seq += 1;
            self.step(next, &mut transitions);
        }
        transitions
    }

    /// Ends the run at `end`: verdicts still buffered are taken in order, and a window still open
    /// is closed at `end` and marked open.
    pub fn finish(&mut self, end: Duration) -> Vec<Transition> {
        let mut transitions = Vec::new();
        for (_, verdict) in std::mem::take(&mut self.pending) {
            self.step(verdict, &mut transitions);
        }
        if let Some(mut window) = self.streak.take()
            && self.is_window(&window)
        {
            window.end = end.max(window.start);
            window.open = true;
            self.close(window.clone());
            transitions.push(Transition::Up(window));
        }
        transitions
    }

    fn is_window(&self, streak: &Window) -> bool {
        streak.failed_probes >= self.min_failures
    }

    fn step(&mut self, verdict: Observation, transitions: &mut Vec<Transition>) {
        if verdict.unobserved {
            return;
        }
        match verdict.failure {
            Some(failure) => {
                let streak = self.streak.get_or_insert_with(|| Window {
                    start: verdict.due,
                    end: verdict.due,
                    failed_probes: 0,
                    causes: BTreeMap::new(),
                    first_cause: failure.cause,
                    first_error: failure.text.clone(),
                    first_seq: verdict.seq,
                    last_seq: verdict.seq,
                    open: false,
                    failed_in: [0; RequestPhase::ALL.len()],
                });
                streak.failed_probes += 1;
                if let Some(phase) = failure.failed_in {
                    streak.failed_in[phase.index()] += 1;
                }
                streak.end = verdict.due;
                streak.last_seq = verdict.seq;
                *streak.causes.entry(failure.cause).or_default() += 1;
                if streak.failed_probes == self.min_failures {
                    transitions.push(Transition::Down {
                        start: streak.start,
                        cause: streak.first_cause,
                        first_error: streak.first_error.clone(),
                        first_seq: streak.first_seq,
                    });
                }
            }
            None => {
                if let Some(mut window) = self.streak.take()
                    && self.is_window(&window)
                {
                    window.end = verdict.due;
                    self.close(window.clone());
                    transitions.push(Transition::Up(window));
                }
            }
        }
    }

    fn close(&mut self, window: Window) {
        self.window_count += 1;
        self.downtime += window.duration();
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push(window);
        }
    }

    /// The window open now, if any, with its end at the last failed probe seen in order.
    pub fn current(&self) -> Option<&Window> {
        self.streak.as_ref().filter(|s| self.is_window(s))
    }

    /// Closed windows, the first [`MAX_WINDOWS`] of them.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// How many windows closed, including those past [`MAX_WINDOWS`].
    pub fn window_count(&self) -> u64 {
        self.window_count
    }

    /// Total length of closed windows.
    pub fn downtime(&self) -> Duration {
        self.downtime
    }
}

/// The share of `observed` (from a URL's first probe on) that was not `downtime`, to six
/// decimals (99.9999 % resolves a 3.6 ms outage in an hour). A URL never seen up (`seen_up`
/// false) was not available at all; one observed for no time yet has lost nothing. The one rule
/// for a run's report, a merged report and the live views.
pub fn availability(downtime: Duration, observed: Duration, seen_up: bool) -> f64 {
    if !seen_up {
        0.0
    } else if observed.is_zero() {
        1.0
    } else {
        ((1.0 - downtime.as_secs_f64() / observed.as_secs_f64()).clamp(0.0, 1.0) * 1e6).round() / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sample::ErrorKind;

    const MS: Duration = Duration::from_millis(1);

    fn ok(seq: u64) -> Observation {
        Observation { seq, due: MS * 10 * seq as u32, failure: None, unobserved: false }
    }

    fn fail(seq: u64, cause: Cause) -> Observation {
        let text = format!("{cause} at {seq}");
        Observation {
            seq,
            due: MS * 10 * seq as u32,
            failure: Some(ProbeFailure { cause, text, failed_in: None }),
            unobserved: false,
        }
    }

    const NOT_FOUND: Cause = Cause::Status(404);
    const REFUSED: Cause = Cause::Error(ErrorKind::Refused);

    fn feed(detector: &mut OutageDetector, verdicts: Vec<Observation>) -> Vec<Transition> {
        verdicts.into_iter().flat_map(|v| detector.observe(v)).collect()
    }

    #[test]
    fn window_spans_first_failure_to_next_success() {
        let mut d = OutageDetector::new(1);
        let t = feed(&mut d, vec![ok(0), fail(1, NOT_FOUND), fail(2, NOT_FOUND), fail(3, REFUSED), ok(4), ok(5)]);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0],
            Transition::Down { start: MS * 10, cause: NOT_FOUND, first_error: "404 at 1".into(), first_seq: 1 }
        );
        let Transition::Up(w) = &t[1] else { panic!("{t:?}") };
        assert_eq!((w.start, w.end, w.duration()), (MS * 10, MS * 40, MS * 30));
        assert_eq!(w.failed_probes, 3);
        assert_eq!((w.first_seq, w.last_seq), (1, 3));
        assert_eq!(w.causes, BTreeMap::from([(NOT_FOUND, 2), (REFUSED, 1)]));
        assert!(!w.open);
        assert_eq!(d.downtime(), MS * 30);
        assert_eq!(d.window_count(), 1);
    }

    #[test]
    fn out_of_order_completions_give_the_same_windows() {
        let in_order = vec![ok(0), fail(1, NOT_FOUND), fail(2, NOT_FOUND), ok(3), fail(4, REFUSED), ok(5)];
        let mut shuffled = in_order.clone();
        shuffled.swap(0, 5);
        shuffled.swap(1, 3);
        shuffled.swap(2, 4);
        let mut a = OutageDetector::new(1);
        let mut b = OutageDetector::new(1);
        let ta = feed(&mut a, in_order);
        let tb = feed(&mut b, shuffled);
        assert_eq!(ta, tb);
        assert_eq!(a.windows(), b.windows());
        assert_eq!(b.windows().len(), 2);
    }

    #[test]
    fn a_stalled_probe_holds_back_later_verdicts() {
        let mut d = OutageDetector::new(1);
        assert!(d.observe(fail(1, NOT_FOUND)).is_empty(), "seq 0 still in flight");
        assert!(d.observe(ok(2)).is_empty());
        let t = d.observe(ok(0));
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(d.current().is_none());
    }

    #[test]
    fn min_failures_ignores_short_streaks() {
        let mut d = OutageDetector::new(3);
        let t = feed(&mut d, vec![ok(0), fail(1, NOT_FOUND), fail(2, NOT_FOUND), ok(3)]);
        assert!(t.is_empty(), "{t:?}");
        let t = feed(&mut d, vec![fail(4, REFUSED), fail(5, NOT_FOUND), fail(6, NOT_FOUND), ok(7)]);
        assert_eq!(t.len(), 2);
        // The window opens at the first failure of the streak, not at the third.
        assert_eq!(
            t[0],
            Transition::Down { start: MS * 40, cause: REFUSED, first_error: "refused at 4".into(), first_seq: 4 }
        );
        let Transition::Up(w) = &t[1] else { panic!() };
        assert_eq!((w.start, w.end, w.failed_probes), (MS * 40, MS * 70, 3));
    }

    #[test]
    fn a_window_open_at_the_end_closes_at_the_end() {
        let mut d = OutageDetector::new(1);
        feed(&mut d, vec![ok(0), fail(1, REFUSED), fail(2, REFUSED)]);
        assert!(d.current().is_some());
        let t = d.finish(MS * 35);
        let [Transition::Up(w)] = t.as_slice() else { panic!("{t:?}") };
        assert!(w.open);
        assert_eq!((w.start, w.end), (MS * 10, MS * 35));
        assert_eq!(d.downtime(), MS * 25);
    }

    #[test]
    fn a_short_streak_at_the_end_is_no_window() {
        let mut d = OutageDetector::new(2);
        feed(&mut d, vec![ok(0), fail(1, REFUSED)]);
        assert!(d.finish(MS * 20).is_empty());
        assert_eq!(d.window_count(), 0);
    }

    #[test]
    fn finish_drains_verdicts_behind_a_gap() {
        let mut d = OutageDetector::new(1);
        d.observe(ok(0));
        d.observe(fail(2, REFUSED));
        let t = d.finish(MS * 30);
        assert!(matches!(t.as_slice(), [Transition::Down { .. }, Transition::Up(w)] if w.open), "{t:?}");
        assert_eq!(d.window_count(), 1);
    }

    #[test]
    fn windows_kept_in_detail_are_bounded() {
        let mut d = OutageDetector::new(1);
        for i in 0..(MAX_WINDOWS as u64 + 10) {
            d.observe(fail(2 * i, REFUSED));
            d.observe(ok(2 * i + 1));
        }
        assert_eq!(d.windows().len(), MAX_WINDOWS);
        assert_eq!(d.window_count(), MAX_WINDOWS as u64 + 10);
        assert_eq!(d.downtime(), MS * 10 * (MAX_WINDOWS as u32 + 10));
    }
}
