//! Driving a connected target through a case and recording its history.
//!
//! One [`Env`] per run: the agents' REST clients, one Bayeux session per agent recording
//! into the run-level recorder, and the provisioner. Each case records into its own child
//! recorder (same clock); when the case ends its history is the case's events merged with
//! the run-level notifications about the case's chats. Waiting is always on events
//! (`Recorder::wait_for`), never a fixed sleep.

mod capacity;
mod record;
mod step;

use crate::cases::Case;
use crate::check::{self, CheckConfig, Finding, Shapes, Verdict};
use crate::client::{
    AgentClient, BayeuxClient, BayeuxHandle, Credentials, Offered, Outcome, Provisioner,
    Provisioning, TargetConfig,
};
use crate::history::{AuthVariant, Body, ChatRef, Event, EventKind, History, Recorder, Step};
use crate::model::{self, ChatState};
use crate::schema::Schemas;
use crate::spec::ReqId;
use capacity::{Capacity, chats_per_agent};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The chat channel the harness listens on.
pub(crate) const CHATS_CHANNEL: &str = "/v2/me/chats";

/// What running one case gave.
#[derive(Debug, Clone)]
pub(crate) struct CaseOutcome {
    /// What was recorded (the case's own events and its chats' notifications).
    pub history: History,
    /// What the checker found.
    pub findings: Vec<Finding>,
    /// The case's verdict, folded over the findings.
    pub verdict: Verdict,
    /// Wall time of the case.
    pub duration: Duration,
}

impl CaseOutcome {
    /// Requirement ids this case failed.
    pub fn failed(&self) -> BTreeSet<ReqId> {
        self.findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .map(|f| f.req)
            .collect()
    }
}

