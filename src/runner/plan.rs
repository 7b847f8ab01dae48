//! The plan of a run: its cases, generated one at a time as the run reaches them,
//! sharded and filtered on the way.

use super::RunSettings;
use crate::cases::coverage;
use crate::cases::{self, Case, CasesError};
use crate::schema::Schemas;

/// The cases of a run, generated one at a time as the run reaches them (a run of
/// 100,000 random sequences never holds them all), sharded and filtered on the way.
pub struct Plan<'a> {
    fixed: Vec<Case>,
    schemas: &'a Schemas,
    seed: u64,
    agents: Vec<String>,
    /// Random sequences after the fixed cases; `None`: until the run's `--duration` ends.
    random: Option<u64>,
    shard: Option<(u32, u32)>,
    only: Vec<String>,
}

impl<'a> Plan<'a> {
    /// The plan of `s`: its replay case, or the directed and coverage cases followed by
    /// the random sequences.
    pub fn new(
        s: &RunSettings,
        schemas: &'a Schemas,
        agents: &[String],
    ) -> Result<Self, CasesError> {
        let (fixed, random, shard, only) = match &s.replay {
            Some(c) => (vec![c.clone()], Some(0), None, Vec::new()),
            None => {
                let mut v = cases::directed(schemas, s.seed, agents)?;
                v.extend(coverage::cases(schemas, s.seed, agents)?);
                let random = match s.duration {
                    Some(_) => None,
                    None => Some(u64::from(s.random_cases)),
                };
                (v, random, s.shard, s.only.clone())
            }
        };
        Ok(Plan {
            fixed,
            schemas,
            seed: s.seed,
            agents: agents.to_vec(),
            random,
            shard,
            only,
        })
    }

    fn keeps(&self, position: usize, case: &Case) -> bool {
        if let Some((k, n)) = self.shard
            && (position as u64) % u64::from(n) != u64::from(k - 1)
        {
            return false;
        }
        self.only.is_empty()
            || case
                .exercises
                .iter()
                .any(|t| self.only.iter().any(|o| o.eq_ignore_ascii_case(t.as_str())))
    }

    /// The cases in run order (an error ends the sequence). Unbounded when the plan
    /// runs until a deadline.
    pub fn cases(&self) -> impl Iterator<Item = Result<Case, CasesError>> + '_ {
        let random = (0u64..)
            .take_while(|i| self.random.is_none_or(|n| *i < n))
            .map(|i| cases::random_sequence(self.schemas, self.seed, i, &self.agents));
        self.fixed
            .iter()
            .cloned()
            .map(Ok)
            .chain(random)
            .enumerate()
            .filter(|(i, c)| c.as_ref().map_or(true, |c| self.keeps(*i, c)))
            .map(|(_, c)| c)
    }

    /// How many cases [`Plan::cases`] yields (`None`: unbounded). Generates the random
    /// sequences only when `--only` needs to read them.
    pub fn len(&self) -> Option<usize> {
        let n = self.random?;
        if !self.only.is_empty() {
            return Some(self.cases().filter(|c| c.is_ok()).count());
        }
        let all = self.fixed.len() + n as usize;
        Some(match self.shard {
            Some((k, n)) => {
                let (k, n) = (k as usize, n as usize);
                all / n + usize::from(all % n >= k)
            }
            None => all,
        })
    }

    /// True when the plan holds no case.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// Generates, shards and filters the cases of a run, all at once (for listing; a run
/// generates them lazily through [`Plan`]).
pub fn plan(
    s: &RunSettings,
    schemas: &Schemas,
    agents: &[String],
) -> Result<Vec<Case>, CasesError> {
    Plan::new(s, schemas, agents)?.cases().collect()
}
