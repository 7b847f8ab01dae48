//! A certification: the catalogue under a statement, over K seeds in every provisioning
//! mode the statement offers, each case's history kept; then the grade, and the bundle.

use super::bundle::{self, BundleError};
use super::contradict::{self, Origin};
use super::grade::{self, Grade, Run};
use super::keys::SigningKey;
use super::predicate::{PREDICATE_TYPE, Predicate};
use super::statement::{Mode, Statement};
use crate::history::redact::Scrubber;
use crate::report::{self, RunReport};
use crate::runner::{self, RunSettings};
use std::path::{Path, PathBuf};

/// One run of a certification, with what it recorded.
#[derive(Debug)]
pub struct CertRun {
    /// Its seed.
    pub seed: u64,
    /// Its provisioning mode.
    pub mode: Mode,
    /// Its report; every case keeps its history.
    pub report: RunReport,
    /// The secrets the run learnt (every file of the bundle is scrubbed with them).
    pub scrubber: Scrubber,
}

/// A finished certification.
#[derive(Debug)]
pub struct Certification {
    /// The runs, in order (mode, then seed).
    pub runs: Vec<CertRun>,
    /// What the bundle's attestation states.
    pub predicate: Predicate,
}

fn kind(m: Mode) -> runner::Mode {
    match m {
        Mode::ProviderState => runner::Mode::ProviderState,
        Mode::CustomerApi => runner::Mode::CustomerApi,
    }
}

/// The mode's name on the command line and in the statement.
pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::ProviderState => "provider-state",
        Mode::CustomerApi => "customer-api",
    }
}

/// The folder of one run inside the bundle.
pub fn run_dir(mode: Mode, seed: u64) -> String {
    format!("runs/{}-seed-{seed}", mode_name(mode))
}

/// Runs at once at most, against the embedded server (each run starts a server of its
/// own, so nothing is shared between them).
pub(crate) const EMBEDDED_RUNS_AT_ONCE: usize = 3;

/// Runs the certification: `base` (the target flags of `run`) for each mode of `st` and
/// each of `seeds`, every case's history kept; a declared capacity bounds the chats the
/// harness holds per agent.
///
/// Against the embedded server the runs go [`EMBEDDED_RUNS_AT_ONCE`] at a time: each has
/// a server of its own. Against an external target they go one after the other: they
/// would share its agents (one run's Bayeux sessions would see the other's chats, and
/// their chats would share the agents' capacity).
/// `on_run` hears of each run as it ends (the command line prints a line per run). After
/// a signal no further run starts.
pub async fn certify(
    st: &Statement,
    seeds: &[u64],
    base: &RunSettings,
    mut on_run: impl FnMut(&CertRun, usize, usize),
) -> Certification {
    use futures_util::StreamExt;
    let jobs: Vec<(Mode, u64)> = st
        .deployment
        .provisioning
        .iter()
        .flat_map(|&m| seeds.iter().map(move |&s| (m, s)))
        .collect();
    let total = jobs.len();
    let width = if base.target.is_none() {
        EMBEDDED_RUNS_AT_ONCE
    } else {
        1
    };
    let mut running = futures_util::stream::iter(jobs)
        // After a signal no further run starts; the interrupted ones are kept.
        .take_while(|_| std::future::ready(!base.cancel.is_cancelled()))
        .map(|(mode, seed)| {
            let mut s = base.clone();
            s.seed = seed;
            s.mode = Some(kind(mode));
            s.keep_histories = true;
            s.listed_cases = usize::MAX;
            s.max_failing_histories = usize::MAX;
            if let Some(c) = st.deployment.capacity {
                s.max_chats_per_agent = Some(c as usize);
            }
            async move {
                let r = runner::execute(s).await;
                CertRun {
                    seed,
                    mode,
                    report: r.report,
                    scrubber: r.scrubber,
                }
            }
        })
        .buffer_unordered(width.max(1));
    let mut runs = Vec::new();
    while let Some(run) = running.next().await {
        on_run(&run, runs.len() + 1, total);
        runs.push(run);
    }
    // In order (mode, then seed), whichever ended first.
    let order = |r: &CertRun| {
        (
            st.deployment.provisioning.iter().position(|m| *m == r.mode),
            seeds.iter().position(|s| *s == r.seed),
        )
    };
    runs.sort_by_key(order);
    // The seeds the certificate claims are those that ran (a signal may have cut them).
    let ran: Vec<u64> = seeds
        .iter()
        .copied()
        .filter(|s| runs.iter().any(|r| r.seed == *s))
        .collect();
    let predicate = judge(st, &ran, &runs);
    Certification { runs, predicate }
}

