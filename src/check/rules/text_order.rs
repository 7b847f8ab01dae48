//! CMP-04 (the Complete's text before the Completed), CMP-19 (nothing for the chat
//! after its Completed), CMP-20 (concurrent Completes each keep CMP-02 and CMP-04) and
//! CMP-22 (referenceIds of the caused notifications agree with the response).

use super::{CompleteView, unobserved, w};
use crate::check::index::Index;
use crate::check::{Anomaly, CheckConfig, Finding};
use crate::history::Note;
use crate::history::{ChatRef, Step};
use crate::model;
use crate::spec::ReqId;
use serde_json::Value;

/// CMP-04 for a Complete with text: the findings, and whether the chat's own
/// notifications kept the order (the part CMP-20 repeats).
pub(crate) fn cmp04(v: &CompleteView, cfg: &CheckConfig) -> (Vec<Finding>, bool) {
    let Some(text) = &v.p.text else {
        return (vec![], true);
    };
    let mut out = vec![];
    let mut order_ok = true;
    // The text delivered to an agent that does not own the chat is a failure.
    if let Some(stray) = v
        .notes_after_request()
        .find(|n| n.seq < v.end && n.agent != v.owner && n.has_agent_text(text))
    {
        order_ok = false;
        out.push(
            Finding::fail(
                ReqId::Cmp04,
                "the Complete's text was delivered to an agent that does not own the chat",
                w(
                    format!("the text delivered to the owner {}", v.owner),
                    format!("delivered to {}", stray.agent),
                    vec![v.req_seq, stray.seq],
                ),
            )
            .saw(Anomaly::TextToOtherAgent),
        );
    }
    let msg = v
        .notes_after_request()
        .find(|n| n.agent == v.owner && n.has_agent_text(text));
    let expected =
        format!("a NewMessages with the agent's text {text:?} before the Completed status change");
    match (msg, v.first) {
        (Some(m), Some(f)) if m.seq < f.seq => {
            out.push(Finding::pass(
                ReqId::Cmp04,
                "the text came before the Completed",
            ));
        }
        (Some(m), Some(f)) => {
            order_ok = false;
            out.push(
                Finding::fail(
                    ReqId::Cmp04,
                    "the text came after the Completed",
                    w(
                        expected,
                        "NewMessages after the Completed",
                        vec![v.req_seq, f.seq, m.seq],
                    ),
                )
                .saw(Anomaly::TextAfterCompleted),
            );
        }
        (Some(_), None) => out.push(Finding::pass(
            ReqId::Cmp04,
            "the text arrived (no Completed to order it against; see CMP-02)",
        )),
        (None, _) => {
            let by = v.ans.t_us.saturating_add(cfg.deadline.as_micros() as u64);
            if let Some(l) = v.idx.lost_by(v.owner, by) {
                out.push(unobserved(ReqId::Cmp04, "the text was not seen", l));
                return (out, order_ok);
            }
            order_ok = false;
            let mut e = v.evs();
            e.extend(v.first.map(|f| f.seq));
            e.extend(v.idx.last_quiet_seq());
            out.push(
                Finding::fail(
                    ReqId::Cmp04,
                    "no NewMessages carried the Complete's text",
                    w(
                        expected,
                        format!("none arrived; {}", v.idx.waited_since(v.ans.t_us)),
                        e,
                    ),
                )
                .saw(Anomaly::TextMissing),
            );
        }
    }
    (out, order_ok)
}

/// CMP-19: nothing for the chat after its first Completed (a second Completed is
/// CMP-02's or CMP-13's finding, not counted again here). A typing notice or any other
/// notification before the Completed is not this rule's concern.
pub(crate) fn cmp19(v: &CompleteView, first_seq: Option<u64>) -> Option<Finding> {
    let f = first_seq?;
    let after: Vec<&Note> = v
        .idx
        .chat_notes(v.chat_id)
        .iter()
        .filter(|n| n.seq > f && n.is_for(v.chat_id) && !n.is_completed())
        .collect();
    if after.is_empty() {
        if let Some(l) = v.idx.lost_any(v.owner) {
            return Some(unobserved(
                ReqId::Cmp19,
                "nothing seen after the Completed",
                l,
            ));
        }
        return Some(Finding::pass(
            ReqId::Cmp19,
            "nothing followed the Completed",
        ));
    }
    let mut e = vec![f];
    e.extend(after.iter().take(5).map(|n| n.seq));
    // The Complete's own text after the Completed is the anomaly CMP-04 names; anything
    // else after it is another.
    let own_text = |n: &Note| v.p.text.as_deref().is_some_and(|t| n.has_agent_text(t));
    let mut fail = Finding::fail(
        ReqId::Cmp19,
        "notifications followed the Completed",
        w(
            format!("nothing for chat {} after its Completed", v.chat_id),
            after
                .iter()
                .take(5)
                .map(|n| n.describe())
                .collect::<Vec<_>>()
                .join(", "),
            e,
        ),
    );
    if after.iter().any(|n| own_text(n)) {
        fail = fail.saw(Anomaly::TextAfterCompleted);
    }
    if after.iter().any(|n| !own_text(n)) {
        fail = fail.saw(Anomaly::AfterCompleted);
    }
    Some(fail)
}

