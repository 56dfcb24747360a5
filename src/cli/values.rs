//! Parsers for the values flags take (rates, durations, status sets, gate limits, routes,
//! addresses) and the bounds they keep, so that every number blip adds to a clock exists.

use std::time::Duration;

use crate::engine::route::{ConnectTo, Resolve};
use crate::engine::status_set::StatusSet;
use crate::gates::{ErrorRateLimit, FailedLimit, LatencyIncrease, LatencyLimit, LatencyVsBaseline, Stat};

/// The lowest rate: one probe every 1000 s.
pub const MIN_RATE: f64 = 0.001;
/// The highest rate per URL.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The longest run (`--duration`) and the largest downtime limits: a year.
pub const MAX_RUN: Duration = Duration::from_secs(366 * 24 * 3600);
/// The longest warmup or cooldown: a day.
pub const MAX_PHASE: Duration = Duration::from_secs(24 * 3600);
/// The longest probe deadline (`--timeout`, `--slow`): an hour, the range of the latency
/// histograms.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest `--concurrency` and `--min-failures`.
pub const MAX_COUNT: i64 = 1_000_000;

/// A probe rate: finite, from [`MIN_RATE`] to [`MAX_RATE`] per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of probes per second"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!("`{text}` must be a positive number of probes per second"));
    }
    if rate < MIN_RATE {
        return Err(format!("`{text}` is below the lowest rate, {MIN_RATE} probes per second (one every 1000 s)"));
    }
    if rate > MAX_RATE {
        return Err(format!("`{text}` is above the limit of {MAX_RATE} probes per second"));
    }
    Ok(rate)
}

/// A humantime duration such as `500ms`, `10s` or `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like 500ms, 10s or 2m ({e})"))
}

/// A parser for durations no longer than `max`: every time blip adds a duration to a clock
/// reading, the sum must exist.
pub fn duration_up_to(max: Duration) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| {
        let duration = parse_duration(text)?;
        if duration > max {
            return Err(format!("`{text}` is longer than the limit of {}", humantime::format_duration(max)));
        }
        Ok(duration)
    }
}

/// `--duration`: a duration as [`duration_up_to`] reads it, and a word for the curl habit of
/// giving `-d` a request body.
pub(super) fn parse_run_duration(text: &str) -> Result<Duration, String> {
    if looks_like_body(text) {
        return Err("this looks like a request body: blip's -d is --duration (how long to probe); \
                    send a body with --data"
            .to_string());
    }
    duration_up_to(MAX_RUN)(text)
}

/// Whether a value looks like a request body (JSON, a form or curl's `@file`) rather than what
/// the flag takes: curl users reach for `-d '{..}'` and `--json '{..}'`.
pub fn looks_like_body(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with(['{', '[', '@']) || (text.contains('=') && !text.contains('/'))
}

pub(super) fn parse_status_set(text: &str) -> Result<StatusSet, String> {
    text.parse().map_err(|e| format!("{e}"))
}

pub(super) fn parse_resolve(text: &str) -> Result<Resolve, String> {
    text.parse()
}

pub(super) fn parse_connect_to(text: &str) -> Result<ConnectTo, String> {
    text.parse()
}

pub(super) fn parse_failed_limit(text: &str) -> Result<FailedLimit, String> {
    text.parse()
}

pub(super) fn parse_error_rate(text: &str) -> Result<ErrorRateLimit, String> {
    text.parse()
}

pub(super) fn parse_latency_vs_baseline(text: &str) -> Result<LatencyVsBaseline, String> {
    text.parse()
}

pub(super) fn parse_stat(text: &str) -> Result<Stat, String> {
    text.parse()
}

pub(super) fn parse_latency_increase(text: &str) -> Result<LatencyIncrease, String> {
    text.parse()
}

pub(super) fn parse_latency_limit(text: &str) -> Result<LatencyLimit, String> {
    text.parse()
}

/// An address to listen on, as IP:PORT; a bare `:PORT` gets a hint.
pub(super) fn socket_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse().map_err(|_| match text.strip_prefix(':') {
        Some(port) => {
            format!("`{text}` has no IP: 127.0.0.1:{port} serves this machine only, 0.0.0.0:{port} every interface")
        }
        None => format!("`{text}` is not an IP:PORT address like 127.0.0.1:9464 or [::1]:9464"),
    })
}
