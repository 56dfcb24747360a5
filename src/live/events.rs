//! The NDJSON event log (`--events`): one JSON object per line, written and flushed as things
//! happen, so `tail -f` follows the run and a crash keeps everything up to it.
//!
//! Events: `run_start`, `phase`, `down`, `up`, `still_down` (the run ended during an outage, so
//! no `up` follows), `second` (per URL, probes and failures that reported in the last second),
//! `probe` (with `--events-probes`), `gate`, `run_end`. The application opens the destination
//! and hands over a writer.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::analysis::clock::{RunClock, rfc3339_ms};
use crate::analysis::outage::Transition;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Event;
use crate::analysis::snapshot::TargetSnapshot;
use crate::engine::lane::Lane;
use crate::engine::request::RequestIds;
use crate::engine::sample::{Outcome, Sample};
use crate::report::{HookReport, Report};
use crate::units::millis;

pub struct EventLog {
    out: Box<dyn Write + Send>,
    name: String,
    probes: bool,
    urls: Vec<String>,
    /// Each target's lane, beside its URL in every event that names a target.
    lanes: Vec<Lane>,
    /// `--request-id`: probe events and windows carry their requests' ids.
    request_ids: Option<RequestIds>,
    clock: RunClock,
    /// Cumulative (probes, failed) per URL at the last `second` event.
    reported: Vec<(u64, u64)>,
    next_second: u64,
    /// The first write error; nothing more is written after one, and the run ends with exit 2.
    error: Option<String>,
}

impl EventLog {
    /// An event log written to `out`, called `name` in error messages. The application opens
    /// the destination.
    pub fn new(out: Box<dyn Write + Send>, name: String, probes: bool, urls: &[String], clock: RunClock) -> EventLog {
        EventLog {
            out,
            name,
            probes,
            urls: urls.to_vec(),
            lanes: vec![Lane::Reused; urls.len()],
            request_ids: None,
            clock,
            reported: vec![(0, 0); urls.len()],
            next_second: 1,
            error: None,
        }
    }

    /// The lane of each target, in the order of the URLs given to [`EventLog::new`] (each on
    /// the reused lane without it).
    pub fn with_lanes(mut self, lanes: Vec<Lane>) -> EventLog {
        self.lanes = lanes;
        self
    }

    /// With `--request-id`: probe events carry each probe's id, `down` the id of the window's
    /// first failed probe, `up` and `still_down` those of its first and last.
    pub fn with_request_ids(mut self, ids: Option<RequestIds>) -> EventLog {
        self.request_ids = ids;
        self
    }

