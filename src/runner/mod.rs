//! The runner: cases, concurrency, shrinking, seeds, shards. Drives a target, records a
//! history per case, hands it to the checker, and fills the plain `RunReport` the report
//! writers read.

pub mod cases;
pub mod cli;
pub mod coverage;
pub mod exec;
pub mod groups;
pub mod selftest;
pub mod shrink;

use crate::spec::ReqId;
pub use cli::parse_duration as cli_parse_duration;

use crate::check::{CheckConfig, Finding, Verdict, fold};
use crate::client::{Credentials, Provisioning, TargetConfig};
use crate::history::redact::Scrubber;
use crate::report::{self, CaseReport, Overall, RunConfig, RunReport};
use crate::schema::Schemas;
use crate::server;
use cases::Case;
use exec::{CaseOutcome, Env};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A run's cancellation flag: set by the first SIGINT/SIGTERM; checked before each case
/// and each step (in-flight requests end within the request timeout, clean-up still
/// runs, and the reports are written with what was judged).
#[derive(Debug, Clone, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }
    /// Sets the flag: no new case or step starts.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The reason recorded for what an interrupted run did not judge.
pub const INTERRUPTED: &str = "interrupted";

/// How cases reach the agent (SPEC §1.5): one type from the CLI to the case file.
pub use crate::client::ProvisioningKind as Mode;

/// Cases in flight at most when `--concurrency` is not given: enough to overlap every
/// quiet window of a default run, few enough that a thousand-case run does not open
/// thousands of connections at once (the capacity bound, agents × chats per agent, applies
/// on top).
pub const DEFAULT_MAX_ACTIVE_CASES: usize = 64;

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
    /// Re-runs allowed to shrink failing cases, in all.
    pub shrink_budget: usize,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How the run reports progress on the terminal.
