//! Verdicts (SPEC §4): what the checker concludes, per requirement and per case.

use super::anomaly::Anomaly;
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};

/// The outcome of one check, or of a requirement over a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The target kept the contract.
    Pass,
    /// The target broke the contract; carries a witness.
    Fail,
    /// Not observable on this target; carries the reason.
    Skip,
    /// A known failure listed in a baseline file, with its reason.
    Waived,
    /// The harness or the environment broke; never counted as a target failure.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
            Verdict::Waived => "waived",
            Verdict::Error => "error",
        }
    }
}

/// The minimal evidence for a verdict: which events show it, and in words what was
/// expected and what happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Witness {
    /// What the contract expected, in words.
    pub expected: String,
    /// What was observed, in words.
    pub observed: String,
    /// `seq` numbers of the history events that show it (request, response,
    /// notifications, the quiet mark …), in order.
    pub events: Vec<u64>,
}

/// One verdict of one requirement in one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Requirement id from the SPEC catalogue (`ReqId::Cmp04`).
    pub req: ReqId,
    pub verdict: Verdict,
    /// One line: why (for Skip and Error the reason; for Fail a summary).
    pub reason: String,
    /// Present on every Fail; optional otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<Witness>,
    /// What a Fail saw, named without requirement or chat ([`Anomaly`]); the runner
    /// groups failing cases by them. Empty for an untagged Fail and for other verdicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
}

impl Finding {
    pub fn pass(req: ReqId, reason: impl Into<String>) -> Self {
        Finding {
            req,
            verdict: Verdict::Pass,
            reason: reason.into(),
            witness: None,
            anomalies: Vec::new(),
        }
    }

    pub fn skip(req: ReqId, reason: impl Into<String>) -> Self {
        Finding {
            req,
            verdict: Verdict::Skip,
            reason: reason.into(),
            witness: None,
            anomalies: Vec::new(),
        }
    }

    pub fn error(req: ReqId, reason: impl Into<String>) -> Self {
        Finding {
            req,
            verdict: Verdict::Error,
            reason: reason.into(),
            witness: None,
            anomalies: Vec::new(),
        }
    }

    pub fn fail(req: ReqId, reason: impl Into<String>, witness: Witness) -> Self {
        Finding {
            req,
            verdict: Verdict::Fail,
            reason: reason.into(),
            witness: Some(witness),
            anomalies: Vec::new(),
        }
    }
}

/// Folds per-case verdicts of one requirement into the requirement's verdict:
/// any Fail → Fail; else any Error → Error; else any Pass → Pass; else Skip.
/// (Waived is applied afterwards, from a baseline.)
pub fn fold<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Verdict {
    let mut out = Verdict::Skip;
    for v in verdicts {
        out = match (out, *v) {
            (_, Verdict::Fail) | (Verdict::Fail, _) => Verdict::Fail,
            (_, Verdict::Error) | (Verdict::Error, _) => Verdict::Error,
            (_, Verdict::Waived) | (Verdict::Waived, _) => Verdict::Waived,
            (_, Verdict::Pass) | (Verdict::Pass, _) => Verdict::Pass,
            _ => Verdict::Skip,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_orders_fail_over_error_over_pass_over_skip() {
        use Verdict::*;
        assert_eq!(fold(&[]), Skip);
        assert_eq!(fold(&[Skip, Pass]), Pass);
        assert_eq!(fold(&[Pass, Error, Pass]), Error);
        assert_eq!(fold(&[Error, Fail, Pass]), Fail);
        assert_eq!(fold(&[Skip, Skip]), Skip);
    }
}
