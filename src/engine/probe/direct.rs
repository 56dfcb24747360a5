//! Direct probes: `http://` and `https://` on hyper's HTTP/1.1 connections (through rustls for
//! https), with a keep-alive pool of blip's own.
//!
//! A general client pays on every request for things a prober never needs: parsing the URL
//! into a URI again, looking up a pool by origin, proxy rules, redirect policy. Here everything
//! a probe sends is built once per URL (origin-form target, `Host`, headers, body), and the pool
//! is a stack of idle connections to the one origin. Owning the connection also lets blip tell
//! the steps of opening one apart (a TLS handshake that never finishes is `tls`, not a connect
//! timeout) and know whether any byte of an answer came. Credentials in the URL are sent as basic
//! auth. Probes through a proxy go through reqwest instead (see the parent module).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{ACCEPT, AUTHORIZATION, HOST, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::stream::{Counted, Stream};
use super::{Answer, NoAnswer, RequestId, chain_text, closed_before_answer, keep_head, kind_in_chain};
use crate::engine::detail::{Progress, RequestPhase};
use crate::engine::request::RequestSpec;
use crate::engine::route::Dial;
use crate::engine::sample::ErrorKind;

type Sender = SendRequest<Full<Bytes>>;

/// Header lines an answer may have. hyper stops at 100 by default, and a service behind a few
/// proxies can pass 100 without anything being wrong. Above 100, hyper allocates and fills room
/// for this many lines for every answer it parses: at 1000 that was a tenth of blip's CPU at
/// 15 000 probes/s, so the limit is what real answers need, with room to spare.
pub const MAX_HEADERS: usize = 256;

/// Idle keep-alive connections kept per URL. Probes that overlap (a slow server) each need a
/// connection, and get one at once; once they are answered, the most recently used connections
/// are kept and the rest closed, so a brownout does not leave hundreds of the target's connection
/// slots held for the rest of a run. As many as the scheduler keeps idle workers per target.
pub const MAX_IDLE_CONNECTIONS: usize = 64;

