//! What blip gives a shell: completion scripts and a man page, made from the same definition as
//! `--help`.

use crate::support::blip;

#[tokio::test(flavor = "multi_thread")]
async fn completions_name_blips_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let out = blip(&["completions", shell]).await;
        let script = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        // fish lists long flags without their dashes.
        assert!(script.contains("max-downtime") && script.contains("fail-on-status"), "{shell}: {script}");
        // The demo's internal deploy step is nothing a user types.
        assert!(!script.contains("demo-deploy"), "{shell} offers the internal demo-deploy: {script}");
    }
    let bash = blip(&["completions", "bash"]).await;
    assert!(String::from_utf8_lossy(&bash.stdout).contains("--max-downtime"));
    let out = blip(&["completions", "powershel"]).await;
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad usage");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_man_page_renders() {
    let out = blip(&["man"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let roff = String::from_utf8(out.stdout).unwrap();
    assert!(roff.starts_with(".ie") || roff.contains(".TH blip 1"), "{roff}");
    // Subcommands are described here, not referred to pages no install provides.
    assert!(!roff.contains("blip\\-demo(1)") && !roff.contains("(1)\n"), "refers to other pages: {roff}");
    assert!(roff.contains("\\fBblip demo\\fR") && !roff.contains("demo\\-deploy"), "{roff}");
    // Rendered as `man` would (`-k`: through preconv, for the non-ASCII `×`; `-P-bcu`: bold and
    // underline without overstrikes, so headings read as words), when groff is there.
    let Ok(mut groff) = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-P-bcu"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        return;
    };
    use std::io::Write as _;
    groff.stdin.take().unwrap().write_all(roff.as_bytes()).unwrap();
    let rendered = groff.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(rendered.stderr.is_empty(), "groff warns: {}", String::from_utf8_lossy(&rendered.stderr));
    // groff justifies lines, so words are compared with the spaces between them folded.
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("--max-downtime") && words.contains("blip demo --help"), "{text}");
    // man-pages(7)'s sections, in its order, and a synopsis that shows what a flag takes.
    let at = |heading: &str| text.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no {heading}: {text}"));
    let order = ["SYNOPSIS", "DESCRIPTION", "OPTIONS", "SUBCOMMANDS", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES"];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
    let synopsis = &words[words.find("SYNOPSIS").unwrap()..words.find("DESCRIPTION").unwrap()];
    assert!(synopsis.contains("[-r|--rate N]") && synopsis.contains("[--max-downtime DUR]"), "{synopsis}");
    assert!(synopsis.contains("blip judge [OPTIONS] <REPORT>"), "{synopsis}");
    let exit_status = &words[words.find("EXIT STATUS").unwrap()..words.find("ENVIRONMENT").unwrap()];
    for code in ["0 passed", "1 a gate failed", "2 bad usage", "3 the COMMAND failed"] {
        assert!(exit_status.contains(code), "{code}: {exit_status}");
    }
    let environment = &words[words.find("ENVIRONMENT").unwrap()..words.find("EXAMPLES").unwrap()];
    for name in ["BLIP_<FLAG>", "NO_COLOR", "GITHUB_STEP_SUMMARY", "BLIP_URL"] {
        assert!(environment.contains(name), "{name}: {environment}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_version_says_the_commit_and_the_target() {
    let short = blip(&["-V"]).await;
    let short = String::from_utf8(short.stdout).unwrap();
    assert!(short.starts_with(&format!("blip {} (", env!("CARGO_PKG_VERSION"))), "{short}");
    let long = blip(&["--version"]).await;
    let long = String::from_utf8(long.stdout).unwrap();
    let lines: Vec<&str> = long.lines().collect();
    assert_eq!(lines[0], format!("blip {}", env!("CARGO_PKG_VERSION")), "{long}");
    assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{long}");
    // The target the test binary was built for is the one blip was built for.
    let target = format!("target: {}-", std::env::consts::ARCH);
    assert!(lines.iter().any(|l| l.starts_with(&target) && l.contains(std::env::consts::OS)), "{long}");
    assert!(lines.iter().any(|l| l.starts_with("tls: rustls ")), "{long}");
    // The platform's own parts, and the switch that makes Linux run the portable ones.
    let platform = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(crate::support::BLIP)
            .arg("--version")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        out.lines().find_map(|l| l.strip_prefix("platform: ").map(str::to_string)).unwrap_or_else(|| panic!("{out}"))
    };
    let (fast, portable) = (platform(&[("BLIP_PORTABLE", "0")]), platform(&[("BLIP_PORTABLE", "1")]));
    assert!(fast.starts_with("timerfd;") && fast.contains("PR_SET_PDEATHSIG"), "{fast}");
    assert!(portable.starts_with("portable timer") && !portable.contains("PDEATHSIG"), "{portable}");
}

/// fish completes the values of a flag after a space, as after `=`, when fish is installed.
#[tokio::test(flavor = "multi_thread")]
async fn fish_completes_a_flags_values_after_a_space() {
    if std::process::Command::new("fish").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "fish is missing in CI");
        eprintln!("skipped: fish is not installed");
        return;
    }
    let script = blip(&["completions", "fish"]).await.stdout;
    let path = crate::support::tempdir("fish").join("blip.fish");
    std::fs::write(&path, script).unwrap();
    let complete = |line: &str| {
        let out = std::process::Command::new("fish")
            .args(["--no-config", "-c", &format!("source {}; complete -C'{line}'", path.display())])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("blip --ui "), ["auto", "dashboard", "lines", "quiet"]);
    assert_eq!(complete("blip --connections "), ["both", "fresh", "reused"], "fish sorts them");
    assert!(complete("blip --ui=").contains(&"--ui=lines".to_string()));
    assert!(complete("blip demo --style ").contains(&"blue-green".to_string()));
    assert!(complete("blip --max-d").contains(&"--max-downtime".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_is_an_error_not_a_crash() {
    // stdout closed before the completion script is written (`blip completions bash | head -0`).
    let out = crate::support::blip_with_closed_stdout(&["completions", "bash"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 2)), "{:?} {stderr}", out.status);
    assert!(!stderr.contains("internal error") && !stderr.contains("panicked"), "{stderr}");
    // stderr closed before the error line is written (`blip … 2>&1 | head -0`): no abort.
    let mut child = tokio::process::Command::new(crate::support::BLIP)
        .args(["--rate", "abc", "http://127.0.0.1:9/"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(2), "{status:?}");
    let mut child = tokio::process::Command::new(crate::support::BLIP)
        .args(["judge", "/nonexistent/report.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().await.unwrap().code(), Some(2));
}
