//! The runner: cases, concurrency, shrinking, seeds, shards. Drives a target, records a
//! history per case, hands it to the checker, and fills the plain `RunReport` the report
//! writers read.

pub mod exec;
pub mod groups;
mod judging;
#[cfg(test)]
mod oracle;
mod plan;
pub mod replay;
pub(crate) mod route;
pub mod selftest;
pub mod shrink;

use crate::spec::ReqId;

use crate::cases::Case;
use crate::check::{CheckConfig, Finding, Verdict, fold};
use crate::client::{Credentials, Provisioning, TargetConfig};
use crate::history::redact::Scrubber;
use crate::report::events::{Reporter, RunEvent};
use crate::report::{self, CaseReport, RunConfig, RunReport};
use crate::schema::Schemas;
use crate::server;
use exec::{CaseOutcome, Env};
use futures_util::StreamExt;
use judging::Judging;
pub use plan::{Plan, plan};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A run's cancellation flag: set by the first SIGINT/SIGTERM; checked before each case
/// and each step, and awaited wherever a case waits (for room on the target, for a work
/// slot): no case starts after it, in-flight requests end within the request timeout,
/// clean-up still runs, and the reports are written with what was judged.
#[derive(Debug, Clone)]
pub struct Cancel(std::sync::Arc<tokio::sync::watch::Sender<Option<(String, Instant)>>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(std::sync::Arc::new(tokio::sync::watch::Sender::new(None)))
    }
}

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }
    /// Sets the flag (no new case or step starts), for a caller of the library.
    pub fn cancel(&self) {
        self.cancel_by("cancel");
    }
    /// Sets the flag because of `cause` (`SIGINT`, `SIGTERM`, or why the run cannot go
    /// on); the first cause is kept.
    pub fn cancel_by(&self, cause: impl Into<String>) {
        let cause = cause.into();
        self.0.send_if_modified(|v| {
            if v.is_none() {
                *v = Some((cause, Instant::now()));
                true
            } else {
                false
            }
        });
    }
    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.borrow().is_some()
    }
    /// What set the flag, and when.
    pub fn cause(&self) -> Option<(String, Instant)> {
        self.0.borrow().clone()
    }
    /// Resolves once the flag is set (at once if it is).
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// The reason recorded for what an interrupted run did not judge.
pub(crate) const INTERRUPTED: &str = "interrupted";

/// How cases reach the agent (SPEC §1.5): one type from the CLI to the case file.
pub use crate::client::ProvisioningKind as Mode;

/// Cases doing work (sending requests, awaiting answers) at most: few enough that a
/// thousand-case run does not open thousands of connections at once (the capacity
/// bound, agents × chats per agent, applies on top). A case waiting out its final quiet
/// window does no work and holds no slot.
pub(crate) const DEFAULT_MAX_ACTIVE_CASES: usize = 64;

/// Notification bytes a case in flight may bring per flood window (5 s) on top of the
/// Bayeux client's floor: a faultless case with GWS-shaped transcripts brings a few KiB.
pub(crate) const NOTIFICATION_BYTES_PER_CASE: u64 = 64 * 1024;

/// Cases in flight at most (working or waiting out their quiet window) when
/// `--concurrency` is not given: with a 1 s quiet window, about this many cases a second.
pub(crate) const DEFAULT_MAX_CASES_IN_FLIGHT: usize = 256;

/// Failing cases whose history a run keeps by default (each shrunk representative's is
/// always kept).
pub(crate) const DEFAULT_MAX_FAILING_HISTORIES: usize = 100;

