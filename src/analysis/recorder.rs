//! The recorder: everything blip counts about a run, built from the Sample stream alone.
//!
//! It is pure (no I/O, no clock of its own) and aggregates instead of hoarding: per URL two
//! HdrHistograms, counters, a bounded timeline and the outage detector, so memory stays flat at
//! any rate for any length of run. Live views read its snapshots (`analysis::snapshot`), the
//! gates its judged views (`analysis::judged`), and `report::build` turns it into the Report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::analysis::clock::RunClock;
use crate::analysis::histogram;
use crate::analysis::judged::{JudgedStats, judged_window};
use crate::analysis::outage::{Observation, OutageDetector, ProbeFailure, Transition};
use crate::analysis::phase::{GatePhases, Phase, PhaseClock, PhaseStats, split};
use crate::analysis::snapshot::RecentLatency;
use crate::analysis::timeline::Timeline;
use crate::analysis::tracking::Tracking;
use crate::analysis::unobserved::{Pauses, Unobserved};
use crate::analysis::wire::WireStats;
use crate::engine::lane::{Lane, TargetName};
use crate::engine::request::RequestIds;
use crate::engine::sample::{ErrorKind, Outcome, ROUTER_ERRORS_KEPT, RouterError, Sample};

/// A state change of one URL, for UIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub target: usize,
    pub transition: Transition,
}

/// Counts of every URL, fed one Sample at a time. The fields are public for `report::build`,
/// which reads them; only the methods here change them.
pub struct Recorder {
    pub clock: RunClock,
    pub rate: f64,
    pub phases: PhaseClock,
    /// Which phases the gates judge (every probe when no command is wrapped).
    pub judge: GatePhases,
    pub targets: Vec<TargetRecorder>,
    /// `--request-id`: how a probe's id is made, for the windows' first and last ones.
    pub request_ids: Option<RequestIds>,
    /// Stretches of slots blip missed (see [`crate::analysis::unobserved`]).
    pub pauses: Pauses,
}

/// Counts of one URL.
pub struct TargetRecorder {
    pub url: String,
    /// The lane the target's probes go out on.
    pub lane: Lane,
    /// The target as outputs name it: the URL, and its lane when that tells (see
    /// [`Recorder::name_targets`]).
    pub label: String,
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    pub resent: u64,
    /// Probes sent but never reported: a second stop request ended the wait for them.
    pub cancelled: u64,
    /// Due time of the URL's earliest probe: before it nothing is known of the URL (the URLs'
    /// schedules are staggered across the interval).
    pub first_due: Option<Duration>,
    pub latency: Histogram<u64>,
    /// The highest latency exactly, µs (see [`PhaseStats::latency_max_us`]).
    pub latency_max_us: u64,
    pub send_lag: Histogram<u64>,
    pub status_counts: BTreeMap<u16, u64>,
    /// Of the answers in `status_counts`, those a router gave itself, per code and error name.
    pub router_counts: BTreeMap<(u16, RouterError), u64>,
    pub error_counts: [u64; ErrorKind::ALL.len()],
    pub timeline: Timeline,
    pub detector: OutageDetector,
    /// Per phase, in [`Phase::ALL`] order; empty when no command is wrapped.
    pub by_phase: Vec<PhaseStats>,
    /// Due times of the first and last failed probes after the deploy began.
    pub first_deploy_failure: Option<Duration>,
    pub last_deploy_failure: Option<Duration>,
    /// End of the last window that closed with a success.
    pub last_recovery: Option<Duration>,
    pub judged: JudgedStats,
    /// Only kept for the dashboard (see [`Recorder::keep_recent_latency`]).
    pub recent: Option<RecentLatency>,
    /// Request phases, connections and peers (see [`crate::analysis::wire`]).
    pub wire: WireStats,
    /// Tracked values (see [`Recorder::track_values`]).
    pub tracking: Tracking,
    /// Slots blip could not observe: its own errors and missed slots; not in `probes`.
    pub unobserved: Unobserved,
}

