//! The checks of a URL's windows (and a merge's), timeline, phases and histograms, its wire
//! figures (request phases, peers, DNS changes, tracked values) and its degraded spans, against
//! its probes and the run, as the rest of a saved report is checked.

use anyhow::{Context, bail};

use super::{MAX_RUN_MS, Run, SLACK_MS, at_most, keys, number, time, total, width};
use crate::report::TargetReport;
use crate::sanitize;

/// A URL's wire figures, checked against its probes and the run.
pub(super) fn wire(w: &crate::report::wire::WireReport, t: &TargetReport, run: &Run) -> anyhow::Result<()> {
    for (phase, p) in &w.phases_ms {
        for (q, x) in [("p50", p.p50), ("p90", p.p90), ("p99", p.p99), ("max", p.max)] {
            number(&format!("phases_ms.{phase}.{q}"), x, f64::MAX)?;
        }
        at_most(&format!("phases_ms.{phase}.count"), p.count, t.probes.saturating_add(t.resent), "probes and resent")?;
    }
    let mut answered = w.peers_other.probes;
    for (i, p) in w.peers.iter().enumerate() {
        if p.address.parse::<std::net::SocketAddr>().is_err() {
            bail!("peers[{i}].address `{}` is not an ip:port", sanitize::line(&p.address));
        }
        at_most(&format!("peers[{i}].failed"), p.failed, p.probes, "its probes")?;
        if p.tracked.as_ref().is_some_and(|v| v.chars().count() > crate::engine::track::VALUE_MAX) {
            bail!(
                "peers[{i}].tracked is longer than the {} characters blip keeps of a value",
                crate::engine::track::VALUE_MAX
            );
        }
        run.offset(&format!("peers[{i}].first_seen_offset_ms"), Some(p.first_seen_offset_ms))?;
        run.offset(&format!("peers[{i}].last_seen_offset_ms"), Some(p.last_seen_offset_ms))?;
        if p.first_seen_offset_ms > p.last_seen_offset_ms {
            bail!("peers[{i}].first_seen_offset_ms is after its last_seen_offset_ms");
        }
        answered = answered.checked_add(p.probes).context("peers overflow")?;
    }
    at_most("the peers' probes", answered, t.probes, "probes")?;
    at_most("peers_other.failed", w.peers_other.failed, w.peers_other.probes, "its probes")?;
    for (i, c) in w.dns_changes.iter().enumerate() {
        run.offset(&format!("dns_changes[{i}].at_ms"), Some(c.at_ms))?;
        for (field, list) in [("added", &c.added), ("removed", &c.removed)] {
            if let Some(bad) = list.iter().find(|a| a.parse::<std::net::IpAddr>().is_err()) {
                bail!("dns_changes[{i}].{field} has `{}`, which is not an IP address", sanitize::line(bad));
            }
        }
    }
    for (i, s) in w.tracked.iter().enumerate() {
        let mut distinct = std::collections::BTreeSet::new();
        for (j, v) in s.values.iter().enumerate() {
            let name = |field: &str| format!("tracked[{i}].values[{j}].{field}");
            if !distinct.insert(v.value.as_str()) {
                bail!("{} repeats a value listed before it: each value is listed once", name("value"));
            }
            // Seen from first to last; served, if at all, within that span.
            let (first, last) = (v.first_seen_offset_ms, v.last_seen_offset_ms);
            let within = |x: Option<f64>| x.is_none_or(|x| first <= x && x <= last);
            if first > last || !within(v.first_ok_offset_ms) || !within(v.last_ok_offset_ms) {
                bail!("{}: a value is first seen, served and last seen in that order", name("first_seen_offset_ms"));
            }
            if let (Some(a), Some(b)) = (v.first_ok_offset_ms, v.last_ok_offset_ms)
                && a > b
            {
                bail!("{} is after last_ok_offset_ms", name("first_ok_offset_ms"));
            }
            at_most(&name("probes"), v.probes, t.probes, "the URL's probes")?;
            at_most(&name("failed"), v.failed, v.probes, "its probes")?;
            for (field, x) in [
                ("first_seen_offset_ms", Some(v.first_seen_offset_ms)),
                ("last_seen_offset_ms", Some(v.last_seen_offset_ms)),
                ("first_ok_offset_ms", v.first_ok_offset_ms),
                ("last_ok_offset_ms", v.last_ok_offset_ms),
            ] {
                run.offset(&name(field), x)?;
            }
            width(&name("timeline_width_s"), v.timeline_width_s, run)?;
            for (k, p) in v.timeline.iter().enumerate() {
                run.offset(&name(&format!("timeline[{k}].offset_s")), Some(p.offset_s as f64 * 1000.0))?;
                at_most(&name(&format!("timeline[{k}].probes")), p.probes, v.probes, "its probes")?;
            }
        }
    }
    if let Some(c) = &w.cutover {
        for (i, v) in c.old.iter().chain(&c.new).enumerate() {
            run.signed(&format!("cutover value {i}'s at_ms"), Some(v.at_ms))?;
        }
        run.offset("cutover.overlap_ms", c.overlap_ms)?;
        run.offset("cutover.gap_ms", c.gap_ms)?;
    }
    Ok(())
}

