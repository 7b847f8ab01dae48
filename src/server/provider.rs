//! `POST /conformance/provider-state` (SPEC §1.5 mode 2, §6.6): setup, inspect and
//! teardown of provider states. A test-deployment endpoint: it takes no authentication.

#![allow(clippy::result_large_err)]

use serde_json::{Map, Value, json};

use super::TranscriptForm;
use super::state::*;

/// A provider-state refusal: HTTP 400 with `{"error": "FIELD: WHY"}`.
fn bad(field: &str, why: &str) -> Reply {
    Reply::new(400, json!({"error": format!("{field}: {why}")}))
}

/// The string parameter `name`, or the refusal naming it.
fn param_str(params: &Map<String, Value>, name: &str) -> Result<String, Reply> {
    match params.get(name) {
        Some(Value::String(v)) => Ok(v.clone()),
        None => Err(bad(&format!("params.{name}"), "missing")),
        Some(_) => Err(bad(&format!("params.{name}"), "must be a string")),
    }
}

impl Core {
    /// Serves `POST /conformance/provider-state` (SPEC §1.5 mode 2, §6.6). A
    /// test-deployment endpoint: it takes no authentication.
    pub(crate) fn provider_state(&mut self, body: BodyIn) -> Reply {
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
        let action = match b.get("action") {
            Some(Value::String(a)) => a.clone(),
            None => return bad("action", "missing"),
            Some(_) => return bad("action", "must be a string"),
        };
        let state = b.get("state").and_then(Value::as_str).unwrap_or("");
        let result = match action.as_str() {
            "setup" => match state {
                "chat offered" => self.ps_chat_offered(params),
                "customer sends message" | "customer leaves" => self.ps_customer(state, params),
                other => Ok(Reply::new(
                    501,
                    json!({"error": format!("state: unsupported provider state {other:?}")}),
                )),
            },
            "inspect" => self.ps_inspect(params),
            "teardown" => self.ps_teardown(params),
            other => Err(bad(
                "action",
                &format!("unknown action {other:?} (setup, teardown, inspect)"),
            )),
        };
        result.unwrap_or_else(|r| r)
    }

    fn chat_inter(&self, chat: &str) -> Option<String> {
        self.chats.get(chat).map(|c| c.inter.clone())
    }

    /// setup `chat offered`: a new interaction offered to the named agent.
    fn ps_chat_offered(&mut self, params: &Map<String, Value>) -> Result<Reply, Reply> {
        let user = param_str(params, "agent")?;
        let nickname = param_str(params, "nickname")?;
        let Some(agent) = self.agents.iter().position(|a| a.user == user) else {
            return Err(bad("params.agent", &format!("no agent named {user:?}")));
        };
        let user_data = match params.get("userData") {
            None => json!({}),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(bad("params.userData", "must be an object")),
        };
        if self.user_data_too_large(&user_data) {
            let max = self.cfg.max_user_data_bytes;
            return Err(bad(
                "params.userData",
                &format!("larger than {max} bytes (serialized)"),
            ));
        }
        if !self.has_room(agent) {
            return Ok(Reply::new(
                409,
                json!({"error": format!(
                    "params.agent: agent {user:?} is at capacity ({} open chats): retry later",
                    self.open_chats(agent)
                )}),
            ));
        }
        let Ok(inter) = self.new_interaction(nickname, "conformance".into(), user_data) else {
            return Ok(Reply::new(503, json!({"error": "too many chats"})));
        };
        let id = self.offer(&inter, agent);
        Ok(Reply::new(200, json!({"chatId": id})))
    }

    /// setup `customer sends message` / `customer leaves` on an open chat.
    fn ps_customer(&mut self, state: &str, params: &Map<String, Value>) -> Result<Reply, Reply> {
        let chat = param_str(params, "chatId")?;
        let Some(inter) = self.chat_inter(&chat) else {
            return Err(bad("params.chatId", &format!("unknown chat {chat:?}")));
        };
        let open = self
            .inters
            .get(&inter)
            .is_some_and(|i| i.state != CustState::Idle);
        if !open {
            return Ok(Reply::new(
                409,
                json!({"error": "params.chatId: the customer's session has ended"}),
            ));
        }
        if state == "customer leaves" {
            self.customer_leaves(&inter);
        } else {
            let text = param_str(params, "text")?;
            if self.transcript_full(&inter) {
                return Ok(Reply::new(
                    409,
                    json!({"error": "params.chatId: the chat transcript is full"}),
                ));
            }
            self.customer_says(&inter, text);
        }
        Ok(Reply::new(200, json!({})))
    }

    /// inspect: queue, last agent, whether the customer's session ended, its transcript.
    fn ps_inspect(&self, params: &Map<String, Value>) -> Result<Reply, Reply> {
        let chat = param_str(params, "chatId")?;
        let Some(i) = self.chat_inter(&chat).and_then(|x| self.inters.get(&x)) else {
            return Ok(Reply::new(
                404,
                json!({"error": format!("params.chatId: unknown chat {chat:?}")}),
            ));
        };
        let transcript: Vec<Value> = i
            .transcript
            .iter()
            .map(|m| self.transcript_entry(m))
            .collect();
        Ok(Reply::new(
            200,
            json!({
                "queue": i.queue, "lastAgent": i.last_agent,
                "customerSessionEnded": i.state == CustState::Idle,
                "customerTranscript": transcript,
            }),
        ))
    }

    /// One `customerTranscript` entry, in the configured form (SPEC §6.6).
    fn transcript_entry(&self, m: &Msg) -> Value {
        let text = m.text.clone().unwrap_or_default();
        match self.cfg.transcript_form {
            TranscriptForm::Plain => {
                let from = if m.from_type == "Agent" {
                    "Agent"
                } else {
                    "Customer"
                };
                json!({"type": m.kind, "text": text, "from": from})
            }
            TranscriptForm::Gws => {
                let ty = if m.from_type == "Customer" {
                    "Client"
                } else {
                    m.from_type
                };
                json!({"type": m.kind, "text": text, "from": {
                    "nickname": m.nickname, "participantId": m.participant_id, "type": ty,
                }})
            }
        }
    }

    /// teardown: forgets the chat's interaction (no chatId: nothing to do).
    fn ps_teardown(&mut self, params: &Map<String, Value>) -> Result<Reply, Reply> {
        let chat = match params.get("chatId") {
            None | Some(Value::Null) => return Ok(Reply::new(200, json!({}))),
            Some(Value::String(c)) => c.clone(),
            Some(_) => return Err(bad("params.chatId", "must be a string")),
        };
        if let Some(inter) = self.chat_inter(&chat) {
            self.chats.retain(|_, c| c.inter != inter);
            self.inters.remove(&inter);
            self.waiting.retain(|w| *w != inter);
            self.room_freed();
        }
        Ok(Reply::new(200, json!({})))
    }
}
