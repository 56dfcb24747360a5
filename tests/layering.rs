//! The layering docs/development.md draws, checked: each top-level room of `src/` imports only
//! the rooms before it in the flow (and the leaves), so a new import that runs back up (the
//! engine reaching for a report writer, a writer for the app) fails here.

use std::collections::BTreeMap;
use std::path::Path;

/// Leaves every room may use: text rules, units of time, exit codes, the platform switch, where
/// reports go.
const LEAVES: &[&str] = &["sanitize", "units", "exit", "platform", "destination"];

/// What each room may import besides itself and the leaves.
const ALLOWED: &[(&str, &[&str])] = &[
    ("engine", &[]),
    ("analysis", &["engine"]),
    ("gates", &["analysis", "engine"]),
    ("report", &["gates", "analysis", "engine"]),
    ("live", &["report", "gates", "analysis", "engine"]),
    // cli and config parse flags into the domain's types.
    ("cli", &["config", "gates", "engine"]),
    ("config", &["cli", "gates", "engine"]),
    ("offline", &["config", "cli", "report", "gates", "analysis", "engine"]),
    // A run reads its --baseline of saved reports as blip judge does.
    ("app", &["offline", "config", "cli", "live", "report", "gates", "analysis", "engine"]),
    ("demo", &["app", "config", "cli", "report", "gates", "analysis", "engine"]),
];

/// The room a source file belongs to: its folder under `src/`, or its name for a top-level file.
fn room(path: &Path, src: &Path) -> Option<String> {
    let relative = path.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let room = first.strip_suffix(".rs").unwrap_or(first);
    (room != "main").then(|| room.to_string())
}

/// The rooms `source` names as `crate::ROOM`.
fn imports(source: &str) -> Vec<String> {
    source
        .match_indices("crate::")
        .map(|(at, _)| {
            source[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        })
        .filter(|name: &String| !name.is_empty())
        .collect()
}

/// Each import that breaks [`ALLOWED`], as `room → import (file)`.
fn violations(files: &[(String, String, String)]) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut found = Vec::new();
    for (room, file, source) in files {
        let Some(may) = allowed.get(room.as_str()) else {
            if !LEAVES.contains(&room.as_str()) {
                found.push(format!("{room}: a room missing from the table ({file})"));
            }
            continue;
        };
        for import in imports(source) {
            if import != *room && !LEAVES.contains(&import.as_str()) && !may.contains(&import.as_str()) {
                found.push(format!("{room} → {import} ({file})"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn sources(dir: &Path, src: &Path, out: &mut Vec<(String, String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, src, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Some(room) = room(&path, src)
        {
            out.push((room, path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn every_room_imports_only_the_rooms_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    assert!(files.len() > 50, "the sources were read");
    let found = violations(&files);
    assert!(found.is_empty(), "imports against the layering of docs/development.md:\n{}", found.join("\n"));
}

#[test]
fn the_checker_finds_an_import_that_runs_back_up() {
    let file = |room: &str, source: &str| (room.to_string(), format!("src/{room}/x.rs"), source.to_string());
    let files = [
        file("engine", "use crate::report::Report;\nuse crate::engine::sample::Sample;\nuse crate::units::ms;"),
        file("live", "use crate::app::Run;"),
        file("report", "fn f() -> crate::gates::Verdict { todo!() }"),
    ];
    assert_eq!(violations(&files), ["engine → report (src/engine/x.rs)", "live → app (src/live/x.rs)"]);
}
