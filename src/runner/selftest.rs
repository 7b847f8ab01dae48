//! `gws-conform selftest`: the suite against the faultless embedded server and against
//! each fault of its catalogue. A harness is worth exactly the faults it catches and the
//! conformant servers it leaves alone.
//!
//! With `--variations`, each of those runs again under each legitimate variation of the
//! server (the dual of the fault catalogue, `serve --list-variations`), and the faultless
//! server under every compatible pair of them: every fault must still be killed by its
//! own requirement, and the faultless server must stay clean, whatever legal way the
//! server behaves. The output is the faults × variations matrix.

use super::{Mode, Progress, RunSettings, execute};
use crate::check::Verdict;
use crate::report::{Overall, RunReport};
use crate::server;
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::time::Duration;

/// What `selftest` runs (the command line's `SelftestArgs` become this; [`Default`] is
/// its defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seeds to run (1..=N); every seed runs the faultless server and every fault.
    pub seeds: u64,
    /// First seed.
    pub first_seed: u64,
    /// Only these faults (names).
    pub faults: Vec<String>,
    /// Random sequences per run on top of the directed cases.
    pub cases: u32,
    /// Notification deadline (shorter than a run's default: the embedded server is local).
    pub deadline: Duration,
    /// Quiet window.
    pub quiet_window: Duration,
    /// Runs (servers) at once. Runs mostly wait on deadlines, so more than the cores.
    pub parallel: usize,
    /// Also run every fault under each legitimate variation of the server (all of them
    /// when empty, or these), and the faultless server under every compatible pair of
    /// them. `None`: no variations.
    pub variations: Option<Vec<String>>,
    /// Only the faultless server (no fault of the catalogue).
    pub no_faults: bool,
    /// With variations: skip the pairs of variations.
    pub no_pairs: bool,
    /// Provisioning modes to run each cell in.
    pub provisioning: Vec<Mode>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seeds: 1,
            first_seed: 1,
            faults: Vec::new(),
            cases: 3,
            deadline: Duration::from_secs(2),
            quiet_window: Duration::from_millis(300),
            parallel: 8,
            variations: None,
            no_faults: false,
            no_pairs: false,
            provisioning: vec![Mode::ProviderState],
        }
    }
}

/// Why `selftest` cannot run the matrix asked for (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelftestError {
    /// `--faults` names no fault of the catalogue.
    #[error("no fault named `{name}`; known: {known}")]
    UnknownFault {
        /// The name given.
        name: String,
        /// The catalogue's names, comma-separated.
        known: String,
    },
    /// `--variations` names no variation of the catalogue.
    #[error("no variation named `{name}`; known: {known}")]
    UnknownVariation {
        /// The name given.
        name: String,
        /// The catalogue's names, comma-separated.
        known: String,
    },
}

/// One row of the selftest matrix.
#[derive(Debug, Clone)]
pub struct Row {
    /// `None` for the faultless server.
    pub fault: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// The server's legitimate variations in this run (none: its default behaviour).
    pub variations: Vec<&'static str>,
    /// The provisioning mode of the run.
    pub mode: Mode,
    /// Why one of `variations` makes the fault unobservable, when one does: such a run
    /// is not judged (`n/a` in the matrix), since the faulty behaviour is legal there.
    pub masked: Option<String>,
    /// The requirements the fault names as the ones it must trip.
    pub expected: Vec<String>,
    /// Requirement ids that failed.
    pub caught_by: Vec<String>,
    /// Steps of the smallest failing case (after shrinking).
    pub min_case_steps: Option<usize>,
    /// Duration of the fastest failing case, ms.
    pub detect_ms: Option<u64>,
    /// Wall time of the run, ms.
    pub run_ms: u64,
    /// The run's outcome.
    pub overall: Overall,
    /// Harness errors of the run.
    pub errors: Vec<String>,
    /// Open chats the agents held on the server after the run (`GET /api/v2/me/chats`,
    /// listed again by fresh sessions): the run must leave none (SPEC §6.9). `None` when
    /// they could not be listed.
    pub left_open: Option<usize>,
}

impl Row {
    /// Faultless: no failure at all (MUST or SHOULD) and no harness error. Fault: killed,
    /// with one of its expected requirements among the killers (a fault that breaks the
    /// notification session also leaves a harness error beside its NTF-02 Fail).
    pub fn ok(&self) -> bool {
        if self.masked.is_some() {
            return true;
        }
        match &self.fault {
            None => {
                self.caught_by.is_empty()
                    && self.overall == Overall::Conformant
                    && self.left_open == Some(0)
            }
            Some(_) => self.caught_by.iter().any(|c| self.expected.contains(c)),
        }
    }
}

