//! Degraded spans: stretches where a URL was bad but not down, told as one span each beside the
//! outage windows, which stay as they are. A load balancer with one of two backends dead fails
//! about half the probes for seconds: its windows are confetti (dozens of short ones), and their
//! sum is no story; one `failing` span from the first failure to the last, with its share, is.
//! A server that stalls for a second answers late but answers: one `slow` span.
//!
//! Computed from what the report already holds, the timeline's one-second slices and the windows'
//! exact edges, so the rule is pure and in one place.
//! - *failing*: a run of slices in each of which more than [`FAILING_SHARE`] of the probes failed
//!   but not all, in which at least two windows began (one window is an outage, told as such),
//!   and the seconds at its edges that hold some failures. Its edges are its windows' first
//!   start and last end, to the probe; its share is their failed probes over the probes due
//!   between those edges.
//! - *slow*: a run of slices whose median latency is above the limit: [`SLOW_FACTOR`] times the
//!   warmup's p99 (without a warmup, the run's median), and at least [`SLOW_FLOOR_MS`]. Its edges
//!   are the slices', to the second.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::analysis::judged::{Degraded, Offender};
use crate::analysis::phase::{GatePhases, Phase, split};
use crate::report::{OutageReport, TargetReport, TimelinePoint};
use crate::units::from_ms;

/// A slice with more than this share of failed probes (and not all) is failing.
pub const FAILING_SHARE: f64 = 0.10;
/// A slice whose median latency is above this many times the baseline is slow…
pub const SLOW_FACTOR: f64 = 5.0;
/// …and above this, ms: a fast service's jitter is no brownout.
pub const SLOW_FLOOR_MS: f64 = 50.0;

/// What kind of bad a span was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DegradedKind {
    /// A share of the probes failed, but not all.
    Failing,
    /// The answers came, late.
    Slow,
}

/// One degraded span of a URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DegradedReport {
    /// `failing`: in each of its seconds more than 10 % of the probes failed, but not all, over
    /// two windows or more; `slow`: each of its seconds' median latency was above `limit_ms`.
    pub kind: DegradedKind,
    /// From the start of the run, ms: `failing`, the first failed probe's due time; `slow`, the
    /// start of its first slow second.
    pub start_offset_ms: f64,
    /// `failing`: to the end of its last window; `slow`: to the end of its last slow second.
    pub duration_ms: f64,
    /// `failing`: the share of the probes due in the span that failed, from 0 to 1.
    pub failed_share: Option<f64>,
    /// `failing`: its windows' causes, by count (`timeout`, `502`).
    #[serde(default, deserialize_with = "crate::report::bounded::map::<_, _, _, 1024>")]
    pub causes: BTreeMap<String, u64>,
    /// `failing`: the windows in it.
    pub windows: u64,
    /// `slow`: the median of its seconds' median latencies, ms.
    pub p50_ms: Option<f64>,
    /// `slow`: the highest of its seconds' p99 latencies, ms.
    pub max_ms: Option<f64>,
    /// `slow`: the limit its seconds' medians were above, ms.
    pub limit_ms: Option<f64>,
    /// The deploy phase it began in; null without a COMMAND.
    pub phase: Option<Phase>,
}

/// The degraded spans of `t`, probed at `rate` per second, in order of their start.
pub fn spans(t: &TargetReport, rate: f64) -> Vec<DegradedReport> {
    let width_ms = t.timeline_width_s.max(1) as f64 * 1000.0;
    let mut spans = failing(t, rate, width_ms);
    spans.extend(slow(t, width_ms));
    spans.sort_by(|a, b| a.start_offset_ms.total_cmp(&b.start_offset_ms));
    for span in &mut spans {
        span.phase = phase_at(t, span.start_offset_ms);
    }
    spans
}

