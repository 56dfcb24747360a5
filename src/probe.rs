//! One probe: one request, one [`Sample`].
//!
//! Everything that can go wrong on the wire ends as a classified outcome, never as an error of
//! blip's: a refused connection, a server that accepts and never answers, a body that never
//! ends, a connection closed halfway. Bodies are drained to their end within the deadline so
//! keep-alive connections stay usable, but only the first [`BODY_KEEP`] bytes are kept.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Client, Url};

use crate::config::{Config, Expect, RequestSpec};
use crate::sample::{ErrorKind, Outcome, Sample};

/// Bytes of each body kept for `--expect-body` and error texts.
pub const BODY_KEEP: usize = 64 * 1024;
/// Longest error text kept from a body line.
const TEXT_MAX: usize = 160;

/// Probes one URL. Cheap to share: the HTTP client and its connection pool are reference counted.
#[derive(Clone)]
pub struct Prober {
    client: Client,
    url: Url,
    request: Arc<RequestSpec>,
    expect: Arc<Expect>,
    timeout: Duration,
}

/// The first part of an answer, as far as a verdict needs it.
struct Answer {
    status: reqwest::StatusCode,
    head: Vec<u8>,
}

impl Prober {
    /// Builds one prober per URL of `config`, sharing one client.
    pub fn for_config(config: &Config) -> anyhow::Result<Vec<Prober>> {
        let client = build_client(config)?;
        let request = Arc::new(config.request.clone());
        let expect = Arc::new(config.expect.clone());
        Ok(config
            .urls
            .iter()
            .map(|url| Prober {
                client: client.clone(),
                url: url.clone(),
                request: request.clone(),
                expect: expect.clone(),
                timeout: config.timeout,
            })
            .collect())
    }

    /// Sends the probe of slot `seq`, due at `due`, and judges the answer.
    pub async fn probe(&self, target: usize, seq: u64, due: Instant) -> Sample {
        let sent = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.exchange()).await;
        let done = Instant::now();
        let outcome = match result {
            Err(_) => Outcome::Error {
                kind: ErrorKind::Timeout,
                status: None,
                text: format!("no complete answer within {}", humantime::format_duration(self.timeout)),
            },
            Ok(Err(err)) => {
                let (kind, text) = classify(&err);
                Outcome::Error { kind, status: None, text }
            }
            Ok(Ok(answer)) => judge(&self.expect, answer.status, &answer.head, done.saturating_duration_since(due)),
        };
        Sample { target, seq, due, sent, done, outcome }
    }

    async fn exchange(&self) -> Result<Answer, reqwest::Error> {
        let mut request = self.client.request(self.request.method.clone(), self.url.clone());
        request = request.headers(self.request.headers.clone());
        if let Some(body) = &self.request.body {
            request = request.body(body.clone());
        }
        let mut response = request.send().await?;
        let status = response.status();
        let mut head = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = BODY_KEEP.saturating_sub(head.len());
            head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(Answer { status, head })
    }
}

