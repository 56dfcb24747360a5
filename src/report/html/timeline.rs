//! The timeline of one URL, drawn as SVG: the phases as bands, the availability strip, the
//! outage windows and degraded spans at their exact times, p50 and p99 latency per column on a
//! log axis, the command's output marks, the axes and the legend.

use std::fmt::Write;

use super::{esc, name, plural};
use crate::report::{OutageReport, Report, TargetReport};
use crate::units::{latency, secs_ms};

/// Width of the drawing in SVG units; it scales to the width of the page.
pub(crate) const WIDTH: f64 = 1000.0;
/// Left edge of the plot (room for the latency axis' labels) and its width.
pub(crate) const PLOT_LEFT: f64 = 64.0;
pub(crate) const PLOT_WIDTH: f64 = WIDTH - PLOT_LEFT - 12.0;
/// Columns drawn at most per URL: past this, neighbouring slices are grouped.
pub(crate) const MAX_COLUMNS: usize = 500;

pub(super) const STRIP_Y: f64 = 20.0;
pub(super) const STRIP_H: f64 = 18.0;
pub(super) const CHART_Y: f64 = 48.0;
pub(super) const CHART_H: f64 = 150.0;
pub(super) const MARK_Y: f64 = CHART_Y + CHART_H + 8.0;
pub(super) const MARK_H: f64 = 14.0;
pub(super) const AXIS_Y: f64 = MARK_Y + MARK_H + 16.0;
pub(super) const HEIGHT: f64 = AXIS_Y + 6.0;
/// The width of a label's character in drawing units, generous: a label is drawn only where
/// its text fits inside what it labels.
const LABEL_CHAR_W: f64 = 7.0;

/// A group of neighbouring slices drawn as one column.
#[derive(Clone, Copy, Debug)]
pub(super) struct Column {
    start_ms: f64,
    end_ms: f64,
    ok: u64,
    failed: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

/// The state a column shows on the availability strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    AllOk,
    SomeFailed,
    MostFailed,
}

impl Column {
    fn state(&self) -> Option<State> {
        match (self.ok, self.failed) {
            (0, 0) => None,
            (_, 0) => Some(State::AllOk),
            (ok, failed) if failed > ok => Some(State::MostFailed),
            _ => Some(State::SomeFailed),
        }
    }
}

impl State {
    fn class(self) -> &'static str {
        match self {
            State::AllOk => "s-ok",
            State::SomeFailed => "s-some",
            State::MostFailed => "s-down",
        }
    }
}

/// The URL's slices grouped into at most [`MAX_COLUMNS`] columns: counts add up, the p50 is the
/// successes-weighted mean of the slices' and the p99 their highest, so a spike stays visible.
pub(super) fn columns(t: &TargetReport, span_ms: f64) -> Vec<Column> {
    let width_ms = t.timeline_width_s as f64 * 1000.0;
    let group = t.timeline.len().div_ceil(MAX_COLUMNS).max(1);
    t.timeline
        .chunks(group)
        .map(|slices| {
            let ok: u64 = slices.iter().map(|s| s.ok).sum();
            let weighted: f64 = slices.iter().filter_map(|s| s.p50_ms.map(|p| p * s.ok as f64)).sum();
            let first = slices[0].offset_s as f64 * 1000.0;
            let last = slices[slices.len() - 1].offset_s as f64 * 1000.0 + width_ms;
            Column {
                start_ms: first.min(span_ms),
                end_ms: last.min(span_ms),
                ok,
                failed: slices.iter().map(|s| s.failed).sum(),
                p50_ms: (ok > 0).then(|| weighted / ok as f64),
                p99_ms: slices.iter().filter_map(|s| s.p99_ms).reduce(f64::max),
            }
        })
        .collect()
}

/// The length of the time axis: the run, or the last slice or mark if either lies beyond it.
pub(super) fn span_ms(report: &Report) -> f64 {
    let marks = report.deploy.iter().flat_map(|d| d.output_marks.iter().map(|m| m.offset_ms));
    marks.chain(std::iter::once(report.duration_ms)).fold(1.0, f64::max)
}

/// The x of an offset from the start of the run.
pub(super) fn x(ms: f64, span_ms: f64) -> f64 {
    PLOT_LEFT + (ms / span_ms).clamp(0.0, 1.0) * PLOT_WIDTH
}

