//! The reference model of agent chats (SPEC §2): states, transitions and expected
//! outcomes, as pure code.
//!
//! Two functions carry it: [`classify`] says what a request body is (which operation,
//! or which rule of SPEC §1.2 it breaks) and [`expect`] says what a conforming target
//! does with it in a given chat state (success or refusal, the preferred statusCodes,
//! the next state and the notifications the agent should see).
//!
//! Everything else that needs the chat model asks this module instead of restating it:
//! the checker (through [`expect`] and [`after_success`]), the random-sequence generator
//! (through [`legal_ops`], [`customer_events`], [`closing_op`] and [`Chat::handle`], in
//! the way of proptest-state-machine's `ReferenceStateMachine`: the model says which
//! transitions exist in a state and where they lead, the generator only picks), the
//! runner (through [`status_change_of`]: which notification a successful operation
//! announces) and the curl-script writer (through [`expect`] over [`ChatState::ALL`]).

#![warn(missing_docs)]

use crate::history::{AuthVariant, Body};
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The agent-side state of a chat (SPEC §2; facts sheet §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatState {
    /// Offered to the agent, not yet accepted.
    Invited,
    /// Accepted; the agent and the customer talk.
    Chatting,
    /// The agent left the chat (Complete still applies).
    LeftChat,
    /// Done; nothing more happens to the chat.
    Completed,
}

impl ChatState {
    /// Every state, in the order of the SPEC §2 table.
    pub const ALL: [ChatState; 4] = [
        ChatState::Invited,
        ChatState::Chatting,
        ChatState::LeftChat,
        ChatState::Completed,
    ];

    /// An open chat (Invited, Chatting, LeftChat) occupies its agent's capacity (SPEC
    /// §6.9); a Completed one no longer does.
    pub fn holds_capacity(self) -> bool {
        self != ChatState::Completed
    }

    /// The spelling used in `chat.state` of a notification.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatState::Invited => "Invited",
            ChatState::Chatting => "Chatting",
            ChatState::LeftChat => "LeftChat",
            ChatState::Completed => "Completed",
        }
    }
}

/// A chat as the model tracks it: the agent-side state and the customer side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// The agent-side state.
    pub state: ChatState,
    /// False once the customer left (CMP-16, SPEC §6.4).
    pub customer_present: bool,
}

/// Something that happens to a chat, as the model follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatEvent {
    /// The target performed this agent operation (answered statusCode 0), whether or not
    /// the model allows it in the chat's state (see [`after_success`]).
    Performed(OpName),
    /// The customer sends a message: nothing changes on the agent side.
    CustomerSends,
    /// The customer leaves (customer-side Complete): the agent's chat stays in its state
    /// and Complete still succeeds (CMP-16, SPEC §6.4).
    CustomerLeaves,
}

impl Chat {
    /// A chat just offered to an agent.
    pub fn offered() -> Self {
        Chat {
            state: ChatState::Invited,
            customer_present: true,
        }
    }

    /// True while the customer's chat session is still running, as far as this agent's
    /// chat goes: false once the customer left, once the agent left with Leave
    /// (`LeftChat`: Leave outside a conference ends the customer's session, facts sheet
    /// §3.1/§3.3) and once the chat is `Completed` (Complete ends the session, CMP-06;
    /// after Reject the interaction is no longer this agent's). CMP-05 applies only
    /// while it is open (SPEC §6.4) and CMP-06 only "if still open".
    pub fn customer_session_open(&self) -> bool {
        self.customer_present && matches!(self.state, ChatState::Invited | ChatState::Chatting)
    }

    /// The chat after `event` (pure).
    pub fn apply(&self, event: ChatEvent) -> Chat {
        match event {
            ChatEvent::Performed(op) => Chat {
                state: after_success(self.state, op),
                ..*self
            },
            ChatEvent::CustomerSends => *self,
            ChatEvent::CustomerLeaves => Chat {
                customer_present: false,
                ..*self
            },
        }
    }

    /// The chat after a conforming target handled `request` from its owner
    /// (`caller_owns`) or from another agent: what [`expect`] says, followed with
    /// [`Chat::apply`] when it expects success, unchanged when it expects a refusal.
    pub fn handle(&self, caller_owns: bool, request: &Classified) -> Chat {
        let e = expect(Some(self.state), caller_owns, request);
        match (e.is_success(), request.op_name()) {
            (true, Some(op)) => self.apply(ChatEvent::Performed(op)),
            _ => *self,
        }
    }
}

/// The chat operations the model drives (SPEC §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpName {
    /// `Accept` (Invited → Chatting).
    Accept,
    /// `Reject` (Invited → Completed).
    Reject,
    /// `SendMessage` (Chatting stays).
    SendMessage,
    /// `Leave` (Chatting → LeftChat).
    Leave,
    /// `Complete` (Chatting | LeftChat → Completed), the operation under certification.
    Complete,
}

