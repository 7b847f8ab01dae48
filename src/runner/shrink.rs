//! Shrinking a failing case: smaller candidates (fewer steps, fewer chats, smaller
//! bodies) are each re-run against the target, and a candidate is kept only when it
//! fails the same requirement again — a lucky pass is not a shrink.

use crate::history::{Body, ChatRef, Step};
use crate::runner::cases::Case;
use serde_json::Value;

/// The aliases a step touches.
fn aliases(step: &Step) -> Vec<&str> {
    match step {
        Step::OfferChat { chat, .. }
        | Step::CustomerSends { chat, .. }
        | Step::CustomerLeaves { chat }
        | Step::Inspect { chat } => vec![chat.as_str()],
        Step::AgentPost {
            chat: ChatRef::Alias(a),
            ..
        } => vec![a.as_str()],
        Step::AgentPost { .. } | Step::Settle => vec![],
        Step::Concurrent { steps } => steps.iter().flat_map(aliases).collect(),
    }
}

/// Removes step `i`; removing an `OfferChat` removes every step about that chat too, so
/// a candidate never refers to a chat it does not provision.
fn without(steps: &[Step], i: usize) -> Vec<Step> {
    if let Step::OfferChat { chat, .. } = &steps[i] {
        let chat = chat.clone();
        return steps
            .iter()
            .filter_map(|s| match s {
                Step::Concurrent { steps: inner } => {
                    let kept: Vec<Step> = inner
                        .iter()
                        .filter(|x| !aliases(x).contains(&chat.as_str()))
                        .cloned()
                        .collect();
                    (!kept.is_empty()).then_some(Step::Concurrent { steps: kept })
                }
                s if aliases(s).contains(&chat.as_str()) => None,
                s => Some(s.clone()),
            })
            .collect();
    }
    let mut v = steps.to_vec();
    v.remove(i);
    v
}

/// Candidates one shrink step smaller than `case`, most promising first: drop whole
/// chats, then single steps, then parts of concurrent groups, then optional body fields.
pub fn candidates(case: &Case) -> Vec<Case> {
    let steps = &case.steps;
    let mut out: Vec<Vec<Step>> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        if matches!(s, Step::OfferChat { .. }) {
            out.push(without(steps, i));
        }
    }
    for (i, s) in steps.iter().enumerate() {
        // The final Settle is what lets absence be judged: keep it.
        if matches!(s, Step::OfferChat { .. })
            || (i + 1 == steps.len() && matches!(s, Step::Settle))
        {
            continue;
        }
        out.push(without(steps, i));
    }
    for (i, s) in steps.iter().enumerate() {
        if let Step::Concurrent { steps: inner } = s {
            for j in 0..inner.len() {
                let mut inner2 = inner.clone();
                inner2.remove(j);
                let mut v = steps.clone();
                if inner2.len() == 1 {
                    v[i] = inner2.remove(0);
                } else {
                    v[i] = Step::Concurrent { steps: inner2 };
                }
                out.push(v);
            }
        }
    }
    for (i, s) in steps.iter().enumerate() {
        if let Step::AgentPost {
            body: Body::Json(Value::Object(map)),
            ..
        } = s
        {
            for key in map.keys() {
                if key == "operationName" {
                    continue;
                }
                let mut m2 = map.clone();
                m2.remove(key);
                let mut v = steps.clone();
                if let Step::AgentPost { body, .. } = &mut v[i] {
                    *body = Body::Json(Value::Object(m2));
                }
                out.push(v);
            }
        }
    }
    out.into_iter()
        .filter(|v| !v.is_empty() && v != steps)
        .map(|steps| Case {
            steps,
            ..case.clone()
        })
        .collect()
}

/// Greedy shrinking: repeatedly takes the first candidate for which `still_fails`
/// confirms (by re-running it) the failure, until none does or `budget` runs are spent.
/// Returns the smallest confirmed case and the number of runs used.
pub async fn shrink<F, Fut>(case: &Case, budget: usize, mut still_fails: F) -> (Case, usize)
where
    F: FnMut(Case) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut best = case.clone();
    let mut runs = 0;
    'outer: loop {
        for c in candidates(&best) {
            if runs >= budget {
                break 'outer;
            }
            runs += 1;
            if still_fails(c.clone()).await {
                best = c;
                continue 'outer;
            }
        }
        break;
    }
    (best, runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::AuthVariant;
    use serde_json::json;

    fn post(chat: &str, body: Value) -> Step {
        Step::AgentPost {
            chat: ChatRef::Alias(chat.into()),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(body),
        }
    }

    fn case(steps: Vec<Step>) -> Case {
        Case {
            id: "t".into(),
            seed: 1,
            exercises: vec![],
            steps,
        }
    }

    #[test]
    fn removing_an_offer_removes_its_chat_everywhere() {
        let steps = vec![
            Step::OfferChat {
                chat: "c1".into(),
                agent: "a".into(),
            },
            Step::OfferChat {
                chat: "c2".into(),
                agent: "a".into(),
            },
            post("c1", json!({"operationName": "Accept"})),
            Step::Concurrent {
                steps: vec![
                    post("c1", json!({"operationName": "Complete"})),
                    post("c2", json!({"operationName": "Complete"})),
                ],
            },
            Step::Inspect { chat: "c1".into() },
            Step::Settle,
        ];
        let v = without(&steps, 0);
        assert_eq!(v.len(), 3, "{v:#?}");
        assert!(v.iter().all(|s| !aliases(s).contains(&"c1")));
    }

    #[tokio::test]
    async fn shrinks_to_the_steps_that_matter_and_only_on_confirmed_failures() {
        // The "target" fails whenever a Complete carries queueName — whatever else happens.
        let big = case(vec![
            Step::OfferChat {
                chat: "c1".into(),
                agent: "a".into(),
            },
            Step::OfferChat {
                chat: "c2".into(),
                agent: "a".into(),
            },
            post("c2", json!({"operationName": "Accept"})),
            post("c1", json!({"operationName": "Accept"})),
            post(
                "c1",
                json!({"operationName": "Complete", "queueName": "Q", "text": "bye", "saveLAR": true}),
            ),
            Step::Inspect { chat: "c1".into() },
            Step::Settle,
        ]);
        let fails = |c: Case| async move {
            c.steps.iter().any(|s| matches!(s, Step::AgentPost { body: Body::Json(v), .. } if v.get("queueName").is_some()))
        };
        let (small, runs) = shrink(&big, 200, fails).await;
        assert!(runs > 0);
        assert_eq!(
            small.steps,
            vec![
                Step::OfferChat {
                    chat: "c1".into(),
                    agent: "a".into()
                },
                post("c1", json!({"operationName": "Complete", "queueName": "Q"})),
                Step::Settle,
            ]
        );
        // A target that never fails again: nothing is accepted.
        let (same, _) = shrink(&big, 50, |_c| async { false }).await;
        assert_eq!(same, big);
    }
}
