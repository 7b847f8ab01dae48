//! `gws-conform run`: certify a target. Also the summary table and the run folder's
//! lines, which `replay` and `merge` print too.

use super::common::{SignalWatch, Threads, parse_duration, runtime};
use super::target::TargetArgs;
use gws_conform::check::Verdict;
use gws_conform::exit;
use gws_conform::history::redact::Scrubber;
use gws_conform::report::events::{EventSink, Reporter, RunEvent};
use gws_conform::report::{self, Overall, RunReport};
use gws_conform::runner::RunSettings;
use gws_conform::runner::execute;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a shard K/N with 1 <= K <= N (e.g. 2/4)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: u32 = k.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    /// The target and how to reach it.
    pub t: TargetArgs,
    /// Random stateful sequences to run on top of the directed cases.
    #[arg(long, env = "GWS_CASES", default_value_t = 20)]
    pub cases: u32,
    /// A soak: after the directed and coverage cases, run random sequences until this
    /// much time has passed (e.g. `10m`; replaces --cases). Memory stays flat: passing
    /// histories are dropped as soon as they are judged.
    #[arg(long, env = "GWS_DURATION", value_parser = parse_duration, conflicts_with = "cases")]
    pub duration: Option<Duration>,
    /// Seed of every random choice (default: a fresh one, printed).
    #[arg(long, env = "GWS_SEED")]
    pub seed: Option<u64>,
    /// SHOULD failures block certification too.
    #[arg(long, env = "GWS_STRICT")]
    pub strict: bool,
    /// TOML file of known failures to waive.
    #[arg(long, env = "GWS_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Run only shard K of N (e.g. 2/4); `merge` joins the shard reports.
    #[arg(long, env = "GWS_SHARD", value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,
    /// Write each case's normalized transcript here (diffable across releases).
    #[arg(long, env = "GWS_SNAPSHOT_DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Only the cases exercising these requirement ids (e.g. CMP-04).
    #[arg(long, env = "GWS_ONLY", value_delimiter = ',')]
    pub only: Vec<String>,
    /// At most this many cases at once (default 64; what the target can take, agents ×
    /// --max-chats-per-agent, bounds it too).
    #[arg(long, env = "GWS_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// At most this many chats open per agent at once; the harness waits for room
    /// (default 3 against --target; unbounded against the embedded server; 0: unbounded).
    #[arg(long, env = "GWS_MAX_CHATS_PER_AGENT")]
    pub max_chats_per_agent: Option<usize>,
    /// Re-runs allowed for shrinking each distinct failure (groups shrink in parallel).
    #[arg(long, env = "GWS_SHRINK_BUDGET", default_value_t = 200)]
    pub shrink_budget: usize,
    /// Wall time allowed for shrinking each distinct failure; a group that runs out says
    /// so in the report, with the figures.
    #[arg(long, env = "GWS_SHRINK_TIME", default_value = "5s", value_parser = parse_duration)]
    pub shrink_time: Duration,
    /// Also write the JUnit report to this fixed path (for CI).
    #[arg(long, env = "GWS_JUNIT")]
    pub junit: Option<PathBuf>,
    /// Also write report.json to this fixed path (for CI).
    #[arg(long, env = "GWS_JSON")]
    pub json: Option<PathBuf>,
    /// Write the run as NDJSON events to this file as it goes (run_started,
    /// case_started, each case's request/response/notification/... events and its
    /// verdict once judged, run_finished; flushed per case, secrets redacted).
    #[arg(long, env = "GWS_EVENTS")]
    pub events: Option<PathBuf>,
}

fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() % 1_000_000_000
}

/// Prints the per-requirement summary table. Target-provided text is escaped for the
/// terminal ([`report::term::escape`]).
pub fn print_summary(r: &RunReport) {
    let collapsed = print_table(r);
    print_run_notes(r, &collapsed);
    print_verdict(r);
}

