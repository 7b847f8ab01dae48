//! Anomalies: what a failing check saw in the record, named without the requirement
//! that noticed it and without the chat it happened on (Elle's way of naming what went
//! wrong). One bug shows one anomaly wherever it surfaces: the Complete's text after
//! its Completed is the same anomaly whether CMP-04 notices it on a single chat, CMP-19
//! notices the text as something after the Completed, or CMP-20 notices it on one of
//! five chats completed at once. The runner groups failing cases by the anomalies they
//! show ([`crate::runner::groups`]), so that one bug is one distinct failure.
//!
//! A rule tags its Fail with [`Finding::saw`]; a rule that restates other rules'
//! conclusions (CMP-15/16 from CMP-01 and CMP-02, CMP-20 from each chat's own rules)
//! carries their anomalies. A Fail without a tag is its own anomaly, named by its
//! requirement and its reason with the ids normalized away.

#![warn(missing_docs)]

use super::{Finding, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What went wrong, as the record shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    /// The Complete's text reached the owner after the Completed.
    TextAfterCompleted,
    /// No NewMessages carried the Complete's text.
    TextMissing,
    /// The Complete's text reached an agent that does not own the chat.
    TextToOtherAgent,
    /// A Complete answered with success, and no Completed reached the owner.
    NoCompleted,
    /// The Completed came after the deadline.
    LateCompleted,
    /// More than one Completed for one chat.
    SecondCompleted,
    /// A Completed reached an agent that does not own the chat.
    CompletedToOtherAgent,
    /// The Completed names another chat (`chat.uri`).
    CompletedNamesOtherChat,
    /// Notifications for the chat other than its own Complete's text after the Completed.
    AfterCompleted,
    /// A Complete the contract accepts was not answered with success.
    CompleteNotAccepted,
    /// A refused request changed what the named observation shows (`customerSessionEnded`,
    /// `the chat's notifications` …).
    RefusalChanged(String),
    /// Any other Fail: its requirement and normalized reason (`CMP-09: accepted …`).
    Other(String),
}

impl Anomaly {
    /// The stable name used in reports (`text-after-completed`,
    /// `refusal-changed: customerSessionEnded`, `other: CMP-09: …`).
    pub fn name(&self) -> String {
        match self {
            Anomaly::TextAfterCompleted => "text-after-completed".into(),
            Anomaly::TextMissing => "text-missing".into(),
            Anomaly::TextToOtherAgent => "text-to-other-agent".into(),
            Anomaly::NoCompleted => "no-completed".into(),
            Anomaly::LateCompleted => "late-completed".into(),
            Anomaly::SecondCompleted => "second-completed".into(),
            Anomaly::CompletedToOtherAgent => "completed-to-other-agent".into(),
            Anomaly::CompletedNamesOtherChat => "completed-names-other-chat".into(),
            Anomaly::AfterCompleted => "after-completed".into(),
            Anomaly::CompleteNotAccepted => "complete-not-accepted".into(),
            Anomaly::RefusalChanged(what) => format!("refusal-changed: {what}"),
            Anomaly::Other(what) => format!("other: {what}"),
        }
    }

    /// Reads back a [`Anomaly::name`].
    pub fn from_name(s: &str) -> Option<Anomaly> {
        Some(match s {
            "text-after-completed" => Anomaly::TextAfterCompleted,
            "text-missing" => Anomaly::TextMissing,
            "text-to-other-agent" => Anomaly::TextToOtherAgent,
            "no-completed" => Anomaly::NoCompleted,
            "late-completed" => Anomaly::LateCompleted,
            "second-completed" => Anomaly::SecondCompleted,
            "completed-to-other-agent" => Anomaly::CompletedToOtherAgent,
            "completed-names-other-chat" => Anomaly::CompletedNamesOtherChat,
            "after-completed" => Anomaly::AfterCompleted,
            "complete-not-accepted" => Anomaly::CompleteNotAccepted,
            s => {
                if let Some(what) = s.strip_prefix("refusal-changed: ") {
                    Anomaly::RefusalChanged(what.into())
                } else if let Some(what) = s.strip_prefix("other: ") {
                    Anomaly::Other(what.into())
                } else {
                    return None;
                }
            }
        })
    }

