//! The conformance suite as a test target: one trial per requirement id.
//!
//! ```sh
//! cargo test --test conformance                 # the embedded reference server
//! cargo test --test conformance -- CMP-04       # one requirement
//! GWS_TARGET=http://host:8090 GWS_AGENTS=u1:p1,u2:p2 cargo test --test conformance
//! cargo nextest run --test conformance          # each trial in its own process
//! ```
//!
//! The target comes from the environment (libtest-mimic rejects unknown flags): the same
//! `GWS_*` variables as `gws-conform run`. `GWS_SEED` defaults to 1 here, so CI is
//! deterministic. A Skip (not observable on this target) passes the trial and says why on
//! stderr; an Error (harness or environment) fails it.

use gws_conform::check::Verdict;
use gws_conform::runner::{self, cli::TargetArgs};
use gws_conform::spec;
use libtest_mimic::{Arguments, Failed, Trial};

#[derive(clap::Parser)]
struct FromEnv {
    #[command(flatten)]
    t: TargetArgs,
}

fn run_one(id: &'static str) -> Result<(), Failed> {
    use clap::Parser;
    let env = FromEnv::try_parse_from(["conformance"]).map_err(|e| Failed::from(e.to_string()))?;
    let mut s = env.t.settings();
    s.progress = runner::Progress::None;
    s.only = vec![id.to_string()];
    s.seed = std::env::var("GWS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    s.random_cases = std::env::var("GWS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    s.shrink_budget = 10;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("runtime: {e}")))?;
    let result = rt.block_on(runner::execute(s));
    let r = result.report;
    if !r.errors.is_empty() {
        return Err(format!("harness error: {}", r.errors.join("; ")).into());
    }
    let q = r
        .requirements
        .iter()
        .find(|q| q.id == id)
        .ok_or_else(|| Failed::from(format!("{id} missing from the report")))?;
    match q.verdict {
        Verdict::Pass | Verdict::Waived => Ok(()),
        Verdict::Skip => {
            eprintln!("{id}: skipped: {}", q.reason);
            Ok(())
        }
        Verdict::Fail | Verdict::Error => {
            let mut msg = format!("{id} {}: {}", q.verdict.as_str(), q.reason);
            for c in r.cases.iter().filter(|c| q.failing_cases.contains(&c.id)) {
                for f in c
                    .findings
                    .iter()
                    .filter(|f| f.req == id && f.verdict != Verdict::Pass)
                {
                    if let Some(w) = &f.witness {
                        msg.push_str(&format!(
                            "\n  case {}: expected {}\n  observed {}",
                            c.id, w.expected, w.observed
                        ));
                    }
                }
            }
            Err(msg.into())
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let trials = spec::CATALOGUE
        .iter()
        .map(|r| {
            Trial::test(r.id.as_str(), move || run_one(r.id.as_str())).with_kind(r.level.as_str())
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
