//! Releases: .github/workflows/release.yml parses and builds what it says, and the archive
//! scripts/package packs has the layout that Cargo.toml's binstall metadata and the action expect.

use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{BLIP, tempdir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TARGETS: [&str; 2] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];
/// Built on macOS runners, and cross-built for Windows, by jobs of their own.
const MACOS: [&str; 2] = ["x86_64-apple-darwin", "aarch64-apple-darwin"];
const WINDOWS: &str = "x86_64-pc-windows-gnu";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

/// The string value of `key = "…"` in a section of Cargo.toml (a flat table of strings is all
/// this reads, so no TOML parser).
fn cargo_value(section: &str, key: &str) -> String {
    let manifest = read("Cargo.toml");
    let mut in_section = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_section = line == format!("[{section}]");
        } else if let Some(value) = line.strip_prefix(&format!("{key} = ")).filter(|_| in_section) {
            return value.trim_matches('"').to_string();
        }
    }
    panic!("Cargo.toml: no {key} in [{section}]");
}

/// A binstall template with this crate's values: `{ name }`, `{ version }`, `{ target }`, ...
fn render(template: &str, target: &str) -> String {
    let mut out = template.to_string();
    for (key, value) in [
        ("repo", cargo_value("package", "repository")),
        ("name", "blip".into()),
        ("bin", "blip".into()),
        ("version", env!("CARGO_PKG_VERSION").into()),
        ("target", target.into()),
        ("binary-ext", String::new()),
    ] {
        out = out.replace(&format!("{{ {key} }}"), &value);
    }
    assert!(!out.contains('{'), "a template key this test does not know: {out}");
    out
}

