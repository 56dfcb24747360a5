//! GitHub Actions annotations: an `::error` workflow command per failed gate, so the failure
//! shows on the run's summary page next to the step that caused it.

use crate::report::Report;
use crate::report::junit::evidence;

/// One line per failed gate.
pub fn render(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for t in &report.targets {
        for g in t.gates.iter().filter(|g| !g.passed) {
            let title = format!("blip gate {} failed", g.gate);
            let mut message = format!("{}: observed {}, limit {}", t.url, g.observed, g.limit);
            let evidence = evidence(t, g);
            if !evidence.is_empty() {
                message.push('\n');
                message.push_str(&evidence);
            }
            lines.push(format!("::error title={}::{}", escape_property(&title), escape_data(&message)));
        }
    }
    lines
}

/// Escaping of a workflow command's message, as GitHub's toolkit does it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escaping of a workflow command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_toolkit_does() {
        assert_eq!(escape_data("50% down\nnext"), "50%25 down%0Anext");
        assert_eq!(escape_property("a: b, c"), "a%3A b%2C c");
    }
}