pub enum Progress {
    /// Nothing.
    None,
    /// One line per case (for non-terminals).
    Lines,
    /// A progress bar.
    Bar,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            target: None,
            agents: Vec::new(),
            mode: None,
            provider_url: None,
            contact_center_id: "gws-conform".into(),
            random_cases: 20,
            seed: 1,
            deadline: Duration::from_secs(5),
            quiet_window: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            strict: false,
            shard: None,
            only: Vec::new(),
            concurrency: 0,
            max_chats_per_agent: None,
            shrink_budget: 60,
            fault: None,
            embedded: server::ServerConfig::default(),
            progress: Progress::None,
            keep_histories: false,
            replay: None,
            cacert: None,
            insecure: false,
            cancel: Cancel::new(),
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
pub fn run_id(seed: u64) -> String {
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

/// Runs the whole catalogue (directed cases plus random sequences) against the target
/// and returns the report. Harness errors become an `Overall::Error` report, never a
/// panic.
pub async fn execute(mut s: RunSettings) -> RunResult {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let id = run_id(s.seed);
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
        eprintln!(
            "warning: --insecure: TLS certificates of the target and the provider are NOT verified (anyone on the path can read the agents' credentials)"
        );
    }

    // The embedded server, when no target is given.
    let mut embedded = None;
    let base_url = match &s.target {
        Some(t) => t.trim_end_matches('/').to_string(),
        None => {
            let cfg = server::ServerConfig {
                fault: s.fault.clone(),
                ..s.embedded.clone()
            };
            // SPEC §6.9: against the embedded server, the harness holds what its capacity
            // allows (unlimited by default).
            if s.max_chats_per_agent.is_none() {
                s.max_chats_per_agent = cfg.capacity;
            }
            if s.agents.is_empty() {
                s.agents = embedded_agents();
            }
            match server::start(cfg, "127.0.0.1:0").await {
                Ok(srv) => {
                    let url = srv.base_url.clone();
                    embedded = Some(srv);
                    url
                }
                Err(e) => {
                    errors.push(format!("cannot start the embedded server: {e}"));
                    String::new()
                }
            }
        }
    };
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
    let provisioning = match mode {
        Mode::ProviderState => Provisioning::ProviderState {
            url: s
                .provider_url
                .clone()
                .unwrap_or_else(|| format!("{base_url}/conformance/provider-state")),
        },
        Mode::CustomerApi => Provisioning::CustomerApi {
            contact_center_id: s.contact_center_id.clone(),
        },
    };
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

    let mut case_reports: Vec<CaseReport> = Vec::new();
    let mut groups = None;
    let mut coverage = None;
    if errors.is_empty() {
        let (reports, error) = run_cases(
            &s,
            target_cfg,
            check_cfg,
            provisioning,
            &mut groups,
            &mut coverage,
        )
        .await;
        case_reports = reports;
        errors.extend(error);
    }
    if s.cancel.is_cancelled() {
        errors.push(format!(
            "{INTERRUPTED}: the run was stopped by a signal before it finished"
        ));
    }
    if !errors.is_empty() {
        // Every requirement nothing could judge is an Error (never a Fail, never a
        // silent Skip) carrying the reason.
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
    if let Some(srv) = embedded {
        srv.shutdown().await;
    }

    let (requirements, mut overall) = report::requirement_table(&case_reports, s.strict);
    // A blocking failure the target made stays a failure (exit 1) even when the run
    // could not finish; otherwise a harness error is exit 3.
    if !errors.is_empty() && overall != Overall::NotConformant {
        overall = Overall::Error;
    }
    let report = RunReport {
        format: report::REPORT_FORMAT,
        run_id: id,
        // The URL only; `embedded` says whose it was.
        target: strip_userinfo(&base_url),
        embedded: s.target.is_none(),
        seed: s.seed,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        config,
        overall,
        exit_code: overall.exit_code(),
        requirements,
        cases: case_reports,
        errors,
        groups,
        coverage,
    };
    RunResult {
        report,
        scrubber: scrubber.snapshot(),
    }
}

fn case_report(
    case: &Case,
    out: CaseOutcome,
    keep: bool,
    original_steps: Option<usize>,
) -> CaseReport {
    let keep_history = keep || matches!(out.verdict, Verdict::Fail | Verdict::Error);
    CaseReport {
        id: case.id.clone(),
        seed: case.seed,
        exercises: case.exercises.clone(),
        steps: case.steps.clone(),
        verdict: out.verdict,
        findings: out.findings,
        history: keep_history.then_some(out.history),
        original_steps,
        duration_ms: out.duration.as_millis() as u64,
    }
}

/// The outcome of a case a signal kept from starting: Error "interrupted" for what it
/// exercises.
fn interrupted(case: &Case) -> CaseOutcome {
    let findings: Vec<Finding> = case
        .exercises
        .iter()
        .map(|r| Finding::error(*r, INTERRUPTED.to_string()))
        .collect();
    CaseOutcome {
        history: Default::default(),
        findings,
        verdict: Verdict::Error,
        duration: Duration::ZERO,
    }
}

/// Generates, shards and filters the cases of a run.
pub fn plan(s: &RunSettings, schemas: &Schemas, agents: &[String]) -> Result<Vec<Case>, String> {
    if let Some(c) = &s.replay {
        return Ok(vec![c.clone()]);
    }
    let mut all = cases::all(schemas, s.seed, agents, s.random_cases)?;
    if let Some((k, n)) = s.shard {
        all = cases::shard(all, k, n);
    }
    if !s.only.is_empty() {
        all.retain(|c| {
            c.exercises
                .iter()
                .any(|t| s.only.iter().any(|o| o.eq_ignore_ascii_case(t.as_str())))
        });
    }
    Ok(all)
}

/// Runs every planned case; returns the case reports and, when the run could not go on,
/// the harness error (the reports then hold what could still be judged).
async fn run_cases(
    s: &RunSettings,
    target: TargetConfig,
    check: CheckConfig,
    provisioning: Provisioning,
    groups_out: &mut Option<Vec<report::FailureGroup>>,
    coverage_out: &mut Option<report::CoverageSummary>,
) -> (Vec<CaseReport>, Option<String>) {
    let schemas = match Schemas::embedded() {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Some(format!("loading the schemas: {e}"))),
    };
    let mut env = match Env::connect(target, check, s.agents.clone(), provisioning, schemas).await {
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
            return (reports, Some(e.message));
        }
    };
    env.set_cancel(s.cancel.clone());
    env.set_capacity(
        s.max_chats_per_agent
            .or(if s.target.is_some() { Some(3) } else { None }),
    );
    let agents = env.agent_names();
    let plan = match plan(s, schemas, &agents) {
        Ok(p) => p,
        Err(e) => {
            env.close().await;
            return (Vec::new(), Some(format!("generating cases: {e}")));
        }
    };
    *coverage_out = Some(coverage::summary(&plan));
    let total = plan.len();
    let cases_started = Instant::now();

