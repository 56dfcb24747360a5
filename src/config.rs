//! Validation: turns the parsed command line into one typed [`Config`], in one place.
//!
//! Every error here names the input that is wrong and the flag that fixes it; the caller maps
//! any of them to exit code 2 before a single probe is sent.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{CONNECTION, CONTENT_LENGTH, HOST, HeaderMap, HeaderName, TRANSFER_ENCODING};

use crate::cli::{Connections, DeployArgs, GateArgs, HookArgs, OutputArgs, ProbeArgs};
use crate::engine::lane::{Lane, TargetName};
use crate::gates::{ExpectNew, Gate, GatePhases, Gates};

mod output;
mod request;
mod urls;
use request::{parse_headers, read_body};
use urls::{add_credentials, parse_url, routes};

pub use crate::engine::request::{Expect, RequestIds, RequestSpec};

pub use output::{COLOR_CI, Destination, Output, Reports, UiMode, same_file, saved_reports, use_color};

/// Probes per second per URL when `--rate` is not given.
pub const DEFAULT_RATE: f64 = 20.0;
/// Deadline of one probe when `--timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Probing before a wrapped command starts, when `--warmup` is not given.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(2);
/// Probing after a wrapped command exits, when `--cooldown` is not given.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);
/// A wrapped command that succeeds sooner is warned about, when `--min-deploy` is not given:
/// `kubectl apply` and `helm upgrade` without a wait return in well under a second.
pub const DEFAULT_MIN_DEPLOY: Duration = Duration::from_secs(2);

/// A configuration error: the message names the flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn bad(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// Everything a run needs, checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub urls: Vec<Url>,
    /// The lanes each URL is probed on (`--connections`), reused before fresh.
    pub lanes: Vec<Lane>,
    /// A short random id of this run, in the report as `run_id` and in every request id.
    pub run_id: String,
    /// `--request-id`: the header each probe sends its id in.
    pub request_ids: Option<RequestIds>,
    pub rate: f64,
    pub duration: Option<Duration>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub request: RequestSpec,
    pub expect: Expect,
    pub min_failures: u32,
    pub output: Output,
    /// The deploy command to wrap, if any.
    pub wrap: Option<Wrap>,
    /// The gates judged, blip's default among them when no gate given bounds downtime.
    pub gates: Gates,
    /// `--measure-only`: no gate at all.
    pub measure_only: bool,
    /// Which phases of a wrapped deploy the gates judge.
    pub gate_phases: GatePhases,
    pub fail_fast: bool,
    /// `--allow-missed`: judged even when blip missed many of a URL's slots.
    pub allow_missed: bool,
    /// `--on-down` and `--on-up`; set by [`HookCommands::new`] after [`Config::new`].
    pub hooks: HookCommands,
}

/// Shell commands run when a URL's window opens (`on_down`) and closes (`on_up`).
#[derive(Clone, Debug, Default)]
pub struct HookCommands {
    pub on_down: Option<String>,
    pub on_up: Option<String>,
}

impl HookCommands {
    /// Checks `--on-down` and `--on-up`.
    pub fn new(args: &HookArgs) -> Result<HookCommands, ConfigError> {
        for (flag, command) in [("--on-down", &args.on_down), ("--on-up", &args.on_up)] {
            if command.as_deref().is_some_and(|c| c.trim().is_empty()) {
                return Err(bad(format!("{flag} needs a shell command to run, like {flag} 'echo $BLIP_URL'")));
            }
        }
        Ok(HookCommands { on_down: args.on_down.clone(), on_up: args.on_up.clone() })
    }
}

/// A wrapped COMMAND and the probing around it.
#[derive(Clone, Debug)]
pub struct Wrap {
    pub argv: Vec<String>,
    pub warmup: Duration,
    pub cooldown: Duration,
    /// What live views call the command instead of its argv (the demo's simulated deploy).
    pub label: Option<String>,
    /// `--min-deploy`: a COMMAND that succeeds sooner is warned about; zero: never.
    pub min_deploy: Duration,
    /// `--allow-down-before-deploy`: start COMMAND even when a URL never answered in the warmup.
    pub allow_down_before_deploy: bool,
}

