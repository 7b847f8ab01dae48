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
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// One row of the requirement catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub id: &'static str,
    pub level: Level,
    pub text: &'static str,
}

use Level::{Must, Should};

const fn req(id: &'static str, level: Level, text: &'static str) -> Requirement {
    Requirement { id, level, text }
}

/// The whole catalogue, in SPEC order.
pub const CATALOGUE: &[Requirement] = &[
    req(
        "CMP-01",
        Must,
        "Complete on a Chatting chat answers HTTP 200 and a body valid against the response schema with statusCode 0 and no statusMessage",
    ),
    req(
        "CMP-02",
        Must,
        "after CMP-01, exactly one StatusChange to Completed for that chat id arrives within the deadline",
    ),
    req(
        "CMP-03",
        Should,
        "that notification's chat.uri ends with /api/v2/chats/{id}",
    ),
    req(
        "CMP-04",
        Should,
        "with text: the agent receives a NewMessages carrying that text before the Completed status change",
    ),
    req(
        "CMP-05",
        Must,
        "with text: the customer's transcript holds the text (observed via customer-api or provider inspect)",
    ),
    req(
        "CMP-06",
        Must,
        "Complete ends the customer's session if still open (customer-side state Idle, or customerSessionEnded: true)",
    ),
    req(
        "CMP-07",
        Must,
        "queueName: the interaction is placed in that queue (provider inspect; else Skip)",
    ),
    req(
        "CMP-08",
        Must,
        "saveLAR: true: the agent is recorded as last agent (provider inspect; else Skip)",
    ),
    req(
        "CMP-09",
        Must,
        "messageType or treatAs without text is refused (statusCode != 0; SHOULD be 1, 2 or 10)",
    ),
    req("CMP-10", Must, "treatAs outside Normal/System is refused"),
    req(
        "CMP-11",
        Should,
        "wrongly typed fields (saveLAR not boolean, queueName not a string or empty, text not a string) are refused",
    ),
    req("CMP-12", Should, "Complete on an Invited chat is refused"),
    req(
        "CMP-13",
        Should,
        "Complete on an already Completed chat is refused and produces no second Completed",
    ),
    req(
        "CMP-14",
        Should,
        "Complete on an unknown chat id is refused with statusCode 6",
    ),
    req(
        "CMP-15",
        Must,
        "Complete on a LeftChat chat succeeds (CMP-01/02 apply)",
    ),
    req(
        "CMP-16",
        Must,
        "Complete after the customer left succeeds (CMP-01/02 apply)",
    ),
    req(
        "CMP-17",
        Must,
        "a refused Complete changes nothing: no notification for the chat, and the chat still accepts the operations of its state",
    ),
    req(
        "CMP-18",
        Must,
        "every error body is exactly statusCode (!= 0) plus statusMessage",
    ),
    req(
        "CMP-19",
        Should,
        "no notification for a chat after its Completed",
    ),
    req(
        "CMP-20",
        Must,
        "Completes on many chats at once: each chat gets exactly one Completed, and each chat's own notifications keep the order of CMP-04",
    ),
    req(
        "CMP-21",
        Must,
        "Complete on another agent's chat is refused (statusCode 3, 5 or 6) and changes nothing",
    ),
    req(
        "CMP-22",
        Should,
        "a response referenceId, when present, equals the referenceId of the notifications it caused",
    ),
    req(
        "NTF-01",
        Must,
        "every notification on /v2/me/chats is valid against its schema",
    ),
    req(
        "NTF-02",
        Must,
        "the Bayeux handshake, subscribe and connect succeed, and the server's advice is honoured by the harness",
    ),
    req(
        "SES-01",
        Should,
        "a POST without the CSRF token, when the target uses CSRF, gets HTTP 403 and changes nothing",
    ),
    req(
        "SES-02",
        Should,
        "a request without credentials gets statusCode 20 or HTTP 401 and changes nothing",
    ),
    req(
        "REQ-01",
        Must,
        "a body without operationName, with an unknown one, or that is not JSON is refused with a 4xx or a statusCode != 0, never a 5xx or statusCode 4",
    ),
];

/// Looks a requirement up by id (`"CMP-04"`), case-insensitively.
pub fn find(id: &str) -> Option<&'static Requirement> {
    CATALOGUE.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// All requirement ids, in catalogue order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().map(|r| r.id)
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
            let (prefix, num) = r.id.split_once('-').expect("id has a dash");
            assert!(["CMP", "NTF", "SES", "REQ"].contains(&prefix), "{}", r.id);
            assert_eq!(num.len(), 2, "{}", r.id);
            assert!(num.chars().all(|c| c.is_ascii_digit()), "{}", r.id);
        }
        assert_eq!(CATALOGUE.len(), 27);
    }

    #[test]
    fn find_is_case_insensitive_and_rejects_unknown() {
        assert_eq!(find("cmp-04").map(|r| r.level), Some(Level::Should));
        assert_eq!(find("CMP-01").map(|r| r.level), Some(Level::Must));
        assert!(find("CMP-99").is_none());
    }
}