/// The table, one line per requirement; an environment error that leaves more than 3
/// requirements Error for one reason is one "not run" line. Returns those reasons.
fn print_table(r: &RunReport) -> Vec<&str> {
    use report::term::escape_line;
    println!("{:<8} {:<7} {:<7} reason", "id", "level", "verdict");
    // An environment error leaves every requirement Error for one reason: one line.
    let mut same_error: std::collections::BTreeMap<&str, usize> = Default::default();
    for q in r
        .requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Error)
    {
        *same_error.entry(q.reason.as_str()).or_insert(0) += 1;
    }
    let mut collapsed_done: Vec<&str> = Vec::new();
    for q in &r.requirements {
        if q.verdict == Verdict::Error && same_error.get(q.reason.as_str()).is_some_and(|&n| n > 3)
        {
            if !collapsed_done.contains(&q.reason.as_str()) {
                collapsed_done.push(q.reason.as_str());
                println!(
                    "{:<8} {:<7} {:<7} not run: {}",
                    format!("({})", same_error[q.reason.as_str()]),
                    "all",
                    q.verdict.as_str(),
                    escape_line(&report::truncate_chars(&q.reason.replace('\n', " "), 200))
                );
            }
            continue;
        }
        let mut reason = q.reason.replace('\n', " ");
        if reason.chars().count() > 90 {
            reason = reason.chars().take(87).collect::<String>() + "...";
        }
        println!(
            "{:<8} {:<7} {:<7} {}",
            q.id,
            q.level.as_str(),
            q.verdict.as_str(),
            escape_line(&reason)
        );
    }
    collapsed_done
}

/// Waivers no longer needed, and the run's errors not already said.
fn print_run_notes(r: &RunReport, collapsed_done: &[&str]) {
    use report::term::escape;
    let unused: Vec<&str> = r
        .requirements
        .iter()
        .filter(|q| q.waiver_unused)
        .map(|q| q.id.as_str())
        .collect();
    if !unused.is_empty() {
        println!(
            "waivers no longer needed (these pass now; remove them from the baseline): {}",
            unused.join(", ")
        );
    }
    for e in &r.errors {
        // Already said once, on the "not run:" line.
        if collapsed_done.contains(&e.as_str()) {
            continue;
        }
        println!("error: {}", escape(e));
    }
}

/// The verdict line, the distinct failures, and the SHOULD note without --strict.
fn print_verdict(r: &RunReport) {
    use report::term::{escape, escape_line};
    let verdict = match r.overall {
        Overall::Conformant => "CONFORMANT",
        Overall::NotConformant => "NOT CONFORMANT",
        Overall::Error => "ERROR (harness or environment)",
        Overall::Interrupted => "INTERRUPTED (stopped by a signal: nothing is certified)",
    };
    let n = r.case_count();
    println!(
        "\n{verdict}: {n} case{}, seed {}, {} ms (target {})",
        if n == 1 { "" } else { "s" },
        r.seed,
        r.duration_ms,
        escape(&if r.embedded {
            format!("embedded reference server at {}", r.target)
        } else {
            r.target.clone()
        })
    );
    if let Some(groups) = &r.groups {
        let m: usize = groups.iter().map(|g| 1 + g.others.len()).sum();
        println!(
            "{} distinct failure{} in {m} failing case{}",
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            if m == 1 { "" } else { "s" }
        );
        for g in groups {
            let reqs: Vec<&str> = g.requirements.iter().map(|r| r.as_str()).collect();
            println!(
                "  {} ({}): case {} shrunk {} → {} steps{}",
                escape_line(&g.signature),
                reqs.join(", "),
                escape(&g.representative),
                g.original_steps,
                g.shrunk_steps,
                g.stopped
                    .as_ref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default()
            );
        }
    }
    let should_fails: Vec<&str> = r
        .requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Fail && q.level == gws_conform::spec::Level::Should)
        .map(|q| q.id.as_str())
        .collect();
    if r.overall == Overall::Conformant && !r.config.strict && !should_fails.is_empty() {
        println!(
            "note: {} SHOULD requirement{} fail{} ({}): --strict would make this run NOT CONFORMANT",
            should_fails.len(),
            if should_fails.len() == 1 { "" } else { "s" },
            if should_fails.len() == 1 { "s" } else { "" },
            should_fails.join(", ")
        );
    }
}

/// The terminal summary as a [`Reporter`]: the table of requirements and the verdict,
/// when the run finishes.
struct Summary;

impl Reporter for Summary {
    fn event(&self, e: &RunEvent<'_>) {
        if let RunEvent::RunFinished { report, .. } = e {
            print_summary(report);
        }
    }
}

/// The report writers as a [`Reporter`]: when the run finishes, the run folder under
/// `root` (`report.json`, `junit.xml`, `report.html`, case files) and the fixed copies of
/// `--junit` / `--json`. A write error is printed and sets `failed` (exit 3).
struct ReportFiles {
    root: PathBuf,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    failed: AtomicBool,
}