/// A URL's degraded spans: within the run, with their kind's fields, one kind's never
/// overlapping.
pub(super) fn degraded(t: &TargetReport, run: &Run) -> anyhow::Result<()> {
    let mut ends = [0.0f64; 2];
    for (i, d) in t.degraded.iter().enumerate() {
        use crate::report::degraded::DegradedKind;
        let name = |field: &str| format!("degraded[{i}].{field}");
        run.offset(&name("start_offset_ms"), Some(d.start_offset_ms))?;
        number(&name("duration_ms"), d.duration_ms, f64::MAX)?;
        run.offset(&format!("{} + duration_ms", name("start_offset_ms")), Some(d.start_offset_ms + d.duration_ms))?;
        // Spans of one kind follow each other, never overlapping.
        let kind = d.kind as usize;
        if d.start_offset_ms < ends[kind] {
            bail!("{} overlaps the span of its kind before it", name("start_offset_ms"));
        }
        ends[kind] = d.start_offset_ms + d.duration_ms;
        if d.phase.is_some() && t.phases.is_none() {
            bail!("{} names a phase, but the run wrapped no COMMAND", name("phase"));
        }
        let failing = d.kind == DegradedKind::Failing;
        let given = |x: bool| if failing { !x } else { x };
        if given(d.failed_share.is_some() || d.windows > 0 || !d.causes.is_empty())
            || !given(d.p50_ms.is_some() || d.max_ms.is_some() || d.limit_ms.is_some())
        {
            bail!("{}: a failing span has a share, windows and causes; a slow one latencies and a limit", name("kind"));
        }
        if let Some(share) = d.failed_share {
            number(&name("failed_share"), share, 1.0)?;
        }
        // A latency is no longer than the run it was measured in.
        for (field, x) in [("p50_ms", d.p50_ms), ("max_ms", d.max_ms), ("limit_ms", d.limit_ms)] {
            number(&name(field), x.unwrap_or(0.0), MAX_RUN_MS)?;
        }
        if d.p50_ms > d.max_ms {
            bail!("{} is above its max_ms", name("p50_ms"));
        }
        at_most(&name("windows"), d.windows, t.outage_count, "outage_count")?;
        keys(&name("causes"), &d.causes, |k| crate::offline::view::cause(k).is_some())?;
        at_most(
            &format!("the sum of {}", name("causes")),
            total(&name("causes"), d.causes.values())?,
            t.failed,
            "failed",
        )?;
    }
    Ok(())
}

/// An outage window's times, checked: they parse, and their offsets lie within the run in order.
pub(super) fn window(
    name: &dyn Fn(&str) -> String,
    (start, end): (&str, &str),
    (start_ms, end_ms, duration): (f64, f64, f64),
    run: &Run,
) -> anyhow::Result<()> {
    time(&name("start"), start)?;
    time(&name("end"), end)?;
    run.offset(&name("start_offset_ms"), Some(start_ms))?;
    run.offset(&name("end_offset_ms"), Some(end_ms))?;
    run.offset(&name("duration_ms"), Some(duration))?;
    if start_ms > end_ms || (end_ms - start_ms - duration).abs() > SLACK_MS {
        bail!("{} ({duration}) is not its end_offset_ms less its start_offset_ms", name("duration_ms"));
    }
    Ok(())
}

/// A histogram, if any, checked: it decodes within its bound and holds at most `ok` values.
pub(super) fn histogram(name: &str, text: Option<&str>, ok: u64) -> anyhow::Result<()> {
    let Some(text) = text else { return Ok(()) };
    let h = crate::report::histogram::decode(text)
        .map_err(|e| anyhow::anyhow!("{name} is not a serialized HdrHistogram ({e})"))?;
    at_most(&format!("{name}'s count"), h.len(), ok, "ok")
}

