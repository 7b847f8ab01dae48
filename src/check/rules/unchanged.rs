//! "A refusal changes nothing", as the provisioning side shows it: the one comparison of
//! what the mode can show before a refused request and after it (SPEC §2: "An error
//! answer (statusCode ≠ 0) changes nothing"; §1.2: a failure leaves "nothing changed on
//! the server"; CMP-17, CMP-21, SES-01 and SES-02 say "changes nothing"). The agent
//! side (no notification, the chat still accepts its operations) is
//! [`super::refusal`]; this is the rest: provider-state `inspect` (`customerSessionEnded`,
//! `queue`, `lastAgent`, `customerTranscript`) and the customer-api view (the customer's
//! chat state and its messages), both recorded as an `Inspect` event.
//!
//! The snapshots are the `Inspect` of the chat right before the refused request (after
//! the previous step acting on the chat) and the first one after its answer, before the
//! next step acting on the chat (the case builder puts a quiet window in between:
//! `cases::steps::refused`). Without both, nothing is compared here.
//!
//! Only what the refused request could have changed is compared, each in its meaning,
//! never as raw JSON (SPEC §6.6, §6.10: observation is lenient):
//! - a field absent from either answer is not compared (§6.6: a missing field makes the
//!   requirements that need it Skip, it is no difference);
//! - the customer's session: `customerSessionEnded`, or `customerState` `Idle` (the
//!   customer-api view); other customer states are not compared (WaitingForAgent turning
//!   Chatting after an Accept is the Accept's doing, however late it shows). Not
//!   compared once the customer left (the customer's own leaving may show at any time);
//! - `queue` and `lastAgent`: equal;
//! - the transcript: no new entry from the agent side (the agent's text, its
//!   ParticipantLeft), and no new entry carrying the refused request's text. Entries are
//!   compared as (type, text, sender) with the sender read in both forms (§6.6), typing
//!   notices left out (§6.10), and an agent's `ParticipantJoined` left out (a transcript
//!   may show the Accept late; no refusal joins anyone). New entries from the customer
//!   or the system are not the refused agent request's doing (the customer's scripted
//!   messages, a deployment's waiting notices); an entry that disappears is not judged
//!   (a deployment may page or trim what it shows).
//! - A chat that is `Completed` left its agent: its interaction belongs to routing now
//!   (§6.13: a Rejected chat may be offered again, and the harness closes the re-offer
//!   with Accept and Complete; a queued one may be offered whenever an agent has room),
//!   which legitimately changes the session, the queue, lastAgent and the agent entries.
//!   Only a new entry carrying the refused request's text is compared there.

use super::w;
use crate::check::anomaly::normalize;
use crate::check::index::Index;
use crate::check::{Anomaly, Finding};
use crate::model::ChatState;
use crate::spec::ReqId;
use serde_json::Value;

/// What the refused request could have changed, and what it said.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'s> {
    /// The chat's state when the request was made.
    pub state: ChatState,
    /// Whether the customer was still in the chat.
    pub customer_present: bool,
    /// The text the refused request carried (a refused Complete's `text`), if any.
    pub refused_text: Option<&'s str>,
}

/// One transcript entry in its meaning: (type, text, sender).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    kind: String,
    text: String,
    from: String,
}

/// The entry `v` in its meaning (`None`: a typing notice, not compared).
fn entry(v: &Value) -> Option<Entry> {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind.starts_with("Typing") {
        return None;
    }
    let text = v
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let from = match super::inspect::sender_type(v) {
        Some("Client") => "Customer",
        Some(s) => s,
        None => "",
    }
    .to_string();
    Some(Entry { kind, text, from })
}

/// The transcript of an inspect answer, in its meaning (`None`: not shown).
fn transcript(res: &Value) -> Option<Vec<Entry>> {
    let items = res.get("customerTranscript")?.as_array()?;
    Some(items.iter().filter_map(entry).collect())
}

/// Whether the customer's session has ended, as the answer shows it (`None`: not shown).
fn ended(res: &Value) -> Option<bool> {
    let flag = res.get("customerSessionEnded").and_then(Value::as_bool);
    let idle = res
        .get("customerState")
        .and_then(Value::as_str)
        .map(|s| s == "Idle");
    match (flag, idle) {
        (None, None) => None,
        (a, b) => Some(a == Some(true) || b == Some(true)),
    }
}

/// The entries of `after` that `before` does not hold (as multisets).
fn added(before: &[Entry], after: &[Entry]) -> Vec<Entry> {
    let mut left: Vec<&Entry> = before.iter().collect();
    let mut out = vec![];
    for e in after {
        match left.iter().position(|b| *b == e) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => out.push(e.clone()),
        }
    }
    out
}

