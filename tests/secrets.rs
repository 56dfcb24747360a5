//! Nothing secret is printed and nothing hostile reaches a terminal or a report unescaped: every
//! output of a run, read back, against a URL with a password, a secret header and a server whose
//! error body is full of escape sequences and markup.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::server::{Mode, TestServer};
use crate::support::tmux::Tmux;
use crate::support::{BLIP, Report, tempdir};

const PASSWORD: &str = "hunter2pw";
const TOKEN: &str = "s3cr3t";

/// A 503 body that retitles the terminal, clears it, returns the cursor and backspaces over
/// what was printed, with a C1 CSI, a bidi override, a table separator, HTML and backticks.
const HOSTILE: &str = "\x1b]0;pwned\x07\x1b[2J\x1b[H\rALL GOOD\x08\x08\x08\x08\u{9b}31m\u{202e} | <script>alert(1)</script> <img src=x> `rm` [a](http://evil.example) *b* %0A\nsecond line";

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
    // No colour: every escape left in stdout would then be one a server sent.
    let mut args: Vec<String> =
        ["--ui", "lines", "--color", "never", "-r", "20", "-d", "1s", "--fail-on-status", "503", "--events-probes"]
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
    for (name, text) in [("stdout", &out.stdout), ("--junit", &out.junit)] {
        assert!(text.contains(&shown), "{name} shows the URL as {shown}:\n{text}");
    }
    // Markdown escapes the asterisks, so they render as themselves and never as emphasis.
    assert!(out.markdown.contains(&shown.replace('*', "\\*")), "{}", out.markdown);
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

/// Whether `c` is a C0 or C1 control character (or DEL) other than newline and tab.
fn is_forbidden(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[tokio::test(flavor = "multi_thread")]
async fn server_text_reaches_no_output_with_its_control_characters_or_markup() {
    let server = TestServer::start().await;
    server.set(Mode::Status(503, HOSTILE));
    let url = server.url("/api/notes");
    let out = tokio::task::spawn_blocking(move || run_with_every_output("hostile", &url, &[])).await.unwrap();
    assert_eq!(out.code, Some(1), "the gate failed: {}", out.stderr);
    for (name, text) in out.all() {
        let bad: Vec<char> = text.chars().filter(|&c| is_forbidden(c) || c == '\u{202e}').collect();
        assert!(bad.is_empty(), "{name} holds control characters {bad:?}:\n{text}");
    }
    // The text is still there, shown for what it is, on the line of its event.
    let down = out.stdout.lines().find(|l| l.contains("  DOWN  ")).expect("a DOWN line");
    assert!(down.ends_with("503 Service Unavailable: �]0;pwned��[2J�[H ALL GOOD�����31m� | <script>alert(1)</script> <img src=x> `rm` [a](http://evil.example) *b* %0A"), "{down}");
    // JSON and NDJSON stay valid, with the same clean text.
    let report: Report = serde_json::from_str(&out.json).unwrap();
    assert!(report.targets[0].outages[0].first_error.contains("ALL GOOD"));
    for line in out.events.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    // JUnit parses, and the failure carries the text as text.
    let doc = roxmltree::Document::parse(&out.junit).unwrap_or_else(|e| panic!("{e}:\n{}", out.junit));
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    assert!(failure.text().unwrap().contains("<script>alert(1)</script>"), "{}", out.junit);
    // Markdown: no HTML, link or code span from the server; every row keeps its columns.
    let md = &out.markdown;
    assert!(!md.contains('<') && !md.contains("[a](") && !md.contains(" `rm`"), "{md}");
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{md}");
    let mut columns = 0;
    for line in md.lines() {
        if !line.starts_with('|') {
            columns = 0;
            continue;
        }
        let cells = line.replace("\\|", "").matches('|').count();
        columns = if columns == 0 { cells } else { columns };
        assert_eq!(cells, columns, "a row with a cell too many:\n{md}");
    }
    // Annotations: one line each, the server's `%0A` escaped so it cannot pose as a line break.
    let annotation = out.stdout.lines().find(|l| l.starts_with("::error ")).expect("an annotation");
    assert!(annotation.contains("*b* %250A"), "{annotation}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_still_down_at_the_end_is_not_reported_up() {
    let server = TestServer::start().await;
    server.set(Mode::Status(503, "draining"));
    let url = server.url("/");
    let dir = tempdir("still-down");
    let events = dir.join("e.ndjson");
    let out =
        crate::support::blip(&["--ui", "lines", "-r", "20", "-d", "1s", "--events", events.to_str().unwrap(), &url])
            .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "down all along: the default gate fails\n{stdout}");
    assert!(!stdout.lines().any(|l| l.contains("  UP  ")), "never up:\n{stdout}");
    let still = stdout.lines().find(|l| l.contains("  STILL DOWN  ")).unwrap_or_else(|| panic!("{stdout}"));
    // Down from the first probe (due at 0) to the end of the run, 1 s.
    let secs: f64 = still.split("down for ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    assert!((secs - 1.0).abs() <= 0.055, "{still}");
    assert!(still.contains(&format!("{url}  at the end of the run, down for ")), "{still}");
    let events: Vec<serde_json::Value> =
        std::fs::read_to_string(&events).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(!kinds.contains(&"up"), "{kinds:?}");
    let last = events.iter().find(|e| e["event"] == "still_down").unwrap_or_else(|| panic!("{kinds:?}"));
    assert_eq!(last["failed_probes"], 20, "{last}");
    assert_eq!(last["url"], url.as_str());
    assert!((last["duration_ms"].as_f64().unwrap() - 1000.0).abs() <= 55.0, "{last}");
}

/// The dashboard in a real terminal (tmux): the pane's title stays the shell's, the screen shows
/// the URL without its password, and the summary after `q` does not retitle or clear it.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_and_its_summary_keep_the_terminal_and_the_password() {
    if !crate::support::has_tmux() {
        return;
    }
    let server = TestServer::start().await;
    server.set(Mode::Status(503, HOSTILE));
    let url = format!("http://alice:{PASSWORD}@{}/", server.addr);
    let shown = format!("http://alice:***@{}/", server.addr);
    let script = format!("echo BEFORE; {BLIP} -r 20 {url}; echo EXIT=$?; sleep 60");
    let tmux = Tmux { socket: format!("blip-secrets-{}", std::process::id()) };
    tmux.run(&["new-session", "-d", "-s", "blip", "-x", "120", "-y", "30", &script]);
    let screen = tmux.wait_for(" DOWN ").await;
    assert!(screen.contains(&shown) && !screen.contains(PASSWORD), "{screen}");
    assert!(screen.contains("ALL GOOD"), "{screen}");
    tmux.run(&["send-keys", "-t", "blip", "q"]);
    let screen = tmux.wait_for("EXIT=").await;
    assert!(screen.contains("BEFORE"), "the summary cleared the screen:\n{screen}");
    assert!(screen.contains(&shown) && !screen.contains(PASSWORD), "{screen}");
    let title = tmux.run(&["display", "-p", "-t", "blip", "#{pane_title}"]);
    assert!(!title.contains("pwned"), "the pane was retitled: {title}");
}
