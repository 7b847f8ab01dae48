//! `gws-conform certify` and `gws-conform verify` (docs/certify.md).

use crate::cli::common::{SignalWatch, Threads, runtime};
use crate::cli::target::TargetArgs;
use gws_conform::certify::{
    self as cert, CertRun, Policy, Predicate, PublicKey, SigningKey, Statement, catalogue_digest,
};
use gws_conform::exit;
use gws_conform::report::{self, term::escape};
use std::path::{Path, PathBuf};

/// Arguments of `certify`.
#[derive(Debug, clap::Args)]
pub struct CertifyArgs {
    #[command(flatten)]
    /// The target and how to reach it (as for `run`).
    pub t: TargetArgs,
    /// The conformance statement (TOML; see examples/statement.toml).
    #[arg(long, env = "GWS_STATEMENT")]
    pub statement: PathBuf,
    /// The folder to write the bundle to (must be empty or absent).
    #[arg(long, env = "GWS_BUNDLE")]
    pub bundle: PathBuf,
    /// Sign the bundle with this private key (`gws-conform keygen`); without it the
    /// bundle is written unsigned and `verify` refuses it.
    #[arg(long, env = "GWS_SIGN_KEY")]
    pub sign: Option<PathBuf>,
    /// How many seeds (K): each mode of the statement is run once per seed.
    #[arg(long, env = "GWS_SEEDS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub seeds: u32,
    /// The first seed (the seeds are S, S+1, ..., S+K-1).
    #[arg(long, env = "GWS_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Random stateful sequences per run on top of the directed cases.
    #[arg(long, env = "GWS_CASES", default_value_t = 20)]
    pub cases: u32,
    /// Wall time allowed for shrinking each distinct failure of each run.
    #[arg(long, env = "GWS_SHRINK_TIME", default_value = "5s", value_parser = crate::cli::common::parse_duration)]
    pub shrink_time: std::time::Duration,
    /// Also write the bundle as one archive, `BUNDLE.tar.gz` (any tar reads it; `verify`
    /// takes it as it takes the folder).
    #[arg(long, env = "GWS_BUNDLE_TAR")]
    pub tar: bool,
}

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle: its folder, or its `.tar.gz` (`certify --tar`).
    pub bundle: PathBuf,
    /// The signer's public key (PEM).
    #[arg(long, env = "GWS_VERIFY_KEY")]
    pub key: PathBuf,
    /// Re-derive the verdicts even when the bundle's catalogue differs from this binary's.
    #[arg(long)]
    pub rejudge: bool,
    /// A program's policy (TOML: `catalogues = [digests]`, `min_seeds = K`,
    /// `should_counts = true|false`; docs/certify.md).
    #[arg(long, env = "GWS_VERIFY_POLICY")]
    pub policy: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> Result<String, i32> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: {what} {}: {e}", path.display());
        exit::USAGE
    })
}

/// Runs the certification and writes the bundle.
pub fn main(args: CertifyArgs) -> i32 {
    match certify(args) {
        Ok(code) | Err(code) => code,
    }
}

fn certify(args: CertifyArgs) -> Result<i32, i32> {
    if let Err(e) = args.t.check() {
        eprintln!("error: {}", escape(&e.to_string()));
        return Err(exit::USAGE);
    }
    let text = read(&args.statement, "--statement")?;
    let st = Statement::parse(&args.statement.display().to_string(), &text).map_err(|e| {
        eprintln!("error: {}", escape(&e.to_string()));
        exit::USAGE
    })?;
    let key = match &args.sign {
        Some(p) => Some(SigningKey::from_pem(&read(p, "--sign")?).map_err(|e| {
            eprintln!("error: --sign {}: {e}", p.display());
            exit::USAGE
        })?),
        None => None,
    };
    if args.bundle.exists()
        && std::fs::read_dir(&args.bundle).map_or(true, |mut d| d.next().is_some())
    {
        eprintln!(
            "error: --bundle {}: not empty (a bundle is written once)",
            args.bundle.display()
        );
        return Err(exit::USAGE);
    }
    let seeds: Vec<u64> = (0..u64::from(args.seeds)).map(|i| args.seed + i).collect();
    let mut base = args.t.settings();
    base.random_cases = args.cases;
    base.shrink_time = args.shrink_time;
    eprintln!(
        "gws-conform {}: certifying {} {} in {} mode(s) over seeds {:?}",
        env!("CARGO_PKG_VERSION"),
        escape(&st.product.name),
        escape(&st.product.version),
        st.deployment.provisioning.len(),
        seeds
    );
    let rt = runtime(Threads::One, "error")?;
    base.progress = gws_conform::runner::Progress::None;
    let signals = SignalWatch::start(&rt, base.cancel.clone());
    let c = rt.block_on(cert::certify(&st, &seeds, &base, |r, k, n| {
        eprintln!(
            "run {k}/{n}: {} seed {}: {:?}, {} cases, {:.1} s",
            cert::mode_name(r.mode),
            r.seed,
            r.report.overall,
            r.report.case_count(),
            r.report.duration_ms as f64 / 1000.0
        );
        for e in &r.report.errors {
            eprintln!("error: {}", escape(e));
        }
    }));
    print_certificate(&c.predicate);
    match cert::write_bundle(&args.bundle, &text, &c, key.as_ref()) {
        Ok(w) => {
            println!("bundle: {}", w.dir.display());
            if args.tar {
                let name = format!(
                    "{}.tar.gz",
                    w.dir
                        .file_name()
                        .map_or("bundle".into(), |n| n.to_string_lossy())
                );
                let out = w.dir.with_file_name(name);
                match cert::write_archive(&w.dir, &out) {
                    Ok(n) => println!("archive: {} ({n} files)", out.display()),
                    Err(e) => {
                        eprintln!("error: {}", escape(&e.to_string()));
                        return Err(exit::HARNESS);
                    }
                }
            }
            match &key {
                Some(k) => println!(
                    "signed by {}; check it with: gws-conform verify {} --key PUBLIC_KEY",
                    k.public().fingerprint(),
                    w.dir.display()
                ),
                None => println!("unsigned (no --sign): `verify` refuses an unsigned bundle"),
            }
        }
        Err(e) => {
            eprintln!("error: {}", escape(&e.to_string()));
            return Err(exit::HARNESS);
        }
    }
    Ok(signals
        .exit_code()
        .unwrap_or(cert::exit_code(c.predicate.grade)))
}

