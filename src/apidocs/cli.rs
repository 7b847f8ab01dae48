//! `gws-conform export openapi|asyncapi [--out FILE]`.

use std::path::PathBuf;

use crate::schema::Schemas;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// OpenAPI 3.1 (JSON) of the REST surface.
    Openapi,
    /// AsyncAPI 3.0 (JSON) of the Bayeux notifications.
    Asyncapi,
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

/// The document of `format`, pretty-printed JSON with a final newline.
pub fn render(format: Format) -> Result<String, String> {
    let schemas = Schemas::embedded().map_err(|e| format!("schemas: {e}"))?;
    let doc = match format {
        Format::Openapi => super::openapi::document(schemas),
        Format::Asyncapi => super::asyncapi::document(schemas),
    }
    .map_err(|e| format!("export: {e}"))?;
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| format!("export: {e}"))?;
    text.push('\n');
    Ok(text)
}

/// Runs `export`; returns the exit code.
pub fn main(args: ExportArgs) -> i32 {
    let text = match render(args.format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gws-conform export: {e}");
            return crate::exit::HARNESS;
        }
    };
    match args.out {
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => crate::exit::CONFORMANT,
            Err(e) => {
                eprintln!("gws-conform export: cannot write {}: {e}", path.display());
                crate::exit::USAGE
            }
        },
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => crate::exit::CONFORMANT,
                Err(e) => {
                    eprintln!("gws-conform export: cannot write to standard output: {e}");
                    crate::exit::HARNESS
                }
            }
        }
    }
}