    /// In words, for the terminal and the HTML report.
    pub fn describe(&self) -> String {
        match self {
            Anomaly::TextAfterCompleted => "the Complete's text arrived after the Completed".into(),
            Anomaly::TextMissing => "no NewMessages carried the Complete's text".into(),
            Anomaly::TextToOtherAgent => {
                "the Complete's text reached an agent that does not own the chat".into()
            }
            Anomaly::NoCompleted => "a successful Complete, and no Completed".into(),
            Anomaly::LateCompleted => "the Completed came after the deadline".into(),
            Anomaly::SecondCompleted => "more than one Completed for a chat".into(),
            Anomaly::CompletedToOtherAgent => {
                "a Completed reached an agent that does not own the chat".into()
            }
            Anomaly::CompletedNamesOtherChat => {
                "the Completed's chat.uri names another chat".into()
            }
            Anomaly::AfterCompleted => "notifications for the chat after its Completed".into(),
            Anomaly::CompleteNotAccepted => {
                "a Complete the contract accepts was not answered with success".into()
            }
            Anomaly::RefusalChanged(what) => format!("a refused request changed {what}"),
            Anomaly::Other(what) => what.clone(),
        }
    }
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Anomaly {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Anomaly {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Anomaly::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown anomaly {s:?}")))
    }
}

impl Finding {
    /// This finding with `anomaly` among what it saw.
    pub fn saw(mut self, anomaly: Anomaly) -> Self {
        if !self.anomalies.contains(&anomaly) {
            self.anomalies.push(anomaly);
            self.anomalies.sort();
        }
        self
    }

    /// This finding with every anomaly of `others` among what it saw (a finding that
    /// restates their conclusions).
    pub fn saw_all<'a>(mut self, others: impl IntoIterator<Item = &'a Anomaly>) -> Self {
        for a in others {
            self = self.saw(a.clone());
        }
        self
    }
}

/// What the Fail findings of a case saw: the tagged anomalies, and for each untagged
/// Fail an [`Anomaly::Other`] of its requirement and normalized reason. Empty when
/// nothing failed.
pub fn anomalies_of(findings: &[Finding]) -> BTreeSet<Anomaly> {
    let mut out = BTreeSet::new();
    for f in findings.iter().filter(|f| f.verdict == Verdict::Fail) {
        if f.anomalies.is_empty() {
            out.insert(Anomaly::Other(format!(
                "{}: {}",
                f.req.as_str(),
                normalize(&f.reason)
            )));
        } else {
            out.extend(f.anomalies.iter().cloned());
        }
    }
    out
}

/// Normalizes a reason: quoted values become `"…"`, and every word holding a digit
/// (chat ids, `seq` numbers, `c1`, UUIDs, counts) becomes `#`.
pub fn normalize(reason: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Witness;
    use crate::spec::ReqId;

    #[test]
    fn names_read_back() {
        for a in [
            Anomaly::TextAfterCompleted,
            Anomaly::TextMissing,
            Anomaly::TextToOtherAgent,
            Anomaly::NoCompleted,
            Anomaly::LateCompleted,
            Anomaly::SecondCompleted,
            Anomaly::CompletedToOtherAgent,
            Anomaly::CompletedNamesOtherChat,
            Anomaly::AfterCompleted,
            Anomaly::CompleteNotAccepted,
            Anomaly::RefusalChanged("customerSessionEnded".into()),
            Anomaly::Other("CMP-09: accepted (statusCode #)".into()),
        ] {
            assert_eq!(Anomaly::from_name(&a.name()), Some(a.clone()), "{a}");
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Anomaly>(&json).unwrap(), a);
        }
        assert_eq!(Anomaly::from_name("text after"), None);
        assert!(serde_json::from_str::<Anomaly>("\"nonsense\"").is_err());
    }

    #[test]
    fn untagged_fails_are_their_requirement_and_reason_and_passes_count_for_nothing() {
        let w = Witness::default;
        let fs = vec![
            Finding::fail(ReqId::Cmp04, "text after Completed on c1", w())
                .saw(Anomaly::TextAfterCompleted),
            Finding::fail(ReqId::Cmp19, "notes after", w()).saw(Anomaly::TextAfterCompleted),
            Finding::fail(ReqId::Cmp09, "accepted 'x' on chat 12", w()),
            Finding::pass(ReqId::Cmp01, "ok").saw(Anomaly::NoCompleted),
        ];
        let got: Vec<String> = anomalies_of(&fs).iter().map(Anomaly::name).collect();
        assert_eq!(
            got,
            [
                "text-after-completed",
                "other: CMP-09: accepted '…' on chat #"
            ]
        );
        assert!(anomalies_of(&fs[3..]).is_empty());
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
}
