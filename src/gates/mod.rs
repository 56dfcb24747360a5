//! The gates: limits a run must stay within for CI to pass it.
//!
//! Gates are judged per URL on a [`Judged`](crate::analysis::judged::Judged) view the recorder
//! builds from the phases being judged (by default all but the warmup of a wrapped deploy).
//! Judging (`judge.rs`) is pure: it takes that view and returns a [`Verdict`] with the evidence a
//! CI log needs. Gates that can no longer recover once
//! failed (a forbidden status was seen, the downtime is already past its limit) are what
//! `--fail-fast` stops on.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::analysis::phase::GatePhases;
use crate::engine::status_set::StatusSet;

mod intent;
mod judge;

pub use judge::{Verdict, judge, latency_ms, shown_name};

use crate::analysis::judged::Judged;

/// The gates a run judges: those given, then blip's default, `max-downtime 0s`, when none of them
/// bounds downtime or failed probes. The one place that rule lives, for a run, the demo, `judge`
/// and `merge` alike: a gate on something else (`--fail-on-status 404`, a latency limit) must not
/// switch off the zero-downtime judgement, or a deploy with refused connections passes.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    list: Vec<Gate>,
    default_added: bool,
}

impl Gates {
    /// `given` as the command line gave them; with `measure_only`, none at all.
    pub fn new(given: Vec<Gate>, measure_only: bool) -> Gates {
        if measure_only {
            return Gates { list: Vec::new(), default_added: false };
        }
        let default_added = !given.iter().any(Gate::bounds_downtime);
        let mut list = given;
        if default_added {
            list.push(Gate::MaxDowntime(Duration::ZERO));
        }
        Gates { list, default_added }
    }

    /// Every gate judged, the default last.
    pub fn list(&self) -> &[Gate] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether blip added `max-downtime 0s` itself.
    pub fn default_added(&self) -> bool {
        self.default_added
    }

    /// Each gate with whether it is blip's default.
    pub fn iter(&self) -> impl Iterator<Item = (&Gate, bool)> {
        let last = self.list.len().wrapping_sub(1);
        self.list.iter().enumerate().map(move |(i, gate)| (gate, self.default_added && i == last))
    }

    /// Every gate's verdict on one URL's view, in the order of [`Gates::list`].
    pub fn judge(&self, view: &Judged<'_>) -> Vec<Verdict> {
        self.iter().map(|(gate, default)| Verdict { default, ..judge(gate, view) }).collect()
    }
}

/// One gate, as given on the command line.
#[derive(Clone, Debug)]
pub enum Gate {
    /// Any probe answered with one of these codes fails the run.
    FailOnStatus(StatusSet),
    /// Total downtime above this fails; zero means any outage fails.
    MaxDowntime(Duration),
    /// The longest window above this fails.
    MaxOutage(Duration),
    /// Degraded spans (failing or slow, not down) longer than this in all fail.
    MaxDegraded(Duration),
    MaxFailed(FailedLimit),
    MaxLatency(LatencyLimit),
    /// More windows than this fails: a URL that flaps.
    MaxOutages(u64),
    MaxErrorRate(ErrorRateLimit),
    MaxLatencyIncrease(LatencyIncrease),
    ExpectNew(ExpectNew),
    /// `blip judge --baseline`: the judged downtime against a figure of matching past runs.
    DowntimeVsBaseline(VsBaseline),
    /// `blip judge --baseline`: the judged failed probes against a figure of matching past runs.
    FailedVsBaseline(VsBaseline),
    /// `--baseline`: a latency quantile of the judged phases against a figure of the same
    /// quantile in matching past runs (the history in ms).
    LatencyVsBaseline(f64, VsBaseline),
}

/// `--max-latency-vs-baseline pNN=STAT`: which latency quantile of the judged phases, against
/// which figure of the same quantile in past runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyVsBaseline {
    /// From 0 to 100; 100 is `max`.
    pub percentile: f64,
    pub stat: Stat,
}