    let bar = match s.progress {
        Progress::Bar => {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cases {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Some(b)
        }
        _ => None,
    };
    let env_ref = &env;
    let mut outcomes: Vec<(usize, CaseOutcome)> =
        futures_util::stream::iter(plan.iter().enumerate())
            .map(|(i, c)| async move {
                if s.cancel.is_cancelled() {
                    return (i, interrupted(c));
                }
                (i, env_ref.run_case(c).await)
            })
            .buffer_unordered(if s.concurrency == 0 {
                total.clamp(1, DEFAULT_MAX_ACTIVE_CASES)
            } else {
                s.concurrency
            })
            .inspect(|(i, o)| {
                let c = &plan[*i];
                match (&bar, s.progress) {
                    (Some(b), _) => {
                        b.inc(1);
                        if o.verdict == Verdict::Fail {
                            b.println(format!(
                                "FAIL {} ({})",
                                c.id,
                                crate::spec::join(
                                    &o.failed().into_iter().collect::<Vec<_>>(),
                                    ", "
                                )
                            ));
                        }
                    }
                    (None, Progress::Lines) => eprintln!(
                        "{:>6} {} [{} ms]",
                        o.verdict.as_str(),
                        c.id,
                        o.duration.as_millis()
                    ),
                    _ => {}
                }
            })
            .collect()
            .await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    outcomes.sort_by_key(|(i, _)| *i);
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    for (_, o) in &outcomes {
        for e in o.history.iter() {
            if let crate::history::EventKind::Bind { chat_id, .. } = &e.kind {
                claimed.insert(chat_id.clone());
            }
        }
    }

    // Group the failing cases by signature, then shrink each group's smallest
    // representative — groups in parallel, each with its own budget of re-runs and of
    // wall time (as long as the cases took, at least 10 s: a failing run stays within
    // about twice a passing one).
    let limit = cases_started.elapsed().max(Duration::from_secs(10));
    let bound = std::sync::Mutex::new(BTreeSet::new());
    let (reports, groups) = shrink_groups(s, &env, &plan, outcomes, limit, &bound).await;
    claimed.extend(bound.into_inner().unwrap_or_default());
    if !groups.is_empty() {
        *groups_out = Some(groups);
    }
    for r in &reports {
        for e in r.history.iter().flat_map(|h| h.iter()) {
            if let crate::history::EventKind::Bind { chat_id, .. } = &e.kind {
                claimed.insert(chat_id.clone());
            }
        }
    }
    let mut reports = reports;

    // NTF-02 over the whole run.
    let session: Vec<Finding> = env.judge_session(&claimed);
    let verdict = fold(session.iter().map(|f| &f.verdict));
    let shard_suffix = s.shard.map(|(k, _)| format!("-{k}")).unwrap_or_default();
    reports.push(CaseReport {
        id: format!("session{shard_suffix}"),
        seed: s.seed,
        exercises: vec![ReqId::Ntf02],
        steps: Vec::new(),
        verdict,
        history: (verdict == Verdict::Fail || s.keep_histories).then(|| env.run_history()),
        findings: session,
        original_steps: None,
        duration_ms: 0,
    });
    env.close().await;
    (reports, None)
}

/// Groups the failing outcomes by signature and shrinks each group's smallest
/// representative (see [`run_cases`]); returns the case reports in run order (the
/// representative replaced by its shrunk form) and the groups.
async fn shrink_groups(
    s: &RunSettings,
    env: &Env,
    plan: &[Case],
    outcomes: Vec<(usize, CaseOutcome)>,
    limit: Duration,
    bound: &std::sync::Mutex<BTreeSet<String>>,
) -> (Vec<CaseReport>, Vec<report::FailureGroup>) {
    let found = groups::group(
        outcomes
            .iter()
            .map(|(i, o)| (*i, o.findings.as_slice(), plan[*i].steps.len())),
    );
    let limits = shrink::Limits {
        budget: s.shrink_budget,
        time: limit,
        width: 4,
    };
    let multi =
        (s.progress == Progress::Bar && !found.is_empty()).then(indicatif::MultiProgress::new);
    // Groups at once: as many as the target can take (agents × chats per agent), at
    // least one; each group re-runs `width` candidates at once.
    let parallel = match s.max_chats_per_agent {
        Some(n) if n > 0 => (n * s.agents.len().max(1) / limits.width).max(1),
        _ if s.target.is_some() => (3 * s.agents.len().max(1) / limits.width).max(1),
        _ => 8,
    };
    let parallel = if s.concurrency > 0 {
        parallel.min(s.concurrency)
    } else {
        parallel
    };
    let by_index: std::collections::BTreeMap<usize, &CaseOutcome> =
        outcomes.iter().map(|(i, o)| (*i, o)).collect();
    let results: Vec<_> = futures_util::stream::iter(found.iter().enumerate())
        .map(|(g, (sig, members))| {
            let multi = multi.clone();
            async move {
                let rep = &plan[members[0]];
                let bar = multi.as_ref().map(|m| {
                    let b = m.add(indicatif::ProgressBar::new_spinner());
                    b.set_style(
                        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    b.enable_steady_tick(Duration::from_millis(200));
                    b
                });
                let short: String = sig.chars().take(70).collect();
                let say = |steps: usize, runs: usize, started: Instant| {
                    let msg = format!(
                        "shrinking #{} [{short}]: {} → {steps} steps, {runs}/{} runs",
                        g + 1,
                        rep.steps.len(),
                        limits.budget
                    );
                    match (&bar, s.progress) {
                        (Some(b), _) => b.set_message(msg),
                        (None, Progress::Lines) => {
                            eprintln!("{msg}, {:.1} s", started.elapsed().as_secs_f64())
                        }
                        _ => {}
                    }
                };
                let started = Instant::now();
                say(rep.steps.len(), 0, started);
                let wanted = sig.clone();
                let shrunk = shrink::shrink_with(
                    rep,
                    limits,
                    |c| {
                        let wanted = wanted.clone();
                        async move {
                            let out = env.run_case(&c).await;
                            // Every chat a re-run bound is the harness's (NTF-01).
                            if let Ok(mut b) = bound.lock() {
                                for e in out.history.iter() {
                                    if let crate::history::EventKind::Bind { chat_id, .. } = &e.kind
                                    {
                                        b.insert(chat_id.clone());
                                    }
                                }
                            }
                            match groups::signature(&out.findings) {
                                Some(sg) if sg == wanted => shrink::Trial::Same(out),
                                Some(other) => shrink::Trial::Other(other),
                                None => shrink::Trial::Gone,
                            }
                        }
                    },
                    |steps, runs| say(steps, runs, started),
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
                match (&bar, s.progress) {
                    (Some(b), _) => b.finish_with_message(done),
                    (None, Progress::Lines) => eprintln!("{done}"),
                    _ => {}
                }
                (g, shrunk)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut results: Vec<_> = results;
    results.sort_by_key(|(g, _)| *g);

    let mut shrunk_by_case: std::collections::BTreeMap<usize, shrink::Shrunk<CaseOutcome>> =
        std::collections::BTreeMap::new();
    let mut out_groups = Vec::new();
    for ((sig, members), (_, shrunk)) in found.iter().zip(results) {
        let rep = &plan[members[0]];
        let stopped = shrunk.stopped.map(|st| {
            let figures = format!(
                "{}/{} runs, {:.1}/{:.1} s",
                shrunk.runs,
                limits.budget,
                shrunk.elapsed.as_secs_f64(),
                limits.time.as_secs_f64()
            );
            match st {
                shrink::Stop::Budget => format!("budget of re-runs ran out: {figures}"),
                shrink::Stop::Time => format!("time limit ran out: {figures}"),
            }
        });
        let small = shrunk.outcome.is_some();
        out_groups.push(report::FailureGroup {
            signature: sig.clone(),
            requirements: by_index
                .get(&members[0])
                .map(|o| o.failed().into_iter().collect())
                .unwrap_or_default(),
            representative: rep.id.clone(),
            others: members[1..].iter().map(|&i| plan[i].id.clone()).collect(),
            original_steps: rep.steps.len(),
            shrunk_steps: if small {
                shrunk.case.steps.len()
            } else {
                rep.steps.len()
            },
            runs: shrunk.runs,
            budget: limits.budget,
            elapsed_ms: shrunk.elapsed.as_millis() as u64,
            limit_ms: limits.time.as_millis() as u64,
            stopped,
            kept: if shrunk.stopped.is_none() && shrunk.case.steps.len() > 6 {
                shrunk.kept.clone()
            } else {
                Vec::new()
            },
        });
        shrunk_by_case.insert(members[0], shrunk);
    }

    let mut reports = Vec::new();
    for (i, out) in outcomes {
        let case = &plan[i];
        match shrunk_by_case.remove(&i) {
            Some(shrink::Shrunk {
                case: small,
                outcome: Some(again),
                ..
            }) => reports.push(case_report(
                &small,
                again,
                s.keep_histories,
                Some(case.steps.len()),
            )),
            _ => reports.push(case_report(case, out, s.keep_histories, None)),
        }
    }
    (reports, out_groups)
}
