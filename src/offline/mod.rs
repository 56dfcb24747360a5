//! Saved reports, offline: `blip judge` judges one again against other gates, `blip merge`
//! merges the reports of one service from several vantage points. Both rebuild the gates' view
//! from what a report holds (`view`) and judge it through the same code as a run.

pub mod baseline;
pub mod judge;
pub mod merge;
pub mod saved;
pub mod view;

#[cfg(test)]
mod extremes;

use std::path::Path;

use anyhow::{Context, bail};

use crate::analysis::clock::RunClock;
use crate::cli::ReportPaths;
use crate::config::same_file;
use crate::gates::Gates;
use crate::offline::view::TargetFigures;
use crate::report::build::{gate_report, never_answered};
use crate::report::{Report, TargetReport, file, json, junit, markdown, text};

/// Judges `gate_list` on `target` from its `figures`, as a run does at its end: one entry per
/// gate, and the check that the URL answered at least once.
pub fn judge_target(target: &mut TargetReport, figures: &TargetFigures, gate_list: &Gates, clock: &RunClock) {
    let view = figures.judged();
    target.gates = gate_list
        .list()
        .iter()
        .zip(gate_list.judge(&view))
        .map(|(gate, verdict)| gate_report(clock, figures.inexact.mark(gate, verdict)))
        .collect();
    if !gate_list.is_empty()
        && let Some(never) = never_answered(target)
    {
        target.gates.push(never);
    }
}

/// Refuses, before anything is read or written, outputs that would write over each other or over
/// a report being read.
pub fn check_paths(paths: &ReportPaths, inputs: &[&Path]) -> anyhow::Result<()> {
    let json = paths.json.as_deref().filter(|p| *p != "-").map(Path::new);
    let outputs = [("--json", json), ("--junit", paths.junit.as_deref()), ("--markdown", paths.markdown.as_deref())];
    for (i, (flag, path)) in outputs.iter().enumerate() {
        let Some(path) = path else { continue };
        crate::config::refuse_overwrite(flag, path, paths.force)?;
        if let Some(input) = inputs.iter().find(|input| same_file(input, path)) {
            bail!("{flag} {} is a report being read ({}): write to another path", path.display(), input.display());
        }
        if let Some((other, _)) = outputs[i + 1..].iter().find(|(_, p)| p.is_some_and(|p| same_file(p, path))) {
            bail!("{flag} and {other} both name {}: give each report a file of its own", path.display());
        }
    }
    Ok(())
}

/// Prints `preface` and the text summary (to stderr when the JSON report goes to stdout) and
/// writes the reports asked for; a failed write does not keep the others from being written.
pub fn write_outputs(report: &Report, paths: &ReportPaths, preface: &str) -> anyhow::Result<()> {
    let summary = format!("{preface}{}", text::render(report));
    let json_to_stdout = paths.json.as_deref() == Some("-");
    if json_to_stdout {
        {
            use std::io::Write as _;
            let _ = write!(std::io::stderr(), "{summary}");
        }
    } else {
        {
            use std::io::Write as _;
            let _ = write!(std::io::stdout(), "{summary}");
        }
    }
    let mut results = Vec::new();
    if let Some(path) = &paths.json {
        results.push(json::render(report).and_then(|text| {
            if json_to_stdout {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .context("cannot write the JSON report to stdout")
            } else {
                file::write_whole(path.as_ref(), text.as_bytes()).with_context(|| format!("cannot write --json {path}"))
            }
        }));
    }
    if let Some(path) = &paths.junit {
        results.push(junit::render(report).and_then(|xml| {
            file::write_whole(path, xml.as_bytes()).with_context(|| format!("cannot write --junit {}", path.display()))
        }));
    }
    if let Some(path) = &paths.markdown {
        results.push(
            file::write_whole(path, markdown::render(report).as_bytes())
                .with_context(|| format!("cannot write --markdown {}", path.display())),
        );
    }
    results.into_iter().collect()
}
