//! What every probe sends and what counts as up: the probe's side of the configuration, which
//! `config` validates and the engine takes as it is.

use std::time::Duration;

use reqwest::header::HeaderMap;

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
    /// `--track-header`, `--track-body`: values picked from each answer.
    pub track: crate::engine::track::Track,
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
