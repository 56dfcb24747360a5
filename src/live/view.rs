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
use ratatui::widgets::{Block, Clear, Paragraph, Sparkline};

use crate::analysis::phase::Phase;
use crate::analysis::snapshot::{Quantiles, TargetDetail};
use crate::analysis::timeline::Slice;
use crate::live::Stream;
use crate::sanitize;
use crate::units::{latency_brief as ms, secs};

/// Everything one frame shows.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub elapsed: Duration,
    /// The wrapped command's phase and how long it has lasted.
    pub phase: Option<(Phase, Duration)>,
    pub command: Option<String>,
    pub targets: Vec<TargetDetail>,
    /// Probes per second that reported over the last second, per URL.
    pub rates: Vec<f64>,
    /// The last lines of the command's output.
    pub output: Vec<(Stream, String)>,
    pub notice: Option<String>,
    pub help: bool,
    /// False under `NO_COLOR`: the strip and the state then speak through glyphs and reverse video.
    pub color: bool,
}

/// Below this size only the state and the counts are shown.
const FULL_WIDTH: u16 = 80;
const FULL_HEIGHT: u16 = 20;
/// Rows of one URL's panel in the full layout, borders included.
const PANEL_ROWS: u16 = 13;

pub fn render(frame: &mut Frame<'_>, view: &View) {
    let area = frame.area();
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(header_line(view)), header);
    frame.render_widget(Paragraph::new(footer_line(view)), footer);
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

fn header_line(view: &View) -> Line<'static> {
    let mut spans = vec![Span::styled(" blip ", Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED))];
    spans.push(Span::raw(format!("  {}", clock(view.elapsed))));
    if let Some((phase, lasted)) = view.phase {
        spans.push(Span::raw("  phase "));
        spans.push(Span::styled(phase.to_string(), Style::new().add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(format!(" {}", clock(lasted))));
    }
    if let Some(command) = &view.command {
        spans.push(Span::raw(format!("  `{command}`")));
    }
    Line::from(spans)
}

fn footer_line(view: &View) -> Line<'static> {
    let mut spans = vec![Span::raw(" q quit  ? help")];
    if let Some(notice) = &view.notice {
        spans.push(Span::styled(format!("  {}", sanitize::line(notice)), Style::new().add_modifier(Modifier::BOLD)));
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

fn state_line(view: &View, t: &TargetDetail) -> Line<'static> {
    let since = view.elapsed.saturating_sub(t.since);
    let mut spans = vec![state_span(view, t), Span::raw(format!(" for {:.1} s", since.as_secs_f64()))];
    if let Some((_, error)) = &t.down {
        spans.push(Span::raw(format!("  {}", sanitize::line(error))));
    }
    Line::from(spans)
}

fn counts_line(t: &TargetDetail) -> Line<'static> {
    Line::from(format!(
        "probes {}  ok {}  failed {}  availability {:.3}%  downtime {}  outages {}",
        t.probes,
        t.ok,
        t.failed,
        t.availability * 100.0,
        secs(t.downtime),
        t.window_count + u64::from(t.down.is_some())
    ))
}

fn latency_row(label: &str, q: Option<Quantiles>) -> Line<'static> {
    match q {
        Some(q) => {
            Line::from(format!("  {label:<10} {:>10} {:>10} {:>10} {:>10}", ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max)))
        }
        None => Line::from(format!("  {label:<10} {:>10}", "–")),
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

fn windows_lines(t: &TargetDetail) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled("outages", Style::new().add_modifier(Modifier::BOLD))];
    if let Some((start, error)) = &t.down {
        lines.push(Line::from(format!("+{}  open    {}", secs(*start), sanitize::line(error))));
    }
    for w in t.windows.iter().rev() {
        lines.push(Line::from(format!(
            "+{}  {}  {}",
            secs(w.start),
            secs(w.duration()),
            sanitize::line(&w.first_error)
        )));
    }
    if t.down.is_none() && t.windows.is_empty() {
        lines.push(Line::from("none"));
    }
    lines
}

fn render_full(frame: &mut Frame<'_>, area: Rect, view: &View) {
    let has_output = view.command.is_some();
    let panels = view.targets.len() as u16 * PANEL_ROWS;
    let [panels_area, output_area] = if has_output {
        Layout::vertical([Constraint::Max(panels), Constraint::Min(3)]).areas(area)
    } else {
        Layout::vertical([Constraint::Min(1), Constraint::Length(0)]).areas(area)
    };
    let rows = Layout::vertical(view.targets.iter().map(|_| Constraint::Max(PANEL_ROWS))).split(panels_area);
    for (i, (t, row)) in view.targets.iter().zip(rows.iter()).enumerate() {
        render_panel(frame, *row, view, t, view.rates.get(i).copied().unwrap_or(0.0));
    }
    if has_output {
        let block = Block::bordered().title(" command output ");
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

fn render_panel(frame: &mut Frame<'_>, area: Rect, view: &View, t: &TargetDetail, rate: f64) {
    let block = Block::bordered().title(format!(" {} ", sanitize::line(&t.url)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [top, middle, strip_area, label_area, chart_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let top_lines = vec![
        state_line(view, t),
        counts_line(t),
        Line::from(format!("rate {rate:.1}/s  in flight {}  send lag p99 {}", t.in_flight, ms(t.send_lag_p99))),
    ];
    frame.render_widget(Paragraph::new(top_lines), top);
    let [left, right] = Layout::horizontal([Constraint::Length(60), Constraint::Min(10)]).areas(middle);
    let latency = vec![
        Line::from(format!("  {:<10} {:>10} {:>10} {:>10} {:>10}", "latency", "p50", "p90", "p99", "max")),
        latency_row("last 10 s", t.latency_recent),
        latency_row("whole run", t.latency_all),
        codes_line(t),
    ];
    frame.render_widget(Paragraph::new(latency), left);
    frame.render_widget(Paragraph::new(windows_lines(t)), right);
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
    let mut lines = Vec::new();
    for t in &view.targets {
        lines.push(Line::from(sanitize::line(&t.url)));
        lines.push(state_line(view, t));
        lines.push(Line::from(format!(
            "{} probes, {} failed, {:.3}% up, down {}",
            t.probes,
            t.failed,
            t.availability * 100.0,
            secs(t.downtime)
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
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
        Line::from("latency is measured from each probe's due time; send lag is"),
        Line::from("how late blip itself sent probes"),
    ];
    let width = 66.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" help ")), popup);
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
        v.phase = Some((Phase::Deploy, S * 3));
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
        let colors: Vec<Color> = (1..13).map(|x| buffer[(x, row)].fg).collect();
        assert_eq!(colors[4], Color::Green);
        assert_eq!(colors[5], Color::Yellow);
        assert_eq!(colors[6], Color::Red);
        let mut plain = view(false);
        plain.color = false;
        let terminal = draw(&plain, 100, 30);
        let buffer = terminal.backend().buffer();
        let glyphs: String = (1..13).map(|x| buffer[(x, row)].symbol().to_string()).collect();
        assert_eq!(glyphs, "▁▁▁▁▁▄█▁▁▁▁▁");
        assert!((0..100).all(|x| buffer[(x, row)].fg == Color::Reset));
    }
}
