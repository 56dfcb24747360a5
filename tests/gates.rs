//! Gates for CI: exit code 1 exactly when a gate fails, and the JSON, JUnit, Markdown, NDJSON
//! and GitHub outputs that say why.

use std::time::{Duration, Instant};

use crate::support::server::{Mode, TestServer};
use crate::support::{blip, blip_json, script, tempdir};

/// The route goes down 0.2 s into the deploy, not as it starts: a warmup probe sent a few ms late
/// on a busy machine would meet the 404 and open the window in the warmup, as blip rightly books it.
const RESTART_404: &str =
    "echo 'Stopping app notes...'\nsleep 0.2\necho 404 >CONTROL\nsleep 0.4\necho ok >CONTROL\necho 'Started'\n";
const BLUE_GREEN: &str = "echo 'Mapping the new instance...'\nsleep 0.4\necho 'Unmapped the old one'\n";

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_status_404_fails_a_404_deploy_and_passes_a_clean_one() {
    let server = TestServer::start().await;
    let dir = tempdir("gate-404");
    let (junit, markdown, events) = (dir.join("report.xml"), dir.join("summary.md"), dir.join("events.ndjson"));
    let bad = script(&server, "restart-404", RESTART_404);
    let url = server.url("/api/notes");
    let args = |deploy: &str| {
        vec![
            "--rate".to_string(),
            "50".into(),
            "--warmup".into(),
            "500ms".into(),
            "--cooldown".into(),
            "500ms".into(),
            "--fail-on-status".into(),
            "404".into(),
            "--junit".into(),
            junit.to_str().unwrap().into(),
            "--markdown".into(),
            markdown.to_str().unwrap().into(),
            "--events".into(),
            events.to_str().unwrap().into(),
            url.clone(),
            "--".into(),
            deploy.to_string(),
        ]
    };
    let bad_args = args(bad.to_str().unwrap());
    let report = blip_json(&bad_args.iter().map(String::as_str).collect::<Vec<_>>(), 1).await;
    assert!(!report.passed);
    let gate = &report.targets[0].gates[0];
    assert_eq!((gate.gate.as_str(), gate.passed), ("fail-on-status 404", false));
    let evidence = gate.evidence.as_ref().unwrap();
    assert_eq!(evidence.first_error.as_deref(), Some("404 Not Found: down for a deploy"));
    assert_eq!(evidence.outages, [0]);
    // The first 404 of the judged phases: the window's first probe, unless that one was due in
    // the warmup and sent late, after the deploy had begun (a busy machine).
    let (first, window) = (evidence.first_offset_ms.unwrap(), report.targets[0].outages[0].start_offset_ms);
    let lag = report.targets[0].send_lag_ms.max;
    assert!(first >= window && first <= window + lag + 1000.0 / report.rate, "{first} vs window {window}, lag {lag}");

    // JUnit: parsed by a real XML parser, the failed gate carries the window.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("a failure element");
    assert_eq!(failure.parent().unwrap().attribute("name"), Some("fail-on-status 404"));
    assert!(failure.text().unwrap().contains("outage [deploy"), "{xml}");
    // Markdown names the verdict and the window.
    let md = std::fs::read_to_string(&markdown).unwrap();
    // The 404 gate and blip's default beside it, since it bounds no downtime.
    assert!(md.starts_with("## ❌ blip: **failed (2 of 2 gates)**") && md.contains("| deploy"), "{md}");
    // NDJSON: every line an object, a failed gate verdict, and the run's end with exit code 1.
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&events).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_start"));
    assert_eq!(kinds.last(), Some(&"run_end"));
    for kind in ["phase", "down", "up", "second", "gate"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let verdict = lines.iter().find(|l| l["event"] == "gate").unwrap();
    assert_eq!((verdict["gate"].as_str(), verdict["passed"].as_bool()), (Some("fail-on-status 404"), Some(false)));
    assert_eq!(lines.last().unwrap()["exit_code"], 1);

    let good = script(&server, "blue-green", BLUE_GREEN);
    let good_args = args(good.to_str().unwrap());
    let report = blip_json(&good_args.iter().map(String::as_str).collect::<Vec<_>>(), 0).await;
    assert!(report.passed && report.targets[0].gates[0].passed);
    let doc = std::fs::read_to_string(&junit).unwrap();
    assert!(roxmltree::Document::parse(&doc).unwrap().descendants().all(|n| !n.has_tag_name("failure")));
}

