//! Provisioning: getting a chat to an agent, and acting and observing as the customer
//! (SPEC §1.5). Two modes: `customer-api` (the GWS Customer Chat API of a real target)
//! and `provider-state` (one Pact-style URL the vendor serves).

use super::http::{self, Rec, Req};
use super::rest::{id_path, usable_id};
use super::{HarnessError, Outcome, TargetConfig, parse_base_url};
use crate::history::{Actor, Body, EventKind, Recorder};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which of the two provisioning modes (SPEC §1.5) a run uses: the one type from the
/// command line (`--provisioning`, clap value names) through `RunConfig` and the case
/// file (JSON strings `"customer-api"` / `"provider-state"`) to the [`Provisioner`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProvisioningKind {
    /// The GWS Customer Chat API of the target itself.
    CustomerApi,
    /// The vendor's provider-state URL (the default: the embedded server's mode).
    #[default]
    ProviderState,
}

impl ProvisioningKind {
    /// `"customer-api"` or `"provider-state"` (as on the command line and in files).
    pub fn name(self) -> &'static str {
        match self {
            ProvisioningKind::CustomerApi => "customer-api",
            ProvisioningKind::ProviderState => "provider-state",
        }
    }
}

impl std::fmt::Display for ProvisioningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How chats are provisioned, chosen per run: the kind with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioning {
    /// The GWS Customer Chat API on the target itself (no Authorization; header
    /// `ContactCenterId`).
    CustomerApi {
        /// The `ContactCenterId` header value.
        contact_center_id: String,
    },
    /// The vendor's provider-state URL.
    ProviderState {
        /// The endpoint's URL.
        url: String,
    },
}

impl Provisioning {
    /// Which mode this is.
    pub fn kind(&self) -> ProvisioningKind {
        match self {
            Provisioning::CustomerApi { .. } => ProvisioningKind::CustomerApi,
            Provisioning::ProviderState { .. } => ProvisioningKind::ProviderState,
        }
    }
}

/// A chat offered to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The case's name for the chat.
    pub alias: String,
    /// The agent that owns it (routing may pick another agent than the one asked).
    pub agent: String,
    /// The agent-side chat id.
    pub chat_id: String,
    /// The customer-side chat id (customer-api only).
    pub customer_id: Option<String>,
}

/// Provisions chats and plays the customer.
#[derive(Debug)]
pub struct Provisioner {
    cfg: TargetConfig,
    base: reqwest::Url,
    mode: Mode,
    http: http::Client,
    tags: AtomicU64,
    /// This process's id, for the tags (read once: it is a system call).
    pid: u32,
    /// Every tag this provisioner put in a RequestChat's `userData`, and what became of
    /// it: how a chat routing offers to any agent, at any time, is told to be the run's
    /// (SPEC §6.13).
    issued: std::sync::Mutex<HashMap<String, TagState>>,
    /// customer-api: the customers asked for a chat who have not left yet (customer-side
    /// id → the chat), so that none is left waiting in the target's queue.
    customers: std::sync::Mutex<HashMap<String, Offered>>,
}

/// What became of a provisioning tag (customer-api `userData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagState {
    /// The RequestChat is in flight or its `Invited` is awaited: the chat carrying it is
    /// about to be bound by its case.
    Waiting,
    /// Bound to this agent-side chat id: another chat carrying the tag is the same
    /// customer offered again (after a Reject).
    Bound(String),
    /// No chat was bound (no Invited by the deadline, or RequestChat failed): the
    /// customer was made to leave, and any chat carrying the tag is offered late.
    Gone,
}

/// The validated parameters of a [`Provisioning`].
#[derive(Debug)]
enum Mode {
    Customer { contact_center_id: String },
    Provider { url: reqwest::Url },
}

/// The `userData` key that ties a customer-api chat to the agent's `Invited` notification.
pub(crate) use crate::history::TAG_KEY;
use crate::history::notes;

/// True when a provisioning error is a provider-state `chat offered` answered with HTTP
/// 409: the agent is at capacity, retry later (SPEC §6.9), never a failure.
pub(crate) fn is_at_capacity(e: &HarnessError) -> bool {
    let m = e.message();
    m.contains("\"chat offered\"") && m.contains(": HTTP 409")
}

/// What an `inspect` records when the provider does not support it.
const NOT_OBSERVABLE: &str = "not observable: provider answers";

