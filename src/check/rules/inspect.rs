//! CMP-05..08 from the first provider-state `Inspect` of the chat after a successful
//! Complete: the customer's transcript, the customer's session, the queue, lastAgent.
//!
//! Observation is lenient (SPEC §6.6, §6.10): a `customerTranscript` entry names its
//! sender either plainly (`"from": "Agent"`) or in the GWS transcript form
//! (`"from": {"nickname": …, "participantId": …, "type": "Agent"}`).

use super::{CompleteView, w};
use crate::check::Finding;
use crate::spec::ReqId;
use serde_json::Value;

/// The rows CMP-05..08 that apply to this Complete.
fn rows(v: &CompleteView) -> Vec<ReqId> {
    // CMP-05 applies only while the customer's session is open (SPEC §6.4) and CMP-06
    // only "if still open": the model says when it is (Leave ends it, facts §3.1).
    let session_open = crate::model::Chat {
        state: v.before,
        customer_present: v.customer_present,
    }
    .customer_session_open();
    let mut rows: Vec<ReqId> = vec![];
    if v.p.text.is_some() && session_open {
        rows.push(ReqId::Cmp05);
    }
    if session_open {
        rows.push(ReqId::Cmp06);
    }
    if v.p.queue_name.is_some() {
        rows.push(ReqId::Cmp07);
    }
    if v.p.save_lar == Some(true) {
        rows.push(ReqId::Cmp08);
    }
    rows
}

/// CMP-05..08 for a Complete answered with success.
pub(crate) fn cmp05_08(v: &CompleteView) -> Vec<Finding> {
    let rows = rows(v);
    if rows.is_empty() {
        return vec![];
    }
    let Some((seq, result, reason)) = v.idx.inspect_after(v.alias, v.ans.seq) else {
        return rows
            .into_iter()
            .map(|r| Finding::skip(r, "no Inspect of the chat after the Complete"))
            .collect();
    };
    let Some(res) = result else {
        let why = format!(
            "not observable: {}",
            reason.unwrap_or("inspect gave no answer")
        );
        return rows.into_iter().map(|r| Finding::skip(r, &why)).collect();
    };
    rows.into_iter()
        .map(|r| {
            let (key, ok, expected, observed) = row(r, v, res);
            match ok {
                None => Finding::skip(
                    r,
                    format!("not observable: the inspect answer has no {key:?}"),
                ),
                Some(true) => Finding::pass(r, observed),
                Some(false) => Finding::fail(
                    r,
                    format!("inspect shows {observed}"),
                    w(expected, observed, vec![seq]),
                ),
            }
        })
        .collect()
}

/// One row: (the key it reads, whether it holds (None: key absent), expected, observed).
fn row(r: ReqId, v: &CompleteView, res: &Value) -> (&'static str, Option<bool>, String, String) {
    let shown = |key: &str| res.get(key).cloned().unwrap_or(Value::Null);
    match r {
        ReqId::Cmp05 => {
            let text = v.p.text.clone().unwrap_or_default();
            let ok = res
                .get("customerTranscript")
                .and_then(Value::as_array)
                .map(|items| items.iter().any(|i| is_agent_text(i, &text)));
            (
                "customerTranscript",
                ok,
                format!("the customer's transcript holds {text:?} from Agent"),
                format!("customerTranscript {}", shown("customerTranscript")),
            )
        }
        ReqId::Cmp06 => {
            let ended = res.get("customerSessionEnded");
            let cs = res.get("customerState");
            let ok = match (ended, cs) {
                (None, None) => None,
                _ => Some(
                    ended.and_then(Value::as_bool) == Some(true)
                        || cs.and_then(Value::as_str) == Some("Idle"),
                ),
            };
            (
                "customerSessionEnded",
                ok,
                "customerSessionEnded true or customerState Idle".into(),
                format!(
                    "customerSessionEnded {}, customerState {}",
                    shown("customerSessionEnded"),
                    shown("customerState")
                ),
            )
        }
        ReqId::Cmp07 => {
            let q = v.p.queue_name.clone().unwrap_or_default();
            (
                "queue",
                res.get("queue").map(|g| g.as_str() == Some(q.as_str())),
                format!("queue {q:?}"),
                format!("queue {}", shown("queue")),
            )
        }
        _ => (
            "lastAgent",
            res.get("lastAgent").map(|g| g.as_str() == Some(v.owner)),
            format!("lastAgent {:?}", v.owner),
            format!("lastAgent {}", shown("lastAgent")),
        ),
    }
}

/// True when a transcript entry is `text` sent by an agent, in either form: `"from":
/// "Agent"` or the GWS `"from": {"type": "Agent", …}`.
pub(crate) fn is_agent_text(entry: &Value, text: &str) -> bool {
    entry.get("text").and_then(Value::as_str) == Some(text) && sender_type(entry) == Some("Agent")
}

/// The sender type of a transcript entry: `from` as a string, or `from.type`.
pub(crate) fn sender_type(entry: &Value) -> Option<&str> {
    match entry.get("from")? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("type").and_then(Value::as_str),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_transcript_forms_name_the_agent() {
        let plain = json!({"type":"Text","text":"bye","from":"Agent"});
        let gws = json!({"type":"Text","text":"bye",
            "from":{"nickname":"Kristi","participantId":"p1","type":"Agent"}});
        let customer = json!({"type":"Text","text":"bye",
            "from":{"nickname":"Cu","participantId":"p2","type":"Customer"}});
        assert!(is_agent_text(&plain, "bye"));
        assert!(is_agent_text(&gws, "bye"));
        assert!(!is_agent_text(&gws, "other"));
        assert!(!is_agent_text(&customer, "bye"));
        assert!(!is_agent_text(&json!({"text":"bye","from":5}), "bye"));
    }
}
