//! Shared test support: the fault-injecting server, a runner for the real binary, and the JSON
//! report decoded into typed structs written from docs/report.md's schema (not from blip's source,
//! so a change of the public contract breaks these tests).

#![allow(dead_code)]

pub mod server;
pub mod tmux;

use std::path::PathBuf;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use serde::Deserialize;

pub const BLIP: &str = env!("CARGO_BIN_EXE_blip");

/// Runs blip with `args` to completion. The arguments are copied, so the future can be joined
/// with the fault injection that runs beside it.
pub fn blip(args: &[&str]) -> impl Future<Output = Output> + use<> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    async move { tokio::process::Command::new(BLIP).args(&args).kill_on_drop(true).output().await.expect("blip runs") }
}

/// Runs blip with `args` and its stdout given as `stdout`, to completion; stderr is captured.
/// Spawned, not `output()`: tokio's `output()` pipes stdout whatever it was set to.
pub async fn blip_with_stdout(args: &[&str], stdout: std::process::Stdio) -> Output {
    let child = tokio::process::Command::new(BLIP)
        .args(args)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("blip runs");
    child.wait_with_output().await.expect("blip ends")
}

/// Runs blip with `args` and its stdout closed before it writes a byte, as `blip … | head -0`
/// leaves it, to completion; stderr is captured.
pub async fn blip_with_closed_stdout(args: &[&str]) -> Output {
    let mut child = tokio::process::Command::new(BLIP)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("blip runs");
    drop(child.stdout.take());
    child.wait_with_output().await.expect("blip ends")
}

/// Whether tmux is there for a real-terminal test. CI installs it (.ci/run): only a developer's
/// machine without it may skip such a test.
pub fn has_tmux() -> bool {
    if std::process::Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "tmux is missing in CI");
    eprintln!("skipped: tmux is not installed");
    false
}

