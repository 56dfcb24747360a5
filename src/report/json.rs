//! The JSON report writer: the whole report, pretty-printed, to stdout or to a file written
//! whole (see [`super::file`]).

use std::io::Write;

use anyhow::Context;

use crate::config::Destination;
use crate::report::Report;
use crate::report::file::write_whole;

/// Writes `report` as JSON to stdout or to a file.
pub fn write(report: &Report, destination: &Destination) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(report).context("cannot encode the JSON report")?;
    text.push('\n');
    match destination {
        Destination::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("cannot write the JSON report to stdout")
        }
        Destination::File(path) => {
            write_whole(path, text.as_bytes()).with_context(|| format!("cannot write --json {}", path.display()))
        }
    }
}
