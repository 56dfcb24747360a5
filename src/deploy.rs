//! The deploy runner: runs the wrapped COMMAND as a child process while blip probes.
//!
//! The child gets blip's environment and working directory, `/dev/null` as stdin (a deploy tool
//! that waits for input would otherwise hang, or stop on SIGTTIN, in its own process group), and
//! a process group of its own, so a stop request reaches every process the deploy started. Its
//! output is read line by line and handed to the run loop as [`ChildEvent`]s, so blip's own lines
//! and the child's never mix mid-line.

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, BufReader};
use tokio::sync::mpsc;

/// Longest line passed on whole; a longer run of bytes without a newline is cut into lines.
const LINE_MAX: u64 = 16 * 1024;
/// How long output still in the pipes is awaited after the child exits (a background process it
/// left behind may hold them open for ever).
const DRAIN_FOR: Duration = Duration::from_millis(500);

/// Why the command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot run `{0}`: no such command in PATH")]
    NotInPath(String),
    #[error("cannot run `{0}`: no such file")]
    NoSuchFile(String),
    #[error("cannot run `{0}`: not an executable file (check its permissions)")]
    NotExecutable(String),
    #[error("cannot run `{0}`: {1}")]
    Spawn(String, std::io::Error),
}

/// Finds the program to run, before anything is probed, so a typo costs no warmup.
pub fn resolve(program: &str) -> Result<PathBuf, StartError> {
    if program.contains('/') {
        let path = Path::new(program);
        let meta = std::fs::metadata(path).map_err(|_| StartError::NoSuchFile(program.to_string()))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(StartError::NotExecutable(program.to_string()));
        }
        Ok(path.to_path_buf())
    } else {
        which::which(program).map_err(|_| StartError::NotInPath(program.to_string()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the child did.
#[derive(Debug)]
pub enum ChildEvent {
    Line { stream: Stream, text: String },
    Exited { status: std::io::Result<ExitStatus>, at: Instant },
}

/// A started command.
pub struct RunningCommand {
    pgid: Pid,
}

impl RunningCommand {
    /// Starts `argv` with `program` as its resolved path; events arrive on `events`.
    pub fn spawn(
        program: &Path,
        argv: &[String],
        events: mpsc::UnboundedSender<ChildEvent>,
    ) -> Result<RunningCommand, StartError> {
        let mut child = tokio::process::Command::new(program)
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StartError::Spawn(argv[0].clone(), e))?;
        let pid = child.id().and_then(|id| i32::try_from(id).ok()).unwrap_or(0);
        let readers = [
            child.stdout.take().map(|out| tokio::spawn(forward(out, Stream::Stdout, events.clone()))),
            child.stderr.take().map(|err| tokio::spawn(forward(err, Stream::Stderr, events.clone()))),
        ];
        tokio::spawn(async move {
            let status = child.wait().await;
            let at = Instant::now();
            for reader in readers.into_iter().flatten() {
                let _ = tokio::time::timeout(DRAIN_FOR, reader).await;
            }
            let _ = events.send(ChildEvent::Exited { status, at });
        });
        Ok(RunningCommand { pgid: Pid::from_raw(pid) })
    }

    /// Sends `signal` to the command's whole process group. A group that is already gone is fine.
    pub fn signal(&self, signal: Signal) {
        if self.pgid.as_raw() > 0 {
            let _ = killpg(self.pgid, signal);
        }
    }
}

async fn forward(pipe: impl AsyncRead + Unpin, stream: Stream, events: mpsc::UnboundedSender<ChildEvent>) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(LINE_MAX).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string();
                if events.send(ChildEvent::Line { stream, text }).is_err() {
                    return;
                }
            }
        }
    }
}

/// How the command ended, as the report says it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Termination {
    pub exit_code: Option<i32>,
    /// The name of the signal that ended it (`SIGTERM`).
    pub signal: Option<String>,
}

impl Termination {
    pub fn of(status: ExitStatus) -> Termination {
        Termination {
            exit_code: status.code(),
            signal: status
                .signal()
                .map(|n| Signal::try_from(n).map_or_else(|_| format!("signal {n}"), |s| s.to_string())),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    pub fn describe(&self) -> String {
        match (&self.exit_code, &self.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by {signal}"),
            (None, None) => "did not finish".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_finds_programs_and_refuses_what_cannot_run() {
        assert!(resolve("sh").is_ok());
        assert!(matches!(resolve("no-such-command-blip"), Err(StartError::NotInPath(_))));
        assert!(matches!(resolve("./no/such/file"), Err(StartError::NoSuchFile(_))));
        let plain = std::env::temp_dir().join(format!("blip-not-executable-{}", std::process::id()));
        std::fs::write(&plain, "echo hi").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let result = resolve(plain.to_str().unwrap());
        std::fs::remove_file(&plain).unwrap();
        assert!(matches!(result, Err(StartError::NotExecutable(_))), "{result:?}");
        assert!(matches!(resolve("/"), Err(StartError::NotExecutable(_))));
    }

    #[test]
    fn terminations() {
        let ok = Termination::of(ExitStatus::from_raw(0));
        assert!(ok.succeeded());
        let failed = Termination::of(ExitStatus::from_raw(7 << 8));
        assert_eq!((failed.exit_code, failed.describe().as_str()), (Some(7), "exit code 7"));
        let killed = Termination::of(ExitStatus::from_raw(15));
        assert_eq!(killed.signal.as_deref(), Some("SIGTERM"));
        assert!(!killed.succeeded());
    }
}
