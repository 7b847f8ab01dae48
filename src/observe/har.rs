//! HAR 1.2 recordings (browser developer tools: `log.entries[]` with `request`,
//! `response.content.text`, `startedDateTime`, `time`) read as observed exchanges, and
//! observed exchanges written as HAR (secrets already redacted; each entry names its
//! agent session in the custom field `_agent`, since the redacted `Authorization` no
//! longer can).

use super::follow::{Answer, Exchange, record_body};
use super::proxy::Identities;
use crate::history::Body;
use crate::history::redact::{Scrubber, redact_headers};
use serde_json::{Value, json};
use std::path::Path;

/// What reading a HAR file gave: the exchanges in start order, and the secrets seen in
/// it (to scrub the reports of).
pub(crate) struct HarRead {
    /// Exchanges, ordered by start.
    pub exchanges: Vec<Exchange>,
    /// The secrets the recording carried.
    pub scrubber: Scrubber,
}

/// Parses an RFC 3339 date-time (`2026-11-30T02:03:03.123Z`, or with a `+01:00` offset,
/// any number of fraction digits) into microseconds since the Unix epoch.
pub(crate) fn parse_rfc3339_us(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let da: i64 = d.next()?.parse().ok()?;
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let pos = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..]
            .split_once(':')
            .unwrap_or((&off[1..3.min(off.len())], "0"));
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?),
        )
    };
    let mut t = clock.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: f64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || sec >= 61.0 {
        return None;
    }
    // Days from civil (H. Hinnant).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let us = (days * 86_400 + h * 3600 + mi * 60) * 1_000_000 + (sec * 1e6).round() as i64;
    Some(us - offset_min * 60_000_000)
}

fn rfc3339_of_us(us: u64) -> String {
    humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + std::time::Duration::from_micros(us))
        .to_string()
}

/// Why a HAR file cannot be read; every message names the file, and the entry and field
/// at fault.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    /// The file cannot be read.
    #[error("{file}: {err}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        err: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{file}: line {line}, column {column}: not JSON: {message}")]
    NotJson {
        /// The file.
        file: String,
        /// Where (1-based).
        line: usize,
        /// Where (1-based).
        column: usize,
        /// What the reader says.
        message: String,
    },
    /// No `log.entries` array.
    #[error("{file}: no `log.entries` array (is this a HAR file?)")]
    NoEntries {
        /// The file.
        file: String,
    },
    /// An entry's `startedDateTime` is missing or no date.
    #[error("{entry}.startedDateTime: missing or not an RFC 3339 date")]
    BadStart {
        /// The entry (`file: log.entries[i]`).
        entry: String,
    },
    /// An entry has no `request`.
    #[error("{entry}: no `request`")]
    NoRequest {
        /// The entry (`file: log.entries[i]`).
        entry: String,
    },
    /// A request field is missing (`method`, `url`).
    #[error("{entry}.request.{field}: missing")]
    Missing {
        /// The entry (`file: log.entries[i]`).
        entry: String,
        /// The field.
        field: &'static str,
    },
    /// `headers` is not an array.
    #[error("{at}: `headers` is not an array")]
    HeadersNotArray {
        /// The request or response (`file: log.entries[i].request`).
        at: String,
    },
    /// A header without a string name and value.
    #[error("{at}: headers[{index}] needs string `name` and `value`")]
    BadHeader {
        /// The request or response (`file: log.entries[i].request`).
        at: String,
        /// The header's index.
        index: usize,
    },
    /// A base64 response body that does not decode.
    #[error("{entry}.response.content.text: bad base64: {err}")]
    BadBase64 {
        /// The entry (`file: log.entries[i]`).
        entry: String,
        /// Why.
        err: base64::DecodeError,
    },
}

