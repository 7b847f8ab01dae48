//! The agent API (`/api/v2/me…`): Basic authentication on every request, the
//! `JSESSIONID` session, CSRF, Ready/NotReady, `me` and the chat operations
//! (Accept, Reject, SendMessage, Leave, Complete) with their parameter checks.

#![allow(clippy::result_large_err)]

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::faults::Fault;
use super::state::*;

impl Core {
    // ---------------------------------------------------------------- sessions & auth

    pub(super) fn decode_basic(&self, authorization: Option<&str>) -> Option<usize> {
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

    pub(super) fn unauthenticated() -> Reply {
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
    pub(super) fn authenticate(
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
        // Fault: valid Basic credentials let the cookie's session decide who acts.
        let agent = match session.and_then(|s| self.sessions.get(s)) {
            Some(s) if self.fault(Fault::CookieOverBasic) => s.agent,
            _ => agent,
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

    /// Whether `token` is a CSRF token of any live session (the `csrf-any-session`
    /// fault's check).
    fn issued_csrf(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| self.sessions.values().any(|s| s.csrf.0 == t))
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

    pub(super) fn agent_api_inner(
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
            && !(self.fault(Fault::CsrfAnySession) && self.issued_csrf(req.csrf))
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
                    [_, id] => {
                        self.chat_op(agent, id, &op, b, req.concurrent_completes, req.stale_state)
                    }
                    _ => self.err(6, "Resource not found"),
                }
            }
            (_, [] | ["channels", "chat"] | ["chats"] | ["chats", _]) => {
                let allow = match rest {
                    [] | ["chats", _] => "GET, POST",
                    ["chats"] => "GET",
                    _ => "POST",
                };
                Reply::method_not_allowed(
                    allow,
                    obj_err(3, &format!("Method {m} not allowed here")),
                )
            }
            _ => Reply::new(404, obj_err(6, "Resource not found")),
        }
    }

    pub(super) fn unknown_op(&self, op: &str) -> Reply {
        if self.fault(Fault::UnknownOperationStatus4) {
            return self.err(4, &format!("Internal error processing {op}"));
        }
        self.err(2, &format!("Unknown or unsupported operationName {op:?}"))
    }

    pub(super) fn user_json(&self, agent: usize) -> Value {
        let a = &self.agents[agent];
        json!({
            "id": a.id, "userName": a.user, "firstName": a.user, "lastName": "Conform",
            "roles": ["ROLE_AGENT"], "enabled": true, "changePasswordOnFirstLogin": false,
            "uri": format!("{}/api/v2/users/{}", self.cfg.base_url, a.id),
            "path": format!("/users/{}", a.id),
        })
    }

    pub(super) fn me_op(&mut self, op: &str, b: &Map<String, Value>) -> Reply {
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

    pub(super) fn channel_op(&mut self, agent: usize, op: &str) -> Reply {
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
    pub(super) fn text_params(
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
            && !(complete
                && self.fault(Fault::TreatAsCaseInsensitive)
                && (t.eq_ignore_ascii_case("Normal") || t.eq_ignore_ascii_case("System")))
        {
            return Err(self.err(10, "treatAs must be Normal or System"));
        }
        Ok((text, mt))
    }

    pub(super) fn chat_op(
        &mut self,
        agent: usize,
        id: &str,
        op: &str,
        b: &Map<String, Value>,
        concurrent: bool,
        stale_state: Option<ChatState>,
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
            // `double-complete-race`: the state check uses the read made before the
            // Complete's await (`stale_state` is only set under that fault).
            _ => self.complete_op(id, stale_state.unwrap_or(state), b, concurrent),
        }
    }

    /// What a Complete refused for its parameters still does to the customer side under
    /// `refused-complete-ends-customer-session` (the session ends) and
    /// `refused-complete-posts-text` (its text reaches the transcript); silently, with no
    /// notification.
    fn refused_complete_side_effects(
        &mut self,
        id: &str,
        state: ChatState,
        b: &Map<String, Value>,
    ) {
        if state != ChatState::Chatting {
            return;
        }
        let Some(inter) = self.chats.get(id).map(|c| c.inter.clone()) else {
            return;
        };
        if self.fault(Fault::RefusedCompletePostsText)
            && let Some(Value::String(t)) = b.get("text")
        {
            let (nick, ty, pid) = self.agent_from(id);
            let _ = self.push_msg(&inter, "Text", (&nick, ty, &pid), Some(t.clone()), None);
        }
        if self.fault(Fault::RefusedCompleteEndsCustomerSession) {
            self.end_customer(&inter);
        }
    }

    /// The state of chat `id`, if it exists (the `double-complete-race` fault's read).
    pub(super) fn chat_state(&self, id: &str) -> Option<ChatState> {
        self.chats.get(id).map(|c| c.state)
    }

    pub(super) fn complete_op(
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
                Some(Value::String(s))
                    if self.fault(Fault::SaveLarStringAccepted)
                        && (s == "true" || s == "false") =>
                {
                    s == "true"
                }
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
                self.refused_complete_side_effects(id, state, b);
                return r;
            }
        };
        let customer_left = self
            .chats
            .get(id)
            .and_then(|c| self.inters.get(&c.inter))
            .is_some_and(|i| {
                i.transcript
                    .iter()
                    .any(|m| m.kind == "ParticipantLeft" && m.from_type == "Customer")
            });
        let allowed = match state {
            ChatState::Chatting => {
                !(customer_left && self.fault(Fault::CompleteAfterCustomerLeftRefused))
            }
            ChatState::LeftChat => {
                !(self.fault(Fault::LeftChatCompleteRefused)
                    || (customer_left
                        && self.fault(Fault::CompleteAfterCustomerLeftInLeftChatRefused)))
            }
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
        let queue = if text.is_some() && self.fault(Fault::QueueIgnoredWithText) {
            None
        } else {
            queue
        };
        self.complete(id, queue, save_lar, text, mt, concurrent)
    }
}
