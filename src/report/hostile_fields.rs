//! Every text a saved report holds is outside text: a test that puts a hostile payload in each
//! string field and each count map's key, one at a time, and checks that no writer passes it on
//! raw (an escape sequence to a terminal, markup or a link to Markdown and HTML, a tag to XML).

use serde_json::Value;

use crate::report::fixtures::deploy_report;
use crate::report::{MergedRun, MergedWindow, Report, annotations, html, junit, markdown, text};

/// An escape sequence, an HTML tag, a Markdown link, a cell separator and a line break.
const PAYLOAD: &str = "\x1b[31mX <img src=x> [x](https://e) | y\nz";

/// A report with every optional part present: a deploy, hooks, merged runs and windows, wire
/// figures, request ids, a stop reason and warnings.
fn full_report() -> Report {
    let mut report = deploy_report();
    report.stop_reason = Some("SIGINT received".into());
    report.warnings = vec!["blip sent late".into()];
    report.hooks = vec![crate::report::HookReport {
        hook: "on-down".into(),
        url: report.targets[1].url.clone(),
        connection: crate::engine::lane::Lane::Reused,
        start_offset_ms: 10.0,
        duration_ms: 5.0,
        exit_code: None,
        signal: Some("SIGTERM".into()),
        error: Some("cannot run `x`".into()),
    }];
    report.hooks_run = 1;
    report.merged_from = Some(vec![MergedRun {
        vantage: "a".into(),
        started_at: report.started_at.clone(),
        start_offset_ms: 0.0,
        duration_ms: report.duration_ms,
        passed: false,
    }]);
    let t = &mut report.targets[1];
    t.wire = crate::report::fixtures::wire_figures("v2");
    t.router_error_counts.insert("404 unknown_route".into(), 1);
    t.error_counts.insert("refused".into(), 1);
    t.availability_by_vantage = Some([("a".to_string(), 0.9)].into());
    for o in &mut t.outages {
        o.first_request_id = Some("r-1".into());
        o.last_request_id = Some("r-2".into());
    }
    let o = &t.outages[0];
    let window = MergedWindow {
        start: o.start.clone(),
        end: o.end.clone(),
        start_offset_ms: o.start_offset_ms,
        end_offset_ms: o.end_offset_ms,
        duration_ms: o.duration_ms,
        overlap_ms: 0.0,
        vantages: vec!["a".into()],
        failed_probes: o.failed_probes,
        causes: o.causes.clone(),
        first_error: o.first_error.clone(),
        open: false,
    };
    t.windows_all = Some(vec![window.clone()]);
    t.windows_some = Some(vec![window]);
    report
}

/// Every way of putting the payload in one place: each string value, and each object key that
/// is a map's (renaming a struct's field instead loses the field, and is not kept).
fn variants(value: &Value, path: &mut Vec<String>, out: &mut Vec<(String, Value)>, root: &Value) {
    let set = |path: &[String], new: &dyn Fn(&mut Value)| {
        let mut copy = root.clone();
        new(walk(&mut copy, path));
        copy
    };
    match value {
        Value::String(_) => out.push((path.join("."), set(path, &|v| *v = Value::String(PAYLOAD.into())))),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                variants(item, path, out, root);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let renamed = set(path, &|v| {
                    let map = v.as_object_mut().unwrap();
                    let item = map.remove(key).unwrap();
                    map.insert(PAYLOAD.into(), item);
                });
                out.push((format!("{}.<key {key}>", path.join(".")), renamed));
                path.push(key.clone());
                variants(item, path, out, root);
                path.pop();
            }
        }
        _ => {}
    }
}

fn walk<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match v {
        Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
        v => &mut v[step.as_str()],
    })
}

#[test]
fn no_writer_passes_a_saved_reports_text_on_raw() {
    let root = serde_json::to_value(full_report()).unwrap();
    let mut cases = Vec::new();
    variants(&root, &mut Vec::new(), &mut cases, &root);
    let mut tried = 0;
    let mut failures = Vec::new();
    for (place, value) in cases {
        // A string that is an enum's (a lane, a phase) does not read back: serde refuses it.
        let Ok(report) = serde_json::from_value::<Report>(value) else { continue };
        // A renamed struct field is dropped or defaulted: the payload is nowhere in the report.
        if !serde_json::to_string(&report).unwrap().contains("img src=x") {
            continue;
        }
        tried += 1;
        let outputs = [
            ("text", text::render(&report)),
            ("markdown", markdown::render(&report)),
            ("html", html::render(&report)),
            ("junit", junit::render(&report).unwrap()),
            ("annotations", annotations::render(&report).join("\n")),
        ];
        for (format, out) in &outputs {
            // Markdown shows a code span's text as it is: markup in one is inert.
            let out = if *format == "markdown" { outside_code_spans(out) } else { out.clone() };
            let mut fail = |what: &str| failures.push(format!("{place}: {what} in the {format} output"));
            if out.contains('\x1b') {
                fail("ESC");
            }
            if matches!(*format, "markdown" | "html" | "junit") && out.contains("<img") {
                fail("a raw <img");
            }
            if *format == "markdown" && out.contains("[x](https") {
                fail("a live link");
            }
            if *format == "markdown" && out.contains("| y\nz") {
                fail("a broken line");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The fixture's string fields and keys, all of them: a report model that grows a field grows this.
    assert!(tried > 60, "only {tried} places tried");
}

/// `md` without its code spans (a run of backticks to the next run as long; `\``is no fence).
fn outside_code_spans(md: &str) -> String {
    let chars: Vec<char> = md.chars().collect();
    let (mut out, mut i) = (String::new(), 0);
    let run = |at: usize| chars[at..].iter().take_while(|c| **c == '`').count();
    while i < chars.len() {
        if chars[i] == '`' && (i == 0 || chars[i - 1] != '\\') {
            let fence = run(i);
            let close = (i + fence..chars.len()).find(|&j| chars[j] == '`' && chars[j - 1] != '`' && run(j) == fence);
            if let Some(j) = close {
                i = j + fence;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}
