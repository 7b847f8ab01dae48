//! Judging one case history (SPEC §3) by replaying its steps through the model.
//!
//! Choices where the SPEC is silent (each is documented where it is made):
//! - "Nothing changed" after a refusal (CMP-17, CMP-21, SES-01/02) is judged on the
//!   notifications for the chat from the refusal until the next step that acts on that
//!   chat (or the end of the case). Only notifications the refusal can have caused count:
//!   one carrying the refusal's `referenceId`, a `StatusChange` to a state the chat has
//!   never been in (or a second `Completed`), an `Error` notification, or a `NewMessages`
//!   with the refused Complete's text. Late echoes of earlier steps (an `Invited`,
//!   `Chatting` or `ParticipantsUpdated` that arrives after the refusal) are not the
//!   refusal's doing.
//! - A refused agent answer is HTTP 4xx, or a JSON `statusCode` ≠ 0 under HTTP < 500;
//!   5xx and statusCode 4 (internal error) are never a proper refusal (SPEC §6.3).
//! - Preferred statusCodes (SHOULD) fail a SHOULD row; on a MUST row (CMP-09) they only
//!   annotate the Pass, since the row's MUST is "refused".
//! - A setup operation (Accept, Leave, …) refused where the model expects success leaves
//!   the case unable to reach its state: the case's exercises get Error and the chat is
//!   no longer judged (unless it was the follow-up of a refused Complete: CMP-17 Fail).

use super::notes::Note;
use super::{CheckConfig, Finding, Shapes, Verdict, Witness};
use crate::history::{Actor, AuthVariant, Body, ChatRef, Event, EventKind, Step};
use crate::model::{self, ChatState, Classified, CompleteParams, Operation};
use crate::spec::Level;
use crate::spec::ReqId;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct ChatSt {
    owner: String,
    id: String,
    /// `None`: indeterminate (no answer, harness error): the chat is not judged further.
    state: Option<ChatState>,
    customer_present: bool,
    /// seq of the first `Completed` notification, once the chat completed.
    completed_note: Option<u64>,
    /// A refused Complete whose follow-up operation decides the rest of CMP-17:
    /// (request seq, response seq).
    pending17: Option<(u64, u64)>,
    /// Every state the chat has been in: a late `StatusChange` to one of them is an
    /// echo of an earlier step, not the doing of a later refusal.
    seen: Vec<ChatState>,
}

/// What a successful-by-model Complete produced, for CMP-20.
struct CompleteResult {
    ok: bool,
    completed_count: usize,
    order_ok: bool,
    events: Vec<u64>,
    chat: String,
}

struct Ans<'a> {
    seq: u64,
    t_us: u64,
    status: u16,
    json: Option<&'a Value>,
    code: Option<i64>,
}

impl Ans<'_> {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status) && self.code == Some(0)
    }
    fn refused(&self) -> bool {
        (400..500).contains(&self.status)
            || (self.status < 500 && self.code.is_some_and(|c| c != 0))
    }
    fn bad(&self) -> bool {
        self.status >= 500 || self.code == Some(4)
    }
    fn describe(&self) -> String {
        match (self.code, self.json) {
            (Some(c), _) => format!("HTTP {} statusCode {c}", self.status),
            (None, Some(_)) => format!("HTTP {} JSON without statusCode", self.status),
            (None, None) => format!("HTTP {} non-JSON body", self.status),
        }
    }
}

