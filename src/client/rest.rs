//! The agent REST client: Basic auth, one cookie jar per agent, CSRF discovery and echo.

use super::http::{self, Rec, Req};
use super::{Credentials, HarnessError, Outcome, TargetConfig};
use crate::history::{Actor, AuthVariant, Body, EventKind, Recorder};
use reqwest::Method;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, HeaderName};
use serde_json::{Value, json};
use std::fmt;
use std::sync::{Arc, Mutex};

/// The CSRF header a target announced: its name (`X-CSRF-HEADER`) and value (`X-CSRF-TOKEN`).
#[derive(Clone)]
struct Csrf {
    header: String,
    token: String,
}

/// One agent's REST session. Each agent has its OWN cookie jar (SPEC §6.7), shared with
/// its Bayeux session.
pub struct AgentClient {
    cfg: TargetConfig,
    base: reqwest::Url,
    http: http::Client,
    /// A separate client for `AuthVariant::NoCredentials`: no shared connection, no jar.
    anon_http: http::Client,
    jar: Arc<Jar>,
    user: String,
    basic: String,
    stream: String,
    csrf: Mutex<Option<Csrf>>,
}

impl fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentClient")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .field("uses_csrf", &self.uses_csrf())
            .finish_non_exhaustive()
    }
}

/// Why a login step failed: its answer, or the CSRF announcement in it.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    /// No answer at all.
    #[error("no answer: {0}")]
    NoAnswer(String),
    /// Not a 2xx, a `statusCode` other than 0, or `{"status":"error"}`: the status and a
    /// summary of the body.
    #[error("HTTP {0}, {1}")]
    Refused(u16, String),
    /// `X-CSRF-HEADER` names no valid header.
    #[error("X-CSRF-HEADER announces {0:?}, which is not a valid header name")]
    BadCsrfHeader(String),
    /// Both CSRF headers are there but cannot be read.
    #[error("X-CSRF-HEADER/X-CSRF-TOKEN are present but empty or not visible ASCII")]
    UnreadableCsrf,
}

/// Whether a set-up answer is a success: 2xx, and `statusCode` 0 when there is one. A body
/// without `statusCode` is accepted: the 8.5.0/8.5.1 channel Ready page answers
/// `{"status":"ok"}` (facts sheet §6 and §10.18), and an empty 200 is plausible too; a
/// legacy `{"status":"error"}` is refused.
fn setup_ok(outcome: &Outcome) -> Result<(), SetupError> {
    match outcome {
        Outcome::NoAnswer { message, .. } => Err(SetupError::NoAnswer(message.clone())),
        Outcome::Answered { status, body } => {
            let summary = http::summary(body);
            if !(200..300).contains(status) {
                return Err(SetupError::Refused(*status, summary));
            }
            if let Some(v) = body.json() {
                if let Some(code) = v.get("statusCode")
                    && code.as_i64() != Some(0)
                {
                    return Err(SetupError::Refused(*status, summary));
                }
                if v.get("status").and_then(Value::as_str) == Some("error") {
                    return Err(SetupError::Refused(*status, summary));
                }
            }
            Ok(())
        }
    }
}

