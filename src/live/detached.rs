//! Terminal output that can never stall the probes: whole lines go to a thread of its own that
//! writes them to stdout, stderr or a named pipe.
//!
//! Below 5000 probes/s one runtime thread does all of blip's work, so a `write` that blocks (a
//! pipe nobody reads, a CI log applying backpressure, a deploy tool printing megabytes) would
//! stop the schedule with it. Lines are queued instead, up to [`QUEUE_BYTES`]: a reader that
//! stalls for good must not grow blip's memory without bound either, so lines that do not fit
//! are dropped, counted, and the count is said on stderr at the end. [`Detached::flush`] waits
//! until every queued line is written, which the UIs call once, at the end of the run.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes queued for the writer at most; lines that do not fit are dropped.
const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of a line without its end held back at most: a longer one is passed on in pieces.
const PARTIAL_MAX: usize = 64 * 1024;
/// How long the end of a run waits for a reader that does not read: once this passes with
/// nothing written, what is still queued is given up (and said), so blip exits rather than hang
/// on a stalled pipe. A reader that reads, however slowly (a busy CI log), is waited for.
const FLUSH_GRACE: Duration = Duration::from_secs(3);
/// How long the end of a run waits at most for a reader that reads: one that takes a line now and
/// then must not hold blip for long either. The wait is not interrupted by a stop signal (the
/// run loop that would hear it is the one waiting), so this also bounds how late blip ends after
/// one, well within a supervisor's usual grace period before SIGKILL.
const FLUSH_MAX: Duration = Duration::from_secs(10);

enum Message {
    Bytes(Vec<u8>),
    /// Acknowledged once everything sent before it is written.
    Flush(SyncSender<()>),
}

pub struct Detached {
    queue: Option<Sender<Message>>,
    writer: Option<JoinHandle<()>>,
    /// Bytes of a line not yet complete.
    partial: Vec<u8>,
    /// Bytes sent and not yet written.
    queued: Arc<AtomicUsize>,
    /// Lines dropped because the queue was full.
    dropped: u64,
    /// What the output is called in the line that says what was dropped.
    name: &'static str,
    /// The first error the writer met, which [`Detached::flush`] returns.
    failed: Arc<Mutex<Option<io::Error>>>,
    /// Why a flush gave up (the writer is stuck on a reader that does not read), said again by
    /// every later flush.
    stuck: Option<Waited>,
    /// An error was returned by a flush: its caller says it, so dropping does not.
    told: bool,
}

impl Detached {
    pub fn stdout() -> Detached {
        Detached::spawn(Box::new(io::stdout()), "stdout")
    }

    pub fn stderr() -> Detached {
        Detached::spawn(Box::new(io::stderr()), "stderr")
    }

    /// Writes to `out`, named `name` when drops are said.
    pub fn spawn(mut out: Box<dyn Write + Send>, name: &'static str) -> Detached {
        let (queue, messages) = mpsc::channel::<Message>();
        let queued = Arc::new(AtomicUsize::new(0));
        let written = queued.clone();
        let failed = Arc::new(Mutex::new(None));
        let failure = failed.clone();
        let writer = std::thread::Builder::new().name("blip-output".into()).spawn(move || {
            for message in messages {
                match message {
                    // A closed stdout must not stop the run; what cannot be written is dropped.
                    Message::Bytes(bytes) => {
                        if let Err(err) = out.write_all(&bytes).and_then(|()| out.flush())
                            && let Ok(mut failure) = failure.lock()
                        {
                            failure.get_or_insert(err);
                        }
                        written.fetch_sub(bytes.len(), Ordering::Relaxed);
                    }
                    Message::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        let (queue, writer) = match writer {
            Ok(writer) => (Some(queue), Some(writer)),
            // Without a thread, write in place: slower to fail safe, but nothing is lost.
            Err(_) => (None, None),
        };
        Detached { queue, writer, partial: Vec::new(), queued, dropped: 0, name, failed, stuck: None, told: false }
    }

    fn send(&mut self, bytes: Vec<u8>, may_drop: bool) {
        match &self.queue {
            Some(queue) => {
                let len = bytes.len();
                if may_drop && self.queued.load(Ordering::Relaxed) + len > QUEUE_BYTES {
                    self.dropped += bytes.iter().filter(|b| **b == b'\n').count().max(1) as u64;
                    return;
                }
                self.queued.fetch_add(len, Ordering::Relaxed);
                let _ = queue.send(Message::Bytes(bytes));
            }
            None => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(&bytes).and_then(|()| out.flush());
            }
        }
    }
}

impl Write for Detached {
    /// Queues whole lines as they complete (and pieces of a very long line); never blocks.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let lines = std::mem::replace(&mut self.partial, rest);
            self.send(lines, true);
        }
        if self.partial.len() > PARTIAL_MAX {
            let piece = std::mem::take(&mut self.partial);
            self.send(piece, true);
        }
        Ok(buf.len())
    }

    /// Waits until everything written so far, a partial line included, is out, and returns the
    /// first error the writer met (a closed stdout is one). Drops nothing, but gives the rest up
    /// once the reader has read nothing for [`FLUSH_GRACE`], or after [`FLUSH_MAX`] in all; every
    /// later flush returns that too, since what was given up is lost.
    fn flush(&mut self) -> io::Result<()> {
        let result = self.wait_flushed();
        self.told |= result.is_err();
        result
    }
}

impl Detached {
    fn wait_flushed(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.send(partial, false);
        }
        if self.stuck.is_none()
            && let Some(queue) = &self.queue
        {
            let (done, written) = mpsc::sync_channel(1);
            if queue.send(Message::Flush(done)).is_ok()
                && let Err(waited) = wait_written(&written, &self.queued, FLUSH_GRACE, FLUSH_MAX)
            {
                self.stuck = Some(waited);
            }
        }
        // What is still queued now, written after the give-up too, is lost.
        let left = self.queued.load(Ordering::Relaxed);
        match self.stuck {
            Some(Waited::Stalled) => {
                return Err(io::Error::other(format!(
                    "{} was not read for {} s: {left} bytes were not written",
                    self.name,
                    FLUSH_GRACE.as_secs()
                )));
            }
            Some(Waited::TooLong) => {
                return Err(io::Error::other(format!(
                    "{} was still being read after {} s: {left} bytes were not written",
                    self.name,
                    FLUSH_MAX.as_secs()
                )));
            }
            None => {}
        }
        let failed = self.failed.lock().ok().and_then(|f| f.as_ref().map(|e| (e.kind(), e.to_string())));
        match failed {
            Some((kind, text)) => Err(io::Error::new(kind, format!("{}: {text}", self.name))),
            None => Ok(()),
        }
    }
}

