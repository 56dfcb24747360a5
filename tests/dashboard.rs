//! The dashboard in a real terminal: blip runs in a tmux pane, shows the URL and its state, the
//! time left and the gates' state, ends on `q` with the summary (which says the run was stopped
//! early, wrapped to the terminal), and leaves the terminal in normal mode.

use crate::support::BLIP;
use crate::support::server::{Mode, TestServer};
use crate::support::tmux::Tmux;

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_the_state_and_quits_on_q_with_the_terminal_restored() {
    if !crate::support::has_tmux() {
        return;
    }
    let server = TestServer::start().await;
    let url = server.url("/api/notes");
    let tmux = Tmux { socket: format!("blip-test-{}", std::process::id()) };
    // After blip exits, the pane reports its exit code and whether the terminal is canonical
    // (`icanon`) again or still raw (`-icanon`), on one line, so that both are there once it shows.
    let script = format!(
        "{BLIP} -r 20 {url}; code=$?; mode=$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'); \
         echo EXIT=$code MODE=$mode; sleep 60"
    );
    tmux.run(&["new-session", "-d", "-s", "blip", "-x", "100", "-y", "30", &script]);

    let screen = tmux.wait_for(" UP ").await;
    assert!(screen.contains(&url), "{screen}");
    assert!(screen.contains("q quit"), "{screen}");
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "blip", "#{alternate_on}"]).trim(),
        "1",
        "the dashboard uses the alternate screen"
    );

    server.set(Mode::Status(503, "draining"));
    let screen = tmux.wait_for(" DOWN ").await;
    assert!(screen.contains("503 Service Unavailable: draining"), "the cause is shown:\n{screen}");
    server.set(Mode::Ok);
    tmux.wait_for(" UP ").await;

    tmux.run(&["send-keys", "-t", "blip", "q"]);
    let screen = tmux.wait_for("EXIT=").await;
    // No gate was given, so the outage fails the default one (zero downtime).
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(screen.contains("availability") && screen.contains("(1 outage)"), "the summary follows:\n{screen}");
    assert!(screen.lines().any(|l| l.trim() == "EXIT=1 MODE=icanon"), "raw mode is off:\n{screen}");
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "blip", "#{alternate_on}"]).trim(),
        "0",
        "the alternate screen is left"
    );
    assert_eq!(tmux.run(&["display", "-p", "-t", "blip", "#{cursor_flag}"]).trim(), "1", "the cursor is shown");
}

/// The header line of a captured screen.
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

/// Seconds of the first `MM:SS.d left` on a line.
fn left(line: &str) -> Option<f64> {
    let end = line.find(" left")?;
    let clock = line[..end].rsplit(' ').next()?.trim_start_matches(',');
    let (minutes, seconds) = clock.split_once(':')?;
    Some(minutes.parse::<f64>().ok()? * 60.0 + seconds.parse::<f64>().ok()?)
}

/// At 80×24: the time left counts down with `--duration`, the gate goes from passing to at risk
/// (down now) to failed while the run goes on, `q` marks the run stopped early on screen and in
/// the summary, and the summary's long lines wrap at word boundaries.
#[tokio::test(flavor = "multi_thread")]
async fn at_80_columns_the_dashboard_counts_down_shows_the_gate_and_a_stop() {
    if !crate::support::has_tmux() {
        return;
    }
    let server = TestServer::start().await;
    let url = server.url("/api/notes");
    let tmux = Tmux { socket: format!("blip-test-80-{}", std::process::id()) };
    let script = format!("{BLIP} -r 20 -d 60s -t 3s --max-downtime 1s {url}; echo EXIT=$?; sleep 60");
    tmux.run(&["new-session", "-d", "-s", "blip", "-x", "80", "-y", "24", &script]);

    let screen = tmux.wait_for("✓ max-downtime 1s").await;
    let first = left(header(&screen)).unwrap_or_else(|| panic!("the header shows the time left:\n{screen}"));
    assert!(first <= 60.0, "{screen}");
    // A tick is 0.1 s: after a second the time left is lower by about that.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let screen = tmux.screen();
    let then = left(header(&screen)).unwrap_or_else(|| panic!("{screen}"));
    assert!(then < first - 0.5, "the time left counts down: {first} then {then}\n{screen}");

    server.set(Mode::Status(503, "draining"));
    // At risk from the moment it is down (down now, then its budget over half spent).
    let screen = tmux.wait_for("! max-downtime 1s at risk: ").await;
    assert!(screen.contains(" DOWN "), "{screen}");
    // Past its budget the gate has failed, before the run ends.
    let screen = tmux.wait_for("✗ max-downtime 1s FAILED").await;
    assert!(screen.contains("outages 1"), "the outage count stays at 80 columns:\n{screen}");

    // Probes that hang keep the run waiting after `q`, so the stopping frame shows.
    server.set(Mode::Stall);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    tmux.run(&["send-keys", "-t", "blip", "q"]);
    let screen = tmux.wait_for("STOPPED EARLY: quit requested").await;
    assert!(header(&screen).contains("STOPPED EARLY"), "{screen}");

    let screen = tmux.wait_for("EXIT=").await;
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(screen.contains("stopped early (quit requested)"), "the summary says so:\n{screen}");
    // The counts line is wider than 80 columns: it is broken after a word, and continues indented.
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("  probes ")).unwrap_or_else(|| panic!("{screen}"));
    assert!(lines[at].chars().count() <= 80, "{screen}");
    // A terminal's own wrap would continue mid-text; blip's continues on a hanging indent.
    assert!(lines[at + 1].starts_with("    ") && !lines[at + 1].starts_with("     "), "{screen}");
}

/// A wrapped command's warmup shows its phase, how long it has lasted, and how long it has left.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrapped_command_shows_the_phase_and_its_time_left() {
    if !crate::support::has_tmux() {
        return;
    }
    let server = TestServer::start().await;
    let url = server.url("/");
    let tmux = Tmux { socket: format!("blip-test-phase-{}", std::process::id()) };
    let script = format!("{BLIP} -r 20 --warmup 8s --cooldown 1s {url} -- true; echo EXIT=$?; sleep 60");
    tmux.run(&["new-session", "-d", "-s", "blip", "-x", "120", "-y", "40", &script]);
    let screen = tmux.wait_for("warmup ").await;
    let line = header(&screen);
    let left = left(line.split("warmup").nth(1).unwrap_or_default()).unwrap_or_else(|| panic!("{screen}"));
    assert!(left > 0.0 && left <= 8.0, "{screen}");
    assert!(line.contains("`true`"), "{screen}");
    tmux.run(&["send-keys", "-t", "blip", "q"]);
    tmux.wait_for("EXIT=").await;
}
