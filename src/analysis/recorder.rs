//! The recorder: everything blip knows about a run, built from the Sample stream alone.
//!
//! It is pure (no I/O, no clock of its own) and aggregates instead of hoarding: per URL two
//! HdrHistograms, counters, a bounded timeline and the outage detector, so memory stays flat at
//! any rate for any length of run. UIs read [`Recorder::snapshot`]; the run ends with
//! [`Recorder::finish`], which returns the [`Report`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::analysis::clock::{RunClock, millis, rfc3339_ms};
use crate::analysis::outage::{MAX_WINDOWS, Observation, OutageDetector, ProbeFailure, Transition, Window};
use crate::analysis::phase::{Phase, PhaseClock, split};
use crate::analysis::timeline::Timeline;
use crate::engine::sample::{Cause, ErrorKind, Outcome, Sample};
use crate::gates::{self, Gate, GatePhases, Judged, JudgedWindow, Offender};
use crate::report::{
    DeployTiming, Evidence, GateReport, Latency, OutageReport, PhaseLatency, PhaseReport, Report, SCHEMA_VERSION,
    SendLag, TargetReport, TimelinePoint,
};

/// A state change of one URL, for UIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub target: usize,
    pub transition: Transition,
}

pub struct Recorder {
    clock: RunClock,
    rate: f64,
    phases: PhaseClock,
    /// Which phases the gates judge (every probe when no command is wrapped).
    judge: GatePhases,
    targets: Vec<TargetRecorder>,
}

/// What the gates judge of one URL: probes and windows in judged phases only.
struct JudgedStats {
    probes: u64,
    failed: u64,
    status_counts: BTreeMap<u16, u64>,
    first_status: BTreeMap<u16, Offender>,
    first_failure: Option<Offender>,
    /// Latency of judged successful probes; `None` when every probe is judged (no command
    /// wrapped, or `--gate-phase all`), where it would be a copy of the URL's own histogram.
    latency: Option<Histogram<u64>>,
    windows: Vec<JudgedWindow>,
    downtime: Duration,
    longest: Option<JudgedWindow>,
}

impl JudgedStats {
    fn add_window(&mut self, window: JudgedWindow) {
        self.downtime += window.judged;
        if self.longest.as_ref().is_none_or(|l| window.judged > l.judged) {
            self.longest = Some(window.clone());
        }
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push(window);
        }
    }
}

/// Keeps the earlier of two offenders.
fn earliest(slot: &mut Option<Offender>, at: Duration, text: impl FnOnce() -> String) {
    if slot.as_ref().is_none_or(|o| at < o.at) {
        *slot = Some(Offender { at, text: text() });
    }
}

/// Counts of one URL in one phase of a wrapped deploy.
struct PhaseStats {
    probes: u64,
    ok: u64,
    failed: u64,
    latency: Histogram<u64>,
    downtime: Duration,
}

struct TargetRecorder {
    url: String,
    probes: u64,
    ok: u64,
    failed: u64,
    resent: u64,
    /// Probes sent but never reported: a second stop request ended the wait for them.
    cancelled: u64,
    latency: Histogram<u64>,
    send_lag: Histogram<u64>,
    status_counts: BTreeMap<u16, u64>,
    error_counts: [u64; ErrorKind::ALL.len()],
    timeline: Timeline,
    detector: OutageDetector,
    /// Per phase, in [`Phase::ALL`] order; empty when no command is wrapped.
    by_phase: Vec<PhaseStats>,
    /// Due times of the first and last failed probes after the deploy began.
    first_deploy_failure: Option<Duration>,
    last_deploy_failure: Option<Duration>,
    /// End of the last window that closed with a success.
    last_recovery: Option<Duration>,
    judged: JudgedStats,
    /// Only kept for the dashboard (see [`Recorder::keep_recent_latency`]).
    recent: Option<RecentLatency>,
}

/// Seconds the dashboard's "last 10 s" latency covers.
pub const RECENT_S: u64 = 10;

/// Latency of the last [`RECENT_S`] seconds (by due time), as a ring of one-second histograms at
/// two significant digits: enough for a live view, small enough to keep ten of.
struct RecentLatency {
    slots: Vec<(u64, Histogram<u32>)>,
}

