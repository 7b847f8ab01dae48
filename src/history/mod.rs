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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub mod json;
pub mod notes;
pub mod redact;
pub(crate) use notes::Note;
pub use notes::{TAG_KEY, chat_id_of as notification_chat_id, is_typing_only};
pub use redact::{REDACTED, is_secret_header, redact_headers};

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

/// The notifications about one chat: their indexes in the recorder, and a wake-up for
/// the waiters of that chat only.
#[derive(Debug, Default)]
struct ChatLog {
    idx: Vec<usize>,
    notify: Arc<tokio::sync::Notify>,
}

#[derive(Debug)]
struct Inner {
    /// The events from global index `base` on (see [`Recorder::trim`]); an empty slot
    /// is an event moved out by [`Recorder::take_notifications`] (indexes stay global).
    events: Vec<Option<Event>>,
    /// Events before this global index were trimmed (those worth keeping are in `kept`).
    base: usize,
    /// What trimming kept of the events before `base`.
    kept: Vec<Event>,
    /// Notifications recorded so far (stored, retired or trimmed alike).
    notifications: u64,
    /// Chats whose notifications are no longer stored (hashes of their ids): the case
    /// that owned them has been judged.
    retired: std::collections::HashSet<u64>,
    /// Notifications routed by chat id ([`notes::chat_id_of`]).
    by_chat: std::collections::HashMap<String, ChatLog>,
    /// Notifications routed by the provisioning tag they carry (`chat.userData` under
    /// [`TAG_KEY`]), for the tags a [`TagWatch`] is watching only.
    by_tag: std::collections::HashMap<String, ChatLog>,
    /// Indexes of the Bayeux sessions' ends ([`BayeuxEvent::Closed`]), few in a run.
    ends: Vec<usize>,
    stream_seqs: std::collections::HashMap<String, u64>,
    next_req: u64,
    step: Option<usize>,
}

impl Inner {
    /// Events recorded so far (trimmed ones included).
    fn total(&self) -> usize {
        self.base + self.events.len()
    }

    /// The event at global index `i`, unless trimmed.
    fn at(&self, i: usize) -> Option<&Event> {
        i.checked_sub(self.base)
            .and_then(|j| self.events.get(j))
            .and_then(Option::as_ref)
    }

    /// Global indexes of the notifications about `chats` recorded at `from..to`, in
    /// recording order.
    fn about(&self, chats: &[&str], from: usize, to: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = chats
            .iter()
            .filter_map(|c| self.by_chat.get(*c))
            .flat_map(|log| {
                let a = log.idx.partition_point(|&i| i < from);
                let b = log.idx.partition_point(|&i| i < to);
                log.idx[a..b].iter().copied()
            })
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// See [`Recorder::retire`].
    fn retire(&mut self, chats: &[&str]) {
        for c in chats {
            self.retired.insert(chat_hash(c));
            self.by_chat.remove(*c);
        }
    }

    /// The stored events from global index `from` on.
    fn since(&self, from: usize) -> impl Iterator<Item = &Event> {
        let j = from.saturating_sub(self.base).min(self.events.len());
        self.events[j..].iter().flatten()
    }
}

/// The value at `path` (object keys) in `v`: [`Value::pointer`] without its allocations
/// (it unescapes every token into a new string), for the paths read on every event.
pub fn at_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// The notifications carrying one provisioning tag, routed to one waiter (see
/// [`Recorder::watch_tag`]).
#[derive(Debug)]
pub struct TagWatch {
    rec: Recorder,
    tag: String,
    notify: Arc<tokio::sync::Notify>,
}

impl TagWatch {
    /// Waits until a notification carrying the tag gives `Some` from `pick` (what it
    /// returns), or `timeout` passes; wakes only when one such notification is recorded.
    pub async fn wait<R>(
        &self,
        timeout: Duration,
        mut pick: impl FnMut(&Event) -> Option<R>,
    ) -> Option<R> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Global index from which the routed notifications are still to be looked at.
        let mut checked = 0;
        let mut find = |checked: &mut usize| {
            let g = self.rec.lock();
            let log = g.by_tag.get(&self.tag)?;
            let start = log.idx.partition_point(|&i| i < *checked);
            let found = log.idx[start..]
                .iter()
                .filter_map(|&i| g.at(i))
                .find_map(&mut pick);
            *checked = g.total();
            found
        };
        loop {
            let woken = self.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(r) = find(&mut checked) {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return find(&mut checked);
            }
        }
    }
}

