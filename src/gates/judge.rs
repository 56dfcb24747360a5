//! Judging: one gate on one URL's judged view, with the evidence a CI log needs. Pure: a view
//! in, a [`Verdict`] out.

use std::time::Duration;

use crate::analysis::judged::{Judged, JudgedWindow, Offender};
use hdrhistogram::Histogram;

use super::intent::judge_expect_new;
use crate::analysis::phase::GatePhases;
use crate::analysis::timeline::{Slice, Timeline};
use crate::gates::{
    ErrorRateLimit, FailedLimit, Gate, LatencyIncrease, MIN_BASELINE_PROBES, StatusSet, VsBaseline, history_key,
};
use crate::units::{ms, secs, us_to_ms};

/// The outcome of one gate for one URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub gate: String,
    /// blip added this gate itself, since none given bounds downtime (see [`crate::gates::Gates`]).
    pub default: bool,
    pub limit: String,
    pub observed: String,
    pub passed: bool,
    /// True when the gate failed and nothing later in the run can make it pass.
    pub settled: bool,
    pub first: Option<Offender>,
    /// Indexes of the windows involved, into the URL's outages.
    pub windows: Vec<usize>,
    /// `--max-error-rate`: the sliding window with the highest share of failed probes.
    pub worst_window: Option<RateWindow>,
    /// `--max-latency-increase`: both quantiles, µs, when both could be taken.
    pub increase: Option<Increase>,
}

impl Verdict {
    /// `gate` failed, with its limit and nothing observed yet: where a judgement starts, so that
    /// a gate that finds nothing to judge fails.
    pub(super) fn failed(gate: &Gate) -> Verdict {
        Verdict {
            gate: gate.name(),
            default: false,
            limit: gate.limit(),
            observed: String::new(),
            passed: false,
            settled: false,
            first: None,
            windows: Vec::new(),
            worst_window: None,
            increase: None,
        }
    }

    /// The gate as the human reports name it: `max-downtime 0s (default)` for blip's own.
    pub fn shown(&self) -> String {
        shown_name(&self.gate, self.default)
    }
}

/// A gate's name as the human reports show it, with `(default)` after blip's own.
pub fn shown_name(gate: &str, default: bool) -> String {
    if default { format!("{gate} (default)") } else { gate.to_string() }
}

/// A latency quantile of the warmup and of the judged phases after it, µs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Increase {
    pub warmup_us: u64,
    pub judged_us: u64,
}

impl Increase {
    pub fn ratio(&self) -> f64 {
        self.judged_us as f64 / self.warmup_us.max(1) as f64
    }
}

fn quantile(h: &Histogram<u64>, percentile: f64) -> u64 {
    if percentile >= 100.0 { h.max() } else { h.value_at_quantile(percentile / 100.0) }
}

/// The `percentile` (100: the maximum) of `latency`, in ms; `None` without a successful probe.
pub fn latency_ms(latency: &Histogram<u64>, percentile: f64) -> Option<f64> {
    if latency.is_empty() {
        return None;
    }
    let us = if percentile >= 100.0 { latency.max() } else { latency.value_at_quantile(percentile / 100.0) };
    Some(us_to_ms(us))
}

/// A `--…-vs-baseline` gate: `figure` of this run against the gate's figure of the matching
/// past runs of the same URL and lane, at least its floor; fewer past runs than needed fail as
/// not judged. `shown` writes a figure as the verdict says it.
fn judge_vs_baseline(
    gate: &Gate,
    b: &VsBaseline,
    view: &Judged<'_>,
    figure: f64,
    shown: &dyn Fn(f64) -> String,
) -> Verdict {
    let mut v = Verdict::failed(gate);
    let past = b.history.get(&history_key(view.url, view.lane)).map_or(&[][..], Vec::as_slice);
    let Some(stat) = b.stat.of(past).filter(|_| past.len() >= b.min_runs) else {
        v.observed =
            format!("not judged: {} past runs match, {} needed (--baseline-min-runs)", past.len(), b.min_runs.max(1));
        return v;
    };
    let limit = stat.max(b.floor);
    let floor = if b.floor > stat { format!(", floor {}", shown(b.floor)) } else { String::new() };
    v.observed = format!("{} vs {} of {} past runs {}{floor}", shown(figure), b.stat, past.len(), shown(stat));
    v.limit = format!("{} ({})", gate.limit(), shown(limit));
    v.passed = figure <= limit;
    v.settled = !v.passed;
    if !v.passed {
        v.windows = view.windows.iter().map(|w| w.index).collect();
    }
    v
}

