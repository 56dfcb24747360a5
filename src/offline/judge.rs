//! `blip judge REPORT [gates…]`: a saved JSON report judged again against other gates, without
//! probing. The verdicts come from the same judging code as a run's, on the view `view` rebuilds
//! from the report; the exit code is a run's (0 passed, 1 a gate failed, 2 bad input).

use std::time::Instant;

use anyhow::bail;

use crate::analysis::clock::RunClock;
use crate::cli::JudgeArgs;
use crate::exit::Exit;
use crate::gates::{Gate, Gates};
use crate::offline::view::TargetFigures;
use crate::offline::{baseline, saved};
use crate::offline::{check_paths, judge_target, write_outputs};
use crate::report::Report;

/// Runs `blip judge`.
pub fn run(args: &JudgeArgs) -> anyhow::Result<Exit> {
    let reports = check_paths(&args.output, &[args.report.as_path()])?;
    let report = saved::read(&args.report)?;
    baseline::measure_only_refuses(&args.baseline, args.gates.measure_only)?;
    let phases = args.gates.gate_phase.or(report.gate_phases).unwrap_or_default();
    let own = baseline::Own::of_report(&report, &args.report, reports.files());
    let baseline = baseline::gates(&args.baseline, &own, phases)?;
    let gates = gates_of(&args.gates, &report, baseline)?;
    let mut judged = rejudge(report, &gates, args.gates.gate_phase)?;
    if args.gates.allow_missed {
        judged.allow_missed = true;
        judged.passed = judged.headline().passed;
    }
    write_outputs(&judged, &reports, "")?;
    Ok(judged.exit(false))
}

/// The gates asked for, as a run takes them (see [`Gates::new`]), and `more` made offline (the
/// baseline's).
pub fn gates_of(args: &crate::cli::GateArgs, report: &Report, more: Vec<Gate>) -> anyhow::Result<Gates> {
    if args.fail_fast {
        bail!("--fail-fast stops a run early; a saved report has already ended (leave it out)");
    }
    let has_phases = report.targets.iter().any(|t| t.phases.is_some());
    if args.gate_phase.is_some() && !has_phases {
        bail!("--gate-phase applies only to the report of a run that wrapped a COMMAND (leave it out)");
    }
    if !args.max_latency_increase.is_empty() && !has_phases {
        bail!("--max-latency-increase compares a deploy with its warmup: the report has no phases (leave it out)");
    }
    if args.expect_new.is_some() && !(has_phases && report.targets.iter().any(|t| !t.wire.tracked.is_empty())) {
        bail!(
            "--expect-new compares a deploy's tracked values with its warmup's: the report has no phases or \
             no tracked values (leave it out)"
        );
    }
    Ok(crate::config::gates(args, more))
}

