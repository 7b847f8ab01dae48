//! The certificate's verdicts: per requirement, the verdict over every run of the
//! certification (K seeds × the statement's provisioning modes) and its stability, and
//! the grade.

use super::contradict::{Contradiction, Origin};
use super::statement::{Mode, Statement};
use crate::check::Verdict;
use crate::report::RunReport;
use crate::spec::{self, Level};
use serde::{Deserialize, Serialize};

/// One run of the certification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
    /// Its seed.
    pub seed: u64,
    /// Its provisioning mode.
    pub mode: Mode,
    /// Its report.
    pub report: &'a RunReport,
}

/// A run in which a row failed (or errored): where to look and how to replay it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The run's seed.
    pub seed: u64,
    /// The run's mode.
    pub mode: Mode,
    /// The first failing case of the row in that run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// The row's reason in that run.
    pub reason: String,
}

/// One requirement of the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The requirement id.
    pub id: String,
    /// MUST or SHOULD.
    pub level: Level,
    /// Whether it blocks the certificate (every MUST, every claimed SHOULD).
    pub binding: bool,
    /// The verdict over all runs: Fail if any run failed, else Error if any errored,
    /// else Pass if any passed, else Skip.
    pub verdict: Verdict,
    /// Runs in which the row passed.
    pub clean: u32,
    /// Runs in which it failed.
    pub failed: u32,
    /// Runs in which the harness errored on it.
    pub errored: u32,
    /// Runs in which it was not observable.
    pub skipped: u32,
    /// All runs.
    pub runs: u32,
    /// "5/5 clean", "failed 1 of 5", "not observable in 5 of 5".
    pub stability: String,
    /// The vendor's exception for this row, when the statement lists one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// The runs that failed or errored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<Witness>,
}

/// The grade of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    /// Every binding row clean in every run; the statement holds.
    Conformant,
    /// As Conformant, except for binding rows the statement lists as exceptions.
    ConformantWithExceptions,
    /// A binding row failed (not excepted), or the statement was contradicted.
    NotConformant,
    /// No target failure, but the harness errored on a binding row, or a signal cut a
    /// run short: no grade can be given (a harness error is never a target failure,
    /// SPEC §4).
    Incomplete,
}

impl Grade {
    /// How the certificate prints it.
    pub fn title(self) -> &'static str {
        match self {
            Grade::Conformant => "Conformant",
            Grade::ConformantWithExceptions => "Conformant with exceptions",
            Grade::NotConformant => "Not conformant",
            Grade::Incomplete => "Incomplete (harness errors or interrupted: no grade)",
        }
    }
}

