//! Views for the dashboard's tests: a URL's detail, and whole frames of the runs a user meets.

use crate::analysis::tracking::Cutover;
use crate::engine::detail::RequestPhase;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::analysis::outage::Window;
use crate::analysis::phase::Phase;
use crate::analysis::snapshot::{Quantiles, TargetDetail};
use crate::analysis::timeline::Slice;
use crate::engine::sample::{Cause, ErrorKind};
use crate::live::Stream;
use crate::live::gates::{GateLive, GateState};
use crate::live::view::View;

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn quantiles(p50: u64) -> Quantiles {
    Quantiles { p50: MS * p50 as u32, p90: MS * (p50 as u32 + 1), p99: MS * (p50 as u32 + 2), max: MS * 9 }
}

/// One URL as the dashboard shows it: two outages' worth of slices, one closed window, and, if
/// `down`, a window open now.
pub(crate) fn target(down: bool) -> TargetDetail {
    let slice = |ok, failed| Slice { ok, failed, latency_sum_us: ok * 2100, latency_max_us: 4000 };
    let mut slices = vec![slice(50, 0); 12];
    slices[5] = slice(30, 20);
    slices[6] = slice(0, 50);
    let window = Window {
        start: S * 5 + MS * 400,
        end: S * 7,
        failed_probes: 80,
        causes: BTreeMap::from([(Cause::Status(404), 80)]),
        first_cause: Cause::Status(404),
        first_error: "404 Not Found: Requested route ('notes.demo') does not exist.".into(),
        first_seq: 108,
        last_seq: 187,
        open: false,
        failed_in: Default::default(),
    };
    TargetDetail {
        url: "http://127.0.0.1:8080/api/notes".into(),
        probes: 600,
        ok: 520,
        failed: 80,
        down: down.then(|| (S * 11 + MS * 500, "503 Service Unavailable".to_string())),
        since: if down { S * 11 + MS * 500 } else { S * 7 },
        downtime: MS * 1600,
        availability: 0.8667,
        in_flight: 1,
        latency_recent: Some(quantiles(2)),
        latency_all: Some(quantiles(3)),
        send_lag_p99: MS / 2,
        status_counts: vec![(200, 520), (404, 80)],
        error_counts: if down { vec![(ErrorKind::Refused, 3)] } else { vec![] },
        windows: vec![window],
        window_count: 1,
        slices,
        phases_p50: vec![
            (RequestPhase::Connect, Duration::from_micros(120)),
            (RequestPhase::Ttfb, Duration::from_micros(450)),
            (RequestPhase::Transfer, Duration::from_micros(20)),
        ],
        cutover: None,
    }
}

/// A long cause, as a proxy in front of a service writes them: cut to fit, it must end at a word.
pub(crate) const LONG_CAUSE: &str = "503 Service Unavailable: upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/// A probe-only run twelve seconds into a minute: the URL is down now, with a long cause.
pub(crate) fn probe_only() -> View {
    let mut t = target(true);
    t.down = Some((S * 11 + MS * 500, LONG_CAUSE.to_string()));
    let gates = vec![
        gate("max-downtime 3s", GateState::AtRisk("downtime 1.600 s of 3s".into())),
        gate("max-latency p99=300ms", GateState::Passing),
    ];
    View {
        elapsed: S * 12,
        left: Some(S * 48),
        targets: vec![t],
        rates: vec![50.0],
        gates: vec![gates],
        color: true,
        ..View::default()
    }
}

fn gate(name: &str, state: GateState) -> GateLive {
    GateLive { gate: name.into(), state }
}

/// A wrapped deploy with a long command line, some output and a closed window.
pub(crate) fn wrapped() -> View {
    View {
        elapsed: S * 12,
        phase: Some((Phase::Deploy, S * 3, None)),
        command: Some(
            "cf push notes-production --strategy rolling -f deploy/manifest-production.yml --var instances=4".into(),
        ),
        // v1 served until 2.4 s into the deploy, v2 from 2.1 s.
        targets: vec![TargetDetail {
            cutover: Some((
                Cutover {
                    old: vec![("v1".into(), S * 11 + MS * 400)],
                    new: vec![("v2".into(), S * 11 + MS * 100)],
                    failed_between: 0,
                },
                S * 9,
            )),
            ..target(false)
        }],
        rates: vec![50.0],
        gates: vec![vec![
            gate("max-outage 1s", GateState::Failed { observed: "1.600 s".into(), settled: true }),
            gate("max-downtime 5s", GateState::Passing),
        ]],
        output: vec![
            (Stream::Stdout, "Pushing app notes-production to org demo / space prod as ops...".into()),
            (Stream::Stdout, "Staging app and tracing logs...".into()),
            (Stream::Stderr, "warning: no health check endpoint in the manifest".into()),
            (Stream::Stdout, "Waiting for app notes-production to start...".into()),
        ],
        color: true,
        ..View::default()
    }
}

/// A run the user ended with `q`: stopping, probes in flight still awaited.
pub(crate) fn stopped() -> View {
    View {
        elapsed: S * 12,
        targets: vec![target(false)],
        rates: vec![50.0],
        gates: vec![vec![gate("max-downtime 0s", GateState::Failed { observed: "1.600 s".into(), settled: true })]],
        notice: Some("stopping: waiting up to 2s for probes in flight".into()),
        stopping: Some("quit requested".into()),
        color: true,
        ..View::default()
    }
}
