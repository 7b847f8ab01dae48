//! The checker: a pure function of a recorded history and the model → a verdict per
//! requirement id, each Fail with a minimal witness. No I/O here.

pub mod verdict;
pub use verdict::{Finding, Verdict, Witness, fold};
