//! Warnings: what makes a report's figures less trustworthy, said in words.

use std::time::Duration;

use crate::analysis::phase::Phase;
use crate::report::{DeployReport, PauseReport, TargetReport};
use crate::units::{ms, secs_ms};

/// Warnings about more URLs than this are merged into one line.
const WARN_EACH_UP_TO: usize = 3;

/// One warning per URL concerned, or one line for all of them when there are many: 2000 URLs
/// on a busy machine must not bury the summary under 2000 near-identical lines.
fn per_url_warnings(
    concerned: Vec<&TargetReport>,
    each: impl Fn(&TargetReport) -> String,
    merged: impl FnOnce(&[&TargetReport]) -> String,
) -> Vec<String> {
    if concerned.len() > WARN_EACH_UP_TO { vec![merged(&concerned)] } else { concerned.into_iter().map(each).collect() }
}

/// blip sending late blurs every edge it measures; say so when the lag is a sizeable share of
/// the probe interval (a quarter of it, and at least 2 ms).
pub fn send_lag_warnings(targets: &[TargetReport], rate: f64) -> Vec<String> {
    let threshold_ms = (250.0 / rate).max(2.0);
    let late = targets.iter().filter(|t| t.send_lag_ms.p99 > threshold_ms).collect();
    const BUSY: &str = "this machine may be too busy to time probes well";
    per_url_warnings(
        late,
        |t| {
            format!(
                "blip sent probes of {} late: send lag p99 {} (max {}); {BUSY}",
                t.name(),
                ms(t.send_lag_ms.p99),
                ms(t.send_lag_ms.max)
            )
        },
        |late| {
            let worst = ms(late.iter().map(|t| t.send_lag_ms.p99).fold(0.0, f64::max));
            format!(
                "blip sent probes of {} of {} URLs late: send lag p99 up to {worst}; {BUSY}",
                late.len(),
                targets.len()
            )
        },
    )
}

/// A URL that never answered acceptably is most often a wrong URL (a typo, a dead port), not a
/// service that was down all along: say so loudly.
pub fn never_up_warnings(targets: &[TargetReport]) -> Vec<String> {
    let never = targets.iter().filter(|t| t.probes + t.cancelled > 0 && t.ok == 0).collect();
    per_url_warnings(
        never,
        |t| {
            let mut causes: Vec<String> =
                t.status_counts.iter().chain(&t.error_counts).map(|(cause, n)| format!("{cause} ×{n}")).collect();
            if t.cancelled > 0 {
                causes.push(format!("{} cancelled in flight", t.cancelled));
            }
            format!(
                "{} NEVER answered successfully ({} probes: {}); check the URL, port and --expect-status",
                t.name(),
                t.probes + t.cancelled,
                causes.join(", ")
            )
        },
        |never| {
            format!(
                "{} of {} URLs NEVER answered successfully (first: {}); check the URLs, ports and --expect-status",
                never.len(),
                targets.len(),
                never[0].name()
            )
        },
    )
}

/// Downtime before the deploy started is not the deploy's doing; say so loudly.
pub fn warmup_warnings(targets: &[TargetReport]) -> Vec<String> {
    let warmup = |t: &TargetReport| t.phases.as_ref().and_then(|p| p.get(&Phase::Warmup)).map(|w| (w.failed, w.probes));
    let failing = targets.iter().filter(|t| warmup(t).is_some_and(|(failed, _)| failed > 0)).collect();
    per_url_warnings(
        failing,
        |t| {
            let (failed, probes) = warmup(t).unwrap_or_default();
            format!(
                "{} was already failing before the deploy started: {failed} of {probes} warmup probes failed; that downtime is not the deploy's",
                t.name()
            )
        },
        |failing| {
            format!(
                "{} of {} URLs were already failing before the deploy started (first: {}); that downtime is not the deploy's",
                failing.len(),
                targets.len(),
                failing[0].name()
            )
        },
    )
}

/// A COMMAND that succeeded in less than `min` (`--min-deploy`) most likely only asked for a
/// rollout (`kubectl apply`, `kubectl rollout restart`, `helm upgrade` without `--wait`) that
/// happens after blip stopped looking: the run measured nothing of it, and would pass.
pub fn short_deploy_warning(deploy: &DeployReport, min: Duration) -> Option<String> {
    let took = deploy.duration_ms?;
    if !deploy.succeeded || min.is_zero() || took >= min.as_secs_f64() * 1000.0 {
        return None;
    }
    Some(format!(
        "the COMMAND ended after {} (under --min-deploy {}): if it only started a rollout, blip measured nothing of it. \
         Wrap the wait too: `sh -c 'kubectl apply -f k8s/ && kubectl rollout status deploy/NAME --timeout=5m'`, \
         `helm upgrade --wait`, `cf push --strategy rolling`; and give --cooldown the time old instances take to stop",
        secs_ms(took),
        humantime::format_duration(min)
    ))
}

/// blip's own trouble, said as such: the local errors (with what blip could not do and how to
/// fix it) and each pause (with how much it missed). Neither is the target's downtime.
pub fn unobserved_warnings(targets: &[TargetReport], paused: &[PauseReport], first_local: Option<&str>) -> Vec<String> {
    let mut warnings = Vec::new();
    let local: u64 = targets.iter().map(|t| t.local_errors).sum();
    if local > 0 {
        warnings.push(format!(
            "blip could not probe {local} slots for a reason of its own machine ({}): not counted against the URLs; \
             raise the descriptor limit (ulimit -n) or probe fewer URLs",
            first_local.unwrap_or("a local error")
        ));
    }
    for p in paused {
        warnings.push(format!(
            "blip was stopped or starved at +{} for {}: {} slots could not be sent in time (within 0.1 s or one interval) and were missed \
             (neither ok nor failed)",
            secs_ms(p.start_offset_ms),
            secs_ms(p.duration_ms),
            p.missed
        ));
    }
    warnings
}
