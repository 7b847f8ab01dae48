//! The first pass over a case's record: requests, answers, notifications per chat,
//! inspects, steps and harness errors, indexed into a plain struct the rules read.
//! Nothing here judges.

#![warn(missing_docs)]

use crate::history::Note;
use crate::history::{BayeuxEvent, Body, ChatRef, Event, EventKind, Step};
use crate::spec::ReqId;
use serde_json::Value;
use std::collections::HashMap;

/// A case-level event that decides the exercises wholesale (outside any step).
#[derive(Debug, Clone, Copy)]
pub(crate) enum CaseLevel<'a> {
    /// A `NotObservable` outside a step: the exercises are Skip.
    NotObservable(&'a str),
    /// A `HarnessError` outside a step: the exercises are Error.
    HarnessError(&'a str),
}

/// A harness problem inside a step: (message, seq, not observable).
pub(crate) type StepTrouble<'a> = (&'a str, u64, bool);

/// One `Step` event: position in the case's events, its seq, its index, the step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepAt<'a> {
    /// Position in the case's events.
    pub pos: usize,
    /// The event's seq.
    pub seq: u64,
    /// The step's index.
    pub index: usize,
    /// The step.
    pub step: &'a Step,
}

/// When the harness stopped seeing an agent's notifications (SPEC §4: what it could no
/// longer see is never a Fail).
#[derive(Debug, Clone)]
pub(crate) struct Lost<'a> {
    /// The agent whose notifications were no longer observed.
    pub agent: &'a str,
    /// seq of the event that says so.
    pub seq: u64,
    /// Time of that event.
    pub t_us: u64,
    /// Why, in words.
    pub reason: &'a str,
}

/// The case's record, indexed.
pub(crate) struct Index<'a> {
    /// Every event of the case, in order.
    pub ev: &'a [Event],
    /// The requirement ids the case was built to exercise.
    pub exercises: Vec<ReqId>,
    /// Whether an agent session announced a CSRF token (SES-01 applies).
    pub csrf: bool,
    /// Notifications by chat id, in order.
    pub by_chat: HashMap<String, Vec<Note<'a>>>,
    /// First agent request per (step index, part): position in `ev`.
    pub reqs: HashMap<(usize, Option<usize>), usize>,
    /// Answers (Response/NoResponse) per request id: positions in `ev`.
    pub answers: HashMap<u64, Vec<usize>>,
    /// First harness trouble per step index.
    pub harness: HashMap<usize, StepTrouble<'a>>,
    /// Case-level harness events, in order.
    pub case_level: Vec<CaseLevel<'a>>,
    /// Positions of `Inspect` events.
    pub inspects: Vec<usize>,
    /// Every `Step` event.
    pub steps: Vec<StepAt<'a>>,
    /// Where observation of an agent's notifications stopped.
    pub lost: Vec<Lost<'a>>,
}