    fn connection(&self, target: usize) -> &'static str {
        self.lanes.get(target).copied().unwrap_or_default().as_str()
    }

    /// The request id of probe `seq` of `target`, with `--request-id`.
    fn request_id(&self, target: usize, seq: u64) -> Option<String> {
        let lane = self.lanes.get(target).copied().unwrap_or_default();
        self.request_ids.as_ref().map(|ids| ids.id(lane, target, seq))
    }

    fn emit(&mut self, value: Value) {
        if self.error.is_some() {
            return;
        }
        // One write per line: a reader never sees half an event, and the line is on its way
        // before the next event is produced (a file has no buffer in between; stdout's writer
        // passes each complete line on).
        let mut line = value.to_string();
        line.push('\n');
        if let Err(err) = self.out.write_all(line.as_bytes()) {
            say!("blip: cannot write --events {}: {err}; no further events are written", self.name);
            self.error = Some(err.to_string());
        }
    }

    fn url(&self, target: usize) -> &str {
        self.urls.get(target).map_or("", String::as_str)
    }

    pub fn run_start(&mut self, rate: f64, command: Option<&[String]>, vantage: &str) {
        let value = json!({
            "event": "run_start",
            "at": rfc3339_ms(self.clock.started_at),
            "vantage": vantage,
            "urls": self.urls,
            "connections": self.lanes,
            "rate": rate,
            "command": command,
        });
        self.emit(value);
    }

    pub fn phase(&mut self, phase: Phase, offset: Duration) {
        let value = json!({
            "event": "phase",
            "phase": phase,
            "at": rfc3339_ms(self.clock.wall(offset)),
            "offset_ms": millis(offset),
        });
        self.emit(value);
    }

    pub fn transition(&mut self, event: &Event) {
        let url = self.url(event.target).to_string();
        let connection = self.connection(event.target);
        let mut value = match &event.transition {
            Transition::Down { start, cause, first_error, .. } => json!({
                "event": "down",
                "url": url,
                "connection": connection,
                "at": rfc3339_ms(self.clock.wall(*start)),
                "offset_ms": millis(*start),
                "cause": cause.to_string(),
                "error": first_error,
            }),
            // A window the run ended in never came up: its end is the end of the run.
            Transition::Up(w) => json!({
                "event": if w.open { "still_down" } else { "up" },
                "url": url,
                "connection": connection,
                "at": rfc3339_ms(self.clock.wall(w.end)),
                "offset_ms": millis(w.end),
                "down_since_offset_ms": millis(w.start),
                "duration_ms": millis(w.duration()),
                "failed_probes": w.failed_probes,
            }),
        };
        let ids = match &event.transition {
            Transition::Down { first_seq, .. } => vec![("request_id", *first_seq)],
            Transition::Up(w) => vec![("first_request_id", w.first_seq), ("last_request_id", w.last_seq)],
        };
        for (field, seq) in ids {
            if let Some(id) = self.request_id(event.target, seq)
                && let Some(object) = value.as_object_mut()
            {
                object.insert(field.into(), id.into());
            }
        }
        self.emit(value);
    }

    /// A `--on-down` or `--on-up` hook ended.
    pub fn hook(&mut self, run: &HookReport) {
        let value = json!({
            "event": "hook",
            "hook": run.hook,
            "url": run.url,
            "connection": run.connection,
            "offset_ms": run.start_offset_ms,
            "duration_ms": run.duration_ms,
            "exit_code": run.exit_code,
            "signal": run.signal,
            "error": run.error,
        });
        self.emit(value);
    }

    /// Emits a `second` event per URL for each whole second that passed since the last one.
    pub fn tick(&mut self, elapsed: Duration, snapshot: &[TargetSnapshot]) {
        while elapsed.as_secs() >= self.next_second {
            for (i, t) in snapshot.iter().enumerate() {
                let (probes, failed) = self.reported.get(i).copied().unwrap_or_default();
                let value = json!({
                    "event": "second",
                    "url": self.url(i),
                    "connection": self.connection(i),
                    "offset_s": self.next_second,
                    "probes": t.probes - probes,
                    "failed": t.failed - failed,
                    "down": t.down_since.is_some(),
                });
                self.emit(value);
                if let Some(slot) = self.reported.get_mut(i) {
                    *slot = (t.probes, t.failed);
                }
            }
            self.next_second += 1;
        }
    }

    pub fn probe(&mut self, sample: &Sample) {
        if !self.probes {
            return;
        }
        let (status, kind, error, router) = match &sample.outcome {
            Outcome::Ok { status } => (Some(*status), None, None, None),
            Outcome::BadStatus { status, text, router } => {
                (Some(*status), None, Some(text.as_str()), router.map(|r| r.to_string()))
            }
            Outcome::Error { kind, status, text } => (*status, Some(kind.as_str()), Some(text.as_str()), None),
        };
        let mut value = json!({
            "event": "probe",
            "url": self.url(sample.target),
            "connection": self.connection(sample.target),
            "seq": sample.seq,
            "due_offset_ms": millis(self.clock.offset(sample.due)),
            "ok": sample.outcome.is_ok(),
            "status": status,
            "error_kind": kind,
            "error": error,
            "router_error": router,
            "latency_ms": millis(sample.latency()),
            "send_lag_ms": millis(sample.send_lag()),
            "resent": sample.resent,
        });
        if let Some(id) = self.request_id(sample.target, sample.seq)
            && let Some(object) = value.as_object_mut()
        {
            object.insert("request_id".into(), id.into());
        }
        self.emit(value);
    }

    /// Gate verdicts, then `run_end`. An error if any event could not be written.
    pub fn finish(&mut self, report: &Report, exit_code: u8) -> anyhow::Result<()> {
        // The last events wait for room rather than be dropped with a slow reader's backlog.
        self.flush();
        for t in &report.targets {
            for g in &t.gates {
                let value = json!({
                    "event": "gate",
                    "url": t.url,
                    "connection": t.connection,
                    "gate": g.gate,
                    "default": g.default,
                    "limit": g.limit,
                    "observed": g.observed,
                    "passed": g.passed,
                    "evidence": g.evidence,
                });
                self.emit(value);
            }
        }
        let value = json!({
            "event": "run_end",
            "duration_ms": report.duration_ms,
            "passed": report.passed,
            "exit_code": exit_code,
            "targets": report.targets.iter().map(|t| json!({
                "url": t.url,
                "connection": t.connection,
                "probes": t.probes,
                "failed": t.failed,
                "resent": t.resent,
                "local_errors": t.local_errors,
                "missed": t.missed,
                "downtime_ms": t.downtime_ms,
                "availability": t.availability,
                "outages": t.outage_count,
            })).collect::<Vec<_>>(),
        });
        self.emit(value);
        self.flush();
        match &self.error {
            Some(err) => Err(anyhow::anyhow!("cannot write --events {}: {err}", self.name)),
            None => Ok(()),
        }
    }

    /// Whether an event could not be written, so the run ends with exit 2.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn flush(&mut self) {
        if let Err(err) = self.out.flush()
            && self.error.is_none()
        {
            self.error = Some(err.to_string());
        }
    }
}
