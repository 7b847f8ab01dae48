//! One bounded HTTP exchange: send, read the answer with a body cap, classify failures,
//! and (optionally) record the request and its answer.

use super::{HarnessError, Outcome, SharedScrubber, TargetConfig};
use crate::history::redact::is_secret_header;
use crate::history::{Actor, Body, EventKind, NoResponseKind, REDACTED, Recorder, json};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;
use tokio::time::Instant;

/// Raw (non-JSON) bodies are kept up to this many bytes in a history.
pub(crate) const RAW_BODY_LIMIT: usize = 4096;

/// The HTTP client for requests to one target (see [`build_client`]); cloning shares its
/// connection pool.
#[derive(Clone, Debug)]
pub(crate) enum Client {
    /// Plain HTTP/1.1 straight to the target, with no layer in between: used when no
    /// proxy applies. A request costs about a tenth less CPU than through reqwest,
    /// which parses the URL three times per request (redirect policy, cookie layer,
    /// response) for layers this harness does not use (issue 13).
    Plain(Box<PlainClient>),
    /// reqwest: TLS, proxies.
    Reqwest(reqwest::Client),
}

pub(crate) type PlainClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<hyper::body::Bytes>,
>;

/// How long an idle pooled connection is kept for the next request. Servers close idle
/// keep-alive connections without warning (Gunicorn after 2 s, Apache httpd and Node
/// after 5 s); a request sent on one just as it closes gets no answer (an I/O error: an
/// Error of the case, for a server that did nothing wrong). Below every such timeout,
/// that race cannot happen; a run's requests follow each other closely, so a new
/// connection is rarely needed (a quiet window is 1 s).
pub(crate) const POOL_IDLE: Duration = Duration::from_millis(1_500);

/// The HTTP client for requests to `url`'s host:
/// - proxies: a loopback host (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) never goes
///   through a proxy; any other host uses the standard `HTTPS_PROXY`/`HTTP_PROXY`/
///   `ALL_PROXY` variables (lower-case too) with `NO_PROXY` exceptions;
/// - no redirects: a redirect is an answer to judge, never followed (so credentials never
///   go to another origin);
/// - no cookie store (cookies are handled per agent, explicitly);
/// - TLS: the system roots, plus `cfg.ca` if given; `cfg.insecure` accepts any
///   certificate.
///
/// A plain `http://` target that no proxy applies to gets [`Client::Plain`]; any other,
/// reqwest.
pub(crate) fn build_client(cfg: &TargetConfig, url: &reqwest::Url) -> Result<Client, HarnessError> {
    if url.scheme() == "http" && (is_loopback(url) || !proxy_configured(|k| std::env::var(k).ok()))
    {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        connector.set_nodelay(true);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(POOL_IDLE)
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector);
        return Ok(Client::Plain(Box::new(client)));
    }
    build_reqwest(cfg, url).map(Client::Reqwest)
}

/// Whether a proxy could apply to a plain-HTTP request, from the environment (`var`):
/// reqwest's own rules then decide, so the plain client is never used behind a proxy.
/// Outside Linux the system's proxy settings may apply too: always true there.
fn proxy_configured(var: impl Fn(&str) -> Option<String>) -> bool {
    !cfg!(target_os = "linux")
        || ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|k| var(k).is_some_and(|v| !v.trim().is_empty()))
}

fn build_reqwest(cfg: &TargetConfig, url: &reqwest::Url) -> Result<reqwest::Client, HarnessError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .pool_idle_timeout(POOL_IDLE)
        .redirect(reqwest::redirect::Policy::none());
    if is_loopback(url) {
        b = b.no_proxy();
    }
    if url.scheme() == "http" {
        // No TLS can happen (redirects are not followed): skip loading the system's
        // roots, which costs more than a whole quiet window when several clients are
        // built (issue 13).
        b = b.tls_certs_only(Vec::new());
    } else if let Some(ca) = &cfg.ca {
        b = b.tls_certs_merge(ca.certificates()?);
    }
    if cfg.insecure {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| HarnessError::new(format!("cannot build the HTTP client: {e}")))
}

/// Whether `url` names this machine.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let d = host.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost" || d.ends_with(".localhost")
}

/// An HTTP answer, body read in full (within the cap).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

/// No answer: why.
#[derive(Debug, Clone)]
pub(crate) struct NoAnswer {
    pub kind: NoResponseKind,
    pub message: String,
}

