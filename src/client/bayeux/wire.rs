//! The wire codec: a Bayeux answer read message by message, and a failed exchange.

use super::EXCERPT;
use crate::client::http;
use crate::history::json as tolerant;
use serde_json::Value;

/// A failed Bayeux exchange. What a 2xx answer holds is read message by message
/// ([`read_answer`]): an unreadable message is a [`Msg::Bad`], not a failed exchange.
#[derive(Debug)]
pub(super) enum PostError {
    /// No answer (timeout, refused, reset, too large).
    Transport(String),
    /// HTTP answered but not with a 2xx.
    Http(u16, String),
}

impl PostError {
    pub(super) fn describe(&self) -> String {
        match self {
            PostError::Transport(m) => m.clone(),
            PostError::Http(s, e) => format!("HTTP {s}: {e}"),
        }
    }
}

/// One message of an answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Msg {
    /// A JSON object, and how its bytes were read where that differs from what was sent
    /// (a lone-surrogate escape shown as U+FFFD…).
    Read { value: Value, notes: Vec<String> },
    /// It cannot be read, or is not a message object: why, and its bytes (bounded).
    Bad { error: String, excerpt: String },
}

impl Msg {
    pub(super) fn value(&self) -> Option<&Value> {
        match self {
            Msg::Read { value, .. } => Some(value),
            Msg::Bad { .. } => None,
        }
    }

    pub(super) fn bad(error: String, bytes: &[u8]) -> Msg {
        Msg::Bad {
            error,
            excerpt: http::excerpt(bytes, EXCERPT),
        }
    }
}

/// The messages of a 2xx answer to `during`, each read on its own with the tolerant
/// reader, so one that cannot be read costs no other: the top-level array is split into
/// its elements first ([`tolerant::split_array`]). A single message object (not in an
/// array) is read as a one-message answer; an answer that is no JSON array or object at
/// all is one [`Msg::Bad`].
pub(super) fn read_answer(bytes: &[u8], during: &str) -> Vec<Msg> {
    let one = |b: &[u8], at: usize| -> Msg {
        if b.is_empty() {
            return Msg::bad(
                format!("{during} answer: an empty element at byte {at} (a comma too many)"),
                b,
            );
        }
        match tolerant::parse_at(b, at) {
            Ok(p) if p.value.is_object() => Msg::Read {
                value: p.value,
                notes: p.notes,
            },
            Ok(_) => Msg::bad(
                format!("{during} answer: the element at byte {at} is not a message object"),
                b,
            ),
            Err(e) => Msg::bad(
                format!("{during} answer: the element at byte {at} is {e}"),
                b,
            ),
        }
    };
    let Some(arr) = tolerant::split_array(bytes) else {
        return match tolerant::parse(bytes) {
            Ok(p) if p.value.is_object() => {
                let mut notes = p.notes;
                notes.push(format!(
                    "the {during} answer is one message object, not an array of messages; read as one message"
                ));
                vec![Msg::Read {
                    value: p.value,
                    notes,
                }]
            }
            Ok(_) => vec![Msg::bad(
                format!("{during} answer is JSON but not an array of Bayeux messages"),
                bytes,
            )],
            Err(e) => vec![Msg::bad(format!("{during} answer is {e}"), bytes)],
        };
    };
    let mut out: Vec<Msg> = arr.parts.iter().map(|(at, b)| one(b, *at)).collect();
    if arr.unclosed && matches!(out.last(), None | Some(Msg::Read { .. })) {
        let tail = &bytes[bytes.len().saturating_sub(EXCERPT)..];
        out.push(Msg::bad(
            format!(
                "{during} answer ends at byte {} before its closing ']' (cut short)",
                bytes.len()
            ),
            tail,
        ));
    }
    if let Some((at, rest)) = arr.trailing {
        out.push(Msg::bad(
            format!("{during} answer: text after the closing ']' at byte {at}"),
            rest,
        ));
    }
    out
}
