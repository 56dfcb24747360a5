//! Saved JSON reports read back: a file that is not a blip report, or one of a schema this blip
//! does not know, is refused with one line that names it.
//!
//! A saved report is untrusted input: anyone can edit one, and `blip judge` and `blip merge`
//! turn its figures into a verdict. So it is read at a bounded cost (at most
//! [`MAX_REPORT_BYTES`], streamed straight into the typed model, never into a generic JSON
//! tree), and every figure is checked against the run it claims before anything is judged or
//! written: offsets within the run, counts that add up, timestamps that parse, keys that are
//! status codes or error kinds, histograms that decode within their bound. The first field that
//! fails is named, and the report refused. Free text (errors, the command's output) is kept as
//! written; every writer cleans and escapes it on the way out, as it does a server's.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::report::{Report, SCHEMA_VERSION, TargetReport, bounded};

mod figures;
use crate::sanitize;
use figures::histogram;

/// The report in the file at `path`.
pub fn read(path: &Path) -> anyhow::Result<Report> {
    let shown = path.display();
    let open = || std::fs::File::open(path).with_context(|| format!("cannot read the report {shown}"));
    let file = open()?;
    let too_large = || format!("{shown} is larger than {} MiB: not a blip report", MAX_REPORT_BYTES >> 20);
    // A regular file is measured before a byte of it is read; anything else (`/dev/zero`, a
    // pipe) is read no further than the bound.
    if file.metadata().is_ok_and(|m| m.is_file() && m.len() > MAX_REPORT_BYTES) {
        bail!(too_large());
    }
    let mut counted = Counted { inner: BufReader::new(file.take(MAX_REPORT_BYTES + 1)), read: 0 };
    let parsed = bounded::with_budget(MAX_MODEL_BYTES, || serde_json::from_reader::<_, Report>(&mut counted));
    if counted.read > MAX_REPORT_BYTES {
        bail!(too_large());
    }
    let report = match parsed {
        Ok(report) => Ok(report),
        Err(e) if e.is_io() => return Err(e).with_context(|| format!("cannot read the report {shown}")),
        // Read again for a better reason than serde's, if the file can be (not a pipe).
        Err(e) => Err(refusal(e, || {
            let file = open().ok().filter(|f| f.metadata().is_ok_and(|m| m.is_file()))?;
            Some(serde_json::from_reader(BufReader::new(file.take(MAX_REPORT_BYTES))))
        })),
    };
    report.and_then(checked).with_context(|| format!("{shown} is not a blip JSON report (write one with --json)"))
}

/// The largest report file read: 64 MiB. A URL's timeline is at most a day of one-second slices
/// (past a day they widen), about 12 MB of pretty-printed JSON, so this holds full day-long runs
/// of five URLs; typed, such a report takes about half its size in memory.
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// The most memory a report's lists and maps may take, read: 48 MiB. A day of one-second slices
/// of one URL takes 5 MB, so this holds every timeline a report within [`MAX_REPORT_BYTES`] can
/// carry, where a map of short keys could otherwise take 20 times the file.
const MAX_MODEL_BYTES: usize = 48 << 20;

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The one field read first, to tell a report of another schema from a broken one.
#[derive(Deserialize)]
struct Envelope {
    schema_version: Option<serde_json::Number>,
}

/// A report from the JSON `--json` wrote. Fields this blip does not know are ignored, so reports
/// of later blips with added fields are read, as long as their `schema_version` is known.
#[cfg_attr(not(test), allow(dead_code))]
pub fn parse(text: &str) -> anyhow::Result<Report> {
    match bounded::with_budget(MAX_MODEL_BYTES, || serde_json::from_str::<Report>(text)) {
        Ok(report) => checked(report),
        Err(e) => Err(refusal(e, || Some(serde_json::from_str(text)))),
    }
}

/// Why a text that did not read as a report is not one; `envelope` reads its `schema_version`
/// again, when it can be read again.
fn refusal(
    error: serde_json::Error,
    envelope: impl FnOnce() -> Option<Result<Envelope, serde_json::Error>>,
) -> anyhow::Error {
    // serde quotes what it found (an unknown variant, a string): cleaned, as all outside text.
    let why = sanitize::line(&error.to_string());
    if error.is_syntax() || error.is_eof() {
        return anyhow::anyhow!("it is not JSON: {why}");
    }
    match envelope() {
        Some(Ok(Envelope { schema_version: None })) => anyhow::anyhow!("it has no schema_version"),
        Some(Ok(Envelope { schema_version: Some(v) })) if v.as_u64() != Some(u64::from(SCHEMA_VERSION)) => {
            anyhow::anyhow!("its schema_version is {v}; this blip reads {SCHEMA_VERSION}")
        }
        Some(Err(_)) => anyhow::anyhow!("its schema_version is not a number"),
        _ => anyhow::anyhow!("it does not hold a report's fields: {why}"),
    }
}