/// Why a variation of `variations` makes `fault` unobservable, if one does.
fn masked_by(fault: Option<&str>, variations: &[&'static str]) -> Option<String> {
    let fault = fault?;
    server::variations()
        .iter()
        .filter(|v| variations.contains(&v.name))
        .find_map(|v| {
            v.masks
                .iter()
                .find(|(f, _)| *f == fault)
                .map(|(_, why)| format!("{}: {why}", v.name))
        })
}

/// Why `fault` cannot be seen in this run at all, if it cannot: every requirement that
/// must catch it was a Skip (not observable in this mode; e.g. CMP-07/08 need the
/// provider-state `inspect`, SPEC §3: "else Skip"). Such a run is not judged (`n/a`).
fn unobservable(fault: Option<&server::FaultInfo>, mode: Mode, r: &RunReport) -> Option<String> {
    let fault = fault?;
    let verdict = |id: &str| {
        r.requirements
            .iter()
            .find(|q| q.id == id)
            .map(|q| q.verdict)
    };
    let all_skipped = !fault.expect.is_empty()
        && fault
            .expect
            .iter()
            .all(|id| verdict(id.as_str()) == Some(Verdict::Skip));
    all_skipped.then(|| {
        format!(
            "{} not observable in {} mode (Skip)",
            fault
                .expect
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            mode.name()
        )
    })
}

/// One run of the matrix.
#[derive(Debug, Clone)]
struct Job {
    fault: Option<&'static server::FaultInfo>,
    seed: u64,
    variations: Vec<&'static str>,
    mode: Mode,
}

/// The runs `args` asks for: for each seed and mode, the faultless server and every
/// (selected) fault under the default behaviour and, with `--variations`, under each
/// variation; then the faultless server under every compatible pair of variations.
fn jobs(args: &Options) -> Result<Vec<Job>, SelftestError> {
    let all = server::faults();
    for f in &args.faults {
        if !all.iter().any(|x| x.name == f) {
            let names: Vec<&str> = all.iter().map(|x| x.name).collect();
            return Err(SelftestError::UnknownFault {
                name: f.clone(),
                known: names.join(", "),
            });
        }
    }
    let chosen: Vec<Option<&'static server::FaultInfo>> = std::iter::once(None)
        .chain(
            all.iter()
                .filter(|_| !args.no_faults)
                .filter(|f| args.faults.is_empty() || args.faults.iter().any(|n| n == f.name))
                .map(Some),
        )
        .collect();
    let catalogue: Vec<&'static str> = server::variations().iter().map(|v| v.name).collect();
    let variations: Vec<&'static str> = match &args.variations {
        None => Vec::new(),
        Some(names) => {
            let names: Vec<&str> = names
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .collect();
            for n in &names {
                if !catalogue.contains(n) {
                    return Err(SelftestError::UnknownVariation {
                        name: n.to_string(),
                        known: catalogue.join(", "),
                    });
                }
            }
            catalogue
                .iter()
                .copied()
                .filter(|v| names.is_empty() || names.contains(v))
                .collect()
        }
    };
    let mut columns: Vec<Vec<&'static str>> = vec![Vec::new()];
    columns.extend(variations.iter().map(|v| vec![*v]));
    let modes = if args.provisioning.is_empty() {
        vec![Mode::ProviderState]
    } else {
        args.provisioning.clone()
    };
    let mut jobs = Vec::new();
    for seed in args.first_seed..args.first_seed + args.seeds.max(1) {
        for &mode in &modes {
            for col in &columns {
                for f in &chosen {
                    jobs.push(Job {
                        fault: *f,
                        seed,
                        variations: col.clone(),
                        mode,
                    });
                }
            }
            if !args.no_pairs {
                for (i, a) in variations.iter().enumerate() {
                    for b in &variations[i + 1..] {
                        if server::Variations::compatible(a, b) {
                            jobs.push(Job {
                                fault: None,
                                seed,
                                variations: vec![*a, *b],
                                mode,
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(jobs)
}

fn row(job: &Job, r: &RunReport, left_open: Option<usize>) -> Row {
    let fault = job.fault;
    let seed = job.seed;
    let caught: BTreeSet<String> = r
        .requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Fail)
        .map(|q| q.id.clone())
        .collect();
    // Real cases only: the run-level "session" pseudo-case has no steps.
    let failing = r
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && !c.steps.is_empty());
    let min_case_steps = failing
        .clone()
        .map(|c| c.steps.len())
        .filter(|n| *n > 0)
        .min();
    let detect_ms = failing.map(|c| c.duration_ms).min();
    Row {
        fault: fault.map(|f| f.name.to_string()),
        seed,
        variations: job.variations.clone(),
        mode: job.mode,
        masked: masked_by(fault.map(|f| f.name), &job.variations)
            .or_else(|| unobservable(fault, job.mode, r)),
        expected: fault
            .map(|f| f.expect.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        caught_by: caught.into_iter().collect(),
        min_case_steps,
        detect_ms,
        run_ms: r.duration_ms,
        overall: r.overall,
        errors: r.errors.clone(),
        left_open,
    }
}

/// Every open chat the agents hold on the server at `base_url`, through fresh sessions.
async fn open_chats(base_url: &str, agents: &[crate::client::Credentials]) -> Option<usize> {
    let target = crate::client::TargetConfig::new(base_url).ok()?;
    let mut open = 0;
    for a in agents {
        let rec = crate::history::Recorder::new();
        let client = crate::client::AgentClient::login(&target, a.clone(), &rec)
            .await
            .ok()?;
        let listed = client.get(&rec, "/api/v2/me/chats").await;
        open += listed
            .json()
            .and_then(|v| v.get("chats"))
            .and_then(serde_json::Value::as_array)?
            .len();
        client.logout(&rec).await;
    }
    Some(open)
}

/// Runs one job against a server of its own, then lists what it left open.
async fn run_job(args: &Options, job: &Job, cancel: &super::Cancel) -> Row {
    let cfg = server::ServerConfig {
        fault: job.fault.map(|f| f.name.to_string()),
        // Validated by `jobs`.
        variations: server::Variations::from_names(&job.variations).unwrap_or_default(),
        ..server::ServerConfig::default()
    }
    .with_variation_presets();
    let agents = super::embedded_agents();
    let capacity = cfg.capacity;
    // On a runtime of its own, as a separate process would be.
    let srv = match server::start_dedicated(cfg, "127.0.0.1:0", 1) {
        Ok(srv) => srv,
        Err(e) => {
            return Row {
                fault: job.fault.map(|f| f.name.to_string()),
                seed: job.seed,
                variations: job.variations.clone(),
                mode: job.mode,
                masked: masked_by(job.fault.map(|f| f.name), &job.variations),
                expected: job
                    .fault
                    .map(|f| f.expect.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default(),
                caught_by: Vec::new(),
                min_case_steps: None,
                detect_ms: None,
                run_ms: 0,
                overall: Overall::Error,
                errors: vec![format!("cannot start the server: {e}")],
                left_open: None,
            };
        }
    };
    let s = RunSettings {
        target: Some(srv.base_url.clone()),
        agents: agents.clone(),
        // As against the embedded server: what its capacity allows, unbounded without
        // one (`Some(0)`).
        max_chats_per_agent: Some(capacity.unwrap_or(0)),
        seed: job.seed,
        mode: Some(job.mode),
        random_cases: args.cases,
        deadline: args.deadline,
        quiet_window: args.quiet_window,
        progress: Progress::None,
        // Enough re-runs to take a watched refusal (offer, accept, read, refusal, quiet,
        // read, follow-up, quiet) down to its 6 steps whichever case represents it.
        shrink_budget: 32,
        cancel: cancel.clone(),
        ..RunSettings::default()
    };
    let r = execute(s).await.report;
    let left_open = open_chats(&srv.base_url, &agents).await;
    srv.shutdown().await;
    row(job, &r, left_open)
}

/// Runs the matrix (see [`jobs`]).
pub async fn matrix(args: &Options) -> Result<Vec<Row>, SelftestError> {
    matrix_with(args, &super::Cancel::new(), |_, _, _| {}).await
}

/// Runs the matrix (see [`jobs`]), telling `done` of each row as it is judged: its
/// number (from 1), the number of runs, and the row. Once `cancel` is set no further run
/// starts (the runs in flight stop as any run does): fewer rows come back than
/// [`jobs`] holds.
pub async fn matrix_with(
    args: &Options,
    cancel: &super::Cancel,
    done: impl Fn(usize, usize, &Row),
) -> Result<Vec<Row>, SelftestError> {
    let jobs = jobs(args)?;
    let total = jobs.len();
    let done = &done;
    let rows: Vec<Row> = futures_util::stream::iter(jobs.into_iter().enumerate())
        .take_while(|_| std::future::ready(!cancel.is_cancelled()))
        .map(|(i, job)| async move {
            let row = run_job(args, &job, cancel).await;
            done(i + 1, total, &row);
            row
        })
        .buffered(args.parallel.max(1))
        .collect()
        .await;
    Ok(rows)
}

/// How many runs the matrix `args` asks for holds (0 when `args` is not valid).
pub fn job_count(args: &Options) -> usize {
    jobs(args).map_or(0, |j| j.len())
}
