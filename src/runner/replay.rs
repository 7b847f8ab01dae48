//! How a replay is judged: a saved failing case (`report::CaseFile`) against the run that
//! replayed it. Pure: the binary prints the line and exits with the code.

use crate::check::Verdict;
use crate::exit;
use crate::report::{self, Overall, RunReport};

/// The first line `replay` prints and its exit code: 1 when a requirement the case file
/// recorded as failed fails again (whatever its level: a SHOULD too), or when the replay
/// fails another requirement; 0 only when nothing fails any more; 3 when the harness or
/// the environment broke before a verdict.
pub fn replay_outcome(file: &report::CaseFile, r: &RunReport) -> (String, i32) {
    use crate::spec::ReqId;
    let mut recorded: Vec<ReqId> = Vec::new();
    for f in file.findings.iter().filter(|f| f.verdict == Verdict::Fail) {
        if !recorded.contains(&f.req) {
            recorded.push(f.req);
        }
    }
    let mut failing_now: Vec<(ReqId, String)> = Vec::new();
    for c in &r.cases {
        for f in c.findings.iter().filter(|f| f.verdict == Verdict::Fail) {
            if !failing_now.iter().any(|(q, _)| *q == f.req) {
                failing_now.push((f.req, f.reason.clone()));
            }
        }
    }
    let again: Vec<&(ReqId, String)> = failing_now
        .iter()
        .filter(|(q, _)| recorded.contains(q))
        .collect();
    let others: Vec<&(ReqId, String)> = failing_now
        .iter()
        .filter(|(q, _)| !recorded.contains(q))
        .collect();
    let esc = |s: &str| report::term::escape_line(&report::truncate_chars(s, 200));
    if let Some((q, reason)) = again.first() {
        let mut line = format!("reproduced: {q} {}", esc(reason));
        for (q, _) in again.iter().skip(1) {
            line.push_str(&format!("; {q}"));
        }
        return (line, exit::FAILURES);
    }
    if r.overall == Overall::Interrupted {
        return (
            "not replayed to the end: interrupted by a signal (nothing is concluded)".into(),
            r.overall.exit_code(),
        );
    }
    if r.overall == Overall::Error {
        let why = r
            .errors
            .first()
            .cloned()
            .unwrap_or_else(|| "a harness error (see below)".into());
        return (
            format!("not replayed: harness or environment error: {}", esc(&why)),
            exit::HARNESS,
        );
    }
    let was = crate::spec::join(&recorded, ", ");
    if let Some((q, reason)) = others.first() {
        return (
            format!(
                "no longer reproduces ({was}), but now fails {q} {}",
                esc(reason)
            ),
            exit::FAILURES,
        );
    }
    (format!("no longer reproduces ({was})"), exit::CONFORMANT)
}