#[tokio::test(flavor = "multi_thread")]
async fn warmup_failures_are_not_blamed_on_the_deploy_unless_asked() {
    let server = TestServer::start().await;
    let deploy = script(&server, "noop", "echo deployed\nsleep 0.2\n");
    let url = server.url("/");
    // The target is down for the first 200 ms of a 700 ms warmup, then fine.
    let run = |phase: Option<&'static str>, code: i32| {
        let mut args = vec!["--warmup", "700ms", "--cooldown", "300ms", "-r", "50", "--max-downtime", "0s"];
        if let Some(phase) = phase {
            args.extend(["--gate-phase", phase]);
        }
        args.extend([url.as_str(), "--", deploy.to_str().unwrap()]);
        let run = blip_json(&args, code);
        let server = &server;
        async move {
            server.set(Mode::Status(503, ""));
            let (report, _) = tokio::join!(run, async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                server.set(Mode::Ok);
            });
            report
        }
    };
    let report = run(None, 0).await;
    assert_eq!(report.gate_phases.as_deref(), Some("deploy+cooldown"));
    assert_eq!(report.targets[0].outage_count, 1, "the warmup outage is still reported");
    let report = run(Some("all"), 1).await;
    assert_eq!(report.gate_phases.as_deref(), Some("all"));
    assert!(!report.targets[0].gates[0].passed);
}