impl AgentClient {
    /// GET /api/v2/me (learn cookie + CSRF: `X-CSRF-HEADER` names the header,
    /// `X-CSRF-TOKEN` its value; records `Session{agent, csrf}`), then POST /api/v2/me
    /// StartContactCenterSession `{"channels":["chat"]}`, then POST
    /// /api/v2/me/channels/chat Ready. Every request and answer is recorded in `rec` on
    /// stream `"rest:<user>"`. Non-2xx or statusCode != 0 on these set-up calls, or no
    /// answer -> `HarnessError` naming the step.
    pub async fn login(
        cfg: &TargetConfig,
        creds: Credentials,
        rec: &Recorder,
    ) -> Result<AgentClient, HarnessError> {
        let base = cfg.base()?;
        if creds.user.is_empty() {
            return Err(HarnessError::new(
                "agent credentials: the user name is empty",
            ));
        }
        if creds.user.contains(':') || creds.user.chars().any(char::is_control) {
            return Err(HarnessError::new(format!(
                "agent credentials: user name {:?} must not contain ':' or control characters",
                creds.user
            )));
        }
        let client = AgentClient {
            cfg: cfg.clone(),
            http: http::build_client(cfg, &base)?,
            anon_http: http::build_client(cfg, &base)?,
            jar: Arc::new(Jar::default()),
            basic: creds.basic_header(),
            stream: format!("rest:{}", creds.user),
            user: creds.user,
            csrf: Mutex::new(None),
            base,
        };
        let user = client.user.clone();
        let step_err = |step: &str, path: &str, why: SetupError| {
            HarnessError::new(format!(
                "login of agent {user}: {step} ({path} on {}) failed: {}",
                client.base,
                cfg.tls_hint(why.to_string())
            ))
        };

        // 1. GET /api/v2/me: the session cookie and the CSRF announcement.
        let (res, outcome) = client
            .request(
                rec,
                Method::GET,
                "/api/v2/me",
                &Body::Empty,
                AuthVariant::Normal,
                None,
            )
            .await?;
        setup_ok(&outcome).map_err(|why| step_err("GET /api/v2/me", "/api/v2/me", why))?;
        if let Ok(answer) = &res {
            client
                .learn_csrf(&answer.headers)
                .map_err(|why| step_err("GET /api/v2/me", "/api/v2/me", why))?;
        }
        rec.record(
            &client.stream,
            EventKind::Session {
                agent: client.user.clone(),
                csrf: client.uses_csrf(),
            },
        );

        // 2. StartContactCenterSession on the chat channel.
        let start = json!({"operationName": "StartContactCenterSession", "channels": ["chat"]});
        let outcome = client.post_json(rec, "/api/v2/me", &start).await;
        setup_ok(&outcome)
            .map_err(|why| step_err("StartContactCenterSession", "/api/v2/me", why))?;

        // 3. Ready on the chat channel.
        let ready = json!({"operationName": "Ready"});
        let outcome = client
            .post_json(rec, "/api/v2/me/channels/chat", &ready)
            .await;
        setup_ok(&outcome).map_err(|why| step_err("Ready", "/api/v2/me/channels/chat", why))?;
        Ok(client)
    }

    /// The agent's user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the target announced a CSRF token (then SES-01 applies).
    pub fn uses_csrf(&self) -> bool {
        self.csrf_now().is_some()
    }

    /// POST /api/v2/me/chats/{chat_id} with `body` (Json -> serialized; Raw -> sent as
    /// is; both with Content-Type application/json), tampered per `auth`. Records Request
    /// (with `part`) then Response or NoResponse. Never errors: transport problems are
    /// `Outcome::NoAnswer` (and recorded); a chat id is sent percent-encoded, and one that
    /// cannot name a resource (empty, `.` or `..`: see [`id_path`]) is not sent at all.
    pub async fn post_chat(
        &self,
        rec: &Recorder,
        chat_id: &str,
        body: &Body,
        auth: AuthVariant,
        part: Option<usize>,
    ) -> Outcome {
        self.post_chat_with(rec, chat_id, body, auth, part, None)
            .await
    }

    /// [`AgentClient::post_chat`], where `peer` (another agent's session) lends what
    /// `auth` takes from another agent ([`AuthVariant::needs_peer`]: its CSRF token or
    /// its Basic credentials). Without a peer such a request goes without that part
    /// (no CSRF token; the sender's own Basic).
    pub async fn post_chat_with(
        &self,
        rec: &Recorder,
        chat_id: &str,
        body: &Body,
        auth: AuthVariant,
        part: Option<usize>,
        peer: Option<&AgentClient>,
    ) -> Outcome {
        let path = match id_path("/api/v2/me/chats", chat_id) {
            Ok(p) => p,
            Err(e) => {
                let shown = format!("/api/v2/me/chats/{}", encode_segment(chat_id));
                return self.unsendable(rec, "POST", &shown, body, part, e);
            }
        };
        match self
            .request_with(rec, Method::POST, &path, body, (auth, peer), part)
            .await
        {
            Ok((_, outcome)) => outcome,
            Err(e) => self.unsendable(rec, "POST", &path, body, part, e),
        }
    }

    /// GET a path of the agent API (recorded), e.g. `/api/v2/me/chats`.
    pub async fn get(&self, rec: &Recorder, path: &str) -> Outcome {
        match self
            .request(
                rec,
                Method::GET,
                path,
                &Body::Empty,
                AuthVariant::Normal,
                None,
            )
            .await
        {
            Ok((_, outcome)) => outcome,
            Err(e) => self.unsendable(rec, "GET", path, &Body::Empty, None, e),
        }
    }

