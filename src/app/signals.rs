//! The stop requests blip handles as one: Ctrl-C, SIGTERM and SIGHUP on Unix; Ctrl-C,
//! Ctrl-Break and a closed console window on Windows.

/// A stop request as blip receives one and passes it on to what it started, named after the
/// Unix signal. On Windows, blip passes every one but [`Signal::Kill`] on as a Ctrl-Break to the
/// command's process group; `Kill` ends the command's Job Object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
    Kill,
}

impl Signal {
    /// What the wrapped command gets for a stop request `self`. SIGHUP reaches it as SIGTERM:
    /// the command has no terminal of its own to lose, and a tool that reloads on SIGHUP would
    /// not stop. On Windows a Ctrl-Break is all one process can send another's group.
    pub fn passed_on(self) -> Signal {
        match self {
            Signal::Hangup => Signal::Terminate,
            Signal::Interrupt if cfg!(windows) => Signal::Terminate,
            other => other,
        }
    }
}

#[cfg(unix)]
impl Signal {
    /// The Unix signal.
    pub fn unix(self) -> nix::sys::signal::Signal {
        use nix::sys::signal::Signal as Unix;
        match self {
            Signal::Interrupt => Unix::SIGINT,
            Signal::Terminate => Unix::SIGTERM,
            Signal::Hangup => Unix::SIGHUP,
            Signal::Kill => Unix::SIGKILL,
        }
    }
}

/// As blip's messages name it: `SIGTERM` on Unix, `Ctrl-Break` on Windows.
impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(unix)]
        return write!(f, "{}", self.unix());
        #[cfg(windows)]
        return f.write_str(match self {
            Signal::Interrupt => "Ctrl-C",
            Signal::Terminate => "Ctrl-Break",
            Signal::Hangup => "console close",
            Signal::Kill => "kill",
        });
    }
}

/// The stop requests as a stream: each arrival is one request.
pub struct Signals {
    #[cfg(unix)]
    streams: [Option<tokio::signal::unix::Signal>; 3],
    #[cfg(windows)]
    ctrl_c: Option<tokio::signal::windows::CtrlC>,
    #[cfg(windows)]
    ctrl_break: Option<tokio::signal::windows::CtrlBreak>,
    #[cfg(windows)]
    ctrl_close: Option<tokio::signal::windows::CtrlClose>,
}

impl Signals {
    #[cfg(unix)]
    pub fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            streams: [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()].map(|k| signal(k).ok()),
        }
    }

    #[cfg(windows)]
    pub fn new() -> Signals {
        use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
        Signals { ctrl_c: ctrl_c().ok(), ctrl_break: ctrl_break().ok(), ctrl_close: ctrl_close().ok() }
    }

    #[cfg(unix)]
    pub async fn recv(&mut self) -> Signal {
        let [int, term, hup] = &mut self.streams;
        tokio::select! {
            () = next(int.as_mut().map(|s| s.recv())) => Signal::Interrupt,
            () = next(term.as_mut().map(|s| s.recv())) => Signal::Terminate,
            () = next(hup.as_mut().map(|s| s.recv())) => Signal::Hangup,
        }
    }

    #[cfg(windows)]
    pub async fn recv(&mut self) -> Signal {
        tokio::select! {
            () = next(self.ctrl_c.as_mut().map(|s| s.recv())) => Signal::Interrupt,
            () = next(self.ctrl_break.as_mut().map(|s| s.recv())) => Signal::Terminate,
            () = next(self.ctrl_close.as_mut().map(|s| s.recv())) => Signal::Hangup,
        }
    }
}

/// Waits for a stream's next arrival; a stream that could not be set up never delivers.
async fn next(arrival: Option<impl Future<Output = Option<()>>>) {
    match arrival {
        Some(arrival) => {
            arrival.await;
        }
        None => std::future::pending().await,
    }
}
