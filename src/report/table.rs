//! Folding case findings into requirement verdicts and the overall verdict, and merging
//! shard reports. [`requirement_table`] is the one place where that fold happens.

use super::ReportError;
use super::types::{CaseReport, Counts, Overall, RequirementReport, RunReport, Unlisted};
use crate::check::{Verdict, fold};
use crate::spec::{CATALOGUE, Level};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Folds the findings of `cases` into one row per requirement of
/// [`CATALOGUE`](crate::spec::CATALOGUE) (in catalogue order) and the overall verdict.
///
/// - A requirement's verdict is [`fold`] of each case's own fold of its findings for it;
///   `counts` counts cases by that per-case verdict; no finding at all → Skip
///   "not exercised".
/// - `reason`: the first failing case's reason, else the first error's, else the first
///   skip's (for a Skip verdict), else the first pass's.
/// - Overall: any MUST Fail (or SHOULD Fail when `strict`) → NotConformant; else any
///   Error on a MUST (or no case ran) → Error; else Conformant. Skips never block.
///
/// Findings citing an id outside the catalogue cannot be tabled; they are left out (the
/// checker only cites catalogue ids).
pub fn requirement_table(cases: &[CaseReport], strict: bool) -> (Vec<RequirementReport>, Overall) {
    requirement_table_with(cases, None, strict)
}

/// [`requirement_table`] including the passing cases a long run counted without listing
/// them.
pub fn requirement_table_with(
    cases: &[CaseReport],
    unlisted: Option<&Unlisted>,
    strict: bool,
) -> (Vec<RequirementReport>, Overall) {
    let rows: Vec<RequirementReport> = CATALOGUE
        .iter()
        .map(|r| {
            let mut counts = Counts::default();
            let mut per_case = Vec::new();
            let mut failing = Vec::new();
            let mut first: [Option<String>; 5] = Default::default();
            for c in cases {
                let fs: Vec<_> = c
                    .findings
                    .iter()
                    .filter(|f| r.id == f.req.as_str())
                    .collect();
                if fs.is_empty() {
                    continue;
                }
                let v = fold(fs.iter().map(|f| &f.verdict));
                counts.add(v);
                per_case.push(v);
                if v == Verdict::Fail && !failing.contains(&c.id) {
                    failing.push(c.id.clone());
                }
                let slot = &mut first[v as usize];
                if slot.is_none() {
                    let f = fs.iter().find(|f| f.verdict == v).unwrap_or(&fs[0]);
                    *slot = Some(if v == Verdict::Fail {
                        format!("{} (case {})", f.reason, c.id)
                    } else {
                        f.reason.clone()
                    });
                }
            }
            if let Some(u) = unlisted
                && let Some(c) = u.counts.get(r.id.as_str())
            {
                counts.pass += c.pass;
                counts.skip += c.skip;
                for (n, v) in [(c.pass, Verdict::Pass), (c.skip, Verdict::Skip)] {
                    if n > 0 {
                        per_case.push(v);
                        let slot = &mut first[v as usize];
                        if slot.is_none() {
                            *slot = u.reasons.get(r.id.as_str()).cloned();
                        }
                    }
                }
            }
            let verdict = fold(per_case.iter());
            let reason = if per_case.is_empty() {
                "not exercised".to_string()
            } else {
                first[verdict as usize].clone().unwrap_or_default()
            };
            RequirementReport {
                id: r.id.to_string(),
                level: r.level,
                text: r.text.to_string(),
                verdict,
                reason,
                counts,
                failing_cases: failing,
                waiver_unused: false,
            }
        })
        .collect();
    let any = !cases.is_empty() || unlisted.is_some_and(|u| u.cases > 0);
    let overall = overall_of(&rows, strict, any);
    (rows, overall)
}

/// The overall verdict of requirement rows (the rule of [`requirement_table`]); Waived
/// and Skip never block. `any_case_ran == false` → Error.
pub(crate) fn overall_of(rows: &[RequirementReport], strict: bool, any_case_ran: bool) -> Overall {
    let blocking = |l: Level| l == Level::Must || (strict && l == Level::Should);
    if rows
        .iter()
        .any(|r| r.verdict == Verdict::Fail && blocking(r.level))
    {
        Overall::NotConformant
    } else if !any_case_ran
        || rows
            .iter()
            .any(|r| r.verdict == Verdict::Error && r.level == Level::Must)
    {
        Overall::Error
    } else {
        Overall::Conformant
    }
}