/// An offset as the axis labels it: `0`, `1.5s`, `2m`, `1h30m`.
pub(super) fn offset_label(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 59.95 {
        let text = format!("{s:.1}");
        return format!("{}s", text.trim_end_matches(".0"));
    }
    let whole = s.round() as u64;
    if whole < 3600 {
        let (m, rest) = (whole / 60, whole % 60);
        return if rest == 0 { format!("{m}m") } else { format!("{m}m{rest}s") };
    }
    let minutes = (whole + 30) / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    if m == 0 { format!("{h}h") } else { format!("{h}h{m:02}m") }
}

/// A span of the run as the header says it: to the millisecond under a minute, else `1h05m`.
pub(super) fn span_text(ms: f64) -> String {
    if ms < 60_000.0 { secs_ms(ms).to_string() } else { offset_label(ms) }
}

/// A tick step for the time axis: the finest of a round series that gives at most ten ticks.
pub(super) fn tick_step_ms(span_ms: f64) -> f64 {
    const STEPS_S: [f64; 18] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        21600.0,
    ];
    STEPS_S.iter().map(|s| s * 1000.0).find(|step| span_ms / step <= 10.0).unwrap_or(span_ms / 10.0)
}

/// The latency axis: log scale over whole decades of milliseconds holding every p50 and p99.
pub(super) struct LatencyScale {
    low: f64,
    high: f64,
}

impl LatencyScale {
    fn of(columns: &[Column]) -> LatencyScale {
        let values = columns.iter().flat_map(|c| [c.p50_ms, c.p99_ms]).flatten().filter(|v| *v > 0.0);
        let (min, max) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if max == 0.0 {
            return LatencyScale { low: 0.1, high: 10.0 };
        }
        let low = min.log10().floor();
        let high = max.log10().ceil().max(low + 1.0);
        LatencyScale { low, high }
    }

    fn y(&self, ms: f64) -> f64 {
        let at = (ms.max(1e-3).log10() - self.low) / (self.high - self.low);
        CHART_Y + CHART_H * (1.0 - at.clamp(0.0, 1.0))
    }
}

pub(super) fn target_section(out: &mut String, report: &Report, t: &TargetReport) {
    let span = span_ms(report);
    let columns = columns(t, span);
    let _ = writeln!(out, "<section class=\"target\"><h2>{}</h2>", name(report, t));
    let p = t.latency_ms.map(|l| format!(" · p50 {} · p99 {}", latency(l.p50), latency(l.p99))).unwrap_or_default();
    let _ = writeln!(
        out,
        "<p class=\"muted\">{:.3}% available · {} down in {} window{} · {} probes, {} failed{p}</p>",
        t.availability * 100.0,
        secs_ms(t.downtime_ms),
        t.outage_count,
        plural(t.outage_count as usize),
        t.probes,
        t.failed
    );
    let _ = writeln!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"timeline of {}\">",
        name(report, t)
    );
    phase_bands(out, t, span);
    time_axis(out, span);
    let scale = LatencyScale::of(&columns);
    latency_axis(out, &scale);
    strip(out, &columns, span);
    for w in &t.outages {
        outage_rect(out, w, span);
    }
    for d in &t.degraded {
        degraded_rect(out, d, span);
    }
    latency_lines(out, &columns, &t.outages, &scale, span);
    marks(out, report, span);
    out.push_str("</svg>\n");
    legend(out, report);
    out.push_str("</section>\n");
}

pub(super) fn phase_bands(out: &mut String, t: &TargetReport, span: f64) {
    let Some(phases) = &t.phases else { return };
    for (phase, p) in phases {
        let (x0, x1) = (x(p.start_offset_ms, span), x(p.end_offset_ms, span));
        // A name wider than its band would run into the next one's: the band's title still says it.
        let fits = x1 - x0 >= 9.0 * phase.as_str().len() as f64 + 6.0;
        let label = if fits { format!("<text x=\"{:.1}\" y=\"13\">{phase}</text>", x0 + 3.0) } else { String::new() };
        let _ = writeln!(
            out,
            "<g class=\"band\" data-phase=\"{phase}\"><title>{phase}: {} to {}</title>\
             <rect class=\"band-{phase}\" x=\"{x0:.1}\" y=\"0\" width=\"{:.1}\" height=\"{:.1}\"/>{label}</g>",
            offset_label(p.start_offset_ms),
            offset_label(p.end_offset_ms),
            x1 - x0,
            MARK_Y + MARK_H,
        );
    }
}

