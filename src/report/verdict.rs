//! The run's verdict in words: the sentence every report leads with, made here once, so that
//! the terminal, the job summary, the HTML page and JUnit never disagree with each other or with
//! the exit code. A run passes only when every gate held, the wrapped COMMAND succeeded and the
//! deploy was started at all.

use crate::analysis::phase::Phase;
use crate::exit::Exit;
use crate::report::{Report, TargetReport};

/// `stop_reason` of a run whose COMMAND blip did not start, because a URL never answered in the
/// warmup (see `--allow-down-before-deploy`).
pub const DOWN_BEFORE_DEPLOY: &str = "down_before_deploy";

/// Above this share of a URL's slots missed, the run is not judged (see [`Report::blip_trouble`]).
pub const MAX_MISSED_SHARE: f64 = 0.10;

/// The verdict as the reports' headlines give it.
#[derive(Clone, Debug, PartialEq)]
pub struct Headline {
    /// Whether the run passed: what `passed` says in the JSON, and exit code 0.
    pub passed: bool,
    /// Nothing was judged and nothing failed (`--measure-only`).
    pub measured: bool,
    /// `passed (2 gates)`, `deploy failed (exit code 7)`, `failed (1 of 2 gates)`.
    pub text: String,
}

impl Report {
    /// Why the wrapped COMMAND failed, in words (`exit code 7`, `killed by SIGTERM`, why it did
    /// not start); None when none was wrapped, it succeeded, or blip stopped it itself because a
    /// gate failed (`--fail-fast`: the gate is the failure then).
    pub fn deploy_failure(&self) -> Option<String> {
        let d = self.deploy.as_ref()?;
        (!d.succeeded && !d.stopped_by_gate).then(|| d.outcome())
    }

    /// blip did not start the COMMAND: a URL never answered in the warmup.
    pub fn not_started(&self) -> bool {
        self.stop_reason.as_deref() == Some(DOWN_BEFORE_DEPLOY)
    }

    /// Why blip's own trouble leaves the run unjudged, if it does: slots it could not probe for
    /// a reason of its own machine, or more than [`MAX_MISSED_SHARE`] of a URL's slots missed
    /// (unless `--allow-missed`). Neither is blamed on the service: the run exits 2.
    pub fn blip_trouble(&self) -> Option<String> {
        let local = self.targets.iter().fold(0u64, |sum, t| sum.saturating_add(t.local_errors));
        if local > 0 {
            return Some(format!(
                "blip could not probe {local} slots for a reason of its own machine (out of descriptors?): \
                 raise ulimit -n or probe fewer URLs"
            ));
        }
        if self.allow_missed {
            return None;
        }
        let missed = |t: &TargetReport| t.missed as f64 / t.probes.saturating_add(t.missed).max(1) as f64;
        self.targets.iter().find(|t| missed(t) > MAX_MISSED_SHARE).map(|t| {
            format!(
                "blip missed {:.0}% of the slots of {} (it was stopped or starved): too little was observed to judge \
                 (--allow-missed judges it anyway)",
                missed(t) * 100.0,
                t.name()
            )
        })
    }

    /// The targets that had no successful probe in the warmup.
    pub fn down_in_warmup(&self) -> impl Iterator<Item = &TargetReport> {
        self.targets.iter().filter(|t| t.phases.as_ref().and_then(|p| p.get(&Phase::Warmup)).is_some_and(|w| w.ok == 0))
    }

    /// How many gates were judged, in words a user who gave them recognises (see
    /// [`GateWords`]).
    pub fn gate_words(&self) -> GateWords {
        let (checks, failed) = self.gate_counts();
        let mut names: Vec<&str> = self.targets.iter().flat_map(|t| t.gates.iter().map(|g| g.gate.as_str())).collect();
        names.sort_unstable();
        names.dedup();
        if self.targets.len() <= 1 {
            return GateWords { count: plural(checks, "gate"), detail: None, failed };
        }
        let mut urls: Vec<&str> = self.targets.iter().map(|t| t.url.as_str()).collect();
        urls.sort_unstable();
        urls.dedup();
        let lanes = self.targets.len() / urls.len().max(1);
        let mut across = Vec::new();
        if urls.len() > 1 {
            across.push(plural(urls.len(), "URL"));
        }
        if lanes > 1 {
            across.push(plural(lanes, "lane"));
        }
        // Every target judged by the same gates reads as a product; otherwise (a check made of
        // some targets only) as a spread.
        let by = if names.len() * self.targets.len() == checks { "×" } else { "on" };
        let detail = format!("{} {by} {}", plural(names.len(), "gate"), across.join(" × "));
        GateWords { count: plural(checks, "gate check"), detail: Some(detail), failed }
    }

