//! The runner: cases, concurrency, shrinking, seeds, shards. Drives a target, records a
//! history per case, hands it to the checker, and fills the plain `RunReport` the report
//! writers read.

pub mod cases;
pub mod cli;
pub mod coverage;
pub mod exec;
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

/// How cases reach the agent (SPEC §1.5): one type from the CLI to the case file.
pub use crate::client::ProvisioningKind as Mode;

/// Everything a run needs, already validated.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// None: start the embedded reference server (with `fault`, if any).
    pub target: Option<String>,
    pub agents: Vec<Credentials>,
    pub mode: Option<Mode>,
    pub provider_url: Option<String>,
    pub contact_center_id: String,
    /// Random stateful sequences on top of the directed cases.
    pub random_cases: u32,
    pub seed: u64,
    pub deadline: Duration,
    pub quiet_window: Duration,
    pub request_timeout: Duration,
    pub strict: bool,
    pub shard: Option<(u32, u32)>,
    /// Only cases exercising these requirement ids (empty: all).
    pub only: Vec<String>,
    pub concurrency: usize,
    /// Re-runs allowed to shrink failing cases, in all.
    pub shrink_budget: usize,
    /// Embedded server only: the fault to switch on.
    pub fault: Option<String>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    None,
    Lines,
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
            concurrency: 4,
            shrink_budget: 60,
            fault: None,
            progress: Progress::None,
            keep_histories: false,
            replay: None,
            cacert: None,
            insecure: false,
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
    pub report: RunReport,
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
                ..server::ServerConfig::default()
            };
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
    if errors.is_empty() {
        let (reports, error) = run_cases(&s, target_cfg, check_cfg, provisioning).await;
        case_reports = reports;
        errors.extend(error);
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
) -> (Vec<CaseReport>, Option<String>) {
    let schemas = match Schemas::embedded() {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Some(format!("loading the schemas: {e}"))),
    };
    let env = match Env::connect(target, check, s.agents.clone(), provisioning, schemas).await {
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
                    exercises: vec![ReqId::Ntf02.into()],
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
    let agents = env.agent_names();
    let plan = match plan(s, schemas, &agents) {
        Ok(p) => p,
        Err(e) => {
            env.close().await;
            return (Vec::new(), Some(format!("generating cases: {e}")));
        }
    };
    let total = plan.len();

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
            .map(|(i, c)| async move { (i, env_ref.run_case(c).await) })
            .buffer_unordered(s.concurrency.max(1))
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

    // Shrink one failing case per failed requirement, within a budget of re-runs and of
    // wall time (each re-run of a case whose notification never comes costs a deadline).
    let mut budget = s.shrink_budget;
    let shrink_until = Instant::now() + (s.deadline * 12).max(Duration::from_secs(60));
    let mut shrunk_for: BTreeSet<ReqId> = BTreeSet::new();
    let mut reports = Vec::new();
    for (i, out) in outcomes {
        let case = &plan[i];
        let failed = out.failed();
        let fresh: Vec<ReqId> = failed.difference(&shrunk_for).cloned().collect();
        if fresh.is_empty() || budget == 0 || Instant::now() >= shrink_until {
            reports.push(case_report(case, out, s.keep_histories, None));
            continue;
        }
        let wanted = fresh[0];
        let env_ref = &env;
        let (small, used) = shrink::shrink(case, budget, |c| {
            let wanted = wanted.clone();
            async move {
                // Out of time: refuse further candidates (the best so far is kept).
                Instant::now() < shrink_until
                    && env_ref.run_case(&c).await.failed().contains(&wanted)
            }
        })
        .await;
        budget = budget.saturating_sub(used);
        if small.steps.len() < case.steps.len() {
            // Re-run the shrunk case once more: its report carries its own history.
            let again = env.run_case(&small).await;
            for e in again.history.iter() {
                if let crate::history::EventKind::Bind { chat_id, .. } = &e.kind {
                    claimed.insert(chat_id.clone());
                }
            }
            if again.failed().contains(&wanted) {
                shrunk_for.extend(again.failed());
                reports.push(case_report(
                    &small,
                    again,
                    s.keep_histories,
                    Some(case.steps.len()),
                ));
                continue;
            }
        }
        shrunk_for.extend(failed);
        reports.push(case_report(case, out, s.keep_histories, None));
    }

    // NTF-02 over the whole run.
    let session: Vec<Finding> = env.judge_session(&claimed);
    let verdict = fold(session.iter().map(|f| &f.verdict));
    let shard_suffix = s.shard.map(|(k, _)| format!("-{k}")).unwrap_or_default();
    reports.push(CaseReport {
        id: format!("session{shard_suffix}"),
        seed: s.seed,
        exercises: vec![ReqId::Ntf02.into()],
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
