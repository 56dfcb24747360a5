//! Reports for the writers' and views' tests: a clean run, a wrapped deploy, and one carrying
//! hostile server text.

use std::collections::BTreeMap;

use crate::analysis::phase::Phase;
use crate::report::*;

/// A report with one clean URL and one that had two outages, for renderer snapshots.
pub(crate) fn sample_report() -> Report {
    let outage = |start: f64, end: f64, probes: u64, cause: &str, error: &str, open: bool| OutageReport {
        start: format!("2026-11-26T12:00:{:06.3}Z", start / 1000.0),
        end: format!("2026-11-26T12:00:{:06.3}Z", end / 1000.0),
        start_offset_ms: start,
        end_offset_ms: end,
        duration_ms: end - start,
        failed_probes: probes,
        causes: BTreeMap::from([(cause.to_string(), probes)]),
        main_cause: cause.to_string(),
        first_error: error.to_string(),
        first_request_id: None,
        last_request_id: None,
        open,
        phase: None,
        end_phase: None,
        // A status is an answer judged failed; the fixtures' errors are refused connections.
        failed_in: BTreeMap::from([(
            if cause.starts_with(|c: char| c.is_ascii_digit()) {
                crate::engine::detail::RequestPhase::Answer
            } else {
                crate::engine::detail::RequestPhase::Connect
            },
            probes,
        )]),
    };
    let healthy = TargetReport {
        url: "http://127.0.0.1:8080/health".into(),
        connection: crate::engine::lane::Lane::Reused,
        label: String::new(),
        probes: 200,
        ok: 200,
        failed: 0,
        resent: 0,
        cancelled: 0,
        local_errors: 0,
        missed: 0,
        status_counts: BTreeMap::from([("200".into(), 200)]),
        router_error_counts: BTreeMap::new(),
        error_counts: BTreeMap::new(),
        latency_ms: Some(Latency { min: 0.21, mean: 0.4, p50: 0.38, p90: 0.52, p99: 0.91, p999: 1.4, max: 1.52 }),
        latency_histogram: None,
        send_lag_ms: SendLag { p50: 0.41, p99: 0.97, max: 1.2 },
        downtime_ms: 0.0,
        availability: 1.0,
        outage_count: 0,
        degraded: Vec::new(),
        outages: vec![],
        timeline_width_s: 1,
        timeline: vec![TimelinePoint { offset_s: 0, ok: 20, failed: 0, p50_ms: Some(2.1), p99_ms: Some(3.9) }],
        phases: None,
        deploy_timing: None,
        gates: vec![],
        wire: Default::default(),
        windows_all: None,
        windows_some: None,
        availability_by_vantage: None,
    };
    let deployed = TargetReport {
        url: "http://127.0.0.1:8081/api/notes".into(),
        connection: crate::engine::lane::Lane::Reused,
        label: String::new(),
        probes: 200,
        ok: 119,
        failed: 81,
        resent: 2,
        cancelled: 0,
        local_errors: 0,
        missed: 0,
        status_counts: BTreeMap::from([("200".into(), 119), ("404".into(), 75)]),
        router_error_counts: BTreeMap::new(),
        error_counts: BTreeMap::from([("refused".into(), 6)]),
        latency_ms: Some(Latency { min: 0.3, mean: 0.8, p50: 0.7, p90: 1.1, p99: 2.5, p999: 1250.0, max: 1250.0 }),
        latency_histogram: None,
        send_lag_ms: SendLag { p50: 0.4, p99: 0.9, max: 1.1 },
        downtime_ms: 1800.0,
        availability: 0.82,
        outage_count: 2,
        degraded: Vec::new(),
        outages: vec![
            outage(2000.0, 3500.0, 75, "404", "404 Not Found: Requested route ('notes.demo') does not exist.", false),
            outage(
                9700.0,
                10000.0,
                6,
                "refused",
                "refused: tcp connect error: Connection refused (os error 111)",
                true,
            ),
        ],
        timeline_width_s: 1,
        // 20 probes a second: the 404s from +2 s to +3.5 s, refusals from +9.7 s.
        timeline: (0..10)
            .map(|offset_s| {
                let (ok, failed) = match offset_s {
                    2 => (0, 20),
                    3 => (10, 10),
                    9 => (14, 6),
                    _ => (20, 0),
                };
                TimelinePoint { offset_s, ok, failed, p50_ms: Some(0.7), p99_ms: Some(2.5) }
            })
            .collect(),
        phases: None,
        deploy_timing: None,
        gates: vec![],
        wire: Default::default(),
        windows_all: None,
        windows_some: None,
        availability_by_vantage: None,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        blip_version: "0.1.0".into(),
        vantage: "ci-runner-1".into(),
        run_id: "5e1f0c2a".into(),
        started_at: "2026-11-26T12:00:00.000Z".into(),
        duration_ms: 10000.0,
        rate: 20.0,
        passed: true,
        default_gates: false,
        measure_only: true,
        stop_reason: None,
        gate_phases: None,
        warnings: vec![],
        paused: Vec::new(),
        allow_missed: false,
        routes: Vec::new(),
        deploy: None,
        targets: vec![healthy, deployed],
        hooks: vec![],
        hooks_run: 0,
        hooks_skipped: 0,
        merged_from: None,
        clock_offset_ms: None,
    }
}

