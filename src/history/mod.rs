//! What was sent, answered and notified, and when: the record a run produces and the
//! checker judges (the Jepsen way: record first, judge after).
//!
//! These are plain serde types. A case is a list of [`Step`]s (the plan, with chats named
//! by alias so it replays on any target); a [`History`] is the ordered list of
//! [`Event`]s observed while running it. The [`Recorder`] is the thread-safe appender the
//! target clients and the runner share, and it lets a waiter wake on new events instead
//! of sleeping.
//!
//! Secrets never enter a history: [`redact_headers`] is applied by the recorder to every
//! request it stores.

use crate::spec::ReqId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod json;
pub(crate) mod notes;
mod recorder;
pub mod redact;
pub(crate) use notes::Note;
pub use notes::chat_id_of as notification_chat_id;
pub(crate) use notes::{TAG_KEY, is_typing_only};
pub(crate) use recorder::DEFAULT_NOTE_BUDGET;
pub use recorder::{DroppedNotes, Recorder};
pub(crate) use redact::{REDACTED, redact_headers};
#[cfg(test)]
mod tests;

/// A chat as the case names it: an alias bound to a real id at run time, or a literal id
/// the harness made up (for "unknown chat id" cases).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRef {
    /// A chat provisioned by an earlier `OfferChat` step of the same case (`"c1"`).
    Alias(String),
    /// A chat id that no provisioning produced.
    Unknown(String),
}

/// How the credentials of an agent request are tampered with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthVariant {
    /// Basic auth, session cookie and CSRF token, as a well-behaved client sends.
    #[default]
    Normal,
    /// No Authorization header and no cookie (SES-02).
    NoCredentials,
    /// Only the session cookie, no Authorization header (SES-02, SPEC §6.2).
    CookieOnly,
    /// Everything but the CSRF token (SES-01).
    NoCsrf,
    /// Basic auth and the session cookie of the sender, with the CSRF token of another
    /// agent's live session instead of its own (SES-01: a token bound to another session
    /// is no token for this one; SPEC §1.1: "A missing or wrong token gets HTTP 403").
    ForeignCsrf,
    /// The sender's session cookie and CSRF token, with the Basic credentials of another
    /// agent (SES-02, SPEC §6.2: the cookie alone is no credentials for its agent).
    ForeignBasic,
}

impl AuthVariant {
    /// Whether the request also carries another agent's credentials (its CSRF token or
    /// its Basic auth): the harness needs a second agent to send it.
    pub fn needs_peer(self) -> bool {
        matches!(self, AuthVariant::ForeignCsrf | AuthVariant::ForeignBasic)
    }
}

/// A request body as the case sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Body {
    /// No body at all.
    Empty,
    /// A JSON document (sent with `Content-Type: application/json`).
    Json(Value),
    /// Raw text sent as is with `Content-Type: application/json` (for REQ-01: not JSON).
    Raw(String),
}

impl Body {
    /// The JSON document, when the body is one.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Body::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// One step of a case: what the harness does (an agent request) or makes happen (an
/// environment event through provisioning). Steps name chats by [`ChatRef`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// Environment: a customer asks for a chat and it is offered to `agent` (→ `Invited`).
    /// Binds `chat` to the agent-side id (a [`EventKind::Bind`] event).
    OfferChat {
        /// The case's alias for the chat (`c1`).
        chat: String,
        /// The agent it is offered to (user name).
        agent: String,
    },
    /// Agent request `POST /api/v2/me/chats/{id}` with `body`. The owner of the chat sends
    /// it, unless `by_other_agent`: then an agent that does not own it does (CMP-21).
    AgentPost {
        /// The chat (an alias, or an id nobody provisioned).
        chat: ChatRef,
        /// Sent by an agent that does not own the chat.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_other_agent: bool,
        /// Which credentials go with it (SES-01/02 leave some out).
        #[serde(default)]
        auth: AuthVariant,
        /// The request body.
        body: Body,
    },
    /// Environment: the customer sends `text`.
    CustomerSends {
        /// The chat's alias.
        chat: String,
        /// What the customer writes.
        text: String,
    },
    /// Environment: the customer leaves (customer-side Complete).
    CustomerLeaves {
        /// The chat's alias.
        chat: String,
    },
    /// Observation: ask the provisioning side what it knows about the chat (provider
    /// `inspect`, or the customer-api GETs). Records an [`EventKind::Inspect`].
    Inspect {
        /// The chat's alias.
        chat: String,
    },
    /// Wait until the chats of the case are quiet (no notification for the quiet window,
    /// bounded by the deadline). Records an [`EventKind::Quiet`].
    Settle,
    /// Run these steps at once; each inner step is sent without waiting for the
    /// others' answers. On distinct chats: CMP-20; two on one chat: a race (CMP-02/13),
    /// judged in the order the target served them.
    Concurrent {
        /// The requests sent together: agent requests, and customer sends or leaves.
        steps: Vec<Step>,
    },
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Actor {
    /// An agent of the target (user name).
    Agent(String),
    /// The customer side (customer-api provisioning).
    Customer,
    /// The provider-state endpoint.
    Provider,
}

/// Why a request got no HTTP answer. Indeterminate: the target may or may not have acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoResponseKind {
    /// No answer within the request timeout.
    Timeout,
    /// The connection could not be made (refused, DNS, TLS).
    Connect,
    /// The connection was reset or closed mid-answer, or the body could not be read.
    Io,
    /// The body was larger than the harness accepts.
    TooLarge,
}

