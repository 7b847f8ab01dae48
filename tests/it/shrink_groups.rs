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