impl Recorder {
    /// A recorder for `urls`. `phased` is set when a command is wrapped: figures are then also
    /// kept per phase, and the gates judge only the given phases.
    pub fn new(urls: &[String], rate: f64, min_failures: u32, clock: RunClock, phased: Option<GatePhases>) -> Recorder {
        // Only then do the gates need figures of their own beside the URL's.
        let partly_judged = phased.is_some_and(|judged| judged != GatePhases::All);
        let targets = urls
            .iter()
            .map(|url| TargetRecorder::new(url, urls.len(), min_failures, phased.is_some(), partly_judged))
            .collect();
        Recorder {
            clock,
            rate,
            phases: PhaseClock::default(),
            judge: phased.unwrap_or(GatePhases::All),
            targets,
            request_ids: None,
            pauses: Pauses::new(rate),
        }
    }

    /// Names each target by its URL and lane, in the order of `targets`; without it each is
    /// named by the text it was created with, on the reused lane.
    pub fn name_targets(&mut self, targets: &[TargetName]) {
        for (t, name) in self.targets.iter_mut().zip(targets) {
            t.url.clone_from(&name.url);
            t.lane = name.lane;
            t.label.clone_from(&name.label);
        }
    }

    /// Keeps each URL's latency of the last [`RECENT_S`](crate::analysis::snapshot::RECENT_S) seconds, which only the dashboard shows:
    /// ten small histograms per URL are worth their memory only there.
    pub fn keep_recent_latency(&mut self) {
        for t in &mut self.targets {
            t.recent.get_or_insert_with(RecentLatency::new);
        }
    }

    /// Counts answers by the values of `names` (`Track::names`), which each sample's
    /// `detail.tracked` carries in that order.
    pub fn track_values(&mut self, names: &[String]) {
        for t in &mut self.targets {
            t.tracking = Tracking::new(names);
        }
    }

    /// Marks the start of a phase. Call it when the phase begins: samples due after `at` are
    /// still to come, so each lands in the phase its due time falls in.
    pub fn begin_phase(&mut self, phase: Phase, at: Instant) {
        self.phases.begin(phase, self.clock.offset(at));
    }

    /// The run is to end at `at`, the end of the cooldown that began: whether it got there is
    /// what `--expect-new=strict` needs to know.
    pub fn plan_end(&mut self, at: Instant) {
        self.phases.plan_end(self.clock.offset(at));
    }

    /// Failed and total probes of each URL in `phase` so far.
    pub fn phase_failures(&self, phase: Phase) -> Vec<(u64, u64)> {
        self.targets.iter().map(|t| t.by_phase.get(phase.index()).map_or((0, 0), |s| (s.failed, s.probes))).collect()
    }

