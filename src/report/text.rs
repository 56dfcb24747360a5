//! The human summary printed at the end of a run: per URL, the counts, the availability, the
//! latency, and every outage window with its cause.
//!
//! It goes to a terminal, so every text that may come from a server passes
//! [`sanitize::line`] first.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::report::{DeployReport, Report, TargetReport};
use crate::sanitize;
use crate::units::{latency, secs_ms};

/// Renders the whole summary. Pure, so it is tested by snapshot.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    if let Some(deploy) = &report.deploy {
        render_deploy(&mut out, deploy);
    }
    for target in &report.targets {
        render_target(&mut out, target);
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {}", sanitize::line(warning));
    }
    let _ = writeln!(out, "\n{}", verdict(report));
    out
}

/// The verdict line: what was judged and how it went. Every run ends with one.
pub fn verdict(report: &Report) -> String {
    let (gates, failed) = report.gate_counts();
    let judged = if report.default_gates {
        " (no gate given: blip judged zero downtime, as --max-downtime 0s; --measure-only judges nothing)"
    } else {
        ""
    };
    if report.measure_only {
        "measured only: no gate was judged (--measure-only)".to_string()
    } else if failed == 0 {
        format!("passed: every gate held ({gates} of {gates}){judged}")
    } else {
        format!("FAILED: {failed} of {gates} gates failed{judged}")
    }
}

fn render_deploy(out: &mut String, d: &DeployReport) {
    let how = d.outcome();
    let _ = writeln!(out, "deploy `{}`", sanitize::line(&d.command.join(" ")));
    match (d.start_offset_ms, d.duration_ms) {
        (Some(start), Some(duration)) => {
            let _ = writeln!(out, "  {how} after {}, started at +{}", secs_ms(duration), secs_ms(start));
        }
        _ => {
            let _ = writeln!(out, "  {how}");
        }
    }
}

/// One URL's part of the summary, on its own (for JUnit's system-out).
pub fn render_target_alone(t: &TargetReport) -> String {
    let mut out = String::new();
    render_target(&mut out, t);
    out
}

