//! `gws-conform merge`: the reports of the shards of one run, joined.

use super::run::{print_summary, write_reports};
use gws_conform::exit;
use gws_conform::history::redact::Scrubber;
use gws_conform::report;
use std::path::PathBuf;

/// Arguments of `merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Run folders (or report.json files) of the shards of one run.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged run folder (default reports/<merged run id>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `merge`; exit code of the merged verdict.
pub fn main(args: MergeArgs) -> i32 {
    let mut reports = Vec::new();
    for d in &args.dirs {
        let path = if d.is_dir() {
            d.join("report.json")
        } else {
            d.clone()
        };
        match report::load_report(&path) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("error: {}", report::term::escape(&e.to_string()));
                return exit::USAGE;
            }
        }
    }
    let merged = match report::merge(reports) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {}", report::term::escape(&e.to_string()));
            return exit::USAGE;
        }
    };
    print_summary(&merged);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&merged.run_id));
    if !write_reports(&dir, &merged, &Scrubber::new()) {
        return exit::HARNESS;
    }
    merged.exit_code
}
