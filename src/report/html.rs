//! The HTML writer: one self-contained page per run, to open in a browser or attach to a CI run.
//!
//! The verdict and the gates come first; then, per URL, a time axis drawn as inline SVG (the
//! availability strip, p50 and p99 latency per slice, outage windows shaded with their cause, the
//! phases of a wrapped deploy as bands, the command's output lines as marks), then the command's
//! output and the summary tables. No script, no font, nothing from the network: the page reads
//! the same with scripts disabled and offline, and a hover shows details through SVG `<title>`.
//!
//! The SVG (timeline.rs) is written by hand from the [`Report`]: a page is a few rectangles and
//! two paths per URL, which a string builder keeps small and readable, where a templating or
//! plotting crate would add dependencies and markup of its own. It is a pure function of the
//! report, like the other writers.
//!
//! Long runs stay small: the timeline's slices are grouped into at most [`MAX_COLUMNS`] columns,
//! and neighbouring columns of the same state are one rectangle. Every text that came from a
//! server, a URL or the command is untrusted: it goes through [`esc`] (one clean line, HTML's
//! special characters as entities), in element content and in attributes alike.

use std::fmt::Write;

use crate::report::{Report, TargetReport};
use crate::sanitize;
use crate::units::{latency, secs_ms};

mod table;
mod timeline;
use table::{Cell, Table};
use timeline::*;

const STYLE: &str = include_str!("html.css");

/// Renders the report as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let headline = report.headline();
    let class = match (headline.measured, headline.passed) {
        (true, _) => "muted",
        (_, true) => "passed",
        (_, false) => "failed",
    };
    let verdict = esc(&headline.text);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>blip: {verdict}</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(out, "<header><h1>blip: <span class=\"{class}\">{verdict}</span></h1>");
    let _ = writeln!(
        out,
        "<p class=\"muted\">Started {} from {} · {} · {} probes/s per URL{}</p>",
        esc(&report.started_at),
        esc(&report.vantage),
        span_text(report.duration_ms),
        report.rate,
        report.gate_phases.map(|p| format!(" · judged on phases: {}", p.as_str())).unwrap_or_default()
    );
    if let Some(d) = &report.deploy {
        let took = d.duration_ms.map(|ms| format!(" after {}", span_text(ms))).unwrap_or_default();
        let class = if d.succeeded { "passed" } else { "failed" };
        let _ = writeln!(
            out,
            "<p>Deploy <code>{}</code>: <span class=\"{class}\">{}</span>{took}</p>",
            esc(&d.shown()),
            esc(&d.outcome())
        );
    }
    if let Some(reason) = &report.stop_reason {
        let _ = writeln!(
            out,
            "<p class=\"failed\">Stopped early: {}; the figures cover the run until then.</p>",
            esc(reason)
        );
    }
    gates_table(&mut out, report);
    for warning in &report.warnings {
        let _ = writeln!(out, "<p class=\"muted\">warning: {}</p>", esc(warning));
    }
    out.push_str("</header>\n");
    for t in &report.targets {
        target_section(&mut out, report, t);
    }
    output_list(&mut out, report);
    summary_tables(&mut out, report);
    let _ = writeln!(out, "<p class=\"muted\">blip {}</p>\n</body></html>", esc(&report.blip_version));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Untrusted text made safe for HTML element content and quoted attributes: one line without
/// control characters, with `& < > " '` as entities.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in sanitize::line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A target as the page names it: its URL, with its lane when the run has more than one, escaped.
fn name(report: &Report, t: &TargetReport) -> String {
    esc(&t.connection.label(&t.url, report.lanes_shown()))
}

/// A target as the page's tables name it: its URL, with its lane when the run has more than one.
fn label(report: &Report, t: &TargetReport) -> Cell {
    Cell::long(t.connection.label(&t.url, report.lanes_shown()))
}

fn gates_table(out: &mut String, report: &Report) {
    if report.targets.iter().all(|t| t.gates.is_empty()) {
        return;
    }
    let mut table = Table::new(out, &["URL", "gate", "observed", "result"]);
    for t in &report.targets {
        for g in &t.gates {
            let result = Cell::Markup(if g.passed {
                "<span class=\"passed\">passed</span>"
            } else {
                "<span class=\"failed\">failed</span>"
            });
            table.row(&[label(report, t), Cell::code(g.shown()), Cell::long(&g.observed), result]);
        }
    }
}

