//! Who answered around a deploy: two app versions behind a test switch, a deploy script that
//! flips it with known timing, and the cutover blip reports against what the switch served.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::{Report, assert_refused, blip_json, tempdir, tolerance, tolerance_of};

/// Which instance the switch sends requests to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    V1,
    /// Both, taking turns, v2 first.
    Both,
    V2,
    /// Neither: the router answers 503.
    None,
}

/// What the switch served: the wall-clock time of the last v1 answer and the first v2 answer.
#[derive(Default)]
struct Served {
    requests: u64,
    last_v1: Option<SystemTime>,
    first_v2: Option<SystemTime>,
}

/// A loopback switch in front of two app instances, answering `X-App-Version: v1` or `v2` (and a
/// body naming the instance), switched through a control port as a deploy script would.
struct Switch {
    url: String,
    control: SocketAddr,
    served: Arc<Mutex<Served>>,
}

impl Switch {
    async fn start() -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let route = Arc::new(Mutex::new(Route::V1));
        let served = Arc::new(Mutex::new(Served::default()));
        let (r, s) = (route.clone(), served.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (route, served) = (r.clone(), s.clone());
                let service = service_fn(move |_| {
                    let now = SystemTime::now();
                    let mut served = served.lock().unwrap();
                    served.requests += 1;
                    let version = match *route.lock().unwrap() {
                        Route::V1 => Some("v1"),
                        Route::V2 => Some("v2"),
                        Route::Both if served.requests % 2 == 1 => Some("v2"),
                        Route::Both => Some("v1"),
                        Route::None => None,
                    };
                    let reply = match version {
                        Some(version) => {
                            if version == "v1" {
                                served.last_v1 = Some(now);
                            } else if served.first_v2.is_none() {
                                served.first_v2 = Some(now);
                            }
                            Response::builder()
                                .header("X-App-Version", version)
                                .body(Full::new(Bytes::from(format!("{{\"instance\":\"notes-{version}\"}}"))))
                        }
                        None => {
                            Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).body(Full::new(Bytes::new()))
                        }
                    };
                    std::future::ready(Ok::<_, Infallible>(reply.unwrap()))
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        let control_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let control = control_listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt as _;
            loop {
                let Ok((stream, _)) = control_listener.accept().await else { continue };
                let mut lines = tokio::io::BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    *route.lock().unwrap() = match line.trim() {
                        "v1" => Route::V1,
                        "both" => Route::Both,
                        "v2" => Route::V2,
                        _ => Route::None,
                    };
                }
            }
        });
        Switch { url, control, served }
    }

    /// A deploy script; `CONTROL` in `body` is the switch's control port.
    fn script(&self, name: &str, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt as _;
        let path = tempdir(name).join(format!("{name}.sh"));
        let control = format!("/dev/tcp/127.0.0.1/{}", self.control.port());
        std::fs::write(&path, format!("#!/usr/bin/env bash\n{}", body.replace("CONTROL", &control))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// The last v1 and first v2 answer, in ms from the deploy's start as the report gives it.
    fn truth(&self, report: &Report) -> (f64, f64) {
        let started = unix_ms(&report.started_at) + report.deploy.as_ref().unwrap().start_offset_ms.unwrap();
        let since =
            |at: Option<SystemTime>| at.unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1e3 - started;
        let served = self.served.lock().unwrap();
        (since(served.last_v1), since(served.first_v2))
    }
}

/// An RFC 3339 UTC time with milliseconds (`2026-11-27T02:30:00.123Z`), as Unix milliseconds.
fn unix_ms(text: &str) -> f64 {
    let n = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    secs as f64 * 1e3 + n(20..23) as f64
}

const RATE: f64 = 50.0;

async fn deploy(switch: &Switch, name: &str, script: &str) -> Report {
    let script = switch.script(name, script);
    blip_json(
        &[
            "-r",
            "50",
            "--warmup",
            "500ms",
            "--cooldown",
            "500ms",
            "--measure-only",
            "--track-header",
            "X-App-Version",
            &switch.url,
            "--",
            &script,
        ],
        0,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn blue_green_shows_the_overlap_of_old_and_new() {
    let switch = Switch::start().await;
    let report =
        deploy(&switch, "blue-green", "sleep 0.3\necho both >CONTROL\nsleep 0.4\necho v2 >CONTROL\nsleep 0.2\n").await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.failed, 0, "{t:#?}");
    let (last_v1, first_v2) = switch.truth(&report);
    let c = t.cutover.as_ref().expect("a cutover with a COMMAND and --track-header");
    assert_eq!(c.source, "header x-app-version");
    let ([old], [new]) = (c.old.as_slice(), c.new.as_slice()) else { panic!("{c:?}") };
    assert_eq!((old.value.as_str(), new.value.as_str()), ("v1", "v2"));
    let within = |blip: f64, truth: f64| (blip - truth).abs() <= tolerance_of(RATE, t);
    assert!(within(old.at_ms, last_v1), "v1 last answered at {last_v1:.1} ms, blip says {}", old.at_ms);
    assert!(within(new.at_ms, first_v2), "v2 first answered at {first_v2:.1} ms, blip says {}", new.at_ms);
    let overlap = c.overlap_ms.expect("an overlap");
    assert!((overlap - (last_v1 - first_v2)).abs() <= tolerance_of(RATE, t), "{overlap} vs {}", last_v1 - first_v2);
    // Taking turns (v2 first), the first v2 answer comes up to one interval after the switch to
    // both and the last v1 answer up to two before the switch to v2 alone.
    let interval = 1000.0 / RATE;
    assert!(overlap >= 400.0 - 3.0 * interval - 5.0, "the switch sent to both for 0.4 s: {overlap}");
    assert_eq!(c.gap_ms, None);
    let values = &t.tracked[0].values;
    assert_eq!(values.iter().map(|v| v.probes).sum::<u64>(), t.probes);
    let per_second: u64 = values.iter().flat_map(|v| &v.timeline).map(|p| p.probes).sum();
    assert_eq!(per_second, t.probes);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_switch_is_no_gap() {
    let switch = Switch::start().await;
    let report = deploy(&switch, "switch", "sleep 0.3\necho v2 >CONTROL\nsleep 0.4\n").await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.failed, 0, "{t:#?}");
    let c = t.cutover.as_ref().unwrap();
    let ([old], [new]) = (c.old.as_slice(), c.new.as_slice()) else { panic!("{c:?}") };
    // Adjacent probes: the last v1 and the first v2 answer at most an interval (and the send
    // lag) apart, and nothing between them failed.
    assert!(new.at_ms - old.at_ms <= tolerance_of(RATE, t), "{c:?}");
    assert_eq!((c.gap_ms, c.overlap_ms, c.failed_between), (None, None, 0), "{c:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_shows_the_gap_between_old_and_new() {
    let switch = Switch::start().await;
    let report =
        deploy(&switch, "restart", "sleep 0.3\necho none >CONTROL\nsleep 0.4\necho v2 >CONTROL\nsleep 0.2\n").await;
    let t = &report.targets[0];
    t.check_consistency();
    let (last_v1, first_v2) = switch.truth(&report);
    let c = t.cutover.as_ref().unwrap();
    let gap = c.gap_ms.expect("a gap");
    assert!((gap - (first_v2 - last_v1)).abs() <= tolerance_of(RATE, t), "{gap} vs {}", first_v2 - last_v1);
    assert!(gap >= 400.0 - tolerance_of(RATE, t), "nothing served for 0.4 s: {gap}");
    assert_eq!(c.overlap_ms, None);
    assert_eq!(t.outages.len(), 1, "{t:#?}");
    assert_eq!(c.failed_between, t.outages[0].failed_probes, "the probes of the hole, and only they");
    assert_eq!(t.tracked[0].missing.probes, t.failed, "the 503s carried no version");
}

#[tokio::test(flavor = "multi_thread")]
async fn track_body_counts_by_the_first_capture_group() {
    let switch = Switch::start().await;
    let report = blip_json(
        &[
            "-r",
            "20",
            "-d",
            "500ms",
            "--track-body",
            r#""instance":"([^"]+)""#,
            "--track-header",
            "X-Nope",
            &switch.url,
        ],
        0,
    )
    .await;
    let t = &report.targets[0];
    assert!(t.cutover.is_none(), "no COMMAND, no cutover");
    let [header, body] = t.tracked.as_slice() else { panic!("{:?}", t.tracked) };
    assert_eq!((header.source.as_str(), header.missing.probes), ("header x-nope", t.probes));
    assert_eq!(body.source, r#"body "instance":"([^"]+)""#);
    assert_eq!(body.values.len(), 1);
    assert_eq!((body.values[0].value.as_str(), body.values[0].probes), ("notes-v1", t.probes));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tracking_flags_are_refused_by_name() {
    assert_refused(&[
        (&["--track-body", "(", "http://127.0.0.1:9/"], "--track-body"),
        (&["--track-body", "v[0-9]+", "http://127.0.0.1:9/"], "no capture group"),
        (&["--track-header", "bad header", "http://127.0.0.1:9/"], "--track-header"),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_a_gap_for_a_restart_and_an_overlap_for_blue_green() {
    let (restart, blue_green) = tokio::join!(blip_json(&["demo"], 0), blip_json(&["demo", "--style", "blue-green"], 0));
    let demo_rate = 50.0;
    let c = restart.targets[0].cutover.as_ref().expect("the demo tracks X-App-Version");
    assert_eq!((c.old[0].value.as_str(), c.new[0].value.as_str()), ("v1", "v2"), "{c:?}");
    // The route has no backend for at least 1.5 s (src/demo: RESTART_GAP); the gap runs from the
    // last v1 answer to the first v2 one, so it is the outage window and one interval before it.
    let gap = c.gap_ms.expect("a restart leaves a gap");
    assert!(gap >= 1500.0 - tolerance(demo_rate), "{gap}");
    let outage = &restart.targets[0].outages[0];
    assert!((gap - (outage.duration_ms + 1000.0 / demo_rate)).abs() < 1.0, "{gap} vs {outage:?}");
    let t = &blue_green.targets[0];
    assert_eq!(t.failed, 0, "{t:#?}");
    let c = t.cutover.as_ref().unwrap();
    assert_eq!((c.old[0].value.as_str(), c.new[0].value.as_str()), ("v1", "v2"), "{c:?}");
    // Green is mapped beside blue for 0.4 s before blue is unmapped (longer when the demo's own
    // admin calls are slow on a busy machine). The two take turns then, so the first v2 answer
    // may come two intervals after the map and the last v1 answer two before the unmap.
    let overlap = c.overlap_ms.expect("blue-green overlaps");
    assert!(overlap >= 400.0 - 4.0 * 1000.0 / demo_rate - 5.0, "{overlap}");
    let text = crate::support::blip(&["demo", "--style", "blue-green", "--ui", "lines"]).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("cutover    v1 until +")
            && l.contains(", v2 from +")
            && l.contains("overlap")),
        "{text}"
    );
}

/// A deploy judged by `--expect-new` (with `extra` gate flags) behind the switch; exit `code`.
async fn expect_new(switch: &Switch, name: &str, script: &str, mode: &str, code: i32) -> Report {
    let script = switch.script(name, script);
    let flag = format!("--expect-new{mode}");
    blip_json(
        &[
            "-r",
            "50",
            "--warmup",
            "500ms",
            "--cooldown",
            "600ms",
            &flag,
            "--track-header",
            "X-App-Version",
            &switch.url,
            "--",
            &script,
        ],
        code,
    )
    .await
}

/// The `expect-new` gate's result on the report's only URL.
fn expect_new_gate(report: &Report) -> &crate::support::GateResult {
    report.targets[0].gates.iter().find(|g| g.gate.starts_with("expect-new")).expect("an expect-new gate")
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_new_fails_a_deploy_that_changed_nothing_and_passes_one_that_did() {
    // The switch never moves: no downtime, and v1 is all that ever answered.
    let switch = Switch::start().await;
    let report = expect_new(&switch, "no-op", "sleep 0.4\n", "", 1).await;
    assert!(switch.served.lock().unwrap().first_v2.is_none(), "the switch served no v2");
    let gate = expect_new_gate(&report);
    assert!(!gate.passed, "{gate:?}");
    assert_eq!(gate.observed, "header x-app-version: no new value served, warmup's v1");
    assert_eq!(report.targets[0].failed, 0, "no probe failed: the downtime gate alone would pass it");

    // v2 takes over during the deploy: passes, and says when v2 first served.
    let switch = Switch::start().await;
    let report = expect_new(&switch, "switched", "sleep 0.3\necho v2 >CONTROL\nsleep 0.3\n", "", 0).await;
    let t = &report.targets[0];
    let (_, first_v2) = switch.truth(&report);
    let gate = expect_new_gate(&report);
    assert!(gate.passed, "{gate:?}");
    let from: f64 = gate.observed.split("from +").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    let deploy_start = report.deploy.as_ref().unwrap().start_offset_ms.unwrap();
    assert!(
        (from * 1000.0 - deploy_start - first_v2).abs() <= tolerance_of(RATE, t),
        "v2 first served {first_v2:.1} ms into the deploy; the gate says +{from} s: {}",
        gate.observed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_new_strict_fails_when_the_old_version_still_answers_in_the_cooldown() {
    // Both versions take turns from 0.3 s into the deploy to the end of the run: v2 served, but
    // v1 still answers through the cooldown.
    let script = "sleep 0.3\necho both >CONTROL\nsleep 0.2\n";
    let switch = Switch::start().await;
    let report = expect_new(&switch, "lingering", script, "=strict", 1).await;
    let cooldown = report.targets[0].phases.as_ref().unwrap()["cooldown"].start_offset_ms;
    let deploy_start = report.deploy.as_ref().unwrap().start_offset_ms.unwrap();
    let (last_v1, _) = switch.truth(&report);
    assert!(last_v1 + deploy_start > cooldown + 200.0, "the switch served v1 well into the cooldown");
    let gate = expect_new_gate(&report);
    assert!(!gate.passed, "{gate:?}");
    assert!(gate.observed.contains("v1 still answered in the cooldown"), "{}", gate.observed);
    // Without =strict the same deploy passes: v2 did serve.
    let switch = Switch::start().await;
    let report = expect_new(&switch, "lingering-lax", script, "", 0).await;
    assert!(expect_new_gate(&report).passed);
    // A clean switch before the command exits passes strict mode.
    let switch = Switch::start().await;
    let report = expect_new(&switch, "clean", "sleep 0.2\necho v2 >CONTROL\nsleep 0.3\n", "=strict", 0).await;
    assert!(expect_new_gate(&report).passed, "{:?}", expect_new_gate(&report));
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_new_refuses_what_it_cannot_judge() {
    let url = "http://127.0.0.1:9/";
    assert_refused(&[
        (&["--expect-new", "--track-header", "X-App-Version", url], "needs a COMMAND"),
        (&["--expect-new", url, "--", "true"], "--track-header"),
        (&["--expect-new", "--track-header", "V", "--warmup", "0s", url, "--", "true"], "--warmup"),
        (&["--expect-new=strict", "--track-header", "V", "--cooldown", "0s", url, "--", "true"], "--cooldown"),
        (&["--expect-new=sometimes", "--track-header", "V", url, "--", "true"], "sometimes"),
        (&["--expect-new", "--measure-only", "--track-header", "V", url, "--", "true"], "--measure-only"),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_applies_expect_new_to_a_saved_report() {
    let dir = tempdir("expect-new-judge");
    let run = |name: &str, switch: &Switch, script: &str, track: bool| {
        let saved = dir.join(format!("{name}.json"));
        let script = switch.script(name, script);
        let mut args = vec!["-r", "50", "--warmup", "500ms", "--cooldown", "300ms", "--ui", "quiet"];
        if track {
            args.extend(["--track-header", "X-App-Version"]);
        }
        let (url, saved_arg) = (switch.url.clone(), saved.to_str().unwrap().to_string());
        async move {
            let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            args.extend(["--json".into(), saved_arg, url, "--".into(), script]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = crate::support::blip(&args).await;
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            saved
        }
    };
    let judged = |saved: std::path::PathBuf, code: i32| async move {
        let out = crate::support::blip(&["judge", saved.to_str().unwrap(), "--expect-new", "--json", "-"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        (String::from_utf8_lossy(&out.stdout).to_string(), stderr)
    };
    // A no-op deploy passed the run's own gates; judged again with --expect-new it fails.
    let no_op = run("no-op", &Switch::start().await, "sleep 0.3\n", true).await;
    let (json, _) = judged(no_op, 1).await;
    assert!(json.contains("no new value served, warmup's v1"), "{json}");
    let switched = run("switched", &Switch::start().await, "sleep 0.2\necho v2 >CONTROL\nsleep 0.2\n", true).await;
    let (json, _) = judged(switched, 0).await;
    assert!(json.contains("new v2 from +"), "{json}");
    // A report with nothing tracked cannot be judged so: one line, exit 2.
    let untracked = run("untracked", &Switch::start().await, "sleep 0.2\n", false).await;
    let (json, stderr) = judged(untracked, 2).await;
    assert!(json.is_empty() && stderr.lines().count() == 1 && stderr.contains("no tracked values"), "{stderr}");
}
