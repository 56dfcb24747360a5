//! What the two request floors (`raw_floor`, `async_floor`) share: where an answer ends, and the
//! line they print. Included by each with `#[path]`; not an example of its own.

use std::io;
use std::time::{Duration, Instant};

/// The command line both floors take: `HOST:PORT RATE SECONDS`.
pub fn args() -> (String, f64, f64) {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let rate = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let seconds = args.next().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    (addr, rate, seconds)
}

/// A floor's schedule (slot `k` due at `start + k / rate`, from the start so that nothing drifts)
/// and what happened on it.
pub struct Tally {
    start: Instant,
    rate: f64,
    pub slots: u64,
    connections: u64,
    failed: u64,
    late: Vec<Duration>,
}

impl Tally {
    pub fn new(rate: f64, seconds: f64) -> Tally {
        let slots = (rate * seconds) as u64;
        Tally {
            start: Instant::now(),
            rate,
            slots,
            connections: 0,
            failed: 0,
            late: Vec::with_capacity(slots as usize),
        }
    }

    pub fn due(&self, k: u64) -> Instant {
        self.start + Duration::from_secs_f64(k as f64 / self.rate)
    }

    /// The loop woke for the slot due at `due`.
    pub fn woke(&mut self, due: Instant) {
        self.late.push(Instant::now().saturating_duration_since(due));
    }

    /// A connection was tried for the slot: opened, or not (the slot fails).
    pub fn connected(&mut self, opened: bool) {
        self.connections += u64::from(opened);
        self.failed += u64::from(!opened);
    }

    /// The slot's answer; whether its connection may be used again.
    pub fn answered(&mut self, answer: io::Result<u16>) -> bool {
        self.failed += u64::from(!matches!(answer, Ok(200)));
        answer.is_ok()
    }

    /// Prints the floor's one line of JSON.
    pub fn print(self) {
        print_summary(self.slots, self.failed, self.connections, self.late);
    }
}

/// The request both floors send, built once.
pub fn request(addr: &str, agent: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {agent}\r\nAccept: */*\r\n\r\n")
}

/// Once `buf` holds an answer's whole head: its status code and the length of the whole answer
/// (head and `Content-Length` body). `None` while the head is incomplete.
pub fn answer_extent(buf: &[u8]) -> io::Result<Option<(u16, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| io::ErrorKind::InvalidData)?;
    let status = head.get(9..12).and_then(|s| s.parse().ok()).ok_or(io::ErrorKind::InvalidData)?;
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    Ok(Some((status, end + 4 + length)))
}

/// Prints the floor's one line of JSON: requests, failures, connections opened, and the wake
/// lateness of its due times (p50, p99).
fn print_summary(requests: u64, failed: u64, connections: u64, mut late: Vec<Duration>) {
    late.sort();
    let at = |q: f64| late.get(((late.len().max(1) - 1) as f64 * q) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    println!(
        "{{\"requests\":{requests},\"failed\":{failed},\"connections\":{connections},\"late_p50_ms\":{:.3},\"late_p99_ms\":{:.3}}}",
        at(0.5),
        at(0.99)
    );
}