impl Config {
    /// Validates the flags against a list of URLs (from the command line, or the demo's own) and
    /// an optional COMMAND to wrap.
    pub fn new(
        urls: &[String],
        probe: &ProbeArgs,
        deploy: &DeployArgs,
        gates: &GateArgs,
        command: &[String],
        output: &OutputArgs,
    ) -> Result<Config, ConfigError> {
        let mut urls = urls.iter().enumerate().map(|(i, u)| parse_url(u, i > 0)).collect::<Result<Vec<_>, _>>()?;
        if let Some(user) = &probe.user {
            add_credentials(&mut urls, user)?;
        }
        let body = read_body(probe)?;
        let rate = probe.rate.unwrap_or(DEFAULT_RATE);
        let timeout = probe.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(bad("--timeout must be longer than 0s"));
        }
        if probe.duration.is_some_and(|d| d.is_zero()) {
            return Err(bad("--duration must be longer than 0s"));
        }
        let concurrency = match probe.concurrency {
            Some(n) => n as usize,
            None => default_concurrency(rate, timeout),
        };
        let (method, headers) = method_and_headers(probe, body.is_some())?;
        let lanes = lanes(probe)?;
        // Each URL on each lane is a target of its own in the schedule.
        let targets = urls.len() * lanes.len();
        let run_id = crate::engine::request::new_run_id();
        let request_ids = request_ids(probe, &headers, &run_id, targets)?;
        let routes = routes(probe, &urls)?;
        let track = crate::engine::track::Track::new(&probe.track_headers, probe.track_body.as_deref()).map_err(bad)?;
        let wrap = wrap_of(command, deploy, probe)?;
        if gates.gate_phase.is_some() && wrap.is_none() {
            return Err(bad("--gate-phase applies only to a COMMAND given after --"));
        }
        if !gates.max_latency_increase.is_empty() && wrap.is_none() {
            return Err(bad(
                "--max-latency-increase compares the deploy with its warmup: it needs a COMMAND given after --",
            ));
        }
        if let Some(mode) = gates.expect_new {
            expect_new_applies(mode, wrap.as_ref(), !probe.track_headers.is_empty() || probe.track_body.is_some())?;
        }
        let gate_list = self::gates(gates, Vec::new());
        if probe.expect_body.as_deref() == Some("") {
            return Err(bad("--expect-body needs some text to look for"));
        }
        Ok(Config {
            urls,
            rate,
            lanes: lanes.clone(),
            run_id,
            request_ids,
            duration: probe.duration,
            timeout,
            concurrency,
            request: RequestSpec {
                method,
                headers,
                body,
                insecure: probe.insecure,
                fresh_connections: lanes == [Lane::Fresh],
                resend: !probe.no_resend,
                // Set per lane by the application, which builds a prober per lane.
                request_id: None,
                track,
                routes,
            },
            expect: Expect { status: probe.expect_status.clone(), body: probe.expect_body.clone(), slow: probe.slow },
            min_failures: probe.min_failures,
            output: Output::new(output)?,
            wrap,
            gates: gate_list,
            measure_only: gates.measure_only,
            gate_phases: gates.gate_phase.unwrap_or_default(),
            fail_fast: gates.fail_fast,
            allow_missed: gates.allow_missed,
            hooks: HookCommands::default(),
        })
    }
}