/// Runs of consecutive slices (each `width_s` after the one before) for which `bad` holds, as
/// index ranges of `timeline`.
fn runs(timeline: &[TimelinePoint], width_s: u64, bad: impl Fn(&TimelinePoint) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    for (i, point) in timeline.iter().enumerate() {
        // A gap in the slices (nothing due) ends a run.
        let continues = start.is_some() && point.offset_s == timeline[i - 1].offset_s + width_s;
        if !continues && let Some(s) = start.take() {
            runs.push(s..i);
        }
        if !bad(point) {
            if let Some(s) = start.take() {
                runs.push(s..i);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        runs.push(s..timeline.len());
    }
    runs
}

fn failing(t: &TargetReport, rate: f64, width_ms: f64) -> Vec<DegradedReport> {
    let bad = |p: &TimelinePoint| p.ok > 0 && p.failed as f64 > FAILING_SHARE * (p.ok + p.failed) as f64;
    let mut spans = Vec::new();
    // A second at either edge with some failures, too few to count as failing, holds the
    // brownout's first or last failures: the span takes it, so its edges are the failures'.
    let edge = |p: &TimelinePoint| p.ok > 0 && p.failed > 0;
    let width_s = t.timeline_width_s.max(1);
    for mut run in runs(&t.timeline, width_s, bad) {
        let adjacent = |a: usize, b: usize| t.timeline[b].offset_s == t.timeline[a].offset_s + width_s;
        while run.start > 0 && adjacent(run.start - 1, run.start) && edge(&t.timeline[run.start - 1]) {
            run.start -= 1;
        }
        while run.end < t.timeline.len() && adjacent(run.end - 1, run.end) && edge(&t.timeline[run.end]) {
            run.end += 1;
        }
        let (from, to) = (
            t.timeline[run.start].offset_s as f64 * 1000.0,
            t.timeline[run.end - 1].offset_s as f64 * 1000.0 + width_ms,
        );
        // Windows that began in its seconds: an outage that began before them (a second with no
        // probe up) is an outage, told as one, not the start of the brownout.
        let inside: Vec<&OutageReport> =
            t.outages.iter().filter(|w| w.start_offset_ms >= from && w.start_offset_ms < to).collect();
        if inside.len() < 2 {
            continue;
        }
        let start = inside.iter().map(|w| w.start_offset_ms).fold(f64::INFINITY, f64::min);
        let end = inside.iter().map(|w| w.end_offset_ms).fold(0.0, f64::max);
        let failed: u64 = inside.iter().map(|w| w.failed_probes).sum();
        // The probes due from the first failure to the last window's end, at the URL's rate.
        let due = ((end - start) / 1000.0 * rate).round().max(1.0);
        let mut causes = BTreeMap::new();
        for w in &inside {
            for (cause, n) in &w.causes {
                *causes.entry(cause.clone()).or_default() += n;
            }
        }
        spans.push(DegradedReport {
            kind: DegradedKind::Failing,
            start_offset_ms: start,
            duration_ms: end - start,
            failed_share: Some((failed as f64 / due).min(1.0)),
            causes,
            windows: inside.len() as u64,
            p50_ms: None,
            max_ms: None,
            limit_ms: None,
            phase: None,
        });
    }
    spans
}

/// The latency a slow span is measured against: the warmup's p99, or without one the run's
/// median; `None` when no probe succeeded.
fn baseline_ms(t: &TargetReport) -> Option<f64> {
    let warmup = t.phases.as_ref().and_then(|p| p.get(&Phase::Warmup)).and_then(|w| w.latency_ms.as_ref());
    warmup.map(|l| l.p99).or_else(|| t.latency_ms.as_ref().map(|l| l.p50))
}

fn slow(t: &TargetReport, width_ms: f64) -> Vec<DegradedReport> {
    let Some(baseline) = baseline_ms(t) else { return Vec::new() };
    let limit = (SLOW_FACTOR * baseline).max(SLOW_FLOOR_MS);
    let bad = |p: &TimelinePoint| p.p50_ms.is_some_and(|p50| p50 > limit);
    runs(&t.timeline, t.timeline_width_s.max(1), bad)
        .into_iter()
        .map(|run| {
            let points = &t.timeline[run];
            let mut medians: Vec<f64> = points.iter().filter_map(|p| p.p50_ms).collect();
            medians.sort_by(f64::total_cmp);
            let start = points[0].offset_s as f64 * 1000.0;
            DegradedReport {
                kind: DegradedKind::Slow,
                start_offset_ms: start,
                duration_ms: points.len() as f64 * width_ms,
                failed_share: None,
                causes: BTreeMap::new(),
                windows: 0,
                p50_ms: medians.get(medians.len() / 2).copied(),
                max_ms: points.iter().filter_map(|p| p.p99_ms).reduce(f64::max),
                limit_ms: Some(limit),
                phase: None,
            }
        })
        .collect()
}

/// The phase of a wrapped deploy that `at_ms` falls in.
fn phase_at(t: &TargetReport, at_ms: f64) -> Option<Phase> {
    let phases = t.phases.as_ref()?;
    phases.iter().find(|(_, p)| p.start_offset_ms <= at_ms && at_ms < p.end_offset_ms).map(|(phase, _)| *phase)
}

/// What `--max-degraded` judges of a URL's spans: the part of each that lies in a phase `judge`
/// names (the whole span without a COMMAND), as a window's judged part is; their total, how
/// many spans have such a part, and the first of them at its first judged instant. A brownout
/// that began in the warmup and ran into the deploy counts from the deploy's start.
pub fn judged(t: &TargetReport, judge: GatePhases) -> Degraded {
    let phased = t.phases.is_some();
    let judged: Vec<(Phase, Duration, Duration)> =
        t.phase_spans().into_iter().filter(|(phase, _, _)| judge.judges(Some(*phase))).collect();
    // Each span's judged part, and its first judged instant.
    let parts: Vec<(&DegradedReport, Duration, Duration)> = t
        .degraded
        .iter()
        .filter_map(|d| {
            let (start, end) = (from_ms(d.start_offset_ms), from_ms(d.start_offset_ms + d.duration_ms));
            if !phased {
                return (end > start).then_some((d, end - start, start));
            }
            let part: Duration = split(&judged, start, end).iter().map(|(_, overlap)| *overlap).sum();
            let first = judged.iter().filter(|(_, _, e)| *e > start).map(|(_, s, _)| start.max(*s)).min();
            (!part.is_zero()).then(|| (d, part, first.unwrap_or(start)))
        })
        .collect();
    Degraded {
        total: parts.iter().map(|(_, part, _)| *part).sum(),
        spans: parts.len() as u64,
        first: parts.first().map(|(d, _, at)| Offender { at: *at, text: sentence(d) }),
    }
}

/// The summary's sentence for a span: `+3.525 s → +6.270 s (2.745 s): 52 % of probes failed
/// (timeout ×176, 502 ×1)`.
pub fn sentence(d: &DegradedReport) -> String {
    use crate::units::secs_ms;
    let span = format!(
        "+{} → +{} ({})",
        secs_ms(d.start_offset_ms),
        secs_ms(d.start_offset_ms + d.duration_ms),
        secs_ms(d.duration_ms)
    );
    match d.kind {
        DegradedKind::Failing => {
            let causes: Vec<String> =
                d.causes.iter().map(|(c, n)| format!("{} ×{n}", crate::sanitize::line(c))).collect();
            format!(
                "{span}: {:.0} % of probes failed over {} windows ({})",
                d.failed_share.unwrap_or(0.0) * 100.0,
                d.windows,
                causes.join(", ")
            )
        }
        DegradedKind::Slow => format!(
            "{span}: slow, median {} ms, p99 up to {} ms (limit {} ms)",
            rounded(d.p50_ms),
            rounded(d.max_ms),
            rounded(d.limit_ms)
        ),
    }
}

fn rounded(ms: Option<f64>) -> String {
    ms.map_or("?".to_string(), |ms| format!("{ms:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_counts_its_part_in_judged_phases() {
        // Warmup 0-1.5 s, deploy 1.5-5 s, cooldown 5-10 s; a brownout from +0.5 s to +2.5 s.
        let mut report = crate::report::fixtures::deploy_report();
        let t = &mut report.targets[1];
        let span = |start: f64, duration: f64| DegradedReport {
            kind: DegradedKind::Failing,
            start_offset_ms: start,
            duration_ms: duration,
            failed_share: Some(0.5),
            causes: BTreeMap::new(),
            windows: 2,
            p50_ms: None,
            max_ms: None,
            limit_ms: None,
            phase: Some(Phase::Warmup),
        };
        t.degraded = vec![span(500.0, 2000.0), span(9000.0, 2000.0), span(200.0, 300.0)];
        let d = judged(t, GatePhases::DeployCooldown);
        // 1 s in the deploy; 1 s of the second in the cooldown (it runs past the run's end); the
        // third lies wholly in the warmup.
        assert_eq!((d.total, d.spans), (Duration::from_secs(2), 2), "{d:?}");
        // The evidence is the first judged instant, as a window's is: the deploy's start.
        assert_eq!(d.first.map(|o| o.at), Some(Duration::from_millis(1500)));
        assert_eq!(judged(t, GatePhases::Deploy).total, Duration::from_secs(1));
        assert_eq!(judged(t, GatePhases::All).total, Duration::from_millis(3300), "in the phases, all of them");
        t.phases = None;
        assert_eq!(judged(t, GatePhases::DeployCooldown).total, Duration::from_millis(4300), "no COMMAND: all");
    }

    fn point(offset_s: u64, ok: u64, failed: u64, p50: Option<f64>) -> TimelinePoint {
        TimelinePoint { offset_s, ok, failed, p50_ms: p50, p99_ms: p50.map(|p| p * 1.2) }
    }

    fn window(start: f64, end: f64, failed: u64) -> OutageReport {
        let mut w = crate::report::fixtures::sample_report().targets[1].outages[0].clone();
        (w.start_offset_ms, w.end_offset_ms, w.duration_ms) = (start, end, end - start);
        w.failed_probes = failed;
        w.causes = [("503".to_string(), failed)].into();
        w
    }

    fn target(timeline: Vec<TimelinePoint>, outages: Vec<OutageReport>) -> TargetReport {
        let mut t = crate::report::fixtures::sample_report().targets[0].clone();
        t.timeline = timeline;
        t.outages = outages;
        t.timeline_width_s = 1;
        t.phases = None;
        t
    }

    #[test]
    fn a_brownout_is_one_failing_span_from_its_first_failure_to_its_last() {
        // At 20/s: half the probes fail from +1.525 s to +3.5 s, one window per failed probe.
        let timeline = vec![
            point(0, 20, 0, Some(1.0)),
            point(1, 11, 9, Some(1.0)),
            point(2, 10, 10, Some(1.0)),
            point(3, 15, 5, Some(1.0)),
            point(4, 20, 0, Some(1.0)),
        ];
        let outages: Vec<OutageReport> = (0..20)
            .map(|i| {
                let start = 1525.0 + 100.0 * i as f64;
                window(start, start + 50.0, 1)
            })
            .collect();
        let spans = spans(&target(timeline, outages), 20.0);
        assert_eq!(spans.len(), 1, "{spans:?}");
        let s = &spans[0];
        assert_eq!((s.kind, s.start_offset_ms, s.duration_ms, s.windows), (DegradedKind::Failing, 1525.0, 1950.0, 20));
        // 20 failed of the 39 due in 1.95 s at 20/s.
        assert!((s.failed_share.unwrap() - 20.0 / 39.0).abs() < 1e-9, "{s:?}");
        assert_eq!(sentence(s), "+1.525 s → +3.475 s (1.950 s): 51 % of probes failed over 20 windows (503 ×20)");
    }

    #[test]
    fn an_outage_before_a_brownout_stays_out_of_its_span() {
        // Down for the first second, then every other probe failing for a second, at 20/s.
        let timeline = vec![point(0, 0, 20, None), point(1, 10, 10, Some(1.0)), point(2, 20, 0, Some(1.0))];
        let mut outages = vec![window(0.0, 1025.0, 21)];
        outages.extend((0..10).map(|i| {
            let start = 1075.0 + 100.0 * i as f64;
            window(start, start + 50.0, 1)
        }));
        let spans = spans(&target(timeline, outages), 20.0);
        let [s] = &spans[..] else { panic!("{spans:?}") };
        assert_eq!((s.start_offset_ms, s.windows), (1075.0, 10), "{s:?}");
        assert!((s.failed_share.unwrap() - 10.0 / 19.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn a_brownout_that_begins_late_in_a_second_starts_at_its_first_failure() {
        // At 20/s, every other probe failing from +1.925 s to +3.5 s: its first second has one
        // failure of twenty, too few to be failing, and still holds its first window.
        let timeline = vec![
            point(0, 20, 0, Some(1.0)),
            point(1, 19, 1, Some(1.0)),
            point(2, 10, 10, Some(1.0)),
            point(3, 10, 10, Some(1.0)),
            point(4, 20, 0, Some(1.0)),
        ];
        let outages: Vec<OutageReport> = (0..17)
            .map(|i| {
                let start = 1925.0 + 100.0 * i as f64;
                window(start, start + 50.0, 1)
            })
            .collect();
        let spans = spans(&target(timeline, outages), 20.0);
        let [s] = &spans[..] else { panic!("{spans:?}") };
        assert_eq!((s.start_offset_ms, s.windows), (1925.0, 17), "{s:?}");
    }

    #[test]
    fn one_outage_is_a_window_not_a_degraded_span() {
        // Down from +1.3 s to +2.5 s: two partial seconds, one window.
        let timeline = vec![
            point(0, 20, 0, Some(1.0)),
            point(1, 6, 14, Some(1.0)),
            point(2, 10, 10, Some(1.0)),
            point(3, 20, 0, Some(1.0)),
        ];
        assert!(spans(&target(timeline, vec![window(1300.0, 2500.0, 24)]), 20.0).is_empty());
    }

    #[test]
    fn seconds_whose_median_is_far_above_the_baseline_are_one_slow_span() {
        let mut t = target(
            vec![
                point(0, 20, 0, Some(1.0)),
                point(1, 20, 0, Some(800.0)),
                point(2, 20, 0, Some(790.0)),
                point(3, 20, 0, Some(40.0)),
                point(4, 20, 0, Some(1.0)),
            ],
            vec![],
        );
        t.latency_ms.as_mut().unwrap().p50 = 1.0;
        let spans = spans(&t, 20.0);
        // 40 ms is above 5 × 1 ms but below the 50 ms floor: not slow.
        assert_eq!(spans.len(), 1, "{spans:?}");
        let s = &spans[0];
        assert_eq!(
            (s.kind, s.start_offset_ms, s.duration_ms, s.limit_ms),
            (DegradedKind::Slow, 1000.0, 2000.0, Some(50.0))
        );
        assert_eq!(sentence(s), "+1.000 s → +3.000 s (2.000 s): slow, median 800 ms, p99 up to 960 ms (limit 50 ms)");
    }
}
