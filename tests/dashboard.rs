//! The dashboard in a real terminal: blip runs in a tmux pane, shows the URL and its state, ends
//! on `q` with the summary, and leaves the terminal in normal mode.

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
    // (`icanon`) again or still raw (`-icanon`).
    let script =
        format!("{BLIP} -r 20 {url}; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'; sleep 60");
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
    assert!(screen.lines().any(|l| l.trim() == "icanon"), "raw mode is off:\n{screen}");
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "blip", "#{alternate_on}"]).trim(),
        "0",
        "the alternate screen is left"
    );
    assert_eq!(tmux.run(&["display", "-p", "-t", "blip", "#{cursor_flag}"]).trim(), "1", "the cursor is shown");
}
