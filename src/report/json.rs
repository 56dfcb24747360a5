//! The JSON report writer: the whole report, pretty-printed. The application sends it to stdout
//! or to a file written whole.

use anyhow::Context;

use crate::report::Report;

/// The report as the JSON file holds it: pretty-printed, with a final newline.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(report).context("cannot encode the JSON report")?;
    text.push('\n');
    Ok(text)
}