impl FromStr for LatencyVsBaseline {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a latency against past runs like p99=p95 (this run's p99 against the p95 of past runs' p99) or p50=max"
            )
        };
        let (quantile, stat) = text.split_once('=').ok_or_else(bad)?;
        let percentile = parse_quantile(quantile).ok_or_else(bad)?;
        Ok(LatencyVsBaseline { percentile, stat: stat.parse().map_err(|_| bad())? })
    }
}

/// A figure of past runs that a `--…-vs-baseline` gate takes as its limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stat {
    /// A quantile, from 0 (excluded) to 100, by nearest rank: `p99` of 23 runs is the 23rd.
    Quantile(f64),
    /// The mean plus this many standard deviations: `mean+3sd`.
    MeanPlusSd(f64),
}

impl FromStr for Stat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a figure of past runs like p99, p95, max or mean+3sd");
        let lower = text.trim().to_ascii_lowercase();
        if let Some(sd) = lower.strip_prefix("mean+").and_then(|rest| rest.strip_suffix("sd")) {
            let sd: f64 = sd.trim().parse().map_err(|_| bad())?;
            return (sd.is_finite() && (0.0..=100.0).contains(&sd)).then_some(Stat::MeanPlusSd(sd)).ok_or_else(bad);
        }
        if lower == "mean" {
            return Ok(Stat::MeanPlusSd(0.0));
        }
        parse_quantile(&lower).map(Stat::Quantile).ok_or_else(bad)
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Quantile(p) => f.write_str(&quantile_name(*p)),
            Stat::MeanPlusSd(sd) => write!(f, "mean+{sd}sd"),
        }
    }
}

impl Stat {
    /// The figure of `values`; `None` when there are none.
    pub fn of(&self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        Some(match self {
            Stat::Quantile(p) => {
                let mut sorted = values.to_vec();
                sorted.sort_by(f64::total_cmp);
                let rank = ((p / 100.0) * n).ceil().max(1.0) as usize;
                sorted[rank.min(sorted.len()) - 1]
            }
            Stat::MeanPlusSd(k) => {
                let mean = values.iter().sum::<f64>() / n;
                let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                mean + k * variance.sqrt()
            }
        })
    }
}

/// What a `--…-vs-baseline` gate judges against: per target ([`history_key`]), the figure in each
/// matching past run.
#[derive(Clone, Debug, PartialEq)]
pub struct VsBaseline {
    pub stat: Stat,
    pub history: std::collections::BTreeMap<String, Vec<f64>>,
    /// Past runs needed: with fewer, the gate fails as not judged.
    pub min_runs: usize,
    /// The least limit, in the figure's unit (ms of downtime, probes): a history of zeros does
    /// not make every blip a failure.
    pub floor: f64,
}

/// The key of a target in a [`VsBaseline`]'s history: the URL and the lane it went out on.
pub fn history_key(url: &str, lane: &str) -> String {
    format!("{url} {lane}")
}

/// `--expect-new`: the deploy must bring a tracked value (`--track-header`, `--track-body`) that
/// the warmup never saw, so a deploy that changed nothing (a no-op retry, a rollout stuck on the
/// old version) fails rather than passing for having had no downtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpectNew {
    /// A value the warmup never saw served by the end of the run.
    #[value(name = "served")]
    Served,
    /// That, and no value the warmup saw answered once the cooldown began.
    #[value(name = "strict")]
    Strict,
}

/// `--max-latency-increase`: how many times the warmup's quantile the judged phases' may be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyIncrease {
    /// From 0 to 100; 100 is `max`.
    pub percentile: f64,
    pub factor: f64,
}

/// Successful warmup probes a latency increase needs for a baseline: below it, a quantile such
/// as p99 rests on one or two probes.
pub const MIN_BASELINE_PROBES: u64 = 100;

/// `p99`, `p99.9` or `max` as a percentile from 0 (excluded) to 100.
fn parse_quantile(text: &str) -> Option<f64> {
    match text.trim().to_ascii_lowercase().as_str() {
        "max" => Some(100.0),
        q => q.strip_prefix('p')?.parse().ok().filter(|p| *p > 0.0 && *p <= 100.0),
    }
}