/// A URL's outage windows: each within the run, its failed probes and causes within the URL's.
pub(super) fn outages(t: &TargetReport, run: &Run) -> anyhow::Result<()> {
    let mut in_outages = 0u64;
    for (i, o) in t.outages.iter().enumerate() {
        let name = |field: &str| format!("outages[{i}].{field}");
        window(&name, (&o.start, &o.end), (o.start_offset_ms, o.end_offset_ms, o.duration_ms), run)?;
        at_most(&name("failed_probes"), o.failed_probes, t.failed, "failed")?;
        in_outages = in_outages.checked_add(o.failed_probes).context("outages' failed_probes overflow")?;
        keys(&name("causes"), &o.causes, |k| crate::offline::view::cause(k).is_some())?;
        at_most(
            &format!("the sum of {}", name("causes")),
            total(&name("causes"), o.causes.values())?,
            o.failed_probes,
            "its failed_probes",
        )?;
        at_most(
            &format!("the sum of {}", name("failed_in")),
            total(&name("failed_in"), o.failed_in.values())?,
            o.failed_probes,
            "its failed_probes",
        )?;
    }
    at_most("the sum of outages' failed_probes", in_outages, t.failed, "failed")?;
    Ok(())
}

/// A merge's windows seen by all and by some: each within the run, with known causes.
pub(super) fn merged_windows(t: &TargetReport, run: &Run) -> anyhow::Result<()> {
    for (list, windows) in [("windows_all", &t.windows_all), ("windows_some", &t.windows_some)] {
        for (i, w) in windows.iter().flatten().enumerate() {
            let name = |field: &str| format!("{list}[{i}].{field}");
            window(&name, (&w.start, &w.end), (w.start_offset_ms, w.end_offset_ms, w.duration_ms), run)?;
            run.offset(&name("overlap_ms"), Some(w.overlap_ms))?;
            keys(&name("causes"), &w.causes, |k| crate::offline::view::cause(k).is_some())?;
        }
    }
    Ok(())
}

/// A URL's timeline: every slice from the start, each `timeline_width_s` wide, summing to the
/// URL's ok and failed.
pub(super) fn timeline(t: &TargetReport, run: &Run) -> anyhow::Result<()> {
    let (mut ok, mut failed) = (0u64, 0u64);
    for (i, p) in t.timeline.iter().enumerate() {
        // Slices are listed from the start of the run, every one, each `timeline_width_s` wide.
        if (i as u64).checked_mul(t.timeline_width_s) != Some(p.offset_s) {
            bail!("timeline[{i}].offset_s ({}) is not slice {i} of {} s", p.offset_s, t.timeline_width_s);
        }
        run.offset(&format!("timeline[{i}].offset_s"), Some(p.offset_s as f64 * 1000.0))?;
        ok = ok.checked_add(p.ok).context("timeline overflow")?;
        failed = failed.checked_add(p.failed).context("timeline overflow")?;
        for (q, x) in [("p50_ms", p.p50_ms), ("p99_ms", p.p99_ms)] {
            number(&format!("timeline[{i}].{q}"), x.unwrap_or(0.0), f64::MAX)?;
        }
    }
    if (ok, failed) != (t.ok, t.failed) {
        bail!("the timeline's ok and failed ({ok}, {failed}) are not the URL's ({}, {})", t.ok, t.failed);
    }
    Ok(())
}

/// A URL's phases of a wrapped deploy: each within the run and within the URL's own figures.
pub(super) fn phases(t: &TargetReport, run: &Run) -> anyhow::Result<()> {
    for (phase, p) in t.phases.iter().flatten() {
        let name = |field: &str| format!("phases.{phase}.{field}");
        run.offset(&name("start_offset_ms"), Some(p.start_offset_ms))?;
        run.offset(&name("end_offset_ms"), Some(p.end_offset_ms))?;
        if p.start_offset_ms > p.end_offset_ms {
            bail!("{} is before its start_offset_ms", name("end_offset_ms"));
        }
        if p.ok.checked_add(p.failed) != Some(p.probes) {
            bail!("{}: ok + failed is not probes", name(""));
        }
        at_most(&name("ok"), p.ok, t.ok, "the URL's ok")?;
        at_most(&name("failed"), p.failed, t.failed, "the URL's failed")?;
        if p.downtime_ms > t.downtime_ms + SLACK_MS {
            bail!("{} ({}) is more than the URL's downtime_ms", name("downtime_ms"), p.downtime_ms);
        }
        run.offset(&name("downtime_ms"), Some(p.downtime_ms))?;
        if let Some(l) = &p.latency_ms {
            for (q, x) in [("p50", l.p50), ("p99", l.p99), ("max", l.max)] {
                number(&name(&format!("latency_ms.{q}")), x, f64::MAX)?;
            }
        }
        histogram(&name("latency_histogram"), p.latency_histogram.as_deref(), p.ok)?;
    }
    if let Some(phases) = &t.phases {
        at_most(
            "the phases' probes",
            total("phases' probes", phases.values().map(|p| &p.probes))?,
            t.probes,
            "probes",
        )?;
    }
    Ok(())
}
