//! `blip merge REPORT... [gates…]`: the JSON reports of the same URLs probed from several
//! vantage points, merged into one report and judged.
//!
//! Runs are aligned on their wall-clock starts (`started_at`). Per URL, the vantages' outage
//! windows that overlap (within one probe interval) form one merged window: seen by every vantage
//! that was probing then, the service was down (`windows_all`, which are the merged report's
//! `outages` and what the gates judge); seen by only some, a path to it was down
//! (`windows_some`). Counts are summed, latency histograms merged (so quantiles are exact), and
//! each vantage's availability is kept beside the merged one.

use crate::engine::lane::Lane;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::bail;
use hdrhistogram::Histogram;

use crate::analysis::clock::rfc3339_ms;
use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::offline::saved;
use crate::offline::{check_paths, judge, write_outputs};
use crate::report::build::latency;
use crate::report::{MergedRun, Report, RunFacts, RunFigures, SendLag, TargetReport, histogram};
use crate::sanitize;
use crate::units::from_ms;
use crate::units::{millis, secs_ms};

mod windows;
use windows::{clusters, merged_timeline, outage_of, split};

/// One saved run: its report, the file it came from, and when it started by its own clock.
pub struct SavedRun {
    pub file: String,
    pub report: Report,
    pub start: SystemTime,
}

impl SavedRun {
    /// Reads the run saved at `path`.
    pub fn read(path: &Path) -> anyhow::Result<SavedRun> {
        let report = saved::read(path)?;
        let start = saved::started_at(&report)?;
        Ok(SavedRun { file: path.display().to_string(), report, start })
    }

    fn end(&self) -> SystemTime {
        self.start + from_ms(self.report.duration_ms)
    }
}

/// Runs `blip merge`.
pub fn run(args: &MergeArgs) -> anyhow::Result<Exit> {
    // A merged report has no degraded spans (each vantage keeps its own): the gate would pass
    // on nothing.
    if args.gates.max_degraded.is_some() {
        bail!(
            "--max-degraded judges degraded spans, which a merged report does not have: judge each vantage's report with blip judge"
        );
    }
    let reports = check_paths(&args.output, &args.reports.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
    let runs = args.reports.iter().map(|path| SavedRun::read(path)).collect::<anyhow::Result<Vec<SavedRun>>>()?;
    let merged = merge(&runs)?;
    let gates = judge::gates_of(&args.gates, &merged, Vec::new())?;
    let judged = judge::rejudge(merged, &gates, None)?;
    write_outputs(&judged, &reports, &describe(&judged))?;
    Ok(judged.exit(false))
}

/// What the text summary cannot show of a merge: the runs merged, and the windows only some
/// vantages saw.
pub fn describe(report: &Report) -> String {
    let mut out = String::new();
    let runs = report.merged_from.iter().flatten();
    let listed: Vec<String> =
        runs.map(|r| format!("{} (+{})", sanitize::line(&r.vantage), secs_ms(r.start_offset_ms))).collect();
    let _ = writeln!(out, "merged {} runs: {}", listed.len(), listed.join(", "));
    if let Some(offset) = report.clock_offset_ms {
        let _ = writeln!(out, "vantage clocks agree on shared outages within {}", secs_ms(offset));
    }
    for t in &report.targets {
        let some = t.windows_some.iter().flatten().collect::<Vec<_>>();
        if some.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}: seen from some vantages only (a path was down):", sanitize::line(&t.url));
        for w in some {
            let _ = writeln!(
                out,
                "  +{} → +{}  {}  {}  {}",
                secs_ms(w.start_offset_ms),
                secs_ms(w.end_offset_ms),
                secs_ms(w.duration_ms),
                sanitize::line(&w.vantages.join(", ")),
                sanitize::line(&w.first_error)
            );
        }
    }
    out.push('\n');
    out
}

