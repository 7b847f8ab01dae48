//! Replays a case's steps through the model: tracks each chat's state along the steps
//! and, per agent request, hands the rules of [`super::rules`] what they judge.
//!
//! Choices where the SPEC is silent (each is documented where it is made):
//! - A refused agent answer is HTTP 4xx, or a JSON `statusCode` ≠ 0 under HTTP < 500;
//!   5xx and statusCode 4 (internal error) are never a proper refusal (SPEC §6.3).
//! - A setup operation (Accept, Leave, …) refused where the model expects success leaves
//!   the case unable to reach its state: the case's exercises get Error and the chat is
//!   no longer judged (unless it was the follow-up of a refused Complete: CMP-17 Fail).
//! - "Nothing changed" after a refusal: see [`super::rules::refusal`].

#![warn(missing_docs)]

use super::index::{Index, StepAt, acts_on, secs};
use super::rules::refusal::{self, Refused};
use super::rules::text_order::{self, CompleteResult};
use super::rules::{Ans, op_name, op_req, req01, ses, unchanged};
use super::{CheckConfig, Finding, Shapes};
use crate::history::{AuthVariant, ChatRef, Event, EventKind, Step};
use crate::model::{self, ChatState, Classified};
use crate::spec::ReqId;
use std::collections::HashMap;

/// The replayed state of one chat.
#[derive(Debug, Clone)]
pub(crate) struct ChatSt {
    /// The agent owning the chat.
    pub owner: String,
    /// The agent-side chat id.
    pub id: String,
    /// `None`: indeterminate (no answer, harness error): the chat is not judged further.
    pub state: Option<ChatState>,
    /// Whether the customer is still in the chat.
    pub customer_present: bool,
    /// seq of the first `Completed` notification, once the chat completed.
    pub completed_note: Option<u64>,
    /// A refused Complete whose follow-up operation decides the rest of CMP-17:
    /// (request seq, response seq).
    pub pending17: Option<(u64, u64)>,
    /// Every state the chat has been in: a late `StatusChange` to one of them is an
    /// echo of an earlier step, not the doing of a later refusal.
    pub seen: Vec<ChatState>,
}

impl ChatSt {
    fn offered(owner: String, id: String, state: Option<ChatState>) -> ChatSt {
        ChatSt {
            owner,
            id,
            state,
            customer_present: true,
            completed_note: None,
            pending17: None,
            seen: vec![ChatState::Invited],
        }
    }
}

/// One agent request being judged.
pub(crate) struct Post<'a> {
    /// The step's index.
    pub index: usize,
    /// The chat's alias and replayed state (`None`: an unknown chat id).
    pub chat: Option<(String, ChatSt)>,
    /// seq of the request.
    pub req_seq: u64,
    /// Whether it is a part of a `Concurrent` step (its racing parts may change the
    /// chat too).
    pub concurrent: bool,
    /// The request, classified.
    pub cls: Classified,
    /// The answer.
    pub ans: Ans<'a>,
}

/// The replay: the index, the chats' states, the findings so far.
pub(crate) struct Replay<'i, 'a> {
    pub idx: &'i Index<'a>,
    pub cfg: &'i CheckConfig,
    pub shapes: &'i dyn Shapes,
    pub out: Vec<Finding>,
    pub chats: HashMap<String, ChatSt>,
}

impl<'i, 'a> Replay<'i, 'a> {
    /// Pushes findings.
    pub fn extend(&mut self, fs: impl IntoIterator<Item = Finding>) {
        self.out.extend(fs);
    }

    /// Every exercise of the case as Error with `reason`.
    pub fn error_exercised(&mut self, reason: &str) {
        let fs: Vec<Finding> = self
            .idx
            .exercises
            .iter()
            .map(|t| Finding::error(*t, reason))
            .collect();
        self.extend(fs);
    }

    /// The exercises of a case the target cannot show: Skip with the reason (SPEC §1.5).
    pub fn skip_exercised(&mut self, reason: &str) {
        let fs: Vec<Finding> = self
            .idx
            .exercises
            .iter()
            .map(|t| Finding::skip(*t, reason))
            .collect();
        self.extend(fs);
    }

