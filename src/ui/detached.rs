//! Terminal output that can never stall the probes: whole lines go to a thread of its own that
//! writes them to stdout or stderr.
//!
//! Below 5000 probes/s one runtime thread does all of blip's work, so a `write` that blocks (a
//! pipe nobody reads, a CI log applying backpressure, a deploy tool printing megabytes) would
//! stop the schedule with it. Lines are queued instead; [`Detached::flush`] waits until every
//! queued line is written, which the UIs call once, at the end of the run.

use std::io::{self, Write};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::thread::JoinHandle;

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
}

impl Detached {
    pub fn stdout() -> Detached {
        Detached::spawn(|| Box::new(io::stdout()))
    }

    pub fn stderr() -> Detached {
        Detached::spawn(|| Box::new(io::stderr()))
    }

    fn spawn(open: fn() -> Box<dyn Write + Send>) -> Detached {
        let (queue, messages) = mpsc::channel::<Message>();
        let writer = std::thread::Builder::new().name("blip-output".into()).spawn(move || {
            let mut out = open();
            for message in messages {
                match message {
                    // A closed stdout must not stop the run; what cannot be written is dropped.
                    Message::Bytes(bytes) => {
                        let _ = out.write_all(&bytes).and_then(|()| out.flush());
                    }
                    Message::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        match writer {
            Ok(writer) => Detached { queue: Some(queue), writer: Some(writer), partial: Vec::new() },
            // Without a thread, write in place: slower to fail safe, but nothing is lost.
            Err(_) => Detached { queue: None, writer: None, partial: Vec::new() },
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        match &self.queue {
            Some(queue) => {
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
    /// Queues whole lines as they complete; never blocks.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let lines = std::mem::replace(&mut self.partial, rest);
            self.send(lines);
        }
        Ok(buf.len())
    }

    /// Waits until everything written so far, a partial line included, is out.
    fn flush(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.send(partial);
        }
        if let Some(queue) = &self.queue {
            let (done, wait) = mpsc::sync_channel(1);
            if queue.send(Message::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
        Ok(())
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        let _ = self.flush();
        self.queue = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}
