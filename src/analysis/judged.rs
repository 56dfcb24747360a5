//! What the gates judge of each URL: probes and windows in the judged phases only, kept beside
//! the recorder's own counts, and the view of them that `gates::judge` takes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::analysis::histogram;
use crate::analysis::outage::{MAX_WINDOWS, Window};
use crate::analysis::phase::PhaseStats;
use crate::analysis::phase::{GatePhases, Phase, split};
use crate::analysis::recorder::Recorder;
use crate::analysis::timeline::Timeline;
use crate::analysis::tracking::SeenSource;
use crate::engine::sample::{Outcome, Sample};

/// A probe that broke a gate first: when it was due, and what it got.
#[derive(Clone, Debug, PartialEq)]
pub struct Offender {
    /// Due time, from the start of the run.
    pub at: Duration,
    pub text: String,
}

/// An outage window as far as the judged phases cover it.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgedWindow {
    /// Position in the URL's list of outages in the report.
    pub index: usize,
    pub start: Duration,
    /// The part of the window inside judged phases.
    pub judged: Duration,
    pub first_error: String,
    pub causes: Vec<crate::engine::sample::Cause>,
}

/// What the gates see of one URL: only probes and windows in judged phases.
#[derive(Debug)]
pub struct Judged<'a> {
    pub url: &'a str,
    /// The lane the URL's probes went out on: `reused`, `fresh`.
    pub lane: &'a str,
    /// The target as messages name it: the URL, with its lane when that tells.
    pub label: &'a str,
    pub probes: u64,
    pub failed: u64,
    pub status_counts: &'a BTreeMap<u16, u64>,
    /// The first probe answered with each status code.
    pub first_status: &'a BTreeMap<u16, Offender>,
    pub first_failure: Option<&'a Offender>,
    /// Windows with a judged part, in order (the first [`crate::analysis::outage::MAX_WINDOWS`], then the
    /// one open now if any), for evidence.
    pub windows: Vec<JudgedWindow>,
    /// Judged downtime and the longest judged window, over every window.
    pub downtime: Duration,
    pub longest: Option<JudgedWindow>,
    /// Windows with a judged part, including any past the list's bound (and the one open now).
    pub window_count: u64,
    /// Latency of successful probes, µs.
    pub latency: &'a Histogram<u64>,
    /// Ok and failed probes per slice of the run, of judged probes only.
    pub timeline: &'a Timeline,
    /// Per phase of a wrapped deploy, in [`Phase::ALL`] order; empty without a command.
    pub by_phase: &'a [PhaseStats],
    /// Which phases the gates judge.
    pub phases: GatePhases,
    /// What `--expect-new` judges.
    pub intent: Intent,
    /// `--max-degraded`: the degraded spans' parts in judged phases, once the report has
    /// them (`report::degraded` draws them from the whole run); `None` while the run goes on.
    pub degraded: Option<Degraded>,
}

/// The degraded spans a gate judges: their total length, how many, and the first of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Degraded {
    pub total: Duration,
    pub spans: u64,
    pub first: Option<Offender>,
}

/// What `--expect-new` judges of a URL: its tracked sources, and when the deploy and the
/// cooldown began (from the start of the run); empty without tracking or a COMMAND.
#[derive(Clone, Debug, Default)]
pub struct Intent {
    pub sources: Vec<SeenSource>,
    pub deploy_start: Option<Duration>,
    pub cooldown_start: Option<Duration>,
    /// Whether the cooldown ran its whole planned length (not cut short, not of no length).
    pub cooldown_ran: bool,
    /// Probes due in the warmup: with none, the old values are not known.
    pub warmup_probes: u64,
}

/// What the gates judge of one URL: probes and windows in judged phases only.
pub struct JudgedStats {
    pub probes: u64,
    pub failed: u64,
    pub status_counts: BTreeMap<u16, u64>,
    pub first_status: BTreeMap<u16, Offender>,
    pub first_failure: Option<Offender>,
    /// Latency of judged successful probes; `None` when every probe is judged (no command
    /// wrapped, or `--gate-phase all`), where it would be a copy of the URL's own histogram.
    pub latency: Option<Histogram<u64>>,
    /// Judged probes per slice of the run; `None` when every probe is judged, as for `latency`.
    pub timeline: Option<Timeline>,
    pub windows: Vec<JudgedWindow>,
    pub downtime: Duration,
    pub longest: Option<JudgedWindow>,
    /// Windows with a judged part, including any past the list's bound.
    pub window_count: u64,
}