/// Runs blip with each `(args, needle)` and checks it refuses them as bad input should: exit 2,
/// nothing on stdout, and one first line on stderr that names `needle` (the input or the flag
/// that fixes it); never a panic, a backtrace, a verdict or clap's tip to put a flag after `--`
/// (where blip's COMMAND starts).
pub async fn assert_refused(cases: &[(&[&str], &str)]) {
    for (args, needle) in cases {
        let out = blip(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(needle), "{args:?}: first line `{first}` should say {needle}");
        for never in ["panicked", "RUST_BACKTRACE", "passed", "'-- "] {
            assert!(!stderr.contains(never), "{args:?}: `{never}` in {stderr}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Runs blip with `--json -` added, checks it exited with `code`, and decodes the report.
pub fn blip_json(args: &[&str], code: i32) -> impl Future<Output = Report> + use<> {
    // In front (after a subcommand), so a COMMAND after `--` stays last.
    let split = usize::from(args.first() == Some(&"demo"));
    let mut all = args[..split].to_vec();
    all.extend(["--json", "-"]);
    all.extend(&args[split..]);
    let run = blip(&all);
    let shown = format!("{all:?}");
    async move {
        let out = run.await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "blip {shown}\nstderr:\n{stderr}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout is one JSON report ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
        check_schema(&json);
        serde_json::from_value(json).unwrap_or_else(|e| panic!("the report decodes ({e})"))
    }
}

/// Checks a report against the published schema, `schema/report.schema.json`.
pub fn check_schema(report: &serde_json::Value) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/report.schema.json");
        jsonschema::validator_for(&serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()).unwrap()
    });
    let errors: Vec<String> = validator.iter_errors(report).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the report breaks schema/report.schema.json: {errors:#?}");
}

/// One probe interval at `rate`, plus the few milliseconds the issue allows for the run itself.
pub fn tolerance(rate: f64) -> f64 {
    1000.0 / rate + 5.0
}

/// [`tolerance`] for a target of a run that reported how late it sent probes: blip dates each
/// probe by its due time, so on a busy machine a window's edges can differ from the server's
/// truth by the send lag too, which the report states.
pub fn tolerance_of(rate: f64, t: &Target) -> f64 {
    tolerance(rate) + t.send_lag_ms.max
}

/// Writes an executable bash script; `CONTROL` in `body` becomes the server's control port.
pub fn script(server: &server::TestServer, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempdir(name);
    let path = dir.join(format!("{name}.sh"));
    let control = format!("/dev/tcp/127.0.0.1/{}", server.control.port());
    std::fs::write(&path, format!("#!/usr/bin/env bash\n{}", body.replace("CONTROL", &control))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A fresh directory for one test's files.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("blip-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema_version: u32,
    pub blip_version: String,
    pub vantage: String,
    pub run_id: String,
    pub started_at: String,
    pub duration_ms: f64,
    pub rate: f64,
    pub passed: bool,
    pub default_gates: bool,
    pub measure_only: bool,
    pub stop_reason: Option<String>,
    pub gate_phases: Option<String>,
    pub warnings: Vec<String>,
    pub paused: Vec<Pause>,
    pub allow_missed: bool,
    /// `--connect-to` and `--resolve` as given; absent without them.
    #[serde(default)]
    pub routes: Vec<String>,
    pub deploy: Option<Deploy>,
    pub targets: Vec<Target>,
    pub hooks: Vec<Hook>,
    pub hooks_run: u64,
    pub hooks_skipped: u64,
    /// `blip merge` only.
    pub merged_from: Option<Vec<MergedRun>>,
    pub clock_offset_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedRun {
    pub vantage: String,
    pub started_at: String,
    pub start_offset_ms: f64,
    pub duration_ms: f64,
    pub passed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedWindow {
    pub start: String,
    pub end: String,
    pub start_offset_ms: f64,
    pub end_offset_ms: f64,
    pub duration_ms: f64,
    pub overlap_ms: f64,
    pub vantages: Vec<String>,
    pub failed_probes: u64,
    pub causes: BTreeMap<String, u64>,
    pub first_error: String,
    pub open: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub hook: String,
    pub url: String,
    pub connection: String,
    pub start_offset_ms: f64,
    pub duration_ms: f64,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub start_offset_ms: f64,
    pub duration_ms: f64,
    pub missed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    pub command: Vec<String>,
    pub label: Option<String>,
    pub warmup_ms: f64,
    pub cooldown_ms: f64,
    pub start_offset_ms: Option<f64>,
    pub end_offset_ms: Option<f64>,
    pub duration_ms: Option<f64>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub error: Option<String>,
    pub succeeded: bool,
    pub stopped_by_gate: bool,
    pub output_tail: Vec<String>,
    pub output_lines_dropped: u64,
    pub output_marks: Vec<OutputMark>,
    pub output_marks_dropped: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputMark {
    pub offset_ms: f64,
    pub stream: String,
    pub line: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub start_offset_ms: f64,
    pub end_offset_ms: f64,
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    pub downtime_ms: f64,
    pub latency_ms: Option<PhaseLatency>,
    pub latency_histogram: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseLatency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTiming {
    pub first_failure_ms: Option<f64>,
    pub down_at_start: bool,
    pub last_failure_ms: Option<f64>,
    pub recovered_ms: Option<f64>,
    pub recovery_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub url: String,
    pub connection: String,
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    pub resent: u64,
    pub cancelled: u64,
    pub local_errors: u64,
    pub missed: u64,
    pub status_counts: BTreeMap<String, u64>,
    pub router_error_counts: BTreeMap<String, u64>,
    pub error_counts: BTreeMap<String, u64>,
    pub latency_ms: Option<Latency>,
    pub latency_histogram: Option<String>,
    pub send_lag_ms: SendLag,
    pub downtime_ms: f64,
    pub availability: f64,
    pub outage_count: u64,
    pub outages: Vec<Outage>,
    pub degraded: Vec<Degraded>,
    pub timeline_width_s: u64,
    pub timeline: Vec<TimelinePoint>,
    pub phases: Option<BTreeMap<String, Phase>>,
    pub deploy_timing: Option<DeployTiming>,
    pub gates: Vec<GateResult>,
    pub phases_ms: BTreeMap<String, PhaseTiming>,
    pub connections_opened: u64,
    pub peers: Vec<Peer>,
    pub peers_other: ProbeCount,
    pub dns_changes: Vec<DnsChange>,
    pub dns_changes_more: u64,
    pub tracked: Vec<Tracked>,
    pub cutover: Option<Cutover>,
    /// `blip merge` only.
    pub windows_all: Option<Vec<MergedWindow>>,
    pub windows_some: Option<Vec<MergedWindow>>,
    pub availability_by_vantage: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseTiming {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub address: String,
    pub probes: u64,
    pub failed: u64,
    pub first_seen_offset_ms: f64,
    pub last_seen_offset_ms: f64,
    pub tracked: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Degraded {
    pub kind: String,
    pub start_offset_ms: f64,
    pub duration_ms: f64,
    pub failed_share: Option<f64>,
    pub causes: BTreeMap<String, u64>,
    pub windows: u64,
    pub p50_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub limit_ms: Option<f64>,
    pub phase: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsChange {
    pub at_ms: f64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProbeCount {
    pub probes: u64,
    pub failed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracked {
    pub source: String,
    pub values: Vec<TrackedValue>,
    pub other: ProbeCount,
    pub missing: ProbeCount,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedValue {
    pub value: String,
    pub probes: u64,
    pub failed: u64,
    pub first_seen_offset_ms: f64,
    pub last_seen_offset_ms: f64,
    pub first_ok_offset_ms: Option<f64>,
    pub last_ok_offset_ms: Option<f64>,
    pub timeline_width_s: u64,
    pub timeline: Vec<TrackedPoint>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedPoint {
    pub offset_s: u64,
    pub probes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutover {
    pub source: String,
    pub old: Vec<CutoverValue>,
    pub new: Vec<CutoverValue>,
    pub overlap_ms: Option<f64>,
    pub gap_ms: Option<f64>,
    pub failed_between: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutoverValue {
    pub value: String,
    pub at_ms: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateResult {
    pub gate: String,
    pub default: bool,
    pub limit: String,
    pub observed: String,
    pub passed: bool,
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub first_at: Option<String>,
    pub first_offset_ms: Option<f64>,
    pub first_error: Option<String>,
    pub outages: Vec<usize>,
    pub worst_window: Option<RateWindow>,
    pub latency_increase: Option<LatencyIncrease>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyIncrease {
    pub warmup_ms: f64,
    pub judged_ms: f64,
    pub ratio: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateWindow {
    pub start_offset_ms: f64,
    pub end_offset_ms: f64,
    pub probes: u64,
    pub failed: u64,
    pub rate_percent: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendLag {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub start: String,
    pub end: String,
    pub start_offset_ms: f64,
    pub end_offset_ms: f64,
    pub duration_ms: f64,
    pub failed_probes: u64,
    pub causes: BTreeMap<String, u64>,
    pub main_cause: String,
    pub first_error: String,
    /// Present only with `--request-id`.
    #[serde(default)]
    pub first_request_id: Option<String>,
    #[serde(default)]
    pub last_request_id: Option<String>,
    pub open: bool,
    pub phase: Option<String>,
    pub end_phase: Option<String>,
    pub failed_in: BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelinePoint {
    pub offset_s: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub ok: u64,
    pub failed: u64,
}

impl Target {
    /// The report's own consistency: counts add up, the timeline covers every probe, downtime is
    /// the sum of its windows.
    pub fn check_consistency(&self) {
        assert_eq!(self.ok + self.failed, self.probes, "{self:#?}");
        let timeline: u64 = self.timeline.iter().map(|p| p.ok + p.failed).sum();
        assert_eq!(timeline, self.probes, "timeline covers every probe");
        let windows: f64 = self.outages.iter().map(|o| o.duration_ms).sum();
        assert!((windows - self.downtime_ms).abs() < 0.01, "downtime {} = windows {windows}", self.downtime_ms);
        assert_eq!(self.outage_count, self.outages.len() as u64);
        for o in &self.outages {
            assert_eq!(o.failed_probes, o.causes.values().sum::<u64>());
            let most = o.causes.values().max().copied().unwrap_or(0);
            assert_eq!(o.causes.get(&o.main_cause).copied(), Some(most), "main_cause is the most frequent: {o:?}");
            assert!((o.end_offset_ms - o.start_offset_ms - o.duration_ms).abs() < 0.01);
            // Every failure but a slot never sent lies in one phase.
            let skipped = o.causes.get("skipped").copied().unwrap_or(0);
            assert_eq!(o.failed_in.values().sum::<u64>() + skipped, o.failed_probes, "{o:?}");
        }
        let answered: u64 = self.peers.iter().map(|p| p.probes).sum::<u64>() + self.peers_other.probes;
        let answers: u64 = self.status_counts.values().sum();
        assert_eq!(answered, answers, "every answer has its peer");
    }
}

/// README.md and every page of docs/, README first, the pages in name order: what the docs and
/// CI-example tests read.
pub fn markdown_files() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.sort();
    files.insert(0, root.join("README.md"));
    files
}