fn quantile_name(percentile: f64) -> String {
    if percentile >= 100.0 { "max".to_string() } else { format!("p{percentile}") }
}

impl FromStr for LatencyIncrease {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a latency increase like p99=2x or p50=1.5x");
        let (quantile, factor) = text.split_once('=').ok_or_else(bad)?;
        let percentile = parse_quantile(quantile).ok_or_else(bad)?;
        let factor = factor.trim();
        let factor: f64 = factor.strip_suffix(['x', 'X']).unwrap_or(factor).trim().parse().map_err(|_| bad())?;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(bad());
        }
        Ok(LatencyIncrease { percentile, factor })
    }
}

impl fmt::Display for LatencyIncrease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}x", quantile_name(self.percentile), self.factor)
    }
}

impl LatencyIncrease {
    /// `p99` or `max`.
    pub fn quantile_name(&self) -> String {
        quantile_name(self.percentile)
    }
}

/// `--max-error-rate`: a share of failed probes no sliding window of the run may exceed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorRateLimit {
    /// From 0 to 100.
    pub percent: f64,
    /// Width of the sliding window; judged in whole timeline slices (seconds), rounded up.
    pub window: Duration,
}

impl FromStr for ErrorRateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not an error rate over a window like 5%/10s");
        let (share, window) = text.split_once('/').ok_or_else(bad)?;
        let percent: f64 = share.trim().strip_suffix('%').ok_or_else(bad)?.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(format!("`{text}` must be a share from 0% to 100% over a window like 10s"));
        }
        let window = humantime::parse_duration(window.trim()).map_err(|_| bad())?;
        if window.is_zero() || window > Duration::from_secs(86_400 * 365) {
            return Err(format!("`{text}` needs a window longer than 0s and at most a year, like 10s"));
        }
        Ok(ErrorRateLimit { percent, window })
    }
}

impl fmt::Display for ErrorRateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%/{}", self.percent, humantime::format_duration(self.window))
    }
}

/// `--max-failed`: a count of failed probes, or a share of all probes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FailedLimit {
    Count(u64),
    Percent(f64),
}

/// `--max-latency`: a quantile of successful probes' latency and its limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyLimit {
    /// From 0 to 100; 100 is `max`.
    pub percentile: f64,
    pub limit: Duration,
}

impl FromStr for FailedLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a count like 10 or a share like 0.5%");
        match text.trim().strip_suffix('%') {
            Some(percent) => {
                let p: f64 = percent.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("`{text}` must be a share from 0% to 100%"));
                }
                Ok(FailedLimit::Percent(p))
            }
            None => text.trim().parse().map(FailedLimit::Count).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for FailedLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailedLimit::Count(n) => write!(f, "{n}"),
            FailedLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for LatencyLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a latency limit like p99=300ms, p99.9=1s or max=2s");
        let (quantile, limit) = text.split_once('=').ok_or_else(bad)?;
        let percentile = parse_quantile(quantile).ok_or_else(bad)?;
        let limit = humantime::parse_duration(limit.trim()).map_err(|_| bad())?;
        Ok(LatencyLimit { percentile, limit })
    }
}

impl LatencyLimit {
    fn quantile_name(&self) -> String {
        quantile_name(self.percentile)
    }
}

impl Gate {
    /// Whether the gate limits downtime or failed probes, so that no default is added beside it.
    pub fn bounds_downtime(&self) -> bool {
        matches!(
            self,
            Gate::MaxDowntime(_)
                | Gate::MaxOutage(_)
                | Gate::MaxFailed(_)
                | Gate::MaxErrorRate(_)
                | Gate::MaxOutages(_)
                | Gate::DowntimeVsBaseline(_)
                | Gate::FailedVsBaseline(_)
        )
    }

