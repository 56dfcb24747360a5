//! Where each report goes: plain data that `config` fills from the flags, a run's and `blip
//! judge`'s and `blip merge`'s alike, and that `report::file::write_all` writes. A leaf, so that
//! both sides of that seam can name it.

use std::path::PathBuf;

/// A report stream's destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

/// Every report of one run or one judgement of saved reports, and where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reports {
    /// `None`: no JSON; `Some(Stdout)`: `--json -`.
    pub json: Option<Destination>,
    pub junit: Option<PathBuf>,
    /// `--markdown PATH`: the Markdown summary, written whole.
    pub markdown: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`: the same summary appended to GitHub's job summary (which other
    /// steps write to as well), whether or not `--markdown` is given.
    pub step_summary: Option<PathBuf>,
    /// `--html PATH`: written whole.
    pub html: Option<PathBuf>,
    /// Print GitHub Actions annotations for failed gates (`GITHUB_ACTIONS=true`).
    pub annotations: bool,
}

impl Reports {
    /// Whether the JSON report goes to stdout, which then carries it alone.
    pub fn json_to_stdout(&self) -> bool {
        self.json == Some(Destination::Stdout)
    }

    /// Every file these reports write or append to, with the flag (or variable) that names it.
    pub fn files(&self) -> Vec<(&'static str, PathBuf)> {
        let json = match &self.json {
            Some(Destination::File(path)) => Some(path.clone()),
            _ => None,
        };
        [
            ("--json", json),
            ("--junit", self.junit.clone()),
            ("--markdown", self.markdown.clone()),
            ("--html", self.html.clone()),
            ("GITHUB_STEP_SUMMARY", self.step_summary.clone()),
        ]
        .into_iter()
        .filter_map(|(flag, path)| Some((flag, path?)))
        .collect()
    }
}

/// Writes `text`, meant for a person, to stdout, or to stderr when `stdout_taken` (a report
/// stream has stdout to itself). A stream that is gone (a closed pipe) loses the text, never
/// the run.
pub fn for_people(stdout_taken: bool, text: &str) {
    use std::io::Write as _;
    let _ = if stdout_taken {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
}
