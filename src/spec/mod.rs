//! The requirement catalogue of `SPEC.md` §3, as data.
//!
//! Every check the harness makes cites one of these ids; reports group verdicts by them.
//! This module depends on nothing else in the crate.

use serde::{Deserialize, Serialize};

/// How binding a requirement is (SPEC "Words").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Documented behaviour: a failure blocks certification.
    Must,
    /// Inferred behaviour: reported; blocks certification only with `--strict`.
    Should,
    /// Informational.
    May,
}

impl Level {
    /// The spelling used in reports (`MUST`, `SHOULD`, `MAY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// A requirement id of the catalogue (`CMP-04`, …). Serialized as its string; a typo in
/// code does not compile, a typo in a file is a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReqId {
    /// `CMP-01`
    Cmp01,
    /// `CMP-02`
    Cmp02,
    /// `CMP-03`
    Cmp03,
    /// `CMP-04`
    Cmp04,
    /// `CMP-05`
    Cmp05,
    /// `CMP-06`
    Cmp06,
    /// `CMP-07`
    Cmp07,
    /// `CMP-08`
    Cmp08,
    /// `CMP-09`
    Cmp09,
    /// `CMP-10`
    Cmp10,
    /// `CMP-11`
    Cmp11,
    /// `CMP-12`
    Cmp12,
    /// `CMP-13`
    Cmp13,
    /// `CMP-14`
    Cmp14,
    /// `CMP-15`
    Cmp15,
    /// `CMP-16`
    Cmp16,
    /// `CMP-17`
    Cmp17,
    /// `CMP-18`
    Cmp18,
    /// `CMP-19`
    Cmp19,
    /// `CMP-20`
    Cmp20,
    /// `CMP-21`
    Cmp21,
    /// `CMP-22`
    Cmp22,
    /// `NTF-01`
    Ntf01,
    /// `NTF-02`
    Ntf02,
    /// `SES-01`
    Ses01,
    /// `SES-02`
    Ses02,
    /// `REQ-01`
    Req01,
}

impl ReqId {
    /// Every id, in catalogue order.
    pub const ALL: [ReqId; 27] = [
        ReqId::Cmp01,
        ReqId::Cmp02,
        ReqId::Cmp03,
        ReqId::Cmp04,
        ReqId::Cmp05,
        ReqId::Cmp06,
        ReqId::Cmp07,
        ReqId::Cmp08,
        ReqId::Cmp09,
        ReqId::Cmp10,
        ReqId::Cmp11,
        ReqId::Cmp12,
        ReqId::Cmp13,
        ReqId::Cmp14,
        ReqId::Cmp15,
        ReqId::Cmp16,
        ReqId::Cmp17,
        ReqId::Cmp18,
        ReqId::Cmp19,
        ReqId::Cmp20,
        ReqId::Cmp21,
        ReqId::Cmp22,
        ReqId::Ntf01,
        ReqId::Ntf02,
        ReqId::Ses01,
        ReqId::Ses02,
        ReqId::Req01,
    ];

    /// The id as written in the SPEC (`"CMP-04"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ReqId::Cmp01 => "CMP-01",
            ReqId::Cmp02 => "CMP-02",
            ReqId::Cmp03 => "CMP-03",
            ReqId::Cmp04 => "CMP-04",
            ReqId::Cmp05 => "CMP-05",
            ReqId::Cmp06 => "CMP-06",
            ReqId::Cmp07 => "CMP-07",
            ReqId::Cmp08 => "CMP-08",
            ReqId::Cmp09 => "CMP-09",
            ReqId::Cmp10 => "CMP-10",
            ReqId::Cmp11 => "CMP-11",
            ReqId::Cmp12 => "CMP-12",
            ReqId::Cmp13 => "CMP-13",
            ReqId::Cmp14 => "CMP-14",
            ReqId::Cmp15 => "CMP-15",
            ReqId::Cmp16 => "CMP-16",
            ReqId::Cmp17 => "CMP-17",
            ReqId::Cmp18 => "CMP-18",
            ReqId::Cmp19 => "CMP-19",
            ReqId::Cmp20 => "CMP-20",
            ReqId::Cmp21 => "CMP-21",
            ReqId::Cmp22 => "CMP-22",
            ReqId::Ntf01 => "NTF-01",
            ReqId::Ntf02 => "NTF-02",
            ReqId::Ses01 => "SES-01",
            ReqId::Ses02 => "SES-02",
            ReqId::Req01 => "REQ-01",
        }
    }

    /// Parses an id, case-insensitively (`"cmp-04"` → `Cmp04`).
    pub fn parse(s: &str) -> Option<ReqId> {
        ReqId::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The catalogue row of this id.
    pub fn requirement(self) -> &'static Requirement {
        CATALOGUE
            .iter()
            .find(|r| r.id == self)
            .expect("every ReqId has a catalogue row")
    }

    /// The row's level.
    pub fn level(self) -> Level {
        self.requirement().level
    }
}

impl std::fmt::Display for ReqId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A requirement id that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown requirement id {0:?} (see `gws-conform list`)")]
pub struct UnknownReqId(pub String);

impl std::str::FromStr for ReqId {
    type Err = UnknownReqId;
    fn from_str(s: &str) -> Result<Self, UnknownReqId> {
        ReqId::parse(s).ok_or_else(|| UnknownReqId(s.to_string()))
    }
}

impl PartialEq<str> for ReqId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ReqId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ReqId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReqId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One row of the requirement catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The id (`CMP-04`).
    pub id: ReqId,
    /// How binding it is.
    pub level: Level,
    /// The requirement, as SPEC §3 words it.
    pub text: &'static str,
}

use Level::{Must, Should};

const fn req(id: ReqId, level: Level, text: &'static str) -> Requirement {
    Requirement { id, level, text }
}

