//! Saved JSON reports read back: a file that is not a blip report, or one of a schema this blip
//! does not know, is refused with one line that names it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use crate::report::{Report, SCHEMA_VERSION};

/// The report in the file at `path`.
pub fn read(path: &Path) -> anyhow::Result<Report> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the report {shown}"))?;
    parse(&text).with_context(|| format!("{shown} is not a blip JSON report (write one with --json)"))
}

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
    Ok(report)
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
