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
    // Rendered as `man` would (`-k`: through preconv, for the non-ASCII `×`), when groff is there.
    let Ok(mut groff) = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww"])
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
    assert!(words.contains("--max-downtime") && words.contains("Exit codes"), "{text}");
    assert!(words.contains("blip demo --help") && words.contains("Examples: blip https:"), "{text}");
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