/// `user:password@` in the URL as basic auth, as curl and reqwest send it: the percent-encoded
/// parts decoded, joined by `:`, in base64. Marked sensitive, so hyper never prints it.
fn basic_auth(url: &Url) -> Option<HeaderValue> {
    use base64::Engine as _;
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |part: &str| percent_encoding::percent_decode_str(part).collect::<Vec<u8>>();
    let mut pair = decode(url.username());
    pair.push(b':');
    pair.extend(decode(url.password().unwrap_or("")));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// One keep-alive connection: where requests go, and how many bytes its socket has read, which
/// tells whether any of an answer arrived before it closed.
struct Conn {
    sender: Sender,
    read: Arc<AtomicU64>,
    /// The address connected to: who answers on this connection.
    peer: Option<SocketAddr>,
}

/// What an https URL's connections need: the TLS configuration and the name to verify.
struct Tls {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

/// Probes one `http://` URL.
pub struct Client {
    /// Where to connect: the URL's host and port, unless `--connect-to` or `--resolve` says
    /// otherwise.
    dial: Dial,
    /// For https: how to shake hands.
    tls: Option<Tls>,
    method: Method,
    /// The request target in origin form: `/path?query`.
    target: Uri,
    headers: HeaderMap,
    body: Bytes,
    fresh_connections: bool,
    /// Whether a request lost to a closing keep-alive connection is sent again.
    resend: bool,
    /// Idle keep-alive connections, the most recently used on top.
    idle: Mutex<Vec<Conn>>,
    /// The addresses the name last resolved to, sorted: a lookup that answers otherwise is a
    /// DNS change, which the probe reports.
    resolved: Mutex<Arc<[IpAddr]>>,
}

/// Whether this transport can probe `url`: http and https (a proxy, which the caller checks,
/// takes reqwest instead).
pub fn suits(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

impl Client {
    /// The client for `url`, which [`suits`] this transport.
    pub fn new(url: &Url, spec: &RequestSpec, tls: Option<Arc<ClientConfig>>) -> anyhow::Result<Client> {
        use anyhow::Context as _;
        let host = url.host_str().context("the URL has no host")?.to_string();
        let port = url.port_or_known_default().context("the URL has no port")?;
        let target: Uri = match url.query() {
            Some(query) => format!("{}?{query}", url.path()).parse()?,
            None => url.path().parse()?,
        };
        // `Host` as the URL spells it, with the port only when it is not the default.
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(&authority)?);
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("blip/", env!("CARGO_PKG_VERSION"))));
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        if let Some(credentials) = basic_auth(url) {
            headers.insert(AUTHORIZATION, credentials);
        }
        // A header the user gives replaces blip's of the same name.
        for name in spec.headers.keys() {
            headers.remove(name);
        }
        for (name, value) in &spec.headers {
            headers.append(name, value.clone());
        }
        // Brackets are part of an IPv6 host in a URL, not of the address.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = match tls {
            Some(config) => Some(Tls {
                connector: tokio_rustls::TlsConnector::from(config),
                name: ServerName::try_from(host.clone()).context("the URL's host is not a name TLS can verify")?,
            }),
            None => None,
        };
        Ok(Client {
            dial: spec.routes.dial(&host, port).0,
            tls,
            method: spec.method.clone(),
            target,
            headers,
            body: spec.body.clone().unwrap_or_default(),
            fresh_connections: spec.fresh_connections,
            resend: spec.resends(),
            idle: Mutex::new(Vec::new()),
            resolved: Mutex::new(Arc::from([])),
        })
    }

    /// Sends one request and reads the whole answer. The caller bounds it by the probe's
    /// deadline; connecting is bounded by `deadline` too, so that running out of time while
    /// connecting is told apart. `resent` is set when the request went out a second time;
    /// `progress` follows the request through its phases. The start of the body is kept only
    /// when `keeps_body` says that an answer with its status needs it.
    pub async fn exchange(
        &self,
        deadline: Instant,
        timeout: Duration,
        resent: &AtomicBool,
        id: RequestId<'_>,
        progress: &Progress,
        keeps_body: impl Fn(hyper::StatusCode) -> bool,
    ) -> Result<Answer, NoAnswer> {
        let mut request = self.request(id);
        // After a resend the request must go out on a connection of its own.
        let mut fresh = false;
        let (conn, response) = loop {
            let (mut conn, pooled) = match if fresh { None } else { self.checkout() } {
                Some(mut conn) => {
                    // Waiting for a reused connection to be ready is part of waiting for the
                    // answer: a probe that times out here failed in ttfb.
                    progress.enter(RequestPhase::Ttfb);
                    match conn.sender.ready().await {
                        Ok(()) => (conn, true),
                        Err(_) => continue,
                    }
                }
                None => (self.connect(deadline, timeout, progress).await?, false),
            };
            let read_before = conn.read.load(Ordering::Relaxed);
            progress.enter(RequestPhase::Ttfb);
            let asked = Instant::now();
            match conn.sender.try_send_request(request).await {
                // A 408 on a reused connection is the server's idle timeout crossing the
                // request: the server sent it before the request arrived and never served the
                // request. Chromium sends it again on a new connection (Go's client drops a 408
                // that comes on an idle connection); so does blip, under the same rule as a
                // close, and counts it. A 408 on a new connection is the server's answer.
                Ok(response)
                    if pooled
                        && response.status() == hyper::StatusCode::REQUEST_TIMEOUT
                        && self.resend
                        && !resent.load(Ordering::Relaxed) =>
                {
                    resent.store(true, Ordering::Relaxed);
                    fresh = true;
                    request = self.request(id);
                }
                Ok(response) => {
                    progress.took(RequestPhase::Ttfb, asked.elapsed());
                    break (conn, response);
                }
                Err(mut err) => match err.take_message() {
                    // A pooled connection the server closed before the request went out gives
                    // the request back; it goes out on another connection. Nothing was sent.
                    Some(unsent) if pooled => request = unsent,
                    // The request went out on a reused connection, which then closed before a
                    // byte of an answer came back: the server closed an idle connection as the
                    // request crossed it, and never saw it. Real clients send an idempotent
                    // request once more on a new connection; so does blip, and counts it.
                    None if pooled
                        && self.resend
                        && !resent.load(Ordering::Relaxed)
                        && conn.read.load(Ordering::Relaxed) == read_before
                        && closed_before_answer(err.error()) =>
                    {
                        resent.store(true, Ordering::Relaxed);
                        fresh = true;
                        request = self.request(id);
                    }
                    _ => return Err(http_failure(&err.into_error())),
                },
            }
        };
        progress.enter(RequestPhase::Transfer);
        let headed = Instant::now();
        let (parts, mut body) = response.into_parts();
        let router = super::router_error(&parts.headers);
        // Read to its end either way (the connection is reused after), but copied only when
        // needed: an acceptable answer without `--expect-body` or `--track-body` costs no
        // allocation here.
        let keep = keeps_body(parts.status);
        let mut head = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(chunk) = frame.map_err(|e| http_failure(&e))?.into_data()
                && keep
            {
                keep_head(&mut head, &chunk);
            }
        }
        let done = Instant::now();
        progress.took(RequestPhase::Transfer, done - headed);
        let peer = conn.peer;
        self.checkin(conn);
        Ok(Answer { status: parts.status, head, done, headers: parts.headers, peer, router })
    }

    /// Puts a connection whose answer was read to its end back in the pool, unless the lane
    /// wants fresh connections or the server closed it. The next probe waits for it to be ready
    /// again (`ready` in [`Self::exchange`]): the body has been read to its end, so that takes no
    /// longer than the connection's own task needs to see it.
    fn checkin(&self, conn: Conn) {
        if !self.fresh_connections && !conn.sender.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            // The longest idle goes: the one a server's idle timeout would close first.
            if idle.len() >= MAX_IDLE_CONNECTIONS {
                idle.remove(0);
            }
            idle.push(conn);
        }
    }

    /// The request, with the probe's id when `--request-id` asks for one.
    fn request(&self, id: RequestId<'_>) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.target.clone();
        *request.headers_mut() = self.headers.clone();
        if let Some((name, value)) = id {
            request.headers_mut().insert(name, value.clone());
        }
        request
    }

    /// The most recently used idle connection that is still open.
    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(conn) = idle.pop() {
            if !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Tells `progress` of a lookup's answer when it differs from the one before.
    fn note_answer(&self, addrs: &[SocketAddr], progress: &Progress) {
        let mut ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
        ips.sort_unstable();
        ips.dedup();
        let mut last = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if **last != *ips {
            *last = Arc::from(ips);
            progress.resolved(last.clone());
        }
    }

    /// Opens a connection, trying each address of the host in turn, and times each step.
    async fn connect(&self, deadline: Instant, timeout: Duration, progress: &Progress) -> Result<Conn, NoAnswer> {
        let late = || NoAnswer {
            kind: ErrorKind::ConnectTimeout,
            text: format!("no connection within {}", humantime::format_duration(timeout)),
        };
        // An address, in the URL or from `--resolve`, needs no lookup and has no dns phase.
        let addrs: Vec<SocketAddr> = match &self.dial {
            Dial::Addrs(addrs) => addrs.clone(),
            Dial::Name { host, port } => {
                progress.enter(RequestPhase::Dns);
                let asked = Instant::now();
                let lookup = tokio::net::lookup_host((host.as_str(), *port));
                let addrs = match tokio::time::timeout_at(deadline.into(), lookup).await {
                    Err(_) => return Err(late()),
                    Ok(Err(err)) => {
                        // A resolver out of descriptors is blip's trouble, not the name's.
                        let kind = match kind_in_chain(&err, false) {
                            Some(ErrorKind::Local) => ErrorKind::Local,
                            _ => ErrorKind::Dns,
                        };
                        return Err(NoAnswer { kind, text: format!("dns error: {err}") });
                    }
                    Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
                };
                progress.took(RequestPhase::Dns, asked.elapsed());
                self.note_answer(&addrs, progress);
                addrs
            }
        };
        progress.enter(RequestPhase::Connect);
        let connecting = Instant::now();
        let stream = match tokio::time::timeout_at(deadline.into(), connect_any(addrs)).await {
            Err(_) => return Err(late()),
            Ok(Err(err)) => {
                let kind = kind_in_chain(&err, true).unwrap_or(ErrorKind::Other);
                return Err(NoAnswer { kind, text: format!("tcp connect error: {err}") });
            }
            Ok(Ok(stream)) => stream,
        };
        progress.took(RequestPhase::Connect, connecting.elapsed());
        progress.opened();
        let peer = stream.peer_addr().ok();
        // Requests are small and answered one at a time: waiting to coalesce them would only
        // add latency.
        let _ = stream.set_nodelay(true);
        let stream = match &self.tls {
            None => Stream::Tcp(stream),
            Some(tls) => {
                progress.enter(RequestPhase::Tls);
                let shaking = Instant::now();
                let shaken =
                    match tokio::time::timeout_at(deadline.into(), tls.connector.connect(tls.name.clone(), stream))
                        .await
                    {
                        Err(_) => {
                            return Err(NoAnswer {
                                kind: ErrorKind::Tls,
                                text: format!(
                                    "connected, but the TLS handshake did not finish within {}",
                                    humantime::format_duration(timeout)
                                ),
                            });
                        }
                        Ok(Err(err)) => {
                            // A reset or a close mid-handshake is the connection's doing; anything
                            // else (a certificate, a protocol error, plain HTTP) is TLS's.
                            let kind = match kind_in_chain(&err, true) {
                                Some(ErrorKind::Reset) => ErrorKind::Reset,
                                _ => ErrorKind::Tls,
                            };
                            return Err(NoAnswer { kind, text: format!("tls handshake: {}", chain_text(&err)) });
                        }
                        Ok(Ok(stream)) => Stream::Tls(Box::new(stream)),
                    };
                progress.took(RequestPhase::Tls, shaking.elapsed());
                shaken
            }
        };
        let read = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Counted { stream, read: read.clone() });
        let (sender, connection) = http1::Builder::new()
            // curl takes any number of header lines; hyper's default stops at 100.
            .max_headers(MAX_HEADERS)
            .handshake(io)
            .await
            .map_err(|e| http_failure(&e))?;
        tokio::spawn(async move {
            // How the connection ends shows in the probe that used it.
            let _ = connection.await;
        });
        Ok(Conn { sender, read, peer })
    }
}

