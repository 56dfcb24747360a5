//! The descriptor limit: raised to what the system allows before the first probe, and compared
//! with what the run may need, so that a full fd table is said at the start as blip's own
//! limit, not found later as probes that fail (which blip counts as `local_error`, never against
//! the URLs). Windows sets no such limit on sockets.

use crate::config::Config;

/// Descriptors blip holds beside its probes: the runtime, the timer, the terminal, reports,
/// the command's pipes, the metrics listener's connections.
const OWN_DESCRIPTORS: u64 = 64 + crate::live::metrics::MAX_CONNECTIONS as u64;

/// Raises the soft RLIMIT_NOFILE to the hard one, and returns a warning when even that is below
/// what `config` may need; None when it is enough (or the limit cannot be read).
#[cfg(unix)]
pub fn raise_descriptor_limit(config: &Config) -> Option<String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() { hard } else { soft };
    let needed = needed(config);
    (limit < needed).then(|| {
        format!(
            "WARNING: blip may need about {needed} file descriptors for {} targets at --rate {} and --timeout {}, \
             and may open {limit}: raise ulimit -n (probes that find no descriptor are counted as local_error, \
             and the run exits 2)",
            config.urls.len() * config.lanes.len(),
            config.rate,
            humantime::format_duration(config.timeout)
        )
    })
}

#[cfg(windows)]
pub fn raise_descriptor_limit(_: &Config) -> Option<String> {
    None
}

/// Descriptors a run may hold at once: per target, a connection for each probe in flight (at
/// most the concurrency cap, usually rate × timeout), plus blip's own.
#[cfg_attr(windows, allow(dead_code))]
fn needed(config: &Config) -> u64 {
    let in_flight = (config.rate * config.timeout.as_secs_f64()).ceil().max(1.0) as u64 + 1;
    let per_target = in_flight.min(config.concurrency as u64);
    (config.urls.len() * config.lanes.len()) as u64 * per_target + OWN_DESCRIPTORS
}
