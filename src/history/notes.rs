//! Reading notifications: which chat one is for and what it says.
//!
//! The one reader of a `/v2/me/chats` notification's JSON (the `data` of its Bayeux
//! message): the recorder routes by it, the checker judges by it. It sits at the bottom
//! with the history and imports nothing above it.

use super::{Event, EventKind};
use serde_json::Value;

/// A `/v2/me/chats` notification of the history, pre-digested.
#[derive(Debug, Clone)]
pub(crate) struct Note<'a> {
    pub seq: u64,
    pub t_us: u64,
    pub agent: &'a str,
    pub chat_id: Option<String>,
    pub data: &'a Value,
}

impl<'a> Note<'a> {
    pub fn from_event(e: &'a Event) -> Option<Note<'a>> {
        match &e.kind {
            EventKind::Notification { agent, data, .. } => Some(Note {
                seq: e.seq,
                t_us: e.t_us,
                agent,
                chat_id: chat_id_of(data).map(str::to_string),
                data,
            }),
            _ => None,
        }
    }

    pub fn is_for(&self, id: &str) -> bool {
        self.chat_id.as_deref() == Some(id)
    }

    fn str_at(&self, key: &str) -> Option<&'a str> {
        self.data.get(key).and_then(Value::as_str)
    }

    /// `chat.state` of a `ChatStateChangeMessage`/`StatusChange`.
    pub fn status_state(&self) -> Option<&'a str> {
        if self.str_at("messageType") == Some("ChatStateChangeMessage")
            && self.str_at("notificationType") == Some("StatusChange")
        {
            self.data.get("chat")?.get("state")?.as_str()
        } else {
            None
        }
    }

    pub fn is_completed(&self) -> bool {
        self.status_state() == Some("Completed")
    }

    /// A `ChatStateChangeMessage`/`Error`.
    pub fn is_error(&self) -> bool {
        self.str_at("notificationType") == Some("Error")
    }

    /// True when this is a `NewMessages` holding a `Text` message with exactly `text`
    /// from an agent (`from.type == "Agent"`).
    pub fn has_agent_text(&self, text: &str) -> bool {
        if self.str_at("notificationType") != Some("NewMessages") {
            return false;
        }
        let Some(msgs) = self.data.get("messages").and_then(Value::as_array) else {
            return false;
        };
        msgs.iter().any(|m| {
            m.get("type").and_then(Value::as_str) == Some("Text")
                && m.get("text").and_then(Value::as_str) == Some(text)
                && m.get("from")
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str)
                    == Some("Agent")
        })
    }

    /// True when this is a `NewMessages` holding a `ParticipantLeft` of the customer.
    pub fn has_customer_left(&self) -> bool {
        if self.str_at("notificationType") != Some("NewMessages") {
            return false;
        }
        let Some(msgs) = self.data.get("messages").and_then(Value::as_array) else {
            return false;
        };
        msgs.iter().any(|m| {
            m.get("type").and_then(Value::as_str) == Some("ParticipantLeft")
                && m.get("from")
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str)
                    == Some("Customer")
        })
    }

    pub fn reference_id(&self) -> Option<&'a Value> {
        self.data.get("referenceId")
    }

    /// One-line description for witnesses.
    pub fn describe(&self) -> String {
        let kind = self.str_at("notificationType").unwrap_or("?");
        match self.status_state() {
            Some(s) => format!("{kind} {s} (seq {}) to {}", self.seq, self.agent),
            None => format!("{kind} (seq {}) to {}", self.seq, self.agent),
        }
    }
}

/// The chat a notification is about: `data.chat.id`, else the last path segment of
/// `data.chat.uri`, `data.chatPath` or `data.chatUri` (the runner routes notifications to
/// their case the same way, so a notification without `chat.id` is judged with its chat,
/// and its missing id by NTF-01).
pub fn chat_id_of(data: &Value) -> Option<&str> {
    if let Some(id) = data
        .get("chat")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
    {
        return Some(id);
    }
    for key in [&["chat", "uri"][..], &["chatPath"], &["chatUri"]] {
        if let Some(p) = super::at_path(data, key).and_then(Value::as_str) {
            let seg = p.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            if !seg.is_empty() {
                return Some(seg);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_ids_come_from_chat_id_or_paths() {
        assert_eq!(chat_id_of(&json!({"chat":{"id":"A"}})), Some("A"));
        assert_eq!(
            chat_id_of(&json!({"chatUri":"http://h/api/v2/chats/B"})),
            Some("B")
        );
        assert_eq!(chat_id_of(&json!({"chatPath":"/chats/C/"})), Some("C"));
        assert_eq!(
            chat_id_of(&json!({"chat":{"state":"Completed","uri":"http://h/api/v2/chats/D"}})),
            Some("D")
        );
        assert_eq!(chat_id_of(&json!({"chatPath":"/"})), None);
        assert_eq!(chat_id_of(&json!(5)), None);
    }
}
