//! The run's clock: a monotonic start for arithmetic, and the wall time it corresponds to for
//! display. Offsets from the start are what the pure parts of blip work in.

use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    pub start: Instant,
    pub started_at: SystemTime,
}

impl RunClock {
    pub fn now() -> RunClock {
        RunClock { start: Instant::now(), started_at: SystemTime::now() }
    }

    /// Time from the start of the run to `instant` (zero for instants before it).
    pub fn offset(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.start)
    }

    /// The wall time of an offset, for display only.
    pub fn wall(&self, offset: Duration) -> SystemTime {
        // A run's offsets always fit; a saved report's are checked against its start when read,
        // and an unchecked one shows its start rather than end blip.
        self.started_at.checked_add(offset).unwrap_or(self.started_at)
    }
}

/// RFC 3339 in UTC with milliseconds, as in the JSON report.
pub fn rfc3339_ms(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// `HH:MM:SS.mmm` in UTC, for live lines.
pub fn time_of_day(time: SystemTime) -> String {
    let full = rfc3339_ms(time);
    full.get(11..23).unwrap_or(&full).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_001_234);
        assert_eq!(rfc3339_ms(t), "2023-11-14T22:13:21.234Z");
        assert_eq!(time_of_day(t), "22:13:21.234");
    }
}
