//! The refusals: CMP-09..14 and CMP-21 (a refusal with the right statusCode), CMP-17,
//! CMP-21 and SES-01/02 "nothing changed" after it, CMP-13's second Completed, and
//! CMP-17's follow-up (the chat still accepts the operations of its state).
//!
//! "Nothing changed" is judged on the notifications for the chat from the refusal until
//! the next step that acts on that chat (or the end of the case). Only notifications
//! the refusal can have caused count: one carrying the refusal's `referenceId`, a
//! `StatusChange` to a state the chat has never been in (or a second `Completed`), an
//! `Error` notification, or a `NewMessages` with the refused Complete's text. Late
//! echoes of earlier steps (an `Invited`, `Chatting` or `ParticipantsUpdated` that
//! arrives after the refusal), typing notices and property updates are not the
//! refusal's doing.

use super::{Ans, unobserved, w};
use crate::check::index::Index;
use crate::check::{Anomaly, Finding};
use crate::history::Note;
use crate::model::{self, ChatState};
use crate::spec::{Level, ReqId};

fn codes(c: &[i64]) -> String {
    c.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// Judges the answer to a request the model refuses, under requirement `r` (not
/// REQ-01, see [`super::req01`]). Preferred statusCodes (SHOULD) fail a SHOULD row; on a
/// MUST row (CMP-09) they only annotate the Pass, since the row's MUST is "refused".
pub(crate) fn refused_as_expected(
    r: ReqId,
    refusal: &model::Refusal,
    ans: &Ans,
    evs: Vec<u64>,
) -> Finding {
    let expected = match refusal.rule {
        Some(rule) => format!("a refusal ({}; the rule: {rule})", refusal.reason),
        None => format!("a refusal ({})", refusal.reason),
    };
    if ans.ok() {
        return Finding::fail(
            r,
            "accepted (statusCode 0) where the contract refuses",
            w(expected, ans.describe(), evs),
        );
    }
    if ans.bad() || !ans.refused() {
        return Finding::fail(
            r,
            format!("answered {} instead of a refusal", ans.describe()),
            w(expected, ans.describe(), evs),
        );
    }
    if let Some(req_codes) = refusal.required_codes
        && !ans.code.is_some_and(|c| req_codes.contains(&c))
    {
        return Finding::fail(
            r,
            format!("refused with the wrong statusCode: {}", ans.describe()),
            w(
                format!("a refusal with statusCode {}", codes(req_codes)),
                ans.describe(),
                evs,
            ),
        );
    }
    if let Some(pref) = refusal.preferred_codes
        && !ans.code.is_some_and(|c| pref.contains(&c))
    {
        if r.level() == Level::Should {
            return Finding::fail(
                r,
                format!(
                    "refused with a statusCode outside the preferred ones: {}",
                    ans.describe()
                ),
                w(
                    format!("a refusal with statusCode {} (SHOULD)", codes(pref)),
                    ans.describe(),
                    evs,
                ),
            );
        }
        return Finding::pass(
            r,
            format!(
                "refused ({}); note: the SPEC prefers statusCode {}",
                ans.describe(),
                codes(pref)
            ),
        );
    }
    Finding::pass(r, format!("refused: {}", ans.describe()))
}

/// A refused request, as "nothing changed" sees it.
pub(crate) struct Refused<'i, 'a> {
    /// The case's index.
    pub idx: &'i Index<'a>,
    /// The chat's agent-side id.
    pub chat_id: &'i str,
    /// The chat's owner.
    pub owner: &'i str,
    /// The chat's state when the request was made.
    pub state: ChatState,
    /// Every state the chat has been in.
    pub seen: &'i [ChatState],
    /// seq of the chat's first Completed, if it completed.
    pub completed_note: Option<u64>,
    /// The refused Complete's text, if any.
    pub refused_text: Option<&'i str>,
    /// seq of the request.
    pub req_seq: u64,
    /// The answer.
    pub ans: &'i Ans<'a>,
    /// End of the window (the next step acting on the chat).
    pub end: u64,
}

impl<'i, 'a> Refused<'i, 'a> {
    /// The notifications the refused request can have caused.
    pub fn caused(&self) -> Vec<&'i Note<'a>> {
        let resp_ref = self.ans.reference_id();
        self.idx
            .chat_notes(self.chat_id)
            .iter()
            .filter(|n| n.seq > self.req_seq && n.seq < self.end && n.is_for(self.chat_id))
            .filter(|n| {
                (resp_ref.is_some() && n.reference_id() == resp_ref)
                    || n.is_error()
                    || self.refused_text.is_some_and(|t| n.has_agent_text(t))
                    || match n.status_state() {
                        Some("Completed") => {
                            self.state != ChatState::Completed || self.completed_note != Some(n.seq)
                        }
                        Some(s) => !self.seen.iter().any(|x| x.as_str() == s),
                        None => false,
                    }
            })
            .collect()
    }
}

/// "Nothing changed" after a refusal, for each requirement of `cite`, given the caused
/// notifications. With `follow_up`, CMP-17 is left to the next valid operation when
/// nothing was caused (no finding for it here).
pub(crate) fn nothing_changed(
    v: &Refused,
    caused: &[&Note],
    cite: &[ReqId],
    follow_up: bool,
) -> Vec<Finding> {
    let mut events = vec![v.req_seq, v.ans.seq];
    events.extend(caused.iter().map(|n| n.seq));
    let observed = caused
        .iter()
        .map(|n| n.describe())
        .collect::<Vec<_>>()
        .join(", ");
    let lost = v.idx.lost_any(v.owner);
    let mut out = vec![];
    for r in cite {
        if !caused.is_empty() {
            out.push(
                Finding::fail(
                    *r,
                    "a refused request changed the chat",
                    w(
                        format!("no notification for chat {} after the refusal", v.chat_id),
                        observed.clone(),
                        events.clone(),
                    ),
                )
                .saw(Anomaly::RefusalChanged("the chat's notifications".into())),
            );
        } else if let Some(l) = lost {
            out.push(unobserved(*r, "no notification seen after the refusal", l));
        } else if !(*r == ReqId::Cmp17 && follow_up) {
            out.push(Finding::pass(*r, "refused, and no notification followed"));
        }
    }
    out
}

/// CMP-13: a Complete on a Completed chat must not produce a second Completed (a clean
/// refusal already passed CMP-13 in [`refused_as_expected`]).
pub(crate) fn cmp13_second_completed(v: &Refused, caused: &[&Note]) -> Option<Finding> {
    let second: Vec<u64> = caused
        .iter()
        .filter(|n| n.is_completed())
        .map(|n| n.seq)
        .collect();
    if second.is_empty() {
        return None;
    }
    let mut e = vec![v.req_seq, v.ans.seq];
    e.extend(&second);
    Some(
        Finding::fail(
            ReqId::Cmp13,
            "a Complete on a Completed chat produced a second Completed",
            w(
                "no second StatusChange Completed",
                format!("{} more Completed", second.len()),
                e,
            ),
        )
        .saw(Anomaly::SecondCompleted),
    )
}

/// CMP-17's follow-up: after a refused Complete (request `rq`, response `rs`), the next
/// operation valid in the chat's state (`op` in `state`) succeeds.
pub(crate) fn cmp17_follow_up(
    (rq, rs): (u64, u64),
    req_seq: u64,
    ans: &Ans,
    op: &str,
    state: Option<ChatState>,
) -> Finding {
    if ans.ok() {
        return Finding::pass(
            ReqId::Cmp17,
            "after the refusal the chat still accepts the operations of its state",
        );
    }
    let mut e = vec![rq, rs, req_seq, ans.seq];
    e.sort_unstable();
    Finding::fail(
        ReqId::Cmp17,
        "the chat no longer accepts an operation valid in its state",
        w(
            format!(
                "{} succeeds in state {} (the refused Complete changed nothing)",
                op,
                state.map(ChatState::as_str).unwrap_or("?")
            ),
            ans.describe(),
            e,
        ),
    )
    .saw(Anomaly::RefusalChanged(
        "the operations the chat accepts".into(),
    ))
}

/// A refused Complete with no later valid operation: CMP-17 is judged on the
/// notifications alone.
pub(crate) fn cmp17_no_follow_up() -> Finding {
    Finding::pass(
        ReqId::Cmp17,
        "refused, and no notification followed (no later operation to try)",
    )
}
