//! Drawing request bodies from the schema generators, deterministically from a seed.

use super::{CasesError, Rng};
use crate::schema::{Invalid, Schemas};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// Draws values from the schema generators, deterministically from a seed.
pub struct Draw<'a> {
    schemas: &'a Schemas,
    runner: TestRunner,
}

impl<'a> Draw<'a> {
    /// Draws from `schemas`, deterministically from `seed`.
    pub fn new(schemas: &'a Schemas, seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        let mut r = Rng::new(seed);
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&r.next_u64().to_le_bytes());
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        Draw {
            schemas,
            runner: TestRunner::new_with_rng(Config::default(), rng),
        }
    }

    /// A valid Complete request body.
    pub fn valid_complete(&mut self) -> Result<Value, CasesError> {
        // Built once per schema and thread (Schemas::valid_strategy), not per draw.
        let s = self.schemas.valid_strategy("complete-request")?;
        let tree = s
            .new_tree(&mut self.runner)
            .map_err(|e| CasesError::Generator(e.to_string()))?;
        Ok(tree.current())
    }

    /// A valid Complete request body satisfying `pred` (bounded tries).
    pub fn valid_complete_where(
        &mut self,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value, CasesError> {
        for _ in 0..2000 {
            let v = self.valid_complete()?;
            if pred(&v) {
                return Ok(v);
            }
        }
        Err(CasesError::NeverValid)
    }

    /// An invalid Complete request body whose broken rule satisfies `pred` (bounded tries).
    pub fn invalid_complete_where(
        &mut self,
        pred: impl Fn(&Invalid) -> bool,
    ) -> Result<Invalid, CasesError> {
        let s = self.schemas.invalid_strategy("complete-request")?;
        for _ in 0..5000 {
            let tree = s
                .new_tree(&mut self.runner)
                .map_err(|e| CasesError::InvalidGenerator(e.to_string()))?;
            let v = tree.current();
            if pred(&v) {
                return Ok(v);
            }
        }
        Err(CasesError::NeverInvalid)
    }
}