/// `--max-latency-increase`: the judged phases after the warmup (deploy, and cooldown unless
/// `--gate-phase deploy`) against the warmup, the baseline a service set for itself.
fn judge_increase(gate: &Gate, l: &LatencyIncrease, view: &Judged<'_>) -> Verdict {
    let mut v = Verdict::failed(gate);
    let [warmup, deploy, cooldown] = match view.by_phase {
        [w, d, c] => [w, d, c],
        _ => {
            v.observed = "not judged: no warmup without a COMMAND".to_string();
            return v;
        }
    };
    // The warmup is over once the deploy has a probe: its figures are final.
    let warmup_over = deploy.probes > 0;
    if warmup.ok < MIN_BASELINE_PROBES {
        v.observed = format!(
            "not judged: {} successful warmup probes, {MIN_BASELINE_PROBES} needed (a longer --warmup or a higher --rate)",
            warmup.ok
        );
        v.settled = warmup_over;
        return v;
    }
    let mut judged = deploy.latency.clone();
    if view.phases != GatePhases::Deploy && !cooldown.latency.is_empty() {
        // Histograms that grow to their values always take each other's.
        let _ = judged.add(&cooldown.latency);
    }
    let name = l.quantile_name();
    let warmup_us = quantile(&warmup.latency, l.percentile);
    if judged.is_empty() {
        v.observed = format!("no successful probe after the warmup ({name} {} ms there)", us_to_ms(warmup_us));
        return v;
    }
    let increase = Increase { warmup_us, judged_us: quantile(&judged, l.percentile) };
    v.observed = format!(
        "{name} {} vs {} in warmup: {:.2}x",
        ms(us_to_ms(increase.judged_us)),
        ms(us_to_ms(increase.warmup_us)),
        increase.ratio()
    );
    v.passed = increase.ratio() <= l.factor;
    // Only the maximum never comes back down, and only once the warmup's is final.
    v.settled = !v.passed && l.percentile >= 100.0 && warmup_over;
    v.increase = Some(increase);
    v
}

/// A span of the timeline and its judged probes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateWindow {
    /// From the start of the run.
    pub start: Duration,
    pub end: Duration,
    pub probes: u64,
    pub failed: u64,
}

impl RateWindow {
    /// Failed probes as a share of all, in percent.
    pub fn percent(&self) -> f64 {
        if self.probes == 0 { 0.0 } else { self.failed as f64 * 100.0 / self.probes as f64 }
    }
}

/// The sliding window of `width` (in whole slices, rounded up) with the highest share of failed
/// probes, the earliest of equals; and whether that share is settled, which only a window that
/// no longer takes probes is (the last slice still may while the run goes on).
fn worst_window(timeline: &Timeline, width: Duration) -> Option<(RateWindow, RateWindow)> {
    let slice_s = timeline.width_s().max(1);
    let span = usize::try_from(width.as_secs().div_ceil(slice_s).max(1)).unwrap_or(usize::MAX);
    let slices: Vec<(u64, Slice)> = timeline.slices().collect();
    let window = |from: usize, to: usize| {
        let (start, _) = slices[from];
        let (last, _) = slices[to - 1];
        let (probes, failed) = slices[from..to].iter().fold((0u64, 0u64), |(p, f), (_, s)| {
            (p.saturating_add(s.ok).saturating_add(s.failed), f.saturating_add(s.failed))
        });
        // Saturating: a saved report's counts and widths are whatever it says.
        let end = Duration::from_secs(last.saturating_add(slice_s));
        RateWindow { start: Duration::from_secs(start), end, probes, failed }
    };
    let worse = |a: &RateWindow, b: &RateWindow| b.percent() > a.percent();
    let count = slices.len().saturating_sub(span) + 1;
    let mut worst: Option<RateWindow> = None;
    let mut worst_closed: Option<RateWindow> = None;
    for from in 0..count.min(slices.len()) {
        let to = (from + span).min(slices.len());
        let w = window(from, to);
        if w.probes == 0 {
            continue;
        }
        if worst.as_ref().is_none_or(|a| worse(a, &w)) {
            worst = Some(w);
        }
        if to < slices.len() && worst_closed.as_ref().is_none_or(|a| worse(a, &w)) {
            worst_closed = Some(w);
        }
    }
    worst.map(|w| (w, worst_closed.unwrap_or(RateWindow { probes: 0, ..w })))
}

/// A verdict on `gate`: `settled` only when it failed and cannot come back.
fn verdict(gate: &Gate, limit: String, observed: String, passed: bool, settled: bool) -> Verdict {
    Verdict { limit, observed, passed, settled: !passed && settled, ..Verdict::failed(gate) }
}

