//! A saved report's URL as the gates see it: the counts, windows, histograms, timeline and
//! phases the report holds, rebuilt into the very [`Judged`] view the recorder hands the live
//! gates, so that `blip judge` and `blip merge` judge through the same code as a run.
//!
//! Where the report holds less than the recorder did, the figure is marked inexact and the
//! gates that rest on it say so in their `observed` text, never passing in silence.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::analysis::judged::{Degraded, Intent, Judged, JudgedStats, JudgedWindow, Offender, judged_window};
use crate::analysis::outage::Window;
use crate::analysis::phase::PhaseStats;
use crate::analysis::phase::{GatePhases, Phase};
use crate::analysis::timeline::{Slice, Timeline};
use crate::analysis::tracking::{Seen, SeenSource};
use crate::engine::sample::{Cause, ErrorKind};
use crate::gates::{Gate, Verdict};
use crate::report::{DeployReport, OutageReport, TargetReport, histogram};
use crate::units::from_ms;

/// What the gates judge of one URL of a saved report, owned, with what could not be rebuilt
/// exactly.
pub struct TargetFigures {
    pub url: String,
    /// The lane its probes went out on.
    pub connection: crate::engine::lane::Lane,
    pub probes: u64,
    pub failed: u64,
    pub status_counts: BTreeMap<u16, u64>,
    pub first_status: BTreeMap<u16, Offender>,
    pub first_failure: Option<Offender>,
    pub latency: Histogram<u64>,
    pub timeline: Timeline,
    pub by_phase: Vec<PhaseStats>,
    pub windows: JudgedStats,
    pub phases: GatePhases,
    pub intent: Intent,
    /// The report's degraded spans as `--max-degraded` judges them.
    pub degraded: Degraded,
    pub inexact: Inexact,
}

/// Figures of a saved report that are not what the run's own gates saw, with why; `None` where
/// they are exact.
#[derive(Clone, Debug, Default)]
pub struct Inexact {
    pub status: Option<String>,
    pub windows: Option<String>,
    pub latency: Option<String>,
    pub timeline: Option<String>,
}

impl Inexact {
    /// Why `gate` is not judged exactly from the report, if it is not.
    fn for_gate(&self, gate: &Gate) -> Option<&str> {
        match gate {
            Gate::FailOnStatus(_) => self.status.as_deref(),
            Gate::MaxOutage(_) | Gate::MaxOutages(_) => self.windows.as_deref(),
            Gate::MaxLatency(_) | Gate::MaxLatencyIncrease(_) | Gate::LatencyVsBaseline(..) => self.latency.as_deref(),
            Gate::MaxErrorRate(_) => self.timeline.as_deref(),
            // The report keeps each tracked value's times as the run had them, and its degraded
            // spans as the run drew them.
            Gate::MaxDowntime(_)
            | Gate::MaxDegraded(_)
            | Gate::MaxFailed(_)
            | Gate::ExpectNew(_)
            | Gate::DowntimeVsBaseline(_)
            | Gate::FailedVsBaseline(_) => None,
        }
    }

    /// `verdict` with a note of why it is not exact, when it is not.
    pub fn mark(&self, gate: &Gate, mut verdict: Verdict) -> Verdict {
        if let Some(why) = self.for_gate(gate) {
            verdict.observed = format!("{} (not exact: {why})", verdict.observed);
        }
        verdict
    }
}

/// The cause a report names `"404"` or `"timeout"`.
pub fn cause(name: &str) -> Option<Cause> {
    if let Ok(code) = name.parse() {
        return Some(Cause::Status(code));
    }
    // A router's own answer (`404 unknown_route (router)`) is judged by its code, as in a run.
    if let Some(code) = name.strip_suffix(" (router)").and_then(|n| n.split(' ').next()?.parse().ok()) {
        return Some(Cause::Status(code));
    }
    ErrorKind::ALL.iter().find(|k| k.as_str() == name).map(|k| Cause::Error(*k))
}

/// The detector's window a report's outage describes.
pub fn window(o: &OutageReport) -> Window {
    let causes: BTreeMap<Cause, u64> = o.causes.iter().filter_map(|(name, n)| Some((cause(name)?, *n))).collect();
    Window {
        start: from_ms(o.start_offset_ms),
        end: from_ms(o.end_offset_ms),
        failed_probes: o.failed_probes,
        first_cause: causes.keys().next().copied().unwrap_or(Cause::Error(ErrorKind::Other)),
        causes,
        first_error: o.first_error.clone(),
        // Not judged by any gate; the report keeps what they told.
        first_seq: 0,
        last_seq: 0,
        failed_in: Default::default(),
        open: o.open,
    }
}

fn decoded(text: Option<&str>) -> Option<Histogram<u64>> {
    text.and_then(|t| histogram::decode(t).ok())
}

fn empty_histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("constant histogram precision is valid");
    h.auto(true);
    h
}

