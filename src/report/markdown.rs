//! The Markdown writer: the verdict, a summary table, a timeline strip per URL, the gates and the
//! outage windows, for pull requests and GitHub's job summary.
//!
//! A server's error text lands in a table cell that GitHub renders, so every text is escaped
//! ([`cell`]): it stays in its column, on its line, and shows as the characters it is, never as
//! HTML, a link, an image or emphasis.

use std::fmt::Write;

use crate::analysis::phase::Phase;
use crate::report::{Report, TargetReport};
use crate::sanitize;
use crate::units::secs_ms;

/// Renders the report as Markdown. Pure, so it is tested by snapshot.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let (gates, _) = report.gate_counts();
    let headline = report.headline();
    let verdict = match (headline.measured, headline.passed) {
        (true, _) => format!("blip: {}", cell(&headline.text)),
        (_, true) => format!("✅ blip: {}", cell(&headline.text)),
        (_, false) => format!("❌ blip: **{}**", cell(&headline.text)),
    };
    let _ = writeln!(out, "## {verdict}\n");
    let _ = writeln!(out, "Probed from {}.\n", code(&report.vantage));
    if let Some(d) = &report.deploy {
        let how = cell(&d.outcome());
        let took = d.duration_ms.map(|ms| format!(" after {}", secs_ms(ms))).unwrap_or_default();
        let _ = writeln!(out, "Deploy {}: {how}{took}.\n", code(&d.shown()));
    }
    let _ = writeln!(out, "| URL | probes | failed | availability | downtime | outages | p99 |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for t in &report.targets {
        let p99 = t.latency_ms.map(|l| format!("{:.2} ms", l.p99)).unwrap_or_else(|| "–".to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3}% | {} | {} | {p99} |",
            cell(t.name()),
            t.probes,
            t.failed,
            t.availability * 100.0,
            secs_ms(t.downtime_ms),
            t.outage_count,
        );
    }
    let strips: Vec<(&TargetReport, String)> =
        report.targets.iter().filter_map(|t| strip(t).map(|strip| (t, strip))).collect();
    if !strips.is_empty() {
        let _ = writeln!(out, "\n### Timeline\n");
        for (t, strip) in &strips {
            let _ = writeln!(out, "{}  \n{strip}\n", cell(&t.url));
        }
        let _ = writeln!(out, "{LEGEND}");
    }
    if gates > 0 {
        gates_table(&mut out, report);
    }
    if report.targets.iter().any(|t| !t.outages.is_empty()) {
        outages_table(&mut out, report);
    }
    if report.targets.iter().any(|t| !t.degraded.is_empty()) {
        let _ = writeln!(out, "\n### Degraded\n");
        for t in &report.targets {
            for d in &t.degraded {
                let _ = writeln!(out, "- {}: {}", cell(t.name()), cell(&crate::report::degraded::sentence(d)));
            }
        }
    }
    if report.targets.iter().any(|t| t.wire.cutover.is_some()) {
        let _ = writeln!(out, "\n### Cutover\n");
        for t in &report.targets {
            if let Some(c) = &t.wire.cutover {
                let line = crate::report::wire::cutover_line(c);
                let _ = writeln!(out, "- {} ({}): {}", cell(&t.url), cell(&c.source), cell(&line));
            }
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "\n> warning: {}", cell(warning));
    }
    out
}

/// The gates table: every gate of every URL, with its limit and what was observed.
fn gates_table(out: &mut String, report: &Report) {
    let phases = report.gate_phases.map(|p| format!(" (judged on phases: {})", p.as_str())).unwrap_or_default();
    let _ = writeln!(out, "\n### Gates{phases}\n");
    let _ = writeln!(out, "| URL | gate | limit | observed | result |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for t in &report.targets {
        for g in &t.gates {
            let result = if g.passed { "✅ passed" } else { "❌ **failed**" };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {result} |",
                cell(t.name()),
                code(&g.shown()).replace('|', "\\|"),
                cell(&g.limit),
                cell(&g.observed)
            );
        }
    }
}

