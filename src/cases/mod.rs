//! Case generation, all drawn deterministically from a seed: the directed cases per
//! requirement ([`directed`]), the coverage phase ([`coverage`]: schema near-misses,
//! all-pairs, races) and random stateful sequences ([`random_sequence`]), with the one
//! set of step builders they share (`steps.rs`). Request bodies come from the schema
//! generators ([`Draw`]) or from the Complete request schema's properties; what a
//! request is and where it leads is the model's ([`crate::model`]). A case holds only
//! its steps and the requirement ids it exercises: its expectations come from the model
//! at judge time.

#![warn(missing_docs)]

pub mod coverage;
mod directed;
mod draw;
mod error;
mod near_miss;
mod pairwise;
mod race;
mod random;
mod schema_props;
mod steps;
mod summary;

pub(crate) use directed::directed;
pub(crate) use draw::Draw;
pub(crate) use error::CasesError;
pub use random::{random_sequence, random_sequence_with_model};

use crate::history::Step;
use crate::schema::Schemas;
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};

/// A case: a named, replayable list of steps, with the requirement ids it exercises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The case id (`complete-plain`, `random-3`, ...).
    pub id: String,
    /// The case's own seed (derived from the run seed).
    pub seed: u64,
    /// Requirement ids the case was built to exercise.
    #[serde(alias = "targets")]
    pub exercises: Vec<ReqId>,
    /// The steps, chats named by alias.
    pub steps: Vec<Step>,
}

/// A small deterministic generator (splitmix64) for the runner's own choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// Derives the seed of case `index` from the run seed (stable across shards).
pub(crate) fn case_seed(run_seed: u64, index: u64) -> u64 {
    let mut r = Rng::new(run_seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    r.next_u64()
}

/// Every case of a run: the directed ones, the coverage phase (`cov-…`, see
/// [`coverage`]), then `random` random sequences.
pub fn all(
    schemas: &Schemas,
    run_seed: u64,
    agents: &[String],
    random: u32,
) -> Result<Vec<Case>, CasesError> {
    let mut v = directed(schemas, run_seed, agents)?;
    v.extend(coverage::cases(schemas, run_seed, agents)?);
    for i in 0..random {
        v.push(random_sequence(schemas, run_seed, i as u64, agents)?);
    }
    Ok(v)
}

/// Keeps the cases of shard `k` of `n` (1-based `k`), by position: deterministic for a
/// seed, so shards of one seed partition exactly the unsharded run's cases.
pub fn shard(cases: Vec<Case>, k: u32, n: u32) -> Vec<Case> {
    cases
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (*i as u32) % n == k - 1)
        .map(|(_, c)| c)
        .collect()
}

/// An id-friendly form of `s`: lowercase ASCII letters and digits, runs of anything
/// else as one `-`.
pub(crate) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spreads() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut seen = [0u32; 4];
        let mut r = Rng::new(1);
        for _ in 0..4000 {
            seen[r.below(4)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn shards_partition_the_cases() {
        let cases: Vec<Case> = (0..10)
            .map(|i| Case {
                id: format!("x{i}"),
                seed: i,
                exercises: vec![],
                steps: vec![],
            })
            .collect();
        let mut ids: Vec<String> = (1..=3)
            .flat_map(|k| shard(cases.clone(), k, 3))
            .map(|c| c.id)
            .collect();
        ids.sort();
        let mut all: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
        all.sort();
        assert_eq!(ids, all);
    }
}
