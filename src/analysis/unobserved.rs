//! What blip could not observe, and why: its own trouble (`local_error`: no descriptor, buffer
//! or local port left) and the slots it could not send within `--timeout` of their due time
//! (`missed`: blip was stopped or starved). Neither is the target's failure: such a slot is
//! neither ok nor failed, opens no window, and is counted here instead.

use std::time::Duration;

use crate::engine::sample::{ErrorKind, Outcome};

/// Spans of missed slots kept; past it the last one grows.
const MAX_PAUSES: usize = 100;

/// One URL's unobserved slots.
#[derive(Clone, Debug, Default)]
pub struct Unobserved {
    pub local_errors: u64,
    pub missed: u64,
    /// What the first local error was, for the one line that says what blip could not do.
    pub first_local: Option<String>,
}

impl Unobserved {
    pub fn record(&mut self, kind: ErrorKind, outcome: &Outcome) {
        match kind {
            ErrorKind::Local => {
                self.local_errors += 1;
                self.first_local.get_or_insert_with(|| outcome.describe());
            }
            _ => self.missed += 1,
        }
    }
}

/// A stretch of the run whose slots blip missed: a pause of the process or of its machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pause {
    /// Due times of the first and last slot missed, from the start of the run.
    pub start: Duration,
    pub end: Duration,
    pub missed: u64,
}

/// The run's pauses, from the missed slots of every URL.
#[derive(Clone, Debug)]
pub struct Pauses {
    spans: Vec<Pause>,
    /// Missed slots further apart than this belong to different pauses: one URL's interval.
    join: Duration,
}

impl Pauses {
    /// For a run probing each URL at `rate` per second.
    pub fn new(rate: f64) -> Pauses {
        let join = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX);
        Pauses { spans: Vec::new(), join }
    }

    /// A slot due at `due` was missed.
    pub fn record(&mut self, due: Duration) {
        let joins = |p: &Pause| due + self.join >= p.start && due <= p.end.saturating_add(self.join);
        if let Some(p) = self.spans.iter_mut().rev().find(|p| joins(p)) {
            p.start = p.start.min(due);
            p.end = p.end.max(due);
            p.missed += 1;
        } else if self.spans.len() < MAX_PAUSES {
            self.spans.push(Pause { start: due, end: due, missed: 1 });
        } else if let Some(last) = self.spans.last_mut() {
            last.end = last.end.max(due);
            last.missed += 1;
        }
    }

    pub fn spans(&self) -> &[Pause] {
        &self.spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_slots_of_every_url_make_one_pause_per_stretch() {
        let ms = Duration::from_millis;
        let mut p = Pauses::new(20.0);
        // Two URLs, 50 ms apart each, missed from +1 s to +3 s; then one slot at +10 s.
        for i in 0..40u64 {
            p.record(ms(1000 + 50 * i));
            p.record(ms(1025 + 50 * i));
        }
        p.record(ms(10_000));
        let spans = p.spans();
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert_eq!((spans[0].start, spans[0].end, spans[0].missed), (ms(1000), ms(2975), 80));
        assert_eq!(spans[1].missed, 1);
    }
}