/// Bayeux-level events of one agent's notification session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BayeuxEvent {
    /// The `/meta/handshake` answer.
    Handshake {
        /// Its `successful`.
        successful: bool,
        /// Its `error`, or why it could not be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The `/meta/subscribe` answer for `channel`.
    Subscribe {
        /// The channel subscribed to.
        channel: String,
        /// Its `successful`.
        successful: bool,
        /// Its `error`, or why it could not be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A `/meta/connect` answer that was not successful, or that carried advice.
    Connect {
        /// Its `successful`.
        successful: bool,
        /// Its `advice`, as sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        advice: Option<Value>,
        /// Its `error`, or why it could not be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The client followed `advice.reconnect` (`retry`, `handshake` or `none`), after
    /// waiting `interval_ms`.
    FollowedAdvice {
        /// The advice followed.
        reconnect: String,
        /// How long the client waited first, in ms.
        interval_ms: u64,
    },
    /// An answer broke the Bayeux exchange as a whole: readable, but without the reply
    /// the exchange asked for, or a flood that ends observation. (One message that
    /// cannot be read is a [`BayeuxEvent::BadMessage`] instead; older histories also hold
    /// unreadable answers here.)
    Garbage {
        /// What was wrong.
        error: String,
        /// The start of what came (bounded).
        excerpt: String,
    },
    /// One message of an answer that cannot be read (not JSON) or is not a Bayeux
    /// message (not an object, no `channel`): that message's NTF-01 Fail; the other
    /// messages of the answer are read and the session goes on. Also a whole answer that
    /// is no JSON array or object at all (read as one unreadable message).
    BadMessage {
        /// Why it cannot be read, or is not a Bayeux message (with its byte offset in
        /// the answer when known).
        error: String,
        /// Its bytes as sent (bounded).
        excerpt: String,
    },
    /// The session ended (disconnect, `reconnect: none`, or repeated failure).
    Closed {
        /// Why the session ended.
        reason: String,
    },
}

/// What one observation was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum EventKind {
    /// The first event of a case history: which case, its seed, and the requirement ids
    /// it was built to exercise (a harness error in it makes those `Error`).
    Case {
        /// The case id.
        id: String,
        /// The case's seed.
        seed: u64,
        /// The requirement ids the case was built to exercise.
        #[serde(alias = "targets")]
        exercises: Vec<ReqId>,
    },
    /// The runner starts step `index` of the case.
    Step {
        /// The step's position in the case.
        index: usize,
        /// The step.
        step: Step,
    },
    /// A case alias is bound to the agent-side chat id owned by `agent`.
    Bind {
        /// The case's alias (`c1`).
        alias: String,
        /// The agent that owns the chat.
        agent: String,
        /// The agent-side chat id.
        chat_id: String,
        /// The customer-side chat id (customer-api provisioning).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_chat_id: Option<String>,
    },
    /// A request was sent. `path` is relative to the target base URL; header values
    /// that are secrets are already redacted.
    Request {
        /// The request's number (its answer carries the same).
        req: u64,
        /// Who sent it.
        actor: Actor,
        /// The HTTP method.
        method: String,
        /// The path (and query) relative to the base URL.
        path: String,
        /// The headers sent, secrets redacted.
        headers: Vec<(String, String)>,
        /// The body sent.
        body: Body,
        /// For a request made by a `Concurrent` step: the index of the inner step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<usize>,
    },
    /// The answer to request `req`. `body` is `Json` when it parsed, `Raw` otherwise.
    Response {
        /// The request answered.
        req: u64,
        /// The HTTP status.
        status: u16,
        /// The body received.
        body: Body,
        /// Time from sending to the whole answer, in µs.
        elapsed_us: u64,
    },
    /// Request `req` got no answer: indeterminate, not a failure by itself.
    NoResponse {
        /// The request that got no answer.
        req: u64,
        /// Why.
        kind: NoResponseKind,
        /// The transport's message.
        message: String,
        /// Time from sending to giving up, in µs.
        elapsed_us: u64,
    },
    /// An agent's REST session is established (`GET /api/v2/me` answered). `csrf`: the
    /// target announced a CSRF token (`X-CSRF-HEADER`/`X-CSRF-TOKEN`), so SES-01 applies.
    Session {
        /// The agent (user name).
        agent: String,
        /// Whether the target uses CSRF.
        csrf: bool,
    },
    /// A message delivered on a subscribed channel to `agent`'s Bayeux session.
    Notification {
        /// The agent whose session received it.
        agent: String,
        /// The channel it came on.
        channel: String,
        /// Its `data`.
        data: Value,
    },
    /// Something happened on `agent`'s Bayeux session.
    Bayeux {
        /// The agent whose session it is.
        agent: String,
        /// What happened.
        event: BayeuxEvent,
    },
    /// What the provisioning side reported about a chat. `result` is `None` when the
    /// target cannot tell (provider answers 404/501, or no customer side exists).
    Inspect {
        /// The chat's alias.
        alias: String,
        /// What the provisioning side answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        /// Why there is no result.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The harness waited for quiet: either `quiet_ms` passed with no notification for
    /// the case's chats, or the deadline ran out first (`reached_quiet: false`).
    Quiet {
        /// How long the harness waited, in ms.
        waited_ms: u64,
        /// The quiet window, in ms.
        quiet_ms: u64,
        /// Whether a whole quiet window passed with nothing.
        reached_quiet: bool,
    },
    /// The harness or the environment broke (provisioning failed, target unreachable).
    /// Verdicts that depend on what follows are `Error`, never `Fail`.
    HarnessError {
        /// What broke.
        message: String,
    },
    /// The target cannot show what this step needs (its provider-state endpoint answers
    /// 404/501 for the state, SPEC §1.5): the requirements that need it are `Skip (not
    /// observable)`, never Pass and never Error.
    NotObservable {
        /// What the target cannot show.
        message: String,
    },
}

/// One observation, stamped on a monotonic clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Global order of recording, from 0.
    pub seq: u64,
    /// Microseconds since the history started (monotonic clock).
    pub t_us: u64,
    /// The stream the event belongs to: `"runner"`, `"rest:<agent>"`, `"bayeux:<agent>"`,
    /// `"customer"`, `"provider"`.
    pub stream: String,
    /// Order within `stream`, from 0.
    pub stream_seq: u64,
    /// The index of the step being run when this was recorded, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_step: Option<usize>,
    /// What was observed.
    #[serde(flatten)]
    pub kind: EventKind,
    /// How the target's bytes were read where that differs from what was sent (a
    /// lone-surrogate escape shown as U+FFFD, a number beyond a double kept as the
    /// nearest; see [`json`]). Empty for almost every event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A recorded history: the events of one case, in recording order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The events, in recording order.
    pub events: Vec<Event>,
}

impl History {
    /// Events of one kind, e.g. `h.iter().filter_map(|e| match &e.kind { .. })`.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// The request event with id `req`.
    pub fn request(&self, req: u64) -> Option<&Event> {
        self.events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Request { req: r, .. } if *r == req))
    }

    /// The response (or no-response) event for request `req`.
    pub fn answer(&self, req: u64) -> Option<&Event> {
        self.events.iter().find(|e| match &e.kind {
            EventKind::Response { req: r, .. } | EventKind::NoResponse { req: r, .. } => *r == req,
            _ => false,
        })
    }

    /// The agent-side id bound to `alias`, with its owner.
    pub fn binding(&self, alias: &str) -> Option<(&str, &str)> {
        self.events.iter().find_map(|e| match &e.kind {
            EventKind::Bind {
                alias: a,
                agent,
                chat_id,
                ..
            } if a == alias => Some((agent.as_str(), chat_id.as_str())),
            _ => None,
        })
    }
}

/// The value at `path` (object keys) in `v`: [`Value::pointer`] without its allocations
/// (it unescapes every token into a new string), for the paths read on every event.
pub(crate) fn at_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// The length of `v` as compact JSON text, counted without building the text: what a
/// stored notification is charged ([`Recorder::set_note_budget`]) and what the Bayeux
/// client's flood bound counts.
pub(crate) fn json_len(v: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// A compact key for a chat id (for sets that must stay small over a long run).
pub(crate) fn chat_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}
