//! The server's shared state: agents, sessions, chats (agent side), interactions
//! (customer side), Bayeux clients and their queues, ids, and housekeeping. The rules live
//! in one file per surface (`agent`, `bayeux`, `customer`, `provider`) plus the chat life
//! cycle shared by them (`chats`), each an `impl Core` block. Everything is synchronous
//! and runs under one lock (`Shared::core`), so a state change and the notifications it
//! causes are published atomically and in causal order.
//!
//! Decisions where SPEC is silent (facts sheet §1.2, §4, [INF]):
//! - statusCode errors are answered with HTTP 200 (SPEC §6.3 allows 200 or 4xx); only
//!   transport-level refusals use 4xx (401, 403 CSRF, 400 non-JSON, 413 too large).
//! - missing operationName → 1; operationName not a string → 10; unknown operationName
//!   → 2; required parameter missing → 1; messageType/treatAs without text → 1; treatAs
//!   outside Normal/System → 10; wrongly typed values or empty queueName → 10; operation
//!   not valid in the chat's state → 2; unknown chat or another agent's chat → 6.
//! - Chat existence is checked first, then parameters, then the state.
//! - `saveLAR` on Accept is validated (boolean) but records nothing; only Complete's
//!   `saveLAR: true` records the last agent (SPEC §1.2).
//! - Ready does not require StartContactCenterSession first (lenient).
//! - `GET /api/v2/chats/{id}/messages?index=N` returns the messages with index >= N.
//! - SendMessage on a full transcript (`MAX_TRANSCRIPT`, `MAX_TRANSCRIPT_BYTES`) → 13.

// `Reply` is a short-lived answer built once per request; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::TranscriptForm;
use super::faults::Fault;

/// Completed chats and ended interactions are kept this long, then dropped.
pub(crate) const RETENTION: Duration = Duration::from_secs(60);
/// At most this many completed chats are retained (oldest dropped first).
pub(crate) const MAX_RETAINED_COMPLETED: usize = 10_000;
/// Messages one interaction's transcript holds; beyond it (or beyond
/// [`MAX_TRANSCRIPT_BYTES`] of text) SendMessage (agent, customer or provider-state) is
/// refused (statusCode 13), so a flood of messages cannot grow it without bound. The other
/// entries (joins, leaves, a Complete's or Leave's text) are bounded by the chat's life
/// cycle. Above [`MAX_CLIENT_QUEUE`], so one chat can still overflow a Bayeux queue.
pub(crate) const MAX_TRANSCRIPT: usize = 10_000;
/// Text bytes one interaction's transcript holds (see [`MAX_TRANSCRIPT`]).
pub(crate) const MAX_TRANSCRIPT_BYTES: usize = 4 * 1024 * 1024;
/// Sessions per agent; the least recently used is dropped beyond it.
pub(crate) const MAX_SESSIONS_PER_AGENT: usize = 256;
/// Bayeux clients per agent; the least recently seen idle one is dropped beyond it (a
/// client with a long-poll in progress is never dropped for this).
pub(crate) const MAX_CLIENTS_PER_AGENT: usize = 128;
/// Messages queued for one Bayeux client; beyond it the client is dropped (it must
/// handshake again).
pub(crate) const MAX_CLIENT_QUEUE: usize = 4_096;

/// The chat channel of the agent notifications.
pub(crate) const CHATS_CHANNEL: &str = "/v2/me/chats";

/// Parsed Complete parameters: queueName, saveLAR, text, messageType.
pub(super) type CompleteParams = (Option<String>, bool, Option<String>, Option<String>);

