//! `gws-conform validate --schema NAME [--schemas-dir DIR] FILE...`
//!
//! Prints one line per problem: `FILE: /instance/path: message (schema path)`; a file that
//! is not JSON gives `FILE:LINE:COL: not valid JSON: …`. Exit codes: 0 all valid, 1 one is
//! not (or is not JSON), 2 usage errors (unknown schema, unreadable file or schema dir).

use std::io::Write as _;

use gws_conform::schema::{Schemas, parse_strict};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The schema to validate against (file stem under schemas/, e.g. `complete-request`).
    #[arg(long)]
    pub schema: String,
    /// Load the schemas from this directory instead of the ones embedded in the binary.
    #[arg(long, value_name = "DIR")]
    pub schemas_dir: Option<std::path::PathBuf>,
    /// Files holding one JSON document each.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// Runs `validate`; returns the process exit code.
pub fn main(args: ValidateArgs) -> i32 {
    let loaded;
    let schemas: &Schemas = match &args.schemas_dir {
        Some(dir) => match Schemas::load_dir(dir) {
            Ok(s) => {
                loaded = s;
                &loaded
            }
            Err(e) => {
                eprintln!("validate: {e}");
                return gws_conform::exit::USAGE;
            }
        },
        None => match Schemas::embedded() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("validate: embedded schemas: {e}");
                return gws_conform::exit::HARNESS;
            }
        },
    };
    if schemas.document(&args.schema).is_none() {
        eprintln!(
            "validate: unknown schema {:?}; known schemas: {}",
            args.schema,
            schemas.names().join(", ")
        );
        return gws_conform::exit::USAGE;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut code = gws_conform::exit::CONFORMANT;
    for file in &args.files {
        let shown = file.display();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{shown}: cannot read: {e}");
                code = gws_conform::exit::USAGE;
                continue;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "{shown}: not valid JSON: not UTF-8 ({e})");
                code = code.max(gws_conform::exit::FAILURES);
                continue;
            }
        };
        let value = match parse_strict(&text) {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{shown}:{}:{}: not valid JSON: {}",
                    e.line, e.column, e.message
                );
                code = code.max(gws_conform::exit::FAILURES);
                continue;
            }
        };
        match schemas.validate(&args.schema, &value) {
            Ok(()) => {
                let _ = writeln!(out, "{shown}: valid against {}", args.schema);
            }
            Err(issues) => {
                for i in issues {
                    let _ = writeln!(out, "{shown}: {i}");
                }
                code = code.max(gws_conform::exit::FAILURES);
            }
        }
    }
    code
}
