//! Wrapping a deploy: phases, the command's exit and output, signals, exit code 3.

use std::time::{Duration, Instant};

use crate::support::server::{Mode, TestServer};
use crate::support::{BLIP, Report, blip, blip_json, ms, script, tempdir, tolerance_of};

/// The injected span from the first change away from `ok` to the next `ok`.
fn injected(server: &TestServer) -> f64 {
    let changes = server.changes();
    let down = changes.iter().find(|(_, m)| *m != Mode::Ok).expect("the script injected a fault").0;
    let up = changes.iter().find(|(at, m)| *m == Mode::Ok && *at > down).expect("and cleared it").0;
    ms(up - down)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_deploy_outage_lands_in_the_deploy_phase() {
    let server = TestServer::start().await;
    let deploy = script(
        &server,
        "restart",
        // The fault comes 0.2 s into the deploy: a warmup probe sent late on a busy machine is
        // booked to the warmup by its due time, and must not meet it.
        "sleep 0.2\necho 'Stopping app notes...'\necho 404 >CONTROL\nsleep 0.5\necho ok >CONTROL\necho 'Starting app notes... done'\nsleep 0.2\n",
    );
    let url = server.url("/api/notes");
    let report = blip_json(
        &["--warmup", "1s", "--cooldown", "1s", "-r", "100", "--measure-only", &url, "--", deploy.to_str().unwrap()],
        0,
    )
    .await;

    let d = report.deploy.as_ref().expect("a deploy object");
    assert_eq!((d.exit_code, d.succeeded, d.signal.as_deref()), (Some(0), true, None));
    assert_eq!(d.command, [deploy.to_str().unwrap()]);
    assert!(d.output_tail.iter().any(|l| l == "Starting app notes... done"), "{:?}", d.output_tail);
    let (start, duration) = (d.start_offset_ms.unwrap(), d.duration_ms.unwrap());
    assert!((1000.0..1100.0).contains(&start), "the deploy started after the warmup: {start}");
    assert!(duration >= 700.0, "{duration}");
    assert!(report.duration_ms >= start + duration + 1000.0 - 1.0, "the cooldown ran");

    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    let o = &t.outages[0];
    assert_eq!(o.phase.as_deref(), Some("deploy"));
    assert!((o.duration_ms - injected(&server)).abs() <= tolerance_of(100.0, t), "{o:?}");
    let phases = t.phases.as_ref().expect("phases");
    assert_eq!(phases["warmup"].failed, 0);
    assert_eq!(phases["deploy"].failed, o.failed_probes);
    assert_eq!(phases["cooldown"].failed, 0);
    let probes: u64 = phases.values().map(|p| p.probes).sum();
    assert_eq!(probes, t.probes, "every probe is in one phase");
    assert!((phases["deploy"].downtime_ms - o.duration_ms).abs() < 0.01);
    let timing = t.deploy_timing.as_ref().unwrap();
    let first = timing.first_failure_ms.unwrap();
    assert!((0.0..duration).contains(&first), "{timing:?}");
    assert!((timing.recovered_ms.unwrap() - (first + o.duration_ms)).abs() < 0.01, "{timing:?}");
    assert!(!report.warnings.iter().any(|w| w.contains("before the deploy")), "{:?}", report.warnings);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_after_the_command_exits_lands_in_cooldown() {
    let server = TestServer::start().await;
    let deploy = script(
        &server,
        "late",
        "(sleep 0.3; echo 503 >CONTROL; sleep 0.4; echo ok >CONTROL) >/dev/null 2>&1 &\necho deployed\n",
    );
    let report = blip_json(
        &["--warmup", "300ms", "--cooldown", "1500ms", "-r", "100", &server.url("/"), "--", deploy.to_str().unwrap()],
        1,
    )
    .await;
    let t = &report.targets[0];
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    assert_eq!(t.outages[0].phase.as_deref(), Some("cooldown"));
    assert!((t.outages[0].duration_ms - injected(&server)).abs() <= tolerance_of(100.0, t));
    assert_eq!(t.phases.as_ref().unwrap()["deploy"].failed, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_failing_before_the_deploy_is_called_out() {
    let server = TestServer::start().await;
    server.set(Mode::Status(503, ""));
    let deploy = script(&server, "fix", "echo ok >CONTROL\n");
    // The URL answers again 300 ms into the 500 ms warmup: failing before the deploy, and not
    // down for the whole warmup, which would keep blip from starting the deploy at all.
    let recover = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.set(Mode::Ok);
    };
    let (out, ()) = tokio::join!(
        blip(&[
            "--warmup",
            "500ms",
            "--cooldown",
            "300ms",
            "-r",
            "50",
            &server.url("/"),
            "--",
            deploy.to_str().unwrap(),
        ]),
        recover
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("WARNING") && stdout.contains("already failing before the deploy"), "{stdout}");
    // Its start is booked to warmup; it ends in warmup or after, as the command's first act
    // (the fix) lands.
    assert!(stdout.contains("[warmup]") || stdout.contains("[warmup→"), "the window is booked to warmup: {stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_command_exits_3_after_the_report() {
    let server = TestServer::start().await;
    let deploy = script(&server, "fails", "echo 'staging failed' >&2\nexit 7\n");
    let dir = tempdir("fails-report");
    let path = dir.join("report.json");
    let out = blip(&[
        "--warmup",
        "200ms",
        "--cooldown",
        "200ms",
        "--json",
        path.to_str().unwrap(),
        &server.url("/"),
        "--",
        deploy.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("! staging failed"), "the command's stderr is shown whole: {stdout}");
    let verdict = stdout.lines().last().unwrap_or_default();
    assert!(
        verdict.starts_with("FAILED: the COMMAND failed (exit code 7); gates: "),
        "the verdict says why it exits 3: {stdout}"
    );
    let report: Report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let d = report.deploy.unwrap();
    assert_eq!((d.exit_code, d.succeeded), (Some(7), false));
    assert_eq!(d.output_tail, ["staging failed"]);
    assert!(report.targets[0].probes > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_command_exits_3_without_probing() {
    let server = TestServer::start().await;
    for missing in ["./no-such-deploy.sh", "no-such-deploy-tool"] {
        let started = Instant::now();
        let out = blip(&["--warmup", "2s", &server.url("/"), "--", missing, "push"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(missing), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(2), "no warmup was spent");
    }
    assert_eq!(server.requests(), 0);
}

/// Stops a wrapped command mid-deploy with `signal` sent to blip, and checks what both must do:
/// the command gets SIGTERM (its trap prints `got TERM`), the report is written, no cooldown is
/// spent or listed, and blip exits 3 (the command was stopped).
async fn a_stop_signal_reaches_the_command(signal: &str) {
    let server = TestServer::start().await;
    let deploy = script(&server, signal, "trap 'echo got TERM; exit 143' TERM\necho pushing\nsleep 30 &\nwait\n");
    let dir = tempdir(&format!("stop-{signal}"));
    let path = dir.join("report.json");
    let child = tokio::process::Command::new(BLIP)
        .args(["--warmup", "300ms", "--cooldown", "5s", "--ui", "quiet", "--json", path.to_str().unwrap()])
        .args([&server.url("/"), "--", deploy.to_str().unwrap()])
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let signalled = Instant::now();
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await.unwrap().unwrap();
    assert!(signalled.elapsed() < Duration::from_secs(4), "no cooldown after a stop request");
    assert_eq!(out.status.code(), Some(3), "the command failed: it was stopped ({signal})");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("got TERM"), "quiet still passes the command's output through: {stdout}");
    let report: Report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let d = report.deploy.unwrap();
    assert_eq!(d.exit_code, Some(143), "the command got SIGTERM: {d:?}");
    assert!(d.output_tail.contains(&"got TERM".to_string()));
    assert!(report.targets[0].probes > 0);
    let phases = report.targets[0].phases.as_ref().unwrap();
    assert!(!phases.contains_key("cooldown"), "a cooldown the stop skipped is not listed: {phases:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_reaches_the_command_and_the_report_is_written() {
    a_stop_signal_reaches_the_command("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_stops_the_run_like_sigterm() {
    a_stop_signal_reaches_the_command("HUP").await;
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_and_its_process_group_die_with_a_killed_blip() {
    let server = TestServer::start().await;
    let dir = tempdir("orphans");
    let pids = dir.join("pids");
    // A process group of two: a background sleep, and the command's own process (exec'd).
    let deploy = script(&server, "orphans", &format!("sleep 100 &\necho $$ $! >{}\nexec sleep 100\n", pids.display()));
    let mut child = tokio::process::Command::new(BLIP)
        .args(["--warmup", "100ms", "--ui", "quiet", &server.url("/"), "--", deploy.to_str().unwrap()])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let line = loop {
        match std::fs::read_to_string(&pids) {
            Ok(line) if line.ends_with('\n') => break line,
            _ if started.elapsed() > Duration::from_secs(10) => panic!("the command never started"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    let pids: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(pids.len(), 2, "{line}");
    assert!(pids.iter().all(|pid| !ended(pid)));
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let killed = Instant::now();
    while !pids.iter().all(|pid| ended(pid)) && killed.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let alive: Vec<&&str> = pids.iter().filter(|pid| !ended(pid)).collect();
    for pid in &alive {
        let _ = std::process::Command::new("kill").args(["-KILL", pid]).status();
    }
    assert!(alive.is_empty(), "still running after blip was killed: {alive:?} of {pids:?}");
}

/// Probes due in a phase: its length times the rate, give or take one probe interval at either
/// end (a probe due on the boundary, and the instant the boundary is booked).
fn check_phase_probes(phase: &str, p: &crate::support::Phase, rate: f64) {
    let expected = (p.end_offset_ms - p.start_offset_ms) * rate / 1000.0;
    assert!(
        (p.probes as f64 - expected).abs() <= 2.0,
        "{phase}: {} probes in a span of {expected:.1} intervals",
        p.probes
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_phase_ends_when_the_command_exits_though_a_daemon_holds_its_output() {
    let server = TestServer::start().await;
    let dir = tempdir("daemon");
    let pid = dir.join("pid");
    // The command exits at once; the daemon it leaves holds its stdout for 2 s, and writes later.
    let deploy = script(
        &server,
        "daemon",
        &format!("(sleep 0.5; echo from the daemon; sleep 1.5) &\necho $! >{}\necho started\nexit 0\n", pid.display()),
    );
    let rate = 200.0;
    let out = blip(&[
        "--warmup",
        "300ms",
        "--cooldown",
        "1s",
        "-r",
        "200",
        "--json",
        dir.join("r.json").to_str().unwrap(),
        &server.url("/"),
        "--",
        deploy.to_str().unwrap(),
    ])
    .await;
    if let Ok(pid) = std::fs::read_to_string(&pid) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Report = serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let d = report.deploy.as_ref().unwrap();
    assert!(d.duration_ms.unwrap() < 200.0, "the command's own run: {d:?}");
    let t = &report.targets[0];
    let phases = t.phases.as_ref().unwrap();
    let deploy_phase = &phases["deploy"];
    assert!((deploy_phase.end_offset_ms - d.end_offset_ms.unwrap()).abs() < 0.01, "{phases:?}");
    for (name, phase) in phases {
        check_phase_probes(name, phase, rate);
    }
    assert!(
        (phases["cooldown"].end_offset_ms - phases["cooldown"].start_offset_ms - 1000.0).abs() <= tolerance_of(rate, t)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| from the daemon"), "output after the command exited is shown: {stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_passes_a_long_line_through_whole() {
    let server = TestServer::start().await;
    let deploy = script(&server, "long-line", "head -c 40000 /dev/zero | tr '\\0' y\necho\nprintf 'no end'\n");
    let out = blip(&[
        "--warmup",
        "100ms",
        "--cooldown",
        "100ms",
        "--ui",
        "quiet",
        &server.url("/"),
        "--",
        deploy.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = format!("{}\nno end", "y".repeat(40000));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "the output as the command wrote it");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_tells_restart_from_blue_green() {
    let (restart, blue_green) =
        tokio::join!(blip_json(&["demo"], 0), blip_json(&["demo", "--style", "blue-green", "-r", "200"], 0));
    let t = &restart.targets[0];
    t.check_consistency();
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    let o = &t.outages[0];
    assert_eq!(o.causes.keys().collect::<Vec<_>>(), ["404 unknown_route (router)"], "the demo router says it answered");
    assert_eq!(o.phase.as_deref(), Some("deploy"));
    assert!(o.first_error.contains("Requested route ('notes.demo') does not exist."));
    assert!((o.duration_ms - 1500.0).abs() <= tolerance_of(restart.rate, t), "{o:?}");
    let deploy = restart.deploy.unwrap();
    assert!(deploy.succeeded);
    // Reports name the simulated deploy as the demo does, and keep its real command line.
    assert_eq!(deploy.label.as_deref(), Some("demo deploy (restart)"));
    assert!(deploy.command.iter().any(|a| a == "demo-deploy"), "{:?}", deploy.command);

    let t = &blue_green.targets[0];
    t.check_consistency();
    assert_eq!((t.failed, t.outage_count), (0, 0), "{t:#?}");
    assert!(t.phases.as_ref().unwrap()["deploy"].probes > 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdout_nobody_reads_does_not_stall_the_probes() {
    use tokio::io::AsyncReadExt as _;
    let server = TestServer::start().await;
    // 2 MB of output, far more than a pipe holds, printed at once by the wrapped command.
    let flood = script(&server, "flood", "head -c 2000000 /dev/zero | tr '\\0' x | fold -w 100\n");
    let dir = tempdir("flood-report");
    let path = dir.join("report.json");
    let mut child = tokio::process::Command::new(BLIP)
        .args(["-r", "20", "--warmup", "100ms", "--cooldown", "1500ms", "--json", path.to_str().unwrap()])
        .args([&server.url("/"), "--", flood.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Nobody reads blip's stdout for 2.5 s, longer than the whole run's schedule.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut stdout = child.stdout.take().unwrap();
    let mut printed = Vec::new();
    stdout.read_to_end(&mut printed).await.unwrap();
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
    assert!(printed.len() > 2_000_000, "every line of the command was passed on");
    let report: Report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let t = &report.targets[0];
    assert_eq!(t.failed, 0);
    // Had the blocked stdout stalled the schedule, probes would have been sent up to 2.5 s late.
    assert!(t.send_lag_ms.max < 1000.0, "send lag {:?}", t.send_lag_ms);
}