/// A run's outcome from the outcome of its rows and what happened to the run: a signal
/// makes it Interrupted (nothing is certified, whatever was judged); run-level harness
/// errors keep a Conformant outcome from certifying (Error), while a blocking failure the
/// target made stays NotConformant.
pub(crate) fn settled(rows: Overall, has_errors: bool, interrupted: bool) -> Overall {
    if interrupted {
        Overall::Interrupted
    } else if rows == Overall::Conformant && has_errors {
        Overall::Error
    } else {
        rows
    }
}

/// Recomputes `requirements`, `overall` and `exit_code` of `report` from its cases
/// (baseline waivers must be applied again afterwards). Run-level `errors` turn a
/// Conformant outcome into Error: a run whose harness broke certifies nothing.
///
/// Findings cite a [`crate::spec::ReqId`], so an id outside the catalogue cannot get
/// this far: a report file naming one is refused when it is read.
pub(crate) fn recompute(report: &mut RunReport) {
    let (rows, mut overall) = requirement_table_with(
        &report.cases,
        report.unlisted.as_ref(),
        report.config.strict,
    );
    overall = settled(
        overall,
        !report.errors.is_empty(),
        report.interrupted.is_some(),
    );
    report.requirements = rows;
    report.overall = overall;
    report.exit_code = overall.exit_code();
}

/// Whether two shard reports name the same target. Embedded targets are compared
/// without their port numbers: each shard started its own server on a free port.
fn same_target(a: &RunReport, b: &RunReport) -> bool {
    fn without_ports(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c == ':' && it.peek().is_some_and(|d| d.is_ascii_digit()) {
                while it.peek().is_some_and(|d| d.is_ascii_digit()) {
                    it.next();
                }
            } else {
                out.push(c);
            }
        }
        out
    }
    match (a.embedded, b.embedded) {
        (true, true) => without_ports(&a.target) == without_ports(&b.target),
        (false, false) => a.target == b.target,
        _ => false,
    }
}

/// Merges the shard reports of one run into one report.
///
/// Requires the same seed, target, harness version and strictness in every shard, and
/// disjoint case ids. Cases are unioned and sorted by id; requirement verdicts, overall
/// and exit code are recomputed ([`recompute`]); `started_at` is the earliest,
/// `duration_ms` the longest, `run_id` the first shard's, `config.cases` the sum and
/// `config.shard` cleared. Run-level errors are concatenated (each once).
pub fn merge(reports: Vec<RunReport>) -> Result<RunReport, ReportError> {
    let mut it = reports.into_iter();
    let Some(mut out) = it.next() else {
        return Err(ReportError::Merge("no shard report given".into()));
    };
    let mut ids: HashSet<String> = HashSet::new();
    let mut shards: BTreeSet<String> = BTreeSet::new();
    // The baseline decisions of the shards (waived reason, waiver unused), per id.
    let mut waived: BTreeMap<String, String> = BTreeMap::new();
    let mut unused: BTreeSet<String> = BTreeSet::new();
    let mut note_baseline = |r: &RunReport| {
        for q in &r.requirements {
            if q.verdict == Verdict::Waived {
                waived
                    .entry(q.id.clone())
                    .or_insert_with(|| q.reason.clone());
            }
            if q.waiver_unused {
                unused.insert(q.id.clone());
            }
        }
    };
    note_baseline(&out);
    for c in &out.cases {
        if !ids.insert(c.id.clone()) {
            return Err(ReportError::Merge(format!(
                "case {} appears twice in shard {}",
                c.id,
                out.config.shard.as_deref().unwrap_or("1")
            )));
        }
    }
    if let Some(s) = &out.config.shard {
        shards.insert(s.clone());
    }
    // Coverage figures describe one shard's plan: a merged report has none.
    out.coverage = None;
    for (i, r) in it.enumerate() {
        let n = i + 2;
        check_shard(&out, &r, n, &mut shards)?;
        for c in &r.cases {
            if !ids.insert(c.id.clone()) {
                return Err(ReportError::Merge(format!(
                    "shards overlap: case {} is in report #{n} and an earlier one",
                    c.id
                )));
            }
        }
        note_baseline(&r);
        absorb(&mut out, r);
    }
    out.cases.sort_by(|a, b| a.id.cmp(&b.id));
    out.config.shard = None;
    recompute(&mut out);
    apply_shard_baselines(&mut out, &waived, &unused);
    Ok(out)
}