    /// POST to an agent-API path with a JSON body (recorded).
    pub async fn post_json(&self, rec: &Recorder, path: &str, body: &Value) -> Outcome {
        let body = Body::Json(body.clone());
        match self
            .request(rec, Method::POST, path, &body, AuthVariant::Normal, None)
            .await
        {
            Ok((_, outcome)) => outcome,
            Err(e) => self.unsendable(rec, "POST", path, &body, None, e),
        }
    }

    /// POST /api/v2/me/channels/chat NotReady (recorded); used at the end of a run. Best
    /// effort: the answer is recorded, not judged.
    pub async fn logout(&self, rec: &Recorder) {
        let _ = self
            .post_json(
                rec,
                "/api/v2/me/channels/chat",
                &json!({"operationName": "NotReady"}),
            )
            .await;
    }

    // ---- crate-internal: used by the Bayeux client ----

    pub(crate) fn http(&self) -> &http::Client {
        &self.http
    }

    pub(crate) fn base(&self) -> &reqwest::Url {
        &self.base
    }

    pub(crate) fn jar_handle(&self) -> Arc<Jar> {
        self.jar.clone()
    }

    pub(crate) fn basic(&self) -> &str {
        &self.basic
    }

    /// The `Cookie` header value the jar holds for `url`.
    pub(crate) fn cookie_for(&self, url: &reqwest::Url) -> Option<String> {
        self.jar
            .cookies(url)
            .and_then(|v| v.to_str().ok().map(str::to_string))
    }

    /// Stores the `Set-Cookie` headers of an answer from `url` in the agent's jar.
    pub(crate) fn store_cookies(&self, headers: &HeaderMap, url: &reqwest::Url) {
        let mut it = headers.get_all(reqwest::header::SET_COOKIE).iter();
        self.jar.set_cookies(&mut it, url);
    }

    // ---- internals ----

    fn csrf_now(&self) -> Option<Csrf> {
        self.csrf.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes the CSRF announcement from answer headers, if both are present.
    fn learn_csrf(&self, headers: &HeaderMap) -> Result<(), SetupError> {
        let name = headers
            .get("x-csrf-header")
            .map(|v| v.to_str().map(str::trim));
        let token = headers.get("x-csrf-token").map(|v| v.to_str());
        match (name, token) {
            (Some(Ok(name)), Some(Ok(token))) if !name.is_empty() => {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(SetupError::BadCsrfHeader(name.to_string()));
                }
                self.cfg.secrets.add(token);
                *self.csrf.lock().unwrap_or_else(|p| p.into_inner()) = Some(Csrf {
                    header: name.to_string(),
                    token: token.to_string(),
                });
                Ok(())
            }
            (Some(_), Some(_)) => Err(SetupError::UnreadableCsrf),
            // Only one of the two, or neither: no CSRF (facts sheet §6 needs both).
            _ => Ok(()),
        }
    }

    /// Builds the headers for `auth`, sends, records. `Err` only when the request cannot
    /// even be formed (bad path).
    async fn request(
        &self,
        rec: &Recorder,
        method: Method,
        path: &str,
        body: &Body,
        auth: AuthVariant,
        part: Option<usize>,
    ) -> Result<(Result<http::Answer, http::NoAnswer>, Outcome), HarnessError> {
        self.request_with(rec, method, path, body, (auth, None), part)
            .await
    }

