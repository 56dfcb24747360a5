//! Saved reports, offline: `blip judge` judges a real run's JSON report again and agrees with the
//! run's own gates; `blip merge` merges the reports of several vantages.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::support::server::{Mode, TestServer};
use crate::support::{Report, assert_refused, blip, ms, tempdir};

/// A forward proxy for plain http that relays bytes to `target` (the request's absolute form
/// reaches the server as sent), and drops every connection, open or new, while `down` is set.
async fn relay(target: SocketAddr, down: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { continue };
            if down.load(Ordering::SeqCst) {
                continue;
            }
            let down = down.clone();
            tokio::spawn(async move {
                let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                let cut = async {
                    while !down.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                    () = cut => {}
                }
            });
        }
    });
    addr
}

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
    let latency = judge(&saved, &["--max-latency", "p50=10s", "--max-downtime", "10s"], 0).await;
    assert_eq!(latency.targets[0].gates[1].observed, format!("{p50:.3} ms"), "p50 from the saved histogram");
    // A latency gate alone does not bound downtime: blip's default judges it too.
    let latency = judge(&saved, &["--max-latency", "p50=10s"], 1).await;
    let gates: Vec<(&str, bool)> = latency.targets[0].gates.iter().map(|g| (g.gate.as_str(), g.default)).collect();
    assert_eq!(gates, [("max-latency p50=10s", false), ("max-downtime 0s", true)]);
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
    // Edited by hand into figures that contradict each other.
    let mut edited = value.clone();
    edited["schema_version"] = serde_json::json!(2);
    edited["targets"][0]["downtime_ms"] = serde_json::json!(1.7e308);
    let contradicting = dir.join("edited.json");
    std::fs::write(&contradicting, edited.to_string()).unwrap();
    edited["targets"] = serde_json::json!([]);
    let empty = dir.join("empty.json");
    std::fs::write(&empty, edited.to_string()).unwrap();
    let missing = dir.join("missing.json");
    // Measured before it is read: a sparse file takes no disk.
    let huge = dir.join("huge.json");
    std::fs::File::create(&huge).unwrap().set_len(65 << 20).unwrap();
    let (bad, newer, gone) = (not_a_report.to_str().unwrap(), future.to_str().unwrap(), missing.to_str().unwrap());
    assert_refused(&[
        (&["judge", bad], "notes.json is not a blip JSON report"),
        (&["judge", newer], "schema_version is 99"),
        (&["judge", gone], "cannot read the report"),
        (&["judge", contradicting.to_str().unwrap()], "downtime_ms is not within the run"),
        (&["judge", empty.to_str().unwrap()], "it has no targets"),
        (&["judge", "/dev/zero"], "/dev/zero is not a blip JSON report"),
        (&["judge", huge.to_str().unwrap()], "huge.json is larger than 64 MiB"),
        (&["judge", saved.to_str().unwrap(), "--gate-phase", "deploy"], "--gate-phase"),
    ])
    .await;
}

