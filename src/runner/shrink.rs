//! Shrinking a failing case: smaller candidates (fewer steps, fewer chats, smaller
//! bodies) are each re-run against the target, and a candidate is kept only when it
//! shows the same anomalies again ([`super::groups::signature`]) — a lucky pass is not
//! a shrink.

use crate::cases::Case;
use crate::history::{Body, ChatRef, Step};
use serde_json::Value;
use std::time::{Duration, Instant};

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
                    // A group of one is a plain step.
                    match kept.len() {
                        0 => None,
                        1 => kept.into_iter().next(),
                        _ => Some(Step::Concurrent { steps: kept }),
                    }
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

/// A short description of a step, for "removing step 3 (Accept c1) …".
pub(crate) fn describe(step: &Step) -> String {
    match step {
        Step::OfferChat { chat, agent } => format!("offer {chat} to {agent}"),
        Step::AgentPost {
            chat,
            body,
            by_other_agent,
            ..
        } => {
            let chat = match chat {
                ChatRef::Alias(a) => a.clone(),
                ChatRef::Unknown(u) => format!("unknown chat {u}"),
            };
            let op = match body {
                Body::Json(v) => v
                    .get("operationName")
                    .and_then(Value::as_str)
                    .unwrap_or("POST")
                    .to_string(),
                Body::Empty => "POST (no body)".into(),
                Body::Raw(_) => "POST (raw body)".into(),
            };
            if *by_other_agent {
                format!("{op} {chat} by another agent")
            } else {
                format!("{op} {chat}")
            }
        }
        Step::CustomerSends { chat, .. } => format!("customer sends on {chat}"),
        Step::CustomerLeaves { chat } => format!("customer leaves {chat}"),
        Step::Inspect { chat } => format!("inspect {chat}"),
        Step::Settle => "settle".into(),
        Step::Concurrent { steps } => format!(
            "at once: {}",
            steps.iter().map(describe).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Removes every step at an index in `drop` (removing an `OfferChat` removes its chat).
fn without_all(steps: &[Step], drop: &[usize]) -> Vec<Step> {
    let mut v = steps.to_vec();
    // Chats first (by alias), then the plain indexes from the back.
    let chats: Vec<String> = drop
        .iter()
        .filter_map(|&i| match &steps[i] {
            Step::OfferChat { chat, .. } => Some(chat.clone()),
            _ => None,
        })
        .collect();
    let mut plain: Vec<usize> = drop
        .iter()
        .copied()
        .filter(|&i| !matches!(steps[i], Step::OfferChat { .. }))
        .collect();
    plain.sort_unstable();
    plain.dedup();
    for i in plain.into_iter().rev() {
        v.remove(i);
    }
    for chat in chats {
        if let Some(i) = v
            .iter()
            .position(|s| matches!(s, Step::OfferChat { chat: c, .. } if *c == chat))
        {
            v = without(&v, i);
        }
    }
    v
}

/// One candidate: the smaller case and, for a single-step removal, the index of the
/// removed step (so a failed removal can be explained).
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The smaller case.
    pub case: Case,
    /// The step this candidate removes, when it removes exactly one.
    pub removed: Option<usize>,
}

/// Candidates smaller than `case`, most promising first (delta-debugging style), the
/// concurrent parts before the steps: keep one chat only, drop whole chats, leave out
/// one request of a concurrent group, then drop halves, quarters … of the other steps,
/// then single steps, then optional body fields.
pub fn candidates(case: &Case) -> Vec<Case> {
    labelled(case).into_iter().map(|c| c.case).collect()
}

/// [`candidates`] with the removed step of single-step removals.
pub(crate) fn labelled(case: &Case) -> Vec<Candidate> {
    let steps = &case.steps;
    let n = steps.len();
    let mut out: Vec<(Vec<Step>, Option<usize>)> = Vec::new();
    let offers: Vec<usize> = (0..n)
        .filter(|&i| matches!(steps[i], Step::OfferChat { .. }))
        .collect();
    if offers.len() > 1 {
        for &keep in &offers {
            let others: Vec<usize> = offers.iter().copied().filter(|&i| i != keep).collect();
            out.push((without_all(steps, &others), None));
        }
    }
    for &i in &offers {
        out.push((without(steps, i), None));
    }
    // Fewer racing requests next: each request of a concurrent group left out in turn
    // (a group of one becomes a plain step).
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
                out.push((v, None));
            }
        }
    }
    // The final Settle is what lets absence be judged: keep it.
    let plain: Vec<usize> = (0..n)
        .filter(|&i| {
            !matches!(steps[i], Step::OfferChat { .. })
                && (i + 1 != n || !matches!(steps[i], Step::Settle))
        })
        .collect();
    let mut size = plain.len() / 2;
    while size >= 2 {
        for chunk in plain.chunks(size) {
            out.push((without_all(steps, chunk), None));
        }
        size /= 2;
    }
    for &i in &plain {
        out.push((without(steps, i), Some(i)));
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
                out.push((v, None));
            }
        }
    }
    let mut seen: Vec<Vec<Step>> = Vec::new();
    let mut res = Vec::new();
    for (v, removed) in out {
        if v.is_empty() || v == *steps || seen.contains(&v) {
            continue;
        }
        seen.push(v.clone());
        res.push(Candidate {
            case: Case {
                steps: v,
                ..case.clone()
            },
            removed,
        });
    }
    res
}