/// Configuration the core needs (its `Debug` hides the passwords).
#[derive(Clone)]
pub(crate) struct CoreCfg {
    pub agents: Vec<(String, String)>,
    pub csrf: bool,
    pub fault: Option<Fault>,
    pub contact_center_id: String,
    pub bayeux_timeout_ms: u64,
    pub bayeux_max_interval_ms: u64,
    pub base_url: String,
    /// Open chats per agent at most (`None`: unlimited).
    pub capacity: Option<usize>,
    /// Delay of every HTTP answer.
    pub latency: Duration,
    /// The customer's typing interval (`None`: never types).
    pub typing: Option<Duration>,
    /// The form of `customerTranscript` entries.
    pub transcript_form: TranscriptForm,
    /// Time allowed for a request head.
    pub head_read_timeout: Duration,
    /// Connections open at once at most.
    pub max_connections: usize,
    /// Largest serialized userData.
    pub max_user_data_bytes: usize,
    /// Interactions held at most.
    pub max_customer_chats: usize,
    /// Bytes (transcript text + userData) held for interactions at most.
    pub max_customer_bytes: usize,
    /// Most bytes of notifications in one `/meta/connect` answer.
    pub max_connect_bytes: usize,
    /// The legitimate variations switched on.
    pub variations: super::Variations,
}

impl std::fmt::Debug for CoreCfg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.agents.iter().map(|a| a.0.as_str()).collect();
        f.debug_struct("CoreCfg")
            .field("agents", &users)
            .field("csrf", &self.csrf)
            .field("fault", &self.fault)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A deferred notification (used by the `complete-status-late` fault).
#[derive(Debug)]
pub(crate) struct Deferred {
    pub delay_ms: u64,
    pub agent: usize,
    pub data: Value,
}

/// What a handler answers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    /// A new session cookie value to set.
    pub set_cookie: Option<String>,
    /// The CSRF token to announce (GET answers of the agent API).
    pub csrf_token: Option<String>,
    pub deferred: Vec<Deferred>,
    /// Interactions to route again after [`REOFFER_DELAY_MS`] (`reoffer-rejected`).
    ///
    /// [`REOFFER_DELAY_MS`]: super::variations::REOFFER_DELAY_MS
    pub requeue: Vec<String>,
    /// The methods the resource allows (the `Allow` header of a 405, RFC 9110 §15.5.6).
    pub allow: Option<&'static str>,
}

impl Reply {
    pub(crate) fn new(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            set_cookie: None,
            csrf_token: None,
            deferred: Vec::new(),
            requeue: Vec::new(),
            allow: None,
        }
    }

    /// A 405 naming the methods `allow`ed (RFC 9110: a 405 carries `Allow`).
    pub(crate) fn method_not_allowed(allow: &'static str, body: Value) -> Reply {
        Reply {
            allow: Some(allow),
            ..Reply::new(405, body)
        }
    }
}

/// A request body as the HTTP layer read it.
#[derive(Debug)]
pub(crate) enum BodyIn {
    Empty,
    Json(Value),
    Invalid(String),
    TooLarge,
}

/// The request facts the agent API needs.
#[derive(Debug)]
pub(crate) struct AgentReq<'a> {
    pub method: &'a str,
    /// Path segments after `/api/v2/me` (e.g. `["chats", "ID"]`).
    pub rest: Vec<&'a str>,
    pub authorization: Option<&'a str>,
    pub session: Option<&'a str>,
    pub csrf: Option<&'a str>,
    pub body: BodyIn,
    /// Whether two or more Completes are in flight (for one fault).
    pub concurrent_completes: bool,
    /// The chat's state as a Complete read it before an await (`double-complete-race`
    /// fault only: the Complete then acts on this stale read).
    pub stale_state: Option<ChatState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChatState {
    Invited,
    Chatting,
    LeftChat,
    Completed,
}

impl ChatState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ChatState::Invited => "Invited",
            ChatState::Chatting => "Chatting",
            ChatState::LeftChat => "LeftChat",
            ChatState::Completed => "Completed",
        }
    }
    pub(super) fn capabilities(self) -> &'static [&'static str] {
        match self {
            ChatState::Invited => &["Accept", "Reject"],
            ChatState::Chatting => &["Complete", "Leave", "SendMessage"],
            ChatState::LeftChat => &["Complete"],
            ChatState::Completed => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CustState {
    WaitingForAgent,
    Chatting,
    Idle,
}

impl CustState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CustState::WaitingForAgent => "WaitingForAgent",
            CustState::Chatting => "Chatting",
            CustState::Idle => "Idle",
        }
    }
}

