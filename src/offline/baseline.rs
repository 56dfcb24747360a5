//! `blip judge --baseline GLOB`: the past runs a report is judged against, read from the saved
//! reports the globs name, and the `--…-vs-baseline` gates made of them.
//!
//! A past run counts when it probed the same URLs as the report (and, unless
//! `--baseline-any-command`, wrapped the same COMMAND). Each of its targets gives the figures the
//! gates compare, taken through the same view the report's own gates judge, over the same
//! phases. A file that is not a blip report is named on stderr and skipped: one bad file in a
//! history directory must not stop every later judgement.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::cli::BaselineArgs;
use crate::gates::{Gate, GatePhases, Stat, VsBaseline, history_key, latency_ms};
use crate::offline::saved;
use crate::offline::view::TargetFigures;
use crate::report::Report;
use crate::sanitize;

/// Past runs a baseline needs unless `--baseline-min-runs` says otherwise.
pub const DEFAULT_MIN_RUNS: u32 = 5;

/// Files the globs may name in all: a history is the last N runs, not a whole bucket.
const MAX_FILES: usize = 100_000;

/// The per-target figures of the past runs that match, and what was left out.
#[derive(Debug, Default)]
pub struct History {
    /// Judged downtime, ms, per [`history_key`], one entry per matching run.
    pub downtime_ms: BTreeMap<String, Vec<f64>>,
    /// Judged failed probes, per [`history_key`].
    pub failed: BTreeMap<String, Vec<f64>>,
    /// Per latency quantile asked for (as a percentile), the judged phases' quantile in ms per
    /// [`history_key`]; a past run without a successful probe has none.
    pub latency_ms: Vec<(f64, BTreeMap<String, Vec<f64>>)>,
    pub matched: usize,
    /// Reports of other URLs or another COMMAND.
    pub other: usize,
}

/// What a past run must share with the one judged to count: its URLs (as reports name them) and
/// its COMMAND; and the judged run's own saved report, if it is one, which is no past run.
pub struct Own<'a> {
    pub urls: BTreeSet<String>,
    pub command: Option<Vec<String>>,
    pub path: Option<&'a Path>,
    /// The files the judgement writes (see [`crate::destination::Reports::files`]): none may be
    /// a past report, which it would write over or append to.
    pub writes: Vec<(&'static str, PathBuf)>,
}

impl Own<'_> {
    /// What a saved report at `path` is judged as, writing `writes`.
    pub fn of_report<'a>(report: &Report, path: &'a Path, writes: Vec<(&'static str, PathBuf)>) -> Own<'a> {
        Own {
            urls: report.targets.iter().map(|t| t.url.clone()).collect(),
            command: report.deploy.as_ref().map(|d| d.command.clone()),
            path: Some(path),
            writes,
        }
    }
}

/// Whether any `--…-vs-baseline` gate is asked for.
fn asks_a_gate(args: &BaselineArgs) -> bool {
    args.max_downtime_vs_baseline.is_some()
        || args.max_failed_vs_baseline.is_some()
        || !args.max_latency_vs_baseline.is_empty()
}

/// `--measure-only` judges nothing, so a `--…-vs-baseline` gate beside it is a contradiction.
pub fn measure_only_refuses(args: &BaselineArgs, measure_only: bool) -> anyhow::Result<()> {
    if measure_only && asks_a_gate(args) {
        bail!("--measure-only judges nothing: leave out the --…-vs-baseline gates, or --measure-only");
    }
    Ok(())
}