fn headers_of(v: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, HarError> {
    let Some(v) = v else { return Ok(vec![]) };
    let arr = v.as_array().ok_or_else(|| HarError::HeadersNotArray {
        at: what.to_string(),
    })?;
    arr.iter()
        .enumerate()
        .map(|(i, h)| {
            let n = h.get("name").and_then(Value::as_str);
            let val = h.get("value").and_then(Value::as_str);
            match (n, val) {
                (Some(n), Some(v)) => Ok((n.to_string(), v.to_string())),
                _ => Err(HarError::BadHeader {
                    at: what.to_string(),
                    index: i,
                }),
            }
        })
        .collect()
}

/// One entry as read, before the exchanges are numbered in start order.
struct RawEntry {
    /// `startedDateTime`, µs since the Unix epoch.
    started: i64,
    time_ms: f64,
    method: String,
    path: String,
    agent: String,
    req_headers: Vec<(String, String)>,
    req_body: Body,
    answer: Answer,
}

/// Reads a HAR file into exchanges. Errors name the file and the entry/field at fault.
pub(crate) fn read_har(path: &Path, max_body: usize) -> Result<HarRead, HarError> {
    let file = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| HarError::Read { file: file(), err })?;
    // The tolerant reader: a HAR holds the target's text as JSON strings, where a
    // lone-surrogate escape a browser wrote down must not cost the whole file.
    let doc: Value =
        crate::history::json::parse_value(text.as_bytes()).map_err(|e| HarError::NotJson {
            file: file(),
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
    let entries = doc
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or_else(|| HarError::NoEntries { file: file() })?;
    let mut ids = Identities::default();
    let mut raw = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let what = format!("{}: log.entries[{i}]", path.display());
        raw.push(read_entry(e, &what, max_body, &mut ids)?);
    }
    Ok(HarRead {
        exchanges: numbered(raw),
        scrubber: ids.scrubber,
    })
}

/// One entry (`what` names it): its request, the agent session it belongs to (`_agent`,
/// or identified by its credentials) and its answer; headers redacted.
fn read_entry(
    e: &Value,
    what: &str,
    max_body: usize,
    ids: &mut Identities,
) -> Result<RawEntry, HarError> {
    let entry = || what.to_string();
    let started = e
        .get("startedDateTime")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_us)
        .ok_or_else(|| HarError::BadStart { entry: entry() })?;
    let time_ms = e
        .get("time")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .max(0.0);
    let req = e
        .get("request")
        .ok_or_else(|| HarError::NoRequest { entry: entry() })?;
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| HarError::Missing {
            entry: entry(),
            field: "method",
        })?
        .to_string();
    let url = req
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| HarError::Missing {
            entry: entry(),
            field: "url",
        })?;
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|p| &rest[p..]).unwrap_or("/"),
        None => url,
    }
    .to_string();
    let mut req_headers = headers_of(req.get("headers"), &format!("{what}.request"))?;
    let agent = match e.get("_agent").and_then(Value::as_str) {
        Some(a) => {
            ids.identify(&req_headers);
            a.to_string()
        }
        None => ids.identify(&req_headers),
    };
    redact_headers(&mut req_headers);
    let req_text = req
        .pointer("/postData/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    let req_body = record_body(req_text.as_bytes(), req_text.len(), max_body);
    let answer = read_response(e.get("response"), what, &agent, max_body, ids)?;
    Ok(RawEntry {
        started,
        time_ms,
        method,
        path,
        agent,
        req_headers,
        req_body,
        answer,
    })
}

/// An entry's `response`: none for status 0, else its headers (the session learnt from
/// them, then redacted) and its body (base64 decoded).
fn read_response(
    resp: Option<&Value>,
    what: &str,
    agent: &str,
    max_body: usize,
    ids: &mut Identities,
) -> Result<Answer, HarError> {
    let status = resp
        .and_then(|r| r.get("status"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if status == 0 || status > 999 {
        return Ok(Answer::None {
            message: "no answer in the recording (status 0)".into(),
        });
    }
    let resp = resp.unwrap_or(&Value::Null);
    let hs = headers_of(resp.get("headers"), &format!("{what}.response"))?;
    ids.learn_answer(agent, &hs);
    let mut hs = hs;
    redact_headers(&mut hs);
    let content = resp.get("content");
    let text = content
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let bytes = if content
        .and_then(|c| c.get("encoding"))
        .and_then(Value::as_str)
        == Some("base64")
    {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|err| HarError::BadBase64 {
                entry: what.to_string(),
                err,
            })?
    } else {
        text.as_bytes().to_vec()
    };
    Ok(Answer::Http {
        status: status as u16,
        headers: hs,
        body: record_body(&bytes, bytes.len(), max_body),
    })
}

/// The entries as exchanges in start order, numbered from 1, times from the first start.
fn numbered(mut raw: Vec<RawEntry>) -> Vec<Exchange> {
    let t0 = raw.iter().map(|r| r.started).min().unwrap_or(0);
    raw.sort_by_key(|r| r.started);
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let start_us = (r.started - t0) as u64;
            Exchange {
                id: i as u64 + 1,
                agent: r.agent,
                method: r.method,
                path: r.path,
                req_headers: r.req_headers,
                req_body: r.req_body,
                started_unix_us: r.started.max(0) as u64,
                start_us,
                end_us: start_us + (r.time_ms * 1000.0) as u64,
                answer: r.answer,
            }
        })
        .collect()
}