impl RecentLatency {
    fn new() -> RecentLatency {
        // Counts of one second fit a u32 at any rate blip allows.
        let slot = || (u64::MAX, coarse_histogram());
        RecentLatency { slots: (0..RECENT_S).map(|_| slot()).collect() }
    }

    fn record(&mut self, due: Duration, us: u64) {
        let second = due.as_secs();
        let (slot_second, histogram) = &mut self.slots[(second % RECENT_S) as usize];
        if *slot_second != second {
            if *slot_second != u64::MAX && *slot_second > second {
                return; // a late answer for a second the ring has moved past
            }
            histogram.reset();
            *slot_second = second;
        }
        record(histogram, us);
    }

    /// Quantiles over the slots within [`RECENT_S`] seconds of `now`.
    fn quantiles(&self, now: Duration) -> Option<Quantiles> {
        let now = now.as_secs();
        let mut merged: Option<Histogram<u32>> = None;
        for (second, h) in &self.slots {
            if *second != u64::MAX && *second + RECENT_S > now && !h.is_empty() {
                match merged.as_mut() {
                    Some(m) => {
                        let _ = m.add(h);
                    }
                    None => merged = Some(h.clone()),
                }
            }
        }
        merged.map(|h| Quantiles::of(&h))
    }
}

/// Latency quantiles for live views.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Quantiles {
    fn of<C: hdrhistogram::Counter>(h: &Histogram<C>) -> Quantiles {
        let at = |q: f64| Duration::from_micros(h.value_at_quantile(q));
        Quantiles { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Duration::from_micros(h.max()) }
    }
}

/// What the dashboard shows of one URL, taken at one instant.
#[derive(Clone, Debug)]
pub struct TargetDetail {
    pub url: String,
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    /// The window open now: its start and first error.
    pub down: Option<(Duration, String)>,
    /// When the state last changed (start of the open window, or end of the last closed one).
    pub since: Duration,
    /// Downtime so far, the open window counted up to its last failed probe.
    pub downtime: Duration,
    pub availability: f64,
    /// Slots due so far that have not reported yet.
    pub in_flight: u64,
    pub latency_recent: Option<Quantiles>,
    pub latency_all: Option<Quantiles>,
    pub send_lag_p99: Duration,
    pub status_counts: Vec<(u16, u64)>,
    pub error_counts: Vec<(ErrorKind, u64)>,
    /// The last closed windows, most recent last.
    pub windows: Vec<Window>,
    pub window_count: u64,
    /// The last one-second slices of the timeline, most recent last.
    pub slices: Vec<crate::analysis::timeline::Slice>,
}

/// What a UI shows of one URL while the run goes on; URLs come in the order of the run's URLs.
#[derive(Clone, Debug)]
pub struct TargetSnapshot {
    pub probes: u64,
    pub failed: u64,
    /// Start of the window open now, as an offset from the start of the run.
    pub down_since: Option<Duration>,
    pub windows: u64,
}

