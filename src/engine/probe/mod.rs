//! One probe: one request, one [`Sample`].
//!
//! Everything that can go wrong on the wire ends as a classified outcome, never as an error of
//! blip's: a refused connection, a server that accepts and never answers, a body that never
//! ends, a connection closed halfway. Bodies are drained to their end within the deadline so
//! keep-alive connections stay usable, but only the first [`BODY_KEEP`] bytes are kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, Url};

use reqwest::header::{HeaderName, HeaderValue};

use crate::engine::detail::{Progress, RequestPhase};
use crate::engine::request::{Expect, LaneIds, RequestSpec};
use crate::engine::sample::{Cause, ErrorKind, Outcome, ROUTER_ERROR_HEADER, RouterError, Sample};
use crate::engine::track::Track;

/// Bytes of each body kept for `--expect-body` and error texts.
pub const BODY_KEEP: usize = 64 * 1024;
/// Longest error text kept from a body line.
const TEXT_MAX: usize = 160;

mod direct;
mod reqwest_path;
mod stream;
mod tls;

/// Probes one URL. Cheap to share: the HTTP client and its connection pool are reference counted.
#[derive(Clone)]
pub struct Prober {
    transport: Transport,
    expect: Arc<Expect>,
    timeout: Duration,
    /// `--request-id`: the header and the part of the id every probe of this target shares.
    request_id: Option<Arc<LaneIds>>,
    track: Arc<Track>,
}

/// A probe's request id: the header, and its value.
type RequestId<'a> = Option<(&'a HeaderName, &'a HeaderValue)>;

/// How a URL's requests travel.
#[derive(Clone)]
enum Transport {
    /// `http://` and `https://` with no proxy: hyper's HTTP/1.1 connections (through rustls for
    /// https) and blip's own pool, with the request built once.
    Direct(Arc<direct::Client>),
    /// A proxy from the environment: reqwest, with its proxy rules.
    Reqwest { client: Client, url: Url, request: Arc<RequestSpec>, proxy: Option<Arc<str>> },
}

/// The first part of an answer, as far as a verdict needs it, and when it was complete.
struct Answer {
    status: reqwest::StatusCode,
    head: Vec<u8>,
    done: Instant,
    /// The router's error name, when a router said it answered itself.
    router: Option<RouterError>,
    /// The answer's headers, for `--track-header`.
    headers: reqwest::header::HeaderMap,
    /// The address that answered, when the transport knows it.
    peer: Option<std::net::SocketAddr>,
}

/// A probe that got no answer: why, by kind, and the causes as text.
struct NoAnswer {
    kind: ErrorKind,
    text: String,
}

