//! Rules over every event of the case: CMP-18 (error bodies) and NTF-01 (every
//! notification valid against its schema; notifications the harness does not judge,
//! such as typing notices or participant/property updates, are still shape-checked).

use super::w;
use crate::check::index::Index;
use crate::check::{Finding, Shapes};
use crate::history::{Actor, EventKind};
use crate::spec::ReqId;
use serde_json::Value;
use std::collections::HashMap;

/// CMP-18: every JSON body of an agent or customer answer with a statusCode ≠ 0 is
/// exactly statusCode + statusMessage.
pub(crate) fn cmp18(idx: &Index) -> Vec<Finding> {
    let mut requests: HashMap<u64, Vec<(u64, &Actor)>> = HashMap::new();
    for e in idx.ev {
        if let EventKind::Request { req, actor, .. } = &e.kind {
            requests.entry(*req).or_default().push((e.seq, actor));
        }
    }
    let mut out = vec![];
    for e in idx.ev {
        let EventKind::Response { req, body, .. } = &e.kind else {
            continue;
        };
        let Some(j) = body.json() else { continue };
        let Some(code) = j.get("statusCode") else {
            continue;
        };
        if code.as_i64() == Some(0) {
            continue;
        }
        let actor = requests
            .get(req)
            .and_then(|v| v.iter().find(|(seq, _)| *seq < e.seq));
        let Some((rseq, actor)) = actor else { continue };
        if **actor == Actor::Provider {
            continue;
        }
        let problems = error_body_problems(j, code);
        if problems.is_empty() {
            out.push(Finding::pass(
                ReqId::Cmp18,
                "error bodies are statusCode + statusMessage",
            ));
        } else {
            out.push(Finding::fail(
                ReqId::Cmp18,
                format!("error body: {}", problems.join("; ")),
                w(
                    "an error body with exactly statusCode (≠ 0) and statusMessage",
                    problems.join("; "),
                    vec![*rseq, e.seq],
                ),
            ));
        }
    }
    out
}

fn error_body_problems(j: &Value, code: &Value) -> Vec<String> {
    let mut problems = vec![];
    if code.as_i64().is_none_or(|c| c <= 0) {
        problems.push(format!("statusCode {code} is not a positive integer"));
    }
    match j.get("statusMessage") {
        Some(Value::String(_)) => {}
        Some(_) => problems.push("statusMessage is not a string".to_string()),
        None => problems.push("no statusMessage".to_string()),
    }
    if let Some(o) = j.as_object() {
        let extra: Vec<&String> = o
            .keys()
            .filter(|k| *k != "statusCode" && *k != "statusMessage")
            .collect();
        if !extra.is_empty() {
            problems.push(format!("extra attributes {extra:?}"));
        }
    }
    problems
}

/// NTF-01: every `/v2/me/chats` notification is valid against "notification".
pub(crate) fn ntf01(idx: &Index, shapes: &dyn Shapes) -> Vec<Finding> {
    let mut out = vec![];
    let mut n = 0;
    for e in idx.ev {
        let EventKind::Notification { channel, data, .. } = &e.kind else {
            continue;
        };
        if channel != "/v2/me/chats" {
            continue;
        }
        n += 1;
        if let Err(why) = shapes.validate("notification", data) {
            out.push(Finding::fail(
                ReqId::Ntf01,
                format!("invalid notification: {why}"),
                w(
                    "a notification valid against its schema",
                    why.0,
                    vec![e.seq],
                ),
            ));
        }
    }
    if n > 0 {
        out.push(Finding::pass(
            ReqId::Ntf01,
            format!("{n} notifications valid"),
        ));
    }
    out
}
