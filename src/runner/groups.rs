//! Grouping failing cases by failure signature: the set of failed requirement ids and
//! the shape of their reasons, with chat ids, sequence numbers and quoted values
//! normalized away — so seventeen cases that hit one root cause are one failure.

#![warn(missing_docs)]

use crate::check::{Finding, Verdict};
use crate::spec::ReqId;
use std::collections::{BTreeMap, BTreeSet};

/// Normalizes a reason: quoted values become `"…"`, and every word holding a digit
/// (chat ids, `seq` numbers, `c1`, UUIDs, counts) becomes `#`.
pub(crate) fn normalize(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut chars = reason.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' | '\'' if word.is_empty() || c != '\'' => {
                flush(&mut word, &mut out);
                // A quote: skip to its closing twin (or the end).
                let close = c;
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == close {
                        closed = true;
                        break;
                    }
                }
                out.push(close);
                out.push('…');
                if closed {
                    out.push(close);
                }
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '\'' => {
                word.push(c)
            }
            c => {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
    }
    flush(&mut word, &mut out);
    // Collapse whitespace.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The failed requirement ids of `findings`.
pub fn failed_ids(findings: &[Finding]) -> BTreeSet<ReqId> {
    findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| f.req)
        .collect()
}

/// The signature of a failure: for each failed requirement (in id order), its id and
/// its normalized reasons (deduplicated). `None` when nothing failed.
pub fn signature(findings: &[Finding]) -> Option<String> {
    let mut by: BTreeMap<ReqId, BTreeSet<String>> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.verdict == Verdict::Fail) {
        by.entry(f.req).or_default().insert(normalize(&f.reason));
    }
    if by.is_empty() {
        return None;
    }
    Some(
        by.into_iter()
            .map(|(id, reasons)| {
                format!(
                    "{}: {}",
                    id.as_str(),
                    reasons.into_iter().collect::<Vec<_>>().join(" | ")
                )
            })
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
        Finding {
            req,
            verdict: Verdict::Fail,
            reason: reason.into(),
            witness: None,
        }
    }

    #[test]
    fn ids_and_numbers_are_normalized_away() {
        assert_eq!(
            normalize("text after Completed on chat 7f3a-99 (seq 12, 'hello')"),
            "text after Completed on chat # (seq #, '…')"
        );
        assert_eq!(
            normalize("chat \"abc\" got 3 notifications"),
            "chat \"…\" got # notifications"
        );
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
