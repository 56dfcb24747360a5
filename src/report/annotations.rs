//! GitHub Actions annotations: an `::error` workflow command per failed gate, so the failure
//! shows on the run's summary page next to the step that caused it.
//!
//! The message carries a server's error text into the job's log, which renders escape sequences
//! and reads workflow commands: control characters are taken out ([`sanitize::text`]), then the
//! command's own escaping keeps every annotation on one line.

use crate::report::Report;
use crate::report::junit::evidence;
use crate::sanitize;

/// One line for a failed or unstarted deploy, then one per failed gate.
pub fn render(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(d) = report.deploy.as_ref().filter(|_| !report.headline().passed)
        && (report.not_started() || report.deploy_failure().is_some())
    {
        let title = sanitize::line(&format!("blip: {}", report.headline().text));
        let message = sanitize::text(&format!("{}\n{}", d.shown(), d.output_tail.join("\n")));
        lines.push(format!("::error title={}::{}", escape_property(&title), escape_data(&message)));
    }
    for t in &report.targets {
        for g in t.gates.iter().filter(|g| !g.passed) {
            let title = format!("blip gate {} failed", g.shown());
            let mut message = format!("{}: observed {}, limit {}", t.name(), g.observed, g.limit);
            let evidence = evidence(t, g);
            if !evidence.is_empty() {
                message.push('\n');
                message.push_str(&evidence);
            }
            let (title, message) = (sanitize::line(&title), sanitize::text(&message));
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

    #[test]
    fn server_text_stays_in_one_clean_annotation() {
        let lines = render(&crate::report::fixtures::hostile_report());
        // The fixture's two failed gates: fail-on-status and the default max-downtime.
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(sanitize::is_clean(line) && !line.contains('\n'), "{line:?}");
        }
        assert!(lines[1].starts_with("::error title=blip gate max-downtime 0s (default) failed::"), "{}", lines[1]);
        let line = &lines[0];
        assert!(line.starts_with("::error title=blip gate fail-on-status 404 failed::"), "{line}");
        // The text's own `%0A` cannot pose as a line break.
        assert!(line.contains(" line2 %250A"), "{line}");
    }

    #[test]
    fn a_failed_deploy_is_an_annotation_of_its_own() {
        let mut report = crate::report::fixtures::deploy_report();
        let d = report.deploy.as_mut().unwrap();
        (d.succeeded, d.exit_code, d.output_tail) = (false, Some(7), vec!["staging failed".into()]);
        let lines = render(&report);
        assert!(lines[0].starts_with("::error title=blip%3A deploy failed (exit code 7)"), "{}", lines[0]);
        assert!(lines[0].ends_with("%0Astaging failed"), "{}", lines[0]);
    }
}
