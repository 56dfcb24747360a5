//! What the two request floors (`raw_floor`, `async_floor`) share: where an answer ends, and the
//! line they print. Included by each with `#[path]`; not an example of its own.

use std::io;
use std::time::Duration;

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
pub fn print_summary(requests: u64, failed: u64, connections: u64, mut late: Vec<Duration>) {
    late.sort();
    let at = |q: f64| late.get(((late.len().max(1) - 1) as f64 * q) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    println!(
        "{{\"requests\":{requests},\"failed\":{failed},\"connections\":{connections},\"late_p50_ms\":{:.3},\"late_p99_ms\":{:.3}}}",
        at(0.5),
        at(0.99)
    );
}