    /// The limit as reports show it.
    pub fn limit(&self) -> String {
        match self {
            Gate::FailOnStatus(set) => set.to_string(),
            Gate::MaxDowntime(d) | Gate::MaxOutage(d) | Gate::MaxDegraded(d) => {
                humantime::format_duration(*d).to_string()
            }
            Gate::MaxFailed(limit) => limit.to_string(),
            Gate::MaxLatency(l) => humantime::format_duration(l.limit).to_string(),
            Gate::MaxOutages(n) => format!("{n} windows"),
            Gate::MaxErrorRate(l) => l.to_string(),
            Gate::MaxLatencyIncrease(l) => format!("{}x the warmup's", l.factor),
            Gate::ExpectNew(ExpectNew::Served) => "a value the warmup never saw serves".to_string(),
            Gate::ExpectNew(ExpectNew::Strict) => {
                "a value the warmup never saw serves, and none of the warmup's answers in the cooldown".to_string()
            }
            Gate::DowntimeVsBaseline(b) if b.floor > 0.0 => {
                format!("{} of past runs, at least {}", b.stat, crate::units::secs_ms(b.floor))
            }
            Gate::FailedVsBaseline(b) if b.floor > 0.0 => format!("{} of past runs, at least {}", b.stat, b.floor),
            Gate::DowntimeVsBaseline(b) | Gate::FailedVsBaseline(b) => format!("{} of past runs", b.stat),
            Gate::LatencyVsBaseline(p, b) => format!("{} of past runs' {}", b.stat, quantile_name(*p)),
        }
    }

    /// The gate as the command line names it: `max-downtime 0s`, `max-latency p99=300ms`.
    pub fn name(&self) -> String {
        match self {
            Gate::FailOnStatus(set) => format!("fail-on-status {set}"),
            Gate::MaxDowntime(d) => format!("max-downtime {}", humantime::format_duration(*d)),
            Gate::MaxOutage(d) => format!("max-outage {}", humantime::format_duration(*d)),
            Gate::MaxDegraded(d) => format!("max-degraded {}", humantime::format_duration(*d)),
            Gate::MaxFailed(limit) => format!("max-failed {limit}"),
            Gate::MaxLatency(l) => format!("max-latency {}={}", l.quantile_name(), humantime::format_duration(l.limit)),
            Gate::MaxOutages(n) => format!("max-outages {n}"),
            Gate::MaxErrorRate(l) => format!("max-error-rate {l}"),
            Gate::MaxLatencyIncrease(l) => format!("max-latency-increase {l}"),
            Gate::ExpectNew(ExpectNew::Served) => "expect-new".to_string(),
            Gate::ExpectNew(ExpectNew::Strict) => "expect-new=strict".to_string(),
            Gate::DowntimeVsBaseline(b) => format!("max-downtime-vs-baseline {}", b.stat),
            Gate::FailedVsBaseline(b) => format!("max-failed-vs-baseline {}", b.stat),
            Gate::LatencyVsBaseline(p, b) => format!("max-latency-vs-baseline {}={}", quantile_name(*p), b.stat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_past_runs() {
        let runs: Vec<f64> = (1..=10).map(f64::from).collect();
        let of = |text: &str| text.parse::<Stat>().unwrap().of(&runs).unwrap();
        // Nearest rank: p99 of ten is the tenth, p50 the fifth, p10 the first.
        assert_eq!((of("p99"), of("p50"), of("p10"), of("max")), (10.0, 5.0, 1.0, 10.0));
        assert_eq!(of("mean"), 5.5);
        let sd = (runs.iter().map(|v| (v - 5.5f64).powi(2)).sum::<f64>() / 10.0).sqrt();
        assert!((of("mean+3sd") - (5.5 + 3.0 * sd)).abs() < 1e-9);
        assert_eq!("p99".parse::<Stat>().unwrap().of(&[]), None);
        for bad in ["p0", "p101", "mean+", "mean+xsd", "mean+-1sd", "avg", ""] {
            assert!(bad.parse::<Stat>().is_err(), "{bad}");
        }
        assert_eq!("MEAN+3SD".parse::<Stat>().unwrap().to_string(), "mean+3sd");
    }
}
