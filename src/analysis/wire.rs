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

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::analysis::histogram::{self, micros, record};
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
    /// Per entry of `peers`, the tracked value it last answered with: which version stood
    /// behind each address.
    pub peer_values: PeerValues,
    /// Answers from addresses past the first [`MAX_PEERS`].
    pub other_peers: PeerCount,
    /// What the URL's name resolved to, and when that changed.
    pub dns: DnsChanges,
}

/// DNS changes kept per URL; a name whose answer changes on every lookup (a round-robin pool
/// of more addresses than it returns) counts the rest.
pub const MAX_DNS_CHANGES: usize = 64;

/// The answers of a URL's name lookups: the first, then each that differed from the one
/// before, with the due time of the probe whose lookup gave it.
#[derive(Debug, Default)]
pub struct DnsChanges {
    /// The answer most recently recorded, sorted.
    last: Vec<IpAddr>,
    pub changes: Vec<DnsChange>,
    /// Changes past the first [`MAX_DNS_CHANGES`].
    pub more: u64,
}

/// One answer unlike the one before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsChange {
    pub at: Duration,
    pub added: Vec<IpAddr>,
    pub removed: Vec<IpAddr>,
}

impl DnsChanges {
    /// The lookup of the probe due at `due` answered `addrs`, sorted. Probes end out of order,
    /// so the answer is compared with the last one recorded, not the client's.
    fn record(&mut self, due: Duration, addrs: &[IpAddr]) {
        if self.last == addrs {
            return;
        }
        if self.changes.len() >= MAX_DNS_CHANGES {
            self.more += 1;
        } else {
            let added = addrs.iter().filter(|a| !self.last.contains(a)).copied().collect();
            let removed = self.last.iter().filter(|a| !addrs.contains(a)).copied().collect();
            self.changes.push(DnsChange { at: due, added, removed });
        }
        self.last = addrs.to_vec();
    }
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

/// The value of the first tracked source (`--track-header`, `--track-body`) in each peer's
/// latest answer that carried one, kept beside [`WireStats::peers`] so the counts stay `Copy`.
pub type PeerValues = Vec<Option<String>>;

impl WireStats {
    /// Takes the detail of the probe due at `due`; `ok` says whether the probe succeeded.
    pub fn record(&mut self, detail: &ProbeDetail, ok: bool, due: Duration) {
        for (slot, took) in self.phases.iter_mut().zip(detail.phases) {
            if let Some(took) = took {
                record(slot.get_or_insert_with(histogram::coarse), micros(took));
            }
        }
        self.connections_opened += u64::from(detail.opened);
        if let Some(peer) = detail.peer {
            let known = self.peers.iter().position(|p| p.address == Some(peer));
            let index = match known {
                Some(i) => Some(i),
                None if self.peers.len() < MAX_PEERS => {
                    self.peers.push(PeerCount { address: Some(peer), first_seen: due, ..PeerCount::default() });
                    self.peer_values.push(None);
                    Some(self.peers.len() - 1)
                }
                None => None,
            };
            if let (Some(i), Some(Some(value))) = (index, detail.tracked.first()) {
                // Copied only when it changed: most answers carry the value the one before did.
                if self.peer_values[i].as_deref() != Some(value.as_str()) {
                    self.peer_values[i] = Some(value.clone());
                }
            }
            let count = match index {
                Some(i) => &mut self.peers[i],
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
        if let Some(addrs) = &detail.resolved {
            self.dns.record(due, addrs);
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
        assert_eq!(w.peer_values, [None]);
        w.record(&ProbeDetail { tracked: vec![Some("v2".into())], ..fresh.clone() }, true, ms(120));
        w.record(&ProbeDetail { tracked: vec![None], ..fresh.clone() }, true, ms(140));
        assert_eq!(w.peer_values, [Some("v2".to_string())], "the latest value carried");
        for port in 2..(MAX_PEERS as u16 + 10) {
            let peer = Some(SocketAddr::from(([127, 0, 0, 1], port)));
            w.record(&ProbeDetail { peer, ..ProbeDetail::default() }, true, ms(200));
        }
        assert_eq!(w.peers.len(), MAX_PEERS);
        assert_eq!(w.other_peers.probes, 9);
    }

    #[test]
    fn each_answer_unlike_the_one_before_is_a_change() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (a, b) = (ip("127.0.0.2"), ip("127.0.0.3"));
        let mut dns = DnsChanges::default();
        let ms = Duration::from_millis;
        dns.record(ms(0), &[a]);
        dns.record(ms(10), &[a]);
        dns.record(ms(20), &[a, b]);
        dns.record(ms(30), &[b]);
        let change = |at, added: &[IpAddr], removed: &[IpAddr]| DnsChange {
            at: ms(at),
            added: added.to_vec(),
            removed: removed.to_vec(),
        };
        assert_eq!(dns.changes, [change(0, &[a], &[]), change(20, &[b], &[]), change(30, &[], &[a])]);
        for i in 0..100u64 {
            let answer = if i % 2 == 0 { [a] } else { [b] };
            dns.record(ms(40 + i), &answer);
        }
        assert_eq!(dns.changes.len(), MAX_DNS_CHANGES);
        assert_eq!(dns.more, 100 - (MAX_DNS_CHANGES as u64 - 3));
    }
}