/// The COMMAND to wrap, with its phases' lengths; none without one, where the deploy flags are
/// refused.
fn wrap_of(command: &[String], deploy: &DeployArgs, probe: &ProbeArgs) -> Result<Option<Wrap>, ConfigError> {
    let wrap = match command {
        [] if deploy.warmup.is_some() => return Err(bad("--warmup applies only to a COMMAND given after --")),
        [] if deploy.cooldown.is_some() => return Err(bad("--cooldown applies only to a COMMAND given after --")),
        [] if deploy.min_deploy.is_some() => {
            return Err(bad("--min-deploy applies only to a COMMAND given after --"));
        }
        [] if deploy.allow_down_before_deploy => {
            return Err(bad("--allow-down-before-deploy applies only to a COMMAND given after --"));
        }
        [] => None,
        [program, ..] if program.is_empty() => return Err(bad("the COMMAND after -- is empty")),
        _ if probe.duration.is_some() => {
            return Err(bad(
                "--duration does not apply with a COMMAND: the run lasts --warmup, the command, then --cooldown",
            ));
        }
        argv => Some(Wrap {
            argv: argv.to_vec(),
            warmup: deploy.warmup.unwrap_or(DEFAULT_WARMUP),
            cooldown: deploy.cooldown.unwrap_or(DEFAULT_COOLDOWN),
            label: None,
            min_deploy: deploy.min_deploy.unwrap_or(DEFAULT_MIN_DEPLOY),
            allow_down_before_deploy: deploy.allow_down_before_deploy,
        }),
    };
    Ok(wrap)
}

/// The probes' method and headers. A body without a method is a POST, and without a type a
/// form, as curl sends `-d`.
fn method_and_headers(
    probe: &ProbeArgs,
    has_body: bool,
) -> Result<(reqwest::Method, reqwest::header::HeaderMap), ConfigError> {
    let method = probe.method.as_deref().unwrap_or(if has_body { "POST" } else { "GET" });
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| bad(format!("`{method}` is not an HTTP method: fix --method")))?;
    let mut headers = parse_headers(&probe.headers)?;
    if has_body && !headers.contains_key(reqwest::header::CONTENT_TYPE) {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    }
    Ok((method, headers))
}

/// `--request-id`: the header that carries each probe's id, the run's id they start with.
fn request_ids(
    probe: &ProbeArgs,
    headers: &reqwest::header::HeaderMap,
    run_id: &str,
    targets: usize,
) -> Result<Option<RequestIds>, ConfigError> {
    let run = run_id.to_string();
    Ok(match &probe.request_id {
        // BLIP_REQUEST_ID=true (a switch's spelling) asks for the default header.
        Some(name) if ["1", "true", "yes", "on"].contains(&name.to_ascii_lowercase().as_str()) => {
            Some(RequestIds { header: request_id_header("X-Request-Id", headers)?, run, targets })
        }
        Some(name) => Some(RequestIds { header: request_id_header(name, headers)?, run, targets }),
        None => None,
    })
}

impl Config {
    /// Each URL as every output shows it: with its password hidden (see [`crate::sanitize::url`]).
    pub fn display_urls(&self) -> Vec<String> {
        self.urls.iter().map(crate::sanitize::url).collect()
    }
}

impl Config {
    /// Every target of the run, a (URL, lane) pair, in schedule order (see
    /// [`crate::engine::lane::targets`]).
    pub fn targets(&self) -> Vec<TargetName> {
        crate::engine::lane::targets(&self.display_urls(), &self.lanes)
    }
}

/// `--connections`, and `--fresh-connections` as the alias of `--connections fresh` it is.
fn lanes(probe: &ProbeArgs) -> Result<Vec<Lane>, ConfigError> {
    let lanes = match (probe.connections, probe.fresh_connections) {
        (None | Some(Connections::Reused), false) => vec![Lane::Reused],
        (None | Some(Connections::Fresh), _) => vec![Lane::Fresh],
        (Some(Connections::Both), false) => vec![Lane::Reused, Lane::Fresh],
        (Some(other), true) => {
            let other = if other == Connections::Both { "both" } else { "reused" };
            return Err(bad(format!(
                "--fresh-connections means --connections fresh, which conflicts with --connections {other}: give one of them"
            )));
        }
    };
    Ok(lanes)
}