pub(super) fn time_axis(out: &mut String, span: f64) {
    let step = tick_step_ms(span);
    let mut at = 0.0;
    while at <= span + 1e-6 {
        let tx = x(at, span);
        let anchor = if at == 0.0 {
            "start"
        } else if tx > WIDTH - 30.0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{STRIP_Y}\" y2=\"{:.1}\"/>\
             <text x=\"{tx:.1}\" y=\"{AXIS_Y}\" text-anchor=\"{anchor}\">{}</text>",
            MARK_Y + MARK_H,
            offset_label(at)
        );
        at += step;
    }
}

pub(super) fn latency_axis(out: &mut String, scale: &LatencyScale) {
    let mut decade = scale.low;
    while decade <= scale.high + 1e-9 {
        let ms = 10f64.powf(decade);
        let y = scale.y(ms);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{PLOT_LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            PLOT_LEFT + PLOT_WIDTH,
            PLOT_LEFT - 6.0,
            y + 4.0,
            if ms >= 1000.0 { format!("{} s", ms / 1000.0) } else { format!("{ms} ms") }
        );
        decade += 1.0;
    }
    let _ = writeln!(out, "<text x=\"2\" y=\"{:.1}\">strip</text>", STRIP_Y + 13.0);
    // The axis says what it measures: latency of the probes that succeeded, from their due time.
    let _ = writeln!(
        out,
        "<text class=\"axis-label\" transform=\"rotate(-90)\" x=\"{:.1}\" y=\"12\" text-anchor=\"middle\">latency of successes</text>",
        -(CHART_Y + CHART_H / 2.0)
    );
}

/// The availability strip: neighbouring columns in the same state are one rectangle.
pub(super) fn strip(out: &mut String, columns: &[Column], span: f64) {
    out.push_str("<g class=\"strip\">");
    let mut i = 0;
    while i < columns.len() {
        let Some(state) = columns[i].state() else {
            i += 1;
            continue;
        };
        let run = columns[i..].iter().take_while(|c| c.state() == Some(state)).count();
        let (first, last) = (&columns[i], &columns[i + run - 1]);
        let (ok, failed): (u64, u64) = columns[i..i + run].iter().fold((0, 0), |(o, f), c| (o + c.ok, f + c.failed));
        let what = match state {
            State::AllOk => format!("all {ok} ok"),
            _ => format!("{failed} of {} failed", ok + failed),
        };
        let (x0, x1) = (x(first.start_ms, span), x(last.end_ms, span));
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{x0:.1}\" y=\"{STRIP_Y}\" width=\"{:.1}\" height=\"{STRIP_H}\"><title>{} to {}: {what}</title></rect>",
            state.class(),
            (x1 - x0).max(0.5),
            offset_label(first.start_ms),
            offset_label(last.end_ms),
        );
        i += run;
    }
    out.push_str("</g>\n");
}

pub(super) fn outage_rect(out: &mut String, w: &OutageReport, span: f64) {
    let causes: Vec<String> = w.causes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    let (x0, x1) = (x(w.start_offset_ms, span), x(w.end_offset_ms, span));
    let phase = w.phase_label().map(|p| format!(" in {p}")).unwrap_or_default();
    let open = if w.open { ", open at the end" } else { "" };
    let _ = writeln!(
        out,
        "<rect class=\"outage\" x=\"{x0:.1}\" y=\"{STRIP_Y}\" width=\"{:.1}\" height=\"{:.1}\">\
         <title>down {} from +{}{phase}{open}: {}; first error: {}</title></rect>",
        (x1 - x0).max(1.0),
        CHART_Y + CHART_H - STRIP_Y,
        secs_ms(w.duration_ms),
        secs_ms(w.start_offset_ms),
        esc(&causes.join(", ")),
        esc(&w.first_error)
    );
    // Its length and main cause on the chart, where they fit: the table below has the rest.
    let label = format!("{} · {}", secs_ms(w.duration_ms), w.main_cause);
    if label.chars().count() as f64 * LABEL_CHAR_W + 6.0 <= x1 - x0 {
        let _ = writeln!(
            out,
            "<text class=\"outage-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x0 + 3.0,
            CHART_Y + 12.0,
            esc(&label)
        );
    }
}

