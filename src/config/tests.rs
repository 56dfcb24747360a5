//! Validation's tests: defaults, errors that name their flag, and arithmetic that never panics.

use super::*;
use crate::cli::Cli;
use clap::Parser;
use std::io::IsTerminal as _;

fn config(args: &[&str]) -> Result<Config, ConfigError> {
    let cli = Cli::try_parse_from(std::iter::once("blip").chain(args.iter().copied())).unwrap();
    Config::new(&cli.urls, &cli.probe, &cli.deploy, &cli.gates, &cli.command, &cli.output)
}

#[test]
fn defaults() {
    let c = config(&["http://127.0.0.1:8080/health"]).unwrap();
    assert_eq!(c.rate, 20.0);
    assert_eq!(c.timeout, Duration::from_secs(1));
    assert!(c.concurrency as f64 > c.rate * c.timeout.as_secs_f64());
    assert!(c.expect.status.contains(200) && c.expect.status.contains(302));
    assert!(!c.expect.status.contains(404));
    // `auto` picks the dashboard only when stdout is a terminal.
    assert_eq!(c.output.ui == UiMode::Dashboard, std::io::stdout().is_terminal());
}

#[test]
fn default_cap_is_never_reached_by_the_schedule() {
    for (rate, timeout_ms) in [(0.2, 1000), (20.0, 1000), (5000.0, 1000), (1000.0, 30_000)] {
        let timeout = Duration::from_millis(timeout_ms);
        let cap = default_concurrency(rate, timeout);
        assert!(cap as f64 >= rate * timeout.as_secs_f64() + 1.0, "{rate} {timeout_ms}");
    }
}

