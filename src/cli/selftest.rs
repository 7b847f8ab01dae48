//! `gws-conform selftest`: the suite against the faultless embedded server and against
//! each fault of its catalogue (and, with `--variations`, under each legitimate variation
//! of the server); the matrix is `runner::selftest`'s, printed here.

use super::common::{ModeArg, SignalWatch, Threads, parse_duration, runtime};
use gws_conform::exit;
use gws_conform::runner::Cancel;
use gws_conform::runner::selftest::{Options, Row, job_count, matrix_with};
use gws_conform::server;
use std::time::Duration;

/// Arguments of `selftest`.
#[derive(Debug, clap::Args)]
pub struct SelftestArgs {
    /// Seeds to run (1..=N); every seed runs the faultless server and every fault.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Only these faults (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Random sequences per run on top of the directed cases.
    #[arg(long, default_value_t = 3)]
    pub cases: u32,
    /// Notification deadline (shorter than the default: the embedded server is local).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub deadline: Duration,
    /// Quiet window.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    pub quiet_window: Duration,
    /// Runs (servers) at once. Runs mostly wait on deadlines, so more than the cores.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Also run every fault under each legitimate variation of the server (all of them,
    /// or these, comma-separated; see `serve --list-variations`), and the faultless server
    /// under every compatible pair of them. Prints the faults × variations matrix.
    #[arg(long, num_args = 0.., value_delimiter = ',', value_name = "VARIATION")]
    pub variations: Option<Vec<String>>,
    /// Only the faultless server (no fault of the catalogue): with --variations, the
    /// sweep that shows the harness fails no conformant server.
    #[arg(long, conflicts_with = "faults")]
    pub no_faults: bool,
    /// With --variations: skip the pairs of variations (the faultless server under each
    /// pair).
    #[arg(long)]
    pub no_pairs: bool,
    /// Provisioning modes to run each cell in (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "provider-state"
    )]
    pub provisioning: Vec<ModeArg>,
}

impl From<SelftestArgs> for Options {
    fn from(a: SelftestArgs) -> Self {
        Options {
            seeds: a.seeds,
            first_seed: a.first_seed,
            faults: a.faults,
            cases: a.cases,
            deadline: a.deadline,
            quiet_window: a.quiet_window,
            parallel: a.parallel,
            variations: a.variations,
            no_faults: a.no_faults,
            no_pairs: a.no_pairs,
            provisioning: a.provisioning.into_iter().map(Into::into).collect(),
        }
    }
}

/// The progress line of one judged run (stderr).
fn say_row(i: usize, total: usize, row: &Row) {
    eprintln!(
        "[{}/{}] {:<4} seed {:<3} {:<14} {:<40} {:<34} caught by {}",
        i,
        total,
        if row.masked.is_some() {
            "n/a"
        } else if row.overall == gws_conform::report::Overall::Interrupted {
            "cut"
        } else if row.ok() {
            "ok"
        } else {
            "BAD"
        },
        row.seed,
        row.mode.name(),
        row.fault.as_deref().unwrap_or("(faultless)"),
        variations_label(&row.variations),
        if row.caught_by.is_empty() {
            "-".to_string()
        } else {
            row.caught_by.join(",")
        }
    );
}

fn variations_label(v: &[&str]) -> String {
    if v.is_empty() {
        "(default)".to_string()
    } else {
        v.join("+")
    }
}

/// Prints the matrix: a table of the runs, or with variations the faults × variations
/// grid, then every run that is not as it should be, and the totals.
pub fn print_matrix(rows: &[Row]) {
    if rows.iter().any(|r| !r.variations.is_empty()) {
        print_grid(rows);
    } else {
        print_table(rows);
    }
    let faults: Vec<&Row> = rows
        .iter()
        .filter(|r| r.fault.is_some() && r.masked.is_none())
        .collect();
    let killed = faults.iter().filter(|r| r.ok()).count();
    let faultless: Vec<&Row> = rows.iter().filter(|r| r.fault.is_none()).collect();
    let clean = faultless.iter().filter(|r| r.ok()).count();
    let masked = rows.iter().filter(|r| r.masked.is_some()).count();
    println!(
        "\nkilled {killed}/{} fault runs{}; faultless server {}",
        faults.len(),
        if masked > 0 {
            format!(
                " ({masked} not applicable: the variation makes the fault legal, or the mode cannot observe it)"
            )
        } else {
            String::new()
        },
        if clean == faultless.len() {
            format!("clean in {clean}/{} runs", faultless.len())
        } else {
            format!(
                "FAILED in {}/{} runs (false failures)",
                faultless.len() - clean,
                faultless.len()
            )
        }
    );
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<36} {:>4} {:<4} {:<28} {:<20} {:>5} {:>8} {:>8}",
        "fault", "seed", "ok", "caught by", "expected", "steps", "case ms", "run ms"
    );
    for r in rows {
        println!(
            "{:<36} {:>4} {:<4} {:<28} {:<20} {:>5} {:>8} {:>8}",
            r.fault.as_deref().unwrap_or("(faultless)"),
            r.seed,
            if r.ok() { "yes" } else { "NO" },
            if r.caught_by.is_empty() {
                "-".to_string()
            } else {
                r.caught_by.join(",")
            },
            r.expected.join(","),
            r.min_case_steps
                .map(|n| n.to_string())
                .unwrap_or("-".into()),
            r.detect_ms.map(|n| n.to_string()).unwrap_or("-".into()),
            r.run_ms
        );
        for e in &r.errors {
            println!("    error: {e}");
        }
    }
}

