//! `--metrics ADDR`: the run's figures as Prometheus metrics, served at `/metrics` while it goes
//! on, so a long-running blip sits beside the other metrics a team already watches.
//!
//! [`Metrics`] is fed by the run loop as the report's recorder is (every sample, every window
//! that opens or closes, each tick and phase), so the counters agree with the JSON report. The
//! server ([`serve`]) runs on a thread and a one-thread runtime of its own: a scrape takes a read
//! lock on the registry for as long as encoding takes and never runs on the probing workers.
//!
//! Label values are bounded: the URLs of the run, status codes and error kinds, phase names.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::analysis::outage::Transition;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Event;
use crate::analysis::snapshot::TargetSnapshot;
use crate::engine::lane::TargetName;
use crate::engine::sample::{Outcome, Sample};

/// A target: its URL and the lane (`reused` or `fresh` connections) it is probed on.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UrlLabels {
    url: String,
    connection: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeLabels {
    url: String,
    connection: &'static str,
    /// `ok` or `failed`, so `rate(blip_probes_total{result="failed"}[1m])` needs no regex.
    result: &'static str,
    /// The status code of an answer, or the error kind of a probe without one.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    version: &'static str,
    vantage: String,
}

type HistogramFamily = Family<UrlLabels, Histogram, fn() -> Histogram>;

/// One URL's metric handles, looked up once so a sample costs no label lookup or allocation.
struct TargetMetrics {
    labels: UrlLabels,
    /// A counter per outcome seen so far: a handful per URL, searched in order.
    probes: Vec<((bool, OutcomeKey), Counter)>,
    up: Gauge,
    downtime: Counter<f64, std::sync::atomic::AtomicU64>,
    outages: Counter,
    latency: Histogram,
    send_lag: Histogram,
}

/// What a probe's counter is keyed by: its status code, or its error kind's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutcomeKey {
    Status(u16),
    Error(&'static str),
}

/// The run's metrics, updated by the run loop and read by the server.
pub struct Metrics {
    registry: Arc<RwLock<Registry>>,
    probes: Family<ProbeLabels, Counter>,
    targets: Vec<TargetMetrics>,
    phase: Family<PhaseLabels, Gauge>,
}

impl Metrics {
    /// Metrics for the run's targets (URLs as shown, passwords hidden), from `vantage`.
    pub fn new(targets: &[TargetName], vantage: &str) -> Metrics {
        let mut root = Registry::default();
        root.register(
            "blip",
            "blip's version and the vantage point it probes from",
            Info::new(InfoLabels { version: env!("CARGO_PKG_VERSION"), vantage: vantage.to_string() }),
        );
        let registry = root.sub_registry_with_prefix("blip");
        let probes = Family::<ProbeLabels, Counter>::default();
        registry.register(
            "probes",
            "Probes that reported, by URL, result and status code or error kind",
            probes.clone(),
        );
        let up = Family::<UrlLabels, Gauge>::default();
        registry.register("up", "1 while the URL answers, 0 while it is in an outage window", up.clone());
        let downtime = Family::<UrlLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register_with_unit(
            "downtime",
            "Time in outage windows so far, an open window counted up to its last failed probe",
            Unit::Seconds,
            downtime.clone(),
        );
        let outages = Family::<UrlLabels, Counter>::default();
        registry.register("outages", "Outage windows opened", outages.clone());
        // Probe latencies: 0.5 ms to 16 s, doubling; past that a probe has long timed out.
        let latency: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
        registry.register_with_unit(
            "latency",
            "Latency of successful probes, from the time each was due",
            Unit::Seconds,
            latency.clone(),
        );
        // How late blip sent probes: 50 µs to 0.8 s.
        let send_lag: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.00005, 2.0, 15)));
        registry.register_with_unit("send_lag", "How late blip sent each probe", Unit::Seconds, send_lag.clone());
        let phase = Family::<PhaseLabels, Gauge>::default();
        registry.register("phase", "1 for the phase of the wrapped command the run is in", phase.clone());
        let targets = targets
            .iter()
            .map(|t| {
                let labels = UrlLabels { url: t.url.clone(), connection: t.lane.as_str() };
                let target = TargetMetrics {
                    labels: labels.clone(),
                    probes: Vec::new(),
                    up: up.get_or_create_owned(&labels),
                    downtime: downtime.get_or_create_owned(&labels),
                    outages: outages.get_or_create_owned(&labels),
                    latency: latency.get_or_create_owned(&labels),
                    send_lag: send_lag.get_or_create_owned(&labels),
                };
                target.up.set(1);
                target
            })
            .collect();
        Metrics { registry: Arc::new(RwLock::new(root)), probes, targets, phase }
    }

    /// Counts one probe; its latency when it succeeded, its send lag when it was sent.
    pub fn sample(&mut self, sample: &Sample) {
        let Some(target) = self.targets.get_mut(sample.target) else { return };
        let (ok, key) = match &sample.outcome {
            Outcome::Ok { status } => (true, OutcomeKey::Status(*status)),
            Outcome::BadStatus { status, .. } => (false, OutcomeKey::Status(*status)),
            Outcome::Error { kind, .. } => (false, OutcomeKey::Error(kind.as_str())),
        };
        let counter = match target.probes.iter().find(|(k, _)| *k == (ok, key)) {
            Some((_, counter)) => counter,
            None => {
                let outcome = match key {
                    OutcomeKey::Status(code) => code.to_string(),
                    OutcomeKey::Error(kind) => kind.to_string(),
                };
                let labels = ProbeLabels {
                    url: target.labels.url.clone(),
                    connection: target.labels.connection,
                    // blip's own trouble is no result of the target's (see analysis::unobserved).
                    result: if ok {
                        "ok"
                    } else if sample.outcome.blips_own().is_some() {
                        "unobserved"
                    } else {
                        "failed"
                    },
                    outcome,
                };
                target.probes.push(((ok, key), self.probes.get_or_create_owned(&labels)));
                &target.probes.last().expect("just pushed").1
            }
        };
        counter.inc();
        if ok {
            target.latency.observe(sample.latency().as_secs_f64());
        }
        if !matches!(sample.outcome, Outcome::Error { kind: crate::engine::sample::ErrorKind::Skipped, .. })
            && sample.outcome.blips_own().is_none()
        {
            target.send_lag.observe(sample.send_lag().as_secs_f64());
        }
    }

    /// A window opened or closed.
    pub fn transition(&mut self, event: &Event) {
        let Some(target) = self.targets.get(event.target) else { return };
        match event.transition {
            Transition::Down { .. } => {
                target.up.set(0);
                target.outages.inc();
            }
            Transition::Up(_) => {
                target.up.set(1);
            }
        }
    }

    /// Brings the downtime counters up to the recorder's figures.
    pub fn tick(&mut self, snapshot: &[TargetSnapshot]) {
        for (target, snap) in self.targets.iter().zip(snapshot) {
            let seconds = snap.downtime.as_secs_f64();
            let counted = target.downtime.get();
            if seconds > counted {
                target.downtime.inc_by(seconds - counted);
            }
        }
    }

    /// The wrapped command's run entered `phase`.
    pub fn phase(&mut self, phase: Phase) {
        for p in Phase::ALL {
            self.phase.get_or_create(&PhaseLabels { phase: p.as_str() }).set(i64::from(p == phase));
        }
    }

    /// The metrics in Prometheus's text format (OpenMetrics 1.0), as a scrape gets them.
    #[cfg(test)]
    fn encode(&self) -> String {
        encode(&self.registry)
    }

    /// The registry, for the server.
    fn shared(&self) -> Arc<RwLock<Registry>> {
        Arc::clone(&self.registry)
    }
}

