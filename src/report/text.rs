//! The human summary printed at the end of a run: per URL, the counts, the availability, the
//! latency, and every outage window with its cause.
//!
//! It goes to a terminal, so every text that may come from a server passes
//! [`sanitize::line`] first.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::report::{DeployReport, Report, TargetReport, describe_end};
use crate::sanitize;
use crate::units::{latency, secs_ms};

/// Renders the whole summary. Pure, so it is tested by snapshot.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    if let Some(deploy) = &report.deploy {
        render_deploy(&mut out, deploy);
    }
    if !report.routes.is_empty() {
        let routes: Vec<String> = report.routes.iter().map(|r| sanitize::line(r)).collect();
        let _ = writeln!(out, "routed {}", routes.join("  "));
    }
    for target in &report.targets {
        render_target(&mut out, target);
    }
    render_hooks(&mut out, report);
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {}", sanitize::line(warning));
    }
    if let Some(why) = &report.stop_reason {
        let _ = writeln!(out, "stopped early ({}): the figures cover the run until then", sanitize::line(why));
    }
    let _ = writeln!(out, "\n{}", verdict(report));
    out
}

/// The verdict line: what was judged and how it went, in agreement with the exit code (see
/// [`Report::headline`]). Every run ends with one.
pub fn verdict(report: &Report) -> String {
    let words = report.gate_words();
    let detail = words.detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
    let judged = if report.default_gates {
        "; max-downtime 0s is blip's default (--max-downtime sets another limit, --measure-only judges nothing)"
    } else {
        ""
    };
    let gates = if report.measure_only {
        "measured only: no gate was judged".to_string()
    } else if words.failed == 0 {
        format!(
            "every gate held ({}{}){judged}",
            words.count,
            words.detail.map(|d| format!(": {d}")).unwrap_or_default()
        )
    } else {
        format!("{} of {} failed{detail}{judged}", words.failed, words.count)
    };
    if report.not_started() {
        let urls: Vec<String> = report.down_in_warmup().map(|t| sanitize::line(t.name())).collect();
        let urls = if urls.is_empty() { "a URL".to_string() } else { urls.join(", ") };
        format!(
            "FAILED: the deploy was not started: {urls} never answered in the warmup (--allow-down-before-deploy starts it anyway)"
        )
    } else if let Some(trouble) = report.blip_trouble() {
        format!("FAILED: not judged: {}", sanitize::line(&trouble))
    } else if let Some(how) = report.deploy_failure() {
        format!("FAILED: the COMMAND failed ({}); gates: {gates}", sanitize::line(&how))
    } else if report.measure_only {
        gates
    } else if words.failed == 0 {
        format!("passed: {gates}")
    } else {
        format!("FAILED: {gates}")
    }
}

fn render_deploy(out: &mut String, d: &DeployReport) {
    let how = d.outcome();
    let _ = writeln!(out, "deploy `{}`", sanitize::line(&d.shown()));
    match (d.start_offset_ms, d.duration_ms) {
        (Some(start), Some(duration)) => {
            let _ = writeln!(out, "  {how} after {}, started at +{}", secs_ms(duration), secs_ms(start));
        }
        _ => {
            let _ = writeln!(out, "  {how}");
        }
    }
}