/// [`Shapes`] over the crate's JSON Schemas.
pub struct SchemaShapes(pub &'static Schemas);

impl Shapes for SchemaShapes {
    fn validate(&self, schema: &str, instance: &Value) -> Result<(), crate::check::Misfit> {
        self.0.validate(schema, instance).map_err(|issues| {
            crate::check::Misfit(
                issues
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

/// Why a target could not be connected, with what was recorded on the way (the Bayeux
/// events of a refused handshake or subscribe are a target failure of NTF-02, judged
/// from this history).
#[derive(Debug)]
pub(crate) struct ConnectError {
    /// What went wrong, in words.
    pub message: String,
    /// What was recorded on the way (Bayeux events of a refused handshake or subscribe).
    pub run_history: History,
}

/// A connected target.
pub(crate) struct Env {
    /// How to reach the target.
    pub target: TargetConfig,
    /// Deadline and quiet window the checker judges with.
    pub check: CheckConfig,
    agents: Arc<Vec<AgentClient>>,
    bayeux: Vec<BayeuxHandle>,
    provisioner: Arc<Provisioner>,
    run_rec: Recorder,
    shapes: SchemaShapes,
    /// The run's chats (every agent-side chat id the run provisioned, for NTF-01 on the
    /// notifications about no case's chat, and those routing offered again or late),
    /// the watcher of their offers and their clean-up (SPEC §6.13).
    routing: Arc<super::route::Routing>,
    /// Stops the watcher of offers.
    watching: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
    /// The bound on open chats per agent (SPEC §6.9), when there is one.
    capacity: Option<Capacity>,
    /// Set by a signal: no new step starts.
    cancel: super::Cancel,
    /// Set when nothing more can be learnt (the target stopped answering, every
    /// notification session is gone): no new step starts; the cause is its message.
    halt: super::Cancel,
    /// Cases doing work (sending, awaiting answers) at once; a case waiting out its
    /// final quiet window holds none.
    work: Option<Arc<Semaphore>>,
    /// Where each running case's view of the run record starts (index → cases), so
    /// that the record can drop what no running case reads.
    active: std::sync::Mutex<BTreeMap<usize, usize>>,
    /// Drop from the run record what no case reads any more (off when every history is
    /// kept for snapshots).
    bounded: bool,
}

/// The run record is trimmed in batches of at least this many events.
const TRIM_BATCH: usize = 4096;

pub use crate::history::notification_chat_id;

fn notification_about<'a>(e: &'a Event, chats: &BTreeSet<String>) -> Option<&'a Value> {
    match &e.kind {
        EventKind::Notification { data, .. } => {
            notification_chat_id(data).filter(|id| chats.contains(*id))?;
            Some(data)
        }
        _ => None,
    }
}

/// A state notification the runner waits for before going on (bounded by the deadline).
struct Pending {
    chat_id: String,
    state: &'static str,
    since: Instant,
}

/// The StatusChange state a successful operation announces: the model's
/// ([`crate::model::status_change_of`] of the operation the body asks for).
fn expected_state(body: &Body) -> Option<&'static str> {
    let op = crate::model::classify(body).op_name()?;
    crate::model::status_change_of(op).map(crate::model::ChatState::as_str)
}

/// Whether `outcome` counts as a success ([`model::succeeded`]: HTTP 2xx, statusCode 0).
pub(crate) fn status_code_zero(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Answered { status, body }
        if model::succeeded(*status, model::status_code(body)))
}

impl Env {
    /// Logs every agent in, starts one Bayeux session per agent, and prepares
    /// provisioning. Any failure is a harness error (exit 3), never a target Fail.
    pub async fn connect(
        target: TargetConfig,
        check: CheckConfig,
        creds: Vec<Credentials>,
        mode: Provisioning,
        schemas: &'static Schemas,
        tuning: crate::client::BayeuxTuning,
    ) -> Result<Env, ConnectError> {
        let run_rec = Recorder::new();
        let fail = |message: String, rec: &Recorder| ConnectError {
            message,
            run_history: rec.snapshot(),
        };
        let provisioner =
            Provisioner::new(&target, mode).map_err(|e| fail(e.to_string(), &run_rec))?;
        let mut agents = Vec::new();
        for c in creds {
            let user = c.user.clone();
            let a = AgentClient::login(&target, c, &run_rec)
                .await
                .map_err(|e| fail(format!("agent {user}: {e}"), &run_rec))?;
            agents.push(a);
        }
        let mut bayeux = Vec::new();
        for a in &agents {
            match BayeuxClient::start_with(
                &target,
                a,
                &[CHATS_CHANNEL],
                run_rec.clone(),
                tuning.clone(),
            )
            .await
            {
                Ok(h) => bayeux.push(h),
                Err(e) => {
                    for h in bayeux {
                        h.stop().await;
                    }
                    return Err(fail(
                        format!("agent {}: notifications: {e}", a.user()),
                        &run_rec,
                    ));
                }
            }
        }
        let agents = Arc::new(agents);
        let provisioner = Arc::new(provisioner);
        let routing = Arc::new(super::route::Routing::new(
            run_rec.clone(),
            agents.clone(),
            provisioner.clone(),
        ));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(routing.clone().watch(stopped));
        Ok(Env {
            target,
            check,
            agents,
            bayeux,
            provisioner,
            run_rec,
            shapes: SchemaShapes(schemas),
            routing,
            watching: Some((stop, watcher)),
            capacity: None,
            cancel: super::Cancel::new(),
            halt: super::Cancel::new(),
            work: None,
            active: Default::default(),
            bounded: false,
        })
    }

    /// Bounds the chats the harness holds open per agent (SPEC §6.9); `None` or 0:
    /// unbounded.
    pub fn set_capacity(&mut self, max_chats_per_agent: Option<usize>) {
        self.capacity = max_chats_per_agent.filter(|&n| n > 0).map(|per_agent| {
            let pooled = self.provisioner.mode_name() == "customer-api";
            Capacity {
                per_agent,
                agents: self
                    .agents
                    .iter()
                    .map(|a| (a.user().to_string(), Arc::new(Semaphore::new(per_agent))))
                    .collect(),
                pool: pooled
                    .then(|| Arc::new(Semaphore::new(per_agent * self.agents.len().max(1)))),
            }
        });
        match &self.capacity {
            Some(c) => self.routing.set_room(c.agents.clone(), c.pool.clone()),
            None => self.routing.set_room(Vec::new(), None),
        }
    }

    /// At most `n` cases do work at once (0: no bound); cases waiting out their final
    /// quiet window do not count.
    pub fn set_work_slots(&mut self, n: usize) {
        self.work = (n > 0).then(|| Arc::new(Semaphore::new(n)));
    }

    /// Keeps the run record bounded: once a case is judged, the notifications about its
    /// chats are dropped, and what no running case reads any more is trimmed (only the
    /// Bayeux session events and notifications about no case's chat stay, for NTF-01/02);
    /// the notifications stored at once are charged by size against the run's budget
    /// (`history::DEFAULT_NOTE_BUDGET`, 24 MiB), beyond which they are only counted.
    pub fn set_bounded(&mut self, bounded: bool) {
        self.bounded = bounded;
        // Bounded, the record's notifications are charged against the run's budget too.
        self.run_rec
            .set_note_budget(bounded.then_some(crate::history::DEFAULT_NOTE_BUDGET));
    }

    /// Registers a case starting to read the run record; returns where it starts.
    fn enter(&self) -> usize {
        let mut a = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let from = self.run_rec.len();
        *a.entry(from).or_insert(0) += 1;
        from
    }

    /// The case that started at `from` no longer reads the run record; its chats are
    /// retired and the record trimmed (when bounded).
    fn leave(&self, from: usize, chats: &BTreeSet<String>) {
        let mut a = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = a.get_mut(&from) {
            *n -= 1;
            if *n == 0 {
                a.remove(&from);
            }
        }
        if !self.bounded {
            return;
        }
        let ids: Vec<&str> = chats.iter().map(String::as_str).collect();
        self.run_rec.retire(&ids);
        let floor = a
            .keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.run_rec.len());
        // Below the floor, a notification about a chat no judged case retired is about
        // no case's chat (a running case's chats are above it): NTF-01 judges its shape
        // now, and only an invalid one is kept for the run's verdict.
        self.run_rec.trim(floor, TRIM_BATCH, |e| match &e.kind {
            EventKind::Bayeux { .. } => true,
            EventKind::Notification { .. } => check::judge_unclaimed(&[e], &self.shapes)
                .iter()
                .any(|f| f.verdict != Verdict::Pass),
            _ => false,
        });
    }

    /// True when cases wait for room on the target (`--max-chats-per-agent`).
    pub fn has_capacity_bound(&self) -> bool {
        self.capacity.is_some()
    }

    /// How many runs of `case` fit on the target at once, one started as the last ends
    /// counted in (`None`: no capacity bound).
    pub fn runs_that_fit(&self, case: &Case) -> Option<usize> {
        let c = self.capacity.as_ref()?;
        let room = c.per_agent * c.agents.len().max(1);
        let need: usize = chats_per_agent(case).values().sum();
        Some(room.div_ceil(need.max(1)).max(1))
    }

    /// Watches `cancel`: once it is set, no new step starts (the case ends with a
    /// harness error "interrupted" and its clean-up runs).
    pub fn set_cancel(&mut self, cancel: super::Cancel) {
        self.cancel = cancel;
    }

    /// Why no new step may start: a signal ([`super::INTERRUPTED`]) or why the run
    /// cannot go on ([`Env::halt`]).
    pub fn stop_reason(&self) -> Option<String> {
        if self.cancel.is_cancelled() {
            return Some(super::INTERRUPTED.to_string());
        }
        self.halt.cause().map(|(why, _)| why)
    }

    /// Resolves once a signal or a halt says no new step may start.
    pub async fn stopped(&self) {
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = self.halt.cancelled() => {}
        }
    }

    /// Stops the run because nothing more can be learnt (`why` says what, for every
    /// requirement nothing judged).
    pub fn halt(&self, why: String) {
        self.halt.cancel_by(why);
    }

    /// Why the run was halted, if it was.
    pub fn halted(&self) -> Option<String> {
        self.halt.cause().map(|(why, _)| why)
    }

    /// Why nothing more can be learnt, if so: the target stopped answering (`after`
    /// requests of one kind in a row, or none for `silence`), or every agent's
    /// notification session is gone for good.
    pub fn gone(&self, after: u32, silence: Duration) -> Option<String> {
        if let Some(g) = self.target.liveness.gone(after, silence) {
            return Some(g.to_string());
        }
        if !self.bayeux.is_empty() && self.bayeux.iter().all(|h| !h.is_alive()) {
            let why: Vec<String> = self
                .run_rec
                .session_ends(0, usize::MAX)
                .into_iter()
                .filter_map(|e| match e.kind {
                    EventKind::Bayeux {
                        agent,
                        event: crate::history::BayeuxEvent::Closed { reason },
                    } => Some(format!("{agent}: {reason}")),
                    _ => None,
                })
                .collect();
            return Some(format!(
                "not run: every agent's notification session is gone ({})",
                if why.is_empty() {
                    "closed".to_string()
                } else {
                    why.join("; ")
                }
            ));
        }
        None
    }

    /// Agent user names, in order.
    pub fn agent_names(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.user().to_string()).collect()
    }

    /// Whether the run may keep `h`, a judged case's history, for the report: its
    /// notifications are charged against the run's budget (when bounded); false when
    /// they find no room (counted, and said in the session case).
    pub(crate) fn charge_kept(&self, h: &History) -> bool {
        self.run_rec.charge_kept(h)
    }

    /// The run-level history (logins, Bayeux sessions, every notification).
    pub fn run_history(&self) -> History {
        self.run_rec.snapshot()
    }

    /// NTF-02 over the run so far, and NTF-01 for the notifications about no chat the
    /// run provisioned (the ones trimmed earlier were judged then).
    pub fn judge_session(&self) -> Vec<Finding> {
        let run = self.run_rec.snapshot();
        let provisioned = |id: &str| self.routing.provisioned(id);
        let at = check::RunLevel {
            provisioned: &provisioned,
            offered: self.routing.provisioned_count(),
            notifications: self.run_rec.notification_count(),
            elapsed: self.run_rec.elapsed(),
        };
        let mut out = check::judge_run_level(&run, &at, &self.shapes);
        // What the record did not store (beyond its budget or its sample) is said, not
        // judged: a Skip changes no verdict.
        if let Some(why) = self.run_rec.dropped_notes().describe() {
            out.push(Finding::skip(ReqId::Ntf01, why));
        }
        out
    }

    fn agent(&self, user: &str) -> Option<&AgentClient> {
        self.agents.iter().find(|a| a.user() == user)
    }

    /// Completes what the run left open, ends the Bayeux sessions and sets the agents
    /// NotReady.
    pub async fn close(mut self) {
        self.sweep().await;
        if let Some((stop, watcher)) = self.watching.take() {
            let _ = stop.send(true);
            let _ = watcher.await;
        }
        self.routing.finish().await;
        // What was offered while the watcher stopped.
        self.routing.sweep().await;
        for h in self.bayeux {
            h.stop().await;
        }
        for a in self.agents.iter() {
            a.logout(&self.run_rec).await;
        }
    }
}