/// Three vantages probe one service at once: a 404 outage of the service that all three see, and
/// a slow spell that only the vantage with a short timeout sees fail (its path, as it were).
#[tokio::test(flavor = "multi_thread")]
async fn merge_tells_the_service_down_from_a_path_down() {
    let server = TestServer::start().await;
    let dir = tempdir("merge");
    let url = server.url("/");
    let path = |name: &str| dir.join(format!("{name}.json")).to_str().unwrap().to_string();
    // gamma reaches the service through a proxy that drops every connection for 300 ms: its
    // path is down while the service is up.
    let proxy_down = Arc::new(AtomicBool::new(false));
    let proxy = relay(server.addr, proxy_down.clone()).await;
    let run = |vantage: &'static str, proxy: Option<String>| {
        let json = path(vantage);
        let mut command = tokio::process::Command::new(crate::support::BLIP);
        command
            .args(["--rate", "50", "--duration", "2s", "--ui", "quiet", "--measure-only", "--vantage", vantage])
            .args(["--json", &json, &url])
            .kill_on_drop(true);
        if let Some(proxy) = proxy {
            command.env("HTTP_PROXY", proxy).env("NO_PROXY", "");
        }
        async move { command.output().await.unwrap() }
    };
    let faults = async {
        let shared = server
            .inject(Duration::from_millis(400), Mode::Status(404, "service down"), Duration::from_millis(300))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = std::time::Instant::now();
        proxy_down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy_down.store(false, Ordering::SeqCst);
        (shared, start.elapsed())
    };
    let gamma = Some(format!("http://{proxy}"));
    let (a, b, c, (_, path_down)) = tokio::join!(run("alpha", None), run("beta", None), run("gamma", gamma), faults);
    for out in [a, b, c] {
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let runs: Vec<Report> = ["alpha", "beta", "gamma"].map(|v| read(Path::new(&path(v)))).into();
    assert_eq!(runs.iter().map(|r| r.targets[0].outage_count).collect::<Vec<_>>(), [1, 1, 2]);

    let merged_path = path("merged");
    let out =
        blip(&["merge", &path("alpha"), &path("beta"), &path("gamma"), "--max-downtime", "0s", "--json", &merged_path])
            .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("seen from some vantages only") && stdout.contains("gamma"), "{stdout}");
    let merged = read(Path::new(&merged_path));
    let from = merged.merged_from.as_ref().unwrap();
    assert_eq!(from.iter().map(|r| r.vantage.as_str()).collect::<Vec<_>>(), ["alpha", "beta", "gamma"]);
    let t = &merged.targets[0];
    let all = t.windows_all.as_ref().unwrap();
    let some = t.windows_some.as_ref().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].vantages, ["alpha", "beta", "gamma"]);
    assert_eq!(all[0].causes.keys().collect::<Vec<_>>(), ["404"]);
    assert_eq!(some.len(), 1, "{some:?}");
    assert_eq!(some[0].vantages, ["gamma"]);
    assert!(!some[0].causes.contains_key("404"), "the path failed, not the service: {some:?}");
    let own = &runs[2].targets[0].outages[1];
    assert!(
        (own.duration_ms - ms(path_down)).abs() <= crate::support::tolerance_of(50.0, &runs[2].targets[0]),
        "{own:?}"
    );
    // The shared window: where each vantage saw it, give or take a probe interval and the
    // offset between the runs' starts.
    let starts: Vec<f64> = from.iter().map(|r| r.start_offset_ms).collect();
    let spread = starts.iter().cloned().fold(0.0, f64::max);
    let tolerance = crate::support::tolerance(50.0) + spread;
    for (r, offset) in runs.iter().zip(&starts) {
        let own = &r.targets[0].outages[0];
        assert!((all[0].start_offset_ms - (own.start_offset_ms + offset)).abs() <= tolerance, "{all:?} {own:?}");
    }
    assert!((all[0].duration_ms - 300.0).abs() <= tolerance, "{all:?}");
    assert!(merged.clock_offset_ms.is_some_and(|o| o <= tolerance), "{:?}", merged.clock_offset_ms);
    // Counts and availability.
    assert_eq!(t.probes, runs.iter().map(|r| r.targets[0].probes).sum::<u64>());
    assert_eq!(t.outages.len(), 1);
    let by_vantage = t.availability_by_vantage.as_ref().unwrap();
    assert_eq!(by_vantage["gamma"], runs[2].targets[0].availability);
    assert!(by_vantage["gamma"] < by_vantage["alpha"]);
    assert!(t.latency_histogram.is_some() && t.latency_ms.is_some());
    assert_eq!(t.gates[0].gate, "max-downtime 0s");
    assert!(!t.gates[0].passed);

    // The merge judged again: the same verdict.
    let again = judge(Path::new(&merged_path), &["--max-downtime", "0s"], 1).await;
    assert_eq!(again.targets[0].gates[0].observed, t.gates[0].observed);

    // Runs that did not overlap in time, or twice the same vantage: refused.
    let mut later: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path("beta")).unwrap()).unwrap();
    later["started_at"] = serde_json::json!("2099-01-01T00:00:00.000Z");
    later["vantage"] = serde_json::json!("delta");
    std::fs::write(path("later"), later.to_string()).unwrap();
    // A merged report merged again, or runs of other URLs: refused too.
    let mut elsewhere: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("beta")).unwrap()).unwrap();
    elsewhere["targets"][0]["url"] = serde_json::json!("http://127.0.0.1:9/other");
    elsewhere["vantage"] = serde_json::json!("epsilon");
    std::fs::write(path("elsewhere"), elsewhere.to_string()).unwrap();
    let (alpha, beta, later, elsewhere) = (path("alpha"), path("beta"), path("later"), path("elsewhere"));
    assert_refused(&[
        (&["merge", &alpha, &later], "the runs do not overlap in time"),
        (&["merge", &alpha, &alpha], "both from vantage `alpha`"),
        (&["merge", &alpha, &beta, "--gate-phase", "deploy"], "--gate-phase"),
        (&["merge", &merged_path, &alpha], "is itself a merge of"),
        (&["merge", &alpha, &elsewhere], "probed different URLs or connection lanes"),
        (&["merge", &alpha, &beta, "--json", &alpha], "is a report being read"),
        (&["judge", &alpha, "--json", "x.json", "--junit", "./x.json"], "--json and --junit both name"),
    ])
    .await;
}

