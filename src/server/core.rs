//! The server's state and its rules: agents, sessions, chats (agent side), interactions
//! (customer side), routing, Bayeux clients and their queues. Everything here is
//! synchronous and runs under one lock (`Shared::core`), so a state change and the
//! notifications it causes are published atomically and in causal order.
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

use super::faults::{Fault, LATE_DELAY_MS};

/// Completed chats and ended interactions are kept this long, then dropped.
pub(crate) const RETENTION: Duration = Duration::from_secs(60);
/// At most this many completed chats are retained (oldest dropped first).
pub(crate) const MAX_RETAINED_COMPLETED: usize = 10_000;
/// At most this many live interactions (customer side); more answers statusCode 13.
pub(crate) const MAX_INTERACTIONS: usize = 50_000;
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
type CompleteParams = (Option<String>, bool, Option<String>, Option<String>);

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
}

impl Reply {
    pub(crate) fn new(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            set_cookie: None,
            csrf_token: None,
            deferred: Vec::new(),
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChatState {
    Invited,
    Chatting,
    LeftChat,
    Completed,
}

impl ChatState {
    fn as_str(self) -> &'static str {
        match self {
            ChatState::Invited => "Invited",
            ChatState::Chatting => "Chatting",
            ChatState::LeftChat => "LeftChat",
            ChatState::Completed => "Completed",
        }
    }
    fn capabilities(self) -> &'static [&'static str] {
        match self {
            ChatState::Invited => &["Accept", "Reject"],
            ChatState::Chatting => &["Complete", "Leave", "SendMessage"],
            ChatState::LeftChat => &["Complete"],
            ChatState::Completed => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CustState {
    WaitingForAgent,
    Chatting,
    Idle,
}

impl CustState {
    fn as_str(self) -> &'static str {
        match self {
            CustState::WaitingForAgent => "WaitingForAgent",
            CustState::Chatting => "Chatting",
            CustState::Idle => "Idle",
        }
    }
}

/// A secret value (password, CSRF token) whose `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
struct Agent {
    user: String,
    password: Secret,
    id: String,
    ready: bool,
}

#[derive(Debug)]
struct Session {
    agent: usize,
    csrf: Secret,
    last_used: Instant,
}

#[derive(Debug)]
struct Client {
    agent: usize,
    subs: HashSet<String>,
    queue: VecDeque<Value>,
    last_seen: Instant,
    polling: u32,
    notify: Arc<Notify>,
}

#[derive(Debug, Clone)]
struct Msg {
    index: u64,
    kind: &'static str,
    nickname: String,
    from_type: &'static str,
    participant_id: String,
    text: Option<String>,
    message_type: Option<String>,
    timestamp: String,
}

#[derive(Debug)]
struct AgentChat {
    agent: usize,
    inter: String,
    state: ChatState,
    nickname: String,
    participant_id: String,
    completed_at: Option<Instant>,
}

#[derive(Debug)]
struct Inter {
    nickname: String,
    subject: String,
    user_data: Value,
    state: CustState,
    transcript: Vec<Msg>,
    agent_chat: Option<String>,
    rejected: Vec<usize>,
    queue: Option<String>,
    last_agent: Option<String>,
    customer_pid: String,
    ended_at: Option<Instant>,
    /// Bytes of message text in `transcript`.
    text_bytes: usize,
}

/// The whole server state.
pub(crate) struct Core {
    cfg: CoreCfg,
    agents: Vec<Agent>,
    sessions: HashMap<String, Session>,
    clients: HashMap<String, Client>,
    chats: HashMap<String, AgentChat>,
    inters: HashMap<String, Inter>,
    waiting: VecDeque<String>,
    completed: VecDeque<(Instant, String)>,
    rr: usize,
    next_ref: u64,
    counter: u64,
    seed: u64,
    hasher: std::collections::hash_map::RandomState,
}

/// Result of starting a long-poll.
pub(crate) enum ConnectStart {
    /// Messages ready now (or a failure reply).
    Now(Vec<Value>),
    /// Wait on this, then call [`Core::connect_finish`].
    Wait(Arc<Notify>),
}

fn obj_err(code: u32, msg: &str) -> Value {
    json!({"statusCode": code, "statusMessage": msg})
}

fn is_json_object(v: &Value) -> Option<&Map<String, Value>> {
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
fn mix(mut z: u64) -> u64 {
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

    fn fault(&self, f: Fault) -> bool {
        self.cfg.fault == Some(f)
    }

    /// A 16-character id like `0000Na9B26EF002X`, unique per server (bijective in the
    /// counter); `salt` separates the agent-side and customer-side id spaces.
    fn new_id(&mut self, salt: u64) -> String {
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
    fn token(&mut self) -> String {
        self.counter += 1;
        let mut h = self.hasher.build_hasher();
        h.write_u64(self.counter);
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        format!("{a:016x}{b:016x}")
    }

    fn next_reference(&mut self) -> u64 {
        let r = self.next_ref;
        self.next_ref += 1;
        r
    }

    /// The referenceId put in notifications for an operation answered with `r`.
    fn notif_ref(&self, r: u64) -> u64 {
        if self.fault(Fault::ReferenceIdMismatch) {
            r + 1
        } else {
            r
        }
    }

    /// An error reply whose body is exactly statusCode + statusMessage (unless the
    /// `error-body-extra-field` fault is on).
    fn err(&self, code: u32, msg: &str) -> Reply {
        let mut body = obj_err(code, msg);
        if self.fault(Fault::ErrorBodyExtraField) {
            body["chatId"] = Value::Null;
        }
        Reply::new(200, body)
    }

    // ---------------------------------------------------------------- sessions & auth

    fn decode_basic(&self, authorization: Option<&str>) -> Option<usize> {
        use base64::Engine;
        let v = authorization?.trim();
        let (scheme, rest) = v.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        self.agents
            .iter()
            .position(|a| a.user == u && a.password.0 == p)
    }

    fn unauthenticated() -> Reply {
        Reply::new(
            401,
            obj_err(
                20,
                "Access denied: valid Basic credentials are required on every request",
            ),
        )
    }

    /// Authenticates a request: Basic auth is required (a cookie alone is not enough,
    /// SPEC §6.2). Returns the agent, its session token and whether the session is new.
    fn authenticate(
        &mut self,
        authorization: Option<&str>,
        session: Option<&str>,
    ) -> Result<(usize, String, bool), Reply> {
        let now = Instant::now();
        let agent = match self.decode_basic(authorization) {
            Some(a) => a,
            None => {
                if !self.fault(Fault::CredentialsNotRequired) || authorization.is_some() {
                    return Err(Self::unauthenticated());
                }
                // Fault: the cookie alone identifies the agent; no cookie → first agent.
                match session.and_then(|s| self.sessions.get(s)) {
                    Some(s) => s.agent,
                    None if !self.agents.is_empty() => 0,
                    None => return Err(Self::unauthenticated()),
                }
            }
        };
        if let Some(tok) = session
            && let Some(s) = self.sessions.get_mut(tok)
            && s.agent == agent
        {
            s.last_used = now;
            return Ok((agent, tok.to_string(), false));
        }
        let tok = self.token();
        let csrf = Secret(self.token());
        self.sessions.insert(
            tok.clone(),
            Session {
                agent,
                csrf,
                last_used: now,
            },
        );
        // Bound the sessions of one agent.
        let mut mine: Vec<(Instant, String)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.agent == agent)
            .map(|(k, s)| (s.last_used, k.clone()))
            .collect();
        if mine.len() > MAX_SESSIONS_PER_AGENT {
            mine.sort();
            let excess = mine.len() - MAX_SESSIONS_PER_AGENT;
            for (_, k) in mine.into_iter().take(excess) {
                if k != tok {
                    self.sessions.remove(&k);
                }
            }
        }
        Ok((agent, tok, true))
    }

    // ---------------------------------------------------------------- agent API

    /// Serves the agent REST API (`/api/v2/me…`).
    pub(crate) fn agent_api(&mut self, req: AgentReq<'_>) -> Reply {
        let (agent, tok, new_session) = match self.authenticate(req.authorization, req.session) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let csrf = self.sessions.get(&tok).map(|s| s.csrf.0.clone());
        let mut reply = self.agent_api_inner(agent, &tok, &req, csrf.as_deref());
        if new_session {
            reply.set_cookie = Some(tok);
        }
        if self.cfg.csrf && req.method == "GET" {
            reply.csrf_token = csrf;
        }
        reply
    }

    fn agent_api_inner(
        &mut self,
        agent: usize,
        _tok: &str,
        req: &AgentReq<'_>,
        csrf: Option<&str>,
    ) -> Reply {
        let m = req.method;
        if matches!(m, "POST" | "PUT" | "DELETE")
            && self.cfg.csrf
            && !self.fault(Fault::CsrfNotEnforced)
            && (csrf.is_none() || req.csrf != csrf)
        {
            return Reply::new(403, obj_err(3, "Missing or invalid Csrf token"));
        }
        let rest = req.rest.as_slice();
        match (m, rest) {
            ("GET", []) => Reply::new(200, json!({"statusCode": 0, "user": self.user_json(agent)})),
            ("GET", ["chats"]) => {
                let mut chats: Vec<(&String, &AgentChat)> = self
                    .chats
                    .iter()
                    .filter(|(_, c)| c.agent == agent && c.state != ChatState::Completed)
                    .collect();
                chats.sort_by(|a, b| a.0.cmp(b.0));
                let list: Vec<Value> = chats.iter().map(|(id, c)| self.chat_json(id, c)).collect();
                Reply::new(200, json!({"statusCode": 0, "chats": list}))
            }
            ("GET", ["chats", id]) => match self.chats.get(*id) {
                Some(c) if c.agent == agent && c.state != ChatState::Completed => {
                    Reply::new(200, json!({"statusCode": 0, "chat": self.chat_json(id, c)}))
                }
                _ => self.err(6, "Chat not found"),
            },
            ("POST", []) | ("POST", ["channels", "chat"]) | ("POST", ["chats", _]) => {
                let body = match &req.body {
                    BodyIn::Json(v) => v,
                    BodyIn::Empty => return self.err(1, "Missing request body with operationName"),
                    BodyIn::Invalid(e) => {
                        if self.fault(Fault::NonJson500) {
                            return Reply::new(
                                500,
                                json!({"statusCode": 4, "statusMessage": "Internal error"}),
                            );
                        }
                        return Reply::new(
                            400,
                            obj_err(2, &format!("Request body is not valid JSON: {e}")),
                        );
                    }
                    BodyIn::TooLarge => {
                        return Reply::new(413, obj_err(10, "Request body larger than 64 KiB"));
                    }
                };
                let Some(b) = is_json_object(body) else {
                    return self.err(1, "Request body must be a JSON object with operationName");
                };
                let op = match b.get("operationName") {
                    None | Some(Value::Null) => {
                        return self.err(1, "Missing parameter operationName");
                    }
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => return self.err(10, "operationName must be a string"),
                };
                match rest {
                    [] => self.me_op(&op, b),
                    ["channels", _] => self.channel_op(agent, &op),
                    [_, id] => self.chat_op(agent, id, &op, b, req.concurrent_completes),
                    _ => self.err(6, "Resource not found"),
                }
            }
            (_, [] | ["channels", "chat"] | ["chats"] | ["chats", _]) => {
                Reply::new(405, obj_err(3, &format!("Method {m} not allowed here")))
            }
            _ => Reply::new(404, obj_err(6, "Resource not found")),
        }
    }

    fn unknown_op(&self, op: &str) -> Reply {
        if self.fault(Fault::UnknownOperationStatus4) {
            return self.err(4, &format!("Internal error processing {op}"));
        }
        self.err(2, &format!("Unknown or unsupported operationName {op:?}"))
    }

    fn user_json(&self, agent: usize) -> Value {
        let a = &self.agents[agent];
        json!({
            "id": a.id, "userName": a.user, "firstName": a.user, "lastName": "Conform",
            "roles": ["ROLE_AGENT"], "enabled": true, "changePasswordOnFirstLogin": false,
            "uri": format!("{}/api/v2/users/{}", self.cfg.base_url, a.id),
            "path": format!("/users/{}", a.id),
        })
    }

    fn me_op(&mut self, op: &str, b: &Map<String, Value>) -> Reply {
        match op {
            "StartContactCenterSession" | "EndContactCenterSession" => {
                if let Some(ch) = b.get("channels")
                    && !ch
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string))
                {
                    return self.err(10, "channels must be an array of strings");
                }
                Reply::new(200, json!({"statusCode": 0}))
            }
            _ => self.unknown_op(op),
        }
    }

    fn channel_op(&mut self, agent: usize, op: &str) -> Reply {
        match op {
            "Ready" => {
                self.agents[agent].ready = true;
                self.dispatch();
                Reply::new(200, json!({"statusCode": 0}))
            }
            "NotReady" => {
                self.agents[agent].ready = false;
                Reply::new(200, json!({"statusCode": 0}))
            }
            _ => self.unknown_op(op),
        }
    }

    /// Validates `text`/`messageType`/`treatAs`. `complete` enables the Complete faults.
    fn text_params(
        &self,
        b: &Map<String, Value>,
        text_required: bool,
        complete: bool,
    ) -> Result<(Option<String>, Option<String>), Reply> {
        let lax_types = complete && self.fault(Fault::WrongTypesAccepted);
        let text = match b.get("text") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) if lax_types => Some(v.to_string()),
            Some(_) => return Err(self.err(10, "text must be a string")),
        };
        if text_required && text.is_none() {
            return Err(self.err(1, "Missing parameter text"));
        }
        let mt = match b.get("messageType") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(self.err(10, "messageType must be a string")),
        };
        let treat = match b.get("treatAs") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(self.err(10, "treatAs must be a string")),
        };
        if text.is_none()
            && (mt.is_some() || treat.is_some())
            && !(complete && self.fault(Fault::MessageTypeWithoutTextAccepted))
        {
            return Err(self.err(
                1,
                "messageType and treatAs are only allowed together with text",
            ));
        }
        if let Some(t) = &treat
            && t != "Normal"
            && t != "System"
            && !(complete && self.fault(Fault::BadTreatAsAccepted))
        {
            return Err(self.err(10, "treatAs must be Normal or System"));
        }
        Ok((text, mt))
    }

    fn chat_op(
        &mut self,
        agent: usize,
        id: &str,
        op: &str,
        b: &Map<String, Value>,
        concurrent: bool,
    ) -> Reply {
        let known = ["Accept", "Reject", "SendMessage", "Leave", "Complete"];
        if !known.contains(&op) {
            return self.unknown_op(op);
        }
        let owner_ok = |c: &AgentChat| {
            c.agent == agent || (op == "Complete" && self.fault(Fault::OtherAgentChatCompletable))
        };
        let state = match self.chats.get(id) {
            Some(c) if owner_ok(c) => c.state,
            _ => {
                if self.fault(Fault::UnknownIdStatus2) {
                    return self.err(2, "Chat not valid for this operation");
                }
                return self.err(6, "Chat not found");
            }
        };
        match op {
            "Accept" => {
                let nickname = match b.get("nickname") {
                    None => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return self.err(10, "nickname must be a string"),
                };
                if let Some(v) = b.get("saveLAR")
                    && !v.is_boolean()
                {
                    return self.err(10, "saveLAR must be a boolean");
                }
                if state != ChatState::Invited {
                    return self.err(
                        2,
                        &format!("Accept is not valid in state {}", state.as_str()),
                    );
                }
                self.accept(id, nickname)
            }
            "Reject" => {
                if state != ChatState::Invited {
                    return self.err(2, "Reject is only valid for an Invited chat");
                }
                self.reject(id)
            }
            "SendMessage" | "Leave" => {
                let send = op == "SendMessage";
                let (text, mt) = match self.text_params(b, send, false) {
                    Ok(x) => x,
                    Err(r) => return r,
                };
                if state != ChatState::Chatting {
                    return self.err(2, &format!("{op} is only valid for a Chatting chat"));
                }
                if !send {
                    return self.leave(id, text, mt);
                }
                if self
                    .chats
                    .get(id)
                    .is_some_and(|c| self.transcript_full(&c.inter))
                {
                    return self.err(13, "The chat transcript is full");
                }
                self.send_message(id, text.unwrap_or_default(), mt)
            }
            _ => self.complete_op(id, state, b, concurrent),
        }
    }

    fn complete_op(
        &mut self,
        id: &str,
        state: ChatState,
        b: &Map<String, Value>,
        concurrent: bool,
    ) -> Reply {
        let lax = self.fault(Fault::WrongTypesAccepted);
        let parsed: Result<CompleteParams, Reply> = (|| {
            let queue = match b.get("queueName") {
                None => None,
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::String(s)) if lax => Some(s.clone()),
                Some(v) if lax => Some(v.to_string()),
                Some(_) => return Err(self.err(10, "queueName must be a non-empty string")),
            };
            let save_lar = match b.get("saveLAR") {
                None => false,
                Some(Value::Bool(x)) => *x,
                Some(_) if lax => true,
                Some(_) => return Err(self.err(10, "saveLAR must be a boolean")),
            };
            let (text, mt) = self.text_params(b, false, true)?;
            Ok((queue, save_lar, text, mt))
        })();
        let (queue, save_lar, text, mt) = match parsed {
            Ok(x) => x,
            Err(r) => {
                if self.fault(Fault::RefusedCompleteStillCompletes)
                    && matches!(state, ChatState::Chatting | ChatState::LeftChat)
                {
                    let _ = self.complete(id, None, false, None, None, false);
                }
                return r;
            }
        };
        let allowed = match state {
            ChatState::Chatting => {
                let customer_left = self
                    .chats
                    .get(id)
                    .and_then(|c| self.inters.get(&c.inter))
                    .is_some_and(|i| {
                        i.transcript
                            .iter()
                            .any(|m| m.kind == "ParticipantLeft" && m.from_type == "Customer")
                    });
                !(customer_left && self.fault(Fault::CompleteAfterCustomerLeftRefused))
            }
            ChatState::LeftChat => !self.fault(Fault::LeftChatCompleteRefused),
            ChatState::Invited => self.fault(Fault::CompleteInvitedAccepted),
            ChatState::Completed => self.fault(Fault::SecondCompleteAccepted),
        };
        if !allowed {
            return self.err(
                2,
                &format!(
                    "Complete is not valid for a chat in state {}",
                    state.as_str()
                ),
            );
        }
        self.complete(id, queue, save_lar, text, mt, concurrent)
    }

    // ---------------------------------------------------------------- transitions

    fn push_msg(
        &mut self,
        inter: &str,
        kind: &'static str,
        from: (&str, &'static str, &str),
        text: Option<String>,
        message_type: Option<String>,
    ) -> Option<Msg> {
        let i = self.inters.get_mut(inter)?;
        let m = Msg {
            index: i.transcript.len() as u64 + 1,
            kind,
            nickname: from.0.to_string(),
            from_type: from.1,
            participant_id: from.2.to_string(),
            text,
            message_type,
            timestamp: timestamp(SystemTime::now()),
        };
        i.text_bytes = i
            .text_bytes
            .saturating_add(m.text.as_ref().map_or(0, String::len));
        i.transcript.push(m.clone());
        Some(m)
    }

    fn agent_from(&self, id: &str) -> (String, &'static str, String) {
        let c = &self.chats[id];
        (c.nickname.clone(), "Agent", c.participant_id.clone())
    }

    fn accept(&mut self, id: &str, nickname: Option<String>) -> Reply {
        let r = self.next_reference();
        let nr = self.notif_ref(r);
        let agent = self.chats[id].agent;
        let nick = nickname.unwrap_or_else(|| self.agents[agent].user.clone());
        let inter_id = {
            let c = self.chats.get_mut(id).expect("checked");
            c.state = ChatState::Chatting;
            c.nickname = nick.clone();
            c.inter.clone()
        };
        let pid = self.chats[id].participant_id.clone();
        if let Some(i) = self.inters.get_mut(&inter_id)
            && i.state == CustState::WaitingForAgent
        {
            i.state = CustState::Chatting;
        }
        self.push_msg(
            &inter_id,
            "ParticipantJoined",
            (&nick, "Agent", &pid),
            None,
            None,
        );
        let st = self.status_change(id, "StatusChange", Some(nr));
        self.publish(agent, st);
        let pu = self.status_change(id, "ParticipantsUpdated", Some(nr));
        self.publish(agent, pu);
        let history: Vec<Msg> = self
            .inters
            .get(&inter_id)
            .map(|i| i.transcript.clone())
            .unwrap_or_default();
        let nm = self.new_messages(id, &history, Some(nr));
        self.publish(agent, nm);
        Reply::new(200, json!({"statusCode": 0, "referenceId": r}))
    }

    fn reject(&mut self, id: &str) -> Reply {
        let r = self.next_reference();
        let nr = self.notif_ref(r);
        let (agent, inter_id) = {
            let c = self.chats.get_mut(id).expect("checked");
            c.state = ChatState::Completed;
            c.completed_at = Some(Instant::now());
            (c.agent, c.inter.clone())
        };
        self.completed.push_back((Instant::now(), id.to_string()));
        let st = self.status_change(id, "StatusChange", Some(nr));
        self.publish(agent, st);
        if let Some(i) = self.inters.get_mut(&inter_id) {
            i.rejected.push(agent);
            i.agent_chat = None;
            if i.state != CustState::Idle {
                i.state = CustState::WaitingForAgent;
                self.waiting.push_front(inter_id);
                self.dispatch();
            }
        }
        Reply::new(200, json!({"statusCode": 0, "referenceId": r}))
    }

    fn send_message(&mut self, id: &str, text: String, mt: Option<String>) -> Reply {
        let r = self.next_reference();
        let nr = self.notif_ref(r);
        let (nick, ty, pid) = self.agent_from(id);
        let (agent, inter) = (self.chats[id].agent, self.chats[id].inter.clone());
        if let Some(m) = self.push_msg(&inter, "Text", (&nick, ty, &pid), Some(text), mt) {
            let nm = self.new_messages(id, &[m], Some(nr));
            self.publish(agent, nm);
        }
        Reply::new(200, json!({"statusCode": 0, "referenceId": r}))
    }

    fn leave(&mut self, id: &str, text: Option<String>, mt: Option<String>) -> Reply {
        let r = self.next_reference();
        let nr = self.notif_ref(r);
        let (nick, ty, pid) = self.agent_from(id);
        let (agent, inter) = (self.chats[id].agent, self.chats[id].inter.clone());
        let open = self
            .inters
            .get(&inter)
            .is_some_and(|i| i.state != CustState::Idle);
        if let Some(t) = text
            && let Some(m) = self.push_msg(&inter, "Text", (&nick, ty, &pid), Some(t), mt)
        {
            let nm = self.new_messages(id, &[m], Some(nr));
            self.publish(agent, nm);
        }
        if open {
            self.push_msg(&inter, "ParticipantLeft", (&nick, ty, &pid), None, None);
            self.end_customer(&inter);
        }
        if let Some(c) = self.chats.get_mut(id) {
            c.state = ChatState::LeftChat;
        }
        let st = self.status_change(id, "StatusChange", Some(nr));
        self.publish(agent, st);
        Reply::new(200, json!({"statusCode": 0, "referenceId": r}))
    }

    /// Whether the interaction's transcript is full (see [`MAX_TRANSCRIPT`]).
    fn transcript_full(&self, inter: &str) -> bool {
        self.inters.get(inter).is_some_and(|i| {
            i.transcript.len() >= MAX_TRANSCRIPT || i.text_bytes >= MAX_TRANSCRIPT_BYTES
        })
    }

    fn end_customer(&mut self, inter: &str) {
        if let Some(i) = self.inters.get_mut(inter) {
            i.state = CustState::Idle;
            i.ended_at = Some(Instant::now());
        }
        self.waiting.retain(|w| w != inter);
    }

    fn complete(
        &mut self,
        id: &str,
        queue: Option<String>,
        save_lar: bool,
        text: Option<String>,
        mt: Option<String>,
        concurrent: bool,
    ) -> Reply {
        let r = self.next_reference();
        let nr = self.notif_ref(r);
        let (nick, ty, pid) = self.agent_from(id);
        let (owner, inter) = (self.chats[id].agent, self.chats[id].inter.clone());
        let to = if self.fault(Fault::NotifyWrongAgent) {
            // With a single agent there is no other agent: the notifications go nowhere.
            if self.agents.len() > 1 {
                (owner + 1) % self.agents.len()
            } else {
                usize::MAX
            }
        } else {
            owner
        };
        let current = self
            .inters
            .get(&inter)
            .is_some_and(|i| i.agent_chat.as_deref() == Some(id));
        let open = current
            && self
                .inters
                .get(&inter)
                .is_some_and(|i| i.state != CustState::Idle);
        let mut text_note = None;
        if let Some(t) = text {
            let m = if open && !self.fault(Fault::TranscriptMissingText) {
                self.push_msg(&inter, "Text", (&nick, ty, &pid), Some(t), mt)
            } else {
                // Not delivered to anyone (SPEC §6.4) but still shown to the agent.
                let index = self
                    .inters
                    .get(&inter)
                    .map_or(1, |i| i.transcript.len() as u64 + 1);
                Some(Msg {
                    index,
                    kind: "Text",
                    nickname: nick.clone(),
                    from_type: ty,
                    participant_id: pid.clone(),
                    text: Some(t),
                    message_type: mt,
                    timestamp: timestamp(SystemTime::now()),
                })
            };
            if !self.fault(Fault::CompleteTextNotNotified) {
                text_note = m.map(|m| self.new_messages(id, &[m], Some(nr)));
            }
        }
        if open && !self.fault(Fault::CustomerSessionNotEnded) {
            self.push_msg(&inter, "ParticipantLeft", (&nick, ty, &pid), None, None);
            self.end_customer(&inter);
        }
        let user = self.agents[owner].user.clone();
        if let Some(i) = self.inters.get_mut(&inter) {
            if let Some(q) = queue
                && !self.cfg.fault.is_some_and(|f| f == Fault::QueueIgnored)
            {
                i.queue = Some(q);
            }
            if save_lar && self.cfg.fault != Some(Fault::SaveLarIgnored) {
                i.last_agent = Some(user);
            }
            if current {
                i.ended_at.get_or_insert_with(Instant::now);
            }
        }
        let was_completed = self.chats[id].state == ChatState::Completed;
        if let Some(c) = self.chats.get_mut(id) {
            c.state = ChatState::Completed;
            c.completed_at = Some(Instant::now());
        }
        if !was_completed {
            self.completed.push_back((Instant::now(), id.to_string()));
        }
        let mut status = self.status_change(id, "StatusChange", Some(nr));
        if self.fault(Fault::StatusUriWrong) {
            status["chat"]["uri"] =
                json!(format!("{}/api/v2/interactions/{id}", self.cfg.base_url));
        }
        if self.fault(Fault::StatusStateLowercase) {
            status["chat"]["state"] = json!("completed");
        }
        let swap = self.fault(Fault::CompleteTextAfterStatus)
            || (concurrent && self.fault(Fault::CompleteReorderUnderConcurrency));
        let mut reply = Reply::new(200, json!({"statusCode": 0, "referenceId": r}));
        if self.fault(Fault::SuccessWithStatusMessage) {
            reply.body["statusMessage"] = json!("Chat completed");
        }
        let emit_status = |core: &mut Core, reply: &mut Reply| {
            if core.fault(Fault::CompleteNoStatusChange) {
                return;
            }
            if core.fault(Fault::CompleteStatusLate) {
                reply.deferred.push(Deferred {
                    delay_ms: LATE_DELAY_MS,
                    agent: to,
                    data: status.clone(),
                });
                return;
            }
            core.publish(to, status.clone());
            if core.fault(Fault::CompleteStatusDuplicated) {
                core.publish(to, status.clone());
            }
        };
        if swap {
            emit_status(self, &mut reply);
            if let Some(n) = text_note {
                self.publish(to, n);
            }
        } else {
            if let Some(n) = text_note {
                self.publish(to, n);
            }
            emit_status(self, &mut reply);
        }
        if self.fault(Fault::NotifyAfterCompleted) {
            let m = Msg {
                index: self
                    .inters
                    .get(&inter)
                    .map_or(1, |i| i.transcript.len() as u64 + 1),
                kind: "ParticipantLeft",
                nickname: nick,
                from_type: ty,
                participant_id: pid,
                text: None,
                message_type: None,
                timestamp: timestamp(SystemTime::now()),
            };
            let n = self.new_messages(id, &[m], Some(nr));
            self.publish(to, n);
        }
        reply
    }

    // ---------------------------------------------------------------- routing

    fn new_interaction(
        &mut self,
        nickname: String,
        subject: String,
        user_data: Value,
    ) -> Result<String, ()> {
        if self.inters.len() >= MAX_INTERACTIONS {
            return Err(());
        }
        let id = self.new_id(0xC057);
        let pid = self.new_id(0x9A27);
        let mut i = Inter {
            nickname: nickname.clone(),
            subject,
            user_data,
            state: CustState::WaitingForAgent,
            transcript: Vec::new(),
            agent_chat: None,
            rejected: Vec::new(),
            queue: None,
            last_agent: None,
            customer_pid: pid.clone(),
            ended_at: None,
            text_bytes: 0,
        };
        i.transcript.push(Msg {
            index: 1,
            kind: "ParticipantJoined",
            nickname,
            from_type: "Customer",
            participant_id: pid,
            text: None,
            message_type: None,
            timestamp: timestamp(SystemTime::now()),
        });
        self.inters.insert(id.clone(), i);
        Ok(id)
    }

    /// Offers waiting interactions to Ready agents, round-robin; an agent that rejected
    /// an interaction is not offered it again.
    fn dispatch(&mut self) {
        let n = self.agents.len();
        if n == 0 {
            return;
        }
        let mut still = VecDeque::new();
        while let Some(inter) = self.waiting.pop_front() {
            let Some(i) = self.inters.get(&inter) else {
                continue;
            };
            if i.state == CustState::Idle || i.agent_chat.is_some() {
                continue;
            }
            let pick = (0..n)
                .map(|k| (self.rr + k) % n)
                .find(|a| self.agents[*a].ready && !i.rejected.contains(a));
            match pick {
                Some(a) => {
                    self.rr = (a + 1) % n;
                    self.offer(&inter, a);
                }
                None => still.push_back(inter),
            }
        }
        self.waiting = still;
    }

    fn offer(&mut self, inter: &str, agent: usize) -> String {
        let id = self.new_id(0xA6E7);
        let pid = self.new_id(0x7A11);
        self.chats.insert(
            id.clone(),
            AgentChat {
                agent,
                inter: inter.to_string(),
                state: ChatState::Invited,
                nickname: self.agents[agent].user.clone(),
                participant_id: pid,
                completed_at: None,
            },
        );
        if let Some(i) = self.inters.get_mut(inter) {
            i.agent_chat = Some(id.clone());
        }
        let st = self.status_change(&id, "StatusChange", None);
        self.publish(agent, st);
        id
    }

    // ---------------------------------------------------------------- JSON shapes

    fn participants(&self, c: &AgentChat) -> Vec<Value> {
        let Some(i) = self.inters.get(&c.inter) else {
            return Vec::new();
        };
        let cust =
            json!({"nickname": i.nickname, "type": "Customer", "participantId": i.customer_pid});
        let me =
            json!({"nickname": c.nickname, "type": "Agent", "participantId": c.participant_id});
        match c.state {
            ChatState::Invited => vec![cust],
            ChatState::Chatting if i.state == CustState::Idle => vec![me],
            ChatState::Chatting => vec![cust, me],
            ChatState::LeftChat | ChatState::Completed => Vec::new(),
        }
    }

    fn chat_json(&self, id: &str, c: &AgentChat) -> Value {
        let (user_data, subject) = self
            .inters
            .get(&c.inter)
            .map(|i| (i.user_data.clone(), i.subject.clone()))
            .unwrap_or((json!({}), String::new()));
        json!({
            "id": id,
            "state": c.state.as_str(),
            "uri": format!("{}/api/v2/chats/{id}", self.cfg.base_url),
            "path": format!("/chats/{id}"),
            "capabilities": c.state.capabilities(),
            "participants": self.participants(c),
            "userData": user_data,
            "chatType": "Inbound",
            "subject": subject,
        })
    }

    fn status_change(&self, id: &str, kind: &str, reference: Option<u64>) -> Value {
        let c = &self.chats[id];
        let mut chat = self.chat_json(id, c);
        if self.fault(Fault::NotificationMissingChatId)
            && let Some(o) = chat.as_object_mut()
        {
            o.remove("id");
        }
        let mut v = json!({
            "messageType": "ChatStateChangeMessage",
            "notificationType": kind,
            "chat": chat,
        });
        if let Some(r) = reference {
            v["referenceId"] = json!(r);
        }
        v
    }

    fn msg_json(m: &Msg) -> Value {
        let mut v = json!({
            "index": m.index,
            "type": m.kind,
            "from": {"nickname": m.nickname, "type": m.from_type, "participantId": m.participant_id},
            "visibility": "All",
            "timestamp": m.timestamp,
        });
        if let Some(t) = &m.text {
            v["text"] = json!(t);
        }
        if let Some(t) = &m.message_type {
            v["messageType"] = json!(t);
        }
        v
    }

    fn new_messages(&self, id: &str, msgs: &[Msg], reference: Option<u64>) -> Value {
        let mut v = json!({
            "messageType": "MessageLogUpdated",
            "notificationType": "NewMessages",
            "messages": msgs.iter().map(Self::msg_json).collect::<Vec<_>>(),
            "chatUri": format!("{}/api/v2/chats/{id}", self.cfg.base_url),
            "chatPath": format!("/chats/{id}"),
        });
        if let Some(r) = reference {
            v["referenceId"] = json!(r);
        }
        v
    }

    // ---------------------------------------------------------------- Bayeux

    /// Queues `data` on `/v2/me/chats` for every subscribed client of `agent`.
    pub(crate) fn publish(&mut self, agent: usize, data: Value) {
        let msg = json!({"channel": CHATS_CHANNEL, "data": data});
        let mut overflow = Vec::new();
        for (cid, c) in self.clients.iter_mut() {
            if c.agent == agent && c.subs.contains(CHATS_CHANNEL) {
                if c.queue.len() >= MAX_CLIENT_QUEUE {
                    overflow.push(cid.clone());
                    continue;
                }
                c.queue.push_back(msg.clone());
                c.notify.notify_one();
            }
        }
        for cid in overflow {
            if let Some(c) = self.clients.remove(&cid) {
                c.notify.notify_one();
            }
        }
    }

    fn advice(&self) -> Value {
        json!({"reconnect": "retry", "interval": 0, "timeout": self.cfg.bayeux_timeout_ms})
    }

    fn unknown_client(channel: &str, id: &Value, client: Option<&str>) -> Value {
        let mut v = json!({
            "channel": channel, "successful": false, "error": "402::Unknown client",
            "advice": {"reconnect": "handshake", "interval": 0},
        });
        if let Some(c) = client {
            v["clientId"] = json!(c);
        }
        if !id.is_null() {
            v["id"] = id.clone();
        }
        v
    }

    /// Authenticates a Bayeux POST (Basic auth; the session is established if missing;
    /// no CSRF, SPEC §6.1).
    pub(crate) fn bayeux_auth(
        &mut self,
        authorization: Option<&str>,
        session: Option<&str>,
    ) -> Result<(usize, Option<String>), Reply> {
        let (a, tok, new) = self.authenticate(authorization, session)?;
        Ok((a, new.then_some(tok)))
    }

    /// Handles one non-connect Bayeux message.
    pub(crate) fn bayeux_message(&mut self, agent: usize, m: &Value) -> Value {
        let channel = m.get("channel").and_then(Value::as_str).unwrap_or("");
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let client = m.get("clientId").and_then(Value::as_str);
        let mut reply = match channel {
            "/meta/handshake" => {
                let types_ok = m
                    .get("supportedConnectionTypes")
                    .and_then(Value::as_array)
                    .is_none_or(|a| a.iter().any(|t| t == "long-polling"));
                if !types_ok {
                    json!({"channel": channel, "successful": false,
                        "error": "406::long-polling is the only supported connection type",
                        "supportedConnectionTypes": ["long-polling"], "version": "1.0",
                        "advice": {"reconnect": "none"}})
                } else {
                    let cid = self.token();
                    self.clients.insert(
                        cid.clone(),
                        Client {
                            agent,
                            subs: HashSet::new(),
                            queue: VecDeque::new(),
                            last_seen: Instant::now(),
                            polling: 0,
                            notify: Arc::new(Notify::new()),
                        },
                    );
                    self.bound_clients(agent, &cid);
                    json!({"channel": channel, "version": "1.0",
                        "supportedConnectionTypes": ["long-polling"], "clientId": cid,
                        "successful": true, "advice": self.advice()})
                }
            }
            "/meta/subscribe" | "/meta/unsubscribe" => {
                let sub = m.get("subscription").and_then(Value::as_str).unwrap_or("");
                match client
                    .and_then(|c| self.clients.get_mut(c))
                    .filter(|c| c.agent == agent)
                {
                    None => return Self::unknown_client(channel, &id, client),
                    Some(c) => {
                        c.last_seen = Instant::now();
                        if sub != "/v2/me" && !sub.starts_with("/v2/me/") {
                            json!({"channel": channel, "successful": false, "subscription": sub,
                                "error": format!("403:{sub}:subscription denied (only /v2/me/... channels)")})
                        } else if channel == "/meta/subscribe"
                            && sub == CHATS_CHANNEL
                            && self.cfg.fault == Some(Fault::BayeuxSubscribeFails)
                        {
                            json!({"channel": channel, "successful": false, "subscription": sub,
                                "error": "500:/v2/me/chats:subscription failed"})
                        } else {
                            if channel == "/meta/subscribe" {
                                c.subs.insert(sub.to_string());
                            } else {
                                c.subs.remove(sub);
                            }
                            json!({"channel": channel, "successful": true, "subscription": sub})
                        }
                    }
                }
            }
            "/meta/disconnect" => {
                match client.filter(|c| self.clients.get(*c).is_some_and(|x| x.agent == agent)) {
                    None => return Self::unknown_client(channel, &id, client),
                    Some(c) => {
                        if let Some(x) = self.clients.remove(c) {
                            x.notify.notify_one();
                        }
                        json!({"channel": channel, "successful": true})
                    }
                }
            }
            "" => {
                json!({"channel": "", "successful": false, "error": "400::message without channel"})
            }
            other => json!({"channel": other, "successful": false,
                "error": format!("403::{other}: publishing is not supported")}),
        };
        if let Some(c) = client
            && reply.get("clientId").is_none()
        {
            reply["clientId"] = json!(c);
        }
        if !id.is_null() {
            reply["id"] = id;
        }
        reply
    }

    fn bound_clients(&mut self, agent: usize, keep: &str) {
        let mut mine: Vec<(Instant, String)> = self
            .clients
            .iter()
            .filter(|(k, c)| c.agent == agent && k.as_str() != keep && c.polling == 0)
            .map(|(k, c)| (c.last_seen, k.clone()))
            .collect();
        if mine.len() >= MAX_CLIENTS_PER_AGENT {
            mine.sort();
            let excess = mine.len() + 1 - MAX_CLIENTS_PER_AGENT;
            for (_, k) in mine.into_iter().take(excess) {
                if let Some(c) = self.clients.remove(&k) {
                    c.notify.notify_one();
                }
            }
        }
    }

    /// Starts a `/meta/connect`.
    pub(crate) fn connect_start(&mut self, agent: usize, m: &Value) -> ConnectStart {
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let client = m.get("clientId").and_then(Value::as_str);
        let ct = m.get("connectionType").and_then(Value::as_str);
        let Some(cid) = client.filter(|c| self.clients.get(*c).is_some_and(|x| x.agent == agent))
        else {
            return ConnectStart::Now(vec![Self::unknown_client("/meta/connect", &id, client)]);
        };
        if ct.is_some_and(|t| t != "long-polling") {
            let mut v = json!({"channel": "/meta/connect", "successful": false, "clientId": cid,
                "error": "406::unsupported connectionType", "advice": self.advice()});
            if !id.is_null() {
                v["id"] = id;
            }
            return ConnectStart::Now(vec![v]);
        }
        // A connect asking `advice.timeout: 0` (CometD's first connect) is not held.
        let no_hold = m
            .get("advice")
            .and_then(|a| a.get("timeout"))
            .and_then(Value::as_u64)
            == Some(0);
        let c = self.clients.get_mut(cid).expect("checked");
        c.last_seen = Instant::now();
        if !c.queue.is_empty() || no_hold {
            let cid = cid.to_string();
            return ConnectStart::Now(self.connect_finish(&cid, m, false));
        }
        c.polling += 1;
        ConnectStart::Wait(c.notify.clone())
    }

    /// Whether a held `/meta/connect` of `cid` should answer now: something is queued, or
    /// the client is gone (expired or dropped on overflow).
    pub(crate) fn connect_ready(&self, cid: &str) -> bool {
        self.clients.get(cid).is_none_or(|c| !c.queue.is_empty())
    }

    /// Finishes a `/meta/connect`: the reply plus every queued message (batched).
    pub(crate) fn connect_finish(&mut self, cid: &str, m: &Value, was_waiting: bool) -> Vec<Value> {
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let advice = self.advice();
        let Some(c) = self.clients.get_mut(cid) else {
            return vec![Self::unknown_client("/meta/connect", &id, Some(cid))];
        };
        if was_waiting {
            c.polling = c.polling.saturating_sub(1);
        }
        c.last_seen = Instant::now();
        let mut v = json!({"channel": "/meta/connect", "successful": true, "clientId": cid,
            "advice": advice});
        if !id.is_null() {
            v["id"] = id;
        }
        let mut out = Vec::with_capacity(1 + c.queue.len());
        out.push(v);
        out.extend(c.queue.drain(..));
        out
    }

    // ---------------------------------------------------------------- customer API

    /// Serves the customer chat API (`/api/v2/chats…`); `rest` is the path after it.
    pub(crate) fn customer_api(
        &mut self,
        method: &str,
        rest: &[&str],
        query: Option<&str>,
        contact_center: Option<&str>,
        body: BodyIn,
    ) -> Reply {
        match contact_center {
            None => return Reply::new(400, obj_err(1, "Missing header ContactCenterId")),
            Some(c) if c != self.cfg.contact_center_id => {
                return Reply::new(403, obj_err(3, "Unknown ContactCenterId"));
            }
            _ => {}
        }
        let body_obj = |body: &BodyIn| -> Result<Map<String, Value>, Reply> {
            match body {
                BodyIn::Json(Value::Object(o)) => Ok(o.clone()),
                BodyIn::Json(_) | BodyIn::Empty => Err(Reply::new(
                    200,
                    obj_err(1, "Request body must be a JSON object with operationName"),
                )),
                BodyIn::Invalid(e) => Err(Reply::new(
                    400,
                    obj_err(2, &format!("Request body is not valid JSON: {e}")),
                )),
                BodyIn::TooLarge => Err(Reply::new(
                    413,
                    obj_err(10, "Request body larger than 64 KiB"),
                )),
            }
        };
        match (method, rest) {
            ("POST", []) => {
                let b = match body_obj(&body) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                match b.get("operationName").and_then(Value::as_str) {
                    Some("RequestChat") => {}
                    Some(op) => {
                        return Reply::new(
                            200,
                            obj_err(2, &format!("Unknown operationName {op:?}")),
                        );
                    }
                    None => return Reply::new(200, obj_err(1, "Missing parameter operationName")),
                }
                let nickname = match b.get("nickname") {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    None => return Reply::new(200, obj_err(1, "Missing parameter nickname")),
                    Some(_) => {
                        return Reply::new(200, obj_err(10, "nickname must be a non-empty string"));
                    }
                };
                let subject = match b.get("subject") {
                    None => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => return Reply::new(200, obj_err(10, "subject must be a string")),
                };
                let user_data = match b.get("userData") {
                    None => json!({}),
                    Some(v @ Value::Object(_)) => v.clone(),
                    Some(_) => return Reply::new(200, obj_err(10, "userData must be an object")),
                };
                match self.new_interaction(nickname, subject, user_data) {
                    Ok(id) => {
                        self.waiting.push_back(id.clone());
                        self.dispatch();
                        Reply::new(
                            200,
                            json!({"statusCode": 0, "id": id, "path": format!("/chats/{id}")}),
                        )
                    }
                    Err(()) => Reply::new(200, obj_err(13, "Too many chats; try later")),
                }
            }
            ("GET", [id]) => match self.inters.get(*id) {
                None => Reply::new(200, obj_err(6, "Chat not found")),
                Some(i) => {
                    let caps: &[&str] = if i.state == CustState::Idle {
                        &[]
                    } else {
                        &["SendMessage", "Complete"]
                    };
                    Reply::new(
                        200,
                        json!({"statusCode": 0, "chat": {
                            "id": id, "state": i.state.as_str(), "capabilities": caps,
                            "participants": self.customer_participants(i),
                            "lastTranscriptIndex": i.transcript.len(),
                            "uri": format!("{}/api/v2/chats/{id}", self.cfg.base_url),
                            "path": format!("/chats/{id}"),
                        }}),
                    )
                }
            },
            ("GET", [id, "messages"]) => {
                let from: u64 = match query
                    .unwrap_or("")
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("index="))
                {
                    None => 0,
                    Some(v) => match v.parse() {
                        Ok(n) => n,
                        Err(_) => {
                            return Reply::new(
                                200,
                                obj_err(10, "index must be a non-negative integer"),
                            );
                        }
                    },
                };
                match self.inters.get(*id) {
                    None => Reply::new(200, obj_err(6, "Chat not found")),
                    Some(i) => {
                        let msgs: Vec<Value> = i
                            .transcript
                            .iter()
                            .filter(|m| m.index >= from)
                            .map(Self::msg_json)
                            .collect();
                        Reply::new(200, json!({"statusCode": 0, "messages": msgs}))
                    }
                }
            }
            ("POST", [id]) => {
                let b = match body_obj(&body) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let op = match b.get("operationName") {
                    Some(Value::String(s)) => s.clone(),
                    None => return Reply::new(200, obj_err(1, "Missing parameter operationName")),
                    Some(_) => {
                        return Reply::new(200, obj_err(10, "operationName must be a string"));
                    }
                };
                let Some(state) = self.inters.get(*id).map(|i| i.state) else {
                    return Reply::new(200, obj_err(6, "Chat not found"));
                };
                match op.as_str() {
                    "SendMessage" => {
                        let text = match b.get("text") {
                            Some(Value::String(s)) => s.clone(),
                            None => return Reply::new(200, obj_err(1, "Missing parameter text")),
                            Some(_) => {
                                return Reply::new(200, obj_err(10, "text must be a string"));
                            }
                        };
                        if state == CustState::Idle {
                            return Reply::new(200, obj_err(2, "The chat session has ended"));
                        }
                        if self.transcript_full(id) {
                            return Reply::new(200, obj_err(13, "The chat transcript is full"));
                        }
                        self.customer_says(id, text);
                        Reply::new(200, json!({"statusCode": 0}))
                    }
                    "Complete" => {
                        if state == CustState::Idle {
                            return Reply::new(200, obj_err(2, "The chat session has ended"));
                        }
                        self.customer_leaves(id);
                        Reply::new(200, json!({"statusCode": 0}))
                    }
                    other => {
                        Reply::new(200, obj_err(2, &format!("Unknown operationName {other:?}")))
                    }
                }
            }
            (_, [] | [_] | [_, "messages"]) => Reply::new(
                405,
                obj_err(3, &format!("Method {method} not allowed here")),
            ),
            _ => Reply::new(404, obj_err(6, "Resource not found")),
        }
    }

    fn customer_participants(&self, i: &Inter) -> Vec<Value> {
        let mut v = vec![
            json!({"nickname": i.nickname, "type": "Customer", "participantId": i.customer_pid}),
        ];
        if let Some(c) = i.agent_chat.as_ref().and_then(|c| self.chats.get(c))
            && c.state == ChatState::Chatting
        {
            v.push(
                json!({"nickname": c.nickname, "type": "Agent", "participantId": c.participant_id}),
            );
        }
        v
    }

    fn live_agent_chat(&self, inter: &str) -> Option<(String, usize)> {
        let i = self.inters.get(inter)?;
        let id = i.agent_chat.clone()?;
        let c = self.chats.get(&id)?;
        (c.state == ChatState::Chatting).then_some((id, c.agent))
    }

    fn customer_says(&mut self, inter: &str, text: String) {
        let Some(i) = self.inters.get(inter) else {
            return;
        };
        let from = (i.nickname.clone(), i.customer_pid.clone());
        if let Some(m) = self.push_msg(
            inter,
            "Text",
            (&from.0, "Customer", &from.1),
            Some(text),
            None,
        ) && let Some((cid, agent)) = self.live_agent_chat(inter)
        {
            let n = self.new_messages(&cid, &[m], None);
            self.publish(agent, n);
        }
    }

    fn customer_leaves(&mut self, inter: &str) {
        let Some(i) = self.inters.get(inter) else {
            return;
        };
        let from = (i.nickname.clone(), i.customer_pid.clone());
        let m = self.push_msg(
            inter,
            "ParticipantLeft",
            (&from.0, "Customer", &from.1),
            None,
            None,
        );
        self.end_customer(inter);
        if let Some(m) = m
            && let Some((cid, agent)) = self.live_agent_chat(inter)
        {
            let n = self.new_messages(&cid, &[m], None);
            self.publish(agent, n);
        }
    }

    // ---------------------------------------------------------------- provider state

    /// Serves `POST /conformance/provider-state` (SPEC §1.5 mode 2, §6.6). A
    /// test-deployment endpoint: it takes no authentication.
    pub(crate) fn provider_state(&mut self, body: BodyIn) -> Reply {
        let bad =
            |field: &str, why: &str| Reply::new(400, json!({"error": format!("{field}: {why}")}));
        let b = match body {
            BodyIn::Json(Value::Object(o)) => o,
            BodyIn::Json(_) | BodyIn::Empty => return bad("body", "must be a JSON object"),
            BodyIn::Invalid(e) => return bad("body", &format!("not valid JSON: {e}")),
            BodyIn::TooLarge => {
                return Reply::new(413, json!({"error": "body: larger than 64 KiB"}));
            }
        };
        let empty = Map::new();
        let params = match b.get("params") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(o)) => o,
            Some(_) => return bad("params", "must be an object"),
        };
        let s = |name: &str| -> Result<String, Reply> {
            match params.get(name) {
                Some(Value::String(v)) => Ok(v.clone()),
                None => Err(bad(&format!("params.{name}"), "missing")),
                Some(_) => Err(bad(&format!("params.{name}"), "must be a string")),
            }
        };
        let action = match b.get("action") {
            Some(Value::String(a)) => a.clone(),
            None => return bad("action", "missing"),
            Some(_) => return bad("action", "must be a string"),
        };
        let state = b.get("state").and_then(Value::as_str).unwrap_or("");
        let chat_inter = |core: &Core, chat: &str| core.chats.get(chat).map(|c| c.inter.clone());
        match action.as_str() {
            "setup" => match state {
                "chat offered" => {
                    let user = match s("agent") {
                        Ok(u) => u,
                        Err(r) => return r,
                    };
                    let nickname = match s("nickname") {
                        Ok(u) => u,
                        Err(r) => return r,
                    };
                    let Some(agent) = self.agents.iter().position(|a| a.user == user) else {
                        return bad("params.agent", &format!("no agent named {user:?}"));
                    };
                    let user_data = match params.get("userData") {
                        None => json!({}),
                        Some(v @ Value::Object(_)) => v.clone(),
                        Some(_) => return bad("params.userData", "must be an object"),
                    };
                    let Ok(inter) = self.new_interaction(nickname, "conformance".into(), user_data)
                    else {
                        return Reply::new(503, json!({"error": "too many chats"}));
                    };
                    let id = self.offer(&inter, agent);
                    Reply::new(200, json!({"chatId": id}))
                }
                "customer sends message" | "customer leaves" => {
                    let chat = match s("chatId") {
                        Ok(c) => c,
                        Err(r) => return r,
                    };
                    let Some(inter) = chat_inter(self, &chat) else {
                        return bad("params.chatId", &format!("unknown chat {chat:?}"));
                    };
                    let open = self
                        .inters
                        .get(&inter)
                        .is_some_and(|i| i.state != CustState::Idle);
                    if !open {
                        return Reply::new(
                            409,
                            json!({"error": "params.chatId: the customer's session has ended"}),
                        );
                    }
                    if state == "customer leaves" {
                        self.customer_leaves(&inter);
                    } else {
                        let text = match s("text") {
                            Ok(t) => t,
                            Err(r) => return r,
                        };
                        if self.transcript_full(&inter) {
                            return Reply::new(
                                409,
                                json!({"error": "params.chatId: the chat transcript is full"}),
                            );
                        }
                        self.customer_says(&inter, text);
                    }
                    Reply::new(200, json!({}))
                }
                other => Reply::new(
                    501,
                    json!({"error": format!("state: unsupported provider state {other:?}")}),
                ),
            },
            "inspect" => {
                let chat = match s("chatId") {
                    Ok(c) => c,
                    Err(r) => return r,
                };
                let Some(i) = chat_inter(self, &chat).and_then(|x| self.inters.get(&x)) else {
                    return Reply::new(
                        404,
                        json!({"error": format!("params.chatId: unknown chat {chat:?}")}),
                    );
                };
                let transcript: Vec<Value> = i
                    .transcript
                    .iter()
                    .map(|m| {
                        json!({"type": m.kind, "text": m.text.clone().unwrap_or_default(),
                        "from": if m.from_type == "Agent" { "Agent" } else { "Customer" }})
                    })
                    .collect();
                Reply::new(
                    200,
                    json!({
                        "queue": i.queue, "lastAgent": i.last_agent,
                        "customerSessionEnded": i.state == CustState::Idle,
                        "customerTranscript": transcript,
                    }),
                )
            }
            "teardown" => {
                let chat = match params.get("chatId") {
                    None | Some(Value::Null) => return Reply::new(200, json!({})),
                    Some(Value::String(c)) => c.clone(),
                    Some(_) => return bad("params.chatId", "must be a string"),
                };
                if let Some(inter) = chat_inter(self, &chat) {
                    self.chats.retain(|_, c| c.inter != inter);
                    self.inters.remove(&inter);
                    self.waiting.retain(|w| *w != inter);
                }
                Reply::new(200, json!({}))
            }
            other => bad(
                "action",
                &format!("unknown action {other:?} (setup, teardown, inspect)"),
            ),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_format() {
        let t = UNIX_EPOCH + Duration::from_millis(1_389_261_492_035);
        assert_eq!(timestamp(t), "2014-01-09 09:58:12.035+0000");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00:00:00.000+0000"
        );
    }

    fn core(csrf: bool) -> Core {
        Core::new(CoreCfg {
            agents: vec![("a1".into(), "p1".into())],
            csrf,
            fault: None,
            contact_center_id: "cc".into(),
            bayeux_timeout_ms: 100,
            bayeux_max_interval_ms: 1_000,
            base_url: "http://h".into(),
        })
    }

    fn post(c: &mut Core, rest: Vec<&str>, body: Value) -> Reply {
        use base64::Engine;
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a1:p1")
        );
        c.agent_api(AgentReq {
            method: "POST",
            rest,
            authorization: Some(&auth),
            session: None,
            csrf: None,
            body: BodyIn::Json(body),
            concurrent_completes: false,
        })
    }

    #[test]
    fn completed_chats_and_abandoned_clients_are_dropped_by_the_sweep() {
        let mut c = core(false);
        let (id, _) = offered(&mut c);
        let _ = c.bayeux_message(0, &json!({"channel":"/meta/handshake"}));
        assert_eq!(
            post(
                &mut c,
                vec!["chats", &id],
                json!({"operationName":"Accept"})
            )
            .body["statusCode"],
            0
        );
        assert_eq!(
            post(
                &mut c,
                vec!["chats", &id],
                json!({"operationName":"Complete"})
            )
            .body["statusCode"],
            0
        );
        let now = Instant::now();
        c.sweep(now);
        assert_eq!(c.sizes().0, 1, "kept for a while after completion");
        assert_eq!(c.sizes().2, 1);
        c.sweep(now + Duration::from_millis(1_500));
        assert_eq!(c.sizes().2, 0, "abandoned client expired");
        c.sweep(now + RETENTION + Duration::from_secs(1));
        assert_eq!((c.sizes().0, c.sizes().1), (0, 0), "completed chat dropped");
        assert_eq!(
            post(
                &mut c,
                vec!["chats", &id],
                json!({"operationName":"Complete"})
            )
            .body["statusCode"],
            6
        );
    }

    /// Offers a chat to `a1` through provider-state: (agent chat id, interaction id).
    fn offered(c: &mut Core) -> (String, String) {
        let r = c.provider_state(BodyIn::Json(
            json!({"action":"setup","state":"chat offered","params":{"agent":"a1","nickname":"n"}}),
        ));
        let id = r.body["chatId"].as_str().unwrap().to_string();
        let inter = c.chats[&id].inter.clone();
        (id, inter)
    }

    /// The customer sends `text` through the customer API; returns the statusCode.
    fn customer_says(c: &mut Core, inter: &str, text: &str) -> Value {
        c.customer_api(
            "POST",
            &[inter],
            None,
            Some("cc"),
            BodyIn::Json(json!({"operationName":"SendMessage","text":text})),
        )
        .body["statusCode"]
            .clone()
    }

    #[test]
    fn a_message_flood_does_not_grow_a_transcript_without_bound() {
        let mut c = core(false);
        let (id, inter) = offered(&mut c);
        let mut refused = 0;
        for _ in 0..MAX_TRANSCRIPT + 10 {
            match customer_says(&mut c, &inter, "spam").as_i64() {
                Some(0) => {}
                Some(13) => refused += 1,
                other => panic!("unexpected statusCode {other:?}"),
            }
        }
        assert!(refused >= 10, "only {refused} refusals");
        assert_eq!(c.inters[&inter].transcript.len(), MAX_TRANSCRIPT);
        // The agent side is refused too, and the chat can still be completed.
        let op = |c: &mut Core, body: Value| post(c, vec!["chats", &id], body).body;
        assert_eq!(
            op(&mut c, json!({"operationName":"Accept"}))["statusCode"],
            0
        );
        let r = op(&mut c, json!({"operationName":"SendMessage","text":"x"}));
        assert_eq!(r["statusCode"], 13, "{r}");
        let r = op(&mut c, json!({"operationName":"Complete"}));
        assert_eq!(r["statusCode"], 0, "{r}");
        // Large messages hit the byte bound long before the count bound.
        let (_, inter) = offered(&mut c);
        let big = "x".repeat(60 * 1024);
        let mut sent = 0;
        while customer_says(&mut c, &inter, &big) == 0 {
            sent += 1;
            assert!(
                sent <= MAX_TRANSCRIPT_BYTES / big.len() + 1,
                "no byte bound"
            );
        }
        assert_eq!(customer_says(&mut c, &inter, &big), 13);
        assert!(c.inters[&inter].text_bytes < MAX_TRANSCRIPT_BYTES + big.len());
    }

    #[test]
    fn debug_hides_passwords() {
        let mut c = core(true);
        let text = format!("{:?}", c.cfg);
        assert!(text.contains("a1") && !text.contains("p1"), "{text}");
        // A session (with its CSRF token) exists once the agent has made a request.
        post(
            &mut c,
            vec![],
            json!({"operationName": "StartContactCenterSession"}),
        );
        assert_eq!(c.sessions.len(), 1);
        for a in &c.agents {
            let text = format!("{a:?}");
            assert!(text.contains("a1") && !text.contains("p1"), "{text}");
        }
        for s in c.sessions.values() {
            let text = format!("{s:?}");
            assert!(!s.csrf.0.is_empty() && !text.contains(&s.csrf.0), "{text}");
        }
    }

    #[test]
    fn ids_are_unique_and_16_chars() {
        let mut c = Core::new(CoreCfg {
            agents: vec![],
            csrf: true,
            fault: None,
            contact_center_id: "x".into(),
            bayeux_timeout_ms: 1,
            bayeux_max_interval_ms: 1,
            base_url: "http://h".into(),
        });
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = c.new_id(1);
            assert_eq!(id.len(), 16);
            assert!(id.starts_with("0000"));
            assert!(seen.insert(id));
        }
    }
}
