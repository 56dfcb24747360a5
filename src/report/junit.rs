//! The JUnit XML writer: a testsuite per URL and a testcase per gate, so CI systems show each
//! gate as a test and a failed one with its evidence (the first offending probe, the windows);
//! with a wrapped COMMAND, a `deploy` testcase in each suite too, which fails when the COMMAND
//! did or was not started, so a CI's test tab never shows green for a red job.
//!
//! quick-junit escapes XML's markup characters; the control characters XML 1.0 does not allow
//! at all (a server's text may hold any) are taken out by [`sanitize::text`] before.

use quick_junit::{NonSuccessKind, Property, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use crate::report::{GateReport, Report, TargetReport};
use crate::sanitize;
use crate::units::{from_ms, secs_ms};

/// Renders the report as JUnit XML. Pure, so it is tested by snapshot and by an XML parser.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut junit = Junit::new("blip");
    junit.set_time(from_ms(report.duration_ms));
    for target in &report.targets {
        let mut suite = TestSuite::new(sanitize::line(target.name()));
        suite.set_time(from_ms(report.duration_ms));
        suite.add_property(Property::new("vantage", sanitize::line(&report.vantage)));
        suite.set_system_out(sanitize::text(&crate::report::text::render_target_alone(target)));
        if let Some(deploy) = deploy_case(report) {
            suite.add_test_case(deploy);
        }
        if target.gates.is_empty() {
            // A suite with no testcase is dropped or flagged by some CI tools; the probes ran.
            let mut case = TestCase::new("probed", TestCaseStatus::success());
            case.set_classname("blip");
            suite.add_test_case(case);
        }
        for gate in &target.gates {
            suite.add_test_case(testcase(target, gate));
        }
        junit.add_test_suite(suite);
    }
    Ok(junit.to_string()?)
}

/// The `deploy` testcase: passed when the COMMAND succeeded (or blip stopped it for a failed
/// gate, which has its own testcase), failed with how it ended and its last lines otherwise.
fn deploy_case(report: &Report) -> Option<TestCase> {
    let d = report.deploy.as_ref()?;
    let failure = if report.not_started() {
        Some(report.headline().text)
    } else {
        report.deploy_failure().map(|how| format!("deploy failed ({how})"))
    };
    let status = match failure {
        None => TestCaseStatus::success(),
        Some(message) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("deploy");
            status.set_message(sanitize::line(&format!("{}: {message}", d.shown())));
            status.set_description(sanitize::text(&d.output_tail.join("\n")));
            status
        }
    };
    let mut case = TestCase::new("deploy", status);
    case.set_classname("blip");
    Some(case)
}

fn testcase(target: &TargetReport, gate: &GateReport) -> TestCase {
    let status = if gate.passed {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_type("gate");
        status.set_message(sanitize::line(&format!("{}: observed {}, limit {}", gate.gate, gate.observed, gate.limit)));
        status.set_description(sanitize::text(&evidence(target, gate)));
        status
    };
    let mut case = TestCase::new(sanitize::line(&gate.shown()), status);
    case.set_classname("blip");
    case
}

/// The evidence of a failed gate as text: the first offender and the windows involved, a line
/// each (a server's text cannot add lines).
pub fn evidence(target: &TargetReport, gate: &GateReport) -> String {
    let mut lines = Vec::new();
    let Some(e) = &gate.evidence else { return String::new() };
    if let (Some(at), Some(offset), Some(error)) = (&e.first_at, e.first_offset_ms, &e.first_error) {
        lines.push(format!("first at {at} (+{}): {}", secs_ms(offset), sanitize::line(error)));
    }
    for index in &e.outages {
        if let Some(w) = target.outages.get(*index) {
            let phase = w.phase_label().map(|p| format!(" [{p}]")).unwrap_or_default();
            let ids = w.request_ids().map(|ids| format!(" ({ids})")).unwrap_or_default();
            lines.push(format!(
                "outage{phase} {} → {} ({}, {} probes failed): {}{ids}",
                w.start,
                w.end,
                secs_ms(w.duration_ms),
                w.failed_probes,
                sanitize::line(&w.first_error)
            ));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::deploy_report;

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(render(&deploy_report()).unwrap());
    }

    #[test]
    fn server_text_keeps_the_xml_valid() {
        let xml = render(&crate::report::fixtures::hostile_report()).unwrap();
        assert!(sanitize::is_clean(&xml), "{xml:?}");
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
        assert!(failure.text().unwrap().contains("| <img src=x> `code`"), "{xml}");
    }

    #[test]
    fn junit_parses_with_a_testsuite_per_url_and_a_testcase_per_gate() {
        let xml = render(&deploy_report()).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        // Per suite a deploy testcase (passed: the fixture's command succeeded) and its gates.
        assert_eq!((root.attribute("tests"), root.attribute("failures")), (Some("6"), Some("2")));
        let deploys = doc.descendants().filter(|n| n.attribute("name") == Some("deploy")).count();
        assert_eq!(deploys, 2);
        let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
        assert_eq!(suites.len(), 2);
        assert_eq!(suites[1].attribute("name"), Some("http://127.0.0.1:8081/api/notes"));
        let failure = suites[1].descendants().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.parent().unwrap().attribute("name"), Some("fail-on-status 404"));
        let text = failure.text().unwrap();
        assert!(text.contains("first at 2026-11-26T12:00:02.000Z") && text.contains("outage [deploy]"), "{text}");
    }
}
