//! Driving a connected target through a case and recording its history.
//!
//! One [`Env`] per run: the agents' REST clients, one Bayeux session per agent recording
//! into the run-level recorder, and the provisioner. Each case records into its own child
//! recorder (same clock); when the case ends its history is the case's events merged with
//! the run-level notifications about the case's chats. Waiting is always on events
//! (`Recorder::wait_for`), never a fixed sleep.

use crate::check::{self, CheckConfig, Finding, Shapes, Verdict};
use crate::client::{
    AgentClient, BayeuxClient, BayeuxHandle, Credentials, Offered, Outcome, Provisioner,
    Provisioning, TargetConfig,
};
use crate::history::{AuthVariant, Body, ChatRef, Event, EventKind, History, Recorder, Step};
use crate::model::{self, ChatState, OpName};
use crate::runner::cases::Case;
use crate::schema::Schemas;
use crate::spec::ReqId;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The chat channel the harness listens on.
pub const CHATS_CHANNEL: &str = "/v2/me/chats";

/// What running one case gave.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
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
pub struct ConnectError {
    /// What went wrong, in words.
    pub message: String,
    /// What was recorded on the way (Bayeux events of a refused handshake or subscribe).
    pub run_history: History,
}

/// A connected target.
pub struct Env {
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

/// Room for open chats: a fair (first come, first served) semaphore per agent holding
/// `per_agent` permits, or one pool of agents × `per_agent` when the target routes chats
/// itself (customer-api).
struct Capacity {
    per_agent: usize,
    agents: Vec<(String, Arc<Semaphore>)>,
    pool: Option<Arc<Semaphore>>,
}

/// Open chats a case holds per agent: one per `OfferChat` (chats stay open until the
/// case's clean-up).
fn chats_per_agent(case: &Case) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in &case.steps {
        if let Step::OfferChat { agent, .. } = s {
            *m.entry(agent.clone()).or_insert(0) += 1;
        }
    }
    m
}

impl Capacity {
    /// The case as it can run within the bound: unchanged, or with chats moved from
    /// agents over the bound to agents with room; `Err` with the reason and the fix
    /// when agents × the bound is too small.
    fn fit(&self, case: &Case) -> Result<Option<Case>, String> {
        let need = chats_per_agent(case);
        let total: usize = need.values().sum();
        let n = self.agents.len();
        let room = n * self.per_agent;
        if total > room {
            let what = case
                .exercises
                .first()
                .map(|r| format!("{} (case {})", r.as_str(), case.id))
                .unwrap_or_else(|| format!("case {}", case.id));
            return Err(format!(
                "{what} needs {total} chats open at once; {n} agents × {} allow {room}: add agents or raise --max-chats-per-agent",
                self.per_agent
            ));
        }
        if self.pool.is_some() || need.values().all(|&k| k <= self.per_agent) {
            return Ok(None);
        }
        // Spread: keep each agent's first `per_agent` chats, move the rest to agents
        // with room, in agent order.
        let mut load: BTreeMap<String, usize> =
            self.agents.iter().map(|(a, _)| (a.clone(), 0)).collect();
        let mut out = case.clone();
        for s in &mut out.steps {
            if let Step::OfferChat { agent, .. } = s {
                let here = load.entry(agent.clone()).or_insert(0);
                if *here < self.per_agent {
                    *here += 1;
                    continue;
                }
                if let Some((other, l)) = load.iter_mut().find(|(_, l)| **l < self.per_agent) {
                    *l += 1;
                    *agent = other.clone();
                }
            }
        }
        Ok(Some(out))
    }

