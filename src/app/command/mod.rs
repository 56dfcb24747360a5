//! The deploy runner: runs the wrapped COMMAND as a child process while blip probes.
//!
//! The child gets blip's environment and working directory, `/dev/null` as stdin (a deploy tool
//! that waits for input would otherwise hang, or stop on SIGTTIN, in its own process group), and
//! a process group of its own, so a stop request reaches every process the deploy started.
//!
//! Nothing here runs on the probing threads: a thread of its own starts the command and waits for
//! it, and one thread per pipe reads its output. The exit is reported the moment the wait returns,
//! on a channel of its own, so the deploy phase ends on the command's clock even when a process it
//! left behind still holds its output open or megabytes of output are still queued. Output goes
//! to the run loop through a queue bounded in bytes; what does not fit is dropped and counted,
//! never waited for, so a command that prints faster than blip can show neither delays a probe
//! nor grows blip's memory.
//!
//! The command dies with blip, even when blip is killed outright; how is the platform's own
//! business (`unix.rs`, `windows.rs` beside this file).

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use super::signals::Signal;
use crate::live::Stream;
use crate::report::describe_end;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

/// Longest piece of output passed on at once; a longer run of bytes without a newline is passed
/// on in pieces of this size.
const LINE_MAX: u64 = 16 * 1024;
/// Bytes of output queued for the run loop at most (with a line's own overhead); lines that do not
/// fit are dropped.
const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Lines of output kept for the report.
pub const OUTPUT_TAIL: usize = 20;
/// Lines of output kept, with when they were read, for the report's marks on its time axis: the
/// first and the last this many.
pub const MARKS_EACH_END: usize = 200;
/// Characters of a line kept in its mark.
const MARK_CHARS: usize = 200;

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
    if program.chars().any(std::path::is_separator) {
        let path = Path::new(program);
        let meta = std::fs::metadata(path).map_err(|_| StartError::NoSuchFile(program.to_string()))?;
        if !os::is_executable(&meta) {
            return Err(StartError::NotExecutable(program.to_string()));
        }
        Ok(path.to_path_buf())
    } else {
        which::which(program).map_err(|_| StartError::NotInPath(program.to_string()))
    }
}

/// A line of the command's output, or a piece of a line longer than [`LINE_MAX`].
#[derive(Debug)]
pub struct OutputLine {
    pub stream: Stream,
    /// Without its line end.
    pub text: String,
    /// Whether a line end followed `text`; `false` for a piece of a longer line, or for the last
    /// bytes before the pipe closed.
    pub ends_line: bool,
}

/// The command exited: its wait status, and when the wait returned.
#[derive(Debug)]
pub struct Exited {
    pub status: std::io::Result<ExitStatus>,
    pub at: Instant,
}

/// Where a started command's output and exit are sent.
#[derive(Clone)]
pub struct Channels {
    pub output: mpsc::UnboundedSender<OutputLine>,
    pub exited: mpsc::UnboundedSender<Exited>,
}

/// What the readers and the run loop share: the bound of the queue between them, what was
/// dropped, and the last lines for the report (every line, shown or dropped).
#[derive(Debug, Default)]
pub struct Relay {
    queued: AtomicUsize,
    dropped: AtomicU64,
    tail: Mutex<VecDeque<String>>,
    marks: Mutex<Marks>,
}

/// A line of output and when it was read.
#[derive(Clone, Debug)]
pub struct Mark {
    pub at: Instant,
    pub stream: Stream,
    /// At most [`MARK_CHARS`] characters of the line.
    pub text: String,
}

/// The first and the last [`MARKS_EACH_END`] lines with their times, and how many fell between:
/// bounded however much the command prints.
#[derive(Debug, Default)]
pub struct Marks {
    pub first: Vec<Mark>,
    pub last: VecDeque<Mark>,
    pub skipped: u64,
}

impl Marks {
    fn push(&mut self, mark: Mark) {
        if self.first.len() < MARKS_EACH_END {
            self.first.push(mark);
            return;
        }
        if self.last.len() == MARKS_EACH_END {
            self.last.pop_front();
            self.skipped += 1;
        }
        self.last.push_back(mark);
    }
}

impl Relay {
    /// The run loop took `line` off the queue.
    pub fn taken(&self, line: &OutputLine) {
        self.queued.fetch_sub(queued_size(line), Ordering::Relaxed);
    }

    /// Lines (or pieces of lines) not shown because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The last [`OUTPUT_TAIL`] lines, stdout and stderr interleaved as they were read.
    pub fn tail(&self) -> Vec<String> {
        self.tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default()
    }

    /// The first and last lines with when they were read, in the order they were read.
    pub fn marks(&self) -> (Vec<Mark>, u64) {
        self.marks.lock().map_or((Vec::new(), 0), |m| (m.first.iter().chain(&m.last).cloned().collect(), m.skipped))
    }

