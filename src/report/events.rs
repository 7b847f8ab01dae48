//! `--events PATH` (`GWS_EVENTS`): the run as NDJSON, one JSON object a line, written as
//! the run goes (issue 14.6), for dashboards and other tools.
//!
//! Every line has a `type`:
//! - `run_started`: `time`, `seed`, `target` (absent for the embedded server), `shard`;
//! - `case_started`: `case`, `seed`, `exercises`, `time`: the runner picked the case up;
//! - the case's recorded events once it is judged, each with `case`: `step`, `bind`,
//!   `request`, `response`, `no_response`, `notification`, `bayeux`, `inspect`, `quiet`,
//!   … (the fields of `history` in a case file: `seq`, `t_us` from the case's start,
//!   `stream`, …; secret header values redacted);
//! - `verdict`: `case`, `seed`, `verdict`, `failed` (requirement ids), `findings`,
//!   `duration_ms`, `time`: the case is judged (a failing case is shrunk afterwards; its
//!   verdict does not change);
//! - `run_finished`: `run_id`, `overall`, `exit_code`, `cases`, `time`, after the
//!   `verdict` lines of the run's pseudo-cases (`session`, `harness-error`).
//!
//! A case's events are written, and the file flushed, as soon as the case is judged:
//! while requests are in flight the file already holds its `case_started`. There is one
//! `verdict` line per case of `report.json`. Everything passes through the run's
//! scrubber before it is written.
//!
//! [`RunEvent`] is what happens in a run, as plain data, and [`Reporter`] what takes it:
//! the runner tells its reporters (the terminal's progress, [`super::term::TermProgress`],
//! and this NDJSON stream, [`EventSink`]) and prints nothing itself.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::types::{CaseReport, RunReport};
use crate::check::{Finding, Verdict};
use crate::history::History;
use crate::history::redact::{Scrubber, SharedScrubber};
use crate::spec::ReqId;

/// `url` without `user:password@` (a target given with credentials in it).
fn without_userinfo(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// A judged case, borrowed from wherever it lives (the runner's outcome of a case, or a
/// case of a report).
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// The case id.
    pub id: &'a str,
    /// The case's seed.
    pub seed: u64,
    /// What was recorded, when kept.
    pub history: Option<&'a History>,
    /// What the checker found.
    pub findings: &'a [Finding],
    /// The case's verdict.
    pub verdict: Verdict,
    /// Wall time of the case, in ms.
    pub duration_ms: u64,
}

impl<'a> From<&'a CaseReport> for Judged<'a> {
    fn from(c: &'a CaseReport) -> Self {
        Judged {
            id: &c.id,
            seed: c.seed,
            history: c.history.as_ref(),
            findings: &c.findings,
            verdict: c.verdict,
            duration_ms: c.duration_ms,
        }
    }
}

/// The NDJSON lines of one judged case (without newlines): its recorded events, then
/// its `verdict`.
pub(crate) fn judged_lines(case: Judged<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = case.history {
        for e in &h.events {
            // The history's own first event names the case: `case_started` said it.
            if matches!(e.kind, crate::history::EventKind::Case { .. }) {
                continue;
            }
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("case".into(), json!(case.id));
            }
            out.push(v.to_string());
        }
    }
    let failed: std::collections::BTreeSet<ReqId> = case
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| f.req)
        .collect();
    out.push(
        json!({
            "type": "verdict",
            "case": case.id,
            "seed": case.seed,
            "verdict": case.verdict,
            "failed": failed,
            "findings": case.findings.len(),
            "duration_ms": case.duration_ms,
            "time": now()
        })
        .to_string(),
    );
    out
}

/// The NDJSON lines of one case of a report (without newlines).
pub(crate) fn case_lines(case: &CaseReport) -> Vec<String> {
    judged_lines(case.into())
}

/// Writes the lines of `case` to `w`, each followed by `\n`, and flushes.
pub fn write_case(w: &mut impl Write, case: &CaseReport) -> std::io::Result<()> {
    for l in case_lines(case) {
        w.write_all(l.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

struct Inner {
    out: Box<dyn Write + Send>,
    /// Where the lines go, for messages.
    name: String,
    /// The first write error; nothing more is written after it.
    error: Option<String>,
    /// Cases whose `verdict` line is written.
    judged: HashSet<String>,
}

/// Where `--events` lines go: shared by the runner (which calls [`EventSink::case_started`]
/// and [`EventSink::case_judged`] as cases go) and the CLI (run start and end). Writes are
/// serialized and flushed per case. A write error does not stop the run: the first one
/// is kept ([`EventSink::error`]) and nothing more is written.
#[derive(Clone)]
pub struct EventSink(Arc<Mutex<Inner>>);

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.lock().name.clone();
        f.debug_tuple("EventSink").field(&name).finish()
    }
}

/// Why the events file could not be created: the path (or its folder) and the error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct CreateError {
    /// The file or folder that could not be created.
    pub path: std::path::PathBuf,
    /// Why.
    pub error: std::io::Error,
}