/// The rows, the contradictions and the grade, for the terminal.
fn print_certificate(p: &Predicate) {
    println!("{:<8} {:<7} {:<8} stability", "id", "level", "binding");
    for r in &p.requirements {
        println!(
            "{:<8} {:<7} {:<8} {}{}",
            r.id,
            r.level.as_str(),
            if r.binding { "yes" } else { "no" },
            r.stability,
            r.exception
                .as_ref()
                .map(|x| format!(" (exception: {})", escape(x)))
                .unwrap_or_default()
        );
        for w in &r.witnesses {
            println!(
                "           seed {} {}: case {}: {} — replay: gws-conform run --seed {} --provisioning {} --only {} (with the target flags)",
                w.seed,
                cert::mode_name(w.mode),
                escape(w.case.as_deref().unwrap_or("-")),
                escape(&w.reason),
                w.seed,
                cert::mode_name(w.mode),
                r.id
            );
        }
    }
    for c in &p.contradictions {
        println!(
            "statement contradicted: {} declared {}, seen {} (seed {} {}, case {})",
            c.field,
            escape(&c.declared),
            escape(&c.seen),
            c.origin.seed,
            cert::mode_name(c.origin.mode),
            escape(&c.origin.case)
        );
    }
    println!("\n{}", p.grade.title().to_uppercase());
}

/// Verifies a bundle offline.
pub fn verify(args: VerifyArgs) -> i32 {
    if !args.bundle.is_file() {
        return verify_dir(&args.bundle, &args);
    }
    // An archive: read into a fresh folder, verified as a folder, then removed.
    let tmp = std::env::temp_dir().join(format!(
        "gws-conform-verify-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        eprintln!("error: {}: {e}", tmp.display());
        return exit::HARNESS;
    }
    let code = match cert::extract_archive(&args.bundle, &tmp) {
        Ok(dir) => {
            println!("archive: {} read", args.bundle.display());
            verify_dir(&dir, &args)
        }
        Err(e) => {
            println!("NOT VERIFIED: {}", escape(&e.to_string()));
            exit::FAILURES
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);
    code
}

/// Verifies the bundle folder `bundle` (see [`verify`]).
fn verify_dir(bundle: &Path, args: &VerifyArgs) -> i32 {
    let pem = match read(&args.key, "--key") {
        Ok(t) => t,
        Err(code) => return code,
    };
    let key = match PublicKey::from_pem(&pem) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: --key {}: {e}", args.key.display());
            return exit::USAGE;
        }
    };
    let policy = match &args.policy {
        Some(p) => match read(p, "--policy").map(|t| Policy::parse(&p.display().to_string(), &t)) {
            Ok(Ok(pol)) => pol,
            Ok(Err(e)) => {
                eprintln!("error: --policy {}", escape(&e));
                return exit::USAGE;
            }
            Err(code) => return code,
        },
        None => Policy::default(),
    };
    let st = match cert::verify_bundle(bundle, &key) {
        Ok(st) => st,
        Err(e) => {
            println!("NOT VERIFIED: {}", escape(&e.to_string()));
            return exit::FAILURES;
        }
    };
    println!("signature: good, key {}", key.fingerprint());
    println!(
        "files: {} subjects, none missing, none extra, every sha256 equal",
        st.subject.len()
    );
    let claimed: Predicate = match serde_json::from_value(st.predicate.clone()) {
        Ok(p) => p,
        Err(e) => {
            println!("NOT VERIFIED: the predicate is not a gws-conform certificate: {e}");
            return exit::FAILURES;
        }
    };
    let refusals = policy.refusals(&claimed);
    if !refusals.is_empty() {
        for r in &refusals {
            println!("NOT VERIFIED: {}", escape(r));
        }
        return exit::FAILURES;
    }
    if !policy.accepts_catalogue(&claimed.catalogue_digest) && !args.rejudge {
        println!(
            "NOT VERIFIED: the bundle was judged with another catalogue ({}, harness {}) than this binary's ({}); pass --rejudge to re-derive the verdicts with this one",
            claimed.catalogue_digest,
            claimed.harness_version,
            catalogue_digest()
        );
        return exit::FAILURES;
    }
    let (mut rejudged, mut recorded_only) = (0, 0);
    match rederive(bundle, &claimed, &mut rejudged, &mut recorded_only) {
        Ok(runs) => {
            let n = runs.len();
            println!(
                "re-judged: {rejudged} case histories with this binary's checker, findings and rows as recorded ({recorded_only} cases without a history taken as recorded)"
            );
            println!(
                "verified: {} — {} (harness {} at {}) — grade {} — {} requirements re-derived from {n} runs (seeds {:?})",
                escape(&claimed.statement.product.name),
                escape(&claimed.statement.product.version),
                claimed.harness_version,
                claimed.git_commit,
                claimed.grade.title(),
                claimed.requirements.len(),
                claimed.seeds
            );
            if !policy.should_counts {
                let mut must_only = claimed.statement.clone();
                must_only.claims.should.clear();
                let g = cert::judge(&must_only, &claimed.seeds, &runs).grade;
                println!(
                    "under the policy (claimed SHOULD rows do not count): grade {}",
                    g.title()
                );
            }
            exit::CONFORMANT
        }
        Err(diffs) => {
            for d in &diffs {
                println!("difference: {}", escape(d));
            }
            println!(
                "NOT VERIFIED: {} difference(s) between the bundle's evidence and its certificate",
                diffs.len()
            );
            exit::FAILURES
        }
    }
}

