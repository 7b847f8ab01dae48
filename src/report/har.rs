//! HAR 1.2 of one failing case (issue 14.6), written by the report writer as
//! `cases/<id>.har` next to the case file: every REST request of the case and its answer
//! as an entry, and every notification the case saw as the Bayeux long-poll answer it
//! came in (`POST /api/v2/notifications` with a `/meta/connect` request, answered by the
//! connect reply and the delivered message). Browser developer tools and HTTP tools
//! import it; `gws-conform observe --har` judges it again.
//!
//! What the HAR cannot show: the harness records each delivered message with the time it
//! arrived, not which long-poll answer carried it, so each notification is one entry
//! (its `time` 0, starting when it arrived). Response headers are not recorded. Each
//! entry names who sent it in the custom field `_agent` (the agent's user name,
//! `customer` or `provider`), as `observe` does, since the redacted `Authorization`
//! no longer can. Times: the case's events are recorded relative to the case's start,
//! which is placed at `start`.
//!
//! Secret headers are redacted again here whatever the history holds
//! ([`crate::history::redact::is_secret_header`]); the writer scrubs the whole document
//! with the run's scrubber on top.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::types::CaseReport;
use crate::history::redact::{REDACTED, is_secret_header};
use crate::history::{Actor, Body, EventKind, History};

fn body_text(b: &Body) -> Option<String> {
    match b {
        Body::Empty => None,
        Body::Json(v) => Some(v.to_string()),
        Body::Raw(s) => Some(s.clone()),
    }
}

fn when(start: SystemTime, t_us: u64) -> String {
    humantime::format_rfc3339_micros(start + Duration::from_micros(t_us)).to_string()
}

fn actor_name(a: &Actor) -> String {
    match a {
        Actor::Agent(u) => u.clone(),
        Actor::Customer => "customer".into(),
        Actor::Provider => "provider".into(),
    }
}

/// A request path as a URL: absolute already (the provider-state endpoint elsewhere),
/// else appended to `base`.
fn url_of(base: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        path.to_string()
    } else {
        format!("{base}{path}")
    }
}

/// The `queryString` of a URL, as HAR wants it (name/value pairs, not decoded).
fn query_string(url: &str) -> Value {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    Value::Array(
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                json!({"name": n, "value": v})
            })
            .collect(),
    )
}

fn mime_of(text: &str) -> &'static str {
    if serde_json::from_str::<Value>(text).is_ok() {
        "application/json"
    } else {
        "text/plain"
    }
}

