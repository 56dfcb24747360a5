//! The machine's timer floor: how late a bare loop of sleeps to absolute due times wakes up, on
//! the monotonic clock blip's scheduler uses. `scripts/bench` prints it beside blip's send lag,
//! so the lag is judged against what the machine allows (a busy shared VM can show milliseconds).
//!
//! Usage: `timer_floor RATE SECONDS`; prints `{"p50_ms":…,"p99_ms":…,"max_ms":…,"samples":…}`.

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let slots = (rate * seconds) as u64;
    let start = Instant::now();
    let mut late = Vec::with_capacity(slots as usize);
    for k in 1..=slots {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        late.push(Instant::now().saturating_duration_since(due));
    }
    late.sort();
    let at = |q: f64| late[((late.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "{{\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"samples\":{}}}",
        at(0.5),
        at(0.99),
        at(1.0),
        late.len()
    );
}
