//! A long run streams (issue 13): cases are generated as they run, passing cases past
//! the listed ones are counted, not kept, and `--duration` runs random sequences until
//! a deadline. Whatever is dropped, the verdicts are the ones a fully listed run gives.

use gws_conform::check::Verdict;
use gws_conform::report::{self, RunReport};
use gws_conform::runner::{self, Plan, Progress, RunSettings};
use gws_conform::schema::Schemas;
use std::time::Duration;

fn settings(seed: u64, random: u32) -> RunSettings {
    RunSettings {
        random_cases: random,
        seed,
        deadline: Duration::from_secs(2),
        quiet_window: Duration::from_millis(200),
        progress: Progress::None,
        ..RunSettings::default()
    }
}

/// The verdict per requirement, and how many cases judged it (the race cases judge
/// CMP-05/16 or not depending on which request the target served first, so the
/// counts of two runs can differ by those few).
fn verdicts(r: &RunReport) -> Vec<(String, Verdict)> {
    r.requirements
        .iter()
        .map(|q| (q.id.clone(), q.verdict))
        .collect()
}

fn judged(r: &RunReport) -> u32 {
    r.requirements
        .iter()
        .map(|q| q.counts.pass + q.counts.skip + q.counts.fail)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_cases_past_the_listed_ones_are_counted_with_the_same_verdicts() {
    let full = runner::execute(settings(3, 12)).await.report;
    let mut s = settings(3, 12);
    s.listed_cases = 5;
    let short = runner::execute(s).await.report;
    assert!(full.errors.is_empty() && short.errors.is_empty());
    let unlisted = short
        .unlisted
        .as_ref()
        .expect("passing cases past 5 are counted");
    let listed_passing = short
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Pass && !c.steps.is_empty())
        .count();
    assert_eq!(listed_passing, 5);
    assert!(full.unlisted.is_none());
    // Every case is still counted, and every requirement keeps its verdict and counts.
    assert_eq!(short.case_count(), full.case_count());
    assert_eq!(
        listed_passing as u64 + unlisted.cases,
        full.cases
            .iter()
            .filter(|c| c.verdict == Verdict::Pass && !c.steps.is_empty())
            .count() as u64
    );
    assert_eq!(verdicts(&short), verdicts(&full));
    assert!(
        judged(&short).abs_diff(judged(&full)) <= 6,
        "the unlisted cases are counted"
    );
    assert!(judged(&short) > 1000);
    assert_eq!(short.overall, full.overall);

    // The written report validates, reads back, and the recomputed table agrees.
    let dir = std::env::temp_dir().join(format!("gws-streaming-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scrub = gws_conform::history::redact::Scrubber::new();
    let path = report::json::write_json(&dir, &short, &scrub).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: serde_json::Value = serde_json::from_str(report::json::REPORT_SCHEMA).unwrap();
    let v = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let back = report::json::load_report(&path).unwrap();
    assert_eq!(back.unlisted, short.unlisted);
    let (rows, overall) =
        report::requirement_table_with(&back.cases, back.unlisted.as_ref(), false);
    assert_eq!(overall, short.overall);
    assert_eq!(rows, short.requirements);
    // Merging two such reports adds their unlisted cases.
    let mut a = short.clone();
    a.config.shard = Some("1/2".into());
    let mut b = RunReport {
        cases: Vec::new(),
        ..short.clone()
    };
    b.config.shard = Some("2/2".into());
    let merged = report::merge(vec![a, b]).unwrap();
    assert_eq!(merged.unlisted.unwrap().cases, 2 * unlisted.cases);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_runs_random_sequences_until_it_ends() {
    let mut s = settings(5, 0);
    s.duration = Some(Duration::from_millis(1500));
    let r = runner::execute(s).await.report;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let random = r
        .cases
        .iter()
        .filter(|c| c.id.starts_with("random-"))
        .count();
    assert!(random > 0, "random sequences ran until the deadline");
    assert_ne!(r.overall, report::Overall::NotConformant);
}

#[test]
fn the_plan_counts_what_it_yields_for_shards_and_filters() {
    let schemas = Schemas::embedded().unwrap();
    let agents: Vec<String> = ["agent1", "agent2", "agent3"].map(String::from).to_vec();
    for (shard, only) in [
        (None, vec![]),
        (Some((2, 3)), vec![]),
        (Some((3, 3)), vec![]),
        (Some((1, 4)), vec!["CMP-04".to_string()]),
        (None, vec!["cmp-20".to_string()]),
    ] {
        let s = RunSettings {
            random_cases: 7,
            shard,
            only: only.clone(),
            ..RunSettings::default()
        };
        let plan = Plan::new(&s, schemas, &agents).unwrap();
        let all: Vec<_> = plan.cases().collect::<Result<_, _>>().unwrap();
        assert_eq!(plan.len(), Some(all.len()), "{shard:?} {only:?}");
        assert!(!all.is_empty());
        let full = runner::plan(&s, schemas, &agents).unwrap();
        assert_eq!(
            full.iter().map(|c| &c.id).collect::<Vec<_>>(),
            all.iter().map(|c| &c.id).collect::<Vec<_>>()
        );
    }
    // Shards partition the unsharded plan.
    let whole = runner::plan(&RunSettings::default(), schemas, &agents).unwrap();
    let mut parts: Vec<String> = (1..=3)
        .flat_map(|k| {
            let s = RunSettings {
                shard: Some((k, 3)),
                ..RunSettings::default()
            };
            runner::plan(&s, schemas, &agents)
                .unwrap()
                .into_iter()
                .map(|c| c.id)
        })
        .collect();
    parts.sort();
    let mut ids: Vec<String> = whole.into_iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(parts, ids);
}

/// A target that drops the agents' Bayeux sessions mid-run (`bayeux-session-dropped`:
/// after 8 notifications, `reconnect: none`). The session's end is the target's NTF-02
/// Fail; what the cases could no longer see is Error or Skip, never a Fail of theirs.
/// (Routing notifications by chat once left the session's end out of each case's
/// history, and those cases then failed CMP requirements for notifications the harness
/// could not receive.)
#[tokio::test]
async fn a_session_the_target_drops_fails_ntf02_and_no_case_requirement() {
    let mut s = settings(5, 0);
    s.fault = Some("bayeux-session-dropped".into());
    let r = runner::execute(s).await.report;
    let failed: Vec<&str> = r
        .requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Fail)
        .map(|q| q.id.as_str())
        .collect();
    assert_eq!(failed, ["NTF-02"], "{:#?}", r.requirements);
    let reason = &r
        .requirements
        .iter()
        .find(|q| q.id == "NTF-02")
        .expect("NTF-02 judged")
        .reason;
    assert!(reason.contains("ended the session"), "{reason}");
    // The cases did run into the loss: some requirement could not be judged.
    assert!(
        r.requirements
            .iter()
            .any(|q| matches!(q.verdict, Verdict::Error | Verdict::Skip)),
        "{:#?}",
        r.requirements
    );
}
