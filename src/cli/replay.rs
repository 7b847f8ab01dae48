//! `gws-conform replay`: one saved failing case, run again and judged again.

use super::common::{SignalWatch, Threads, runtime};
use super::run::{print_summary, write_reports};
use super::target::TargetArgs;
use gws_conform::cases::Case;
use gws_conform::check::Verdict;
use gws_conform::exit;
use gws_conform::report;
use gws_conform::runner::execute;
use gws_conform::runner::replay::replay_outcome;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A case file written by `run` (reports/<run id>/cases/<case>.json).
    pub case: PathBuf,
    #[command(flatten)]
    /// The target and how to reach it (default: where the case failed).
    pub t: TargetArgs,
}

/// Runs `replay`: the case's steps once, judged again; exit codes as for `run`.
pub fn main(args: ReplayArgs) -> i32 {
    if let Err(e) = args.t.check() {
        eprintln!("error: {}", report::term::escape(&e.to_string()));
        return exit::USAGE;
    }
    let file = match report::load_case_file(&args.case) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}", report::term::escape(&e.to_string()));
            return exit::USAGE;
        }
    };
    let rt = match runtime(Threads::One, "error") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let case = Case {
        id: file.id.clone(),
        seed: file.case_seed,
        exercises: file.exercises.clone(),
        steps: file.steps.clone(),
    };
    let mut s = args.t.settings();
    // Listen before the first line is printed: whoever waits for it may signal at once.
    let signals = SignalWatch::start(&rt, s.cancel.clone());
    // With no --target, replay where the case failed: the recorded target (credentials
    // from GWS_AGENTS), or the embedded server with the recorded fault.
    if args.t.target.is_none() {
        if file.embedded || file.target.starts_with("embedded") {
            if args.t.fault.is_none() {
                s.fault = file.fault.clone();
            }
        } else if file.target.starts_with("http") {
            s.target = Some(file.target.clone());
            if s.agents.is_empty() {
                eprintln!(
                    "error: the case failed on {}: give its agents in GWS_AGENTS (or --agent), or --target another server",
                    report::term::escape(&file.target)
                );
                return exit::USAGE;
            }
        }
        if args.t.provisioning.is_none() && file.provisioning.is_some() {
            s.mode = file.provisioning;
        }
    }
    if let Some(f) = &s.fault {
        eprintln!(
            "replaying on the embedded server with fault {}",
            report::term::escape(f)
        );
    }
    s.seed = file.seed;
    s.random_cases = 0;
    if args.t.deadline == Duration::from_secs(5) && file.deadline_ms > 0 {
        // The case's own deadline and quiet window, unless the user chose others.
        s.deadline = Duration::from_millis(file.deadline_ms);
    }
    if args.t.quiet_window == Duration::from_secs(1) && file.quiet_window_ms > 0 {
        s.quiet_window = Duration::from_millis(file.quiet_window_ms);
    }
    s.shrink_budget = 0;
    s.replay = Some(case);
    let result = rt.block_on(execute(s));
    let mut r = result.report;
    if let Some(c) = signals.exit_code() {
        r.exit_code = c;
    }
    let (line, code) = replay_outcome(&file, &r);
    println!("{line}");
    for c in &r.cases {
        for f in &c.findings {
            if f.verdict != Verdict::Pass {
                println!(
                    "{} {} {}: {}",
                    report::term::escape(&c.id),
                    f.req,
                    f.verdict.as_str(),
                    report::term::escape(&f.reason)
                );
                if let Some(w) = &f.witness {
                    println!(
                        "    expected: {}\n    observed: {}",
                        report::term::escape(&w.expected),
                        report::term::escape(&w.observed)
                    );
                }
            }
        }
    }
    print_summary(&r);
    let dir = args.t.reports.join(&r.run_id);
    if !write_reports(&dir, &r, &result.scrubber) {
        return exit::HARNESS;
    }
    signals.exit_code().unwrap_or(code)
}