impl JudgedStats {
    /// Nothing judged yet. `partly_judged`: the gates judge only some phases, so they need a
    /// latency histogram and a timeline of their own beside the URL's.
    pub fn new(partly_judged: bool) -> JudgedStats {
        JudgedStats {
            probes: 0,
            failed: 0,
            status_counts: BTreeMap::new(),
            first_status: BTreeMap::new(),
            first_failure: None,
            latency: partly_judged.then(histogram::latency),
            timeline: partly_judged.then(Timeline::default),
            windows: Vec::new(),
            downtime: Duration::ZERO,
            longest: None,
            window_count: 0,
        }
    }

    /// Counts a probe due at `due` in a judged phase.
    pub fn record(&mut self, due: Duration, sample: &Sample) {
        self.probes += 1;
        let status = match &sample.outcome {
            Outcome::Ok { status } => {
                if let Some(latency) = self.latency.as_mut() {
                    histogram::record(latency, histogram::micros(sample.latency()));
                }
                Some(*status)
            }
            Outcome::BadStatus { status, .. } => Some(*status),
            Outcome::Error { status, .. } => *status,
        };
        if let Some(timeline) = self.timeline.as_mut() {
            timeline.record(due, sample.outcome.is_ok().then(|| sample.latency()));
        }
        if !sample.outcome.is_ok() {
            self.failed += 1;
            earliest(&mut self.first_failure, due, || sample.outcome.describe());
        }
        if let Some(code) = status {
            *self.status_counts.entry(code).or_default() += 1;
            // Only the earliest answer per code is kept; describing it allocates, so only then.
            if self.first_status.get(&code).is_none_or(|o| due < o.at) {
                self.first_status.insert(code, Offender { at: due, text: sample.outcome.describe() });
            }
        }
    }

    pub fn add_window(&mut self, window: JudgedWindow) {
        self.window_count += 1;
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
pub fn earliest(slot: &mut Option<Offender>, at: Duration, text: impl FnOnce() -> String) {
    if slot.as_ref().is_none_or(|o| at < o.at) {
        *slot = Some(Offender { at, text: text() });
    }
}

/// The part of `window` (ending at `end`) inside judged phases; `None` when there is none.
pub fn judged_window(
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
    // Evidence points at the window's first judged instant: a window open since the warmup is
    // blamed on the deploy from the deploy's start, not from a warmup probe.
    let start = spans
        .iter()
        .filter(|(phase, s, e)| judge.judges(Some(*phase)) && *e > window.start && *s < end)
        .map(|(_, s, _)| window.start.max(*s))
        .min()
        .unwrap_or(window.start);
    (!judged.is_zero()).then(|| JudgedWindow {
        index,
        start,
        judged,
        first_error: window.first_error.clone(),
        causes: window.causes.keys().copied().collect(),
    })
}

impl Recorder {
    /// What the gates see of each URL. With `now`, a window still open counts up to its last
    /// failed probe (as the live counts beside the gates do), within the phases begun by `now`,
    /// for judging while the run goes on.
    pub fn judged_views(&self, now: Option<Instant>) -> Vec<Judged<'_>> {
        let now = now.map(|now| self.clock.offset(now));
        self.targets
            .iter()
            .map(|t| {
                let j = &t.judged;
                let mut view = Judged {
                    url: &t.url,
                    lane: t.lane.as_str(),
                    label: &t.label,
                    probes: j.probes,
                    failed: j.failed,
                    status_counts: &j.status_counts,
                    first_status: &j.first_status,
                    first_failure: j.first_failure.as_ref(),
                    windows: j.windows.clone(),
                    downtime: j.downtime,
                    longest: j.longest.clone(),
                    window_count: j.window_count,
                    latency: j.latency.as_ref().unwrap_or(&t.latency),
                    timeline: j.timeline.as_ref().unwrap_or(&t.timeline),
                    by_phase: &t.by_phase,
                    phases: self.judge,
                    intent: Intent {
                        sources: t.tracking.sources.iter().map(|s| s.seen()).collect(),
                        deploy_start: self.phases.start_of(Phase::Deploy),
                        cooldown_start: self.phases.start_of(Phase::Cooldown),
                        cooldown_ran: self.phases.cooldown_ran(),
                        warmup_probes: t.by_phase.first().map_or(0, |w| w.probes),
                    },
                    degraded: None,
                };
                if let (Some(now), Some(open)) = (now, t.detector.current()) {
                    let spans = self.phases.spans(now);
                    let index = usize::try_from(t.detector.window_count()).unwrap_or(usize::MAX);
                    if let Some(w) = judged_window(open, open.end.min(now), index, &spans, self.judge) {
                        view.downtime += w.judged;
                        view.window_count += 1;
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
}
