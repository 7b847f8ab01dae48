//! The pairs phase of the coverage cases: all pairs of Complete's parameter classes
//! crossed with the states in which Complete is legal (a small greedy all-pairs
//! generator), each followed by an Inspect.

use super::near_miss::{exercises_of, follows_up, long, rule_of};
use super::steps::{complete, post, post_body, setup};
use super::{Case, case_seed, slug};
use crate::history::{Body, Step};
use crate::model::{self, ChatState, OpName};
use crate::spec::ReqId;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// The states in which Complete is legal (the model's chat state, and whether the
/// customer left), in the order of the pairwise `state` factor.
pub const STATES: [(ChatState, bool); 4] = [
    (ChatState::Chatting, false),
    (ChatState::LeftChat, false),
    (ChatState::Chatting, true),
    (ChatState::LeftChat, true),
];

/// The label of a chat's state in the coverage figures: the model's spelling, with
/// `+customer-left` once the customer left a chat in which Complete is still legal.
pub fn state_label(state: ChatState, customer_left: bool) -> String {
    if customer_left && model::transition(state, OpName::Complete).is_some() {
        format!("{}+customer-left", state.as_str())
    } else {
        state.as_str().to_string()
    }
}

/// The labels of [`STATES`] ([`state_label`]), in their order.
pub fn state_labels() -> &'static [String] {
    static LABELS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        STATES
            .iter()
            .map(|(state, left)| state_label(*state, *left))
            .collect()
    });
    &LABELS
}

/// The steps bringing chat `c1` of `agent` into `state` (one of [`STATES`]): accepted,
/// the customer gone when `customer_left`, then Leave for `LeftChat`.
fn state_setup(state: ChatState, customer_left: bool, agent: &str) -> Vec<Step> {
    let mut s = setup("c1", agent);
    if customer_left {
        s.push(Step::CustomerLeaves { chat: "c1".into() });
    }
    if state == ChatState::LeftChat {
        s.push(post("c1", json!({"operationName": OpName::Leave.as_str()})));
    }
    s
}

