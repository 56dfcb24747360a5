//! The reqwest path: URLs that go through a proxy from the environment take reqwest, which knows
//! the proxy rules (`NO_PROXY`, CONNECT for https). Its failures are classified like those of
//! blip's own connections, and a request lost to a reused connection closing under it (or
//! answered by its idle timeout's 408) is sent once more; unlike the direct path it cannot see
//! whether part of an answer had come.

use std::error::Error as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use reqwest::{Client, Url};

use super::{Answer, NoAnswer, RequestId, chain_text, direct, keep_head, kind_in_chain};
use crate::engine::detail::{Progress, RequestPhase};
use crate::engine::request::RequestSpec;
use crate::engine::sample::ErrorKind;

tokio::task_local! {
    /// Set inside a reqwest exchange when the client opened a connection for it.
    static OPENED: AtomicBool;
}

/// A reqwest exchange, sent once more when it was lost to a reused connection closing under it.
///
/// reqwest does not say whether a request went out on a reused connection; its connector does
/// tell when a connection is opened ([`MarkOpened`]), and it opens it from within the request's
/// own task, so a failed request during which none was opened went out on a reused one. (When
/// two probes overlap, a connection opened for one may be handed to the other; the request is
/// then taken as sent on a new one, and not resent: the raw failure shows.) Unlike the plain
/// path, a reqwest error does not say whether part of an answer had come, only that the answer
/// head was incomplete.
pub async fn exchange_resending(
    client: &Client,
    url: &Url,
    spec: &RequestSpec,
    resent: &AtomicBool,
    id: RequestId<'_>,
    progress: &Progress,
) -> Result<Answer, NoAnswer> {
    loop {
        let attempt = async {
            let result = exchange(client, url, spec, id, progress).await;
            (result, OPENED.with(|opened| opened.load(Ordering::Relaxed)))
        };
        match OPENED.scope(AtomicBool::new(false), attempt).await {
            // A 408 on a reused connection: an idle timeout crossing the request, as on the
            // direct path.
            (Ok(answer), false)
                if answer.status == reqwest::StatusCode::REQUEST_TIMEOUT
                    && !resent.load(Ordering::Relaxed)
                    && spec.resends() =>
            {
                resent.store(true, Ordering::Relaxed);
            }
            (Ok(answer), opened) => {
                if opened {
                    progress.opened();
                }
                return Ok(answer);
            }
            (Err(err), opened) => {
                let lost = !opened && !resent.load(Ordering::Relaxed) && spec.resends() && err.is_request();
                if lost && kind_of(&err) == ErrorKind::Reset {
                    resent.store(true, Ordering::Relaxed);
                    continue;
                }
                return Err(classify(&err));
            }
        }
    }
}

/// A connector layer for reqwest that notes, in the request's task, that a connection is being
/// opened for it (see [`exchange_resending`]).
#[derive(Clone, Copy)]
struct MarkOpened;

impl<S> tower_layer::Layer<S> for MarkOpened {
    type Service = MarkOpenedService<S>;

    fn layer(&self, inner: S) -> MarkOpenedService<S> {
        MarkOpenedService(inner)
    }
}

#[derive(Clone)]
struct MarkOpenedService<S>(S);

impl<S: tower_service::Service<R>, R> tower_service::Service<R> for MarkOpenedService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        // Outside an exchange (a connection finished in the background) there is nothing to mark.
        let _ = OPENED.try_with(|opened| opened.store(true, Ordering::Relaxed));
        self.0.call(request)
    }
}

/// One reqwest exchange. reqwest opens connections out of sight, so only the time to the answer's
/// headers (`ttfb`, which includes any connecting) and the body's transfer are timed.
async fn exchange(
    client: &Client,
    url: &Url,
    spec: &RequestSpec,
    id: RequestId<'_>,
    progress: &Progress,
) -> Result<Answer, reqwest::Error> {
    let mut request = client.request(spec.method.clone(), url.clone());
    request = request.headers(spec.headers.clone());
    if let Some((name, value)) = id {
        request = request.header(name, value);
    }
    if let Some(body) = &spec.body {
        request = request.body(body.clone());
    }
    progress.enter(RequestPhase::Ttfb);
    let asked = Instant::now();
    let mut response = request.send().await?;
    let headed = Instant::now();
    progress.took(RequestPhase::Ttfb, headed - asked);
    progress.enter(RequestPhase::Transfer);
    let status = response.status();
    let router = super::router_error(response.headers());
    let peer = response.remote_addr();
    let headers = std::mem::take(response.headers_mut());
    let mut head = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        keep_head(&mut head, &chunk);
    }
    let done = Instant::now();
    progress.took(RequestPhase::Transfer, done - headed);
    Ok(Answer { status, head, done, headers, peer, router })
}

impl NoAnswer {
    /// A failure to connect, when a proxy from the environment may be what failed: reqwest
    /// reports a dead proxy as the URL refusing or timing out, so the text says which proxy.
    pub fn through(mut self, proxy: &str) -> NoAnswer {
        if matches!(self.kind, ErrorKind::Refused | ErrorKind::ConnectTimeout | ErrorKind::Dns | ErrorKind::Tls) {
            self.text.push_str(&format!(" (through the proxy {proxy}: it may be the proxy that failed)"));
        }
        self
    }
}

/// The proxy that the environment names for `url`'s scheme, as `NAME=value` with any password
/// hidden. reqwest follows these variables as curl does (and `NO_PROXY`, which this does not
/// weigh: a URL with a proxy variable set goes through reqwest, which knows the rules, and a
/// failure's text says the proxy "may" be what failed).
pub fn proxy_for(url: &Url) -> Option<String> {
    let names: &[&str] = match url.scheme() {
        "https" => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
        _ => &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
    };
    names.iter().find_map(|name| {
        let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
        Some(format!("{name}={}", crate::sanitize::url_text(&value)))
    })
}

pub fn build_client(spec: &RequestSpec, timeout: std::time::Duration) -> anyhow::Result<Client> {
    use anyhow::Context as _;
    let mut builder = Client::builder()
        .user_agent(concat!("blip/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .tls_danger_accept_invalid_certs(spec.insecure);
    builder = builder.pool_max_idle_per_host(if spec.fresh_connections { 0 } else { direct::MAX_IDLE_CONNECTIONS });
    builder = builder.http1_max_headers(direct::MAX_HEADERS).connector_layer(MarkOpened);
    builder.build().context("cannot set up the HTTP client")
}

/// Names a transport failure by what it means for availability, and keeps its causes as text.
fn classify(err: &reqwest::Error) -> NoAnswer {
    // The top error only repeats the URL; its causes say what happened.
    let text = match err.source() {
        Some(source) => chain_text(source),
        // reqwest names the URL, with any password in it.
        None => match err.url() {
            Some(url) => err.to_string().replace(url.as_str(), &crate::sanitize::url(url)),
            None => err.to_string(),
        },
    };
    NoAnswer { kind: kind_of(err), text: crate::sanitize::line(&text) }
}

fn kind_of(err: &reqwest::Error) -> ErrorKind {
    let connect = err.is_connect();
    let in_chain = err.source().and_then(|source| kind_in_chain(source, connect));
    // A resolver out of descriptors is blip's trouble, not the name's.
    if err.is_dns() && in_chain != Some(ErrorKind::Local) {
        return ErrorKind::Dns;
    }
    if let Some(kind) = in_chain {
        return kind;
    }
    if err.is_timeout() {
        return if connect { ErrorKind::ConnectTimeout } else { ErrorKind::Timeout };
    }
    ErrorKind::Other
}