fn build_client(config: &Config) -> anyhow::Result<Client> {
    use anyhow::Context as _;
    let mut builder = Client::builder()
        .user_agent(concat!("blip/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.timeout)
        .tcp_nodelay(true)
        .tls_danger_accept_invalid_certs(config.request.insecure);
    if config.request.fresh_connections {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build().context("cannot set up the HTTP client")
}

/// The verdict on an answer that arrived: status first, then body, then speed.
pub fn judge(expect: &Expect, status: reqwest::StatusCode, head: &[u8], latency: Duration) -> Outcome {
    let code = status.as_u16();
    if !expect.status.contains(code) {
        return Outcome::BadStatus { status: code, text: status_text(status, head) };
    }
    if let Some(needle) = &expect.body
        && !contains(head, needle.as_bytes())
    {
        return Outcome::Error {
            kind: ErrorKind::BodyMismatch,
            status: Some(code),
            text: format!("{code} without `{needle}` in the body"),
        };
    }
    if let Some(slow) = expect.slow
        && latency > slow
    {
        return Outcome::Error {
            kind: ErrorKind::Slow,
            status: Some(code),
            text: format!(
                "{code} after {:.1} ms (--slow {})",
                latency.as_secs_f64() * 1e3,
                humantime::format_duration(slow)
            ),
        };
    }
    Outcome::Ok { status: code }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A failed status as people recognise it: the body's first line when it is text that speaks
/// for itself (`404 Not Found: Requested route ('notes') does not exist.`), else the status line.
pub fn status_text(status: reqwest::StatusCode, head: &[u8]) -> String {
    let code = status.as_u16();
    let status_line = match status.canonical_reason() {
        Some(reason) => format!("{code} {reason}"),
        None => code.to_string(),
    };
    let text = String::from_utf8_lossy(head);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let line = truncate(line, TEXT_MAX);
    if line.is_empty() || line.starts_with('<') || line.starts_with('{') {
        status_line
    } else if line.starts_with(&code.to_string()) {
        line
    } else {
        format!("{status_line}: {line}")
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

/// Names a transport failure by what it means for availability, and keeps its causes as text.
pub fn classify(err: &reqwest::Error) -> (ErrorKind, String) {
    let mut chain = Vec::new();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !chain.iter().any(|c: &String| c.contains(&text)) {
            chain.push(text);
        }
        source = e.source();
    }
    let text = if chain.is_empty() { err.to_string() } else { chain.join(": ") };
    (kind_of(err), text)
}

fn kind_of(err: &reqwest::Error) -> ErrorKind {
    if err.is_dns() {
        return ErrorKind::Dns;
    }
    let connect = err.is_connect();
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(kind) = kind_of_cause(e, connect) {
            return kind;
        }
        source = e.source();
    }
    if err.is_timeout() {
        return if connect { ErrorKind::ConnectTimeout } else { ErrorKind::Timeout };
    }
    ErrorKind::Other
}

/// The kind one cause in the chain stands for, if it is telling. An `io::Error` may wrap
/// another error (often another `io::Error`) that its `source()` skips, so those are unwrapped
/// here through `get_ref`.
fn kind_of_cause(e: &(dyn std::error::Error + 'static), connect: bool) -> Option<ErrorKind> {
    use std::io::ErrorKind as Io;
    if e.is::<rustls::Error>() {
        return Some(ErrorKind::Tls);
    }
    if let Some(h) = e.downcast_ref::<hyper::Error>()
        && (h.is_incomplete_message() || h.is_closed() || h.is_canceled())
    {
        return Some(ErrorKind::Reset);
    }
    let io = e.downcast_ref::<std::io::Error>()?;
    if let Some(inner) = io.get_ref()
        && let Some(kind) = kind_of_cause(inner, connect)
    {
        return Some(kind);
    }
    match io.kind() {
        Io::ConnectionRefused => Some(ErrorKind::Refused),
        Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => Some(ErrorKind::Reset),
        Io::InvalidData if connect => Some(ErrorKind::Tls),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn expect(status: &str, body: Option<&str>, slow: Option<u64>) -> Expect {
        Expect { status: status.parse().unwrap(), body: body.map(String::from), slow: slow.map(Duration::from_millis) }
    }

    #[test]
    fn status_then_body_then_speed() {
        let e = expect("2xx", Some("notes"), Some(100));
        let fast = Duration::from_millis(5);
        assert_eq!(judge(&e, StatusCode::OK, b"[notes]", fast), Outcome::Ok { status: 200 });
        let Outcome::BadStatus { status: 404, text } = judge(&e, StatusCode::NOT_FOUND, b"nope", fast) else {
            panic!()
        };
        assert_eq!(text, "404 Not Found: nope");
        assert!(matches!(
            judge(&e, StatusCode::OK, b"[]", fast),
            Outcome::Error { kind: ErrorKind::BodyMismatch, status: Some(200), .. }
        ));
        assert!(matches!(
            judge(&e, StatusCode::OK, b"notes", Duration::from_millis(150)),
            Outcome::Error { kind: ErrorKind::Slow, status: Some(200), .. }
        ));
    }

    #[test]
    fn failed_status_texts() {
        let cf = b"404 Not Found: Requested route ('notes.demo') does not exist.\n";
        assert_eq!(
            status_text(StatusCode::NOT_FOUND, cf),
            "404 Not Found: Requested route ('notes.demo') does not exist."
        );
        assert_eq!(status_text(StatusCode::BAD_GATEWAY, b"<html><body>bad</body></html>"), "502 Bad Gateway");
        assert_eq!(status_text(StatusCode::SERVICE_UNAVAILABLE, b""), "503 Service Unavailable");
        assert_eq!(
            status_text(StatusCode::SERVICE_UNAVAILABLE, b"\n  draining\n"),
            "503 Service Unavailable: draining"
        );
        let long = "x".repeat(500);
        assert!(status_text(StatusCode::NOT_FOUND, long.as_bytes()).chars().count() < 200);
    }
}