/// The predicate of `runs` under `st`: the contradictions its histories show, the rows
/// and the grade.
pub fn judge(st: &Statement, seeds: &[u64], runs: &[CertRun]) -> Predicate {
    let graded: Vec<Run<'_>> = runs
        .iter()
        .map(|r| Run {
            seed: r.seed,
            mode: r.mode,
            report: &r.report,
        })
        .collect();
    let histories: Vec<(Origin, &crate::history::History)> = graded
        .iter()
        .zip(runs)
        .flat_map(|(g, r)| {
            r.report
                .cases
                .iter()
                .filter_map(move |c| c.history.as_ref().map(|h| (grade::origin(g, &c.id), h)))
        })
        .collect();
    let contradictions = contradict::contradictions(st, &histories);
    let (rows, g) = grade::grade(st, &graded, &contradictions);
    Predicate::new(st.clone(), seeds.to_vec(), g, contradictions, rows)
}

/// `v` with every secret of `scrub` taken out of its strings (keys and values), so
/// that the JSON stays JSON whatever a secret contains.
fn scrub_value(scrub: &Scrubber, v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(scrub.scrub(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| scrub_value(scrub, x)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (scrub.scrub(&k), scrub_value(scrub, x)))
                .collect(),
        ),
        other => other,
    }
}

/// What [`write_bundle`] wrote.
#[derive(Debug)]
pub struct Written {
    /// The bundle folder.
    pub dir: PathBuf,
    /// Whether it was signed (`attestation.dsse.json`).
    pub signed: bool,
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|source| BundleError::Io {
            path: p.display().to_string(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| BundleError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the bundle into `dir` (which must be empty or absent): `statement.toml` (the
/// vendor's text), `certificate.json` (the predicate), per run `report.json` (without
/// the histories) and one `histories/<case>.ndjson` per case (one event per line), all
/// scrubbed of every secret any run learnt, and `certificate.html`; then, with `key`,
/// `attestation.dsse.json`.
pub fn write_bundle(
    dir: &Path,
    statement_text: &str,
    cert: &Certification,
    key: Option<&SigningKey>,
) -> Result<Written, BundleError> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(BundleError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the bundle folder is not empty (a bundle is written once)",
            ),
        });
    }
    let mut scrub = Scrubber::new();
    for r in &cert.runs {
        for s in r.scrubber.secrets() {
            scrub.add(s.clone());
        }
    }
    write(
        &dir.join("statement.toml"),
        scrub.scrub(statement_text).as_bytes(),
    )?;
    let pred = scrub_value(
        &scrub,
        serde_json::to_value(&cert.predicate).expect("a predicate serialises"),
    );
    let text = serde_json::to_string_pretty(&pred).expect("JSON serialises") + "\n";
    write(&dir.join("certificate.json"), text.as_bytes())?;
    for r in &cert.runs {
        let rd = dir.join(run_dir(r.mode, r.seed));
        let stems = report::case_stems(&r.report);
        let mut lean = r.report.clone();
        for c in &mut lean.cases {
            let Some(h) = c.history.take() else { continue };
            let stem = stems.get(&c.id).cloned().unwrap_or_else(|| c.id.clone());
            let mut text = String::new();
            for e in &h.events {
                let v = serde_json::to_value(e).expect("an event serialises");
                text.push_str(&scrub_value(&scrub, v).to_string());
                text.push('\n');
            }
            write(
                &rd.join("histories").join(format!("{stem}.ndjson")),
                text.as_bytes(),
            )?;
        }
        report::write_json(&rd, &lean, &scrub).map_err(|e| BundleError::Io {
            path: rd.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    let fingerprint = key.map(|k| k.public().fingerprint());
    let page =
        super::html::certificate_html(&cert.predicate, fingerprint.as_deref(), statement_text);
    write(&dir.join("certificate.html"), scrub.scrub(&page).as_bytes())?;
    if let Some(k) = key {
        bundle::sign(dir, PREDICATE_TYPE, pred, k)?;
    }
    Ok(Written {
        dir: dir.to_path_buf(),
        signed: key.is_some(),
    })
}

/// The exit code of a grade: 0 (conformant, with or without exceptions), 1 (not
/// conformant), 3 (incomplete: harness errors).
pub fn exit_code(g: Grade) -> i32 {
    match g {
        Grade::Conformant | Grade::ConformantWithExceptions => crate::exit::CONFORMANT,
        Grade::NotConformant => crate::exit::FAILURES,
        Grade::Incomplete => crate::exit::HARNESS,
    }
}