/// The differences between the inspect answers `before` and `after` that the refused
/// request (`scope`) could have caused, in words; empty when it changed nothing.
pub(crate) fn differences(before: &Value, after: &Value, scope: &Scope) -> Vec<String> {
    let mut out = vec![];
    let held = scope.state != ChatState::Completed;
    if held
        && scope.customer_present
        && let (Some(b), Some(a)) = (ended(before), ended(after))
        && a != b
    {
        out.push(format!(
            "the customer's session {} (customerSessionEnded {b} before, {a} after)",
            if a { "ended" } else { "reopened" }
        ));
    }
    if held {
        for key in ["queue", "lastAgent"] {
            if let (Some(b), Some(a)) = (before.get(key), after.get(key))
                && a != b
            {
                out.push(format!("{key} changed from {b} to {a}"));
            }
        }
    }
    if let (Some(b), Some(a)) = (transcript(before), transcript(after)) {
        let text = scope.refused_text.filter(|t| !t.is_empty());
        for e in added(&b, &a) {
            let agent = e.from == "Agent" && e.kind != "ParticipantJoined";
            let carries = text.is_some_and(|t| e.text == t) && e.from != "Customer";
            if (held && agent) || carries {
                out.push(format!(
                    "the customer's transcript gained {} {:?} from {}",
                    if e.kind.is_empty() {
                        "an entry"
                    } else {
                        &e.kind
                    },
                    e.text,
                    if e.from.is_empty() { "?" } else { &e.from }
                ));
            }
        }
    }
    out
}

/// An inspect answer for a witness, bounded.
fn shown(v: &Value) -> String {
    const MAX: usize = 1_500;
    let s = v.to_string();
    if s.chars().count() <= MAX {
        return s;
    }
    let mut t: String = s.chars().take(MAX).collect();
    t.push('…');
    t
}

/// Where a refused request sits in the case, for [`provision_side`].
pub(crate) struct At<'s> {
    /// The chat's alias.
    pub alias: &'s str,
    /// The step index of the request.
    pub step: usize,
    /// seq of the request.
    pub req_seq: u64,
    /// seq of its answer.
    pub ans_seq: u64,
    /// End of the window (the next step acting on the chat).
    pub end: u64,
}

