//! The README and docs/ hold together: every relative link resolves, to a file and to a heading
//! in it; the README stays a front door (at most 300 lines); and docs/report.md's list of JSON
//! fields is generated from `schema/report.schema.json`, so the contract is written once (in the
//! report model's doc comments, from which the schema is derived) and a field the schema has and
//! the page lacks, or the other way, fails here. `BLIP_WRITE_DOCS=1 cargo test --locked --test
//! integration docs::` rewrites the generated part of the page.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const README_MAX_LINES: usize = 300;
const BEGIN: &str = "<!-- The fields below are generated from schema/report.schema.json by tests/docs.rs: \
                     BLIP_WRITE_DOCS=1 cargo test --locked --test integration docs:: rewrites them. -->";
const END: &str = "<!-- End of the generated fields. -->";

/// A path as the repository names it: from its root, `..` resolved.
fn relative(path: &Path) -> String {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for part in path.strip_prefix(ROOT).unwrap_or(path).components() {
        match part {
            Component::ParentDir => _ = parts.pop(),
            Component::CurDir => {}
            other => parts.push(other.as_os_str()),
        }
    }
    parts.iter().collect::<PathBuf>().display().to_string()
}

/// The lines of a Markdown text outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match fence {
            Some(mark) if trimmed.starts_with(mark) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => lines.push((i + 1, line)),
        }
    }
    lines
}

/// A line without its inline code spans, which show link syntax rather than link.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => rest = &after[end + ticks..],
            None => return out + &rest[start..],
        }
    }
    out + rest
}

/// The targets of the inline links and images of a text (`[x](target)`, `![x](target "title")`),
/// with the line each is on.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            found.push((number, target.trim_matches(['<', '>']).to_string()));
            rest = &after[end..];
        }
    }
    found
}

/// GitHub's anchor for a heading: lowercase, punctuation other than `-` and `_` dropped, spaces
/// to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings; a repeated heading gets `-1`, `-2`, … as on GitHub.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = HashSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *count == 0 { base.clone() } else { format!("{base}-{count}") });
        *count += 1;
    }
    anchors
}

/// What is wrong with each relative link of `file` (whose text is `text`), one line each.
fn broken_links(file: &Path, text: &str) -> Vec<String> {
    let mut broken = Vec::new();
    for (line, target) in links(text) {
        if target.is_empty() {
            broken.push(format!("{}:{line}: an empty link", relative(file)));
            continue;
        }
        if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
            continue; // no network here: external links are not fetched
        }
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target.as_str(), None),
        };
        let linked = if path.is_empty() { file.to_path_buf() } else { file.parent().unwrap().join(path) };
        if !path.is_empty() && !linked.exists() {
            broken.push(format!("{}:{line}: `{target}`: no such file {}", relative(file), relative(&linked)));
            continue;
        }
        if let Some(anchor) = anchor {
            let headings = if path.is_empty() {
                anchors(text)
            } else {
                std::fs::read_to_string(&linked).map(|t| anchors(&t)).unwrap_or_default()
            };
            if !headings.contains(anchor) {
                broken.push(format!(
                    "{}:{line}: `{target}`: no heading in {} has the anchor #{anchor}",
                    relative(file),
                    relative(&linked)
                ));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in crate::support::markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        checked += links(&text).len();
        broken.extend(broken_links(&file, &text));
    }
    assert!(checked > 0, "no link found in README.md or docs/: the link scan is broken");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_sees_files_anchors_and_skips_code() {
    let text = "# Gate CI: fail the build\n## `--json PATH`\n## Gate CI: fail the build\n\
                see [a](#gate-ci-fail-the-build), [b](#--json-path), [c](#gate-ci-fail-the-build-1)\n\
                `[not a link](nowhere.md)` and [web](https://example.com/x)\n```\n[fenced](nowhere.md)\n```\n\
                [gone](nowhere.md) [lost](#no-such-heading) ![img](html-report.png \"title\")\n";
    let file = Path::new(ROOT).join("docs/example.md");
    let broken = broken_links(&file, text);
    assert_eq!(broken.len(), 2, "{broken:#?}");
    assert!(broken[0].contains("`nowhere.md`: no such file docs/nowhere.md"), "{}", broken[0]);
    assert!(broken[1].contains("no heading in docs/example.md has the anchor #no-such-heading"), "{}", broken[1]);
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into docs/ and link it"
    );
    // CI and the checks read these two set-up commands in the README.
    for command in ["cargo run --release -- demo", "cargo test --locked"] {
        assert!(readme.contains(command), "README.md no longer names `{command}`");
    }
}