/// The HAR 1.2 document of `history`; `base` is the target's base URL (without userinfo),
/// `start` the wall-clock time the history started. `None` when it holds no request.
pub(crate) fn history_har(
    history: &History,
    base: &str,
    start: SystemTime,
    comment: &str,
) -> Option<Value> {
    let base = base.trim_end_matches('/');
    // Request number -> (entry index, start µs): the entry is pushed when the request is
    // sent (so entries stay in the order things happened) and completed by its answer.
    let mut pending: BTreeMap<u64, (usize, u64)> = BTreeMap::new();
    let mut entries: Vec<Value> = Vec::new();
    let mut requests = 0;
    for e in &history.events {
        match &e.kind {
            EventKind::Request {
                req,
                actor,
                method,
                path,
                headers,
                body,
                ..
            } => {
                let hs: Vec<Value> = headers
                    .iter()
                    .map(|(n, v)| {
                        let v = if is_secret_header(n) { REDACTED } else { v };
                        json!({"name": n, "value": v})
                    })
                    .collect();
                let url = url_of(base, path);
                let mut request = json!({
                    "method": method,
                    "url": url,
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": hs,
                    "queryString": query_string(&url),
                    "headersSize": -1,
                    "bodySize": 0
                });
                if let Some(t) = body_text(body) {
                    request["bodySize"] = json!(t.len());
                    request["postData"] = json!({"mimeType": mime_of(&t), "text": t});
                }
                requests += 1;
                pending.insert(*req, (entries.len(), e.t_us));
                // Until an answer is recorded: no answer (status 0, as browsers write
                // an aborted request).
                entries.push(json!({
                    "startedDateTime": when(start, e.t_us),
                    "time": 0,
                    "_agent": actor_name(actor),
                    "request": request,
                    "response": no_response("no answer was recorded"),
                    "cache": {},
                    "timings": {"send": 0, "wait": 0, "receive": 0}
                }));
            }
            EventKind::Response {
                req,
                status,
                body,
                elapsed_us,
            } => {
                if let Some((i, _)) = pending.remove(req) {
                    let text = body_text(body).unwrap_or_default();
                    let ms = *elapsed_us as f64 / 1000.0;
                    let entry = &mut entries[i];
                    entry["time"] = json!(ms);
                    entry["timings"]["wait"] = json!(ms);
                    entry["response"] = json!({
                        "status": status,
                        "statusText": "",
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [],
                        "content": {"size": text.len(), "mimeType": mime_of(&text), "text": text},
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": text.len()
                    });
                }
            }
            EventKind::NoResponse {
                req,
                message,
                elapsed_us,
                ..
            } => {
                if let Some((i, _)) = pending.remove(req) {
                    let entry = &mut entries[i];
                    let ms = *elapsed_us as f64 / 1000.0;
                    entry["time"] = json!(ms);
                    entry["timings"]["wait"] = json!(ms);
                    entry["response"] = no_response(message);
                }
            }
            EventKind::Notification {
                agent,
                channel,
                data,
            } => {
                let connect =
                    json!([{"channel": "/meta/connect", "connectionType": "long-polling"}])
                        .to_string();
                let answer = json!([
                    {"channel": "/meta/connect", "successful": true},
                    {"channel": channel, "data": data}
                ])
                .to_string();
                entries.push(json!({
                    "startedDateTime": when(start, e.t_us),
                    "time": 0,
                    "_agent": agent,
                    "comment": "a Bayeux message delivered to this agent's /meta/connect long-poll (which answer carried it together with which other messages is not recorded)",
                    "request": {
                        "method": "POST",
                        "url": format!("{base}/api/v2/notifications"),
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [{"name": "Content-Type", "value": "application/json"}],
                        "queryString": [],
                        "headersSize": -1,
                        "bodySize": connect.len(),
                        "postData": {"mimeType": "application/json", "text": connect}
                    },
                    "response": {
                        "status": 200,
                        "statusText": "",
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [],
                        "content": {"size": answer.len(), "mimeType": "application/json", "text": answer},
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": answer.len()
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 0, "receive": 0}
                }));
            }
            _ => {}
        }
    }
    if requests == 0 {
        return None;
    }
    Some(json!({"log": {
        "version": "1.2",
        "creator": {"name": "gws-conform", "version": env!("CARGO_PKG_VERSION")},
        "comment": comment,
        "entries": entries
    }}))
}

fn no_response(message: &str) -> Value {
    json!({"status": 0, "statusText": "", "httpVersion": "", "cookies": [],
        "headers": [], "content": {"size": 0, "mimeType": ""}, "redirectURL": "",
        "headersSize": -1, "bodySize": -1, "_error": message})
}

/// Whether [`case_har`] gives a document for `case` (it kept a history with a request).
pub(crate) fn has_har(case: &CaseReport) -> bool {
    case.history.as_ref().is_some_and(|h| {
        h.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Request { .. }))
    })
}

/// The HAR of a case with a kept history (failing and erroring cases); `None` otherwise.
pub fn case_har(case: &CaseReport, base: &str, start: SystemTime) -> Option<Value> {
    let h = case.history.as_ref()?;
    history_har(
        h,
        base,
        start,
        &format!("gws-conform case {} (seed {})", case.id, case.seed),
    )
}
