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
use std::time::Instant;

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
    let (addr, rate, seconds) = floor::args();
    let request = floor::request(&addr, "raw_floor");
    let mut tally = floor::Tally::new(rate, seconds);
    let mut conn = None;
    let mut buf = Vec::with_capacity(4096);
    for k in 0..tally.slots {
        let due = tally.due(k);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        tally.woke(due);
        if conn.is_none() {
            conn = connect(&addr).ok();
            tally.connected(conn.is_some());
        }
        let Some(stream) = conn.as_mut() else { continue };
        let answer = stream.write_all(request.as_bytes()).and_then(|()| read_answer(stream, &mut buf));
        if !tally.answered(answer) {
            conn = None;
        }
    }
    tally.print();
    Ok(())
}