fn encode(registry: &RwLock<Registry>) -> String {
    let mut text = String::new();
    let registry = registry.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
        let _ = writeln!(text, "# blip: the metrics could not be encoded");
    }
    text
}

/// The server of `/metrics`, stopped when dropped.
pub struct MetricsServer {
    /// The address it listens on (the port chosen when `:0` was asked).
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` now, so a port in use is an error before anything is probed, and serves
/// `metrics` from a thread of its own.
pub fn serve(addr: SocketAddr, metrics: &Metrics) -> std::io::Result<MetricsServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let registry = metrics.shared();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    std::thread::Builder::new().name("blip-metrics".into()).spawn(move || {
        runtime.block_on(accept(listener, registry, stop_rx));
    })?;
    Ok(MetricsServer { addr, stop: Some(stop_tx) })
}

/// Connections the metrics listener serves at once; one more is closed as soon as it is
/// accepted. A scraper needs one: the cap keeps anyone who can reach the listener from taking the
/// descriptors the probes need (a full fd table fails every new probe connection).
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client has to send a request's head, and how long one connection lives at most:
/// an idle connection holds a descriptor, and a scraper reconnects at its next scrape.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Answers each connection's requests until `stop`: `/metrics` with the metrics, anything else 404.
async fn accept(
    listener: std::net::TcpListener,
    registry: Arc<RwLock<Registry>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, say: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Over the cap: closed at once, so its descriptor is back before the next accept.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let registry = Arc::clone(&registry);
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let registry = Arc::clone(&registry);
            async move { Ok::<_, std::convert::Infallible>(respond(request.uri().path(), &registry)) }
        });
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(io, service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
    }
}

fn respond(path: &str, registry: &RwLock<Registry>) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (200, "application/openmetrics-text; version=1.0.0; charset=utf-8", encode(registry)),
        _ => (404, "text/plain; charset=utf-8", "blip serves /metrics\n".to_string()),
    };
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("a response from valid parts")
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::engine::lane::Lane;
    use crate::engine::sample::ErrorKind;

    fn sample(target: usize, seq: u64, outcome: Outcome) -> Sample {
        let due = Instant::now();
        Sample {
            target,
            seq,
            due,
            sent: due,
            done: due + Duration::from_millis(3),
            outcome,
            resent: false,
            detail: Default::default(),
        }
    }

    #[test]
    fn counts_by_result_and_outcome_and_keeps_labels_bounded() {
        let target = TargetName { url: "http://a/".into(), lane: Lane::Reused, label: "http://a/".into() };
        let mut m = Metrics::new(&[target], "ci-runner-1");
        for seq in 0..5 {
            m.sample(&sample(0, seq, Outcome::Ok { status: 200 }));
        }
        for seq in 5..8 {
            m.sample(&sample(0, seq, Outcome::BadStatus { status: 404, text: "gone".into(), router: None }));
        }
        m.sample(&sample(0, 8, Outcome::Error { kind: ErrorKind::Refused, status: None, text: String::new() }));
        m.phase(Phase::Deploy);
        let text = m.encode();
        assert!(
            text.contains(r#"blip_probes_total{url="http://a/",connection="reused",result="ok",outcome="200"} 5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"blip_probes_total{url="http://a/",connection="reused",result="failed",outcome="404"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"blip_probes_total{url="http://a/",connection="reused",result="failed",outcome="refused"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"blip_info{version=""#) && text.contains(r#"vantage="ci-runner-1"} 1"#), "{text}");
        assert!(text.contains(r#"blip_latency_seconds_count{url="http://a/",connection="reused"} 5"#), "{text}");
        assert!(text.contains(r#"blip_phase{phase="deploy"} 1"#) && text.contains(r#"blip_phase{phase="warmup"} 0"#));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
