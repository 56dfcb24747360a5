//! The engine's one output: a [`Sample`] per scheduled probe.
//!
//! Every due slot of the schedule yields exactly one sample, including slots that could not be
//! sent (`skipped`), so consumers can count on contiguous sequence numbers per URL.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

/// Why a probe failed when it did not get an acceptable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The host name did not resolve.
    Dns,
    /// The connection was refused: nothing listens on the port.
    Refused,
    /// The connection was not established within the probe's deadline.
    ConnectTimeout,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The connection was reset or closed before the answer was complete.
    Reset,
    /// No complete answer within the probe's deadline.
    Timeout,
    /// The answer's status was expected but its body lacked `--expect-body`.
    BodyMismatch,
    /// The answer was acceptable but slower than `--slow`.
    Slow,
    /// The slot was due while `--concurrency` probes were in flight, so it was not sent.
    Skipped,
    /// Anything else, described by the error text.
    Other,
    /// blip's own trouble, before the probe reached the network: no descriptor left (EMFILE,
    /// ENFILE), no buffer or memory (ENOBUFS, ENOMEM), no local port (EADDRNOTAVAIL). Not the
    /// target's failure: it opens no window, and the run ends with exit code 2.
    Local,
    /// The slot could not be sent in time, or its exchange spanned a stall of blip's own: blip
    /// was stopped or starved (a paused CI runner, a frozen VM). Neither ok nor failed: a gap in
    /// observation.
    Missed,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Dns,
        ErrorKind::Refused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Tls,
        ErrorKind::Reset,
        ErrorKind::Timeout,
        ErrorKind::BodyMismatch,
        ErrorKind::Slow,
        ErrorKind::Skipped,
        ErrorKind::Other,
        ErrorKind::Local,
        ErrorKind::Missed,
    ];

    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Refused => "refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Reset => "reset",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BodyMismatch => "body_mismatch",
            ErrorKind::Slow => "slow",
            ErrorKind::Skipped => "skipped",
            ErrorKind::Other => "other",
            ErrorKind::Local => "local_error",
            ErrorKind::Missed => "missed",
        }
    }

    /// blip's own trouble rather than anything the target did: neither ok nor failed.
    pub fn is_blips_own(self) -> bool {
        matches!(self, ErrorKind::Local | ErrorKind::Missed)
    }

    /// Position in [`ErrorKind::ALL`], for fixed-size counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An acceptable answer with this status code.
    Ok { status: u16 },
    /// An answer whose status is not in `--expect-status`; `router` is set when a router in
    /// front of the app said it gave the answer itself (see [`RouterError`]).
    BadStatus { status: u16, text: String, router: Option<RouterError> },
    /// No acceptable answer, for this reason; `status` is set when an answer came but failed
    /// another check (`body_mismatch`, `slow`).
    Error { kind: ErrorKind, status: Option<u16>, text: String },
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }

    /// A slot blip could not probe for a reason of its own (see [`ErrorKind::is_blips_own`]).
    pub fn blips_own(&self) -> Option<ErrorKind> {
        match self {
            Outcome::Error { kind, .. } if kind.is_blips_own() => Some(*kind),
            _ => None,
        }
    }

    /// The cause of a failure as reports name it: the status code or the error kind.
    pub fn cause(&self) -> Option<Cause> {
        match self {
            Outcome::Ok { .. } => None,
            Outcome::BadStatus { status, router: Some(router), .. } => Some(Cause::Router(*status, *router)),
            Outcome::BadStatus { status, .. } => Some(Cause::Status(*status)),
            Outcome::Error { kind, .. } => Some(Cause::Error(*kind)),
        }
    }

    /// A one-line description of a failure: the cause, then its text.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok { status } => status.to_string(),
            Outcome::BadStatus { text, status, router } if text.is_empty() => {
                router.map_or(status.to_string(), |router| Cause::Router(*status, router).to_string())
            }
            Outcome::BadStatus { text, .. } => text.clone(),
            Outcome::Error { kind, text, .. } if text.is_empty() => kind.to_string(),
            Outcome::Error { kind, text, .. } => format!("{kind}: {text}"),
        }
    }
}

