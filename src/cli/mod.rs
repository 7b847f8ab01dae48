//! The command line: the binary's, never the library's (ripgrep's `flags/` shape). One
//! file per subcommand holds its clap flags and its `main`, which turns the flags into
//! the library's plain settings, prints, and chooses the exit code; `common` holds what
//! they share, `target` the flags of `run` and `replay` that name a target, `config` the
//! configuration file of `run`.

pub mod certify;
pub mod common;
pub mod config;
pub mod export;
pub mod keygen;
pub mod merge;
pub mod observe;
pub mod replay;
pub mod run;
pub mod selftest;
pub mod serve;
pub mod target;
pub mod validate;
