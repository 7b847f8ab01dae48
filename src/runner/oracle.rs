//! The conformance run as the only test of a mutation run (`docs/mutation.md`): the
//! embedded server, built from the mutated source, is certified with `run --strict` in
//! each provisioning mode and once more under the legitimate variations that change its
//! code paths, and the test fails unless every run is CONFORMANT. The
//! server's own unit tests are not run, so a mutant is killed only when the oracle (the
//! model and the checker, never mutated) notices what it changed.
//!
//! Ignored in `cargo test`: it is the mutation run's test, taken with
//! `cargo test --lib -- --ignored --exact runner::oracle::conformance_run_of_the_embedded_server`.

use super::{Mode, RunSettings, execute};
use crate::check::Verdict;
use crate::report::Overall;

/// The legitimate variations of the third run: every one that takes the server down
/// another code path, without those that only slow it (`capacity-3`, `latency-40ms`,
/// `idle-close-2s`, `short-long-poll`) or contradict another (`no-reoffer`).
const VARIATIONS: &str = "no-csrf,reoffer-rejected,gws-transcript,typing,errors-http-4xx,\
    no-reference-id,batched-connect,multiple-clients,connection-close,chunked,charset,\
    lone-surrogates,escaped-letters";

/// One `run --strict` of the embedded server in `mode` (with `variations`): `Ok` when
/// CONFORMANT, else the outcome and what failed (requirement, verdict, reason), for the
/// mutation log.
fn certify(mode: Mode, variations: &str) -> Result<(), String> {
    let mut s = RunSettings {
        mode: Some(mode),
        strict: true,
        seed: 1,
        ..RunSettings::default()
    };
    s.embedded.variations = crate::server::Variations::from_names(&[variations])
        .map_err(|e| format!("variations: {e}"))?;
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
    Err(format!(
        "{mode:?} [{variations}]: {:?}: {}",
        r.overall,
        why.join(" | ")
    ))
}

#[test]
#[ignore = "the mutation run's test (docs/mutation.md); `cargo test` runs the conformance suite itself"]
fn conformance_run_of_the_embedded_server() {
    let mut failed = vec![];
    for (mode, variations) in [
        (Mode::ProviderState, ""),
        (Mode::CustomerApi, ""),
        (Mode::ProviderState, VARIATIONS),
    ] {
        if let Err(e) = certify(mode, variations) {
            eprintln!("ORACLE {e}");
            failed.push(e);
        }
    }
    assert!(failed.is_empty(), "not CONFORMANT: {}", failed.join("\n"));
}
