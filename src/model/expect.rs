//! What a conforming target does with a request ([`expect`]), whether an answer is
//! explained in a state ([`explains`]) and the credentials rule
//! ([`credentials_refusal`]).

use super::{ChatState, Classified, OpName, Operation, transition};
use crate::history::AuthVariant;
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};

/// A notification the agent should receive for the chat, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedNote {
    /// `MessageLogUpdated`/`NewMessages` holding a `Text` message with exactly this text
    /// from the agent.
    AgentText(String),
    /// `ChatStateChangeMessage`/`StatusChange` to this state.
    StatusChange(ChatState),
}

impl ExpectedNote {
    /// The requirement that demands this notification, if one does: the text before
    /// `Completed` is CMP-04, the one `Completed` is CMP-02.
    pub fn req(&self) -> Option<ReqId> {
        match self {
            ExpectedNote::AgentText(_) => Some(ReqId::Cmp04),
            ExpectedNote::StatusChange(ChatState::Completed) => Some(ReqId::Cmp02),
            ExpectedNote::StatusChange(_) => None,
        }
    }
}

/// How a refusal should look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The requirement the refusal is judged under, if any (other operations' refusals
    /// belong to no requirement yet: future work, SPEC §3).
    pub req: Option<ReqId>,
    /// Why the model refuses, in words.
    pub reason: String,
    /// statusCodes the requirement itself demands (MUST-strength within the row), if any.
    pub required_codes: Option<&'static [i64]>,
    /// statusCodes the SPEC prefers (SHOULD), if any.
    pub preferred_codes: Option<&'static [i64]>,
    /// The schema keyword or SPEC sentence that makes the request invalid (for a
    /// refusal because of the body); `None` for a refusal because of the chat's state,
    /// owner or id.
    pub rule: Option<&'static str>,
    /// True for the refusal of a request the contract leaves open (SPEC §6.12): it is
    /// conformant as long as it is a proper refusal that changes nothing.
    pub either: bool,
}

/// What a conforming target does with one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// `None`: success (statusCode 0); `Some`: a refusal.
    pub refusal: Option<Refusal>,
    /// The chat's state afterwards (`None`: no chat, i.e. an unknown id).
    pub next: Option<ChatState>,
    /// The notifications the owner should receive for the chat, in order, and then
    /// nothing more for it (only modelled for Complete; empty for refusals).
    pub notifications: Vec<ExpectedNote>,
    /// `Some(rule)`: the model expects success, but the contract leaves a refusal open
    /// too (SPEC §6.12, the rule cited); see [`Expectation::given`].
    pub either: Option<&'static str>,
}

impl Expectation {
    /// True when the model expects statusCode 0.
    pub fn is_success(&self) -> bool {
        self.refusal.is_none()
    }

    /// The expectation for the answer the target gave (`ok`: statusCode 0). Where the
    /// contract leaves either answer open and the target did not succeed, a refusal
    /// under no requirement of its own that must change nothing (CMP-17/18, and REQ-01's
    /// "never a 5xx or statusCode 4"); otherwise the expectation unchanged.
    pub fn given(self, ok: bool, state: Option<ChatState>) -> Expectation {
        match self.either {
            Some(rule) if !ok => Expectation {
                refusal: Some(Refusal {
                    req: None,
                    reason: format!("either answer is conformant: {rule}"),
                    required_codes: None,
                    preferred_codes: None,
                    rule: Some(rule),
                    either: true,
                }),
                next: state,
                notifications: vec![],
                either: Some(rule),
            },
            _ => self,
        }
    }
}

/// The requirement under which a request with these credentials is refused before its
/// body counts (SPEC §1.1, §6.1, §6.2): SES-01 for a POST without the CSRF token, or with
/// another session's, when the target uses CSRF; SES-02 without Basic credentials (a
/// session cookie alone is none), or with another agent's Basic credentials on the
/// cookie's session (see below); `None` for a well-formed client's request.
///
/// Basic of agent B with the session cookie of agent A, on A's chat: SPEC §6.2 makes
/// Basic the credentials ("required on every request") and the cookie alone none. A
/// server that authenticates B by Basic acts as B, who does not own the chat, and
/// refuses (as CMP-21 would, statusCode 3, 5 or 6), or refuses the mismatch itself (401,
/// statusCode 20, or a CSRF 403 since A's token is not B's session's); all are
/// conformant. A server that acts as A served A on A's cookie alone, which is what
/// "without credentials" forbids: so the request must be refused, in any proper way
/// ([`crate::model::refused`]), and change nothing. The other order (B's chat, A's
/// cookie) is not tried: a server acting as B by Basic may then complete B's own chat,
/// and one acting as A refuses; the SPEC leaves that open.
pub fn credentials_refusal(auth: AuthVariant, csrf: bool) -> Option<ReqId> {
    match auth {
        AuthVariant::NoCsrf | AuthVariant::ForeignCsrf if csrf => Some(ReqId::Ses01),
        AuthVariant::NoCredentials | AuthVariant::CookieOnly | AuthVariant::ForeignBasic => {
            Some(ReqId::Ses02)
        }
        _ => None,
    }
}