fn body_text(b: &Body) -> String {
    match b {
        Body::Empty => String::new(),
        Body::Raw(s) => s.clone(),
        Body::Json(v) => v.to_string(),
    }
}

fn har_headers(h: &[(String, String)]) -> Value {
    Value::Array(
        h.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

/// A HAR 1.2 document of `exchanges` (already redacted) against `base_url`.
pub fn har_of(exchanges: &[Exchange], base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let entries: Vec<Value> = exchanges
        .iter()
        .map(|e| {
            let time = e.end_us.saturating_sub(e.start_us) as f64 / 1000.0;
            let mut request = json!({
                "method": e.method,
                "url": format!("{base}{}", e.path),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": har_headers(&e.req_headers),
                "queryString": [],
                "headersSize": -1,
                "bodySize": body_text(&e.req_body).len(),
            });
            if e.req_body != Body::Empty {
                request["postData"] = json!({
                    "mimeType": "application/json",
                    "text": body_text(&e.req_body),
                });
            }
            let response = match &e.answer {
                Answer::Http {
                    status,
                    headers,
                    body,
                } => json!({
                    "status": status,
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": har_headers(headers),
                    "content": {"size": body_text(body).len(), "mimeType": "application/json", "text": body_text(body)},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": body_text(body).len(),
                }),
                Answer::None { message } => json!({
                    "status": 0,
                    "statusText": message,
                    "httpVersion": "",
                    "cookies": [],
                    "headers": [],
                    "content": {"size": 0, "mimeType": ""},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                }),
            };
            json!({
                "startedDateTime": rfc3339_of_us(e.started_unix_us),
                "time": time,
                "_agent": e.agent,
                "request": request,
                "response": response,
                "cache": {},
                "timings": {"send": 0, "wait": time, "receive": 0},
            })
        })
        .collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "gws-conform observe", "version": env!("CARGO_PKG_VERSION")},
            "entries": entries,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates_parse_with_offsets_and_fractions() {
        assert_eq!(parse_rfc3339_us("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_us("1970-01-01T00:00:01.250Z"),
            Some(1_250_000)
        );
        assert_eq!(
            parse_rfc3339_us("1970-01-01T00:00:01.000007Z"),
            Some(1_000_007)
        );
        assert_eq!(parse_rfc3339_us("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339_us("2026-11-30T02:03:03.123Z"),
            Some(1_796_004_183_123_000)
        );
        assert_eq!(parse_rfc3339_us("yesterday"), None);
        assert_eq!(parse_rfc3339_us("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn a_file_that_is_not_har_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("gws-har-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.har");
        std::fs::write(&p, "{\"log\": {}}").unwrap();
        let e = read_har(&p, 1 << 20).err().unwrap().to_string();
        assert!(e.contains("x.har") && e.contains("log.entries"), "{e}");
        std::fs::write(
            &p,
            r#"{"log":{"entries":[{"startedDateTime":"nope","request":{}}]}}"#,
        )
        .unwrap();
        let e = read_har(&p, 1 << 20).err().unwrap().to_string();
        assert!(e.contains("entries[0].startedDateTime"), "{e}");
        // A lone-surrogate escape a HAR writer kept is JSON: the file is read.
        std::fs::write(&p, r#"{"log":{"comment":"bye \ud800","entries":[]}}"#).unwrap();
        assert!(read_har(&p, 1 << 20).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
