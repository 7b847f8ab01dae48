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
    /// Cases not judged again, for want of a history (the run-level `session`
    /// pseudo-case too, unless every case kept its history): their findings are taken
    /// as recorded.
    pub without_history: usize,
    /// Each difference, in words.
    pub differences: Vec<String>,
}

fn pairs(fs: &[check::Finding]) -> Vec<(String, Verdict)> {
    let mut v: Vec<(String, Verdict)> = fs.iter().map(|f| (f.req.to_string(), f.verdict)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then((a.1 as u8).cmp(&(b.1 as u8))));
    v
}

/// The run-level `session` pseudo-case (`session`, or `session-K` in shard K).
fn is_run_level(c: &crate::report::CaseReport) -> bool {
    c.id.starts_with("session") && c.steps.is_empty()
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
    // The run-level pseudo-case (NTF-02 over the Bayeux sessions, NTF-01 of the
    // notifications about no chat of the run) needs the chats the run's cases bound: the
    // Bind events of their histories, when every case kept its history (a certificate
    // keeps them all); otherwise it is taken as recorded.
    let every_history = r
        .cases
        .iter()
        .all(|c| c.history.is_some() || c.id == "harness-error");
    let bound: std::collections::BTreeSet<String> = r
        .cases
        .iter()
        .filter(|c| !is_run_level(c))
        .filter_map(|c| c.history.as_ref())
        .flat_map(|h| h.iter())
        .filter_map(|e| match &e.kind {
            crate::history::EventKind::Bind { chat_id, .. } => Some(chat_id.clone()),
            _ => None,
        })
        .collect();
    for c in &mut r.cases {
        let run_level = is_run_level(c);
        let Some(h) = c.history.as_ref().filter(|_| !run_level || every_history) else {
            out.without_history += 1;
            continue;
        };
        out.cases += 1;
        let again = if run_level {
            let provisioned = |id: &str| bound.contains(id);
            let at = check::RunLevel {
                provisioned: &provisioned,
                offered: bound.len(),
                notifications: h
                    .iter()
                    .filter(|e| matches!(e.kind, crate::history::EventKind::Notification { .. }))
                    .count() as u64,
                elapsed: Duration::from_micros(h.iter().map(|e| e.t_us).max().unwrap_or(0)),
            };
            check::judge_run_level(h, &at, &shapes)
        } else {
            check::judge(h, &cfg, &shapes)
        };
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