/// A report read whole, checked: its schema, its start, and figures that agree.
fn checked(report: Report) -> anyhow::Result<Report> {
    if report.schema_version != SCHEMA_VERSION {
        bail!("its schema_version is {}; this blip reads {SCHEMA_VERSION}", report.schema_version);
    }
    started_at(&report)?;
    consistent(&report)?;
    Ok(report)
}

/// The longest route (`--connect-to`, `--resolve`) a report holds: thousands of addresses.
const ROUTE_MAX: usize = 65_536;

/// The longest run a report is read for: a year. Every offset and count is bounded by the run,
/// so this bounds them all, far below where a clock reading plus an offset could overflow.
const MAX_RUN_MS: f64 = 366.0 * 86_400_000.0;

/// Slack on a run's end, ms: offsets are rounded to the microsecond, durations to the
/// millisecond's thousandth.
const SLACK_MS: f64 = 1.0;

/// What every report blip writes holds true; a report edited by hand into something else would
/// be judged on figures that contradict each other, so it is refused, naming the first field
/// that is wrong.
fn consistent(report: &Report) -> anyhow::Result<()> {
    let runs = report.merged_from.as_ref().map_or(1, Vec::len).max(1);
    if !(report.duration_ms.is_finite() && (0.0..=MAX_RUN_MS).contains(&report.duration_ms)) {
        bail!("its duration_ms ({}) is not from 0 to {MAX_RUN_MS} (a year)", report.duration_ms);
    }
    let max_rate = crate::cli::MAX_RATE * runs as f64;
    if !(report.rate.is_finite() && (crate::cli::MIN_RATE..=max_rate).contains(&report.rate)) {
        bail!("its rate ({}) is not from {} to {max_rate} probes per second", report.rate, crate::cli::MIN_RATE);
    }
    let last = humantime::parse_rfc3339("9999-12-31T23:59:59Z").unwrap_or(SystemTime::UNIX_EPOCH);
    if started_at(report)?.checked_add(crate::units::from_ms(report.duration_ms) + Duration::from_secs(86_400))
        > Some(last)
    {
        bail!("its started_at `{}` is too close to the year 10000", sanitize::line(&report.started_at));
    }
    // A route is a flag's value as given: a line, not a text.
    if let Some((i, _)) = report.routes.iter().enumerate().find(|(_, r)| r.chars().count() > ROUTE_MAX) {
        bail!("routes[{i}] is longer than {ROUTE_MAX} characters, the longest route blip reads in a report");
    }
    let run = Run { end_ms: report.duration_ms + SLACK_MS, runs: runs as u64 };
    // Probes are due at `start + k / rate`: at most one more than the run's length holds, per run.
    let max_probes = (report.rate * report.duration_ms / 1000.0).floor() as u64 + run.runs;
    if report.targets.is_empty() {
        bail!("it has no targets");
    }
    if let Some(d) = &report.deploy {
        for (name, x) in [
            ("warmup_ms", Some(d.warmup_ms)),
            ("cooldown_ms", Some(d.cooldown_ms)),
            ("start_offset_ms", d.start_offset_ms),
            ("end_offset_ms", d.end_offset_ms),
            ("duration_ms", d.duration_ms),
        ] {
            run.offset(&format!("deploy.{name}"), x)?;
        }
        for (i, m) in d.output_marks.iter().enumerate() {
            run.offset(&format!("deploy.output_marks[{i}].offset_ms"), Some(m.offset_ms))?;
        }
    }
    if report.hooks.len() as u64 > report.hooks_run {
        bail!("it lists {} hooks where hooks_run is {}", report.hooks.len(), report.hooks_run);
    }
    for (i, h) in report.hooks.iter().enumerate() {
        run.offset(&format!("hooks[{i}].start_offset_ms"), Some(h.start_offset_ms))?;
        run.offset(&format!("hooks[{i}].duration_ms"), Some(h.duration_ms))?;
    }
    for (i, m) in report.merged_from.iter().flatten().enumerate() {
        run.offset(&format!("merged_from[{i}].start_offset_ms"), Some(m.start_offset_ms))?;
        run.offset(&format!("merged_from[{i}].duration_ms"), Some(m.duration_ms))?;
    }
    run.offset("clock_offset_ms", report.clock_offset_ms)?;
    for t in &report.targets {
        let url = sanitize::line(&t.url);
        target(t, &run, max_probes).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    }
    Ok(())
}