/// The same run as a wrapped deploy: phases, the command, and where the outages fell.
pub(crate) fn deploy_report() -> Report {
    let mut report = sample_report();
    report.measure_only = false;
    report.warnings.push("http://127.0.0.1:8081/api/notes was already failing before the deploy started: 1 of 40 warmup probes failed; that downtime is not the deploy's".into());
    report.deploy = Some(DeployReport {
        label: None,
        command: vec!["cf".into(), "push".into(), "notes".into()],
        warmup_ms: 2000.0,
        cooldown_ms: 5000.0,
        start_offset_ms: Some(1500.0),
        end_offset_ms: Some(5000.0),
        duration_ms: Some(3500.0),
        exit_code: Some(0),
        signal: None,
        error: None,
        succeeded: true,
        stopped_by_gate: false,
        output_tail: vec!["Starting app notes...".into()],
        output_lines_dropped: 0,
        output_marks: vec![OutputMark {
            offset_ms: 1620.5,
            stream: "stdout".into(),
            line: "Starting app notes...".into(),
        }],
        output_marks_dropped: 0,
    });
    let phase = |start: f64, end: f64, probes: u64, failed: u64, downtime_ms: f64| PhaseReport {
        start_offset_ms: start,
        end_offset_ms: end,
        probes,
        ok: probes - failed,
        failed,
        downtime_ms,
        latency_ms: Some(PhaseLatency { p50: 0.7, p99: 2.5, max: 3.1 }),
        latency_histogram: None,
    };
    let t = &mut report.targets[1];
    t.outages[0].phase = Some(Phase::Deploy);
    t.outages[0].end_phase = Some(Phase::Deploy);
    t.outages[1].phase = Some(Phase::Cooldown);
    t.outages[1].end_phase = Some(Phase::Cooldown);
    t.phases = Some(BTreeMap::from([
        (Phase::Warmup, phase(0.0, 1500.0, 30, 0, 0.0)),
        (Phase::Deploy, phase(1500.0, 5000.0, 80, 75, 1500.0)),
        (Phase::Cooldown, phase(5000.0, 10000.0, 90, 6, 300.0)),
    ]));
    t.gates = vec![
        GateReport {
            gate: "fail-on-status 404".into(),
            default: false,
            limit: "404".into(),
            observed: "75 probes".into(),
            passed: false,
            evidence: Some(Evidence {
                first_at: Some("2026-11-26T12:00:02.000Z".into()),
                first_offset_ms: Some(2000.0),
                first_error: Some("404 Not Found: Requested route ('notes.demo') does not exist.".into()),
                outages: vec![0],
                worst_window: None,
                latency_increase: None,
            }),
        },
        GateReport {
            gate: "max-latency p99=300ms".into(),
            default: false,
            limit: "300ms".into(),
            observed: "2.500 ms".into(),
            passed: true,
            evidence: None,
        },
        GateReport {
            gate: "max-downtime 0s".into(),
            default: true,
            limit: "0s".into(),
            observed: "1.500 s".into(),
            passed: false,
            evidence: Some(Evidence {
                first_at: Some("2026-11-26T12:00:02.000Z".into()),
                first_offset_ms: Some(2000.0),
                first_error: Some("404 Not Found: Requested route ('notes.demo') does not exist.".into()),
                outages: vec![0],
                worst_window: None,
                latency_increase: None,
            }),
        },
    ];
    report.targets[0].gates = vec![GateReport {
        gate: "fail-on-status 404".into(),
        default: false,
        limit: "404".into(),
        observed: "0 probes".into(),
        passed: true,
        evidence: None,
    }];
    report.passed = false;
    report.gate_phases = Some(crate::analysis::phase::GatePhases::DeployCooldown);
    let t = &mut report.targets[1];
    t.deploy_timing = Some(DeployTiming {
        down_at_start: false,
        first_failure_ms: Some(500.0),
        last_failure_ms: Some(8450.0),
        recovered_ms: None,
        recovery_ms: None,
    });
    t.wire = wire_figures("v2");
    report
}

