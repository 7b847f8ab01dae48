//! The race phase of the coverage cases: two requests on one chat at the same instant.

use super::steps::{complete, post, setup};
use super::{Case, case_seed};
use crate::history::Step;
use crate::spec::ReqId;
use serde_json::json;

/// Cases of the race phase: two Completes on one chat sent at the same instant,
/// Complete racing Leave, and Complete racing the customer leaving. Exactly one Complete
/// succeeds and one Completed arrives; the loser is refused and changes nothing. The
/// checker judges the racing requests in the order the target served them, so either
/// winner passes on a conforming target.
pub fn race_cases(run_seed: u64, agent: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut steps = setup("c1", agent);
    steps.push(Step::Concurrent {
        steps: vec![
            post("c1", complete()),
            post(
                "c1",
                json!({"operationName": "Complete", "text": "Goodbye (racing)"}),
            ),
        ],
    });
    steps.push(Step::Inspect { chat: "c1".into() });
    steps.push(Step::Settle);
    out.push(Case {
        id: "cov-race-double-complete".into(),
        seed: case_seed(run_seed, 4_000_000),
        exercises: vec![ReqId::Cmp02, ReqId::Cmp13, ReqId::Cmp18, ReqId::Cmp19],
        steps,
    });
    let mut steps = setup("c1", agent);
    steps.push(Step::Concurrent {
        steps: vec![
            post("c1", json!({"operationName": "Leave"})),
            post("c1", complete()),
        ],
    });
    // Whichever won, a final Complete leaves the chat Completed (refused if it already is).
    steps.push(post("c1", complete()));
    steps.push(Step::Inspect { chat: "c1".into() });
    steps.push(Step::Settle);
    out.push(Case {
        id: "cov-race-complete-leave".into(),
        seed: case_seed(run_seed, 4_000_001),
        exercises: vec![ReqId::Cmp02, ReqId::Cmp13, ReqId::Cmp15, ReqId::Cmp19],
        steps,
    });
    // Complete racing the customer leaving: either order is legal (SPEC §2: Complete in
    // Chatting then the customer leaving a completed chat, which changes nothing; or
    // the customer leaving first, then Complete in Chatting after the customer left).
    let mut steps = setup("c1", agent);
    steps.push(Step::Concurrent {
        steps: vec![
            post(
                "c1",
                json!({"operationName": "Complete", "text": "Goodbye (racing the customer)"}),
            ),
            Step::CustomerLeaves { chat: "c1".into() },
        ],
    });
    steps.push(Step::Inspect { chat: "c1".into() });
    steps.push(Step::Settle);
    out.push(Case {
        id: "cov-race-complete-customer-leaves".into(),
        seed: case_seed(run_seed, 4_000_002),
        exercises: vec![ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp16, ReqId::Cmp19],
        steps,
    });
    out
}
