//! The dashboard's rows, each a pure function of the [`View`](super::View): the header and the
//! footer, and per URL its state, counts, gates, latency, status codes, strip and windows.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{View, clock, fit, ms, width};
use crate::analysis::snapshot::{Quantiles, TargetDetail};
use crate::analysis::timeline::Slice;
use crate::live::gates::{GateLive, GateState};
use crate::sanitize;
use crate::units::secs;

/// The header: blip, the time so far and left, the phase and its time, the run's state, then the
/// command in what room is left.
pub(super) fn header_line(view: &View, max: usize) -> Line<'static> {
    let mut spans = vec![Span::styled(" blip ", Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED))];
    spans.push(Span::raw(format!("  {}", clock(view.elapsed))));
    let phase_left = view.phase.and_then(|(_, _, left)| left);
    if let Some(left) = view.left.filter(|l| Some(*l) != phase_left) {
        spans.push(Span::raw(format!(", {} left", clock(left))));
    }
    if let Some((phase, lasted, left)) = view.phase {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(phase.to_string(), Style::new().add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(format!(" {}", clock(lasted))));
        if let Some(left) = left {
            spans.push(Span::raw(format!(", {} left", clock(left))));
        }
    }
    if let Some((text, color)) = exit_now(view) {
        spans.push(Span::raw("  "));
        let style = Style::new().add_modifier(Modifier::BOLD);
        spans.push(Span::styled(text, if view.color { style.fg(color) } else { style }));
    }
    if let Some(why) = &view.stopping {
        spans.push(Span::raw("  "));
        let used: usize = spans.iter().map(Span::width).sum();
        // The reason may be long (the gate `--fail-fast` stopped on): it is cut, the mark stays.
        let room = max.saturating_sub(used + width(" STOPPED EARLY:  "));
        let style = Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        spans.push(Span::styled(format!(" STOPPED EARLY: {} ", fit(&sanitize::line(why), room)), style));
    }
    if let Some(command) = &view.command {
        let used: usize = spans.iter().map(Span::width).sum();
        // Two spaces and the backticks around it.
        let room = max.saturating_sub(used + 4);
        if room >= 8 {
            spans.push(Span::raw(format!("  `{}`", fit(command, room))));
        }
    }
    Line::from(spans)
}

/// What blip would exit with if the run ended now, by the gates alone (the command's own end is
/// not known before it comes): `exit 1 now` once a gate fails. None without gates.
pub(super) fn exit_now(view: &View) -> Option<(String, Color)> {
    let gates = view.gates.iter().flatten();
    let mut any = false;
    for g in gates {
        any = true;
        if matches!(g.state, GateState::Failed { .. }) {
            return Some(("✗ exit 1 now".to_string(), Color::Red));
        }
    }
    any.then(|| ("✓ exit 0 now".to_string(), Color::Green))
}

pub(super) fn footer_line(view: &View, max: usize) -> Line<'static> {
    let keys = " q quit  ? help";
    let mut spans = vec![Span::raw(keys)];
    if let Some(notice) = &view.notice {
        let room = max.saturating_sub(width(keys) + 2);
        spans.push(Span::styled(
            format!("  {}", fit(&sanitize::line(notice), room)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

pub(super) fn state_span(view: &View, t: &TargetDetail) -> Span<'static> {
    let (text, color) = if t.down.is_some() { (" DOWN ", Color::Red) } else { (" UP ", Color::Green) };
    let style = if view.color {
        Style::new().bg(color).fg(Color::Black).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    };
    Span::styled(text, style)
}

/// The state, how long it has lasted, and the cause of an outage going on, cut to `max` cells.
pub(super) fn state_line(view: &View, t: &TargetDetail, max: usize) -> Line<'static> {
    let since = view.elapsed.saturating_sub(t.since);
    let mut spans = vec![state_span(view, t), Span::raw(format!(" for {:.1} s", since.as_secs_f64()))];
    if let Some((_, error)) = &t.down {
        let used: usize = spans.iter().map(Span::width).sum();
        spans.push(Span::raw(format!("  {}", fit(&sanitize::line(error), max.saturating_sub(used + 2)))));
    }
    Line::from(spans)
}

/// The request phases' medians so far, slowest first, as the rate line ends: where the time of a
/// probe goes (`  ttfb p50 0.45 ms  connect p50 0.12 ms`).
pub(super) fn phases(t: &TargetDetail) -> String {
    let mut phases = t.phases_p50.clone();
    phases.sort_by_key(|p| std::cmp::Reverse(p.1));
    phases.iter().map(|(phase, p50)| format!("  {phase} p50 {}", ms(*p50))).collect()
}

/// The counts, in `max` cells: the ok count goes first (probes less failed), then the long labels
/// are shortened; the outage count stays.
pub(super) fn counts_line(t: &TargetDetail, max: usize) -> Line<'static> {
    let outages = t.window_count + u64::from(t.down.is_some());
    let full = format!(
        "probes {}  ok {}  failed {}  availability {:.3}%  downtime {}  outages {outages}",
        t.probes,
        t.ok,
        t.failed,
        t.availability * 100.0,
        secs(t.downtime),
    );
    let without_ok = format!(
        "probes {}  failed {}  availability {:.3}%  downtime {}  outages {outages}",
        t.probes,
        t.failed,
        t.availability * 100.0,
        secs(t.downtime),
    );
    let short = format!(
        "{} probes  {} failed  {:.3}% up  down {}  outages {outages}",
        t.probes,
        t.failed,
        t.availability * 100.0,
        secs(t.downtime),
    );
    let line = [full, without_ok].into_iter().find(|l| width(l) <= max).unwrap_or(short);
    Line::from(line)
}

/// The gates and their state, worst first, cut to `max` cells. Without colour the marks tell:
/// `✓` passing, `!` at risk, `✗` failed, `…` waiting for a judged probe.
pub(super) fn gates_line(view: &View, gates: &[GateLive], max: usize) -> Line<'static> {
    let mut spans = vec![Span::raw("gates")];
    let mut used = width("gates");
    for g in gates {
        let (text, color) = match &g.state {
            GateState::Waiting => (format!("… {} (not judged yet)", g.gate), Color::DarkGray),
            GateState::Passing => (format!("✓ {}", g.gate), Color::Green),
            GateState::AtRisk(why) => (format!("! {} at risk: {why}", g.gate), Color::Yellow),
            GateState::Failed { observed, settled: true } => (format!("✗ {} FAILED: {observed}", g.gate), Color::Red),
            GateState::Failed { observed, settled: false } => (format!("✗ {} failing: {observed}", g.gate), Color::Red),
        };
        let text = sanitize::line(&text);
        if used + 2 + width(&text) > max {
            let room = max.saturating_sub(used + 2);
            if room > 3 {
                spans.push(Span::raw("  "));
                spans.push(Span::styled(fit(&text, room), gate_style(view, color)));
            }
            break;
        }
        used += 2 + width(&text);
        spans.push(Span::raw("  "));
        spans.push(Span::styled(text, gate_style(view, color)));
    }
    Line::from(spans)
}