impl OpName {
    /// Every operation the model knows.
    pub const ALL: [OpName; 5] = [
        OpName::Accept,
        OpName::Reject,
        OpName::SendMessage,
        OpName::Leave,
        OpName::Complete,
    ];

    /// Parses an `operationName` the model knows.
    pub fn parse(s: &str) -> Option<OpName> {
        Some(match s {
            "Accept" => OpName::Accept,
            "Reject" => OpName::Reject,
            "SendMessage" => OpName::SendMessage,
            "Leave" => OpName::Leave,
            "Complete" => OpName::Complete,
            _ => return None,
        })
    }

    /// The `operationName` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpName::Accept => "Accept",
            OpName::Reject => "Reject",
            OpName::SendMessage => "SendMessage",
            OpName::Leave => "Leave",
            OpName::Complete => "Complete",
        }
    }
}

/// The parameters of a valid Complete (SPEC §1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteParams {
    /// `queueName`: the queue the interaction is placed in (CMP-07).
    pub queue_name: Option<String>,
    /// `saveLAR`: record the agent for last-agent routing (CMP-08).
    pub save_lar: Option<bool>,
    /// `text`: sent to the customer before the session ends (CMP-04/05).
    pub text: Option<String>,
    /// `messageType` (free-form, only with `text`).
    pub message_type: Option<String>,
    /// `treatAs` (`Normal` or `System`, only with `text`).
    pub treat_as: Option<String>,
}

/// A well-formed operation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// A valid Complete with its parameters.
    Complete(CompleteParams),
    /// Another chat operation; its parameters are not modelled (future work, SPEC §3).
    Other(OpName),
}

/// What a request body is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Classified {
    /// A well-formed request for a known operation.
    Op(Operation),
    /// Not an operation request at all (REQ-01): not JSON, no `operationName`, not a
    /// string, or an operation the model does not know.
    Malformed {
        /// Why, in words.
        reason: String,
        /// The schema keyword or SPEC sentence that makes the body invalid.
        rule: &'static str,
    },
    /// A Complete that breaks a parameter rule of SPEC §1.2; `req` is the requirement
    /// (`CMP-09`, `CMP-10` or `CMP-11`).
    InvalidComplete {
        /// The requirement the body breaks.
        req: ReqId,
        /// Which rule, in words.
        reason: String,
        /// The schema keyword or SPEC sentence that makes the body invalid.
        rule: &'static str,
    },
    /// A Complete the contract neither allows nor forbids (SPEC §6.12): a conforming
    /// target may accept it (then it behaves as a success with these parameters) or
    /// refuse it (then the refusal changes nothing). Only the rules that hold for any
    /// answer are judged.
    Unruled {
        /// The parameters, read as a tolerant reader reads them.
        params: CompleteParams,
        /// What makes it neither, in words.
        reason: String,
        /// The sentence that leaves either answer open.
        rule: &'static str,
    },
}

/// The rules a request body can break, as citations of the schema keyword and the SPEC
/// sentence that make it invalid (shown in witnesses, case files and the curl script).
pub mod rules {
    /// The body is not JSON at all.
    pub const NOT_JSON: &str =
        "SPEC §3 REQ-01 \"a body … that is not JSON\" (RFC 8259 grammar, SPEC §6.12)";
    /// No body.
    pub const NO_BODY: &str =
        "SPEC §1.2 (the body is JSON), §3 REQ-01 \"a body without operationName\"";
    /// Not an object.
    pub const NOT_OBJECT: &str = "complete-request.schema.json `type: object`; SPEC §3 REQ-01 \"a body without operationName\"";
    /// No operationName.
    pub const NO_OP: &str = "complete-request.schema.json `required: [operationName]`; SPEC §3 REQ-01 \"a body without operationName\"";
    /// operationName not a string, or not one of the operations.
    pub const UNKNOWN_OP: &str = "complete-request.schema.json `operationName` `const: \"Complete\"` (names are exact); SPEC §3 REQ-01 \"with an unknown one\"";
    /// text not a string.
    pub const TEXT_TYPE: &str =
        "common.schema.json#/$defs/text `type: string`; SPEC §3 CMP-11 \"text not a string\"";
    /// messageType not a string.
    pub const MESSAGE_TYPE_TYPE: &str = "common.schema.json#/$defs/messageType `type: string`; SPEC §1.2 \"messageType: string\", §3 CMP-11 \"wrongly typed fields\"";
    /// saveLAR not a boolean.
    pub const SAVE_LAR_TYPE: &str =
        "common.schema.json#/$defs/saveLAR `type: boolean`; SPEC §3 CMP-11 \"saveLAR not boolean\"";
    /// queueName not a non-empty string.
    pub const QUEUE_NAME_TYPE: &str = "common.schema.json#/$defs/queueName `type: string`, `minLength: 1`; SPEC §3 CMP-11 \"queueName not a string or empty\"";
    /// messageType or treatAs without text.
    pub const WITHOUT_TEXT: &str = "complete-request.schema.json `dependentRequired` (messageType, treatAs → text); SPEC §1.2 \"only together with text\", §3 CMP-09";
    /// treatAs outside Normal/System.
    pub const TREAT_AS: &str = "common.schema.json#/$defs/treatAs `enum: [Normal, System]`; SPEC §1.2, §3 CMP-10 \"treatAs outside Normal/System\"";
    /// A property the schema does not list.
    pub const EXTRA_PROPERTY: &str = "complete-request.schema.json `additionalProperties: false` leaves it out of the schema, but no requirement of SPEC §3 demands its refusal and GWS ignores parameters it does not know (facts §1): SPEC §6.12, either answer";
    /// A lone-surrogate escape in a string.
    pub const LONE_SURROGATE: &str = "SPEC §6.12 \"Escapes of lone surrogates are JSON; a target may accept or refuse them\" (RFC 8259 §7 grammar, §8.2)";
}