/// `report` with every gate judged again: `gates` on the phases `phases` names (by default the
/// phases the run judged).
pub fn rejudge(mut report: Report, gates: &Gates, phases: Option<crate::gates::GatePhases>) -> anyhow::Result<Report> {
    let clock = RunClock { start: Instant::now(), started_at: saved::started_at(&report)? };
    let judge = phases.or(report.gate_phases).unwrap_or_default();
    for target in &mut report.targets {
        let figures = TargetFigures::of(target, judge, report.deploy.as_ref());
        judge_target(target, &figures, gates, &clock);
    }
    if report.gate_phases.is_some() {
        report.gate_phases = Some(judge);
    }
    report.default_gates = gates.default_added();
    report.measure_only = gates.is_empty();
    report.passed = report.headline().passed;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::gate_list;
    use crate::report::json::render;

    fn gate(text: &str) -> crate::gates::Gate {
        let (flag, value) = text.split_once(' ').unwrap();
        let mut args = vec!["blip".to_string(), format!("--{flag}"), value.to_string(), "http://a/".to_string()];
        if flag == "max-latency-increase" {
            args.extend(["--".to_string(), "true".to_string()]);
        }
        let cli = crate::cli::parse_from(args).unwrap();
        gate_list(&cli.gates).remove(0)
    }

    /// The golden scenario (a wrapped deploy, windows across phases, one open at the end), read
    /// back from its JSON.
    fn saved() -> (Report, Report) {
        let run = crate::report::golden::scenario();
        let read = saved::parse(&render(&run).unwrap()).unwrap();
        (run, read)
    }

    #[test]
    fn a_wrapped_deploy_is_judged_again_as_the_run_judged_it() {
        let (run, read) = saved();
        let gates = ["fail-on-status 404", "max-downtime 0s", "max-latency p99=10ms"].map(gate);
        let again = rejudge(read, &Gates::new(gates.to_vec(), false), None).unwrap();
        for (a, b) in again.targets.iter().zip(&run.targets) {
            assert_eq!(serde_json::to_value(&a.gates).unwrap(), serde_json::to_value(&b.gates).unwrap());
        }
        assert_eq!(again.passed, run.passed);
        // Phases other than the run's: the warmup's probes count too.
        let all =
            rejudge(saved().1, &Gates::new(vec![gate("max-failed 0")], false), Some(crate::gates::GatePhases::All))
                .unwrap();
        let deploy = rejudge(saved().1, &Gates::new(vec![gate("max-failed 0")], false), None).unwrap();
        assert_eq!(all.targets[1].gates[0].observed, deploy.targets[1].gates[0].observed);
        assert_eq!(all.gate_phases, Some(crate::gates::GatePhases::All));
    }

    #[test]
    fn what_the_report_cannot_tell_exactly_is_said() {
        let (_, mut read) = saved();
        // A window list cut at its bound: the longest window may be one not listed.
        read.targets[1].outages.truncate(1);
        let again = rejudge(
            read,
            &Gates::new(vec![gate("max-outage 10s"), gate("max-outages 5"), gate("max-downtime 0s")], false),
            None,
        )
        .unwrap();
        let observed: Vec<&str> = again.targets[1].gates.iter().map(|g| g.observed.as_str()).collect();
        assert_eq!(observed[0], "1.500 s (not exact: the report lists 1 of 2 outage windows)");
        assert_eq!(observed[1], "2 windows (not exact: the report lists 1 of 2 outage windows)");
        assert!(!again.targets[1].gates[2].passed, "the downtime is the report's own: {observed:?}");
        // Every listed window in the warmup, the judged ones past the list: the downtime the
        // report gives for the judged phases still fails a zero-downtime gate.
        let (_, mut read) = saved();
        let t = &mut read.targets[1];
        t.outages.truncate(1);
        t.outages[0].start_offset_ms = 500.0;
        t.outages[0].end_offset_ms = 600.0;
        let again = rejudge(read, &Gates::new(vec![gate("max-downtime 0s")], false), None).unwrap();
        let g = &again.targets[1].gates[0];
        assert_eq!((g.passed, g.observed.as_str()), (false, "1.600 s"));
        // Phases that begin on whole seconds are judged exactly from one-second slices; a slice
        // across a phase boundary holds probes of both phases.
        let exact = rejudge(saved().1, &Gates::new(vec![gate("max-error-rate 50%/1s")], false), None).unwrap();
        assert!(!exact.targets[1].gates[0].observed.contains("not exact"), "{:?}", exact.targets[1].gates);
        let (_, mut read) = saved();
        let phases = read.targets[1].phases.as_mut().unwrap();
        phases.get_mut(&crate::analysis::phase::Phase::Warmup).unwrap().end_offset_ms = 2500.0;
        phases.get_mut(&crate::analysis::phase::Phase::Deploy).unwrap().start_offset_ms = 2500.0;
        let again = rejudge(read, &Gates::new(vec![gate("max-error-rate 50%/1s")], false), None).unwrap();
        assert!(again.targets[1].gates[0].observed.contains("not exact: the report's 1s timeline slices"));
        // A report without histograms (an older blip's) says so for latency gates.
        let (_, mut read) = saved();
        for t in &mut read.targets {
            t.latency_histogram = None;
            t.phases.iter_mut().flatten().for_each(|(_, p)| p.latency_histogram = None);
        }
        let again =
            rejudge(read, &Gates::new(vec![gate("max-latency p99=1s")], false), Some(crate::gates::GatePhases::Deploy))
                .unwrap();
        assert!(!again.passed && again.targets[0].gates[0].observed.contains("no latency_histogram"));
    }
}
