//! Reading notifications: which chat one is for and what it says.
//!
//! The one reader of a `/v2/me/chats` notification's JSON (the `data` of its Bayeux
//! message): the recorder routes by it, the checker judges by it. It sits at the bottom
//! with the history and imports nothing above it.

use super::{Event, EventKind, at_path};
use serde_json::Value;

/// The `chat.userData` key under which provisioning tags the chats it asks for (so that
/// the Invited notification of a chat requested as a customer can be told apart).
pub(crate) const TAG_KEY: &str = "gwsConformTag";
/// Where [`TAG_KEY`] sits in a chat notification (a path for [`at_path`]).
const TAG_PATH: [&str; 3] = ["chat", "userData", TAG_KEY];

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
        reference_id(self.data)
    }

    /// `chat.uri`, when a string.
    pub fn chat_uri(&self) -> Option<&'a str> {
        chat_uri(self.data)
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
        if let Some(p) = at_path(data, key).and_then(Value::as_str) {
            let seg = p.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            if !seg.is_empty() {
                return Some(seg);
            }
        }
    }
    None
}

/// True for a notification the checker does not judge and that must never break a quiet
/// window (SPEC §6.10): a `NewMessages` (or `MessageLogUpdated`) whose messages are all
/// typing notices (`TypingStarted`/`TypingStopped`). An empty message list is not
/// typing-only.
pub(crate) fn is_typing_only(data: &Value) -> bool {
    let kind = data
        .get("notificationType")
        .or_else(|| data.get("messageType"))
        .and_then(Value::as_str);
    if !matches!(kind, Some("NewMessages") | Some("MessageLogUpdated")) {
        return false;
    }
    let Some(msgs) = data.get("messages").and_then(Value::as_array) else {
        return false;
    };
    !msgs.is_empty()
        && msgs.iter().all(|m| {
            matches!(
                m.get("type").and_then(Value::as_str),
                Some("TypingStarted") | Some("TypingStopped")
            )
        })
}

// The Bayeux message that carries a notification.

/// The `channel` of a Bayeux message, when a string.
pub(crate) fn message_channel(msg: &Value) -> Option<&str> {
    msg.get("channel").and_then(Value::as_str)
}

/// The `data` of a Bayeux message (for a `/v2/me/chats` delivery: the notification), as
/// sent.
pub(crate) fn message_data(msg: &Value) -> Option<&Value> {
    msg.get("data")
}

/// The `data` of a Bayeux message moved out of it (`null` left in its place), or `null`
/// when it has none.
pub(crate) fn take_message_data(msg: &mut Value) -> Value {
    msg.get_mut("data").map(Value::take).unwrap_or(Value::Null)
}

// The notification (the `data` of its Bayeux message).

/// `notificationType`, when a string (`StatusChange`, `NewMessages`, `Error`, …).
pub(crate) fn notification_type(data: &Value) -> Option<&str> {
    data.get("notificationType").and_then(Value::as_str)
}

/// `messageType`, when a string (`ChatStateChangeMessage`, …).
pub(crate) fn message_type(data: &Value) -> Option<&str> {
    data.get("messageType").and_then(Value::as_str)
}

/// `referenceId`, as sent.
pub(crate) fn reference_id(data: &Value) -> Option<&Value> {
    data.get("referenceId")
}

/// The notified `chat` object, as sent (read it with the `chat_object_*` readers).
pub(crate) fn chat(data: &Value) -> Option<&Value> {
    data.get("chat")
}

/// `chat.id`, as sent (any type). For the chat a notification is about, whatever names
/// it, see [`chat_id_of`].
pub(crate) fn chat_id(data: &Value) -> Option<&Value> {
    chat(data).and_then(chat_object_id)
}

/// `chat.state`, when a string.
pub(crate) fn chat_state(data: &Value) -> Option<&str> {
    chat(data).and_then(chat_object_state)
}

/// `chat.uri`, when a string.
pub(crate) fn chat_uri(data: &Value) -> Option<&str> {
    at_path(data, &["chat", "uri"]).and_then(Value::as_str)
}

/// The provisioning tag the notified chat carries (`chat.userData` under [`TAG_KEY`]),
/// when a string.
pub(crate) fn tag(data: &Value) -> Option<&str> {
    at_path(data, &TAG_PATH).and_then(Value::as_str)
}

/// The top-level `chatPath`, as sent (any type).
pub(crate) fn chat_path_field(data: &Value) -> Option<&Value> {
    data.get("chatPath")
}

