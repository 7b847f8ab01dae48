//! "A refusal changes nothing, anywhere the harness can look" (issue 25): a refused
//! request whose only side effect shows on the customer side (provider-state `inspect`,
//! or the customer-api view) is a Fail of the refusal's requirement, with the inspect
//! before and after as the witness; the faultless server, alone and under the
//! variations that change what inspect shows, stays conformant.

use gws_conform::check::Verdict;
use gws_conform::report::RunReport;
use gws_conform::runner::{self, Mode, Progress, RunSettings};
use gws_conform::server::Variations;
use std::time::Duration;

fn settings(fault: Option<&str>, mode: Mode, only: &[&str]) -> RunSettings {
    RunSettings {
        fault: fault.map(String::from),
        mode: Some(mode),
        random_cases: 0,
        seed: 1,
        only: only.iter().map(|s| s.to_string()).collect(),
        deadline: Duration::from_secs(2),
        quiet_window: Duration::from_millis(200),
        shrink_budget: 0,
        progress: Progress::None,
        ..RunSettings::default()
    }
}

async fn run(s: RunSettings) -> RunReport {
    let r = runner::execute(s).await.report;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r
}

/// The directed case `id`'s Fail findings for `req`.
fn fails<'r>(r: &'r RunReport, id: &str, req: &str) -> Vec<&'r gws_conform::check::Finding> {
    let c = r
        .cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    c.findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail && f.req.as_str() == req)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_complete_that_ends_the_customer_session_fails_cmp17_in_both_modes() {
    for mode in [Mode::ProviderState, Mode::CustomerApi] {
        let r = run(settings(
            Some("refused-complete-ends-customer-session"),
            mode,
            &["CMP-10"],
        ))
        .await;
        let f = fails(&r, "refuse-bad-treatas", "CMP-17");
        assert_eq!(f.len(), 1, "{mode:?}: {:#?}", r.cases);
        assert!(
            f[0].reason.contains("customer's session ended"),
            "{mode:?}: {}",
            f[0].reason
        );
        let w = f[0].witness.as_ref().expect("a Fail carries a witness");
        // Both snapshots are the witness.
        assert!(w.expected.contains("inspect before"), "{w:?}");
        assert!(w.observed.contains("inspect after"), "{w:?}");
        assert_eq!(w.events.len(), 4, "{w:?}");
        // The agent side saw nothing: CMP-10 (the refusal itself) passes.
        assert!(fails(&r, "refuse-bad-treatas", "CMP-10").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_complete_that_posts_its_text_fails_cmp17() {
    for mode in [Mode::ProviderState, Mode::CustomerApi] {
        let r = run(settings(
            Some("refused-complete-posts-text"),
            mode,
            &["CMP-10"],
        ))
        .await;
        let f = fails(&r, "refuse-bad-treatas", "CMP-17");
        assert_eq!(f.len(), 1, "{mode:?}: {:#?}", r.cases);
        assert!(f[0].reason.contains("transcript gained"), "{}", f[0].reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_faultless_server_changes_nothing_on_refusals_under_the_variations() {
    // The variations that change what inspect and the transcript show, or when.
    for vars in [
        "",
        "gws-transcript",
        "typing",
        "reoffer-rejected",
        "latency-40ms",
    ] {
        for mode in [Mode::ProviderState, Mode::CustomerApi] {
            let mut s = settings(
                None,
                mode,
                &["CMP-17", "CMP-21", "SES-01", "SES-02", "REQ-01"],
            );
            s.embedded.variations = Variations::from_names(&[vars]).unwrap();
            let r = run(s).await;
            let bad: Vec<String> = r
                .cases
                .iter()
                .flat_map(|c| {
                    c.findings
                        .iter()
                        .filter(|f| f.verdict != Verdict::Pass && f.verdict != Verdict::Skip)
                        .map(move |f| format!("{} {}: {}", c.id, f.req, f.reason))
                })
                .collect();
            assert!(bad.is_empty(), "{vars:?} {mode:?}: {bad:#?}");
        }
    }
}

/// The finding of `req` in case `id`.
fn finding<'r>(r: &'r RunReport, id: &str, req: &str) -> &'r gws_conform::check::Finding {
    let c = r
        .cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    c.findings
        .iter()
        .find(|f| f.req.as_str() == req)
        .unwrap_or_else(|| panic!("{id}: no {req} finding in {:#?}", c.findings))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_of_another_session_are_refused_and_the_faults_that_honour_them_fail() {
    let csrf = "complete-with-other-sessions-csrf";
    let basic = "complete-with-other-agents-basic";
    let clean = run(settings(None, Mode::ProviderState, &["SES-01", "SES-02"])).await;
    assert_eq!(finding(&clean, csrf, "SES-01").verdict, Verdict::Pass);
    assert_eq!(finding(&clean, basic, "SES-02").verdict, Verdict::Pass);
    // Without CSRF there is no token to take from another session.
    let mut s = settings(None, Mode::ProviderState, &["SES-01", "SES-02"]);
    s.embedded.variations = Variations::from_names(&["no-csrf"]).unwrap();
    let no_csrf = run(s).await;
    let f = finding(&no_csrf, csrf, "SES-01");
    assert_eq!(f.verdict, Verdict::Skip, "{f:?}");
    assert!(f.reason.contains("does not use CSRF"), "{}", f.reason);
    // Acting as the Basic agent (not the chat's owner) is a proper refusal too.
    assert_eq!(finding(&no_csrf, basic, "SES-02").verdict, Verdict::Pass);
    for (fault, id, req) in [
        ("csrf-any-session", csrf, "SES-01"),
        ("cookie-over-basic", basic, "SES-02"),
    ] {
        let r = run(settings(Some(fault), Mode::ProviderState, &[req])).await;
        let f = fails(&r, id, req);
        assert!(!f.is_empty(), "{fault}: {:#?}", r.cases);
        // The report, with the failing case's steps and their tampering, is valid.
        let dir = std::env::temp_dir().join(format!(
            "gws-conform-refusal-{fault}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let scrub = gws_conform::history::redact::Scrubber::new();
        let p = gws_conform::report::write_json(&dir, &r, &scrub).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"foreign_"),
            "{fault}: the tampering is in the report"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let schema: serde_json::Value =
            serde_json::from_str(gws_conform::report::json::REPORT_SCHEMA).unwrap();
        let val = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = val.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{fault}: {errors:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
