//! Saved reports, offline: `blip judge` judges a real run's JSON report again and agrees with the
//! run's own gates; `blip merge` merges the reports of several vantages.

use std::path::Path;
use std::time::Duration;

use crate::support::server::{Mode, TestServer};
use crate::support::{Report, assert_refused, blip, tempdir};

/// Reads a report blip wrote to `path`.
fn read(path: &Path) -> Report {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    crate::support::check_schema(&json);
    serde_json::from_value(json).unwrap()
}

/// `blip judge` with `args`, checked to exit with `code`; its JSON report.
async fn judge(report: &Path, args: &[&str], code: i32) -> Report {
    let out_path = report.with_extension(format!("judged-{code}.json"));
    let mut all = vec!["judge", report.to_str().unwrap(), "--json", out_path.to_str().unwrap()];
    all.extend(args);
    let out = blip(&all).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "blip {all:?}\n{stderr}");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains(if code == 0 { "passed" } else { "FAILED" }), "{summary}");
    read(&out_path)
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_gives_a_saved_report_the_verdicts_of_the_run() {
    let server = TestServer::start().await;
    let dir = tempdir("judge");
    let saved = dir.join("r.json");
    let url = server.url("/");
    let run = blip(&[
        "--rate",
        "50",
        "--duration",
        "1500ms",
        "--ui",
        "quiet",
        "--fail-on-status",
        "404",
        "--max-downtime",
        "0s",
        "--json",
        saved.to_str().unwrap(),
        &url,
    ]);
    let (out, _) = tokio::join!(
        run,
        server.inject(Duration::from_millis(400), Mode::Status(404, "outage"), Duration::from_millis(300))
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let run = read(&saved);
    let t = &run.targets[0];
    assert_eq!(t.outage_count, 1, "{:?}", t.outages);
    assert!(t.latency_histogram.is_some());

    // The same gates: the same verdicts, observations and evidence.
    let again = judge(&saved, &["--fail-on-status", "404", "--max-downtime", "0s"], 1).await;
    let (before, after) = (&run.targets[0].gates, &again.targets[0].gates);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(after) {
        assert_eq!((&a.gate, &a.limit, &a.observed, a.passed), (&b.gate, &b.limit, &b.observed, b.passed));
        let (be, ae) = (b.evidence.as_ref().unwrap(), a.evidence.as_ref().unwrap());
        assert_eq!(
            (&ae.outages, ae.first_offset_ms, &ae.first_error),
            (&be.outages, be.first_offset_ms, &be.first_error)
        );
    }
    assert!(!again.passed);
    assert_eq!((again.targets[0].probes, &again.targets[0].outages[0].start), (t.probes, &t.outages[0].start));

    // Other gates, judged on the same figures.
    let lenient = judge(&saved, &["--max-downtime", "10s", "--max-outages", "1"], 0).await;
    assert!(lenient.passed && lenient.targets[0].gates.iter().all(|g| g.passed));
    let flapping = judge(&saved, &["--max-outages", "0"], 1).await;
    assert_eq!(flapping.targets[0].gates[0].observed, "1 windows");
    let p50 = t.latency_ms.as_ref().unwrap().p50;
    let latency = judge(&saved, &["--max-latency", "p50=10s"], 0).await;
    assert_eq!(latency.targets[0].gates[0].observed, format!("{p50:.3} ms"), "p50 from the saved histogram");
    judge(&saved, &["--max-error-rate", "1%/1s"], 1).await;
    let default = judge(&saved, &[], 1).await;
    assert!(default.default_gates && default.targets[0].gates[0].gate == "max-downtime 0s");

    // Bad input: one line naming the file, exit 2.
    let not_a_report = dir.join("notes.json");
    std::fs::write(&not_a_report, "{\"notes\": []}").unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    value["schema_version"] = serde_json::json!(99);
    let future = dir.join("future.json");
    std::fs::write(&future, value.to_string()).unwrap();
    let missing = dir.join("missing.json");
    let (bad, newer, gone) = (not_a_report.to_str().unwrap(), future.to_str().unwrap(), missing.to_str().unwrap());
    assert_refused(&[
        (&["judge", bad], "notes.json is not a blip JSON report"),
        (&["judge", newer], "schema_version is 99"),
        (&["judge", gone], "cannot read the report"),
        (&["judge", saved.to_str().unwrap(), "--gate-phase", "deploy"], "--gate-phase"),
    ])
    .await;
}