#[test]
fn bad_input_names_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["ftp://example.com/"], "scheme `ftp`"),
        (&["not a url"], "`not a url` is not a URL"),
        (&["localhost:8080/api"], "did you mean `http://localhost:8080/api`?"),
        (&["http://a/", "sh"], "put `--` before it"),
        (&["-u", "alice", "http://a/"], "--user needs USER:PASS"),
        (&["--json", "{\"a\":1}", "http://a/"], "--json takes the PATH"),
        (&["--junit", "[1]", "http://a/"], "--junit takes the PATH"),
        (&["--markdown", " {", "http://a/"], "--markdown takes the PATH"),
        (&["--markdown", "-", "http://a/"], "--markdown writes a file"),
        (&["--html", "-", "http://a/"], "--html writes a file"),
        (&["--data", "@/nonexistent-dir/body.json", "http://a/"], "--data @/nonexistent-dir/body.json"),
        (&["-t", "0s", "http://a/"], "--timeout"),
        (&["-d", "0s", "http://a/"], "--duration"),
        (&["-H", "nocolon", "http://a/"], "--header"),
        (&["-X", "GE T", "http://a/"], "--method"),
        (&["--json", "", "http://a/"], "--json"),
        (&["--warmup", "1s", "http://a/"], "--warmup"),
        (&["-d", "1s", "http://a/", "--", "true"], "--duration"),
        (&["--gate-phase", "deploy", "http://a/"], "--gate-phase"),
        (&["-H", "Content-Length: 99", "--data", "hello", "http://a/"], "--header"),
        (&["--json", "-", "--events", "-", "http://a/"], "--events"),
        (&["--events-probes", "http://a/"], "--events-probes"),
        (&["--json", "r.json", "--junit", "r.json", "http://a/"], "--json and --junit both name r.json"),
        (&["--junit", "out/r", "--markdown", "out/./r", "http://a/"], "--junit and --markdown"),
        (&["--events", "e", "--markdown", "x", "--json", "e", "http://a/"], "--json and --events"),
        (&["--json", "not-yet.json", "--junit", "./not-yet.json", "http://a/"], "--json and --junit"),
    ];
    for (args, needle) in cases {
        let err = config(args).unwrap_err().to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn errors_never_repeat_a_secret() {
    let cases: &[&[&str]] = &[
        &["-H", "Authorization: Bearer s3cr3t\x01", "http://a/"],
        &["-H", "Bearer s3cr3t", "http://a/"],
        &["-H", "Bad Name s3cr3t: x", "http://a/"],
        &["http://alice:s3cr3t@/"],
        &["ftp://alice:s3cr3t@host/"],
        &["alice:s3cr3t@host/"],
        &["-u", "alices3cr3t", "http://a/"],
    ];
    for args in cases {
        let err = config(args).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{args:?}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    let err = config(&["-H", "X-A: 1", "-H", "Authorization: Bearer s3cr3t\x01", "http://a/"]).unwrap_err();
    assert!(err.to_string().contains("`authorization` (--header #2)"), "{err}");
    let err = config(&["http://alice:s3cr3t@/"]).unwrap_err();
    assert!(err.to_string().contains("`http://alice:***@/`"), "{err}");
}

#[test]
fn urls_are_shown_without_their_password() {
    let c = config(&["http://alice:hunter2pw@127.0.0.1:8080/x", "https://b/"]).unwrap();
    assert_eq!(c.display_urls(), ["http://alice:***@127.0.0.1:8080/x", "https://b/"]);
    assert_eq!(c.urls[0].password(), Some("hunter2pw"), "still sent");
}

#[test]
fn a_wrapped_command_gets_default_warmup_and_cooldown() {
    let c = config(&["http://a/", "--", "cf", "push", "notes"]).unwrap();
    let wrap = c.wrap.unwrap();
    assert_eq!(wrap.argv, ["cf", "push", "notes"]);
    assert_eq!((wrap.warmup, wrap.cooldown), (DEFAULT_WARMUP, DEFAULT_COOLDOWN));
    assert!(config(&["http://a/"]).unwrap().wrap.is_none());
}

#[test]
fn gates_in_order() {
    let c = config(&[
        "--max-latency",
        "p99=300ms",
        "--fail-on-status",
        "404",
        "--fail-on-status",
        "5xx",
        "--max-downtime",
        "0s",
        "http://a/",
    ])
    .unwrap();
    let names: Vec<String> = c.gates.list().iter().map(Gate::name).collect();
    assert_eq!(names, ["fail-on-status 404", "fail-on-status 5xx", "max-downtime 0s", "max-latency p99=300ms"]);
    assert_eq!(c.gate_phases, GatePhases::DeployCooldown);
}

/// The clock arithmetic the engine does with a config's numbers: every sum of an instant
/// and a configured length, the due time of the last slot, the probe deadline.
fn run_arithmetic(c: &Config) {
    let start = std::time::Instant::now();
    let wrap = c.wrap.as_ref();
    let length = c.duration.unwrap_or(Duration::ZERO)
        + wrap.map_or(Duration::ZERO, |w| w.warmup + w.cooldown)
        + c.timeout
        + c.expect.slow.unwrap_or(Duration::ZERO);
    let end = start + length + Duration::from_secs(3600);
    let schedule = crate::engine::scheduler::Schedule { start, rate: c.rate, urls: c.urls.len() };
    let last = (length.as_secs_f64() * c.rate * c.urls.len() as f64).ceil() as u64;
    assert!(schedule.due(last) <= end + Duration::from_secs(1));
    assert!(default_concurrency(c.rate, c.timeout) >= 1);
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    /// Whatever a numeric flag is given, blip either refuses it (one line naming the flag) or
    /// runs with it; it never panics, at parsing or later on the clock.
    #[test]
    fn numeric_flags_never_panic(
        flag in proptest::sample::select(vec![
            "--rate", "--duration", "--timeout", "--concurrency", "--slow", "--min-failures", "--warmup", "--cooldown",
            "--max-downtime", "--max-outage", "--max-failed", "--max-latency",
        ]),
        number in proptest::prop_oneof![
            proptest::num::f64::ANY.prop_map(|f| f.to_string()),
            proptest::num::u64::ANY.prop_map(|n| n.to_string()),
            proptest::num::i64::ANY.prop_map(|n| n.to_string()),
            (0u32..40).prop_map(|e| format!("1e{e}")),
            (0u32..40).prop_map(|e| format!("1e-{e}")),
        ],
        unit in proptest::sample::select(vec!["", "s", "ms", "ns", "h", "d", "y", "%"]),
        quantile in proptest::sample::select(vec!["", "p99=", "max=", "p0=", "p100.5="]),
    ) {
        use proptest::prop_assert;
        let value = format!("{quantile}{number}{unit}");
        let with_command = ["--warmup", "--cooldown"].contains(&flag);
        // `--flag=value`, so that a negative number is taken as the value it is.
        let given = format!("{flag}={value}");
        let mut args = vec!["blip", given.as_str(), "http://a/"];
        if with_command {
            args.extend(["--", "true"]);
        }
        let parsed = std::panic::catch_unwind(|| {
            let cli = Cli::try_parse_from(&args).map_err(|e| e.to_string())?;
            Config::new(&cli.urls, &cli.probe, &cli.deploy, &cli.gates, &cli.command, &cli.output)
                .map_err(|e| e.to_string())
        });
        prop_assert!(parsed.is_ok(), "{args:?} panicked");
        match parsed.unwrap() {
            Ok(config) => {
                let ran = std::panic::catch_unwind(|| run_arithmetic(&config));
                prop_assert!(ran.is_ok(), "{args:?} was accepted but breaks the clock");
            }
            Err(message) => prop_assert!(message.contains(flag.trim_start_matches('-')), "{args:?}: {message}"),
        }
    }
}

#[test]
fn headers_keep_repeats() {
    let c = config(&["-H", "X-A: 1", "-H", "X-A: 2", "-H", "Authorization: Bearer t", "http://a/"]).unwrap();
    assert_eq!(c.request.headers.get_all("x-a").iter().count(), 2);
    assert_eq!(c.request.headers["authorization"], "Bearer t");
}

#[test]
fn lanes_and_their_alias() {
    let lanes = |args: &[&str]| config(args).map(|c| c.lanes);
    let url = "http://a/";
    assert_eq!(lanes(&[url]).unwrap(), [Lane::Reused]);
    assert_eq!(lanes(&["--fresh-connections", url]).unwrap(), [Lane::Fresh]);
    assert_eq!(lanes(&["--connections", "fresh", "--fresh-connections", url]).unwrap(), [Lane::Fresh]);
    assert_eq!(lanes(&["--connections", "both", url]).unwrap(), [Lane::Reused, Lane::Fresh]);
    let c = config(&["--connections", "both", url, "http://b/"]).unwrap();
    let labels: Vec<String> = c.targets().into_iter().map(|t| t.label).collect();
    assert_eq!(labels, ["http://a/ (reused)", "http://a/ (fresh)", "http://b/ (reused)", "http://b/ (fresh)"]);
    for other in ["both", "reused"] {
        let err = config(&["--connections", other, "--fresh-connections", url]).unwrap_err().to_string();
        assert!(err.contains(&format!("--connections {other}")), "{err}");
    }
}

#[test]
fn request_ids_need_a_header_of_their_own() {
    let url = "http://a/";
    let c = config(&["--request-id", url]).unwrap();
    let ids = c.request_ids.unwrap();
    assert_eq!((ids.header.as_str(), ids.run.as_str()), ("x-request-id", c.run_id.as_str()));
    assert_eq!(ids.id(Lane::Fresh, 0, 42), format!("blip-{}-fresh-42", c.run_id));
    assert_eq!(ids.of_lane(Lane::Fresh).value(0, 42), ids.id(Lane::Fresh, 0, 42).as_str());
    assert!(config(&[url]).unwrap().request_ids.is_none());
    // Several URLs on both lanes take turns: probe 42 of the fourth target is slot 42 × 4 + 3, and
    // no two probes of the run share an id.
    let c = config(&["--request-id", "--connections", "both", url, "http://b/"]).unwrap();
    let ids = c.request_ids.unwrap();
    assert_eq!(ids.id(Lane::Fresh, 3, 42), format!("blip-{}-fresh-171", c.run_id));
    let all: std::collections::HashSet<String> = (0..4)
        .flat_map(|target| (0..100).map(move |seq| (target, seq)))
        .map(|(t, s)| ids.id(Lane::Reused, t, s))
        .collect();
    assert_eq!(all.len(), 400);
    for (args, needle) in [
        (&["--request-id=X Y", url][..], "is not an HTTP header name"),
        (&["--request-id=content-length", url][..], "is set by blip"),
        (&["--request-id=X-Id", "-H", "x-id: 1", url][..], "is already set (by --header"),
        (&["--request-id=Authorization", url][..], "carries credentials"),
    ] {
        let err = config(args).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("--request-id"), "{args:?}: {err}");
    }
}
