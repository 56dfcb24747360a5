//! The report's view of what the wire said about a URL: request phase timings, connections
//! opened, peers, tracked values and the cutover around a deploy. The model (flattened into each
//! URL's object), how it is built from the recorder, and the lines the text and Markdown writers
//! show for it, all in one place so the rest of the report only calls in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::analysis::outage::Window;
use crate::analysis::recorder::TargetRecorder;
use crate::analysis::tracking::{Counted, Cutover, Handover, Source};
use crate::engine::detail::RequestPhase;
use crate::sanitize;
use crate::units::{latency, millis, secs_ms, us_to_ms};

/// A URL's wire figures, flattened into its object in `targets[]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
// A report written before these fields existed reads as having none.
#[serde(default)]
pub struct WireReport {
    /// Per request phase (`dns`, `connect`, `tls`, `ttfb`, `transfer`), of every probe that went
    /// through it, failed or not. A phase never measured is absent: a reused connection skips
    /// dns, connect and tls; an IP address needs no dns; http has no tls; through a proxy only
    /// ttfb (including connecting) and transfer are timed.
    pub phases_ms: BTreeMap<RequestPhase, PhaseTiming>,
    /// Connections blip opened to probe this URL (TCP connections established).
    pub connections_opened: u64,
    /// Answers per peer address, in the order the addresses first answered (the first 64).
    pub peers: Vec<PeerReport>,
    /// Answers from peer addresses past the first 64.
    pub peers_other: ProbeCount,
    /// What the URL's name resolved to: its first answer, then each that differed from the one
    /// before (the first 64), from the lookups of new connections (every probe on the fresh
    /// lane). Empty for an address, a `--resolve`d name, or through a proxy.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub dns_changes: Vec<DnsChangeReport>,
    /// Changes past the first 64.
    pub dns_changes_more: u64,
    /// One entry per `--track-header` and `--track-body`, in that order.
    pub tracked: Vec<TrackedReport>,
    /// Who served before the deploy and who after, by the first tracked value; null without a
    /// wrapped COMMAND or without tracking.
    pub cutover: Option<CutoverReport>,
}

/// Quantiles of one request phase, in milliseconds, and how many probes went through it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PhaseTiming {
    /// The median time the phase took, ms.
    pub p50: f64,
    /// The 90th percentile, ms.
    pub p90: f64,
    /// The 99th percentile, ms.
    pub p99: f64,
    /// The longest, ms, as its histogram bucket's top (up to 0.05 % above the exact value).
    pub max: f64,
    /// Probes that went through the phase (a reused connection skips the connect and TLS phases).
    pub count: u64,
}

/// Answers from one peer address.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PeerReport {
    /// `ip:port`.
    pub address: String,
    /// Probes this address answered.
    pub probes: u64,
    /// Answers from it that were judged failed.
    pub failed: u64,
    /// Due time of the first probe it answered, from the start of the run, ms (0 in a saved
    /// report that does not have it).
    #[serde(default)]
    pub first_seen_offset_ms: f64,
    /// Due time of the last probe it answered: with `first_seen_offset_ms`, when traffic went to
    /// it, so a load balancer's or DNS's cutover shows as one address's end and another's start.
    #[serde(default)]
    pub last_seen_offset_ms: f64,
    /// The first tracked source's value (`--track-header`, `--track-body`) in its latest answer
    /// that carried one: which version stood behind the address. Null without tracking, or when
    /// no answer from it carried the value.
    #[serde(default)]
    pub tracked: Option<String>,
}

/// A lookup's answer unlike the one before it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DnsChangeReport {
    /// Due time of the probe whose lookup gave it, from the start of the run, ms.
    pub at_ms: f64,
    /// Addresses in this answer and not in the one before (all of them in the first).
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub added: Vec<String>,
    /// Addresses in the answer before and not in this one.
    #[serde(deserialize_with = "crate::report::bounded::vec::<_, _, 65_536>")]
    pub removed: Vec<String>,
}

/// Probes, and those of them that failed.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ProbeCount {
    /// Probes counted here.
    pub probes: u64,
    /// Of them, the ones judged failed.
    pub failed: u64,
}