impl Provisioner {
    /// Validates the configuration (base URL; provider URL; a non-empty, header-safe
    /// contact center id) and builds the HTTP client.
    pub fn new(cfg: &TargetConfig, mode: Provisioning) -> Result<Provisioner, HarnessError> {
        let base = cfg.base()?;
        let mode = match mode {
            Provisioning::CustomerApi { contact_center_id } => {
                let id = contact_center_id.trim().to_string();
                if id.is_empty()
                    || reqwest::header::HeaderValue::from_str(&id).is_err()
                    || id.chars().any(char::is_control)
                {
                    return Err(HarnessError::new(format!(
                        "customer-api provisioning: contact center id {contact_center_id:?} must be a non-empty header-safe string"
                    )));
                }
                Mode::Customer {
                    contact_center_id: id,
                }
            }
            Provisioning::ProviderState { url } => Mode::Provider {
                url: parse_base_url("provider-state URL", &url)?,
            },
        };
        let peer = match &mode {
            Mode::Customer { .. } => &base,
            Mode::Provider { url } => url,
        };
        Ok(Provisioner {
            http: http::build_client(cfg, peer)?,
            cfg: cfg.clone(),
            base,
            mode,
            tags: AtomicU64::new(0),
            pid: std::process::id(),
            issued: Default::default(),
            customers: Default::default(),
        })
    }

    /// The provisioning mode.
    pub fn kind(&self) -> ProvisioningKind {
        match self.mode {
            Mode::Customer { .. } => ProvisioningKind::CustomerApi,
            Mode::Provider { .. } => ProvisioningKind::ProviderState,
        }
    }