/// The phases of a saved report as the recorder keeps them, in [`Phase::ALL`] order; a phase
/// missing from the report counts nothing.
fn saved_phases(t: &TargetReport, inexact: &mut Inexact) -> Vec<PhaseStats> {
    let Some(phases) = &t.phases else { return Vec::new() };
    Phase::ALL
        .iter()
        .map(|phase| match phases.get(phase) {
            Some(p) => PhaseStats {
                probes: p.probes,
                ok: p.ok,
                failed: p.failed,
                latency: decoded(p.latency_histogram.as_deref()).unwrap_or_else(|| {
                    if p.ok > 0 {
                        inexact.latency = Some("the report has no latency_histogram".to_string());
                    }
                    empty_histogram()
                }),
                // `as` saturates: a hostile figure cannot wrap.
                latency_max_us: p.latency_ms.map_or(0, |l| (l.max * 1000.0) as u64),
                downtime: from_ms(p.downtime_ms),
            },
            None => PhaseStats::new(),
        })
        .collect()
}

/// The judged windows of a saved URL, as the recorder would have kept them: each listed window's
/// judged part, and for windows past the list what the phases' downtime still tells.
fn judged_stats(
    t: &TargetReport,
    (spans, judge): (&[(Phase, Duration, Duration)], GatePhases),
    by_phase: &[PhaseStats],
    (probes, failed): (u64, u64),
    inexact: &mut Inexact,
) -> JudgedStats {
    let phased = t.phases.is_some();
    let judged_phase = |phase: Phase| judge.judges(Some(phase));
    let mut windows = JudgedStats { probes, failed, ..JudgedStats::new(false) };
    let judged_windows: Vec<JudgedWindow> = t
        .outages
        .iter()
        .enumerate()
        .filter_map(|(index, o)| {
            let w = window(o);
            judged_window(&w, w.end, index, spans, judge)
        })
        .collect();
    for w in judged_windows {
        windows.add_window(w);
    }
    let truncated = t.outage_count > t.outages.len() as u64;
    if truncated {
        // The report's downtime covers every window, listed or not.
        windows.downtime = if phased {
            Phase::ALL
                .iter()
                .zip(by_phase)
                .filter(|(p, _)| judged_phase(**p))
                .fold(Duration::ZERO, |d, (_, s)| d.saturating_add(s.downtime))
        } else {
            from_ms(t.downtime_ms)
        };
        if phased {
            windows.window_count = windows.window_count.saturating_add(t.outage_count - t.outages.len() as u64);
        } else {
            windows.window_count = t.outage_count;
        }
        // The judged downtime lies in windows past the list: one of them is the longest,
        // with no more known of it than the downtime it is part of.
        if windows.longest.is_none() && !windows.downtime.is_zero() {
            windows.longest = Some(JudgedWindow {
                index: t.outages.len(),
                start: t.outages.last().map_or(Duration::ZERO, |o| from_ms(o.end_offset_ms)),
                judged: windows.downtime,
                first_error: "a window past the report's list".to_string(),
                causes: Vec::new(),
            });
        }
        inexact.windows = Some(format!("the report lists {} of {} outage windows", t.outages.len(), t.outage_count));
    }
    windows
}

impl TargetFigures {
    /// The figures of `t` that the gates judge on the phases `judge` names (every probe when no
    /// command was wrapped); `deploy` is the report's COMMAND, if it wrapped one.
    pub fn of(t: &TargetReport, judge: GatePhases, deploy: Option<&DeployReport>) -> TargetFigures {
        let mut inexact = Inexact::default();
        let spans = t.phase_spans();
        let phased = t.phases.is_some();
        let partly = phased && judge != GatePhases::All;
        let by_phase = saved_phases(t, &mut inexact);
        let judged_phase = |phase: Phase| judge.judges(Some(phase));
        let (probes, failed) = if partly {
            let judged = Phase::ALL.iter().zip(&by_phase).filter(|(p, _)| judged_phase(**p));
            judged.fold((0u64, 0u64), |(n, f), (_, s)| (n.saturating_add(s.probes), f.saturating_add(s.failed)))
        } else {
            (t.probes, t.failed)
        };
        let latency = if partly {
            let mut h = empty_histogram();
            for (_, s) in Phase::ALL.iter().zip(&by_phase).filter(|(p, _)| judged_phase(**p)) {
                let _ = h.add(&s.latency);
            }
            h
        } else {
            decoded(t.latency_histogram.as_deref()).unwrap_or_else(|| {
                if t.ok > 0 {
                    inexact.latency = Some("the report has no latency_histogram".to_string());
                }
                empty_histogram()
            })
        };
        let status_counts: BTreeMap<u16, u64> =
            t.status_counts.iter().filter_map(|(code, n)| Some((code.parse().ok()?, *n))).collect();
        let unjudged_failed: u64 = if partly {
            Phase::ALL
                .iter()
                .zip(&by_phase)
                .filter(|(p, _)| !judged_phase(**p))
                .fold(0, |n, (_, s)| s.failed.saturating_add(n))
        } else {
            0
        };
        if unjudged_failed > 0 {
            inexact.status =
                Some("the report counts statuses over all phases, and unjudged phases had failures".to_string());
        }
        let timeline = Timeline::from_slices(t.timeline_width_s, judged_slices(t, &spans, judge, partly, &mut inexact));

        let windows = judged_stats(t, (&spans, judge), &by_phase, (probes, failed), &mut inexact);
        // Evidence only: the first window each status and any failure were seen in.
        let mut first_status = BTreeMap::new();
        for w in &windows.windows {
            for c in &w.causes {
                if let Cause::Status(code) = c {
                    first_status.entry(*code).or_insert_with(|| Offender { at: w.start, text: w.first_error.clone() });
                }
            }
        }
        let first_failure = windows.windows.first().map(|w| Offender { at: w.start, text: w.first_error.clone() });
        TargetFigures {
            url: t.url.clone(),
            connection: t.connection,
            probes,
            failed,
            status_counts,
            first_status,
            first_failure,
            latency,
            timeline,
            by_phase,
            windows,
            phases: judge,
            intent: intent(t, deploy.map(|d| d.cooldown_ms)),
            degraded: crate::report::degraded::judged(t, judge),
            inexact,
        }
    }

