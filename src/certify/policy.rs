//! A program operator's policy for `verify --policy FILE` (docs/certify.md): which
//! catalogues it accepts, how many seeds at least, and whether claimed SHOULD rows count.

use super::predicate::{Predicate, catalogue_digest};
use serde::Deserialize;

/// A verification policy (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Accepted catalogue digests (`catalogue_digest` of a certificate); absent: only
    /// this binary's.
    #[serde(default)]
    pub catalogues: Option<Vec<String>>,
    /// The least number of seeds a certificate must have run.
    #[serde(default = "one")]
    pub min_seeds: usize,
    /// Whether the SHOULD rows a vendor claims count for the grade (default true); false:
    /// the grade is taken over the MUST rows alone.
    #[serde(default = "yes")]
    pub should_counts: bool,
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            catalogues: None,
            min_seeds: 1,
            should_counts: true,
        }
    }
}

impl Policy {
    /// Reads a policy from the TOML `text` of `file` (named in the error).
    pub fn parse(file: &str, text: &str) -> Result<Policy, String> {
        toml::from_str(text).map_err(|e| format!("{file}: {}", e.message()))
    }

    /// Whether the certificate's catalogue is accepted.
    pub fn accepts_catalogue(&self, digest: &str) -> bool {
        match &self.catalogues {
            Some(list) => list.iter().any(|d| d == digest),
            None => digest == catalogue_digest(),
        }
    }

    /// What of `p` the policy refuses, each in words.
    pub fn refusals(&self, p: &Predicate) -> Vec<String> {
        let mut out = Vec::new();
        if p.seeds.len() < self.min_seeds {
            out.push(format!(
                "policy: the certificate ran {} seed(s), the policy wants at least {}",
                p.seeds.len(),
                self.min_seeds
            ));
        }
        if self.catalogues.is_some() && !self.accepts_catalogue(&p.catalogue_digest) {
            out.push(format!(
                "policy: catalogue {} is not one the policy accepts",
                p.catalogue_digest
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_its_fields_and_refuses_unknown_ones() {
        let p = Policy::parse("p.toml", "min_seeds = 5\nshould_counts = false\n").unwrap();
        assert_eq!(
            (p.min_seeds, p.should_counts, p.catalogues),
            (5, false, None)
        );
        let e = Policy::parse("p.toml", "min_seed = 5\n").unwrap_err();
        assert!(e.starts_with("p.toml: unknown field `min_seed`"), "{e}");
        assert!(Policy::default().accepts_catalogue(&catalogue_digest()));
        assert!(!Policy::default().accepts_catalogue("0000"));
        let listed = Policy::parse("p.toml", "catalogues = ['0000']\n").unwrap();
        assert!(listed.accepts_catalogue("0000"));
        assert!(!listed.accepts_catalogue(&catalogue_digest()));
    }
}
