//! Build facts for `blip --version`: the commit and its date (when built from a git checkout),
//! the target, and the version of the TLS library the lock file pins.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    // A build from a source archive has no git: the version says so rather than guessing.
    let commit = git(&["rev-parse", "--short=10", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let rustls = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"rustls\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"').map(String::from)))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BLIP_COMMIT={commit}");
    println!("cargo:rustc-env=BLIP_COMMIT_DATE={date}");
    println!("cargo:rustc-env=BLIP_TARGET={target}");
    println!("cargo:rustc-env=BLIP_RUSTLS={rustls}");
}
