//! The seed's golden scenarios against the embedded reference server, as normalized
//! transcripts (volatile ids, timestamps and tokens replaced by stable placeholders),
//! snapshotted with insta under `tests/it/snapshots/`.

use gws_conform::cases::Case;
use gws_conform::check::Verdict;
use gws_conform::history::{AuthVariant, Body, ChatRef, Step};
use gws_conform::report;
use gws_conform::runner::{self, Progress, RunSettings};
use gws_conform::spec::ReqId;
use serde_json::{Value, json};

fn scenario(id: &str, complete: Value) -> Case {
    let post = |body: Value| Step::AgentPost {
        chat: ChatRef::Alias("c1".into()),
        by_other_agent: false,
        auth: AuthVariant::Normal,
        body: Body::Json(body),
    };
    Case {
        id: id.into(),
        seed: 1,
        exercises: vec![ReqId::Cmp01, ReqId::Cmp02],
        steps: vec![
            Step::OfferChat {
                chat: "c1".into(),
                agent: "agent1".into(),
            },
            post(json!({"operationName": "Accept", "nickname": "Agent"})),
            post(complete),
            Step::Inspect { chat: "c1".into() },
            Step::Settle,
        ],
    }
}

fn transcript_of(case: Case) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = RunSettings {
        replay: Some(case),
        progress: Progress::None,
        keep_histories: true,
        quiet_window: std::time::Duration::from_millis(300),
        ..RunSettings::default()
    };
    let r = rt.block_on(runner::execute(s)).report;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let c = r
        .cases
        .iter()
        .find(|c| !c.id.starts_with("session"))
        .unwrap();
    assert_eq!(c.verdict, Verdict::Pass, "{:#?}", c.findings);
    report::transcript(c.history.as_ref().unwrap())
}

#[test]
fn golden_complete_plain() {
    insta::assert_snapshot!(transcript_of(scenario(
        "golden-plain",
        json!({"operationName": "Complete"})
    )));
}

#[test]
fn golden_complete_with_queue() {
    insta::assert_snapshot!(transcript_of(scenario(
        "golden-queue",
        json!({"operationName": "Complete", "queueName": "PostProcessingQueue"})
    )));
}

#[test]
fn golden_complete_with_text() {
    insta::assert_snapshot!(transcript_of(scenario(
        "golden-text",
        json!({"operationName": "Complete", "text": "Thank you, goodbye!"})
    )));
}
