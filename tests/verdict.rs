//! The verdict a CI user reads without the manual: the zero-downtime default holds beside any
//! gate that does not bound downtime, a failed COMMAND is red in every report, a deploy that ends
//! too soon is named, and blip never starts a deploy over a URL that never answered.

use crate::support::server::{Mode, TestServer};
use crate::support::{blip, blip_json, script, tempdir};

/// The listener goes away 0.2 s into the deploy for 1 s (refused connections), then comes back.
const STOP_1S: &str = "sleep 0.2\necho refused >CONTROL\nsleep 1\necho ok >CONTROL\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_status_gate_alone_keeps_the_zero_downtime_default() {
    let server = TestServer::start().await;
    let deploy = script(&server, "stop-1s", STOP_1S);
    let url = server.url("/api/notes");
    let run = |extra: &'static [&'static str], code| {
        let mut args = vec!["-r", "50", "--warmup", "500ms", "--cooldown", "500ms", "--fail-on-status", "404"];
        args.extend(extra);
        args.extend([url.as_str(), "--", deploy.to_str().unwrap()]);
        blip_json(&args, code)
    };
    let report = run(&[], 1).await;
    let t = &report.targets[0];
    // Ground truth: the server refused connections for 1 s, so no request of that span reached it.
    assert!(t.failed > 0 && t.downtime_ms > 500.0, "{t:?}");
    assert!(report.default_gates && !report.passed);
    let names: Vec<(&str, bool, bool)> = t.gates.iter().map(|g| (g.gate.as_str(), g.default, g.passed)).collect();
    assert_eq!(names, [("fail-on-status 404", false, true), ("max-downtime 0s", true, false)]);
    // A limit given by the user replaces the default: the same deploy passes.
    let report = run(&["--max-downtime", "5s"], 0).await;
    assert!(!report.default_gates && report.passed);
    let names: Vec<&str> = report.targets[0].gates.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(names, ["fail-on-status 404", "max-downtime 5s"]);
    // The text says which gate blip added.
    let out = blip(&[
        "-r",
        "50",
        "--warmup",
        "500ms",
        "--cooldown",
        "500ms",
        "--fail-on-status",
        "404",
        &url,
        "--",
        deploy.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED  max-downtime 0s (default): observed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_command_is_red_in_every_report() {
    let server = TestServer::start().await;
    let deploy = script(&server, "exit-7", "echo 'pushing notes'\necho 'staging failed' >&2\nsleep 0.3\nexit 7\n");
    let dir = tempdir("exit-7-reports");
    let (junit, summary, markdown, html) =
        (dir.join("r.xml"), dir.join("summary.md"), dir.join("r.md"), dir.join("r.html"));
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "50", "--warmup", "300ms", "--cooldown", "300ms", "--json", "-"])
        .args(["--junit", junit.to_str().unwrap(), "--markdown", markdown.to_str().unwrap()])
        .args(["--html", html.to_str().unwrap(), &server.url("/"), "--", deploy.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::check_schema(&report);
    assert_eq!(report["passed"], false, "the JSON verdict agrees with the exit code");
    assert_eq!(report["targets"][0]["failed"], 0, "the service itself never failed");
    for path in [&summary, &markdown] {
        let text = std::fs::read_to_string(path).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first, "## ❌ blip: **deploy failed (exit code 7)**", "{}", path.display());
    }
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<span class=\"failed\">deploy failed (exit code 7)</span>"), "{html}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_ne!(root.attribute("failures"), Some("0"), "{xml}");
    let case = doc.descendants().find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("deploy")).unwrap();
    let failure = case.children().find(|n| n.has_tag_name("failure")).expect("the deploy testcase fails");
    assert!(failure.attribute("message").unwrap().contains("exit code 7"), "{xml}");
    assert!(failure.text().unwrap_or_default().contains("staging failed"), "the command's last lines: {xml}");
    assert!(stderr.contains("::error title=blip%3A deploy failed (exit code 7)::"), "{stderr}");
    // The last line of the summary (before the annotations) agrees with the exit code.
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with("::")).unwrap();
    assert!(last.contains("FAILED: the COMMAND failed (exit code 7); gates: every gate held"), "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_that_returns_at_once_is_named_in_every_report() {
    let server = TestServer::start().await;
    let dir = tempdir("min-deploy");
    let markdown = dir.join("r.md");
    let args = ["-r", "50", "--warmup", "300ms", "--cooldown", "300ms", "--markdown", markdown.to_str().unwrap()];
    let out = blip(&[&args[..], &["--json", "-", &server.url("/"), "--", "true"]].concat()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings: Vec<&str> = report["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(warnings.iter().any(|w| w.contains("rollout status") && w.contains("--min-deploy 2s")), "{warnings:?}");
    assert!(stderr.contains("WARNING: the command succeeded after"), "said live: {stderr}");
    assert!(stderr.contains("warning: the COMMAND ended after") && stderr.contains("rollout status"), "{stderr}");
    assert!(std::fs::read_to_string(&markdown).unwrap().contains("rollout status"));
    // 0s turns it off; a deploy that takes its time is not warned about.
    let report = blip_json(&[&args[..], &["--min-deploy", "0s", &server.url("/"), "--", "true"]].concat(), 0).await;
    assert!(report.warnings.iter().all(|w| !w.contains("rollout")), "{:?}", report.warnings);
    let report =
        blip_json(&[&args[..], &["--min-deploy", "200ms", &server.url("/"), "--", "sleep", "0.4"]].concat(), 0).await;
    assert!(report.warnings.iter().all(|w| !w.contains("rollout")), "{:?}", report.warnings);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_that_never_answered_in_the_warmup_is_never_deployed_over() {
    let server = TestServer::start().await;
    server.set(Mode::Status(404, "no such path"));
    let dir = tempdir("blind");
    let touched = dir.join("deployed");
    let (junit, markdown) = (dir.join("r.xml"), dir.join("r.md"));
    let deploy = format!("touch {}", touched.display());
    let mut args = vec!["-r", "50", "--warmup", "400ms", "--cooldown", "300ms", "--junit", junit.to_str().unwrap()];
    args.extend(["--markdown", markdown.to_str().unwrap()]);
    let url = server.url("/api/typo");
    let report = blip_json(&[&args[..], &[url.as_str(), "--", "sh", "-c", &deploy]].concat(), 2).await;
    assert!(!touched.exists(), "the COMMAND was not started");
    assert_eq!(report.stop_reason.as_deref(), Some("down_before_deploy"));
    assert!(!report.passed);
    let t = &report.targets[0];
    // Every probe the server answered is in the report, and every one of them failed.
    assert_eq!((t.probes, t.ok), (server.requests(), 0));
    assert!(t.probes >= 15, "the warmup's probes: {t:?}");
    assert!(report.deploy.as_ref().unwrap().start_offset_ms.is_none());
    assert!(std::fs::read_to_string(&markdown).unwrap().starts_with("## ❌ blip: **deploy not started"));
    assert!(std::fs::read_to_string(&junit).unwrap().contains("deploy not started"));
    // One clear line names the URL and what it answered.
    let out = blip(&[&args[..], &[url.as_str(), "--", "sh", "-c", &deploy]].concat()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    let line = stdout.lines().find(|l| l.contains("not starting the COMMAND")).expect(&stdout);
    assert!(line.contains(&url) && line.contains("404"), "{line}");
    assert!(!touched.exists());
    // Asked for, the deploy goes ahead, loudly.
    args.push("--allow-down-before-deploy");
    let out = blip(&[&args[..], &[url.as_str(), "--", "sh", "-c", &deploy]].concat()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(touched.exists(), "{stdout}");
    assert!(stdout.contains("starting the COMMAND anyway (--allow-down-before-deploy)"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "judged as usual: {stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_warmup_the_deploy_runs_and_a_dead_url_still_fails() {
    // --warmup 0s checks nothing before the COMMAND: it runs, said so, and is judged as usual.
    let server = TestServer::start().await;
    let dir = tempdir("no-warmup");
    let touched = dir.join("deployed");
    let deploy = format!("sleep 0.3; touch {}", touched.display());
    let args = ["-r", "50", "--warmup", "0s", "--cooldown", "200ms", "--min-deploy", "0s"];
    let out = blip(&[&args[..], &[server.url("/").as_str(), "--", "sh", "-c", &deploy]].concat()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(touched.exists() && stdout.contains("--warmup 0s: the URLs were not checked"), "{stdout}");
    std::fs::remove_file(&touched).unwrap();
    server.set(Mode::Status(404, "no such path"));
    let report = blip_json(&[&args[..], &[server.url("/").as_str(), "--", "sh", "-c", &deploy]].concat(), 1).await;
    assert!(touched.exists(), "the COMMAND ran");
    assert_eq!((report.targets[0].ok, report.stop_reason.as_deref()), (0, None));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_request_that_ends_the_command_ends_on_a_line_that_agrees_with_the_exit() {
    use nix::sys::signal::{Signal, kill};
    let server = TestServer::start().await;
    let child = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "20", "--warmup", "300ms", "--ui", "lines", &server.url("/"), "--", "sleep", "30"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // SIGINT, as Ctrl-C or the dashboard's `q`: the command is ended with it, so it failed.
    kill(nix::unistd::Pid::from_raw(child.id().unwrap() as i32), Signal::SIGINT).unwrap();
    let out =
        tokio::time::timeout(std::time::Duration::from_secs(15), child.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.starts_with("FAILED: the COMMAND failed (killed by SIGINT); gates: every gate held"), "{last}");
    assert!(server.requests() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn gates_on_two_lanes_are_counted_as_the_user_gave_them() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let args = ["-r", "50", "-d", "1s", "--connections", "both", "--fail-on-status", "404", "--max-downtime", "0s"];
    let out = blip(&[&args[..], &[url.as_str()]].concat()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert_eq!(last, "passed: every gate held (4 gate checks: 2 gates × 2 lanes)");
    // A 404 for 300 ms fails both gates on both lanes.
    let (out, _) = tokio::join!(
        blip(&[&args[..], &[url.as_str()]].concat()),
        server.inject(
            std::time::Duration::from_millis(300),
            Mode::Status(404, "gone"),
            std::time::Duration::from_millis(300)
        )
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert_eq!(last, "FAILED: 4 of 4 gate checks failed (2 gates × 2 lanes)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_deadline_counts_from_its_due_time_even_on_a_busy_machine() {
    let server = TestServer::start().await;
    server.set(Mode::DelayBetween(std::time::Duration::from_millis(995), std::time::Duration::from_millis(1005)));
    // Both cores busy, as a shared CI runner is: blip sends late.
    let hogs: Vec<std::process::Child> =
        (0..2).map(|_| std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap()).collect();
    let report = blip_json(&["-r", "200", "-d", "3s", "-t", "1s", "--measure-only", &server.url("/")], 0).await;
    for mut hog in hogs {
        let _ = hog.kill();
        let _ = hog.wait();
    }
    let t = &report.targets[0];
    // Every ok probe answered within its deadline from its due time, whatever the send lag.
    if let Some(latency) = &t.latency_ms {
        assert!(
            latency.max <= 1000.0,
            "an ok probe {} ms after its due time, send lag max {}",
            latency.max,
            t.send_lag_ms.max
        );
    }
    let timeouts = t.error_counts.get("timeout").copied().unwrap_or(0);
    assert_eq!(t.ok + timeouts, t.probes, "every probe is ok or a timeout: {t:?}");
    assert!(timeouts > 0 && t.probes >= 400, "{t:?}");
}