/// A histogram in microseconds at two significant digits, for figures where 1 % is precision
/// enough (how late blip sent a probe): an eighth of the memory of [`histogram`].
fn coarse_histogram<C: hdrhistogram::Counter>() -> Histogram<C> {
    let mut h = Histogram::new_with_bounds(1, 256, 2).expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Records `us` in a histogram that grows to hold it (`saturating_record` would clamp it to the
/// histogram's current range instead).
fn record<C: hdrhistogram::Counter>(h: &mut Histogram<C>, us: u64) {
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// A latency histogram in microseconds, three significant digits. It grows to the largest value
/// it holds instead of being sized for an hour up front: 16 KiB for millisecond latencies
/// rather than 188 KiB, which matters at thousands of URLs with several histograms each.
fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2048, 3).expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Recorder {
    /// A recorder for `urls`. `phased` is set when a command is wrapped: figures are then also
    /// kept per phase, and the gates judge only the given phases.
    pub fn new(urls: &[String], rate: f64, min_failures: u32, clock: RunClock, phased: Option<GatePhases>) -> Recorder {
        let by_phase = || {
            if phased.is_none() {
                return Vec::new();
            }
            Phase::ALL
                .iter()
                .map(|_| PhaseStats { probes: 0, ok: 0, failed: 0, latency: histogram(), downtime: Duration::ZERO })
                .collect()
        };
        let targets = urls
            .iter()
            .map(|url| TargetRecorder {
                url: url.clone(),
                probes: 0,
                ok: 0,
                failed: 0,
                resent: 0,
                cancelled: 0,
                latency: histogram(),
                send_lag: coarse_histogram(),
                status_counts: BTreeMap::new(),
                error_counts: [0; ErrorKind::ALL.len()],
                timeline: Timeline::default(),
                detector: OutageDetector::new(min_failures),
                by_phase: by_phase(),
                first_deploy_failure: None,
                last_deploy_failure: None,
                last_recovery: None,
                recent: None,
                judged: JudgedStats {
                    probes: 0,
                    failed: 0,
                    status_counts: BTreeMap::new(),
                    first_status: BTreeMap::new(),
                    first_failure: None,
                    latency: (phased.is_some_and(|judged| judged != GatePhases::All)).then(histogram),
                    windows: Vec::new(),
                    downtime: Duration::ZERO,
                    longest: None,
                },
            })
            .collect();
        Recorder { clock, rate, phases: PhaseClock::default(), judge: phased.unwrap_or(GatePhases::All), targets }
    }

    /// Keeps each URL's latency of the last [`RECENT_S`] seconds, which only the dashboard shows:
    /// ten small histograms per URL are worth their memory only there.
    pub fn keep_recent_latency(&mut self) {
        for t in &mut self.targets {
            t.recent.get_or_insert_with(RecentLatency::new);
        }
    }

    /// Marks the start of a phase. Call it when the phase begins: samples due after `at` are
    /// still to come, so each lands in the phase its due time falls in.
    pub fn begin_phase(&mut self, phase: Phase, at: Instant) {
        self.phases.begin(phase, self.clock.offset(at));
    }

    /// What the gates see of each URL. With `now`, a window still open counts up to `now`, for
    /// judging while the run goes on.
    pub fn judged_views(&self, now: Option<Instant>) -> Vec<Judged<'_>> {
        let now = now.map(|now| self.clock.offset(now));
        self.targets
            .iter()
            .map(|t| {
                let j = &t.judged;
                let mut view = Judged {
                    url: &t.url,
                    probes: j.probes,
                    failed: j.failed,
                    status_counts: &j.status_counts,
                    first_status: &j.first_status,
                    first_failure: j.first_failure.as_ref(),
                    windows: j.windows.clone(),
                    downtime: j.downtime,
                    longest: j.longest.clone(),
                    latency: j.latency.as_ref().unwrap_or(&t.latency),
                };
                if let (Some(now), Some(open)) = (now, t.detector.current()) {
                    let spans = self.phases.spans(now);
                    let index = usize::try_from(t.detector.window_count()).unwrap_or(usize::MAX);
                    if let Some(w) = judged_window(open, now, index, &spans, self.judge) {
                        view.downtime += w.judged;
                        if view.longest.as_ref().is_none_or(|l| w.judged > l.judged) {
                            view.longest = Some(w.clone());
                        }
                        view.windows.push(w);
                    }
                }
                view
            })
            .collect()
    }

    /// Failed and total probes of each URL in `phase` so far.
    pub fn phase_failures(&self, phase: Phase) -> Vec<(u64, u64)> {
        self.targets.iter().map(|t| t.by_phase.get(phase.index()).map_or((0, 0), |s| (s.failed, s.probes))).collect()
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
        let Some(t) = self.targets.get_mut(sample.target) else {
            return Vec::new();
        };
        let due = self.clock.offset(sample.due);
        let phase = self.phases.phase_at(due);
        if let Some(stats) = phase.and_then(|p| t.by_phase.get_mut(p.index())) {
            stats.probes += 1;
            if let Outcome::Ok { .. } = sample.outcome {
                stats.ok += 1;
                record(&mut stats.latency, micros(sample.latency()));
            } else {
                stats.failed += 1;
            }
        }
        if self.judge.judges(phase) {
            let j = &mut t.judged;
            j.probes += 1;
            let status = match &sample.outcome {
                Outcome::Ok { status } => {
                    if let Some(latency) = j.latency.as_mut() {
                        record(latency, micros(sample.latency()));
                    }
                    Some(*status)
                }
                Outcome::BadStatus { status, .. } => Some(*status),
                Outcome::Error { status, .. } => *status,
            };
            if !sample.outcome.is_ok() {
                j.failed += 1;
                earliest(&mut j.first_failure, due, || sample.outcome.describe());
            }
            if let Some(code) = status {
                *j.status_counts.entry(code).or_default() += 1;
                // Only the earliest answer per code is kept; describing it allocates, so only then.
                if j.first_status.get(&code).is_none_or(|o| due < o.at) {
                    j.first_status.insert(code, Offender { at: due, text: sample.outcome.describe() });
                }
            }
        }
        if !sample.outcome.is_ok() && matches!(phase, Some(Phase::Deploy | Phase::Cooldown)) {
            t.first_deploy_failure = Some(t.first_deploy_failure.map_or(due, |d| d.min(due)));
            t.last_deploy_failure = Some(t.last_deploy_failure.map_or(due, |d| d.max(due)));
        }
        t.probes += 1;
        t.resent += u64::from(sample.resent);
        match &sample.outcome {
            Outcome::Ok { status } => {
                t.ok += 1;
                *t.status_counts.entry(*status).or_default() += 1;
                record(&mut t.latency, micros(sample.latency()));
            }
            Outcome::BadStatus { status, .. } => {
                t.failed += 1;
                *t.status_counts.entry(*status).or_default() += 1;
            }
            Outcome::Error { kind, status, .. } => {
                t.failed += 1;
                t.error_counts[kind.index()] += 1;
                if let Some(status) = status {
                    *t.status_counts.entry(*status).or_default() += 1;
                }
            }
        }
        if !matches!(sample.outcome, Outcome::Error { kind: ErrorKind::Skipped, .. }) {
            record(&mut t.send_lag, micros(sample.send_lag()));
        }
        t.timeline.record(due, sample.outcome.is_ok().then(|| sample.latency()));
        if sample.outcome.is_ok()
            && let Some(recent) = t.recent.as_mut()
        {
            recent.record(due, micros(sample.latency()));
        }
        let failure = sample.outcome.cause().map(|cause| ProbeFailure { cause, text: sample.outcome.describe() });
        let transitions = t.detector.observe(Observation { seq: sample.seq, due, failure });
        let target = sample.target;
        let spans = self.phases.spans(Duration::MAX);
        for transition in &transitions {
            t.closed(transition, &spans, self.judge);
        }
        transitions.into_iter().map(|transition| Event { target, transition }).collect()
    }

    pub fn snapshot(&self) -> Vec<TargetSnapshot> {
        self.targets
            .iter()
            .map(|t| TargetSnapshot {
                probes: t.probes,
                failed: t.failed,
                down_since: t.detector.current().map(|w| w.start),
                windows: t.detector.window_count(),
            })
            .collect()
    }

    /// A detailed view of every URL for the dashboard: `now` is the time of the view,
    /// `due_until` the end of the schedule so far (now, or the end of the run if earlier), and
    /// `slices` how many timeline slices to return.
    pub fn detail(&self, now: Instant, due_until: Instant, slices: usize) -> Vec<TargetDetail> {
        let now = self.clock.offset(now);
        let due_until = self.clock.offset(due_until);
        let due = (due_until.as_secs_f64() * self.rate).floor() as u64 + 1;
        self.targets
            .iter()
            .map(|t| {
                let open = t.detector.current();
                let downtime = t.detector.downtime() + open.map_or(Duration::ZERO, Window::duration);
                let windows = t.detector.windows();
                let last_end = windows.last().map(|w| w.end);
                TargetDetail {
                    url: t.url.clone(),
                    probes: t.probes,
                    ok: t.ok,
                    failed: t.failed,
                    down: open.map(|w| (w.start, w.first_error.clone())),
                    since: open.map(|w| w.start).or(last_end).unwrap_or(Duration::ZERO),
                    downtime,
                    availability: if now.is_zero() {
                        1.0
                    } else {
                        (1.0 - downtime.as_secs_f64() / now.as_secs_f64()).clamp(0.0, 1.0)
                    },
                    in_flight: due.saturating_sub(t.probes),
                    latency_recent: t.recent.as_ref().and_then(|r| r.quantiles(now)),
                    latency_all: (!t.latency.is_empty()).then(|| Quantiles::of(&t.latency)),
                    send_lag_p99: Duration::from_micros(t.send_lag.value_at_quantile(0.99)),
                    status_counts: t.status_counts.iter().map(|(c, n)| (*c, *n)).collect(),
                    error_counts: ErrorKind::ALL
                        .iter()
                        .filter(|k| t.error_counts[k.index()] > 0)
                        .map(|k| (*k, t.error_counts[k.index()]))
                        .collect(),
                    windows: windows[windows.len().saturating_sub(5)..].to_vec(),
                    window_count: t.detector.window_count(),
                    slices: t.timeline.last(slices).to_vec(),
                }
            })
            .collect()
    }

    /// Ends the run at `end` (the end of the schedule) and returns the events of windows still
    /// open, closed at `end`, and the report.
    pub fn finish(mut self, end: Instant, gate_list: &[Gate]) -> (Vec<Event>, Report) {
        let end = self.clock.offset(end);
        let spans = self.phases.spans(end);
        let mut events = Vec::new();
        for (target, t) in self.targets.iter_mut().enumerate() {
            for transition in t.detector.finish(end) {
                t.closed(&transition, &spans, self.judge);
                events.push(Event { target, transition });
            }
        }
        let mut targets: Vec<TargetReport> =
            self.targets.iter().map(|t| t.report(&self.clock, &self.phases, end)).collect();
        for (report, view) in targets.iter_mut().zip(self.judged_views(None)) {
            report.gates = gate_list.iter().map(|gate| gate_report(&self.clock, gates::judge(gate, &view))).collect();
        }
        let passed = targets.iter().all(|t| t.gates.iter().all(|g| g.passed));
        let mut warnings = never_up_warnings(&targets);
        warnings.extend(send_lag_warnings(&targets, self.rate));
        warnings.extend(warmup_warnings(&targets));
        let report = Report {
            schema_version: SCHEMA_VERSION,
            blip_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: rfc3339_ms(self.clock.started_at),
            duration_ms: millis(end),
            rate: self.rate,
            passed,
            default_gates: false,
            measure_only: false,
            gate_phases: (!self.phases.spans(end).is_empty()).then_some(self.judge),
            warnings,
            deploy: None,
            targets,
        };
        (events, report)
    }
}

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
fn send_lag_warnings(targets: &[TargetReport], rate: f64) -> Vec<String> {
    let threshold_ms = (250.0 / rate).max(2.0);
    let late = targets.iter().filter(|t| t.send_lag_ms.p99 > threshold_ms).collect();
    const BUSY: &str = "this machine may be too busy to time probes well";
    per_url_warnings(
        late,
        |t| {
            format!(
                "blip sent probes of {} late: send lag p99 {:.3} ms (max {:.3} ms); {BUSY}",
                t.url, t.send_lag_ms.p99, t.send_lag_ms.max
            )
        },
        |late| {
            let worst = late.iter().map(|t| t.send_lag_ms.p99).fold(0.0, f64::max);
            format!(
                "blip sent probes of {} of {} URLs late: send lag p99 up to {worst:.3} ms; {BUSY}",
                late.len(),
                targets.len()
            )
        },
    )
}

/// A URL that never answered acceptably is most often a wrong URL (a typo, a dead port), not a
/// service that was down all along: say so loudly.
fn never_up_warnings(targets: &[TargetReport]) -> Vec<String> {
    let never = targets.iter().filter(|t| t.probes > 0 && t.ok == 0).collect();
    per_url_warnings(
        never,
        |t| {
            let causes: Vec<String> =
                t.status_counts.iter().chain(&t.error_counts).map(|(cause, n)| format!("{cause} ×{n}")).collect();
            format!(
                "{} NEVER answered successfully ({} probes: {}); check the URL, port and --expect-status",
                t.url,
                t.probes,
                causes.join(", ")
            )
        },
        |never| {
            format!(
                "{} of {} URLs NEVER answered successfully (first: {}); check the URLs, ports and --expect-status",
                never.len(),
                targets.len(),
                never[0].url
            )
        },
    )
}

/// The part of `window` (ending at `end`) inside judged phases; `None` when there is none.
fn judged_window(
    window: &Window,
    end: Duration,
    index: usize,
    spans: &[(Phase, Duration, Duration)],
    judge: GatePhases,
) -> Option<JudgedWindow> {
    let judged = if spans.is_empty() {
        end.saturating_sub(window.start)
    } else {
        split(spans, window.start, end).into_iter().filter(|(p, _)| judge.judges(Some(*p))).map(|(_, d)| d).sum()
    };
    (!judged.is_zero()).then(|| JudgedWindow {
        index,
        start: window.start,
        judged,
        first_error: window.first_error.clone(),
        causes: window.causes.keys().copied().collect(),
    })
}

fn gate_report(clock: &RunClock, v: gates::Verdict) -> GateReport {
    let evidence = (!v.passed).then(|| Evidence {
        first_at: v.first.as_ref().map(|o| rfc3339_ms(clock.wall(o.at))),
        first_offset_ms: v.first.as_ref().map(|o| millis(o.at)),
        first_error: v.first.map(|o| o.text),
        outages: v.windows,
    });
    GateReport { gate: v.gate, limit: v.limit, observed: v.observed, passed: v.passed, evidence }
}

/// Downtime before the deploy started is not the deploy's doing; say so loudly.
fn warmup_warnings(targets: &[TargetReport]) -> Vec<String> {
    let warmup = |t: &TargetReport| t.phases.as_ref().and_then(|p| p.get(&Phase::Warmup)).map(|w| (w.failed, w.probes));
    let failing = targets.iter().filter(|t| warmup(t).is_some_and(|(failed, _)| failed > 0)).collect();
    per_url_warnings(
        failing,
        |t| {
            let (failed, probes) = warmup(t).unwrap_or_default();
            format!(
                "{} was already failing before the deploy started: {failed} of {probes} warmup probes failed; that downtime is not the deploy's",
                t.url
            )
        },
        |failing| {
            format!(
                "{} of {} URLs were already failing before the deploy started (first: {}); that downtime is not the deploy's",
                failing.len(),
                targets.len(),
                failing[0].url
            )
        },
    )
}

impl TargetRecorder {
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

    fn phase_reports(&self, phases: &PhaseClock, end: Duration) -> Option<BTreeMap<Phase, PhaseReport>> {
        if self.by_phase.is_empty() {
            return None;
        }
        let reports = phases
            .spans(end)
            .into_iter()
            .map(|(phase, start, stop)| {
                let s = &self.by_phase[phase.index()];
                let latency = (!s.latency.is_empty()).then(|| PhaseLatency {
                    p50: us_to_ms(s.latency.value_at_quantile(0.5)),
                    p99: us_to_ms(s.latency.value_at_quantile(0.99)),
                    max: us_to_ms(s.latency.max()),
                });
                let report = PhaseReport {
                    start_offset_ms: millis(start),
                    end_offset_ms: millis(stop),
                    probes: s.probes,
                    ok: s.ok,
                    failed: s.failed,
                    downtime_ms: millis(s.downtime),
                    latency_ms: latency,
                };
                (phase, report)
            })
            .collect();
        Some(reports)
    }

    fn deploy_timing(&self, phases: &PhaseClock) -> Option<DeployTiming> {
        if self.by_phase.is_empty() {
            return None;
        }
        let Some(deploy_start) = phases.start_of(Phase::Deploy) else {
            return Some(DeployTiming::default());
        };
        let since = |at: Duration| millis(at.saturating_sub(deploy_start));
        let recovered = match (self.last_deploy_failure, self.last_recovery) {
            (Some(last), Some(recovery)) if recovery > last && self.detector.current().is_none() => Some(recovery),
            _ => None,
        };
        let open_at_start = |w: &Window| w.start < deploy_start && (w.end >= deploy_start || w.open);
        let down_at_start = self.detector.windows().iter().any(open_at_start)
            || self.detector.current().is_some_and(|w| w.start < deploy_start);
        Some(DeployTiming {
            first_failure_ms: self.first_deploy_failure.map(since),
            down_at_start,
            last_failure_ms: self.last_deploy_failure.map(since),
            recovered_ms: recovered.map(since),
            recovery_ms: recovered.zip(self.last_deploy_failure).map(|(r, l)| millis(r - l)),
        })
    }

    fn report(&self, clock: &RunClock, phases: &PhaseClock, end: Duration) -> TargetReport {
        let downtime = self.detector.downtime();
        // Six decimals: 99.9999 % resolves a 3.6 ms outage in an hour.
        let availability = if end.is_zero() {
            1.0
        } else {
            ((1.0 - downtime.as_secs_f64() / end.as_secs_f64()).clamp(0.0, 1.0) * 1e6).round() / 1e6
        };
        TargetReport {
            url: self.url.clone(),
            probes: self.probes,
            ok: self.ok,
            failed: self.failed,
            resent: self.resent,
            cancelled: self.cancelled,
            status_counts: self.status_counts.iter().map(|(code, n)| (code.to_string(), *n)).collect(),
            error_counts: ErrorKind::ALL
                .iter()
                .filter(|k| self.error_counts[k.index()] > 0)
                .map(|k| (k.to_string(), self.error_counts[k.index()]))
                .collect(),
            latency_ms: (!self.latency.is_empty()).then(|| latency(&self.latency)),
            send_lag_ms: SendLag {
                p50: us_to_ms(self.send_lag.value_at_quantile(0.5)),
                p99: us_to_ms(self.send_lag.value_at_quantile(0.99)),
                max: us_to_ms(self.send_lag.max()),
            },
            downtime_ms: millis(downtime),
            availability,
            outage_count: self.detector.window_count(),
            outages: self
                .detector
                .windows()
                .iter()
                .map(|w| outage_report(clock, w, phases.phase_at(w.start)))
                .collect(),
            timeline_width_s: self.timeline.width_s(),
            timeline: self
                .timeline
                .slices()
                .map(|(offset_s, s)| TimelinePoint { offset_s, ok: s.ok, failed: s.failed })
                .collect(),
            phases: self.phase_reports(phases, end),
            deploy_timing: self.deploy_timing(phases),
            gates: Vec::new(),
        }
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn latency(h: &Histogram<u64>) -> Latency {
    Latency {
        min: us_to_ms(h.min()),
        mean: (h.mean()).round() / 1000.0,
        p50: us_to_ms(h.value_at_quantile(0.5)),
        p90: us_to_ms(h.value_at_quantile(0.9)),
        p99: us_to_ms(h.value_at_quantile(0.99)),
        p999: us_to_ms(h.value_at_quantile(0.999)),
        max: us_to_ms(h.max()),
    }
}

/// The report's view of a window, which started in `phase` of a wrapped deploy.
pub fn outage_report(clock: &RunClock, w: &Window, phase: Option<Phase>) -> OutageReport {
    OutageReport {
        start: rfc3339_ms(clock.wall(w.start)),
        end: rfc3339_ms(clock.wall(w.end)),
        start_offset_ms: millis(w.start),
        end_offset_ms: millis(w.end),
        duration_ms: millis(w.duration()),
        failed_probes: w.failed_probes,
        causes: causes(&w.causes),
        first_error: w.first_error.clone(),
        open: w.open,
        phase,
    }
}

fn causes(causes: &BTreeMap<Cause, u64>) -> BTreeMap<String, u64> {
    causes.iter().map(|(cause, n)| (cause.to_string(), *n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::phase::Phase;

    fn sample(clock: &RunClock, seq: u64, interval_ms: u64, outcome: Outcome) -> Sample {
        let due = clock.start + Duration::from_millis(seq * interval_ms);
        Sample {
            target: 0,
            seq,
            due,
            sent: due + Duration::from_micros(200),
            done: due + Duration::from_millis(3),
            outcome,
            resent: false,
        }
    }

    #[test]
    fn counts_latency_and_windows() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, None);
        let not_found = || Outcome::BadStatus { status: 404, text: "404 Not Found".into() };
        let mut events = Vec::new();
        for seq in 0..100 {
            let outcome = if (40..60).contains(&seq) { not_found() } else { Outcome::Ok { status: 200 } };
            events.extend(r.record(&sample(&clock, seq, 10, outcome)));
        }
        let timeout = Outcome::Error { kind: ErrorKind::Timeout, status: None, text: "no answer".into() };
        events.extend(r.record(&sample(&clock, 100, 10, timeout)));
        let (last, report) = r.finish(clock.start + Duration::from_millis(1010), &[]);
        events.extend(last);
        assert_eq!(events.len(), 4, "{events:?}");

        let t = &report.targets[0];
        assert_eq!((t.probes, t.ok, t.failed), (101, 80, 21));
        assert_eq!(t.status_counts, BTreeMap::from([("200".into(), 80), ("404".into(), 20)]));
        assert_eq!(t.error_counts, BTreeMap::from([("timeout".into(), 1)]));
        let latency = t.latency_ms.unwrap();
        assert!((2.99..=3.01).contains(&latency.p50), "{latency:?}");
        assert!((0.19..=0.21).contains(&t.send_lag_ms.p99), "{:?}", t.send_lag_ms);
        assert_eq!(t.outage_count, 2);
        assert_eq!(t.outages[0].duration_ms, 200.0);
        assert_eq!(t.outages[0].causes, BTreeMap::from([("404".into(), 20)]));
        assert!(!t.outages[0].open);
        assert!(t.outages[1].open);
        assert_eq!(t.outages[1].duration_ms, 10.0);
        assert_eq!(t.downtime_ms, 210.0);
        assert!((t.availability - (1.0 - 210.0 / 1010.0)).abs() < 1e-6);
        assert_eq!(t.timeline.len(), 2);
        assert_eq!((t.timeline[0].ok, t.timeline[0].failed), (80, 20));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn skipped_slots_are_failures_without_send_lag() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 10.0, 1, clock, None);
        let skipped = Outcome::Error { kind: ErrorKind::Skipped, status: None, text: String::new() };
        r.record(&sample(&clock, 0, 100, skipped));
        let (_, report) = r.finish(clock.start + Duration::from_millis(100), &[]);
        let t = &report.targets[0];
        assert_eq!((t.probes, t.failed), (1, 1));
        assert_eq!(t.error_counts["skipped"], 1);
        assert_eq!(t.send_lag_ms.max, 0.0);
        assert!(t.latency_ms.is_none());
    }

    #[test]
    fn histograms_grow_to_hold_slow_answers() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 1.0, 1, clock, Some(GatePhases::Deploy));
        let mut s = sample(&clock, 0, 1000, Outcome::Ok { status: 200 });
        s.done = s.due + Duration::from_millis(1500);
        s.sent = s.due + Duration::from_millis(40);
        r.record(&s);
        let (_, report) = r.finish(clock.start + Duration::from_secs(1), &[]);
        let t = &report.targets[0];
        let latency = t.latency_ms.unwrap();
        assert!((1499.0..=1502.0).contains(&latency.max), "{latency:?}");
        assert!((39.0..=41.0).contains(&t.send_lag_ms.max), "{:?}", t.send_lag_ms);
    }

    #[test]
    fn late_sends_are_reported() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, None);
        let mut s = sample(&clock, 0, 10, Outcome::Ok { status: 200 });
        s.sent = s.due + Duration::from_millis(30);
        r.record(&s);
        let (_, report) = r.finish(clock.start + Duration::from_millis(10), &[]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    }

    #[test]
    fn phases_split_counts_and_downtime() {
        let clock = RunClock::now();
        let mut r = Recorder::new(&["http://a/".into()], 100.0, 1, clock, Some(GatePhases::DeployCooldown));
        r.begin_phase(Phase::Warmup, clock.start);
        let record = |r: &mut Recorder, range: std::ops::Range<u64>, ok: bool| {
            for seq in range {
                let outcome = if ok {
                    Outcome::Ok { status: 200 }
                } else {
                    Outcome::BadStatus { status: 404, text: "404".into() }
                };
                r.record(&sample(&clock, seq, 10, outcome));
            }
        };
        record(&mut r, 0..100, true);
        r.begin_phase(Phase::Deploy, clock.start + Duration::from_millis(1000));
        record(&mut r, 100..150, true);
        record(&mut r, 150..180, false);
        r.begin_phase(Phase::Cooldown, clock.start + Duration::from_millis(1700));
        record(&mut r, 180..190, false);
        record(&mut r, 190..200, true);
        let (_, report) = r.finish(clock.start + Duration::from_millis(2000), &[]);
        let t = &report.targets[0];
        let phases = t.phases.as_ref().unwrap();
        let (w, d, c) = (&phases[&Phase::Warmup], &phases[&Phase::Deploy], &phases[&Phase::Cooldown]);
        assert_eq!((w.probes, w.failed, d.probes, d.failed, c.probes, c.failed), (100, 0, 80, 30, 20, 10));
        // One window from 1500 ms to 1900 ms: 200 ms in deploy, 200 ms in cooldown.
        assert_eq!((d.downtime_ms, c.downtime_ms), (200.0, 200.0));
        assert_eq!(t.outages[0].phase, Some(Phase::Deploy));
        let timing = t.deploy_timing.unwrap();
        assert_eq!(timing.first_failure_ms, Some(500.0));
        assert_eq!(timing.last_failure_ms, Some(890.0));
        assert_eq!(timing.recovered_ms, Some(900.0));
        assert_eq!(timing.recovery_ms, Some(10.0));
        assert!(report.warnings.is_empty());
    }
}