impl Prober {
    /// Builds one prober per URL, each sending `spec`, judging by `expect` and waiting up to
    /// `timeout`. The URLs that go through reqwest share one client, and the https URLs one TLS
    /// configuration, each built only if needed (both load the system's root certificates, a few
    /// milliseconds).
    pub fn for_urls(
        urls: &[Url],
        spec: &RequestSpec,
        expect: &Expect,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Prober>> {
        use anyhow::Context as _;
        let request = Arc::new(spec.clone());
        let expect = Arc::new(expect.clone());
        let track = Arc::new(spec.track.clone());
        let mut client = None;
        let mut tls = None;
        let request_id = spec.request_id.clone().map(Arc::new);
        let mut probers = Vec::with_capacity(urls.len());
        for url in urls {
            // A URL that `--resolve` or `--connect-to` routes goes where they say, not through
            // a proxy from the environment.
            let routed = spec.routes.taken_by(url).any();
            let transport = if direct::suits(url) && (routed || reqwest_path::proxy_for(url).is_none()) {
                let tls = match url.scheme() {
                    "https" => Some(match &tls {
                        Some(tls) => Arc::clone(tls),
                        None => tls.insert(tls::tls_config(spec.insecure)?).clone(),
                    }),
                    _ => None,
                };
                let shown = crate::sanitize::url(url);
                Transport::Direct(Arc::new(
                    direct::Client::new(url, spec, tls)
                        .with_context(|| format!("cannot build the request for {shown}"))?,
                ))
            } else {
                let client = match &client {
                    Some(client) => Client::clone(client),
                    None => client.insert(reqwest_path::build_client(spec, timeout)?).clone(),
                };
                let proxy = reqwest_path::proxy_for(url).map(Arc::from);
                Transport::Reqwest { client, url: url.clone(), request: request.clone(), proxy }
            };
            probers.push(Prober {
                transport,
                expect: expect.clone(),
                timeout,
                request_id: request_id.clone(),
                track: track.clone(),
            });
        }
        Ok(probers)
    }

    /// Whether an answer with `status` needs the start of its body: `--expect-body` and
    /// `--track-body` search it, and a failed status's text quotes its first line.
    fn keeps_body(&self, status: reqwest::StatusCode) -> bool {
        self.expect.body.is_some() || self.track.body.is_some() || !self.expect.status.contains(status.as_u16())
    }

    /// Sends the probe of slot `seq`, due at `due`, and judges the answer.
    pub async fn probe(&self, target: usize, seq: u64, due: Instant) -> Sample {
        let sent = Instant::now();
        // The deadline counts from the due time, as the latency does: an answer later than
        // `--timeout` after its slot is a timeout, however late blip sent it.
        let deadline = due + self.timeout;
        // Outlives the exchange, which a timeout may cut short after a resend.
        let resent = AtomicBool::new(false);
        let id_value = self.request_id.as_ref().map(|ids| ids.value(target, seq));
        let id = self.request_id.as_ref().map(|ids| &ids.header).zip(id_value.as_ref());
        let progress = Progress::default();
        let exchange = async {
            match &self.transport {
                Transport::Direct(client) => {
                    client
                        .exchange(deadline, self.timeout, &resent, id, &progress, |status| self.keeps_body(status))
                        .await
                }
                Transport::Reqwest { client, url, request, proxy } => {
                    reqwest_path::exchange_resending(client, url, request, &resent, id, &progress).await.map_err(
                        |failure| match proxy {
                            Some(proxy) => failure.through(proxy),
                            None => failure,
                        },
                    )
                }
            }
        };
        let answered = tokio::time::timeout_at(deadline.into(), exchange).await;
        let mut detail = progress.detail();
        // Woken long past the deadline, blip was stopped or starved meanwhile: it cannot tell
        // when the answer came, or whether it would have. The slot is missed, not the target's.
        let woke_late = Instant::now().saturating_duration_since(deadline);
        if woke_late > PAUSED_PAST_DEADLINE {
            let text = format!(
                "blip could not run for {} past this probe's deadline (stopped or starved)",
                crate::units::secs(woke_late)
            );
            return missed(target, seq, due, sent, text);
        }
        let (outcome, done) = match answered {
            Err(_) => {
                detail.failed_in = progress.current();
                let text = format!("no complete answer within {}", humantime::format_duration(self.timeout));
                (Outcome::Error { kind: ErrorKind::Timeout, status: None, text }, Instant::now())
            }
            Ok(Err(NoAnswer { kind, text })) => {
                // The kind says where a connection failed even where the transport does not time
                // its phases (reqwest); otherwise the phase the probe was in failed.
                detail.failed_in = match kind {
                    ErrorKind::Dns => Some(RequestPhase::Dns),
                    ErrorKind::Refused | ErrorKind::ConnectTimeout => Some(RequestPhase::Connect),
                    ErrorKind::Tls => Some(RequestPhase::Tls),
                    _ => progress.current(),
                };
                (Outcome::Error { kind, status: None, text }, Instant::now())
            }
            // An answer complete after the deadline is as late as none: every ok probe's latency
            // is at most --timeout.
            Ok(Ok(answer)) if answer.done > deadline => {
                detail.failed_in = progress.current().or(Some(RequestPhase::Transfer));
                let text = format!("no complete answer within {}", humantime::format_duration(self.timeout));
                (Outcome::Error { kind: ErrorKind::Timeout, status: None, text }, answer.done)
            }
            Ok(Ok(answer)) => {
                let outcome = routed(
                    judge(&self.expect, answer.status, &answer.head, answer.done.saturating_duration_since(due)),
                    answer.router,
                );
                detail.failed_in = (!outcome.is_ok()).then_some(RequestPhase::Answer);
                detail.peer = answer.peer;
                detail.tracked = self.track.extract(&answer.headers, &answer.head);
                (outcome, answer.done)
            }
        };
        // Stopped for a while with the exchange in flight, blip read an answer that may have
        // waited in the socket: its timing, or its timeout, is blip's pause.
        if let Some(watch) = crate::engine::stall::watch()
            && let Some(stall) = watch.within(sent, done).await
        {
            let text = format!(
                "blip could not run for {} while this probe was in flight (stopped or starved)",
                crate::units::secs(stall)
            );
            return missed(target, seq, due, sent, text);
        }
        Sample { target, seq, due, sent, done, outcome, resent: resent.load(Ordering::Relaxed), detail }
    }
}

/// The sample of a probe whose outcome blip's own stall hid: neither ok nor failed.
fn missed(target: usize, seq: u64, due: Instant, sent: Instant, text: String) -> Sample {
    let outcome = Outcome::Error { kind: ErrorKind::Missed, status: None, text };
    Sample { target, seq, due, sent, done: due, outcome, resent: false, detail: Default::default() }
}

/// How late past a probe's deadline blip may wake before it counts the probe as missed: well
/// above a busy machine's timer lateness (a few ms), well below a stopped process's.
const PAUSED_PAST_DEADLINE: Duration = Duration::from_millis(250);

/// Adds what fits of `chunk` to the first [`BODY_KEEP`] bytes of a body kept in `head`.
fn keep_head(head: &mut Vec<u8>, chunk: &[u8]) {
    let room = BODY_KEEP.saturating_sub(head.len());
    head.extend_from_slice(&chunk[..chunk.len().min(room)]);
}

/// The verdict on an answer that arrived: status first, then body, then speed.
pub fn judge(expect: &Expect, status: reqwest::StatusCode, head: &[u8], latency: Duration) -> Outcome {
    let code = status.as_u16();
    if !expect.status.contains(code) {
        return Outcome::BadStatus { status: code, text: status_text(status, head), router: None };
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

/// The router's error name in an answer's headers (see [`ROUTER_ERROR_HEADER`]).
fn router_error(headers: &reqwest::header::HeaderMap) -> Option<RouterError> {
    headers.get(ROUTER_ERROR_HEADER).and_then(|value| RouterError::new(value.as_bytes()))
}

/// A failed status that a router gave itself: its cause names the router's error, and so does
/// its text, before the body's first line (`404 unknown_route (router): Requested route ('notes')
/// does not exist.`). An acceptable answer stays acceptable whoever gave it.
fn routed(outcome: Outcome, router: Option<RouterError>) -> Outcome {
    match (outcome, router) {
        (Outcome::BadStatus { status, text, .. }, Some(router)) => {
            let cause = Cause::Router(status, router);
            let text = match text.split_once(": ") {
                Some((_, line)) => format!("{cause}: {line}"),
                None => cause.to_string(),
            };
            Outcome::BadStatus { status, text, router: Some(router) }
        }
        (outcome, _) => outcome,
    }
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
    // The server's text is shown on terminals and in reports: no control character passes.
    let line = text.lines().map(crate::sanitize::line).find(|l| !l.trim().is_empty()).unwrap_or_default();
    let line = truncate(line.trim(), TEXT_MAX);
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

/// An error and its causes, one after the other, each said once.
fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        next = e.source();
    }
    // Error texts can quote what a server sent (a certificate's names, a malformed header).
    crate::sanitize::line(&chain.join(": "))
}

/// Whether a hyper error means the connection went away (EOF, reset, closed) before the answer
/// was complete.
fn closed_before_answer(err: &hyper::Error) -> bool {
    kind_in_chain(err, false) == Some(ErrorKind::Reset)
}

/// The kind the first telling cause in an error's chain stands for. `connect` says whether the
/// error came while connecting, where malformed data means a TLS handshake gone wrong.
fn kind_in_chain(err: &(dyn std::error::Error + 'static), connect: bool) -> Option<ErrorKind> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(kind) = kind_of_cause(e, connect) {
            return Some(kind);
        }
        next = e.source();
    }
    None
}

/// Errors of blip's own machine, not of the target: out of descriptors, buffers, memory or
/// local ports. A probe that meets one never reached the network.
#[cfg(unix)]
fn is_local_errno(errno: i32) -> bool {
    use nix::errno::Errno;
    [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM, Errno::EADDRNOTAVAIL]
        .iter()
        .any(|e| *e as i32 == errno)
}

/// Windows sockets' own numbers for the same errors: WSAEMFILE, WSAENOBUFS, WSAEADDRNOTAVAIL,
/// and ERROR_NOT_ENOUGH_MEMORY.
#[cfg(windows)]
fn is_local_errno(errno: i32) -> bool {
    [10024, 10055, 10049, 8].contains(&errno)
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
    if io.raw_os_error().is_some_and(is_local_errno) {
        return Some(ErrorKind::Local);
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
        let Outcome::BadStatus { status: 404, text, .. } = judge(&e, StatusCode::NOT_FOUND, b"nope", fast) else {
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
    fn a_routers_own_answer_names_the_router_error() {
        let e = expect("2xx", None, None);
        let fast = Duration::from_millis(5);
        let headers = |value: &[u8]| {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("X-Cf-Routererror", reqwest::header::HeaderValue::from_bytes(value).unwrap());
            h
        };
        let cf = b"404 Not Found: Requested route ('notes.demo') does not exist.\n";
        let router = router_error(&headers(b"unknown_route"));
        let outcome = routed(judge(&e, StatusCode::NOT_FOUND, cf, fast), router);
        assert_eq!(outcome.cause().unwrap().to_string(), "404 unknown_route (router)");
        assert_eq!(outcome.describe(), "404 unknown_route (router): Requested route ('notes.demo') does not exist.");
        assert_eq!(
            routed(judge(&e, StatusCode::BAD_GATEWAY, b"", fast), router).describe(),
            "502 unknown_route (router)"
        );
        // The app's own 404, and an acceptable answer, are what they were.
        assert_eq!(routed(judge(&e, StatusCode::NOT_FOUND, b"", fast), None).cause(), Some(Cause::Status(404)));
        assert_eq!(routed(judge(&e, StatusCode::OK, b"", fast), router), Outcome::Ok { status: 200 });
        // The header's value is the server's: cut short, and without control characters (HTTP
        // lets through tabs and any byte above 0x7f: C1 controls, text-reordering marks).
        let hostile = "\u{202e}unknown\u{9b}2J_route\tand_then_a_great_deal_more_text".as_bytes();
        assert_eq!(router_error(&headers(hostile)).unwrap().as_str(), "unknown2J_route and_then_a_great_deal_mo");
        assert!(router_error(&headers("\u{9b}\t".as_bytes())).is_none());
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

    #[test]
    fn a_status_text_from_a_hostile_body_is_one_clean_line() {
        let body = b"\x1b]0;pwned\x07\x1b[2J\rgone\x08\x08 | <script>`x`</script>\nsecond line";
        let shown = status_text(StatusCode::SERVICE_UNAVAILABLE, body);
        assert_eq!(shown, "503 Service Unavailable: �]0;pwned��[2J gone�� | <script>`x`</script>");
    }
}