fn output_list(out: &mut String, report: &Report) {
    let Some(d) = &report.deploy else { return };
    if d.output_marks.is_empty() {
        return;
    }
    out.push_str("<h3>Command output</h3>\n<ol class=\"output\">\n");
    // The marks are the first and the last lines, as many of each: the gap is in the middle.
    let gap = d.output_marks.len() / 2;
    for (i, m) in d.output_marks.iter().enumerate() {
        if i == gap && d.output_marks_dropped > 0 {
            let _ = writeln!(out, "<li class=\"muted\">… {} lines not kept …</li>", d.output_marks_dropped);
        }
        let _ = writeln!(
            out,
            "<li class=\"{}\"><span class=\"at\">+{}</span> <span class=\"line\">{}</span></li>",
            if m.stream == "stderr" { "stderr" } else { "stdout" },
            secs_ms(m.offset_ms),
            esc(&m.line)
        );
    }
    out.push_str("</ol>\n");
}

fn summary_tables(out: &mut String, report: &Report) {
    out.push_str("<h3>Summary</h3>\n");
    let mut table = Table::new(out, &["URL", "probes", "failed", "availability", "downtime", "outages", "p50", "p99"]);
    for t in &report.targets {
        let (p50, p99) =
            t.latency_ms.map_or(("–".to_string(), "–".to_string()), |l| (latency(l.p50), latency(l.p99)));
        table.row(&[
            label(report, t),
            Cell::num(t.probes),
            Cell::num(t.failed),
            Cell::num(format!("{:.3}%", t.availability * 100.0)),
            Cell::num(secs_ms(t.downtime_ms)),
            Cell::num(t.outage_count),
            Cell::num(p50),
            Cell::num(p99),
        ]);
    }
    drop(table);
    if report.targets.iter().any(|t| t.phases.is_some()) {
        out.push_str("<h3>Phases</h3>\n");
        let mut table = Table::new(out, &["URL", "phase", "from", "to", "probes", "failed", "downtime", "p99"]);
        for t in &report.targets {
            for (phase, p) in t.phases.iter().flatten() {
                table.row(&[
                    label(report, t),
                    Cell::text(phase),
                    Cell::num(format!("+{}", secs_ms(p.start_offset_ms))),
                    Cell::num(format!("+{}", secs_ms(p.end_offset_ms))),
                    Cell::num(p.probes),
                    Cell::num(p.failed),
                    Cell::num(secs_ms(p.downtime_ms)),
                    Cell::num(p.latency_ms.map_or("–".to_string(), |l| latency(l.p99))),
                ]);
            }
        }
    }
    if report.targets.iter().any(|t| !t.outages.is_empty()) {
        outages_table(out, report);
    }
}

