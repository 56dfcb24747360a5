//! Request phases and who answered: timings per phase against servers with known delays, the
//! phase each failure lies in, connections opened, and peer addresses.

use std::time::Duration;

use crate::support::blip_json;
use crate::support::server::{Mode, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_late_first_byte_is_ttfb_not_connect() {
    let server = TestServer::start().await;
    server.set(Mode::Delay(Duration::from_millis(300)));
    let report = blip_json(&["-r", "10", "-d", "1s", "-t", "2s", "--measure-only", &server.url("/")], 0).await;
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(t.ok, t.probes, "{t:#?}");
    let ttfb = &t.phases_ms["ttfb"];
    assert!(ttfb.p50 >= 300.0, "the server waited 300 ms before its first byte: {ttfb:?}");
    assert_eq!(ttfb.count, t.probes);
    let connect = &t.phases_ms["connect"];
    assert!(connect.max < 300.0, "connecting is not where the time went: {connect:?}");
    assert_eq!(connect.count, t.connections_opened);
    assert!(!t.phases_ms.contains_key("dns"), "an IP address is not looked up: {:?}", t.phases_ms);
    assert!(!t.phases_ms.contains_key("tls"), "http has no handshake");
    assert_eq!(t.phases_ms["transfer"].count, t.probes);
    assert_eq!(t.peers.len(), 1);
    assert_eq!((t.peers[0].address.as_str(), t.peers[0].probes), (server.addr.to_string().as_str(), t.probes));
}

#[tokio::test(flavor = "multi_thread")]
async fn reused_connections_skip_connect_and_fresh_ones_do_not() {
    let server = TestServer::start().await;
    let url = server.url("/");
    let (reused, fresh) = tokio::join!(
        blip_json(&["-r", "50", "-d", "1s", "--measure-only", &url], 0),
        blip_json(&["-r", "50", "-d", "1s", "--measure-only", "--fresh-connections", &url], 0),
    );
    let t = &reused.targets[0];
    t.check_consistency();
    assert!(t.connections_opened >= 1 && t.connections_opened < t.probes / 2, "{t:#?}");
    assert_eq!(t.phases_ms["connect"].count, t.connections_opened, "connect is absent, not zero, on reuse");
    assert_eq!(t.phases_ms["ttfb"].count, t.probes);
    let f = &fresh.targets[0];
    assert_eq!(f.connections_opened, f.probes);
    assert_eq!(f.phases_ms["connect"].count, f.probes);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_outage_says_in_which_phase_its_probes_failed() {
    let server = TestServer::start().await;
    let rate = 50.0;
    let url = server.url("/");
    let run = blip_json(&["-r", "50", "-d", "2400ms", "-t", "100ms", "--measure-only", &url], 0);
    let inject = async {
        server.inject(Duration::from_millis(300), Mode::Refused, Duration::from_millis(400)).await;
        server.inject(Duration::from_millis(300), Mode::Stall, Duration::from_millis(400)).await;
        server.inject(Duration::from_millis(300), Mode::Status(404, "gone"), Duration::from_millis(400)).await;
    };
    let (report, ()) = tokio::join!(run, inject);
    let t = &report.targets[0];
    t.check_consistency();
    // A window may merge with its neighbour when a stalled probe's timeout spans the switch; the
    // phases still tell the faults apart.
    let mut failed_in = std::collections::BTreeMap::new();
    for o in &t.outages {
        for (phase, n) in &o.failed_in {
            *failed_in.entry(phase.as_str()).or_insert(0) += n;
        }
    }
    let window = |ms: f64| (ms * rate / 1000.0).round() as u64;
    for (phase, cause) in [("connect", "refused"), ("ttfb", "timeout"), ("answer", "404")] {
        let n = failed_in.get(phase).copied().unwrap_or(0);
        let caused: u64 = t.outages.iter().filter_map(|o| o.causes.get(cause)).sum();
        assert_eq!(n, caused, "{phase}: {failed_in:?} {:?}", t.outages);
        // 400 ms of each fault at one probe per 20 ms, give or take the probe at either edge.
        assert!(n.abs_diff(window(400.0)) <= 2, "{phase} {n}");
    }
    assert_eq!(failed_in.len(), 3, "{failed_in:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_proxy_only_ttfb_and_transfer_are_timed() {
    // The test server answers any request, so it serves as the proxy too.
    let server = TestServer::start().await;
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "20", "-d", "500ms", "--json", "-", "http://notes.blip-proxy-test.invalid/"])
        .env("HTTP_PROXY", format!("http://{}", server.addr))
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::check_schema(&json);
    let report: crate::support::Report = serde_json::from_value(json).unwrap();
    let t = &report.targets[0];
    t.check_consistency();
    assert_eq!(server.requests(), t.probes);
    assert_eq!(t.phases_ms.keys().map(String::as_str).collect::<Vec<_>>(), ["transfer", "ttfb"], "{:?}", t.phases_ms);
    assert_eq!(t.phases_ms["ttfb"].count, t.probes);
    assert_eq!(t.connections_opened, 1, "one kept-alive connection to the proxy");
    assert_eq!(t.peers[0].address, server.addr.to_string(), "the proxy is who answered");
}