    /// The URLs with no successful probe in `phase` so far, each with what its open window's first
    /// failed probe got (None when nothing has reported yet).
    pub fn never_ok_in(&self, phase: Phase) -> Vec<(usize, Option<String>)> {
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.by_phase.get(phase.index()).is_some_and(|s| s.ok == 0))
            .map(|(i, t)| (i, t.detector.current().map(|w| w.first_error.clone())))
            .collect()
    }

    /// Books the probes that were sent (`sent[target]` of each URL) but never reported, because
    /// the run stopped without waiting for them: they are cancelled, neither ok nor failed.
    pub fn cancel_in_flight(&mut self, sent: impl Fn(usize) -> u64) {
        for (target, t) in self.targets.iter_mut().enumerate() {
            t.cancelled = sent(target).saturating_sub(t.probes);
        }
    }

    /// Takes one sample and returns the state changes it completes.
    pub fn record(&mut self, sample: &Sample) -> Vec<Event> {
        if let Some(kind) = sample.outcome.blips_own() {
            return self.unobserved(sample, kind);
        }
        let Some(t) = self.targets.get_mut(sample.target) else {
            return Vec::new();
        };
        // Router error names come from the server: past the first few, each counts as `other`.
        let bounded;
        let sample = match &sample.outcome {
            Outcome::BadStatus { status, text, router: Some(router) }
                if !t.router_counts.keys().any(|(_, r)| r == router)
                    && t.router_counts.keys().filter(|(_, r)| *r != RouterError::other()).count()
                        >= ROUTER_ERRORS_KEPT =>
            {
                let outcome =
                    Outcome::BadStatus { status: *status, text: text.clone(), router: Some(RouterError::other()) };
                bounded = Sample { outcome, detail: sample.detail.clone(), ..*sample };
                &bounded
            }
            _ => sample,
        };
        let due = self.clock.offset(sample.due);
        t.first_due = Some(t.first_due.map_or(due, |first| first.min(due)));
        let phase = self.phases.phase_at(due);
        let answered = sample.outcome.is_ok().then(|| sample.latency());
        if let Some(stats) = phase.and_then(|p| t.by_phase.get_mut(p.index())) {
            stats.record(answered);
        }
        if self.judge.judges(phase) {
            t.judged.record(due, sample);
        }
        if !sample.outcome.is_ok() && matches!(phase, Some(Phase::Deploy | Phase::Cooldown)) {
            t.first_deploy_failure = Some(t.first_deploy_failure.map_or(due, |d| d.min(due)));
            t.last_deploy_failure = Some(t.last_deploy_failure.map_or(due, |d| d.max(due)));
        }
        t.count(sample, due);
        let failure = sample.outcome.cause().map(|cause| ProbeFailure {
            cause,
            text: sample.outcome.describe(),
            failed_in: sample.detail.failed_in,
        });
        let transitions = t.detector.observe(Observation { seq: sample.seq, due, failure, unobserved: false });
        t.close_windows(&transitions, &self.phases, self.judge);
        transitions.into_iter().map(|transition| Event { target: sample.target, transition }).collect()
    }

    /// A slot blip could not observe: counted apart, in its place in the outage detector's order,
    /// and neither ok nor failed anywhere else; it can still complete transitions that waited
    /// for its slot.
    fn unobserved(&mut self, sample: &Sample, kind: ErrorKind) -> Vec<Event> {
        let due = self.clock.offset(sample.due);
        if kind == ErrorKind::Missed {
            self.pauses.record(due);
        }
        let Some(t) = self.targets.get_mut(sample.target) else {
            return Vec::new();
        };
        t.unobserved.record(kind, &sample.outcome);
        let transitions = t.detector.observe(Observation { seq: sample.seq, due, failure: None, unobserved: true });
        t.close_windows(&transitions, &self.phases, self.judge);
        transitions.into_iter().map(|transition| Event { target: sample.target, transition }).collect()
    }

    /// Ends the run at `end` (the end of the schedule): windows still open are closed there, and
    /// their events returned. The report is built from what is left (see `report::build`).
    pub fn close(&mut self, end: Instant) -> Vec<Event> {
        let end = self.clock.offset(end);
        self.phases.end(end);
        let spans = self.phases.spans(end);
        let mut events = Vec::new();
        for (target, t) in self.targets.iter_mut().enumerate() {
            for transition in t.detector.finish(end) {
                t.closed(&transition, &spans, self.judge);
                events.push(Event { target, transition });
            }
        }
        events
    }
}

