//! `gws-conform export asyncapi`: the Bayeux (CometD, long-polling) notifications as an
//! AsyncAPI 3.0 document whose schemas are `schemas/`.
//!
//! Schemas are inlined as Draft-07-compatible AsyncAPI Schema Objects (the default
//! `schemaFormat`, accepted by `asyncapi validate`): `schemas/` uses only draft-07
//! keywords apart from `dependentRequired`, written as the equivalent `dependencies`.
//!
//! Long polling is described twice: the standard `http` operation binding (method POST,
//! the Bayeux endpoint is one URL for every channel) and an `x-bayeux` extension on the
//! server and channel (handshake → subscribe → connect loop, `connectionType`
//! `long-polling`, advice to obey), since no AsyncAPI binding describes Bayeux itself.

use serde_json::{Value, json};

use super::{Dialect, ExportError, components, schema_ref};
use crate::schema::Schemas;

/// The notification messages on `/v2/me/chats`: (message name, `$defs` entry of
/// `notification.schema.json`).
pub(crate) const NOTIFICATIONS: &[(&str, &str)] = &[
    (
        "ChatStateChangeMessage",
        "notification.ChatStateChangeMessage",
    ),
    ("MessageLogUpdated", "notification.MessageLogUpdated"),
];

/// The Bayeux meta channels: (channel, request schema, reply schema).
pub(crate) const META: &[(&str, &str, &str)] = &[
    (
        "/meta/handshake",
        "bayeux-handshake-request",
        "bayeux-handshake-reply",
    ),
    (
        "/meta/subscribe",
        "bayeux-subscribe-request",
        "bayeux-subscribe-reply",
    ),
    (
        "/meta/connect",
        "bayeux-connect-request",
        "bayeux-connect-reply",
    ),
];

