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
use std::time::Duration;

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

/// Answers from one peer address, and when it answered: a load balancer's or DNS's cutover is
/// when one address stopped answering and another began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCount {
    pub address: Option<SocketAddr>,
    pub probes: u64,
    pub failed: u64,
    /// Due times of the first and the last probe it answered.
    pub first_seen: Duration,
    pub last_seen: Duration,
}

impl WireStats {
    /// Takes the detail of the probe due at `due`; `ok` says whether the probe succeeded.
    pub fn record(&mut self, detail: &ProbeDetail, ok: bool, due: Duration) {
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
                    self.peers.push(PeerCount { address: Some(peer), first_seen: due, ..PeerCount::default() });
                    self.peers.last_mut().expect("just pushed")
                }
                None => &mut self.other_peers,
            };
            if count.probes == 0 {
                count.first_seen = due;
            }
            count.probes += 1;
            count.failed += u64::from(!ok);
            // Answers are recorded as they end, so a slow one may end after a later probe's.
            count.first_seen = count.first_seen.min(due);
            count.last_seen = count.last_seen.max(due);
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
        let ms = Duration::from_millis;
        w.record(&fresh, true, ms(50));
        w.record(&ProbeDetail { opened: false, ..reused }, false, ms(100));
        // An answer that ends after a later one's is still seen from its own due time.
        w.record(&fresh, true, ms(25));
        assert_eq!(w.connections_opened, 2);
        assert_eq!(w.phase(RequestPhase::Connect).map(Histogram::len), Some(2));
        assert_eq!(w.phase(RequestPhase::Ttfb).map(Histogram::len), Some(3));
        assert!(w.phase(RequestPhase::Dns).is_none() && w.phase(RequestPhase::Tls).is_none());
        assert_eq!(
            w.peers,
            [PeerCount { address: fresh.peer, probes: 3, failed: 1, first_seen: ms(25), last_seen: ms(100) }]
        );
        for port in 2..(MAX_PEERS as u16 + 10) {
            let peer = Some(SocketAddr::from(([127, 0, 0, 1], port)));
            w.record(&ProbeDetail { peer, ..ProbeDetail::default() }, true, ms(200));
        }
        assert_eq!(w.peers.len(), MAX_PEERS);
        assert_eq!(w.other_peers.probes, 9);
    }
}
