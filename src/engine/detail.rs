//! What a probe saw on the wire beside its verdict: how long each phase of the request took,
//! in which phase a failure happened, whether a connection was opened for it, which peer
//! answered, and the values `--track-header` and `--track-body` picked from the answer.
//!
//! Timing costs an `Instant::now()` at each phase edge and a few relaxed atomic stores into a
//! [`Progress`] that lives on the probe's stack: no allocation per probe. The progress is shared
//! by reference between the exchange and the probe's timeout, so a probe cut short by its
//! deadline still says in which phase it was.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A phase of one request, in the order a request goes through them; `Answer` is where a
/// failure lies when a whole answer came and was judged failed (a status not expected, a body
/// without `--expect-body`, slower than `--slow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub enum RequestPhase {
    /// Resolving the host name (absent for an IP address).
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (https only).
    Tls,
    /// From the request handed to the connection to the answer's status line and headers.
    Ttfb,
    /// From the answer's headers to the end of its body.
    Transfer,
    /// The whole answer came; it was judged failed.
    Answer,
}

impl RequestPhase {
    /// The phases that are timed, in order.
    pub const TIMED: [RequestPhase; 5] =
        [RequestPhase::Dns, RequestPhase::Connect, RequestPhase::Tls, RequestPhase::Ttfb, RequestPhase::Transfer];
    /// Every place a failure can lie, in order.
    pub const ALL: [RequestPhase; 6] = [
        RequestPhase::Dns,
        RequestPhase::Connect,
        RequestPhase::Tls,
        RequestPhase::Ttfb,
        RequestPhase::Transfer,
        RequestPhase::Answer,
    ];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestPhase::Dns => "dns",
            RequestPhase::Connect => "connect",
            RequestPhase::Tls => "tls",
            RequestPhase::Ttfb => "ttfb",
            RequestPhase::Transfer => "transfer",
            RequestPhase::Answer => "answer",
        }
    }

    /// Position in [`RequestPhase::ALL`] (and in [`RequestPhase::TIMED`] for timed phases).
    pub fn index(self) -> usize {
        self as usize
    }

    fn from_index(index: u8) -> Option<RequestPhase> {
        RequestPhase::ALL.get(usize::from(index)).copied()
    }
}

impl std::fmt::Display for RequestPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire-level detail of one probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeDetail {
    /// How long each timed phase took, in [`RequestPhase::TIMED`] order; `None` for a phase the
    /// probe skipped (a reused connection has no dns, connect or tls) or never finished.
    pub phases: [Option<Duration>; 5],
    /// Where the probe failed; `None` for a success and for a slot never sent.
    pub failed_in: Option<RequestPhase>,
    /// A connection was opened for this probe.
    pub opened: bool,
    /// The address that answered; `None` when no answer came.
    pub peer: Option<SocketAddr>,
    /// One entry per tracked header, then one for `--track-body`: the value the answer carried.
    /// Empty when nothing is tracked.
    pub tracked: Vec<Option<String>>,
    /// The addresses the URL's name resolved to for this probe, sorted, when they differ from
    /// the answer its client had before (the first answer too); `None` when no lookup was made
    /// or it gave the same answer.
    pub resolved: Option<Arc<[IpAddr]>>,
}

/// Marks for "no phase yet" and "no time".
const NONE: u8 = u8::MAX;
const ABSENT: u64 = u64::MAX;

/// A probe's progress through the phases, written by the exchange and read when the probe ends,
/// however it ends.
pub struct Progress {
    current: AtomicU8,
    took_ns: [AtomicU64; 5],
    opened: AtomicBool,
    resolved: OnceLock<Arc<[IpAddr]>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            current: AtomicU8::new(NONE),
            took_ns: std::array::from_fn(|_| AtomicU64::new(ABSENT)),
            opened: AtomicBool::new(false),
            resolved: OnceLock::new(),
        }
    }
}

impl Progress {
    /// The probe is now in `phase`.
    pub fn enter(&self, phase: RequestPhase) {
        self.current.store(phase as u8, Ordering::Relaxed);
    }

    /// `phase` finished after `took`. A resend times the phases of its own attempt.
    pub fn took(&self, phase: RequestPhase, took: Duration) {
        if let Some(slot) = self.took_ns.get(phase.index()) {
            slot.store(u64::try_from(took.as_nanos()).unwrap_or(ABSENT - 1), Ordering::Relaxed);
        }
    }

    /// A connection was opened for this probe.
    pub fn opened(&self) {
        self.opened.store(true, Ordering::Relaxed);
    }

    /// The name resolved to `addrs`, an answer unlike the one before (see
    /// [`ProbeDetail::resolved`]). A resend's second lookup does not replace the first.
    pub fn resolved(&self, addrs: Arc<[IpAddr]>) {
        let _ = self.resolved.set(addrs);
    }

    /// The phase the probe is in (or ended in).
    pub fn current(&self) -> Option<RequestPhase> {
        RequestPhase::from_index(self.current.load(Ordering::Relaxed))
    }

    /// The detail so far: the phases timed and whether a connection was opened.
    pub fn detail(&self) -> ProbeDetail {
        let phases = std::array::from_fn(|i| {
            let ns = self.took_ns[i].load(Ordering::Relaxed);
            (ns != ABSENT).then(|| Duration::from_nanos(ns))
        });
        ProbeDetail {
            phases,
            opened: self.opened.load(Ordering::Relaxed),
            resolved: self.resolved.get().cloned(),
            ..ProbeDetail::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_not_reached_is_absent_not_zero() {
        let p = Progress::default();
        assert_eq!(p.current(), None);
        p.enter(RequestPhase::Ttfb);
        p.took(RequestPhase::Ttfb, Duration::from_millis(3));
        p.enter(RequestPhase::Transfer);
        let d = p.detail();
        assert_eq!(p.current(), Some(RequestPhase::Transfer));
        assert_eq!(d.phases[RequestPhase::Ttfb.index()], Some(Duration::from_millis(3)));
        assert_eq!(d.phases[RequestPhase::Connect.index()], None);
        assert_eq!(d.phases[RequestPhase::Transfer.index()], None);
        assert!(!d.opened);
    }
}
