//! The merged time line: vantages' windows that overlap clustered into one outage each, when
//! each vantage first saw it, the window every vantage (or only some) saw, and the timeline of
//! all vantages' probes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::{Observed, SavedRun, add, since};
use crate::analysis::clock::rfc3339_ms;
use crate::report::{MergedWindow, OutageReport, TimelinePoint};
use crate::units::from_ms;
use crate::units::millis;

/// One vantage's outage window on the merged time line.
struct Seen<'a> {
    pub(super) vantage: usize,
    pub(super) start: Duration,
    pub(super) end: Duration,
    pub(super) outage: &'a OutageReport,
}

/// Vantages' windows that overlap, within one probe interval: one outage seen from them.
pub(super) struct Cluster<'a> {
    seen: Vec<Seen<'a>>,
    end: Duration,
}

/// Two vantages see one outage up to a probe interval apart, however well their clocks agree:
/// the longest interval among them.
fn slack(seen: &[Observed<'_>]) -> Duration {
    seen.iter()
        .map(
            |(_, r, _)| if r.report.rate > 0.0 { Duration::from_secs_f64(1.0 / r.report.rate) } else { Duration::ZERO },
        )
        .max()
        .unwrap_or_default()
}

/// The vantages' windows of one target on the merged time line, clustered where they overlap
/// within [`slack`], with a warning for each vantage whose report lists only some of its windows.
pub(super) fn clusters<'a>(url: &str, seen: &[Observed<'a>], origin: SystemTime) -> (Vec<Cluster<'a>>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut windows: Vec<Seen<'a>> = Vec::new();
    for &(i, r, t) in seen {
        if t.outage_count > t.outages.len() as u64 {
            warnings.push(format!(
                "{url}: {} lists {} of {} outage windows; only those are merged",
                r.report.vantage,
                t.outages.len(),
                t.outage_count
            ));
        }
        let offset = since(origin, r.start);
        for o in &t.outages {
            let (start, end) = (offset + from_ms(o.start_offset_ms), offset + from_ms(o.end_offset_ms));
            windows.push(Seen { vantage: i, start, end, outage: o });
        }
    }
    windows.sort_by_key(|w| (w.start, w.vantage));
    let slack = slack(seen);
    let mut clusters: Vec<Cluster<'a>> = Vec::new();
    for w in windows {
        match clusters.last_mut() {
            Some(c) if w.start <= c.end + slack => {
                c.end = c.end.max(w.end);
                c.seen.push(w);
            }
            _ => clusters.push(Cluster { end: w.end, seen: vec![w] }),
        }
    }
    (clusters, warnings)
}

/// A target's merged windows: those every vantage then probing saw (the service was down) and
/// those only some saw (a path to it was), and how far apart the vantages saw the shared ones
/// begin.
pub(super) struct Split {
    pub(super) all: Vec<MergedWindow>,
    pub(super) some: Vec<MergedWindow>,
    pub(super) clock_offset: Option<Duration>,
}

pub(super) fn split(clusters: &[Cluster<'_>], seen: &[Observed<'_>], runs: &[SavedRun], origin: SystemTime) -> Split {
    let slack = slack(seen);
    let mut split = Split { all: Vec::new(), some: Vec::new(), clock_offset: None };
    for c in clusters {
        let window = merged_window(c, runs, origin);
        let start = c.seen.iter().map(|s| s.start).min().unwrap_or_default();
        // Vantages probing this URL when the window began (within a probe interval).
        let probing = seen.iter().filter(|(_, r, _)| {
            let offset = since(origin, r.start);
            offset <= start + slack && offset + from_ms(r.report.duration_ms) + slack >= start
        });
        let everyone = probing.clone().all(|(i, _, _)| c.seen.iter().any(|s| s.vantage == *i));
        if everyone && probing.count() > 1 {
            let starts = first_starts(c);
            let spread =
                starts.iter().max().copied().unwrap_or_default() - starts.iter().min().copied().unwrap_or_default();
            split.clock_offset = Some(split.clock_offset.unwrap_or_default().max(spread));
        }
        if everyone {
            split.all.push(window);
        } else {
            split.some.push(window);
        }
    }
    split
}