/// Judges one gate on one URL's view of the run. A gate with no probe to judge fails: a run
/// that never probed proves nothing.
pub fn judge(gate: &Gate, view: &Judged<'_>) -> Verdict {
    if view.probes == 0 {
        return verdict(gate, gate.limit(), "no probe judged".to_string(), false, false);
    }
    match gate {
        Gate::FailOnStatus(set) => judge_status(gate, set, view),
        Gate::MaxDowntime(limit) => judge_downtime(gate, *limit, view),
        Gate::MaxOutage(limit) => judge_outage(gate, *limit, view),
        Gate::MaxOutages(limit) => judge_outages(gate, *limit, view),
        Gate::MaxDegraded(limit) => judge_degraded(gate, *limit, view),
        Gate::MaxFailed(limit) => {
            let (passed, settled, observed) = match limit {
                FailedLimit::Count(n) => (view.failed <= *n, true, format!("{} probes", view.failed)),
                FailedLimit::Percent(p) => {
                    let share = if view.probes == 0 { 0.0 } else { view.failed as f64 * 100.0 / view.probes as f64 };
                    (share <= *p, false, format!("{share:.3}% ({} of {})", view.failed, view.probes))
                }
            };
            let mut v = verdict(gate, limit.to_string(), observed, passed, settled);
            v.first = view.first_failure.cloned();
            v
        }
        Gate::MaxLatency(l) => {
            let value = if view.latency.is_empty() {
                None
            } else if l.percentile >= 100.0 {
                Some(view.latency.max())
            } else {
                Some(view.latency.value_at_quantile(l.percentile / 100.0))
            };
            let observed = value.map_or("no successful probe".to_string(), |us| ms(us_to_ms(us)).to_string());
            // Without a successful probe there is no latency that could be within the limit.
            let passed = value.is_some_and(|us| Duration::from_micros(us) <= l.limit);
            // Only the maximum can never come back down.
            verdict(gate, humantime::format_duration(l.limit).to_string(), observed, passed, l.percentile >= 100.0)
        }
        Gate::MaxLatencyIncrease(l) => judge_increase(gate, l, view),
        Gate::ExpectNew(mode) => judge_expect_new(gate, *mode, view),
        Gate::DowntimeVsBaseline(b) => {
            let downtime = view.downtime.as_secs_f64() * 1000.0;
            judge_vs_baseline(gate, b, view, downtime, &|ms| secs(Duration::from_secs_f64(ms / 1000.0)).to_string())
        }
        Gate::FailedVsBaseline(b) => {
            judge_vs_baseline(gate, b, view, view.failed as f64, &|n| format!("{} probes", (n * 10.0).round() / 10.0))
        }
        Gate::LatencyVsBaseline(percentile, b) => match latency_ms(view.latency, *percentile) {
            None => verdict(gate, gate.limit(), "no successful probe".to_string(), false, false),
            Some(figure) => {
                let mut v = judge_vs_baseline(gate, b, view, figure, &|x| ms(x).to_string());
                // A quantile other than the maximum can come back down.
                v.settled &= *percentile >= 100.0;
                v
            }
        },
        Gate::MaxErrorRate(limit) => judge_error_rate(gate, limit, view),
    }
}

/// `--fail-on-status`: no judged answer with a code of `set`. A probe answered never un-happens.
fn judge_status(gate: &Gate, set: &StatusSet, view: &Judged<'_>) -> Verdict {
    let hits: u64 = view.status_counts.iter().filter(|(code, _)| set.contains(**code)).map(|(_, n)| n).sum();
    let mut v = verdict(gate, set.to_string(), format!("{hits} probes"), hits == 0, true);
    v.first =
        view.first_status.iter().filter(|(code, _)| set.contains(**code)).map(|(_, o)| o).min_by_key(|o| o.at).cloned();
    v.windows = view
        .windows
        .iter()
        .filter(|w| w.causes.iter().any(|c| c.status().is_some_and(|s| set.contains(s))))
        .map(|w| w.index)
        .collect();
    v
}

/// The window a gate on windows blames first.
fn offender(w: &JudgedWindow) -> Offender {
    Offender { at: w.start, text: w.first_error.clone() }
}

/// `--max-downtime`: the judged windows' sum (with 0 s, any window fails). A window never
/// un-happens: once past the limit, the gate stays failed.
fn judge_downtime(gate: &Gate, limit: Duration, view: &Judged<'_>) -> Verdict {
    let passed = if limit.is_zero() { view.longest.is_none() } else { view.downtime <= limit };
    let limit = humantime::format_duration(limit).to_string();
    let mut v = verdict(gate, limit, secs(view.downtime).to_string(), passed, true);
    v.windows = view.windows.iter().map(|w| w.index).collect();
    v.first = view.windows.first().map(offender);
    v
}

/// `--max-outage`: the longest judged window.
fn judge_outage(gate: &Gate, limit: Duration, view: &Judged<'_>) -> Verdict {
    let longest = view.longest.as_ref();
    let observed = longest.map_or(Duration::ZERO, |w| w.judged);
    let passed = observed <= limit && !(limit.is_zero() && longest.is_some());
    let mut v = verdict(gate, humantime::format_duration(limit).to_string(), secs(observed).to_string(), passed, true);
    if let Some(w) = longest {
        v.windows = vec![w.index];
        v.first = Some(offender(w));
    }
    v
}

/// `--max-outages`: how many windows had a judged part; the first one past the limit is blamed.
fn judge_outages(gate: &Gate, limit: u64, view: &Judged<'_>) -> Verdict {
    let count = view.window_count;
    let mut v = verdict(gate, gate.limit(), format!("{count} windows"), count <= limit, true);
    if count > limit {
        v.windows = view.windows.iter().map(|w| w.index).collect();
        let first = usize::try_from(limit).ok().and_then(|n| view.windows.get(n));
        v.first = first.map(offender);
    }
    v
}

