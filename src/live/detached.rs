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
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes queued for the writer at most; lines that do not fit are dropped.
const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of a line without its end held back at most: a longer one is passed on in pieces.
const PARTIAL_MAX: usize = 64 * 1024;
/// How long the end of a run waits for a reader that does not read: past it, what is still
/// queued is given up (and said), so blip exits rather than hang on a stalled pipe.
const FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

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
    /// A flush timed out: the writer is stuck on a reader that does not read.
    stuck: bool,
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
        Detached { queue, writer, partial: Vec::new(), queued, dropped: 0, name, failed, stuck: false }
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
    /// first error the writer met (a closed stdout is one). Drops nothing, but waits at most
    /// [`FLUSH_GRACE`] for a reader that has stopped reading: then the rest is given up.
    fn flush(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.send(partial, false);
        }
        if let Some(queue) = &self.queue
            && !self.stuck
        {
            let (done, wait) = mpsc::sync_channel(1);
            if queue.send(Message::Flush(done)).is_ok() && wait.recv_timeout(FLUSH_GRACE).is_err() {
                self.stuck = true;
                let left = self.queued.load(Ordering::Relaxed);
                return Err(io::Error::other(format!(
                    "{} was not read for {} s: {left} bytes were not written",
                    self.name,
                    FLUSH_GRACE.as_secs()
                )));
            }
        }
        match self.failed.lock().ok().and_then(|f| f.as_ref().map(|e| io::Error::new(e.kind(), e.to_string()))) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Err(err) = self.flush()
            && self.stuck
        {
            say!("blip: {err}");
        }
        self.queue = None;
        // A writer stuck on a reader that does not read is left behind; it ends with the process.
        if let Some(writer) = self.writer.take()
            && !self.stuck
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