/// Whether a conforming target may answer `request` on a chat in `state` with success
/// (`ok`) or not: the model's expectation, the credentials (SPEC §6.1/§6.2), SPEC §6.8
/// (Leave in `LeftChat` may go either way) and §6.12 (a request the contract leaves
/// open may be accepted or refused). The one judgement of "is this answer explained"
/// that the runner, the checker and the race orderings share.
pub fn explains(
    state: ChatState,
    caller_owns: bool,
    credentials: Option<ReqId>,
    request: &Classified,
    ok: bool,
) -> bool {
    let e = expect(Some(state), caller_owns, request);
    let expected_ok = credentials.is_none() && e.is_success();
    if ok == expected_ok {
        return true;
    }
    let leave_in_left_chat =
        request.op_name() == Some(OpName::Leave) && state == ChatState::LeftChat;
    leave_in_left_chat || (credentials.is_none() && !ok && e.either.is_some())
}

const CODES_OTHER_AGENT: &[i64] = &[3, 5, 6];
const CODES_CMP09: &[i64] = &[1, 2, 10];

const CODES_INVITED: &[i64] = &[2, 3];
const CODES_COMPLETED: &[i64] = &[2, 3, 6];
const CODES_UNKNOWN: &[i64] = &[6];

/// What a conforming target does with `op` on a chat in `state` (`None` = an id nobody
/// provisioned) when the caller owns the chat or not.
///
/// Precedence when several reasons to refuse hold: malformed body (REQ-01), unknown id
/// (CMP-14 for a Complete), another agent's chat (CMP-21 for a Complete), invalid
/// parameters (CMP-09/10/11), then the state (CMP-12 Invited, CMP-13 Completed). The
/// SPEC is silent on precedence; generated cases break one rule at a time.
pub fn expect(state: Option<ChatState>, caller_owns: bool, op: &Classified) -> Expectation {
    if let Classified::Unruled { params, rule, .. } = op {
        // As a valid Complete with these parameters; where that succeeds, a refusal is
        // conformant too (SPEC §6.12).
        let mut e = expect(
            state,
            caller_owns,
            &Classified::Op(Operation::Complete(params.clone())),
        );
        if e.is_success() {
            e.either = Some(rule);
        }
        return e;
    }
    let rule = op.rule();
    let refuse = |req: Option<ReqId>,
                  reason: String,
                  required: Option<&'static [i64]>,
                  preferred: Option<&'static [i64]>| {
        refusal_in(state, req, reason, required, preferred)
    };
    let refuse_body = |req: Option<ReqId>, reason: String, preferred: Option<&'static [i64]>| {
        let mut e = refuse(req, reason, None, preferred);
        if let Some(r) = e.refusal.as_mut() {
            r.rule = rule;
        }
        e
    };
    let is_complete = op.is_complete();
    let cmp = |r: ReqId| if is_complete { Some(r) } else { None };
    let opname = match op {
        Classified::Malformed { reason, .. } => {
            return refuse_body(Some(ReqId::Req01), reason.clone(), None);
        }
        Classified::InvalidComplete { .. } | Classified::Unruled { .. } => OpName::Complete,
        Classified::Op(Operation::Complete(_)) => OpName::Complete,
        Classified::Op(Operation::Other(o)) => *o,
    };
    let Some(st) = state else {
        // SPEC §2: unknown id → 6 (SHOULD); CMP-14 demands 6 for a Complete.
        return refuse(
            cmp(ReqId::Cmp14),
            "unknown chat id".into(),
            if is_complete {
                Some(CODES_UNKNOWN)
            } else {
                None
            },
            Some(CODES_UNKNOWN),
        );
    };
    if !caller_owns {
        return refuse(
            cmp(ReqId::Cmp21),
            "the chat belongs to another agent".into(),
            Some(CODES_OTHER_AGENT),
            None,
        );
    }
    if let Classified::InvalidComplete { req, reason, .. } = op {
        let preferred = if *req == ReqId::Cmp09 {
            Some(CODES_CMP09)
        } else {
            None
        };
        return refuse_body(Some(*req), reason.clone(), preferred);
    }
    by_transition(st, opname, op)
}

/// An expected refusal of a request on a chat in `state` (which it leaves as it was).
fn refusal_in(
    state: Option<ChatState>,
    req: Option<ReqId>,
    reason: String,
    required: Option<&'static [i64]>,
    preferred: Option<&'static [i64]>,
) -> Expectation {
    Expectation {
        refusal: Some(Refusal {
            req,
            reason,
            required_codes: required,
            preferred_codes: preferred,
            rule: None,
            either: false,
        }),
        next: state,
        notifications: vec![],
        either: None,
    }
}

/// What [`expect`] says of a well-formed request by the chat's owner on a chat in
/// state `st`: the transition table (SPEC §2), with CMP-12/13 for a Complete it refuses.
fn by_transition(st: ChatState, opname: OpName, op: &Classified) -> Expectation {
    match transition(st, opname) {
        Some(next) => {
            let mut notifications = vec![];
            if let Classified::Op(Operation::Complete(p)) = op {
                if let Some(t) = &p.text {
                    notifications.push(ExpectedNote::AgentText(t.clone()));
                }
                notifications.push(ExpectedNote::StatusChange(ChatState::Completed));
            }
            Expectation {
                refusal: None,
                next: Some(next),
                notifications,
                either: None,
            }
        }
        None => {
            let reason = format!("{} is not valid in state {}", opname.as_str(), st.as_str());
            let (req, preferred) = match (opname, st) {
                (OpName::Complete, ChatState::Invited) => (Some(ReqId::Cmp12), Some(CODES_INVITED)),
                (OpName::Complete, ChatState::Completed) => {
                    (Some(ReqId::Cmp13), Some(CODES_COMPLETED))
                }
                _ => (None, None),
            };
            refusal_in(Some(st), req, reason, None, preferred)
        }
    }
}