/// Why a flush gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waited {
    /// Nothing was written for the grace period (or the writer is gone).
    Stalled,
    /// The reader kept reading, but not all of it within the most the end of a run waits.
    TooLong,
}

/// Waits for the writer to acknowledge a flush, `written`, for as long as it makes progress:
/// `queued` (bytes not yet written) must fall within every `grace`, and all of it within `max`.
fn wait_written(written: &Receiver<()>, queued: &AtomicUsize, grace: Duration, max: Duration) -> Result<(), Waited> {
    let deadline = Instant::now() + max;
    let mut left = queued.load(Ordering::Relaxed);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match written.recv_timeout(grace.min(remaining)) {
            Ok(()) => return Ok(()),
            Err(RecvTimeoutError::Disconnected) => return Err(Waited::Stalled),
            Err(RecvTimeoutError::Timeout) => {
                let now = queued.load(Ordering::Relaxed);
                if now >= left {
                    return Err(Waited::Stalled);
                }
                if Instant::now() >= deadline {
                    return Err(Waited::TooLong);
                }
                left = now;
            }
        }
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        // A reader that stopped reading is said here unless a flush's caller said it already. A
        // closed stdout is not: its reader chose to stop (`blip … | head`).
        if let Err(err) = self.wait_flushed()
            && !self.told
            && self.stuck.is_some()
        {
            say!("blip: {err}");
        }
        self.queue = None;
        // A writer stuck on a reader that does not read is left behind; it ends with the process.
        if let Some(writer) = self.writer.take()
            && self.stuck.is_none()
        {
            let _ = writer.join();
        }
        if self.dropped > 0 {
            say!("blip: {} lines were not written to {}: it was not read fast enough", self.dropped, self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A writer that blocks until told to go on, as a pipe nobody reads does.
    struct Stalled {
        go: Arc<AtomicBool>,
        seen: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            while !self.go.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            self.seen.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_reader_costs_a_bounded_queue_and_drops_are_counted() {
        let go = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut out = Detached::spawn(Box::new(Stalled { go: go.clone(), seen: seen.clone() }), "test");
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        let lines = 2 * QUEUE_BYTES / line.len();
        for _ in 0..lines {
            out.write_all(&line).unwrap();
        }
        let dropped = out.dropped;
        assert!(out.queued.load(Ordering::Relaxed) <= QUEUE_BYTES);
        assert!(dropped > 0 && dropped < lines as u64, "{dropped} of {lines}");
        // Let the writer go: every line not dropped comes out whole.
        go.store(true, Ordering::Relaxed);
        drop(out);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len() % line.len(), 0);
        assert_eq!((seen.len() / line.len()) as u64 + dropped, lines as u64);
    }

    /// A reader taking `queued` down by one byte every 5 ms, until `stop`, then acknowledging.
    fn reading(queued: &Arc<AtomicUsize>, stop: Duration) -> Receiver<()> {
        let (done, written) = mpsc::sync_channel(1);
        let queued = queued.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < stop {
                queued.fetch_sub(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = done.send(());
        });
        written
    }

    #[test]
    fn a_slow_reader_is_waited_for_past_the_grace_and_a_stalled_one_is_not() {
        let ms = Duration::from_millis;
        // Reading for 1.5 s, three times the grace: waited for, since it keeps reading.
        let queued = Arc::new(AtomicUsize::new(1_000_000));
        let written = reading(&queued, ms(1500));
        assert_eq!(wait_written(&written, &queued, ms(500), Duration::from_secs(60)), Ok(()));
        // A reader that reads nothing: given up after the grace.
        let (_done, written) = mpsc::sync_channel::<()>(1);
        let started = Instant::now();
        assert_eq!(wait_written(&written, &queued, ms(100), Duration::from_secs(60)), Err(Waited::Stalled));
        assert!(started.elapsed() >= ms(100));
        // One that keeps reading but takes longer than the most the end of a run waits.
        let written = reading(&queued, Duration::from_secs(5));
        assert_eq!(wait_written(&written, &queued, ms(500), ms(300)), Err(Waited::TooLong));
    }

    #[test]
    fn a_long_line_is_passed_on_in_pieces() {
        let go = Arc::new(AtomicBool::new(true));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut out = Detached::spawn(Box::new(Stalled { go, seen: seen.clone() }), "test");
        out.write_all(&vec![b'y'; 3 * PARTIAL_MAX]).unwrap();
        assert!(out.partial.len() <= PARTIAL_MAX);
        drop(out);
        assert_eq!(*seen.lock().unwrap(), vec![b'y'; 3 * PARTIAL_MAX]);
    }
}
