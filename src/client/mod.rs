//! Talking to a target: REST (auth, cookies, CSRF), Bayeux long-polling, provisioning.
//!
//! Everything sent and received goes into a [`Recorder`](crate::history::Recorder):
//! agent REST traffic on stream `"rest:<user>"` ([`rest`]), notifications and Bayeux
//! session events on `"bayeux:<user>"` ([`bayeux`]), provisioning traffic on
//! `"customer"` or `"provider"` ([`provision`]).
//!
//! Hostile peers are expected: every network wait is bounded by [`TargetConfig`]
//! timeouts, every answer body by [`TargetConfig::max_body_bytes`], and every retry loop
//! by a failure count. Secrets never reach a history: header values are redacted by the
//! recorder (and by this module for a CSRF header whatever its name), and base URLs with
//! embedded credentials are refused.

#![warn(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use crate::history::redact::SharedScrubber;

pub(crate) mod bayeux;
mod http;
mod liveness;
pub(crate) mod provision;
pub(crate) mod rest;

pub use crate::history::{AuthVariant, Body, NoResponseKind};
pub use bayeux::{BayeuxClient, BayeuxHandle, BayeuxTuning};
pub(crate) use http::POOL_IDLE;
pub use liveness::{DEFAULT_GIVE_UP_AFTER, DEFAULT_GIVE_UP_SILENCE, Gone, Liveness};
pub use provision::{Offered, Provisioner, Provisioning, ProvisioningKind};
pub use rest::AgentClient;

/// An agent's user name and password. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The agent's user name (also names its streams: `"rest:<user>"`, `"bayeux:<user>"`).
    pub user: String,
    /// The agent's password. Sent only inside the Basic `Authorization` header.
    pub password: String,
}

impl Credentials {
    /// Credentials for `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The `Authorization` header value (`Basic base64(user:password)`).
    pub(crate) fn basic_header(&self) -> String {
        use base64::Engine;
        let pair = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &crate::history::REDACTED)
            .finish()
    }
}

/// Where the target is and how long the harness waits for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    /// `http(s)://host:port`, no trailing slash (see [`TargetConfig::new`]).
    pub base_url: String,
    /// Whole-request timeout (connect, send, answer and body). Default 10 s.
    pub request_timeout: Duration,
    /// TCP/TLS connect timeout. Default 3 s.
    pub connect_timeout: Duration,
    /// Larger answers are `NoResponse { kind: TooLarge }`. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Notification deadline (SPEC §6.5), used by provisioning waits. Default 5 s.
    pub deadline: Duration,
    /// CA certificates trusted IN ADDITION to the system's roots (`--cacert`), for the
    /// target and the provider URL.
    pub ca: Option<CaFile>,
    /// Accept any server certificate (`--insecure`; the runner warns on every run).
    pub insecure: bool,
    /// Where the clients register the secrets they learn (cookies the target sets, the
    /// CSRF token, the Authorization values sent), so no output shows them.
    pub secrets: SharedScrubber,
    /// Told by every request but the Bayeux long-poll whether it got an answer (the run
    /// stops starting cases once the target is gone).
    pub liveness: Liveness,
}

/// A PEM file of CA certificates (`--cacert`), read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFile {
    /// The file, as given (named in messages).
    pub path: PathBuf,
    pem: Vec<u8>,
}

impl CaFile {
    /// Reads `path`: a missing or unreadable file, or one without a PEM certificate, is
    /// an error naming the file.
    pub fn load(path: &Path) -> Result<CaFile, HarnessError> {
        let pem = std::fs::read(path).map_err(|e| {
            HarnessError::new(format!("--cacert {}: cannot read it: {e}", path.display()))
        })?;
        let ca = CaFile {
            path: path.to_path_buf(),
            pem,
        };
        ca.certificates()?;
        Ok(ca)
    }

