//! The coverage phase against the embedded server: the faultless server judges the
//! non-ASCII, long-text and race cases without a false failure, and each new fault is
//! killed by its coverage case with one of its expected requirements.

use gws_conform::cases::Case;
use gws_conform::cases::coverage;
use gws_conform::check::Verdict;
use gws_conform::report::Overall;
use gws_conform::runner::{self, RunSettings};
use gws_conform::schema::Schemas;
use std::time::Duration;

fn plan() -> Vec<Case> {
    coverage::cases(Schemas::embedded().unwrap(), 1, &["agent1".to_string()]).unwrap()
}

fn case(id_prefix: &str) -> Case {
    plan()
        .into_iter()
        .find(|c| c.id.starts_with(id_prefix))
        .unwrap_or_else(|| panic!("no case {id_prefix}"))
}

fn run(case: Case, fault: Option<&str>) -> gws_conform::report::RunReport {
    let s = RunSettings {
        fault: fault.map(str::to_string),
        seed: 1,
        random_cases: 0,
        deadline: Duration::from_secs(2),
        quiet_window: Duration::from_millis(300),
        progress: runner::Progress::None,
        replay: Some(case),
        ..RunSettings::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::execute(s)).report
}

fn failed(r: &gws_conform::report::RunReport) -> Vec<String> {
    r.requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Fail)
        .map(|q| q.id.clone())
        .collect()
}

#[test]
fn faultless_server_passes_the_hard_coverage_cases() {
    for id in [
        "cov-valid-text-emoji",
        "cov-valid-text-cjk",
        "cov-valid-text-combining",
        "cov-valid-text-rtl",
        "cov-valid-text-long-16384",
        "cov-valid-text-escapes",
        "cov-either-text-lone-surrogate",
    ] {
        let r = run(case(id), None);
        assert!(
            failed(&r).is_empty() && r.overall == Overall::Conformant,
            "{id}: failed {:?}, errors {:?}, overall {:?}, findings {}",
            failed(&r),
            r.errors,
            r.overall,
            serde_json::to_string(&r.cases).unwrap_or_default()
        );
    }
}

#[test]
fn new_faults_are_killed_by_their_coverage_case() {
    for (fault, id, expect) in [
        (
            "treatas-case-insensitive",
            "cov-cmp-10-treatas-lower-normal",
            &["CMP-10"][..],
        ),
        (
            "savelar-string-accepted",
            "cov-cmp-11-savelar-string-true",
            &["CMP-11"],
        ),
        (
            "long-text-truncated",
            "cov-valid-text-long-16384",
            &["CMP-04", "CMP-05"],
        ),
        (
            "non-ascii-mangled",
            "cov-valid-text-emoji",
            &["CMP-04", "CMP-05"],
        ),
    ] {
        let r = run(case(id), Some(fault));
        assert!(
            failed(&r).iter().any(|f| expect.contains(&f.as_str())),
            "{fault} on {id}: failed {:?}",
            failed(&r)
        );
    }
}