    /// The view [`crate::gates::judge`] takes, as the recorder would hand it over.
    pub fn judged(&self) -> Judged<'_> {
        Judged {
            url: &self.url,
            lane: self.connection.as_str(),
            label: &self.url,
            probes: self.probes,
            failed: self.failed,
            status_counts: &self.status_counts,
            first_status: &self.first_status,
            first_failure: self.first_failure.as_ref(),
            windows: self.windows.windows.clone(),
            downtime: self.windows.downtime,
            longest: self.windows.longest.clone(),
            window_count: self.windows.window_count,
            latency: &self.latency,
            timeline: &self.timeline,
            by_phase: &self.by_phase,
            phases: self.phases,
            intent: self.intent.clone(),
            degraded: Some(self.degraded.clone()),
        }
    }
}

/// What `--expect-new` judges of `t`: its tracked values and when its deploy and cooldown began.
fn intent(t: &TargetReport, report_cooldown_ms: Option<f64>) -> Intent {
    let start = |phase| t.phases.as_ref()?.get(&phase).map(|p| from_ms(p.start_offset_ms));
    let sources = t
        .wire
        .tracked
        .iter()
        .map(|s| SeenSource {
            name: s.source.clone(),
            values: s
                .values
                .iter()
                .map(|v| Seen {
                    value: v.value.clone(),
                    first_seen: from_ms(v.first_seen_offset_ms),
                    last_seen: from_ms(v.last_seen_offset_ms),
                    first_ok: v.first_ok_offset_ms.map(from_ms),
                })
                .collect(),
            other: s.other.probes,
        })
        .collect();
    // The cooldown ran when its phase lasted the cooldown the run was given (offsets are kept to
    // the microsecond; a cooldown cut short by a stop request ends early).
    let cooldown = t.phases.as_ref().and_then(|p| p.get(&Phase::Cooldown));
    let planned = report_cooldown_ms.filter(|ms| *ms > 0.0);
    let cooldown_ran =
        matches!((cooldown, planned), (Some(c), Some(ms)) if c.end_offset_ms - c.start_offset_ms >= ms - 1.0);
    let warmup_probes = t.phases.as_ref().and_then(|p| p.get(&Phase::Warmup)).map_or(0, |w| w.probes);
    Intent {
        sources,
        deploy_start: start(Phase::Deploy),
        cooldown_start: start(Phase::Cooldown),
        cooldown_ran,
        warmup_probes,
    }
}

/// The report's timeline slices with the probes of unjudged phases left out where a slice lies
/// wholly in them; a slice across a phase boundary keeps all its probes, and makes the timeline
/// inexact.
fn judged_slices(
    t: &TargetReport,
    spans: &[(Phase, Duration, Duration)],
    judge: GatePhases,
    partly: bool,
    inexact: &mut Inexact,
) -> Vec<Slice> {
    let width = Duration::from_secs(t.timeline_width_s.max(1));
    let mut straddles = false;
    let slices = t
        .timeline
        .iter()
        .map(|p| {
            let slice = Slice { ok: p.ok, failed: p.failed, latency_sum_us: 0, latency_max_us: 0 };
            if !partly {
                return slice;
            }
            let (start, end) = (Duration::from_secs(p.offset_s), Duration::from_secs(p.offset_s).saturating_add(width));
            let overlaps: Vec<bool> = spans
                .iter()
                .filter(|(_, s, e)| *s < end && *e > start)
                .map(|(phase, _, _)| judge.judges(Some(*phase)))
                .collect();
            if overlaps.iter().all(|j| !j) && !overlaps.is_empty() {
                return Slice::default();
            }
            if overlaps.iter().any(|j| !j) && slice.ok + slice.failed > 0 {
                straddles = true;
            }
            slice
        })
        .collect();
    if straddles {
        inexact.timeline = Some(format!(
            "the report's {}s timeline slices at phase boundaries hold probes of unjudged phases",
            width.as_secs()
        ));
    }
    slices
}
