//! The JSON report writer. A file is written whole or not at all: the report goes to a temporary
//! file beside the target, which is then renamed over it.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::Destination;
use crate::report::Report;

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

/// Writes `bytes` to `path` through a temporary sibling and a rename, so readers never see half
/// a file and a failed write leaves any earlier file in place.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = temp_path(path)?;
    let result = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Fails now, before anything is probed, if [`write_whole`] could not write `path` at the end:
/// it writes and removes the very temporary file that `write_whole` will use.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let temp = temp_path(path)?;
    std::fs::write(&temp, b"")?;
    std::fs::remove_file(&temp)
}

/// `.NAME.PID.tmp` beside `path`: hidden, and never the name of a file of the user's.
fn temp_path(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temp_name))
}