/// True when `step` acts on chat `alias` (an agent post, or a customer event).
pub(crate) fn acts_on(step: &Step, alias: &str) -> bool {
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

/// `us` microseconds in seconds, in words.
pub(crate) fn secs(us: u64) -> String {
    format!("{:.1} s", us as f64 / 1e6)
}

impl<'a> Index<'a> {
    /// Indexes `ev` (one case).
    pub fn build(ev: &'a [Event]) -> Index<'a> {
        let mut ix = Index {
            ev,
            exercises: vec![],
            csrf: false,
            by_chat: HashMap::new(),
            reqs: HashMap::new(),
            answers: HashMap::new(),
            harness: HashMap::new(),
            case_level: vec![],
            inspects: vec![],
            steps: vec![],
            lost: vec![],
        };
        for n in ev.iter().filter_map(Note::from_event) {
            if let Some(id) = n.chat_id.clone() {
                ix.by_chat.entry(id).or_default().push(n);
            }
        }
        for (pos, e) in ev.iter().enumerate() {
            ix.add(pos, e);
        }
        ix
    }

    fn add(&mut self, pos: usize, e: &'a Event) {
        match &e.kind {
            EventKind::Case { exercises, .. } => self.exercises = exercises.clone(),
            EventKind::Session { csrf: true, .. } => self.csrf = true,
            EventKind::Step { index, step } => self.steps.push(StepAt {
                pos,
                seq: e.seq,
                index: *index,
                step,
            }),
            EventKind::Request {
                actor: crate::history::Actor::Agent(_),
                part,
                ..
            } => {
                if let Some(i) = e.in_step {
                    self.reqs.entry((i, *part)).or_insert(pos);
                }
            }
            EventKind::Inspect { .. } => self.inspects.push(pos),
            EventKind::Response { req, .. } | EventKind::NoResponse { req, .. } => {
                self.answers.entry(*req).or_default().push(pos);
            }
            EventKind::HarnessError { message } => match e.in_step {
                Some(i) => {
                    self.harness
                        .entry(i)
                        .or_insert((message.as_str(), e.seq, false));
                }
                None => self.case_level.push(CaseLevel::HarnessError(message)),
            },
            EventKind::NotObservable { message } => match e.in_step {
                Some(i) => {
                    self.harness
                        .entry(i)
                        .or_insert((message.as_str(), e.seq, true));
                }
                None => self.case_level.push(CaseLevel::NotObservable(message)),
            },
            // The agent's Bayeux session ended (the harness gave up re-handshaking,
            // reached its notification cap, was advised `none`, or stopped it): from
            // here on the harness sees nothing for that agent.
            EventKind::Bayeux {
                agent,
                event: BayeuxEvent::Closed { reason },
            } => self.lost.push(Lost {
                agent,
                seq: e.seq,
                t_us: e.t_us,
                reason,
            }),
            _ => {}
        }
    }

    /// The notifications for chat `id`, in order.
    pub fn chat_notes(&self, id: &str) -> &[Note<'a>] {
        self.by_chat.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first agent request of step `index` (part `part`): event, request id, body.
    pub fn request_of(
        &self,
        index: usize,
        part: Option<usize>,
    ) -> Option<(&'a Event, u64, &'a Body)> {
        let ev: &'a [Event] = self.ev;
        let e = ev.get(*self.reqs.get(&(index, part))?)?;
        match &e.kind {
            EventKind::Request { req, body, .. } => Some((e, *req, body)),
            _ => None,
        }
    }

    /// The first answer to request `req` recorded after seq `after`.
    pub fn answer_of(&self, req: u64, after: u64) -> Option<&'a Event> {
        let ev: &'a [Event] = self.ev;
        self.answers
            .get(&req)?
            .iter()
            .filter_map(|p| ev.get(*p))
            .find(|e| e.seq > after)
    }

    /// The seq where the "caused by this step" window for `alias` ends: the next step
    /// that acts on the chat after seq `after`, or the end of the case.
    pub fn window_end(&self, alias: &str, after: u64) -> u64 {
        self.steps
            .iter()
            .find(|s| s.seq > after && acts_on(s.step, alias))
            .map(|s| s.seq)
            .unwrap_or(u64::MAX)
    }

    /// The time of the event with seq `seq`.
    pub fn t_of(&self, seq: u64) -> Option<u64> {
        self.ev.iter().find(|e| e.seq == seq).map(|e| e.t_us)
    }

    /// How long the history shows the harness waiting after `from_us`, in words.
    pub fn waited_since(&self, from_us: u64) -> String {
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

    /// The seq of the last quiet mark.
    pub fn last_quiet_seq(&self) -> Option<u64> {
        self.ev
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::Quiet { .. }))
            .map(|e| e.seq)
    }

    /// The first `Inspect` of `alias` after seq `after`: (seq, result, reason).
    pub fn inspect_after(
        &self,
        alias: &str,
        after: u64,
    ) -> Option<(u64, Option<&'a Value>, Option<&'a str>)> {
        let ev: &'a [Event] = self.ev;
        self.inspects
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
            })
    }

    /// The `Inspect` of `alias` made right before step `index` acts on it: the last one
    /// recorded after the previous step acting on the chat and before step `index`
    /// began, as (seq, result, reason).
    pub fn inspect_before(
        &self,
        alias: &str,
        index: usize,
    ) -> Option<(u64, Option<&'a Value>, Option<&'a str>)> {
        let at = self.steps.iter().find(|s| s.index == index)?.seq;
        let prev = self
            .steps
            .iter()
            .filter(|s| s.seq < at && acts_on(s.step, alias))
            .map(|s| s.seq)
            .max()
            .unwrap_or(0);
        let ev: &'a [Event] = self.ev;
        self.inspects
            .iter()
            .rev()
            .filter_map(|p| ev.get(*p))
            .find_map(|e| match &e.kind {
                EventKind::Inspect {
                    alias: a,
                    result,
                    reason,
                } if e.seq > prev && e.seq < at && a == alias => {
                    Some((e.seq, result.as_ref(), reason.as_deref()))
                }
                _ => None,
            })
    }

    /// The first `Inspect` of `alias` after seq `after` and before seq `end`.
    pub fn inspect_between(
        &self,
        alias: &str,
        after: u64,
        end: u64,
    ) -> Option<(u64, Option<&'a Value>, Option<&'a str>)> {
        self.inspect_after(alias, after)
            .filter(|(seq, _, _)| *seq < end)
    }

    /// When observation of `agent`'s notifications stopped at or before time `by_us`
    /// (the harness could not see what came later), the first such event.
    pub fn lost_by(&self, agent: &str, by_us: u64) -> Option<&Lost<'a>> {
        self.lost
            .iter()
            .find(|l| l.agent == agent && l.t_us <= by_us)
    }

    /// When observation of `agent` stopped at any point of the case (an absence "until
    /// the end of the case" cannot be claimed then).
    pub fn lost_any(&self, agent: &str) -> Option<&Lost<'a>> {
        self.lost.iter().find(|l| l.agent == agent)
    }
}