/// CMP-22: the notifications the Complete caused carry the response's referenceId.
pub(crate) fn cmp22(v: &CompleteView) -> Finding {
    let Some(rid) = v.ans.reference_id() else {
        return Finding::skip(ReqId::Cmp22, "the response carries no referenceId");
    };
    let mut caused: Vec<&Note> = vec![];
    caused.extend(v.first);
    if let Some(t) = &v.p.text {
        caused.extend(
            v.notes_after_request()
                .filter(|n| n.seq < v.end && n.has_agent_text(t)),
        );
    }
    let carrying: Vec<&Note> = caused
        .into_iter()
        .filter(|n| n.reference_id().is_some())
        .collect();
    let wrong: Vec<&Note> = carrying
        .iter()
        .filter(|n| n.reference_id() != Some(rid))
        .copied()
        .collect();
    if carrying.is_empty() {
        return Finding::skip(ReqId::Cmp22, "no caused notification carries a referenceId");
    }
    if wrong.is_empty() {
        return Finding::pass(ReqId::Cmp22, "referenceIds agree");
    }
    let mut e = v.evs();
    e.extend(wrong.iter().map(|n| n.seq));
    Finding::fail(
        ReqId::Cmp22,
        "a caused notification carries another referenceId",
        w(
            format!("referenceId {rid}"),
            wrong
                .iter()
                .map(|n| {
                    format!(
                        "referenceId {} in seq {}",
                        n.reference_id().unwrap_or(&Value::Null),
                        n.seq
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            e,
        ),
    )
}

/// What one Complete of a `Concurrent` step produced, for CMP-20.
#[derive(Debug, Clone)]
pub(crate) struct CompleteResult {
    /// Answered with statusCode 0.
    pub ok: bool,
    /// How many Completed notifications for the chat followed.
    pub completed_count: usize,
    /// The chat's own notifications kept CMP-04's order.
    pub order_ok: bool,
    /// Request, response, first Completed.
    pub events: Vec<u64>,
    /// The chat's alias.
    pub chat: String,
    /// Set when the harness could not see what the judgment needed.
    pub unobserved: Option<String>,
    /// The anomalies the chat's own rules saw.
    pub saw: Vec<Anomaly>,
}

/// CMP-20 over a `Concurrent` step with at least 5 Completes on distinct chats.
pub(crate) fn cmp20(
    idx: &Index,
    index: usize,
    steps: &[Step],
    results: &[CompleteResult],
) -> Option<Finding> {
    let n = planned_completes(steps)?;
    if results.len() < n {
        return Some(Finding::error(
            ReqId::Cmp20,
            format!(
                "step {index}: only {} of {n} concurrent Completes could be judged (no answer, or the chat's state was unknown)",
                results.len()
            ),
        ));
    }
    let times: Vec<u64> = results
        .iter()
        .filter_map(|r| r.events.first())
        .filter_map(|s| idx.t_of(*s))
        .collect();
    let spread = times.iter().max().unwrap_or(&0) - times.iter().min().unwrap_or(&0);
    if spread > 50_000 {
        return Some(Finding::error(
            ReqId::Cmp20,
            format!(
                "step {index}: the Completes were sent over {} ms, not within 50 ms (SPEC §6.5)",
                spread / 1000
            ),
        ));
    }
    let bad: Vec<&CompleteResult> = results
        .iter()
        .filter(|r| {
            let missing = r.completed_count == 0 && r.unobserved.is_none();
            !r.ok || missing || r.completed_count > 1 || !r.order_ok
        })
        .collect();
    if bad.is_empty() {
        if let Some(why) = results.iter().find_map(|r| r.unobserved.as_deref()) {
            return Some(Finding::error(ReqId::Cmp20, format!("step {index}: {why}")));
        }
        return Some(Finding::pass(
            ReqId::Cmp20,
            format!(
                "{} concurrent Completes, one Completed each, in order",
                results.len()
            ),
        ));
    }
    Some(cmp20_fail(&bad, results.len()))
}

/// The number of Completes a `Concurrent` step sends at once on distinct chats, when
/// CMP-20 applies to it (at least 5).
fn planned_completes(steps: &[Step]) -> Option<usize> {
    let mut planned: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::AgentPost {
                chat: ChatRef::Alias(a),
                body,
                ..
            } if model::classify(body).is_complete() => Some(a.as_str()),
            _ => None,
        })
        .collect();
    let n = planned.len();
    planned.sort_unstable();
    planned.dedup();
    (n >= 5 && planned.len() == n).then_some(n)
}

fn cmp20_fail(bad: &[&CompleteResult], total: usize) -> Finding {
    let mut e = vec![];
    for b in bad {
        e.extend(&b.events);
    }
    let observed = bad
        .iter()
        .map(|b| {
            format!(
                "chat {}: {}{} Completed{}",
                b.chat,
                if b.ok { "" } else { "refused, " },
                b.completed_count,
                if b.order_ok {
                    ""
                } else {
                    ", text out of order or missing"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    // CMP-20 restates each chat's own findings: it saw what they saw, or, for a chat
    // whose own rules saw nothing, what its figures show.
    let mut saw: Vec<Anomaly> = vec![];
    for b in bad {
        if !b.saw.is_empty() {
            saw.extend(b.saw.iter().cloned());
            continue;
        }
        if !b.ok {
            saw.push(Anomaly::CompleteNotAccepted);
        }
        match b.completed_count {
            0 if b.unobserved.is_none() => saw.push(Anomaly::NoCompleted),
            0 | 1 => {}
            _ => saw.push(Anomaly::SecondCompleted),
        }
        if !b.order_ok && b.ok && b.completed_count == 1 {
            saw.push(Anomaly::Other(
                "CMP-20: text out of order or missing".into(),
            ));
        }
    }
    Finding::fail(
        ReqId::Cmp20,
        format!("{} of {} concurrent Completes misbehaved", bad.len(), total),
        w(
            "each chat: statusCode 0, exactly one Completed, its text before it",
            observed,
            e,
        ),
    )
    .saw_all(&saw)
}