struct Ctx<'a> {
    ev: &'a [Event],
    cfg: &'a CheckConfig,
    shapes: &'a dyn Shapes,
    out: Vec<Finding>,
    exercises: Vec<ReqId>,
    csrf: bool,
    chats: HashMap<String, ChatSt>,
    /// Notifications by chat id.
    by_chat: &'a HashMap<String, Vec<Note<'a>>>,
    /// First agent request per (step index, part): position in `ev`.
    reqs: HashMap<(usize, Option<usize>), usize>,
    /// Answers (Response/NoResponse) per request id: positions in `ev`.
    answers: HashMap<u64, Vec<usize>>,
    /// First harness error per step index: (message, seq, not observable).
    harness: HashMap<usize, (&'a str, u64, bool)>,
    /// Positions of `Inspect` events.
    inspects: Vec<usize>,
    /// (position in `ev`, seq, step index, step) of every `Step` event.
    steps: Vec<(usize, u64, usize, &'a Step)>,
}

fn secs(us: u64) -> String {
    format!("{:.1} s", us as f64 / 1e6)
}

fn w(expected: impl Into<String>, observed: impl Into<String>, events: Vec<u64>) -> Witness {
    let mut events = events;
    events.sort_unstable();
    events.dedup();
    Witness {
        expected: expected.into(),
        observed: observed.into(),
        events,
    }
}

/// True when `step` acts on chat `alias` (an agent post, or a customer event).
fn acts_on(step: &Step, alias: &str) -> bool {
    match step {
        Step::AgentPost {
            chat: ChatRef::Alias(a),
            ..
        } => a == alias,
        Step::CustomerSends { chat, .. } | Step::CustomerLeaves { chat } => chat == alias,
        Step::Concurrent { steps } => steps.iter().any(|s| acts_on(s, alias)),
        _ => false,
    }
}

pub(crate) fn judge_case(ev: &[Event], cfg: &CheckConfig, shapes: &dyn Shapes) -> Vec<Finding> {
    let mut by_chat: HashMap<String, Vec<Note>> = HashMap::new();
    for n in ev.iter().filter_map(Note::from_event) {
        if let Some(id) = n.chat_id.clone() {
            by_chat.entry(id).or_default().push(n);
        }
    }
    let mut cx = Ctx {
        ev,
        cfg,
        shapes,
        out: vec![],
        exercises: vec![],
        csrf: false,
        chats: HashMap::new(),
        by_chat: &by_chat,
        reqs: HashMap::new(),
        answers: HashMap::new(),
        harness: HashMap::new(),
        inspects: vec![],
        steps: vec![],
    };
    for (pos, e) in ev.iter().enumerate() {
        match &e.kind {
            EventKind::Case { exercises, .. } => cx.exercises = exercises.clone(),
            EventKind::Session { csrf: true, .. } => cx.csrf = true,
            EventKind::Step { index, step } => cx.steps.push((pos, e.seq, *index, step)),
            EventKind::Request {
                actor: Actor::Agent(_),
                part,
                ..
            } => {
                if let Some(i) = e.in_step {
                    cx.reqs.entry((i, *part)).or_insert(pos);
                }
            }
            EventKind::Inspect { .. } => cx.inspects.push(pos),
            EventKind::Response { req, .. } | EventKind::NoResponse { req, .. } => {
                cx.answers.entry(*req).or_default().push(pos);
            }
            EventKind::HarnessError { message } if e.in_step.is_some() => {
                if let Some(i) = e.in_step {
                    cx.harness
                        .entry(i)
                        .or_insert((message.as_str(), e.seq, false));
                }
            }
            EventKind::NotObservable { message } => {
                if let Some(i) = e.in_step {
                    cx.harness
                        .entry(i)
                        .or_insert((message.as_str(), e.seq, true));
                } else {
                    cx.skip_exercised(message);
                }
            }
            EventKind::HarnessError { message } if e.in_step.is_none() => {
                cx.error_exercised(&format!("harness error: {message}"));
            }
            _ => {}
        }
    }
    for k in 0..cx.steps.len() {
        let (pos, _, index, step) = cx.steps[k];
        cx.run_step(pos, index, step);
    }
    cx.check_cmp18();
    cx.check_ntf01();
    cx.finish_pending17();
    compress(cx.out, &cx.exercises)
}

/// Per requirement: every Fail; else every Error; else one Pass; else one Skip. Then a
/// Skip for each target the history never exercised. Catalogue order.
fn compress(all: Vec<Finding>, exercises: &[ReqId]) -> Vec<Finding> {
    let mut out = vec![];
    let mut ids: Vec<ReqId> = ReqId::ALL.to_vec();
    for f in &all {
        if !ids.contains(&f.req) {
            ids.push(f.req);
        }
    }
    for id in ids {
        let of: Vec<&Finding> = all.iter().filter(|f| f.req == id).collect();
        let pick = |v: Verdict| of.iter().filter(move |f| f.verdict == v).cloned().cloned();
        let fails: Vec<Finding> = pick(Verdict::Fail).collect();
        if !fails.is_empty() {
            out.extend(fails);
            continue;
        }
        let errors: Vec<Finding> = pick(Verdict::Error).collect();
        if !errors.is_empty() {
            out.extend(errors);
            continue;
        }
        if let Some(p) = pick(Verdict::Pass).next() {
            out.push(p);
        } else if let Some(s) = pick(Verdict::Skip).next() {
            out.push(s);
        } else if exercises.contains(&id) {
            out.push(Finding::skip(
                id,
                "not exercised: the recorded history never reached a point where it applies",
            ));
        }
    }
    out
}

impl<'a> Ctx<'a> {
    fn push(&mut self, f: Finding) {
        self.out.push(f);
    }

    fn error_exercised(&mut self, reason: &str) {
        for t in self.exercises.clone() {
            self.out.push(Finding::error(t, reason));
        }
    }

    /// The exercises of a case the target cannot show: Skip with the reason (SPEC §1.5).
    fn skip_exercised(&mut self, reason: &str) {
        for t in self.exercises.clone() {
            self.out.push(Finding::skip(t, reason));
        }
    }

    fn step_harness_error(&self, index: usize) -> Option<(&'a str, u64, bool)> {
        self.harness.get(&index).copied()
    }

    fn chat_notes(&self, id: &str) -> &'a [Note<'a>] {
        let m: &'a HashMap<String, Vec<Note<'a>>> = self.by_chat;
        m.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    fn run_step(&mut self, pos: usize, index: usize, step: &'a Step) {
        if let Some((msg, _, not_observable)) = self.step_harness_error(index) {
            if not_observable {
                self.skip_exercised(&format!("step {index}: {msg}"));
            } else {
                self.error_exercised(&format!("harness error in step {index}: {msg}"));
            }
            // The chats this step touched are no longer judged.
            for (alias, c) in self.chats.iter_mut() {
                if acts_on(step, alias) || matches!(step, Step::Inspect { chat } if chat == alias) {
                    c.state = None;
                }
            }
            if let Step::OfferChat { chat, agent } = step {
                self.chats.insert(
                    chat.clone(),
                    ChatSt {
                        owner: agent.clone(),
                        id: String::new(),
                        state: None,
                        customer_present: true,
                        completed_note: None,
                        pending17: None,
                        seen: vec![ChatState::Invited],
                    },
                );
            }
            return;
        }
        match step {
            Step::OfferChat { chat, agent } => {
                let bind = self.ev[pos..].iter().find_map(|e| match &e.kind {
                    EventKind::Bind {
                        alias,
                        agent,
                        chat_id,
                        ..
                    } if alias == chat => Some((agent.clone(), chat_id.clone())),
                    _ => None,
                });
                let (owner, id, state) = match bind {
                    Some((a, id)) => (a, id, Some(ChatState::Invited)),
                    None => {
                        self.error_exercised(&format!(
                            "step {index}: chat {chat:?} was offered but never bound to an id"
                        ));
                        (agent.clone(), String::new(), None)
                    }
                };
                self.chats.insert(
                    chat.clone(),
                    ChatSt {
                        owner,
                        id,
                        state,
                        customer_present: true,
                        completed_note: None,
                        pending17: None,
                        seen: vec![ChatState::Invited],
                    },
                );
            }
            Step::AgentPost {
                chat,
                by_other_agent,
                auth,
                ..
            } => {
                self.judge_post(index, None, chat, *by_other_agent, *auth);
            }
            Step::CustomerLeaves { chat } => {
                if let Some(c) = self.chats.get_mut(chat) {
                    c.customer_present = false;
                }
            }
            Step::Concurrent { steps } => {
                let mut results = vec![];
                for (k, s) in steps.iter().enumerate() {
                    match s {
                        Step::AgentPost {
                            chat,
                            by_other_agent,
                            auth,
                            ..
                        } => {
                            if let Some(r) =
                                self.judge_post(index, Some(k), chat, *by_other_agent, *auth)
                            {
                                results.push(r);
                            }
                        }
                        Step::CustomerLeaves { chat } => {
                            if let Some(c) = self.chats.get_mut(chat) {
                                c.customer_present = false;
                            }
                        }
                        _ => {}
                    }
                }
                self.judge_cmp20(index, steps, results);
            }
            Step::CustomerSends { .. } | Step::Inspect { .. } | Step::Settle => {}
        }
    }

    fn request_of(&self, index: usize, part: Option<usize>) -> Option<(&'a Event, u64, &'a Body)> {
        let ev: &'a [Event] = self.ev;
        let e = ev.get(*self.reqs.get(&(index, part))?)?;
        match &e.kind {
            EventKind::Request { req, body, .. } => Some((e, *req, body)),
            _ => None,
        }
    }

    fn answer_of(&self, req: u64, after: u64) -> Option<&'a Event> {
        let ev: &'a [Event] = self.ev;
        self.answers
            .get(&req)?
            .iter()
            .filter_map(|p| ev.get(*p))
            .find(|e| e.seq > after)
    }

    /// The seq where the "caused by this step" window for `alias` ends: the next step
    /// that acts on the chat after seq `after`, or the end of the case.
    fn window_end(&self, alias: &str, after: u64) -> u64 {
        self.steps
            .iter()
            .find(|(_, seq, _, st)| *seq > after && acts_on(st, alias))
            .map(|(_, seq, _, _)| *seq)
            .unwrap_or(u64::MAX)
    }

    /// How long the history shows the harness waiting after `from_us`, in words.
    fn waited_since(&self, from_us: u64) -> String {
        let last = self.ev.iter().map(|e| e.t_us).max().unwrap_or(from_us);
        let waited = secs(last.saturating_sub(from_us));
        let quiet = self.ev.iter().rev().find_map(|e| match &e.kind {
            EventKind::Quiet {
                quiet_ms,
                reached_quiet,
                ..
            } => Some((*quiet_ms, *reached_quiet)),
            _ => None,
        });
        match quiet {
            Some((_, false)) => format!("waited {waited} (deadline)"),
            Some((q, true)) => format!("waited {waited} (then quiet for {q} ms)"),
            None => format!("waited {waited} (until the history ended)"),
        }
    }

    fn last_quiet_seq(&self) -> Option<u64> {
        self.ev
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::Quiet { .. }))
            .map(|e| e.seq)
    }

    #[allow(clippy::too_many_arguments)]
    fn judge_post(
        &mut self,
        index: usize,
        part: Option<usize>,
        chat_ref: &ChatRef,
        by_other: bool,
        auth: AuthVariant,
    ) -> Option<CompleteResult> {
        // Which chat, in which state.
        let (alias, chat) = match chat_ref {
            ChatRef::Alias(a) => match self.chats.get(a) {
                Some(c) => (Some(a.clone()), Some(c.clone())),
                None => {
                    self.error_exercised(&format!(
                        "step {index}: chat alias {a:?} was never offered in this case"
                    ));
                    return None;
                }
            },
            ChatRef::Unknown(_) => (None, None),
        };
        let Some((req_ev, req_id, body)) = self.request_of(index, part) else {
            self.error_exercised(&format!("step {index}: no request was recorded"));
            return None;
        };
        let cls = model::classify(body);
        let state = match &chat {
            Some(c) => match c.state {
                Some(s) => Some(s),
                None => {
                    let r = self.op_req(&cls, auth, None, by_other);
                    if let Some(r) = r {
                        self.push(Finding::skip(
                            r,
                            format!(
                                "chat {:?}: state unknown after an earlier indeterminate step",
                                alias.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                    return None;
                }
            },
            None => None,
        };
        let exp = model::expect(state, !by_other, &cls);
        let mode_req = self.op_req(&cls, auth, Some(&exp), by_other);

        // The answer.
        let ans_ev = self.answer_of(req_id, req_ev.seq);
        let ans = match ans_ev.map(|e| (e, &e.kind)) {
            Some((
                e,
                EventKind::Response {
                    status, body: b, ..
                },
            )) => {
                let json = b.json();
                Ans {
                    seq: e.seq,
                    t_us: e.t_us,
                    status: *status,
                    json,
                    code: json
                        .and_then(|j| j.get("statusCode"))
                        .and_then(Value::as_i64),
                }
            }
            other => {
                let why = match other {
                    Some((
                        _,
                        EventKind::NoResponse {
                            kind,
                            message,
                            elapsed_us,
                            ..
                        },
                    )) => format!(
                        "no answer: {} after {} ({message})",
                        format!("{kind:?}").to_lowercase(),
                        secs(*elapsed_us)
                    ),
                    _ => "no answer recorded for the request".to_string(),
                };
                let reqs: Vec<ReqId> = match mode_req {
                    Some(r) => vec![r],
                    None => self.exercises.clone(),
                };
                for r in reqs {
                    self.push(Finding::error(r, format!("step {index}: {why}")));
                }
                if let Some(a) = &alias {
                    self.set_state(a, None);
                }
                return None;
            }
        };
        let evs = vec![req_ev.seq, ans.seq];

        // Transport-level refusals first (SES-01/02).
        let ses = match auth {
            AuthVariant::NoCsrf if self.csrf => Some(ReqId::Ses01),
            AuthVariant::NoCredentials | AuthVariant::CookieOnly => Some(ReqId::Ses02),
            _ => None,
        };
        if auth == AuthVariant::NoCsrf && !self.csrf {
            self.push(Finding::skip(ReqId::Ses01, "target does not use CSRF"));
        }
        if let Some(r) = ses {
            let good = if r == ReqId::Ses01 {
                ans.status == 403
            } else {
                ans.status == 401 || ans.code == Some(20)
            };
            let expected = if r == ReqId::Ses01 {
                "HTTP 403 for a POST without the CSRF token"
            } else {
                "statusCode 20 or HTTP 401 for a request without credentials"
            };
            if good {
                self.push(Finding::pass(r, format!("refused: {}", ans.describe())));
            } else {
                self.push(Finding::fail(
                    r,
                    format!("answered {}", ans.describe()),
                    w(expected, ans.describe(), evs.clone()),
                ));
            }
            self.after_answer(alias.as_deref(), &cls, &ans, req_ev.seq, &[r], false);
            return None;
        }

        match &exp.refusal {
            Some(refusal) => {
                if let Some(r) = refusal.req {
                    self.judge_refusal(r, refusal, &ans, evs.clone());
                }
                let mut cite: Vec<ReqId> = vec![];
                if cls.is_complete() && chat.is_some() {
                    cite.push(ReqId::Cmp17);
                    if refusal.req == Some(ReqId::Cmp21) {
                        cite.push(ReqId::Cmp21);
                    }
                }
                self.after_answer(alias.as_deref(), &cls, &ans, req_ev.seq, &cite, true);
                None
            }
            None => {
                // The model only expects success on a known chat (which has an alias).
                let (Some(c), Some(a)) = (chat, alias) else {
                    return None;
                };
                // The follow-up of a refused Complete (CMP-17).
                if let Some((rq, rs)) = c.pending17 {
                    let mut e = vec![rq, rs, req_ev.seq, ans.seq];
                    e.sort_unstable();
                    if ans.ok() {
                        self.push(Finding::pass(
                            ReqId::Cmp17,
                            "after the refusal the chat still accepts the operations of its state",
                        ));
                    } else {
                        self.push(Finding::fail(
                            ReqId::Cmp17,
                            "the chat no longer accepts an operation valid in its state",
                            w(
                                format!(
                                    "{} succeeds in state {} (the refused Complete changed nothing)",
                                    op_name(&cls),
                                    state.map(ChatState::as_str).unwrap_or("?")
                                ),
                                ans.describe(),
                                e,
                            ),
                        ));
                    }
                    if let Some(cm) = self.chats.get_mut(&a) {
                        cm.pending17 = None;
                    }
                }
                match &cls {
                    Classified::Op(Operation::Complete(p)) => {
                        Some(self.judge_complete(&a, &c, p, req_ev, &ans))
                    }
                    _ => {
                        if ans.ok() {
                            self.set_state(&a, exp.next);
                        } else if c.pending17.is_none() {
                            self.error_exercised(&format!(
                                "step {index}: precondition not reached: {} on chat {a:?} in state {} was answered {}",
                                op_name(&cls),
                                state.map(ChatState::as_str).unwrap_or("?"),
                                ans.describe()
                            ));
                            self.set_state(&a, None);
                        } else {
                            self.set_state(&a, None);
                        }
                        None
                    }
                }
            }
        }
    }

    /// The requirement a post is judged under (for Error/Skip attribution).
    fn op_req(
        &self,
        cls: &Classified,
        auth: AuthVariant,
        exp: Option<&model::Expectation>,
        by_other: bool,
    ) -> Option<ReqId> {
        match auth {
            AuthVariant::NoCsrf if self.csrf => return Some(ReqId::Ses01),
            AuthVariant::NoCredentials | AuthVariant::CookieOnly => return Some(ReqId::Ses02),
            _ => {}
        }
        if let Some(e) = exp {
            if let Some(r) = &e.refusal {
                return r.req;
            }
            return cls.is_complete().then_some(ReqId::Cmp01);
        }
        match cls {
            Classified::Malformed { .. } => Some(ReqId::Req01),
            Classified::InvalidComplete { req, .. } => Some(*req),
            Classified::Op(Operation::Complete(_)) if by_other => Some(ReqId::Cmp21),
            Classified::Op(Operation::Complete(_)) => Some(ReqId::Cmp01),
            _ => None,
        }
    }

    fn set_state(&mut self, alias: &str, s: Option<ChatState>) {
        if let Some(c) = self.chats.get_mut(alias) {
            c.state = s;
            if let Some(st) = s
                && !c.seen.contains(&st)
            {
                c.seen.push(st);
            }
        }
    }

    /// Judges the answer to a request the model refuses, under requirement `r`.
    fn judge_refusal(&mut self, r: ReqId, refusal: &model::Refusal, ans: &Ans, evs: Vec<u64>) {
        let expected = format!("a refusal ({})", refusal.reason);
        if r == ReqId::Req01 {
            if ans.refused() && !ans.bad() {
                self.push(Finding::pass(r, format!("refused: {}", ans.describe())));
            } else {
                self.push(Finding::fail(
                    r,
                    format!("malformed request answered {}", ans.describe()),
                    w(
                        "a 4xx or a statusCode other than 0 and 4, never a 5xx",
                        ans.describe(),
                        evs,
                    ),
                ));
            }
            return;
        }
        if ans.ok() {
            self.push(Finding::fail(
                r,
                "accepted (statusCode 0) where the contract refuses",
                w(expected, ans.describe(), evs),
            ));
            return;
        }
        if ans.bad() || !ans.refused() {
            self.push(Finding::fail(
                r,
                format!("answered {} instead of a refusal", ans.describe()),
                w(expected, ans.describe(), evs),
            ));
            return;
        }
        let codes = |c: &[i64]| {
            c.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("|")
        };
        if let Some(req_codes) = refusal.required_codes
            && !ans.code.is_some_and(|c| req_codes.contains(&c))
        {
            self.push(Finding::fail(
                r,
                format!("refused with the wrong statusCode: {}", ans.describe()),
                w(
                    format!("a refusal with statusCode {}", codes(req_codes)),
                    ans.describe(),
                    evs,
                ),
            ));
            return;
        }
        if let Some(pref) = refusal.preferred_codes
            && !ans.code.is_some_and(|c| pref.contains(&c))
        {
            let level = r.level();
            if level == Level::Should {
                self.push(Finding::fail(
                    r,
                    format!(
                        "refused with a statusCode outside the preferred ones: {}",
                        ans.describe()
                    ),
                    w(
                        format!("a refusal with statusCode {} (SHOULD)", codes(pref)),
                        ans.describe(),
                        evs,
                    ),
                ));
            } else {
                self.push(Finding::pass(
                    r,
                    format!(
                        "refused ({}); note: the SPEC prefers statusCode {}",
                        ans.describe(),
                        codes(pref)
                    ),
                ));
            }
            return;
        }
        self.push(Finding::pass(r, format!("refused: {}", ans.describe())));
    }

    /// After an answer to a request the model refuses: follow the target when it
    /// accepted, else check that nothing changed (citing `cite`) and, when
    /// `follow_up`, leave CMP-17's follow-up part pending.
    #[allow(clippy::too_many_arguments)]
    fn after_answer(
        &mut self,
        alias: Option<&str>,
        cls: &Classified,
        ans: &Ans,
        req_seq: u64,
        cite: &[ReqId],
        follow_up: bool,
    ) {
        let Some(alias) = alias else { return };
        let Some(c) = self.chats.get(alias).cloned() else {
            return;
        };
        let Some(state) = c.state else { return };
        if ans.ok() {
            // The target did it: follow it so later judgments do not cascade.
            let op = match cls {
                Classified::Op(Operation::Other(o)) => *o,
                Classified::Op(Operation::Complete(_)) | Classified::InvalidComplete { .. } => {
                    model::OpName::Complete
                }
                Classified::Malformed { .. } => return,
            };
            let next = model::after_success(state, op);
            if next == ChatState::Completed && state != ChatState::Completed {
                let first = self
                    .chat_notes(&c.id)
                    .iter()
                    .find(|n| n.seq > req_seq && n.is_for(&c.id) && n.is_completed())
                    .map(|n| n.seq);
                if let Some(cm) = self.chats.get_mut(alias) {
                    cm.completed_note = first;
                }
            }
            self.set_state(alias, Some(next));
            return;
        }
        if cite.is_empty() {
            return;
        }
        let refused_text = match cls {
            Classified::Op(Operation::Complete(p)) => p.text.clone(),
            _ => None,
        };
        let resp_ref = ans.json.and_then(|j| j.get("referenceId"));
        let end = self.window_end(alias, ans.seq);
        let caused: Vec<&Note> = self
            .chat_notes(&c.id)
            .iter()
            .filter(|n| n.seq > req_seq && n.seq < end && n.is_for(&c.id))
            .filter(|n| {
                (resp_ref.is_some() && n.reference_id() == resp_ref)
                    || n.is_error()
                    || refused_text.as_deref().is_some_and(|t| n.has_agent_text(t))
                    || match n.status_state() {
                        Some("Completed") => {
                            state != ChatState::Completed || c.completed_note != Some(n.seq)
                        }
                        Some(s) => !c.seen.iter().any(|x| x.as_str() == s),
                        None => false,
                    }
            })
            .collect();
        let second_completed: Vec<u64> = caused
            .iter()
            .filter(|n| n.is_completed())
            .map(|n| n.seq)
            .collect();
        let mut events = vec![req_seq, ans.seq];
        events.extend(caused.iter().map(|n| n.seq));
        let observed = caused
            .iter()
            .map(|n| n.describe())
            .collect::<Vec<_>>()
            .join(", ");
        for r in cite {
            if caused.is_empty() {
                if *r == ReqId::Cmp17 && follow_up {
                    // The follow-up part is judged by the next valid operation.
                    continue;
                }
                self.push(Finding::pass(*r, "refused, and no notification followed"));
            } else {
                self.push(Finding::fail(
                    *r,
                    "a refused request changed the chat",
                    w(
                        format!("no notification for chat {} after the refusal", c.id),
                        observed.clone(),
                        events.clone(),
                    ),
                ));
            }
        }
        if state == ChatState::Completed && cls.is_complete() {
            // (A clean refusal already passed CMP-13 in `judge_refusal`.)
            if !second_completed.is_empty() {
                let mut e = vec![req_seq, ans.seq];
                e.extend(&second_completed);
                self.push(Finding::fail(
                    ReqId::Cmp13,
                    "a Complete on a Completed chat produced a second Completed",
                    w(
                        "no second StatusChange Completed",
                        format!("{} more Completed", second_completed.len()),
                        e,
                    ),
                ));
            }
        }
        if follow_up
            && caused.is_empty()
            && cite.contains(&ReqId::Cmp17)
            && let Some(cm) = self.chats.get_mut(alias)
        {
            cm.pending17 = Some((req_seq, ans.seq));
        }
    }

    /// A refused Complete with no later valid operation: CMP-17 is judged on the
    /// notifications alone.
    fn finish_pending17(&mut self) {
        let pend: Vec<(u64, u64)> = self.chats.values().filter_map(|c| c.pending17).collect();
        for _ in pend {
            self.push(Finding::pass(
                ReqId::Cmp17,
                "refused, and no notification followed (no later operation to try)",
            ));
        }
    }

    fn judge_complete(
        &mut self,
        alias: &str,
        c: &ChatSt,
        p: &CompleteParams,
        req_ev: &Event,
        ans: &Ans,
    ) -> CompleteResult {
        let evs = vec![req_ev.seq, ans.seq];
        let before = c.state.unwrap_or(ChatState::Chatting);
        // CMP-01.
        let mut problems = vec![];
        if ans.status != 200 {
            problems.push(format!("HTTP {}", ans.status));
        }
        match ans.json {
            None => problems.push("the body is not JSON".into()),
            Some(j) => {
                if let Err(e) = self.shapes.validate("response", j) {
                    problems.push(format!(
                        "the body is not valid against the response schema: {e}"
                    ));
                }
                match j.get("statusCode") {
                    Some(v) if v.as_i64() == Some(0) => {}
                    Some(v) => problems.push(format!("statusCode {v}")),
                    None => problems.push("no statusCode".into()),
                }
                if j.get("statusMessage").is_some() {
                    problems.push("a statusMessage is present".into());
                }
            }
        }
        let cmp01 = problems.is_empty();
        if cmp01 {
            self.push(Finding::pass(ReqId::Cmp01, "HTTP 200, statusCode 0"));
        } else {
            self.push(Finding::fail(
                ReqId::Cmp01,
                format!(
                    "Complete on a {} chat: {}",
                    before.as_str(),
                    problems.join("; ")
                ),
                w(
                    "HTTP 200 and {\"statusCode\":0} valid against the response schema",
                    problems.join("; "),
                    evs.clone(),
                ),
            ));
        }
        let completed_owner: Vec<&Note> = self
            .chat_notes(&c.id)
            .iter()
            .filter(|n| n.seq > req_ev.seq && n.is_for(&c.id) && n.is_completed())
            .collect();
        let mut result = CompleteResult {
            ok: ans.ok(),
            completed_count: completed_owner.len(),
            order_ok: true,
            events: evs.clone(),
            chat: alias.to_string(),
        };
        if !ans.ok() {
            // Follow the target: if a Completed arrived anyway, the chat is completed.
            let first = completed_owner.first().map(|n| n.seq);
            if first.is_some()
                && let Some(cm) = self.chats.get_mut(alias)
            {
                cm.state = Some(ChatState::Completed);
                cm.seen.push(ChatState::Completed);
                cm.completed_note = first;
            }
            self.both_apply(
                c,
                before,
                false,
                "the Complete was not answered with success",
                evs,
            );
            return result;
        }
        // CMP-02.
        let end = self.window_end(alias, ans.seq);
        let to_owner: Vec<&Note> = completed_owner
            .iter()
            .filter(|n| n.agent == c.owner)
            .copied()
            .collect();
        let to_others: Vec<&Note> = completed_owner
            .iter()
            .filter(|n| n.agent != c.owner)
            .copied()
            .collect();
        let first = to_owner.first().copied();
        let dl = self.cfg.deadline.as_micros() as u64;
        let expected02 = format!(
            "exactly one StatusChange Completed for chat {} to {} within {} of the response",
            c.id,
            c.owner,
            secs(dl)
        );
        let mut cmp02 = true;
        match first {
            None => {
                cmp02 = false;
                let mut e = evs.clone();
                e.extend(self.last_quiet_seq());
                e.extend(to_others.iter().map(|n| n.seq));
                let mut obs = format!("none arrived; {}", self.waited_since(ans.t_us));
                if !to_others.is_empty() {
                    obs.push_str(&format!(
                        "; delivered to {} instead (not the owner)",
                        to_others[0].agent
                    ));
                }
                self.push(Finding::fail(
                    ReqId::Cmp02,
                    "no Completed notification reached the owner",
                    w(expected02.clone(), obs, e),
                ));
            }
            Some(n) => {
                let took = n.t_us.saturating_sub(ans.t_us);
                let dups: Vec<u64> = to_owner
                    .iter()
                    .skip(1)
                    .filter(|m| m.seq < end)
                    .map(|m| m.seq)
                    .collect();
                let mut e = evs.clone();
                e.push(n.seq);
                if took > dl {
                    cmp02 = false;
                    self.push(Finding::fail(
                        ReqId::Cmp02,
                        "the Completed notification came after the deadline",
                        w(
                            expected02.clone(),
                            format!("arrived {} after the response", secs(took)),
                            e,
                        ),
                    ));
                } else if !dups.is_empty() {
                    cmp02 = false;
                    e.extend(&dups);
                    self.push(Finding::fail(
                        ReqId::Cmp02,
                        "more than one Completed notification",
                        w(
                            expected02.clone(),
                            format!("{} Completed notifications", dups.len() + 1),
                            e,
                        ),
                    ));
                } else if let Some(o) = to_others.first() {
                    cmp02 = false;
                    e.push(o.seq);
                    self.push(Finding::fail(
                        ReqId::Cmp02,
                        "Completed delivered to an agent that does not own the chat",
                        w(
                            expected02.clone(),
                            format!("also delivered to {}", o.agent),
                            e,
                        ),
                    ));
                } else {
                    self.push(Finding::pass(
                        ReqId::Cmp02,
                        format!("one Completed, {} after the response", secs(took)),
                    ));
                }
            }
        }
        result.events.extend(first.map(|n| n.seq));
        let first_seq = first
            .map(|n| n.seq)
            .or(completed_owner.first().map(|n| n.seq));
        if let Some(cm) = self.chats.get_mut(alias) {
            cm.state = Some(ChatState::Completed);
            cm.seen.push(ChatState::Completed);
            cm.completed_note = first_seq;
        }
        // CMP-03.
        if let Some(n) = first {
            let uri = n
                .data
                .get("chat")
                .and_then(|ch| ch.get("uri"))
                .and_then(Value::as_str);
            let want = format!("/api/v2/chats/{}", c.id);
            match uri {
                Some(u) if u.ends_with(&want) => {
                    self.push(Finding::pass(ReqId::Cmp03, "chat.uri names the chat"));
                }
                _ => self.push(Finding::fail(
                    ReqId::Cmp03,
                    "chat.uri of the Completed notification does not name the chat",
                    w(
                        format!("chat.uri ending with {want}"),
                        format!("chat.uri {}", uri.unwrap_or("missing")),
                        vec![n.seq],
                    ),
                )),
            }
        }
        // CMP-04.
        if let Some(text) = &p.text {
            // The text delivered to an agent that does not own the chat is a failure.
            if let Some(stray) = self.chat_notes(&c.id).iter().find(|n| {
                n.seq > req_ev.seq
                    && n.seq < end
                    && n.is_for(&c.id)
                    && n.agent != c.owner
                    && n.has_agent_text(text)
            }) {
                result.order_ok = false;
                self.push(Finding::fail(
                    ReqId::Cmp04,
                    "the Complete's text was delivered to an agent that does not own the chat",
                    w(
                        format!("the text delivered to the owner {}", c.owner),
                        format!("delivered to {}", stray.agent),
                        vec![req_ev.seq, stray.seq],
                    ),
                ));
            }
            let msg = self.chat_notes(&c.id).iter().find(|n| {
                n.seq > req_ev.seq
                    && n.is_for(&c.id)
                    && n.agent == c.owner
                    && n.has_agent_text(text)
            });
            let expected = format!(
                "a NewMessages with the agent's text {text:?} before the Completed status change"
            );
            match (msg, first) {
                (Some(m), Some(f)) if m.seq < f.seq => {
                    self.push(Finding::pass(
                        ReqId::Cmp04,
                        "the text came before the Completed",
                    ));
                }
                (Some(m), Some(f)) => {
                    result.order_ok = false;
                    self.push(Finding::fail(
                        ReqId::Cmp04,
                        "the text came after the Completed",
                        w(
                            expected,
                            "NewMessages after the Completed",
                            vec![req_ev.seq, f.seq, m.seq],
                        ),
                    ));
                }
                (Some(_), None) => {
                    self.push(Finding::pass(
                        ReqId::Cmp04,
                        "the text arrived (no Completed to order it against; see CMP-02)",
                    ));
                }
                (None, _) => {
                    result.order_ok = false;
                    let mut e = evs.clone();
                    e.extend(first.map(|f| f.seq));
                    e.extend(self.last_quiet_seq());
                    self.push(Finding::fail(
                        ReqId::Cmp04,
                        "no NewMessages carried the Complete's text",
                        w(
                            expected,
                            format!("none arrived; {}", self.waited_since(ans.t_us)),
                            e,
                        ),
                    ));
                }
            }
        }
        // CMP-19: nothing for the chat after its Completed (a second Completed is CMP-02's
        // or CMP-13's finding, not counted again here).
        if let Some(f) = first_seq {
            let after: Vec<&Note> = self
                .chat_notes(&c.id)
                .iter()
                .filter(|n| n.seq > f && n.is_for(&c.id) && !n.is_completed())
                .collect();
            if after.is_empty() {
                self.push(Finding::pass(
                    ReqId::Cmp19,
                    "nothing followed the Completed",
                ));
            } else {
                let mut e = vec![f];
                e.extend(after.iter().take(5).map(|n| n.seq));
                self.push(Finding::fail(
                    ReqId::Cmp19,
                    "notifications followed the Completed",
                    w(
                        format!("nothing for chat {} after its Completed", c.id),
                        after
                            .iter()
                            .take(5)
                            .map(|n| n.describe())
                            .collect::<Vec<_>>()
                            .join(", "),
                        e,
                    ),
                ));
            }
        }
        // CMP-22.
        match ans.json.and_then(|j| j.get("referenceId")) {
            None => self.push(Finding::skip(
                ReqId::Cmp22,
                "the response carries no referenceId",
            )),
            Some(rid) => {
                let mut caused: Vec<&Note> = vec![];
                caused.extend(first);
                if let Some(t) = &p.text {
                    caused.extend(self.chat_notes(&c.id).iter().filter(|n| {
                        n.seq > req_ev.seq && n.seq < end && n.is_for(&c.id) && n.has_agent_text(t)
                    }));
                }
                let carrying: Vec<&&Note> = caused
                    .iter()
                    .filter(|n| n.reference_id().is_some())
                    .collect();
                let wrong: Vec<&&Note> = carrying
                    .iter()
                    .filter(|n| n.reference_id() != Some(rid))
                    .copied()
                    .collect();
                if carrying.is_empty() {
                    self.push(Finding::skip(
                        ReqId::Cmp22,
                        "no caused notification carries a referenceId",
                    ));
                } else if wrong.is_empty() {
                    self.push(Finding::pass(ReqId::Cmp22, "referenceIds agree"));
                } else {
                    let mut e = evs.clone();
                    e.extend(wrong.iter().map(|n| n.seq));
                    self.push(Finding::fail(
                        ReqId::Cmp22,
                        "a caused notification carries another referenceId",
                        w(
                            format!("referenceId {rid}"),
                            wrong
                                .iter()
                                .map(|n| {
                                    format!(
                                        "referenceId {} in seq {}",
                                        n.reference_id().unwrap_or(&Value::Null),
                                        n.seq
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", "),
                            e,
                        ),
                    ));
                }
            }
        }
        // CMP-05..08 from the first Inspect after the response.
        self.judge_inspect(alias, c, p, ans.seq);
        self.both_apply(c, before, cmp01 && cmp02, "CMP-01 and CMP-02", evs);
        result
    }

    /// CMP-15 (from LeftChat) and CMP-16 (after the customer left): both are "CMP-01 and
    /// CMP-02 hold".
    fn both_apply(&mut self, c: &ChatSt, before: ChatState, ok: bool, what: &str, evs: Vec<u64>) {
        let mut rows = vec![];
        if before == ChatState::LeftChat {
            rows.push((ReqId::Cmp15, "Complete on a LeftChat chat"));
        }
        if !c.customer_present {
            rows.push((ReqId::Cmp16, "Complete after the customer left"));
        }
        for (r, label) in rows {
            if ok {
                self.push(Finding::pass(r, format!("{label} succeeded")));
            } else {
                self.push(Finding::fail(
                    r,
                    format!("{label} did not succeed"),
                    w(
                        format!("{label} succeeds (CMP-01 and CMP-02)"),
                        format!("{what} failed; see those findings"),
                        evs.clone(),
                    ),
                ));
            }
        }
    }

    fn judge_inspect(&mut self, alias: &str, c: &ChatSt, p: &CompleteParams, after: u64) {
        // The customer's session is open unless the customer left, or the agent did:
        // Leave outside a conference ends the customer's session and `LeftChat` is the
        // state in which it has ended (facts sheet §3.1). CMP-05 applies only while the
        // session is open (SPEC §6.4) and CMP-06 only "if still open".
        let session_open = c.customer_present && c.state != Some(ChatState::LeftChat);
        let mut rows: Vec<ReqId> = vec![];
        if p.text.is_some() && session_open {
            rows.push(ReqId::Cmp05);
        }
        if session_open {
            rows.push(ReqId::Cmp06);
        }
        if p.queue_name.is_some() {
            rows.push(ReqId::Cmp07);
        }
        if p.save_lar == Some(true) {
            rows.push(ReqId::Cmp08);
        }
        if rows.is_empty() {
            return;
        }
        let ev: &'a [Event] = self.ev;
        let insp = self
            .inspects
            .iter()
            .filter_map(|p| ev.get(*p))
            .find_map(|e| match &e.kind {
                EventKind::Inspect {
                    alias: a,
                    result,
                    reason,
                } if e.seq > after && a == alias => {
                    Some((e.seq, result.as_ref(), reason.as_deref()))
                }
                _ => None,
            });
        let Some((seq, result, reason)) = insp else {
            for r in rows {
                self.push(Finding::skip(
                    r,
                    "no Inspect of the chat after the Complete",
                ));
            }
            return;
        };
        let Some(res) = result else {
            for r in rows {
                self.push(Finding::skip(
                    r,
                    format!(
                        "not observable: {}",
                        reason.unwrap_or("inspect gave no answer")
                    ),
                ));
            }
            return;
        };
        let missing = |key: &str| format!("not observable: the inspect answer has no {key:?}");
        for r in rows {
            let (key, ok, expected, observed): (&str, Option<bool>, String, String) = match r {
                ReqId::Cmp05 => {
                    let text = p.text.clone().unwrap_or_default();
                    let t = res.get("customerTranscript");
                    let ok = t.and_then(Value::as_array).map(|items| {
                        items.iter().any(|i| {
                            i.get("text").and_then(Value::as_str) == Some(text.as_str())
                                && i.get("from").and_then(Value::as_str) == Some("Agent")
                        })
                    });
                    (
                        "customerTranscript",
                        ok,
                        format!("the customer's transcript holds {text:?} from Agent"),
                        format!("customerTranscript {}", t.cloned().unwrap_or(Value::Null)),
                    )
                }
                ReqId::Cmp06 => {
                    let ended = res.get("customerSessionEnded");
                    let cs = res.get("customerState");
                    let ok = match (ended, cs) {
                        (None, None) => None,
                        _ => Some(
                            ended.and_then(Value::as_bool) == Some(true)
                                || cs.and_then(Value::as_str) == Some("Idle"),
                        ),
                    };
                    (
                        "customerSessionEnded",
                        ok,
                        "customerSessionEnded true or customerState Idle".into(),
                        format!(
                            "customerSessionEnded {}, customerState {}",
                            ended.cloned().unwrap_or(Value::Null),
                            cs.cloned().unwrap_or(Value::Null)
                        ),
                    )
                }
                ReqId::Cmp07 => {
                    let q = p.queue_name.clone().unwrap_or_default();
                    let got = res.get("queue");
                    (
                        "queue",
                        got.map(|g| g.as_str() == Some(q.as_str())),
                        format!("queue {q:?}"),
                        format!("queue {}", got.cloned().unwrap_or(Value::Null)),
                    )
                }
                _ => {
                    let got = res.get("lastAgent");
                    (
                        "lastAgent",
                        got.map(|g| g.as_str() == Some(c.owner.as_str())),
                        format!("lastAgent {:?}", c.owner),
                        format!("lastAgent {}", got.cloned().unwrap_or(Value::Null)),
                    )
                }
            };
            match ok {
                None => self.push(Finding::skip(r, missing(key))),
                Some(true) => self.push(Finding::pass(r, observed)),
                Some(false) => self.push(Finding::fail(
                    r,
                    format!("inspect shows {observed}"),
                    w(expected, observed, vec![seq]),
                )),
            }
        }
    }

    /// CMP-20 over a `Concurrent` step with at least 5 Completes on distinct chats.
    fn judge_cmp20(&mut self, index: usize, steps: &[Step], results: Vec<CompleteResult>) {
        // The Completes the step meant to send at once, on distinct chats.
        let mut planned: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                Step::AgentPost {
                    chat: ChatRef::Alias(a),
                    body,
                    ..
                } if model::classify(body).is_complete() => Some(a.as_str()),
                _ => None,
            })
            .collect();
        let n = planned.len();
        planned.sort_unstable();
        planned.dedup();
        if n < 5 || planned.len() < n {
            return;
        }
        if results.len() < n {
            self.push(Finding::error(
                ReqId::Cmp20,
                format!(
                    "step {index}: only {} of {n} concurrent Completes could be judged (no answer, or the chat's state was unknown)",
                    results.len()
                ),
            ));
            return;
        }
        let times: Vec<u64> = results
            .iter()
            .filter_map(|r| r.events.first())
            .filter_map(|s| self.ev.iter().find(|e| e.seq == *s).map(|e| e.t_us))
            .collect();
        let spread = times.iter().max().unwrap_or(&0) - times.iter().min().unwrap_or(&0);
        if spread > 50_000 {
            self.push(Finding::error(
                ReqId::Cmp20,
                format!(
                    "step {index}: the Completes were sent over {} ms, not within 50 ms (SPEC §6.5)",
                    spread / 1000
                ),
            ));
            return;
        }
        let bad: Vec<&CompleteResult> = results
            .iter()
            .filter(|r| !r.ok || r.completed_count != 1 || !r.order_ok)
            .collect();
        if bad.is_empty() {
            self.push(Finding::pass(
                ReqId::Cmp20,
                format!(
                    "{} concurrent Completes, one Completed each, in order",
                    results.len()
                ),
            ));
        } else {
            let mut e = vec![];
            for b in &bad {
                e.extend(&b.events);
            }
            let observed = bad
                .iter()
                .map(|b| {
                    format!(
                        "chat {}: {}{} Completed{}",
                        b.chat,
                        if b.ok { "" } else { "refused, " },
                        b.completed_count,
                        if b.order_ok {
                            ""
                        } else {
                            ", text out of order or missing"
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            self.push(Finding::fail(
                ReqId::Cmp20,
                format!(
                    "{} of {} concurrent Completes misbehaved",
                    bad.len(),
                    results.len()
                ),
                w(
                    "each chat: statusCode 0, exactly one Completed, its text before it",
                    observed,
                    e,
                ),
            ));
        }
    }

    /// CMP-18: every JSON body of an agent or customer answer with a statusCode ≠ 0 is
    /// exactly statusCode + statusMessage.
    fn check_cmp18(&mut self) {
        let mut requests: HashMap<u64, Vec<(u64, &Actor)>> = HashMap::new();
        for e in self.ev {
            if let EventKind::Request { req, actor, .. } = &e.kind {
                requests.entry(*req).or_default().push((e.seq, actor));
            }
        }
        for e in self.ev {
            let EventKind::Response { req, body, .. } = &e.kind else {
                continue;
            };
            let Some(j) = body.json() else { continue };
            let Some(code) = j.get("statusCode") else {
                continue;
            };
            if code.as_i64() == Some(0) {
                continue;
            }
            let actor = requests
                .get(req)
                .and_then(|v| v.iter().find(|(seq, _)| *seq < e.seq))
                .map(|(seq, a)| (*a, *seq));
            let Some((actor, rseq)) = actor else { continue };
            if *actor == Actor::Provider {
                continue;
            }
            let obj = j.as_object();
            let mut problems = vec![];
            if code.as_i64().is_none_or(|c| c <= 0) {
                problems.push(format!("statusCode {code} is not a positive integer"));
            }
            match j.get("statusMessage") {
                Some(Value::String(_)) => {}
                Some(_) => problems.push("statusMessage is not a string".to_string()),
                None => problems.push("no statusMessage".to_string()),
            }
            if let Some(o) = obj {
                let extra: Vec<&String> = o
                    .keys()
                    .filter(|k| *k != "statusCode" && *k != "statusMessage")
                    .collect();
                if !extra.is_empty() {
                    problems.push(format!("extra attributes {extra:?}"));
                }
            }
            if problems.is_empty() {
                self.push(Finding::pass(
                    ReqId::Cmp18,
                    "error bodies are statusCode + statusMessage",
                ));
            } else {
                self.push(Finding::fail(
                    ReqId::Cmp18,
                    format!("error body: {}", problems.join("; ")),
                    w(
                        "an error body with exactly statusCode (≠ 0) and statusMessage",
                        problems.join("; "),
                        vec![rseq, e.seq],
                    ),
                ));
            }
        }
    }

    /// NTF-01: every `/v2/me/chats` notification is valid against "notification".
    fn check_ntf01(&mut self) {
        let mut n = 0;
        for e in self.ev {
            let EventKind::Notification { channel, data, .. } = &e.kind else {
                continue;
            };
            if channel != "/v2/me/chats" {
                continue;
            }
            n += 1;
            if let Err(why) = self.shapes.validate("notification", data) {
                self.push(Finding::fail(
                    ReqId::Ntf01,
                    format!("invalid notification: {why}"),
                    w("a notification valid against its schema", why, vec![e.seq]),
                ));
            }
        }
        if n > 0 {
            self.push(Finding::pass(
                ReqId::Ntf01,
                format!("{n} notifications valid"),
            ));
        }
    }
}

fn op_name(cls: &Classified) -> &'static str {
    match cls {
        Classified::Op(Operation::Other(o)) => o.as_str(),
        _ => "Complete",
    }
}
