//! The stop requests blip handles as one: Ctrl-C, SIGTERM and SIGHUP.

use nix::sys::signal::Signal;

/// Ctrl-C, SIGTERM and SIGHUP (a closed terminal or ssh session), as a stream: each arrival is
/// one stop request.
pub struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    pub async fn recv(&mut self) -> Signal {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => Signal::SIGINT,
            () = next(&mut self.term) => Signal::SIGTERM,
            () = next(&mut self.hup) => Signal::SIGHUP,
        }
    }
}