/// A failure cause: a status code, a status code a router answered with itself, or an error
/// kind. Ordered so reports list codes first, each app's before the router's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    Status(u16),
    /// `404 unknown_route (router)`: the router had no app to send the request to.
    Router(u16, RouterError),
    Error(ErrorKind),
}

impl Cause {
    /// The status code of an answer, whoever gave it.
    pub fn status(self) -> Option<u16> {
        match self {
            Cause::Status(code) | Cause::Router(code, _) => Some(code),
            Cause::Error(_) => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Status(code) => write!(f, "{code}"),
            Cause::Router(code, router) => write!(f, "{code} {router} (router)"),
            Cause::Error(kind) => f.write_str(kind.as_str()),
        }
    }
}

/// The header in which Cloud Foundry's gorouter says that it answered a request itself
/// (`unknown_route`, `empty_pool`, `endpoint_failure`) instead of passing on the app's answer.
pub const ROUTER_ERROR_HEADER: &str = "x-cf-routererror";

/// The longest router error kept, in bytes: gorouter's own names are at most 30.
pub const ROUTER_ERROR_MAX: usize = 40;

/// Distinct router error names counted per URL; later ones are counted as `other`, so that a
/// server sending a new name with every answer cannot grow blip's memory or its reports.
pub const ROUTER_ERRORS_KEPT: usize = 64;

/// A router's error name, from a header the server sends and blip does not trust: without
/// control characters and at most [`ROUTER_ERROR_MAX`] bytes (see [`crate::sanitize::token`]).
/// Held inline so a [`Cause`] stays a small `Copy` key for counts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterError {
    len: u8,
    bytes: [u8; ROUTER_ERROR_MAX],
}

impl RouterError {
    /// The clean form of a header's value; `None` when nothing showable is left.
    pub fn new(raw: &[u8]) -> Option<RouterError> {
        let clean = crate::sanitize::token(&String::from_utf8_lossy(raw), ROUTER_ERROR_MAX);
        if clean.is_empty() {
            return None;
        }
        let mut bytes = [0; ROUTER_ERROR_MAX];
        bytes[..clean.len()].copy_from_slice(clean.as_bytes());
        Some(RouterError { len: clean.len() as u8, bytes })
    }

    /// What router errors past the first [`ROUTER_ERRORS_KEPT`] of a URL are counted as.
    pub fn other() -> RouterError {
        RouterError::new(b"other").expect("a showable constant")
    }

    /// The name as reports show it.
    pub fn as_str(&self) -> &str {
        // Built from a `String` cut at a character boundary.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for RouterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RouterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// One scheduled probe of one URL, from its due time to its verdict.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Index of the URL in the order given on the command line.
    pub target: usize,
    /// Slot number in this URL's schedule: 0, 1, 2, … without gaps.
    pub seq: u64,
    /// When the schedule wanted the probe sent.
    pub due: Instant,
    /// When it was actually sent; equal to `due` for a skipped slot.
    pub sent: Instant,
    /// When the verdict was known.
    pub done: Instant,
    pub outcome: Outcome,
    /// The request was sent a second time, on a new connection, because the reused connection it
    /// first went out on closed before any byte of an answer (see `probe`).
    pub resent: bool,
    /// Phase timings, where a failure happened, the peer and tracked values (see
    /// [`crate::engine::detail`]).
    pub detail: crate::engine::detail::ProbeDetail,
}

impl Sample {
    /// Latency measured from the due time, so a late send never hides server slowness.
    pub fn latency(&self) -> std::time::Duration {
        self.done.saturating_duration_since(self.due)
    }

    /// How late blip itself sent the probe.
    pub fn send_lag(&self) -> std::time::Duration {
        self.sent.saturating_duration_since(self.due)
    }
}
