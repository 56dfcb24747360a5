//! Saved JSON reports read back: a file that is not a blip report, or one of a schema this blip
//! does not know, is refused with one line that names it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use crate::report::{Report, SCHEMA_VERSION};

/// The report in the file at `path`.
pub fn read(path: &Path) -> anyhow::Result<Report> {
    use std::io::Read as _;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read the report {shown}"))?;
    let mut text = String::new();
    // Bounded: a report is megabytes at most, and `/dev/zero` must not eat the machine.
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the report {shown}"))?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        bail!("{shown} is larger than {} MiB: not a blip report", MAX_REPORT_BYTES >> 20);
    }
    parse(&text).with_context(|| format!("{shown} is not a blip JSON report (write one with --json)"))
}

/// The largest report file read.
const MAX_REPORT_BYTES: u64 = 256 << 20;

/// A report from the JSON `--json` wrote. Fields this blip does not know are ignored, so reports
/// of later blips with added fields are read, as long as their `schema_version` is known.
pub fn parse(text: &str) -> anyhow::Result<Report> {
    let value: serde_json::Value = serde_json::from_str(text).context("it is not JSON")?;
    let Some(version) = value.get("schema_version") else {
        bail!("it has no schema_version");
    };
    if version.as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        bail!("its schema_version is {version}; this blip reads {SCHEMA_VERSION}");
    }
    let report: Report = serde_json::from_value(value).context("it does not hold a report's fields")?;
    started_at(&report)?;
    consistent(&report)?;
    Ok(report)
}

/// What every report blip writes holds true; a report edited by hand into something else would
/// be judged on figures that contradict each other, so it is refused, naming what is wrong.
fn consistent(report: &Report) -> anyhow::Result<()> {
    let finite = |x: f64| x.is_finite() && x >= 0.0;
    if !(finite(report.duration_ms) && report.rate.is_finite() && report.rate > 0.0) {
        bail!("its duration_ms or rate is not a positive number");
    }
    if report.targets.is_empty() {
        bail!("it has no targets");
    }
    for t in &report.targets {
        let url = crate::sanitize::line(&t.url);
        if t.ok + t.failed != t.probes {
            bail!("{url}: ok + failed is not probes");
        }
        if !finite(t.downtime_ms) || t.downtime_ms > report.duration_ms + 1.0 {
            bail!("{url}: downtime_ms is not within the run");
        }
        if t.timeline_width_s == 0 {
            bail!("{url}: timeline_width_s is 0");
        }
        if t.outage_count as usize == t.outages.len() {
            let listed: f64 = t.outages.iter().map(|o| o.duration_ms).sum();
            if (listed - t.downtime_ms).abs() > 1.0 {
                bail!("{url}: downtime_ms is not the sum of its outages");
            }
        }
        if let Some(h) = &t.latency_histogram
            && crate::report::histogram::decode(h).is_err()
        {
            bail!("{url}: latency_histogram is not a serialized HdrHistogram");
        }
    }
    Ok(())
}

/// When the run started, by the clock of the machine it ran on.
pub fn started_at(report: &Report) -> anyhow::Result<SystemTime> {
    humantime::parse_rfc3339(&report.started_at)
        .with_context(|| format!("its started_at `{}` is not an RFC 3339 time", report.started_at))
}

/// A duration the report gives in milliseconds (to the microsecond).
pub fn duration_ms(ms: f64) -> Duration {
    Duration::from_micros((ms.max(0.0) * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_read_back_and_other_files_refused() {
        let json = crate::report::json::render(&crate::report::fixtures::deploy_report()).unwrap();
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