impl Drop for TagWatch {
    fn drop(&mut self) {
        self.rec.lock().by_tag.remove(&self.tag);
    }
}

/// A compact key for a chat id (for sets that must stay small over a long run).
pub fn chat_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Thread-safe appender of events, shared (cheaply cloned) by the runner and the target
/// clients. Waiters use [`Recorder::subscribe`] to wake on each new event.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
    start: Instant,
    tx: Arc<watch::Sender<u64>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder with an empty history; its clock starts now.
    pub fn new() -> Self {
        let (tx, _rx) = watch::channel(0);
        Recorder {
            inner: Arc::new(Mutex::new(Inner {
                events: Vec::new(),
                base: 0,
                kept: Vec::new(),
                notifications: 0,
                retired: Default::default(),
                by_chat: Default::default(),
                by_tag: Default::default(),
                ends: Vec::new(),
                stream_seqs: Default::default(),
                next_req: 0,
                step: None,
            })),
            start: Instant::now(),
            tx: Arc::new(tx),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock must not take the whole run down.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new, empty recorder on the same clock (same time origin), e.g. one per case
    /// while the run-level recorder takes the Bayeux streams.
    pub fn child(&self) -> Recorder {
        let mut r = Recorder::new();
        r.start = self.start;
        r
    }

    /// Appends a copy of `event` (taken from a recorder on the same clock), keeping its
    /// timestamp, stream and kind; `seq`, `stream_seq` and `in_step` are this recorder's.
    pub fn record_copy(&self, event: &Event) -> u64 {
        self.push(
            &event.stream,
            event.t_us,
            event.kind.clone(),
            event.notes.clone(),
        )
    }

    /// Time since the recorder started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A fresh request id, unique within this recorder.
    pub fn next_request_id(&self) -> u64 {
        let mut g = self.lock();
        g.next_req += 1;
        g.next_req
    }

    /// Marks the step that later events belong to (`None`: between steps).
    pub fn set_step(&self, step: Option<usize>) {
        self.lock().step = step;
    }

    /// Appends an event on `stream`; returns its global sequence number. Request headers
    /// are redacted here, whatever the caller passed.
    pub fn record(&self, stream: &str, kind: EventKind) -> u64 {
        self.record_noted(stream, kind, Vec::new())
    }

    /// [`Recorder::record`] with notes on how the target's bytes were read
    /// ([`Event::notes`]).
    pub fn record_noted(&self, stream: &str, mut kind: EventKind, notes: Vec<String>) -> u64 {
        if let EventKind::Request { headers, .. } = &mut kind {
            redact_headers(headers);
        }
        let t_us = self.start.elapsed().as_micros() as u64;
        self.push(stream, t_us, kind, notes)
    }

    fn push(&self, stream: &str, t_us: u64, kind: EventKind, notes: Vec<String>) -> u64 {
        let seq = {
            let mut g = self.lock();
            let seq = g.total() as u64;
            let stream_seq = match g.stream_seqs.get_mut(stream) {
                Some(ss) => {
                    *ss += 1;
                    *ss - 1
                }
                None => {
                    g.stream_seqs.insert(stream.to_string(), 1);
                    0
                }
            };
            let step = g.step;
            if matches!(kind, EventKind::Notification { .. }) {
                g.notifications += 1;
            }
            if let EventKind::Notification { data, .. } = &kind
                && let Some(id) = notification_chat_id(data)
            {
                if !g.retired.is_empty() && g.retired.contains(&chat_hash(id)) {
                    // Its case has been judged: nobody reads it any more.
                    return seq;
                }
                // A chat already known costs no key copy.
                let log = match g.by_chat.get_mut(id) {
                    Some(log) => log,
                    None => g.by_chat.entry(id.to_string()).or_default(),
                };
                log.idx.push(seq as usize);
                log.notify.notify_waiters();
            }
            if let EventKind::Bayeux {
                event: BayeuxEvent::Closed { .. },
                ..
            } = &kind
            {
                g.ends.push(seq as usize);
            }
            if let EventKind::Notification { data, .. } = &kind
                && !g.by_tag.is_empty()
                && let Some(tag) = notes::tag(data)
                && let Some(log) = g.by_tag.get_mut(tag)
            {
                log.idx.push(seq as usize);
                log.notify.notify_waiters();
            }
            g.events.push(Some(Event {
                seq,
                t_us,
                stream: stream.to_string(),
                stream_seq,
                in_step: step,
                kind,
                notes,
            }));
            seq
        };
        // Only a subscriber reads it: without one, no wake-up to make.
        if self.tx.receiver_count() > 0 {
            self.tx.send_replace(seq + 1);
        }
        seq
    }

    /// The number of events recorded so far (trimmed ones included: indexes are
    /// global).
    pub fn len(&self) -> usize {
        self.lock().total()
    }

    /// Stops storing the notifications about `chats` (their case has been judged) and
    /// forgets those already stored, once trimmed.
    pub fn retire(&self, chats: &[&str]) {
        self.lock().retire(chats);
    }

    /// Drops the events before global index `floor` (no reader needs them any more),
    /// keeping those `keep` wants and never a notification about a retired chat; the
    /// kept ones stay in [`Recorder::snapshot`]. Indexes stay global.
    /// Does nothing until at least `batch` events can go (trimming is a copy).
    pub fn trim(&self, floor: usize, batch: usize, keep: impl Fn(&Event) -> bool) {
        let mut g = self.lock();
        let n = floor.saturating_sub(g.base).min(g.events.len());
        if n == 0 || n < batch {
            return;
        }
        let old: Vec<Event> = g.events.drain(..n).flatten().collect();
        g.base += n;
        for e in old {
            let retired = match &e.kind {
                EventKind::Notification { data, .. } => {
                    notification_chat_id(data).is_some_and(|id| g.retired.contains(&chat_hash(id)))
                }
                _ => false,
            };
            if !retired && keep(&e) {
                g.kept.push(e);
            }
        }
        let g = &mut *g;
        let base = g.base;
        for log in g.by_chat.values_mut().chain(g.by_tag.values_mut()) {
            let cut = log.idx.partition_point(|&i| i < base);
            log.idx.drain(..cut);
        }
        let cut = g.ends.partition_point(|&i| i < base);
        g.ends.drain(..cut);
    }

    /// Starts routing the notifications that carry `tag` (under `chat.userData`
    /// [`TAG_KEY`]) to the returned watch, from now on; they stop being routed when it is
    /// dropped. Watch before the request that makes them, so none is missed.
    pub fn watch_tag(&self, tag: &str) -> TagWatch {
        let notify = self
            .lock()
            .by_tag
            .entry(tag.to_string())
            .or_default()
            .notify
            .clone();
        TagWatch {
            rec: self.clone(),
            tag: tag.to_string(),
            notify,
        }
    }

    /// Notifications recorded so far, including those no longer stored.
    pub fn notification_count(&self) -> u64 {
        self.lock().notifications
    }

    /// Events stored (not trimmed), kept by trimming included.
    pub fn stored(&self) -> usize {
        let g = self.lock();
        g.events.iter().flatten().count() + g.kept.len()
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the events from index `from` on.
    pub fn events_since(&self, from: usize) -> Vec<Event> {
        let g = self.lock();
        g.since(from).cloned().collect()
    }

    /// A receiver that changes (to the new event count) each time an event is recorded
    /// from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Waits until an event from index `from` on satisfies `pred`, or `timeout` passes.
    /// Returns the matching event. Never sleeps blindly: wakes on each new event.
    pub async fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut checked = from;
        loop {
            {
                let g = self.lock();
                if let Some(e) = g.since(checked).find(|e| pred(e)) {
                    return Some(e.clone());
                }
                checked = g.total().max(checked);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => {
                    // One last look: an event may have landed between the check and the wait.
                    let g = self.lock();
                    return g.since(checked).find(|e| pred(e)).cloned();
                }
            }
        }
    }

    /// Waits until a notification about one of `chats`, recorded at index `from` or
    /// later, satisfies `pred`, or `timeout` passes; the matching event's `seq` (nothing
    /// is copied). Only the notifications of those
    /// chats are looked at, and only their recording wakes this waiter.
    pub async fn wait_for_chats(
        &self,
        chats: &[&str],
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + timeout;
        let notifies: Vec<Arc<tokio::sync::Notify>> = {
            let mut g = self.lock();
            chats
                .iter()
                .map(|c| g.by_chat.entry(c.to_string()).or_default().notify.clone())
                .collect()
        };
        let mut checked = from;
        loop {
            let mut wakes: Vec<_> = notifies.iter().map(|n| Box::pin(n.notified())).collect();
            for w in &mut wakes {
                w.as_mut().enable();
            }
            {
                let g = self.lock();
                for c in chats {
                    if let Some(log) = g.by_chat.get(*c) {
                        let start = log.idx.partition_point(|&i| i < checked);
                        if let Some(e) = log.idx[start..]
                            .iter()
                            .filter_map(|&i| g.at(i))
                            .find(|e| pred(e))
                        {
                            return Some(e.seq);
                        }
                    }
                }
                checked = g.total().max(checked);
            }
            if wakes.is_empty() {
                tokio::time::sleep_until(deadline).await;
                return None;
            }
            if tokio::time::timeout_at(deadline, futures_util::future::select_all(wakes))
                .await
                .is_err()
            {
                let g = self.lock();
                for c in chats {
                    if let Some(log) = g.by_chat.get(*c) {
                        let start = log.idx.partition_point(|&i| i < checked);
                        if let Some(e) = log.idx[start..]
                            .iter()
                            .filter_map(|&i| g.at(i))
                            .find(|e| pred(e))
                        {
                            return Some(e.seq);
                        }
                    }
                }
                return None;
            }
        }
    }

    /// Copies of the notifications about `chats` recorded at indexes `from..to`, in
    /// recording order (without copying anything else of the run).
    pub fn notifications_about(&self, chats: &[&str], from: usize, to: usize) -> Vec<Event> {
        let g = self.lock();
        g.about(chats, from, to)
            .into_iter()
            .filter_map(|i| g.at(i).cloned())
            .collect()
    }

    /// Copies of the Bayeux sessions' ends ([`BayeuxEvent::Closed`]) recorded at indexes
    /// `from..to`: a case that saw one judges nothing its agent could no longer see.
    pub fn session_ends(&self, from: usize, to: usize) -> Vec<Event> {
        let g = self.lock();
        let a = g.ends.partition_point(|&i| i < from);
        let b = g.ends.partition_point(|&i| i < to);
        g.ends[a..b]
            .iter()
            .filter_map(|&i| g.at(i).cloned())
            .collect()
    }

    /// [`Recorder::notifications_about`], moved out of the record instead of copied, and
    /// the chats retired ([`Recorder::retire`]): for the case that owned them, once it
    /// has ended and nothing else reads them.
    pub fn take_notifications(&self, chats: &[&str], from: usize, to: usize) -> Vec<Event> {
        let mut g = self.lock();
        let base = g.base;
        let out = g
            .about(chats, from, to)
            .into_iter()
            .filter_map(|i| {
                i.checked_sub(base)
                    .and_then(|j| g.events.get_mut(j))
                    .and_then(Option::take)
            })
            .collect();
        g.retire(chats);
        out
    }

    /// The history recorded so far, moved out: the recorder is left empty (for a
    /// recorder nobody records on any more, such as a case's once the case has ended).
    pub fn take(&self) -> History {
        let mut g = self.lock();
        // Indexes stay global: the stored events move below `base` (the kept ones are
        // below it already).
        let n = g.events.len();
        let mut events = std::mem::take(&mut g.kept);
        events.extend(g.events.drain(..).flatten());
        g.base += n;
        History { events }
    }

    /// The history recorded so far.
    pub fn snapshot(&self) -> History {
        let g = self.lock();
        History {
            events: g
                .kept
                .iter()
                .chain(g.events.iter().flatten())
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trips_through_json() {
        let rec = Recorder::new();
        rec.record(
            "runner",
            EventKind::Step {
                index: 0,
                step: Step::AgentPost {
                    chat: ChatRef::Alias("c1".into()),
                    by_other_agent: false,
                    auth: AuthVariant::Normal,
                    body: Body::Json(serde_json::json!({"operationName":"Complete"})),
                },
            },
        );
        rec.record(
            "rest:agent1",
            EventKind::Request {
                req: 1,
                actor: Actor::Agent("agent1".into()),
                method: "POST".into(),
                path: "/api/v2/me/chats/X".into(),
                headers: vec![("Authorization".into(), "Basic c2VjcmV0".into())],
                body: Body::Raw("{".into()),
                part: None,
            },
        );
        let h = rec.snapshot();
        let text = serde_json::to_string(&h).unwrap();
        assert!(!text.contains("c2VjcmV0"), "secret leaked: {text}");
        let back: History = serde_json::from_str(&text).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.events[1].stream_seq, 0);
        assert_eq!(back.events[1].seq, 1);
    }

    #[tokio::test]
    async fn wait_for_wakes_on_a_new_event_and_times_out_otherwise() {
        let rec = Recorder::new();
        let r2 = rec.clone();
        let h = tokio::spawn(async move {
            r2.wait_for(0, Duration::from_secs(5), |e| {
                matches!(e.kind, EventKind::HarnessError { .. })
            })
            .await
        });
        tokio::task::yield_now().await;
        rec.record(
            "runner",
            EventKind::HarnessError {
                message: "x".into(),
            },
        );
        let got = h.await.unwrap();
        assert!(got.is_some());
        let none = rec.wait_for(1, Duration::from_millis(20), |_| true).await;
        assert!(none.is_none());
    }

    #[tokio::test]
    async fn a_chat_waiter_sees_only_its_chat() {
        use serde_json::json;
        let rec = Recorder::new();
        let note = |id: &str| EventKind::Notification {
            agent: "a".into(),
            channel: "/v2/me/chats".into(),
            data: json!({"chat": {"id": id}}),
        };
        rec.record("bayeux:a", note("other"));
        let none = rec
            .wait_for_chats(&["mine"], 0, Duration::from_millis(20), |_| true)
            .await;
        assert!(none.is_none());
        let r2 = rec.clone();
        let h = tokio::spawn(async move {
            r2.wait_for_chats(&["mine"], 0, Duration::from_secs(5), |_| true)
                .await
        });
        tokio::task::yield_now().await;
        rec.record("bayeux:a", note("mine"));
        let got = h.await.unwrap().expect("woken by its chat");
        assert_eq!(got, 1);
        let about = rec.notifications_about(&["mine", "other"], 0, 2);
        assert_eq!(about.len(), 2);
        assert!(rec.notifications_about(&["mine"], 0, 1).is_empty());
    }

    #[tokio::test]
    async fn a_trimmed_record_keeps_global_indexes_and_forgets_retired_chats() {
        use serde_json::json;
        let rec = Recorder::new();
        let note = |id: &str| EventKind::Notification {
            agent: "a".into(),
            channel: "/v2/me/chats".into(),
            data: json!({"chat": {"id": id}}),
        };
        for _ in 0..3 {
            rec.record("bayeux:a", note("done"));
            rec.record("bayeux:a", note("stray"));
        }
        rec.record("bayeux:a", note("live"));
        assert_eq!(rec.len(), 7);
        rec.retire(&["done"]);
        // A batch larger than what can go: nothing is trimmed yet.
        rec.trim(6, 100, |_| true);
        assert_eq!(rec.stored(), 7);
        // Keep the strays, drop the rest below 6; "done" is retired, so it goes too.
        rec.trim(6, 1, |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["chat"]["id"] == "stray"));
        assert_eq!(rec.len(), 7, "indexes stay global");
        assert_eq!(rec.stored(), 4);
        let snap = rec.snapshot();
        let ids: Vec<&str> = snap
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Notification { data, .. } => data["chat"]["id"].as_str(),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["stray", "stray", "stray", "live"]);
        // A retired chat's later notifications are not stored; the counter still counts.
        rec.record("bayeux:a", note("done"));
        assert_eq!(rec.len(), 7);
        assert_eq!(rec.notification_count(), 8);
        // Waiters and lookups still work by global index after the trim.
        let got = rec
            .wait_for_chats(&["live"], 6, Duration::from_millis(20), |_| true)
            .await
            .expect("the live chat's notification is above the floor");
        assert_eq!(got, 6);
        assert_eq!(rec.notifications_about(&["live"], 0, 7).len(), 1);
        assert!(rec.events_since(6).len() == 1);
        // Taking the record moves what is stored (kept ones first) and keeps indexes
        // global.
        let taken = rec.take();
        assert_eq!(taken.events.len(), 4);
        assert_eq!(rec.len(), 7);
        assert_eq!(rec.stored(), 0);
        assert_eq!(rec.record("runner", note("next")), 7);
    }

    #[tokio::test]
    async fn notifications_taken_for_a_case_leave_the_record_and_session_ends_are_found() {
        use serde_json::json;
        let rec = Recorder::new();
        let note = |id: &str| EventKind::Notification {
            agent: "a".into(),
            channel: "/v2/me/chats".into(),
            data: json!({"chat": {"id": id}}),
        };
        rec.record("bayeux:a", note("c1")); // 0
        rec.record("bayeux:a", note("other")); // 1
        rec.record(
            "bayeux:a",
            EventKind::Bayeux {
                agent: "a".into(),
                event: BayeuxEvent::Closed {
                    reason: "advised none".into(),
                },
            },
        ); // 2
        rec.record("bayeux:a", note("c1")); // 3
        let taken = rec.take_notifications(&["c1"], 0, 4);
        assert_eq!(taken.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 3]);
        // Moved, not copied: the record no longer holds them, and indexes stay global.
        assert_eq!(rec.len(), 4);
        assert_eq!(rec.stored(), 2);
        assert!(rec.notifications_about(&["c1"], 0, 4).is_empty());
        // c1 is retired: a later notification about it is not stored.
        rec.record("bayeux:a", note("c1"));
        assert_eq!(rec.stored(), 2);
        // The session's end is found in range only.
        assert_eq!(rec.session_ends(0, 4).len(), 1);
        assert_eq!(rec.session_ends(0, 2).len(), 0);
        assert_eq!(rec.session_ends(3, 4).len(), 0);
        // A tag watch sees only the notifications carrying its tag, recorded after it.
        rec.record(
            "bayeux:a",
            EventKind::Notification {
                agent: "a".into(),
                channel: "/v2/me/chats".into(),
                data: json!({"chat": {"id": "t0", "userData": {TAG_KEY: "early"}}}),
            },
        );
        let w = rec.watch_tag("mine");
        let tagged = |id: &str, tag: &str| EventKind::Notification {
            agent: "a".into(),
            channel: "/v2/me/chats".into(),
            data: json!({"chat": {"id": id, "userData": {TAG_KEY: tag}}}),
        };
        rec.record("bayeux:a", tagged("t1", "theirs"));
        rec.record("bayeux:a", tagged("t2", "mine"));
        let got = w
            .wait(Duration::from_millis(50), |e| Some(e.clone()))
            .await
            .expect("the tagged notification");
        assert_eq!(got.kind, tagged("t2", "mine"));
        assert!(
            w.wait(Duration::from_millis(20), |e| (e.seq > got.seq)
                .then_some(()))
                .await
                .is_none()
        );
        drop(w);
        assert!(
            rec.lock().by_tag.is_empty(),
            "a dropped watch routes nothing any more"
        );
    }
}
