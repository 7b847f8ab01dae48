//! The one set of step builders every case family uses.

use crate::history::{AuthVariant, Body, ChatRef, Step};
use serde_json::{Value, json};

/// The owner of chat `chat` posts `body` as is, with well-formed credentials.
pub(crate) fn post_body(chat: &str, body: Body) -> Step {
    Step::AgentPost {
        chat: ChatRef::Alias(chat.into()),
        by_other_agent: false,
        auth: AuthVariant::Normal,
        body,
    }
}

/// The owner of chat `chat` posts the JSON document `body`.
pub(crate) fn post(chat: &str, body: Value) -> Step {
    post_body(chat, Body::Json(body))
}

/// Provisioning offers a new chat `chat` to `agent`.
pub(crate) fn offer(chat: &str, agent: &str) -> Step {
    Step::OfferChat {
        chat: chat.into(),
        agent: agent.into(),
    }
}

/// The owner accepts chat `chat`.
pub(crate) fn accept(chat: &str) -> Step {
    post(
        chat,
        json!({"operationName": "Accept", "nickname": "Agent"}),
    )
}

/// A plain Complete request body.
pub(crate) fn complete() -> Value {
    json!({"operationName": "Complete"})
}

/// The harness reads chat `chat` back through provisioning.
pub(crate) fn inspect(chat: &str) -> Step {
    Step::Inspect { chat: chat.into() }
}

/// Chat `chat` offered to `agent` and accepted: the start of most cases.
pub(crate) fn setup(chat: &str, agent: &str) -> Vec<Step> {
    vec![offer(chat, agent), accept(chat)]
}

/// Requests on chat `chat` that the contract refuses, each observed as "a refusal
/// changes nothing" needs (the checker's one comparison, `check::rules::unchanged`): the
/// provisioning side read right before the first, and after each one a quiet window
/// (what the refusal may still cause arrives in it) and another read, which is the
/// "before" of the next.
pub(crate) fn refused(chat: &str, posts: Vec<Step>) -> Vec<Step> {
    let mut out = vec![inspect(chat)];
    for p in posts {
        out.extend([p, Step::Settle, inspect(chat)]);
    }
    out
}