/// Everything a run needs, already validated.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// None: start the embedded reference server (with `fault`, if any).
    pub target: Option<String>,
    /// The agents (user and password), in order.
    pub agents: Vec<Credentials>,
    /// How chats are provisioned (None: the default for the target).
    pub mode: Option<Mode>,
    /// The provider-state URL (default `{target}/conformance/provider-state`).
    pub provider_url: Option<String>,
    /// The `ContactCenterId` header of the customer chat API.
    pub contact_center_id: String,
    /// Random stateful sequences on top of the directed cases.
    pub random_cases: u32,
    /// `--duration`: run random sequences until this much time has passed (a soak;
    /// `random_cases` is then ignored).
    pub duration: Option<Duration>,
    /// Passing cases listed in the report (with steps and findings); the later ones
    /// are counted per requirement (`report.unlisted`).
    pub listed_cases: usize,
    /// Failing cases whose full history is kept in the report (the others keep their
    /// findings; the report counts what was dropped).
    pub max_failing_histories: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// How long a notification may take to arrive.
    pub deadline: Duration,
    /// How long nothing must arrive before absence is judged.
    pub quiet_window: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// SHOULD failures block certification too.
    pub strict: bool,
    /// Run only shard K of N.
    pub shard: Option<(u32, u32)>,
    /// Only cases exercising these requirement ids (empty: all).
    pub only: Vec<String>,
    /// An upper bound on cases in flight (0: none; the bound is what the target can take,
    /// agents × `max_chats_per_agent`).
    pub concurrency: usize,
    /// At most this many chats open per agent (SPEC §6.9). `None`: 3 against an external
    /// target, unbounded against the embedded server; `Some(0)`: unbounded.
    pub max_chats_per_agent: Option<usize>,
    /// Re-runs allowed to shrink each distinct failure.
    pub shrink_budget: usize,
    /// Wall time allowed to shrink each distinct failure (groups shrink in parallel).
    pub shrink_time: Duration,
    /// Embedded server only: the fault to switch on.
    pub fault: Option<String>,
    /// Embedded server only: how it behaves (capacity, latency, typing, transcript form;
    /// its agents and fault come from the fields above).
    pub embedded: server::ServerConfig,
    /// Print one line per case (for non-terminals) or a progress bar.
    pub progress: Progress,
    /// Keep every case's history (for snapshots); otherwise only failing ones.
    pub keep_histories: bool,
    /// Run exactly this case instead of the generated ones (`replay`).
    pub replay: Option<Case>,
    /// `--cacert`: a PEM CA file trusted in addition to the system roots.
    pub cacert: Option<std::path::PathBuf>,
    /// `--insecure`: accept any TLS certificate (warned about on every run).
    pub insecure: bool,
    /// Set by a signal: stop starting cases and steps, write what was judged.
    pub cancel: Cancel,
    /// Requests of one kind in a row without an answer after which the target counts as
    /// gone and no further case starts (0: never).
    pub give_up_after: u32,
    /// No request answered for this long, and the target counts as gone (0: never).
    pub give_up_silence: Duration,
    /// `--events`: where each case's events go as it starts and once it is judged.
    pub events: Option<crate::report::events::EventSink>,
}

/// How the run reports progress on the terminal (its home is `report::term`).
pub use crate::report::term::Progress;

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            target: None,
            agents: Vec::new(),
            mode: None,
            provider_url: None,
            contact_center_id: "gws-conform".into(),
            random_cases: 20,
            duration: None,
            max_failing_histories: DEFAULT_MAX_FAILING_HISTORIES,
            listed_cases: LISTED_CASES,
            seed: 1,
            deadline: Duration::from_secs(5),
            quiet_window: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            strict: false,
            shard: None,
            only: Vec::new(),
            concurrency: 0,
            max_chats_per_agent: None,
            shrink_budget: 200,
            shrink_time: DEFAULT_SHRINK_TIME,
            fault: None,
            embedded: server::ServerConfig::default(),
            progress: Progress::None,
            keep_histories: false,
            replay: None,
            cacert: None,
            insecure: false,
            cancel: Cancel::new(),
            give_up_after: crate::client::DEFAULT_GIVE_UP_AFTER,
            give_up_silence: crate::client::DEFAULT_GIVE_UP_SILENCE,
            events: None,
        }
    }
}

/// Agents of the embedded server (user, password).
pub fn embedded_agents() -> Vec<Credentials> {
    server::ServerConfig::default()
        .agents
        .into_iter()
        .map(|(user, password)| Credentials { user, password })
        .collect()
}

