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

use crate::analysis::clock::RunClock;
use crate::cli::ReportPaths;
use crate::config::Reports;
use crate::gates::Gates;
use crate::offline::view::TargetFigures;
use crate::report::build::{gate_report, never_answered};
use crate::report::{Report, TargetReport, outputs, text};

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

/// Where the reports of a judgement go, refused under a run's rules before anything is read or
/// written (see [`crate::config::saved_reports`]), and checked writable.
pub fn check_paths(paths: &ReportPaths, inputs: &[&Path]) -> anyhow::Result<Reports> {
    let reports = crate::config::saved_reports(paths, inputs)?;
    outputs::check_writable(&reports)?;
    Ok(reports)
}

/// Prints `preface` and the text summary (to stderr when the JSON report goes to stdout) and
/// writes the reports asked for, through the table a run writes through.
pub fn write_outputs(report: &Report, reports: &Reports, preface: &str) -> anyhow::Result<()> {
    crate::destination::for_people(reports.json_to_stdout(), &format!("{preface}{}", text::render(report)));
    outputs::write_all(report, reports, reports.json_to_stdout())
}
