//! The conformance run as the only test of a mutation run (`docs/mutation.md`): the
//! embedded server, built from the mutated source, is certified with `run --strict` in
//! each provisioning mode, and the test fails unless both runs are CONFORMANT. The
//! server's own unit tests are not run, so a mutant is killed only when the oracle (the
//! model and the checker, never mutated) notices what it changed.
//!
//! Ignored in `cargo test`: it is the mutation run's test, taken with
//! `cargo test --lib -- --ignored --exact runner::oracle::conformance_run_of_the_embedded_server`.

use super::{Mode, RunSettings, execute};
use crate::check::Verdict;
use crate::report::Overall;

/// One `run --strict` of the embedded server in `mode`: `Ok` when CONFORMANT, else the
/// outcome and what failed (requirement, verdict, reason), for the mutation log.
fn certify(mode: Mode) -> Result<(), String> {
    let s = RunSettings {
        mode: Some(mode),
        strict: true,
        seed: 1,
        ..RunSettings::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let r = rt.block_on(execute(s)).report;
    if r.overall == Overall::Conformant {
        return Ok(());
    }
    let mut why: Vec<String> = r
        .requirements
        .iter()
        .filter(|q| matches!(q.verdict, Verdict::Fail | Verdict::Error))
        .map(|q| format!("{} {}: {}", q.id, q.verdict.as_str(), q.reason))
        .collect();
    why.extend(r.errors.iter().map(|e| format!("harness error: {e}")));
    Err(format!("{mode:?}: {:?}: {}", r.overall, why.join(" | ")))
}

#[test]
#[ignore = "the mutation run's test (docs/mutation.md); `cargo test` runs the conformance suite itself"]
fn conformance_run_of_the_embedded_server() {
    let mut failed = vec![];
    for mode in [Mode::ProviderState, Mode::CustomerApi] {
        if let Err(e) = certify(mode) {
            eprintln!("ORACLE {e}");
            failed.push(e);
        }
    }
    assert!(failed.is_empty(), "not CONFORMANT: {}", failed.join("\n"));
}