impl TargetRecorder {
    /// Nothing counted yet for `url`, one of `urls` (their timelines share one budget).
    /// `phased`: figures are kept per phase too; `partly_judged`: the gates judge only some.
    fn new(url: &str, urls: usize, min_failures: u32, phased: bool, partly_judged: bool) -> TargetRecorder {
        TargetRecorder {
            url: url.to_string(),
            lane: Lane::Reused,
            label: url.to_string(),
            probes: 0,
            ok: 0,
            failed: 0,
            resent: 0,
            cancelled: 0,
            latency: histogram::latency(),
            latency_max_us: 0,
            send_lag: histogram::coarse(),
            status_counts: BTreeMap::new(),
            router_counts: BTreeMap::new(),
            error_counts: [0; ErrorKind::ALL.len()],
            timeline: Timeline::for_one_of(urls),
            detector: OutageDetector::new(min_failures),
            by_phase: if phased { Phase::ALL.iter().map(|_| PhaseStats::new()).collect() } else { Vec::new() },
            first_due: None,
            first_deploy_failure: None,
            last_deploy_failure: None,
            last_recovery: None,
            recent: None,
            wire: WireStats::default(),
            tracking: Tracking::default(),
            unobserved: Unobserved::default(),
            judged: JudgedStats::new(partly_judged),
        }
    }

    /// Counts a probe due at `due` in the URL's own figures: its outcome, latency, send lag,
    /// timeline, wire and tracked values.
    fn count(&mut self, sample: &Sample, due: Duration) {
        self.probes += 1;
        self.resent += u64::from(sample.resent);
        match &sample.outcome {
            Outcome::Ok { status } => {
                self.ok += 1;
                *self.status_counts.entry(*status).or_default() += 1;
                histogram::record(&mut self.latency, histogram::micros(sample.latency()));
                self.latency_max_us = self.latency_max_us.max(histogram::micros(sample.latency()));
            }
            Outcome::BadStatus { status, router, .. } => {
                self.failed += 1;
                *self.status_counts.entry(*status).or_default() += 1;
                if let Some(router) = router {
                    *self.router_counts.entry((*status, *router)).or_default() += 1;
                }
            }
            Outcome::Error { kind, status, .. } => {
                self.failed += 1;
                self.error_counts[kind.index()] += 1;
                if let Some(status) = status {
                    *self.status_counts.entry(*status).or_default() += 1;
                }
            }
        }
        if !matches!(sample.outcome, Outcome::Error { kind: ErrorKind::Skipped, .. }) {
            histogram::record(&mut self.send_lag, histogram::micros(sample.send_lag()));
        }
        self.timeline.record(due, sample.outcome.is_ok().then(|| sample.latency()));
        self.wire.record(&sample.detail, sample.outcome.is_ok(), due);
        if !sample.detail.tracked.is_empty() {
            self.tracking.record(due, &sample.detail.tracked, sample.outcome.is_ok());
        }
        if sample.outcome.is_ok()
            && let Some(recent) = self.recent.as_mut()
        {
            recent.record(due, histogram::micros(sample.latency()));
        }
    }

    /// Books the windows that `transitions` closed. The phases' spans are built only then: a
    /// sample that changes nothing costs none.
    fn close_windows(&mut self, transitions: &[Transition], phases: &PhaseClock, judge: GatePhases) {
        if transitions.iter().any(|t| matches!(t, Transition::Up(_))) {
            let spans = phases.spans(Duration::MAX);
            for transition in transitions {
                self.closed(transition, &spans, judge);
            }
        }
    }

    /// Books a closed window's downtime to the phases it spans and to the gates, and notes the
    /// last recovery.
    fn closed(&mut self, transition: &Transition, spans: &[(Phase, Duration, Duration)], judge: GatePhases) {
        let Transition::Up(window) = transition else { return };
        let index = usize::try_from(self.detector.window_count().saturating_sub(1)).unwrap_or(usize::MAX);
        if let Some(judged) = judged_window(window, window.end, index, spans, judge) {
            self.judged.add_window(judged);
        }
        for (phase, overlap) in split(spans, window.start, window.end) {
            if let Some(stats) = self.by_phase.get_mut(phase.index()) {
                stats.downtime += overlap;
            }
        }
        if !window.open {
            self.last_recovery = Some(self.last_recovery.map_or(window.end, |r| r.max(window.end)));
        }
    }
}
