//! `--expect-new`: the deploy's intent, judged. A value the warmup never saw must serve, with the
//! warmup's own values settled and within the values whose times are known; `strict` also wants
//! none of the warmup's values answering once the cooldown began. What cannot be told fails as
//! not judged, never passes.

use std::time::Duration;

use crate::analysis::judged::Judged;
use crate::analysis::tracking::{MAX_VALUES, Seen, SeenSource};
use crate::gates::{ExpectNew, Gate, Verdict};
use crate::units::secs;

/// Values named in a verdict at most; the rest are counted.
const VALUES_NAMED: usize = 4;

/// `values` as a verdict names them: `v1, v2 and 3 more`.
fn named<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let values: Vec<String> = values.map(crate::sanitize::line).collect();
    match values.len() {
        0 => "none".to_string(),
        n if n > VALUES_NAMED => format!("{} and {} more", values[..VALUES_NAMED].join(", "), n - VALUES_NAMED),
        _ => values.join(", "),
    }
}

/// What `--expect-new` says of one tracked source, and whether it holds: a value the warmup
/// never saw served, the warmup's own values had settled (no value first seen in its second
/// half: an instance id, or a random token, would make any later value look new), and the source
/// kept within the values whose times are known.
fn new_value_line(source: &SeenSource, deploy_start: Duration) -> (String, bool) {
    let name = &source.name;
    if source.other > 0 {
        return (
            format!("{name}: not judged: past {MAX_VALUES} distinct values, when the rest came is not kept"),
            false,
        );
    }
    if let Some(late) =
        source.old_values(deploy_start).filter(|s| s.first_seen * 2 > deploy_start).max_by_key(|s| s.first_seen)
    {
        return (
            format!(
                "{name}: not judged: the warmup was still finding values ({} first seen at +{}, in its second half); \
                 track a version rather than an instance, or give a longer --warmup",
                crate::sanitize::line(&late.value),
                secs(late.first_seen)
            ),
            false,
        );
    }
    let old = named(source.old_values(deploy_start).map(|s| s.value.as_str()));
    let new: Vec<&Seen> = source.new_values(deploy_start).collect();
    match new.iter().filter_map(|s| s.first_ok).min() {
        Some(first) => (
            format!(
                "{name}: new {} from +{}, warmup's {old}",
                named(new.iter().map(|s| s.value.as_str())),
                secs(first)
            ),
            true,
        ),
        None => (format!("{name}: no new value served, warmup's {old}"), false),
    }
}

/// `--expect-new`: each tracked source took a value the warmup never saw, and it served; with
/// `strict`, none of the warmup's values answered once the cooldown began. What cannot be told
/// (no deploy, no cooldown, values past the tracked bound) fails as not judged, never a pass.
pub(super) fn judge_expect_new(gate: &Gate, mode: ExpectNew, view: &Judged<'_>) -> Verdict {
    let mut v = Verdict::failed(gate);
    let intent = &view.intent;
    let Some(deploy_start) = intent.deploy_start else {
        v.observed = "not judged: the COMMAND did not start".to_string();
        return v;
    };
    if intent.sources.is_empty() {
        v.observed = "not judged: nothing tracked (--track-header or --track-body)".to_string();
        return v;
    }
    if intent.warmup_probes == 0 {
        v.observed = "not judged: the warmup probed nothing, so the old values are not known".to_string();
        return v;
    }
    let mut said = Vec::new();
    let mut failed = false;
    for source in &intent.sources {
        let (line, ok) = new_value_line(source, deploy_start);
        let mut line = line;
        failed |= !ok;
        if mode == ExpectNew::Strict {
            let lingering: Vec<&Seen> =
                source.lingering(deploy_start, intent.cooldown_start.unwrap_or(Duration::MAX)).collect();
            if let (Some(last), Some(cooldown)) = (lingering.iter().map(|s| s.last_seen).max(), intent.cooldown_start) {
                line += &format!(
                    "; {} still answered in the cooldown (last at +{}, the cooldown began at +{})",
                    named(lingering.iter().map(|s| s.value.as_str())),
                    secs(last),
                    secs(cooldown)
                );
                failed = true;
                // An answer given cannot be taken back.
                v.settled = true;
            } else if !intent.cooldown_ran {
                line += "; the warmup's values in the cooldown not judged: the cooldown did not run its length";
                failed = true;
            }
        }
        said.push(line);
    }
    v.observed = said.join("; ");
    v.passed = !failed;
    v
}
