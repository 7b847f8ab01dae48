//! JSON Schemas: loading (in-memory registry, offline), validation with clear paths, and
//! schema → proptest strategies.

pub mod cli;