/// A level of a pairwise factor: its class and value (`None`: absent).
pub type Level = (&'static str, Option<Value>);

/// The pairwise factors: Complete's parameters with their value classes, then the state.
/// Each level is (class, value); `None` = absent.
pub fn factors() -> Vec<(&'static str, Vec<Level>)> {
    vec![
        (
            "queueName",
            vec![
                ("absent", None),
                ("ascii", Some(json!("PostProcessingQueue"))),
                ("non-ascii", Some(json!("Файл-队列-ü"))),
            ],
        ),
        (
            "saveLAR",
            vec![
                ("absent", None),
                ("true", Some(json!(true))),
                ("false", Some(json!(false))),
            ],
        ),
        (
            "text",
            vec![
                ("absent", None),
                ("ascii", Some(json!("Thank you. Goodbye!"))),
                ("non-ascii", Some(json!("Merci 👋🏽 感谢 שלום"))),
                ("long", Some(json!(long(4_096)))),
            ],
        ),
        (
            "messageType",
            vec![("absent", None), ("ascii", Some(json!("Text")))],
        ),
        (
            "treatAs",
            vec![
                ("absent", None),
                ("Normal", Some(json!("Normal"))),
                ("System", Some(json!("System"))),
            ],
        ),
        (
            "state",
            state_labels().iter().map(|s| (s.as_str(), None)).collect(),
        ),
    ]
}

/// Whether a combination (level index per factor) is a valid Complete: messageType and
/// treatAs need text (the schema's `dependentRequired`, here the only constraint).
pub(super) fn feasible(levels: &[Option<usize>]) -> bool {
    // factor indices: 2 = text, 3 = messageType, 4 = treatAs; level 0 = absent.
    let text_absent = levels[2] == Some(0);
    !(text_absent && (levels[3].is_some_and(|l| l > 0) || levels[4].is_some_and(|l| l > 0)))
}

fn pair_feasible(i: usize, a: usize, j: usize, b: usize, n: usize) -> bool {
    let mut l = vec![None; n];
    l[i] = Some(a);
    l[j] = Some(b);
    feasible(&l)
}

/// All feasible pairs ((factor, level), (factor, level)) with the first factor lower.
pub(super) fn all_pairs(sizes: &[usize]) -> BTreeSet<(usize, usize, usize, usize)> {
    let n = sizes.len();
    let mut s = BTreeSet::new();
    for i in 0..n {
        for j in i + 1..n {
            for a in 0..sizes[i] {
                for b in 0..sizes[j] {
                    if pair_feasible(i, a, j, b, n) {
                        s.insert((i, a, j, b));
                    }
                }
            }
        }
    }
    s
}

pub(super) fn pairs_of(row: &[usize]) -> Vec<(usize, usize, usize, usize)> {
    let mut v = Vec::new();
    for i in 0..row.len() {
        for j in i + 1..row.len() {
            v.push((i, row[i], j, row[j]));
        }
    }
    v
}

/// A greedy all-pairs covering array over `sizes` (levels per factor), feasible rows
/// only: each row is built factor by factor choosing the level that covers most
/// uncovered pairs with the levels chosen so far, seeded by the first uncovered pair.
/// Deterministic.
pub fn greedy_pairwise(sizes: &[usize]) -> Vec<Vec<usize>> {
    let n = sizes.len();
    let mut uncovered = all_pairs(sizes);
    let mut rows = Vec::new();
    while let Some(&(i0, a0, j0, b0)) = uncovered.iter().next() {
        let mut row: Vec<Option<usize>> = vec![None; n];
        row[i0] = Some(a0);
        row[j0] = Some(b0);
        for f in 0..n {
            if row[f].is_some() {
                continue;
            }
            let mut best: Option<(usize, usize)> = None;
            for l in 0..sizes[f] {
                let mut trial = row.clone();
                trial[f] = Some(l);
                if !feasible(&trial) {
                    continue;
                }
                let gain = (0..n)
                    .filter(|&g| g != f)
                    .filter_map(|g| trial[g].map(|lg| (g, lg)))
                    .filter(|&(g, lg)| {
                        let key = if g < f { (g, lg, f, l) } else { (f, l, g, lg) };
                        uncovered.contains(&key)
                    })
                    .count();
                if best.is_none_or(|(_, bg)| gain > bg) {
                    best = Some((l, gain));
                }
            }
            row[f] = Some(best.map_or(0, |(l, _)| l));
        }
        let row: Vec<usize> = row.into_iter().map(|l| l.unwrap_or(0)).collect();
        let before = uncovered.len();
        for p in pairs_of(&row) {
            uncovered.remove(&p);
        }
        if uncovered.len() == before {
            // Cannot happen (the seed pair is feasible), but never loop forever.
            uncovered.remove(&(i0, a0, j0, b0));
        }
        rows.push(row);
    }
    rows
}

/// Cases of the pairwise phase: one per row of the covering array.
pub fn pairwise_cases(run_seed: u64, agent: &str) -> Vec<Case> {
    let f = factors();
    let sizes: Vec<usize> = f.iter().map(|(_, l)| l.len()).collect();
    let rows = greedy_pairwise(&sizes);
    let state_f = f.len() - 1;
    let mut out = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        let mut body = Map::new();
        body.insert("operationName".into(), json!("Complete"));
        let mut tags = Vec::new();
        for (fi, (name, levels)) in f.iter().enumerate().take(state_f) {
            let (class, value) = &levels[row[fi]];
            if let Some(v) = value {
                body.insert((*name).to_string(), v.clone());
                tags.push(format!(
                    "{}{}",
                    &name[..1].to_ascii_lowercase(),
                    slug(class)
                ));
            }
        }
        let state = f[state_f].1[row[state_f]].0;
        let (chat_state, customer_left) = STATES[row[state_f]];
        let body = Body::Json(Value::Object(body));
        let rule = rule_of(&body);
        let mut steps = state_setup(chat_state, customer_left, agent);
        steps.push(post_body("c1", body.clone()));
        if follows_up(&body) {
            steps.push(post("c1", complete()));
        }
        steps.push(Step::Inspect { chat: "c1".into() });
        steps.push(Step::Settle);
        let mut exercises = exercises_of(rule, &body);
        if chat_state == ChatState::LeftChat {
            exercises.push(ReqId::Cmp15);
        }
        if customer_left {
            exercises.push(ReqId::Cmp16);
        }
        exercises.sort();
        exercises.dedup();
        out.push(Case {
            id: format!(
                "cov-pair-{}-{}-{}",
                k + 1,
                slug(state),
                if tags.is_empty() {
                    "plain".to_string()
                } else {
                    tags.join("-")
                }
            ),
            seed: case_seed(run_seed, 3_000_000 + k as u64),
            exercises,
            steps,
        });
    }
    out
}