    fn push(&self, line: OutputLine, output: &mpsc::UnboundedSender<OutputLine>) -> bool {
        if let Ok(mut marks) = self.marks.lock() {
            let text = line.text.chars().take(MARK_CHARS).collect();
            marks.push(Mark { at: Instant::now(), stream: line.stream, text });
        }
        if let Ok(mut tail) = self.tail.lock() {
            if tail.len() == OUTPUT_TAIL {
                tail.pop_front();
            }
            tail.push_back(line.text.clone());
        }
        let len = queued_size(&line);
        if self.queued.fetch_add(len, Ordering::Relaxed) + len > QUEUE_BYTES {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        output.send(line).is_ok()
    }
}

/// What a queued line costs in memory.
fn queued_size(line: &OutputLine) -> usize {
    line.text.len() + std::mem::size_of::<OutputLine>()
}

/// A started command.
pub struct RunningCommand {
    group: os::Group,
    pub relay: Arc<Relay>,
}

impl RunningCommand {
    /// Starts `argv` with `program` as its resolved path and `env` added to blip's environment;
    /// its output and exit go to `channels`.
    pub fn spawn(
        program: &Path,
        argv: &[String],
        env: &[(&str, String)],
        channels: Channels,
    ) -> Result<RunningCommand, StartError> {
        let relay = Arc::new(Relay::default());
        let (started_tx, started) = std::sync::mpsc::sync_channel(1);
        let mut command = std::process::Command::new(program);
        command
            .args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        os::prepare(&mut command);
        let name = argv[0].clone();
        let waiter_relay = relay.clone();
        // The thread that starts the command lives until the command exits (Linux's
        // PR_SET_PDEATHSIG fires when it ends).
        std::thread::Builder::new()
            .name("blip-command".into())
            .spawn(move || match command.spawn() {
                Ok(mut child) => {
                    let (group, keeper) = os::keep(&child);
                    let _ = started_tx.send(Ok(group));
                    relay_output(&mut child, &waiter_relay, &channels.output);
                    let status = child.wait();
                    let at = Instant::now();
                    let _ = channels.exited.send(Exited { status, at });
                    keeper.release();
                }
                Err(err) => {
                    let _ = started_tx.send(Err(err));
                }
            })
            .map_err(|e| StartError::Spawn(name.clone(), e))?;
        let group = match started.recv() {
            Ok(Ok(group)) => group,
            Ok(Err(err)) => return Err(StartError::Spawn(name, err)),
            Err(_) => return Err(StartError::Spawn(name, std::io::Error::other("the starting thread ended"))),
        };
        Ok(RunningCommand { group, relay })
    }

    /// Passes `signal` on to the command and every process it started. A command that is
    /// already gone is fine.
    pub fn signal(&self, signal: Signal) {
        self.group.signal(signal);
    }
}

/// Starts a reader thread per pipe.
fn relay_output(child: &mut Child, relay: &Arc<Relay>, output: &mpsc::UnboundedSender<OutputLine>) {
    let pipes: [(Option<Box<dyn Read + Send>>, Stream); 2] = [
        (child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>), Stream::Stdout),
        (child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>), Stream::Stderr),
    ];
    for (pipe, stream) in pipes {
        let Some(pipe) = pipe else { continue };
        let (relay, output) = (relay.clone(), output.clone());
        let name = format!("blip-{}", if stream == Stream::Stdout { "stdout" } else { "stderr" });
        let _ = std::thread::Builder::new().name(name).spawn(move || read_lines(pipe, stream, &relay, &output));
    }
}

/// Reads `pipe` to its end, a line (or [`LINE_MAX`] bytes) at a time.
fn read_lines(pipe: impl Read, stream: Stream, relay: &Relay, output: &mpsc::UnboundedSender<OutputLine>) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    // The start of a character cut at the end of the previous piece.
    let mut carry = Vec::new();
    loop {
        line.clear();
        line.append(&mut carry);
        // A read error ends the output as the end of the pipe does.
        let read = (&mut reader).take(LINE_MAX).read_until(b'\n', &mut line).unwrap_or(0);
        if line.is_empty() {
            return;
        }
        let ends_line = line.last() == Some(&b'\n');
        if !ends_line && read > 0 {
            carry = cut_character(&mut line);
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string();
        if !relay.push(OutputLine { stream, text, ends_line }, output) {
            return;
        }
    }
}

/// Splits off the incomplete UTF-8 character at the end of `bytes`, if there is one.
fn cut_character(bytes: &mut Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => bytes.split_off(e.valid_up_to()),
        _ => Vec::new(),
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
        Termination { exit_code: status.code(), signal: os::signal_name(status) }
    }

    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// In the report's words (see [`describe_end`]).
    pub fn describe(&self) -> String {
        describe_end(self.exit_code, self.signal.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn resolve_finds_programs_and_refuses_what_cannot_run() {
        use std::os::unix::fs::PermissionsExt as _;
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
    fn a_piece_cut_inside_a_character_carries_its_start_over() {
        let mut bytes = "ab€".as_bytes().to_vec();
        bytes.pop();
        let carry = cut_character(&mut bytes);
        assert_eq!((bytes.as_slice(), carry.as_slice()), (b"ab".as_slice(), &"€".as_bytes()[..2]));
        let mut whole = b"abc".to_vec();
        assert!(cut_character(&mut whole).is_empty() && whole == b"abc");
    }

    #[test]
    fn marks_keep_the_first_and_last_lines() {
        let mut marks = Marks::default();
        let at = Instant::now();
        for i in 0..(MARKS_EACH_END * 2 + 50) {
            marks.push(Mark { at, stream: Stream::Stdout, text: i.to_string() });
        }
        assert_eq!(marks.skipped, 50);
        assert_eq!(marks.first.last().unwrap().text, (MARKS_EACH_END - 1).to_string());
        assert_eq!(marks.last.front().unwrap().text, (MARKS_EACH_END + 50).to_string());
        assert_eq!(marks.last.back().unwrap().text, (MARKS_EACH_END * 2 + 49).to_string());
    }

    #[cfg(unix)]
    #[test]
    fn terminations() {
        use std::os::unix::process::ExitStatusExt as _;
        let ok = Termination::of(ExitStatus::from_raw(0));
        assert!(ok.succeeded());
        let failed = Termination::of(ExitStatus::from_raw(7 << 8));
        assert_eq!((failed.exit_code, failed.describe().as_str()), (Some(7), "exit code 7"));
        let killed = Termination::of(ExitStatus::from_raw(15));
        assert_eq!(killed.signal.as_deref(), Some("SIGTERM"));
        assert!(!killed.succeeded());
    }
}
