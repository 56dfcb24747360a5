//! A URL's detail for the dashboard view's tests.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::analysis::outage::Window;
use crate::analysis::snapshot::{Quantiles, TargetDetail};
use crate::analysis::timeline::Slice;
use crate::engine::sample::{Cause, ErrorKind};

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
    }
}