    /// The case with its agents renamed (a one-to-one renaming: agents are
    /// interchangeable) so that the agent with the most chats gets the agent with the
    /// most room now; `None` when it is already so. Without it every case naming
    /// `agent1` would queue for `agent1` while the other agents idle.
    fn place(&self, case: &Case) -> Option<Case> {
        if self.pool.is_some() {
            return None;
        }
        let need = chats_per_agent(case);
        let mut wanted: Vec<(&String, &usize)> = need.iter().collect();
        wanted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut free: Vec<(usize, &String, usize)> = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, (a, sem))| (i, a, sem.available_permits()))
            .collect();
        free.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let rename: BTreeMap<&String, &String> = wanted
            .iter()
            .zip(free.iter())
            .map(|((from, _), (_, to, _))| (*from, *to))
            .collect();
        if rename.iter().all(|(a, b)| a == b) || rename.len() < wanted.len() {
            return None;
        }
        let mut out = case.clone();
        for st in &mut out.steps {
            if let Step::OfferChat { agent, .. } = st
                && let Some(to) = rename.get(agent)
            {
                *agent = (*to).clone();
            }
        }
        Some(out)
    }

    /// Waits for room for every chat the case opens; the permits free the room when
    /// dropped (after the case's clean-up).
    async fn reserve(&self, case: &Case) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let need = chats_per_agent(case);
        let mut permits = Vec::new();
        if let Some(pool) = &self.pool {
            let total: usize = need.values().sum();
            if total > 0
                && let Ok(p) = pool.clone().acquire_many_owned(total as u32).await
            {
                permits.push(p);
            }
            return permits;
        }
        // In one fixed (agent name) order, so two cases never wait on each other.
        for (agent, k) in need {
            if let Some((_, sem)) = self.agents.iter().find(|(a, _)| *a == agent)
                && let Ok(p) = sem.clone().acquire_many_owned(k as u32).await
            {
                permits.push(p);
            }
        }
        permits
    }
}

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