impl Reporter for ReportFiles {
    fn event(&self, e: &RunEvent<'_>) {
        let RunEvent::RunFinished { report: r, scrub } = e else {
            return;
        };
        let dir = self.root.join(&r.run_id);
        if !write_reports(&dir, r, scrub) {
            self.failed.store(true, Ordering::SeqCst);
            return;
        }
        if let Err(e) =
            report::write_fixed_copies(&dir, r, scrub, self.junit.as_deref(), self.json.as_deref())
        {
            eprintln!("error: {}", report::term::escape(&e.to_string()));
            self.failed.store(true, Ordering::SeqCst);
        }
    }
}

/// Writes the run folder and prints where it is; returns false on a write error.
pub fn write_reports(dir: &Path, r: &RunReport, scrub: &Scrubber) -> bool {
    match report::write_all(dir, r, scrub) {
        Ok(_) => {
            println!("reports: {}", dir.display());
            let stems = report::case_stems(r);
            let failing: Vec<_> = r
                .cases
                .iter()
                .filter(|c| c.verdict == Verdict::Fail && !c.steps.is_empty())
                .collect();
            // One replay line per distinct failure (its shrunk representative); the
            // other cases of each group are in report.html.
            const SHOWN: usize = 10;
            let reps: Vec<(String, String)> = match &r.groups {
                Some(groups) if !groups.is_empty() => groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        (
                            g.representative.clone(),
                            format!(
                                "failure #{} (case {}, {} steps)",
                                i + 1,
                                report::term::escape(&g.representative),
                                g.shrunk_steps
                            ),
                        )
                    })
                    .collect(),
                _ => failing
                    .iter()
                    .map(|c| {
                        (
                            c.id.clone(),
                            format!("failing case {}", report::term::escape(&c.id)),
                        )
                    })
                    .collect(),
            };
            for (id, label) in reps.iter().take(SHOWN) {
                if let Some(stem) = stems.get(id) {
                    let cmd = report::replay_command_in(dir, stem, r);
                    println!("  {label}: {cmd}");
                }
            }
            if !failing.is_empty()
                && report::needs_agents(r)
                && std::env::var_os("GWS_AGENTS").is_none()
            {
                println!(
                    "  (set {} first: the replay logs in as the run's agents)",
                    report::agents_hint(r)
                );
            }
            if reps.len() > SHOWN {
                println!(
                    "  … and {} more (report.html lists them all)",
                    reps.len() - SHOWN
                );
            }
            if failing.len() > reps.len() {
                println!(
                    "  the other {} failing cases fail the same ways: report.html lists them by failure",
                    failing.len() - reps.len()
                );
            }
            true
        }
        Err(e) => {
            eprintln!(
                "error: writing reports to {}: {}",
                dir.display(),
                report::term::escape(&e.to_string())
            );
            false
        }
    }
}

/// Runs `run`; returns the process exit code.
/// The flags checked before anything runs: the target flags, `--only`, the baseline,
/// the reports folder. `Err`: the exit code (the error is printed).
fn checked(args: &RunArgs) -> Result<Option<report::Baseline>, i32> {
    if let Err(e) = args.t.check() {
        eprintln!("error: {}", report::term::escape(&e.to_string()));
        return Err(exit::USAGE);
    }
    for id in &args.only {
        if gws_conform::spec::find(id).is_none() {
            eprintln!(
                "error: --only {}: no such requirement (see `gws-conform list`)",
                report::term::escape(id)
            );
            return Err(exit::USAGE);
        }
    }
    let baseline = match &args.baseline {
        Some(p) => match report::load_baseline(p) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("error: {}", report::term::escape(&e.to_string()));
                return Err(exit::USAGE);
            }
        },
        None => None,
    };
    if let Err(e) = check_writable(&args.t.reports) {
        eprintln!("error: --reports {}: {e}", args.t.reports.display());
        return Err(exit::USAGE);
    }
    Ok(baseline)
}

/// The run's settings from its flags (the target's are already in `s`).
fn settle(s: &mut RunSettings, args: &RunArgs, seed: u64, events: Option<EventSink>) {
    s.events = events;
    s.random_cases = args.cases;
    s.duration = args.duration;
    s.seed = seed;
    s.strict = args.strict;
    s.shard = args.shard;
    s.only = args.only.clone();
    s.concurrency = args.concurrency.map(|c| c.max(1)).unwrap_or(0);
    s.max_chats_per_agent = args.max_chats_per_agent;
    s.shrink_budget = args.shrink_budget;
    s.shrink_time = args.shrink_time;
    s.keep_histories = args.snapshot_dir.is_some();
}