/// A degraded span as a bar just above the strip, its sentence on hover: a brownout or a stall
/// read as one stretch beside its windows.
pub(super) fn degraded_rect(out: &mut String, d: &crate::report::degraded::DegradedReport, span: f64) {
    let (x0, x1) = (x(d.start_offset_ms, span), x(d.start_offset_ms + d.duration_ms, span));
    let kind = match d.kind {
        crate::report::degraded::DegradedKind::Failing => "failing",
        crate::report::degraded::DegradedKind::Slow => "slow",
    };
    let _ = writeln!(
        out,
        "<rect class=\"degraded {kind}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"5\"><title>degraded {}</title></rect>",
        STRIP_Y - 7.0,
        (x1 - x0).max(1.0),
        esc(&crate::report::degraded::sentence(d))
    );
}

/// The p50 and p99 lines, a point per column at its middle. The service did not answer during a
/// window, so no point lies inside one and no segment crosses one: the line breaks there, and a
/// column with no success draws nothing. A point with no neighbour to join is drawn as a dot.
pub(super) fn latency_lines(
    out: &mut String,
    columns: &[Column],
    windows: &[OutageReport],
    scale: &LatencyScale,
    span: f64,
) {
    let within = |from: f64, to: f64| windows.iter().any(|w| w.start_offset_ms < to && w.end_offset_ms > from);
    for (class, value) in [("p99", (|c: &Column| c.p99_ms) as fn(&Column) -> Option<f64>), ("p50", |c| c.p50_ms)] {
        // Runs of points that join, each (x, y).
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut last: Option<f64> = None;
        for c in columns {
            let at = (c.start_ms + c.end_ms) / 2.0;
            match value(c) {
                Some(ms) if !within(at, at) => {
                    if last.is_none_or(|from| within(from, at)) {
                        runs.push(Vec::new());
                    }
                    runs.last_mut().expect("a run was just begun").push((x(at, span), scale.y(ms)));
                    last = Some(at);
                }
                _ => last = None,
            }
        }
        let mut d = String::new();
        for run in runs.iter().filter(|run| run.len() > 1) {
            for (i, (cx, cy)) in run.iter().enumerate() {
                let _ = write!(d, "{}{cx:.1} {cy:.1}", if i == 0 { "M" } else { "L" });
            }
        }
        if !d.is_empty() {
            let _ = writeln!(out, "<path class=\"{class}\" d=\"{d}\"><title>{class} latency per slice</title></path>");
        }
        for &(cx, cy) in runs.iter().filter(|run| run.len() == 1).flatten() {
            let _ = writeln!(out, "<circle class=\"dot {class}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"2.5\"/>");
        }
    }
}

pub(super) fn marks(out: &mut String, report: &Report, span: f64) {
    let Some(d) = &report.deploy else { return };
    if d.output_marks.is_empty() {
        return;
    }
    out.push_str("<g class=\"marks\">");
    for m in &d.output_marks {
        let mx = x(m.offset_ms, span);
        let _ = write!(
            out,
            "<line class=\"mark {}\" x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"{MARK_Y}\" y2=\"{:.1}\"><title>+{} {}</title></line>",
            if m.stream == "stderr" { "stderr" } else { "stdout" },
            MARK_Y + MARK_H,
            secs_ms(m.offset_ms),
            esc(&m.line)
        );
    }
    out.push_str("</g>\n");
}

pub(super) fn legend(out: &mut String, report: &Report) {
    let sw = |var: &str, label: &str| {
        format!("<span><span class=\"sw\" style=\"background:var(--{var})\"></span>{label}</span>")
    };
    let mut items = vec![
        sw("ok", "all ok"),
        sw("some", "some failed"),
        sw("down", "most failed"),
        sw("outage", "outage window"),
        sw("p50", "p50"),
        sw("p99", "p99"),
    ];
    if report.deploy.as_ref().is_some_and(|d| !d.output_marks.is_empty()) {
        items.push(sw("out", "command output"));
    }
    if report.targets.iter().any(|t| !t.degraded.is_empty()) {
        items.push(sw("some", "degraded: failing"));
        items.push(sw("p99", "degraded: slow"));
    }
    let _ = writeln!(out, "<div class=\"legend\">{}</div>", items.join(""));
}