/// The `--…-vs-baseline` gates `args` asks for, with the history they judge against; none when
/// no baseline is asked for. `own` is the run judged, over the phases `judge` names.
pub fn gates(args: &BaselineArgs, own: &Own<'_>, judge: GatePhases) -> anyhow::Result<Vec<Gate>> {
    match (args.baseline.is_empty(), asks_a_gate(args)) {
        (true, false) => {
            for (given, flag) in [
                (args.baseline_floor.is_some(), "--baseline-floor"),
                (args.baseline_min_runs.is_some(), "--baseline-min-runs"),
                (args.baseline_any_command, "--baseline-any-command"),
            ] {
                if given {
                    bail!("{flag} shapes a baseline: give --baseline GLOB and --max-downtime-vs-baseline STAT");
                }
            }
            return Ok(Vec::new());
        }
        (true, true) => {
            bail!("a --…-vs-baseline gate needs past reports to judge against: give --baseline 'history/*.json'")
        }
        (false, false) => {
            bail!(
                "--baseline needs a gate that uses it: --max-downtime-vs-baseline p99 or --max-failed-vs-baseline p99"
            )
        }
        (false, true) => {}
    }
    let paths = expand(&args.baseline, own.path)?;
    for (flag, out) in &own.writes {
        if paths.iter().any(|past| crate::config::same_file(past, out)) {
            bail!(
                "{flag} {} is a past report --baseline reads: write it elsewhere, or keep it out of the glob",
                sanitize::line(&out.display().to_string())
            );
        }
    }
    let percentiles: Vec<f64> = args.max_latency_vs_baseline.iter().map(|l| l.percentile).collect();
    let history = read(&paths, own, judge, args.baseline_any_command, &percentiles);
    say!(
        "blip: baseline: {} past runs match of {} files read ({} of other URLs or another COMMAND)",
        history.matched,
        paths.len(),
        history.other
    );
    let min_runs = args.baseline_min_runs.unwrap_or(DEFAULT_MIN_RUNS) as usize;
    let floor_ms = args.baseline_floor.map_or(0.0, |f| f.as_secs_f64() * 1000.0);
    let gate =
        |stat: Stat, history: BTreeMap<String, Vec<f64>>, floor: f64| VsBaseline { stat, history, min_runs, floor };
    let mut list = Vec::new();
    if let Some(stat) = args.max_downtime_vs_baseline {
        list.push(Gate::DowntimeVsBaseline(gate(stat, history.downtime_ms.clone(), floor_ms)));
    }
    if let Some(stat) = args.max_failed_vs_baseline {
        list.push(Gate::FailedVsBaseline(gate(stat, history.failed, 0.0)));
    }
    for (l, (_, past)) in args.max_latency_vs_baseline.iter().zip(history.latency_ms) {
        list.push(Gate::LatencyVsBaseline(l.percentile, gate(l.stat, past, 0.0)));
    }
    Ok(list)
}

/// The files the globs name, sorted and once each, without the report being judged.
fn expand(patterns: &[String], report_path: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let own = report_path.and_then(|p| std::fs::canonicalize(p).ok());
    let mut paths = BTreeSet::new();
    for pattern in patterns {
        let matches = glob::glob(pattern).with_context(|| {
            format!("--baseline `{}` is not a glob (quote it, e.g. 'history/*.json')", sanitize::line(pattern))
        })?;
        let before = paths.len();
        for path in matches.flatten() {
            if path.is_file() && (own.is_none() || std::fs::canonicalize(&path).ok() != own) {
                paths.insert(path);
            }
            if paths.len() > MAX_FILES {
                bail!("--baseline names more than {MAX_FILES} files: keep the last runs, not every one");
            }
        }
        if paths.len() == before {
            say!("blip: baseline: `{}` names no report", sanitize::line(pattern));
        }
    }
    Ok(paths.into_iter().collect())
}

/// The figures of the past runs in `paths` that match `own`, with the latency quantiles of
/// `percentiles`.
fn read(paths: &[PathBuf], own: &Own<'_>, judge: GatePhases, any_command: bool, percentiles: &[f64]) -> History {
    let urls = |r: &Report| r.targets.iter().map(|t| t.url.clone()).collect::<BTreeSet<_>>();
    let command = |r: &Report| r.deploy.as_ref().map(|d| d.command.clone());
    let mut history =
        History { latency_ms: percentiles.iter().map(|&p| (p, BTreeMap::new())).collect(), ..History::default() };
    for path in paths {
        let past = match saved::read(path) {
            Ok(past) => past,
            Err(e) => {
                say!("blip: baseline: skipped {}: {}", path.display(), sanitize::line(&format!("{e:#}")));
                continue;
            }
        };
        if urls(&past) != own.urls || (!any_command && command(&past) != own.command) {
            history.other += 1;
            continue;
        }
        history.matched += 1;
        for t in &past.targets {
            let figures = TargetFigures::of(t, judge, past.deploy.as_ref());
            let key = history_key(&t.url, t.connection.as_str());
            history.downtime_ms.entry(key.clone()).or_default().push(figures.windows.downtime.as_secs_f64() * 1000.0);
            history.failed.entry(key.clone()).or_default().push(figures.failed as f64);
            for (p, past) in &mut history.latency_ms {
                if let Some(ms) = latency_ms(&figures.latency, *p) {
                    past.entry(key.clone()).or_default().push(ms);
                }
            }
        }
    }
    history
}