/// The values one tracked header or body pattern took.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TrackedReport {
    /// `header x-app-version` or `body <regex>`.
    pub source: String,
    /// The first 64 distinct values, in the order they were first seen.
    pub values: Vec<TrackedValue>,
    /// Answers carrying a value past the first 64.
    pub other: ProbeCount,
    /// Answers that did not carry it (no such header, no match).
    pub missing: ProbeCount,
}

/// One distinct value: offsets are due times from the start of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TrackedValue {
    /// Control characters removed, at most 128 characters.
    pub value: String,
    /// Answers that carried it, and of them the ones judged failed.
    pub probes: u64,
    /// Of those answers, the ones judged failed.
    pub failed: u64,
    /// Due time of the first answer that carried it, ms from the start of the run.
    pub first_seen_offset_ms: f64,
    /// Due time of the last answer that carried it, ms from the start of the run.
    pub last_seen_offset_ms: f64,
    /// First and last successful probe that carried it; null when none succeeded.
    pub first_ok_offset_ms: Option<f64>,
    /// Due time of the last successful probe that carried it, ms from the start of the run;
    /// null when none succeeded.
    pub last_ok_offset_ms: Option<f64>,
    /// Width of each timeline slice in seconds (1 unless the run outgrew a day).
    pub timeline_width_s: u64,
    /// Answers carrying it per slice, only slices with any.
    pub timeline: Vec<TrackedPoint>,
}

/// Answers carrying one value in one slice of the run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TrackedPoint {
    /// Start of the slice, seconds from the start of the run (a multiple of `timeline_width_s`).
    pub offset_s: u64,
    /// Answers in the slice that carried the value.
    pub probes: u64,
}

/// The cutover, in milliseconds from the start of the deploy command (negative: before it).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct CutoverReport {
    /// The tracked source it is judged by.
    pub source: String,
    /// Values that served before the deploy, and when each last served.
    pub old: Vec<CutoverValue>,
    /// Values first served after the deploy started, and when each first served.
    pub new: Vec<CutoverValue>,
    /// Old and new both served for this long (blue-green); null otherwise.
    pub overlap_ms: Option<f64>,
    /// Nothing old or new served for this long and probes between failed (a restart); null
    /// otherwise: a clean switch between two adjacent probes is no gap.
    pub gap_ms: Option<f64>,
    /// Probes that failed between the last old answer and the first new one.
    #[serde(default)]
    pub failed_between: u64,
}

/// A tracked value on one side of the cutover.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct CutoverValue {
    /// The value, as `tracked` lists it.
    pub value: String,
    /// Last successful answer (old values) or first one (new values), from the deploy's start.
    pub at_ms: f64,
}

