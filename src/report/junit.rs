//! `junit.xml`: one testsuite `gws-conform`, one testcase per requirement of the
//! catalogue (name = id + short text, classname = level).

use super::types::{RequirementReport, RunReport};
use super::{ReportError, case_stems, replay_command, scrub_markup, truncate, write_file};
use crate::check::Verdict;
use crate::history::redact::Scrubber;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The JUnit document of a run (not yet scrubbed: every string is scrubbed here before it
/// enters the XML model, and [`write_junit`] scrubs the text again).
pub fn junit_xml(report: &RunReport, scrub: &Scrubber) -> Result<String, ReportError> {
    let s = |t: &str| scrub.scrub(t);
    let stems = case_stems(report);
    let mut suite = TestSuite::new("gws-conform");
    suite.set_time(Duration::from_millis(report.duration_ms));
    suite.add_property(Property::new("target", s(&report.target)));
    suite.add_property(Property::new("seed", report.seed.to_string()));
    suite.add_property(Property::new("run_id", s(&report.run_id)));
    suite.add_property(Property::new("harness_version", s(&report.harness_version)));
    suite.add_property(Property::new("overall", format!("{:?}", report.overall)));
    if !report.errors.is_empty() {
        suite.set_system_err(s(&report.errors.join("\n")));
    }
    for r in &report.requirements {
        let name = format!("{} {}", r.id, truncate(&r.text, 80));
        let status = match r.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(s(&r.reason));
                st.set_type(r.level.as_str());
                st.set_description(s(&failure_text(report, r, &stems)));
                st
            }
            Verdict::Error => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                st.set_message(s(&r.reason));
                st.set_type("harness-error");
                st
            }
            Verdict::Skip => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(s(&r.reason));
                st
            }
            Verdict::Waived => {
                let mut st = TestCaseStatus::skipped();
                let reason = r.reason.strip_prefix("waived: ").unwrap_or(&r.reason);
                st.set_message(s(&format!("waived: {reason}")));
                st.set_type("waived");
                st
            }
        };
        let mut tc = TestCase::new(s(&name), status);
        tc.set_classname(r.level.as_str());
        if r.waiver_unused {
            tc.add_property(Property::new(
                "waiver_unused",
                "the baseline waives this requirement but it did not fail: remove the waiver",
            ));
        }
        suite.add_test_case(tc);
    }
    let mut rep = Report::new("gws-conform");
    rep.add_test_suite(suite);
    rep.to_string()
        .map_err(|e| ReportError::Serialize(e.to_string()))
}

/// The failure body: per failing case, the witness (expected / observed) and the replay
/// command.
fn failure_text(
    report: &RunReport,
    r: &RequirementReport,
    stems: &std::collections::HashMap<String, String>,
) -> String {
    let mut out = format!("{} ({}): {}\n", r.id, r.level.as_str(), r.text);
    for cid in &r.failing_cases {
        let Some(case) = report.cases.iter().find(|c| &c.id == cid) else {
            continue;
        };
        out.push_str(&format!("\ncase {cid} (seed {}):\n", case.seed));
        for f in case
            .findings
            .iter()
            .filter(|f| r.id == f.req.as_str() && f.verdict == Verdict::Fail)
        {
            out.push_str(&format!("  reason:   {}\n", f.reason));
            if let Some(w) = &f.witness {
                out.push_str(&format!("  expected: {}\n", w.expected));
                out.push_str(&format!("  observed: {}\n", w.observed));
                if !w.events.is_empty() {
                    let ev: Vec<String> = w.events.iter().map(|e| e.to_string()).collect();
                    out.push_str(&format!("  events:   {}\n", ev.join(", ")));
                }
            }
        }
        if let Some(stem) = stems.get(cid) {
            out.push_str(&format!("  replay:   {}\n", replay_command(stem, report)));
            out.push_str(&format!("  curl:     bash cases/{stem}.sh\n"));
        }
    }
    out
}

/// Writes `dir/junit.xml`; returns its path.
pub fn write_junit(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<PathBuf, ReportError> {
    super::create_dir(dir)?;
    let path = dir.join("junit.xml");
    let xml = junit_xml(report, scrub)?;
    write_file(&path, &scrub_markup(scrub, &xml))?;
    Ok(path)
}
