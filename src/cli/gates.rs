//! The flags that judge a run: its gates, its baseline of past runs, and the hooks a window
//! runs.

use std::time::Duration;

use clap::Args;

use super::values::*;
use crate::engine::status_set::StatusSet;
use crate::gates::{
    ErrorRateLimit, ExpectNew, FailedLimit, GatePhases, LatencyIncrease, LatencyLimit, LatencyVsBaseline, Stat,
};

/// Limits for CI: a failed gate ends blip with exit code 1. Unless one of the gates given bounds
/// downtime or failed probes, blip adds `--max-downtime 0s` (see [`crate::gates::Gates`]).
#[derive(Clone, Debug, Args)]
pub struct GateArgs {
    /// Fail if any probe is answered with one of these codes (404, 5xx); repeatable.
    #[arg(long, value_name = "SET", value_parser = parse_status_set, help_heading = "Gates")]
    pub fail_on_status: Vec<StatusSet>,

    /// Fail if the total downtime is above DUR; 0s fails on any outage.
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_RUN), help_heading = "Gates")]
    pub max_downtime: Option<Duration>,

    /// Fail if the longest outage is above DUR.
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_RUN), help_heading = "Gates")]
    pub max_outage: Option<Duration>,

    /// Fail if more probes failed than a count (10) or a share of all probes (0.5%).
    #[arg(long, value_name = "N|P%", value_parser = parse_failed_limit, help_heading = "Gates")]
    pub max_failed: Option<FailedLimit>,

    /// Fail if a latency quantile of successful probes is above a limit: p99=300ms, p99.9=1s,
    /// max=2s; repeatable.
    #[arg(long, value_name = "pNN=DUR", value_parser = parse_latency_limit, help_heading = "Gates")]
    pub max_latency: Vec<LatencyLimit>,

    /// Fail if the degraded spans (a share of probes failing, or answers slow, but not down)
    /// last more than DUR in all; not a bound on downtime, so the default gate stays.
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_RUN), help_heading = "Gates")]
    pub max_degraded: Option<Duration>,

    /// Fail if more than N outage windows opened: a URL that flaps between up and down.
    #[arg(long, value_name = "N", help_heading = "Gates")]
    pub max_outages: Option<u64>,

    /// Fail if, in any sliding window of DUR (whole seconds), more than P % of the probes failed:
    /// 5%/10s catches a brownout that a total over the whole run hides.
    #[arg(long, value_name = "P%/DUR", value_parser = parse_error_rate, help_heading = "Gates")]
    pub max_error_rate: Option<ErrorRateLimit>,

    /// With a COMMAND: fail if a latency quantile after the warmup is above FACTOR times the
    /// warmup's (p99=2x); fails as not judged below 100 successful warmup probes; repeatable.
    #[arg(long, value_name = "pNN=FACTOR", value_parser = parse_latency_increase, help_heading = "Gates")]
    pub max_latency_increase: Vec<LatencyIncrease>,

    /// With a COMMAND and --track-header or --track-body: fail unless a value the warmup never
    /// saw served by the end (a deploy that changed nothing fails); =strict also fails if a
    /// warmup value still answered once the cooldown began.
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "served", help_heading = "Gates")]
    pub expect_new: Option<ExpectNew>,

    /// With a COMMAND: which phases the gates judge; warmup failures are reported, not blamed on
    /// the deploy [default: deploy+cooldown].
    #[arg(long, value_enum, value_name = "PHASES", help_heading = "Gates")]
    pub gate_phase: Option<GatePhases>,

    /// Stop the run (and the COMMAND, as Ctrl-C does) at the first failed gate that can no
    /// longer pass.
    #[arg(long, help_heading = "Gates")]
    pub fail_fast: bool,

    /// Judge a run even when blip missed more than 10 % of a URL's slots (it was stopped or
    /// starved: a paused CI runner, a frozen VM); without it such a run exits 2, not judged.
    #[arg(long, help_heading = "Gates")]
    pub allow_missed: bool,

    /// Judge nothing: report what was measured and exit 0 (unless blip or the COMMAND failed).
    /// Without it, and unless a gate given bounds downtime or failures (--max-downtime,
    /// --max-outage, --max-failed, --max-error-rate, --max-outages), blip judges zero downtime
    /// (max-downtime 0s, shown as the default).
    #[arg(long, help_heading = "Gates", conflicts_with_all = ["fail_on_status", "max_downtime", "max_outage", "max_failed", "max_latency", "max_outages", "max_degraded", "max_error_rate", "max_latency_increase", "expect_new", "fail_fast"])]
    pub measure_only: bool,
}

/// Shell commands run when a URL goes down and comes back up.
#[derive(Clone, Debug, Default, Args)]
pub struct HookArgs {
    /// Run CMD (sh -c) when a URL's outage window opens, with BLIP_URL, BLIP_CAUSE, BLIP_START
    /// and BLIP_DURATION_MS (empty) in its environment; at most one at a time per URL.
    #[arg(long, value_name = "CMD", help_heading = "Hooks")]
    pub on_down: Option<String>,

    /// Run CMD (sh -c) when a URL's outage window closes, with BLIP_DURATION_MS the window's
    /// length; at most one at a time per URL.
    #[arg(long, value_name = "CMD", help_heading = "Hooks")]
    pub on_up: Option<String>,
}

/// `--baseline`: a run, or a saved report, against the same figures of the team's own past runs.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Past JSON reports to judge against: a glob such as 'history/*.json' (quoted, so blip
    /// expands it); repeatable. Reports of other URLs or another COMMAND are left out; files
    /// that are not blip reports are named and skipped.
    #[arg(long, value_name = "GLOB", help_heading = "Baseline")]
    pub baseline: Vec<String>,

    /// Fail if the judged downtime is above a figure of the past runs: p99, p95, max, mean+3sd.
    #[arg(long, value_name = "STAT", value_parser = parse_stat, help_heading = "Baseline")]
    pub max_downtime_vs_baseline: Option<Stat>,

    /// Fail if more probes failed than a figure of the past runs: p99, p95, max, mean+3sd.
    #[arg(long, value_name = "STAT", value_parser = parse_stat, help_heading = "Baseline")]
    pub max_failed_vs_baseline: Option<Stat>,

    /// Fail if a latency quantile of the judged phases is above a figure of the same quantile
    /// in the past runs: p99=p95 (this run's p99 against the p95 of past runs' p99s), p50=max;
    /// repeatable.
    #[arg(long, value_name = "pNN=STAT", value_parser = parse_latency_vs_baseline, help_heading = "Baseline")]
    pub max_latency_vs_baseline: Vec<LatencyVsBaseline>,

    /// The least downtime limit a baseline sets, so a history of zeros does not fail every
    /// small blip [default: 0s].
    #[arg(long, value_name = "DUR", value_parser = duration_up_to(MAX_RUN), help_heading = "Baseline")]
    pub baseline_floor: Option<Duration>,

    /// Past runs a baseline needs: with fewer, its gates fail as not judged [default: 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000), help_heading = "Baseline")]
    pub baseline_min_runs: Option<u32>,

    /// Take past runs of any COMMAND, not only of the report's own.
    #[arg(long, help_heading = "Baseline")]
    pub baseline_any_command: bool,
}
