//! `gws-conform serve`

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to bind (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0", env = "GWS_SERVE_BIND")]
    pub bind: String,
}

/// Runs `serve`; returns the process exit code.
pub fn main(_args: ServeArgs) -> i32 {
    eprintln!("serve: not implemented yet");
    crate::exit::USAGE
}