/// What re-running a candidate showed.
pub enum Trial<O> {
    /// The same failure again (with the run's outcome).
    Same(O),
    /// Another failure (its signature).
    Other(String),
    /// No failure at all.
    Gone,
    /// Not run: the time limit passed while it waited for room on the target.
    NotRun,
}

/// The limits of one shrink.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Re-runs allowed.
    pub budget: usize,
    /// Wall time allowed.
    pub time: Duration,
    /// Candidates re-run at once.
    pub width: usize,
}

/// Why shrinking stopped before it had tried every candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The budget of re-runs ran out.
    Budget,
    /// The wall-time limit ran out.
    Time,
}

/// The result of [`shrink_with`].
pub(crate) struct Shrunk<O> {
    /// The smallest case confirmed to fail the same way.
    pub case: Case,
    /// The outcome of the run that confirmed `case` (None: nothing smaller confirmed).
    pub outcome: Option<O>,
    /// Re-runs used.
    pub runs: usize,
    /// Wall time used.
    pub elapsed: Duration,
    /// Set when a limit cut shrinking short.
    pub stopped: Option<Stop>,
    /// When shrinking finished: why each remaining removable step was kept.
    pub kept: Vec<String>,
}

/// Greedy delta-debugging shrink: re-runs candidates `limits.width` at a time and
/// takes the first (in candidate order) that `trial` confirms fails the same way,
/// until no candidate does or a limit runs out. `progress(steps, runs)` is called after
/// each accepted candidate.
pub(crate) async fn shrink_with<O, F, Fut>(
    case: &Case,
    limits: Limits,
    trial: F,
    mut progress: impl FnMut(usize, usize),
) -> Shrunk<O>
where
    F: Fn(Case) -> Fut,
    Fut: std::future::Future<Output = Trial<O>>,
{
    let started = Instant::now();
    let mut best = case.clone();
    let mut outcome = None;
    let mut runs = 0;
    let mut stopped = None;
    let mut kept = Vec::new();
    let width = limits.width.max(1);
    'outer: loop {
        let cands = labelled(&best);
        let mut notes = Vec::new();
        for chunk in cands.chunks(width) {
            if runs >= limits.budget {
                stopped = Some(Stop::Budget);
                break 'outer;
            }
            if started.elapsed() >= limits.time {
                stopped = Some(Stop::Time);
                break 'outer;
            }
            let take = chunk.len().min(limits.budget - runs);
            let results =
                futures_util::future::join_all(chunk[..take].iter().map(|c| trial(c.case.clone())))
                    .await;
            let not_run = results
                .iter()
                .filter(|r| matches!(r, Trial::NotRun))
                .count();
            runs += take - not_run;
            for (c, r) in chunk.iter().zip(results) {
                match r {
                    Trial::NotRun => {
                        stopped = Some(Stop::Time);
                    }
                    Trial::Same(o) => {
                        best = c.case.clone();
                        outcome = Some(o);
                        progress(best.steps.len(), runs);
                        continue 'outer;
                    }
                    Trial::Other(sig) => {
                        if let Some(i) = c.removed {
                            notes.push(format!(
                                "removing step {} ({}) changed the failure to: {sig}",
                                i + 1,
                                describe(&best.steps[i])
                            ));
                        }
                    }
                    Trial::Gone => {
                        if let Some(i) = c.removed {
                            notes.push(format!(
                                "removing step {} ({}) made the failure disappear",
                                i + 1,
                                describe(&best.steps[i])
                            ));
                        }
                    }
                }
            }
            if stopped.is_some() {
                break 'outer;
            }
        }
        kept = notes;
        break;
    }
    Shrunk {
        case: best,
        outcome,
        runs,
        elapsed: started.elapsed(),
        stopped,
        kept,
    }
}