/// The runs merged into one report, not yet judged. Refused: runs from one vantage twice, and
/// runs that do not overlap in time.
pub fn merge(runs: &[SavedRun]) -> anyhow::Result<Report> {
    let (origin, end) = mergeable(runs)?;
    // Targets are matched by URL and connection lane.
    let mut urls: Vec<(&str, Lane)> = Vec::new();
    for r in runs {
        for t in &r.report.targets {
            if !urls.contains(&(t.url.as_str(), t.connection)) {
                urls.push((&t.url, t.connection));
            }
        }
    }
    let lanes: Vec<Lane> = urls.iter().map(|(_, lane)| *lane).collect();
    let shown = crate::engine::lane::lanes_shown(&lanes);
    let mut warnings = Vec::new();
    let mut clock_offset: Option<Duration> = None;
    let mut targets = Vec::with_capacity(urls.len());
    for &target in &urls {
        let merged = merge_target(target, shown, runs, origin, end);
        warnings.extend(merged.warnings);
        clock_offset = clock_offset.max(merged.clock_offset);
        targets.push(merged.target);
    }
    for r in runs {
        warnings.extend(r.report.warnings.iter().map(|w| format!("{}: {w}", r.report.vantage)));
    }
    let stops: Vec<String> =
        runs.iter().filter_map(|r| Some(format!("{}: {}", r.report.vantage, r.report.stop_reason.as_ref()?))).collect();
    let mut routes: Vec<String> = runs.iter().flat_map(|r| r.report.routes.iter().cloned()).collect();
    routes.sort();
    routes.dedup();
    let facts = RunFacts {
        vantage: runs.iter().map(|r| r.report.vantage.as_str()).collect::<Vec<_>>().join(", "),
        run_id: runs.iter().map(|r| r.report.run_id.as_str()).collect::<Vec<_>>().join("+"),
        // Judged after the merge (`judge::rejudge`), which sets both.
        default_gates: false,
        measure_only: false,
        allow_missed: runs.iter().all(|r| r.report.allow_missed),
        routes,
        stop_reason: (!stops.is_empty()).then(|| stops.join("; ")),
        deploy: None,
        hooks: Vec::new(),
        hooks_run: add(runs.iter().map(|r| r.report.hooks_run)),
        hooks_skipped: add(runs.iter().map(|r| r.report.hooks_skipped)),
        warnings: Vec::new(),
    };
    let merged_from = runs
        .iter()
        .map(|r| MergedRun {
            vantage: r.report.vantage.clone(),
            started_at: r.report.started_at.clone(),
            start_offset_ms: millis(since(origin, r.start)),
            duration_ms: r.report.duration_ms,
            passed: r.report.passed,
        })
        .collect();
    let figures = RunFigures {
        started_at: rfc3339_ms(origin),
        duration_ms: millis(since(origin, end)),
        rate: runs.iter().map(|r| r.report.rate).sum(),
        gate_phases: None,
        warnings,
        // Each vantage's pauses stay in its own report; their warnings are above.
        paused: Vec::new(),
        targets,
        merged_from: Some(merged_from),
        clock_offset_ms: clock_offset.map(millis),
    };
    Ok(Report::new(facts, figures))
}

/// The sum of counts, saturating: the reports' own counts are checked, their sum over many is
/// not.
pub(super) fn add(counts: impl Iterator<Item = u64>) -> u64 {
    counts.fold(0, u64::saturating_add)
}

pub(super) fn since(origin: SystemTime, at: SystemTime) -> Duration {
    at.duration_since(origin).unwrap_or_default()
}

/// Refuses runs that cannot be merged into a true report, and otherwise gives the span they
/// cover: the earliest start and the latest end.
fn mergeable(runs: &[SavedRun]) -> anyhow::Result<(SystemTime, SystemTime)> {
    // A merged report already sums its vantages: merging it again would count them twice.
    if let Some(r) = runs.iter().find(|r| r.report.merged_from.is_some()) {
        bail!(
            "{} is itself a merge of {}: merge the runs' own reports instead",
            r.file,
            sanitize::line(&r.report.vantage)
        );
    }
    // Each URL and lane must have been probed from every vantage, or a window seen by one
    // vantage alone would read as the service being down.
    let targets = |r: &SavedRun| -> Vec<(String, Lane)> {
        let mut t: Vec<(String, Lane)> = r.report.targets.iter().map(|t| (t.url.clone(), t.connection)).collect();
        t.sort();
        t
    };
    if let Some(first) = runs.first()
        && let Some(other) = runs.iter().find(|r| targets(r) != targets(first))
    {
        bail!(
            "{} and {} probed different URLs or connection lanes: merge reports of the same URLs",
            first.file,
            other.file
        );
    }
    for (i, a) in runs.iter().enumerate() {
        if let Some(b) = runs[..i].iter().find(|b| b.report.vantage == a.report.vantage) {
            bail!(
                "{} and {} are both from vantage `{}`: merge runs from different vantages (set each run's --vantage)",
                b.file,
                a.file,
                sanitize::line(&a.report.vantage)
            );
        }
    }
    let (Some(latest), Some(earliest_end)) = (runs.iter().max_by_key(|r| r.start), runs.iter().min_by_key(|r| r.end()))
    else {
        bail!("no report to merge");
    };
    if latest.start >= earliest_end.end() {
        bail!(
            "the runs do not overlap in time: {} ended at {} before {} started at {}; merge runs that probed at the same time",
            earliest_end.file,
            rfc3339_ms(earliest_end.end()),
            latest.file,
            rfc3339_ms(latest.start)
        );
    }
    let origin = runs.iter().map(|r| r.start).min().unwrap_or(latest.start);
    let end = runs.iter().map(SavedRun::end).max().unwrap_or(latest.start);
    Ok((origin, end))
}