/// A request to make.
pub(crate) struct Req<'a> {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    /// The headers sent, exactly (names and values).
    pub headers: Vec<(String, String)>,
    pub body: &'a Body,
    pub timeout: Duration,
    pub max_body: usize,
    /// Where the secrets sent and learnt are registered (see [`send`]).
    pub secrets: &'a SharedScrubber,
    /// Told whether the request got an answer ([`send_recorded`] only).
    pub liveness: Option<&'a super::Liveness>,
}

/// `bytes` as a history body: `Empty`, `Json` if it parses, else `Raw` truncated to 4 KiB.
#[cfg(test)]
pub(crate) fn body_of(bytes: &[u8]) -> Body {
    body_noted(bytes).0
}

/// [`body_of`] with the notes of the tolerant reader ([`json::parse`]: every text JSON's
/// grammar allows is `Json`, a lone-surrogate escape or a number beyond a double noted).
pub(crate) fn body_noted(bytes: &[u8]) -> (Body, Vec<String>) {
    if bytes.is_empty() {
        return (Body::Empty, Vec::new());
    }
    match json::parse(bytes) {
        Ok(p) => (Body::Json(p.value), p.notes),
        Err(_) => (Body::Raw(excerpt(bytes, RAW_BODY_LIMIT)), Vec::new()),
    }
}

/// At most `limit` bytes of `bytes` as (lossy) text, cut on a character boundary.
pub(crate) fn excerpt(bytes: &[u8], limit: usize) -> String {
    // A cut in the middle of a multi-byte character becomes U+FFFD; that is fine.
    String::from_utf8_lossy(&bytes[..bytes.len().min(limit)]).into_owned()
}

fn classify(e: &reqwest::Error) -> NoResponseKind {
    if e.is_connect() {
        NoResponseKind::Connect
    } else if e.is_timeout() {
        NoResponseKind::Timeout
    } else {
        NoResponseKind::Io
    }
}

/// The error and its sources in one line (the top-level message is vague).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    let mut n = 0;
    while let Some(inner) = src {
        if n >= 4 {
            break;
        }
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
        n += 1;
    }
    s
}

/// Sends `req` and reads the whole answer, all within `req.timeout`, the body capped at
/// `req.max_body` bytes. Registers with `req.secrets`, before sending, every secret
/// header value sent (Authorization — its Basic credential too —, Cookie, a CSRF token
/// under a name that says so) and, as soon as the answer arrives, every `Set-Cookie`
/// value and `X-CSRF-TOKEN` the peer gave.
pub(crate) async fn send(client: &Client, req: Req<'_>) -> Result<Answer, NoAnswer> {
    let headers = prepare(&req)?;
    execute(client, &req, headers).await
}