/// The outcome of a run: the report and every case's full history (when kept).
pub struct RunResult {
    /// The run's report.
    pub report: RunReport,
    /// Every secret the run learnt, to scrub outputs with.
    pub scrubber: Scrubber,
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A run id that sorts by time and names the seed.
pub(crate) fn run_id(seed: u64) -> String {
    let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = t.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{}-s{}-p{}", compact, seed, std::process::id())
}

fn strip_userinfo(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// The run's reporters: the terminal's progress and, with `--events`, the NDJSON
/// stream. The runner tells them what happens and prints nothing itself.
struct Tell {
    term: report::term::TermProgress,
    events: Option<report::events::EventSink>,
}

impl Tell {
    fn new(s: &RunSettings) -> Tell {
        Tell {
            term: report::term::TermProgress::new(s.progress),
            events: s.events.clone(),
        }
    }

    fn event(&self, e: &RunEvent<'_>) {
        self.term.event(e);
        if let Some(ev) = &self.events {
            ev.event(e);
        }
    }
}

/// Runs the whole catalogue (directed cases plus random sequences) against the target
/// and returns the report. Harness errors become an `Overall::Error` report, never a
/// panic.
pub async fn execute(mut s: RunSettings) -> RunResult {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let id = run_id(s.seed);
    let tell = Tell::new(&s);
    // One scrubber for the run: credentials now, and whatever secret the clients learn.
    let scrubber = crate::client::SharedScrubber::new();
    let mut errors = Vec::new();
    let ca = match &s.cacert {
        Some(p) => match crate::client::CaFile::load(p) {
            Ok(ca) => Some(ca),
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        },
        None => None,
    };
    if s.insecure {
        tell.event(&RunEvent::Warning(
            "--insecure: TLS certificates of the target and the provider are NOT verified (anyone on the path can read the agents' credentials)",
        ));
    }
    let (embedded, base_url) = start_target(&mut s, &mut errors);
    for a in &s.agents {
        scrubber.add_credentials(&a.user, &a.password);
    }
    let mode = s
        .mode
        .unwrap_or(if embedded.is_some() || s.provider_url.is_some() {
            Mode::ProviderState
        } else {
            Mode::CustomerApi
        });
    let target_cfg = TargetConfig {
        base_url: base_url.clone(),
        request_timeout: s.request_timeout,
        deadline: s.deadline,
        ca,
        insecure: s.insecure,
        secrets: scrubber.clone(),
        ..TargetConfig::default()
    };
    let check_cfg = CheckConfig {
        deadline: s.deadline,
        quiet_window: s.quiet_window,
    };
    let mut found = Found::default();
    if errors.is_empty() {
        let provisioning = provisioning_of(&s, mode, &base_url);
        let (f, error) = run_cases(&s, &tell, target_cfg, check_cfg, provisioning).await;
        found = f;
        errors.extend(error);
    }
    let interrupted = s.cancel.cause().map(|(signal, at)| report::Interruption {
        signal,
        not_started: found.not_started,
        after_ms: at.saturating_duration_since(started).as_millis() as u64,
    });
    if let Some(i) = &interrupted {
        errors.push(interruption_error(i, s.duration));
    }
    if !errors.is_empty() {
        push_harness_error(&s, &errors, &mut found.cases);
    }
    if let Some(srv) = embedded {
        srv.shutdown().await;
    }
    let report = run_report(
        &s,
        mode,
        found,
        errors,
        RunMeta {
            id,
            target: strip_userinfo(&base_url),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            interrupted,
        },
    );
    RunResult {
        report,
        scrubber: scrubber.snapshot(),
    }
}

/// The target's base URL: `--target`, or the embedded server started now (then the
/// agents and the chats per agent default to its own). `None` and an error when it does
/// not start.
fn start_target(
    s: &mut RunSettings,
    errors: &mut Vec<String>,
) -> (Option<server::RunningServer>, String) {
    if let Some(t) = &s.target {
        return (None, t.trim_end_matches('/').to_string());
    }
    let cfg = server::ServerConfig {
        fault: s.fault.clone(),
        ..s.embedded.clone()
    }
    .with_variation_presets();
    // SPEC §6.9: against the embedded server, the harness holds what its capacity
    // allows (unlimited by default).
    if s.max_chats_per_agent.is_none() {
        s.max_chats_per_agent = cfg.capacity;
    }
    if s.agents.is_empty() {
        s.agents = embedded_agents();
    }
    // On a runtime of its own, as a separate process would be: the harness's work never
    // delays the server's answers.
    match server::start_dedicated(cfg, "127.0.0.1:0", 1) {
        Ok(srv) => {
            let url = srv.base_url.clone();
            (Some(srv), url)
        }
        Err(e) => {
            errors.push(format!("cannot start the embedded server: {e}"));
            (None, String::new())
        }
    }
}

/// How chats are provisioned in `mode` against `base_url`.
fn provisioning_of(s: &RunSettings, mode: Mode, base_url: &str) -> Provisioning {
    match mode {
        Mode::ProviderState => Provisioning::ProviderState {
            url: s
                .provider_url
                .clone()
                .unwrap_or_else(|| format!("{base_url}/conformance/provider-state")),
        },
        Mode::CustomerApi => Provisioning::CustomerApi {
            contact_center_id: s.contact_center_id.clone(),
        },
    }
}

/// Every requirement nothing could judge is an Error (never a Fail, never a silent
/// Skip) carrying the reason: the `harness-error` pseudo-case.
fn push_harness_error(s: &RunSettings, errors: &[String], case_reports: &mut Vec<CaseReport>) {
    let judged: BTreeSet<ReqId> = case_reports
        .iter()
        .flat_map(|c| c.findings.iter().map(|f| f.req))
        .collect();
    let reason = errors.join("; ");
    let findings: Vec<Finding> = ReqId::ALL
        .into_iter()
        .filter(|id| !judged.contains(id))
        .map(|id| Finding::error(id, reason.clone()))
        .collect();
    if !findings.is_empty() {
        case_reports.push(CaseReport {
            id: "harness-error".into(),
            seed: s.seed,
            exercises: Vec::new(),
            steps: Vec::new(),
            verdict: Verdict::Error,
            findings,
            history: None,
            original_steps: None,
            duration_ms: 0,
        });
    }
}

/// What a run found: its case reports, failure groups, coverage and unlisted passes.
#[derive(Default)]
struct Found {
    cases: Vec<CaseReport>,
    groups: Option<Vec<report::FailureGroup>>,
    coverage: Option<report::CoverageSummary>,
    unlisted: Option<report::Unlisted>,
    /// Cases of a finite plan that never ran.
    not_started: Option<u64>,
}

/// The run's id, target (no userinfo), start and length, and what stopped it early, for
/// its report.
struct RunMeta {
    id: String,
    target: String,
    started_at: String,
    duration_ms: u64,
    interrupted: Option<report::Interruption>,
}

/// The run-level error of an interrupted run: what stopped it, when, and what it left
/// undone (every requirement nothing judged is Error with this reason).
fn interruption_error(i: &report::Interruption, soak: Option<Duration>) -> String {
    let left = match (i.not_started, soak) {
        (Some(n), _) if n > 0 => format!("; {n} cases not started"),
        (Some(_), _) => String::new(),
        (None, Some(d)) => format!(
            "; the soak of {} was cut short",
            humantime::format_duration(d)
        ),
        (None, None) => String::new(),
    };
    format!(
        "{INTERRUPTED}: {} stopped the run after {:.1} s{left}",
        i.signal,
        i.after_ms as f64 / 1000.0
    )
}

/// The report of a run: the requirement table over what was found, and the verdict.
fn run_report(
    s: &RunSettings,
    mode: Mode,
    found: Found,
    errors: Vec<String>,
    meta: RunMeta,
) -> RunReport {
    let config = RunConfig {
        provisioning: mode,
        insecure: s.insecure,
        agents: s.agents.iter().map(|a| a.user.clone()).collect(),
        cases: s.random_cases,
        deadline_ms: s.deadline.as_millis() as u64,
        quiet_window_ms: s.quiet_window.as_millis() as u64,
        strict: s.strict,
        shard: s.shard.map(|(k, n)| format!("{k}/{n}")),
        baseline: None,
        fault: if s.target.is_none() {
            s.fault.clone()
        } else {
            None
        },
    };
    let (requirements, overall) =
        report::requirement_table_with(&found.cases, found.unlisted.as_ref(), s.strict);
    // A blocking failure the target made stays a failure (exit 1) even when the run
    // could not finish; otherwise a harness error is exit 3; a signal, Interrupted.
    let overall = report::table::settled(overall, !errors.is_empty(), meta.interrupted.is_some());
    RunReport {
        format: report::REPORT_FORMAT,
        run_id: meta.id,
        // The URL only; `embedded` says whose it was.
        target: meta.target,
        embedded: s.target.is_none(),
        seed: s.seed,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: meta.started_at,
        duration_ms: meta.duration_ms,
        config,
        overall,
        exit_code: overall.exit_code(),
        requirements,
        cases: found.cases,
        errors,
        groups: found.groups,
        coverage: found.coverage,
        unlisted: found.unlisted,
        interrupted: meta.interrupted,
    }
}

/// A judged case as the `--events` stream takes it.
fn judged_event<'a>(case: &'a Case, out: &'a CaseOutcome) -> crate::report::events::Judged<'a> {
    crate::report::events::Judged {
        id: &case.id,
        seed: case.seed,
        history: Some(&out.history),
        findings: &out.findings,
        verdict: out.verdict,
        duration_ms: out.duration.as_millis() as u64,
    }
}

type ShrinkFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (usize, shrink::Shrunk<CaseOutcome>)> + 'a>>;

/// Runs every planned case; returns what it found and, when the run could not go on,
/// the harness error (the reports then hold what could still be judged).
///
/// Streams: cases are generated as slots free up, each is judged as soon as it ends and
/// its history dropped unless it failed (up to `max_failing_histories`) or
/// `keep_histories` asks; the first case of each distinct failure is shrunk at once,
/// while the other cases still run.
async fn run_cases(
    s: &RunSettings,
    tell: &Tell,
    target: TargetConfig,
    check: CheckConfig,
    provisioning: Provisioning,
) -> (Found, Option<String>) {
    let (mut env, schemas) = match connect(s, target, check, provisioning).await {
        Ok(c) => c,
        Err((cases, error)) => {
            let found = Found {
                cases,
                ..Found::default()
            };
            return (found, Some(error));
        }
    };
    let agents = env.agent_names();
    let plan = match Plan::new(s, schemas, &agents) {
        Ok(p) => p,
        Err(e) => {
            env.close().await;
            return (Found::default(), Some(format!("generating cases: {e}")));
        }
    };
    let total = plan.len();
    tell.event(&RunEvent::CasesPlanned { total });
    let active = match (s.concurrency, total) {
        (0, Some(n)) => n.clamp(1, DEFAULT_MAX_CASES_IN_FLIGHT),
        (0, None) => DEFAULT_MAX_CASES_IN_FLIGHT,
        (c, _) => c,
    };
    env.set_work_slots(active.min(DEFAULT_MAX_ACTIVE_CASES));
    // Cases are pulled from the plan only when a slot is free; a generation error ends
    // the sequence and the run.
    let gen_error: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
    let limits = shrink::Limits {
        budget: s.shrink_budget,
        time: s.shrink_time,
        width: SHRINK_WIDTH,
    };
    let (judging, shrunk, judged) =
        judge_cases(s, tell, &env, &plan, active, &gen_error, limits).await;
    let mut found = judging.finish(s, tell, shrunk, limits);
    // A smaller case a shrink lists beside its original (`<case>-min`) is a case of the
    // report like any other: the event stream tells it too.
    for g in found.groups.iter().flatten() {
        if g.others.first().map(|o| format!("{o}-min")).as_deref() == Some(&g.representative)
            && let Some(c) = found.cases.iter().find(|c| c.id == g.representative)
        {
            tell.event(&RunEvent::CaseStarted {
                id: &c.id,
                seed: c.seed,
                exercises: &c.exercises,
            });
            tell.event(&RunEvent::CaseJudged {
                case: c.into(),
                secrets: &env.target.secrets,
            });
        }
    }
    found.not_started = total.map(|n| n.saturating_sub(judged) as u64);
    let halted = env.halted();
    found.cases.push(session_report(s, &env));
    env.close().await;
    let error = gen_error
        .borrow_mut()
        .take()
        .map(|e| format!("generating cases: {e}"))
        .or(halted.map(|why| match found.not_started {
            Some(n) if n > 0 => format!("{why}; {n} cases not started"),
            _ => why,
        }));
    (found, error)
}

/// The schemas and the environment of the run (agents logged in, notifications
/// subscribed), or what could be judged of a refused session and the harness error.
async fn connect(
    s: &RunSettings,
    target: TargetConfig,
    check: CheckConfig,
    provisioning: Provisioning,
) -> Result<(Env, &'static Schemas), (Vec<CaseReport>, String)> {
    let schemas =
        Schemas::embedded().map_err(|e| (Vec::new(), format!("loading the schemas: {e}")))?;
    // The flood bound on notification bytes grows with the cases in flight: a faultless
    // target notifies about every chat the harness opens.
    let in_flight = if s.concurrency == 0 {
        DEFAULT_MAX_CASES_IN_FLIGHT
    } else {
        s.concurrency
    };
    let tuning = crate::client::BayeuxTuning {
        max_notification_bytes: crate::client::bayeux::DEFAULT_MAX_NOTIFICATION_BYTES
            + NOTIFICATION_BYTES_PER_CASE * in_flight as u64,
        ..Default::default()
    };
    let connected = Env::connect(
        target,
        check,
        s.agents.clone(),
        provisioning,
        schemas,
        tuning,
    )
    .await;
    let mut env = match connected {
        Ok(env) => env,
        Err(e) => {
            // A refused Bayeux handshake or subscribe is the target's failure (NTF-02),
            // judged from what was recorded; the rest could not be observed.
            let session = crate::check::judge_session(&e.run_history);
            let failed = session.iter().any(|f| f.verdict == Verdict::Fail);
            let mut reports = Vec::new();
            if failed {
                reports.push(CaseReport {
                    id: "session".into(),
                    seed: s.seed,
                    exercises: vec![ReqId::Ntf02],
                    steps: Vec::new(),
                    verdict: Verdict::Fail,
                    findings: session,
                    history: Some(e.run_history),
                    original_steps: None,
                    duration_ms: 0,
                });
            }
            return Err((reports, e.message));
        }
    };
    env.set_cancel(s.cancel.clone());
    env.set_bounded(!s.keep_histories);
    env.set_capacity(
        s.max_chats_per_agent
            .or(if s.target.is_some() { Some(3) } else { None }),
    );
    Ok((env, schemas))
}

/// Runs the plan's cases (at most the run's bound at once) and judges each as it ends,
/// shrinking the first case of each distinct failure meanwhile. Also returns how many
/// cases ran (a signal keeps the rest from starting).
async fn judge_cases<'a>(
    s: &'a RunSettings,
    tell: &'a Tell,
    env: &'a Env,
    plan: &'a Plan<'a>,
    active: usize,
    gen_error: &'a std::cell::RefCell<Option<String>>,
    limits: shrink::Limits,
) -> (
    Judging,
    std::collections::BTreeMap<usize, shrink::Shrunk<CaseOutcome>>,
    usize,
) {
    let until = s.duration.map(|d| Instant::now() + d);
    // After a signal no case is generated any more: the plan's rest is counted, not run.
    let numbered = plan
        .cases()
        .take_while(|_| env.stop_reason().is_none() && until.is_none_or(|u| Instant::now() < u))
        .map_while(|c| match c {
            Ok(c) => Some(c),
            Err(e) => {
                *gen_error.borrow_mut() = Some(e.to_string());
                None
            }
        })
        .enumerate();
    let mut running = Box::pin(
        futures_util::stream::iter(numbered)
            .map(|(i, c)| async move {
                // `None`: a signal came before the case started (it is counted, not
                // reported).
                let out = if env.stop_reason().is_some() {
                    None
                } else {
                    tell.event(&RunEvent::CaseStarted {
                        id: &c.id,
                        seed: c.seed,
                        exercises: &c.exercises,
                    });
                    env.run_case_until(&c, None).await
                };
                (i, c, out)
            })
            .buffer_unordered(active),
    );
    // Against a target with a capacity bound, shrinking waits until every case of the
    // run has been judged, so that re-runs never hold back the verdict; without one,
    // it overlaps the rest of the run.
    let (main_done_tx, main_done) = tokio::sync::watch::channel(false);
    let wait_for_cases = env.has_capacity_bound().then_some(main_done);
    let mut judging = Judging::default();
    let mut shrunk: std::collections::BTreeMap<usize, shrink::Shrunk<CaseOutcome>> =
        Default::default();
    let mut shrinking: futures_util::stream::FuturesUnordered<ShrinkFuture<'_>> =
        Default::default();
    let mut cases_done = false;
    let mut judged = 0usize;
    // When a case last started or was judged, and when the run last said what it waits on.
    let (mut changed, mut said) = (Instant::now(), Instant::now());
    // Whether anything more can be learnt, checked while cases run.
    let mut pulse = tokio::time::interval(GONE_CHECK);
    pulse.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = pulse.tick(), if !cases_done => {
                if env.halted().is_none()
                    && let Some(why) = env.gone(s.give_up_after, s.give_up_silence)
                {
                    tell.event(&RunEvent::Warning(&why));
                    env.halt(why);
                }
                // Nothing changed for a while: say what the run waits on.
                if changed.elapsed() >= IDLE_SAY && said.elapsed() >= IDLE_SAY {
                    said = Instant::now();
                    let what = env.target.liveness.waiting().unwrap_or_else(|| {
                        format!(
                            "waiting for the notifications and quiet windows of the cases in flight, {} s so far",
                            changed.elapsed().as_secs()
                        )
                    });
                    tell.event(&RunEvent::Waiting(&what));
                }
            }
            next = running.next(), if !cases_done => {
                let Some((i, case, out)) = next else {
                    cases_done = true;
                    let _ = main_done_tx.send(true);
                    continue;
                };
                changed = Instant::now();
                let Some(out) = out else {
                    continue;
                };
                judged += 1;
                tell.event(&RunEvent::CaseJudged {
                    case: judged_event(&case, &out),
                    secrets: &env.target.secrets,
                });
                if let Some((g, sig)) = judging.take(s, env, i, case.clone(), out)
                    && s.shrink_budget > 0
                {
                    // No more re-runs queued than fit on the target: a group whose
                    // cases need many chats must not hold back the re-runs of the
                    // others.
                    let limits = shrink::Limits {
                        width: env
                            .runs_that_fit(&case)
                            .map_or(limits.width, |n| n.min(limits.width)),
                        ..limits
                    };
                    shrinking.push(Box::pin(shrink_group(
                        tell, env, g, case, sig, limits, wait_for_cases.clone(),
                    )));
                }
            }
            Some((g, result)) = shrinking.next(), if !shrinking.is_empty() => {
                shrunk.insert(g, result);
            }
            else => break,
        }
    }
    (judging, shrunk, judged)
}

