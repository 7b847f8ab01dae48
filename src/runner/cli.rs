//! `gws-conform run`

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Base URL of the target; none: certify the embedded reference server.
    #[arg(long, env = "GWS_TARGET")]
    pub target: Option<String>,
}

/// Runs `run`; returns the process exit code.
pub fn main(_args: RunArgs) -> i32 {
    eprintln!("run: not implemented yet");
    crate::exit::USAGE
}
