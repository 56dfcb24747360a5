//! The one place a [`Report`] is assembled: from the recorder's counts, the gates' verdicts on
//! its judged views, and the warnings about figures that deserve less trust.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::analysis::clock::{RunClock, rfc3339_ms};
use crate::analysis::outage::Window;
use crate::analysis::phase::{Phase, PhaseClock};
use crate::analysis::recorder::{Recorder, TargetRecorder};
use crate::engine::sample::{Cause, ErrorKind};
use crate::gates::{self, Gates};
use crate::report::histogram;
use crate::report::warnings::{never_up_warnings, send_lag_warnings, warmup_warnings};
use crate::report::{
    DeployTiming, Evidence, GateReport, IncreaseReport, Latency, OutageReport, PauseReport, PhaseLatency, PhaseReport,
    RateWindowReport, Report, RunFacts, RunFigures, SendLag, TargetReport, TimelinePoint,
};
use crate::units::{millis, us_to_ms};

/// The report of a run that ended at `end` (the end of the schedule), once the recorder closed
/// its books there ([`Recorder::close`]), with every gate judged on every URL and what the run
/// knew of itself (`facts`) beside the figures.
pub fn report(recorder: &Recorder, end: Instant, gate_list: &Gates, facts: RunFacts) -> Report {
    let end = recorder.clock.offset(end);
    let mut targets: Vec<TargetReport> =
        recorder.targets.iter().map(|t| target_report(t, &recorder.clock, &recorder.phases, end)).collect();
    if let Some(ids) = &recorder.request_ids {
        for (target, (report, t)) in targets.iter_mut().zip(&recorder.targets).enumerate() {
            for (outage, w) in report.outages.iter_mut().zip(t.detector.windows()) {
                outage.first_request_id = Some(ids.id(t.lane, target, w.first_seq));
                outage.last_request_id = Some(ids.id(t.lane, target, w.last_seq));
            }
        }
    }
    for report in &mut targets {
        report.degraded = crate::report::degraded::spans(report, recorder.rate);
    }
    for (report, mut view) in targets.iter_mut().zip(recorder.judged_views(None)) {
        view.degraded = Some(crate::report::degraded::judged(report, recorder.judge));
        report.gates = gate_list.judge(&view).into_iter().map(|v| gate_report(&recorder.clock, v)).collect();
        if !gate_list.is_empty()
            && let Some(never) = never_answered(report)
        {
            report.gates.push(never);
        }
    }
    let mut warnings = never_up_warnings(&targets);
    warnings.extend(send_lag_warnings(&targets, recorder.rate));
    warnings.extend(warmup_warnings(&targets));
    let paused: Vec<PauseReport> = recorder
        .pauses
        .spans()
        .iter()
        .map(|p| PauseReport {
            start_offset_ms: millis(p.start),
            duration_ms: millis(p.end.saturating_sub(p.start)),
            missed: p.missed,
        })
        .collect();
    warnings.extend(crate::report::warnings::unobserved_warnings(
        &targets,
        &paused,
        recorder.targets.iter().find_map(|t| t.unobserved.first_local.as_deref()),
    ));
    let figures = RunFigures {
        started_at: rfc3339_ms(recorder.clock.started_at),
        duration_ms: millis(end),
        rate: recorder.rate,
        gate_phases: (!recorder.phases.spans(end).is_empty()).then_some(recorder.judge),
        warnings,
        paused,
        targets,
        merged_from: None,
        clock_offset_ms: None,
    };
    Report::new(facts, figures)
}

/// A URL that never answered acceptably in the whole run is most likely a wrong URL (a typo, a
/// dead port): whatever gates were given, a CI run must not pass on it. (`--fail-on-status 404`
/// alone would hold over a URL that only ever refused.)
pub fn never_answered(t: &TargetReport) -> Option<GateReport> {
    (t.probes > 0 && t.ok == 0).then(|| GateReport {
        gate: NEVER_ANSWERED.to_string(),
        default: false,
        limit: "1 successful probe".to_string(),
        observed: format!("0 of {} probes", t.probes),
        passed: false,
        evidence: t.outages.first().map(|w| Evidence {
            first_at: Some(w.start.clone()),
            first_offset_ms: Some(w.start_offset_ms),
            first_error: Some(w.first_error.clone()),
            outages: vec![0],
            worst_window: None,
            latency_increase: None,
        }),
    })
}

/// The name of the check every judged run makes of every URL, beside the gates given.
pub const NEVER_ANSWERED: &str = "answered at least once";