/// How long an address gets before the next one is tried beside it (RFC 8305 suggests 250 ms).
const NEXT_ADDRESS_AFTER: Duration = Duration::from_millis(250);

/// Connects to the first of `addrs` that answers, in the manner of happy eyeballs: the next
/// address is tried when one fails, or beside the ones still trying after
/// [`NEXT_ADDRESS_AFTER`], so an address whose packets are silently dropped (a broken IPv6
/// route) costs a quarter of a second, not the probe. The error is the last failure's.
async fn connect_any(addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
    let mut pending = addrs.into_iter();
    let mut trying = tokio::task::JoinSet::new();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    loop {
        if let Some(addr) = pending.next() {
            trying.spawn(TcpStream::connect(addr));
        } else if trying.is_empty() {
            return Err(last);
        }
        let next_after = tokio::time::sleep(NEXT_ADDRESS_AFTER);
        tokio::select! {
            Some(done) = trying.join_next() => match done {
                // The others are dropped with the set.
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(err)) => last = err,
                Err(join) => last = io::Error::other(join),
            },
            () = next_after, if pending.len() > 0 => {}
        }
    }
}

fn http_failure(err: &hyper::Error) -> NoAnswer {
    NoAnswer { kind: kind_in_chain(err, false).unwrap_or(ErrorKind::Other), text: chain_text(err) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener whose accept queue is full: the kernel drops further SYNs without an answer,
    /// as a black-holed route does. Returns it and the connections that fill its queue (as many
    /// as the kernel lets in; the first one that gets no answer shows the queue is full).
    fn silent_listener() -> (socket2::Socket, Vec<std::net::TcpStream>) {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        socket.listen(0).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        let fillers = (0..8)
            .map_while(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
            .collect();
        (socket, fillers)
    }

    #[tokio::test]
    async fn the_next_address_is_tried_when_one_fails_or_stays_silent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good = listener.local_addr().unwrap();
        let refused = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let (silent, _filler) = silent_listener();
        let silent = silent.local_addr().unwrap().as_socket().unwrap();
        let within = |f| tokio::time::timeout(Duration::from_secs(10), f);
        // The silent address really is silent: on its own it never connects.
        assert!(tokio::time::timeout(Duration::from_millis(600), TcpStream::connect(silent)).await.is_err());

        let stream = within(connect_any(vec![refused, good])).await.unwrap().unwrap();
        assert_eq!(stream.peer_addr().unwrap(), good);
        let stream = within(connect_any(vec![silent, good])).await.unwrap().unwrap();
        assert_eq!(stream.peer_addr().unwrap(), good);
        let err = within(connect_any(vec![refused, refused])).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert!(within(connect_any(vec![])).await.unwrap().is_err());
    }
}
