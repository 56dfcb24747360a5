//! Units: how blip writes spans of time, in one place. The report carries milliseconds with
//! microsecond precision ([`millis`]); text shows spans as seconds with three decimals
//! ([`secs`], [`secs_ms`]), small figures as milliseconds ([`ms`]) and latencies as milliseconds
//! up to a second ([`latency`]). A leaf: it imports nothing from the crate.

use std::fmt;
use std::time::Duration;

/// Milliseconds with microsecond precision, as every `_ms` field of the report carries them.
pub fn millis(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// Microseconds (as histograms hold them) in milliseconds.
pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A span shown in seconds: `1.500 s`. A width (`{:>7}`) pads the number.
#[derive(Clone, Copy, Debug)]
pub struct Secs(f64);

/// A span in seconds.
pub fn secs(duration: Duration) -> Secs {
    Secs(duration.as_secs_f64())
}

/// A span given in the report's milliseconds, in seconds.
pub fn secs_ms(ms: f64) -> Secs {
    Secs(ms / 1000.0)
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match f.width() {
            Some(width) => write!(f, "{:>width$.3} s", self.0),
            None => write!(f, "{:.3} s", self.0),
        }
    }
}

/// Milliseconds shown as such, to the microsecond: `0.250 ms`.
#[derive(Clone, Copy, Debug)]
pub struct Ms(f64);

/// A figure in milliseconds.
pub fn ms(ms: f64) -> Ms {
    Ms(ms)
}

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} ms", self.0)
    }
}

/// A latency in milliseconds, as text: `12.34 ms` below a second, `1.500 s` from one up.
pub fn latency(ms: f64) -> String {
    if ms >= 1000.0 { secs_ms(ms).to_string() } else { format!("{ms:.2} ms") }
}

/// A latency as live views show it, two decimals: `12.34 ms`, `1.50 s`.
pub fn latency_brief(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 { format!("{:.2} s", ms / 1000.0) } else { format!("{ms:.2} ms") }
}

/// The report's milliseconds as a Duration, to the microsecond. Never a panic on a saved
/// report's figure: a negative or NaN one reads as zero, a huge one as the longest Duration.
pub fn from_ms(ms: f64) -> Duration {
    Duration::from_micros((ms.max(0.0) * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(millis(Duration::from_micros(1_500_123)), 1500.123);
        assert_eq!(us_to_ms(1_500), 1.5);
        assert_eq!(secs(Duration::from_millis(1500)).to_string(), "1.500 s");
        assert_eq!(format!("{:>7}", secs_ms(1500.0)), "  1.500 s");
        assert_eq!(ms(0.25).to_string(), "0.250 ms");
        assert_eq!((latency(12.345), latency(1500.0)), ("12.35 ms".to_string(), "1.500 s".to_string()));
    }
}
