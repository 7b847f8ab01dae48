//! Failing cases are grouped by failure signature and each group's representative is
//! shrunk (issue 12): one fault of the embedded server gives a handful of distinct
//! failures, not one per failing case.

use gws_conform::check::Verdict;
use gws_conform::runner::{self, Progress, RunSettings};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fault_gives_few_groups_each_shrunk_and_every_failing_case_listed_once() {
    let s = RunSettings {
        fault: Some("complete-text-after-status".into()),
        random_cases: 20,
        seed: 1,
        deadline: Duration::from_secs(2),
        quiet_window: Duration::from_millis(200),
        progress: Progress::None,
        ..RunSettings::default()
    };
    let r = runner::execute(s).await.report;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let groups = r.groups.as_ref().expect("a failing run carries groups");
    assert!(
        !groups.is_empty() && groups.len() <= 3,
        "{} groups: {:#?}",
        groups.len(),
        groups.iter().map(|g| &g.signature).collect::<Vec<_>>()
    );
    for g in groups {
        assert!(
            g.shrunk_steps <= 6 || g.stopped.is_some() || !g.kept.is_empty(),
            "group {} ended at {} steps with no reason: {g:#?}",
            g.signature,
            g.shrunk_steps
        );
        // The report holds the representative in its shrunk form.
        let rep = r
            .cases
            .iter()
            .find(|c| c.id == g.representative)
            .expect("the representative is a case of the report");
        assert_eq!(rep.steps.len(), g.shrunk_steps);
        assert_eq!(rep.verdict, Verdict::Fail);
    }
    let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
    for g in groups {
        for id in std::iter::once(&g.representative).chain(&g.others) {
            *listed.entry(id.as_str()).or_default() += 1;
        }
    }
    let failing: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && !c.steps.is_empty())
        .map(|c| c.id.as_str())
        .collect();
    assert!(!failing.is_empty());
    for id in &failing {
        assert_eq!(
            listed.get(id),
            Some(&1),
            "case {id} in the groups: {listed:?}"
        );
    }
    assert_eq!(listed.len(), failing.len(), "{listed:?} vs {failing:?}");
}

/// The run of the triage (issue 25): `complete-text-after-status`, seed 5.
fn text_after_status(only: &[&str]) -> RunSettings {
    RunSettings {
        fault: Some("complete-text-after-status".into()),
        seed: 5,
        only: only.iter().map(|s| s.to_string()).collect(),
        progress: Progress::None,
        ..RunSettings::default()
    }
}

/// One bug, one failure (issue 25): the text after the Completed is seen by CMP-04 and
/// CMP-19 on single chats and by CMP-20 on chats completed at once; grouped by
/// anomaly, that is one distinct failure whose requirements are all three, with a
/// representative of at most 6 steps. Grouped by the set of failed requirements (the
/// old way), the concurrent case was a second failure, left at 14 steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bug_is_one_failure_whichever_requirements_notice_it() {
    let r = runner::execute(text_after_status(&[])).await.report;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let groups = r.groups.as_ref().expect("a failing run carries groups");
    let sigs: Vec<&str> = groups.iter().map(|g| g.signature.as_str()).collect();
    assert_eq!(sigs, ["text-after-completed"], "{groups:#?}");
    let g = &groups[0];
    for id in ["CMP-04", "CMP-19", "CMP-20"] {
        assert!(
            g.requirements.iter().any(|r| r.as_str() == id),
            "{id} not among {:?}",
            g.requirements
        );
    }
    assert!(g.shrunk_steps <= 6, "{g:#?}");
    assert!(
        g.others.iter().any(|o| o == "complete-many-at-once")
            || g.representative.starts_with("complete-many-at-once"),
        "the concurrent case belongs to the group: {g:#?}"
    );
    // Every failing finding of the run saw that one anomaly.
    for c in &r.cases {
        for f in c.findings.iter().filter(|f| f.verdict == Verdict::Fail) {
            let names: Vec<String> = f.anomalies.iter().map(|a| a.name()).collect();
            assert_eq!(names, ["text-after-completed"], "case {} {:?}", c.id, f);
        }
    }
}

/// A concurrent failure shrinks its concurrent part first: five Completes at once become
/// one chat, the anomaly stays, and the smaller case (which no longer exercises CMP-20)
/// is listed as the representative next to the original, which keeps CMP-20's Fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_failure_shrinks_to_one_chat_and_keeps_its_verdict() {
    let events = std::env::temp_dir().join(format!(
        "gws-shrink-min-events-{}.ndjson",
        std::process::id()
    ));
    let mut s = text_after_status(&["CMP-20"]);
    s.events = Some(gws_conform::report::events::EventSink::create(&events).unwrap());
    let r = runner::execute(s).await.report;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let groups = r.groups.as_ref().expect("a failing run carries groups");
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let g = &groups[0];
    assert!(g.original_steps >= 11, "{g:#?}");
    assert!(g.shrunk_steps <= 6, "{g:#?}");
    assert_eq!(g.representative, "complete-many-at-once-min");
    assert_eq!(g.others, ["complete-many-at-once"]);
    let min = r.cases.iter().find(|c| c.id == g.representative).unwrap();
    assert_eq!(min.steps.len(), g.shrunk_steps);
    assert_eq!(min.original_steps, Some(g.original_steps));
    let cmp20 = r.requirements.iter().find(|q| q.id == "CMP-20").unwrap();
    assert_eq!(cmp20.verdict, Verdict::Fail, "{cmp20:?}");
    assert_eq!(cmp20.failing_cases, ["complete-many-at-once"]);
    // The event stream tells the smaller case like any case of the report.
    let text = std::fs::read_to_string(&events).unwrap();
    let told = |kind: &str| -> Vec<String> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l["type"] == kind)
            .filter_map(|l| l["case"].as_str().map(str::to_string))
            .collect()
    };
    // (The CLI adds the `session` pseudo-case's line at the end of the run.)
    let ids: Vec<String> = r
        .cases
        .iter()
        .filter(|c| !c.steps.is_empty())
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(told("verdict"), ids);
    assert!(told("case_started").contains(&g.representative));
    let _ = std::fs::remove_file(&events);
}
