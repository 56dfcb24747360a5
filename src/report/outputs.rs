//! The one table of report files: which writer renders each report a run or a judgement of
//! saved reports asks for ([`Reports`]), and where it goes. A run, `blip judge` and `blip merge`
//! all write through it, so a report format added here is there for all three.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::destination::{Destination, Reports};
use crate::report::{Report, annotations, file, html, json, junit, markdown};

/// Fails, before anything is probed or read, when a report file could not be written at the
/// end.
pub fn check_writable(reports: &Reports) -> anyhow::Result<()> {
    if let Some(Destination::File(path)) = &reports.json {
        file::check_writable(path).with_context(|| format!("cannot write --json {}", path.display()))?;
    }
    let files = [("--junit", &reports.junit), ("--markdown", &reports.markdown), ("--html", &reports.html)];
    for (flag, path) in files {
        if let Some(path) = path {
            file::check_writable(path).with_context(|| format!("cannot write {flag} {}", path.display()))?;
        }
    }
    if let Some(path) = &reports.step_summary {
        file::check_appendable(path)
            .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY {}", path.display()))?;
    }
    Ok(())
}

/// Writes every report of `reports`; a failure does not keep the others from being written.
/// Annotations go to stdout, or to stderr when `stdout_taken` (a report stream has it).
pub fn write_all(report: &Report, reports: &Reports, stdout_taken: bool) -> anyhow::Result<()> {
    let mut results = Vec::new();
    if let Some(destination) = &reports.json {
        results.push(json::render(report).and_then(|text| write_json(&text, destination)));
    }
    if let Some(path) = &reports.junit {
        results.push(junit::render(report).and_then(|xml| whole("--junit", path, &xml)));
    }
    if let Some(path) = &reports.markdown {
        results.push(whole("--markdown", path, &markdown::render(report)));
    }
    if let Some(path) = &reports.step_summary {
        results.push(
            file::append(path, markdown::render(report).as_bytes())
                .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY {}", path.display())),
        );
    }
    if let Some(path) = &reports.html {
        results.push(whole("--html", path, &html::render(report)));
    }
    if reports.annotations {
        // GitHub reads workflow commands from the step's output, stderr as well as stdout.
        for line in annotations::render(report) {
            crate::destination::for_people(stdout_taken, &format!("{line}\n"));
        }
    }
    results.into_iter().collect()
}

/// Writes `text` to the file of `flag` whole (see [`file::write_whole`]).
fn whole(flag: &str, path: &Path, text: &str) -> anyhow::Result<()> {
    file::write_whole(path, text.as_bytes()).with_context(|| format!("cannot write {flag} {}", path.display()))
}

/// Writes the JSON report to stdout or to a file.
fn write_json(text: &str, destination: &Destination) -> anyhow::Result<()> {
    match destination {
        Destination::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("cannot write the JSON report to stdout")
        }
        Destination::File(path) => whole("--json", path, text),
    }
}