    /// `"customer-api"` or `"provider-state"`.
    pub fn mode_name(&self) -> &'static str {
        self.kind().name()
    }

    fn stream(&self) -> &'static str {
        match self.mode {
            Mode::Customer { .. } => "customer",
            Mode::Provider { .. } => "provider",
        }
    }

    /// A customer asks for a chat; it is offered to an agent. Records its requests on
    /// `case` (stream `"customer"` or `"provider"`) and, on success,
    /// `EventKind::Bind{alias, agent, chat_id, customer_chat_id}`.
    ///
    /// provider-state: setup `"chat offered"` `{agent, nickname}` -> `{"chatId"}`; the
    /// agent is the one asked. customer-api: RequestChat with userData
    /// `{"gwsConformTag": <unique value>}`, then waits on `run` (where the Bayeux clients
    /// record) up to `cfg.deadline` for the `Invited` StatusChange carrying that tag: its
    /// `chat.id` is the agent-side id and its agent is the owner.
    pub async fn offer_chat(
        &self,
        case: &Recorder,
        run: &Recorder,
        alias: &str,
        agent: &str,
        nickname: &str,
    ) -> Result<Offered, HarnessError> {
        let offered = match &self.mode {
            Mode::Provider { .. } => {
                let v = self
                    .provider(
                        case,
                        "setup",
                        "chat offered",
                        json!({"agent": agent, "nickname": nickname}),
                    )
                    .await?;
                let chat_id = match v.get("chatId") {
                    Some(Value::String(s)) if usable_id(s) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(HarnessError::new(format!(
                            "provider-state setup \"chat offered\" for agent {agent}: answer has no usable \"chatId\" (a number, or a string that is not empty, \".\" or \"..\"): {}",
                            http::summary(&Body::Json(v))
                        )));
                    }
                };
                Offered {
                    alias: alias.to_string(),
                    agent: agent.to_string(),
                    chat_id,
                    customer_id: None,
                }
            }
            Mode::Customer { .. } => self.request_chat(case, run, alias, agent, nickname).await?,
        };
        case.record(
            self.stream(),
            EventKind::Bind {
                alias: offered.alias.clone(),
                agent: offered.agent.clone(),
                chat_id: offered.chat_id.clone(),
                customer_chat_id: offered.customer_id.clone(),
            },
        );
        Ok(offered)
    }

    async fn request_chat(
        &self,
        case: &Recorder,
        run: &Recorder,
        alias: &str,
        agent: &str,
        nickname: &str,
    ) -> Result<Offered, HarnessError> {
        let tag = self.unique_tag();
        let body = json!({
            "operationName": "RequestChat",
            "nickname": nickname,
            "subject": format!("gws-conform {alias}"),
            "userData": {TAG_KEY: tag},
        });
        // Watch from here on: the Invited notification may arrive before the answer does.
        let invited = run.watch_tag(&tag);
        self.set_tag(&tag, TagState::Waiting);
        let v = match self
            .customer_ok(
                case,
                reqwest::Method::POST,
                "/api/v2/chats",
                Some(body),
                "RequestChat",
            )
            .await
        {
            Ok(v) => v,
            Err(e) => {
                self.set_tag(&tag, TagState::Gone);
                return Err(e);
            }
        };
        let customer_id = match v.get("id") {
            Some(Value::String(s)) if usable_id(s) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                self.set_tag(&tag, TagState::Gone);
                return Err(HarnessError::new(format!(
                    "customer-api RequestChat (POST /api/v2/chats on {}): answer has no usable \"id\" (a number, or a string that is not empty, \".\" or \"..\")",
                    self.base
                )));
            }
        };
        let mut offered = Offered {
            alias: alias.to_string(),
            agent: String::new(),
            chat_id: String::new(),
            customer_id: Some(customer_id.clone()),
        };
        self.lock_customers()
            .insert(customer_id.clone(), offered.clone());
        // The owner and the chat id, taken from the matching notification (not copied).
        let found = invited
            .wait(self.cfg.deadline, |e| match &e.kind {
                EventKind::Notification {
                    agent: owner, data, ..
                } => invited_chat_id(data, &tag).map(|id| (owner.clone(), id)),
                _ => None,
            })
            .await;
        let Some((owner, chat_id)) = found else {
            // Nobody got the chat in time: the customer leaves (recorded on the run, not
            // judged), so nothing of the run waits in the target's queue to be offered
            // later; a chat carrying the tag that comes anyway is the run's to close.
            self.set_tag(&tag, TagState::Gone);
            let _ = self.customer_leaves(run, &offered).await;
            return Err(HarnessError::new(format!(
                "customer-api: chat {customer_id} (tag {tag}) requested for {alias}, but no agent got an Invited notification carrying userData.{TAG_KEY} and a usable chat.id within {:?} (preferred agent {agent}; are the agents Ready and subscribed?)",
                self.cfg.deadline
            )));
        };
        self.set_tag(&tag, TagState::Bound(chat_id.clone()));
        offered.agent = owner;
        offered.chat_id = chat_id;
        if let Some(c) = self.lock_customers().get_mut(&customer_id) {
            *c = offered.clone();
        }
        Ok(offered)
    }

    fn set_tag(&self, tag: &str, state: TagState) {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tag.to_string(), state);
    }

    fn lock_customers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Offered>> {
        self.customers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What became of `tag`, when this provisioner issued it (customer-api): `None` for a
    /// tag that is not the run's.
    pub fn tag_state(&self, tag: &str) -> Option<TagState> {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tag)
            .cloned()
    }

    /// customer-api: every customer the run asked a chat for and who has not left yet
    /// leaves (customer-side Complete, recorded on `rec`), those still waiting for an
    /// agent included. Best effort; provider-state: nothing.
    pub async fn all_customers_leave(&self, rec: &Recorder) {
        let left: Vec<Offered> = self.lock_customers().values().cloned().collect();
        futures_util::future::join_all(left.iter().map(|o| self.customer_leaves(rec, o))).await;
    }

    /// A value unique to this process and call (time, process id, counter).
    fn unique_tag(&self) -> String {
        let n = self.tags.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("gwsc-{}-{nanos:x}-{n}", self.pid)
    }

    /// The customer sends `text` (provider: setup "customer sends message"; customer-api:
    /// SendMessage).
    pub async fn customer_sends(
        &self,
        case: &Recorder,
        chat: &Offered,
        text: &str,
    ) -> Result<(), HarnessError> {
        match &self.mode {
            Mode::Provider { .. } => self
                .provider(
                    case,
                    "setup",
                    "customer sends message",
                    json!({"chatId": chat.chat_id, "text": text}),
                )
                .await
                .map(drop),
            Mode::Customer { .. } => {
                let path = self.customer_path(chat)?;
                self.customer_ok(
                    case,
                    reqwest::Method::POST,
                    &path,
                    Some(json!({"operationName": "SendMessage", "text": text})),
                    "SendMessage",
                )
                .await
                .map(drop)
            }
        }
    }

    /// The customer leaves (provider: setup "customer leaves"; customer-api: Complete).
    pub async fn customer_leaves(
        &self,
        case: &Recorder,
        chat: &Offered,
    ) -> Result<(), HarnessError> {
        match &self.mode {
            Mode::Provider { .. } => self
                .provider(
                    case,
                    "setup",
                    "customer leaves",
                    json!({"chatId": chat.chat_id}),
                )
                .await
                .map(drop),
            Mode::Customer { .. } => {
                let path = self.customer_path(chat)?;
                // Asked once: whatever the answer, this customer is not asked again.
                if let Some(cid) = &chat.customer_id {
                    self.lock_customers().remove(cid);
                }
                self.customer_ok(
                    case,
                    reqwest::Method::POST,
                    &path,
                    Some(json!({"operationName": "Complete"})),
                    "customer Complete",
                )
                .await
                .map(drop)
            }
        }
    }

    /// Records `EventKind::Inspect{alias, result, reason}`. provider-state: action
    /// inspect; HTTP 404/501 -> result None with reason "not observable: provider answers
    /// 501". customer-api: GET /api/v2/chats/{cid} and /messages -> result
    /// `{"customerSessionEnded", "customerState", "customerTranscript"}` (queue and
    /// lastAgent are not observable there: absent). Transport failure -> Err.
    pub async fn inspect(&self, case: &Recorder, chat: &Offered) -> Result<(), HarnessError> {
        let (result, reason) = match &self.mode {
            Mode::Provider { url } => {
                let (outcome, path) = self
                    .provider_call(case, "inspect", "inspect", json!({"chatId": chat.chat_id}))
                    .await?;
                match outcome {
                    Outcome::Answered {
                        status: s @ (404 | 501),
                        ..
                    } => (None, Some(format!("{NOT_OBSERVABLE} {s}"))),
                    Outcome::Answered { status, body } if (200..300).contains(&status) => {
                        match body {
                            Body::Json(v @ Value::Object(_)) => (Some(v), None),
                            other => {
                                return Err(HarnessError::new(format!(
                                    "provider-state inspect ({path} on {url}) for chat {}: HTTP {status} with {} (expected a JSON object)",
                                    chat.chat_id,
                                    http::summary(&other)
                                )));
                            }
                        }
                    }
                    Outcome::Answered { status, body } => {
                        return Err(HarnessError::new(format!(
                            "provider-state inspect ({path}) for chat {}: HTTP {status}, {}",
                            chat.chat_id,
                            http::summary(&body)
                        )));
                    }
                    Outcome::NoAnswer { message, .. } => {
                        return Err(HarnessError::new(format!(
                            "provider-state inspect for chat {}: no answer: {message}",
                            chat.chat_id
                        )));
                    }
                }
            }
            Mode::Customer { .. } => {
                let path = self.customer_path(chat)?;
                let state_v = self
                    .customer_ok(case, reqwest::Method::GET, &path, None, "GetChat")
                    .await?;
                let msgs_v = self
                    .customer_ok(
                        case,
                        reqwest::Method::GET,
                        &format!("{path}/messages"),
                        None,
                        "GetMessages",
                    )
                    .await?;
                (Some(customer_view(&state_v, &msgs_v)), None)
            }
        };
        case.record(
            self.stream(),
            EventKind::Inspect {
                alias: chat.alias.clone(),
                result,
                reason,
            },
        );
        Ok(())
    }

    /// provider-state: teardown (idempotent, best effort, bounded: one request within the
    /// request timeout, recorded); customer-api: nothing.
    pub async fn teardown(&self, case: &Recorder, chat: &Offered) {
        if let Mode::Provider { .. } = self.mode {
            let _ = self
                .provider_call(
                    case,
                    "teardown",
                    "chat offered",
                    json!({"chatId": chat.chat_id}),
                )
                .await;
        }
    }

    // ---- provider-state ----

    /// One provider-state call, recorded. `Err` only when the request cannot be formed.
    async fn provider_call(
        &self,
        case: &Recorder,
        action: &str,
        state: &str,
        params: Value,
    ) -> Result<(Outcome, String), HarnessError> {
        let Mode::Provider { url } = &self.mode else {
            return Err(HarnessError::new(
                "internal: a provider-state call in customer-api mode",
            ));
        };
        let body = Body::Json(json!({"action": action, "state": state, "params": params}));
        let path = self.recorded_path(url);
        let req = Req {
            method: reqwest::Method::POST,
            url: url.clone(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: &body,
            timeout: self.cfg.request_timeout,
            max_body: self.cfg.max_body_bytes,
            secrets: &self.cfg.secrets,
            liveness: Some(&self.cfg.liveness),
        };
        let (_, outcome) = http::send_recorded(
            &self.http,
            req,
            Rec {
                rec: case,
                stream: "provider",
                actor: Actor::Provider,
                path: path.clone(),
                part: None,
                secret_headers: &[],
            },
        )
        .await;
        Ok((outcome, path))
    }

    /// A provider-state setup that must succeed with a JSON object (an empty body counts
    /// as `{}`).
    async fn provider(
        &self,
        case: &Recorder,
        action: &str,
        state: &str,
        params: Value,
    ) -> Result<Value, HarnessError> {
        let (outcome, path) = self.provider_call(case, action, state, params).await?;
        let what = format!("provider-state {action} {state:?} ({path})");
        match outcome {
            Outcome::Answered { status, body } if (200..300).contains(&status) => match body {
                Body::Json(v @ Value::Object(_)) => Ok(v),
                Body::Empty => Ok(Value::Object(Map::new())),
                other => Err(HarnessError::new(format!(
                    "{what}: HTTP {status} with {} (expected a JSON object)",
                    http::summary(&other)
                ))),
            },
            Outcome::Answered { status, body } if matches!(status, 404 | 501) => {
                Err(HarnessError::unsupported(format!(
                    "not observable: {what}: HTTP {status}, {} (the provider does not support this state)",
                    http::summary(&body)
                )))
            }
            Outcome::Answered { status, body } => Err(HarnessError::new(format!(
                "{what}: HTTP {status}, {}",
                http::summary(&body)
            ))),
            Outcome::NoAnswer { message, .. } => {
                Err(HarnessError::new(format!("{what}: no answer: {message}")))
            }
        }
    }

    /// The provider URL's path when it is on the target, else the whole URL.
    fn recorded_path(&self, url: &reqwest::Url) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        match url.as_str().strip_prefix(base) {
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            Some("") => "/".to_string(),
            _ => url.to_string(),
        }
    }

    // ---- customer-api ----

    fn customer_path(&self, chat: &Offered) -> Result<String, HarnessError> {
        match &chat.customer_id {
            Some(cid) => id_path("/api/v2/chats", cid),
            None => Err(HarnessError::new(format!(
                "customer-api: chat {} ({}) has no customer-side id (was it offered in another mode?)",
                chat.alias, chat.chat_id
            ))),
        }
    }

    /// A customer-api request (recorded on `"customer"`) that must answer 2xx with a JSON
    /// object whose `statusCode`, when present, is 0.
    async fn customer_ok(
        &self,
        case: &Recorder,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        op: &str,
    ) -> Result<Value, HarnessError> {
        let Mode::Customer { contact_center_id } = &self.mode else {
            return Err(HarnessError::new(
                "internal: a customer-api call in provider-state mode",
            ));
        };
        let url = http::join(&self.base, path)?;
        let body = body.map(Body::Json).unwrap_or(Body::Empty);
        let mut headers = vec![("ContactCenterId".to_string(), contact_center_id.clone())];
        if !matches!(body, Body::Empty) {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        headers.push(("Accept".into(), "application/json".into()));
        let what = format!("customer-api {op} ({method} {path} on {})", self.base);
        let req = Req {
            method,
            url,
            headers,
            body: &body,
            timeout: self.cfg.request_timeout,
            max_body: self.cfg.max_body_bytes,
            secrets: &self.cfg.secrets,
            liveness: Some(&self.cfg.liveness),
        };
        let (_, outcome) = http::send_recorded(
            &self.http,
            req,
            Rec {
                rec: case,
                stream: "customer",
                actor: Actor::Customer,
                path: path.to_string(),
                part: None,
                secret_headers: &[],
            },
        )
        .await;
        match outcome {
            Outcome::Answered { status, body } if (200..300).contains(&status) => match body {
                Body::Json(v @ Value::Object(_))
                    if v.get("statusCode").is_none_or(|c| c.as_i64() == Some(0)) =>
                {
                    Ok(v)
                }
                other => Err(HarnessError::new(format!(
                    "{what}: HTTP {status}, {}",
                    http::summary(&other)
                ))),
            },
            Outcome::Answered { status, body } => Err(HarnessError::new(format!(
                "{what}: HTTP {status}, {}",
                http::summary(&body)
            ))),
            Outcome::NoAnswer { message, .. } => {
                Err(HarnessError::new(format!("{what}: no answer: {message}")))
            }
        }
    }
}

