//! The chat life cycle shared by every surface: transitions (accept, reject, send,
//! leave, complete), routing of interactions to agents, and the JSON shapes of chats,
//! messages and notifications.

#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::faults::{Fault, LATE_DELAY_MS, TRUNCATE_AT_CHARS};
use super::state::*;
use super::variations::Variation;

impl Core {
    // ---------------------------------------------------------------- transitions

    pub(super) fn push_msg(
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

    pub(super) fn agent_from(&self, id: &str) -> (String, &'static str, String) {
        let c = &self.chats[id];
        (c.nickname.clone(), "Agent", c.participant_id.clone())
    }

    pub(super) fn accept(&mut self, id: &str, nickname: Option<String>) -> Reply {
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

    pub(super) fn reject(&mut self, id: &str) -> Reply {
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
        let mut reply = Reply::new(200, json!({"statusCode": 0, "referenceId": r}));
        let n = self.agents.len();
        let (no_reoffer, later) = (
            self.var(Variation::NoReoffer),
            self.var(Variation::ReofferRejected),
        );
        if let Some(i) = self.inters.get_mut(&inter_id) {
            i.rejected.push(agent);
            i.agent_chat = None;
            if i.state != CustState::Idle {
                i.state = CustState::WaitingForAgent;
                if no_reoffer {
                    // Nobody is offered it again: it waits until its customer leaves.
                    i.rejected = (0..n).collect();
                }
                if later {
                    reply.requeue.push(inter_id);
                } else {
                    self.waiting.push_front(inter_id);
                    self.dispatch();
                }
            }
        }
        reply
    }

    /// `reoffer-rejected`: a Rejected interaction's routing turn came: it is queued
    /// first and offered to a Ready agent with room (not one who rejected it).
    pub(crate) fn requeue(&mut self, inter: &str) {
        let Some(i) = self.inters.get(inter) else {
            return;
        };
        if i.state == CustState::Idle || i.agent_chat.is_some() {
            return;
        }
        if !self.waiting.iter().any(|w| w == inter) {
            self.waiting.push_front(inter.to_string());
        }
        self.dispatch();
    }

    pub(super) fn send_message(&mut self, id: &str, text: String, mt: Option<String>) -> Reply {
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

    pub(super) fn leave(&mut self, id: &str, text: Option<String>, mt: Option<String>) -> Reply {
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
    pub(super) fn transcript_full(&self, inter: &str) -> bool {
        self.inters.get(inter).is_some_and(|i| {
            i.transcript.len() >= MAX_TRANSCRIPT || i.text_bytes >= MAX_TRANSCRIPT_BYTES
        })
    }

    pub(super) fn end_customer(&mut self, inter: &str) {
        if let Some(i) = self.inters.get_mut(inter) {
            i.state = CustState::Idle;
            i.ended_at = Some(Instant::now());
        }
        self.waiting.retain(|w| w != inter);
    }

    pub(super) fn complete(
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
        let (owner, inter) = (self.chats[id].agent, self.chats[id].inter.clone());
        let to = self.complete_notified_agent(owner);
        let current = self
            .inters
            .get(&inter)
            .is_some_and(|i| i.agent_chat.as_deref() == Some(id));
        let open = current
            && self
                .inters
                .get(&inter)
                .is_some_and(|i| i.state != CustState::Idle);
        let text_note = self.complete_customer_side(id, &inter, open, text, mt, nr);
        self.complete_record(id, &inter, current, queue, save_lar);
        let status = self.completed_status(id, nr);
        let swap = self.fault(Fault::CompleteTextAfterStatus)
            || (concurrent && self.fault(Fault::CompleteReorderUnderConcurrency));
        let mut reply = Reply::new(200, json!({"statusCode": 0, "referenceId": r}));
        if self.fault(Fault::SuccessWithStatusMessage) {
            reply.body["statusMessage"] = json!("Chat completed");
        }
        if swap {
            self.emit_completed(to, &status, &mut reply);
            if let Some(n) = text_note {
                self.publish(to, n);
            }
        } else {
            if let Some(n) = text_note {
                self.publish(to, n);
            }
            self.emit_completed(to, &status, &mut reply);
        }
        if self.fault(Fault::NotifyAfterCompleted) {
            let m = self.unstored_msg(id, &inter, "ParticipantLeft", None, None);
            let n = self.new_messages(id, &[m], Some(nr));
            self.publish(to, n);
        }
        self.room_freed();
        reply
    }

    /// The agent a Complete's notifications go to (another one under a fault; with a
    /// single agent there is no other agent: the notifications then go nowhere).
    fn complete_notified_agent(&self, owner: usize) -> usize {
        if !self.fault(Fault::NotifyWrongAgent) {
            owner
        } else if self.agents.len() > 1 {
            (owner + 1) % self.agents.len()
        } else {
            usize::MAX
        }
    }

    /// An agent message of chat `id` that is not stored in the transcript, indexed as the
    /// next entry would be.
    fn unstored_msg(
        &self,
        id: &str,
        inter: &str,
        kind: &'static str,
        text: Option<String>,
        message_type: Option<String>,
    ) -> Msg {
        let (nickname, from_type, participant_id) = self.agent_from(id);
        Msg {
            index: self
                .inters
                .get(inter)
                .map_or(1, |i| i.transcript.len() as u64 + 1),
            kind,
            nickname,
            from_type,
            participant_id,
            text,
            message_type,
            timestamp: timestamp(SystemTime::now()),
        }
    }

    /// Complete's effect on the customer: its text (if any) reaches the transcript while
    /// the customer is there, and the customer's session ends. Returns the NewMessages
    /// notification of the text, if one is due.
    fn complete_customer_side(
        &mut self,
        id: &str,
        inter: &str,
        open: bool,
        text: Option<String>,
        mt: Option<String>,
        nr: u64,
    ) -> Option<Value> {
        let (nick, ty, pid) = self.agent_from(id);
        let mut text_note = None;
        if let Some(mut t) = text {
            if self.fault(Fault::LongTextTruncated) && t.chars().count() > TRUNCATE_AT_CHARS {
                t = t.chars().take(TRUNCATE_AT_CHARS).collect();
            }
            if self.fault(Fault::NonAsciiMangled) {
                t = t
                    .chars()
                    .map(|c| if (c as u32) > 0xFFFF { '\u{FFFD}' } else { c })
                    .collect();
            }
            let m = if open && !self.fault(Fault::TranscriptMissingText) {
                self.push_msg(inter, "Text", (&nick, ty, &pid), Some(t), mt)
            } else {
                // Not delivered to anyone (SPEC §6.4) but still shown to the agent.
                Some(self.unstored_msg(id, inter, "Text", Some(t), mt))
            };
            if !self.fault(Fault::CompleteTextNotNotified) {
                text_note = m.map(|m| self.new_messages(id, &[m], Some(nr)));
            }
        }
        if open && !self.fault(Fault::CustomerSessionNotEnded) {
            self.push_msg(inter, "ParticipantLeft", (&nick, ty, &pid), None, None);
            self.end_customer(inter);
        }
        text_note
    }

    /// Records queueName / saveLAR and marks the chat Completed.
    fn complete_record(
        &mut self,
        id: &str,
        inter: &str,
        current: bool,
        queue: Option<String>,
        save_lar: bool,
    ) {
        let user = self.agents[self.chats[id].agent].user.clone();
        let fault = self.cfg.fault;
        if let Some(i) = self.inters.get_mut(inter) {
            if let Some(q) = queue
                && fault != Some(Fault::QueueIgnored)
            {
                i.queue = Some(q);
            }
            if save_lar && fault != Some(Fault::SaveLarIgnored) {
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
    }

    /// The StatusChange to Completed (misshapen under some faults).
    fn completed_status(&self, id: &str, nr: u64) -> Value {
        let mut status = self.status_change(id, "StatusChange", Some(nr));
        if self.fault(Fault::StatusUriWrong) {
            status["chat"]["uri"] =
                json!(format!("{}/api/v2/interactions/{id}", self.cfg.base_url));
        }
        if self.fault(Fault::StatusStateLowercase) {
            status["chat"]["state"] = json!("completed");
        }
        status
    }

    /// Publishes the StatusChange to Completed (or not, late, twice: per fault).
    fn emit_completed(&mut self, to: usize, status: &Value, reply: &mut Reply) {
        if self.fault(Fault::CompleteNoStatusChange) {
            return;
        }
        if self.fault(Fault::CompleteStatusLate) {
            reply.deferred.push(Deferred {
                delay_ms: LATE_DELAY_MS,
                agent: to,
                data: status.clone(),
            });
            return;
        }
        self.publish(to, status.clone());
        if self.fault(Fault::CompleteStatusDuplicated) {
            self.publish(to, status.clone());
        }
    }

    // ---------------------------------------------------------------- routing

    /// Bytes held for customer chats: transcript text plus userData.
    pub(super) fn customer_bytes(&self) -> usize {
        self.inters
            .values()
            .map(|i| i.text_bytes + i.user_data_bytes)
            .sum()
    }

    /// Whether a userData value is too large (serialized) to accept.
    pub(super) fn user_data_too_large(&self, v: &Value) -> bool {
        v.to_string().len() > self.cfg.max_user_data_bytes
    }

    /// The agent's open chats (Invited, Chatting or LeftChat).
    pub(super) fn open_chats(&self, agent: usize) -> usize {
        self.chats
            .values()
            .filter(|c| c.agent == agent && c.state != ChatState::Completed)
            .count()
    }

    /// Whether the agent may get one more chat under the capacity rule.
    pub(super) fn has_room(&self, agent: usize) -> bool {
        self.cfg
            .capacity
            .is_none_or(|cap| self.open_chats(agent) < cap)
    }

    /// A chat closed or was dropped: under a capacity rule, queued interactions may now
    /// be offered (first come, first served).
    pub(super) fn room_freed(&mut self) {
        if self.cfg.capacity.is_some() {
            self.dispatch();
        }
    }

    /// One step of the customers' typing (`typing` option): in every Chatting chat whose
    /// customer is still there, the customer starts or stops typing, and the agent gets
    /// a `NewMessages` of type `TypingStarted` or `TypingStopped`. Typing notices are not
    /// kept in the transcript (they would fill it).
    pub(crate) fn typing_tick(&mut self) {
        let mut live: Vec<(String, String)> = self
            .chats
            .iter()
            .filter(|(_, c)| c.state == ChatState::Chatting)
            .map(|(id, c)| (id.clone(), c.inter.clone()))
            .collect();
        live.sort();
        for (id, inter) in live {
            let Some(i) = self.inters.get_mut(&inter) else {
                continue;
            };
            if i.state == CustState::Idle || i.agent_chat.as_deref() != Some(id.as_str()) {
                continue;
            }
            i.typing = !i.typing;
            let m = Msg {
                index: i.transcript.len() as u64,
                kind: if i.typing {
                    "TypingStarted"
                } else {
                    "TypingStopped"
                },
                nickname: i.nickname.clone(),
                from_type: "Customer",
                participant_id: i.customer_pid.clone(),
                text: None,
                message_type: None,
                timestamp: timestamp(SystemTime::now()),
            };
            let agent = self.chats[&id].agent;
            let n = self.new_messages(&id, &[m], None);
            self.publish(agent, n);
        }
    }

    pub(super) fn new_interaction(
        &mut self,
        nickname: String,
        subject: String,
        user_data: Value,
    ) -> Result<String, ()> {
        let user_data_bytes = user_data.to_string().len();
        if self.inters.len() >= self.cfg.max_customer_chats
            || self.customer_bytes().saturating_add(user_data_bytes) > self.cfg.max_customer_bytes
        {
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
            typing: false,
            user_data_bytes,
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
    pub(super) fn dispatch(&mut self) {
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
                .find(|a| self.agents[*a].ready && !i.rejected.contains(a) && self.has_room(*a));
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

    pub(super) fn offer(&mut self, inter: &str, agent: usize) -> String {
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

    pub(super) fn participants(&self, c: &AgentChat) -> Vec<Value> {
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

    pub(super) fn chat_json(&self, id: &str, c: &AgentChat) -> Value {
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

    pub(super) fn status_change(&self, id: &str, kind: &str, reference: Option<u64>) -> Value {
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

    pub(super) fn msg_json(m: &Msg) -> Value {
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

    pub(super) fn new_messages(&self, id: &str, msgs: &[Msg], reference: Option<u64>) -> Value {
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
}