/// A verdict as the report shows it, with wall times from `clock`.
pub fn gate_report(clock: &RunClock, v: gates::Verdict) -> GateReport {
    let evidence = (!v.passed).then(|| Evidence {
        first_at: v.first.as_ref().map(|o| rfc3339_ms(clock.wall(o.at))),
        first_offset_ms: v.first.as_ref().map(|o| millis(o.at)),
        first_error: v.first.map(|o| o.text),
        outages: v.windows,
        worst_window: v.worst_window.map(|w| RateWindowReport {
            start_offset_ms: millis(w.start),
            end_offset_ms: millis(w.end),
            probes: w.probes,
            failed: w.failed,
            rate_percent: w.percent(),
        }),
        latency_increase: v.increase.map(|i| IncreaseReport {
            warmup_ms: us_to_ms(i.warmup_us),
            judged_ms: us_to_ms(i.judged_us),
            ratio: i.ratio(),
        }),
    });
    GateReport { gate: v.gate, default: v.default, limit: v.limit, observed: v.observed, passed: v.passed, evidence }
}

fn phase_reports(t: &TargetRecorder, phases: &PhaseClock, end: Duration) -> Option<BTreeMap<Phase, PhaseReport>> {
    if t.by_phase.is_empty() {
        return None;
    }
    let reports = phases
        .spans(end)
        .into_iter()
        .map(|(phase, start, stop)| {
            let s = &t.by_phase[phase.index()];
            let latency = (!s.latency.is_empty()).then(|| {
                let l = latency_up_to(&s.latency, s.latency_max_us);
                PhaseLatency { p50: l.p50, p99: l.p99, max: l.max }
            });
            let report = PhaseReport {
                start_offset_ms: millis(start),
                end_offset_ms: millis(stop),
                probes: s.probes,
                ok: s.ok,
                failed: s.failed,
                downtime_ms: millis(s.downtime),
                latency_ms: latency,
                latency_histogram: (!s.latency.is_empty()).then(|| histogram::encode(&s.latency)),
            };
            (phase, report)
        })
        .collect();
    Some(reports)
}

fn deploy_timing(t: &TargetRecorder, phases: &PhaseClock) -> Option<DeployTiming> {
    if t.by_phase.is_empty() {
        return None;
    }
    let Some(deploy_start) = phases.start_of(Phase::Deploy) else {
        return Some(DeployTiming::default());
    };
    let since = |at: Duration| millis(at.saturating_sub(deploy_start));
    let recovered = match (t.last_deploy_failure, t.last_recovery) {
        (Some(last), Some(recovery)) if recovery > last && t.detector.current().is_none() => Some(recovery),
        _ => None,
    };
    let open_at_start = |w: &Window| w.start < deploy_start && (w.end >= deploy_start || w.open);
    let down_at_start =
        t.detector.windows().iter().any(open_at_start) || t.detector.current().is_some_and(|w| w.start < deploy_start);
    Some(DeployTiming {
        first_failure_ms: t.first_deploy_failure.map(since),
        down_at_start,
        last_failure_ms: t.last_deploy_failure.map(since),
        recovered_ms: recovered.map(since),
        recovery_ms: recovered.zip(t.last_deploy_failure).map(|(r, l)| millis(r - l)),
    })
}

fn target_report(t: &TargetRecorder, clock: &RunClock, phases: &PhaseClock, end: Duration) -> TargetReport {
    let downtime = t.detector.downtime();
    // Judged over the time the URL was probed: from its first probe (staggered schedules start
    // a URL up to one interval late) to the end. A URL never seen up was not available.
    let observed = end.saturating_sub(t.first_due.unwrap_or(Duration::ZERO));
    let availability = crate::analysis::outage::availability(downtime, observed, t.ok > 0);
    TargetReport {
        url: t.url.clone(),
        connection: t.lane,
        label: t.label.clone(),
        probes: t.probes,
        ok: t.ok,
        failed: t.failed,
        resent: t.resent,
        cancelled: t.cancelled,
        local_errors: t.unobserved.local_errors,
        missed: t.unobserved.missed,
        status_counts: t.status_counts.iter().map(|(code, n)| (code.to_string(), *n)).collect(),
        router_error_counts: t
            .router_counts
            .iter()
            .map(|((code, router), n)| (format!("{code} {router}"), *n))
            .collect(),
        error_counts: ErrorKind::ALL
            .iter()
            .filter(|k| t.error_counts[k.index()] > 0)
            .map(|k| (k.to_string(), t.error_counts[k.index()]))
            .collect(),
        latency_ms: (!t.latency.is_empty()).then(|| latency_up_to(&t.latency, t.latency_max_us)),
        latency_histogram: (!t.latency.is_empty()).then(|| histogram::encode(&t.latency)),
        send_lag_ms: SendLag {
            p50: us_to_ms(t.send_lag.value_at_quantile(0.5)),
            p99: us_to_ms(t.send_lag.value_at_quantile(0.99)),
            max: us_to_ms(t.send_lag.max()),
        },
        downtime_ms: millis(downtime),
        availability,
        outage_count: t.detector.window_count(),
        degraded: Vec::new(),
        outages: t.detector.windows().iter().map(|w| outage_report(clock, w, phases)).collect(),
        timeline_width_s: t.timeline.width_s(),
        timeline: t
            .timeline
            .slices()
            .zip(t.timeline.quantiles())
            .map(|((offset_s, s), (p50, p99))| TimelinePoint {
                offset_s,
                ok: s.ok,
                failed: s.failed,
                p50_ms: p50.map(millis),
                p99_ms: p99.map(millis),
            })
            .collect(),
        phases: phase_reports(t, phases, end),
        deploy_timing: deploy_timing(t, phases),
        gates: Vec::new(),
        wire: crate::report::wire::wire_report(t, phases.start_of(Phase::Deploy)),
        windows_all: None,
        windows_some: None,
        availability_by_vantage: None,
    }
}