/// The rows and the grade of `runs` under `st`, given what the behaviour contradicted.
pub(crate) fn grade(
    st: &Statement,
    runs: &[Run<'_>],
    contradictions: &[Contradiction],
) -> (Vec<Row>, Grade) {
    let rows: Vec<Row> = spec::CATALOGUE
        .iter()
        .map(|r| row(st, r.id.as_str(), r.level, runs))
        .collect();
    let blocking_fail = rows
        .iter()
        .any(|r| r.binding && r.failed > 0 && r.exception.is_none());
    let excepted = rows
        .iter()
        .any(|r| r.binding && r.exception.is_some() && (r.failed > 0 || r.errored > 0));
    let errored = rows
        .iter()
        .any(|r| r.binding && r.errored > 0 && r.exception.is_none());
    let g = if blocking_fail || !contradictions.is_empty() {
        Grade::NotConformant
    } else if errored || runs.is_empty() || runs.iter().any(|r| r.report.interrupted.is_some()) {
        Grade::Incomplete
    } else if excepted {
        Grade::ConformantWithExceptions
    } else {
        Grade::Conformant
    };
    (rows, g)
}

fn row(st: &Statement, id: &str, level: Level, runs: &[Run<'_>]) -> Row {
    let mut r = Row {
        id: id.to_string(),
        level,
        binding: st.binding(id),
        verdict: Verdict::Skip,
        clean: 0,
        failed: 0,
        errored: 0,
        skipped: 0,
        runs: runs.len() as u32,
        stability: String::new(),
        exception: st
            .exceptions
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.reason.clone()),
        witnesses: Vec::new(),
    };
    for run in runs {
        let Some(rr) = run.report.requirements.iter().find(|x| x.id == id) else {
            r.errored += 1;
            r.witnesses.push(Witness {
                seed: run.seed,
                mode: run.mode,
                case: None,
                reason: "the report has no row for it".into(),
            });
            continue;
        };
        let witness = || Witness {
            seed: run.seed,
            mode: run.mode,
            case: rr.failing_cases.first().cloned(),
            reason: rr.reason.clone(),
        };
        match rr.verdict {
            Verdict::Pass => r.clean += 1,
            // a waiver of a baseline file is a failure here: a certificate's exceptions
            // are the statement's, listed with their reasons
            Verdict::Fail | Verdict::Waived => {
                r.failed += 1;
                r.witnesses.push(witness());
            }
            Verdict::Error => {
                r.errored += 1;
                r.witnesses.push(witness());
            }
            Verdict::Skip => r.skipped += 1,
        }
    }
    r.verdict = if r.failed > 0 {
        Verdict::Fail
    } else if r.errored > 0 {
        Verdict::Error
    } else if r.clean > 0 {
        Verdict::Pass
    } else {
        Verdict::Skip
    };
    let n = r.runs;
    r.stability = if r.failed > 0 {
        format!("failed {} of {n}", r.failed)
    } else if r.errored > 0 {
        format!("harness error in {} of {n}", r.errored)
    } else if r.skipped == n {
        format!("not observable in {n} of {n}")
    } else if r.skipped > 0 {
        format!("{}/{n} clean, not observable in {}", r.clean, r.skipped)
    } else {
        format!("{n}/{n} clean")
    };
    r
}

/// The origin of a case of `run` (for contradictions and replay commands).
pub(crate) fn origin(run: &Run<'_>, case: &str) -> Origin {
    Origin {
        seed: run.seed,
        mode: run.mode,
        case: case.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RequirementReport;

    fn statement(extra: &str) -> Statement {
        Statement::parse(
            "s.toml",
            &format!("[product]\nname='x'\nversion='1'\n[deployment]\nprovisioning=['customer-api']\ncsrf=true\nreference_id=true\n{extra}"),
        )
        .unwrap()
    }

    /// A report whose rows all pass but `set`'s.
    fn report(set: &[(&str, Verdict)]) -> RunReport {
        let mut r: RunReport = serde_json::from_value(serde_json::json!({
            "format": 1, "run_id": "r", "target": "t", "embedded": true, "seed": 1,
            "harness_version": "0", "started_at": "x", "duration_ms": 0,
            "config": crate::report::RunConfig::default(), "overall": "conformant", "exit_code": 0,
            "requirements": [], "cases": []
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        r.requirements = spec::CATALOGUE
            .iter()
            .map(|q| {
                let v = set
                    .iter()
                    .find(|(id, _)| *id == q.id.as_str())
                    .map_or(Verdict::Pass, |(_, v)| *v);
                RequirementReport {
                    id: q.id.as_str().into(),
                    level: q.level,
                    text: q.text.into(),
                    verdict: v,
                    reason: format!("{v:?}"),
                    counts: Default::default(),
                    failing_cases: if v == Verdict::Fail {
                        vec!["case-x".into()]
                    } else {
                        vec![]
                    },
                    waiver_unused: false,
                }
            })
            .collect();
        r
    }

    fn runs(reports: &[RunReport]) -> Vec<Run<'_>> {
        reports
            .iter()
            .enumerate()
            .map(|(i, report)| Run {
                seed: i as u64 + 1,
                mode: Mode::CustomerApi,
                report,
            })
            .collect()
    }

    #[test]
    fn all_clean_is_conformant_and_says_k_of_k() {
        let reps = vec![report(&[]), report(&[]), report(&[])];
        let (rows, g) = grade(&statement(""), &runs(&reps), &[]);
        assert_eq!(g, Grade::Conformant);
        assert_eq!(rows[0].stability, "3/3 clean");
        assert_eq!(rows.len(), spec::CATALOGUE.len());
    }

    #[test]
    fn one_failing_seed_of_a_must_is_not_conformant_with_its_witness() {
        let reps = vec![
            report(&[]),
            report(&[("CMP-01", Verdict::Fail)]),
            report(&[]),
        ];
        let (rows, g) = grade(&statement(""), &runs(&reps), &[]);
        assert_eq!(g, Grade::NotConformant);
        let r = rows.iter().find(|r| r.id == "CMP-01").unwrap();
        assert_eq!(r.stability, "failed 1 of 3");
        assert_eq!(r.witnesses[0].seed, 2);
        assert_eq!(r.witnesses[0].case.as_deref(), Some("case-x"));
    }

    #[test]
    fn a_should_blocks_only_when_claimed_and_an_exception_grades_with_exceptions() {
        let reps = vec![report(&[("CMP-14", Verdict::Fail)])];
        assert_eq!(
            grade(&statement(""), &runs(&reps), &[]).1,
            Grade::Conformant
        );
        let claimed = statement("[claims]\nshould=['CMP-14']\n");
        assert_eq!(grade(&claimed, &runs(&reps), &[]).1, Grade::NotConformant);
        let excepted =
            statement("[claims]\nshould=['CMP-14']\n[[exceptions]]\nid='CMP-14'\nreason='known'\n");
        let (rows, g) = grade(&excepted, &runs(&reps), &[]);
        assert_eq!(g, Grade::ConformantWithExceptions);
        let r = rows.iter().find(|r| r.id == "CMP-14").unwrap();
        assert_eq!(r.exception.as_deref(), Some("known"));
    }

    #[test]
    fn a_harness_error_gives_no_grade_and_a_contradiction_blocks() {
        let reps = vec![report(&[("CMP-02", Verdict::Error)])];
        assert_eq!(
            grade(&statement(""), &runs(&reps), &[]).1,
            Grade::Incomplete
        );
        let reps = vec![report(&[("CMP-02", Verdict::Skip)])];
        let (rows, g) = grade(&statement(""), &runs(&reps), &[]);
        assert_eq!(g, Grade::Conformant);
        assert_eq!(
            rows.iter().find(|r| r.id == "CMP-02").unwrap().stability,
            "not observable in 1 of 1"
        );
        let c = Contradiction {
            field: "deployment.csrf".into(),
            declared: "on".into(),
            seen: "off".into(),
            origin: origin(&runs(&reps)[0], "session"),
            event: None,
        };
        assert_eq!(
            grade(&statement(""), &runs(&reps), &[c]).1,
            Grade::NotConformant
        );
    }
}
