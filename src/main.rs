//! blip: knows, to the millisecond, whether an HTTP service stayed up while it was deployed.
//!
//! `main` is thin: parse, build the runtime, call the app (or the demo) for the subcommand asked,
//! map the outcome to an exit code.

/// Writes one line to stderr, as `eprintln!` does, but never panics: when stderr is gone (a
/// closed pipe: `blip … 2>&1 | head`) a line blip cannot deliver is dropped, not a crash.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod analysis;
mod app;
mod cli;
mod config;
mod demo;
mod destination;
mod engine;
mod exit;
mod gates;
mod live;
mod offline;
mod platform;
mod report;
mod sanitize;
mod units;

use std::process::ExitCode;

use clap::Parser as _;
use cli::{Cli, Command, DemoDeployArgs};
use exit::Exit;

/// What this process is to do: a run of blip as its user calls it, or the simulated deploy that
/// `blip demo` runs as its child.
enum Invocation {
    Blip(Box<Cli>),
    DemoDeploy(DemoDeployArgs),
}

fn main() -> ExitCode {
    end_on_panic();
    let args: Vec<_> = std::env::args_os().collect();
    let parsed = if args.get(1).is_some_and(|a| a == cli::DEMO_DEPLOY) {
        DemoDeployArgs::try_parse_from(&args[1..]).map(Invocation::DemoDeploy)
    } else {
        cli::parse_from(args).map(|cli| Invocation::Blip(Box::new(cli)))
    };
    let invocation = match parsed {
        Ok(invocation) => invocation,
        // clap prints help and version to stdout with code 0, usage errors to stderr with 2.
        Err(err) => err.exit(),
    };
    if let Invocation::Blip(cli) = &invocation {
        match cli.subcommand {
            Some(Command::Completions { shell }) => {
                // Written whole and checked: clap_complete panics when its writer fails.
                let script = cli::complete::script(shell);
                use std::io::Write as _;
                if let Err(err) = std::io::stdout().write_all(&script).and_then(|()| std::io::stdout().flush()) {
                    say!("blip: cannot write the completion script to stdout: {err}");
                    return Exit::UsageOrFailure.into();
                }
                return Exit::Ok.into();
            }
            Some(Command::Man) => return print_man_page(),
            _ => {}
        }
    }
    // Every reqwest client (https:// probes, the demo's admin calls) takes its TLS crypto from
    // the process's rustls provider; blip builds with ring. It can only fail if one is already
    // installed, which is then as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(app::worker_threads(total_rate(&invocation)))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            say!("blip: cannot start the async runtime: {err}");
            return Exit::UsageOrFailure.into();
        }
    };
    // The run loop is spawned onto the workers rather than run by `block_on` on this thread:
    // every Sample would otherwise wake this thread from another, a futex and a context switch
    // per probe.
    match runtime.block_on(async { tokio::spawn(dispatch(invocation)).await }) {
        Ok(Ok(exit)) => exit.into(),
        Ok(Err(err)) => {
            say!("blip: {err:#}");
            Exit::UsageOrFailure.into()
        }
        // Not reached: a panic ends the process in the hook.
        Err(_) => Exit::UsageOrFailure.into(),
    }
}

/// Runs what the command line asks for: the demo, its simulated deploy, or the app on the given
/// URLs.
async fn dispatch(invocation: Invocation) -> anyhow::Result<Exit> {
    let cli = match invocation {
        Invocation::DemoDeploy(args) => return demo::deploy(args).await,
        Invocation::Blip(cli) => cli,
    };
    match cli.subcommand {
        Some(Command::Demo(args)) => demo::run(*args).await,
        // Answered in `main`, before a runtime is built.
        Some(Command::Completions { .. } | Command::Man) => Ok(Exit::Ok),
        Some(Command::Judge(args)) => offline::judge::run(&args),
        Some(Command::Merge(args)) => offline::merge::run(&args),
        None => app::run(&cli).await,
    }
}

/// Probes per second over all URLs, which sizes the runtime.
fn total_rate(invocation: &Invocation) -> f64 {
    let Invocation::Blip(cli) = invocation else { return 1.0 };
    match &cli.subcommand {
        Some(Command::Demo(args)) => args.probe.rate.unwrap_or(demo::DEMO_RATE),
        Some(Command::Completions { .. } | Command::Man | Command::Judge(_) | Command::Merge(_)) => 1.0,
        None => cli.probe.rate.unwrap_or(config::DEFAULT_RATE) * cli.urls.len() as f64,
    }
}

/// Writes the man page, made from the same definition as `--help`, to stdout.
fn print_man_page() -> ExitCode {
    match cli::write_man_page(&mut std::io::stdout()) {
        Ok(()) => Exit::Ok.into(),
        Err(err) => {
            say!("blip: cannot write the man page to stdout: {err}");
            Exit::UsageOrFailure.into()
        }
    }
}

/// A panic anywhere (the run loop, a probe task, the scheduler, a writer thread) ends blip at
/// once with exit code 2 and one line, so no part of the run can die quietly and leave the rest to
/// report a pass over probes that were never sent. The dashboard wraps this hook with its own,
/// which restores the terminal first; a wrapped command dies with blip (see `app::command`).
fn end_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        say!("blip: internal error{at}: {what}; no verdict was reached (exit 2). Please report it.");
        std::process::exit(i32::from(Exit::UsageOrFailure.code()));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_thread_up_to_5000_probes_per_second() {
        let workers = |args: &[&str]| {
            app::worker_threads(total_rate(&Invocation::Blip(Box::new(cli::parse_from(args).unwrap()))))
        };
        assert_eq!(workers(&["blip", "demo"]), 1);
        assert_eq!(workers(&["blip", "http://a/"]), 1);
        assert_eq!(workers(&["blip", "-r", "2500", "http://a/", "http://b/"]), 1);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(workers(&["blip", "-r", "2501", "http://a/", "http://b/"]), cores);
    }
}
