//! Nothing secret is printed: every output of a run, read back, against a URL with a password
//! and a secret header.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::server::{Mode, TestServer};
use crate::support::{BLIP, Report, tempdir};

const PASSWORD: &str = "hunter2pw";
const TOKEN: &str = "s3cr3t";

/// Every output of one run, read back.
struct Outputs {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    json: String,
    junit: String,
    /// The Markdown summary, through `GITHUB_STEP_SUMMARY`.
    markdown: String,
    events: String,
}

impl Outputs {
    fn all(&self) -> [(&str, &str); 6] {
        [
            ("stdout (lines, summary, annotations)", &self.stdout),
            ("stderr", &self.stderr),
            ("--json", &self.json),
            ("--junit", &self.junit),
            ("GITHUB_STEP_SUMMARY", &self.markdown),
            ("--events", &self.events),
        ]
    }
}

/// Runs blip for 1 s at 20/s against `url` with every output on and GitHub Actions' variables
/// set, gating on any 503 so the annotations appear.
fn run_with_every_output(name: &str, url: &str, extra: &[&str]) -> Outputs {
    let dir = tempdir(name);
    let path = |file: &str| -> PathBuf { dir.join(file) };
    let (json, junit, markdown, events) = (path("r.json"), path("r.xml"), path("summary.md"), path("e.ndjson"));
    let mut args: Vec<String> = ["--ui", "lines", "-r", "20", "-d", "1s", "--fail-on-status", "503", "--events-probes"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    for (flag, file) in [("--json", &json), ("--junit", &junit), ("--events", &events)] {
        args.extend([flag.to_string(), file.display().to_string()]);
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push(url.to_string());
    let Output { status, stdout, stderr } = Command::new(BLIP)
        .args(&args)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &markdown)
        .env_remove("NO_COLOR")
        .output()
        .expect("blip runs");
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    Outputs {
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
        code: status.code(),
        json: read(&json),
        junit: read(&junit),
        markdown: read(&markdown),
        events: read(&events),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_output_shows_the_password_or_a_header_value() {
    let server = TestServer::start().await;
    server.set(Mode::Status(503, "down for a deploy"));
    let url = format!("http://alice:{PASSWORD}@{}/api/notes", server.addr);
    let shown = format!("http://alice:***@{}/api/notes", server.addr);
    let header = format!("Authorization: Bearer {TOKEN}");
    let out =
        tokio::task::spawn_blocking(move || run_with_every_output("password", &url, &["-H", &header])).await.unwrap();
    assert_eq!(out.code, Some(1), "the gate failed: {}", out.stderr);
    assert!(server.requests() > 0, "the probes reached the server");
    for (name, text) in out.all() {
        assert!(!text.contains(PASSWORD) && !text.contains(TOKEN), "a secret in {name}:\n{text}");
    }
    for (name, text) in [("stdout", &out.stdout), ("--junit", &out.junit), ("markdown", &out.markdown)] {
        assert!(text.contains(&shown), "{name} shows the URL as {shown}:\n{text}");
    }
    assert!(out.stdout.lines().any(|l| l.starts_with("::error title=") && l.contains(&shown)), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.contains(&format!("DOWN  {shown}  503"))), "{}", out.stdout);
    let report: Report = serde_json::from_str(&out.json).unwrap();
    assert_eq!(report.targets[0].url, shown);
    for line in out.events.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(url) = event.get("url") {
            assert_eq!(url, shown.as_str(), "{line}");
        }
    }
    assert!(out.events.contains("\"event\":\"probe\""), "--events-probes is on");
}

#[test]
fn a_bad_header_is_named_without_its_value() {
    for header in [format!("Authorization: Bearer {TOKEN}\x01"), format!("Bearer {TOKEN}")] {
        let out = Command::new(BLIP).args(["-H", &header, "http://127.0.0.1:9/"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--header") && !stderr.contains(TOKEN), "{stderr}");
    }
    let out =
        Command::new(BLIP).args(["-H", &format!("X-Token: {TOKEN}\x01"), "http://127.0.0.1:9/"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`x-token`") && !stderr.contains(TOKEN), "{stderr}");
}
