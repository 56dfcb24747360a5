//! The final report: plain data built by the recorder, rendered by the writers beside this file.
//!
//! These structs are the JSON schema (`schema_version` 1); every field is documented in the
//! README. Field names are a public contract.

use std::collections::BTreeMap;

use serde::Serialize;

pub mod json;
pub mod text;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub blip_version: String,
    /// RFC 3339, UTC, milliseconds.
    pub started_at: String,
    pub duration_ms: f64,
    /// Probes per second per URL.
    pub rate: f64,
    /// The overall verdict.
    pub passed: bool,
    /// Things that make the figures less trustworthy, such as blip itself sending late.
    pub warnings: Vec<String>,
    pub targets: Vec<TargetReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    pub url: String,
    pub probes: u64,
    pub ok: u64,
    pub failed: u64,
    /// Answers per status code, as string keys ("200", "404").
    pub status_counts: BTreeMap<String, u64>,
    /// Failed probes per error kind, only kinds that occurred.
    pub error_counts: BTreeMap<String, u64>,
    /// Latency of successful probes from their due time; null when none succeeded.
    pub latency_ms: Option<Latency>,
    pub send_lag_ms: SendLag,
    pub downtime_ms: f64,
    pub availability: f64,
    /// Number of outage windows, including any past the detailed list's bound.
    pub outage_count: u64,
    pub outages: Vec<OutageReport>,
    /// Width of each timeline slice in seconds (1 unless the run outgrew a day).
    pub timeline_width_s: u64,
    pub timeline: Vec<TimelinePoint>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Latency {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct SendLag {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutageReport {
    pub start: String,
    pub end: String,
    pub start_offset_ms: f64,
    pub end_offset_ms: f64,
    pub duration_ms: f64,
    pub failed_probes: u64,
    /// Failed probes per status code or error kind.
    pub causes: BTreeMap<String, u64>,
    pub first_error: String,
    pub open: bool,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct TimelinePoint {
    pub offset_s: u64,
    pub ok: u64,
    pub failed: u64,
}