/// What one agent request did, by the model.
#[derive(Default)]
struct Posted {
    /// Whether the request was answered with statusCode 0 (`None`: no answer, or not a
    /// request).
    ok: Option<bool>,
    pending: Option<Pending>,
    /// The chat's state afterwards (`None` inside: no longer known).
    update: Option<(String, Option<ChatState>)>,
    /// How the target differed from the model, if it did.
    diverged: Option<String>,
    /// [`model::credentials_refusal`] of the request (`None` also when not a request).
    credentials: Option<ReqId>,
}

/// Why a step could not be carried out.
enum StepError {
    /// The harness or the environment broke: the case's exercises are Error.
    Harness(String),
    /// The target cannot show what the step needs: the case's exercises are Skip.
    NotObservable(String),
}

impl StepError {
    fn from_target(what: &str, e: crate::client::HarnessError) -> Self {
        if e.is_unsupported() {
            StepError::NotObservable(format!("{what}: {e}"))
        } else {
            StepError::Harness(format!("{what}: {e}"))
        }
    }
}

/// One provisioned chat as the harness follows it.
#[derive(Debug, Clone)]
struct Tracked {
    /// Where the model (following the target) says it is; `None`: no longer known.
    state: Option<ChatState>,
    /// The customer left (a `CustomerLeaves` step ran).
    customer_left: bool,
}

