//! What a request body is (SPEC §1.1, §1.2): the operations ([`OpName`]), a valid
//! Complete's parameters, [`classify`] and the rules a body can break ([`rules`]).

use crate::history::Body;
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    let text = obj.get("text");
    let message_type = obj.get("messageType");
    let treat_as = obj.get("treatAs");
    let save_lar = obj.get("saveLAR");
    let queue_name = obj.get("queueName");
    if let Some(invalid) = broken_parameter_rule(obj) {
        return invalid;
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

/// The first parameter rule of SPEC §1.2 a Complete's body `obj` breaks (steps 2 to 4
/// of [`classify`]: CMP-11, CMP-09, CMP-10), as an [`Classified::InvalidComplete`].
fn broken_parameter_rule(obj: &serde_json::Map<String, Value>) -> Option<Classified> {
    let invalid = |req: ReqId, reason: &str, rule: &'static str| {
        Some(Classified::InvalidComplete {
            req,
            reason: reason.to_string(),
            rule,
        })
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
    None
}
