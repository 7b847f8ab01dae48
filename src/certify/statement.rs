//! The conformance statement: what a vendor declares about the deployment it certifies
//! (`schemas/statement.schema.json`, `docs/certify.md`, `examples/statement.toml`).

use crate::schema::Schemas;
use crate::spec::{self, Level};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A provisioning mode the deployment offers (SPEC 1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The vendor's provider-state endpoint.
    ProviderState,
    /// The target's own Customer Chat API.
    CustomerApi,
}

/// The product certified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Who makes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

/// What the deployment offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The provisioning modes, each one certified.
    pub provisioning: Vec<Mode>,
    /// What provider-state `inspect` shows.
    #[serde(default)]
    pub inspect: BTreeSet<String>,
    /// Whether CSRF is on.
    pub csrf: bool,
    /// Whether successful answers carry `referenceId`.
    pub reference_id: bool,
    /// At most this many open chats per agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

/// The SHOULD rows claimed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Claimed SHOULD ids.
    #[serde(default)]
    pub should: BTreeSet<String>,
}

/// A row the vendor knows fails, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// The requirement id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// A conformance statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The product.
    pub product: Product,
    /// The deployment.
    pub deployment: Deployment,
    /// The claimed SHOULD rows.
    #[serde(default)]
    pub claims: Claims,
    /// Known failures, each with its reason.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
}

/// Why a statement was refused: the file, the field (a JSON pointer into the statement)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{message}", if .field.is_empty() { String::new() } else { format!("{}: ", .field) })]
pub struct StatementError {
    /// The statement file as given.
    pub file: String,
    /// JSON pointer of the field (`/claims/should/1`), empty for the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Statement {
    /// Reads a statement from the TOML `text` of `file` (named in every error): TOML
    /// syntax, then `schemas/statement.schema.json`, then the catalogue (a claimed or
    /// excepted id must be a row of SPEC §3; a claim must be a SHOULD row; an
    /// `inspect` list is required with provider-state).
    pub fn parse(file: &str, text: &str) -> Result<Statement, StatementError> {
        let err = |field: &str, message: String| StatementError {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        let value: toml::Value =
            toml::from_str(text).map_err(|e| err("", format!("not TOML: {}", e.message())))?;
        let json = serde_json::to_value(value).map_err(|e| err("", e.to_string()))?;
        let schemas = Schemas::embedded().map_err(|e| err("", e.to_string()))?;
        if let Err(issues) = schemas.validate("statement", &json) {
            let first = &issues[0];
            return Err(err(&first.instance_path, first.message.clone()));
        }
        let st: Statement = serde_json::from_value(json).map_err(|e| err("", e.to_string()))?;
        for (i, id) in st.claims.should.iter().enumerate() {
            match spec::find(id) {
                None => {
                    return Err(err(
                        &format!("/claims/should/{i}"),
                        format!("{id} is no row of the catalogue (`gws-conform list`)"),
                    ));
                }
                Some(r) if r.level != Level::Should => {
                    return Err(err(
                        &format!("/claims/should/{i}"),
                        format!(
                            "{id} is a MUST row: it is always required, claim only SHOULD rows"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        for (i, x) in st.exceptions.iter().enumerate() {
            if spec::find(&x.id).is_none() {
                return Err(err(
                    &format!("/exceptions/{i}/id"),
                    format!("{} is no row of the catalogue (`gws-conform list`)", x.id),
                ));
            }
        }
        if st.deployment.provisioning.contains(&Mode::ProviderState)
            && st.deployment.inspect.is_empty()
        {
            return Err(err(
                "/deployment/inspect",
                "provider-state is offered: say what its inspect shows (an empty list is not allowed: the SPEC's inspect shows at least one of queue, lastAgent, customerSessionEnded, customerTranscript)".into(),
            ));
        }
        Ok(st)
    }

    /// Whether requirement `id` blocks the certificate: every MUST, and every claimed
    /// SHOULD.
    pub fn binding(&self, id: &str) -> bool {
        spec::find(id).is_some_and(|r| r.level == Level::Must || self.claims.should.contains(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../examples/statement.toml");

    #[test]
    fn the_shipped_example_reads() {
        let st = Statement::parse("examples/statement.toml", EXAMPLE).unwrap();
        assert_eq!(st.deployment.provisioning, [Mode::ProviderState]);
        assert!(st.binding("CMP-01"));
        let should = spec::CATALOGUE
            .iter()
            .find(|r| r.level == Level::Should && !st.claims.should.contains(r.id.as_str()));
        if let Some(r) = should {
            assert!(!st.binding(r.id.as_str()));
        }
    }

    fn refused(text: &str) -> StatementError {
        Statement::parse("s.toml", text).unwrap_err()
    }

    const BASE: &str = "[product]\nname='x'\nversion='1'\n[deployment]\nprovisioning=['customer-api']\ncsrf=true\nreference_id=false\n";

    #[test]
    fn each_mistake_is_named_by_file_and_field() {
        assert!(Statement::parse("s.toml", BASE).is_ok());
        let e = refused("[product\n");
        assert_eq!((e.file.as_str(), e.field.as_str()), ("s.toml", ""));
        assert!(e.to_string().starts_with("s.toml: not TOML"), "{e}");

        let e = refused(&format!("{BASE}colour='red'\n"));
        assert_eq!(e.field, "/deployment", "{e}");
        assert!(e.message.contains("colour"), "{e}");

        let e = refused(&BASE.replace("'customer-api'", "'carrier-pigeon'"));
        assert_eq!(e.field, "/deployment/provisioning/0", "{e}");

        let e = refused(&format!("{BASE}[claims]\nshould=['CMP-01']\n"));
        assert_eq!(e.field, "/claims/should/0");
        assert!(e.message.contains("MUST row"), "{e}");

        let e = refused(&format!("{BASE}[claims]\nshould=['CMP-99']\n"));
        assert!(e.message.contains("no row of the catalogue"), "{e}");

        let e = refused(&format!("{BASE}[[exceptions]]\nid='XYZ-01'\nreason='r'\n"));
        assert_eq!(e.field, "/exceptions/0/id");

        let e = refused(&BASE.replace("'customer-api'", "'provider-state'"));
        assert_eq!(e.field, "/deployment/inspect");
        assert_eq!(
            e.to_string(),
            format!("s.toml: /deployment/inspect: {}", e.message)
        );
    }
}
