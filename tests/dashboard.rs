//! The dashboard in a real terminal: blip runs in a tmux pane, shows the URL and its state, ends
//! on `q` with the summary, and leaves the terminal in normal mode.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::BLIP;
use crate::support::server::{Mode, TestServer};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "blip"])
    }

    /// Waits until the pane shows `text`, and returns the screen.
    async fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "the pane never showed {text:?}:\n{screen}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

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