/// The header `--request-id` names: a valid header name that blip does not set itself and
/// `--header` does not set either (a probe can carry only one id).
fn request_id_header(name: &str, headers: &HeaderMap) -> Result<HeaderName, ConfigError> {
    let shown = crate::sanitize::line(name);
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        bad(format!("`{shown}` is not an HTTP header name: fix --request-id (e.g. --request-id=X-Request-Id)"))
    })?;
    if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION, HOST].contains(&name) {
        return Err(bad(format!("`{name}` is set by blip for each request: give --request-id another header")));
    }
    // An id there would replace the credentials of -u or of the URL.
    if name == reqwest::header::AUTHORIZATION {
        return Err(bad("`authorization` carries credentials: give --request-id another header"));
    }
    if headers.contains_key(&name) {
        return Err(bad(format!(
            "`{name}` is already set (by --header, or by --data for content-type), and --request-id would set it \
             for each probe: give --request-id another header"
        )));
    }
    Ok(name)
}

/// `--expect-new` compares the deploy's tracked values with the warmup's: it needs a COMMAND
/// with a warmup, something tracked, and for `strict` a cooldown.
fn expect_new_applies(mode: ExpectNew, wrap: Option<&Wrap>, tracked: bool) -> Result<(), ConfigError> {
    let Some(wrap) = wrap else {
        return Err(bad("--expect-new compares the deploy with its warmup: it needs a COMMAND given after --"));
    };
    if !tracked {
        return Err(bad(
            "--expect-new judges a tracked value: give --track-header NAME (e.g. X-App-Version) or --track-body REGEX",
        ));
    }
    if wrap.warmup.is_zero() {
        return Err(bad("--expect-new learns the old value in the warmup: give --warmup longer than 0s"));
    }
    if mode == ExpectNew::Strict && wrap.cooldown.is_zero() {
        return Err(bad("--expect-new=strict judges the cooldown: give --cooldown longer than 0s"));
    }
    Ok(())
}

/// Whether any gate flag was given.
pub fn gates_given(args: &GateArgs) -> bool {
    !gate_list(args).is_empty()
}

/// The gates a run or `blip judge`/`merge` judges: those asked for, then `more` (a
/// `--baseline`'s), with the default added by [`Gates::new`] when none bounds downtime. The one
/// place gates are made from flags.
pub fn gates(args: &GateArgs, more: Vec<Gate>) -> Gates {
    let mut list = gate_list(args);
    list.extend(more);
    Gates::new(list, args.measure_only)
}

/// The gates in the order a report lists them.
pub fn gate_list(args: &GateArgs) -> Vec<Gate> {
    let mut gates: Vec<Gate> = args.fail_on_status.iter().cloned().map(Gate::FailOnStatus).collect();
    gates.extend(args.max_downtime.map(Gate::MaxDowntime));
    gates.extend(args.max_outage.map(Gate::MaxOutage));
    gates.extend(args.max_outages.map(Gate::MaxOutages));
    gates.extend(args.max_degraded.map(Gate::MaxDegraded));
    gates.extend(args.max_error_rate.map(Gate::MaxErrorRate));
    gates.extend(args.max_latency_increase.iter().copied().map(Gate::MaxLatencyIncrease));
    gates.extend(args.expect_new.map(Gate::ExpectNew));
    gates.extend(args.max_failed.map(Gate::MaxFailed));
    gates.extend(args.max_latency.iter().copied().map(Gate::MaxLatency));
    gates
}

/// A cap the schedule never reaches: a probe lives at most `timeout`, so at most
/// `rate × timeout` (+1) are in flight; twice that plus 16 leaves room for timer jitter.
pub fn default_concurrency(rate: f64, timeout: Duration) -> usize {
    let in_flight = (rate * timeout.as_secs_f64()).ceil();
    (in_flight * 2.0 + 16.0).min(1_000_000.0) as usize
}

#[cfg(test)]
mod tests;