/// The top-level `chatUri` (how `NewMessages` name their chat: `…/chats/{id}`), as sent
/// (any type).
pub(crate) fn chat_uri_field(data: &Value) -> Option<&Value> {
    data.get("chatUri")
}

/// True for a `StatusChange` to `Invited` (the chat offered to the agent notified).
pub(crate) fn is_invited_status(data: &Value) -> bool {
    chat_state(data) == Some("Invited") && notification_type(data) == Some("StatusChange")
}

// A chat object: the `chat` of a notification, or one chat as `GET /api/v2/me/chats`
// lists it (the same layout).

/// The chat's `id`, as sent (any type).
pub(crate) fn chat_object_id(chat: &Value) -> Option<&Value> {
    chat.get("id")
}

/// The chat's `state`, when a string.
pub(crate) fn chat_object_state(chat: &Value) -> Option<&str> {
    chat.get("state").and_then(Value::as_str)
}

/// The provisioning tag the chat carries (`userData` under [`TAG_KEY`]), when a string.
pub(crate) fn chat_object_tag(chat: &Value) -> Option<&str> {
    at_path(chat, &["userData", TAG_KEY]).and_then(Value::as_str)
}

/// The `participantId`s (as sent, any type) of the chat's customer participants (those
/// of `type` `Customer` or `Client`), in the order listed; a participant without one is
/// skipped.
pub(crate) fn customer_participant_ids(chat: &Value) -> Vec<&Value> {
    chat.get("participants")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter(|p| {
                    matches!(
                        p.get("type").and_then(Value::as_str),
                        Some("Customer") | Some("Client")
                    )
                })
                .filter_map(|p| p.get("participantId"))
                .collect()
        })
        .unwrap_or_default()
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

    #[test]
    fn typing_only_is_only_typing() {
        let typing = json!({"notificationType": "NewMessages", "messages": [
            {"type": "TypingStarted"}, {"type": "TypingStopped"}]});
        assert!(is_typing_only(&typing));
        let text = json!({"notificationType": "NewMessages", "messages": [
            {"type": "TypingStarted"}, {"type": "Text", "text": "hi"}]});
        assert!(!is_typing_only(&text));
        assert!(!is_typing_only(
            &json!({"notificationType": "NewMessages", "messages": []})
        ));
        assert!(!is_typing_only(
            &json!({"notificationType": "StatusChange", "chat": {"id": "a"}})
        ));
    }

    #[test]
    fn fields_are_read_as_sent() {
        let d = json!({"messageType": "ChatStateChangeMessage", "notificationType": "StatusChange",
            "referenceId": 7, "chatPath": "/chats/P", "chatUri": 3,
            "chat": {"id": 42, "state": "Invited", "uri": "http://h/api/v2/chats/A",
                "userData": {TAG_KEY: "t1"},
                "participants": [{"type": "Agent", "participantId": "a"},
                    {"type": "Customer", "participantId": "c"}, {"type": "Client"},
                    {"type": "Client", "participantId": 9}]}});
        assert_eq!(notification_type(&d), Some("StatusChange"));
        assert_eq!(message_type(&d), Some("ChatStateChangeMessage"));
        assert_eq!(reference_id(&d), Some(&json!(7)));
        assert_eq!(chat_id(&d), Some(&json!(42)));
        assert_eq!(chat_state(&d), Some("Invited"));
        assert_eq!(chat_uri(&d), Some("http://h/api/v2/chats/A"));
        assert_eq!(tag(&d), Some("t1"));
        assert_eq!(chat_path_field(&d), Some(&json!("/chats/P")));
        assert_eq!(chat_uri_field(&d), Some(&json!(3)));
        assert!(is_invited_status(&d));
        let chat = chat(&d).unwrap();
        assert_eq!(chat_object_tag(chat), Some("t1"));
        assert_eq!(customer_participant_ids(chat), [&json!("c"), &json!(9)]);
        assert!(customer_participant_ids(&json!({"id": "x"})).is_empty());
        assert!(!is_invited_status(
            &json!({"notificationType": "NewMessages",
            "chat": {"state": "Invited"}})
        ));
        let mut m = json!({"channel": "/v2/me/chats", "data": {"a": 1}});
        assert_eq!(message_channel(&m), Some("/v2/me/chats"));
        assert_eq!(message_data(&m), Some(&json!({"a": 1})));
        assert_eq!(take_message_data(&mut m), json!({"a": 1}));
        assert_eq!(m["data"], Value::Null);
        assert_eq!(take_message_data(&mut json!({"channel": 1})), Value::Null);
        assert_eq!(message_channel(&json!({"channel": 1})), None);
    }
}
