//! The predicate of a certificate's in-toto Statement (documented in docs/certify.md):
//! what was certified, by which harness and catalogue, over which seeds, with which
//! result per requirement.

use super::contradict::Contradiction;
use super::grade::{Grade, Row};
use super::statement::{Mode, Statement};
use serde::{Deserialize, Serialize};

/// The predicate type of a gws-conform certificate.
pub(crate) const PREDICATE_TYPE: &str = "https://gws-conform.local/certificate/v1";

/// The commit the binary was built from (`-dirty` with local changes), or
/// `unknown (built outside git)`.
pub(crate) const BUILD_COMMIT: &str = env!("GWS_GIT_COMMIT");

/// The harness version.
pub(crate) const HARNESS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// sha256 of the requirement catalogue (SPEC §3 as this binary has it), as JSON.
pub fn catalogue_digest() -> String {
    let json = serde_json::to_vec(crate::spec::CATALOGUE).expect("the catalogue serialises");
    super::sha256_hex(&json)
}

/// sha256 over the embedded schemas: each file's name, a NUL, its contents, a NUL.
pub(crate) fn schemas_digest() -> String {
    let mut all = Vec::new();
    for (name, text) in crate::schema::embedded_files() {
        all.extend_from_slice(name.as_bytes());
        all.push(0);
        all.extend_from_slice(text.as_bytes());
        all.push(0);
    }
    super::sha256_hex(&all)
}

/// The predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    /// The harness version.
    pub harness_version: String,
    /// The commit the harness was built from.
    pub git_commit: String,
    /// [`catalogue_digest`] of the harness that judged.
    pub catalogue_digest: String,
    /// [`schemas_digest`] of the harness that judged.
    pub schemas_digest: String,
    /// The vendor's statement.
    pub statement: Statement,
    /// The seeds, each run in every mode of the statement.
    pub seeds: Vec<u64>,
    /// The modes certified.
    pub modes: Vec<Mode>,
    /// The grade.
    pub grade: Grade,
    /// Declarations the behaviour contradicted.
    pub contradictions: Vec<Contradiction>,
    /// One row per requirement of the catalogue.
    pub requirements: Vec<Row>,
}

impl Predicate {
    /// A predicate judged by this binary.
    pub fn new(
        statement: Statement,
        seeds: Vec<u64>,
        grade: Grade,
        contradictions: Vec<Contradiction>,
        requirements: Vec<Row>,
    ) -> Predicate {
        Predicate {
            harness_version: HARNESS_VERSION.to_string(),
            git_commit: BUILD_COMMIT.to_string(),
            catalogue_digest: catalogue_digest(),
            schemas_digest: schemas_digest(),
            modes: statement.deployment.provisioning.clone(),
            statement,
            seeds,
            grade,
            contradictions,
            requirements,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_names_its_commit_and_the_digests_are_stable_hex() {
        assert!(
            BUILD_COMMIT == "unknown (built outside git)"
                || (BUILD_COMMIT.len() >= 40
                    && BUILD_COMMIT[..40].chars().all(|c| c.is_ascii_hexdigit())),
            "{BUILD_COMMIT}"
        );
        assert_eq!(catalogue_digest(), catalogue_digest());
        assert_eq!(schemas_digest().len(), 64);
        assert_ne!(catalogue_digest(), schemas_digest());
    }

    #[test]
    fn a_predicate_round_trips_through_json() {
        let st = super::super::statement::Statement::parse(
            "examples/statement.toml",
            include_str!("../../examples/statement.toml"),
        )
        .unwrap();
        let p = Predicate::new(st, vec![1, 2], Grade::Conformant, vec![], vec![]);
        let back: Predicate = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.modes, [Mode::ProviderState]);
    }
}