/// One vantage's view of a target: the vantage's index, its run, and the target in its report.
type Observed<'a> = (usize, &'a SavedRun, &'a TargetReport);

/// A target merged over the vantages that probed it, with the warnings of its merge and how far
/// apart the vantages saw its shared windows begin.
struct MergedTarget {
    target: TargetReport,
    warnings: Vec<String>,
    clock_offset: Option<Duration>,
}

fn merge_target(
    (url, lane): (&str, Lane),
    lane_shown: bool,
    runs: &[SavedRun],
    origin: SystemTime,
    end: SystemTime,
) -> MergedTarget {
    let seen: Vec<Observed<'_>> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r, r.report.targets.iter().find(|t| t.url == url && t.connection == lane)?)))
        .collect();
    let (merged, mut warnings) = merged_latency(url, &seen);
    let (clusters, listed) = clusters(url, &seen, origin);
    warnings.extend(listed);
    let split = split(&clusters, &seen, runs, origin);
    let counts = MergedCounts { seen: &seen };
    let downtime: f64 = split.all.iter().map(|w| w.duration_ms).sum();
    let first = seen.iter().map(|(_, r, _)| since(origin, r.start)).min().unwrap_or_default();
    let observed = since(origin, end).saturating_sub(first);
    let ok = counts.sum(|t| t.ok);
    let availability =
        crate::analysis::outage::availability(Duration::from_secs_f64(downtime / 1000.0), observed, ok > 0);
    let lag = |f: fn(&SendLag) -> f64| seen.iter().map(|(_, _, t)| f(&t.send_lag_ms)).fold(0.0, f64::max);
    let (width, timeline) = merged_timeline(&seen, origin);
    let target = TargetReport {
        url: url.to_string(),
        connection: lane,
        label: lane.label(url, lane_shown),
        router_error_counts: counts.keyed(|t| &t.router_error_counts),
        // Phases, peers and tracked values stay in each vantage's own report.
        wire: Default::default(),
        probes: counts.sum(|t| t.probes),
        ok,
        failed: counts.sum(|t| t.failed),
        resent: counts.sum(|t| t.resent),
        cancelled: counts.sum(|t| t.cancelled),
        local_errors: counts.sum(|t| t.local_errors),
        missed: counts.sum(|t| t.missed),
        status_counts: counts.keyed(|t| &t.status_counts),
        error_counts: counts.keyed(|t| &t.error_counts),
        latency_ms: merged.as_ref().map(latency),
        latency_histogram: merged.as_ref().map(histogram::encode),
        send_lag_ms: SendLag { p50: lag(|l| l.p50), p99: lag(|l| l.p99), max: lag(|l| l.max) },
        downtime_ms: (downtime * 1000.0).round() / 1000.0,
        availability,
        outage_count: split.all.len() as u64,
        degraded: Vec::new(),
        outages: split.all.iter().map(outage_of).collect(),
        timeline_width_s: width,
        timeline,
        phases: None,
        deploy_timing: None,
        gates: Vec::new(),
        availability_by_vantage: Some(
            seen.iter().map(|(_, r, t)| (r.report.vantage.clone(), t.availability)).collect(),
        ),
        windows_all: Some(split.all),
        windows_some: Some(split.some),
    };
    MergedTarget { target, warnings, clock_offset: split.clock_offset }
}

/// The vantages' counts of one target, summed.
struct MergedCounts<'a, 'b> {
    seen: &'b [Observed<'a>],
}

impl MergedCounts<'_, '_> {
    fn sum(&self, f: fn(&TargetReport) -> u64) -> u64 {
        add(self.seen.iter().map(|(_, _, t)| f(t)))
    }

    /// Counts by key (status, cause, router error), summed key by key.
    fn keyed(&self, f: fn(&TargetReport) -> &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        let mut all: BTreeMap<String, u64> = BTreeMap::new();
        for (_, _, t) in self.seen {
            for (k, n) in f(t) {
                let count = all.entry(k.clone()).or_default();
                *count = count.saturating_add(*n);
            }
        }
        all
    }
}