/// Greedy shrinking one candidate at a time: repeatedly takes the first candidate for
/// which `still_fails` confirms (by re-running it) the failure, until none does or
/// `budget` runs are spent. Returns the smallest confirmed case and the number of runs
/// used.
pub async fn shrink<F, Fut>(case: &Case, budget: usize, still_fails: F) -> (Case, usize)
where
    F: Fn(Case) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let limits = Limits {
        budget,
        time: Duration::MAX,
        width: 1,
    };
    let s = shrink_with(
        case,
        limits,
        |c| {
            let f = still_fails(c);
            async move {
                if f.await {
                    Trial::Same(())
                } else {
                    Trial::Gone
                }
            }
        },
        |_, _| {},
    )
    .await;
    (s.case, s.runs)
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

    #[tokio::test]
    async fn a_concurrent_case_shrinks_to_one_chat_in_sequence_before_its_steps() {
        // Five chats accepted, then completed at once; the "target" fails whenever a
        // Complete carries text, on however many chats.
        let mut steps = vec![];
        let chats: Vec<String> = (1..=5).map(|k| format!("c{k}")).collect();
        for c in &chats {
            steps.push(Step::OfferChat {
                chat: c.clone(),
                agent: "a".into(),
            });
            steps.push(post(c, json!({"operationName": "Accept"})));
        }
        steps.push(Step::Concurrent {
            steps: chats
                .iter()
                .map(|c| post(c, json!({"operationName": "Complete", "text": "bye"})))
                .collect(),
        });
        steps.push(Step::Settle);
        let big = case(steps);
        let tried = std::sync::Mutex::new(Vec::<usize>::new());
        let fails = |c: Case| {
            tried.lock().unwrap().push(c.steps.len());
            async move {
                let text = |s: &Step| matches!(s, Step::AgentPost { body: Body::Json(v), .. } if v.get("text").is_some());
                c.steps.iter().any(|s| match s {
                    Step::Concurrent { steps } => steps.iter().any(text),
                    s => text(s),
                })
            }
        };
        let (small, runs) = shrink(&big, 200, fails).await;
        assert_eq!(
            small.steps,
            vec![
                Step::OfferChat {
                    chat: "c1".into(),
                    agent: "a".into()
                },
                post("c1", json!({"operationName": "Complete", "text": "bye"})),
                Step::Settle,
            ],
            "{small:#?}"
        );
        // The first re-run already keeps one chat: the concurrent part went first.
        assert_eq!(tried.lock().unwrap()[0], 4, "{:?}", tried.lock().unwrap());
        assert!(runs < 20, "{runs} re-runs");
    }

    #[tokio::test]
    async fn a_re_run_not_run_in_time_stops_the_shrink_as_timed_out_and_is_not_counted() {
        let big = case(vec![
            Step::OfferChat {
                chat: "c1".into(),
                agent: "a".into(),
            },
            post("c1", json!({"operationName": "Accept"})),
            post("c1", json!({"operationName": "Complete", "queueName": "Q"})),
            Step::Settle,
        ]);
        let limits = Limits {
            budget: 100,
            time: Duration::from_secs(60),
            width: 4,
        };
        // The first candidate runs and confirms nothing; every later one could not get
        // room before the deadline.
        let n = std::sync::atomic::AtomicUsize::new(0);
        let s = shrink_with(
            &big,
            limits,
            |_c| {
                let k = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if k == 0 {
                        Trial::<()>::Gone
                    } else {
                        Trial::NotRun
                    }
                }
            },
            |_, _| {},
        )
        .await;
        assert_eq!(s.stopped, Some(Stop::Time));
        assert_eq!(s.runs, 1, "re-runs that never ran are not counted");
        assert_eq!(s.case, big);
        assert!(s.outcome.is_none());
        assert!(
            s.kept.is_empty(),
            "no minimality claim when it stopped early"
        );
    }
}
