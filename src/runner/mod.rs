//! The runner: cases, concurrency, shrinking, seeds, shards. Drives a target, records a
//! history per case, and hands it to the checker.

pub mod cli;