impl Classified {
    /// The operation the body asks for: a Complete also when its parameters break a
    /// rule; `None` for a malformed body.
    pub fn op_name(&self) -> Option<OpName> {
        match self {
            Classified::Op(Operation::Complete(_))
            | Classified::InvalidComplete { .. }
            | Classified::Unruled { .. } => Some(OpName::Complete),
            Classified::Op(Operation::Other(o)) => Some(*o),
            Classified::Malformed { .. } => None,
        }
    }

    /// The parameters of a Complete that may succeed: a valid one, or one the contract
    /// leaves open (SPEC §6.12); `None` otherwise.
    pub fn complete_params(&self) -> Option<&CompleteParams> {
        match self {
            Classified::Op(Operation::Complete(p)) | Classified::Unruled { params: p, .. } => {
                Some(p)
            }
            _ => None,
        }
    }

    /// The rule a body breaks (the schema keyword or SPEC sentence), or the one that
    /// leaves either answer open; `None` for a valid request.
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            Classified::Op(_) => None,
            Classified::Malformed { rule, .. }
            | Classified::InvalidComplete { rule, .. }
            | Classified::Unruled { rule, .. } => Some(rule),
        }
    }

    /// The requirement whose rule the body breaks (REQ-01, CMP-09/10/11); `None` for a
    /// valid request and for one the contract leaves open.
    pub fn broken_req(&self) -> Option<ReqId> {
        match self {
            Classified::Malformed { .. } => Some(ReqId::Req01),
            Classified::InvalidComplete { req, .. } => Some(*req),
            Classified::Op(_) | Classified::Unruled { .. } => None,
        }
    }

    /// True for any Complete, valid or not.
    pub fn is_complete(&self) -> bool {
        matches!(
            self,
            Classified::Op(Operation::Complete(_))
                | Classified::InvalidComplete { .. }
                | Classified::Unruled { .. }
        )
    }
}