/// The quantiles of a latency histogram in µs, as the report shows them.
pub fn latency(h: &Histogram<u64>) -> Latency {
    Latency {
        min: us_to_ms(h.min()),
        mean: us_to_ms(h.mean().round() as u64),
        p50: us_to_ms(h.value_at_quantile(0.5)),
        p90: us_to_ms(h.value_at_quantile(0.9)),
        p99: us_to_ms(h.value_at_quantile(0.99)),
        p999: us_to_ms(h.value_at_quantile(0.999)),
        max: us_to_ms(h.max()),
    }
}

/// [`latency`] with the exact maximum, µs, recorded beside the histogram: no figure above it (a
/// quantile is its bucket's top, which may lie past the highest value recorded).
fn latency_up_to(h: &Histogram<u64>, max_us: u64) -> Latency {
    let cap = |ms: f64| ms.min(us_to_ms(max_us));
    let l = latency(h);
    Latency {
        min: cap(l.min),
        mean: cap(l.mean),
        p50: cap(l.p50),
        p90: cap(l.p90),
        p99: cap(l.p99),
        p999: cap(l.p999),
        max: us_to_ms(max_us),
    }
}

/// The report's view of a window, with the phases of a wrapped deploy it started and ended in.
pub fn outage_report(clock: &RunClock, w: &Window, phases: &PhaseClock) -> OutageReport {
    // A window that ends the instant a phase begins had none of its downtime in that phase.
    let last_instant = w.end.saturating_sub(Duration::from_nanos(1)).max(w.start);
    OutageReport {
        start: rfc3339_ms(clock.wall(w.start)),
        end: rfc3339_ms(clock.wall(w.end)),
        start_offset_ms: millis(w.start),
        end_offset_ms: millis(w.end),
        duration_ms: millis(w.duration()),
        failed_probes: w.failed_probes,
        causes: causes(&w.causes),
        main_cause: crate::report::main_cause(&causes(&w.causes)),
        first_error: w.first_error.clone(),
        first_request_id: None,
        last_request_id: None,
        open: w.open,
        phase: phases.phase_at(w.start),
        end_phase: phases.phase_at(last_instant),
        failed_in: crate::report::wire::failed_in(w),
    }
}