pub(super) fn gate_style(view: &View, color: Color) -> Style {
    if view.color { Style::new().fg(color) } else { Style::new() }
}

/// Gates in a few words, for the compact layout: how many failed and are at risk.
pub(super) fn gates_summary(gates: &[GateLive]) -> String {
    let count = |f: fn(&GateState) -> bool| gates.iter().filter(|g| f(&g.state)).count();
    let failed = count(|s| matches!(s, GateState::Failed { .. }));
    let risk = count(|s| matches!(s, GateState::AtRisk(_)));
    let passing = count(|s| matches!(s, GateState::Passing));
    format!("gates: {failed} failed, {risk} at risk, {passing} passing")
}

pub(super) fn latency_row(label: &str, q: Option<Quantiles>) -> Line<'static> {
    match q {
        Some(q) => {
            Line::from(format!("{label:<9} {:>9} {:>9} {:>9} {:>9}", ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max)))
        }
        None => Line::from(format!("{label:<9} {:>9}", "–")),
    }
}

pub(super) fn codes_line(t: &TargetDetail) -> Line<'static> {
    let statuses: Vec<String> = t.status_counts.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    let errors: Vec<String> = t.error_counts.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let errors = if errors.is_empty() { "none".to_string() } else { errors.join("  ") };
    Line::from(format!("status {}   errors {errors}", statuses.join("  ")))
}

/// One cell per second: green when every probe succeeded, yellow when some failed, red when
/// most did. Without colour the glyph tells the same.
pub(super) fn strip_line(view: &View, slices: &[Slice]) -> Line<'static> {
    let spans = slices
        .iter()
        .map(|s| {
            let total = s.ok + s.failed;
            let (glyph, color) = match (total, s.failed) {
                (0, _) => (' ', Color::DarkGray),
                (_, 0) => ('▁', Color::Green),
                (t, f) if f * 2 < t => ('▄', Color::Yellow),
                _ => ('█', Color::Red),
            };
            let style = if view.color { Style::new().fg(color) } else { Style::new() };
            let glyph = if view.color && glyph != ' ' { '█' } else { glyph };
            Span::styled(glyph.to_string(), style)
        })
        .collect::<Vec<_>>();
    Line::from(spans)
}

/// The outage going on and the last closed ones, most recent first, each cause cut to `max`.
pub(super) fn windows_lines(t: &TargetDetail, max: usize) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled("outages", Style::new().add_modifier(Modifier::BOLD))];
    let line = |head: String, error: &str| {
        let room = max.saturating_sub(width(&head) + 2);
        Line::from(format!("{head}  {}", fit(&sanitize::line(error), room)))
    };
    if let Some((start, error)) = &t.down {
        lines.push(line(format!("+{}  open", secs(*start)), error));
    }
    for w in t.windows.iter().rev() {
        lines.push(line(format!("+{}  {}", secs(w.start), secs(w.duration())), &w.first_error));
    }
    if t.down.is_none() && t.windows.is_empty() {
        lines.push(Line::from("none"));
    }
    lines
}