/// The outages table: every listed window of every URL.
fn outages_table(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\n### Outages\n");
    let _ = writeln!(out, "| URL | phase | start | duration | failed probes | causes | failed in | first error |");
    let _ = writeln!(out, "|---|---|---|---:|---:|---|---|---|");
    for t in &report.targets {
        for w in &t.outages {
            let causes: Vec<String> = w.causes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
            let open = if w.open { " (open at end)" } else { "" };
            let first_error = match w.request_ids() {
                Some(ids) => format!("{} ({ids})", w.first_error),
                None => w.first_error.clone(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} (+{}) | {}{open} | {} | {} | {} | {} |",
                cell(t.name()),
                w.phase_label().as_deref().unwrap_or("–"),
                cell(&w.start),
                secs_ms(w.start_offset_ms),
                secs_ms(w.duration_ms),
                w.failed_probes,
                cell(&causes.join(", ")),
                match crate::report::wire::failed_in_text(&w.failed_in) {
                    text if text.is_empty() => "–".to_string(),
                    text => cell(&text),
                },
                cell(&first_error),
            );
        }
    }
}

/// Most cells in a timeline strip: one line of a job summary, even on a narrow screen.
const STRIP_CELLS: u64 = 60;

const LEGEND: &str = "🟩 all probes ok · 🟨 some failed · 🟥 most failed · ⬜ no probe due";

/// A URL's timeline as one line of at most [`STRIP_CELLS`] cells, each merging whole timeline
/// slices, with the phases of a wrapped deploy named where they begin; None without a timeline.
fn strip(t: &TargetReport) -> Option<String> {
    let width = t.timeline_width_s.max(1);
    // Checked: a saved report's offsets and width can be anything serde reads.
    let slices = t.timeline.iter().map(|p| p.offset_s / width).max()?.checked_add(1)?;
    let per_cell = slices.div_ceil(STRIP_CELLS);
    let cells = slices.div_ceil(per_cell);
    let mut counts = vec![(0u64, 0u64); cells as usize];
    for p in &t.timeline {
        let c = &mut counts[(p.offset_s / width / per_cell) as usize];
        c.0 += p.ok;
        c.1 += p.failed;
    }
    let cell_width = per_cell.checked_mul(width)?;
    let cell_s = cell_width as f64;
    // Where each phase begins, as the cell nearest to its start.
    let mut starts: Vec<(usize, Phase)> = t
        .phases
        .iter()
        .flatten()
        .map(|(phase, p)| (((p.start_offset_ms / 1000.0 / cell_s).round() as usize).min(cells as usize), *phase))
        .collect();
    starts.sort();
    let mut line = String::new();
    // The first cell of the run of red cells being drawn.
    let mut red_from: Option<usize> = None;
    for (i, &(ok, failed)) in counts.iter().enumerate() {
        let red = failed > ok;
        if !red && let Some(from) = red_from.take() {
            line.push_str(&red_label(t, from as f64 * cell_s, i as f64 * cell_s));
        }
        for (_, phase) in starts.iter().filter(|(at, _)| *at == i) {
            let sep = if line.is_empty() { "" } else { " ┃ " };
            let _ = write!(line, "{sep}{phase} ");
        }
        if red && red_from.is_none() {
            red_from = Some(i);
        }
        line.push(match (ok, failed) {
            (0, 0) => '⬜',
            (_, 0) => '🟩',
            (ok, failed) if failed <= ok => '🟨',
            _ => '🟥',
        });
    }
    if let Some(from) = red_from {
        line.push_str(&red_label(t, from as f64 * cell_s, cells as f64 * cell_s));
    }
    let unit = if cell_width == 1 { "1 s".to_string() } else { format!("{cell_width} s") };
    Some(format!("{line} ({unit} per cell)"))
}

/// The exact span of the windows under a run of red cells from `from_s` to `to_s` (seconds),
/// so the strip's whole-second cells never stand for the edges: ` (+1.380 s → +2.880 s)`.
fn red_label(t: &TargetReport, from_s: f64, to_s: f64) -> String {
    let (from, to) = (from_s * 1000.0, to_s * 1000.0);
    let under = t.outages.iter().filter(|w| w.start_offset_ms < to && w.end_offset_ms > from);
    let (start, end) =
        under.fold((f64::INFINITY, f64::NEG_INFINITY), |(s, e), w| (s.min(w.start_offset_ms), e.max(w.end_offset_ms)));
    if start.is_finite() && end.is_finite() {
        format!(" (+{} → +{}) ", secs_ms(start), secs_ms(end))
    } else {
        String::new()
    }
}