/// Re-derives the certificate from the bundle's statement, reports and histories;
/// `Err`: each difference with the signed predicate.
fn rederive(
    dir: &Path,
    claimed: &Predicate,
    rejudged: &mut usize,
    recorded_only: &mut usize,
) -> Result<Vec<CertRun>, Vec<String>> {
    let text = std::fs::read_to_string(dir.join("statement.toml"))
        .map_err(|e| vec![format!("statement.toml: {e}")])?;
    let st = Statement::parse("statement.toml", &text).map_err(|e| vec![e.to_string()])?;
    let mut diffs = Vec::new();
    if st != claimed.statement {
        diffs.push("statement.toml is not the statement the certificate names".to_string());
    }
    let mut runs = Vec::new();
    for &mode in &st.deployment.provisioning {
        for &seed in &claimed.seeds {
            let rd = dir.join(cert::run_dir(mode, seed));
            let mut r = match report::load_report(&rd.join("report.json")) {
                Ok(r) => r,
                Err(e) => {
                    diffs.push(format!("{}: {e}", cert::run_dir(mode, seed)));
                    continue;
                }
            };
            if r.seed != seed {
                diffs.push(format!(
                    "{}: report.json says seed {}, the certificate {seed}",
                    cert::run_dir(mode, seed),
                    r.seed
                ));
            }
            let stems = report::case_stems(&r);
            for c in &mut r.cases {
                let stem = stems.get(&c.id).cloned().unwrap_or_else(|| c.id.clone());
                let p = rd.join("histories").join(format!("{stem}.ndjson"));
                if let Ok(t) = std::fs::read_to_string(&p) {
                    let events: Result<Vec<_>, _> = t.lines().map(serde_json::from_str).collect();
                    match events {
                        Ok(events) => c.history = Some(gws_conform::history::History { events }),
                        Err(e) => diffs.push(format!("{}: {e}", p.display())),
                    }
                }
            }
            match cert::rejudge(&mut r, &cert::run_dir(mode, seed)) {
                Ok(j) => {
                    *rejudged += j.cases;
                    *recorded_only += j.without_history;
                    diffs.extend(j.differences);
                }
                Err(e) => diffs.push(format!("re-judging: {e}")),
            }
            runs.push(CertRun {
                seed,
                mode,
                report: r,
                scrubber: Default::default(),
            });
        }
    }
    let again = cert::judge(&st, &claimed.seeds, &runs);
    if again.grade != claimed.grade {
        diffs.push(format!(
            "grade: the evidence gives {}, the certificate says {}",
            again.grade.title(),
            claimed.grade.title()
        ));
    }
    for (a, b) in again.requirements.iter().zip(&claimed.requirements) {
        if a != b {
            diffs.push(format!(
                "{}: the evidence gives {:?} ({}), the certificate says {:?} ({})",
                a.id, a.verdict, a.stability, b.verdict, b.stability
            ));
        }
    }
    if again.requirements.len() != claimed.requirements.len() {
        diffs.push("the certificate's rows are not the catalogue's".to_string());
    }
    if again.contradictions != claimed.contradictions {
        diffs.push(format!(
            "contradictions: the evidence shows {}, the certificate lists {}",
            again.contradictions.len(),
            claimed.contradictions.len()
        ));
    }
    if diffs.is_empty() {
        Ok(runs)
    } else {
        Err(diffs)
    }
}
