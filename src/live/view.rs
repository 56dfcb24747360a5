//! The dashboard's picture: a pure function from a [`View`] to a frame, so it is tested with
//! ratatui's `TestBackend` and snapshots, with no terminal.
//!
//! Availability comes first: each URL opens with a large UP or DOWN and the time since it
//! changed, then its counts, latency, the availability strip (one cell per second, coloured by
//! the share of failed probes) and its latest outages.
//!
//! A server's error text and the URL pass [`sanitize::line`] before they are drawn.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Sparkline};

use crate::analysis::phase::Phase;
use crate::analysis::snapshot::{Quantiles, TargetDetail};
use crate::analysis::timeline::Slice;
use crate::live::Stream;
use crate::live::gates::{GateLive, GateState};
use crate::sanitize;
use crate::units::{latency_brief as ms, secs};

/// Everything one frame shows.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub elapsed: Duration,
    /// Time left until the run ends, when that is known (`--duration`, a cooldown begun).
    pub left: Option<Duration>,
    /// The wrapped command's phase, how long it has lasted, and how long it has left when that
    /// is known (a warmup, a cooldown).
    pub phase: Option<(Phase, Duration, Option<Duration>)>,
    pub command: Option<String>,
    pub targets: Vec<TargetDetail>,
    /// Probes per second that reported, per URL: over the last second, or since the start of
    /// the run for its first second.
    pub rates: Vec<f64>,
    /// Every URL's gates and their state now, in the order of the URLs.
    pub gates: Vec<Vec<GateLive>>,
    /// The last lines of the command's output.
    pub output: Vec<(Stream, String)>,
    pub notice: Option<String>,
    /// Why the run is being stopped before its end, once it is.
    pub stopping: Option<String>,
    pub help: bool,
    /// False under `NO_COLOR`: the strip and the state then speak through glyphs and reverse video.
    pub color: bool,
}

/// Below this size only the state and the counts are shown.
const FULL_WIDTH: u16 = 80;
const FULL_HEIGHT: u16 = 20;
/// Rows of one URL's panel in the full layout at least, borders included: the chart has one.
const PANEL_ROWS: u16 = 13;
/// The command's output pane takes at most this share of the rows (1/n), and at least 3 rows.
const OUTPUT_SHARE: u16 = 3;
/// Width of the latency table; the outages list beside it takes the rest.
const LATENCY_WIDTH: u16 = 49;

pub fn render(frame: &mut Frame<'_>, view: &View) {
    let area = frame.area();
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(header_line(view, header.width as usize)), header);
    frame.render_widget(Paragraph::new(footer_line(view, footer.width as usize)), footer);
    if area.width < FULL_WIDTH || area.height < FULL_HEIGHT {
        render_compact(frame, body, view);
    } else {
        render_full(frame, body, view);
    }
    if view.help {
        render_help(frame, area, view);
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}.{}", s / 60, s % 60, d.subsec_millis() / 100)
}

/// Display width of a text, in terminal cells.
fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// `text` cut to `max` cells: at the last word boundary that leaves room for `…`, or within the
/// word when a single word is wider than that.
pub fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1;
    let mut cut = String::new();
    for word in text.split(' ') {
        let next = if cut.is_empty() { word.to_string() } else { format!("{cut} {word}") };
        if width(&next) > room {
            break;
        }
        cut = next;
    }
    if cut.is_empty() {
        for c in text.chars() {
            let mut next = cut.clone();
            next.push(c);
            if width(&next) > room {
                break;
            }
            cut = next;
        }
    }
    format!("{}…", cut.trim_end())
}

/// The header: blip, the time so far and left, the phase and its time, the run's state, then the
/// command in what room is left.
fn header_line(view: &View, max: usize) -> Line<'static> {
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
fn exit_now(view: &View) -> Option<(String, Color)> {
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

fn footer_line(view: &View, max: usize) -> Line<'static> {
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

fn state_span(view: &View, t: &TargetDetail) -> Span<'static> {
    let (text, color) = if t.down.is_some() { (" DOWN ", Color::Red) } else { (" UP ", Color::Green) };
    let style = if view.color {
        Style::new().bg(color).fg(Color::Black).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    };
    Span::styled(text, style)
}

