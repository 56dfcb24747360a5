//! Connection lanes: whether a URL's probes reuse keep-alive connections or open a new one each.
//!
//! The two see different failures. A load balancer that stops accepting new connections while
//! it drains still answers on the connections it holds, so a reused lane stays up through an
//! outage that every new visitor sees; a fresh lane sees it, and also every failure of DNS, TCP
//! and TLS setup. `--connections both` probes each URL on both lanes, each on its own schedule
//! and with its own figures: a target of the run is a (URL, lane) pair.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How one target's probes travel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// Keep-alive connections, reused from probe to probe (blip's default).
    #[default]
    Reused,
    /// A new connection for every probe, as curl opens one.
    Fresh,
}

impl Lane {
    /// The name reports, events and request ids use.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Reused => "reused",
            Lane::Fresh => "fresh",
        }
    }

    /// A target as every output names it: the URL, with the lane beside it when `shown`.
    pub fn label(self, url: &str, shown: bool) -> String {
        if shown { format!("{url} ({self})") } else { url.to_string() }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether outputs name the lane beside the URL: when the run has more than one lane, or only
/// the non-default one, so a plain run's output keeps naming its URLs alone.
pub fn lanes_shown(lanes: &[Lane]) -> bool {
    lanes.iter().any(|lane| *lane != Lane::Reused)
}

/// One target of a run as outputs name it: its URL (password hidden), its lane, and the label
/// that stands for both wherever a target is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetName {
    pub url: String,
    pub lane: Lane,
    pub label: String,
}

/// The targets of `urls` probed on `lanes`: each URL's lanes in turn, the URLs in the order
/// given, which is the order of the schedule, the recorder and every report.
pub fn targets(urls: &[String], lanes: &[Lane]) -> Vec<TargetName> {
    let shown = lanes_shown(lanes);
    urls.iter()
        .flat_map(|url| {
            lanes.iter().map(move |&lane| TargetName { url: url.clone(), lane, label: lane.label(url, shown) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_take_each_urls_lanes_in_turn_and_name_the_lane_only_when_it_tells() {
        let urls = ["http://a/".to_string(), "http://b/".to_string()];
        let both = targets(&urls, &[Lane::Reused, Lane::Fresh]);
        let labels: Vec<&str> = both.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["http://a/ (reused)", "http://a/ (fresh)", "http://b/ (reused)", "http://b/ (fresh)"]);
        assert_eq!(targets(&urls, &[Lane::Reused])[1].label, "http://b/");
        assert_eq!(targets(&urls, &[Lane::Fresh])[0].label, "http://a/ (fresh)");
    }
}
