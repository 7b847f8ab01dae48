//! What a run keeps of its cases as they are judged: the listed reports, the distinct
//! failures (groups) and what shrinking made of them, coverage and unlisted passes.

use super::exec::{CaseOutcome, Env};
use super::{Found, RunSettings, Tell, groups, shrink};
use crate::cases::Case;
use crate::cases::coverage;
use crate::check::Verdict;
use crate::report::events::RunEvent;
use crate::report::{self, CaseReport};
use crate::spec::ReqId;

/// A distinct failure found while the run goes on: its signature, the case being
/// shrunk for it, and the other cases that failed the same way (run order).
struct Group {
    signature: String,
    requirements: Vec<ReqId>,
    /// What the representative failed (before shrinking).
    rep_failed: std::collections::BTreeSet<ReqId>,
    rep_index: usize,
    rep: Case,
    others: Vec<usize>,
}

/// What the run keeps of a judged case until the report is written.
struct Judged {
    index: usize,
    report: CaseReport,
}

/// What the run keeps of its judged cases as they come.
#[derive(Default)]
pub(super) struct Judging {
    judged: Vec<Judged>,
    groups: Vec<Group>,
    covered: coverage::Accumulator,
    unlisted: report::Unlisted,
    listed_passing: usize,
    histories_kept: usize,
    histories_dropped: usize,
}

impl Judging {
    /// Takes the judged case number `i`; returns its group and signature when it is the
    /// first case of a distinct failure (to be shrunk). A history kept for the report is
    /// charged against the run's budget of notification bytes ([`Env::charge_kept`]):
    /// without room, only the case's findings are kept.
    pub(super) fn take(
        &mut self,
        s: &RunSettings,
        env: &Env,
        i: usize,
        case: Case,
        out: CaseOutcome,
    ) -> Option<(usize, String)> {
        self.covered.add(&case);
        let failing = matches!(out.verdict, Verdict::Fail | Verdict::Error);
        let mut keep = s.keep_histories;
        let mut first = None;
        if let Some(sig) = groups::signature(&out.findings) {
            match self.groups.iter_mut().find(|g| g.signature == sig) {
                Some(g) => {
                    // One anomaly, noticed by whichever requirements: the group's
                    // requirements are the union of its cases'.
                    for r in out.failed() {
                        if !g.requirements.contains(&r) {
                            g.requirements.push(r);
                        }
                    }
                    g.requirements.sort();
                    g.others.push(i);
                }
                None => {
                    // The first case of a distinct failure: shrink it now.
                    let g = self.groups.len();
                    self.groups.push(Group {
                        signature: sig.clone(),
                        requirements: out.failed().into_iter().collect(),
                        rep_failed: out.failed(),
                        rep_index: i,
                        rep: case.clone(),
                        others: Vec::new(),
                    });
                    first = Some((g, sig));
                    keep = true;
                }
            }
        }
        if failing && !keep {
            if self.histories_kept < s.max_failing_histories {
                self.histories_kept += 1;
                keep = true;
            } else {
                self.histories_dropped += 1;
            }
        }
        if !keep && out.verdict == Verdict::Pass {
            if self.listed_passing >= s.listed_cases {
                self.unlisted.add(&out.findings);
                return first;
            }
            self.listed_passing += 1;
        }
        // A failing case's history is kept while `max_failing_histories` allows (`keep`
        // was set above), and while the budget has room.
        let keep_history = keep && (s.keep_histories || env.charge_kept(&out.history));
        self.judged.push(Judged {
            index: i,
            report: case_report(case, out, keep_history, None),
        });
        first
    }

    /// Every case judged and every shrink done: the run's findings, in run order, each
    /// group's representative replaced by its shrunk form.
    pub(super) fn finish(
        mut self,
        s: &RunSettings,
        tell: &Tell,
        shrunk: std::collections::BTreeMap<usize, shrink::Shrunk<CaseOutcome>>,
        limits: shrink::Limits,
    ) -> Found {
        tell.event(&RunEvent::CasesDone {
            histories_dropped: self.histories_dropped,
            max_failing_histories: s.max_failing_histories,
        });
        self.judged.sort_by_key(|j| j.index);
        let out_groups = finish_groups(&self.groups, shrunk, &mut self.judged, limits);
        Found {
            cases: self.judged.into_iter().map(|j| j.report).collect(),
            groups: (!out_groups.is_empty()).then_some(out_groups),
            coverage: Some(self.covered.finish()),
            unlisted: (self.unlisted.cases > 0).then_some(self.unlisted),
            not_started: None,
        }
    }
}

