//! The deterministic coverage phase (cases named `cov-…`), run before the random
//! sequences:
//!
//! - **near-misses**: for every property of the Complete request schema
//!   (`schemas/complete-request.schema.json`), boundary and near-miss values derived
//!   from the schema (enum members and their case-flipped, padded, prefixed, suffixed
//!   and truncated forms; booleans and their string/number/null/array look-alikes;
//!   strings empty, one character, long, non-ASCII, control characters, JSON escapes, a
//!   lone surrogate; wrong types; an extra property; `operationName` missing or in
//!   another case). One Complete per case; the model ([`crate::model::classify`]) tags
//!   each value with the rule it breaks (`cmp-09`/`cmp-10`/`cmp-11`/`req-01`) or `valid`,
//!   and the tag is part of the case id. A refused value is followed by a plain Complete
//!   (CMP-17: the refusal changed nothing);
//! - **pairs**: all pairs of Complete's parameter classes crossed with the states in
//!   which Complete is legal (a small greedy all-pairs generator), each followed by an
//!   Inspect (CMP-05..08);
//! - **races**: two Completes on one chat at the same instant; Complete racing Leave;
//!   Complete racing the customer leaving. The checker judges racing requests in the
//!   order the target served them (the one answered with success first).
//!
//! [`summary`] computes, from any plan, how often each requirement is exercised and with
//! which parameter classes and states, and which pairs × states ran.

pub(crate) use super::near_miss::near_miss_cases;
pub use super::pairwise::Level;
pub(crate) use super::pairwise::pairwise_cases;
pub use super::race::race_cases;
pub(crate) use super::summary::Accumulator;
pub use super::summary::summary;

use super::{Case, CasesError};
use crate::schema::Schemas;

/// Every case of the coverage phase: near-misses, pairs, races.
pub fn cases(schemas: &Schemas, run_seed: u64, agents: &[String]) -> Result<Vec<Case>, CasesError> {
    let a = agents.first().cloned().unwrap_or_else(|| "agent1".into());
    let mut v = near_miss_cases(schemas, run_seed, &a)?;
    v.extend(pairwise_cases(run_seed, &a));
    v.extend(race_cases(run_seed, &a));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::super::pairwise::{all_pairs, factors, feasible, greedy_pairwise, pairs_of};
    use super::super::schema_props::{PropKind, op_prop, props};
    use super::*;
    use crate::history::Step;
    use crate::model;
    use serde_json::json;

    fn schemas() -> &'static Schemas {
        Schemas::embedded().expect("embedded schemas")
    }

    #[test]
    fn props_come_from_the_schema() {
        let p = props(schemas()).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        // The schema and the model name the same properties.
        assert_eq!(names.len(), model::COMPLETE_PROPERTIES.len(), "{names:?}");
        for n in model::COMPLETE_PROPERTIES {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let treat = p.iter().find(|p| p.name == "treatAs").unwrap();
        assert_eq!(
            treat.kind,
            PropKind::Enum(vec![json!("Normal"), json!("System")])
        );
        let q = p.iter().find(|p| p.name == "queueName").unwrap();
        assert_eq!(q.kind, PropKind::String { min_len: 1 });
        assert!(op_prop(&p).is_some_and(|o| o.name == "operationName"));
    }

    #[test]
    fn near_misses_are_tagged_with_the_rule_they_break() {
        let c = near_miss_cases(schemas(), 1, "agent1").unwrap();
        let ids: Vec<&str> = c.iter().map(|c| c.id.as_str()).collect();
        for want in [
            "cov-cmp-10-treatas-lower-normal",
            "cov-valid-treatas-member-normal",
            "cov-cmp-11-savelar-string-true",
            "cov-cmp-11-savelar-null",
            "cov-valid-text-emoji",
            "cov-valid-text-long-4096",
            "cov-cmp-11-queuename-empty",
            "cov-either-object-extra-property",
            "cov-req-01-object-op-lower",
            "cov-either-text-lone-surrogate",
        ] {
            assert!(ids.contains(&want), "{want} not in {ids:?}");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "duplicate ids");
        assert!(c.len() <= 80, "{} near-miss cases", c.len());
        // Refused ones are followed by a plain Complete; valid ones are not.
        for case in &c {
            let posts = case
                .steps
                .iter()
                .filter(|s| matches!(s, Step::AgentPost { .. }))
                .count();
            let refused = !case.id.starts_with("cov-valid-");
            assert_eq!(posts, if refused { 3 } else { 2 }, "{}", case.id);
        }
    }

    #[test]
    fn greedy_pairwise_covers_every_feasible_pair() {
        let f = factors();
        let sizes: Vec<usize> = f.iter().map(|(_, l)| l.len()).collect();
        let rows = greedy_pairwise(&sizes);
        let mut need = all_pairs(&sizes);
        for r in &rows {
            let mut l: Vec<Option<usize>> = r.iter().copied().map(Some).collect();
            assert!(feasible(&l), "{r:?}");
            l.clear();
            for p in pairs_of(r) {
                need.remove(&p);
            }
        }
        assert!(need.is_empty(), "uncovered {need:?}");
        // Far fewer rows than the full product (3*3*4*2*3*4 = 864).
        assert!(rows.len() <= 24, "{} rows", rows.len());
    }

    #[test]
    fn summary_reports_full_pairwise_coverage_and_states() {
        let c = cases(schemas(), 1, &["agent1".into()]).unwrap();
        let s = summary(&c);
        assert_eq!(
            s.pairs.covered, s.pairs.possible,
            "missing {:?}",
            s.pairs.missing
        );
        assert_eq!(s.coverage_cases, c.len());
        let cmp16 = &s.requirements["CMP-16"];
        assert!(cmp16.states.contains("Chatting+customer-left"), "{cmp16:?}");
        assert!(cmp16.states.contains("LeftChat+customer-left"), "{cmp16:?}");
        let cmp10 = &s.requirements["CMP-10"];
        assert!(cmp10.classes.contains("treatAs:near-miss"), "{cmp10:?}");
        // Serializes (for the report).
        let j = serde_json::to_value(&s).unwrap();
        assert!(j["pairs"]["possible"].as_u64().unwrap() > 50);
    }

    #[test]
    fn plan_counts_for_seed_1() {
        let agents = ["agent1".to_string(), "agent2".to_string()];
        let all = super::super::all(schemas(), 1, &agents, 3).unwrap();
        let n = |p: &str| all.iter().filter(|c| c.id.starts_with(p)).count();
        let (cov, random) = (n("cov-"), n("random-"));
        let s = summary(&all);
        eprintln!(
            "plan seed 1: {} cases: {} directed, {cov} cov- ({} pairs rows), {random} random; pairs {}/{}",
            all.len(),
            all.len() - cov - random,
            n("cov-pair-"),
            s.pairs.covered,
            s.pairs.possible
        );
        assert!(cov <= 100, "{cov} coverage cases");
    }

    #[test]
    fn race_cases_send_two_requests_at_once() {
        for c in race_cases(1, "a") {
            assert!(
                c.steps
                    .iter()
                    .any(|s| matches!(s, Step::Concurrent { steps } if steps.len() == 2)),
                "{}",
                c.id
            );
        }
    }
}