/// `--max-degraded`: the degraded spans' total. They are drawn from the whole run once it has
/// ended, so while it goes on the gate waits (passing, never settled).
fn judge_degraded(gate: &Gate, limit: Duration, view: &Judged<'_>) -> Verdict {
    let limit_text = humantime::format_duration(limit).to_string();
    let Some(d) = &view.degraded else {
        return verdict(gate, limit_text, "judged when the run ends".to_string(), true, false);
    };
    let spans = if d.spans == 1 { "1 span".to_string() } else { format!("{} spans", d.spans) };
    let passed = d.total <= limit;
    let mut v = verdict(gate, limit_text, format!("{} in {spans}", secs(d.total)), passed, false);
    if !passed {
        v.first.clone_from(&d.first);
    }
    v
}

/// `--max-error-rate`: the worst sliding window of judged probes. It is settled once a window
/// that has closed is past the limit.
fn judge_error_rate(gate: &Gate, limit: &ErrorRateLimit, view: &Judged<'_>) -> Verdict {
    let Some((worst, closed)) = worst_window(view.timeline, limit.window) else {
        return verdict(gate, gate.limit(), "no probe judged".to_string(), false, false);
    };
    let (start, end) = (worst.start.as_secs(), worst.end.as_secs());
    let observed = format!("{:.3}% ({} of {}) from {start}s to {end}s", worst.percent(), worst.failed, worst.probes);
    let passed = worst.percent() <= limit.percent;
    let mut v = verdict(gate, gate.limit(), observed, passed, closed.percent() > limit.percent);
    v.worst_window = Some(worst);
    if !passed {
        let text = format!("{} of {} probes failed from {start}s to {end}s", worst.failed, worst.probes);
        v.first = Some(Offender { at: worst.start, text });
        v.windows = view
            .windows
            .iter()
            .filter(|w| w.start < worst.end && w.start + w.judged > worst.start)
            .map(|w| w.index)
            .collect();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::phase::PhaseStats;
    use crate::gates::{ErrorRateLimit, ExpectNew, GatePhases, LatencyIncrease, LatencyLimit};
    use std::collections::BTreeMap;

    use hdrhistogram::Histogram;

    use crate::analysis::judged::JudgedWindow;
    use crate::analysis::phase::Phase;
    use crate::engine::sample::{Cause, ErrorKind};

    const MS: Duration = Duration::from_millis(1);

    struct Fixture {
        status_counts: BTreeMap<u16, u64>,
        first_status: BTreeMap<u16, Offender>,
        first_failure: Option<Offender>,
        latency: Histogram<u64>,
        timeline: Timeline,
    }

    fn fixture(statuses: &[(u16, u64)], latencies_ms: &[u64]) -> Fixture {
        let mut latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for ms in latencies_ms {
            latency.record(ms * 1000).unwrap();
        }
        Fixture {
            status_counts: statuses.iter().copied().collect(),
            first_status: statuses
                .iter()
                .map(|(code, _)| (*code, Offender { at: MS * u32::from(*code), text: format!("{code} text") }))
                .collect(),
            first_failure: Some(Offender { at: MS * 7, text: "first".into() }),
            latency,
            timeline: timeline(1, &[]),
        }
    }

    fn view<'a>(f: &'a Fixture, probes: u64, failed: u64, windows: &[(u64, u64)]) -> Judged<'a> {
        let windows: Vec<JudgedWindow> = windows
            .iter()
            .enumerate()
            .map(|(index, (start, len))| JudgedWindow {
                index,
                start: MS * *start as u32,
                judged: MS * *len as u32,
                first_error: format!("window {index}"),
                causes: vec![Cause::Status(404), Cause::Error(ErrorKind::Refused)],
            })
            .filter(|w| !w.judged.is_zero())
            .collect();
        Judged {
            downtime: windows.iter().map(|w| w.judged).sum(),
            longest: windows.iter().max_by_key(|w| w.judged).cloned(),
            window_count: windows.len() as u64,
            timeline: &f.timeline,
            by_phase: &[],
            phases: GatePhases::DeployCooldown,
            url: "http://a/",
            probes,
            failed,
            status_counts: &f.status_counts,
            first_status: &f.first_status,
            first_failure: f.first_failure.as_ref(),
            windows,
            latency: &f.latency,
            intent: Default::default(),
            lane: "reused",
            label: "http://a/",
            degraded: None,
        }
    }

    fn gate(flag: &str, value: &str) -> Gate {
        match flag {
            "fail-on-status" => Gate::FailOnStatus(value.parse().unwrap()),
            "max-downtime" => Gate::MaxDowntime(humantime::parse_duration(value).unwrap()),
            "max-outage" => Gate::MaxOutage(humantime::parse_duration(value).unwrap()),
            "max-failed" => Gate::MaxFailed(value.parse().unwrap()),
            "max-latency" => Gate::MaxLatency(value.parse().unwrap()),
            "max-outages" => Gate::MaxOutages(value.parse().unwrap()),
            "max-error-rate" => Gate::MaxErrorRate(value.parse().unwrap()),
            "max-latency-increase" => Gate::MaxLatencyIncrease(value.parse().unwrap()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn fail_on_status_fails_on_the_first_matching_answer() {
        let clean = fixture(&[(200, 100), (503, 2)], &[]);
        let v = judge(&gate("fail-on-status", "404"), &view(&clean, 102, 2, &[]));
        assert!(v.passed && !v.settled, "{v:?}");
        let dirty = fixture(&[(200, 100), (404, 1)], &[]);
        let v = judge(&gate("fail-on-status", "404"), &view(&dirty, 101, 1, &[(50, 20)]));
        assert!(!v.passed && v.settled);
        assert_eq!(v.observed, "1 probes");
        assert_eq!(v.first, Some(Offender { at: MS * 404, text: "404 text".into() }));
        assert_eq!(v.windows, [0]);
        assert!(!judge(&gate("fail-on-status", "4xx"), &view(&dirty, 101, 1, &[])).passed);
    }

    #[test]
    fn max_degraded_waits_for_the_spans_then_judges_their_total() {
        let f = fixture(&[], &[]);
        let gate = Gate::MaxDegraded(MS * 1000);
        let live = judge(&gate, &view(&f, 10, 0, &[]));
        assert!(live.passed && !live.settled && live.observed == "judged when the run ends", "{live:?}");
        let span = |ms: u32, spans| crate::analysis::judged::Degraded {
            total: MS * ms,
            spans,
            first: Some(Offender { at: MS * 3500, text: "+3.500 s → …".into() }),
        };
        let mut v = view(&f, 10, 0, &[]);
        v.degraded = Some(span(1000, 1));
        let at = judge(&gate, &v);
        assert!(at.passed && at.first.is_none(), "exactly at the limit passes: {at:?}");
        v.degraded = Some(span(2745, 2));
        let over = judge(&gate, &v);
        assert!(!over.passed && !over.settled, "{over:?}");
        assert_eq!(over.observed, "2.745 s in 2 spans");
        assert_eq!(over.first.map(|o| o.at), Some(MS * 3500));
        assert!(!gate.bounds_downtime(), "the default gate stays beside it");
        assert_eq!(gate.name(), "max-degraded 1s");
    }

    #[test]
    fn max_downtime_edges() {
        let f = fixture(&[], &[]);
        let zero = gate("max-downtime", "0s");
        assert!(judge(&zero, &view(&f, 10, 0, &[])).passed);
        let v = judge(&zero, &view(&f, 10, 1, &[(30, 1)]));
        assert!(!v.passed && v.settled, "0s: any outage fails");
        assert_eq!(v.first.unwrap().text, "window 0");
        let limit = gate("max-downtime", "500ms");
        assert!(judge(&limit, &view(&f, 10, 1, &[(0, 300), (900, 200)])).passed, "exactly at the limit passes");
        let v = judge(&limit, &view(&f, 10, 1, &[(0, 300), (900, 201)]));
        assert!(!v.passed);
        assert_eq!((v.observed.as_str(), v.windows.as_slice()), ("0.501 s", &[0, 1][..]));
        assert!(judge(&zero, &view(&f, 10, 0, &[(30, 0)])).passed, "a window wholly outside judged phases");
    }

    #[test]
    fn max_outage_judges_the_longest_window() {
        let f = fixture(&[], &[]);
        let g = gate("max-outage", "250ms");
        assert!(judge(&g, &view(&f, 10, 1, &[(0, 250), (900, 100)])).passed);
        let v = judge(&g, &view(&f, 10, 1, &[(0, 100), (900, 251)]));
        assert!(!v.passed);
        assert_eq!(v.windows, [1]);
    }

    #[test]
    fn max_outages_counts_judged_windows() {
        let f = fixture(&[], &[]);
        let g = gate("max-outages", "3");
        let three = [(0, 10), (100, 10), (200, 10)];
        assert!(judge(&g, &view(&f, 100, 3, &three)).passed, "exactly at the limit passes");
        let v = judge(&g, &view(&f, 100, 4, &[(0, 10), (100, 10), (200, 10), (300, 10)]));
        assert!(!v.passed && v.settled, "a window never un-happens");
        assert_eq!((v.observed.as_str(), v.windows.as_slice()), ("4 windows", &[0, 1, 2, 3][..]));
        assert_eq!(v.first, Some(Offender { at: MS * 300, text: "window 3".into() }), "the window past the limit");
        assert!(judge(&g, &view(&f, 100, 4, &[(0, 10), (100, 10), (200, 10), (300, 0)])).passed, "unjudged");
    }

    /// A timeline of `seconds` one-second slices at 100 probes each, with `failed[i]` failures in
    /// slice `i` (missing: none).
    fn timeline(seconds: u64, failed: &[u64]) -> Timeline {
        let mut t = Timeline::default();
        for s in 0..seconds {
            let bad = failed.get(s as usize).copied().unwrap_or(0);
            for i in 0..100 {
                let at = Duration::from_secs(s) + MS * (i * 10);
                t.record(at, (u64::from(i) >= bad).then_some(MS));
            }
        }
        t
    }

    #[test]
    fn max_error_rate_judges_the_worst_sliding_window() {
        let f = fixture(&[], &[]);
        let g = gate("max-error-rate", "5%/10s");
        // 30 failures in 1000 probes, all in one ten-second window: 3% there, within 5%.
        let spread: Vec<u64> = vec![3; 10];
        let mut v = view(&f, 6000, 30, &[]);
        let t = timeline(60, &spread);
        v.timeline = &t;
        assert!(judge(&g, &v).passed);
        // The same 30 failures inside 5 s of a 10 s window over 60 s: 3% of every window around them.
        // Concentrated on a 2 s window they are 15%.
        let g2 = gate("max-error-rate", "5%/2s");
        let r = judge(&g2, &v);
        assert!(r.passed, "3% in every 2 s: {r:?}");
        let t = timeline(60, &[0, 0, 0, 0, 0, 15, 15]);
        v.timeline = &t;
        let r = judge(&g2, &v);
        assert!(!r.passed && r.settled, "{r:?}");
        let w = r.worst_window.unwrap();
        assert_eq!((w.start, w.end, w.failed, w.probes), (Duration::from_secs(5), Duration::from_secs(7), 30, 200));
        assert_eq!(r.observed, "15.000% (30 of 200) from 5s to 7s");
        assert!(judge(&g, &v).passed, "3% over 10 s");
        // Only in the last slice, which still takes probes while the run goes on: not settled.
        let mut last = vec![0; 59];
        last.push(50);
        let t = timeline(60, &last);
        v.timeline = &t;
        let r = judge(&g2, &v);
        assert!(!r.passed && !r.settled, "{r:?}");
        // A run shorter than the window is judged as one window.
        let t = timeline(3, &[10, 0, 0]);
        v.timeline = &t;
        let r = judge(&g, &v);
        assert_eq!(r.worst_window.map(|w| (w.probes, w.failed)), Some((300, 10)));
        assert!(r.passed);
    }

    fn phase(ok_ms: &[u64]) -> PhaseStats {
        let mut latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for ms in ok_ms {
            latency.record(ms * 1000).unwrap();
        }
        let n = ok_ms.len() as u64;
        let latency_max_us = latency.max();
        PhaseStats { probes: n, ok: n, failed: 0, latency, latency_max_us, downtime: Duration::ZERO }
    }

    #[test]
    fn max_latency_increase_compares_with_the_warmup() {
        let f = fixture(&[], &[]);
        let g = gate("max-latency-increase", "p99=2x");
        let phases = [phase(&[10; 100]), phase(&[15; 50]), phase(&[25; 50])];
        let mut v = view(&f, 100, 0, &[]);
        v.by_phase = &phases;
        // Deploy and cooldown: p99 25 ms against 10 ms.
        let r = judge(&g, &v);
        assert!(!r.passed && !r.settled, "{r:?}");
        // HdrHistogram reports the top of the value's bucket: 10 ms reads as 10.007 ms.
        assert_eq!(r.increase.map(|i| (i.warmup_us / 1000, i.judged_us / 1000)), Some((10, 25)));
        assert_eq!(r.observed, "p99 25.007 ms vs 10.007 ms in warmup: 2.50x");
        v.phases = GatePhases::Deploy;
        assert!(judge(&g, &v).passed, "the cooldown is not judged");
        let short = [phase(&[10; 99]), phase(&[15; 50]), phase(&[])];
        v.by_phase = &short;
        let r = judge(&g, &v);
        assert!(!r.passed && r.settled && r.observed.starts_with("not judged: 99 successful"), "{r:?}");
        v.by_phase = &[];
        assert!(!judge(&g, &v).passed);
    }

    #[test]
    fn max_failed_counts_and_shares() {
        let f = fixture(&[], &[]);
        assert!(judge(&gate("max-failed", "3"), &view(&f, 100, 3, &[])).passed);
        let v = judge(&gate("max-failed", "3"), &view(&f, 100, 4, &[]));
        assert!(!v.passed && v.settled);
        assert_eq!(v.first.unwrap().text, "first");
        assert!(judge(&gate("max-failed", "1%"), &view(&f, 200, 2, &[])).passed);
        let v = judge(&gate("max-failed", "1%"), &view(&f, 200, 3, &[]));
        assert!(!v.passed && !v.settled, "a share can still recover");
    }

    #[test]
    fn no_gate_passes_without_a_probe() {
        let f = fixture(&[], &[]);
        for (name, value) in [
            ("fail-on-status", "404"),
            ("max-downtime", "0s"),
            ("max-outage", "1s"),
            ("max-failed", "0"),
            ("max-failed", "1%"),
            ("max-latency", "p50=1s"),
            ("max-outages", "3"),
            ("max-error-rate", "1%/10s"),
            ("max-latency-increase", "p99=2x"),
        ] {
            let v = judge(&gate(name, value), &view(&f, 0, 0, &[]));
            assert!(!v.passed, "{name} {value}");
            assert_eq!(v.observed, "no probe judged");
            assert!(!v.settled, "probes may still come");
        }
    }

    #[test]
    fn max_latency_quantiles() {
        let f = fixture(&[], &(1..=100).collect::<Vec<_>>());
        // HdrHistogram reports the top of the value's bucket (3 significant digits): 99 ms reads as 99.0x ms.
        assert!(judge(&gate("max-latency", "p99=100ms"), &view(&f, 100, 0, &[])).passed);
        let v = judge(&gate("max-latency", "p99=98ms"), &view(&f, 100, 0, &[]));
        assert!(!v.passed && !v.settled);
        assert!(judge(&gate("max-latency", "max=101ms"), &view(&f, 100, 0, &[])).passed);
        let v = judge(&gate("max-latency", "max=99ms"), &view(&f, 100, 0, &[]));
        assert!(!v.passed && v.settled, "the maximum never comes down");
        let none = fixture(&[], &[]);
        let v = judge(&gate("max-latency", "p50=1ms"), &view(&none, 10, 10, &[]));
        assert!(!v.passed && v.observed == "no successful probe", "{v:?}");
    }

    #[test]
    fn a_latency_quantile_against_the_same_quantile_of_past_runs() {
        let f = fixture(&[], &(1..=100).collect::<Vec<_>>());
        let past = |p99s: &[f64], stat: &str| {
            let history = [("http://a/ reused".to_string(), p99s.to_vec())].into();
            let stat = stat.parse().unwrap();
            Gate::LatencyVsBaseline(99.0, VsBaseline { stat, history, min_runs: 3, floor: 0.0 })
        };
        // This run's p99 is 99 ms (its bucket's top, 99.0x): above 90, within 120.
        let v = judge(&past(&[50.0, 90.0, 80.0], "max"), &view(&f, 100, 0, &[]));
        assert!(!v.passed && !v.settled, "a quantile can come back down: {v:?}");
        assert!(
            v.observed.starts_with("99.") && v.observed.ends_with("ms vs max of 3 past runs 90.000 ms"),
            "{}",
            v.observed
        );
        assert!(judge(&past(&[50.0, 120.0, 80.0], "max"), &view(&f, 100, 0, &[])).passed);
        assert_eq!(past(&[], "p95").name(), "max-latency-vs-baseline p99=p95");
        let v = judge(&past(&[50.0, 120.0], "max"), &view(&f, 100, 0, &[]));
        assert!(!v.passed && v.observed.starts_with("not judged: 2 past runs"), "{v:?}");
        let none = fixture(&[], &[]);
        let v = judge(&past(&[50.0, 120.0, 80.0], "max"), &view(&none, 10, 10, &[]));
        assert!(!v.passed && v.observed == "no successful probe", "{v:?}");
        assert!("p99".parse::<crate::gates::LatencyVsBaseline>().unwrap_err().contains("like p99=p95"));
        assert!("p99=2x".parse::<crate::gates::LatencyVsBaseline>().is_err());
    }

    #[test]
    fn parsing() {
        assert_eq!("5".parse::<FailedLimit>(), Ok(FailedLimit::Count(5)));
        assert_eq!("0.5%".parse::<FailedLimit>(), Ok(FailedLimit::Percent(0.5)));
        assert!("101%".parse::<FailedLimit>().is_err() && "x".parse::<FailedLimit>().is_err());
        let l: LatencyLimit = "p99.9=1s".parse().unwrap();
        assert_eq!((l.percentile, l.limit), (99.9, Duration::from_secs(1)));
        assert_eq!("max=2s".parse::<LatencyLimit>().unwrap().percentile, 100.0);
        for bad in ["p99", "99=1s", "p0=1s", "p101=1s", "p99=fast", "=1s"] {
            assert!(bad.parse::<LatencyLimit>().is_err(), "{bad}");
        }
        assert_eq!(Gate::MaxLatency("p99=300ms".parse().unwrap()).name(), "max-latency p99=300ms");
        let rate: ErrorRateLimit = "5%/10s".parse().unwrap();
        assert_eq!((rate.percent, rate.window), (5.0, Duration::from_secs(10)));
        assert_eq!(Gate::MaxErrorRate(rate).name(), "max-error-rate 5%/10s");
        let inc: LatencyIncrease = "p99.9=1.5x".parse().unwrap();
        assert_eq!((inc.percentile, inc.factor), (99.9, 1.5));
        assert_eq!(Gate::MaxLatencyIncrease("max=2".parse().unwrap()).name(), "max-latency-increase max=2x");
        for bad in ["p99", "p99=0x", "p99=-1x", "p99=fast", "99=2x", "p99=infx"] {
            assert!(bad.parse::<LatencyIncrease>().is_err(), "{bad}");
        }
        for bad in ["5/10s", "5%", "5%/0s", "101%/1s", "x%/1s", "5%/soon"] {
            assert!(bad.parse::<ErrorRateLimit>().is_err(), "{bad}");
        }
        assert!(GatePhases::DeployCooldown.judges(None) && !GatePhases::DeployCooldown.judges(Some(Phase::Warmup)));
        assert!(GatePhases::Deploy.judges(Some(Phase::Deploy)) && !GatePhases::Deploy.judges(Some(Phase::Cooldown)));
        assert!(GatePhases::All.judges(Some(Phase::Warmup)));
    }

    #[test]
    fn expect_new_fails_a_deploy_that_brought_no_new_value() {
        use crate::analysis::judged::Intent;
        use crate::analysis::tracking::{Seen, SeenSource};
        let f = fixture(&[(200, 10)], &[5]);
        let seen = |value: &str, first: u64, last: u64, ok: bool| Seen {
            value: value.to_string(),
            first_seen: MS * first as u32,
            last_seen: MS * last as u32,
            first_ok: ok.then_some(MS * first as u32),
        };
        let source = |values: Vec<Seen>| SeenSource { name: "header x-app-version".into(), values, other: 0 };
        let intent = |values: Vec<Seen>| Intent {
            sources: vec![source(values)],
            deploy_start: Some(MS * 1000),
            cooldown_start: Some(MS * 5000),
            cooldown_ran: true,
            warmup_probes: 20,
        };
        let judged = |intent: Intent, mode| {
            let mut view = view(&f, 10, 0, &[]);
            view.intent = intent;
            judge(&Gate::ExpectNew(mode), &view)
        };
        // Nothing changed: fails, naming the warmup's value.
        let v = judged(intent(vec![seen("v1", 0, 6000, true)]), ExpectNew::Served);
        assert!(!v.passed && !v.settled, "{v:?}");
        assert_eq!(v.observed, "header x-app-version: no new value served, warmup's v1");
        // v2 served from +2 s: passes; v1 lingering in the cooldown fails strict mode, settled.
        let switched = || intent(vec![seen("v1", 0, 6000, true), seen("v2", 2000, 7000, true)]);
        let v = judged(switched(), ExpectNew::Served);
        assert!(v.passed, "{v:?}");
        assert_eq!(v.observed, "header x-app-version: new v2 from +2.000 s, warmup's v1");
        let v = judged(switched(), ExpectNew::Strict);
        assert!(!v.passed && v.settled, "{v:?}");
        assert!(
            v.observed
                .ends_with("v1 still answered in the cooldown (last at +6.000 s, the cooldown began at +5.000 s)")
        );
        let v = judged(intent(vec![seen("v1", 0, 4000, true), seen("v2", 2000, 7000, true)]), ExpectNew::Strict);
        assert!(v.passed, "{v:?}");
        // A new value that never served is not new; nor is one the warmup saw.
        let v = judged(intent(vec![seen("v1", 0, 6000, true), seen("v2", 2000, 7000, false)]), ExpectNew::Served);
        assert!(!v.passed, "{v:?}");
        // What cannot be told fails, never passes.
        let mut no_deploy = switched();
        no_deploy.deploy_start = None;
        assert_eq!(judged(no_deploy, ExpectNew::Served).observed, "not judged: the COMMAND did not start");
        let mut past_bound = intent(vec![seen("v1", 0, 6000, true)]);
        past_bound.sources[0].other = 3;
        let v = judged(past_bound, ExpectNew::Served);
        assert!(!v.passed && v.observed.contains("not judged: past 64 distinct values"), "{v:?}");
        let mut no_cooldown = switched();
        no_cooldown.cooldown_start = None;
        no_cooldown.cooldown_ran = false;
        assert!(!judged(no_cooldown, ExpectNew::Strict).passed);
        // A cooldown cut short (a stop request) cannot clear the old version: strict fails.
        let mut cut = intent(vec![seen("v1", 0, 4000, true), seen("v2", 2000, 5200, true)]);
        cut.cooldown_ran = false;
        let v = judged(cut, ExpectNew::Strict);
        assert!(!v.passed && !v.settled && v.observed.contains("did not run its length"), "{v:?}");
        // Past the tracked bound, not judged even though a new value is among the first 64.
        let mut crowded = switched();
        crowded.sources[0].other = 1;
        let v = judged(crowded, ExpectNew::Served);
        assert!(!v.passed && v.observed.contains("not judged: past 64"), "{v:?}");
        // A warmup still finding values (instances of a pool): any later one would look new.
        let pool = intent(vec![seen("i1", 0, 6000, true), seen("i2", 700, 6000, true), seen("i3", 2000, 6000, true)]);
        let v = judged(pool, ExpectNew::Served);
        assert!(
            !v.passed && v.observed.contains("the warmup was still finding values (i2 first seen at +0.700 s"),
            "{v:?}"
        );
        let mut unprobed = switched();
        unprobed.warmup_probes = 0;
        assert!(!judged(unprobed, ExpectNew::Served).passed);
        assert_eq!(Gate::ExpectNew(ExpectNew::Strict).name(), "expect-new=strict");
    }
}