/// Classifies a request body.
///
/// Decision order (the first broken rule wins; generated cases break only one):
/// 1. REQ-01: not a JSON object, no `operationName`, `operationName` not a string, or an
///    unknown operation.
/// 2. CMP-11: a wrongly typed field, checked in the order `text` (not a string),
///    `messageType` (not a string), `saveLAR` (not a boolean), `queueName` (not a
///    non-empty string). `null` counts as wrongly typed.
/// 3. CMP-09: `messageType` or `treatAs` present without `text`.
/// 4. CMP-10: `treatAs` present and not exactly `"Normal"` or `"System"` (a non-string
///    `treatAs` is "outside Normal/System", so CMP-10, not CMP-11).
///
/// Then the leeway of SPEC §6.12, for a Complete that breaks none of those rules:
/// 5. a string holding a lone-surrogate escape (raw bodies, read as a tolerant reader
///    reads them, U+FFFD in its place), or
/// 6. a property the schema does not list (`additionalProperties: false` leaves it out
///    of the schema, but no requirement demands a refusal and GWS ignores parameters
///    it does not know, facts sheet §1)
///
/// make it [`Classified::Unruled`]: either answer is conformant.
pub fn classify(body: &Body) -> Classified {
    let malformed = |reason: &str, rule: &'static str| Classified::Malformed {
        reason: reason.to_string(),
        rule,
    };
    let tolerant;
    let (v, lone_surrogate) = match body {
        Body::Empty => return malformed("no body", rules::NO_BODY),
        Body::Raw(raw) => match read_raw(raw) {
            Some((v, lone)) => {
                tolerant = v;
                (&tolerant, lone)
            }
            None => return malformed("body is not JSON", rules::NOT_JSON),
        },
        Body::Json(v) => (v, false),
    };
    let Some(obj) = v.as_object() else {
        return malformed("body is not a JSON object", rules::NOT_OBJECT);
    };
    let name = match obj.get("operationName") {
        None => return malformed("no operationName", rules::NO_OP),
        Some(Value::String(s)) => s,
        Some(_) => return malformed("operationName is not a string", rules::UNKNOWN_OP),
    };
    let Some(op) = OpName::parse(name) else {
        return Classified::Malformed {
            reason: format!("unknown operationName {name:?}"),
            rule: rules::UNKNOWN_OP,
        };
    };
    if op != OpName::Complete {
        return Classified::Op(Operation::Other(op));
    }
    let invalid = |req: ReqId, reason: &str, rule: &'static str| Classified::InvalidComplete {
        req,
        reason: reason.to_string(),
        rule,
    };
    let text = obj.get("text");
    let message_type = obj.get("messageType");
    let treat_as = obj.get("treatAs");
    let save_lar = obj.get("saveLAR");
    let queue_name = obj.get("queueName");
    if text.is_some_and(|t| !t.is_string()) {
        return invalid(ReqId::Cmp11, "text is not a string", rules::TEXT_TYPE);
    }
    if message_type.is_some_and(|t| !t.is_string()) {
        return invalid(
            ReqId::Cmp11,
            "messageType is not a string",
            rules::MESSAGE_TYPE_TYPE,
        );
    }
    if save_lar.is_some_and(|t| !t.is_boolean()) {
        return invalid(
            ReqId::Cmp11,
            "saveLAR is not a boolean",
            rules::SAVE_LAR_TYPE,
        );
    }
    if queue_name.is_some_and(|q| q.as_str().is_none_or(str::is_empty)) {
        return invalid(
            ReqId::Cmp11,
            "queueName is not a non-empty string",
            rules::QUEUE_NAME_TYPE,
        );
    }
    if text.is_none() && message_type.is_some() {
        return invalid(
            ReqId::Cmp09,
            "messageType without text",
            rules::WITHOUT_TEXT,
        );
    }
    if text.is_none() && treat_as.is_some() {
        return invalid(ReqId::Cmp09, "treatAs without text", rules::WITHOUT_TEXT);
    }
    if let Some(t) = treat_as
        && !matches!(t.as_str(), Some("Normal") | Some("System"))
    {
        return invalid(
            ReqId::Cmp10,
            "treatAs is not Normal or System",
            rules::TREAT_AS,
        );
    }
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let params = CompleteParams {
        queue_name: s(queue_name),
        save_lar: save_lar.and_then(Value::as_bool),
        text: s(text),
        message_type: s(message_type),
        treat_as: s(treat_as),
    };
    if lone_surrogate {
        return Classified::Unruled {
            params,
            reason: "a string holds a lone-surrogate escape".into(),
            rule: rules::LONE_SURROGATE,
        };
    }
    if let Some(extra) = obj
        .keys()
        .find(|k| !COMPLETE_PROPERTIES.contains(&k.as_str()))
    {
        return Classified::Unruled {
            params,
            reason: format!("property {extra:?} is not one of Complete's"),
            rule: rules::EXTRA_PROPERTY,
        };
    }
    Classified::Op(Operation::Complete(params))
}

/// The properties of a Complete request (SPEC §1.2; `complete-request.schema.json`).
pub const COMPLETE_PROPERTIES: [&str; 6] = [
    "operationName",
    "queueName",
    "saveLAR",
    "text",
    "messageType",
    "treatAs",
];