/// "Changes nothing" on the provisioning side for a refused request at `at`, cited for
/// each requirement of `cite`: a Fail per requirement when the inspect after the refusal
/// differs from the one before it in what the request could have changed (both answers
/// are the witness). Nothing when the case has no such pair of inspects, or when either
/// could not be answered (SPEC §1.5: not observable).
pub(crate) fn provision_side(idx: &Index, at: &At, scope: &Scope, cite: &[ReqId]) -> Vec<Finding> {
    let Some((b_seq, Some(before), _)) = idx.inspect_before(at.alias, at.step) else {
        return vec![];
    };
    let Some((a_seq, Some(after), _)) = idx.inspect_between(at.alias, at.ans_seq, at.end) else {
        return vec![];
    };
    let diffs = differences(before, after, scope);
    if diffs.is_empty() {
        return vec![];
    }
    cite.iter()
        .map(|r| {
            Finding::fail(
                *r,
                format!(
                    "a refused request changed the customer side: {}",
                    diffs.join("; ")
                ),
                w(
                    format!(
                        "the provisioning side as before the refusal (inspect before: {})",
                        shown(before)
                    ),
                    format!("inspect after: {}", shown(after)),
                    vec![b_seq, at.req_seq, at.ans_seq, a_seq],
                ),
            )
            .saw(Anomaly::RefusalChanged(format!(
                "the customer side: {}",
                normalize(&diffs.join("; "))
            )))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chatting() -> Scope<'static> {
        Scope {
            state: ChatState::Chatting,
            customer_present: true,
            refused_text: None,
        }
    }

    fn plain(entries: &[(&str, &str, &str)]) -> Value {
        let t: Vec<Value> = entries
            .iter()
            .map(|(ty, text, from)| json!({"type": ty, "text": text, "from": from}))
            .collect();
        json!({"queue": null, "lastAgent": null, "customerSessionEnded": false,
            "customerTranscript": t})
    }

    #[test]
    fn nothing_changed_is_no_difference() {
        let v = plain(&[
            ("Text", "hi", "Customer"),
            ("ParticipantJoined", "", "Agent"),
        ]);
        assert!(differences(&v, &v.clone(), &chatting()).is_empty());
    }

    #[test]
    fn an_ended_session_is_a_difference() {
        let b = plain(&[]);
        let mut a = b.clone();
        a["customerSessionEnded"] = json!(true);
        let d = differences(&b, &a, &chatting());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("ended"), "{d:?}");
        // The customer-api view says it by the customer's state.
        let cb = json!({"customerSessionEnded": false, "customerState": "Chatting"});
        let ca = json!({"customerSessionEnded": true, "customerState": "Idle"});
        assert_eq!(differences(&cb, &ca, &chatting()).len(), 1);
        // Once the customer left, its own leaving may show at any time.
        let left = Scope {
            customer_present: false,
            ..chatting()
        };
        assert!(differences(&b, &a, &left).is_empty());
    }

    #[test]
    fn other_customer_states_are_not_compared() {
        let b = json!({"customerSessionEnded": false, "customerState": "WaitingForAgent"});
        let a = json!({"customerSessionEnded": false, "customerState": "Chatting"});
        assert!(differences(&b, &a, &chatting()).is_empty());
    }

    #[test]
    fn a_missing_field_is_no_difference() {
        let b = plain(&[]);
        let a = json!({"customerTranscript": []});
        assert!(differences(&b, &a, &chatting()).is_empty());
        assert!(differences(&a, &b, &chatting()).is_empty());
    }

    #[test]
    fn queue_and_last_agent_are_compared_while_the_agent_holds_the_chat() {
        let b = plain(&[]);
        let mut a = b.clone();
        a["queue"] = json!("q1");
        a["lastAgent"] = json!("agent1");
        assert_eq!(differences(&b, &a, &chatting()).len(), 2);
        let done = Scope {
            state: ChatState::Completed,
            ..chatting()
        };
        assert!(differences(&b, &a, &done).is_empty());
    }

    #[test]
    fn agent_entries_and_the_refused_text_are_differences() {
        let b = plain(&[("Text", "hi", "Customer")]);
        let a = plain(&[("Text", "hi", "Customer"), ("Text", "bye", "Agent")]);
        assert_eq!(differences(&b, &a, &chatting()).len(), 1);
        let a2 = plain(&[("Text", "hi", "Customer"), ("ParticipantLeft", "", "Agent")]);
        assert_eq!(differences(&b, &a2, &chatting()).len(), 1);
        // On a Completed chat only the refused text counts.
        let done = Scope {
            state: ChatState::Completed,
            customer_present: true,
            refused_text: Some("bye"),
        };
        assert_eq!(differences(&b, &a, &done).len(), 1);
        assert!(differences(&b, &a2, &done).is_empty());
        let sys = plain(&[("Text", "hi", "Customer"), ("Notice", "bye", "System")]);
        assert_eq!(differences(&b, &sys, &done).len(), 1);
    }

    #[test]
    fn what_the_refusal_cannot_do_is_not_a_difference() {
        let b = plain(&[("Text", "hi", "Customer")]);
        // The customer's own message, a deployment's notice, a late ParticipantJoined,
        // typing notices, an entry that is no longer shown.
        let a = plain(&[
            ("Text", "hi", "Customer"),
            ("Text", "still there?", "Customer"),
            ("Notice", "an agent will be with you", "System"),
            ("ParticipantJoined", "", "Agent"),
            ("TypingStarted", "", "Agent"),
        ]);
        assert!(differences(&b, &a, &chatting()).is_empty());
        assert!(differences(&b, &plain(&[]), &chatting()).is_empty());
    }

    #[test]
    fn both_transcript_forms_compare_equal() {
        let b = plain(&[("Text", "hi", "Customer"), ("Text", "yo", "Agent")]);
        let a = json!({"queue": null, "lastAgent": null, "customerSessionEnded": false,
        "customerTranscript": [
            {"type": "Text", "text": "hi",
             "from": {"nickname": "Cu", "participantId": "p2", "type": "Client"}},
            {"type": "Text", "text": "yo",
             "from": {"nickname": "Ag", "participantId": "p1", "type": "Agent"}},
        ]});
        assert!(differences(&b, &a, &chatting()).is_empty());
        assert!(differences(&a, &b, &chatting()).is_empty());
    }

    #[test]
    fn repeated_entries_count() {
        let b = plain(&[("Text", "ok", "Agent")]);
        let a = plain(&[("Text", "ok", "Agent"), ("Text", "ok", "Agent")]);
        assert_eq!(differences(&b, &a, &chatting()).len(), 1);
    }
}
