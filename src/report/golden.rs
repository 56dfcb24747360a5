//! The golden test: a recorded Sample sequence through the recorder, the report's build and the
//! JSON writer, byte for byte against `golden.json`.

use std::time::{Duration, SystemTime};

use crate::analysis::clock::RunClock;
use crate::analysis::phase::GatePhases;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Recorder;
use crate::engine::detail::ProbeDetail;
use crate::engine::request::RequestIds;
use crate::engine::sample::{ErrorKind, Outcome, Sample};
use crate::gates::Gate;
use crate::report::Report;
use crate::report::json::render;

/// A fixed scenario, as a recorded Sample sequence with a fixed wall clock: two URLs probed at
/// 10/s around a wrapped deploy, one through a 404 window that spans deploy and cooldown, a
/// timeout, a resent probe and a window still open at the end; three gates. The first URL's
/// answers carry an app version that goes from v1 to v2 during the deploy, with an overlap.
pub(crate) fn scenario() -> Report {
    let clock = RunClock {
        start: std::time::Instant::now(),
        started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123),
    };
    let urls = ["http://127.0.0.1:8080/health".to_string(), "http://127.0.0.1:8081/api/notes".to_string()];
    let mut recorder = Recorder::new(&urls, 10.0, 1, clock, Some(GatePhases::DeployCooldown));
    recorder.request_ids = Some(RequestIds {
        header: reqwest::header::HeaderName::from_static("x-request-id"),
        run: RUN_ID.into(),
        targets: urls.len(),
    });
    recorder.track_values(&["header x-app-version".to_string()]);
    let ms = Duration::from_millis;
    recorder.begin_phase(Phase::Warmup, clock.start);
    for seq in 0..60u64 {
        if seq == 20 {
            recorder.begin_phase(Phase::Deploy, clock.start + ms(2000));
        }
        if seq == 40 {
            recorder.begin_phase(Phase::Cooldown, clock.start + ms(4000));
        }
        for target in 0..2 {
            let due = clock.start + ms(seq * 100 + target as u64 * 50);
            let outcome = match (target, seq) {
                (1, 30..=44) => {
                    Outcome::BadStatus { status: 404, text: "404 Not Found: no route".into(), router: None }
                }
                (1, 50) => Outcome::Error { kind: ErrorKind::Timeout, status: None, text: "no answer".into() },
                (0, 57..) => Outcome::Error { kind: ErrorKind::Refused, status: None, text: "refused".into() },
                _ => Outcome::Ok { status: 200 },
            };
            let latency = ms(1 + (seq * 7 + target as u64 * 3) % 11);
            let sample = Sample {
                target,
                seq,
                due,
                sent: due + Duration::from_micros(40 + seq % 5 * 10),
                done: due + latency,
                outcome: outcome.clone(),
                resent: (target, seq) == (0, 12),
                detail: detail(target, seq, &outcome),
            };
            recorder.record(&sample);
        }
    }
    let gates = [
        Gate::FailOnStatus("404".parse().unwrap()),
        Gate::MaxDowntime(Duration::ZERO),
        Gate::MaxLatency("p99=10ms".parse().unwrap()),
    ];
    recorder.close(clock.start + ms(6000));
    crate::report::build::report(
        &recorder,
        clock.start + ms(6000),
        &crate::gates::Gates::new(gates.to_vec(), false),
        crate::report::RunFacts { run_id: RUN_ID.to_string(), ..Default::default() },
    )
}

/// The scenario's run id, which its probes' request ids start with.
const RUN_ID: &str = "90d3e1a7";
/// What the wire said of probe `seq` of `target`: a new connection every tenth probe, the phase a
/// failure lay in, the peer of an answer and, for the first URL, its app version.
fn detail(target: usize, seq: u64, outcome: &Outcome) -> ProbeDetail {
    use crate::engine::detail::RequestPhase;
    let us = Duration::from_micros;
    let opened = seq.is_multiple_of(10);
    let connect = opened.then(|| us(100 + seq));
    let failed_in = match outcome {
        Outcome::Ok { .. } => None,
        Outcome::BadStatus { .. } => Some(RequestPhase::Answer),
        Outcome::Error { kind: ErrorKind::Refused, .. } => Some(RequestPhase::Connect),
        Outcome::Error { .. } => Some(RequestPhase::Ttfb),
    };
    let answered = matches!(outcome, Outcome::Ok { .. } | Outcome::BadStatus { .. });
    let ttfb = answered.then(|| us(500 + seq * 10));
    let transfer = answered.then(|| us(20));
    let version = if seq < 25 || (seq < 30 && seq.is_multiple_of(2)) { "v1" } else { "v2" };
    ProbeDetail {
        phases: [None, connect, None, ttfb, transfer],
        failed_in,
        opened: opened && failed_in != Some(RequestPhase::Connect),
        peer: answered.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080 + target as u16))),
        tracked: if target == 0 && answered { vec![Some(version.to_string())] } else { vec![None] },
        // The name's first answer, and its move halfway.
        resolved: match seq {
            0 => Some(std::sync::Arc::from([std::net::IpAddr::from([127, 0, 0, 1])])),
            50 => Some(std::sync::Arc::from([std::net::IpAddr::from([127, 0, 0, 2])])),
            _ => None,
        },
    }
}

/// The JSON of a fixed scenario, byte for byte: a change of layout or of code that should not
/// change behaviour must leave it alone. `BLIP_WRITE_GOLDEN=1` rewrites the file.
#[test]
fn the_json_report_of_a_fixed_scenario_is_unchanged() {
    let json = render(&scenario()).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/report/golden.json");
    if std::env::var_os("BLIP_WRITE_GOLDEN").is_some() {
        std::fs::write(path, &json).unwrap();
    }
    assert_eq!(json, std::fs::read_to_string(path).unwrap());
}