impl EventSink {
    /// Creates (truncates) `path`, and its parent folders. The error names the path.
    pub fn create(path: &Path) -> Result<EventSink, CreateError> {
        let err = |p: &Path| {
            let path = p.to_path_buf();
            move |error| CreateError { path, error }
        };
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(err(d))?;
        }
        let f = std::fs::File::create(path).map_err(err(path))?;
        Ok(Self::to_writer(
            std::io::BufWriter::new(f),
            &path.display().to_string(),
        ))
    }

    /// Lines go to `w` (named `name` in messages).
    pub fn to_writer(w: impl Write + Send + 'static, name: &str) -> EventSink {
        EventSink(Arc::new(Mutex::new(Inner {
            out: Box::new(w),
            name: name.to_string(),
            error: None,
            judged: HashSet::new(),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `lines` (each scrubbed by `scrub`) and flushes.
    fn write(&self, lines: &[String], scrub: &dyn Fn(&str) -> String) {
        let mut g = self.lock();
        if g.error.is_some() {
            return;
        }
        let mut res = Ok(());
        for l in lines {
            res = res
                .and_then(|_| g.out.write_all(scrub(l).as_bytes()))
                .and_then(|_| g.out.write_all(b"\n"));
        }
        if let Err(e) = res.and_then(|_| g.out.flush()) {
            g.error = Some(format!("{}: {e}", g.name));
        }
    }

    /// The first write error, naming the file.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// `run_started`: the seed, the target (`None`: the embedded server; any userinfo
    /// dropped) and the shard.
    pub fn run_started(
        &self,
        seed: u64,
        target: Option<&str>,
        shard: Option<(u32, u32)>,
        scrub: &Scrubber,
    ) {
        let mut v = json!({"type": "run_started", "time": now(), "seed": seed});
        if let Some(t) = target {
            v["target"] = json!(without_userinfo(t));
        }
        if let Some((k, n)) = shard {
            v["shard"] = json!(format!("{k}/{n}"));
        }
        self.write(&[v.to_string()], &|l| super::scrub_text(scrub, l));
    }

    /// `case_started` of a case the runner picked up: its id, its seed and the
    /// requirements it exercises.
    pub fn case_started(&self, id: &str, seed: u64, exercises: &[ReqId]) {
        let v = json!({
            "type": "case_started",
            "case": id,
            "seed": seed,
            "exercises": exercises,
            "time": now()
        });
        // Nothing here comes from the target, and the ids and seeds are the harness's.
        self.write(&[v.to_string()], &|l| l.to_string());
    }

    /// The recorded events and the `verdict` of a case just judged, scrubbed with the
    /// run's live scrubber (`secrets`: every secret learnt so far).
    pub fn case_judged(&self, case: Judged<'_>, secrets: &SharedScrubber) {
        self.judged(case, &|l| secrets.scrub(l));
    }

    fn judged(&self, case: Judged<'_>, scrub: &dyn Fn(&str) -> String) {
        let lines = judged_lines(case);
        self.write(&lines, scrub);
        self.lock().judged.insert(case.id.to_string());
    }

    /// At the end of the run: the `verdict` of every case of `report` not judged through
    /// [`EventSink::case_judged`] (the pseudo-cases `session` and `harness-error`), then
    /// `run_finished`.
    pub fn run_finished(&self, report: &RunReport, scrub: &Scrubber) {
        let f = |l: &str| super::scrub_text(scrub, l);
        for c in &report.cases {
            if !self.lock().judged.contains(&c.id) {
                self.judged(c.into(), &f);
            }
        }
        let v = json!({
            "type": "run_finished",
            "time": now(),
            "run_id": report.run_id,
            "overall": report.overall,
            "exit_code": report.exit_code,
            "cases": report.cases.len()
        });
        self.write(&[v.to_string()], &f);
    }
}

/// What happens in a run, in order, as plain data: the runner emits the events of its
/// cases and shrinks; the command line emits `RunStarted` and `RunFinished` (the report
/// it finishes: baseline applied).
#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    /// The run starts: its seed, its target (`None`: the embedded server) and shard.
    RunStarted {
        /// The run's seed.
        seed: u64,
        /// The target (`None`: the embedded server).
        target: Option<&'a str>,
        /// Shard K of N.
        shard: Option<(u32, u32)>,
        /// The secrets known so far.
        scrub: &'a Scrubber,
    },
    /// A warning about how the run is set up (e.g. `--insecure`).
    Warning(&'a str),
    /// Nothing changed for a while: what the run waits on (`waiting for 6 agent POST
    /// Complete answers, 4 s so far`).
    Waiting(&'a str),
    /// The cases are planned (`None`: random sequences until `--duration` ends).
    CasesPlanned {
        /// How many cases the run has.
        total: Option<usize>,
    },
    /// The runner picked a case up.
    CaseStarted {
        /// The case id.
        id: &'a str,
        /// The case's seed.
        seed: u64,
        /// The requirements it exercises.
        exercises: &'a [ReqId],
    },
    /// A case is judged.
    CaseJudged {
        /// The case and its verdict.
        case: Judged<'a>,
        /// Every secret the run learnt so far.
        secrets: &'a SharedScrubber,
    },
    /// Every case is judged and every shrink done; `histories_dropped` failing cases
    /// kept their findings but not their history.
    CasesDone {
        /// Failing cases whose history was dropped.
        histories_dropped: usize,
        /// Failing histories a run keeps.
        max_failing_histories: usize,
    },
    /// The shrink of distinct failure `group` (from 0) starts.
    ShrinkStarted {
        /// The failure group.
        group: usize,
    },
    /// How far the shrink of `group` is (`elapsed`: since it started re-running).
    ShrinkProgress {
        /// The failure group.
        group: usize,
        /// What it is doing, e.g. `shrinking #1 [...]: 9 → 4 steps, 12/200 runs`.
        message: &'a str,
        /// `None` while it waits for the other cases (no re-run yet).
        elapsed: Option<std::time::Duration>,
    },
    /// The shrink of `group` is done.
    ShrinkDone {
        /// The failure group.
        group: usize,
        /// What it did, e.g. `shrunk #1 [...]: 9 → 3 steps in 20 runs, 1.2 s`.
        message: &'a str,
    },
    /// The run is finished: its report (with the baseline applied).
    RunFinished {
        /// The report.
        report: &'a RunReport,
        /// The run's secrets.
        scrub: &'a Scrubber,
    },
}

/// What takes a run's events (the terminal's progress, the NDJSON stream, ...). `&self`:
/// the cases and shrinks of a run are concurrent.
pub trait Reporter {
    /// Takes one event.
    fn event(&self, e: &RunEvent<'_>);
}

impl Reporter for EventSink {
    fn event(&self, e: &RunEvent<'_>) {
        match *e {
            RunEvent::RunStarted {
                seed,
                target,
                shard,
                scrub,
            } => self.run_started(seed, target, shard, scrub),
            RunEvent::CaseStarted {
                id,
                seed,
                exercises,
            } => self.case_started(id, seed, exercises),
            RunEvent::CaseJudged { case, secrets } => self.case_judged(case, secrets),
            RunEvent::RunFinished { report, scrub } => self.run_finished(report, scrub),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back, or one that always fails.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>, bool);

    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.1 {
                return Err(std::io::Error::other("disk full"));
            }
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn event_sink_frames_the_run_scrubs_and_keeps_the_first_write_error() {
        let buf = Shared::default();
        let sink = EventSink::to_writer(buf.clone(), "test");
        let mut scrub = Scrubber::new();
        scrub.add_credentials("agent1", "pw-Secret-77");
        sink.run_started(
            5,
            Some("https://agent1:pw-Secret-77@gws.example/"),
            Some((2, 3)),
            &scrub,
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["type"], "run_started");
        assert_eq!(v["target"], "https://gws.example/");
        assert_eq!(v["shard"], "2/3");
        assert!(!text.contains("pw-Secret-77"), "{text}");
        assert!(sink.error().is_none());

        let bad = EventSink::to_writer(Shared(Default::default(), true), "events.ndjson");
        bad.run_started(1, None, None, &scrub);
        let e = bad.error().unwrap();
        assert!(
            e.contains("events.ndjson") && e.contains("disk full"),
            "{e}"
        );
        // Nothing more is attempted, and nothing panics.
        bad.run_started(1, None, None, &scrub);
        assert_eq!(bad.error().unwrap(), e);
    }
}