/// A raw body read as JSON the way a tolerant reader reads it (SPEC §6.12): `None`
/// when it does not match RFC 8259's grammar; else the document and whether it held a
/// lone-surrogate escape (each shown as U+FFFD).
fn read_raw(raw: &str) -> Option<(Value, bool)> {
    let parsed = crate::history::json::parse(raw.as_bytes()).ok()?;
    let lone = parsed.notes.iter().any(|n| n.contains("lone-surrogate"));
    Some((parsed.value, lone))
}

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
/// body counts (SPEC §1.1, §6.1, §6.2): SES-01 for a POST without the CSRF token when
/// the target uses CSRF, SES-02 without Basic credentials (a session cookie alone is
/// none); `None` for a well-formed client's request.
pub fn credentials_refusal(auth: AuthVariant, csrf: bool) -> Option<ReqId> {
    match auth {
        AuthVariant::NoCsrf if csrf => Some(ReqId::Ses01),
        AuthVariant::NoCredentials | AuthVariant::CookieOnly => Some(ReqId::Ses02),
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

/// The next state of an operation that succeeds in `state` (SPEC §2 table).
pub fn transition(state: ChatState, op: OpName) -> Option<ChatState> {
    use ChatState::*;
    use OpName::*;
    match (state, op) {
        (Invited, Accept) => Some(Chatting),
        (Invited, Reject) => Some(Completed),
        (Chatting, SendMessage) => Some(Chatting),
        (Chatting, Leave) => Some(LeftChat),
        (Chatting, Complete) | (LeftChat, Complete) => Some(Completed),
        _ => None,
    }
}

/// The operations the model allows in the chat's state (those [`transition`] leads
/// somewhere), in [`OpName::ALL`] order: the agent-side `transitions` of the reference
/// state machine.
pub fn legal_ops(chat: &Chat) -> Vec<OpName> {
    OpName::ALL
        .into_iter()
        .filter(|op| transition(chat.state, *op).is_some())
        .collect()
}

/// The chat after `op` succeeds, when the model allows `op` in its state.
pub fn next(chat: &Chat, op: OpName) -> Option<Chat> {
    transition(chat.state, op).map(|state| Chat { state, ..*chat })
}

/// The customer-side events the model drives for a chat: while the agent is `Chatting`
/// and the customer is still there, the customer may send or leave. (What a customer
/// does to a chat not yet accepted, or after the agent left, is not modelled.)
pub fn customer_events(chat: &Chat) -> Vec<ChatEvent> {
    if chat.state == ChatState::Chatting && chat.customer_session_open() {
        vec![ChatEvent::CustomerSends, ChatEvent::CustomerLeaves]
    } else {
        vec![]
    }
}

/// The operation that finishes a chat still open (leads it to `Completed`): Reject when
/// Invited, Complete when Chatting or LeftChat; `None` once Completed.
pub fn closing_op(chat: &Chat) -> Option<OpName> {
    legal_ops(chat)
        .into_iter()
        .find(|op| transition(chat.state, *op) == Some(ChatState::Completed))
}

/// The operations the harness sends to close a chat of its own that is still open when
/// it cleans up (after a case, at the end of a run, or a chat routing offered it that no
/// case needs): Accept then Complete when Invited, Complete when Chatting or LeftChat,
/// nothing once Completed.
///
/// Not [`closing_op`]: Reject also ends an Invited chat for this agent, but it hands the
/// interaction back to routing, which may offer it again to another Ready agent (SPEC
/// §6.13), so a clean-up by Reject could chase the same customer from agent to agent.
/// Accept then Complete ends the interaction for good (Complete ends the customer's
/// session, CMP-06).
pub fn closing_ops_for_cleanup(state: ChatState) -> &'static [OpName] {
    match state {
        ChatState::Invited => &[OpName::Accept, OpName::Complete],
        ChatState::Chatting | ChatState::LeftChat => &[OpName::Complete],
        ChatState::Completed => &[],
    }
}

/// The state a successful `op` announces in a `StatusChange` notification, whatever
/// state it started from; `None` when it changes no state (SendMessage).
pub fn status_change_of(op: OpName) -> Option<ChatState> {
    let mut to = ChatState::ALL
        .into_iter()
        .filter_map(|s| transition(s, op).filter(|n| *n != s));
    let first = to.next()?;
    to.all(|n| n == first).then_some(first)
}

/// The state a chat is in after the target *did* perform `op` (even one the model
/// refuses): the checker follows the target so one fault does not cascade.
pub fn after_success(state: ChatState, op: OpName) -> ChatState {
    transition(state, op).unwrap_or(match op {
        OpName::Accept => ChatState::Chatting,
        OpName::Reject | OpName::Complete => ChatState::Completed,
        OpName::Leave => ChatState::LeftChat,
        OpName::SendMessage => state,
    })
}

const CODES_INVITED: &[i64] = &[2, 3];
const CODES_COMPLETED: &[i64] = &[2, 3, 6];
const CODES_UNKNOWN: &[i64] = &[6];
const CODES_OTHER_AGENT: &[i64] = &[3, 5, 6];
const CODES_CMP09: &[i64] = &[1, 2, 10];

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
                  preferred: Option<&'static [i64]>| Expectation {
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
            match (opname, st) {
                (OpName::Complete, ChatState::Invited) => {
                    refuse(Some(ReqId::Cmp12), reason, None, Some(CODES_INVITED))
                }
                (OpName::Complete, ChatState::Completed) => {
                    refuse(Some(ReqId::Cmp13), reason, None, Some(CODES_COMPLETED))
                }
                _ => refuse(None, reason, None, None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(v: Value) -> Body {
        Body::Json(v)
    }

    fn req_of(c: &Classified) -> Option<ReqId> {
        c.broken_req()
    }

    #[test]
    fn what_the_contract_leaves_open_may_be_accepted_or_refused() {
        // SPEC §6.12: a property the schema does not list, and (in a raw body) a
        // lone-surrogate escape, make a Complete neither valid nor invalid.
        let extra = classify(&j(json!({"operationName": "Complete", "extra": 1})));
        assert!(matches!(
            extra,
            Classified::Unruled {
                rule: rules::EXTRA_PROPERTY,
                ..
            }
        ));
        assert_eq!(extra.broken_req(), None);
        let e = expect(Some(ChatState::Chatting), true, &extra);
        assert!(e.is_success());
        assert_eq!(e.either, Some(rules::EXTRA_PROPERTY));
        // Accepted: a success with its notifications; refused: a refusal under no
        // requirement that must change nothing.
        assert!(
            e.clone()
                .given(true, Some(ChatState::Chatting))
                .is_success()
        );
        let r = e.given(false, Some(ChatState::Chatting));
        let refusal = r.refusal.expect("refused");
        assert!(refusal.either && refusal.req.is_none());
        assert_eq!(r.next, Some(ChatState::Chatting));
        assert!(r.notifications.is_empty());
        // Where a valid Complete is refused anyway, the body changes nothing of that.
        let e = expect(Some(ChatState::Invited), true, &extra);
        assert_eq!(e.refusal.unwrap().req, Some(ReqId::Cmp12));
        // Both answers are explained in Chatting; in Completed only the refusal.
        for ok in [true, false] {
            assert!(explains(ChatState::Chatting, true, None, &extra, ok));
        }
        assert!(!explains(ChatState::Completed, true, None, &extra, true));
        // Without credentials, never.
        assert!(!explains(
            ChatState::Chatting,
            true,
            Some(ReqId::Ses02),
            &extra,
            true
        ));
        // A valid Complete refused is not explained; §6.8's Leave in LeftChat is.
        let plain = classify(&j(json!({"operationName": "Complete"})));
        assert!(!explains(ChatState::Chatting, true, None, &plain, false));
        let leave = classify(&j(json!({"operationName": "Leave"})));
        assert!(explains(ChatState::LeftChat, true, None, &leave, true));
        assert!(explains(ChatState::LeftChat, true, None, &leave, false));
    }

    #[test]
    fn every_refusal_of_a_body_cites_its_rule() {
        for b in [
            Body::Raw("{".into()),
            Body::Empty,
            j(json!([1])),
            j(json!({"operationName": "complete"})),
            j(json!({"operationName": "Complete", "treatAs": "Normal"})),
            j(json!({"operationName": "Complete", "text": "x", "treatAs": "normal"})),
            j(json!({"operationName": "Complete", "saveLAR": "true"})),
        ] {
            let e = expect(Some(ChatState::Chatting), true, &classify(&b));
            let r = e.refusal.expect("refused");
            assert!(r.rule.is_some_and(|t| t.contains("SPEC §")), "{b:?}: {r:?}");
        }
    }

    #[test]
    fn classify_hand_written_bodies() {
        let cases: Vec<(Body, Option<ReqId>)> = vec![
            (Body::Raw("{".into()), Some(ReqId::Req01)),
            (Body::Empty, Some(ReqId::Req01)),
            (j(json!([1])), Some(ReqId::Req01)),
            (j(json!({})), Some(ReqId::Req01)),
            (j(json!({"operationName": 3})), Some(ReqId::Req01)),
            (j(json!({"operationName": "Explode"})), Some(ReqId::Req01)),
            (j(json!({"operationName": "complete"})), Some(ReqId::Req01)),
            (j(json!({"operationName": "Complete"})), None),
            (
                j(
                    json!({"operationName": "Complete", "queueName": "Q", "saveLAR": true,
                "text": "bye", "messageType": "Text", "treatAs": "System"}),
                ),
                None,
            ),
            (
                j(json!({"operationName": "Complete", "messageType": "Text"})),
                Some(ReqId::Cmp09),
            ),
            (
                j(json!({"operationName": "Complete", "treatAs": "Normal"})),
                Some(ReqId::Cmp09),
            ),
            (
                j(json!({"operationName": "Complete", "text": "x", "treatAs": "Loud"})),
                Some(ReqId::Cmp10),
            ),
            (
                j(json!({"operationName": "Complete", "text": "x", "treatAs": 1})),
                Some(ReqId::Cmp10),
            ),
            (
                j(json!({"operationName": "Complete", "saveLAR": "true"})),
                Some(ReqId::Cmp11),
            ),
            (
                j(json!({"operationName": "Complete", "queueName": ""})),
                Some(ReqId::Cmp11),
            ),
            (
                j(json!({"operationName": "Complete", "queueName": 7})),
                Some(ReqId::Cmp11),
            ),
            (
                j(json!({"operationName": "Complete", "text": 7})),
                Some(ReqId::Cmp11),
            ),
            (
                j(json!({"operationName": "Complete", "text": null})),
                Some(ReqId::Cmp11),
            ),
            (
                j(json!({"operationName": "Complete", "text": "x", "messageType": 1})),
                Some(ReqId::Cmp11),
            ),
            (j(json!({"operationName": "Accept", "nickname": "A"})), None),
        ];
        for (b, want) in cases {
            assert_eq!(req_of(&classify(&b)), want, "{b:?}");
        }
    }

    #[test]
    fn expect_follows_the_spec_table() {
        let complete = classify(&j(json!({"operationName":"Complete","text":"bye"})));
        let e = expect(Some(ChatState::Chatting), true, &complete);
        assert!(e.is_success());
        assert_eq!(e.next, Some(ChatState::Completed));
        assert_eq!(
            e.notifications,
            vec![
                ExpectedNote::AgentText("bye".into()),
                ExpectedNote::StatusChange(ChatState::Completed)
            ]
        );
        assert!(expect(Some(ChatState::LeftChat), true, &complete).is_success());
        let r = |s, owns| expect(s, owns, &complete).refusal.unwrap();
        assert_eq!(r(Some(ChatState::Invited), true).req, Some(ReqId::Cmp12));
        assert_eq!(
            r(Some(ChatState::Invited), true).preferred_codes,
            Some(&[2, 3][..])
        );
        assert_eq!(r(Some(ChatState::Completed), true).req, Some(ReqId::Cmp13));
        assert_eq!(r(None, true).req, Some(ReqId::Cmp14));
        assert_eq!(r(None, true).required_codes, Some(&[6][..]));
        assert_eq!(r(Some(ChatState::Chatting), false).req, Some(ReqId::Cmp21));
        assert_eq!(
            r(Some(ChatState::Chatting), false).required_codes,
            Some(&[3, 5, 6][..])
        );
        let bad = classify(&j(json!({"operationName":"Complete","treatAs":"Normal"})));
        let e = expect(Some(ChatState::Chatting), true, &bad);
        assert_eq!(e.refusal.as_ref().unwrap().req, Some(ReqId::Cmp09));
        assert_eq!(e.next, Some(ChatState::Chatting));
        let accept = classify(&j(json!({"operationName":"Accept"})));
        assert_eq!(
            expect(Some(ChatState::Invited), true, &accept).next,
            Some(ChatState::Chatting)
        );
        let e = expect(Some(ChatState::Chatting), true, &accept);
        assert_eq!(e.refusal.unwrap().req, None);
        let leave = classify(&j(json!({"operationName":"Leave"})));
        assert_eq!(
            expect(Some(ChatState::Chatting), true, &leave).next,
            Some(ChatState::LeftChat)
        );
        let reject = classify(&j(json!({"operationName":"Reject"})));
        assert_eq!(
            expect(Some(ChatState::Invited), true, &reject).next,
            Some(ChatState::Completed)
        );
        let send = classify(&j(json!({"operationName":"SendMessage","text":"x"})));
        assert_eq!(
            expect(Some(ChatState::Chatting), true, &send).next,
            Some(ChatState::Chatting)
        );
        let junk = Classified::Malformed {
            reason: "x".into(),
            rule: rules::NOT_JSON,
        };
        assert_eq!(
            expect(Some(ChatState::Chatting), true, &junk)
                .refusal
                .unwrap()
                .req,
            Some(ReqId::Req01)
        );
    }

    #[test]
    fn legal_ops_next_and_closing_follow_the_table() {
        let at = |state| Chat {
            state,
            customer_present: true,
        };
        use ChatState::*;
        use OpName::*;
        assert_eq!(legal_ops(&at(Invited)), vec![Accept, Reject]);
        assert_eq!(legal_ops(&at(Chatting)), vec![SendMessage, Leave, Complete]);
        assert_eq!(legal_ops(&at(LeftChat)), vec![Complete]);
        assert!(legal_ops(&at(Completed)).is_empty());
        assert_eq!(next(&at(Chatting), Leave), Some(at(LeftChat)));
        assert_eq!(next(&at(Invited), Complete), None);
        assert_eq!(closing_op(&at(Invited)), Some(Reject));
        assert_eq!(closing_op(&at(Chatting)), Some(Complete));
        assert_eq!(closing_op(&at(LeftChat)), Some(Complete));
        assert_eq!(closing_op(&at(Completed)), None);
        // Clean-up never Rejects: a Rejected chat may be offered again (SPEC §6.13).
        for st in ChatState::ALL {
            let mut s = st;
            for op in closing_ops_for_cleanup(st) {
                assert_ne!(*op, Reject);
                s = transition(s, *op).expect("each clean-up op is legal where it is sent");
            }
            assert_eq!(s, Completed, "{st:?}");
        }
        assert_eq!(status_change_of(Accept), Some(Chatting));
        assert_eq!(status_change_of(Reject), Some(Completed));
        assert_eq!(status_change_of(Leave), Some(LeftChat));
        assert_eq!(status_change_of(Complete), Some(Completed));
        assert_eq!(status_change_of(SendMessage), None);
    }

    #[test]
    fn customer_session_follows_the_customer_and_leave() {
        let c = Chat::offered().apply(ChatEvent::Performed(OpName::Accept));
        assert_eq!(c.state, ChatState::Chatting);
        assert!(c.customer_session_open());
        assert_eq!(customer_events(&c).len(), 2);
        assert_eq!(c.apply(ChatEvent::CustomerSends), c);
        let gone = c.apply(ChatEvent::CustomerLeaves);
        assert_eq!(
            gone.state,
            ChatState::Chatting,
            "CMP-16: the agent still chats"
        );
        assert!(!gone.customer_session_open());
        assert!(customer_events(&gone).is_empty());
        let left = c.apply(ChatEvent::Performed(OpName::Leave));
        assert_eq!(left.state, ChatState::LeftChat);
        assert!(left.customer_present && !left.customer_session_open());
        let done = left.apply(ChatEvent::Performed(OpName::Complete));
        assert_eq!(done.state, ChatState::Completed);
        assert!(!done.customer_session_open());
    }

    #[test]
    fn handle_follows_expect() {
        let complete = classify(&j(json!({"operationName":"Complete"})));
        let bad = classify(&j(json!({"operationName":"Complete","treatAs":"Loud"})));
        let chatting = Chat::offered().apply(ChatEvent::Performed(OpName::Accept));
        assert_eq!(chatting.handle(true, &complete).state, ChatState::Completed);
        assert_eq!(chatting.handle(false, &complete), chatting, "CMP-21");
        assert_eq!(chatting.handle(true, &bad), chatting, "CMP-09");
        assert_eq!(Chat::offered().handle(true, &complete), Chat::offered());
        let junk = Classified::Malformed {
            reason: "x".into(),
            rule: rules::NOT_JSON,
        };
        assert_eq!(chatting.handle(true, &junk), chatting);
        // Whatever the request, the model's next state is what `expect` says.
        for state in ChatState::ALL {
            let c = Chat {
                state,
                customer_present: true,
            };
            for op in OpName::ALL {
                let cls = classify(&j(json!({ "operationName": op.as_str() })));
                assert_eq!(
                    Some(c.handle(true, &cls).state),
                    expect(Some(state), true, &cls).next
                );
                assert_eq!(
                    next(&c, op).is_some(),
                    expect(Some(state), true, &cls).is_success()
                );
            }
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn field_value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(|n| json!(n)),
                "[a-zA-Z]{0,6}".prop_map(Value::String),
                Just(json!("Normal")),
                Just(json!("System")),
                Just(json!([])),
            ]
        }

        proptest! {
            /// The classifier agrees with an independent statement of each rule.
            #[test]
            fn classifier_agrees_with_the_rules(
                fields in proptest::collection::btree_map(
                    prop_oneof![Just("text"), Just("messageType"), Just("treatAs"),
                                Just("saveLAR"), Just("queueName"), Just("other")],
                    field_value(), 0..5)
            ) {
                let mut obj = serde_json::Map::new();
                obj.insert("operationName".into(), json!("Complete"));
                for (k, v) in &fields { obj.insert((*k).into(), v.clone()); }
                let got = req_of(&classify(&Body::Json(Value::Object(obj))));
                let g = |k: &str| fields.get(k);
                let want = if g("text").is_some_and(|v| !v.is_string())
                    || g("messageType").is_some_and(|v| !v.is_string())
                    || g("saveLAR").is_some_and(|v| !v.is_boolean())
                    || g("queueName").is_some_and(|v| v.as_str().is_none_or(|s| s.is_empty())) {
                    Some(ReqId::Cmp11)
                } else if g("text").is_none() && (g("messageType").is_some() || g("treatAs").is_some()) {
                    Some(ReqId::Cmp09)
                } else if g("treatAs").is_some_and(|v| v != "Normal" && v != "System") {
                    Some(ReqId::Cmp10)
                } else { None };
                prop_assert_eq!(got, want);
            }
        }
    }
}
