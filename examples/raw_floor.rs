//! The raw request floor: the least a client can do per request on the schedule blip keeps. One
//! keep-alive TCP connection, one request built once; at each due time (absolute, on the
//! monotonic clock, as `timer_floor` sleeps) the request is written and one whole answer read.
//! `scripts/bench --floor` measures its CPU per request beside blip's and oha's, so blip's cost
//! is judged against what the kernel and the loopback alone take.
//!
//! Usage: `raw_floor HOST:PORT RATE SECONDS`; prints
//! `{"requests":…,"failed":…,"connections":…,"late_p50_ms":…,"late_p99_ms":…}`. A request whose
//! answer is not `200` counts as failed; a connection the server closes is opened again.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[path = "floor/mod.rs"]
mod floor;

/// Reads one HTTP/1.1 answer with a `Content-Length` body from `conn`, using `buf` for its
/// bytes; returns its status code.
fn read_answer(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((status, length)) = floor::answer_extent(buf)?
            && buf.len() >= length
        {
            return Ok(status);
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let conn = TcpStream::connect(addr)?;
    conn.set_nodelay(true)?;
    Ok(conn)
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let request = floor::request(&addr, "raw_floor");
    let slots = (rate * seconds) as u64;
    let mut conn = None;
    let mut connections = 0u64;
    let mut failed = 0u64;
    let mut buf = Vec::with_capacity(4096);
    let mut late = Vec::with_capacity(slots as usize);
    let start = Instant::now();
    for k in 0..slots {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        late.push(Instant::now().saturating_duration_since(due));
        if conn.is_none() {
            conn = connect(&addr).ok();
            connections += u64::from(conn.is_some());
        }
        let Some(stream) = conn.as_mut() else {
            failed += 1;
            continue;
        };
        let answered = stream.write_all(request.as_bytes()).and_then(|()| read_answer(stream, &mut buf));
        match answered {
            Ok(200) => {}
            Ok(_) => failed += 1,
            Err(_) => {
                failed += 1;
                conn = None;
            }
        }
    }
    floor::print_summary(slots, failed, connections, late);
    Ok(())
}