#[derive(Default)]
struct CaseState {
    bound: HashMap<String, Offered>,
    chats: BTreeSet<String>,
    pending: Vec<Pending>,
    tracked: HashMap<String, Tracked>,
    /// The first divergence from the model (SPEC §6.11): the case stops there.
    diverged: Option<String>,
}

impl CaseState {
    /// No chat the case provisioned occupies its agent's capacity any more (by the
    /// model, following the target).
    fn all_closed(&self) -> bool {
        self.bound.values().all(|o| {
            self.tracked
                .get(&o.chat_id)
                .and_then(|t| t.state)
                .is_some_and(|s| !s.holds_capacity())
        })
    }

    fn offered(&self, alias: &str) -> Result<&Offered, String> {
        self.bound
            .get(alias)
            .ok_or_else(|| format!("chat {alias} was never provisioned in this case"))
    }

    /// Takes in what a request did; `judge`: whether a divergence counts (not for two
    /// requests on one chat at once).
    fn apply(&mut self, p: Posted, judge: bool) {
        if let Some(pending) = p.pending {
            self.pending.push(pending);
        }
        if let Some((id, state)) = p.update
            && let Some(t) = self.tracked.get_mut(&id)
        {
            t.state = if judge { state } else { None };
        }
        if judge && let Some(why) = p.diverged {
            self.diverged.get_or_insert(why);
        }
    }
}

