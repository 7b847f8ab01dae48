//! `gws-conform export openapi|asyncapi [--out FILE]`.

use std::path::PathBuf;

use gws_conform::apidocs::{self, render};

/// What to export (the command line's names for [`apidocs::Format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// OpenAPI 3.1 (JSON) of the REST surface.
    Openapi,
    /// AsyncAPI 3.0 (JSON) of the Bayeux notifications.
    Asyncapi,
}

impl From<Format> for apidocs::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Openapi => apidocs::Format::Openapi,
            Format::Asyncapi => apidocs::Format::Asyncapi,
        }
    }
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The document to export.
    #[arg(value_enum)]
    pub format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `export`; returns the exit code.
pub fn main(args: ExportArgs) -> i32 {
    let text = match render(args.format.into()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gws-conform export: {e}");
            return gws_conform::exit::HARNESS;
        }
    };
    match args.out {
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => gws_conform::exit::CONFORMANT,
            Err(e) => {
                eprintln!("gws-conform export: cannot write {}: {e}", path.display());
                gws_conform::exit::USAGE
            }
        },
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => gws_conform::exit::CONFORMANT,
                Err(e) => {
                    eprintln!("gws-conform export: cannot write to standard output: {e}");
                    gws_conform::exit::HARNESS
                }
            }
        }
    }
}