/// The run a report claims, which its offsets must fall within.
struct Run {
    /// The run's length plus [`SLACK_MS`].
    end_ms: f64,
    /// Runs merged into the report (1 for a run's own).
    runs: u64,
}

impl Run {
    /// Checks that `x`, an offset or a span in ms, is within the run.
    fn offset(&self, name: &str, x: Option<f64>) -> anyhow::Result<()> {
        match x {
            Some(x) if !(x.is_finite() && (0.0..=self.end_ms).contains(&x)) => {
                bail!("{name} ({x}) is not within the run (0 to {} ms)", self.end_ms - SLACK_MS)
            }
            _ => Ok(()),
        }
    }

    /// Checks that `x`, an offset from the deploy's start (negative: before it), is within the run.
    fn signed(&self, name: &str, x: Option<f64>) -> anyhow::Result<()> {
        self.offset(name, x.map(f64::abs))
    }
}

/// Checks that `x` is a finite number from 0 to `max`.
fn number(name: &str, x: f64, max: f64) -> anyhow::Result<()> {
    if !(x.is_finite() && (0.0..=max).contains(&x)) {
        // A float written out can be 309 digits: large ones are shown as 1e308, and a bound
        // that large is no bound to name.
        let x = if x.abs() < 1e15 { x.to_string() } else { format!("{x:e}") };
        if max >= 1e15 {
            bail!("{name} ({x}) is not a finite number of 0 or more");
        }
        bail!("{name} ({x}) is not a number from 0 to {max}");
    }
    Ok(())
}

/// Checks that the count `n` is at most `max`, which `what` is.
fn at_most(name: &str, n: u64, max: u64, what: &str) -> anyhow::Result<()> {
    if n > max {
        bail!("{name} ({n}) is more than {what} ({max})");
    }
    Ok(())
}

/// The sum of `counts`, or an error naming `name` when it overflows.
fn total<'a>(name: &str, counts: impl IntoIterator<Item = &'a u64>) -> anyhow::Result<u64> {
    counts.into_iter().try_fold(0u64, |sum, n| sum.checked_add(*n)).with_context(|| format!("{name} overflow"))
}

/// Checks that a key of a count map is what blip writes there: clean text that `valid` accepts.
fn keys(name: &str, map: &BTreeMap<String, u64>, valid: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    match map.keys().find(|k| sanitize::line(k) != **k || !valid(k)) {
        Some(k) => bail!("{name} has a key `{}` that is not what blip counts there", sanitize::line(k)),
        None => Ok(()),
    }
}

/// Checks an RFC 3339 time a report gives as text.
fn time(name: &str, text: &str) -> anyhow::Result<()> {
    humantime::parse_rfc3339(text)
        .map(|_| ())
        .map_err(|_| anyhow::anyhow!("{name} `{}` is not an RFC 3339 time", sanitize::line(text)))
}

/// A status code as a key: `200`.
fn status(key: &str) -> bool {
    key.parse::<u16>().is_ok_and(|code| (100..=999).contains(&code))
}

/// A router's error as a key: `404 unknown_route`.
fn router_error(key: &str) -> bool {
    key.split_once(' ').is_some_and(|(code, name)| status(code) && !name.is_empty())
}

/// An error kind as a key: `timeout`.
fn error_kind(key: &str) -> bool {
    crate::engine::sample::ErrorKind::ALL.iter().any(|k| k.as_str() == key)
}

/// A timeline slice width: a power of two of seconds, no wider than the run (or one second).
fn width(name: &str, width_s: u64, run: &Run) -> anyhow::Result<()> {
    let longest = ((run.end_ms / 1000.0) as u64).max(1);
    if !width_s.is_power_of_two() || width_s > longest.next_power_of_two() {
        bail!("{name} ({width_s}) is not a power of two of seconds within the run");
    }
    Ok(())
}