fn outages_table(out: &mut String, report: &Report) {
    out.push_str("<h3>Outages</h3>\n");
    let mut table = Table::new(out, &["URL", "phase", "start", "duration", "failed probes", "causes", "first error"]);
    for t in &report.targets {
        for w in &t.outages {
            let causes: Vec<String> = w.causes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
            let open = if w.open { " (open at end)" } else { "" };
            table.row(&[
                label(report, t),
                Cell::text(w.phase_label().as_deref().unwrap_or("–")),
                Cell::num(format!("+{}", secs_ms(w.start_offset_ms))),
                Cell::num(format!("{}{open}", secs_ms(w.duration_ms))),
                Cell::num(w.failed_probes),
                Cell::text(causes.join(", ")),
                Cell::long(&w.first_error),
            ]);
        }
    }
    drop(table);
    let hidden: u64 = report.targets.iter().map(|t| t.outage_count.saturating_sub(t.outages.len() as u64)).sum();
    if hidden > 0 {
        let _ = writeln!(out, "<p class=\"muted\">{hidden} more windows not listed.</p>");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use scraper::{ElementRef, Html, Selector};

    use super::*;
    use crate::analysis::clock::RunClock;
    use crate::analysis::phase::{GatePhases, Phase};
    use crate::analysis::recorder::Recorder;
    use crate::engine::sample::{Outcome, Sample};
    use crate::gates::Gate;
    use crate::report::{DeployReport, OutputMark, build};

    const URLS: [&str; 2] = ["http://127.0.0.1:8080/health", "http://127.0.0.1:8081/api/notes"];

    /// A wrapped deploy of `run_ms` probed every `interval_ms`: warmup until 1 s, deploy until
    /// `run_ms - 2 s`, then cooldown. Each URL fails (404) while `down(target, due_ms)` says so;
    /// the command printed `lines` (ms, stream, text).
    fn deploy_run(
        run_ms: u64,
        interval_ms: u64,
        down: impl Fn(usize, u64) -> bool,
        lines: &[(f64, &str, &str)],
    ) -> Report {
        let clock = RunClock::now();
        let urls: Vec<String> = URLS.iter().map(|u| u.to_string()).collect();
        let rate = 1000.0 / interval_ms as f64;
        let mut r = Recorder::new(&urls, rate, 1, clock, Some(GatePhases::DeployCooldown));
        let at = |ms: u64| clock.start + Duration::from_millis(ms);
        r.begin_phase(Phase::Warmup, clock.start);
        let deploy_end = run_ms - 2000;
        for seq in 0..run_ms / interval_ms {
            let due_ms = seq * interval_ms;
            if due_ms == 1000 {
                r.begin_phase(Phase::Deploy, at(1000));
            }
            if due_ms == deploy_end {
                r.begin_phase(Phase::Cooldown, at(deploy_end));
            }
            for target in 0..URLS.len() {
                let outcome = if down(target, due_ms) {
                    Outcome::BadStatus { status: 404, text: "404 Not Found: <no route>".into(), router: None }
                } else {
                    Outcome::Ok { status: 200 }
                };
                let due = at(due_ms);
                let done = due + Duration::from_micros(2000 + (seq * 37 % 2000));
                r.record(&Sample {
                    target,
                    seq,
                    due,
                    sent: due,
                    done,
                    outcome,
                    resent: false,
                    detail: Default::default(),
                });
            }
        }
        r.close(at(run_ms));
        let deploy = DeployReport {
            label: None,
            command: vec!["cf".into(), "push".into(), "notes".into()],
            warmup_ms: 1000.0,
            cooldown_ms: 2000.0,
            start_offset_ms: Some(1000.0),
            end_offset_ms: Some(deploy_end as f64),
            duration_ms: Some(deploy_end as f64 - 1000.0),
            exit_code: Some(0),
            signal: None,
            error: None,
            succeeded: true,
            stopped_by_gate: false,
            output_tail: Vec::new(),
            output_lines_dropped: 0,
            output_marks: lines
                .iter()
                .map(|(ms, stream, line)| OutputMark {
                    offset_ms: *ms,
                    stream: stream.to_string(),
                    line: line.to_string(),
                })
                .collect(),
            output_marks_dropped: 0,
        };
        let facts = crate::report::RunFacts { deploy: Some(deploy), ..Default::default() };
        build::report(&r, at(run_ms), &crate::gates::Gates::new(vec![Gate::MaxDowntime(Duration::ZERO)], false), facts)
    }

    const LINES: [(f64, &str, &str); 3] = [
        (1100.0, "stdout", "Stopping app notes..."),
        (2050.0, "stderr", "warning: <script>alert('x')</script> & \"quotes\""),
        (3600.0, "stdout", "App notes started"),
    ];

    /// A restart deploy: both URLs answer 404 from 2 s to 3.5 s.
    fn restart() -> Report {
        deploy_run(6000, 20, |_, ms| (2000..3500).contains(&ms), &LINES)
    }

    /// A blue-green deploy: nothing fails.
    fn blue_green() -> Report {
        deploy_run(6000, 20, |_, _| false, &LINES)
    }

    fn sel(css: &str) -> Selector {
        Selector::parse(css).unwrap()
    }

    fn attr(e: ElementRef, name: &str) -> f64 {
        e.value().attr(name).unwrap().parse().unwrap()
    }

    /// The offset an x position stands for.
    fn ms_at(x: f64, span_ms: f64) -> f64 {
        (x - PLOT_LEFT) / PLOT_WIDTH * span_ms
    }

    /// What every report must hold: one strip per URL, each phase's band, each line's mark (with
    /// the line as its hover text and in the list), and nothing loaded from anywhere.
    fn check_structure(report: &Report, doc: &Html) {
        let svgs: Vec<_> = doc.select(&sel("section.target svg.timeline")).collect();
        assert_eq!(svgs.len(), report.targets.len());
        let lines = &report.deploy.as_ref().unwrap().output_marks;
        for svg in &svgs {
            assert_eq!(svg.select(&sel("g.strip")).count(), 1);
            for phase in ["warmup", "deploy", "cooldown"] {
                let band = sel(&format!("g.band[data-phase=\"{phase}\"] rect.band-{phase}"));
                assert_eq!(svg.select(&band).count(), 1, "{phase}");
            }
            let marks: Vec<_> = svg.select(&sel("line.mark")).collect();
            assert_eq!(marks.len(), lines.len());
            let span = report.duration_ms;
            for (mark, line) in marks.iter().zip(lines) {
                let title: String = mark.select(&sel("title")).next().unwrap().text().collect();
                assert!(title.ends_with(&line.line), "{title}");
                assert!((ms_at(attr(*mark, "x1"), span) - line.offset_ms).abs() < 1.0);
            }
        }
        let listed: Vec<String> = doc.select(&sel("ol.output li .line")).map(|e| e.text().collect()).collect();
        let expected: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
        assert_eq!(listed, expected);
        assert_eq!(doc.select(&sel("script")).count(), 0, "command output stays text");
        for e in doc.select(&sel("[src], [href]")) {
            let link = e.value().attr("src").or(e.value().attr("href")).unwrap();
            assert!(!link.contains("//") && !link.contains(':'), "external link {link}");
        }
        let loaders = doc.select(&sel("link, img, iframe, object, embed, use, image")).count();
        assert_eq!(loaders, 0, "nothing is loaded");
    }

    #[test]
    fn a_restart_deploy_shows_its_outage_where_it_happened() {
        let report = restart();
        let doc = Html::parse_document(&render(&report));
        check_structure(&report, &doc);
        let span = report.duration_ms;
        let slice_ms = report.targets[0].timeline_width_s as f64 * 1000.0;
        for svg in doc.select(&sel("section.target svg.timeline")) {
            let outages: Vec<_> = svg.select(&sel("rect.outage")).collect();
            assert_eq!(outages.len(), 1);
            let (x0, w) = (attr(outages[0], "x"), attr(outages[0], "width"));
            // The first 404 was due at 2 s, the first success after them at 3.5 s.
            assert!((ms_at(x0, span) - 2000.0).abs() <= slice_ms, "{}", ms_at(x0, span));
            assert!((ms_at(x0 + w, span) - 3500.0).abs() <= slice_ms, "{}", ms_at(x0 + w, span));
            let title: String = outages[0].text().collect();
            assert!(title.contains("404 ×75") && title.contains("first error: 404 Not Found: <no route>"), "{title}");
            // Labelled on the chart with its length and cause, at its start.
            let labels: Vec<_> = svg.select(&sel("text.outage-label")).collect();
            let [label] = &labels[..] else { panic!("one label: {labels:?}") };
            assert_eq!(label.text().collect::<String>(), "1.500 s · 404");
            assert!((attr(*label, "x") - x0 - 3.0).abs() < 0.1);
            // The slices of the outage are on the strip as failed, the rest as ok.
            let down: Vec<_> = svg.select(&sel("g.strip rect.s-down, g.strip rect.s-some")).collect();
            assert!(!down.is_empty());
            for rect in down {
                let (from, to) = (ms_at(attr(rect, "x"), span), ms_at(attr(rect, "x") + attr(rect, "width"), span));
                assert!(from >= 2000.0 - slice_ms && to <= 3500.0 + slice_ms, "{from}..{to}");
            }
            assert!(svg.select(&sel("g.strip rect.s-ok")).count() >= 2);
            assert_eq!(svg.select(&sel("path.p50")).count(), 1);
            assert_eq!(svg.select(&sel("path.p99")).count(), 1);
            let axis: String = svg.select(&sel("text.axis-label")).next().unwrap().text().collect();
            assert_eq!(axis, "latency of successes");
        }
        let verdict: String = doc.select(&sel("h1")).next().unwrap().text().collect();
        assert!(verdict.contains("failed"), "{verdict}");
    }

    /// The (x, pen) points of an SVG path of `M` and `L` commands.
    fn path_points(d: &str) -> Vec<(f64, char)> {
        let mut points = Vec::new();
        let mut pens = d.match_indices(['M', 'L']).map(|(i, p)| (i, p.chars().next().unwrap())).peekable();
        while let Some((i, pen)) = pens.next() {
            let end = pens.peek().map_or(d.len(), |(j, _)| *j);
            let x: f64 = d[i + 1..end].split(' ').next().unwrap().parse().unwrap();
            points.push((x, pen));
        }
        points
    }

    #[test]
    fn the_latency_lines_break_at_a_window_and_hold_no_point_inside_it() {
        // Down from mid-slice to mid-slice: the slices on either edge hold successes, so a
        // point at their middle would lie in the window.
        let report = deploy_run(6000, 20, |_, ms| (2300..3700).contains(&ms), &LINES);
        let doc = Html::parse_document(&render(&report));
        let span = report.duration_ms;
        let w = &report.targets[0].outages[0];
        for path in doc.select(&sel("section.target svg.timeline path.p50, section.target svg.timeline path.p99")) {
            let points = path_points(path.value().attr("d").unwrap());
            assert!(points.len() >= 3, "{points:?}");
            let mut last: Option<f64> = None;
            for (x, pen) in points {
                let at = ms_at(x, span);
                assert!(!(w.start_offset_ms < at && at < w.end_offset_ms), "a point at {at} ms in the window");
                if let (Some(from), 'L') = (last, pen) {
                    assert!(!(from < w.end_offset_ms && at > w.start_offset_ms), "{from} → {at} crosses the window");
                }
                last = Some(at);
            }
        }
        // A point with no neighbour is a dot: outside the window too, and drawn.
        let dots: Vec<f64> = doc.select(&sel("svg.timeline circle.dot")).map(|c| ms_at(attr(c, "cx"), span)).collect();
        for at in &dots {
            assert!(!(w.start_offset_ms < *at && *at < w.end_offset_ms), "a dot at {at} ms in the window");
        }
    }

    #[test]
    fn a_window_too_narrow_for_its_label_has_none() {
        // 100 ms of a 6 s run is about 15 units wide: `0.100 s · 404` does not fit.
        let report = deploy_run(6000, 20, |_, ms| (2000..2100).contains(&ms), &LINES);
        let doc = Html::parse_document(&render(&report));
        let svg = doc.select(&sel("section.target svg.timeline")).next().unwrap();
        assert_eq!(svg.select(&sel("rect.outage")).count(), 1);
        assert_eq!(svg.select(&sel("text.outage-label")).count(), 0, "the hover title still says it");
    }

    #[test]
    fn a_lone_point_between_windows_is_a_dot() {
        // Down 1.3-2.4 s and 2.6-3.7 s: the slices on either side have their middles in a
        // window, so the middle of the slice 2-3 s has no neighbour to join.
        let report = deploy_run(6000, 20, |_, ms| (1300..2400).contains(&ms) || (2600..3700).contains(&ms), &LINES);
        let doc = Html::parse_document(&render(&report));
        let span = report.duration_ms;
        let svg = doc.select(&sel("section.target svg.timeline")).next().unwrap();
        let dots: Vec<f64> = svg.select(&sel("circle.dot.p50")).map(|c| ms_at(attr(c, "cx"), span)).collect();
        assert!(dots.iter().any(|at| (at - 2500.0).abs() < 1.0), "{dots:?}");
    }

    #[test]
    fn a_blue_green_deploy_shows_no_outage() {
        let report = blue_green();
        let doc = Html::parse_document(&render(&report));
        check_structure(&report, &doc);
        assert_eq!(doc.select(&sel("rect.outage")).count(), 0);
        assert_eq!(doc.select(&sel("g.strip rect.s-down, g.strip rect.s-some")).count(), 0);
        // Each URL's strip is one rectangle: every slice was all ok.
        assert_eq!(doc.select(&sel("g.strip rect.s-ok")).count(), URLS.len());
        let verdict: String = doc.select(&sel("h1")).next().unwrap().text().collect();
        assert!(verdict.contains("passed"), "{verdict}");
    }

    #[test]
    fn untrusted_text_is_escaped_everywhere() {
        use crate::report::fixtures::{HOSTILE, hostile_report};
        let mut report = hostile_report();
        report.vantage = HOSTILE.into();
        report.stop_reason = Some(HOSTILE.into());
        report.warnings.push(HOSTILE.into());
        report.deploy.as_mut().unwrap().output_marks[0].line = HOSTILE.into();
        let html = render(&report);
        assert!(sanitize::is_clean(&html.replace('\n', "")), "control characters stay out");
        let doc = Html::parse_document(&html);
        assert_eq!(doc.select(&sel("img, script, a")).count(), 0, "{html}");
        let cell = doc.select(&sel("td.t")).find(|td| td.text().any(|t| t.contains("pwned"))).unwrap();
        let text: String = cell.text().collect();
        assert!(text.contains("<img src=x>"), "shown as the characters it is: {text}");
        assert_eq!(esc("a\"b'<c>&\n"), "a&quot;b&#39;&lt;c&gt;&amp; ");
    }

    #[test]
    fn a_degraded_span_is_a_bar_from_its_start_to_its_end() {
        // A restart is one outage per URL: a window, no degraded span.
        assert_eq!(Html::parse_document(&render(&restart())).select(&sel("rect.degraded")).count(), 0);
        let mut report = restart();
        let t = &mut report.targets[0];
        let span = crate::report::degraded::DegradedReport {
            kind: crate::report::degraded::DegradedKind::Failing,
            start_offset_ms: 1500.0,
            duration_ms: 2000.0,
            failed_share: Some(0.5),
            causes: [("503".to_string(), 40)].into(),
            windows: 40,
            p50_ms: None,
            max_ms: None,
            limit_ms: None,
            phase: None,
        };
        t.degraded.push(span);
        let doc = Html::parse_document(&render(&report));
        let bars: Vec<_> = doc.select(&sel("rect.degraded.failing")).collect();
        assert_eq!(bars.len(), 1);
        let total = span_ms(&report);
        let (x0, w) = (attr(bars[0], "x"), attr(bars[0], "width"));
        assert!((ms_at(x0, total) - 1500.0).abs() <= total / 1000.0, "{x0}");
        assert!((ms_at(x0 + w, total) - 3500.0).abs() <= total / 1000.0, "{w}");
        assert!(bars[0].text().collect::<String>().contains("50 % of probes failed over 40 windows"));
    }

    #[test]
    fn each_lane_is_named_beside_its_url() {
        let mut report = blue_green();
        report.targets[1].url = report.targets[0].url.clone();
        report.targets[1].connection = crate::engine::lane::Lane::Fresh;
        let doc = Html::parse_document(&render(&report));
        let headings: Vec<String> = doc.select(&sel("section.target h2")).map(|h| h.text().collect()).collect();
        assert_eq!(headings, [format!("{} (reused)", URLS[0]), format!("{} (fresh)", URLS[0])]);
    }

    #[test]
    fn offsets_read_as_people_write_them() {
        let labels: Vec<String> =
            [0.0, 1500.0, 59_990.0, 90_000.0, 119_700.0, 3_600_000.0, 3_899_000.0].map(offset_label).into();
        assert_eq!(labels, ["0s", "1.5s", "1m", "1m30s", "2m", "1h", "1h05m"]);
        assert_eq!(span_text(4923.4), "4.923 s");
        assert_eq!(span_text(10_800_000.0), "3h");
    }

    #[test]
    fn an_hour_renders_small() {
        // An hour at 10 probes a second, down for 30 s every 10 minutes, with 400 long lines of
        // output: the page stays under 1 MB.
        let lines: Vec<(f64, &str, String)> =
            (0..400).map(|i| (i as f64 * 9000.0, "stdout", format!("{i} {}", "x".repeat(200)))).collect();
        let lines: Vec<(f64, &str, &str)> = lines.iter().map(|(ms, s, l)| (*ms, *s, l.as_str())).collect();
        let report = deploy_run(3_600_000, 100, |_, ms| ms % 600_000 < 30_000 && ms > 1000, &lines);
        let started = Instant::now();
        let html = render(&report);
        let took = started.elapsed();
        eprintln!("an hour rendered in {took:?} to {} bytes", html.len());
        assert!(html.len() < 1_000_000, "{} bytes", html.len());
        let doc = Html::parse_document(&html);
        assert_eq!(doc.select(&sel("rect.outage")).count(), 2 * 6);
        for svg in doc.select(&sel("svg.timeline")) {
            assert!(svg.select(&sel("g.strip rect")).count() <= MAX_COLUMNS);
        }
    }
}