fn key(channel: &str) -> String {
    // "/meta/connect" → "metaConnect"
    let mut out = String::new();
    let mut upper = false;
    for c in channel.chars() {
        if c.is_ascii_alphanumeric() {
            if upper && !out.is_empty() {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

fn http_binding() -> Value {
    json!({"http": {"method": "POST", "bindingVersion": "0.3.0"}})
}

/// Builds the AsyncAPI 3.0 document from `schemas`.
pub fn document(schemas: &Schemas) -> Result<Value, ExportError> {
    let mut roots: Vec<&str> = vec!["bayeux-chat-delivery", "notification"];
    roots.extend(NOTIFICATIONS.iter().map(|(_, s)| *s));
    for (_, req, rep) in META {
        roots.push(req);
        roots.push(rep);
    }
    let schemas_map = components(schemas, &roots, Dialect::Draft07)?;

    let mut messages = serde_json::Map::new();
    let chat_messages = notification_messages(&mut messages);

    let mut channels = serde_json::Map::new();
    let mut operations = serde_json::Map::new();
    channels.insert(
        "chats".into(),
        json!({
            "address": "/v2/me/chats",
            "title": "The agent's chat notifications",
            "description": "Subscribed to with /meta/subscribe; messages arrive in the answers of /meta/connect long-polls (SPEC §1.4).",
            "messages": chat_messages,
            "x-bayeux": {"subscribe": "/meta/subscribe", "delivery": "/meta/connect answers"}
        }),
    );
    operations.insert(
        "receiveChatNotifications".into(),
        json!({
            "action": "receive",
            "channel": {"$ref": "#/channels/chats"},
            "summary": "Chat state changes and new messages of the agent's chats",
            "messages": NOTIFICATIONS.iter().map(|(n, _)| json!({"$ref": format!("#/channels/chats/messages/{n}")})).collect::<Vec<_>>(),
            "bindings": http_binding()
        }),
    );
    meta_exchanges(&mut messages, &mut channels, &mut operations);

    Ok(json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "GWS API v2 Chat API notifications (Bayeux) as gws-conform judges them",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Exported by `gws-conform export asyncapi` from the JSON Schemas the harness judges with (schemas/). Transport: Bayeux 1.0 (CometD) long-polling over HTTP POST to {base}/api/v2/notifications; a request body is an array of Bayeux messages and so is an answer. Flow: /meta/handshake → clientId; /meta/subscribe to /v2/me/chats; /meta/connect with connectionType long-polling in a loop, obeying the server's advice (reconnect retry|handshake|none, interval, timeout). Notifications arrive in /meta/connect answers. Same Basic auth and session cookie as the REST API, no CSRF token (SPEC §6.1). Long polling is described by the http operation binding (method POST) and the x-bayeux extensions.",
            "license": {"name": "MIT"}
        },
        "defaultContentType": "application/json",
        "servers": {
            "gws": {
                "host": "{host}",
                "protocol": "http",
                "pathname": "/api/v2/notifications",
                "description": "The Bayeux endpoint {base}/api/v2/notifications of the target (https for an https target)",
                "variables": {"host": {"default": "127.0.0.1:8080", "description": "host:port of the target's base URL"}},
                "security": [{"$ref": "#/components/securitySchemes/basicAuth"}],
                "x-bayeux": {
                    "version": "1.0",
                    "connectionType": "long-polling",
                    "handshake": "/meta/handshake",
                    "subscribe": "/meta/subscribe",
                    "connect": "/meta/connect",
                    "advice": "reconnect retry|handshake|none, interval, timeout: obeyed (NTF-02)",
                    "cookie": "JSESSIONID: one long-poll session per cookie (SPEC §6.7)"
                }
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas_map,
            "messages": messages,
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic", "description": "HTTP Basic, as on the REST API; no CSRF token (SPEC §6.1)"}
            }
        }
    }))
}

/// One message per notification type into `messages`; gives the references to them of
/// the chats channel.
fn notification_messages(
    messages: &mut serde_json::Map<String, Value>,
) -> serde_json::Map<String, Value> {
    let mut chat_messages = serde_json::Map::new();
    for (name, def) in NOTIFICATIONS {
        messages.insert(
            (*name).to_string(),
            json!({
                "name": name,
                "title": name,
                "summary": format!("A {name} notification: the Bayeux envelope {{channel: \"/v2/me/chats\", data}} whose data is a {name} (SPEC §1.4)"),
                "contentType": "application/json",
                "payload": {"allOf": [
                    schema_ref("bayeux-chat-delivery"),
                    {"type": "object", "properties": {"data": schema_ref(def)}}
                ]}
            }),
        );
        chat_messages.insert(
            (*name).to_string(),
            json!({"$ref": format!("#/components/messages/{name}")}),
        );
    }
    chat_messages
}

/// The Bayeux meta exchanges (handshake, subscribe, connect…): a request and a reply
/// message, a channel and a send operation each.
fn meta_exchanges(
    messages: &mut serde_json::Map<String, Value>,
    channels: &mut serde_json::Map<String, Value>,
    operations: &mut serde_json::Map<String, Value>,
) {
    for (channel, req, rep) in META {
        let k = key(channel);
        let req_name = format!("{k}Request");
        let rep_name = format!("{k}Reply");
        for (n, s) in [(&req_name, req), (&rep_name, rep)] {
            messages.insert(
                n.clone(),
                json!({"name": n, "contentType": "application/json", "payload": schema_ref(s)}),
            );
        }
        channels.insert(
            k.clone(),
            json!({
                "address": channel,
                "messages": {
                    req_name.clone(): {"$ref": format!("#/components/messages/{req_name}")},
                    rep_name.clone(): {"$ref": format!("#/components/messages/{rep_name}")}
                }
            }),
        );
        operations.insert(
            k.clone(),
            json!({
                "action": "send",
                "channel": {"$ref": format!("#/channels/{k}")},
                "messages": [{"$ref": format!("#/channels/{k}/messages/{req_name}")}],
                "reply": {
                    "channel": {"$ref": format!("#/channels/{k}")},
                    "messages": [{"$ref": format!("#/channels/{k}/messages/{rep_name}")}]
                },
                "bindings": http_binding()
            }),
        );
    }
}
