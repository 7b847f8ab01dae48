//! The requirements as small rules: each is a pure function of the case's
//! [`Index`](super::index::Index) (and the replayed state of a chat at one step) that
//! returns findings, every Fail with a data-only [`Witness`].

#![warn(missing_docs)]

pub(crate) mod complete_success;
pub(crate) mod inspect;
pub(crate) mod refusal;
pub(crate) mod req01;
pub(crate) mod ses;
pub(crate) mod text_order;
pub(crate) mod unchanged;
pub(crate) mod whole_case;

use super::index::{Index, Lost};
use super::{Finding, Witness};
use crate::history::Note;
use crate::history::{AuthVariant, Event};
use crate::model::{self, ChatState, Classified, CompleteParams, Operation};
use crate::spec::ReqId;
use serde_json::Value;

/// A witness with its event seqs sorted and deduplicated.
pub(crate) fn w(
    expected: impl Into<String>,
    observed: impl Into<String>,
    events: Vec<u64>,
) -> Witness {
    let mut events = events;
    events.sort_unstable();
    events.dedup();
    Witness {
        expected: expected.into(),
        observed: observed.into(),
        events,
    }
}

/// An agent-API answer, digested.
#[derive(Debug, Clone)]
pub(crate) struct Ans<'a> {
    /// seq of the `Response` event.
    pub seq: u64,
    /// Its time.
    pub t_us: u64,
    /// HTTP status.
    pub status: u16,
    /// The JSON body, if it parsed.
    pub json: Option<&'a Value>,
    /// `statusCode`, if an integer.
    pub code: Option<i64>,
}

impl<'a> Ans<'a> {
    /// The answer in `e`, when `e` is a `Response`.
    pub fn from_event(e: &'a Event) -> Option<Ans<'a>> {
        let crate::history::EventKind::Response { status, body, .. } = &e.kind else {
            return None;
        };
        let json = body.json();
        Some(Ans {
            seq: e.seq,
            t_us: e.t_us,
            status: *status,
            json,
            code: json
                .and_then(|j| j.get("statusCode"))
                .and_then(Value::as_i64),
        })
    }
    /// HTTP 2xx with statusCode 0.
    pub fn ok(&self) -> bool {
        crate::model::succeeded(self.status, self.code)
    }
    /// A refusal: HTTP 4xx, or a statusCode ≠ 0 under HTTP < 500.
    pub fn refused(&self) -> bool {
        crate::model::refused(self.status, self.code)
    }
    /// Never a proper refusal: HTTP 5xx or statusCode 4 (SPEC §6.3).
    pub fn bad(&self) -> bool {
        crate::model::never_proper(self.status, self.code)
    }
    /// The answer in words.
    pub fn describe(&self) -> String {
        match (self.code, self.json) {
            (Some(c), _) => format!("HTTP {} statusCode {c}", self.status),
            (None, Some(_)) => format!("HTTP {} JSON without statusCode", self.status),
            (None, None) => format!("HTTP {} non-JSON body", self.status),
        }
    }
    /// `referenceId` of the JSON body.
    pub fn reference_id(&self) -> Option<&'a Value> {
        self.json.and_then(|j| j.get("referenceId"))
    }
}

/// A Complete the model expects to succeed, as the rules see it: the chat at that
/// step, the request and answer, and the Completed notifications that followed.
pub(crate) struct CompleteView<'i, 'a> {
    /// The case's index.
    pub idx: &'i Index<'a>,
    /// The chat's alias.
    pub alias: &'i str,
    /// The chat's agent-side id.
    pub chat_id: &'i str,
    /// The agent owning the chat.
    pub owner: &'i str,
    /// The chat's state before the Complete.
    pub before: ChatState,
    /// Whether the customer was still in the chat.
    pub customer_present: bool,
    /// The Complete's parameters.
    pub p: &'i CompleteParams,
    /// seq of the request.
    pub req_seq: u64,
    /// The answer.
    pub ans: &'i Ans<'a>,
    /// End of the window of notifications this Complete caused (next step on the chat).
    pub end: u64,
    /// Every `Completed` for the chat after the request (to any agent).
    pub completed: Vec<&'i Note<'a>>,
    /// The first `Completed` to the owner.
    pub first: Option<&'i Note<'a>>,
}

impl<'i, 'a> CompleteView<'i, 'a> {
    /// The notifications for this chat after the request.
    pub fn notes_after_request(&self) -> impl Iterator<Item = &'i Note<'a>> + '_ {
        let id = self.chat_id;
        let from = self.req_seq;
        self.idx
            .chat_notes(id)
            .iter()
            .filter(move |n| n.seq > from && n.is_for(id))
    }

    /// The request and response seqs.
    pub fn evs(&self) -> Vec<u64> {
        vec![self.req_seq, self.ans.seq]
    }
}

/// An Error for `req`: the harness stopped observing what it needed (SPEC §4).
pub(crate) fn unobserved(req: ReqId, what: &str, lost: &Lost) -> Finding {
    Finding::error(
        req,
        format!(
            "{what}: the harness stopped observing {}'s notifications at seq {} ({}), so their absence is not the target's",
            lost.agent, lost.seq, lost.reason
        ),
    )
}

/// The requirement a post is judged under (for Error/Skip attribution).
pub(crate) fn op_req(
    cls: &Classified,
    auth: AuthVariant,
    csrf: bool,
    exp: Option<&model::Expectation>,
    by_other: bool,
) -> Option<ReqId> {
    if let Some(r) = ses::ses_req(auth, csrf) {
        return Some(r);
    }
    if let Some(e) = exp {
        if let Some(r) = &e.refusal {
            return r.req;
        }
        return cls.is_complete().then_some(ReqId::Cmp01);
    }
    match cls {
        Classified::Malformed { .. } => Some(ReqId::Req01),
        Classified::InvalidComplete { req, .. } => Some(*req),
        _ if cls.complete_params().is_some() && by_other => Some(ReqId::Cmp21),
        _ if cls.complete_params().is_some() => Some(ReqId::Cmp01),
        _ => None,
    }
}

/// The operation's name, for witnesses.
pub(crate) fn op_name(cls: &Classified) -> &'static str {
    match cls {
        Classified::Op(Operation::Other(o)) => o.as_str(),
        _ => "Complete",
    }
}
