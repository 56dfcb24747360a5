//! The Markdown writer: a summary table, the gates and the outage windows, for pull requests and
//! GitHub's job summary.

use std::fmt::Write;

use crate::report::Report;

/// Renders the report as Markdown. Pure, so it is tested by snapshot.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let (gates, failed) = report.gate_counts();
    let verdict = match (gates, failed) {
        (0, _) => "measured".to_string(),
        (_, 0) => format!("passed ({gates} gate{})", if gates == 1 { "" } else { "s" }),
        _ => format!("**failed** ({failed} of {gates} gates)"),
    };
    let _ = writeln!(out, "## blip: {verdict}\n");
    if let Some(d) = &report.deploy {
        let how = d.outcome();
        let took = d.duration_ms.map(|ms| format!(" after {:.3} s", ms / 1000.0)).unwrap_or_default();
        let _ = writeln!(out, "Deploy `{}`: {how}{took}.\n", cell(&d.command.join(" ")));
    }
    let _ = writeln!(out, "| URL | probes | failed | availability | downtime | outages | p99 |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for t in &report.targets {
        let p99 = t.latency_ms.map(|l| format!("{:.2} ms", l.p99)).unwrap_or_else(|| "–".to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3}% | {:.3} s | {} | {p99} |",
            cell(&t.url),
            t.probes,
            t.failed,
            t.availability * 100.0,
            t.downtime_ms / 1000.0,
            t.outage_count,
        );
    }
    if gates > 0 {
        let phases = report.gate_phases.map(|p| format!(" (judged on phases: {})", p.as_str())).unwrap_or_default();
        let _ = writeln!(out, "\n### Gates{phases}\n");
        let _ = writeln!(out, "| URL | gate | observed | result |");
        let _ = writeln!(out, "|---|---|---|---|");
        for t in &report.targets {
            for g in &t.gates {
                let result = if g.passed { "passed".to_string() } else { "**failed**".to_string() };
                let _ = writeln!(out, "| {} | `{}` | {} | {result} |", cell(&t.url), cell(&g.gate), cell(&g.observed));
            }
        }
    }
    if report.targets.iter().any(|t| !t.outages.is_empty()) {
        let _ = writeln!(out, "\n### Outages\n");
        let _ = writeln!(out, "| URL | phase | start | duration | failed probes | causes | first error |");
        let _ = writeln!(out, "|---|---|---|---:|---:|---|---|");
        for t in &report.targets {
            for w in &t.outages {
                let causes: Vec<String> = w.causes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
                let open = if w.open { " (open at end)" } else { "" };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} (+{:.3} s) | {:.3} s{open} | {} | {} | {} |",
                    cell(&t.url),
                    w.phase.map_or("–", |p| p.as_str()),
                    w.start,
                    w.start_offset_ms / 1000.0,
                    w.duration_ms / 1000.0,
                    w.failed_probes,
                    causes.join(", "),
                    cell(&w.first_error),
                );
            }
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "\n> warning: {}", cell(warning));
    }
    out
}

/// Text made safe for a table cell: pipes escaped, one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::tests::{deploy_report, sample_report};

    #[test]
    fn markdown_of_a_failed_deploy() {
        insta::assert_snapshot!(render(&deploy_report()));
    }

    #[test]
    fn markdown_without_gates() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn cells_stay_in_their_column() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