/// A latency histogram of a few dozen characters whose V2 header claims a 4 GiB payload.
fn histogram_bomb() -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut header = Vec::new();
    header.extend(0x1c84_9313u32.to_be_bytes());
    header.extend(u32::MAX.to_be_bytes());
    header.extend(0u32.to_be_bytes());
    header.extend(3u32.to_be_bytes());
    header.extend(1u64.to_be_bytes());
    header.extend(2048u64.to_be_bytes());
    header.extend(1f64.to_be_bytes());
    let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    deflated.write_all(&header).unwrap();
    let deflated = deflated.finish().unwrap();
    let mut bytes = 0x1c84_9314u32.to_be_bytes().to_vec();
    bytes.extend((deflated.len() as u32).to_be_bytes());
    bytes.extend(deflated);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The hostile reports of a saved run edited by hand: each is refused by `blip judge` and by
/// `blip merge` with exit 2 and one clean line naming the field, never a panic or an abort.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_reports_are_refused_with_one_line() {
    let server = TestServer::start().await;
    let dir = tempdir("hostile");
    let saved = dir.join("r.json");
    let url = server.url("/");
    let run = blip(&[
        "--rate",
        "50",
        "--duration",
        "1500ms",
        "--ui",
        "quiet",
        "--measure-only",
        "--json",
        saved.to_str().unwrap(),
        &url,
    ]);
    let (out, _) = tokio::join!(
        run,
        server.inject(Duration::from_millis(400), Mode::Status(503, "outage"), Duration::from_millis(300))
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let real: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(real["targets"][0]["outage_count"], 1, "{}", real["targets"][0]["outages"]);
    let points = real["targets"][0]["timeline"].as_array().unwrap().len();
    let esc = "\x1b]0;pwned\x07\x1b[2J";
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "offset-4e9",
            Box::new(|r| {
                let t = &mut r["targets"][0]["timeline"];
                t.as_array_mut().unwrap().push(serde_json::json!({"offset_s": 4_000_000_000u64, "ok": 0, "failed": 0}));
            }),
            format!("timeline[{points}].offset_s (4000000000)"),
        ),
        (
            "offset-2e7",
            Box::new(|r| {
                let t = &mut r["targets"][0]["timeline"];
                t.as_array_mut().unwrap().push(serde_json::json!({"offset_s": 20_000_000u64, "ok": 0, "failed": 0}));
            }),
            format!("timeline[{points}].offset_s (20000000)"),
        ),
        (
            "histogram-bomb",
            Box::new(|r| r["targets"][0]["latency_histogram"] = histogram_bomb().into()),
            "latency_histogram is not a serialized HdrHistogram".into(),
        ),
        (
            "status-key",
            Box::new(move |r| {
                let counts = r["targets"][0]["status_counts"].as_object_mut().unwrap();
                let (key, n) = counts.iter().next().map(|(k, n)| (k.clone(), n.clone())).unwrap();
                counts.remove(&key);
                counts.insert(format!("{key}{esc}"), n);
            }),
            "status_counts has a key".into(),
        ),
        (
            "cause-key",
            Box::new(move |r| {
                let causes = r["targets"][0]["outages"][0]["causes"].as_object_mut().unwrap();
                let n = causes.remove("503").unwrap();
                causes.insert(format!("503{esc}"), n);
            }),
            "outages[0].causes has a key".into(),
        ),
        (
            "peer-address",
            Box::new(move |r| r["targets"][0]["peers"][0]["address"] = format!("127.0.0.1:1{esc}").into()),
            "peers[0].address".into(),
        ),
        (
            "unknown-variant",
            Box::new(move |r| r["targets"][0]["connection"] = format!("reused{esc}").into()),
            "unknown variant".into(),
        ),
        (
            "markdown-start",
            Box::new(|r| {
                r["targets"][0]["outages"][0]["start"] =
                    "<img src=x> [Approve](https://evil.example)\n## ✅ blip: passed (all gates)".into()
            }),
            "outages[0].start".into(),
        ),
        (
            "offset-max",
            Box::new(|r| r["targets"][0]["timeline"][0]["offset_s"] = u64::MAX.into()),
            "timeline[0].offset_s".into(),
        ),
        ("width-max", Box::new(|r| r["targets"][0]["timeline_width_s"] = u64::MAX.into()), "timeline_width_s".into()),
        (
            "failed-0",
            Box::new(|r| {
                let t = &mut r["targets"][0];
                t["ok"] = t["probes"].clone();
                t["failed"] = 0.into();
            }),
            "is more than failed (0)".into(),
        ),
    ];
    let other = dir.join("other.json");
    let mut second = real.clone();
    second["vantage"] = "elsewhere".into();
    std::fs::write(&other, second.to_string()).unwrap();
    for (name, edit, needle) in &cases {
        let mut report = real.clone();
        edit(&mut report);
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, report.to_string()).unwrap();
        let (path, other) = (path.to_str().unwrap(), other.to_str().unwrap());
        let markdown = dir.join("summary.md");
        let markdown = markdown.to_str().unwrap();
        for args in [vec!["judge", path, "--max-failed", "0", "--markdown", markdown], vec!["merge", path, other]] {
            let out = blip(&args).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
            assert!(stderr.contains(&format!("{name}.json is not a blip JSON report")), "{name}: {stderr}");
            assert!(stderr.contains(needle.as_str()), "{name}: `{stderr}` should say {needle}");
            assert!(!stderr.contains('\x1b') && !stderr.contains('\x07'), "{name}: {stderr:?}");
            assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{name}: {stderr}");
            assert!(out.stdout.is_empty() && !Path::new(markdown).exists(), "{name}: {args:?}");
        }
    }
    // The saved run itself is judged and merged as before.
    let out = blip(&["judge", saved.to_str().unwrap(), "--max-downtime", "10s"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A real run of one URL with an outage of `outage` (404s from 300 ms in), saved to `path` with
/// its URL renamed to `url`: the runs of a team's history all probed one service.
async fn past_run(path: &Path, url: &str, outage: Duration) -> Report {
    let server = TestServer::start().await;
    let own = server.url("/");
    let run = blip(&[
        "-r",
        "100",
        "-d",
        "1500ms",
        "--ui",
        "quiet",
        "--max-downtime",
        "10s",
        "--json",
        path.to_str().unwrap(),
        &own,
    ]);
    let (out, _) = tokio::join!(run, server.inject(Duration::from_millis(300), Mode::Status(404, "outage"), outage));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(path).unwrap().replace(&format!("\"{own}\""), &format!("\"{url}\""));
    std::fs::write(path, text).unwrap();
    read(path)
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_against_a_baseline_of_past_runs() {
    let dir = tempdir("baseline");
    let history = dir.join("history");
    std::fs::create_dir_all(&history).unwrap();
    let url = "http://notes.test/api/notes";
    // Ten past runs with outages of 100 to 550 ms, run side by side.
    let runs: Vec<_> = (0..10u64)
        .map(|i| {
            let path = history.join(format!("run-{i}.json"));
            async move { past_run(&path, url, Duration::from_millis(100 + 50 * i)).await }
        })
        .collect();
    let past = futures_join_all(runs).await;
    let mut downtimes: Vec<f64> = past.iter().map(|r| r.targets[0].downtime_ms).collect();
    downtimes.sort_by(f64::total_cmp);
    assert!(downtimes[0] >= 50.0 && downtimes[9] < 1000.0, "{downtimes:?}");
    // A file that is not a report, and a run of another URL, in the same directory.
    std::fs::write(history.join("broken.json"), "{\"schema_version\": 2, \"targets\": [").unwrap();
    let elsewhere = history.join("elsewhere.json");
    let (bad, good) = (dir.join("bad.json"), dir.join("good.json"));
    let (bad_run, good_run, _) = tokio::join!(
        past_run(&bad, url, Duration::from_millis(1100)),
        past_run(&good, url, Duration::from_millis(300)),
        past_run(&elsewhere, "http://other.test/", Duration::from_millis(1000))
    );
    let glob = format!("{}/*.json", history.display());
    let judge_with = |report: &Path, extra: &[&str]| {
        let mut args = vec!["judge", report.to_str().unwrap(), "--json", "-", "--baseline", glob.as_str()];
        args.extend(extra);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = blip(&args).await;
            let report: Option<Report> = serde_json::from_slice(&out.stdout).ok();
            (out.status.code(), report, String::from_utf8_lossy(&out.stderr).to_string())
        }
    };
    let gate = |r: &Option<Report>| {
        let g = &r.as_ref().expect("a JSON report on stdout").targets[0].gates[0];
        (g.passed, g.observed.clone())
    };

    // The p99 of ten runs is the highest of them: 1.1 s is above it, 0.3 s is not.
    let (code, report, stderr) = judge_with(&bad, &["--max-downtime-vs-baseline", "p99"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    let (passed, observed) = gate(&report);
    let expected = format!(
        "{:.3} s vs p99 of 10 past runs {:.3} s",
        bad_run.targets[0].downtime_ms / 1000.0,
        downtimes[9] / 1000.0
    );
    assert!(!passed && observed == expected, "{observed}, expected {expected}");
    assert!(stderr.contains("broken.json") && stderr.contains("skipped"), "the bad file is named: {stderr}");
    assert!(stderr.contains("10 past runs match of 12 files read (1 of other URLs"), "{stderr}");
    let (code, report, stderr) = judge_with(&good, &["--max-downtime-vs-baseline", "p99"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(gate(&report).0, "{:?} ({} ms)", gate(&report), good_run.targets[0].downtime_ms);
    // The p10 of the ten (nearest rank: the lowest, about 0.1 s) is below 0.3 s: it fails there.
    let (code, report, _) = judge_with(&good, &["--max-downtime-vs-baseline", "p10"]).await;
    assert_eq!(code, Some(1), "{:?}", gate(&report));
    // A floor above the bad run's downtime passes it.
    let (code, report, _) = judge_with(&bad, &["--max-downtime-vs-baseline", "p99", "--baseline-floor", "5s"]).await;
    assert_eq!(code, Some(0), "{:?}", gate(&report));
    // Failed probes against the runs' own.
    let (code, _, stderr) = judge_with(&bad, &["--max-failed-vs-baseline", "max"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    // Too few runs: not judged, a failure, never a pass.
    let (code, report, _) =
        judge_with(&good, &["--max-downtime-vs-baseline", "p99", "--baseline-min-runs", "11"]).await;
    assert_eq!(code, Some(1));
    assert_eq!(gate(&report).1, "not judged: 10 past runs match, 11 needed (--baseline-min-runs)");

    assert_refused(&[
        (&["judge", good.to_str().unwrap(), "--baseline", &glob], "needs a gate that uses it"),
        (&["judge", good.to_str().unwrap(), "--max-downtime-vs-baseline", "p99"], "--baseline"),
        (&["judge", good.to_str().unwrap(), "--baseline", &glob, "--max-downtime-vs-baseline", "p101"], "p101"),
        (&["judge", good.to_str().unwrap(), "--baseline", "[", "--max-downtime-vs-baseline", "p99"], "not a glob"),
        (&["judge", good.to_str().unwrap(), "--baseline-floor", "1s"], "--baseline GLOB"),
        (
            &[
                "judge",
                good.to_str().unwrap(),
                "--baseline",
                &glob,
                "--max-failed-vs-baseline",
                "p99",
                "--measure-only",
            ],
            "--measure-only",
        ),
    ])
    .await;
}

/// Every future of `futures`, run at once, their outputs in order.
async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

/// `--baseline` on a run: the past runs are read before anything is probed, and the run is
/// judged against them as it ends, as `blip judge` judges its saved report. The run probes the
/// history's URL by name, routed to a server of its own with `--connect-to`.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_judged_against_its_baseline_as_it_ends() {
    let dir = tempdir("baseline-live");
    let history = dir.join("history");
    std::fs::create_dir_all(&history).unwrap();
    let url = "http://notes.test/api/notes";
    let runs: Vec<_> = (0..6u64)
        .map(|i| {
            let path = history.join(format!("run-{i}.json"));
            async move { past_run(&path, url, Duration::from_millis(100 + 50 * i)).await }
        })
        .collect();
    let past = futures_join_all(runs).await;
    let worst = past.iter().map(|r| r.targets[0].downtime_ms).fold(0.0, f64::max);
    let glob = format!("{}/*.json", history.display());
    let server = TestServer::start().await;
    let route = format!("notes.test:80:127.0.0.1:{}", server.addr.port());
    let run = |json: &Path, gates: &[&str]| {
        let mut args = vec!["-r", "100", "-d", "2s", "--ui", "quiet", "--json", json.to_str().unwrap()];
        args.extend(["--connect-to", route.as_str(), "--baseline", glob.as_str()]);
        args.extend(gates);
        args.push(url);
        blip(&args)
    };
    let gates = |path: &Path| {
        let report = read(path);
        report.targets[0].gates.iter().map(|g| (g.gate.clone(), g.passed, g.observed.clone())).collect::<Vec<_>>()
    };

    // Down for 1.2 s, four times the worst past run: the downtime gate fails against p99.
    let down = dir.join("down.json");
    let (out, _) = tokio::join!(
        run(&down, &["--max-downtime-vs-baseline", "p99"]),
        server.inject(Duration::from_millis(300), Mode::Status(404, "outage"), Duration::from_millis(1200))
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("baseline: 6 past runs match of 6 files read"), "{stderr}");
    let judged = gates(&down);
    let (gate, passed, observed) = &judged[0];
    assert_eq!((gate.as_str(), *passed), ("max-downtime-vs-baseline p99", false), "{judged:?}");
    assert!(observed.ends_with(&format!("vs p99 of 6 past runs {:.3} s", worst / 1000.0)), "{observed}");
    assert_eq!(judged.len(), 1, "the gate bounds downtime: no default beside it");

    // Up, but every answer 60 ms late: no worse downtime, a p99 above every past run's.
    server.set(Mode::Delay(Duration::from_millis(60)));
    let slow = dir.join("slow.json");
    let out = run(&slow, &["--max-downtime-vs-baseline", "p99", "--max-latency-vs-baseline", "p99=max"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let judged = gates(&slow);
    assert_eq!(judged.iter().map(|g| g.1).collect::<Vec<_>>(), [true, false], "{judged:?}");
    assert!(
        judged[1].0 == "max-latency-vs-baseline p99=max" && judged[1].2.contains("vs max of 6 past runs"),
        "{judged:?}"
    );

    // blip judge of the run's own report, against the same history, agrees.
    let out = blip(&[
        "judge",
        slow.to_str().unwrap(),
        "--json",
        "-",
        "--baseline",
        &glob,
        "--max-downtime-vs-baseline",
        "p99",
        "--max-latency-vs-baseline",
        "p99=max",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let again: Report = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts =
        |gates: &[crate::support::GateResult]| gates.iter().map(|g| (g.gate.clone(), g.passed)).collect::<Vec<_>>();
    assert_eq!(verdicts(&again.targets[0].gates), verdicts(&read(&slow).targets[0].gates));

    // Reports the run would append to or write over are refused before anything is probed, and
    // the past report is left as it was.
    let past = history.join("run-0.json");
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["--baseline", &glob, "--max-downtime-vs-baseline", "p99", "-d", "1s", url])
        .env("GITHUB_STEP_SUMMARY", &past)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GITHUB_STEP_SUMMARY") && stderr.contains("is a past report --baseline reads"), "{stderr}");
    read(&past);
    // The run's own --json in the glob is the report it is about to write, no past run, as blip
    // judge leaves out the report it judges.
    let out = run(&past, &["--max-downtime-vs-baseline", "p99"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("baseline: 5 past runs match of 5 files read"), "{stderr}");
    let past = past.to_str().unwrap();
    assert_refused(&[
        (
            &["--baseline", &glob, "--max-downtime-vs-baseline", "p99", "--markdown", past, "-d", "1s", url],
            "is a past report --baseline reads",
        ),
        (&["--baseline", &glob, "-d", "1s", url], "needs a gate that uses it"),
        (&["--max-latency-vs-baseline", "p99=max", "-d", "1s", url], "--baseline"),
        (&["--baseline", &glob, "--max-latency-vs-baseline", "p99", "-d", "1s", url], "like p99=p95"),
        (
            &["--baseline", &glob, "--max-downtime-vs-baseline", "p99", "--measure-only", "-d", "1s", url],
            "--measure-only",
        ),
    ])
    .await;
}

/// `blip judge` and `blip merge` write every report a run writes, through the same table: HTML,
/// the job summary and annotations in a GitHub Actions job, under the same path rules.
#[tokio::test(flavor = "multi_thread")]
async fn judge_and_merge_write_every_report_a_run_does() {
    let dir = tempdir("offline-reports");
    let saved = dir.join("run.json");
    past_run(&saved, "http://notes.test/", Duration::from_millis(300)).await;
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let (html, markdown) = (dir.join("judged.html"), dir.join("judged.md"));
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["judge", saved.to_str().unwrap(), "--max-downtime", "0s", "--html"])
        .arg(&html)
        .arg("--markdown")
        .arg(&markdown)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("::error title=blip gate max-downtime 0s failed::")), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("max-downtime 0s"),
        "{}",
        &page[..200.min(page.len())]
    );
    let file = std::fs::read_to_string(&markdown).unwrap();
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n## ❌ blip") && md.ends_with(&file), "appended, the same summary: {md}");

    // The same run as seen from a second vantage.
    let other = dir.join("other.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    json["vantage"] = "elsewhere".into();
    std::fs::write(&other, serde_json::to_string(&json).unwrap()).unwrap();
    let (merged, junit) = (dir.join("merged.html"), dir.join("merged.xml"));
    let (a, b) = (saved.to_str().unwrap(), other.to_str().unwrap());
    let out = blip(&["merge", a, b, "--html", merged.to_str().unwrap(), "--junit", junit.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "the run was down 300 ms: {}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&merged).unwrap().starts_with("<!DOCTYPE html>"));
    // The JUnit file holds the merged verdict: no gate was given, so the default one failed.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failed: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.children().any(|c| c.has_tag_name("failure")))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(failed, ["max-downtime 0s (default)"], "{xml}");

    // The job summary is appended to: never to the report being read.
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["judge", saved.to_str().unwrap()])
        .env("GITHUB_STEP_SUMMARY", &saved)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GITHUB_STEP_SUMMARY") && stderr.contains("is a report being read"), "{stderr}");
    read(&saved);
    let saved = saved.to_str().unwrap();
    assert_refused(&[
        (
            &["judge", saved, "--json", "-", "--markdown", "/dev/stdout"],
            "--markdown and --json - both name /dev/stdout",
        ),
        (&["judge", saved, "--html", saved], "is a report being read"),
        (&["judge", saved, "--html", "-"], "--html writes a file"),
        (&["merge", saved, saved, "--junit", ""], "--junit needs a path"),
        (&["merge", saved, saved, "--max-degraded", "1s"], "a merged report does not have"),
    ])
    .await;
}

/// A saved report's degraded spans are checked as its other figures are: one line naming the
/// field, exit 2.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_degraded_spans_are_refused_naming_the_field() {
    let dir = tempdir("hostile-degraded");
    let saved = dir.join("run.json");
    past_run(&saved, "http://notes.test/", Duration::from_millis(300)).await;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let span = serde_json::json!({
        "kind": "failing", "start_offset_ms": 400.0, "duration_ms": 200.0, "failed_share": 0.5,
        "causes": {"404": 2}, "windows": 1, "p50_ms": null, "max_ms": null, "limit_ms": null, "phase": null
    });
    let cases: [(&str, serde_json::Value, &str); 6] = [
        ("duration_ms", (-100.0).into(), "degraded[0].duration_ms"),
        ("p50_ms", 5.0.into(), "a failing span has a share, windows and causes"),
        ("phase", "cooldown".into(), "degraded[0].phase names a phase, but the run wrapped no COMMAND"),
        ("causes", serde_json::json!({"404": 1_000_000_000u64}), "the sum of degraded[0].causes"),
        ("failed_share", 5.0.into(), "degraded[0].failed_share"),
        ("start_offset_ms", 1e12.into(), "degraded[0].start_offset_ms"),
    ];
    for (field, value, says) in cases {
        let mut report = json.clone();
        let mut bad = span.clone();
        bad[field] = value;
        report["targets"][0]["degraded"] = serde_json::json!([bad]);
        let path = dir.join(format!("{field}.json"));
        std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
        assert_refused(&[(&["judge", path.to_str().unwrap()], says)]).await;
    }
    // A slow span's latency longer than any run, said in one short line.
    let slow = serde_json::json!({
        "kind": "slow", "start_offset_ms": 0.0, "duration_ms": 1000.0, "failed_share": null,
        "causes": {}, "windows": 0, "p50_ms": 1e308, "max_ms": 1e308, "limit_ms": 50.0, "phase": null
    });
    let mut report = json.clone();
    report["targets"][0]["degraded"] = serde_json::json!([slow]);
    let path = dir.join("slow.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    assert_refused(&[(&["judge", path.to_str().unwrap()], "degraded[0].p50_ms")]).await;
    let out = blip(&["judge", path.to_str().unwrap()]).await;
    assert!(out.stderr.len() < 400, "one short line: {}", String::from_utf8_lossy(&out.stderr));
    // Two spans of one kind that overlap.
    let mut report = json.clone();
    report["targets"][0]["degraded"] = serde_json::json!([span.clone(), span]);
    let path = dir.join("overlap.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    assert_refused(&[(&["judge", path.to_str().unwrap()], "degraded[1].start_offset_ms overlaps")]).await;
}