/// The agent-side chat id of an `Invited` status change carrying `tag`, if `data` is one
/// (a non-empty string id, or a number).
fn invited_chat_id(data: &Value, tag: &str) -> Option<String> {
    let tagged = notes::is_invited_status(data) && notes::tag(data) == Some(tag);
    if !tagged {
        return None;
    }
    match notes::chat_id(data)? {
        Value::String(s) if usable_id(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The customer's view as an inspect result. The chat state is read from `chat.state` or
/// a top-level `state` (the customer chat resource's layout is not pinned down by the
/// facts sheet §2.4); messages from `messages`. `from` maps the participant type:
/// `Agent` -> "Agent", `Customer`/`Client` -> "Customer", anything else kept as sent
/// (SPEC §6.6 names only Agent and Customer).
fn customer_view(state_v: &Value, msgs_v: &Value) -> Value {
    let state = state_v
        .pointer("/chat/state")
        .or_else(|| state_v.get("state"))
        .cloned()
        .unwrap_or(Value::Null);
    let transcript: Vec<Value> = msgs_v
        .get("messages")
        .or_else(|| msgs_v.pointer("/chat/messages"))
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .map(|m| {
                    let from = match m.pointer("/from/type").and_then(Value::as_str) {
                        Some("Agent") => Value::from("Agent"),
                        Some("Customer") | Some("Client") => Value::from("Customer"),
                        Some(other) => Value::from(other),
                        None => Value::Null,
                    };
                    json!({
                        "type": m.get("type").cloned().unwrap_or(Value::Null),
                        "text": m.get("text").cloned().unwrap_or(Value::Null),
                        "from": from,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "customerSessionEnded": state.as_str() == Some("Idle"),
        "customerState": state,
        "customerTranscript": transcript,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_view_maps_state_and_participants() {
        let v = customer_view(
            &json!({"statusCode":0,"chat":{"state":"Idle"}}),
            &json!({"statusCode":0,"messages":[
                {"type":"ParticipantJoined","from":{"type":"Client","nickname":"c"}},
                {"type":"Text","text":"bye","from":{"type":"Agent"}}
            ]}),
        );
        assert_eq!(v["customerSessionEnded"], json!(true));
        assert_eq!(v["customerState"], json!("Idle"));
        assert_eq!(v["customerTranscript"][0]["from"], json!("Customer"));
        assert_eq!(
            v["customerTranscript"][1],
            json!({"type":"Text","text":"bye","from":"Agent"})
        );
        let open = customer_view(&json!({"state":"Chatting"}), &json!({}));
        assert_eq!(open["customerSessionEnded"], json!(false));
        assert_eq!(open["customerTranscript"], json!([]));
    }

    #[test]
    fn invited_tag_must_match_exactly() {
        let d = json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
            "chat":{"id":"A1","state":"Invited","userData":{"gwsConformTag":"t1"}}});
        assert!(invited_chat_id(&d, "t1").is_some());
        assert!(invited_chat_id(&d, "t2").is_none());
        let mut chatting = d.clone();
        chatting["chat"]["state"] = json!("Chatting");
        assert!(invited_chat_id(&chatting, "t1").is_none());
        assert_eq!(invited_chat_id(&d, "t1").as_deref(), Some("A1"));
        let mut numeric = d.clone();
        numeric["chat"]["id"] = json!(42);
        assert_eq!(invited_chat_id(&numeric, "t1").as_deref(), Some("42"));
        for bad in [
            json!(""),
            json!(".."),
            json!(true),
            json!(null),
            json!({"x": 1}),
        ] {
            let mut v = d.clone();
            v["chat"]["id"] = bad;
            assert_eq!(invited_chat_id(&v, "t1"), None, "{v}");
        }
    }

    #[test]
    fn bad_configuration_is_a_clear_error() {
        let cfg = TargetConfig::new("http://127.0.0.1:1").unwrap();
        let e = Provisioner::new(
            &cfg,
            Provisioning::CustomerApi {
                contact_center_id: " ".into(),
            },
        )
        .unwrap_err();
        assert!(e.message().contains("contact center id"), "{e}");
        let e = Provisioner::new(
            &cfg,
            Provisioning::ProviderState {
                url: "ftp://x/y".into(),
            },
        )
        .unwrap_err();
        assert!(e.message().contains("provider-state URL"), "{e}");
        let p = Provisioner::new(
            &cfg,
            Provisioning::ProviderState {
                url: "http://127.0.0.1:1/_provider".into(),
            },
        )
        .unwrap();
        assert_eq!(p.mode_name(), "provider-state");
    }
}