#[tokio::test(flavor = "multi_thread")]
async fn gates_without_a_command_judge_the_whole_run() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let outage = || server.inject(Duration::from_millis(300), Mode::Status(502, ""), Duration::from_millis(300));
    // Limits on either side of a 300 ms outage at 100 probes/s (±10 ms).
    // A gate that bounds no downtime (a status, a latency) has blip's max-downtime 0s beside
    // it, which the outage fails.
    let cases: &[(&[&str], i32)] = &[
        (&["--max-outage", "500ms"], 0),
        (&["--max-outage", "200ms"], 1),
        (&["--max-downtime", "500ms"], 0),
        (&["--max-downtime", "0s"], 1),
        (&["--max-failed", "50"], 0),
        (&["--max-failed", "10"], 1),
        (&["--max-failed", "40%"], 0),
        (&["--max-failed", "10%"], 1),
        (&["--fail-on-status", "404", "--max-downtime", "1s"], 0),
        (&["--fail-on-status", "404"], 1),
        (&["--fail-on-status", "5xx", "--max-downtime", "1s"], 1),
        (&["--max-latency", "p50=1s", "--max-outages", "1"], 0),
        (&["--max-latency", "p50=1s"], 1),
        (&["--max-latency", "max=1us", "--max-outages", "1"], 1),
    ];
    for (gate, code) in cases {
        let mut args = vec!["-r", "100", "-d", "1s"];
        args.extend(*gate);
        args.push(&url);
        let (report, _) = tokio::join!(blip_json(&args, *code), outage());
        assert_eq!(report.passed, *code == 0, "{gate:?}");
        let gates = &report.targets[0].gates;
        let default = gates.iter().filter(|g| g.default).count();
        assert_eq!(gates.len(), gate.len() / 2 + default, "{gate:?}: {gates:?}");
        assert_eq!(default, usize::from(gate.len() == 2 && ["--fail-on-status", "--max-latency"].contains(&gate[0])));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_fast_stops_the_deploy_at_the_first_settled_failure() {
    let server = TestServer::start().await;
    let deploy = script(&server, "hang", "echo 404 >CONTROL\nsleep 20 &\nwait\n");
    let started = Instant::now();
    let report = blip_json(
        &[
            "--warmup",
            "300ms",
            "--cooldown",
            "5s",
            "--fail-on-status",
            "404",
            "--fail-fast",
            &server.url("/"),
            "--",
            deploy.to_str().unwrap(),
        ],
        1,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5), "stopped early: {:?}", started.elapsed());
    let d = report.deploy.unwrap();
    assert_eq!(d.signal.as_deref(), Some("SIGTERM"), "stopped the way Ctrl-C does: {d:?}");
    assert!(!report.passed);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_actions_get_annotations_and_a_step_summary() {
    let server = TestServer::start().await;
    server.set(Mode::Status(404, "gone"));
    let dir = tempdir("github");
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "20", "-d", "300ms", "--fail-on-status", "404", &server.url("/")])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let annotation = stdout.lines().find(|l| l.starts_with("::error ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(annotation.starts_with("::error title=blip gate fail-on-status 404 failed::"), "{annotation}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n## ❌ blip: **failed ("), "appended: {md}");
    assert!(md.contains("### Timeline") && md.contains('🟥'), "a strip with the failures: {md}");

    // --markdown PATH writes its file, and the job summary still gets the same.
    let markdown = dir.join("blip.md");
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "20", "-d", "300ms", "--fail-on-status", "404", "--markdown"])
        .arg(&markdown)
        .arg(server.url("/"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let file = std::fs::read_to_string(&markdown).unwrap();
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(file.starts_with("## ❌ blip: **failed ("), "{file}");
    assert_eq!(md.matches("## ❌ blip").count(), 2, "appended once more: {md}");
    assert!(md.ends_with(&file), "the same summary: {md}");

    // Outside GitHub Actions, none of it.
    let out = blip(&["-r", "20", "-d", "200ms", "--fail-on-status", "404", &server.url("/")]).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("::error"));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_probes_streams_every_probe_to_stdout() {
    let server = TestServer::start().await;
    let out =
        blip(&["-r", "50", "-d", "400ms", "--ui", "quiet", "--events", "-", "--events-probes", &server.url("/")]).await;
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let probes: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "probe").collect();
    assert_eq!(probes.len(), 20);
    assert!(probes.iter().all(|p| p["ok"] == true && p["status"] == 200));
    let end = lines.last().unwrap();
    assert_eq!((end["event"].as_str(), end["targets"][0]["probes"].as_u64()), (Some("run_end"), Some(20)));
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_are_coloured_on_a_ci_log_that_shows_colour_and_never_under_no_color() {
    let server = TestServer::start().await;
    server.set(Mode::Status(404, "gone"));
    let run = |env: &'static [(&'static str, &'static str)], color: &'static str| {
        let url = server.url("/");
        async move {
            let out = tokio::process::Command::new(crate::support::BLIP)
                .args(["-r", "20", "-d", "300ms", "--ui", "lines", "--color", color, "--fail-on-status", "404", &url])
                .env_remove("GITHUB_ACTIONS")
                .env_remove("NO_COLOR")
                .envs(env.iter().copied())
                .output()
                .await
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let red_down = "\x1b[38;5;9mDOWN\x1b[39m";
    let plain = run(&[], "auto").await;
    assert!(!plain.contains('\x1b') && plain.contains("  DOWN  "), "a pipe gets no escapes: {plain}");
    let ci = run(&[("GITHUB_ACTIONS", "true")], "auto").await;
    assert!(ci.contains(red_down) && ci.contains("\x1b[38;5;9mFAILED: "), "{ci:?}");
    let no_color = run(&[("GITHUB_ACTIONS", "true"), ("NO_COLOR", "1")], "auto").await;
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
    assert!(run(&[], "always").await.contains(red_down));
    assert!(!run(&[("GITHUB_ACTIONS", "true")], "never").await.contains('\x1b'));
    crate::support::assert_refused(&[(&["--color", "sometimes", "http://127.0.0.1:9/"], "--color")]).await;
}