/// The end of the run, to every reporter in this order: the event stream, the terminal
/// summary, the report files. False when a report could not be written.
fn report_end(args: &RunArgs, r: &RunReport, scrub: &Scrubber, events: Option<&EventSink>) -> bool {
    // The end of the run goes to every reporter, in this order: the event stream, the
    // terminal summary, the report files.
    let files = ReportFiles {
        root: args.t.reports.clone(),
        junit: args.junit.clone(),
        json: args.json.clone(),
        failed: AtomicBool::new(false),
    };
    let finished = RunEvent::RunFinished { report: r, scrub };
    if let Some(ev) = events {
        ev.event(&finished);
        if let Some(e) = ev.error() {
            eprintln!(
                "warning: --events: writing {}",
                report::term::escape(e.as_str())
            );
        }
    }
    for rep in [&Summary as &dyn Reporter, &files] {
        rep.event(&finished);
    }
    !files.failed.load(Ordering::SeqCst)
}

pub fn main(args: RunArgs) -> i32 {
    let baseline = match checked(&args) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let events = match &args.events {
        Some(p) => match gws_conform::report::events::EventSink::create(p) {
            Ok(sink) => Some(sink),
            Err(e) => {
                eprintln!("error: --events {}", report::term::escape(&e.to_string()));
                return exit::USAGE;
            }
        },
        None => None,
    };
    let rt = match runtime(Threads::One, "error") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let mut s = args.t.settings();
    if let Some(ev) = &events {
        let mut scrub = Scrubber::new();
        for a in &s.agents {
            scrub.add_credentials(&a.user, &a.password);
        }
        ev.event(&RunEvent::RunStarted {
            seed,
            target: s.target.as_deref(),
            shard: args.shard,
            scrub: &scrub,
        });
    }
    settle(&mut s, &args, seed, events.clone());
    // Listen before the first line is printed: whoever waits for it may signal at once.
    let signals = SignalWatch::start(&rt, s.cancel.clone());
    eprintln!(
        "gws-conform {}: seed {seed} (re-run with --seed {seed})",
        env!("CARGO_PKG_VERSION")
    );
    let result = rt.block_on(execute(s));
    let mut r = result.report;
    if let Some(code) = signals.exit_code() {
        r.exit_code = code;
    }
    // Environment errors first, once, with what to try.
    for e in &r.errors {
        eprintln!("error: {}", report::term::escape(&with_hint(e)));
    }
    if let (Some(b), Some(path)) = (&baseline, &args.baseline) {
        r.config.baseline = Some(path.display().to_string());
        report::apply_baseline(&mut r, b, report::today_utc());
    }
    if let Some(dir) = &args.snapshot_dir {
        if let Err(e) = write_snapshots(dir, &r, &result.scrubber) {
            eprintln!("error: {}", report::term::escape(&e.to_string()));
            return exit::HARNESS;
        }
        for c in &mut r.cases {
            if !matches!(c.verdict, Verdict::Fail | Verdict::Error) {
                c.history = None;
            }
        }
    }
    if !report_end(&args, &r, &result.scrubber, events.as_ref()) {
        return exit::HARNESS;
    }
    r.exit_code
}

/// An environment error with what to try: an unreachable target, refused credentials,
/// a TLS failure.
pub fn with_hint(e: &str) -> String {
    let l = e.to_ascii_lowercase();
    let hint = if l.contains("http 401") || l.contains("http 403") {
        "login refused: check GWS_AGENTS (or --agent USER:PASSWORD)"
    } else if l.contains("certificate") || l.contains("tls") {
        "TLS failure: check --cacert (or --insecure for a test target)"
    } else if l.contains("connection refused")
        || l.contains("connect")
        || l.contains("dns")
        || l.contains("no answer")
    {
        "cannot reach the target: is it running? check --target"
    } else {
        return e.to_string();
    };
    format!("{e}: {hint}")
}

/// Whether reports can be written under `dir` (checked before a run, not after it).
fn check_writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create it: {e}"))?;
    let probe = dir.join(format!(".gws-conform-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("not writable: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes one normalized transcript per case into `dir`.
fn write_snapshots(dir: &Path, r: &RunReport, scrub: &Scrubber) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for c in &r.cases {
        if let Some(h) = &c.history {
            let path = dir.join(format!("{}.txt", c.id));
            std::fs::write(&path, scrub.scrub(&report::transcript(h)))
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
    }
    println!("transcripts: {}", dir.display());
    Ok(())
}