/// A secret value (password, CSRF token) whose `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Secret(pub(super) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
pub(super) struct Agent {
    pub(super) user: String,
    pub(super) password: Secret,
    pub(super) id: String,
    pub(super) ready: bool,
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) agent: usize,
    pub(super) csrf: Secret,
    pub(super) last_used: Instant,
}

#[derive(Debug)]
pub(super) struct Client {
    pub(super) agent: usize,
    pub(super) subs: HashSet<String>,
    pub(super) queue: VecDeque<Value>,
    pub(super) last_seen: Instant,
    pub(super) polling: u32,
    pub(super) notify: Arc<Notify>,
    /// Notifications delivered to it so far.
    pub(super) delivered: u64,
    /// The session cookie of its last `/meta/connect` (`multiple-clients`).
    pub(super) session: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub(super) index: u64,
    pub(super) kind: &'static str,
    pub(super) nickname: String,
    pub(super) from_type: &'static str,
    pub(super) participant_id: String,
    pub(super) text: Option<String>,
    pub(super) message_type: Option<String>,
    pub(super) timestamp: String,
}

#[derive(Debug)]
pub(super) struct AgentChat {
    pub(super) agent: usize,
    pub(super) inter: String,
    pub(super) state: ChatState,
    pub(super) nickname: String,
    pub(super) participant_id: String,
    pub(super) completed_at: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct Inter {
    pub(super) nickname: String,
    pub(super) subject: String,
    pub(super) user_data: Value,
    pub(super) state: CustState,
    pub(super) transcript: Vec<Msg>,
    pub(super) agent_chat: Option<String>,
    pub(super) rejected: Vec<usize>,
    pub(super) queue: Option<String>,
    pub(super) last_agent: Option<String>,
    pub(super) customer_pid: String,
    pub(super) ended_at: Option<Instant>,
    /// Bytes of message text in `transcript`.
    pub(super) text_bytes: usize,
    /// Whether the customer is typing (the `typing` simulation).
    pub(super) typing: bool,
    /// Serialized size of `user_data`.
    pub(super) user_data_bytes: usize,
}

/// The whole server state.
pub(crate) struct Core {
    pub(super) cfg: CoreCfg,
    pub(super) agents: Vec<Agent>,
    pub(super) sessions: HashMap<String, Session>,
    pub(super) clients: HashMap<String, Client>,
    pub(super) chats: HashMap<String, AgentChat>,
    pub(super) inters: HashMap<String, Inter>,
    pub(super) waiting: VecDeque<String>,
    pub(super) completed: VecDeque<(Instant, String)>,
    pub(super) rr: usize,
    pub(super) next_ref: u64,
    pub(super) counter: u64,
    pub(super) seed: u64,
    pub(super) hasher: std::collections::hash_map::RandomState,
}

/// Result of starting a long-poll.
pub(crate) enum ConnectStart {
    /// Messages ready now (or a failure reply).
    Now(Vec<Value>),
    /// Wait on this, then call [`Core::connect_finish`].
    Wait(Arc<Notify>),
}

pub(super) fn obj_err(code: u32, msg: &str) -> Value {
    json!({"statusCode": code, "statusMessage": msg})
}

pub(super) fn is_json_object(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

/// Formats a time as `yyyy-MM-dd HH:mm:ss.SSS+0000` (facts §2.3).
pub(crate) fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let ms = d.subsec_millis();
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{ms:03}+0000",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The splitmix64 finaliser: a bijection on u64, so distinct inputs give distinct ids.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Core {
    pub(crate) fn new(cfg: CoreCfg) -> Core {
        let hasher = std::collections::hash_map::RandomState::new();
        let mut h = hasher.build_hasher();
        h.write_u64(0x5eed);
        let seed = h.finish();
        let agents = cfg
            .agents
            .iter()
            .enumerate()
            .map(|(i, (u, p))| Agent {
                user: u.clone(),
                password: Secret(p.clone()),
                id: format!("agent-{:04}", i + 1),
                ready: false,
            })
            .collect();
        Core {
            cfg,
            agents,
            sessions: HashMap::new(),
            clients: HashMap::new(),
            chats: HashMap::new(),
            inters: HashMap::new(),
            waiting: VecDeque::new(),
            completed: VecDeque::new(),
            rr: 0,
            next_ref: 1,
            counter: 0,
            seed,
            hasher,
        }
    }

    pub(super) fn var(&self, v: super::variations::Variation) -> bool {
        self.cfg.variations.has(v)
    }

    pub(super) fn fault(&self, f: Fault) -> bool {
        self.cfg.fault == Some(f)
    }

    /// A 16-character id like `0000Na9B26EF002X`, unique per server (bijective in the
    /// counter); `salt` separates the agent-side and customer-side id spaces.
    pub(super) fn new_id(&mut self, salt: u64) -> String {
        self.counter += 1;
        let mut v = mix(self.counter ^ self.seed.rotate_left(17) ^ salt);
        let mut s = [b'0'; 16];
        for slot in s[4..].iter_mut().rev() {
            *slot = B62[(v % 62) as usize];
            v /= 62;
        }
        // 62^12 > 2^64: no information is lost.
        String::from_utf8_lossy(&s).into_owned()
    }

    /// A random-looking token (session, CSRF, clientId). Keyed by the process's
    /// `RandomState` (OS randomness); this is a test server, not a security product.
    pub(super) fn token(&mut self) -> String {
        self.counter += 1;
        let mut h = self.hasher.build_hasher();
        h.write_u64(self.counter);
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        format!("{a:016x}{b:016x}")
    }

    pub(super) fn next_reference(&mut self) -> u64 {
        let r = self.next_ref;
        self.next_ref += 1;
        r
    }

    /// The referenceId put in notifications for an operation answered with `r`.
    pub(super) fn notif_ref(&self, r: u64) -> u64 {
        if self.fault(Fault::ReferenceIdMismatch) {
            r + 1
        } else {
            r
        }
    }

    /// An error reply whose body is exactly statusCode + statusMessage (unless the
    /// `error-body-extra-field` fault is on).
    pub(super) fn err(&self, code: u32, msg: &str) -> Reply {
        let mut body = obj_err(code, msg);
        if self.fault(Fault::ErrorBodyExtraField) {
            body["chatId"] = Value::Null;
        }
        Reply::new(200, body)
    }

    // ---------------------------------------------------------------- housekeeping

    /// Drops expired Bayeux clients and old completed chats / ended interactions.
    pub(crate) fn sweep(&mut self, now: Instant) {
        let max = Duration::from_millis(self.cfg.bayeux_max_interval_ms);
        self.clients.retain(|_, c| {
            let keep = c.polling > 0 || now.duration_since(c.last_seen) <= max;
            if !keep {
                c.notify.notify_one();
            }
            keep
        });
        while let Some((t, id)) = self.completed.front().cloned() {
            let old =
                now.duration_since(t) > RETENTION || self.completed.len() > MAX_RETAINED_COMPLETED;
            if !old {
                break;
            }
            self.completed.pop_front();
            if let Some(c) = self.chats.get(&id)
                && c.state == ChatState::Completed
            {
                self.chats.remove(&id);
            }
        }
        let chats = &self.chats;
        self.inters.retain(|_, i| {
            let live_chat = i.agent_chat.as_ref().is_some_and(|c| {
                chats
                    .get(c)
                    .is_some_and(|c| c.state != ChatState::Completed)
            });
            let expired = i
                .ended_at
                .is_some_and(|t| now.duration_since(t) > RETENTION);
            live_chat || !expired
        });
        let valid = |inter: &String| self.inters.contains_key(inter);
        let dead: Vec<String> = self
            .chats
            .iter()
            .filter(|(_, c)| !valid(&c.inter) && c.state == ChatState::Completed)
            .map(|(k, _)| k.clone())
            .collect();
        for k in dead {
            self.chats.remove(&k);
        }
        let sessions_max = Duration::from_secs(3600);
        self.sessions
            .retain(|_, s| now.duration_since(s.last_used) <= sessions_max);
    }

    /// Counts (chats, interactions, clients, sessions), for tests and the benchmark.
    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.chats.len(),
            self.inters.len(),
            self.clients.len(),
            self.sessions.len(),
        )
    }
}