/// The headers of `req` as sent, its secret values registered with `req.secrets`; an
/// invalid name or value is the request's [`NoAnswer`] (it is not sent).
fn prepare(req: &Req<'_>) -> Result<HeaderMap, NoAnswer> {
    let url_text = req.url.as_str();
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("authorization") {
            req.secrets.add_authorization(value);
        } else if name.eq_ignore_ascii_case("cookie") {
            for pair in value.split(';') {
                req.secrets.add_cookie(pair);
            }
        } else if is_secret_header(name) {
            req.secrets.add(value.as_str());
        }
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| NoAnswer {
            kind: NoResponseKind::Io,
            message: format!("header name {name:?} is not valid; request to {url_text} not sent"),
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| NoAnswer {
            kind: NoResponseKind::Io,
            message: format!(
                "header {name} has a value that is not valid; request to {url_text} not sent"
            ),
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Sends `req` with `headers` (from [`prepare`]) and reads the answer (see [`send`]).
async fn execute(client: &Client, req: &Req<'_>, headers: HeaderMap) -> Result<Answer, NoAnswer> {
    match client {
        Client::Plain(c) => execute_plain(c, req, headers).await,
        Client::Reqwest(c) => execute_reqwest(c, req, headers).await,
    }
}

/// The ways a request ends without an answer, worded the same by both clients: the
/// method and URL, then what happened.
impl Req<'_> {
    fn failed(&self, kind: NoResponseKind, what: impl std::fmt::Display) -> NoAnswer {
        NoAnswer {
            kind,
            message: format!("{} {}: {what}", self.method, self.url.as_str()),
        }
    }

    fn timed_out(&self) -> NoAnswer {
        self.failed(
            NoResponseKind::Timeout,
            format_args!("no complete answer within {:?}", self.timeout),
        )
    }

    fn too_large(&self, status: u16, n: u64) -> NoAnswer {
        self.failed(
            NoResponseKind::TooLarge,
            format_args!(
                "HTTP {status} answer body of {n}+ bytes exceeds the cap of {} bytes",
                self.max_body
            ),
        )
    }

    fn unreadable(
        &self,
        kind: NoResponseKind,
        status: u16,
        e: &(dyn std::error::Error + 'static),
    ) -> NoAnswer {
        self.failed(
            kind,
            format_args!("HTTP {status} answer body unreadable: {}", describe(e)),
        )
    }

    /// Appends `chunk` to the body read so far, unless that passes the cap.
    fn append(&self, status: u16, bytes: &mut Vec<u8>, chunk: &[u8]) -> Result<(), NoAnswer> {
        if bytes.len() + chunk.len() > self.max_body {
            return Err(self.too_large(status, (bytes.len() + chunk.len()) as u64));
        }
        bytes.extend_from_slice(chunk);
        Ok(())
    }
}

/// [`execute`] through reqwest.
async fn execute_reqwest(
    client: &reqwest::Client,
    req: &Req<'_>,
    headers: HeaderMap,
) -> Result<Answer, NoAnswer> {
    let deadline = Instant::now() + req.timeout;
    // No reqwest timeout on top: the deadline below bounds the send and every chunk.
    let mut builder = client
        .request(req.method.clone(), req.url.clone())
        .headers(headers);
    match req.body {
        Body::Empty => {}
        Body::Json(v) => builder = builder.body(serde_json::to_vec(v).unwrap_or_default()),
        Body::Raw(s) => builder = builder.body(s.clone()),
    }
    let mut resp = match tokio::time::timeout_at(deadline, builder.send()).await {
        Err(_) => return Err(req.timed_out()),
        Ok(Err(e)) => {
            return Err(match classify(&e) {
                NoResponseKind::Timeout => req.timed_out(),
                kind => req.failed(kind, describe(&e)),
            });
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    if let Some(len) = resp.content_length()
        && len > req.max_body as u64
    {
        return Err(req.too_large(status, len));
    }
    // Moved out: the body is read from the stream, not from the headers.
    let headers = std::mem::take(resp.headers_mut());
    learn_secrets(req, &headers);
    let mut bytes = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => return Err(req.timed_out()),
            Ok(Err(e)) => {
                return Err(match classify(&e) {
                    NoResponseKind::Timeout => req.timed_out(),
                    NoResponseKind::Connect => req.unreadable(NoResponseKind::Io, status, &e),
                    kind => req.unreadable(kind, status, &e),
                });
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => req.append(status, &mut bytes, &chunk)?,
        }
    }
    Ok(Answer {
        status,
        headers,
        bytes,
    })
}

/// [`execute`] on the plain HTTP/1.1 client: the same deadline, cap and classification
/// as through reqwest.
async fn execute_plain(
    client: &PlainClient,
    req: &Req<'_>,
    mut headers: HeaderMap,
) -> Result<Answer, NoAnswer> {
    use http_body_util::BodyExt;
    let deadline = Instant::now() + req.timeout;
    let uri: hyper::Uri = req.url.as_str().parse().map_err(|e| {
        req.failed(
            NoResponseKind::Io,
            format_args!("the URL is not valid: {e}; request not sent"),
        )
    })?;
    // As reqwest does: a request without Accept accepts anything.
    if !headers.contains_key(reqwest::header::ACCEPT) {
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("*/*"));
    }
    let body = match req.body {
        Body::Empty => hyper::body::Bytes::new(),
        Body::Json(v) => serde_json::to_vec(v).unwrap_or_default().into(),
        Body::Raw(s) => hyper::body::Bytes::copy_from_slice(s.as_bytes()),
    };
    let mut request = hyper::Request::new(http_body_util::Full::new(body));
    *request.method_mut() = req.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let resp = match tokio::time::timeout_at(deadline, client.request(request)).await {
        Err(_) => return Err(req.timed_out()),
        Ok(Err(e)) => {
            let kind = if e.is_connect() {
                NoResponseKind::Connect
            } else {
                NoResponseKind::Io
            };
            return Err(req.failed(kind, describe(&e)));
        }
        Ok(Ok(r)) => r,
    };
    let (mut parts, mut incoming) = resp.into_parts();
    let status = parts.status.as_u16();
    let announced = parts
        .headers
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = announced
        && len > req.max_body as u64
    {
        return Err(req.too_large(status, len));
    }
    let headers = std::mem::take(&mut parts.headers);
    learn_secrets(req, &headers);
    let mut bytes = Vec::with_capacity(announced.map_or(0, |n| n as usize));
    loop {
        match tokio::time::timeout_at(deadline, incoming.frame()).await {
            Err(_) => return Err(req.timed_out()),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(req.unreadable(NoResponseKind::Io, status, &e)),
            Ok(Some(Ok(frame))) => {
                if let Ok(chunk) = frame.into_data() {
                    req.append(status, &mut bytes, &chunk)?;
                }
            }
        }
    }
    Ok(Answer {
        status,
        headers,
        bytes,
    })
}

/// Registers the secrets an answer gives: every `Set-Cookie` value and the
/// `X-CSRF-TOKEN`.
fn learn_secrets(req: &Req<'_>, headers: &HeaderMap) {
    for v in headers.get_all(reqwest::header::SET_COOKIE) {
        req.secrets
            .add_cookie(&String::from_utf8_lossy(v.as_bytes()));
    }
    if let Some(v) = headers.get("x-csrf-token") {
        req.secrets
            .add(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
}

/// Who records, and where.
pub(crate) struct Rec<'a> {
    pub rec: &'a Recorder,
    pub stream: &'a str,
    pub actor: Actor,
    /// The path as recorded (relative to the target base URL when it is on the target).
    pub path: String,
    pub part: Option<usize>,
    /// Header names whose values are secrets whatever their name (the announced CSRF header).
    pub secret_headers: &'a [String],
}

/// The kind of `req` as [`super::Liveness`] counts it.
fn kind_of(r: &Rec<'_>, req: &Req<'_>) -> String {
    let actor = match &r.actor {
        Actor::Agent(_) => "agent",
        Actor::Customer => "customer",
        Actor::Provider => "provider",
    };
    let op = match req.body {
        Body::Json(v) => v.get("operationName").and_then(|o| o.as_str()),
        _ => None,
    };
    super::liveness::kind_of(actor, req.method.as_str(), &r.path, op)
}

/// Tells `l` whether a request of `kind` (sent at `start`) got an answer: an answer too
/// large to read is one (the target is there); a connect failure, a reset or a timeout
/// is not.
fn tell_liveness(
    l: &super::Liveness,
    kind: &str,
    start: std::time::Instant,
    res: &Result<Answer, NoAnswer>,
) {
    match res {
        Err(na) if na.kind != NoResponseKind::TooLarge => l.unanswered(kind, start, &na.message),
        _ => l.answered(kind, start),
    }
}

/// Sends `req`, recording the request and its answer (or the lack of one).
pub(crate) async fn send_recorded(
    client: &Client,
    mut req: Req<'_>,
    r: Rec<'_>,
) -> (Result<Answer, NoAnswer>, Outcome) {
    let id = r.rec.next_request_id();
    // Checked (and its secrets registered) first; the headers then move into the record.
    let prepared = prepare(&req);
    let kind = req
        .liveness
        .filter(|_| prepared.is_ok())
        .map(|l| (l, kind_of(&r, &req)));
    let mut shown = std::mem::take(&mut req.headers);
    for (name, value) in shown.iter_mut() {
        if r.secret_headers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name))
        {
            *value = REDACTED.to_string();
        }
    }
    r.rec.record(
        r.stream,
        EventKind::Request {
            req: id,
            actor: r.actor,
            method: req.method.to_string(),
            path: r.path,
            headers: shown,
            body: req.body.clone(),
            part: r.part,
        },
    );
    let start = Instant::now();
    if let Some((l, kind)) = &kind {
        l.sending(kind, start.into_std());
    }
    let res = match prepared {
        Ok(headers) => execute(client, &req, headers).await,
        Err(na) => Err(na),
    };
    let elapsed_us = start.elapsed().as_micros() as u64;
    if let Some((l, kind)) = &kind {
        tell_liveness(l, kind, start.into_std(), &res);
    }
    let outcome = match &res {
        Ok(a) => {
            let (body, notes) = body_noted(&a.bytes);
            r.rec.record_noted(
                r.stream,
                EventKind::Response {
                    req: id,
                    status: a.status,
                    body: body.clone(),
                    elapsed_us,
                },
                notes,
            );
            Outcome::Answered {
                status: a.status,
                body,
            }
        }
        Err(na) => {
            r.rec.record(
                r.stream,
                EventKind::NoResponse {
                    req: id,
                    kind: na.kind,
                    message: na.message.clone(),
                    elapsed_us,
                },
            );
            Outcome::NoAnswer {
                kind: na.kind,
                message: na.message.clone(),
            }
        }
    };
    (res, outcome)
}

/// `path` (absolute, starting with `/`) resolved against `base` (which may carry a path
/// prefix). Refuses anything that would leave the target.
pub(crate) fn join(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, HarnessError> {
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(HarnessError::new(format!(
            "path {path:?} must be absolute on the target (start with a single '/')"
        )));
    }
    let prefix = base.path().trim_end_matches('/');
    let mut url = base.clone();
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    url.set_path(&format!("{prefix}{p}"));
    url.set_query(q);
    Ok(url)
}

/// A one-line summary of an answer body for error messages: statusCode and statusMessage
/// when present, else an excerpt.
pub(crate) fn summary(body: &Body) -> String {
    match body {
        Body::Empty => "empty body".to_string(),
        Body::Json(v) => {
            let code = v.get("statusCode").map(|c| c.to_string());
            let msg = v.get("statusMessage").and_then(|m| m.as_str());
            match (code, msg) {
                (Some(c), Some(m)) => format!("statusCode {c} ({m})"),
                (Some(c), None) => format!("statusCode {c}"),
                _ => format!("body {}", excerpt(v.to_string().as_bytes(), 200)),
            }
        }
        Body::Raw(s) => format!("non-JSON body {:?}", excerpt(s.as_bytes(), 200)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_classified_and_raw_ones_truncated() {
        assert_eq!(body_of(b""), Body::Empty);
        assert_eq!(
            body_of(br#"{"statusCode":0}"#),
            Body::Json(serde_json::json!({"statusCode":0}))
        );
        let big = "x".repeat(10_000);
        match body_of(big.as_bytes()) {
            Body::Raw(s) => assert_eq!(s.len(), RAW_BODY_LIMIT),
            other => panic!("{other:?}"),
        }
        // A cut inside a multi-byte character does not panic.
        let e = excerpt("é".repeat(10).as_bytes(), 3);
        assert!(e.starts_with('é'));
    }

    #[test]
    fn the_plain_client_is_used_only_where_no_proxy_can_apply() {
        let none = |_: &str| None;
        let set = |k: &str| (k == "http_proxy").then(|| "http://proxy:3128".to_string());
        let blank = |_: &str| Some("  ".to_string());
        if cfg!(target_os = "linux") {
            assert!(!proxy_configured(none));
            assert!(!proxy_configured(blank));
        }
        assert!(proxy_configured(set));
        let cfg = TargetConfig::default();
        let plain = |u: &str| {
            matches!(
                build_client(&cfg, &reqwest::Url::parse(u).unwrap()).unwrap(),
                Client::Plain(_)
            )
        };
        // Loopback plain HTTP never goes through a proxy, whatever the environment.
        assert!(plain("http://127.0.0.1:1"));
        assert!(plain("http://localhost:8080/gws"));
        // TLS is reqwest's.
        assert!(!plain("https://127.0.0.1:1"));
        assert!(!plain("https://gws.example"));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for u in [
            "http://127.0.0.1:1",
            "http://127.9.9.9",
            "http://[::1]:8080",
            "https://localhost/",
            "http://a.localhost.",
        ] {
            assert!(is_loopback(&reqwest::Url::parse(u).unwrap()), "{u}");
        }
        for u in [
            "http://10.0.0.1",
            "https://gws.example",
            "http://localhost.example",
        ] {
            assert!(!is_loopback(&reqwest::Url::parse(u).unwrap()), "{u}");
        }
    }

    #[test]
    fn paths_join_under_the_base_and_never_leave_it() {
        let base = reqwest::Url::parse("http://h:1/gws").unwrap();
        assert_eq!(
            join(&base, "/api/v2/me/chats?fields=*").unwrap().as_str(),
            "http://h:1/gws/api/v2/me/chats?fields=*"
        );
        let root = reqwest::Url::parse("http://h:1").unwrap();
        assert_eq!(
            join(&root, "/api/v2/me").unwrap().as_str(),
            "http://h:1/api/v2/me"
        );
        assert!(join(&root, "api/v2/me").is_err());
        assert!(join(&root, "//evil.example/x").is_err());
    }
}
