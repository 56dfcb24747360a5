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
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Sparkline};

use crate::analysis::phase::Phase;
use crate::analysis::snapshot::TargetDetail;
use crate::analysis::timeline::Slice;
use crate::live::Stream;
use crate::live::gates::GateLive;
use crate::sanitize;
use crate::units::{latency_brief as ms, secs};

mod rows;
use rows::*;

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