/// Shard report `r` (#`n`) is of the same run as `out` (seed, target, harness version,
/// strictness) and names a shard not seen yet.
fn check_shard(
    out: &RunReport,
    r: &RunReport,
    n: usize,
    shards: &mut BTreeSet<String>,
) -> Result<(), ReportError> {
    let differ = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
        ReportError::Merge(format!(
            "shard report #{n} has {what} {b}, the first has {a}: not shards of one run"
        ))
    };
    if r.seed != out.seed {
        return Err(differ("seed", &out.seed, &r.seed));
    }
    // Each shard of an embedded run starts its own reference server on a free port,
    // so embedded targets differ only by that port: they are the same target.
    if !same_target(out, r) {
        return Err(differ("target", &out.target, &r.target));
    }
    if r.harness_version != out.harness_version {
        return Err(differ(
            "harness version",
            &out.harness_version,
            &r.harness_version,
        ));
    }
    if r.config.strict != out.config.strict {
        return Err(differ("strict", &out.config.strict, &r.config.strict));
    }
    if let Some(s) = &r.config.shard
        && !shards.insert(s.clone())
    {
        return Err(ReportError::Merge(format!(
            "shard {s} is given twice (report #{n})"
        )));
    }
    Ok(())
}

/// Shard report `r` added to `out`: its cases, unlisted requirements, time span, case
/// count, agents and errors (each once).
fn absorb(out: &mut RunReport, r: RunReport) {
    if r.config.baseline.is_some() && out.config.baseline.is_none() {
        out.config.baseline = r.config.baseline.clone();
    }
    out.cases.extend(r.cases);
    if let Some(u) = &r.unlisted {
        out.unlisted.get_or_insert_with(Default::default).merge(u);
    }
    if r.started_at < out.started_at {
        out.started_at = r.started_at;
    }
    out.duration_ms = out.duration_ms.max(r.duration_ms);
    out.config.cases = out.config.cases.saturating_add(r.config.cases);
    for a in r.config.agents {
        if !out.config.agents.contains(&a) {
            out.config.agents.push(a);
        }
    }
    for e in r.errors {
        if !out.errors.contains(&e) {
            out.errors.push(e);
        }
    }
    // A shard a signal stopped leaves the merge interrupted: its cases not started add up.
    if let Some(i) = r.interrupted {
        match &mut out.interrupted {
            None => out.interrupted = Some(i),
            Some(o) => {
                o.not_started = match (o.not_started, i.not_started) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
            }
        }
    }
}

/// The shards' waivers applied to the merged requirements (`waived`: id → reason;
/// `unused`: waivers a shard found unused), and the overall verdict they give.
fn apply_shard_baselines(
    out: &mut RunReport,
    waived: &BTreeMap<String, String>,
    unused: &BTreeSet<String>,
) {
    // The shards' baseline applies to the merged run too: a requirement a shard waived
    // that fails in the merge stays Waived (with that shard's reason); a waiver a shard
    // found unused is unused if the merged requirement passes.
    // An expired waiver (a run error written by `apply_baseline`) made its shard
    // NotConformant; it does the same to the merge (not Error: the harness did not break).
    let expired = out
        .errors
        .iter()
        .any(|e| e.starts_with("baseline ") && e.contains(" expired on "));
    if !waived.is_empty() || !unused.is_empty() || expired {
        for q in &mut out.requirements {
            if q.verdict == Verdict::Fail
                && let Some(reason) = waived.get(&q.id)
            {
                q.verdict = Verdict::Waived;
                q.reason = reason.clone();
            } else if q.verdict == Verdict::Pass && unused.contains(&q.id) {
                q.waiver_unused = true;
            }
        }
        let mut overall = settled(
            overall_of(&out.requirements, out.config.strict, !out.cases.is_empty()),
            !out.errors.is_empty(),
            out.interrupted.is_some(),
        );
        if expired && overall != Overall::Interrupted {
            overall = Overall::NotConformant;
        }
        out.overall = overall;
        out.exit_code = overall.exit_code();
    }
}