#[test]
fn the_release_workflow_builds_each_target_with_the_scripts_and_attaches_the_sums() {
    let workflow =
        YamlLoader::load_from_str(&read(".github/workflows/release.yml")).expect("release.yml parses").remove(0);
    // YAML 1.1 reads a bare `on` as true, yaml-rust2 (1.2) as the string.
    let tags = workflow["on"]["push"]["tags"].as_vec().expect("on.push.tags");
    assert_eq!(tags, &[Yaml::String("v*".into())]);

    let build = &workflow["jobs"]["build"];
    let targets: Vec<&str> =
        build["strategy"]["matrix"]["target"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    assert_eq!(targets, TARGETS);
    let runs: Vec<&str> = build["steps"].as_vec().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    for script in ["bash scripts/dist ${{ matrix.target }}", "bash scripts/package ${{ matrix.target }}"] {
        assert!(runs.iter().any(|r| r.trim() == script), "the build job runs {script}: {runs:?}");
    }
    let release = workflow["jobs"]["release"]["steps"].as_vec().unwrap();
    let script: String = release.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(script.contains("sha256sum blip-*.tar.gz >SHA256SUMS"), "{script}");
    assert!(script.contains("gh release create \"$GITHUB_REF_NAME\""), "{script}");
    assert_eq!(workflow["jobs"]["release"]["permissions"]["contents"].as_str(), Some("write"));

    // macOS: tested and built on its own runners, packed by the same script.
    let macos = &workflow["jobs"]["macos"];
    let targets: Vec<&str> =
        macos["strategy"]["matrix"]["include"].as_vec().unwrap().iter().filter_map(|m| m["target"].as_str()).collect();
    assert_eq!(targets, MACOS);
    let runs: String = macos["steps"].as_vec().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    for step in
        ["cargo test --locked --bin blip", "bash scripts/package --binary target/${{ matrix.target }}/release/blip"]
    {
        assert!(runs.contains(step), "the macos job runs {step}: {runs}");
    }
    // Windows: cross-built, run under wine, packed with its .exe.
    let windows = &workflow["jobs"]["windows"];
    assert_eq!(windows["env"]["TARGET"].as_str(), Some(WINDOWS));
    let runs: String = windows["steps"].as_vec().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    for step in ["python3 scripts/wine-smoke", "bash scripts/package --binary \"target/$TARGET/release/blip.exe\""] {
        assert!(runs.contains(step), "the windows job runs {step}: {runs}");
    }
    let needs: Vec<&str> =
        workflow["jobs"]["release"]["needs"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    assert_eq!(needs, ["build", "windows", "macos"], "the release waits for every archive");

    // The action downloads exactly these names.
    let install = read("action/install.sh");
    assert!(install.contains("NAME=blip-${TAG#v}-$TARGET") && install.contains("$BASE/$TAG/SHA256SUMS"));
    for target in TARGETS.iter().chain(&MACOS).chain([&WINDOWS]) {
        assert!(install.contains(&format!("TARGET={target}")), "action/install.sh installs {target}");
    }
}

#[test]
fn the_archive_has_the_layout_binstall_and_the_action_expect() {
    let dir = tempdir("package");
    // A tiny stand-in for the binary that runs the real one: packing stays quick.
    let binary = dir.join("blip");
    std::fs::write(&binary, format!("#!/bin/sh\nexec {BLIP:?} \"$@\"\n")).unwrap();
    Command::new("chmod").arg("+x").arg(&binary).status().unwrap();
    let output = Command::new("bash")
        .arg(Path::new(ROOT).join("scripts/package"))
        .args(["--binary", binary.to_str().unwrap(), "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let archive = String::from_utf8(output.stdout).unwrap().trim().to_string();

    let target = TARGETS[0];
    let url = render(&cargo_value("package.metadata.binstall", "pkg-url"), target);
    let release = format!("{}/releases/download/v{}/", cargo_value("package", "repository"), env!("CARGO_PKG_VERSION"));
    let file = url.strip_prefix(&release).unwrap_or_else(|| panic!("pkg-url {url} is not under {release}"));
    assert_eq!(Path::new(&archive).file_name().unwrap().to_str(), Some(file), "binstall's pkg-url names the archive");
    assert_eq!(cargo_value("package.metadata.binstall", "pkg-fmt"), "tgz");

    let list = Command::new("tar").arg("-tzf").arg(&archive).output().unwrap();
    let mut entries: Vec<String> =
        String::from_utf8(list.stdout).unwrap().lines().map(|l| l.trim_end_matches('/').to_string()).collect();
    entries.sort();
    let top = file.strip_suffix(".tar.gz").unwrap();
    let mut expected: Vec<String> = [
        "",
        "/README.md",
        "/blip",
        "/blip.1",
        "/completions",
        "/completions/_blip",
        "/completions/blip.bash",
        "/completions/blip.fish",
        "/docs",
    ]
    .iter()
    .map(|e| format!("{top}{e}"))
    .collect();
    // The manual the README links to, whole.
    for doc in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        expected.push(format!("{top}/docs/{}", doc.unwrap().file_name().to_str().unwrap()));
    }
    expected.sort();
    assert_eq!(entries, expected);
    let bin_dir = render(&cargo_value("package.metadata.binstall", "bin-dir"), target);
    assert!(entries.contains(&bin_dir), "binstall's bin-dir {bin_dir} is in the archive");

    // The completions and the man page are blip's own.
    let extract = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&dir).status().unwrap();
    assert!(extract.success());
    let man = std::fs::read_to_string(dir.join(top).join("blip.1")).unwrap();
    assert!(man.contains("\n.TH blip 1"), "the man page: {}", &man[..man.len().min(200)]);
    let bash = std::fs::read_to_string(dir.join(top).join("completions/blip.bash")).unwrap();
    assert!(bash.contains("complete -F _blip"), "bash completion");
}

#[test]
fn the_image_labels_agree_with_the_manifest() {
    let repository = cargo_value("package", "repository");
    let license = cargo_value("package", "license");
    for file in ["Containerfile", "Containerfile.build"] {
        let text = read(file);
        assert!(text.contains(&format!("org.opencontainers.image.source=\"{repository}\"")), "{file}: source");
        assert!(text.contains(&format!("org.opencontainers.image.licenses=\"{license}\"")), "{file}: licenses");
        for line in ["USER 65532:65532", "ENTRYPOINT [\"/blip\"]", "COPY container/passwd container/group /etc/"] {
            assert!(text.lines().any(|l| l == line), "{file}: {line}");
        }
    }
}