/// The wire figures of one URL; `deploy_start` is when the wrapped command started, if one did.
pub fn wire_report(t: &TargetRecorder, deploy_start: Option<Duration>) -> WireReport {
    let w = &t.wire;
    let phases_ms = RequestPhase::TIMED
        .iter()
        .filter_map(|&phase| w.phase(phase).filter(|h| !h.is_empty()).map(|h| (phase, phase_timing(h))))
        .collect();
    let peers = w
        .peers
        .iter()
        .zip(&w.peer_values)
        .filter_map(|(p, value)| {
            Some(PeerReport {
                address: p.address?.to_string(),
                probes: p.probes,
                failed: p.failed,
                first_seen_offset_ms: millis(p.first_seen),
                last_seen_offset_ms: millis(p.last_seen),
                tracked: value.clone(),
            })
        })
        .collect();
    let tracked = t.tracking.sources.iter().map(tracked_report).collect();
    let cutover = deploy_start
        .zip(t.tracking.sources.first())
        .map(|(start, source)| cutover_report(source, start, t.detector.windows()));
    WireReport {
        phases_ms,
        connections_opened: w.connections_opened,
        peers,
        peers_other: ProbeCount { probes: w.other_peers.probes, failed: w.other_peers.failed },
        dns_changes: w
            .dns
            .changes
            .iter()
            .map(|c| DnsChangeReport {
                at_ms: millis(c.at),
                added: c.added.iter().map(ToString::to_string).collect(),
                removed: c.removed.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        dns_changes_more: w.dns.more,
        tracked,
        cutover,
    }
}

/// A window's failed probes per request phase, only phases with any.
pub fn failed_in(w: &Window) -> BTreeMap<RequestPhase, u64> {
    RequestPhase::ALL.iter().filter(|p| w.failed_in[p.index()] > 0).map(|p| (*p, w.failed_in[p.index()])).collect()
}

fn phase_timing(h: &Histogram<u64>) -> PhaseTiming {
    PhaseTiming {
        p50: us_to_ms(h.value_at_quantile(0.5)),
        p90: us_to_ms(h.value_at_quantile(0.9)),
        p99: us_to_ms(h.value_at_quantile(0.99)),
        max: us_to_ms(h.max()),
        count: h.len(),
    }
}

fn count(c: Counted) -> ProbeCount {
    ProbeCount { probes: c.probes, failed: c.failed }
}

fn tracked_report(source: &Source) -> TrackedReport {
    let values = source
        .values
        .iter()
        .map(|v| TrackedValue {
            value: v.value.clone(),
            probes: v.counted.probes,
            failed: v.counted.failed,
            first_seen_offset_ms: millis(v.first_seen),
            last_seen_offset_ms: millis(v.last_seen),
            first_ok_offset_ms: v.first_ok.map(millis),
            last_ok_offset_ms: v.last_ok.map(millis),
            timeline_width_s: v.per_slice.width_s(),
            timeline: v.per_slice.slices().map(|(offset_s, probes)| TrackedPoint { offset_s, probes }).collect(),
        })
        .collect();
    TrackedReport { source: source.name.clone(), values, other: count(source.other), missing: count(source.missing) }
}

fn cutover_report(source: &Source, deploy_start: Duration, windows: &[Window]) -> CutoverReport {
    from_cutover(&source.name, &source.cutover(deploy_start, windows), deploy_start)
}

/// The cutover line of a run still going on (the dashboard's), as the summary will write it.
pub fn live_cutover_line(cutover: &Cutover, deploy_start: Duration) -> String {
    cutover_line(&from_cutover("", cutover, deploy_start))
}

fn from_cutover(source: &str, cutover: &Cutover, deploy_start: Duration) -> CutoverReport {
    // Rounded to the microsecond, as every other offset of the report.
    let since = |at: Duration| ((millis(at) - millis(deploy_start)) * 1000.0).round() / 1000.0;
    let values = |list: &[(String, Duration)]| {
        list.iter().map(|(value, at)| CutoverValue { value: value.clone(), at_ms: since(*at) }).collect()
    };
    let handover = cutover.handover();
    CutoverReport {
        source: source.to_string(),
        old: values(&cutover.old),
        new: values(&cutover.new),
        overlap_ms: match handover {
            Some(Handover::Overlap(d)) => Some(millis(d)),
            _ => None,
        },
        gap_ms: match handover {
            Some(Handover::Gap(d)) => Some(millis(d)),
            _ => None,
        },
        failed_between: cutover.failed_between,
    }
}

/// An offset from the deploy's start as text: `+2.410 s`, `-0.100 s`.
fn signed(ms: f64) -> String {
    if ms < 0.0 { format!("-{}", secs_ms(-ms)) } else { format!("+{}", secs_ms(ms)) }
}

/// The cutover in one line: `v1 until +2.410 s, v2 from +2.100 s, overlap 0.310 s`.
pub fn cutover_line(c: &CutoverReport) -> String {
    let mut parts: Vec<String> =
        c.old.iter().map(|v| format!("{} until {}", sanitize::line(&v.value), signed(v.at_ms))).collect();
    parts.extend(c.new.iter().map(|v| format!("{} from {}", sanitize::line(&v.value), signed(v.at_ms))));
    match (c.overlap_ms, c.gap_ms) {
        (Some(overlap), _) => parts.push(format!("overlap {}", secs_ms(overlap))),
        (_, Some(gap)) => parts.push(format!("gap {} ({} probes failed between)", secs_ms(gap), c.failed_between)),
        _ if !c.old.is_empty() && !c.new.is_empty() => {
            return format!("{}: switched between two probes, none failed", parts.join(", "));
        }
        _ if c.new.is_empty() => parts.push("no new value answered".to_string()),
        _ => {}
    }
    if parts.is_empty() {
        return "no value answered".to_string();
    }
    parts.join(", ")
}

/// A window's phases as text: `connect ×12  ttfb ×3`.
pub fn failed_in_text(failed_in: &BTreeMap<RequestPhase, u64>) -> String {
    failed_in.iter().map(|(p, n)| format!("{p} ×{n}")).collect::<Vec<_>>().join("  ")
}

/// The text summary's lines for a URL's wire figures.
pub fn render_text(out: &mut String, w: &WireReport) {
    if !w.phases_ms.is_empty() {
        let phases: Vec<String> = w
            .phases_ms
            .iter()
            .map(|(phase, p)| format!("{phase} p50 {} p99 {}", latency(p.p50), latency(p.p99)))
            .collect();
        let opened = w.connections_opened;
        let plural = if opened == 1 { "" } else { "s" };
        let _ = writeln!(out, "  timing     {}  ({opened} connection{plural} opened)", phases.join("  "));
    }
    if !w.peers.is_empty() {
        // With more than one address, when each answered: where a cutover sent the traffic.
        let spans = w.peers.len() > 1;
        let mut peers: Vec<String> = w
            .peers
            .iter()
            .take(4)
            .map(|p| {
                let span = if spans {
                    format!(" (+{} → +{})", secs_ms(p.first_seen_offset_ms), secs_ms(p.last_seen_offset_ms))
                } else {
                    String::new()
                };
                let value = p.tracked.as_deref().map(|v| format!(" {}", sanitize::line(v))).unwrap_or_default();
                format!("{}{value} ×{}{span}", sanitize::line(&p.address), p.probes)
            })
            .collect();
        let more = w.peers.len().saturating_sub(4);
        if more > 0 || w.peers_other.probes > 0 {
            peers.push(format!("and {} more", more as u64 + u64::from(w.peers_other.probes > 0)));
        }
        let _ = writeln!(out, "  peers      {}", peers.join("  "));
    }
    // The first answer alone is no change: shown only once the name's answer moved.
    if w.dns_changes.len() > 1 || w.dns_changes_more > 0 {
        let mut changes: Vec<String> = w
            .dns_changes
            .iter()
            .take(6)
            .map(|c| {
                let added = c.added.iter().map(|a| format!("+{}", sanitize::line(a)));
                let removed = c.removed.iter().map(|a| format!("-{}", sanitize::line(a)));
                format!("+{} {}", secs_ms(c.at_ms), added.chain(removed).collect::<Vec<_>>().join(" "))
            })
            .collect();
        let more = w.dns_changes.len().saturating_sub(6) as u64 + w.dns_changes_more;
        if more > 0 {
            changes.push(format!("and {more} more"));
        }
        let _ = writeln!(out, "  dns        {}", changes.join(", "));
    }
    for t in &w.tracked {
        let mut values: Vec<String> = t
            .values
            .iter()
            .take(8)
            .map(|v| {
                format!(
                    "{} ×{} (+{} → +{})",
                    sanitize::line(&v.value),
                    v.probes,
                    secs_ms(v.first_seen_offset_ms),
                    secs_ms(v.last_seen_offset_ms)
                )
            })
            .collect();
        if t.values.len() > 8 || t.other.probes > 0 {
            values.push(format!("… {} more values", t.values.len().saturating_sub(8) as u64 + t.other.probes.min(1)));
        }
        if t.missing.probes > 0 {
            values.push(format!("without ×{}", t.missing.probes));
        }
        let values = if values.is_empty() { "no answer carried it".to_string() } else { values.join(", ") };
        let _ = writeln!(out, "  answered   {}: {values}", sanitize::line(&t.source));
    }
    if let Some(c) = &w.cutover {
        let _ = writeln!(out, "  cutover    {}", cutover_line(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_between_two_probes_is_no_gap_and_a_hole_is() {
        let value = |value: &str, at_ms| CutoverValue { value: value.into(), at_ms };
        let mut c = CutoverReport {
            source: "header x-app-version".into(),
            old: vec![value("v1", 639.0)],
            new: vec![value("v2", 649.0)],
            overlap_ms: None,
            gap_ms: None,
            failed_between: 0,
        };
        assert_eq!(cutover_line(&c), "v1 until +0.639 s, v2 from +0.649 s: switched between two probes, none failed");
        (c.gap_ms, c.failed_between) = (Some(1520.0), 75);
        assert_eq!(cutover_line(&c), "v1 until +0.639 s, v2 from +0.649 s, gap 1.520 s (75 probes failed between)");
    }
}
