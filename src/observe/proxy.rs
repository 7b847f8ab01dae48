//! The observing reverse proxy: forwards every request and answer unchanged between real
//! clients and the target, and hands a redacted copy of each exchange to the
//! [`Observer`].
//!
//! - Requests: bodies up to the recording cap are buffered (and forwarded byte for
//!   byte); larger ones are streamed on unrecorded.
//! - Answers are streamed to the client as they come (Bayeux long-polls included; no
//!   timeout is put on the upstream answer), and copied for the recording up to the cap.
//! - Hop-by-hop headers are not forwarded (RFC 9110 §7.6.1); everything else is,
//!   `Cookie`, `Set-Cookie`, `Authorization` and CSRF headers included.
//! - Agents are told apart by their Basic user, or for cookie-only requests by the
//!   session cookie a Basic request of theirs carried or was given. The credentials,
//!   cookies and CSRF tokens seen are kept in memory only, in a [`Scrubber`], so the
//!   reports can be scrubbed of them.

use super::follow::{Answer, Exchange, Observer, record_body};
use crate::history::redact::{Scrubber, redact_headers};
use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
];

/// Who the traffic belongs to, learned from what passes; secrets stay in memory only.
#[derive(Debug, Default)]
pub(crate) struct Identities {
    by_session: HashMap<String, String>,
    labels: u64,
    pub(crate) scrubber: Scrubber,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The session key of a `Cookie` header: the `JSESSIONID` value, else the whole header.
fn session_key(cookie: &str) -> Option<String> {
    let pairs: Vec<(&str, &str)> = cookie
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .collect();
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("JSESSIONID"))
        .map(|(_, v)| v.to_string())
        .or_else(|| (!cookie.trim().is_empty()).then(|| cookie.trim().to_string()))
}

impl Identities {
    /// The agent a request belongs to (`headers` are the raw request headers). Learns
    /// the secrets it carries for scrubbing.
    pub(crate) fn identify(&mut self, headers: &[(String, String)]) -> String {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        for (n, v) in headers {
            let l = n.to_ascii_lowercase();
            if (l.contains("csrf") || l.contains("xsrf")) && l != "x-csrf-header" {
                self.scrubber.add(v.clone());
            }
        }
        let session = get("cookie").and_then(session_key);
        if let Some(cookie) = get("cookie") {
            for p in cookie.split(';') {
                if let Some((_, v)) = p.trim().split_once('=') {
                    self.scrubber.add(v.to_string());
                }
            }
        }
        let basic_user = get("authorization").and_then(|a| {
            let (scheme, rest) = a.trim().split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("basic") {
                self.scrubber.add(rest.trim().to_string());
                return None;
            }
            use base64::Engine;
            let dec = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let pair = String::from_utf8(dec).ok()?;
            let (user, pass) = pair.split_once(':')?;
            self.scrubber.add_credentials(user, pass);
            Some(user.to_string())
        });
        match (basic_user, session) {
            (Some(u), Some(s)) => {
                self.by_session.insert(s, u.clone());
                u
            }
            (Some(u), None) => u,
            (None, Some(s)) => {
                if let Some(u) = self.by_session.get(&s) {
                    return u.clone();
                }
                self.labels += 1;
                let label = format!("session-{}", self.labels);
                self.by_session.insert(s, label.clone());
                label
            }
            (None, None) => "anonymous".to_string(),
        }
    }

    /// Learns from an answer to `agent`: the session cookie it was given, CSRF tokens.
    pub(crate) fn learn_answer(&mut self, agent: &str, headers: &[(String, String)]) {
        for (n, v) in headers {
            let l = n.to_ascii_lowercase();
            if l == "set-cookie" {
                if let Some((pair, _)) = v.split_once(';').or(Some((v.as_str(), "")))
                    && let Some((name, value)) = pair.trim().split_once('=')
                {
                    self.scrubber.add(value.to_string());
                    if name.eq_ignore_ascii_case("JSESSIONID") && agent != "anonymous" {
                        self.by_session.insert(value.to_string(), agent.to_string());
                    }
                }
            } else if (l.contains("csrf") || l.contains("xsrf") || l.contains("token"))
                && l != "x-csrf-header"
            {
                self.scrubber.add(v.clone());
            }
        }
    }
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// State shared by the proxy's handlers and its judge.
pub(crate) struct Shared {
    pub(crate) upstream: String,
    pub(crate) client: reqwest::Client,
    pub(crate) clock: Instant,
    pub(crate) obs: Mutex<Observer>,
    pub(crate) ids: Mutex<Identities>,
    pub(crate) next_id: AtomicU64,
    pub(crate) lines: Mutex<Vec<String>>,
    pub(crate) print: bool,
    pub(crate) max_body: usize,
}

impl Shared {
    pub(crate) fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    /// Judges the chats that settled; prints (when asked) and keeps the new lines.
    pub(crate) fn judge_settled(&self, settle: Duration) {
        let lines = lock(&self.obs).judge_settled(self.now_us(), settle.as_micros() as u64);
        self.emit(lines);
    }