/// The figures of one URL, checked against each other and the run.
fn target(t: &TargetReport, run: &Run, max_probes: u64) -> anyhow::Result<()> {
    at_most("probes", t.probes, max_probes, "the run's rate and length allow")?;
    at_most("cancelled", t.cancelled, max_probes, "the run's rate and length allow")?;
    // Missed slots and local errors are neither ok nor failed: with the probes, they are at
    // most the schedule's slots.
    let slots = t.probes.checked_add(t.missed).and_then(|n| n.checked_add(t.local_errors));
    let slots = slots.context("probes + missed + local_errors overflow")?;
    at_most("probes + missed + local_errors", slots, max_probes, "the run's rate and length allow")?;
    if t.ok.checked_add(t.failed) != Some(t.probes) {
        bail!("ok + failed is not probes");
    }
    at_most("resent", t.resent, t.probes, "probes")?;
    keys("status_counts", &t.status_counts, status)?;
    keys("router_error_counts", &t.router_error_counts, router_error)?;
    keys("error_counts", &t.error_counts, error_kind)?;
    let answers = total("status_counts", t.status_counts.values())?;
    at_most("the sum of status_counts", answers, t.probes, "probes")?;
    at_most(
        "the sum of router_error_counts",
        total("router_error_counts", t.router_error_counts.values())?,
        answers,
        "the answers",
    )?;
    at_most("the sum of error_counts", total("error_counts", t.error_counts.values())?, t.failed, "failed")?;
    if let Some(l) = &t.latency_ms {
        for (name, x) in [
            ("min", l.min),
            ("mean", l.mean),
            ("p50", l.p50),
            ("p90", l.p90),
            ("p99", l.p99),
            ("p999", l.p999),
            ("max", l.max),
        ] {
            number(&format!("latency_ms.{name}"), x, f64::MAX)?;
        }
    }
    histogram("latency_histogram", t.latency_histogram.as_deref(), t.ok)?;
    for (name, x) in [("p50", t.send_lag_ms.p50), ("p99", t.send_lag_ms.p99), ("max", t.send_lag_ms.max)] {
        number(&format!("send_lag_ms.{name}"), x, f64::MAX)?;
    }
    run.offset("downtime_ms", Some(t.downtime_ms)).map_err(|_| anyhow::anyhow!("downtime_ms is not within the run"))?;
    number("availability", t.availability, 1.0)?;
    if (t.outage_count as usize) < t.outages.len() {
        bail!("outage_count ({}) is less than the outages listed ({})", t.outage_count, t.outages.len());
    }
    at_most("outage_count", t.outage_count, t.failed, "failed")?;
    if t.outage_count as usize == t.outages.len() {
        let listed: f64 = t.outages.iter().map(|o| o.duration_ms).sum();
        if (listed - t.downtime_ms).abs() > SLACK_MS {
            bail!("downtime_ms is not the sum of its outages");
        }
    }
    figures::outages(t, run)?;
    figures::degraded(t, run)?;
    figures::merged_windows(t, run)?;
    for (vantage, a) in t.availability_by_vantage.iter().flatten() {
        number(&format!("availability_by_vantage[{}]", sanitize::line(vantage)), *a, 1.0)?;
    }
    width("timeline_width_s", t.timeline_width_s, run)?;
    figures::timeline(t, run)?;
    figures::phases(t, run)?;
    if let Some(d) = &t.deploy_timing {
        for (name, x) in [
            ("first_failure_ms", d.first_failure_ms),
            ("last_failure_ms", d.last_failure_ms),
            ("recovered_ms", d.recovered_ms),
            ("recovery_ms", d.recovery_ms),
        ] {
            run.signed(&format!("deploy_timing.{name}"), x)?;
        }
    }
    figures::wire(&t.wire, t, run)
}

/// When the run started, by the clock of the machine it ran on.
pub fn started_at(report: &Report) -> anyhow::Result<SystemTime> {
    humantime::parse_rfc3339(&report.started_at)
        .with_context(|| format!("its started_at `{}` is not an RFC 3339 time", report.started_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_read_back_and_other_files_refused() {
        // The golden scenario's report: a recorder's, whose figures agree as a run's do.
        let json = crate::report::json::render(&crate::report::golden::scenario()).unwrap();
        let report = parse(&json).unwrap();
        assert_eq!(crate::report::json::render(&report).unwrap(), json, "read back as written");
        // A later blip's added fields are ignored.
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["targets"][0]["a_later_field"] = serde_json::json!("lane 1");
        value["html"] = serde_json::json!(true);
        assert!(parse(&value.to_string()).is_ok());
        value["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1);
        let err = format!("{:#}", parse(&value.to_string()).unwrap_err());
        assert_eq!(err, format!("its schema_version is {}; this blip reads {SCHEMA_VERSION}", SCHEMA_VERSION + 1));
        assert_eq!(format!("{:#}", parse("{}").unwrap_err()), "it has no schema_version");
        assert!(format!("{:#}", parse("<html>").unwrap_err()).starts_with("it is not JSON"));
        let err = format!("{:#}", parse(&format!(r#"{{"schema_version": {SCHEMA_VERSION}}}"#)).unwrap_err());
        assert!(err.starts_with("it does not hold a report's fields"), "{err}");
    }
}