/// Wire figures of a blue-green deploy from v1 to the given new version: fresh connections, two
/// peers, and the cutover with an overlap.
pub(crate) fn wire_figures(new: &str) -> crate::report::wire::WireReport {
    use crate::engine::detail::RequestPhase;
    use crate::report::wire::*;
    let timing = |p50: f64, count: u64| PhaseTiming { p50, p90: p50 * 1.5, p99: p50 * 3.0, max: p50 * 4.0, count };
    let value = |value: &str, probes: u64, first: f64, last: f64| TrackedValue {
        value: value.into(),
        probes,
        failed: 0,
        first_seen_offset_ms: first,
        last_seen_offset_ms: last,
        first_ok_offset_ms: Some(first),
        last_ok_offset_ms: Some(last),
        timeline_width_s: 1,
        timeline: vec![TrackedPoint { offset_s: (first / 1000.0) as u64, probes }],
    };
    WireReport {
        phases_ms: BTreeMap::from([
            (RequestPhase::Connect, timing(0.12, 200)),
            (RequestPhase::Ttfb, timing(0.5, 200)),
            (RequestPhase::Transfer, timing(0.02, 119)),
        ]),
        connections_opened: 200,
        peers: vec![
            PeerReport {
                address: "127.0.0.1:8081".into(),
                probes: 150,
                failed: 75,
                first_seen_offset_ms: 0.0,
                last_seen_offset_ms: 3910.0,
                tracked: Some("v1".into()),
            },
            PeerReport {
                address: "127.0.0.1:9091".into(),
                probes: 44,
                failed: 0,
                first_seen_offset_ms: 3600.0,
                last_seen_offset_ms: 9650.0,
                tracked: Some(new.into()),
            },
        ],
        peers_other: ProbeCount::default(),
        dns_changes: vec![
            DnsChangeReport { at_ms: 0.0, added: vec!["127.0.0.1".into()], removed: vec![] },
            DnsChangeReport { at_ms: 3600.0, added: vec!["127.0.0.2".into()], removed: vec!["127.0.0.1".into()] },
        ],
        dns_changes_more: 0,
        tracked: vec![TrackedReport {
            source: "header x-app-version".into(),
            values: vec![value("v1", 100, 0.0, 3910.0), value(new, 94, 3600.0, 9650.0)],
            other: ProbeCount::default(),
            missing: ProbeCount { probes: 6, failed: 6 },
        }],
        cutover: Some(CutoverReport {
            source: "header x-app-version".into(),
            old: vec![CutoverValue { value: "v1".into(), at_ms: 2410.0 }],
            new: vec![CutoverValue { value: new.into(), at_ms: 2100.0 }],
            overlap_ms: Some(310.0),
            gap_ms: None,
            failed_between: 0,
        }),
    }
}

/// Text a hostile server could send, as it would arrive if nothing on the way cleaned it.
pub(crate) const HOSTILE: &str =
    "503 \x1b]0;pwned\x07\x1b[2J\r| <img src=x> `code` [link](http://evil.example) *em*\u{9b}31m\u{202e}\nline2 %0A";

/// The deploy report with [`HOSTILE`] text wherever a server's text can appear.
pub(crate) fn hostile_report() -> Report {
    let mut report = deploy_report();
    let t = &mut report.targets[1];
    for w in &mut t.outages {
        w.first_error = HOSTILE.into();
    }
    t.wire = wire_figures(HOSTILE);
    for g in &mut t.gates {
        if let Some(e) = &mut g.evidence {
            e.first_error = Some(HOSTILE.into());
        }
    }
    report
}