fn render_target(out: &mut String, t: &TargetReport) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", sanitize::line(&t.url));
    let outages = match t.outage_count {
        0 => "no outage".to_string(),
        1 => "1 outage".to_string(),
        n => format!("{n} outages"),
    };
    let _ = writeln!(
        out,
        "  probes     {} ({} ok, {} failed)   availability {:.3}%   downtime {} ({outages})",
        t.probes,
        t.ok,
        t.failed,
        t.availability * 100.0,
        secs_ms(t.downtime_ms),
    );
    match &t.latency_ms {
        Some(l) => {
            let _ = writeln!(
                out,
                "  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (successful probes, from due time)",
                latency(l.p50),
                latency(l.p90),
                latency(l.p99),
                latency(l.p999),
                latency(l.max),
            );
        }
        None => {
            let _ = writeln!(out, "  latency    no successful probe");
        }
    }
    if !t.status_counts.is_empty() {
        let _ = writeln!(out, "  status     {}", counts(&t.status_counts));
    }
    if !t.error_counts.is_empty() {
        let _ = writeln!(out, "  errors     {}", counts(&t.error_counts));
    }
    for (i, w) in t.outages.iter().enumerate() {
        let label = if i == 0 { "outages" } else { "" };
        let open = if w.open { " (open at end)" } else { "" };
        let phase = w.phase.map(|p| format!("[{p}] ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {label:<9}  {phase}+{} → +{}  {}{open}  {} probe{}  {}  {}",
            secs_ms(w.start_offset_ms),
            secs_ms(w.end_offset_ms),
            secs_ms(w.duration_ms),
            w.failed_probes,
            if w.failed_probes == 1 { "" } else { "s" },
            counts(&w.causes),
            sanitize::line(&w.first_error),
        );
    }
    if t.outage_count > t.outages.len() as u64 {
        let _ = writeln!(out, "             … and {} more outages", t.outage_count - t.outages.len() as u64);
    }
    if let Some(phases) = &t.phases {
        for (i, (phase, p)) in phases.iter().enumerate() {
            let label = if i == 0 { "phases" } else { "" };
            let _ = writeln!(
                out,
                "  {label:<9}  {:<8} {:>7}  {} probes, {} failed, downtime {}{}",
                phase.as_str(),
                secs_ms(p.end_offset_ms - p.start_offset_ms),
                p.probes,
                p.failed,
                secs_ms(p.downtime_ms),
                p.latency_ms.map(|l| format!(", p50 {} p99 {}", latency(l.p50), latency(l.p99))).unwrap_or_default(),
            );
        }
    }
    if let Some(timing) = &t.deploy_timing
        && let Some(first) = timing.first_failure_ms
    {
        let recovered = match (timing.recovered_ms, timing.recovery_ms) {
            (Some(at), Some(after)) => {
                format!(", recovered {} after it started ({} after the last failure)", secs_ms(at), secs_ms(after))
            }
            _ => ", not recovered by the end of the run".to_string(),
        };
        let first = if timing.down_at_start {
            "already down when the deploy started".to_string()
        } else {
            format!("first failure {} after the deploy started", secs_ms(first))
        };
        let _ = writeln!(out, "  deploy     {first}{recovered}");
    }
    let _ = writeln!(
        out,
        "  send lag   p50 {}  p99 {}  max {}  (how late blip sent probes)",
        latency(t.send_lag_ms.p50),
        latency(t.send_lag_ms.p99),
        latency(t.send_lag_ms.max),
    );
    if t.cancelled > 0 {
        let _ = writeln!(
            out,
            "  cancelled  {} probe{} in flight not waited for (stopped twice); neither ok nor failed",
            t.cancelled,
            if t.cancelled == 1 { "" } else { "s" },
        );
    }
    if t.resent > 0 {
        let _ = writeln!(
            out,
            "  resent     {} probe{} sent again on a new connection: a reused one closed before answering",
            t.resent,
            if t.resent == 1 { " was" } else { "s were" },
        );
    }
    for (i, g) in t.gates.iter().enumerate() {
        let label = if i == 0 { "gates" } else { "" };
        let mark = if g.passed { "passed" } else { "FAILED" };
        let _ = writeln!(out, "  {label:<9}  {mark}  {}: observed {}", g.gate, g.observed);
        if let Some(first) = g.evidence.as_ref().and_then(|e| e.first_error.as_ref().zip(e.first_offset_ms)) {
            let _ = writeln!(out, "                     first at +{}: {}", secs_ms(first.1), sanitize::line(first.0));
        }
    }
}

