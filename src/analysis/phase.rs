//! Phases of a wrapped deploy: `warmup` before the command starts, `deploy` while it runs,
//! `cooldown` after it exits. The phase of a probe is the phase its due time falls in.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::analysis::histogram;

/// Counts of one URL in one phase of a wrapped deploy.
#[derive(Debug)]
pub struct PhaseStats {
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    pub latency: Histogram<u64>,
    /// The highest latency exactly, µs: the histogram's is its bucket's top, up to 0.05 % above
    /// (so an answer at 999.9 ms would read 1000.4 ms, past a 1 s deadline it met).
    pub latency_max_us: u64,
    pub downtime: Duration,
}

impl PhaseStats {
    pub fn new() -> PhaseStats {
        PhaseStats {
            probes: 0,
            ok: 0,
            failed: 0,
            latency: histogram::latency(),
            latency_max_us: 0,
            downtime: Duration::ZERO,
        }
    }

    /// Counts a probe due in this phase; `latency` is its answer's when it succeeded.
    pub fn record(&mut self, latency: Option<Duration>) {
        self.probes += 1;
        match latency {
            Some(latency) => {
                self.ok += 1;
                histogram::record(&mut self.latency, histogram::micros(latency));
                self.latency_max_us = self.latency_max_us.max(histogram::micros(latency));
            }
            None => self.failed += 1,
        }
    }
}

/// A phase of a wrapped deploy: `warmup` before the COMMAND starts, `deploy` while it runs,
/// `cooldown` after it exits; a probe belongs to the phase its due time falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Warmup,
    Deploy,
    Cooldown,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Warmup, Phase::Deploy, Phase::Cooldown];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Deploy => "deploy",
            Phase::Cooldown => "cooldown",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When each phase began, as offsets from the start of the run. Empty when no command is wrapped.
#[derive(Clone, Debug, Default)]
pub struct PhaseClock {
    starts: Vec<(Duration, Phase)>,
    /// When the run is to end (the cooldown's planned end), once known.
    planned_end: Option<Duration>,
    /// When the run ended.
    ended: Option<Duration>,
}

impl PhaseClock {
    /// Records that `phase` began at `offset`; phases begin in order.
    pub fn begin(&mut self, phase: Phase, offset: Duration) {
        if self.starts.last().is_none_or(|(at, p)| *p < phase && *at <= offset) {
            self.starts.push((offset, phase));
        }
    }

    /// The run is to end at `offset`: the cooldown's planned end.
    pub fn plan_end(&mut self, offset: Duration) {
        self.planned_end = Some(offset);
    }

    /// The run ended at `offset`.
    pub fn end(&mut self, offset: Duration) {
        self.ended = Some(offset);
    }

    /// Whether a cooldown of some length began and ran to its planned end (not cut short by a
    /// stop request).
    pub fn cooldown_ran(&self) -> bool {
        match (self.start_of(Phase::Cooldown), self.planned_end, self.ended) {
            (Some(start), Some(planned), Some(ended)) => planned > start && ended >= planned,
            _ => false,
        }
    }

    /// The phase `offset` falls in: the last one that began at or before it.
    pub fn phase_at(&self, offset: Duration) -> Option<Phase> {
        self.starts.iter().rev().find(|(at, _)| *at <= offset).map(|(_, p)| *p)
    }

    /// When `phase` began, if it did.
    pub fn start_of(&self, phase: Phase) -> Option<Duration> {
        self.starts.iter().find(|(_, p)| *p == phase).map(|(at, _)| *at)
    }

    /// `[start, end)` of every phase that began, the last one ending at `run_end`.
    pub fn spans(&self, run_end: Duration) -> Vec<(Phase, Duration, Duration)> {
        self.starts
            .iter()
            .enumerate()
            .map(|(i, (start, phase))| {
                let end = self.starts.get(i + 1).map_or(run_end, |(next, _)| *next);
                (*phase, *start, end.max(*start))
            })
            .collect()
    }
}

/// How much of `[start, end)` falls in each phase span.
pub fn split(spans: &[(Phase, Duration, Duration)], start: Duration, end: Duration) -> Vec<(Phase, Duration)> {
    spans
        .iter()
        .filter_map(|(phase, s, e)| {
            let overlap = end.min(*e).saturating_sub(start.max(*s));
            (!overlap.is_zero()).then_some((*phase, overlap))
        })
        .collect()
}

/// Which phases of a wrapped deploy the gates judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub enum GatePhases {
    /// Every phase, warmup included.
    #[value(name = "all")]
    #[serde(rename = "all")]
    All,
    /// Only while the command runs.
    #[value(name = "deploy")]
    #[serde(rename = "deploy")]
    Deploy,
    /// While the command runs and after it exits (not the warmup).
    #[default]
    #[value(name = "deploy+cooldown")]
    #[serde(rename = "deploy+cooldown")]
    DeployCooldown,
}

impl GatePhases {
    /// The name `--gate-phase` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            GatePhases::All => "all",
            GatePhases::Deploy => "deploy",
            GatePhases::DeployCooldown => "deploy+cooldown",
        }
    }

    /// Whether a probe due in `phase` is judged; without a wrapped command every probe is.
    pub fn judges(self, phase: Option<Phase>) -> bool {
        match (self, phase) {
            (_, None) | (GatePhases::All, _) => true,
            (GatePhases::Deploy, Some(p)) => p == Phase::Deploy,
            (GatePhases::DeployCooldown, Some(p)) => p != Phase::Warmup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn phase_lookup_and_split() {
        let mut c = PhaseClock::default();
        c.begin(Phase::Warmup, Duration::ZERO);
        c.begin(Phase::Deploy, S * 2);
        c.begin(Phase::Cooldown, S * 5);
        assert_eq!(c.phase_at(S), Some(Phase::Warmup));
        assert_eq!(c.phase_at(S * 2), Some(Phase::Deploy));
        assert_eq!(c.phase_at(S * 9), Some(Phase::Cooldown));
        assert_eq!(c.start_of(Phase::Cooldown), Some(S * 5));
        let spans = c.spans(S * 8);
        assert_eq!(spans.last(), Some(&(Phase::Cooldown, S * 5, S * 8)));
        assert_eq!(split(&spans, S * 4, S * 6), vec![(Phase::Deploy, S), (Phase::Cooldown, S)]);
        assert_eq!(split(&spans, S, S * 2), vec![(Phase::Warmup, S)]);
    }

    #[test]
    fn phases_only_move_forward() {
        let mut c = PhaseClock::default();
        c.begin(Phase::Deploy, S);
        c.begin(Phase::Warmup, S * 2);
        assert_eq!(c.spans(S * 3), vec![(Phase::Deploy, S, S * 3)]);
    }
}
