//! The plain data a run hands to the report writers (and that `report.json` serializes).
//! The runner fills it; the writers (JSON, JUnit, HTML, case files, curl) only read it.
//! Its JSON Schema is `schemas/report.schema.json`.

use crate::check::{Finding, Verdict};
use crate::history::{History, Step};
use crate::spec::Level;
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Version of the `report.json` format.
pub const REPORT_FORMAT: u32 = 1;

/// The overall outcome of a run, which decides the exit code (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Every MUST passed (and every SHOULD, under `--strict`): exit 0.
    Conformant,
    /// At least one blocking requirement failed: exit 1.
    NotConformant,
    /// The harness or the environment broke before a verdict could be reached: exit 3.
    Error,
    /// A signal stopped the run before it finished: what was judged is reported, nothing
    /// is certified (exit 130 for SIGINT, 143 for SIGTERM).
    Interrupted,
}

impl Overall {
    /// The process exit code of this outcome (SPEC §5).
    pub fn exit_code(self) -> i32 {
        match self {
            Overall::Conformant => crate::exit::CONFORMANT,
            Overall::NotConformant => crate::exit::FAILURES,
            Overall::Error => crate::exit::HARNESS,
            Overall::Interrupted => crate::exit::SIGINT,
        }
    }
}

/// How the run was configured (secrets excluded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// `customer-api` or `provider-state`.
    pub provisioning: crate::client::ProvisioningKind,
    /// Agent user names (never passwords).
    pub agents: Vec<String>,
    /// Random stateful sequences asked for (`--cases`).
    pub cases: u32,
    /// Notification deadline, in ms.
    pub deadline_ms: u64,
    /// Quiet window, in ms.
    pub quiet_window_ms: u64,
    /// Whether SHOULD failures block (`--strict`).
    pub strict: bool,
    /// `K/N` when sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The baseline file used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The embedded server's fault switched on for this run, if any (so a replay of its
    /// cases starts the same faulty server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// TLS certificates were not verified (`--insecure`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// Per-requirement counts of case verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Cases that passed the requirement.
    pub pass: u32,
    /// Cases that failed it.
    pub fail: u32,
    /// Cases where it was not observable or not exercised.
    pub skip: u32,
    /// Cases whose failure a baseline waived.
    pub waived: u32,
    /// Cases where the harness could not judge it.
    pub error: u32,
}

impl Counts {
    /// Counts one more case with verdict `v`.
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Skip => self.skip += 1,
            Verdict::Waived => self.waived += 1,
            Verdict::Error => self.error += 1,
        }
    }
}

/// One requirement's verdict over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementReport {
    /// The requirement id (`CMP-04`).
    pub id: String,
    /// MUST, SHOULD or MAY.
    pub level: Level,
    /// The requirement's text from the catalogue.
    pub text: String,
    /// The requirement's verdict over the run.
    pub verdict: Verdict,
    /// Why: the first failure's reason, the skip reason, the waiver reason …
    pub reason: String,
    /// How many cases gave each verdict.
    pub counts: Counts,
    /// Ids of the cases that failed it (their files are under `cases/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_cases: Vec<String>,
    /// Set when a baseline waived this requirement but it passed: the waiver can go.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiver_unused: bool,
}

/// One case of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    /// The case id (`cmp04-text-before-completed`, `random-7`, …).
    pub id: String,
    /// The case's own seed (replays it exactly).
    pub seed: u64,
    /// Requirement ids the case was built to exercise.
    #[serde(alias = "targets")]
    pub exercises: Vec<ReqId>,
    /// The (shrunk, for a failure) steps.
    pub steps: Vec<Step>,
    /// What the checker found, per requirement.
    pub findings: Vec<Finding>,
    /// The case's verdict (fold of its findings).
    pub verdict: Verdict,
    /// Kept for failing (and erroring) cases only, secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// Steps before shrinking, when the case was shrunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_steps: Option<usize>,
    /// Wall time of the case, in ms.
    pub duration_ms: u64,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Report format version (`REPORT_FORMAT`).
    pub format: u32,
    /// The run id (also the run folder's name).
    pub run_id: String,
    /// Base URL of the target, without userinfo; `embedded` runs name the local URL.
    pub target: String,
    /// True when the target was the embedded reference server.
    pub embedded: bool,
    /// The run's seed (printed at the start of every run).
    pub seed: u64,
    /// The harness version.
    pub harness_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall time of the run, in ms.
    pub duration_ms: u64,
    /// How the run was configured.
    pub config: RunConfig,
    /// The run's outcome.
    pub overall: Overall,
    /// The process exit code of that outcome.
    pub exit_code: i32,
    /// One row per requirement of the catalogue.
    pub requirements: Vec<RequirementReport>,
    /// Every case that ran (pseudo-cases such as `session` included).
    pub cases: Vec<CaseReport>,
    /// Run-level harness errors (target unreachable, login failed …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Failing cases grouped by failure signature (absent when nothing failed, and in
    /// reports written before groups existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<FailureGroup>>,
    /// What the plan covered (absent in observe reports, merged shard reports and
    /// reports written before coverage figures existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageSummary>,
    /// The passing cases counted but not listed in `cases` (a long run lists its first
    /// 1,000 passing cases only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlisted: Option<Unlisted>,
    /// Set when a signal stopped the run before it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interruption>,
}

