//! Judging one case history (SPEC §3): index its record, replay its steps through the
//! model (each request judged by the rules of [`super::rules`]), then the rules over the
//! whole case, and keep per requirement what matters.

#![warn(missing_docs)]

use super::index::{CaseLevel, Index};
use super::replay::Replay;
use super::rules::whole_case;
use super::{CheckConfig, Finding, Shapes, Verdict};
use crate::history::Event;
use crate::spec::ReqId;
use std::collections::HashMap;

/// Judges the events of one case.
pub(crate) fn judge_case(ev: &[Event], cfg: &CheckConfig, shapes: &dyn Shapes) -> Vec<Finding> {
    let idx = Index::build(ev);
    let mut rp = Replay {
        idx: &idx,
        cfg,
        shapes,
        out: vec![],
        chats: HashMap::new(),
    };
    for c in &idx.case_level {
        match c {
            CaseLevel::NotObservable(m) => rp.skip_exercised(m),
            CaseLevel::HarnessError(m) => rp.error_exercised(&format!("harness error: {m}")),
        }
    }
    for at in idx.steps.iter().copied() {
        rp.run_step(at);
    }
    rp.extend(whole_case::cmp18(&idx));
    rp.extend(whole_case::ntf01(&idx, shapes));
    rp.finish_pending17();
    let out = std::mem::take(&mut rp.out);
    compress(out, &idx.exercises)
}

/// Per requirement: every Fail; else every Error; else one Pass; else one Skip. Then a
/// Skip for each target the history never exercised. Catalogue order.
fn compress(all: Vec<Finding>, exercises: &[ReqId]) -> Vec<Finding> {
    let mut out = vec![];
    let mut ids: Vec<ReqId> = ReqId::ALL.to_vec();
    for f in &all {
        if !ids.contains(&f.req) {
            ids.push(f.req);
        }
    }
    for id in ids {
        let of: Vec<&Finding> = all.iter().filter(|f| f.req == id).collect();
        let pick = |v: Verdict| of.iter().filter(move |f| f.verdict == v).cloned().cloned();
        let fails: Vec<Finding> = pick(Verdict::Fail).collect();
        if !fails.is_empty() {
            out.extend(fails);
            continue;
        }
        let errors: Vec<Finding> = pick(Verdict::Error).collect();
        if !errors.is_empty() {
            out.extend(errors);
            continue;
        }
        if let Some(p) = pick(Verdict::Pass).next() {
            out.push(p);
        } else if let Some(s) = pick(Verdict::Skip).next() {
            out.push(s);
        } else if exercises.contains(&id) {
            out.push(Finding::skip(
                id,
                "not exercised: the recorded history never reached a point where it applies",
            ));
        }
    }
    out
}
