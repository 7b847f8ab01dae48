//! What counts as a success, a proper refusal and an improper one (SPEC §1.2, §6.3), and
//! following one agent request through the model ([`follow`]): the runner's judgement
//! of a target's answer while it drives a case.

use super::{ChatState, Classified, OpName, after_success, expect, explains};
use crate::history::Body;
use crate::spec::ReqId;
use serde_json::Value;

/// The `statusCode` of an answer body: the integer `statusCode` of a JSON body, if any.
pub fn status_code(body: &Body) -> Option<i64> {
    body.json()
        .and_then(|j| j.get("statusCode"))
        .and_then(Value::as_i64)
}

/// What counts as a success: HTTP 2xx with statusCode 0 (SPEC §1.2).
pub fn succeeded(status: u16, status_code: Option<i64>) -> bool {
    (200..300).contains(&status) && status_code == Some(0)
}

/// A refusal: HTTP 4xx, or a statusCode ≠ 0 under HTTP < 500 (SPEC §6.3).
pub fn refused(status: u16, status_code: Option<i64>) -> bool {
    (400..500).contains(&status) || (status < 500 && status_code.is_some_and(|c| c != 0))
}

/// Never a proper refusal: HTTP 5xx or statusCode 4 (SPEC §6.3).
pub fn never_proper(status: u16, status_code: Option<i64>) -> bool {
    status >= 500 || status_code == Some(4)
}

/// Follows one agent request through the model (SPEC §2): the chat's state afterwards
/// (following the target when it acted) and whether the target's answer differs from
/// the model's. `known`: `None` for an id nobody provisioned, `Some(None)` for a chat
/// whose state is no longer known; `caller_owns`: the chat's owner sent it;
/// `credentials`: [`super::credentials_refusal`] of the request; `answer`: whether it
/// succeeded ([`succeeded`]), or `Err(why)` when no answer came.
pub fn follow(
    known: Option<Option<ChatState>>,
    caller_owns: bool,
    credentials: Option<ReqId>,
    request: &Classified,
    answer: Result<bool, &str>,
) -> (Option<Option<ChatState>>, Option<String>) {
    let op = request.op_name();
    let name = op.map(OpName::as_str).unwrap_or("a malformed request");
    let ok = match answer {
        Ok(ok) => ok,
        Err(message) => {
            return (
                known.map(|_| None),
                Some(format!("{name}: no answer ({message})")),
            );
        }
    };
    let Some(known) = known else {
        // No such chat: the model refuses whatever it is.
        return (
            None,
            ok.then(|| format!("{name} on a chat id nobody provisioned succeeded")),
        );
    };
    let Some(state) = known else {
        return (
            Some(None),
            Some(format!("{name} on a chat in an unknown state")),
        );
    };
    let expected_ok =
        credentials.is_none() && expect(Some(state), caller_owns, request).is_success();
    let explained = explains(state, caller_owns, credentials, request, ok);
    let update = if ok {
        Some(Some(match op {
            Some(op) => after_success(state, op),
            None => state,
        }))
    } else {
        None
    };
    let diverged = (!explained).then(|| {
        format!(
            "{name} in state {}: the model expects {}, the target {}",
            state.as_str(),
            if expected_ok { "success" } else { "a refusal" },
            if ok { "succeeded" } else { "refused" }
        )
    });
    (update, diverged)
}
