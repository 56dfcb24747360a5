//! The shape docs/development.md promises, checked: no source file above 450 lines of code
//! outside its tests, and no function above 100 lines outside tests, so that a file or a function
//! that grows past what a reader holds in mind fails here instead of in a review.

use std::path::{Path, PathBuf};

/// Most lines of non-test code in one source file.
const MAX_FILE_LINES: usize = 450;
/// Most lines of one function outside tests, from its `fn` line to its closing brace.
const MAX_FN_LINES: usize = 100;

/// The lines of `source` before its test module (`#[cfg(test)]` at the start of a line).
fn code_lines(source: &str) -> Vec<&str> {
    source.lines().take_while(|l| !l.starts_with("#[cfg(test)]")).collect()
}

/// The name of the function declared on `line`, if one is, with its indentation.
fn fn_name(line: &str) -> Option<(&str, &str)> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let mut rest = line.trim_start();
    for prefix in ["pub(crate) ", "pub(super) ", "pub ", "const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let name = rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next()?;
    (!name.is_empty()).then_some((indent, name))
}

/// Each function of `lines` longer than [`MAX_FN_LINES`], as `name (N lines)`. A function ends
/// at the first line that is its indentation and a closing brace; a declaration without a body
/// (a trait's) or a one-line body has no such line and is skipped.
fn long_functions(lines: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((indent, name)) = fn_name(line) else { continue };
        if line.trim_end().ends_with('}') || line.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(end) = lines[i..].iter().position(|l| l.trim_end() == close) {
            let length = end + 1;
            if length > MAX_FN_LINES {
                found.push(format!("{name} ({length} lines)"));
            }
        }
    }
    found
}

/// The modules declared under `#[cfg(test)]` (`#[cfg(test)] mod fixtures;`): their files are
/// test code as a whole.
fn test_modules(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim() == "#[cfg(test)]")
        .filter_map(|w| {
            let decl = w[1].trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
            Some(decl.strip_prefix("mod ")?.strip_suffix(';')?.to_string())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `path` is a test module's file: declared under `#[cfg(test)]` by the module beside it
/// (`x/mod.rs` or `x.rs` for `x/name.rs`, the parent's for `name.rs`).
fn is_test_file(path: &Path, tests_of: &dyn Fn(&Path) -> Vec<String>) -> bool {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { return false };
    let dir = path.parent().unwrap();
    let parents = [dir.join("mod.rs"), dir.with_extension("rs"), dir.join("main.rs")];
    parents.iter().any(|p| p != path && tests_of(p).iter().any(|m| m == stem))
}

#[test]
fn no_file_or_function_outgrows_a_reader() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "the sources were read");
    let tests_of = |p: &Path| std::fs::read_to_string(p).map(|s| test_modules(&s)).unwrap_or_default();
    let mut found = Vec::new();
    for path in &files {
        if is_test_file(path, &tests_of) {
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        let lines = code_lines(&source);
        let shown = path.strip_prefix(&src).unwrap().display();
        if lines.len() > MAX_FILE_LINES {
            found.push(format!("src/{shown}: {} lines of code (at most {MAX_FILE_LINES})", lines.len()));
        }
        for f in long_functions(&lines) {
            found.push(format!("src/{shown}: {f} (at most {MAX_FN_LINES})"));
        }
    }
    assert!(found.is_empty(), "split these into named steps:\n{}", found.join("\n"));
}

#[test]
fn the_checker_finds_a_long_function_and_skips_tests() {
    let body = "    let x = 1;\n".repeat(MAX_FN_LINES - 1);
    let source = format!(
        "pub fn short() -> u8 {{ 1 }}\nfn long() {{\n{body}}}\nimpl X {{\n    pub async fn fits() {{\n    }}\n}}\n#[cfg(test)]\nmod tests {{\n    fn huge() {{\n{body}{body}    }}\n}}\n"
    );
    let lines = code_lines(&source);
    assert_eq!(long_functions(&lines), [format!("long ({} lines)", MAX_FN_LINES + 1)]);
    assert_eq!(test_modules("#[cfg(test)]\npub(crate) mod fixtures;\nmod real;\n"), ["fixtures"]);
}