    /// Replays one step.
    pub fn run_step(&mut self, at: StepAt<'a>) {
        let (index, step) = (at.index, at.step);
        if let Some((msg, _, not_observable)) = self.idx.harness.get(&index).copied() {
            self.step_trouble(index, step, msg, not_observable);
            return;
        }
        match step {
            Step::OfferChat { chat, agent } => self.offer(at.pos, index, chat, agent),
            Step::AgentPost {
                chat,
                by_other_agent,
                auth,
                ..
            } => {
                self.judge_post(index, None, chat, *by_other_agent, *auth);
            }
            Step::CustomerLeaves { chat } => self.customer_left(chat),
            Step::Concurrent { steps } => {
                let mut results = vec![];
                for k in self.served_order(at, steps) {
                    match &steps[k] {
                        Step::AgentPost {
                            chat,
                            by_other_agent,
                            auth,
                            ..
                        } => results.extend(self.judge_post(
                            index,
                            Some(k),
                            chat,
                            *by_other_agent,
                            *auth,
                        )),
                        Step::CustomerLeaves { chat } => self.customer_left(chat),
                        _ => {}
                    }
                }
                let f = text_order::cmp20(self.idx, index, steps, &results);
                self.extend(f);
            }
            Step::CustomerSends { .. } | Step::Inspect { .. } | Step::Settle => {}
        }
    }