/// The state, how long it has lasted, and the cause of an outage going on, cut to `max` cells.
fn state_line(view: &View, t: &TargetDetail, max: usize) -> Line<'static> {
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
fn phases(t: &TargetDetail) -> String {
    let mut phases = t.phases_p50.clone();
    phases.sort_by_key(|p| std::cmp::Reverse(p.1));
    phases.iter().map(|(phase, p50)| format!("  {phase} p50 {}", ms(*p50))).collect()
}

/// The counts, in `max` cells: the ok count goes first (probes less failed), then the long labels
/// are shortened; the outage count stays.
fn counts_line(t: &TargetDetail, max: usize) -> Line<'static> {
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
fn gates_line(view: &View, gates: &[GateLive], max: usize) -> Line<'static> {
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

fn gate_style(view: &View, color: Color) -> Style {
    if view.color { Style::new().fg(color) } else { Style::new() }
}

/// Gates in a few words, for the compact layout: how many failed and are at risk.
fn gates_summary(gates: &[GateLive]) -> String {
    let count = |f: fn(&GateState) -> bool| gates.iter().filter(|g| f(&g.state)).count();
    let failed = count(|s| matches!(s, GateState::Failed { .. }));
    let risk = count(|s| matches!(s, GateState::AtRisk(_)));
    let passing = count(|s| matches!(s, GateState::Passing));
    format!("gates: {failed} failed, {risk} at risk, {passing} passing")
}

fn latency_row(label: &str, q: Option<Quantiles>) -> Line<'static> {
    match q {
        Some(q) => {
            Line::from(format!("{label:<9} {:>9} {:>9} {:>9} {:>9}", ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max)))
        }
        None => Line::from(format!("{label:<9} {:>9}", "–")),
    }
}

fn codes_line(t: &TargetDetail) -> Line<'static> {
    let statuses: Vec<String> = t.status_counts.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    let errors: Vec<String> = t.error_counts.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let errors = if errors.is_empty() { "none".to_string() } else { errors.join("  ") };
    Line::from(format!("status {}   errors {errors}", statuses.join("  ")))
}

/// One cell per second: green when every probe succeeded, yellow when some failed, red when
/// most did. Without colour the glyph tells the same.
fn strip_line(view: &View, slices: &[Slice]) -> Line<'static> {
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
fn windows_lines(t: &TargetDetail, max: usize) -> Vec<Line<'static>> {
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

/// A bordered panel; every panel's rows start one cell in from its border.
fn panel(title: String) -> Block<'static> {
    Block::bordered().title(title).padding(Padding::horizontal(1))
}

/// Rows the command's output pane takes: its lines, up to a share of the body, never fewer than 3
/// nor so many that a URL's panel loses its chart.
fn output_rows(view: &View, body: u16) -> u16 {
    let wanted = view.output.len() as u16 + 2;
    let panels = view.targets.len() as u16 * PANEL_ROWS;
    wanted.min(body / OUTPUT_SHARE).min(body.saturating_sub(panels)).max(3)
}

fn render_full(frame: &mut Frame<'_>, area: Rect, view: &View) {
    let [panels_area, output_area] = if view.command.is_some() {
        Layout::vertical([Constraint::Min(1), Constraint::Length(output_rows(view, area.height))]).areas(area)
    } else {
        Layout::vertical([Constraint::Min(1), Constraint::Length(0)]).areas(area)
    };
    let rows = Layout::vertical(view.targets.iter().map(|_| Constraint::Fill(1))).split(panels_area);
    for (i, (t, row)) in view.targets.iter().zip(rows.iter()).enumerate() {
        let gates = view.gates.get(i).map_or(&[][..], Vec::as_slice);
        render_panel(frame, *row, view, t, view.rates.get(i).copied().unwrap_or(0.0), gates);
    }
    if view.command.is_some() {
        let block = panel(" command output ".to_string());
        let inner = block.inner(output_area);
        let shown = view.output.len().saturating_sub(inner.height as usize);
        let lines: Vec<Line> = view.output[shown..]
            .iter()
            .map(|(stream, line)| {
                let mark = if *stream == Stream::Stderr { "! " } else { "| " };
                Line::from(format!("{mark}{line}"))
            })
            .collect();
        frame.render_widget(Paragraph::new(lines).block(block), output_area);
    }
}

