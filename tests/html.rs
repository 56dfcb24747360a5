//! The HTML report from a real run: written whole where `--html` says, the outage and the
//! command's output on the time axis where the JSON report and the command put them, and the
//! flag's mistakes refused.

use scraper::{Html, Selector};

use crate::support::server::TestServer;
use crate::support::{assert_refused, blip_json, script, tempdir, tolerance_of};

/// The route goes down 0.2 s into the deploy: a warmup probe sent late on a busy machine would
/// otherwise meet the 404 and open a window of its own in the warmup, as blip rightly books it.
const RESTART_404: &str = "echo 'Stopping app notes...'\nsleep 0.2\necho 404 >CONTROL\nsleep 0.4\necho ok >CONTROL\necho 'Started app notes'\n";

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn html_of_a_restart_deploy_shows_the_outage_and_the_output_where_they_happened() {
    let server = TestServer::start().await;
    let dir = tempdir("html-restart");
    let html = dir.join("report.html");
    let deploy = script(&server, "html-restart", RESTART_404);
    let url = server.url("/api/notes");
    let rate = 50.0;
    let args = [
        "--rate",
        "50",
        "--warmup",
        "500ms",
        "--cooldown",
        "500ms",
        "--ui",
        "quiet",
        "--html",
        html.to_str().unwrap(),
        &url,
        "--",
        deploy.to_str().unwrap(),
    ];
    let report = blip_json(&args, 1).await;
    let t = &report.targets[0];
    assert_eq!(t.outages.len(), 1, "{:?}", t.outages);
    let window = &t.outages[0];
    // The command printed its first line before it took the route down, its last after it
    // brought it back: the marks are on either side of the window, to a probe interval.
    let d = report.deploy.as_ref().unwrap();
    let lines: Vec<&str> = d.output_marks.iter().map(|m| m.line.as_str()).collect();
    assert_eq!(lines, ["Stopping app notes...", "Started app notes"]);
    assert!(d.output_marks.iter().all(|m| m.stream == "stdout"));
    assert!(d.output_marks[0].offset_ms <= window.start_offset_ms + tolerance_of(rate, t), "{d:?} {window:?}");
    assert!(d.output_marks[1].offset_ms >= window.end_offset_ms - tolerance_of(rate, t), "{d:?} {window:?}");
    // Slices with a success have their latency, the others none.
    for p in &t.timeline {
        assert_eq!(p.p50_ms.is_some(), p.ok > 0, "{p:?}");
        assert!(p.p50_ms <= p.p99_ms, "{p:?}");
    }

    let text = std::fs::read_to_string(&html).unwrap();
    let doc = Html::parse_document(&text);
    assert_eq!(doc.select(&sel("svg.timeline g.strip")).count(), 1);
    let marks: Vec<String> = doc.select(&sel("line.mark title")).map(|e| e.text().collect()).collect();
    assert_eq!(marks.len(), 2);
    assert!(marks[0].ends_with("Stopping app notes...") && marks[1].ends_with("Started app notes"), "{marks:?}");
    let outages: Vec<_> = doc.select(&sel("rect.outage")).collect();
    assert_eq!(outages.len(), 1);
    let title: String = outages[0].text().collect();
    assert!(title.contains("404 ×"), "{title}");
    for phase in ["warmup", "deploy", "cooldown"] {
        assert_eq!(doc.select(&sel(&format!("g.band[data-phase=\"{phase}\"]"))).count(), 1, "{phase}");
    }
    // Nothing is left beside the report: it was written whole, through a rename.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn html_mistakes_are_refused() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let dir = tempdir("html-refused");
    let same = dir.join("report.out");
    let same = same.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--html", r#"{"a":1}"#, &url], "--html takes the PATH of a report file"),
        (&["--html", same, "--json", same, &url], "--json and --html both name"),
        (&["--html", "", &url], "--html needs a path"),
        (&["--html", "/nonexistent-dir/r.html", "-d", "1s", &url], "--html /nonexistent-dir"),
    ];
    assert_refused(cases).await;
    assert_eq!(server.requests(), 0, "nothing was probed");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no report file");
}