/// The vantages' latency histograms merged, so every quantile is the one of all the probes; none
/// when a vantage that had answers saved no histogram (a quantile of some of them would lie).
fn merged_latency(url: &str, seen: &[Observed<'_>]) -> (Option<Histogram<u64>>, Vec<String>) {
    let mut merged: Option<Histogram<u64>> = None;
    let mut warnings = Vec::new();
    for (_, r, t) in seen {
        let Some(h) = t.latency_histogram.as_deref().and_then(|text| histogram::decode(text).ok()) else {
            if t.ok > 0 {
                warnings.push(format!(
                    "{url}: the report of {} has no latency_histogram; no latency is merged",
                    r.report.vantage
                ));
            }
            continue;
        };
        match &mut merged {
            Some(m) => {
                let _ = m.add(&h);
            }
            None => merged = Some(h),
        }
    }
    (merged.filter(|h| warnings.is_empty() && !h.is_empty()), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{OutageReport, build};

    fn histogram_of(samples_us: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 2048, 3).unwrap();
        h.auto(true);
        for us in samples_us {
            h.record(*us).unwrap();
        }
        h
    }

    /// The golden scenario's report as `vantage` saw it, started `offset_ms` after the first, with
    /// these latencies and these outages of its second URL (start, end, ms from its own start).
    fn run(vantage: &str, offset_ms: u64, samples_us: &[u64], outages: &[(f64, f64)]) -> SavedRun {
        let mut report = crate::report::golden::scenario();
        report.vantage = vantage.to_string();
        let start = saved::started_at(&report).unwrap() + Duration::from_millis(offset_ms);
        report.started_at = rfc3339_ms(start);
        for t in &mut report.targets {
            t.latency_histogram = Some(histogram::encode(&histogram_of(samples_us)));
            t.ok = samples_us.len() as u64;
        }
        let t = &mut report.targets[1];
        let template = t.outages[0].clone();
        t.outages = outages
            .iter()
            .map(|(s, e)| OutageReport {
                start_offset_ms: *s,
                end_offset_ms: *e,
                duration_ms: e - s,
                ..template.clone()
            })
            .collect();
        t.outage_count = outages.len() as u64;
        SavedRun { file: format!("{vantage}.json"), report, start }
    }

    #[test]
    fn merged_quantiles_are_those_of_all_the_samples() {
        let a: Vec<u64> = (0..500).map(|i| 200 + i * 37 % 5000).collect();
        let b: Vec<u64> = (0..300).map(|i| 900 + i * 1013 % 90_000).collect();
        let c: Vec<u64> = (0..50).map(|i| 1_000_000 + i * 20_000).collect();
        let runs = [run("a", 0, &a, &[]), run("b", 3, &b, &[]), run("c", 7, &c, &[])];
        let merged = merge(&runs).unwrap();
        let all: Vec<u64> = a.iter().chain(&b).chain(&c).copied().collect();
        let expected = build::latency(&histogram_of(&all));
        let got = merged.targets[0].latency_ms.unwrap();
        assert_eq!(serde_json::to_value(got).unwrap(), serde_json::to_value(expected).unwrap());
        assert_eq!(merged.targets[0].ok, all.len() as u64);
        // p99.9 is one of c's slow answers, which a mean of the vantages' quantiles would miss.
        assert!(got.p999 >= 1000.0, "{got:?}");
    }

    #[test]
    fn windows_seen_by_all_and_by_some() {
        // a and b see one outage 2 ms apart on the merged time line; only c sees the second; the
        // third is seen by a and b only, and c is still probing then.
        let runs = [
            run("a", 0, &[1000], &[(1000.0, 1500.0), (4000.0, 4200.0)]),
            run("b", 2, &[1000], &[(1000.0, 1480.0), (3900.0, 4100.0)]),
            run("c", 5, &[1000], &[(995.0, 1500.0), (2000.0, 2300.0)]),
        ];
        let merged = merge(&runs).unwrap();
        let t = &merged.targets[1];
        let all = t.windows_all.as_ref().unwrap();
        let some = t.windows_some.as_ref().unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!((all[0].start_offset_ms, all[0].end_offset_ms), (1000.0, 1505.0));
        assert_eq!(all[0].vantages, ["a", "b", "c"]);
        // Where all three were down at once: b's own span, 1002 to 1482.
        assert_eq!(all[0].overlap_ms, 480.0);
        let seen: Vec<(f64, Vec<String>)> = some.iter().map(|w| (w.start_offset_ms, w.vantages.clone())).collect();
        assert_eq!(seen, [(2005.0, vec!["c".to_string()]), (3902.0, vec!["a".to_string(), "b".to_string()])]);
        assert_eq!((t.outage_count, t.downtime_ms), (1, 505.0));
        // The first URL's window, open at the end of each run, began 5 ms apart on the merged
        // time line (a at 5700 ms, c at 5705 ms): more than the 2 ms of the second URL's.
        let first = merged.targets[0].windows_all.as_ref().unwrap();
        assert_eq!((first.len(), first[0].open), (1, true));
        assert_eq!(merged.clock_offset_ms, Some(5.0));
    }
}
