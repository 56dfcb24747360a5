//! The GitHub Action (action.yml) and its two steps, run here as GitHub runs them: action/run.sh
//! with the action's inputs as `INPUT_*` against a loopback server, and action/install.sh against
//! a release directory on disk (`BLIP_RELEASE_BASE=file://…`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::server::TestServer;
use crate::support::{BLIP, tempdir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn action() -> Yaml {
    let text = std::fs::read_to_string(Path::new(ROOT).join("action.yml")).unwrap();
    YamlLoader::load_from_str(&text).expect("action.yml parses as YAML").remove(0)
}

#[test]
fn action_yml_is_a_composite_action_whose_steps_are_the_scripts_here() {
    let action = action();
    let inputs = action["inputs"].as_hash().expect("inputs");
    for input in ["urls", "command", "args", "reports", "version", "working-directory"] {
        assert!(inputs.contains_key(&Yaml::String(input.into())), "action.yml: no input {input}");
    }
    assert_eq!(action["inputs"]["reports"]["default"].as_str(), Some("json junit markdown html"));
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let steps = action["runs"]["steps"].as_vec().expect("steps");

    // Each shell step runs a script of this repository, given the inputs it reads as INPUT_*.
    for (id, script) in [("install", "action/install.sh"), ("run", "action/run.sh")] {
        let step = steps.iter().find(|s| s["id"].as_str() == Some(id)).unwrap_or_else(|| panic!("no step {id}"));
        assert_eq!(step["run"].as_str(), Some(format!("bash \"$GITHUB_ACTION_PATH/{script}\"").as_str()));
        let source = std::fs::read_to_string(Path::new(ROOT).join(script)).unwrap();
        let env = step["env"].as_hash().expect("env");
        for word in source.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("INPUT_") {
                assert!(
                    env.contains_key(&Yaml::String(word.into())),
                    "{script} reads {word}, step {id} does not set it"
                );
            }
        }
    }
    let upload = steps
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("a step uploads the reports");
    assert_eq!(upload["if"].as_str(), Some("always()"), "the reports are kept when blip fails");
    assert_eq!(upload["with"]["path"].as_str(), Some("${{ runner.temp }}/blip-reports"));
    let run = steps.iter().find(|s| s["id"].as_str() == Some("run")).unwrap();
    assert_eq!(run["env"]["BLIP_REPORTS_DIR"].as_str(), upload["with"]["path"].as_str());
}