fn render_panel(frame: &mut Frame<'_>, area: Rect, view: &View, t: &TargetDetail, rate: f64, gates: &[GateLive]) {
    let block = panel(format!(" {} ", sanitize::line(&t.url)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let cutover = t.cutover.as_ref().map(|(c, start)| crate::report::wire::live_cutover_line(c, *start));
    let top_rows = 3 + u16::from(!gates.is_empty()) + u16::from(cutover.is_some());
    let [top, middle, strip_area, label_area, chart_area] = Layout::vertical([
        Constraint::Length(top_rows),
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let max = inner.width as usize;
    let mut top_lines = vec![
        state_line(view, t, max),
        counts_line(t, max),
        Line::from(fit(
            &format!("rate {rate:.1}/s  in flight {}  send lag p99 {}{}", t.in_flight, ms(t.send_lag_p99), phases(t)),
            max,
        )),
    ];
    if !gates.is_empty() {
        top_lines.push(gates_line(view, gates, max));
    }
    if let Some(line) = cutover {
        top_lines.push(Line::from(fit(&format!("cutover {}", sanitize::line(&line)), max)));
    }
    frame.render_widget(Paragraph::new(top_lines), top);
    let [left, _, right] =
        Layout::horizontal([Constraint::Length(LATENCY_WIDTH), Constraint::Length(2), Constraint::Min(10)])
            .areas(middle);
    let latency = vec![
        Line::from(format!("{:<9} {:>9} {:>9} {:>9} {:>9}", "latency", "p50", "p90", "p99", "max")),
        latency_row("last 10 s", t.latency_recent),
        latency_row("whole run", t.latency_all),
        codes_line(t),
    ];
    frame.render_widget(Paragraph::new(latency), left);
    frame.render_widget(Paragraph::new(windows_lines(t, right.width as usize)), right);
    let width = strip_area.width as usize;
    let slices = &t.slices[t.slices.len().saturating_sub(width)..];
    frame.render_widget(Paragraph::new(strip_line(view, slices)), strip_area);
    let peak = slices.iter().map(|s| s.latency_max_us).max().unwrap_or(0);
    let label =
        format!("↑ availability per second   ↓ mean latency per second (peak {})", ms(Duration::from_micros(peak)));
    frame.render_widget(Paragraph::new(label), label_area);
    let means: Vec<u64> = slices.iter().map(|s| s.mean_latency().map_or(0, |d| d.as_micros() as u64)).collect();
    let style = if view.color { Style::new().fg(Color::Cyan) } else { Style::new() };
    frame.render_widget(Sparkline::default().data(&means).style(style), chart_area);
}

fn render_compact(frame: &mut Frame<'_>, area: Rect, view: &View) {
    let max = area.width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    for (i, t) in view.targets.iter().enumerate() {
        lines.push(Line::from(fit(&sanitize::line(&t.url), max)));
        lines.push(state_line(view, t, max));
        let outages = t.window_count + u64::from(t.down.is_some());
        let counts = format!(
            "{} probes, {} failed, {:.3}% up, down {}, outages {outages}",
            t.probes,
            t.failed,
            t.availability * 100.0,
            secs(t.downtime)
        );
        lines.push(Line::from(counts));
        if let Some(gates) = view.gates.get(i).filter(|g| !g.is_empty()) {
            lines.push(Line::from(gates_summary(gates)));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(Block::new().padding(Padding::horizontal(1))), area);
}

fn render_help(frame: &mut Frame<'_>, area: Rect, view: &View) {
    let lines = vec![
        Line::from("q, Esc, Ctrl-C  end the run (a wrapped command is stopped"),
        Line::from("                as with Ctrl-C), then print the summary"),
        Line::from("?               show or hide this help"),
        Line::from(""),
        Line::from("the strip: one cell per second, most recent on the right"),
        Line::from(vec![
            strip_line(view, &[Slice { ok: 1, ..Slice::default() }]).spans[0].clone(),
            Span::raw(" every probe succeeded  "),
            strip_line(view, &[Slice { ok: 2, failed: 1, ..Slice::default() }]).spans[0].clone(),
            Span::raw(" some failed  "),
            strip_line(view, &[Slice { failed: 1, ..Slice::default() }]).spans[0].clone(),
            Span::raw(" most failed"),
        ]),
        Line::from("gates: ✓ passing  ! at risk (over half the budget, or down now)"),
        Line::from("       ✗ failed, as the final verdict would say now"),
        Line::from("latency is measured from each probe's due time; send lag is"),
        Line::from("how late blip itself sent probes"),
    ];
    let width = 68.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(panel(" help ".to_string())), popup);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::fixtures::target;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    const S: Duration = Duration::from_secs(1);

    fn view(down: bool) -> View {
        View { elapsed: S * 12, targets: vec![target(down)], rates: vec![50.0], color: true, ..View::default() }
    }

    fn draw(view: &View, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| render(f, view)).unwrap();
        terminal
    }

    #[test]
    fn up_state() {
        insta::assert_snapshot!(draw(&view(false), 100, 30).backend());
    }

    #[test]
    fn down_state_with_a_window() {
        insta::assert_snapshot!(draw(&view(true), 100, 30).backend());
    }

    #[test]
    fn small_terminal_keeps_state_and_counts() {
        let terminal = draw(&view(true), 60, 15);
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn wrapped_command_shows_phase_and_output() {
        let mut v = view(false);
        v.phase = Some((Phase::Deploy, S * 3, None));
        v.command = Some("cf push notes".into());
        v.output = vec![
            (Stream::Stdout, "Pushing app notes to org demo / space demo...".into()),
            (Stream::Stdout, "Stopping app notes...".into()),
            (Stream::Stderr, "warning: no manifest".into()),
        ];
        insta::assert_snapshot!(draw(&v, 100, 30).backend());
    }

    #[test]
    fn server_text_is_drawn_without_control_characters() {
        use crate::report::fixtures::HOSTILE;
        let mut v = view(true);
        v.targets[0].down = Some((S * 11, HOSTILE.into()));
        v.targets[0].windows[0].first_error = HOSTILE.into();
        let terminal = draw(&v, 200, 30);
        let buffer = terminal.backend().buffer();
        let screen: String = buffer.content().iter().map(|cell| cell.symbol()).collect();
        assert!(sanitize::is_clean(&screen), "{screen:?}");
        // The state line, the open window and the closed one.
        assert_eq!(screen.matches("503 �]0;pwned��[2J | <img src=x>").count(), 3, "{screen}");
    }

    /// The frames a new user meets, at the two sizes a terminal commonly has.
    #[test]
    fn frames_at_80x24_and_120x40() {
        use crate::live::fixtures::{probe_only, stopped, wrapped};
        for (name, view) in [("probe_only", probe_only()), ("wrapped", wrapped()), ("stopped", stopped())] {
            for (width, height) in [(80, 24), (120, 40)] {
                insta::assert_snapshot!(format!("{name}_{width}x{height}"), draw(&view, width, height).backend());
            }
        }
    }

    #[test]
    fn a_long_stop_reason_is_cut_and_the_mark_stays() {
        let mut v = crate::live::fixtures::wrapped();
        v.stopping = Some(
            "gate max-downtime 0s failed for http://127.0.0.1:8080/api/notes: observed 1.600 s, limit 0s; stopping (--fail-fast)"
                .into(),
        );
        let terminal = draw(&v, 80, 24);
        let header: String = (0..80).map(|x| terminal.backend().buffer()[(x, 0)].symbol().to_string()).collect();
        assert!(header.contains("✗ exit 1 now   STOPPED EARLY: gate…"), "{header}");
    }

    #[test]
    fn help_overlay() {
        let mut v = view(false);
        v.help = true;
        insta::assert_snapshot!(draw(&v, 100, 30).backend());
    }

    #[test]
    fn the_strip_is_coloured_by_failed_share_unless_no_color() {
        let terminal = draw(&view(false), 100, 30);
        let buffer = terminal.backend().buffer();
        // The strip's row: the header, the panel's top border, then 3 + 4 rows of text.
        let row = 1 + 1 + 3 + 4;
        let colors: Vec<Color> = (2..14).map(|x| buffer[(x, row)].fg).collect();
        assert_eq!(colors[4], Color::Green);
        assert_eq!(colors[5], Color::Yellow);
        assert_eq!(colors[6], Color::Red);
        let mut plain = view(false);
        plain.color = false;
        let terminal = draw(&plain, 100, 30);
        let buffer = terminal.backend().buffer();
        let glyphs: String = (2..14).map(|x| buffer[(x, row)].symbol().to_string()).collect();
        assert_eq!(glyphs, "▁▁▁▁▁▄█▁▁▁▁▁");
        assert!((0..100).all(|x| buffer[(x, row)].fg == Color::Reset));
    }
}