    /// The certificates of the file.
    pub(crate) fn certificates(&self) -> Result<Vec<reqwest::Certificate>, HarnessError> {
        let bad = |why: String| {
            HarnessError::new(format!(
                "--cacert {}: not a PEM CA certificate file: {why}",
                self.path.display()
            ))
        };
        let text = String::from_utf8_lossy(&self.pem);
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(bad("no -----BEGIN CERTIFICATE----- block".into()));
        }
        match reqwest::Certificate::from_pem_bundle(&self.pem) {
            Ok(certs) if !certs.is_empty() => Ok(certs),
            Ok(_) => Err(bad("no certificate in it".into())),
            Err(e) => Err(bad(e.to_string())),
        }
    }
}

/// Default whole-request timeout.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default connect timeout.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default answer body cap.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default notification deadline (SPEC §6.5).
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

impl Default for TargetConfig {
    /// The default timeouts and body cap, with an EMPTY `base_url`: it must be set (it is
    /// validated when the config is used, with a clear error).
    fn default() -> Self {
        TargetConfig {
            base_url: String::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            deadline: DEFAULT_DEADLINE,
            ca: None,
            insecure: false,
            secrets: SharedScrubber::new(),
            liveness: Liveness::new(),
        }
    }
}

impl TargetConfig {
    /// A configuration for `base_url` with the default timeouts and body cap. The URL is
    /// validated (see [`parse_base_url`]) and a trailing slash is removed.
    pub fn new(base_url: &str) -> Result<TargetConfig, HarnessError> {
        let url = parse_base_url("base URL", base_url)?;
        Ok(TargetConfig {
            base_url: url.as_str().trim_end_matches('/').to_string(),
            ..TargetConfig::default()
        })
    }

    /// The validated base URL (without a trailing slash in its path).
    pub(crate) fn base(&self) -> Result<reqwest::Url, HarnessError> {
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(HarnessError::new(format!(
                "target config: request_timeout and connect_timeout must be > 0 (got {:?} and {:?})",
                self.request_timeout, self.connect_timeout
            )));
        }
        if self.max_body_bytes == 0 {
            return Err(HarnessError::new(
                "target config: max_body_bytes must be > 0",
            ));
        }
        parse_base_url("base URL", &self.base_url)
    }

    /// `why` (a failure to reach the target) with what the harness trusts appended when
    /// it is a certificate problem.
    pub(crate) fn tls_hint(&self, why: String) -> String {
        let w = why.to_ascii_lowercase();
        if !(w.contains("certificate") || w.contains("unknownissuer") || w.contains("tls")) {
            return why;
        }
        match &self.ca {
            Some(ca) => format!(
                "{why} (TLS: trusting the system roots and the CA file {})",
                ca.path.display()
            ),
            None => format!(
                "{why} (TLS: trusting the system roots only; give the target's CA with --cacert FILE)"
            ),
        }
    }
}

