//! The oracle proves itself: every fault of the embedded server's catalogue is killed,
//! with one of its expected requirements among the killers and a shrunk case of at most
//! 6 steps, and the faultless server fails nothing (SPEC §3, issue "fault catalogue").

use gws_conform::runner::selftest::{SelftestArgs, matrix};
use gws_conform::server;
use std::time::Duration;

#[test]
fn every_fault_is_killed_by_its_requirement_and_the_faultless_server_is_clean() {
    let args = SelftestArgs {
        seeds: 1,
        first_seed: 1,
        faults: Vec::new(),
        cases: 3,
        deadline: Duration::from_secs(2),
        quiet_window: Duration::from_millis(300),
        parallel: 8,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(matrix(&args)).expect("selftest runs");
    assert!(
        server::faults().len() >= 30,
        "the catalogue holds at least 30 faults"
    );
    assert_eq!(
        rows.len(),
        server::faults().len() + 1,
        "one row per fault plus the faultless run"
    );
    let mut problems = Vec::new();
    for r in &rows {
        let name = r.fault.as_deref().unwrap_or("(faultless)");
        if !r.ok() {
            problems.push(format!(
                "{name}: caught by {:?}, expected one of {:?}, errors {:?}",
                r.caught_by, r.expected, r.errors
            ));
        }
        if r.fault.is_some() && r.min_case_steps.is_some_and(|n| n > 6) {
            problems.push(format!(
                "{name}: minimal failing case has {:?} steps (> 6)",
                r.min_case_steps
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Together the faults are caught by every requirement of the catalogue.
    let mut caught: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.caught_by.iter().map(String::as_str))
        .collect();
    caught.sort();
    caught.dedup();
    let missing: Vec<&str> = gws_conform::spec::ids()
        .filter(|id| !caught.contains(id))
        .collect();
    assert!(missing.is_empty(), "no fault is caught by {missing:?}");
}