/// NTF-02 over the whole run: the `session` pseudo-case.
fn session_report(s: &RunSettings, env: &Env) -> CaseReport {
    let session: Vec<Finding> = env.judge_session();
    let verdict = fold(session.iter().map(|f| &f.verdict));
    let shard_suffix = s.shard.map(|(k, _)| format!("-{k}")).unwrap_or_default();
    CaseReport {
        id: format!("session{shard_suffix}"),
        seed: s.seed,
        exercises: vec![ReqId::Ntf02],
        steps: Vec::new(),
        verdict,
        history: (verdict == Verdict::Fail || s.keep_histories).then(|| env.run_history()),
        findings: session,
        original_steps: None,
        duration_ms: 0,
    }
}

/// Nothing changed (no case started or judged) for this long, and the progress says what
/// the run waits on.
const IDLE_SAY: Duration = Duration::from_secs(5);

/// How often a run checks whether the target is gone while cases run.
const GONE_CHECK: Duration = Duration::from_millis(250);

/// Passing cases listed (steps and findings) in a run's report; past this, passing
/// cases are counted per requirement ([`report::Unlisted`]), not listed, so a run of
/// 100,000 cases keeps a flat footprint. Failing cases are always listed.
pub(crate) const LISTED_CASES: usize = 1000;

