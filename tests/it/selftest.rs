//! The oracle proves itself: every fault of the embedded server's catalogue is killed,
//! with one of its expected requirements among the killers and a shrunk case of at most
//! 6 steps, and the faultless server fails nothing (SPEC §3, issue "fault catalogue").

use gws_conform::runner::Mode;
use gws_conform::runner::selftest::{Options, matrix};
use gws_conform::server;

#[test]
fn every_fault_is_killed_by_its_requirement_and_the_faultless_server_is_clean() {
    // selftest's defaults: seed 1, 3 random sequences, 2 s deadline, 300 ms quiet window.
    let args = Options::default();
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

#[test]
fn under_variations_faults_are_still_killed_masked_ones_are_not_judged_and_pairs_run() {
    // Three faults × (default + three variations), and the faultless server under the
    // three pairs. no-csrf makes csrf-not-enforced legal, no-reference-id makes
    // reference-id-mismatch legal: those two cells are not judged (n/a); every other
    // fault cell is killed by the fault's own requirement.
    let args = Options {
        faults: [
            "csrf-not-enforced",
            "reference-id-mismatch",
            "complete-text-after-status",
        ]
        .map(String::from)
        .to_vec(),
        cases: 1,
        variations: Some(
            ["no-csrf", "no-reference-id", "batched-connect"]
                .map(String::from)
                .to_vec(),
        ),
        ..Options::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(matrix(&args)).expect("selftest runs");
    assert_eq!(rows.len(), 4 * 4 + 3, "4 rows × 4 columns, plus 3 pairs");
    let masked: Vec<(String, Vec<&str>)> = rows
        .iter()
        .filter(|r| r.masked.is_some())
        .map(|r| (r.fault.clone().unwrap_or_default(), r.variations.clone()))
        .collect();
    assert_eq!(
        masked,
        vec![
            ("csrf-not-enforced".to_string(), vec!["no-csrf"]),
            ("reference-id-mismatch".to_string(), vec!["no-reference-id"]),
        ]
    );
    for r in &rows {
        let name = r.fault.as_deref().unwrap_or("(faultless)");
        assert!(
            r.ok(),
            "{name} under {:?}: caught by {:?}, expected {:?}, errors {:?}",
            r.variations,
            r.caught_by,
            r.expected,
            r.errors
        );
        if r.masked.is_none() && r.fault.is_some() {
            assert!(
                r.caught_by.iter().any(|c| r.expected.contains(c)),
                "{name} under {:?} survived",
                r.variations
            );
        }
    }
    let pairs: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r.variations.len() == 2)
        .map(|r| &r.variations)
        .collect();
    assert_eq!(pairs.len(), 3);
    assert!(
        rows.iter()
            .filter(|r| r.variations.len() == 2)
            .all(|r| r.fault.is_none())
    );
}

#[test]
fn an_unknown_variation_is_refused_with_the_known_ones() {
    let args = Options {
        variations: Some(vec!["no-such-thing".into()]),
        ..Options::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(matrix(&args)).unwrap_err().to_string();
    assert!(
        err.contains("no variation named `no-such-thing`") && err.contains("batched-connect"),
        "{err}"
    );
}

#[test]
fn a_fault_only_provider_inspect_can_see_is_not_judged_in_customer_api_mode() {
    // CMP-07 is judged through the provider-state inspect, "else Skip" (SPEC §3): in
    // customer-api mode no harness can see queue-ignored, so the cell is n/a, not a
    // surviving fault; in provider-state mode it is killed.
    let args = Options {
        faults: vec!["queue-ignored".into()],
        no_faults: false,
        cases: 0,
        provisioning: vec![Mode::ProviderState, Mode::CustomerApi],
        ..Options::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(matrix(&args)).expect("selftest runs");
    let fault = |m: Mode| {
        rows.iter()
            .find(|r| r.fault.is_some() && r.mode == m)
            .expect("a row per mode")
    };
    let ps = fault(Mode::ProviderState);
    assert!(
        ps.masked.is_none() && ps.caught_by.contains(&"CMP-07".to_string()),
        "{ps:?}"
    );
    let ca = fault(Mode::CustomerApi);
    let why = ca.masked.as_deref().unwrap_or_default();
    assert!(
        why.contains("CMP-07") && why.contains("customer-api"),
        "{ca:?}"
    );
    assert!(rows.iter().all(|r| r.ok()), "{rows:#?}");
}
