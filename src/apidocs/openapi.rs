//! `gws-conform export openapi`: the REST surface (agent chat API, customer chat API,
//! provider-state endpoint) as an OpenAPI 3.1 document whose schemas are `schemas/`.
//!
//! Responses follow SPEC §6.3: a refusal may come with HTTP 200 and a statusCode body,
//! so every 200 answer is `oneOf` the success body and the error body; a `4XX` answer
//! carries the error body; transport refusals (401 without credentials, 403 for a
//! missing CSRF token) may carry any body.

use serde_json::{Value, json};

use super::{Dialect, ExportError, components, schema_ref};
use crate::schema::Schemas;

/// The agent chat operations of `POST /api/v2/me/chats/{id}` and their request schemas.
pub(crate) const CHAT_OPERATIONS: &[(&str, &str)] = &[
    ("Accept", "accept-request"),
    ("Reject", "reject-request"),
    ("SendMessage", "send-message-request"),
    ("Leave", "leave-request"),
    ("Complete", "complete-request"),
];

/// The customer operations of `POST /api/v2/chats/{id}` and their request schemas.
pub(crate) const CUSTOMER_OPERATIONS: &[(&str, &str)] = &[
    ("SendMessage", "customer-send-message-request"),
    ("Complete", "customer-complete-request"),
];

/// The paths the document declares (for tests and docs).
pub const PATHS: &[&str] = &[
    "/api/v2/me",
    "/api/v2/me/channels/chat",
    "/api/v2/me/chats",
    "/api/v2/me/chats/{id}",
    "/api/v2/chats",
    "/api/v2/chats/{id}",
    "/api/v2/chats/{id}/messages",
    "/conformance/provider-state",
];

fn json_body(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// A 200 answer: the success schema or, per SPEC §6.3, a statusCode error body.
fn ok_or_refusal(success: &str, what: &str) -> Value {
    json!({
        "description": format!("{what}; or a refusal with HTTP 200 and a statusCode error body (SPEC §6.3)"),
        "content": json_body(json!({ "oneOf": [schema_ref(success), schema_ref("response-error")] }))
    })
}

/// The refusal answers shared by every REST operation of the agent API.
fn agent_refusals(responses: &mut serde_json::Map<String, Value>, post: bool) {
    responses.insert(
        "401".into(),
        json!({"description": "Transport refusal: no (valid) Basic credentials (SES-01/02); the body may be anything (SPEC §6.3)"}),
    );
    if post {
        responses.insert(
            "403".into(),
            json!({"description": "Transport refusal: missing or wrong CSRF token (SPEC §1.1); the body may be anything (SPEC §6.3)"}),
        );
    }
    responses.insert(
        "4XX".into(),
        json!({
            "description": "A refusal with a 4xx status and the statusCode error body (SPEC §6.3); 400 for a non-JSON body and 413 for an oversized one may carry another body",
            "content": json_body(schema_ref("response-error"))
        }),
    );
}

fn agent_get(op_id: &str, summary: &str, success: &str, what: &str) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert("200".into(), ok_or_refusal(success, what));
    agent_refusals(&mut responses, false);
    json!({
        "operationId": op_id,
        "summary": summary,
        "tags": ["agent"],
        "security": [{"basicAuth": []}],
        "responses": responses
    })
}

fn agent_post(op_id: &str, summary: &str, request: Value, examples: Option<Value>) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert("200".into(), ok_or_refusal("response-success", "Success"));
    agent_refusals(&mut responses, true);
    let mut media = json!({ "schema": request });
    if let Some(e) = examples {
        media["examples"] = e;
    }
    json!({
        "operationId": op_id,
        "summary": summary,
        "tags": ["agent"],
        // SPEC §1.1: a target may run with CSRF off (the harness detects which).
        "security": [{"basicAuth": [], "csrfToken": []}, {"basicAuth": []}],
        "requestBody": { "required": true, "content": { "application/json": media } },
        "responses": responses
    })
}

fn one_of_operations(ops: &[(&str, &str)]) -> Value {
    let mapping: serde_json::Map<String, Value> = ops
        .iter()
        .map(|(op, s)| {
            (
                (*op).to_string(),
                Value::String(format!("{}{s}", super::COMPONENTS)),
            )
        })
        .collect();
    json!({
        "oneOf": ops.iter().map(|(_, s)| schema_ref(s)).collect::<Vec<_>>(),
        "discriminator": { "propertyName": "operationName", "mapping": mapping }
    })
}

fn id_param() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "The chat id",
        "schema": schema_ref("common.chatId")
    })
}

fn customer_op(op_id: &str, summary: &str, success: &str, what: &str) -> Value {
    json!({
        "operationId": op_id,
        "summary": summary,
        "tags": ["customer"],
        "security": [],
        "parameters": [{
            "name": "ContactCenterId", "in": "header", "required": true,
            "description": "The contact center's id (SPEC §1.5); not a credential: the Customer Chat API has no Authorization",
            "schema": {"type": "string", "minLength": 1},
            "example": "gws-conform"
        }],
        "responses": {
            "200": ok_or_refusal(success, what),
            "4XX": {
                "description": "A refusal with a 4xx status and the statusCode error body (SPEC §6.3)",
                "content": json_body(schema_ref("response-error"))
            }
        }
    })
}

