//! The gates' state while the run goes on, so a user sees "this run will fail the job" before
//! its end.
//!
//! Passing and failing come from [`gates::judge`], the same pure code the final verdict uses, on
//! the judged view of the run so far; this module adds only what a verdict cannot say yet: that
//! a gate still passing is at risk (its budget more than half spent, or the URL down right now).

use crate::analysis::judged::Judged;
use crate::gates::{self, FailedLimit, Gate, Gates};
use crate::units::secs;

/// One gate of one URL, now.
#[derive(Clone, Debug, PartialEq)]
pub struct GateLive {
    /// The gate as the command line names it: `max-downtime 5s`.
    pub gate: String,
    pub state: GateState,
}

#[derive(Clone, Debug, PartialEq)]
pub enum GateState {
    /// No judged probe yet (a wrapped deploy's warmup, which is not judged by default).
    Waiting,
    Passing,
    /// Passing, but close to failing: why.
    AtRisk(String),
    /// Failing now with what was observed; `settled` when nothing later can make it pass.
    Failed {
        observed: String,
        settled: bool,
    },
}

impl GateState {
    /// Worst first: the order a cut line keeps.
    fn rank(&self) -> u8 {
        match self {
            GateState::Failed { .. } => 0,
            GateState::AtRisk(_) => 1,
            GateState::Waiting => 2,
            GateState::Passing => 3,
        }
    }
}

