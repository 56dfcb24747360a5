//! What every probe sends and what counts as up: the probe's side of the configuration, which
//! `config` validates and the engine takes as it is.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::engine::lane::Lane;
use crate::engine::status_set::StatusSet;

/// What every probe sends.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub method: reqwest::Method,
    pub headers: HeaderMap,
    /// `--data` or `--data-binary`, as read: bytes, since a file need not be text.
    pub body: Option<bytes::Bytes>,
    pub insecure: bool,
    pub fresh_connections: bool,
    /// `--no-resend` clears it: a request lost to a closing keep-alive connection fails.
    pub resend: bool,
    /// `--request-id`: the header each probe carries its id in, and the id's part shared by
    /// every probe of one target (see [`RequestIds::of_lane`]).
    pub request_id: Option<LaneIds>,
    /// `--track-header`, `--track-body`: values picked from each answer.
    pub track: crate::engine::track::Track,
    /// `--connect-to`, `--resolve`: where connections go, apart from the URL's name.
    pub routes: crate::engine::route::Routes,
}

/// `--request-id`: each probe carries `blip-<run>-<lane>-<slot>` in a header, so a server's logs
/// show which probe a request was, and an outage window names the requests to look for. `slot`
/// is the probe's number in the run's schedule, where the targets take turns, so no two probes of
/// a run share an id, and the id is a function of the target and its probe's number: nothing is
/// kept per probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestIds {
    pub header: HeaderName,
    /// A short random id of the run, also in the report as `run_id`.
    pub run: String,
    /// How many targets (URL and lane pairs) take turns in the schedule.
    pub targets: usize,
}

impl RequestIds {
    /// The id of probe `seq` of `target`, on `lane`.
    pub fn id(&self, lane: Lane, target: usize, seq: u64) -> String {
        format!("blip-{}-{lane}-{}", self.run, slot_number(target, seq, self.targets))
    }

    /// What every probe on `lane` shares of its id.
    pub fn of_lane(&self, lane: Lane) -> LaneIds {
        LaneIds { header: self.header.clone(), prefix: format!("blip-{}-{lane}-", self.run), targets: self.targets }
    }
}

/// The number in the run's schedule of probe `seq` of `target`, when `targets` take turns:
/// slot `k` is probe `k / targets` of target `k % targets` (the scheduler's `Schedule::slot`).
pub fn slot_number(target: usize, seq: u64, targets: usize) -> u64 {
    seq * targets.max(1) as u64 + target as u64
}

/// The request ids of one lane's probes: the header, and the id up to the slot number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneIds {
    pub header: HeaderName,
    pub prefix: String,
    pub targets: usize,
}

impl LaneIds {
    /// The header value of probe `seq` of `target`.
    pub fn value(&self, target: usize, seq: u64) -> HeaderValue {
        let slot = slot_number(target, seq, self.targets);
        // The prefix is the run id (hex) and a lane name: always a valid value.
        HeaderValue::try_from(format!("{}{slot}", self.prefix)).unwrap_or(HeaderValue::from_static("blip"))
    }
}

/// A short random id for a run: eight hex digits from the process's random hash keys, the clock
/// and the process id, so two runs started together still differ.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    format!("{:08x}", hasher.finish() as u32)
}

impl RequestSpec {
    /// Whether a request lost to a reused connection that closed before any byte of an answer
    /// is sent once more on a new one: for idempotent methods, as curl, Go's net/http and
    /// browsers do, unless `--no-resend`.
    pub fn resends(&self) -> bool {
        use reqwest::Method;
        self.resend && [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::DELETE].contains(&self.method)
    }
}

/// What counts as up.
#[derive(Clone, Debug)]
pub struct Expect {
    pub status: StatusSet,
    pub body: Option<String>,
    pub slow: Option<Duration>,
}
