//! `junit.xml`: one testsuite per requirement family (`gws-conform.CMP`, `.NTF`,
//! `.SES`, `.REQ`), one testcase per requirement of the catalogue (name = id + short
//! title, classname = `gws-conform.<family>`, time = the summed durations of the cases
//! exercising it; a failure's witness and replay command in `system-out`). Valid against
//! the Jenkins JUnit schema (`fixtures/junit/jenkins-junit.xsd`).

use super::types::{RequirementReport, RunReport};
use super::{
    ReportError, case_stems, replay_command, replay_command_in, scrub_markup, truncate, write_file,
};
use crate::check::Verdict;
use crate::history::redact::Scrubber;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The JUnit document of a run (not yet scrubbed: every string is scrubbed here before it
/// enters the XML model, and [`write_junit`] scrubs the text again).
pub fn junit_xml(report: &RunReport, scrub: &Scrubber) -> Result<String, ReportError> {
    junit_doc(report, scrub, None)
}

/// The JUnit document as written into the run folder `dir`: replay commands name the
/// case files by absolute path (see [`super::replay_command_in`]).
pub(crate) fn junit_xml_in(
    report: &RunReport,
    scrub: &Scrubber,
    dir: &Path,
) -> Result<String, ReportError> {
    junit_doc(report, scrub, Some(dir))
}

fn junit_doc(
    report: &RunReport,
    scrub: &Scrubber,
    dir: Option<&Path>,
) -> Result<String, ReportError> {
    let s = |t: &str| scrub.scrub(t);
    let stems = case_stems(report);
    let mut rep = Report::new("gws-conform");
    rep.set_time(Duration::from_millis(report.duration_ms));
    for family in FAMILIES {
        let members: Vec<&RequirementReport> = report
            .requirements
            .iter()
            .filter(|r| r.id.starts_with(&format!("{family}-")))
            .collect();
        if members.is_empty() {
            continue;
        }
        let mut suite = TestSuite::new(format!("gws-conform.{family}"));
        suite.add_property(Property::new("target", s(&report.target)));
        suite.add_property(Property::new("seed", report.seed.to_string()));
        suite.add_property(Property::new("run_id", s(&report.run_id)));
        suite.add_property(Property::new("harness_version", s(&report.harness_version)));
        suite.add_property(Property::new("overall", format!("{:?}", report.overall)));
        if !report.errors.is_empty() {
            suite.set_system_err(s(&report.errors.join("\n")));
        }
        let mut total = Duration::ZERO;
        for r in members {
            let tc = test_case(report, r, &stems, dir, &s);
            total += tc.time.unwrap_or_default();
            suite.add_test_case(tc);
        }
        suite.set_time(total);
        rep.add_test_suite(suite);
    }
    let xml = rep
        .to_string()
        .map_err(|e| ReportError::Serialize(e.to_string()))?;
    Ok(drop_testsuites_skipped(&xml))
}

/// The Jenkins JUnit schema allows `skipped` on `<testsuite>` but not on the
/// `<testsuites>` root, where quick-junit always writes it: it is removed there (the
/// per-suite counts keep it).
fn drop_testsuites_skipped(xml: &str) -> String {
    let Some(start) = xml.find("<testsuites ") else {
        return xml.to_string();
    };
    let end = start + xml[start..].find('>').unwrap_or(0);
    let tag = &xml[start..end];
    let Some(at) = tag.find(" skipped=\"") else {
        return xml.to_string();
    };
    let value_end = tag[at + 10..].find('"').map(|i| at + 10 + i + 1);
    match value_end {
        Some(ve) => format!("{}{}{}", &xml[..start + at], &tag[ve..], &xml[end..]),
        None => xml.to_string(),
    }
}

/// The requirement families, one testsuite each (in catalogue order).
pub(crate) const FAMILIES: [&str; 4] = ["CMP", "NTF", "SES", "REQ"];

/// One requirement as a testcase: name `CMP-04 text before Completed`, classname
/// `gws-conform.CMP`, time the sum of the durations of the cases exercising it, and in
/// `system-out` the witness and the replay command of each failing case.
fn test_case(
    report: &RunReport,
    r: &RequirementReport,
    stems: &std::collections::HashMap<String, String>,
    dir: Option<&Path>,
    s: &dyn Fn(&str) -> String,
) -> TestCase {
    let title = crate::spec::ReqId::parse(&r.id)
        .map(short_title)
        .map(str::to_string)
        .unwrap_or_else(|| truncate(&r.text, 60));
    let name = format!("{} {title}", r.id);
    let status = match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(s(&r.reason));
            st.set_type(r.level.as_str());
            st.set_description(s(&format!("{} ({}): {}", r.id, r.level.as_str(), r.text)));
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
    let family = r.id.split('-').next().unwrap_or("REQ");
    tc.set_classname(format!("gws-conform.{family}"));
    let ms: u64 = report
        .cases
        .iter()
        .filter(|c| c.exercises.iter().any(|q| q.as_str() == r.id))
        .map(|c| c.duration_ms)
        .sum();
    tc.set_time(Duration::from_millis(ms));
    if r.verdict == Verdict::Fail {
        tc.set_system_out(s(&failure_text(report, r, stems, dir)));
    }
    if r.waiver_unused {
        tc.add_property(Property::new(
            "waiver_unused",
            "the baseline waives this requirement but it did not fail: remove the waiver",
        ));
    }
    tc
}

/// A short title per requirement, for test names in CI (the full text is in the
/// failure's description and in `gws-conform list`).
pub fn short_title(id: crate::spec::ReqId) -> &'static str {
    use crate::spec::ReqId::*;
    match id {
        Cmp01 => "Complete answers 200 statusCode 0",
        Cmp02 => "exactly one Completed notification",
        Cmp03 => "Completed chat.uri names the chat",
        Cmp04 => "text reaches the agent before Completed",
        Cmp05 => "text reaches the customer transcript",
        Cmp06 => "customer session ends",
        Cmp07 => "queueName places the interaction",
        Cmp08 => "saveLAR records the last agent",
        Cmp09 => "messageType/treatAs without text refused",
        Cmp10 => "treatAs outside Normal/System refused",
        Cmp11 => "wrongly typed fields refused",
        Cmp12 => "Complete on Invited refused",
        Cmp13 => "Complete on Completed refused",
        Cmp14 => "unknown chat id refused with 6",
        Cmp15 => "Complete on LeftChat succeeds",
        Cmp16 => "Complete after the customer left succeeds",
        Cmp17 => "a refused Complete changes nothing",
        Cmp18 => "error body is statusCode + statusMessage",
        Cmp19 => "no notification after Completed",
        Cmp20 => "concurrent Completes on many chats",
        Cmp21 => "another agent's chat refused",
        Cmp22 => "referenceId matches the notifications",
        Ntf01 => "notifications valid against their schema",
        Ntf02 => "Bayeux handshake, subscribe, connect",
        Ses01 => "CSRF token required",
        Ses02 => "credentials required",
        Req01 => "malformed requests refused",
    }
}

/// The failure body: per failing case, the witness (expected / observed) and the replay
/// command.
fn failure_text(
    report: &RunReport,
    r: &RequirementReport,
    stems: &std::collections::HashMap<String, String>,
    dir: Option<&Path>,
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
            let (replay, script) = match dir {
                Some(d) => (
                    replay_command_in(d, stem, report),
                    super::absolute(d)
                        .join("cases")
                        .join(format!("{stem}.sh"))
                        .display()
                        .to_string(),
                ),
                None => (replay_command(stem, report), format!("cases/{stem}.sh")),
            };
            out.push_str(&format!("  replay:   {replay}\n"));
            if super::needs_agents(report) {
                out.push_str(&format!(
                    "  needs:    {} (the agents' passwords) in the environment\n",
                    super::agents_hint(report)
                ));
            }
            out.push_str(&format!("  curl:     bash {script}\n"));
        }
    }
    out
}

/// Writes `dir/junit.xml`; returns its path.
pub(crate) fn write_junit(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<PathBuf, ReportError> {
    super::create_dir(dir)?;
    let path = dir.join("junit.xml");
    let xml = junit_xml_in(report, scrub, dir)?;
    write_file(&path, &scrub_markup(scrub, &xml))?;
    Ok(path)
}