/// Parses and validates a base URL: `http` or `https`, a host, no credentials, no query or
/// fragment. `what` names the setting in the error (e.g. `"base URL"`).
pub(crate) fn parse_base_url(what: &str, raw: &str) -> Result<reqwest::Url, HarnessError> {
    let trimmed = raw.trim();
    // Never echo a URL that may carry credentials: userinfo, or a query or fragment
    // (`?access_token=…`).
    let shown = if trimmed.contains('@') {
        "<URL with '@' not shown>"
    } else if trimmed.contains(['?', '#']) {
        "<URL with a query or fragment not shown>"
    } else {
        trimmed
    };
    let url = reqwest::Url::parse(trimmed)
        .map_err(|e| HarnessError::new(format!("{what} {shown:?} is not a valid URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(HarnessError::new(format!(
            "{what} {shown:?}: scheme must be http or https, not {:?}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(HarnessError::new(format!("{what} {shown:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the URL itself here: it carries a secret.
        return Err(HarnessError::new(format!(
            "{what}: credentials inside the URL are not accepted; give the agents' credentials separately"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(HarnessError::new(format!(
            "{what} {shown:?} must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// The harness or the environment broke (target unreachable, login or provisioning
/// refused). Its message says what broke, with the URL, path or status, and never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HarnessError {
    message: String,
    unsupported: bool,
}

impl HarnessError {
    /// An error with this message (must not contain secrets).
    pub fn new(message: impl Into<String>) -> Self {
        HarnessError {
            message: message.into(),
            unsupported: false,
        }
    }

    /// The target does not support what was asked (a provider-state endpoint answering
    /// 404/501 for a state, SPEC §1.5): not a breakage, the step is not observable.
    pub fn unsupported(message: impl Into<String>) -> Self {
        HarnessError {
            message: message.into(),
            unsupported: true,
        }
    }

    /// Whether this is [`HarnessError::unsupported`].
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// What came back from one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An HTTP answer. `body` is `Json` when it parsed, `Raw` (at most 4 KiB) otherwise,
    /// `Empty` when there was none.
    Answered {
        /// The HTTP status.
        status: u16,
        /// The answer body.
        body: Body,
    },
    /// No HTTP answer: indeterminate (the target may or may not have acted).
    NoAnswer {
        /// Why there was none (connect, timeout, I/O, too large).
        kind: NoResponseKind,
        /// What happened, with the method and URL.
        message: String,
    },
}

impl Outcome {
    /// The HTTP status, if answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Answered { status, .. } => Some(*status),
            Outcome::NoAnswer { .. } => None,
        }
    }

    /// The JSON body, if answered with one.
    pub fn json(&self) -> Option<&serde_json::Value> {
        match self {
            Outcome::Answered { body, .. } => body.json(),
            Outcome::NoAnswer { .. } => None,
        }
    }

    /// `statusCode` of a JSON object body, if any.
    pub fn status_code(&self) -> Option<i64> {
        self.json()?.get("statusCode")?.as_i64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_needs_a_base_url_and_says_so() {
        let c = TargetConfig::default();
        assert_eq!(c.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        let e = c.base().unwrap_err().to_string();
        assert!(
            e.contains("base URL") && e.contains("not a valid URL"),
            "{e}"
        );
        let mut c = TargetConfig::new("https://gws.example:8443/gws/").unwrap();
        assert_eq!(c.base_url, "https://gws.example:8443/gws");
        c.request_timeout = Duration::ZERO;
        assert!(
            c.base()
                .unwrap_err()
                .to_string()
                .contains("request_timeout")
        );
    }

    #[test]
    fn urls_with_credentials_are_never_echoed() {
        for raw in [
            "http://u:s3cret@h:1",
            "http://u:s3cret@",
            "ht tp://u:s3cret@x",
            "http://h:1/?access_token=s3cret",
            "http://h:1/#s3cret",
            "ftp://h/?k=s3cret",
        ] {
            let e = parse_base_url("base URL", raw).unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn outcome_accessors() {
        let o = Outcome::Answered {
            status: 200,
            body: Body::Json(serde_json::json!({"statusCode": 6})),
        };
        assert_eq!((o.status(), o.status_code()), (Some(200), Some(6)));
        let n = Outcome::NoAnswer {
            kind: NoResponseKind::Timeout,
            message: "x".into(),
        };
        assert_eq!((n.status(), n.json()), (None, None));
    }

    /// Compile-time check: the runner may spawn these futures and share the clients.
    #[allow(dead_code)]
    fn clients_and_futures_are_send(
        cfg: &TargetConfig,
        a: &AgentClient,
        r: &crate::history::Recorder,
        p: &Provisioner,
        o: &Offered,
    ) {
        fn send<T: Send>(_: T) {}
        fn sync<T: Send + Sync>() {}
        sync::<AgentClient>();
        sync::<Provisioner>();
        sync::<BayeuxHandle>();
        send(a.post_chat(r, "x", &Body::Empty, AuthVariant::Normal, None));
        send(a.get(r, "/api/v2/me/chats"));
        send(AgentClient::login(cfg, Credentials::new("u", "p"), r));
        send(BayeuxClient::start(cfg, a, &["/v2/me/chats"], r.clone()));
        send(p.offer_chat(r, r, "c", "a", "n"));
        send(p.inspect(r, o));
        send(p.teardown(r, o));
    }
}