fn counts(counts: &BTreeMap<String, u64>) -> String {
    counts.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join("  ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
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
            first_error: error.to_string(),
            open,
            phase: None,
        };
        let healthy = TargetReport {
            url: "http://127.0.0.1:8080/health".into(),
            probes: 200,
            ok: 200,
            failed: 0,
            resent: 0,
            cancelled: 0,
            status_counts: BTreeMap::from([("200".into(), 200)]),
            error_counts: BTreeMap::new(),
            latency_ms: Some(Latency { min: 0.21, mean: 0.4, p50: 0.38, p90: 0.52, p99: 0.91, p999: 1.4, max: 1.52 }),
            send_lag_ms: SendLag { p50: 0.41, p99: 0.97, max: 1.2 },
            downtime_ms: 0.0,
            availability: 1.0,
            outage_count: 0,
            outages: vec![],
            timeline_width_s: 1,
            timeline: vec![TimelinePoint { offset_s: 0, ok: 20, failed: 0 }],
            phases: None,
            deploy_timing: None,
            gates: vec![],
        };
        let deployed = TargetReport {
            url: "http://127.0.0.1:8081/api/notes".into(),
            probes: 200,
            ok: 119,
            failed: 81,
            resent: 2,
            cancelled: 0,
            status_counts: BTreeMap::from([("200".into(), 119), ("404".into(), 75)]),
            error_counts: BTreeMap::from([("refused".into(), 6)]),
            latency_ms: Some(Latency { min: 0.3, mean: 0.8, p50: 0.7, p90: 1.1, p99: 2.5, p999: 1250.0, max: 1250.0 }),
            send_lag_ms: SendLag { p50: 0.4, p99: 0.9, max: 1.1 },
            downtime_ms: 1800.0,
            availability: 0.82,
            outage_count: 2,
            outages: vec![
                outage(
                    2000.0,
                    3500.0,
                    75,
                    "404",
                    "404 Not Found: Requested route ('notes.demo') does not exist.",
                    false,
                ),
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
            timeline: vec![],
            phases: None,
            deploy_timing: None,
            gates: vec![],
        };
        Report {
            schema_version: SCHEMA_VERSION,
            blip_version: "0.1.0".into(),
            started_at: "2026-11-26T12:00:00.000Z".into(),
            duration_ms: 10000.0,
            rate: 20.0,
            passed: true,
            default_gates: false,
            measure_only: true,
            gate_phases: None,
            warnings: vec![],
            deploy: None,
            targets: vec![healthy, deployed],
        }
    }

    /// The same run as a wrapped deploy: phases, the command, and where the outages fell.
    pub(crate) fn deploy_report() -> Report {
        let mut report = sample_report();
        report.measure_only = false;
        report.warnings.push("http://127.0.0.1:8081/api/notes was already failing before the deploy started: 1 of 40 warmup probes failed; that downtime is not the deploy's".into());
        report.deploy = Some(DeployReport {
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
            output_tail: vec!["Starting app notes...".into()],
            output_lines_dropped: 0,
        });
        let phase = |start: f64, end: f64, probes: u64, failed: u64, downtime_ms: f64| PhaseReport {
            start_offset_ms: start,
            end_offset_ms: end,
            probes,
            ok: probes - failed,
            failed,
            downtime_ms,
            latency_ms: Some(PhaseLatency { p50: 0.7, p99: 2.5, max: 3.1 }),
        };
        let t = &mut report.targets[1];
        t.outages[0].phase = Some(Phase::Deploy);
        t.outages[1].phase = Some(Phase::Cooldown);
        t.phases = Some(BTreeMap::from([
            (Phase::Warmup, phase(0.0, 1500.0, 30, 0, 0.0)),
            (Phase::Deploy, phase(1500.0, 5000.0, 80, 75, 1500.0)),
            (Phase::Cooldown, phase(5000.0, 10000.0, 90, 6, 300.0)),
        ]));
        t.gates = vec![
            GateReport {
                gate: "fail-on-status 404".into(),
                limit: "404".into(),
                observed: "75 probes".into(),
                passed: false,
                evidence: Some(Evidence {
                    first_at: Some("2026-11-26T12:00:02.000Z".into()),
                    first_offset_ms: Some(2000.0),
                    first_error: Some("404 Not Found: Requested route ('notes.demo') does not exist.".into()),
                    outages: vec![0],
                }),
            },
            GateReport {
                gate: "max-latency p99=300ms".into(),
                limit: "300ms".into(),
                observed: "2.500 ms".into(),
                passed: true,
                evidence: None,
            },
        ];
        report.targets[0].gates = vec![GateReport {
            gate: "fail-on-status 404".into(),
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
        report
    }

    /// Text a hostile server could send, as it would arrive if nothing on the way cleaned it.
    pub(crate) const HOSTILE: &str = "503 \x1b]0;pwned\x07\x1b[2J\r| <img src=x> `code` [link](http://evil.example) *em*\u{9b}31m\u{202e}\nline2 %0A";

    /// The deploy report with [`HOSTILE`] text wherever a server's text can appear.
    pub(crate) fn hostile_report() -> Report {
        let mut report = deploy_report();
        let t = &mut report.targets[1];
        for w in &mut t.outages {
            w.first_error = HOSTILE.into();
        }
        for g in &mut t.gates {
            if let Some(e) = &mut g.evidence {
                e.first_error = Some(HOSTILE.into());
            }
        }
        report
    }

    #[test]
    fn server_text_reaches_the_summary_without_control_characters() {
        let text = render(&hostile_report());
        assert!(crate::sanitize::is_clean(&text), "{text:?}");
        assert!(text.contains("503 �]0;pwned��[2J | <img src=x>"), "{text}");
    }

    #[test]
    fn summary() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn summary_of_a_wrapped_deploy() {
        insta::assert_snapshot!(render(&deploy_report()));
    }
}
