//! Reports: JSON, JUnit, HTML, case files, curl scripts. Writers only read the plain
//! [`types::RunReport`] the runner fills.

pub mod types;
pub use types::*;