/// The report's failure groups: each with its shrink's figures, its representative's
/// report replaced by the shrunk case's when shrinking confirmed a smaller one.
fn finish_groups(
    groups: &[Group],
    mut shrunk: std::collections::BTreeMap<usize, shrink::Shrunk<CaseOutcome>>,
    judged: &mut Vec<Judged>,
    limits: shrink::Limits,
) -> Vec<report::FailureGroup> {
    let id_of: std::collections::BTreeMap<usize, String> = judged
        .iter()
        .map(|j| (j.index, j.report.id.clone()))
        .collect();
    let mut out_groups = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let result = shrunk.remove(&gi);
        let mut fg = report::FailureGroup {
            signature: g.signature.clone(),
            requirements: g.requirements.clone(),
            representative: g.rep.id.clone(),
            others: g
                .others
                .iter()
                .filter_map(|i| id_of.get(i).cloned())
                .collect(),
            original_steps: g.rep.steps.len(),
            shrunk_steps: g.rep.steps.len(),
            runs: 0,
            budget: limits.budget,
            elapsed_ms: 0,
            limit_ms: limits.time.as_millis() as u64,
            stopped: None,
            kept: Vec::new(),
        };
        if let Some(r) = result {
            fg.runs = r.runs;
            fg.elapsed_ms = r.elapsed.as_millis() as u64;
            fg.stopped = r.stopped.map(|st| {
                let figures = format!(
                    "{}/{} runs, {:.1}/{:.1} s",
                    r.runs,
                    limits.budget,
                    r.elapsed.as_secs_f64(),
                    limits.time.as_secs_f64()
                );
                match st {
                    shrink::Stop::Budget => format!("budget of re-runs ran out: {figures}"),
                    shrink::Stop::Time => format!("time limit ran out: {figures}"),
                }
            });
            if r.stopped.is_none() && r.case.steps.len() > 6 {
                fg.kept = r.kept.clone();
            }
            if let Some(again) = r.outcome {
                fg.shrunk_steps = r.case.steps.len();
                let at = judged.iter().position(|j| j.index == g.rep_index);
                if g.rep_failed.is_subset(&again.failed()) {
                    // The smaller case fails everything the original did: it stands in
                    // for it.
                    if let Some(at) = at {
                        judged[at].report =
                            case_report(r.case.clone(), again, true, Some(g.rep.steps.len()));
                    }
                } else {
                    // Same anomalies, fewer requirements (five concurrent Completes
                    // shrunk to one): the original keeps its verdicts, and the smaller
                    // case is listed after it as the group's representative.
                    let mut case = r.case.clone();
                    case.id = format!("{}-min", g.rep.id);
                    fg.others.insert(0, g.rep.id.clone());
                    fg.representative = case.id.clone();
                    let min = Judged {
                        index: g.rep_index,
                        report: case_report(case, again, true, Some(g.rep.steps.len())),
                    };
                    match at {
                        Some(at) => judged.insert(at + 1, min),
                        None => judged.push(min),
                    }
                }
            }
        }
        out_groups.push(fg);
    }
    out_groups
}

/// The report of a judged case; its history only when `keep_history`.
fn case_report(
    case: Case,
    out: CaseOutcome,
    keep_history: bool,
    original_steps: Option<usize>,
) -> CaseReport {
    CaseReport {
        id: case.id,
        seed: case.seed,
        exercises: case.exercises,
        steps: case.steps,
        verdict: out.verdict,
        findings: out.findings,
        history: keep_history.then_some(out.history),
        original_steps,
        duration_ms: out.duration.as_millis() as u64,
    }
}