/// The JSON Schema of the report, with its definitions at hand.
struct Schema {
    root: Value,
}

/// How a field's value is written: its type in words, notes that belong to the type (a
/// definition's description, the values of an enum), and an object whose fields are listed under
/// this one, with what joins the paths (`[]` for the items of an array, `.*` for a map's values).
struct Shape<'a> {
    kind: String,
    notes: Vec<String>,
    object: Option<(&'a Map<String, Value>, String)>,
}

fn description(node: &Value) -> Option<String> {
    let text = node.get("description")?.as_str()?;
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn plural(kind: &str) -> String {
    match kind {
        "object" | "string" | "integer" | "number" | "boolean" => format!("{kind}s"),
        _ => kind.to_string(),
    }
}

impl Schema {
    fn load() -> Schema {
        let text = std::fs::read_to_string(Path::new(ROOT).join("schema/report.schema.json")).unwrap();
        Schema { root: serde_json::from_str(&text).expect("schema/report.schema.json is not JSON") }
    }

    fn definition(&self, reference: &str) -> &Value {
        let name = reference.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {reference}"));
        self.root["$defs"].get(name).unwrap_or_else(|| panic!("$ref {reference} names no definition"))
    }

    fn shape<'a>(&'a self, node: &'a Value) -> Shape<'a> {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let definition = self.definition(reference);
            let mut shape = self.shape(definition);
            shape.notes.splice(0..0, description(definition));
            return shape;
        }
        if let Some(variants) = node.get("anyOf").and_then(Value::as_array) {
            let (nulls, others): (Vec<&Value>, Vec<&Value>) = variants.iter().partition(|v| v["type"] == "null");
            assert_eq!(others.len(), 1, "unsupported anyOf in the schema: {node}");
            let mut shape = self.shape(others[0]);
            if !nulls.is_empty() {
                shape.kind.push_str(" or null");
            }
            return shape;
        }
        if let Some(variants) = node.get("oneOf").and_then(Value::as_array) {
            let values: Vec<String> = variants
                .iter()
                .map(|v| format!("`{}`", v["const"].as_str().unwrap_or_else(|| panic!("unsupported oneOf: {node}"))))
                .collect();
            let notes = variants
                .iter()
                .zip(&values)
                .filter_map(|(v, value)| description(v).map(|d| format!("{value}: {d}")))
                .collect();
            return Shape { kind: format!("one of {}", values.join(", ")), notes, object: None };
        }
        let types: Vec<&str> = match &node["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("a schema node without a type: {node}"),
        };
        let nullable = types.contains(&"null");
        let base: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        assert_eq!(base.len(), 1, "unsupported type list in the schema: {node}");
        let mut shape = match base[0] {
            "object" => match (node.get("properties").and_then(Value::as_object), node.get("additionalProperties")) {
                (Some(properties), _) => {
                    Shape { kind: "object".into(), notes: Vec::new(), object: Some((properties, String::new())) }
                }
                (None, Some(values)) if values.is_object() => {
                    let inner = self.shape(values);
                    Shape {
                        kind: format!("map of {}", plural(&inner.kind)),
                        notes: inner.notes,
                        object: inner.object.map(|(props, join)| (props, format!(".*{join}"))),
                    }
                }
                _ => Shape { kind: "object".into(), notes: Vec::new(), object: None },
            },
            "array" => {
                let inner = self.shape(&node["items"]);
                Shape {
                    kind: format!("array of {}", plural(&inner.kind)),
                    notes: inner.notes,
                    object: inner.object.map(|(props, join)| (props, format!("[]{join}"))),
                }
            }
            other => {
                let mut shape = Shape { kind: other.to_string(), notes: Vec::new(), object: None };
                if let Some(values) = node.get("enum").and_then(Value::as_array) {
                    let values: Vec<String> =
                        values.iter().map(|v| format!("`{}`", v.as_str().unwrap_or("?"))).collect();
                    shape.kind = format!("one of {}", values.join(", "));
                }
                shape
            }
        };
        if nullable {
            shape.kind.push_str(" or null");
        }
        shape
    }

    /// A table row per field of `properties` and, under it, per field of what it holds.
    fn rows(&self, properties: &Map<String, Value>, prefix: &str, rows: &mut Vec<String>) {
        let mut names: Vec<&String> = properties.keys().collect();
        names.sort();
        for name in names {
            let node = &properties[name];
            let path = format!("{prefix}{name}");
            let shape = self.shape(node);
            let meaning: Vec<String> = description(node).into_iter().chain(shape.notes).collect();
            let meaning = if meaning.is_empty() { "—".to_string() } else { meaning.join(" ") };
            rows.push(format!("| `{path}` | {} | {} |", shape.kind, meaning.replace('|', "\\|")));
            if let Some((children, join)) = shape.object {
                self.rows(children, &format!("{path}{join}."), rows);
            }
        }
    }

    /// The generated part of docs/report.md.
    fn fields(&self) -> String {
        let mut rows = vec!["| field | type | meaning |".to_string(), "|---|---|---|".to_string()];
        self.rows(self.root["properties"].as_object().expect("the schema has no properties"), "", &mut rows);
        format!("{BEGIN}\n\n{}\n\n{END}", rows.join("\n"))
    }
}