    /// [`AgentClient::request`], with a `peer` session lending its CSRF token or Basic
    /// credentials where `auth` says so.
    async fn request_with(
        &self,
        rec: &Recorder,
        method: Method,
        path: &str,
        body: &Body,
        (auth, peer): (AuthVariant, Option<&AgentClient>),
        part: Option<usize>,
    ) -> Result<(Result<http::Answer, http::NoAnswer>, Outcome), HarnessError> {
        let url = http::join(&self.base, path)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let basic = match auth {
            AuthVariant::Normal | AuthVariant::NoCsrf | AuthVariant::ForeignCsrf => {
                Some(self.basic.clone())
            }
            AuthVariant::ForeignBasic => Some(peer.unwrap_or(self).basic.clone()),
            AuthVariant::NoCredentials | AuthVariant::CookieOnly => None,
        };
        let cookie = !matches!(auth, AuthVariant::NoCredentials);
        let csrf = match auth {
            AuthVariant::Normal | AuthVariant::CookieOnly | AuthVariant::ForeignBasic => {
                self.csrf_now()
            }
            // The other agent's token under this agent's header name (the target
            // announces one name for all).
            AuthVariant::ForeignCsrf => peer.and_then(AgentClient::csrf_now).map(|p| Csrf {
                header: self.csrf_now().map_or(p.header, |c| c.header),
                token: p.token,
            }),
            AuthVariant::NoCsrf | AuthVariant::NoCredentials => None,
        };
        if let Some(b) = basic {
            headers.push(("Authorization".into(), b));
        }
        if cookie && let Some(c) = self.cookie_for(&url) {
            headers.push(("Cookie".into(), c));
        }
        let mut secret = Vec::new();
        // CSRF goes on modifying requests only (facts sheet §6: PUT, POST, DELETE).
        if method != Method::GET
            && let Some(c) = csrf
        {
            secret.push(c.header.clone());
            headers.push((c.header, c.token));
        }
        if !matches!(body, Body::Empty) {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        headers.push(("Accept".into(), "application/json".into()));
        let req = Req {
            method,
            url: url.clone(),
            headers,
            body,
            timeout: self.cfg.request_timeout,
            max_body: self.cfg.max_body_bytes,
            secrets: &self.cfg.secrets,
            liveness: Some(&self.cfg.liveness),
        };
        let client = if auth == AuthVariant::NoCredentials {
            &self.anon_http
        } else {
            &self.http
        };
        let (res, outcome) = http::send_recorded(
            client,
            req,
            Rec {
                rec,
                stream: &self.stream,
                actor: Actor::Agent(self.user.clone()),
                path: path.to_string(),
                part,
                secret_headers: &secret,
            },
        )
        .await;
        // Only a well-behaved request may change the session: a tampered one must not
        // replace the agent's cookie or token (the run goes on with them).
        if auth == AuthVariant::Normal
            && let Ok(answer) = &res
        {
            self.store_cookies(&answer.headers, &url);
            let _ = self.learn_csrf(&answer.headers);
        }
        Ok((res, outcome))
    }

    /// Records a request that could not be formed, and its (non-)answer.
    fn unsendable(
        &self,
        rec: &Recorder,
        method: &str,
        path: &str,
        body: &Body,
        part: Option<usize>,
        e: HarnessError,
    ) -> Outcome {
        let id = rec.next_request_id();
        rec.record(
            &self.stream,
            EventKind::Request {
                req: id,
                actor: Actor::Agent(self.user.clone()),
                method: method.into(),
                path: path.to_string(),
                headers: Vec::new(),
                body: body.clone(),
                part,
            },
        );
        let message = format!("request not sent: {e}");
        rec.record(
            &self.stream,
            EventKind::NoResponse {
                req: id,
                kind: crate::history::NoResponseKind::Io,
                message: message.clone(),
                elapsed_us: 0,
            },
        );
        Outcome::NoAnswer {
            kind: crate::history::NoResponseKind::Io,
            message,
        }
    }
}

/// Whether `id` can name a resource as one path segment: not empty, and not a dot segment
/// (`.`, `..`, or a percent-encoding of them such as `%2e%2E`), which a URL resolves away
/// (WHATWG URL), so a request would land on another path of the target.
pub(crate) fn usable_id(id: &str) -> bool {
    let d = id.to_ascii_lowercase().replace("%2e", ".");
    !id.is_empty() && d != "." && d != ".."
}

/// `prefix/{id}` with `id` percent-encoded as one segment; an id that is not
/// [`usable_id`] is an error naming it.
pub(crate) fn id_path(prefix: &str, id: &str) -> Result<String, HarnessError> {
    if !usable_id(id) {
        return Err(HarnessError::new(format!(
            "id {id:?} cannot name a resource under {prefix} (empty or a dot segment)"
        )));
    }
    Ok(format!("{prefix}/{}", encode_segment(id)))
}

/// Everything but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment (keeps unreserved characters as they are).
pub(crate) fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_segment_under_their_prefix() {
        let base = reqwest::Url::parse("http://h:1/gws").unwrap();
        for id in ["X1", "a/b", "?q=1", "#f", "%2e%2e%2f", "..a", "a b", "é"] {
            let p = id_path("/api/v2/me/chats", id).unwrap();
            let url = http::join(&base, &p).unwrap();
            let rest = url
                .path()
                .strip_prefix("/gws/api/v2/me/chats/")
                .unwrap_or("");
            assert!(!rest.is_empty() && !rest.contains('/'), "{id:?} -> {url}");
            assert!(
                url.query().is_none() && url.fragment().is_none(),
                "{id:?} -> {url}"
            );
        }
        for id in ["", ".", "..", "%2e", ".%2E", "%2E%2e"] {
            assert!(id_path("/api/v2/me/chats", id).is_err(), "{id:?}");
        }
    }
}