/// The whole catalogue, in SPEC order.
pub const CATALOGUE: &[Requirement] = &[
    req(
        ReqId::Cmp01,
        Must,
        "Complete on a Chatting chat answers HTTP 200 and a body valid against the response schema with statusCode 0 and no statusMessage",
    ),
    req(
        ReqId::Cmp02,
        Must,
        "after CMP-01, exactly one StatusChange to Completed for that chat id arrives within the deadline",
    ),
    req(
        ReqId::Cmp03,
        Should,
        "that notification's chat.uri ends with /api/v2/chats/{id}",
    ),
    req(
        ReqId::Cmp04,
        Should,
        "with text: the agent receives a NewMessages carrying that text before the Completed status change",
    ),
    req(
        ReqId::Cmp05,
        Must,
        "with text: the customer's transcript holds the text (observed via customer-api or provider inspect)",
    ),
    req(
        ReqId::Cmp06,
        Must,
        "Complete ends the customer's session if still open (customer-side state Idle, or customerSessionEnded: true)",
    ),
    req(
        ReqId::Cmp07,
        Must,
        "queueName: the interaction is placed in that queue (provider inspect; else Skip)",
    ),
    req(
        ReqId::Cmp08,
        Must,
        "saveLAR: true: the agent is recorded as last agent (provider inspect; else Skip)",
    ),
    req(
        ReqId::Cmp09,
        Must,
        "messageType or treatAs without text is refused (statusCode != 0; SHOULD be 1, 2 or 10)",
    ),
    req(
        ReqId::Cmp10,
        Must,
        "treatAs outside Normal/System is refused",
    ),
    req(
        ReqId::Cmp11,
        Should,
        "wrongly typed fields (saveLAR not boolean, queueName not a string or empty, text not a string) are refused",
    ),
    req(
        ReqId::Cmp12,
        Should,
        "Complete on an Invited chat is refused",
    ),
    req(
        ReqId::Cmp13,
        Should,
        "Complete on an already Completed chat is refused and produces no second Completed",
    ),
    req(
        ReqId::Cmp14,
        Should,
        "Complete on an unknown chat id is refused with statusCode 6",
    ),
    req(
        ReqId::Cmp15,
        Must,
        "Complete on a LeftChat chat succeeds (CMP-01/02 apply)",
    ),
    req(
        ReqId::Cmp16,
        Must,
        "Complete after the customer left succeeds (CMP-01/02 apply)",
    ),
    req(
        ReqId::Cmp17,
        Must,
        "a refused Complete changes nothing: no notification for the chat, and the chat still accepts the operations of its state",
    ),
    req(
        ReqId::Cmp18,
        Must,
        "every error body is exactly statusCode (!= 0) plus statusMessage",
    ),
    req(
        ReqId::Cmp19,
        Should,
        "no notification for a chat after its Completed",
    ),
    req(
        ReqId::Cmp20,
        Must,
        "Completes on many chats at once: each chat gets exactly one Completed, and each chat's own notifications keep the order of CMP-04",
    ),
    req(
        ReqId::Cmp21,
        Must,
        "Complete on another agent's chat is refused (statusCode 3, 5 or 6) and changes nothing",
    ),
    req(
        ReqId::Cmp22,
        Should,
        "a response referenceId, when present, equals the referenceId of the notifications it caused",
    ),
    req(
        ReqId::Ntf01,
        Must,
        "every notification on /v2/me/chats is valid against its schema",
    ),
    req(
        ReqId::Ntf02,
        Must,
        "the Bayeux handshake, subscribe and connect succeed, and the server's advice is honoured by the harness",
    ),
    req(
        ReqId::Ses01,
        Should,
        "a POST without the CSRF token, when the target uses CSRF, gets HTTP 403 and changes nothing",
    ),
    req(
        ReqId::Ses02,
        Should,
        "a request without credentials gets statusCode 20 or HTTP 401 and changes nothing",
    ),
    req(
        ReqId::Req01,
        Must,
        "a body without operationName, with an unknown one, or that is not JSON is refused with a 4xx or a statusCode != 0, never a 5xx or statusCode 4",
    ),
];

/// Looks a requirement up by id (`"CMP-04"`), case-insensitively.
pub fn find(id: &str) -> Option<&'static Requirement> {
    ReqId::parse(id).map(ReqId::requirement)
}

/// Joins ids with `sep` (`CMP-01,CMP-02`).
pub fn join(ids: &[ReqId], sep: &str) -> String {
    ids.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(sep)
}

/// All requirement ids, in catalogue order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().map(|r| r.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for r in CATALOGUE {
            assert!(seen.insert(r.id), "duplicate id {}", r.id);
            assert_eq!(ReqId::parse(r.id.as_str()), Some(r.id));
            let (prefix, num) = r.id.as_str().split_once('-').expect("id has a dash");
            assert!(["CMP", "NTF", "SES", "REQ"].contains(&prefix), "{}", r.id);
            assert_eq!(num.len(), 2, "{}", r.id);
            assert!(num.chars().all(|c| c.is_ascii_digit()), "{}", r.id);
        }
        assert_eq!(CATALOGUE.len(), 27);
        assert_eq!(ReqId::ALL.len(), CATALOGUE.len());
        for (id, row) in ReqId::ALL.iter().zip(CATALOGUE) {
            assert_eq!(*id, row.id, "ReqId::ALL is in catalogue order");
        }
    }

    #[test]
    fn find_is_case_insensitive_and_rejects_unknown() {
        assert_eq!(find("cmp-04").map(|r| r.level), Some(Level::Should));
        assert_eq!(find("CMP-01").map(|r| r.level), Some(Level::Must));
        assert!(find("CMP-99").is_none());
    }
}