/// Runs action/run.sh with the environment a runner gives the step; returns its output and dir.
async fn run_step(name: &str, inputs: &[(&str, &str)]) -> (Output, PathBuf) {
    let dir = tempdir(&format!("action-run-{name}"));
    std::fs::write(dir.join("summary.md"), "").unwrap();
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(Path::new(ROOT).join("action/run.sh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("BLIP", BLIP)
        .env("BLIP_REPORTS_DIR", dir.join("reports"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("INPUT_REPORTS", "json junit markdown html")
        .envs(inputs.iter().copied());
    (command.output().await.unwrap(), dir)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_step_passes_blips_exit_code_through_and_keeps_the_reports() {
    let server = TestServer::start().await;
    let url = server.url("/health");
    let urls = format!("{url}\n  {}\n", server.url("/api"));
    let args = "-r 20 --warmup 300ms --cooldown '300ms'";
    for (command, code) in [("true", 0), ("echo deploying; exit 7", 3)] {
        let inputs = [("INPUT_URLS", urls.as_str()), ("INPUT_COMMAND", command), ("INPUT_ARGS", args)];
        let (output, dir) = run_step(&format!("exit-{code}"), &inputs).await;
        assert_eq!(output.status.code(), Some(code), "{command}: {}", stderr(&output));

        let reports = dir.join("reports");
        for file in ["blip.json", "blip-junit.xml", "blip.md", "blip.html"] {
            let len = std::fs::metadata(reports.join(file)).map(|m| m.len()).unwrap_or(0);
            assert!(len > 0, "{command}: no {file} in the reports directory");
        }
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(reports.join("blip.json")).unwrap()).unwrap();
        assert_eq!(json["targets"].as_array().map(Vec::len), Some(2), "both URLs were probed");
        assert_eq!(json["deploy"]["command"], serde_json::json!(["sh", "-c", command]));
        let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(summary.starts_with('#') && summary.contains(&url), "{command}: the job summary: {summary:?}");
        let outputs = std::fs::read_to_string(dir.join("output")).unwrap();
        assert!(outputs.contains(&format!("exit-code={code}\n")), "{outputs}");
        assert!(outputs.contains(&format!("reports-dir={}\n", reports.display())), "{outputs}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_step_refuses_bad_inputs_in_one_line_with_exit_2() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("INPUT_URLS", " \n ")], "no URL to probe"),
        (&[("INPUT_URLS", "http://127.0.0.1:9/"), ("INPUT_REPORTS", "json pdf")], "unknown report 'pdf'"),
        (&[("INPUT_URLS", "http://127.0.0.1:9/"), ("INPUT_ARGS", "--on-down 'echo down")], "a quote is not closed"),
        (&[("INPUT_URLS", "http://127.0.0.1:9/"), ("INPUT_WORKING_DIRECTORY", "/nonexistent")], "working-directory"),
        (&[("INPUT_URLS", "http://127.0.0.1:9/"), ("BLIP", "/nonexistent/blip")], "no blip to run"),
    ];
    for (i, (inputs, message)) in cases.iter().enumerate() {
        let (output, _) = run_step(&format!("bad-{i}"), inputs).await;
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{inputs:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{inputs:?}: one line: {err}");
        assert!(err.starts_with("blip action: ") && err.contains(message), "{inputs:?}: {err}");
    }
}

/// A release of a fake blip (a script that says its version) on disk: tag v0.1.0, its archive
/// for x86_64 and its SHA256SUMS.
fn fake_release(dir: &Path) -> PathBuf {
    let name = "blip-0.1.0-x86_64-unknown-linux-gnu";
    let tag = dir.join("release/v0.1.0");
    std::fs::create_dir_all(dir.join("pack").join(name)).unwrap();
    std::fs::create_dir_all(&tag).unwrap();
    let bin = dir.join("pack").join(name).join("blip");
    std::fs::write(&bin, "#!/bin/sh\necho 'blip 0.1.0 (the released one)'\n").unwrap();
    let sh = |script: &str| {
        let status = Command::new("sh").arg("-c").arg(script).current_dir(&tag).status().unwrap();
        assert!(status.success(), "{script}");
    };
    sh(&format!("chmod +x {bin:?} && tar -C {:?} -czf {name}.tar.gz {name}", dir.join("pack")));
    sh(&format!("sha256sum {name}.tar.gz >SHA256SUMS"));
    tag.join(format!("{name}.tar.gz"))
}

/// Runs action/install.sh as the action's first step: the action checked out at `action_path`.
fn install_step(dir: &Path, action_path: &Path, envs: &[(&str, &str)]) -> Output {
    let runner_temp = dir.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    Command::new("bash")
        .arg(Path::new(ROOT).join("action/install.sh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_ACTION_PATH", action_path)
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_PATH", dir.join("path"))
        .env("BLIP_RELEASE_BASE", format!("file://{}", dir.join("release").display()))
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn the_install_step_installs_a_checked_archive_and_refuses_a_tampered_one() {
    let dir = tempdir("action-install");
    let archive = fake_release(&dir);
    let installed = dir.join("runner-temp/blip-install/bin/blip");

    // By the action's ref, as the runner's checkout path names it (_actions/OWNER/REPO/REF).
    let checkout = dir.join("_actions/blip-cli/blip/v0.1.0");
    std::fs::create_dir_all(&checkout).unwrap();
    let output = install_step(&dir, &checkout, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let says = Command::new(&installed).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&says.stdout), "blip 0.1.0 (the released one)\n");
    let outputs = std::fs::read_to_string(dir.join("output")).unwrap();
    assert_eq!(outputs, format!("path={}\n", installed.display()));
    let path = std::fs::read_to_string(dir.join("path")).unwrap();
    assert_eq!(path, format!("{}\n", installed.parent().unwrap().display()));

    // One byte changed after SHA256SUMS was written: refused, nothing installed.
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    let output = install_step(&dir, &dir, &[("INPUT_VERSION", "0.1.0")]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("blip-0.1.0-x86_64-unknown-linux-gnu.tar.gz has SHA-256") && err.ends_with("refused\n"),
        "{err}"
    );
    assert!(!installed.exists(), "a refused archive is not installed");
}

#[test]
fn the_install_step_builds_from_the_checkout_only_when_no_version_was_asked_for() {
    let dir = tempdir("action-install-fallback");
    fake_release(&dir);

    // An explicit version without a release is that release or nothing.
    let output = install_step(&dir, &dir, &[("INPUT_VERSION", "v9.9.9")]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.starts_with("blip action: cannot download blip-9.9.9-x86_64-unknown-linux-gnu.tar.gz"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // The action at a branch: no release, so cargo builds the checkout (a fake cargo here).
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("cargo"),
        "#!/bin/sh\necho \"$@\" >\"$CARGO_ARGS\"\nroot=$(echo \"$@\" | sed 's/.*--root //')\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho blip built\\n' >\"$root/bin/blip\"\nchmod +x \"$root/bin/blip\"\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(bin.join("cargo")).status().unwrap();
    let checkout = dir.join("_actions/blip-cli/blip/main");
    std::fs::create_dir_all(&checkout).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let args = dir.join("cargo-args");
    let output = install_step(&dir, &checkout, &[("PATH", &path), ("CARGO_ARGS", args.to_str().unwrap())]);
    assert!(output.status.success(), "{}", stderr(&output));
    let root = dir.join("runner-temp/blip-install");
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        format!("install --locked --quiet --path {} --root {}\n", checkout.display(), root.display())
    );
    assert!(
        std::fs::read_to_string(dir.join("output"))
            .unwrap()
            .ends_with(&format!("path={}\n", root.join("bin/blip").display()))
    );
}

#[test]
fn the_install_step_says_which_runners_it_cannot_serve() {
    let dir = tempdir("action-install-os");
    for (os, arch, message) in [
        ("FreeBSD", "X64", "RUNNER_OS 'FreeBSD'"),
        ("Linux", "ARM", "RUNNER_ARCH 'ARM'"),
        ("Windows", "ARM64", "X64 on Windows"),
    ] {
        let output = install_step(&dir, &dir, &[("RUNNER_OS", os), ("RUNNER_ARCH", arch)]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains(message) && err.lines().count() == 1, "{err}");
    }
}
