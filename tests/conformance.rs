//! The conformance suite as a test target: one trial per requirement id.
//!
//! ```sh
//! cargo test --test conformance                       # the embedded reference server
//! cargo test --test conformance -- CMP-04             # one requirement
//! cargo test --test conformance -- CMP-04 CMP-20      # several
//! cargo test --test conformance -- --exact CMP-04 --skip CMP-2
//! GWS_TARGET=http://host:8090 GWS_AGENTS=u1:p1,u2:p2 cargo test --test conformance
//! cargo nextest run --test conformance                # each trial in its own process
//! ```
//!
//! The target comes from the environment (libtest-mimic rejects unknown flags): the same
//! `GWS_*` variables as `gws-conform run`. `GWS_SEED` defaults to 1 here, so CI is
//! deterministic. A trial fails exactly where `gws-conform run` would: a MUST that
//! fails, a harness or environment Error, and a SHOULD that fails only with
//! `GWS_STRICT=1` (without it the failure is printed on stderr and the trial passes). A
//! waiver of `GWS_BASELINE` passes it. On failure the trial prints the seed and the
//! replay command of each failing case; the run folder with the case files is written
//! under the system's temporary folder (never into the checkout).

use gws_conform::check::Verdict;
use gws_conform::report;
use gws_conform::runner;
use gws_conform::spec::{self, Level};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::PathBuf;

// The binary's target flags and their `GWS_*` twins, from their one home.
// (What this suite does not call of them, e.g. `serve`'s parsers, is not dead code.)
#[allow(dead_code, unused_imports)]
#[path = "../src/cli/common.rs"]
mod common;
#[allow(dead_code)]
#[path = "../src/cli/target.rs"]
mod target;
use target::TargetArgs;

#[derive(clap::Parser)]
struct FromEnv {
    #[command(flatten)]
    t: TargetArgs,
}

/// True when `GWS_<name>` is set to something clap would read as true for a flag.
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off" | "n"
        )
    })
}

/// Set once a printed replay command points into [`scratch`]: the folder is kept.
static KEEP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The folder trial run folders go to (under the temporary folder).
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("gws-conform-trials-{}", std::process::id()))
}

fn run_one(id: &'static str) -> Result<(), Failed> {
    use clap::Parser;
    let env = FromEnv::try_parse_from(["conformance"]).map_err(|e| Failed::from(e.to_string()))?;
    let strict = env_flag("GWS_STRICT");
    let mut s = env.t.settings();
    s.progress = runner::Progress::None;
    s.only = vec![id.to_string()];
    s.strict = strict;
    s.seed = std::env::var("GWS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    s.random_cases = std::env::var("GWS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    s.shrink_budget = 10;
    let seed = s.seed;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("runtime: {e}")))?;
    let result = rt.block_on(runner::execute(s));
    let mut r = result.report;
    if let Ok(path) = std::env::var("GWS_BASELINE") {
        let b = report::load_baseline(std::path::Path::new(&path))
            .map_err(|e| Failed::from(format!("GWS_BASELINE: {e}")))?;
        report::apply_baseline(&mut r, &b, report::today_utc());
    }
    if !r.errors.is_empty() {
        return Err(format!(
            "harness error (seed {seed}): {}",
            report::term::escape(&r.errors.join("; "))
        )
        .into());
    }
    let q = r
        .requirements
        .iter()
        .find(|q| q.id == id)
        .ok_or_else(|| Failed::from(format!("{id} missing from the report")))?;
    let blocking = match q.verdict {
        Verdict::Pass | Verdict::Waived => return Ok(()),
        Verdict::Skip => {
            eprintln!("{id}: skipped: {}", report::term::escape(&q.reason));
            return Ok(());
        }
        Verdict::Error => true,
        Verdict::Fail => q.level == Level::Must || strict,
    };
    let mut msg = format!(
        "{id} ({}) {}: {}\n  seed {seed} (GWS_SEED={seed} runs it again)",
        q.level.as_str(),
        q.verdict.as_str(),
        q.reason
    );
    // The case files, so the printed replay commands point at something.
    let dir = scratch().join(format!("{id}-{}", r.run_id));
    let stems = report::case_stems(&r);
    let written = report::write_all(&dir, &r, &result.scrubber).is_ok();
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
        if let (true, Some(stem)) = (written, stems.get(&c.id)) {
            // The test harness is not gws-conform: name the binary cargo built.
            let cmd = report::replay_command_in(&dir, stem, &r).replacen(
                "gws-conform ",
                &format!("{} ", env!("CARGO_BIN_EXE_gws-conform")),
                1,
            );
            KEEP.store(true, std::sync::atomic::Ordering::Relaxed);
            msg.push_str(&format!("\n  replay: {cmd}"));
            if report::needs_agents(&r) {
                msg.push_str(&format!(" (with {} set)", report::agents_hint(&r)));
            }
        }
    }
    let msg = report::term::escape(&msg);
    if blocking {
        Err(msg.into())
    } else {
        eprintln!("{msg}\n  (a SHOULD: the trial passes; GWS_STRICT=1 fails it, as --strict does)");
        Ok(())
    }
}

/// Value-taking options of libtest's command line (their value is not a filter).
const TAKES_VALUE: &[&str] = &[
    "--skip",
    "--logfile",
    "--test-threads",
    "--color",
    "--format",
    "-Z",
];

/// libtest's arguments, accepting several filters (`-- CMP-04 CMP-20`) as the built-in
/// harness does: libtest-mimic's parser takes a single positional filter, so the extra
/// ones are taken out here and applied to the trial list (with `--exact` honoured).
fn arguments() -> (Arguments, Vec<String>) {
    let mut kept = Vec::new();
    let mut filters = Vec::new();
    let mut args = std::env::args();
    if let Some(prog) = args.next() {
        kept.push(prog);
    }
    let mut value_next = false;
    let mut rest_positional = false;
    for a in args {
        if value_next {
            value_next = false;
            kept.push(a);
        } else if rest_positional || !a.starts_with('-') {
            filters.push(a);
        } else if a == "--" {
            rest_positional = true;
        } else {
            value_next = TAKES_VALUE.contains(&a.as_str());
            kept.push(a);
        }
    }
    (Arguments::from_iter(kept), filters)
}

fn main() {
    let (args, filters) = arguments();
    let trials = spec::CATALOGUE
        .iter()
        .filter(|r| {
            let name = r.id.as_str();
            filters.is_empty()
                || filters.iter().any(|f| {
                    if args.exact {
                        name == f
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .map(|r| {
            Trial::test(r.id.as_str(), move || run_one(r.id.as_str())).with_kind(r.level.as_str())
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if !conclusion.has_failed() && !KEEP.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = std::fs::remove_dir_all(scratch());
    }
    conclusion.exit();
}
