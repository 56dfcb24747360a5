//! What the wire says about one URL beyond up and down: a histogram per request phase (dns,
//! connect, tls, ttfb, transfer), how many connections were opened, and which peer addresses
//! answered.
//!
//! Histograms are made on the first measurement of their phase, so a URL on reused connections
//! pays for no dns, connect or tls histogram, and one probed over plain http for no tls one. They
//! keep two significant digits, as the send lag does: a phase is read to the tenth of a
//! millisecond, and at three digits each histogram took 24 KiB, most of what a URL costs when
//! thousands are probed at once.
//! Peers are bounded: the first [`MAX_PEERS`] addresses are counted apart, the rest together.

use std::net::SocketAddr;

use hdrhistogram::Histogram;

use crate::analysis::recorder::{coarse_histogram, micros, record};
use crate::engine::detail::{ProbeDetail, RequestPhase};

/// Peer addresses counted apart per URL; a URL behind a large pool counts the rest as `other`.
pub const MAX_PEERS: usize = 64;

/// One URL's wire figures.
#[derive(Debug, Default)]
pub struct WireStats {
    /// One histogram per timed phase, in [`RequestPhase::TIMED`] order, in µs; `None` until the
    /// phase was first measured.
    pub phases: [Option<Histogram<u64>>; 5],
    pub connections_opened: u64,
    /// Answers per peer address, in the order the addresses first answered.
    pub peers: Vec<PeerCount>,
    /// Answers from addresses past the first [`MAX_PEERS`].
    pub other_peers: PeerCount,
}

/// Answers from one peer address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCount {
    pub address: Option<SocketAddr>,
    pub probes: u64,
    pub failed: u64,
}

impl WireStats {
    /// Takes one probe's detail; `ok` says whether the probe succeeded.
    pub fn record(&mut self, detail: &ProbeDetail, ok: bool) {
        for (slot, took) in self.phases.iter_mut().zip(detail.phases) {
            if let Some(took) = took {
                record(slot.get_or_insert_with(coarse_histogram), micros(took));
            }
        }
        self.connections_opened += u64::from(detail.opened);
        if let Some(peer) = detail.peer {
            let count = match self.peers.iter().position(|p| p.address == Some(peer)) {
                Some(i) => &mut self.peers[i],
                None if self.peers.len() < MAX_PEERS => {
                    self.peers.push(PeerCount { address: Some(peer), ..PeerCount::default() });
                    self.peers.last_mut().expect("just pushed")
                }
                None => &mut self.other_peers,
            };
            count.probes += 1;
            count.failed += u64::from(!ok);
        }
    }

    /// The histogram of `phase`, if it was measured.
    pub fn phase(&self, phase: RequestPhase) -> Option<&Histogram<u64>> {
        self.phases.get(phase.index()).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn phases_skipped_are_not_counted_and_peers_are_bounded() {
        let mut w = WireStats::default();
        let fresh = ProbeDetail {
            phases: [None, Some(Duration::from_micros(150)), None, Some(Duration::from_millis(300)), None],
            opened: true,
            peer: Some("127.0.0.1:1".parse().unwrap()),
            ..ProbeDetail::default()
        };
        let reused = ProbeDetail {
            phases: [None, None, None, Some(Duration::from_millis(2)), Some(Duration::from_micros(5))],
            ..fresh.clone()
        };
        w.record(&fresh, true);
        w.record(&ProbeDetail { opened: false, ..reused }, false);
        assert_eq!(w.connections_opened, 1);
        assert_eq!(w.phase(RequestPhase::Connect).map(Histogram::len), Some(1));
        assert_eq!(w.phase(RequestPhase::Ttfb).map(Histogram::len), Some(2));
        assert!(w.phase(RequestPhase::Dns).is_none() && w.phase(RequestPhase::Tls).is_none());
        assert_eq!(w.peers, [PeerCount { address: fresh.peer, probes: 2, failed: 1 }]);
        for port in 2..(MAX_PEERS as u16 + 10) {
            let peer = Some(SocketAddr::from(([127, 0, 0, 1], port)));
            w.record(&ProbeDetail { peer, ..ProbeDetail::default() }, true);
        }
        assert_eq!(w.peers.len(), MAX_PEERS);
        assert_eq!(w.other_peers.probes, 9);
    }
}