pub(crate) fn status_code_zero(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Answered { status: 200..=299, body: Body::Json(v) }
        if v.get("statusCode").and_then(Value::as_i64) == Some(0))
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
    /// Bayeux session events and notifications about no case's chat stay, for NTF-01/02).
    pub fn set_bounded(&mut self, bounded: bool) {
        self.bounded = bounded;
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

    /// Agent user names, in order.
    pub fn agent_names(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.user().to_string()).collect()
    }

    /// The provisioning mode in use (`customer-api` or `provider-state`).
    pub fn provisioning_name(&self) -> &'static str {
        self.provisioner.mode_name()
    }

    /// The run-level history (logins, Bayeux sessions, every notification).
    pub fn run_history(&self) -> History {
        self.run_rec.snapshot()
    }

    /// NTF-02 over the run so far, and NTF-01 for the notifications about no chat the
    /// run provisioned (the ones trimmed earlier were judged then).
    pub fn judge_session(&self) -> Vec<Finding> {
        let run = self.run_rec.snapshot();
        let mut out = check::judge_session(&run);
        let unclaimed: Vec<&Event> = run
            .iter()
            .filter(|e| match &e.kind {
                EventKind::Notification { data, .. } => {
                    notification_chat_id(data).is_none_or(|id| !self.routing.provisioned(id))
                }
                _ => false,
            })
            .collect();
        out.extend(check::judge_unclaimed(&unclaimed, &self.shapes));
        // Chats were offered to the agents, yet no /meta/connect ever delivered a
        // notification: the connect never answered (a run can end before the client's
        // own connect timeout says so).
        let offered = self.routing.provisioned_count();
        if offered > 0 && self.run_rec.notification_count() == 0 {
            out.push(Finding::fail(
                ReqId::Ntf02,
                "no /meta/connect delivered a notification during the run",
                crate::check::Witness {
                    expected: format!(
                        "notifications about the {offered} chats offered to the agents, delivered by /meta/connect"
                    ),
                    observed: format!(
                        "no notification in {:.1} s of the run",
                        self.run_rec.elapsed().as_secs_f64()
                    ),
                    events: Vec::new(),
                },
            ));
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

    /// Runs `case` once and judges its history.
    pub async fn run_case(&self, case: &Case) -> CaseOutcome {
        // Without a deadline a case always runs.
        self.run_case_until(case, None)
            .await
            .unwrap_or_else(|| CaseOutcome {
                history: History::default(),
                findings: Vec::new(),
                verdict: Verdict::Error,
                duration: Duration::ZERO,
            })
    }

    /// [`Env::run_case`], unless `deadline` passes while the case waits for room on the
    /// target (then `None`: nothing ran).
    pub async fn run_case_until(
        &self,
        case: &Case,
        deadline: Option<Instant>,
    ) -> Option<CaseOutcome> {
        let started = Instant::now();
        let fitted = match self.capacity.as_ref().map(|c| c.fit(case)) {
            Some(Err(reason)) => {
                let findings: Vec<Finding> = case
                    .exercises
                    .iter()
                    .map(|r| Finding::error(*r, reason.clone()))
                    .collect();
                return Some(CaseOutcome {
                    history: History::default(),
                    findings,
                    verdict: Verdict::Error,
                    duration: started.elapsed(),
                });
            }
            Some(Ok(c)) => c,
            None => None,
        };
        let case = fitted.as_ref().unwrap_or(case);
        let work = match &self.work {
            Some(w) => w.clone().acquire_owned().await.ok(),
            None => None,
        };
        let placed = self.capacity.as_ref().and_then(|c| c.place(case));
        let case = placed.as_ref().unwrap_or(case);
        let mut room = match &self.capacity {
            Some(c) => c.reserve(case).await,
            None => Vec::new(),
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let mut work = work.into_iter().collect();
        let history = self.record_case(case, &mut room, &mut work).await;
        drop(room);
        drop(work);
        let findings = check::judge(&history, &self.check, &self.shapes);
        let verdict = check::fold(findings.iter().map(|f| &f.verdict));
        Some(CaseOutcome {
            history,
            findings,
            verdict,
            duration: started.elapsed(),
        })
    }

    /// Records `case`; `room` is its share of the target's capacity, given back as soon
    /// as the case holds no open chat any more and opens none (before its final quiet
    /// window: waiting for absence occupies no agent); `work` is its work slot, given
    /// back before that final quiet window in any case.
    async fn record_case(
        &self,
        case: &Case,
        room: &mut Vec<tokio::sync::OwnedSemaphorePermit>,
        work: &mut Vec<tokio::sync::OwnedSemaphorePermit>,
    ) -> History {
        let last_offer = case
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::OfferChat { .. }));
        let rec = self.run_rec.child();
        let from = self.enter();
        rec.record(
            "runner",
            EventKind::Case {
                id: case.id.clone(),
                seed: case.seed,
                exercises: case.exercises.clone(),
            },
        );
        for a in self.agents.iter() {
            rec.record(
                "runner",
                EventKind::Session {
                    agent: a.user().to_string(),
                    csrf: a.uses_csrf(),
                },
            );
        }
        let mut st = CaseState::default();
        let mut settled_last = false;
        for (i, step) in case.steps.iter().enumerate() {
            if self.cancel.is_cancelled() {
                rec.set_step(None);
                rec.record(
                    "runner",
                    EventKind::HarnessError {
                        message: super::INTERRUPTED.into(),
                    },
                );
                break;
            }
            rec.set_step(Some(i));
            rec.record(
                "runner",
                EventKind::Step {
                    index: i,
                    step: step.clone(),
                },
            );
            settled_last = matches!(step, Step::Settle);
            if settled_last && i + 1 == case.steps.len() {
                work.clear();
            }
            if settled_last && last_offer.is_none_or(|o| o < i) && st.all_closed() {
                room.clear();
            }
            if let Err(e) = self.run_step(&rec, from, step, &mut st).await {
                let kind = match e {
                    StepError::Harness(message) => EventKind::HarnessError { message },
                    StepError::NotObservable(message) => EventKind::NotObservable { message },
                };
                rec.record("runner", kind);
                break;
            }
            if let Some(why) = self.await_pending(from, &mut st).await {
                st.diverged.get_or_insert(why);
            }
            // SPEC §6.11: the first divergence from the model ends the case; what it
            // did is the checker's to judge, the rest is not run.
            if st.diverged.is_some() {
                settled_last = false;
                break;
            }
        }
        if !settled_last {
            // Nothing more runs after this quiet window.
            work.clear();
            if st.all_closed() {
                room.clear();
            }
            self.settle(&rec, from, &mut st).await;
        }
        rec.set_step(None);
        // The case's history ends here: clean-up is recorded on the run recorder only,
        // where no case is judged (its notifications arrive after the cut).
        let cut = self.run_rec.len();
        self.clean_up(&st).await;
        for o in st.bound.values() {
            self.provisioner.teardown(&rec, o).await;
        }
        // Whatever the notifications said: the run's chats no running case holds (this
        // case's, and any routing offered again or late) are closed.
        self.routing.release(&st.chats);
        self.routing.sweep().await;
        let ids: Vec<&str> = st.chats.iter().map(String::as_str).collect();
        // Bounded: nobody reads them after this case (its chats are retired), so they
        // are moved out of the run record rather than copied.
        let mut run = if self.bounded {
            self.run_rec.take_notifications(&ids, from, cut)
        } else {
            self.run_rec.notifications_about(&ids, from, cut)
        };
        run.extend(self.run_rec.session_ends(from, cut));
        self.leave(from, &st.chats);
        merge_histories(rec.take(), run, &st.chats)
    }

    /// Leaves nothing open (SPEC §6.9): every chat the case provisioned ends Completed
    /// (Accept first when it is still Invited), and in customer-api mode the customer
    /// leaves too. Best effort; recorded on the run recorder, never judged.
    async fn clean_up(&self, st: &CaseState) {
        for o in st.bound.values() {
            let t = st.tracked.get(&o.chat_id);
            if let Some(agent) = self.agent(&o.agent) {
                self.routing
                    .close(agent, &o.chat_id, t.and_then(|t| t.state))
                    .await;
            }
            if self.provisioner.mode_name() == "customer-api" && !t.is_some_and(|t| t.customer_left)
            {
                let _ = self.provisioner.customer_leaves(&self.run_rec, o).await;
            }
        }
    }

    /// At the end of a run: in customer-api mode every customer the run asked a chat
    /// for and who has not left yet leaves (those still waiting for an agent included);
    /// then every chat of the run's that the target still lists as open for an agent
    /// (`GET /api/v2/me/chats`) is closed, whatever the notifications said.
    async fn sweep(&self) {
        self.provisioner.all_customers_leave(&self.run_rec).await;
        // A second look only when the first closed something.
        for _ in 0..2 {
            if self.routing.sweep().await == 0 {
                break;
            }
        }
    }

    async fn run_step(
        &self,
        rec: &Recorder,
        from: usize,
        step: &Step,
        st: &mut CaseState,
    ) -> Result<(), StepError> {
        match step {
            Step::OfferChat { chat, agent } => {
                let nickname = format!("Customer {chat}");
                let asked = Instant::now();
                let o = loop {
                    match self
                        .provisioner
                        .offer_chat(rec, &self.run_rec, chat, agent, &nickname)
                        .await
                    {
                        Ok(o) => break o,
                        // SPEC §6.9: 409 is "agent at capacity: retry later".
                        Err(e)
                            if crate::client::provision::is_at_capacity(&e)
                                && asked.elapsed() < self.check.deadline =>
                        {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => {
                            return Err(StepError::from_target(
                                &format!("provisioning chat {chat}"),
                                e,
                            ));
                        }
                    }
                };
                self.routing.bind(&o.chat_id);
                st.chats.insert(o.chat_id.clone());
                st.pending.push(Pending {
                    chat_id: o.chat_id.clone(),
                    state: "Invited",
                    since: Instant::now(),
                });
                st.tracked.insert(
                    o.chat_id.clone(),
                    Tracked {
                        state: Some(ChatState::Invited),
                        customer_left: false,
                    },
                );
                st.bound.insert(chat.clone(), o);
                Ok(())
            }
            Step::AgentPost { .. } => {
                let posted = self
                    .post_only(rec, step, None, st)
                    .await
                    .map_err(StepError::Harness)?;
                st.apply(posted, true);
                Ok(())
            }
            Step::Concurrent { steps } => {
                // The customer's parts first mark the chats they leave (the model then
                // knows Complete succeeds either way, SPEC §2).
                for inner in steps {
                    if let Step::CustomerLeaves { chat } = inner {
                        let id = st
                            .offered(chat)
                            .map_err(StepError::Harness)?
                            .chat_id
                            .clone();
                        if let Some(t) = st.tracked.get_mut(&id) {
                            t.customer_left = true;
                        }
                    }
                }
                let mut futs: Vec<BoxFuture<'_, Result<Posted, StepError>>> = Vec::new();
                // Per part: the chat id an agent request names (None otherwise).
                let mut ids: Vec<Option<String>> = Vec::new();
                for (j, inner) in steps.iter().enumerate() {
                    match inner {
                        Step::AgentPost { chat, .. } => {
                            ids.push(match chat {
                                ChatRef::Alias(a) => st.bound.get(a).map(|o| o.chat_id.clone()),
                                ChatRef::Unknown(_) => None,
                            });
                            let f = self.post_only(rec, inner, Some(j), st);
                            futs.push(async move { f.await.map_err(StepError::Harness) }.boxed());
                        }
                        Step::CustomerLeaves { chat } | Step::CustomerSends { chat, .. } => {
                            ids.push(None);
                            let o = st.offered(chat).map_err(StepError::Harness)?.clone();
                            let p = &self.provisioner;
                            futs.push(
                                async move {
                                    let (r, what) = match inner {
                                        Step::CustomerSends { text, .. } => (
                                            p.customer_sends(rec, &o, text).await,
                                            format!("customer message on {chat}"),
                                        ),
                                        _ => (
                                            p.customer_leaves(rec, &o).await,
                                            format!("customer leaving {chat}"),
                                        ),
                                    };
                                    r.map(|()| Posted::default())
                                        .map_err(|e| StepError::from_target(&what, e))
                                }
                                .boxed(),
                            );
                        }
                        _ => {
                            return Err(StepError::Harness(format!(
                                "a Concurrent step may only hold agent requests and customer events (part {j} is not)"
                            )));
                        }
                    }
                }
                // Two requests on one chat at once: the model cannot say which wins; the
                // order that explains the answers (if one does) says where the chat is.
                let mut racing: BTreeMap<String, Vec<usize>> = BTreeMap::new();
                for (j, id) in ids.iter().enumerate() {
                    if let Some(id) = id {
                        racing.entry(id.clone()).or_default().push(j);
                    }
                }
                racing.retain(|_, v| v.len() > 1);
                let starts: BTreeMap<String, Option<ChatState>> = racing
                    .keys()
                    .map(|id| (id.clone(), st.tracked.get(id).and_then(|t| t.state)))
                    .collect();
                let answered: Vec<Result<Posted, StepError>> = join_all(futs).await;
                // A customer event that raced a Complete on its chat may find the
                // customer's session already ended by it (the model: the customer then
                // changes nothing): not a harness error.
                let completed: BTreeSet<&str> = steps
                    .iter()
                    .zip(&answered)
                    .filter_map(|(s, r)| match (s, r) {
                        (
                            Step::AgentPost {
                                chat: ChatRef::Alias(a),
                                body,
                                ..
                            },
                            Ok(p),
                        ) if p.ok == Some(true) && model::classify(body).is_complete() => {
                            Some(a.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                let completed_by_race = |chat: &str| completed.contains(chat);
                let mut results = Vec::new();
                for (inner, r) in steps.iter().zip(answered) {
                    match (inner, r) {
                        (_, Ok(p)) => results.push(p),
                        (
                            Step::CustomerLeaves { chat } | Step::CustomerSends { chat, .. },
                            Err(_),
                        ) if completed_by_race(chat) => results.push(Posted::default()),
                        (_, Err(e)) => return Err(e),
                    }
                }
                let mut oks: Vec<Option<bool>> = Vec::new();
                for (j, p) in results.into_iter().enumerate() {
                    oks.push(p.ok);
                    let in_race = ids[j].as_ref().is_some_and(|id| racing.contains_key(id));
                    st.apply(p, !in_race);
                }
                for (id, parts) in racing {
                    let start = starts.get(&id).copied().flatten();
                    let raced: Vec<(&Step, Option<bool>)> =
                        parts.iter().map(|j| (&steps[*j], oks[*j])).collect();
                    let end = start.and_then(|s| race_end(s, &raced));
                    if let Some(t) = st.tracked.get_mut(&id) {
                        t.state = end;
                    }
                    if start.is_some() && end.is_none() {
                        st.diverged.get_or_insert(format!(
                            "chat {id}: no order of the {} racing requests explains their answers",
                            parts.len()
                        ));
                    }
                }
                Ok(())
            }
            Step::CustomerSends { chat, text } => {
                let o = st.offered(chat).map_err(StepError::Harness)?;
                self.provisioner
                    .customer_sends(rec, o, text)
                    .await
                    .map_err(|e| StepError::from_target(&format!("customer message on {chat}"), e))
            }
            Step::CustomerLeaves { chat } => {
                let o = st.offered(chat).map_err(StepError::Harness)?.clone();
                if let Some(t) = st.tracked.get_mut(&o.chat_id) {
                    t.customer_left = true;
                }
                self.provisioner
                    .customer_leaves(rec, &o)
                    .await
                    .map_err(|e| StepError::from_target(&format!("customer leaving {chat}"), e))
            }
            Step::Inspect { chat } => {
                let o = st.offered(chat).map_err(StepError::Harness)?;
                self.provisioner
                    .inspect(rec, o)
                    .await
                    .map_err(|e| StepError::from_target(&format!("inspecting {chat}"), e))
            }
            Step::Settle => {
                self.settle(rec, from, st).await;
                Ok(())
            }
        }
    }

    /// Sends one AgentPost; says what it did to the chat (by the model, following the
    /// target) and the state notification to wait for when it succeeded.
    async fn post_only(
        &self,
        rec: &Recorder,
        step: &Step,
        part: Option<usize>,
        st: &CaseState,
    ) -> Result<Posted, String> {
        let Step::AgentPost {
            chat,
            by_other_agent,
            auth,
            body,
        } = step
        else {
            return Ok(Posted::default());
        };
        let (owner, chat_id) = match chat {
            ChatRef::Alias(a) => {
                let o = st.offered(a)?;
                (o.agent.clone(), o.chat_id.clone())
            }
            ChatRef::Unknown(id) => (
                self.agents
                    .first()
                    .map(|a| a.user().to_string())
                    .unwrap_or_default(),
                id.clone(),
            ),
        };
        let sender = if *by_other_agent {
            self.agents
                .iter()
                .find(|a| a.user() != owner)
                .ok_or("this case needs a second agent (give two --agent)")?
        } else {
            self.agent(&owner)
                .ok_or_else(|| format!("chat owner {owner} is not one of the configured agents"))?
        };
        let outcome = sender.post_chat(rec, &chat_id, body, *auth, part).await;
        let known = match chat {
            ChatRef::Alias(_) => Some(st.tracked.get(&chat_id).and_then(|t| t.state)),
            ChatRef::Unknown(_) => None,
        };
        let (update, diverged) = follow(
            known,
            *by_other_agent,
            *auth,
            sender.uses_csrf(),
            body,
            &outcome,
        );
        let owns = !*by_other_agent && *auth == AuthVariant::Normal;
        let pending = match (owns && status_code_zero(&outcome), expected_state(body)) {
            (true, Some(state)) => Some(Pending {
                chat_id: chat_id.clone(),
                state,
                since: Instant::now(),
            }),
            _ => None,
        };
        Ok(Posted {
            ok: (!matches!(outcome, Outcome::NoAnswer { .. })).then(|| status_code_zero(&outcome)),
            pending,
            update: update.map(|s| (chat_id, s)),
            diverged,
        })
    }

    /// Waits (on events, bounded by the deadline from each request) for the state
    /// notifications successful operations announced; says which did not come.
    async fn await_pending(&self, from: usize, st: &mut CaseState) -> Option<String> {
        let mut missed = None;
        for p in std::mem::take(&mut st.pending) {
            let left = self.check.deadline.saturating_sub(p.since.elapsed());
            let got = self
                .run_rec
                // Only this chat's notifications are routed to this waiter.
                .wait_for_chats(&[p.chat_id.as_str()], from, left, |e| match &e.kind {
                    EventKind::Notification { data, .. } => {
                        crate::history::notes::chat_state(data) == Some(p.state)
                    }
                    _ => false,
                })
                .await;
            if got.is_none() && missed.is_none() {
                missed = Some(format!(
                    "no StatusChange to {} for chat {} within the deadline",
                    p.state, p.chat_id
                ));
            }
        }
        missed
    }

    /// Waits until nothing about the case's chats arrived for the quiet window (bounded
    /// by the deadline), and records how that went. Notifications the checker does not
    /// judge (a customer typing) do not break the quiet.
    async fn settle(&self, rec: &Recorder, from: usize, st: &mut CaseState) {
        let _ = self.await_pending(from, st).await;
        let started = Instant::now();
        let quiet = self.check.quiet_window;
        let bound = self.check.deadline.max(quiet * 2);
        let ids: Vec<&str> = st.chats.iter().map(String::as_str).collect();
        let reached = loop {
            let n = self.run_rec.len();
            let got = self
                .run_rec
                .wait_for_chats(&ids, n, quiet, |e| {
                    notification_about(e, &st.chats)
                        .is_some_and(|d| !crate::history::is_typing_only(d))
                })
                .await;
            if got.is_none() {
                break true;
            }
            if started.elapsed() >= bound {
                break false;
            }
        };
        rec.record(
            "runner",
            EventKind::Quiet {
                waited_ms: started.elapsed().as_millis() as u64,
                quiet_ms: quiet.as_millis() as u64,
                reached_quiet: reached,
            },
        );
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
}

/// Follows one agent request through the model (SPEC §2, `crate::model`): the chat's
/// state afterwards (following the target when it acted) and whether the target's
/// answer differs from the model's. `known`: `None` for an id nobody provisioned,
/// `Some(None)` for a chat whose state is no longer known.
fn follow(
    known: Option<Option<ChatState>>,
    by_other_agent: bool,
    auth: AuthVariant,
    csrf: bool,
    body: &Body,
    outcome: &Outcome,
) -> (Option<Option<ChatState>>, Option<String>) {
    let classified = model::classify(body);
    let op = classified.op_name();
    let name = op.map(OpName::as_str).unwrap_or("a malformed request");
    if let Outcome::NoAnswer { message, .. } = outcome {
        return (
            known.map(|_| None),
            Some(format!("{name}: no answer ({message})")),
        );
    }
    let ok = status_code_zero(outcome);
    let Some(known) = known else {
        // No such chat: the model refuses whatever it is.
        return (
            None,
            ok.then(|| format!("{name} on a chat id nobody provisioned succeeded")),
        );
    };
    let Some(state) = known else {
        return (
            Some(None),
            Some(format!("{name} on a chat in an unknown state")),
        );
    };
    let credentials = model::credentials_refusal(auth, csrf);
    let expected_ok = credentials.is_none()
        && model::expect(Some(state), !by_other_agent, &classified).is_success();
    let explained = model::explains(state, !by_other_agent, credentials, &classified, ok);
    let update = if ok {
        Some(Some(match op {
            Some(op) => model::after_success(state, op),
            None => state,
        }))
    } else {
        None
    };
    let diverged = (!explained).then(|| {
        format!(
            "{name} in state {}: the model expects {}, the target {}",
            state.as_str(),
            if expected_ok { "success" } else { "a refusal" },
            if ok { "succeeded" } else { "refused" }
        )
    });
    (update, diverged)
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

/// Where a chat is after agent requests that raced on it (`parts`: each request and
/// whether it was answered with statusCode 0), from state `start`: by the first order
/// of the requests whose answers the model explains (`None`: no order does, or a
/// request went unanswered). SPEC §6.8: Leave in LeftChat may go either way.
fn race_end(start: ChatState, parts: &[(&Step, Option<bool>)]) -> Option<ChatState> {
    let n = parts.len();
    if n > 4 || parts.iter().any(|(_, ok)| ok.is_none()) {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    loop {
        let mut s = start;
        let explained = order.iter().all(|&k| {
            let (step, ok) = parts[k];
            let Step::AgentPost {
                by_other_agent,
                auth,
                body,
                ..
            } = step
            else {
                return true;
            };
            let cls = model::classify(body);
            let op = cls.op_name();
            let ok = ok == Some(true);
            let credentials = (*auth != AuthVariant::Normal).then_some(ReqId::Ses02);
            if !model::explains(s, !*by_other_agent, credentials, &cls, ok) {
                return false;
            }
            if ok && let Some(op) = op {
                s = model::after_success(s, op);
            }
            true
        });
        if explained {
            return Some(s);
        }
        if !next_permutation(&mut order) {
            return None;
        }
    }
}

/// The next ordering of `v` in lexicographic order; false after the last.
fn next_permutation(v: &mut [usize]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        return false;
    };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap_or(i);
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

/// The case history: the case's own events plus the run-level notifications about its
/// chats (and any Bayeux session that closed meanwhile), in time order, renumbered; each notification is attributed to the step that
/// was running when it arrived.
fn merge_histories(case: History, run: Vec<Event>, chats: &BTreeSet<String>) -> History {
    let mut events: Vec<Event> = case.events;
    // A Bayeux session that ended during the case is carried too: the checker judges
    // nothing it could no longer see after it (SPEC §4).
    events.extend(run.into_iter().filter(|e| {
        notification_about(e, chats).is_some()
            || matches!(
                e.kind,
                EventKind::Bayeux {
                    event: crate::history::BayeuxEvent::Closed { .. },
                    ..
                }
            )
    }));
    // Stable: on equal times the case's own events come first.
    events.sort_by_key(|e| e.t_us);
    let mut stream_seqs: HashMap<&str, u64> = HashMap::new();
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| {
            let ss = stream_seqs.entry(e.stream.as_str()).or_insert(0);
            *ss += 1;
            *ss - 1
        })
        .collect();
    let mut current_step = None;
    for ((i, e), stream_seq) in events.iter_mut().enumerate().zip(seqs) {
        e.seq = i as u64;
        e.stream_seq = stream_seq;
        match &e.kind {
            EventKind::Step { index, .. } => current_step = Some(*index),
            EventKind::Notification { .. } => e.in_step = current_step,
            _ => {}
        }
    }
    History { events }
}

#[cfg(test)]
mod tests {
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