/// When each vantage in `c` first saw it down.
fn first_starts(c: &Cluster<'_>) -> Vec<Duration> {
    let mut firsts: BTreeMap<usize, Duration> = BTreeMap::new();
    for s in &c.seen {
        let first = firsts.entry(s.vantage).or_insert(s.start);
        *first = (*first).min(s.start);
    }
    firsts.into_values().collect()
}

fn merged_window(c: &Cluster<'_>, runs: &[SavedRun], origin: SystemTime) -> MergedWindow {
    let start = c.seen.iter().map(|s| s.start).min().unwrap_or_default();
    let end = c.seen.iter().map(|s| s.end).max().unwrap_or_default();
    // Each vantage's own span of the outage; all saw it at once where the spans meet.
    let mut spans: BTreeMap<usize, (Duration, Duration)> = BTreeMap::new();
    for s in &c.seen {
        let span = spans.entry(s.vantage).or_insert((s.start, s.end));
        *span = (span.0.min(s.start), span.1.max(s.end));
    }
    let latest_start = spans.values().map(|s| s.0).max().unwrap_or_default();
    let earliest_end = spans.values().map(|s| s.1).min().unwrap_or_default();
    let mut causes: BTreeMap<String, u64> = BTreeMap::new();
    for s in &c.seen {
        for (k, n) in &s.outage.causes {
            let count = causes.entry(k.clone()).or_default();
            *count = count.saturating_add(*n);
        }
    }
    let first = c.seen.iter().min_by_key(|s| s.start);
    MergedWindow {
        start: rfc3339_ms(origin + start),
        end: rfc3339_ms(origin + end),
        start_offset_ms: millis(start),
        end_offset_ms: millis(end),
        duration_ms: millis(end - start),
        overlap_ms: millis(earliest_end.saturating_sub(latest_start)),
        vantages: spans.keys().map(|i| runs[*i].report.vantage.clone()).collect(),
        failed_probes: add(c.seen.iter().map(|s| s.outage.failed_probes)),
        causes,
        first_error: first.map(|s| s.outage.first_error.clone()).unwrap_or_default(),
        open: c.seen.iter().any(|s| s.outage.open),
    }
}

/// A window seen by all, as the merged report's outages list it.
pub(super) fn outage_of(w: &MergedWindow) -> OutageReport {
    OutageReport {
        start: w.start.clone(),
        end: w.end.clone(),
        start_offset_ms: w.start_offset_ms,
        end_offset_ms: w.end_offset_ms,
        duration_ms: w.duration_ms,
        failed_probes: w.failed_probes,
        causes: w.causes.clone(),
        main_cause: crate::report::main_cause(&w.causes),
        first_error: w.first_error.clone(),
        open: w.open,
        phase: None,
        end_phase: None,
        failed_in: Default::default(),
        first_request_id: None,
        last_request_id: None,
    }
}

/// The vantages' timelines summed on the merged time line: each slice goes to the merged slice
/// its start falls in (a run that started mid-second shifts by less than a slice).
pub(super) fn merged_timeline(seen: &[Observed<'_>], origin: SystemTime) -> (u64, Vec<TimelinePoint>) {
    let width = seen.iter().map(|(_, _, t)| t.timeline_width_s).max().unwrap_or(1).max(1);
    let mut slices: Vec<TimelinePoint> = Vec::new();
    for (_, r, t) in seen {
        let offset = since(origin, r.start);
        for p in &t.timeline {
            let at = offset + Duration::from_secs(p.offset_s);
            let index = usize::try_from(at.as_secs() / width).unwrap_or(usize::MAX);
            if index >= slices.len() {
                slices.extend((slices.len()..=index).map(|i| TimelinePoint {
                    offset_s: i as u64 * width,
                    ok: 0,
                    failed: 0,
                    // Per-slice latency is not merged: it is for pictures of one run.
                    p50_ms: None,
                    p99_ms: None,
                }));
            }
            slices[index].ok = slices[index].ok.saturating_add(p.ok);
            slices[index].failed = slices[index].failed.saturating_add(p.failed);
        }
    }
    (width, slices)
}