/// Builds the OpenAPI 3.1 document from `schemas`.
pub(crate) fn document(schemas: &Schemas) -> Result<Value, ExportError> {
    let mut roots: Vec<&str> = vec![
        "response",
        "response-success",
        "response-error",
        "me-response",
        "chats-response",
        "chat-response",
        "start-contact-center-session-request",
        "ready-request",
        "customer-request-chat-request",
        "customer-request-chat-response",
        "customer-chat-response",
        "customer-messages-response",
        "provider-state-request",
        "provider-state-chat-offered",
        "provider-state-inspect",
        "common.chatId",
    ];
    roots.extend(CHAT_OPERATIONS.iter().map(|(_, s)| *s));
    roots.extend(CUSTOMER_OPERATIONS.iter().map(|(_, s)| *s));
    let schemas_map = components(schemas, &roots, Dialect::Draft2020)?;

    let doc = json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "GWS API v2 Chat API (agent Complete) as gws-conform judges it",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Exported by `gws-conform export openapi` from the JSON Schemas the harness judges with (schemas/). The agent API keeps a session cookie (JSESSIONID) and announces the CSRF token in the X-CSRF-TOKEN header of every GET answer; POST requests must echo it (SPEC §1.1). Refusals: SPEC §6.3. Notifications (Bayeux): see the AsyncAPI export.",
            "license": {"name": "MIT", "identifier": "MIT"}
        },
        "servers": [{
            "url": "{base}",
            "description": "The target's base URL",
            "variables": {"base": {"default": "http://127.0.0.1:8080"}}
        }],
        "tags": [
            {"name": "agent", "description": "Agent API (Basic auth, session cookie, CSRF on POST)"},
            {"name": "customer", "description": "Customer Chat API (no Authorization; ContactCenterId header)"},
            {"name": "provider-state", "description": "The vendor's provider-state URL (SPEC §1.5); its path is the vendor's choice"}
        ],
        "paths": paths(),
        "components": {
            "schemas": schemas_map,
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic", "description": "HTTP Basic on every agent request, the session cookie does not replace it (SPEC §6.2)"},
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-TOKEN", "description": "The token from the X-CSRF-TOKEN header of a prior GET answer (X-CSRF-HEADER names the header); POST/PUT/DELETE of the agent API only; a target may run without CSRF (SPEC §1.1, §6.1)"}
            }
        }
    });
    Ok(doc)
}

/// The document's `paths`: the agent API, the customer Chat API and the provider-state
/// URL.
fn paths() -> Value {
    let complete_example = json!({
        "complete": {"summary": "Complete (SPEC §1.2), every optional field", "value": {
            "operationName": "Complete", "queueName": "after-chat", "saveLAR": true,
            "text": "Goodbye", "messageType": "Text", "treatAs": "Normal"}},
        "completeBare": {"summary": "Complete with no optional field", "value": {"operationName": "Complete"}}
    });

    let mut customer_post = customer_op(
        "customerChatOperation",
        "Customer chat operation: SendMessage or Complete (the customer leaves)",
        "response-success",
        "Success",
    );
    customer_post["requestBody"] =
        json!({"required": true, "content": json_body(one_of_operations(CUSTOMER_OPERATIONS))});
    let mut request_chat = customer_op(
        "requestChat",
        "Customer RequestChat (SPEC §1.5)",
        "customer-request-chat-response",
        "The new chat's id and path",
    );
    request_chat["requestBody"] = json!({"required": true, "content": json_body(schema_ref("customer-request-chat-request"))});

    json!({
        "/api/v2/me": {
            "get": agent_get("getMe", "The agent (facts 2.1)", "me-response", "The agent"),
            "post": agent_post("startContactCenterSession", "StartContactCenterSession", schema_ref("start-contact-center-session-request"), None)
        },
        "/api/v2/me/channels/chat": {
            "post": agent_post("ready", "Channel Ready: the agent can be offered chats", schema_ref("ready-request"), None)
        },
        "/api/v2/me/chats": {
            "get": agent_get("getChats", "The agent's chats (SHOULD)", "chats-response", "The agent's chats")
        },
        "/api/v2/me/chats/{id}": {
            "parameters": [id_param()],
            "get": agent_get("getChat", "One of the agent's chats (SHOULD; shape inferred, facts 2.1)", "chat-response", "The chat"),
            "post": agent_post(
                "chatOperation",
                "A chat operation chosen by operationName: Accept, Reject, SendMessage, Leave or Complete (SPEC §1.1, §1.2)",
                one_of_operations(CHAT_OPERATIONS),
                Some(complete_example))
        },
        "/api/v2/chats": {
            "post": request_chat
        },
        "/api/v2/chats/{id}": {
            "parameters": [id_param()],
            "get": customer_op("getCustomerChat", "The customer's view of the chat", "customer-chat-response", "The chat"),
            "post": customer_post
        },
        "/api/v2/chats/{id}/messages": {
            "parameters": [id_param()],
            "get": customer_op("getCustomerMessages", "The transcript", "customer-messages-response", "The transcript")
        },
        "/conformance/provider-state": {
            "post": {
                "operationId": "providerState",
                "summary": "Provider state: setup, teardown or inspect (SPEC §1.5, §6.6)",
                "tags": ["provider-state"],
                "security": [],
                "requestBody": {"required": true, "content": json_body(schema_ref("provider-state-request"))},
                "responses": {
                    "200": {
                        "description": "setup 'chat offered' answers the chat id; inspect answers what it can observe; other states answer {}",
                        "content": json_body(json!({"anyOf": [
                            schema_ref("provider-state-chat-offered"),
                            schema_ref("provider-state-inspect"),
                            {"type": "object", "maxProperties": 0}
                        ]}))
                    },
                    "404": {"description": "Unsupported state: the requirements that need it are Skip (not observable)"},
                    "409": {"description": "chat offered: the agent is at capacity; retry later (SPEC §6.9)"},
                    "501": {"description": "Unsupported state: the requirements that need it are Skip (not observable)"},
                    "4XX": {"description": "A malformed request"}
                }
            }
        }
    })
}
