//! The merged time line: vantages' windows that overlap clustered into one outage each, when
//! each vantage first saw it, the window every vantage (or only some) saw, and the timeline of
//! all vantages' probes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::{Run, add, since};
use crate::analysis::clock::rfc3339_ms;
use crate::report::{MergedWindow, OutageReport, TargetReport, TimelinePoint};
use crate::units::millis;

/// One vantage's outage window on the merged time line.
pub(super) struct Seen<'a> {
    pub(super) vantage: usize,
    pub(super) start: Duration,
    pub(super) end: Duration,
    pub(super) outage: &'a OutageReport,
}

/// Vantages' windows that overlap, within one probe interval: one outage seen from them.
pub(super) struct Cluster<'a> {
    pub(super) seen: Vec<Seen<'a>>,
    pub(super) end: Duration,
}

/// When each vantage in `c` first saw it down.
pub(super) fn first_starts(c: &Cluster<'_>) -> Vec<Duration> {
    let mut firsts: BTreeMap<usize, Duration> = BTreeMap::new();
    for s in &c.seen {
        let first = firsts.entry(s.vantage).or_insert(s.start);
        *first = (*first).min(s.start);
    }
    firsts.into_values().collect()
}

pub(super) fn merged_window(c: &Cluster<'_>, runs: &[Run], origin: SystemTime) -> MergedWindow {
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
pub(super) fn merged_timeline(seen: &[(usize, &Run, &TargetReport)], origin: SystemTime) -> (u64, Vec<TimelinePoint>) {
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