    /// The order in which to judge the parts of a `Concurrent` step: the order the
    /// target served them in, as far as their answers and notifications show it.
    ///
    /// Parts on distinct chats keep their sending order (they do not interact). For
    /// the agent requests racing on one chat, the first ordering (sending order first)
    /// in which every answer is the one the model gives for that request in the state
    /// the earlier ones left is taken: two Completes of which the second sent won are
    /// judged winner first, the loser then as a Complete on a Completed chat. When no
    /// ordering explains the answers (both succeeded), the sending order is kept and
    /// the rules report what went wrong. A customer leaving that races the chat's agent
    /// requests comes first when the owner saw the customer leave before the chat's
    /// Completed (or saw it leave and no Completed), else last.
    fn served_order(&self, at: StepAt<'a>, steps: &[Step]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..steps.len()).collect();
        let mut aliases: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                Step::AgentPost {
                    chat: ChatRef::Alias(a),
                    ..
                } => Some(a.as_str()),
                Step::CustomerLeaves { chat } => Some(chat.as_str()),
                _ => None,
            })
            .collect();
        aliases.sort_unstable();
        aliases.dedup();
        for alias in aliases {
            let posts: Vec<usize> = steps
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    matches!(s, Step::AgentPost { chat: ChatRef::Alias(a), .. } if a == alias)
                })
                .map(|(k, _)| k)
                .collect();
            let leaves: Vec<usize> = steps
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s, Step::CustomerLeaves { chat } if chat == alias))
                .map(|(k, _)| k)
                .collect();
            if posts.len() + leaves.len() < 2 {
                continue;
            }
            let Some(c) = self.chats.get(alias) else {
                continue;
            };
            let mut posts_served = posts.clone();
            if posts.len() >= 2
                && let Some(s) = c.state
            {
                posts_served = self.explaining_order(at.index, steps, &posts, s);
            }
            let left_first = !leaves.is_empty() && self.customer_left_first(&c.id, at.seq);
            let mut served: Vec<usize> = vec![];
            if left_first {
                served.extend(&leaves);
            }
            served.extend(&posts_served);
            if !left_first {
                served.extend(&leaves);
            }
            // The chat's parts take the slots its parts had in the sending order.
            let mut slots: Vec<usize> = posts.iter().chain(&leaves).copied().collect();
            slots.sort_unstable();
            let pos: Vec<usize> = slots
                .iter()
                .filter_map(|k| order.iter().position(|o| o == k))
                .collect();
            let mut pos_sorted = pos.clone();
            pos_sorted.sort_unstable();
            for (p, k) in pos_sorted.into_iter().zip(served) {
                order[p] = k;
            }
        }
        order
    }

    /// The first ordering of the agent requests `parts` of step `index` (all on one
    /// chat in state `start`) that explains their answers by the model
    /// ([`model::explaining_order`]); the sending order when none does.
    fn explaining_order(
        &self,
        index: usize,
        steps: &[Step],
        parts: &[usize],
        start: ChatState,
    ) -> Vec<usize> {
        let racing: Vec<model::Racing> = parts
            .iter()
            .map(|&k| self.racing(index, k, &steps[k]))
            .collect();
        match model::explaining_order(start, &racing) {
            Some((order, _)) => order.into_iter().map(|i| parts[i]).collect(),
            None => parts.to_vec(),
        }
    }

    /// Part `k` (an agent request) of step `index` as the model orders races: the
    /// recorded request and whether its answer succeeded (`ok: None` when it went
    /// unsent or unanswered).
    fn racing(&self, index: usize, k: usize, step: &Step) -> model::Racing {
        let (caller_owns, credentials, step_body) = match step {
            Step::AgentPost {
                by_other_agent,
                auth,
                body,
                ..
            } => (
                !*by_other_agent,
                ses::ses_req(*auth, self.idx.csrf),
                Some(body),
            ),
            _ => (true, None, None),
        };
        let recorded = self.idx.request_of(index, Some(k));
        let ok = recorded.and_then(|(req_ev, req_id, _)| {
            self.idx
                .answer_of(req_id, req_ev.seq)
                .and_then(Ans::from_event)
                .map(|a| a.ok())
        });
        let request = match (recorded, step_body) {
            (Some((_, _, body)), _) | (None, Some(body)) => model::classify(body),
            (None, None) => model::classify(&crate::history::Body::Empty),
        };
        model::Racing {
            caller_owns,
            credentials,
            request,
            ok,
        }
    }

    /// Whether the owner saw the customer of chat `id` leave (after seq `from`) before
    /// the chat's first Completed, or saw it leave and no Completed at all.
    fn customer_left_first(&self, id: &str, from: u64) -> bool {
        let notes = self.idx.chat_notes(id);
        let left = notes
            .iter()
            .find(|n| n.seq > from && n.is_for(id) && n.has_customer_left())
            .map(|n| n.seq);
        let completed = notes
            .iter()
            .find(|n| n.seq > from && n.is_for(id) && n.is_completed())
            .map(|n| n.seq);
        match (left, completed) {
            (Some(l), Some(c)) => l < c,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    fn customer_left(&mut self, alias: &str) {
        if let Some(c) = self.chats.get_mut(alias) {
            c.customer_present = false;
        }
    }

    /// A step the harness could not carry out: its exercises are Error (or Skip), and
    /// the chats it touched are no longer judged.
    fn step_trouble(&mut self, index: usize, step: &Step, msg: &str, not_observable: bool) {
        if not_observable {
            self.skip_exercised(&format!("step {index}: {msg}"));
        } else {
            self.error_exercised(&format!("harness error in step {index}: {msg}"));
        }
        for (alias, c) in self.chats.iter_mut() {
            if acts_on(step, alias) || matches!(step, Step::Inspect { chat } if chat == alias) {
                c.state = None;
            }
        }
        if let Step::OfferChat { chat, agent } = step {
            self.chats.insert(
                chat.clone(),
                ChatSt::offered(agent.clone(), String::new(), None),
            );
        }
    }

    fn offer(&mut self, pos: usize, index: usize, chat: &str, agent: &str) {
        let bind = self.idx.ev[pos..].iter().find_map(|e| match &e.kind {
            EventKind::Bind {
                alias,
                agent,
                chat_id,
                ..
            } if alias == chat => Some((agent.clone(), chat_id.clone())),
            _ => None,
        });
        let st = match bind {
            Some((a, id)) => ChatSt::offered(a, id, Some(ChatState::Invited)),
            None => {
                self.error_exercised(&format!(
                    "step {index}: chat {chat:?} was offered but never bound to an id"
                ));
                ChatSt::offered(agent.to_string(), String::new(), None)
            }
        };
        self.chats.insert(chat.to_string(), st);
    }

    pub(crate) fn set_state(&mut self, alias: &str, s: Option<ChatState>) {
        if let Some(c) = self.chats.get_mut(alias) {
            c.state = s;
            if let Some(st) = s
                && !c.seen.contains(&st)
            {
                c.seen.push(st);
            }
        }
    }

    /// The chat a post names, with its state; `Err(())` when the post cannot be judged
    /// (findings already pushed).
    #[allow(clippy::result_unit_err)]
    fn chat_of(
        &mut self,
        index: usize,
        chat_ref: &ChatRef,
    ) -> Result<Option<(String, ChatSt)>, ()> {
        match chat_ref {
            ChatRef::Alias(a) => match self.chats.get(a) {
                Some(c) => Ok(Some((a.clone(), c.clone()))),
                None => {
                    self.error_exercised(&format!(
                        "step {index}: chat alias {a:?} was never offered in this case"
                    ));
                    Err(())
                }
            },
            ChatRef::Unknown(_) => Ok(None),
        }
    }

    /// Judges one agent post of step `index`; for a Complete the model expects to
    /// succeed, returns what CMP-20 needs.
    fn judge_post(
        &mut self,
        index: usize,
        part: Option<usize>,
        chat_ref: &ChatRef,
        by_other: bool,
        auth: AuthVariant,
    ) -> Option<CompleteResult> {
        let chat = self.chat_of(index, chat_ref).ok()?;
        let Some((req_ev, req_id, body)) = self.idx.request_of(index, part) else {
            self.error_exercised(&format!("step {index}: no request was recorded"));
            return None;
        };
        let cls = model::classify(body);
        let state = match &chat {
            Some((alias, c)) => match c.state {
                Some(s) => Some(s),
                None => {
                    if let Some(r) = op_req(&cls, auth, self.idx.csrf, None, by_other) {
                        self.extend([Finding::skip(
                            r,
                            format!(
                                "chat {alias:?}: state unknown after an earlier indeterminate step"
                            ),
                        )]);
                    }
                    return None;
                }
            },
            None => None,
        };
        let exp = model::expect(state, !by_other, &cls);
        let mode_req = op_req(&cls, auth, self.idx.csrf, Some(&exp), by_other);
        let ans_ev = self.idx.answer_of(req_id, req_ev.seq);
        let Some(ans) = ans_ev.and_then(Ans::from_event) else {
            self.no_answer(index, ans_ev, mode_req, chat.as_ref().map(|c| c.0.as_str()));
            return None;
        };
        // SPEC §6.12: where the contract leaves either answer open, the target's choice
        // decides what is judged next.
        let exp = exp.given(ans.ok(), state);
        let post = Post {
            index,
            chat,
            req_seq: req_ev.seq,
            concurrent: part.is_some(),
            cls,
            ans,
        };
        let evs = vec![post.req_seq, post.ans.seq];
        // Transport-level refusals first (SES-01/02).
        self.extend(ses::ses01_not_applicable(auth, self.idx.csrf));
        if let Some(r) = ses::ses_req(auth, self.idx.csrf) {
            self.extend([ses::refused_session(r, auth, &post.ans, evs)]);
            self.after_refusal(&post, &[r], false);
            return None;
        }
        match &exp.refusal {
            Some(refusal) => {
                match refusal.req {
                    Some(ReqId::Req01) => self.extend([req01::req01(&post.ans, evs)]),
                    Some(r) => {
                        self.extend([refusal::refused_as_expected(r, refusal, &post.ans, evs)])
                    }
                    None if refusal.either => {
                        self.extend(req01::either_refused(refusal, &post.ans, evs))
                    }
                    None => {}
                }
                let mut cite: Vec<ReqId> = vec![];
                if post.cls.is_complete() && post.chat.is_some() {
                    cite.push(ReqId::Cmp17);
                    if refusal.req == Some(ReqId::Cmp21) {
                        cite.push(ReqId::Cmp21);
                    }
                } else if refusal.req == Some(ReqId::Req01) && post.chat.is_some() {
                    // REQ-01's row says only "refused"; that the refusal changes nothing
                    // is SPEC §2 ("An error answer (statusCode ≠ 0) changes nothing and
                    // produces no notification for X") and §1.2 (a failure leaves
                    // "nothing changed on the server") for a body sent to the chat's
                    // Complete endpoint. It is cited under REQ-01, the refusal's row.
                    cite.push(ReqId::Req01);
                }
                self.after_refusal(&post, &cite, true);
                None
            }
            None => self.expected_success(post, state, exp.next),
        }
    }

    /// A request without an answer: Error for the requirement it was judged under (or
    /// every exercise), and the chat is no longer judged.
    fn no_answer(
        &mut self,
        index: usize,
        e: Option<&Event>,
        mode_req: Option<ReqId>,
        alias: Option<&str>,
    ) {
        let why = match e.map(|e| &e.kind) {
            Some(EventKind::NoResponse {
                kind,
                message,
                elapsed_us,
                ..
            }) => format!(
                "no answer: {} after {} ({message})",
                format!("{kind:?}").to_lowercase(),
                secs(*elapsed_us)
            ),
            _ => "no answer recorded for the request".to_string(),
        };
        let reqs: Vec<ReqId> = match mode_req {
            Some(r) => vec![r],
            None => self.idx.exercises.clone(),
        };
        for r in reqs {
            self.extend([Finding::error(r, format!("step {index}: {why}"))]);
        }
        if let Some(a) = alias {
            self.set_state(a, None);
        }
    }

    /// A post the model expects to succeed (on a known chat).
    fn expected_success(
        &mut self,
        post: Post<'a>,
        state: Option<ChatState>,
        next: Option<ChatState>,
    ) -> Option<CompleteResult> {
        let (a, c) = post.chat.clone()?;
        // The follow-up of a refused Complete (CMP-17).
        if let Some(pending) = c.pending17 {
            let f = refusal::cmp17_follow_up(
                pending,
                post.req_seq,
                &post.ans,
                op_name(&post.cls),
                state,
            );
            self.extend([f]);
            if let Some(cm) = self.chats.get_mut(&a) {
                cm.pending17 = None;
            }
        }
        if let Some(p) = post.cls.complete_params() {
            return Some(self.judge_complete(&a, &c, p, &post));
        }
        if post.ans.ok() {
            self.set_state(&a, next);
        } else {
            if c.pending17.is_none() {
                self.error_exercised(&format!(
                    "step {}: precondition not reached: {} on chat {a:?} in state {} was answered {}",
                    post.index,
                    op_name(&post.cls),
                    state.map(ChatState::as_str).unwrap_or("?"),
                    post.ans.describe()
                ));
            }
            self.set_state(&a, None);
        }
        None
    }

    /// After the answer to a request the model refuses: follow the target when it
    /// accepted, else check that nothing changed (citing `cite`) and, when `follow_up`,
    /// leave CMP-17's follow-up part pending.
    fn after_refusal(&mut self, post: &Post<'a>, cite: &[ReqId], follow_up: bool) {
        let Some((alias, _)) = &post.chat else { return };
        let Some(c) = self.chats.get(alias).cloned() else {
            return;
        };
        let Some(state) = c.state else { return };
        if post.ans.ok() {
            self.follow_accepted(alias, &c, state, post);
            return;
        }
        if cite.is_empty() {
            return;
        }
        let refused_text = post.cls.complete_params().and_then(|p| p.text.as_deref());
        let v = Refused {
            idx: self.idx,
            chat_id: &c.id,
            owner: &c.owner,
            state,
            seen: &c.seen,
            completed_note: c.completed_note,
            refused_text,
            req_seq: post.req_seq,
            ans: &post.ans,
            end: self.idx.window_end(alias, post.ans.seq),
        };
        let caused = v.caused();
        let mut fs = refusal::nothing_changed(&v, &caused, cite, follow_up);
        // The other half of the one rule: what the provisioning side shows, before and
        // after (not for a part of a Concurrent step: the parts racing it may change the
        // chat).
        if !post.concurrent {
            let at = unchanged::At {
                alias,
                step: post.index,
                req_seq: post.req_seq,
                ans_seq: post.ans.seq,
                end: v.end,
            };
            let scope = unchanged::Scope {
                state,
                customer_present: c.customer_present,
                refused_text,
            };
            fs.extend(unchanged::provision_side(self.idx, &at, &scope, cite));
        }
        if state == ChatState::Completed && post.cls.is_complete() {
            fs.extend(refusal::cmp13_second_completed(&v, &caused));
        }
        let pend = follow_up && caused.is_empty() && cite.contains(&ReqId::Cmp17);
        self.extend(fs);
        if pend && let Some(cm) = self.chats.get_mut(alias) {
            cm.pending17 = Some((post.req_seq, post.ans.seq));
        }
    }

    /// The target did what the model refuses: follow it so later judgments do not
    /// cascade.
    fn follow_accepted(&mut self, alias: &str, c: &ChatSt, state: ChatState, post: &Post) {
        let Some(op) = post.cls.op_name() else {
            return;
        };
        let next = model::after_success(state, op);
        if next == ChatState::Completed && state != ChatState::Completed {
            let first = self
                .idx
                .chat_notes(&c.id)
                .iter()
                .find(|n| n.seq > post.req_seq && n.is_for(&c.id) && n.is_completed())
                .map(|n| n.seq);
            if let Some(cm) = self.chats.get_mut(alias) {
                cm.completed_note = first;
            }
        }
        self.set_state(alias, Some(next));
    }

    /// A refused Complete with no later valid operation: CMP-17 on the notifications.
    pub fn finish_pending17(&mut self) {
        let n = self
            .chats
            .values()
            .filter(|c| c.pending17.is_some())
            .count();
        for _ in 0..n {
            self.extend([refusal::cmp17_no_follow_up()]);
        }
    }
}