/// Every gate's state for each URL, in the order of the URLs, worst first within a URL. `down`
/// tells which URLs are down right now.
pub fn states(gate_list: &Gates, views: &[Judged<'_>], down: &[bool]) -> Vec<Vec<GateLive>> {
    views
        .iter()
        .enumerate()
        .map(|(i, view)| {
            let down_now = down.get(i).copied().unwrap_or(false);
            let mut states: Vec<GateLive> =
                gate_list.iter().map(|(gate, default)| state(gate, default, view, down_now)).collect();
            states.sort_by_key(|g| g.state.rank());
            states
        })
        .collect()
}

/// One gate's state on one URL's judged view so far; `default`: blip added it.
pub fn state(gate: &Gate, default: bool, view: &Judged<'_>, down_now: bool) -> GateLive {
    let verdict = gates::Verdict { default, ..gates::judge(gate, view) };
    let shown = verdict.shown();
    let state = if view.probes == 0 {
        GateState::Waiting
    } else if !verdict.passed {
        GateState::Failed { observed: verdict.observed, settled: verdict.settled }
    } else {
        match risk(gate, view, down_now) {
            Some(why) => GateState::AtRisk(why),
            None => GateState::Passing,
        }
    };
    GateLive { gate: shown, state }
}

/// Why a gate that passes now may not for long: a budget more than half spent, or an outage
/// going on that counts against it.
fn risk(gate: &Gate, view: &Judged<'_>, down_now: bool) -> Option<String> {
    let half_spent = match gate {
        Gate::MaxDowntime(limit) => {
            (view.downtime * 2 > *limit).then(|| format!("downtime {} of {}", secs(view.downtime), fmt(*limit)))
        }
        Gate::MaxOutage(limit) => view
            .longest
            .as_ref()
            .filter(|w| w.judged * 2 > *limit)
            .map(|w| format!("longest outage {} of {}", secs(w.judged), fmt(*limit))),
        Gate::MaxOutages(n) => (view.window_count * 2 > *n).then(|| format!("{} of {n} outages", view.window_count)),
        Gate::MaxFailed(FailedLimit::Count(n)) => {
            (view.failed * 2 > *n).then(|| format!("{} of {n} failed", view.failed))
        }
        _ => None,
    };
    let outage_counts = matches!(
        gate,
        Gate::MaxDowntime(_) | Gate::MaxOutage(_) | Gate::MaxOutages(_) | Gate::MaxFailed(_) | Gate::MaxErrorRate(_)
    );
    half_spent.or_else(|| (down_now && outage_counts).then(|| "down now".to_string()))
}

fn fmt(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::clock::RunClock;
    use crate::analysis::recorder::Recorder;
    use crate::engine::sample::{Outcome, Sample};
    use std::time::{Duration, Instant};

    const MS: Duration = Duration::from_millis(1);

    /// A recorder of one URL at 10 probes/s whose probes `failed` fail.
    fn recorder(failed: impl Fn(u64) -> bool, probes: u64) -> (Recorder, Instant) {
        let clock = RunClock::now();
        let mut recorder = Recorder::new(&["http://a/".to_string()], 10.0, 1, clock, None);
        for seq in 0..probes {
            let due = clock.start + MS * 100 * seq as u32;
            let outcome = if failed(seq) {
                Outcome::BadStatus { status: 503, text: "503 Service Unavailable".into(), router: None }
            } else {
                Outcome::Ok { status: 200 }
            };
            let sample = Sample {
                target: 0,
                seq,
                due,
                sent: due,
                done: due + MS,
                outcome,
                resent: false,
                detail: Default::default(),
            };
            recorder.record(&sample);
        }
        (recorder, clock.start + MS * 100 * probes as u32)
    }

    #[test]
    fn a_gate_is_passing_at_risk_or_failed_as_the_final_verdict_would_say() {
        let downtime = |ms| Gate::MaxDowntime(MS * ms);
        // Probes 10..30 fail: a 2 s outage, over now.
        let (r, now) = recorder(|seq| (10..30).contains(&seq), 50);
        let views = r.judged_views(Some(now));
        assert_eq!(state(&downtime(10_000), false, &views[0], false).state, GateState::Passing);
        assert_eq!(
            state(&downtime(3_000), false, &views[0], false).state,
            GateState::AtRisk("downtime 2.000 s of 3s".into())
        );
        assert!(matches!(
            state(&downtime(1_000), false, &views[0], false).state,
            GateState::Failed { settled: true, .. }
        ));
        // Down right now: any gate an outage counts against is at risk.
        let (r, now) = recorder(|seq| seq >= 45, 50);
        let views = r.judged_views(Some(now));
        assert_eq!(state(&downtime(60_000), false, &views[0], true).state, GateState::AtRisk("down now".into()));
        let latency = Gate::MaxLatency("p99=1s".parse().unwrap());
        assert_eq!(state(&latency, false, &views[0], true).state, GateState::Passing);
    }

    #[test]
    fn an_open_window_is_judged_with_the_figures_shown_beside_it() {
        // Probes 10..40 failed and the URL is still down: the gate's downtime is the snapshot's,
        // up to the last failed probe, not up to the moment of the tick.
        let (r, now) = recorder(|seq| seq >= 10, 40);
        let snapshot = r.snapshot();
        assert_eq!((snapshot[0].windows, snapshot[0].down_since), (1, Some(MS * 1000)), "the open window counts");
        let later = now + MS * 700;
        let views = r.judged_views(Some(later));
        let shown = crate::units::secs(snapshot[0].downtime);
        let gate = state(&Gate::MaxDowntime(Duration::ZERO), true, &views[0], true);
        assert_eq!(gate.gate, "max-downtime 0s (default)");
        assert_eq!(gate.state, GateState::Failed { observed: shown.to_string(), settled: true });
    }

    #[test]
    fn states_come_worst_first() {
        let (r, now) = recorder(|seq| (10..30).contains(&seq), 50);
        let views = r.judged_views(Some(now));
        let list = [Gate::MaxDowntime(Duration::from_secs(60)), Gate::MaxDowntime(Duration::ZERO)];
        let states = states(&Gates::new(list.to_vec(), false), &views, &[false]);
        assert_eq!(states[0][0].gate, "max-downtime 0s");
        assert_eq!(states[0][1].state, GateState::Passing);
    }
}