/// How a run was stopped before it finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    /// The signal (`SIGINT`, `SIGTERM`).
    pub signal: String,
    /// Cases the plan held that never started (absent for a `--duration` soak, whose plan
    /// has no end). They are counted, not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_started: Option<u64>,
    /// Milliseconds from the start of the run to the signal.
    pub after_ms: u64,
}

/// How one requirement was exercised by a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReqCoverage {
    /// Cases exercising it.
    pub cases: usize,
    /// Parameter classes (`field:class`) of the Completes in those cases.
    #[serde(default)]
    pub classes: BTreeSet<String>,
    /// Chat states in which those cases sent a Complete.
    #[serde(default)]
    pub states: BTreeSet<String>,
}

/// Pairwise coverage of Complete's parameter classes × states.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairCoverage {
    /// Feasible pairs covered by the plan's owner Completes.
    pub covered: usize,
    /// Feasible pairs in all.
    pub possible: usize,
    /// The pairs not covered (`factor=class & factor=class`).
    #[serde(default)]
    pub missing: Vec<String>,
}

/// Coverage figures of a plan (computed by the runner, `src/runner/coverage.rs`): per
/// requirement, how many cases exercised it with which parameter classes and states,
/// and the pairs × states the plan covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// Cases of the plan.
    pub cases: usize,
    /// Cases of the coverage phase (`cov-…`).
    pub coverage_cases: usize,
    /// Per requirement id.
    pub requirements: BTreeMap<String, ReqCoverage>,
    /// Pairs × states.
    pub pairs: PairCoverage,
}

/// One distinct failure: the failing cases that saw the same anomalies (one bug,
/// whichever requirements noticed it), and how its smallest
/// representative was shrunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    /// The anomalies the group's cases saw, by name
    /// ([`crate::check::Anomaly::name`]), e.g. `text-after-completed` or
    /// `other: CMP-09: accepted (statusCode #) where the contract refuses`.
    pub signature: String,
    /// The requirement ids the cases of the group failed (the union over its cases: one
    /// anomaly may be noticed by several requirements).
    pub requirements: Vec<ReqId>,
    /// The case shown for the group (shrunk when shrinking succeeded).
    pub representative: String,
    /// The other failing cases of the group, in run order.
    #[serde(default)]
    pub others: Vec<String>,
    /// Steps of the representative before shrinking.
    pub original_steps: usize,
    /// Steps of the representative after shrinking.
    pub shrunk_steps: usize,
    /// Re-runs used by shrinking, and the group's budget of re-runs.
    pub runs: usize,
    /// The group's budget of re-runs.
    pub budget: usize,
    /// Wall time spent shrinking, and the group's limit (ms).
    pub elapsed_ms: u64,
    /// The group's wall-time limit for shrinking (ms).
    pub limit_ms: u64,
    /// Why shrinking stopped before it had tried every candidate, with the figures
    /// (`budget of re-runs ran out: 60/60 runs`); absent when it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Steps shrinking could not remove and why (`removing step 3 (Accept c1) made the
    /// failure disappear`); filled when shrinking finished above the target size.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// The passing cases a long run counts without listing them (past the first
/// `LISTED_CASES`, a constant of the runner): their verdicts per requirement, so the
/// requirement table and the case count still include them. Their seeds are not kept:
/// the run's seed regenerates every case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unlisted {
    /// Passing cases counted, not listed.
    pub cases: u64,
    /// Per requirement id: the verdicts of those cases.
    pub counts: std::collections::BTreeMap<String, Counts>,
    /// Per requirement id: the reason of the first of those cases' findings.
    pub reasons: std::collections::BTreeMap<String, String>,
}

impl Unlisted {
    /// Counts one more passing case from its findings.
    pub fn add(&mut self, findings: &[crate::check::Finding]) {
        self.cases += 1;
        let mut per: std::collections::BTreeMap<&str, Verdict> = Default::default();
        for f in findings {
            let v = per.entry(f.req.as_str()).or_insert(f.verdict);
            *v = crate::check::fold([&*v, &f.verdict]);
            self.reasons
                .entry(f.req.as_str().to_string())
                .or_insert_with(|| f.reason.clone());
        }
        for (id, v) in per {
            self.counts.entry(id.to_string()).or_default().add(v);
        }
    }

    /// Adds another run's (a shard's) unlisted cases.
    pub fn merge(&mut self, other: &Unlisted) {
        self.cases += other.cases;
        for (id, c) in &other.counts {
            let e = self.counts.entry(id.clone()).or_default();
            e.pass += c.pass;
            e.fail += c.fail;
            e.skip += c.skip;
            e.waived += c.waived;
            e.error += c.error;
        }
        for (id, r) in &other.reasons {
            self.reasons.entry(id.clone()).or_insert_with(|| r.clone());
        }
    }
}

impl RunReport {
    /// The number of real cases: run-level pseudo-cases (the Bayeux `session`, a
    /// `harness-error`) have no steps and are not counted. Every place that shows a
    /// count of cases (stdout, report.html, after `merge`) uses this.
    pub fn case_count(&self) -> usize {
        self.cases.iter().filter(|c| !c.steps.is_empty()).count()
            + self.unlisted.as_ref().map_or(0, |u| u.cases as usize)
    }
}
