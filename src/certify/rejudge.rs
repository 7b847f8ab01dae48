//! A bundle's verdicts re-derived with this binary's checker and model: every recorded
//! case history judged again, the requirement rows recomputed from those findings, and
//! both compared with what the bundle's reports say.

use crate::check::{self, CheckConfig, Verdict};
use crate::report::{self, RunReport};
use crate::runner::exec::SchemaShapes;
use crate::schema::Schemas;
use std::time::Duration;

/// What re-judging one run found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rejudged {
    /// Cases judged again from their history.
    pub cases: usize,
    /// Cases not judged again: without a history, or the run-level `session`
    /// pseudo-case (judged over the whole run with the runner's routing state): their
    /// findings are taken as recorded.
    pub without_history: usize,
    /// Each difference, in words.
    pub differences: Vec<String>,
}

fn pairs(fs: &[check::Finding]) -> Vec<(String, Verdict)> {
    let mut v: Vec<(String, Verdict)> = fs.iter().map(|f| (f.req.to_string(), f.verdict)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then((a.1 as u8).cmp(&(b.1 as u8))));
    v
}

/// Re-judges `r` in place: each case's findings become this binary's judgement of its
/// history, and the rows are recomputed from them. Returns the differences with what
/// `r` said (`where_` names the run in each).
pub fn rejudge(r: &mut RunReport, where_: &str) -> Result<Rejudged, String> {
    let schemas = Schemas::embedded().map_err(|e| e.to_string())?;
    let shapes = SchemaShapes(schemas);
    let cfg = CheckConfig {
        deadline: Duration::from_millis(r.config.deadline_ms),
        quiet_window: Duration::from_millis(r.config.quiet_window_ms),
    };
    let mut out = Rejudged::default();
    for c in &mut r.cases {
        // the run-level pseudo-case (NTF-02 over the Bayeux sessions, NTF-01 of the
        // notifications about no chat of the run) is judged with the runner's routing
        // state, which a bundle does not hold: taken as recorded
        let run_level = c.id == "session" && c.steps.is_empty();
        let Some(h) = c.history.as_ref().filter(|_| !run_level) else {
            out.without_history += 1;
            continue;
        };
        out.cases += 1;
        let again = check::judge(h, &cfg, &shapes);
        if pairs(&again) != pairs(&c.findings) {
            out.differences.push(format!(
                "{where_}: case {}: its history gives {:?}, the report says {:?}",
                c.id,
                pairs(&again),
                pairs(&c.findings)
            ));
        }
        c.verdict = check::fold(again.iter().map(|f| &f.verdict));
        c.findings = again;
    }
    let before: Vec<(String, Verdict)> = r
        .requirements
        .iter()
        .map(|q| (q.id.clone(), q.verdict))
        .collect();
    report::table::recompute(r);
    for (q, (id, v)) in r.requirements.iter().zip(&before) {
        if q.verdict != *v && *v != Verdict::Waived {
            out.differences.push(format!(
                "{where_}: {id}: the cases give {}, the report says {}",
                q.verdict.as_str(),
                v.as_str()
            ));
        }
    }
    Ok(out)
}