/// The agent requests `parts` (positions in `steps`) that raced on one chat, as the
/// model orders races: `oks` holds, per position, whether the request succeeded and its
/// credentials' refusal.
fn racing_parts(
    steps: &[Step],
    parts: &[usize],
    oks: &[(Option<bool>, Option<ReqId>)],
) -> Vec<model::Racing> {
    parts
        .iter()
        .filter_map(|j| match &steps[*j] {
            Step::AgentPost {
                by_other_agent,
                body,
                ..
            } => Some(model::Racing {
                caller_owns: !*by_other_agent,
                credentials: oks[*j].1,
                request: model::classify(body),
                ok: oks[*j].0,
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::record::merge_histories;
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_id_comes_from_chat_or_from_paths() {
        assert_eq!(
            notification_chat_id(&json!({"chat": {"id": "A1"}})),
            Some("A1")
        );
        assert_eq!(
            notification_chat_id(&json!({"chatUri": "http://h/api/v2/chats/B2"})),
            Some("B2")
        );
        assert_eq!(
            notification_chat_id(&json!({"chatPath": "/chats/C3/"})),
            Some("C3")
        );
        assert_eq!(notification_chat_id(&json!({"messages": []})), None);
    }

    #[test]
    fn merge_keeps_only_the_case_chats_in_time_order() {
        let rec = Recorder::new();
        let child = rec.child();
        child.record(
            "runner",
            EventKind::Step {
                index: 0,
                step: Step::Settle,
            },
        );
        rec.record(
            "bayeux:a",
            EventKind::Notification {
                agent: "a".into(),
                channel: CHATS_CHANNEL.into(),
                data: json!({"chat": {"id": "mine"}}),
            },
        );
        rec.record(
            "bayeux:a",
            EventKind::Notification {
                agent: "a".into(),
                channel: CHATS_CHANNEL.into(),
                data: json!({"chat": {"id": "other"}}),
            },
        );
        let chats: BTreeSet<String> = ["mine".to_string()].into();
        let h = merge_histories(child.snapshot(), rec.events_since(0), &chats);
        assert_eq!(h.events.len(), 2);
        assert_eq!(h.events[1].seq, 1);
        assert_eq!(h.events[1].in_step, Some(0));
        assert!(matches!(h.events[1].kind, EventKind::Notification { .. }));
    }
}
