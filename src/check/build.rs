//! A small builder for hand-written histories (checker tests, fixtures, other modules'
//! tests). It stamps `seq`, `stream_seq`, `in_step` and a manual clock the way the
//! [`crate::history::Recorder`] does, without a runtime.

use crate::history::{
    Actor, AuthVariant, BayeuxEvent, Body, ChatRef, Event, EventKind, History, NoResponseKind, Step,
};
use crate::spec::ReqId;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Builds a [`History`] event by event. Times are set by hand ([`HistoryBuilder::advance_ms`]).
#[derive(Debug, Default, Clone)]
pub struct HistoryBuilder {
    events: Vec<Event>,
    t_us: u64,
    step: Option<usize>,
    next_step: usize,
    next_req: u64,
    stream_seqs: HashMap<String, u64>,
}

impl HistoryBuilder {
    /// An empty history at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance_ms(&mut self, ms: u64) -> &mut Self {
        self.t_us += ms * 1000;
        self
    }

    /// Appends an event on `stream`; returns its seq.
    pub fn push(&mut self, stream: &str, kind: EventKind) -> u64 {
        let seq = self.events.len() as u64;
        let ss = self.stream_seqs.entry(stream.to_string()).or_insert(0);
        let stream_seq = *ss;
        *ss += 1;
        self.events.push(Event {
            seq,
            t_us: self.t_us,
            stream: stream.into(),
            stream_seq,
            in_step: self.step,
            kind,
            notes: Vec::new(),
        });
        seq
    }

    /// `Case` event.
    pub fn case(&mut self, id: &str, exercises: &[ReqId]) -> &mut Self {
        self.push(
            "runner",
            EventKind::Case {
                id: id.into(),
                seed: 1,
                exercises: exercises.to_vec(),
            },
        );
        self
    }

    /// `Session` event.
    pub fn session(&mut self, agent: &str, csrf: bool) -> &mut Self {
        self.push(
            "runner",
            EventKind::Session {
                agent: agent.into(),
                csrf,
            },
        );
        self
    }

    /// Starts the next step (index auto-increments); later events carry it in `in_step`.
    pub fn step(&mut self, step: Step) -> usize {
        let index = self.next_step;
        self.next_step += 1;
        self.step = Some(index);
        self.push("runner", EventKind::Step { index, step });
        index
    }

    /// `OfferChat` step, its `Bind`, and the `Invited` notification to the owner.
    pub fn offer(&mut self, alias: &str, agent: &str, chat_id: &str) -> &mut Self {
        self.step(Step::OfferChat {
            chat: alias.into(),
            agent: agent.into(),
        });
        self.push(
            "provider",
            EventKind::Bind {
                alias: alias.into(),
                agent: agent.into(),
                chat_id: chat_id.into(),
                customer_chat_id: None,
            },
        );
        self.advance_ms(5);
        self.notify(agent, status_change(chat_id, "Invited"));
        self
    }

    /// An `AgentPost` step by the owner with normal auth; returns the request id.
    pub fn post(&mut self, alias: &str, agent: &str, chat_id: &str, body: Value) -> u64 {
        self.post_with(
            ChatRef::Alias(alias.into()),
            false,
            AuthVariant::Normal,
            agent,
            chat_id,
            Body::Json(body),
        )
    }

    /// An `AgentPost` step with every knob; returns the request id.
    pub fn post_with(
        &mut self,
        chat: ChatRef,
        by_other_agent: bool,
        auth: AuthVariant,
        agent: &str,
        chat_id: &str,
        body: Body,
    ) -> u64 {
        self.step(Step::AgentPost {
            chat,
            by_other_agent,
            auth,
            body: body.clone(),
        });
        self.request(agent, chat_id, body, None)
    }

    /// A `Request` event (agent actor); returns the request id.
    pub fn request(&mut self, agent: &str, chat_id: &str, body: Body, part: Option<usize>) -> u64 {
        self.next_req += 1;
        let req = self.next_req;
        self.push(
            &format!("rest:{agent}"),
            EventKind::Request {
                req,
                actor: Actor::Agent(agent.into()),
                method: "POST".into(),
                path: format!("/api/v2/me/chats/{chat_id}"),
                headers: vec![],
                body,
                part,
            },
        );
        req
    }

    /// A `Response` with a JSON body, 10 ms after the request.
    pub fn respond(&mut self, req: u64, status: u16, body: Value) -> u64 {
        self.respond_body(req, status, Body::Json(body))
    }

    /// A `Response` with any body, 10 ms later.
    pub fn respond_body(&mut self, req: u64, status: u16, body: Body) -> u64 {
        self.advance_ms(10);
        self.push(
            "rest",
            EventKind::Response {
                req,
                status,
                body,
                elapsed_us: 10_000,
            },
        )
    }

    /// A `NoResponse` (timeout after 5 s).
    pub fn no_response(&mut self, req: u64) -> u64 {
        self.advance_ms(5000);
        self.push(
            "rest",
            EventKind::NoResponse {
                req,
                kind: NoResponseKind::Timeout,
                message: "no answer within 5 s".into(),
                elapsed_us: 5_000_000,
            },
        )
    }

    /// A `/v2/me/chats` notification to `agent`, 5 ms later.
    pub fn notify(&mut self, agent: &str, data: Value) -> u64 {
        self.advance_ms(5);
        self.push(
            &format!("bayeux:{agent}"),
            EventKind::Notification {
                agent: agent.into(),
                channel: "/v2/me/chats".into(),
                data,
            },
        )
    }

    /// A Bayeux event of `agent`.
    pub fn bayeux(&mut self, agent: &str, event: BayeuxEvent) -> u64 {
        self.push(
            &format!("bayeux:{agent}"),
            EventKind::Bayeux {
                agent: agent.into(),
                event,
            },
        )
    }

    /// An `Inspect` step and its answer.
    pub fn inspect(&mut self, alias: &str, result: Option<Value>) -> u64 {
        self.step(Step::Inspect { chat: alias.into() });
        let reason = result
            .is_none()
            .then(|| "provider answered 501".to_string());
        self.push(
            "provider",
            EventKind::Inspect {
                alias: alias.into(),
                result,
                reason,
            },
        )
    }

    /// A `Settle` step and a quiet mark after the quiet window.
    pub fn settle(&mut self) -> u64 {
        self.step(Step::Settle);
        self.advance_ms(1000);
        self.push(
            "runner",
            EventKind::Quiet {
                waited_ms: 1000,
                quiet_ms: 1000,
                reached_quiet: true,
            },
        )
    }

    /// A `Settle` step that ran into the deadline (`waited_ms`).
    pub fn settle_deadline(&mut self, waited_ms: u64) -> u64 {
        self.step(Step::Settle);
        self.advance_ms(waited_ms);
        self.push(
            "runner",
            EventKind::Quiet {
                waited_ms,
                quiet_ms: 1000,
                reached_quiet: false,
            },
        )
    }

    /// A `HarnessError` in the current step.
    pub fn harness_error(&mut self, message: &str) -> u64 {
        self.push(
            "runner",
            EventKind::HarnessError {
                message: message.into(),
            },
        )
    }

    /// A `NotObservable` in the current step.
    pub fn not_observable(&mut self, message: &str) -> u64 {
        self.push(
            "runner",
            EventKind::NotObservable {
                message: message.into(),
            },
        )
    }

    /// The history built so far.
    pub fn build(&self) -> History {
        History {
            events: self.events.clone(),
        }
    }
}

/// `data` of a `StatusChange` to `state` for chat `id` (with a conforming `uri`).
pub fn status_change(id: &str, state: &str) -> Value {
    json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
           "chat":{"id":id,"state":state,"uri":format!("http://gws/api/v2/chats/{id}")}})
}

/// `data` of a `NewMessages` for chat `id` with one `Text` message from `from_type`.
pub fn new_messages(id: &str, text: &str, from_type: &str) -> Value {
    json!({"messageType":"MessageLogUpdated","notificationType":"NewMessages",
           "chatUri":format!("http://gws/api/v2/chats/{id}"),
           "messages":[{"index":1,"type":"Text","text":text,
                        "from":{"nickname":"n","type":from_type,"participantId":"p"},
                        "visibility":"All","timestamp":"2026-01-01 00:00:00.000+0000"}]})
}