/// docs/report.md with its generated part replaced by `fields`; an error names what is missing.
fn with_fields(page: &str, fields: &str) -> Result<String, String> {
    let start = page.find(BEGIN).ok_or("docs/report.md lost its marker line where the generated fields begin")?;
    let end = page[start..].find(END).ok_or("docs/report.md lost its marker line where the generated fields end")?;
    Ok(format!("{}{fields}{}", &page[..start], &page[start + end + END.len()..]))
}

#[test]
fn docs_report_md_lists_the_fields_of_the_schema() {
    let path = Path::new(ROOT).join("docs/report.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let expected = with_fields(&page, &Schema::load().fields()).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var_os("BLIP_WRITE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    if page != expected {
        panic!(
            "docs/report.md's fields differ from schema/report.schema.json (the schema comes from the report \
             model's doc comments):\n{}\nRewrite the page with `BLIP_WRITE_DOCS=1 cargo test --locked --test \
             integration docs::`",
            drift(&expected, &page)
        );
    }
}

/// The field paths of a page's table rows (`| `path` | …`).
fn field_paths(page: &str) -> Vec<&str> {
    page.lines().filter_map(|line| line.strip_prefix("| `")?.split('`').next()).collect()
}

/// How `page` differs from `expected`: fields one has and the other lacks, else the first lines
/// that differ.
fn drift(expected: &str, page: &str) -> String {
    let (want, have) = (field_paths(expected), field_paths(page));
    let lacks: Vec<&str> = want.iter().filter(|f| !have.contains(f)).copied().collect();
    let extra: Vec<&str> = have.iter().filter(|f| !want.contains(f)).copied().collect();
    let mut lines = Vec::new();
    if !lacks.is_empty() {
        lines.push(format!("  the schema has, docs/report.md lacks: {}", lacks.join(", ")));
    }
    if !extra.is_empty() {
        lines.push(format!("  docs/report.md has, the schema lacks: {}", extra.join(", ")));
    }
    if lines.is_empty() {
        let differ = expected.lines().zip(page.lines().chain(std::iter::repeat(""))).enumerate();
        lines.extend(
            differ.filter(|(_, (w, h))| w != h).take(3).map(|(i, (w, h))| {
                format!("  line {}: the schema gives\n    {w}\n  docs/report.md has\n    {h}", i + 1)
            }),
        );
    }
    lines.join("\n")
}

#[test]
fn the_generated_fields_walk_nested_objects_arrays_and_maps() {
    let schema = Schema::load();
    let fields = schema.fields();
    for row in [
        "| `schema_version` | integer |",
        "| `deploy` | object or null | The wrapped command; null when none was given.",
        "| `targets[].outages[].first_error` | string |",
        "| `targets[].phases.deploy.latency_ms.p99` | number |",
        "| `targets[].phases_ms.*.count` | integer |",
        "| `targets[].connection` | one of `reused`, `fresh` |",
        "| `targets[].tracked[].values[].timeline[].probes` | integer |",
        "| `targets[].status_counts` | map of integers |",
    ] {
        assert!(fields.lines().any(|line| line.starts_with(row)), "no row starts with {row}");
    }
}
