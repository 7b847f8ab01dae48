//! Grouping failing cases by failure signature: the anomalies their failing checks saw
//! ([`crate::check::Anomaly`]), named without requirement ids, chat ids, sequence
//! numbers or quoted values, so that seventeen cases that hit one root cause, whichever
//! requirements noticed it, are one failure.

#![warn(missing_docs)]

use crate::check::{Finding, Verdict};
use crate::spec::ReqId;
use std::collections::BTreeSet;

/// The failed requirement ids of `findings`.
pub fn failed_ids(findings: &[Finding]) -> BTreeSet<ReqId> {
    findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| f.req)
        .collect()
}

/// The signature of a failure: the anomalies its Fail findings saw
/// ([`crate::check::anomalies_of`]), by name, in order. `None` when nothing failed. Two
/// cases with one signature show the same bug, whichever requirements noticed it: a
/// concurrent case whose chats each show the anomaly of a sequential case has that
/// case's signature.
pub fn signature(findings: &[Finding]) -> Option<String> {
    let saw = crate::check::anomalies_of(findings);
    if saw.is_empty() {
        return None;
    }
    Some(
        saw.iter()
            .map(crate::check::Anomaly::name)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Groups items (indexes of failing cases with their findings and step counts) by
/// signature. Each group lists its members smallest first (fewest steps, then run
/// order); groups come in order of their first member in the run.
pub fn group<'a, I>(failing: I) -> Vec<(String, Vec<usize>)>
where
    I: IntoIterator<Item = (usize, &'a [Finding], usize)>,
{
    let mut groups: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    for (i, findings, steps) in failing {
        let Some(sig) = signature(findings) else {
            continue;
        };
        match groups.iter_mut().find(|(s, _)| *s == sig) {
            Some((_, members)) => members.push((steps, i)),
            None => groups.push((sig, vec![(steps, i)])),
        }
    }
    groups
        .into_iter()
        .map(|(sig, mut members)| {
            members.sort();
            (sig, members.into_iter().map(|(_, i)| i).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(req: ReqId, reason: &str) -> Finding {
        Finding::fail(req, reason, crate::check::Witness::default())
    }

    #[test]
    fn one_anomaly_is_one_signature_whichever_requirements_saw_it() {
        use crate::check::Anomaly;
        // A sequential case: CMP-04 and CMP-19 both see the text after the Completed.
        let sequential = vec![
            fail(ReqId::Cmp04, "the text came after the Completed")
                .saw(Anomaly::TextAfterCompleted),
            fail(ReqId::Cmp19, "notifications followed the Completed")
                .saw(Anomaly::TextAfterCompleted),
        ];
        // A concurrent one: CMP-20 restates the chats' anomalies.
        let concurrent = vec![
            fail(ReqId::Cmp04, "the text came after the Completed")
                .saw(Anomaly::TextAfterCompleted),
            fail(ReqId::Cmp20, "3 of 5 concurrent Completes misbehaved")
                .saw(Anomaly::TextAfterCompleted),
        ];
        // Another bug: a second Completed.
        let other = vec![
            fail(ReqId::Cmp20, "1 of 5 concurrent Completes misbehaved")
                .saw(Anomaly::SecondCompleted),
        ];
        assert_eq!(
            signature(&sequential).as_deref(),
            Some("text-after-completed")
        );
        assert_eq!(signature(&sequential), signature(&concurrent));
        assert_ne!(signature(&sequential), signature(&other));
        assert_eq!(failed_ids(&concurrent).len(), 2);
    }

    #[test]
    fn findings_differing_only_in_ids_group_together_and_other_requirements_do_not() {
        let a = vec![
            fail(
                ReqId::Cmp04,
                "text event after Completed on chat c1 (seq 17)",
            ),
            Finding::pass(ReqId::Cmp01, "ok"),
        ];
        let b = vec![fail(
            ReqId::Cmp04,
            "text event after Completed on chat c2 (seq 203)",
        )];
        let c = vec![
            fail(
                ReqId::Cmp04,
                "text event after Completed on chat c2 (seq 203)",
            ),
            fail(
                ReqId::Cmp05,
                "text event after Completed on chat c2 (seq 203)",
            ),
        ];
        let d = vec![Finding::pass(ReqId::Cmp04, "ok")];
        assert_eq!(signature(&a), signature(&b));
        assert_ne!(signature(&a), signature(&c));
        assert_eq!(signature(&d), None);
        let groups = group(vec![
            (0, a.as_slice(), 12),
            (1, b.as_slice(), 4),
            (2, c.as_slice(), 5),
            (3, d.as_slice(), 2),
        ]);
        assert_eq!(groups.len(), 2, "{groups:?}");
        // Smallest first inside a group.
        assert_eq!(groups[0].1, vec![1, 0]);
        assert_eq!(groups[1].1, vec![2]);
    }
}