/// The grid: one line per fault (the faultless server first), one column per variation
/// (`-` is the default behaviour), folded over seeds and modes. A cell is `K` (killed by
/// one of the fault's own requirements in every run), `ok` (faultless and clean in every
/// run), `n/a` (the variation makes the fault legal) or `NO`; the runs behind a `NO`, and
/// the pairs of variations, are listed after it.
fn print_grid(rows: &[Row]) {
    let mut columns: Vec<Vec<&'static str>> = Vec::new();
    let mut lines: Vec<Option<String>> = Vec::new();
    for r in rows.iter().filter(|r| r.variations.len() <= 1) {
        if !columns.contains(&r.variations) {
            columns.push(r.variations.clone());
        }
        if !lines.contains(&r.fault) {
            lines.push(r.fault.clone());
        }
    }
    columns.sort_by_key(|c| {
        c.first().map_or(0, |n| {
            1 + server::variations()
                .iter()
                .position(|v| v.name == *n)
                .unwrap_or(0)
        })
    });
    println!("variations (columns):");
    println!("  {:>3}  (default)", "-");
    for (i, c) in columns.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
        println!("  {i:>3}  {}", c.join("+"));
    }
    print!("\n{:<48}", "fault");
    for (i, c) in columns.iter().enumerate() {
        if c.is_empty() {
            print!(" {:>3}", "-");
        } else {
            print!(" {i:>3}");
        }
    }
    println!();
    for line in &lines {
        print!("{:<48}", line.as_deref().unwrap_or("(faultless)"));
        for c in &columns {
            let cell: Vec<&Row> = rows
                .iter()
                .filter(|r| &r.fault == line && &r.variations == c)
                .collect();
            let mark = if cell.is_empty() {
                "."
            } else if cell.iter().all(|r| r.masked.is_some()) {
                "n/a"
            } else if !cell.iter().all(|r| r.ok()) {
                "NO"
            } else if line.is_some() {
                "K"
            } else {
                "ok"
            };
            print!(" {mark:>3}");
        }
        println!();
    }
    let pairs: Vec<&Row> = rows.iter().filter(|r| r.variations.len() > 1).collect();
    if !pairs.is_empty() {
        let clean = pairs.iter().filter(|r| r.ok()).count();
        println!(
            "\nfaultless server under pairs of variations: clean in {clean}/{} runs",
            pairs.len()
        );
    }
    let bad: Vec<&Row> = rows.iter().filter(|r| !r.ok()).collect();
    if !bad.is_empty() {
        println!("\nruns that are not as they should be:");
    }
    for r in bad {
        println!(
            "  {} under {} ({}, seed {}): {:?}; caught by {}; expected {}",
            r.fault.as_deref().unwrap_or("(faultless)"),
            variations_label(&r.variations),
            r.mode.name(),
            r.seed,
            r.overall,
            if r.caught_by.is_empty() {
                "-".to_string()
            } else {
                r.caught_by.join(",")
            },
            if r.expected.is_empty() {
                "nothing".to_string()
            } else {
                r.expected.join(" or ")
            }
        );
        match r.left_open {
            Some(0) => {}
            Some(n) => println!("      {n} chats left open after the run"),
            None => println!("      the open chats could not be listed after the run"),
        }
        for e in &r.errors {
            println!("      error: {e}");
        }
    }
}

/// Runs `selftest`; exit 1 if a fault survives or the faultless server fails anything.
pub fn main(args: SelftestArgs) -> i32 {
    let rt = match runtime(Threads::PerCore, "error") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    let opts = Options::from(args);
    let cancel = Cancel::new();
    let signals = SignalWatch::start(&rt, cancel.clone());
    let rows = match rt.block_on(matrix_with(&opts, &cancel, say_row)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    // A run a signal cut short shows what it judged on its progress line only: it
    // neither kills a fault nor clears the faultless server.
    let (cut_rows, rows): (Vec<Row>, Vec<Row>) = rows
        .into_iter()
        .partition(|r| r.overall == gws_conform::report::Overall::Interrupted);
    print_matrix(&rows);
    println!("selftest took {} ms", started.elapsed().as_millis());
    if let Some(code) = signals.exit_code() {
        let cut = cut_rows.len();
        let rows = rows.len() + cut;
        println!(
            "INTERRUPTED: {} of {} runs judged, {cut} cut short, {} not started",
            rows - cut,
            job_count(&opts),
            job_count(&opts).saturating_sub(rows)
        );
        return code;
    }
    if rows.iter().all(Row::ok) {
        exit::CONFORMANT
    } else {
        exit::FAILURES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: SelftestArgs,
    }

    #[test]
    fn the_flags_defaults_are_the_librarys() {
        let a = Cli::try_parse_from(["selftest"]).unwrap().a;
        assert_eq!(Options::from(a), Options::default());
    }
}