    /// The exit code this report's run ends with, `blip_failed` when blip lost an output: 2 for
    /// blip's own failure or a deploy it did not start, 3 for a failed COMMAND, 1 for a failed
    /// gate (see [`Exit::of`]).
    pub fn exit(&self, blip_failed: bool) -> Exit {
        let blip_failed = blip_failed || self.not_started() || self.blip_trouble().is_some();
        Exit::of(crate::exit::Ended {
            blip_failed,
            command_failed: self.deploy_failure().is_some(),
            passed: self.headline().passed,
        })
    }

    /// The verdict for the headlines.
    pub fn headline(&self) -> Headline {
        let words = self.gate_words();
        let detail = words.detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
        let gates_failed = (words.failed > 0).then(|| format!("{} of {}{detail}", words.failed, words.count));
        let (passed, text) = if self.not_started() {
            (false, "deploy not started: a URL never answered in the warmup".to_string())
        } else if let Some(trouble) = self.blip_trouble() {
            (false, format!("not judged: {trouble}"))
        } else if let Some(how) = self.deploy_failure() {
            let gates = gates_failed.map(|g| format!("; gates failed: {g}")).unwrap_or_default();
            (false, format!("deploy failed ({how}){gates}"))
        } else if self.measure_only {
            (true, "measured".to_string())
        } else if let Some(g) = gates_failed {
            (false, format!("failed ({g})"))
        } else {
            (true, format!("passed ({}{detail})", words.count))
        };
        Headline { passed, measured: self.measure_only && passed, text }
    }
}

/// The gates judged over all targets: `2 gates` for one target, `4 gate checks` with the detail
/// `2 gates × 2 lanes` for several, so that a user who gave 2 gates is not told that 2 of 4 failed
/// without knowing why there are 4.
#[derive(Clone, Debug, PartialEq)]
pub struct GateWords {
    pub count: String,
    pub detail: Option<String>,
    pub failed: usize,
}

/// `1 gate`, `2 gates`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::deploy_report;

    #[test]
    fn a_failed_command_is_the_headline_whatever_the_gates_say() {
        let mut report = deploy_report();
        for t in &mut report.targets {
            t.gates.iter_mut().for_each(|g| g.passed = true);
        }
        let h = report.headline();
        assert!(h.passed && h.text.starts_with("passed ("), "{h:?}");
        let d = report.deploy.as_mut().unwrap();
        (d.succeeded, d.exit_code) = (false, Some(7));
        let h = report.headline();
        assert!(!h.passed);
        assert_eq!(h.text, "deploy failed (exit code 7)");
        report.deploy.as_mut().unwrap().stopped_by_gate = true;
        assert!(report.headline().passed, "a command blip stopped for a gate is not the deploy's failure");
        report.stop_reason = Some(DOWN_BEFORE_DEPLOY.into());
        assert_eq!(report.headline().text, "deploy not started: a URL never answered in the warmup");
    }

    #[test]
    fn gates_over_lanes_are_counted_in_words() {
        let mut report = deploy_report();
        report.targets.truncate(1);
        let words = report.gate_words();
        assert_eq!((words.count.as_str(), words.detail, words.failed), ("1 gate", None, 0));
        // --connections both: one URL on two lanes, two gates each.
        let mut lane = report.targets[0].clone();
        lane.connection = crate::engine::lane::Lane::Fresh;
        report.targets.push(lane);
        for t in &mut report.targets {
            let mut second = t.gates[0].clone();
            second.gate = "max-downtime 0s".into();
            second.passed = false;
            t.gates.push(second);
        }
        let words = report.gate_words();
        assert_eq!(
            (words.count.as_str(), words.detail.as_deref(), words.failed),
            ("4 gate checks", Some("2 gates × 2 lanes"), 2)
        );
        assert_eq!(report.headline().text, "failed (2 of 4 gate checks: 2 gates × 2 lanes)");
        assert_eq!(crate::report::text::verdict(&report), "FAILED: 2 of 4 gate checks failed (2 gates × 2 lanes)");
    }
}
