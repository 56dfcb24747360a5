//! A gate's entry in a target's report: its verdict, and the evidence behind it.

use serde::{Deserialize, Serialize};

/// One gate's verdict on one URL, judged on the probes and windows of the judged phases
/// (`gate_phases`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct GateReport {
    /// The gate as given: `max-downtime 0s`, `fail-on-status 404`.
    pub gate: String,
    /// blip added this gate itself (`max-downtime 0s`), since no gate given bounds downtime or
    /// failed probes; the human reports show it as `max-downtime 0s (default)`.
    #[serde(default)]
    pub default: bool,
    /// The limit as the summary shows it: `0s`, `10`, `0.5%`, `5%/10s`, `3 windows`,
    /// `2x the warmup's`, a status set (`404`, `5xx`); `1 successful probe` for
    /// `answered at least once`.
    pub limit: String,
    /// What was measured against the limit, as the summary shows it (`1.500 s`, `3 probes`,
    /// `0.500% (1 of 200) from 10s to 20s`), or why nothing could be judged (`no probe judged`,
    /// `not judged: …`).
    pub observed: String,
    /// The URL stayed within the limit. A gate that had nothing to judge (no judged probe, no
    /// successful one for a latency gate, no baseline for `--max-latency-increase`) fails.
    pub passed: bool,
    /// Why it failed; null when it passed.
    pub evidence: Option<Evidence>,
}

/// Why a gate failed: its first offender and the outage windows involved.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Evidence {
    /// When the first offender was due, RFC 3339: the first judged probe with a listed status
    /// (`--fail-on-status`) or that failed (`--max-failed`); the first judged instant of the
    /// first window (`--max-downtime`), of the longest (`--max-outage`) or of the first past the
    /// limit (`--max-outages`); the start of `worst_window` (`--max-error-rate`); the start of
    /// the first judged degraded span (`--max-degraded`, whose `first_error` is the span's
    /// sentence); the start of the first window (`answered at least once`). Null for `--max-latency` and
    /// `--max-latency-increase`, and when no probe was judged.
    pub first_at: Option<String>,
    /// `first_at`, from the start of the run, ms.
    pub first_offset_ms: Option<f64>,
    /// What the first offender got: the probe's status or error, or the window's `first_error`;
    /// for `--max-error-rate`, how many of the window's probes failed. Null with `first_at`.
    pub first_error: Option<String>,
    /// Indexes into this URL's `outages` of the windows involved; windows past the list's bound
    /// have indexes too, which it does not hold.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub outages: Vec<usize>,
    /// `--max-error-rate`: the sliding window with the highest share of failed probes; null for
    /// other gates.
    pub worst_window: Option<RateWindowReport>,
    /// `--max-latency-increase`: the quantile in the warmup and after it; null for other gates,
    /// and when either could not be taken.
    pub latency_increase: Option<IncreaseReport>,
}

/// A latency quantile of the warmup, of the judged phases after it, and their ratio.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct IncreaseReport {
    /// The quantile the gate names (`max` for the highest) of the warmup's successful probes'
    /// latency, ms.
    pub warmup_ms: f64,
    /// The same quantile of the successful probes after the warmup: the deploy's, and the
    /// cooldown's unless `--gate-phase deploy`, ms.
    pub judged_ms: f64,
    /// `judged_ms / warmup_ms` (a warmup quantile of 0 counts as 1 µs); the gate fails when it is
    /// above the factor given.
    pub ratio: f64,
}

/// A span of the run and the share of its judged probes that failed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RateWindowReport {
    /// Its start, from the start of the run, ms: the start of a timeline slice (whole seconds).
    pub start_offset_ms: f64,
    /// Its end, from the start of the run, ms: the end of its last slice. It spans the gate's window rounded up to whole
    /// slices, or less at the end of the run.
    pub end_offset_ms: f64,
    /// Judged probes due in it.
    pub probes: u64,
    /// Of them, those that failed.
    pub failed: u64,
    /// Failed probes as a percentage of `probes`.
    pub rate_percent: f64,
}

impl GateReport {
    /// The gate as the human reports name it: `max-downtime 0s (default)` for blip's own.
    pub fn shown(&self) -> String {
        crate::gates::shown_name(&self.gate, self.default)
    }
}