fn causes(causes: &BTreeMap<Cause, u64>) -> BTreeMap<String, u64> {
    causes.iter().map(|(cause, n)| (cause.to_string(), *n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::phase::GatePhases;
    use crate::analysis::recorder::Event;
    use crate::engine::sample::{Outcome, Sample};
    use crate::gates::Gate;

    /// Closes the recorder's books at `end` and builds the report, as the run does.
    fn finish(mut r: Recorder, end: Instant, gate_list: &[Gate]) -> (Vec<Event>, Report) {
        let gate_list = &Gates::new(gate_list.to_vec(), false);
        let events = r.close(end);
        let report = report(&r, end, gate_list, RunFacts::default());
        (events, report)
    }

    fn sample(clock: &RunClock, seq: u64, interval_ms: u64, outcome: Outcome) -> Sample {
        let due = clock.start + Duration::from_millis(seq * interval_ms);
        Sample {
            target: 0,
            seq,
            due,
            sent: due + Duration::from_micros(200),
            done: due + Duration::from_millis(3),
            outcome,
            resent: false,
            detail: Default::default(),
        }
    }

    #[test]
    fn counts_latency_and_windows() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, None);
        let not_found = || Outcome::BadStatus { status: 404, text: "404 Not Found".into(), router: None };
        let mut events = Vec::new();
        for seq in 0..100 {
            let outcome = if (40..60).contains(&seq) { not_found() } else { Outcome::Ok { status: 200 } };
            events.extend(r.record(&sample(&clock, seq, 10, outcome)));
        }
        let timeout = Outcome::Error { kind: ErrorKind::Timeout, status: None, text: "no answer".into() };
        events.extend(r.record(&sample(&clock, 100, 10, timeout)));
        let (last, report) = finish(r, clock.start + Duration::from_millis(1010), &[]);
        events.extend(last);
        assert_eq!(events.len(), 4, "{events:?}");

        let t = &report.targets[0];
        assert_eq!((t.probes, t.ok, t.failed), (101, 80, 21));
        assert_eq!(t.status_counts, BTreeMap::from([("200".into(), 80), ("404".into(), 20)]));
        assert_eq!(t.error_counts, BTreeMap::from([("timeout".into(), 1)]));
        let latency = t.latency_ms.unwrap();
        assert!((2.99..=3.01).contains(&latency.p50), "{latency:?}");
        // The serialized histogram gives back the same quantiles, up to the exact maximum (every
        // probe took 3 ms: the bucket's top, 3.001 ms, is no latency any probe had).
        let h = histogram::decode(t.latency_histogram.as_deref().unwrap()).unwrap();
        assert_eq!((h.len(), us_to_ms(h.value_at_quantile(0.5)).min(latency.max)), (80, latency.p50));
        assert_eq!(latency.max, 3.0);
        assert!((0.19..=0.21).contains(&t.send_lag_ms.p99), "{:?}", t.send_lag_ms);
        assert_eq!(t.outage_count, 2);
        assert_eq!(t.outages[0].duration_ms, 200.0);
        assert_eq!(t.outages[0].causes, BTreeMap::from([("404".into(), 20)]));
        assert!(!t.outages[0].open);
        assert!(t.outages[1].open);
        assert_eq!(t.outages[1].duration_ms, 10.0);
        assert_eq!(t.downtime_ms, 210.0);
        assert!((t.availability - (1.0 - 210.0 / 1010.0)).abs() < 1e-6);
        assert_eq!(t.timeline.len(), 2);
        assert_eq!((t.timeline[0].ok, t.timeline[0].failed), (80, 20));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn each_lane_is_a_target_of_its_own_named_in_every_human_report() {
        use crate::engine::lane::{Lane, targets};
        let clock = RunClock::now();
        let names = targets(&["http://a/".into()], &[Lane::Reused, Lane::Fresh]);
        let labels: Vec<String> = names.iter().map(|t| t.label.clone()).collect();
        let mut r = Recorder::new(&labels, 10.0, 1, clock, None);
        r.name_targets(&names);
        r.record(&sample(&clock, 0, 100, Outcome::Ok { status: 200 }));
        let refused = Outcome::Error { kind: ErrorKind::Refused, status: None, text: "refused".into() };
        r.record(&Sample { target: 1, ..sample(&clock, 0, 100, refused) });
        let (_, report) = finish(r, clock.start + Duration::from_millis(100), &[Gate::MaxDowntime(Duration::ZERO)]);
        let [reused, fresh] = report.targets.as_slice() else { panic!() };
        assert_eq!(
            (reused.url.as_str(), reused.connection, fresh.url.as_str(), fresh.connection),
            ("http://a/", Lane::Reused, "http://a/", Lane::Fresh)
        );
        assert_eq!((reused.failed, fresh.failed), (0, 1));
        let text = crate::report::text::render(&report);
        assert!(text.contains("http://a/ (reused)\n") && text.contains("http://a/ (fresh)\n"), "{text}");
        let markdown = crate::report::markdown::render(&report);
        assert!(markdown.contains("| http://a/ (fresh) | `max-downtime 0s`"), "{markdown}");
        let junit = crate::report::junit::render(&report).unwrap();
        assert!(junit.contains("name=\"http://a/ (fresh)\""), "{junit}");
        let json = crate::report::json::render(&report).unwrap();
        assert!(
            json.contains("\"connection\": \"fresh\"") && !json.contains("\"url\": \"http://a/ (fresh)\""),
            "{json}"
        );
        assert!(!json.contains("request_id"), "only with --request-id: {json}");
    }

    #[test]
    fn skipped_slots_are_failures_without_send_lag() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 10.0, 1, clock, None);
        let skipped = Outcome::Error { kind: ErrorKind::Skipped, status: None, text: String::new() };
        r.record(&sample(&clock, 0, 100, skipped));
        let (_, report) = finish(r, clock.start + Duration::from_millis(100), &[]);
        let t = &report.targets[0];
        assert_eq!((t.probes, t.failed), (1, 1));
        assert_eq!(t.error_counts["skipped"], 1);
        assert_eq!(t.send_lag_ms.max, 0.0);
        assert!(t.latency_ms.is_none());
    }

    #[test]
    fn histograms_grow_to_hold_slow_answers() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 1.0, 1, clock, Some(GatePhases::Deploy));
        let mut s = sample(&clock, 0, 1000, Outcome::Ok { status: 200 });
        s.done = s.due + Duration::from_millis(1500);
        s.sent = s.due + Duration::from_millis(40);
        r.record(&s);
        let (_, report) = finish(r, clock.start + Duration::from_secs(1), &[]);
        let t = &report.targets[0];
        let latency = t.latency_ms.unwrap();
        assert!((1499.0..=1502.0).contains(&latency.max), "{latency:?}");
        assert!((39.0..=41.0).contains(&t.send_lag_ms.max), "{:?}", t.send_lag_ms);
    }

    #[test]
    fn late_sends_are_reported() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, None);
        let mut s = sample(&clock, 0, 10, Outcome::Ok { status: 200 });
        s.sent = s.due + Duration::from_millis(30);
        r.record(&s);
        let (_, report) = finish(r, clock.start + Duration::from_millis(10), &[]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    }

    #[test]
    fn phases_split_counts_and_downtime() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, Some(GatePhases::DeployCooldown));
        r.begin_phase(Phase::Warmup, clock.start);
        let record = |r: &mut Recorder, range: std::ops::Range<u64>, ok: bool| {
            for seq in range {
                let outcome = if ok {
                    Outcome::Ok { status: 200 }
                } else {
                    Outcome::BadStatus { status: 404, text: "404".into(), router: None }
                };
                r.record(&sample(&clock, seq, 10, outcome));
            }
        };
        record(&mut r, 0..100, true);
        r.begin_phase(Phase::Deploy, clock.start + Duration::from_millis(1000));
        record(&mut r, 100..150, true);
        record(&mut r, 150..180, false);
        r.begin_phase(Phase::Cooldown, clock.start + Duration::from_millis(1700));
        record(&mut r, 180..190, false);
        record(&mut r, 190..200, true);
        let (_, report) = finish(r, clock.start + Duration::from_millis(2000), &[]);
        let t = &report.targets[0];
        let phases = t.phases.as_ref().unwrap();
        let (w, d, c) = (&phases[&Phase::Warmup], &phases[&Phase::Deploy], &phases[&Phase::Cooldown]);
        assert_eq!((w.probes, w.failed, d.probes, d.failed, c.probes, c.failed), (100, 0, 80, 30, 20, 10));
        // One window from 1500 ms to 1900 ms: 200 ms in deploy, 200 ms in cooldown.
        assert_eq!((d.downtime_ms, c.downtime_ms), (200.0, 200.0));
        assert_eq!(t.outages[0].phase, Some(Phase::Deploy));
        assert_eq!(t.outages[0].end_phase, Some(Phase::Cooldown));
        assert_eq!(t.outages[0].phase_label().as_deref(), Some("deploy→cooldown"));
        let timing = t.deploy_timing.unwrap();
        assert_eq!(timing.first_failure_ms, Some(500.0));
        assert_eq!(timing.last_failure_ms, Some(890.0));
        assert_eq!(timing.recovered_ms, Some(900.0));
        assert_eq!(timing.recovery_ms, Some(10.0));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn the_error_rate_is_judged_on_judged_phases_only() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, Some(GatePhases::DeployCooldown));
        r.begin_phase(Phase::Warmup, clock.start);
        for seq in 0..100 {
            let outcome = if seq < 50 {
                Outcome::BadStatus { status: 503, text: "503".into(), router: None }
            } else {
                Outcome::Ok { status: 200 }
            };
            r.record(&sample(&clock, seq, 10, outcome));
        }
        r.begin_phase(Phase::Deploy, clock.start + Duration::from_millis(1000));
        for seq in 100..200 {
            r.record(&sample(&clock, seq, 10, Outcome::Ok { status: 200 }));
        }
        let gate = Gate::MaxErrorRate("10%/1s".parse().unwrap());
        let (_, report) = finish(r, clock.start + Duration::from_millis(2000), &[gate]);
        let g = &report.targets[0].gates[0];
        assert!(g.passed, "the warmup's failures are not the deploy's: {g:?}");
        assert_eq!(g.observed, "0.000% (0 of 100) from 1s to 2s");
    }
}
