//! HAR 1.2 of one failing case (issue 14.6): every REST request and its answer as an
//! entry, the notifications the case saw in the custom `_notifications` field of the log.
//!
//! Call from the report writer for each case with a history, e.g. in `src/report/`:
//! `std::fs::write(dir.join(format!("{}.har", case.id)),
//!  serde_json::to_vec_pretty(&crate::export::har::case_har(case, &report.target, started)?)?)`.
//! Secret headers are redacted again here (`Authorization`, `Cookie`, `Set-Cookie`,
//! `X-CSRF-TOKEN`) whatever the history holds.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::history::{Body, EventKind, History};
use crate::report::types::CaseReport;

/// Header names whose values never leave the process.
const SECRET_HEADERS: &[&str] = &["authorization", "cookie", "set-cookie", "x-csrf-token"];

fn body_text(b: &Body) -> Option<String> {
    match b {
        Body::Empty => None,
        Body::Json(v) => Some(v.to_string()),
        Body::Raw(s) => Some(s.clone()),
    }
}

fn when(start: SystemTime, t_us: u64) -> String {
    humantime::format_rfc3339_millis(start + Duration::from_micros(t_us)).to_string()
}

/// The HAR 1.2 document of `history`; `base` is the target's base URL (without userinfo),
/// `start` the wall-clock time the history started. `None` when it holds no request.
pub fn history_har(
    history: &History,
    base: &str,
    start: SystemTime,
    comment: &str,
) -> Option<Value> {
    let base = base.trim_end_matches('/');
    let mut pending: BTreeMap<u64, (u64, Value)> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut notifications = Vec::new();
    for e in &history.events {
        match &e.kind {
            EventKind::Request {
                req,
                method,
                path,
                headers,
                body,
                ..
            } => {
                let hs: Vec<Value> = headers
                    .iter()
                    .map(|(n, v)| {
                        let v = if SECRET_HEADERS.contains(&n.to_ascii_lowercase().as_str()) {
                            "[redacted]"
                        } else {
                            v.as_str()
                        };
                        json!({"name": n, "value": v})
                    })
                    .collect();
                let mut request = json!({
                    "method": method,
                    "url": format!("{base}{path}"),
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": hs,
                    "queryString": [],
                    "headersSize": -1,
                    "bodySize": -1
                });
                if let Some(t) = body_text(body) {
                    request["bodySize"] = json!(t.len());
                    request["postData"] = json!({"mimeType": "application/json", "text": t});
                }
                pending.insert(*req, (e.t_us, request));
            }
            EventKind::Response {
                req,
                status,
                body,
                elapsed_us,
            } => {
                if let Some((t, request)) = pending.remove(req) {
                    let text = body_text(body).unwrap_or_default();
                    let ms = *elapsed_us as f64 / 1000.0;
                    entries.push(json!({
                        "startedDateTime": when(start, t),
                        "time": ms,
                        "request": request,
                        "response": {
                            "status": status,
                            "statusText": "",
                            "httpVersion": "HTTP/1.1",
                            "cookies": [],
                            "headers": [],
                            "content": {"size": text.len(), "mimeType": "application/json", "text": text},
                            "redirectURL": "",
                            "headersSize": -1,
                            "bodySize": text.len()
                        },
                        "cache": {},
                        "timings": {"send": 0, "wait": ms, "receive": 0}
                    }));
                }
            }
            EventKind::NoResponse {
                req,
                message,
                elapsed_us,
                ..
            } => {
                if let Some((t, request)) = pending.remove(req) {
                    entries.push(json!({
                        "startedDateTime": when(start, t),
                        "time": *elapsed_us as f64 / 1000.0,
                        "request": request,
                        "response": {"status": 0, "statusText": "", "httpVersion": "", "cookies": [],
                            "headers": [], "content": {"size": 0, "mimeType": ""}, "redirectURL": "",
                            "headersSize": -1, "bodySize": -1, "_error": message},
                        "cache": {},
                        "timings": {"send": 0, "wait": -1, "receive": 0}
                    }));
                }
            }
            EventKind::Notification {
                agent,
                channel,
                data,
            } => notifications.push(json!({
                "time": when(start, e.t_us), "agent": agent, "channel": channel, "data": data
            })),
            _ => {}
        }
    }
    if entries.is_empty() {
        return None;
    }
    Some(json!({"log": {
        "version": "1.2",
        "creator": {"name": "gws-conform", "version": env!("CARGO_PKG_VERSION")},
        "comment": comment,
        "entries": entries,
        "_notifications": notifications
    }}))
}

/// The HAR of a case with a kept history (failing and erroring cases); `None` otherwise.
pub fn case_har(case: &CaseReport, base: &str, start: SystemTime) -> Option<Value> {
    let h = case.history.as_ref()?;
    history_har(
        h,
        base,
        start,
        &format!("case {} (seed {})", case.id, case.seed),
    )
}