    pub(crate) fn emit(&self, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let scrub = lock(&self.ids).scrubber.clone();
        let mut all = lock(&self.lines);
        for l in lines {
            let l = scrub.scrub(&l);
            if self.print {
                println!("{l}");
            }
            all.push(l);
        }
    }

    fn record(&self, ex: Exchange) {
        lock(&self.obs).ingest(ex);
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut r = Response::new(AxumBody::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The proxy handler: every method, every path.
pub(crate) async fn forward(State(st): State<Arc<Shared>>, req: Request) -> Response {
    let started_unix_us = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let start_us = st.now_us();
    let id = st.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let raw_headers = header_pairs(&parts.headers);
    let agent = lock(&st.ids).identify(&raw_headers);
    let mut req_headers = raw_headers;
    redact_headers(&mut req_headers);

    // The request body: buffered up to the cap, streamed on beyond it.
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut over = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                buf.extend_from_slice(&c);
                if buf.len() > st.max_body {
                    over = true;
                    break;
                }
            }
            Err(e) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!("gws-conform observe: reading the request body failed: {e}\n"),
                );
            }
        }
    }
    let req_body = record_body(
        &buf,
        if over { buf.len() + 1 } else { buf.len() },
        st.max_body,
    );

    let url = format!("{}{}", st.upstream, path);
    let mut rb = st.client.request(parts.method.clone(), &url);
    for (n, v) in parts.headers.iter() {
        let l = n.as_str();
        if HOP_BY_HOP.contains(&l) || (!over && l == "content-length") {
            continue;
        }
        rb = rb.header(n.clone(), v.clone());
    }
    rb = if over {
        let head = futures_util::stream::once(async move {
            Ok::<_, axum::Error>(axum::body::Bytes::from(buf))
        });
        rb.body(reqwest::Body::wrap_stream(head.chain(stream)))
    } else {
        rb.body(buf)
    };
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            let message = format!("upstream did not answer: {e}");
            st.record(Exchange {
                id,
                agent,
                method: parts.method.to_string(),
                path,
                req_headers,
                req_body,
                started_unix_us,
                start_us,
                end_us: st.now_us(),
                answer: Answer::None {
                    message: message.clone(),
                },
            });
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("gws-conform observe: {message}\n"),
            );
        }
    };
    let status = resp.status();
    let resp_raw = header_pairs(resp.headers());
    lock(&st.ids).learn_answer(&agent, &resp_raw);
    let mut resp_headers = resp_raw;
    redact_headers(&mut resp_headers);
    let mut out = Response::builder().status(status.as_u16());
    for (n, v) in resp.headers() {
        if HOP_BY_HOP.contains(&n.as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_str().as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            out = out.header(n, v);
        }
    }

    // Stream the answer to the client while copying it for the recording.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(16);
    let st2 = st.clone();
    let method = parts.method.to_string();
    tokio::spawn(async move {
        let mut resp = resp;
        let mut copy: Vec<u8> = Vec::new();
        let mut total = 0usize;
        let mut failed = None;
        let mut last_us = None;
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    // Stamped before the client can see it (and react to it).
                    last_us = Some(st2.now_us());
                    total += c.len();
                    if copy.len() <= st2.max_body {
                        copy.extend_from_slice(&c);
                    }
                    if tx.send(Ok(c)).await.is_err() {
                        failed = Some("the client went away before the answer ended".into());
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    failed = Some(format!("the answer broke off: {e}"));
                    break;
                }
            }
        }
        drop(tx);
        let answer = match failed {
            Some(message) => Answer::None { message },
            None => Answer::Http {
                status: status.as_u16(),
                headers: resp_headers,
                body: record_body(&copy, total, st2.max_body),
            },
        };
        st2.record(Exchange {
            id,
            agent,
            method,
            path,
            req_headers,
            req_body,
            started_unix_us,
            start_us,
            end_us: last_us.unwrap_or_else(|| st2.now_us()),
            answer,
        });
    });
    let body = AxumBody::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    out.body(body).unwrap_or_else(|e| {
        plain(
            StatusCode::BAD_GATEWAY,
            format!("gws-conform observe: the upstream answer cannot be passed on: {e}\n"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn agents_are_told_apart_by_basic_user_then_by_session_cookie() {
        let mut ids = Identities::default();
        // agent1:agent1-pass
        let basic = "Basic YWdlbnQxOmFnZW50MS1wYXNz";
        assert_eq!(ids.identify(&h(&[("Authorization", basic)])), "agent1");
        ids.learn_answer(
            "agent1",
            &h(&[("Set-Cookie", "JSESSIONID=abcdef12; Path=/")]),
        );
        assert_eq!(
            ids.identify(&h(&[("Cookie", "JSESSIONID=abcdef12")])),
            "agent1"
        );
        assert_eq!(
            ids.identify(&h(&[("Cookie", "JSESSIONID=zzzz9999")])),
            "session-1"
        );
        assert_eq!(ids.identify(&[]), "anonymous");
        let s = ids
            .scrubber
            .scrub("agent1-pass abcdef12 YWdlbnQxOmFnZW50MS1wYXNz");
        assert!(!s.contains("agent1-pass") && !s.contains("abcdef12"), "{s}");
    }
}