/// Text made safe for a table cell and for running text: one line with no control character,
/// HTML's special characters as entities, and Markdown's punctuation (emphasis, code, links,
/// strike-through, the cell separator) backslash-escaped, so it renders as the characters it is.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in sanitize::line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text as a code span outside a table: one clean line, fenced by more backticks than it holds.
fn code(text: &str) -> String {
    let text = sanitize::line(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space between it and the fence.
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{deploy_report, sample_report};

    #[test]
    fn red_cells_are_labelled_with_their_windows_exact_span() {
        let mut report = sample_report();
        let t = &mut report.targets[1];
        let point =
            |offset_s, ok, failed| crate::report::TimelinePoint { offset_s, ok, failed, p50_ms: None, p99_ms: None };
        // At 20/s, down from +1.380 s to +2.880 s.
        t.timeline = vec![point(0, 20, 0), point(1, 8, 12), point(2, 2, 18), point(3, 20, 0)];
        t.phases = None;
        let w = &mut t.outages[0];
        (w.start_offset_ms, w.end_offset_ms, w.duration_ms) = (1380.0, 2880.0, 1500.0);
        t.outages.truncate(1);
        assert_eq!(strip(t).unwrap(), "🟩🟥🟥 (+1.380 s → +2.880 s) 🟩 (1 s per cell)");
    }

    #[test]
    fn markdown_of_a_failed_deploy() {
        insta::assert_snapshot!(render(&deploy_report()));
    }

    #[test]
    fn markdown_without_gates() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn a_long_run_is_a_strip_of_at_most_sixty_cells() {
        let mut t = sample_report().targets.remove(1);
        // Three hours at one slice a second, down from 5400 s to 5460 s.
        t.timeline = (0..3 * 3600)
            .map(|offset_s| {
                let failed = if (5400..5460).contains(&offset_s) { 20 } else { 0 };
                crate::report::TimelinePoint { offset_s, ok: 20 - failed, failed, p50_ms: None, p99_ms: None }
            })
            .collect();
        let line = strip(&t).unwrap();
        assert!(line.ends_with(" (180 s per cell)"), "{line}");
        let cells: Vec<char> = line.chars().filter(|c| "🟩🟨🟥⬜".contains(*c)).collect();
        assert_eq!(cells.len(), 60, "{line}");
        // 5400 s to 5460 s is a third of cell 30: some of its probes failed.
        assert_eq!(cells.iter().position(|c| *c != '🟩'), Some(30), "{line}");
        assert_eq!(cells[30], '🟨');
        // A 3-second run: a cell a second.
        t.timeline.truncate(3);
        assert_eq!(strip(&t).unwrap(), "🟩🟩🟩 (1 s per cell)");
    }

    #[test]
    fn cells_stay_in_their_column() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(
            cell("<img src=x> `c` [l](u) *e* ~s~ _u_ a&b \\"),
            "&lt;img src=x&gt; \\`c\\` \\[l\\](u) \\*e\\* \\~s\\~ \\_u\\_ a&amp;b \\\\"
        );
        assert_eq!(code("sh -c `x`"), "`` sh -c `x` ``");
        assert_eq!(code("cf push"), "`cf push`");
    }

    #[test]
    fn server_text_cannot_break_the_tables_or_inject_markup() {
        use crate::report::fixtures::hostile_report;
        let md = render(&hostile_report());
        assert!(sanitize::is_clean(&md), "{md:?}");
        assert!(!md.contains('<') && !md.contains("[link](") && !md.contains("line2\n"), "{md}");
        // Every table row has as many cells as its header: no `|` in a cell went unescaped.
        let mut columns = 0;
        for line in md.lines() {
            if !line.starts_with('|') {
                columns = 0;
                continue;
            }
            let cells = line.replace("\\|", "").matches('|').count();
            if columns == 0 {
                columns = cells;
            }
            assert_eq!(cells, columns, "{line}");
        }
        let row = md.lines().find(|l| l.contains("pwned")).unwrap();
        assert!(row.ends_with("| 503 �\\]0;pwned��\\[2J \\| &lt;img src=x&gt; \\`code\\` \\[link\\](http://evil.example) \\*em\\*�31m� line2 %0A |"), "{row}");
    }
}
