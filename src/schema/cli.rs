//! `gws-conform validate --schema NAME FILE...`

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The schema to validate against (file stem under schemas/, e.g. `complete-request`).
    #[arg(long)]
    pub schema: String,
    /// Files holding one JSON document each.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// Runs `validate`; returns the process exit code.
pub fn main(_args: ValidateArgs) -> i32 {
    eprintln!("validate: not implemented yet");
    crate::exit::USAGE
}
