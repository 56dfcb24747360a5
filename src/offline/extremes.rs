//! A saved report's numbers are untrusted: a property test that sets numeric fields of a real
//! report to extreme values and checks that reading, judging, merging and writing it end in a
//! report or a refusal, never a panic.

use proptest::prelude::*;
use serde_json::Value;

use crate::gates::Gates;
use crate::offline::merge::{SavedRun, merge};
use crate::offline::{judge, saved};
use crate::report::{Report, json, markdown, text};

/// Values a hand-edited report can hold where a number is: zero, one, the largest integers, huge
/// and tiny floats, negatives, and the offsets the issue found (4e9 s, 2e7 s).
const EXTREMES: [f64; 12] = [0.0, 1.0, -1.0, 0.5, 1e308, -1e308, 5e-324, 4e9, 2e7, 1.8e19, 9.2e18, 86_401.0];

fn extreme(i: usize) -> Value {
    match i {
        12 => Value::from(u64::MAX),
        13 => Value::from(i64::MIN),
        14 => Value::from(u64::MAX / 2 + 1),
        i => serde_json::Number::from_f64(EXTREMES[i]).map_or(Value::Null, Value::Number),
    }
}

/// The paths of every number in `value`.
fn numbers(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Number(_) => out.push(path.clone()),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            path.push(i.to_string());
            numbers(v, path, out);
            path.pop();
        }),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            path.push(k.clone());
            numbers(v, path, out);
            path.pop();
        }),
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match v {
        Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
        v => &mut v[step.as_str()],
    })
}

fn gates() -> Gates {
    let cli = crate::cli::parse_from([
        "blip",
        "--max-downtime",
        "1s",
        "--max-failed",
        "0",
        "--max-outage",
        "1s",
        "--max-outages",
        "1",
        "--max-error-rate",
        "5%/1s",
        "--max-latency",
        "p99=10ms",
        "--fail-on-status",
        "5xx",
        "http://a/",
    ])
    .unwrap();
    Gates::new(crate::config::gate_list(&cli.gates), false)
}

/// What blip does with a report it read: judge it and write it.
fn judge_and_write(report: Report) {
    if let Ok(judged) = judge::rejudge(report, &gates(), None) {
        let _ = (text::render(&judged), markdown::render(&judged), json::render(&judged));
    }
}

/// What blip does with a report it read and checked: judge it, merge it with a copy from
/// another vantage, and write both.
fn use_report(report: Report) {
    let start = saved::started_at(&report).ok();
    let mut other = report.clone();
    other.vantage.push_str(" (b)");
    if let Ok(judged) = judge::rejudge(report.clone(), &gates(), None) {
        let _ = (text::render(&judged), markdown::render(&judged), json::render(&judged));
    }
    if let Some(start) = start {
        let runs = [
            SavedRun { file: "a.json".into(), report, start },
            SavedRun { file: "b.json".into(), report: other, start },
        ];
        if let Ok(merged) = merge(&runs)
            && let Ok(judged) = judge::rejudge(merged, &gates(), None)
        {
            let _ = (text::render(&judged), markdown::render(&judged), json::render(&judged));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn extreme_numbers_are_refused_or_judged_never_a_panic(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0..15usize), 1..4)
    ) {
        let mut value = serde_json::to_value(crate::report::golden::scenario()).unwrap();
        let mut paths = Vec::new();
        numbers(&value, &mut Vec::new(), &mut paths);
        for (index, which) in &edits {
            *at(&mut value, &paths[index.index(paths.len())]) = extreme(*which);
        }
        let text = value.to_string();
        // As blip reads it: checked first.
        if let Ok(report) = saved::parse(&text) {
            use_report(report);
        }
        // And unchecked, where serde takes it: judging and writing must not panic on their own.
        // (Merging takes checked reports: `SavedRun::read` is the only way in.)
        if let Ok(report) = serde_json::from_str::<Report>(&text) {
            judge_and_write(report);
        }
    }
}
