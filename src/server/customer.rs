//! The customer chat API (`/api/v2/chats[/{id}[/messages]]`, header `ContactCenterId`):
//! RequestChat, the customer's view of the chat and transcript, SendMessage, Complete.

#![allow(clippy::result_large_err)]

use serde_json::{Map, Value, json};

use super::state::*;

impl Core {
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
        match (method, rest) {
            ("POST", []) => match body_obj(&body) {
                Ok(b) => self.request_chat(&b),
                Err(r) => r,
            },
            ("GET", [id]) => self.customer_chat(id),
            ("GET", [id, "messages"]) => self.customer_messages(id, query),
            ("POST", [id]) => match body_obj(&body) {
                Ok(b) => self.customer_op(id, &b),
                Err(r) => r,
            },
            (_, [] | [_] | [_, "messages"]) => Reply::method_not_allowed(
                match rest {
                    [] => "POST",
                    [_] => "GET, POST",
                    _ => "GET",
                },
                obj_err(3, &format!("Method {method} not allowed here")),
            ),
            _ => Reply::new(404, obj_err(6, "Resource not found")),
        }
    }

    /// `POST /api/v2/chats` with `RequestChat`: a new interaction, queued for routing.
    fn request_chat(&mut self, b: &Map<String, Value>) -> Reply {
        match b.get("operationName").and_then(Value::as_str) {
            Some("RequestChat") => {}
            Some(op) => {
                return Reply::new(200, obj_err(2, &format!("Unknown operationName {op:?}")));
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
        if self.user_data_too_large(&user_data) {
            let max = self.cfg.max_user_data_bytes;
            return Reply::new(
                200,
                obj_err(
                    10,
                    &format!("userData larger than {max} bytes (serialized)"),
                ),
            );
        }
        match self.new_interaction(nickname, subject, user_data) {
            Ok(id) => {
                self.waiting.push_back(id.clone());
                self.dispatch();
                Reply::new(
                    200,
                    json!({"statusCode": 0, "id": id, "path": format!("/chats/{id}")}),
                )
            }
            Err(()) => Reply::new(
                200,
                obj_err(
                    13,
                    "Unable to create the chat: too many chats or too much chat data held; try later",
                ),
            ),
        }
    }

    /// `GET /api/v2/chats/{id}`: the customer's view of the chat.
    fn customer_chat(&self, id: &str) -> Reply {
        let Some(i) = self.inters.get(id) else {
            return Reply::new(200, obj_err(6, "Chat not found"));
        };
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

    /// `GET /api/v2/chats/{id}/messages?index=N`: the messages with index >= N.
    fn customer_messages(&self, id: &str, query: Option<&str>) -> Reply {
        let from: u64 = match query
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("index="))
        {
            None => 0,
            Some(v) => match v.parse() {
                Ok(n) => n,
                Err(_) => {
                    return Reply::new(200, obj_err(10, "index must be a non-negative integer"));
                }
            },
        };
        let Some(i) = self.inters.get(id) else {
            return Reply::new(200, obj_err(6, "Chat not found"));
        };
        let msgs: Vec<Value> = i
            .transcript
            .iter()
            .filter(|m| m.index >= from)
            .map(Self::msg_json)
            .collect();
        Reply::new(200, json!({"statusCode": 0, "messages": msgs}))
    }

    /// `POST /api/v2/chats/{id}`: the customer's SendMessage or Complete.
    fn customer_op(&mut self, id: &str, b: &Map<String, Value>) -> Reply {
        let op = match b.get("operationName") {
            Some(Value::String(s)) => s.clone(),
            None => return Reply::new(200, obj_err(1, "Missing parameter operationName")),
            Some(_) => {
                return Reply::new(200, obj_err(10, "operationName must be a string"));
            }
        };
        let Some(state) = self.inters.get(id).map(|i| i.state) else {
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
            other => Reply::new(200, obj_err(2, &format!("Unknown operationName {other:?}"))),
        }
    }

    pub(super) fn customer_participants(&self, i: &Inter) -> Vec<Value> {
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

    pub(super) fn live_agent_chat(&self, inter: &str) -> Option<(String, usize)> {
        let i = self.inters.get(inter)?;
        let id = i.agent_chat.clone()?;
        let c = self.chats.get(&id)?;
        (c.state == ChatState::Chatting).then_some((id, c.agent))
    }

    pub(super) fn customer_says(&mut self, inter: &str, text: String) {
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

    pub(super) fn customer_leaves(&mut self, inter: &str) {
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
        self.revoke_invitation(inter);
    }

    /// A customer who leaves before any agent accepted takes the invitation back: the
    /// agent's `Invited` chat (a first offer, or a re-offer after another agent's Reject)
    /// ends `Completed` and frees the agent's room, as a GWS deployment does with an
    /// abandoned interaction.
    fn revoke_invitation(&mut self, inter: &str) {
        let Some(id) = self.inters.get(inter).and_then(|i| i.agent_chat.clone()) else {
            return;
        };
        let Some(c) = self.chats.get_mut(&id) else {
            return;
        };
        if c.state != ChatState::Invited {
            return;
        }
        c.state = ChatState::Completed;
        c.completed_at = Some(std::time::Instant::now());
        let agent = c.agent;
        self.completed
            .push_back((std::time::Instant::now(), id.clone()));
        let st = self.status_change(&id, "StatusChange", None);
        self.publish(agent, st);
        self.dispatch();
    }
}

/// The request body as a JSON object, or the reply refusing it.
fn body_obj(body: &BodyIn) -> Result<Map<String, Value>, Reply> {
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
}
