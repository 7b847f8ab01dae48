//! gws-conform: a contract-testing and conformance harness for the Genesys Web Services
//! API v2 Chat API, centred on the agent's `Complete` operation.
//!
//! The data flows `schema → cases → target → history → check → report` (see
//! `ARCHITECTURE.md` at the repository root, and the README). `server` is the embedded reference
//! server: an independent implementation of the contract that never imports `model` or
//! `check`.

#![warn(missing_docs)]

pub mod apidocs;
pub mod cases;
pub mod certify;
pub mod check;
pub mod client;
pub mod history;
pub mod model;
pub mod observe;
pub mod report;
pub mod runner;
pub mod schema;
pub mod server;
pub mod spec;

/// Process exit codes (SPEC §5).
pub mod exit {
    /// The target is conformant.
    pub const CONFORMANT: i32 = 0;
    /// Conformance failures (or, for `validate`, an invalid payload).
    pub const FAILURES: i32 = 1;
    /// Usage or configuration error.
    pub const USAGE: i32 = 2;
    /// Harness or environment error.
    pub const HARNESS: i32 = 3;
    /// Stopped by SIGINT (128 + 2), after the partial report is written.
    pub const SIGINT: i32 = 130;
    /// Stopped by SIGTERM (128 + 15), after the partial report is written.
    pub const SIGTERM: i32 = 143;
}