/// Each distinct failure's shrink may take this long by default (wall time, from when
/// it starts; see `--shrink-time`).
pub(crate) const DEFAULT_SHRINK_TIME: Duration = Duration::from_secs(5);

/// Shrink candidates re-run at once per group (each still waits for room on the
/// target, like any case).
pub(crate) const SHRINK_WIDTH: usize = 16;

/// Shrinks the representative `rep` of group `g` (signature `wanted`): re-runs smaller
/// candidates until none fails the same way or a limit runs out, telling how far it got.
async fn shrink_group<'a>(
    tell: &'a Tell,
    env: &'a Env,
    g: usize,
    rep: Case,
    wanted: String,
    limits: shrink::Limits,
    wait_for_cases: Option<tokio::sync::watch::Receiver<bool>>,
) -> (usize, shrink::Shrunk<CaseOutcome>) {
    tell.event(&RunEvent::ShrinkStarted { group: g });
    let short: String = wanted.chars().take(70).collect();
    if let Some(mut rx) = wait_for_cases {
        tell.event(&RunEvent::ShrinkProgress {
            group: g,
            message: &format!(
                "#{} [{short}]: shrinking when the other cases are done",
                g + 1
            ),
            elapsed: None,
        });
        let _ = rx.wait_for(|done| *done).await;
    }
    let started = Instant::now();
    let say = |steps: usize, runs: usize| {
        let msg = format!(
            "shrinking #{} [{short}]: {} → {steps} steps, {runs}/{} runs",
            g + 1,
            rep.steps.len(),
            limits.budget
        );
        tell.event(&RunEvent::ShrinkProgress {
            group: g,
            message: &msg,
            elapsed: Some(started.elapsed()),
        });
    };
    say(rep.steps.len(), 0);
    let deadline = started + limits.time;
    let shrunk = shrink::shrink_with(
        &rep,
        limits,
        |c| {
            let wanted = wanted.clone();
            async move {
                let Some(out) = env.run_case_until(&c, Some(deadline)).await else {
                    return shrink::Trial::NotRun;
                };
                match groups::signature(&out.findings) {
                    Some(sg) if sg == wanted => shrink::Trial::Same(out),
                    Some(other) => shrink::Trial::Other(other),
                    None => shrink::Trial::Gone,
                }
            }
        },
        say,
    )
    .await;
    let done = format!(
        "shrunk #{} [{short}]: {} → {} steps in {} runs, {:.1} s{}",
        g + 1,
        rep.steps.len(),
        shrunk.case.steps.len(),
        shrunk.runs,
        shrunk.elapsed.as_secs_f64(),
        match shrunk.stopped {
            Some(shrink::Stop::Budget) => " (budget of re-runs ran out)",
            Some(shrink::Stop::Time) => " (time limit ran out)",
            None => "",
        }
    );
    tell.event(&RunEvent::ShrinkDone {
        group: g,
        message: &done,
    });
    (g, shrunk)
}
