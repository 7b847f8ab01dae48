//! `gws-conform selftest`: the suite against the faultless embedded server and against
//! each fault of its catalogue. A harness is worth exactly the faults it catches and the
//! conformant servers it leaves alone.

use super::{Progress, RunSettings, execute};
use crate::check::Verdict;
use crate::report::{Overall, RunReport};
use crate::server;
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::time::Duration;

/// Arguments of `selftest`.
#[derive(Debug, clap::Args)]
pub struct SelftestArgs {
    /// Seeds to run (1..=N); every seed runs the faultless server and every fault.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Only these faults (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Random sequences per run on top of the directed cases.
    #[arg(long, default_value_t = 3)]
    pub cases: u32,
    /// Notification deadline (shorter than the default: the embedded server is local).
    #[arg(long, default_value = "2s", value_parser = super::cli_parse_duration)]
    pub deadline: Duration,
    /// Quiet window.
    #[arg(long, default_value = "300ms", value_parser = super::cli_parse_duration)]
    pub quiet_window: Duration,
    /// Runs (servers) at once. Runs mostly wait on deadlines, so more than the cores.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
}

/// One row of the selftest matrix.
#[derive(Debug, Clone)]
pub struct Row {
    /// `None` for the faultless server.
    pub fault: Option<String>,
    /// The run's seed.
    pub seed: u64,
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
}

impl Row {
    /// Faultless: no failure at all (MUST or SHOULD) and no harness error. Fault: killed,
    /// with one of its expected requirements among the killers (a fault that breaks the
    /// notification session also leaves a harness error beside its NTF-02 Fail).
    pub fn ok(&self) -> bool {
        match &self.fault {
            None => self.caught_by.is_empty() && self.overall == Overall::Conformant,
            Some(_) => self.caught_by.iter().any(|c| self.expected.contains(c)),
        }
    }
}

fn row(fault: Option<&server::FaultInfo>, seed: u64, r: &RunReport) -> Row {
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
        expected: fault
            .map(|f| f.expect.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        caught_by: caught.into_iter().collect(),
        min_case_steps,
        detect_ms,
        run_ms: r.duration_ms,
        overall: r.overall,
        errors: r.errors.clone(),
    }
}

/// Runs the matrix: for each seed, the faultless server and every (selected) fault.
pub async fn matrix(args: &SelftestArgs) -> Result<Vec<Row>, String> {
    let all = server::faults();
    for f in &args.faults {
        if !all.iter().any(|x| x.name == f) {
            let names: Vec<&str> = all.iter().map(|x| x.name).collect();
            return Err(format!("no fault named `{f}`; known: {}", names.join(", ")));
        }
    }
    let chosen: Vec<Option<&'static server::FaultInfo>> = std::iter::once(None)
        .chain(
            all.iter()
                .filter(|f| args.faults.is_empty() || args.faults.iter().any(|n| n == f.name))
                .map(Some),
        )
        .collect();
    let mut jobs = Vec::new();
    for seed in args.first_seed..args.first_seed + args.seeds.max(1) {
        for f in &chosen {
            jobs.push((*f, seed));
        }
    }
    let rows: Vec<Row> = futures_util::stream::iter(jobs)
        .map(|(f, seed)| async move {
            let s = RunSettings {
                fault: f.map(|f| f.name.to_string()),
                seed,
                random_cases: args.cases,
                deadline: args.deadline,
                quiet_window: args.quiet_window,
                progress: Progress::None,
                shrink_budget: 16,
                ..RunSettings::default()
            };
            let r = execute(s).await.report;
            let row = row(f, seed, &r);
            eprintln!(
                "{:<4} seed {:<4} {:<40} caught by {}",
                if row.ok() { "ok" } else { "BAD" },
                seed,
                row.fault.as_deref().unwrap_or("(faultless)"),
                if row.caught_by.is_empty() {
                    "-".to_string()
                } else {
                    row.caught_by.join(",")
                }
            );
            row
        })
        .buffered(args.parallel.max(1))
        .collect()
        .await;
    Ok(rows)
}

/// Prints the matrix as a table.
pub fn print_matrix(rows: &[Row]) {
    println!(
        "{:<36} {:>4} {:<4} {:<28} {:<20} {:>5} {:>8} {:>8}",
        "fault", "seed", "ok", "caught by", "expected", "steps", "case ms", "run ms"
    );
    for r in rows {
        println!(
            "{:<36} {:>4} {:<4} {:<28} {:<20} {:>5} {:>8} {:>8}",
            r.fault.as_deref().unwrap_or("(faultless)"),
            r.seed,
            if r.ok() { "yes" } else { "NO" },
            if r.caught_by.is_empty() {
                "-".to_string()
            } else {
                r.caught_by.join(",")
            },
            r.expected.join(","),
            r.min_case_steps
                .map(|n| n.to_string())
                .unwrap_or("-".into()),
            r.detect_ms.map(|n| n.to_string()).unwrap_or("-".into()),
            r.run_ms
        );
        for e in &r.errors {
            println!("    error: {e}");
        }
    }
    let faults: Vec<&Row> = rows.iter().filter(|r| r.fault.is_some()).collect();
    let killed = faults.iter().filter(|r| r.ok()).count();
    let clean = rows.iter().filter(|r| r.fault.is_none()).all(|r| r.ok());
    println!(
        "\nkilled {killed}/{} fault runs; faultless server {}",
        faults.len(),
        if clean {
            "clean"
        } else {
            "FAILED (false failures)"
        }
    );
}

/// Runs `selftest`; exit 1 if a fault survives or the faultless server fails anything.
pub fn main(args: SelftestArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return crate::exit::HARNESS;
        }
    };
    let started = std::time::Instant::now();
    let rows = match rt.block_on(matrix(&args)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::USAGE;
        }
    };
    print_matrix(&rows);
    println!("selftest took {} ms", started.elapsed().as_millis());
    if rows.iter().all(Row::ok) {
        crate::exit::CONFORMANT
    } else {
        crate::exit::FAILURES
    }
}