/// How the hooks went, when any was triggered: the count, and each run that did not succeed.
fn render_hooks(out: &mut String, report: &Report) {
    if report.hooks_run + report.hooks_skipped == 0 {
        return;
    }
    let _ = writeln!(out, "hooks: {} ran, {} skipped", report.hooks_run, report.hooks_skipped);
    for h in report.hooks.iter().filter(|h| h.exit_code != Some(0)) {
        let how = h.error.clone().unwrap_or_else(|| describe_end(h.exit_code, h.signal.as_deref()));
        let _ = writeln!(
            out,
            "  {} for {} at +{}: {} after {}",
            sanitize::line(&h.hook),
            sanitize::line(&h.connection.label(&h.url, report.lanes_shown())),
            secs_ms(h.start_offset_ms),
            sanitize::line(&how),
            secs_ms(h.duration_ms)
        );
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
    let _ = writeln!(out, "{}", sanitize::line(t.name()));
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
    if !t.router_error_counts.is_empty() {
        let _ = writeln!(
            out,
            "  router     {}  (of the status above: the router's own answers)",
            counts(&t.router_error_counts)
        );
    }
    if !t.error_counts.is_empty() {
        let _ = writeln!(out, "  errors     {}", counts(&t.error_counts));
    }
    render_windows(out, t);
    render_phases(out, t);
    crate::report::wire::render_text(out, &t.wire);
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
    render_gates(out, t);
}

/// A URL's outage windows, one line each, and its degraded spans, one story each.
fn render_windows(out: &mut String, t: &TargetReport) {
    for (i, w) in t.outages.iter().enumerate() {
        let label = if i == 0 { "outages" } else { "" };
        let open = if w.open { " (open at end)" } else { "" };
        let phase = w.phase_label().map(|p| format!("[{p}] ")).unwrap_or_default();
        let failed_in = match crate::report::wire::failed_in_text(&w.failed_in) {
            text if text.is_empty() => text,
            text => format!("  in {text}"),
        };
        // A window of several causes says which it mostly was, before how it began.
        let mostly = if w.causes.len() > 1 {
            format!("mostly {}; first: ", sanitize::line(&w.main_cause))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {label:<9}  {phase}+{} → +{}  {}{open}  {} probe{}  {}{failed_in}  {mostly}{}",
            secs_ms(w.start_offset_ms),
            secs_ms(w.end_offset_ms),
            secs_ms(w.duration_ms),
            w.failed_probes,
            if w.failed_probes == 1 { "" } else { "s" },
            counts(&w.causes),
            sanitize::line(&w.first_error),
        );
        if let Some(ids) = w.request_ids() {
            let _ = writeln!(out, "             {}", sanitize::line(&ids));
        }
    }
    if t.outage_count > t.outages.len() as u64 {
        let _ = writeln!(out, "             … and {} more outages", t.outage_count - t.outages.len() as u64);
    }
    // A brownout or a stall as one story each, beside the windows.
    for d in &t.degraded {
        let phase = d.phase.map(|p| format!("[{p}] ")).unwrap_or_default();
        let _ = writeln!(out, "  degraded   {phase}{}", crate::report::degraded::sentence(d));
    }
}

/// A wrapped deploy's phases, one line each, and when the URL first failed and recovered.
fn render_phases(out: &mut String, t: &TargetReport) {
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
}

/// Each gate's verdict, with the first probe that broke it.
fn render_gates(out: &mut String, t: &TargetReport) {
    for (i, g) in t.gates.iter().enumerate() {
        let label = if i == 0 { "gates" } else { "" };
        let mark = if g.passed { "passed" } else { "FAILED" };
        let (gate, observed) = (sanitize::line(&g.shown()), sanitize::line(&g.observed));
        let _ = writeln!(out, "  {label:<9}  {mark}  {gate}: observed {observed}");
        if let Some(first) = g.evidence.as_ref().and_then(|e| e.first_error.as_ref().zip(e.first_offset_ms)) {
            let _ = writeln!(out, "                     first at +{}: {}", secs_ms(first.1), sanitize::line(first.0));
        }
    }
}

fn counts(counts: &BTreeMap<String, u64>) -> String {
    counts.iter().map(|(k, n)| format!("{} ×{n}", sanitize::line(k))).collect::<Vec<_>>().join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{deploy_report, hostile_report, sample_report};

    #[test]
    fn a_window_of_several_causes_leads_with_its_main_one() {
        let mut report = sample_report();
        let w = &mut report.targets[1].outages[0];
        w.causes = BTreeMap::from([("refused".to_string(), 222), ("reset".to_string(), 1)]);
        w.main_cause = crate::report::main_cause(&w.causes);
        w.first_error = "reset: connection reset by peer".into();
        assert_eq!(w.main_cause, "refused");
        let text = render(&report);
        assert!(
            text.contains(
                "refused ×222  reset ×1  in answer ×75  mostly refused; first: reset: connection reset by peer"
            ),
            "{text}"
        );
        // Equals: the first by name.
        assert_eq!(
            crate::report::main_cause(&BTreeMap::from([("503".to_string(), 2), ("refused".to_string(), 2)])),
            "503"
        );
    }

    #[test]
    fn server_text_reaches_the_summary_without_control_characters() {
        let text = render(&hostile_report());
        assert!(crate::sanitize::is_clean(&text), "{text:?}");
        assert!(text.contains("503 �]0;pwned��[2J | <img src=x>"), "{text}");
    }

    #[test]
    fn hooks_that_did_not_succeed_are_listed() {
        let mut report = sample_report();
        assert!(!render(&report).contains("hooks:"), "nothing when no hook ran");
        let hook = |exit_code, signal: Option<&str>| crate::report::HookReport {
            hook: "on-down".into(),
            url: "http://a/".into(),
            connection: crate::engine::lane::Lane::Reused,
            start_offset_ms: 1500.0,
            duration_ms: 250.0,
            exit_code,
            signal: signal.map(str::to_string),
            error: None,
        };
        report.hooks = vec![hook(Some(0), None), hook(None, Some("SIGTERM"))];
        (report.hooks_run, report.hooks_skipped) = (2, 1);
        let text = render(&report);
        assert!(
            text.contains(
                "hooks: 2 ran, 1 skipped\n  on-down for http://a/ at +1.500 s: killed by SIGTERM after 0.250 s\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_run_stopped_early_says_so() {
        let mut report = sample_report();
        assert!(!render(&report).contains("stopped early"));
        report.stop_reason = Some("quit requested".into());
        let text = render(&report);
        assert!(text.contains("\nstopped early (quit requested): the figures cover the run until then\n"), "{text}");
    }

    #[test]
    fn request_ids_of_a_window_are_shown_under_it() {
        let mut report = sample_report();
        let w = &mut report.targets[1].outages[0];
        w.first_request_id = Some("blip-5e1f0c2a-reused-40".into());
        w.last_request_id = Some("blip-5e1f0c2a-reused-114".into());
        let text = render(&report);
        assert!(
            text.contains("\n             requests blip-5e1f0c2a-reused-40 … blip-5e1f0c2a-reused-114\n"),
            "{text}"
        );
        let markdown = crate::report::markdown::render(&report);
        assert!(markdown.contains("(requests blip-5e1f0c2a-reused-40 … blip-5e1f0c2a-reused-114) |"), "{markdown}");
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
