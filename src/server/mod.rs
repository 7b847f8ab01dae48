//! The embedded reference server: an independent implementation of the contract (agent
//! API, Bayeux notifications, customer chat API, provider-state endpoint) with a fault
//! switch. It must never import `crate::model`, `crate::check`, `crate::client` or
//! `crate::runner`.
//!
//! Endpoints (all under the base URL `http://127.0.0.1:PORT`):
//! - agent API `/api/v2/me`, `/api/v2/me/channels/chat`, `/api/v2/me/chats[/{id}]`
//!   (Basic auth on every request, `JSESSIONID` session, CSRF on POST/PUT/DELETE);
//! - Bayeux long-polling `POST /api/v2/notifications` (Basic auth + session, no CSRF);
//! - customer chat API `/api/v2/chats[/{id}[/messages]]` (header `ContactCenterId`);
//! - `POST /conformance/provider-state` (SPEC §1.5 mode 2). It takes NO authentication:
//!   it is a test-deployment endpoint, like a vendor's own provider-state hook, and the
//!   server binds loopback by default.
//!
//! Layout: `state` holds the shared state (agents, sessions, chats, interactions, Bayeux
//! clients, ids, housekeeping); the rules are synchronous `impl Core` blocks, one file per
//! surface: `agent` (auth, session, CSRF, Ready, chat operations), `bayeux`
//! (`/api/v2/notifications`), `customer` (`/api/v2/chats`), `provider`
//! (`/conformance/provider-state`), plus `chats`, the chat life cycle they share
//! (transitions, routing under the capacity rule, JSON shapes, typing). All of it runs
//! under one lock, so a state change and its notifications are published atomically and
//! in causal order. `http` is the axum front (body limits, latency, headers, long-poll
//! waits); `net` the accept loop (head-read deadline, idle deadline, connection cap);
//! `faults` is the fault catalogue; `gws-conform serve` is the binary's (`src/cli/serve.rs`).
//!
//! Deployment model ([`ServerConfig`]): agent capacity, answer latency, customers typing,
//! the transcript form of provider-state `inspect`, and byte/size bounds.

#![warn(missing_docs)]

mod agent;
mod bayeux;
mod chats;
mod customer;
pub mod faults;
mod http;
mod net;
mod provider;
mod state;
#[cfg(test)]
mod unit_tests;
pub(crate) mod variations;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use faults::FaultInfo;
pub use faults::faults;
pub use variations::{Variations, variations};

/// Configuration of the reference server (its `Debug` hides the passwords).
#[derive(Clone)]
pub struct ServerConfig {
    /// The agents, as (user name, password).
    pub agents: Vec<(String, String)>,
    /// CSRF enforced on REST POST/PUT/DELETE.
    pub csrf: bool,
    /// One fault name from [`faults()`], or none (the faithful server).
    pub fault: Option<String>,
    /// Expected `ContactCenterId` header of the customer API.
    pub contact_center_id: String,
    /// Long-poll hold time advertised in `advice.timeout`.
    pub bayeux_timeout_ms: u64,
    /// A Bayeux client that does not reconnect within this is expired.
    pub bayeux_max_interval_ms: u64,
    /// At most this many open chats (Invited, Chatting or LeftChat) per agent, like a
    /// GWS capacity rule (SPEC §6.9). A customer's RequestChat beyond it stays queued
    /// (`WaitingForAgent`) until an agent has room; provider-state `chat offered` for an
    /// agent at capacity answers HTTP 409. `None` (the default): unlimited.
    pub capacity: Option<usize>,
    /// Every HTTP answer is delayed this long, as by a remote deployment (a held
    /// long-poll answers after at most its hold time plus this). Default: zero.
    pub latency: Duration,
    /// While a chat is Chatting and its customer is still there, the customer starts
    /// and stops typing at this interval: the agent gets `NewMessages` notifications of
    /// type `TypingStarted` / `TypingStopped`. `None` (the default): the customer never
    /// types.
    pub typing: Option<Duration>,
    /// The form of the provider-state `inspect` answer's `customerTranscript` entries
    /// (SPEC §6.6). Default: [`TranscriptForm::Plain`].
    pub transcript_form: TranscriptForm,
    /// A request head (request line and headers) must arrive within this, or the
    /// connection is closed (a slow drip of header bytes cannot hold it). Default 15 s.
    pub head_read_timeout: Duration,
    /// Connections open at once at most; a connection beyond it is closed at once.
    /// Default 1024.
    pub max_connections: usize,
    /// Largest customer `userData` (serialized JSON bytes) a RequestChat or a
    /// provider-state `chat offered` may carry; beyond it: statusCode 10. Default 16 KiB.
    pub max_user_data_bytes: usize,
    /// Customer chats (interactions) held at most; a RequestChat beyond it gets
    /// statusCode 13 (unable to create). Default 50,000.
    pub max_customer_chats: usize,
    /// Bytes held for customer chats at most (transcript text plus userData); a
    /// RequestChat beyond it gets statusCode 13. Default 256 MiB.
    pub max_customer_bytes: usize,
    /// Most bytes of queued notifications one `/meta/connect` answer carries; more wait
    /// for the next connect (never dropped for this). Default 512 KiB.
    pub max_connect_bytes: usize,
    /// Legitimate variations from [`variations()`] (none by default): ways a conformant
    /// deployment behaves differently from this server's default.
    pub variations: Variations,
}

/// The form of `customerTranscript` entries in a provider-state `inspect` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TranscriptForm {
    /// `{type, text, from: "Agent" | "Customer"}`.
    #[default]
    Plain,
    /// The GWS transcript form `{type, text, from: {nickname, participantId, type}}`,
    /// where `from.type` is `Agent` or `Client` (the customer).
    Gws,
}

/// A transcript form that is neither `plain` nor `gws` (as given, trimmed and
/// lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transcript form {0:?} (gws, plain)")]
pub struct UnknownTranscriptForm(pub String);

impl std::str::FromStr for TranscriptForm {
    type Err = UnknownTranscriptForm;
    fn from_str(s: &str) -> Result<Self, UnknownTranscriptForm> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" => Ok(TranscriptForm::Plain),
            "gws" => Ok(TranscriptForm::Gws),
            other => Err(UnknownTranscriptForm(other.to_string())),
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.agents.iter().map(|a| a.0.as_str()).collect();
        f.debug_struct("ServerConfig")
            .field("agents", &users)
            .field("csrf", &self.csrf)
            .field("fault", &self.fault)
            .field("contact_center_id", &self.contact_center_id)
            .field("bayeux_timeout_ms", &self.bayeux_timeout_ms)
            .field("bayeux_max_interval_ms", &self.bayeux_max_interval_ms)
            .field("capacity", &self.capacity)
            .field("latency", &self.latency)
            .field("typing", &self.typing)
            .field("transcript_form", &self.transcript_form)
            .field("head_read_timeout", &self.head_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_user_data_bytes", &self.max_user_data_bytes)
            .field("max_customer_chats", &self.max_customer_chats)
            .field("max_customer_bytes", &self.max_customer_bytes)
            .field("max_connect_bytes", &self.max_connect_bytes)
            .field("variations", &self.variations)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            agents: (1..=3)
                .map(|i| (format!("agent{i}"), format!("agent{i}-pass")))
                .collect(),
            csrf: true,
            fault: None,
            contact_center_id: "gws-conform".to_string(),
            bayeux_timeout_ms: 10_000,
            bayeux_max_interval_ms: 15_000,
            capacity: None,
            latency: Duration::ZERO,
            typing: None,
            transcript_form: TranscriptForm::Plain,
            head_read_timeout: Duration::from_secs(15),
            max_connections: 1024,
            max_user_data_bytes: 16 * 1024,
            max_customer_chats: 50_000,
            max_customer_bytes: 256 * 1024 * 1024,
            max_connect_bytes: 512 * 1024,
            variations: Variations::NONE,
        }
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The fault name is not in the catalogue.
    UnknownFault(String),
    /// The variation name is not in the catalogue.
    UnknownVariation(String),
    /// The configuration is unusable (e.g. duplicate agent names).
    BadConfig(String),
    /// Binding the address failed.
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::UnknownFault(name) => {
                let names: Vec<&str> = faults().iter().map(|f| f.name).collect();
                write!(
                    f,
                    "unknown fault {name:?}; valid faults: {}",
                    names.join(", ")
                )
            }
            StartError::UnknownVariation(name) => {
                let names: Vec<&str> = variations().iter().map(|v| v.name).collect();
                write!(
                    f,
                    "unknown variation {name:?}; valid variations: {}",
                    names.join(", ")
                )
            }
            StartError::BadConfig(m) => write!(f, "bad server configuration: {m}"),
            StartError::Bind { addr, error } => write!(f, "cannot bind {addr}: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running reference server. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    shared: Arc<http::Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The server's own runtime, when it has one ([`start_dedicated`]).
    runtime: Option<tokio::runtime::Runtime>,
}

impl RunningServer {
    /// Stops the server: wakes every held long-poll, stops accepting, and waits (at most
    /// 5 s) for the connections to finish.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        if let Some(t) = self.task.take() {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// Counts of (agent chats, interactions, Bayeux clients, sessions) held now (used by
    /// tests and the benchmark to show memory stays bounded).
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        self.shared.sizes()
    }

    /// Runs the housekeeping sweep now (expiry of abandoned Bayeux clients, dropping of
    /// old completed chats); it also runs periodically on its own.
    pub fn sweep_now(&self) {
        self.shared.sweep();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(t) = self.task.take() {
            // Graceful shutdown has been signalled; the task ends by itself once its
            // connections close. Abort only if it is still there much later.
            let abort = t.abort_handle();
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    abort.abort();
                });
            } else {
                abort.abort();
            }
        }
        if let Some(rt) = self.runtime.take() {
            // Its tasks have been told to stop; the threads are not waited for.
            rt.shutdown_background();
        }
    }
}

/// Refuses an unusable configuration (duplicate or malformed agent names, zero bounds).
fn validate(cfg: &ServerConfig) -> Result<(), StartError> {
    let mut names: Vec<&str> = cfg.agents.iter().map(|a| a.0.as_str()).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(StartError::BadConfig("duplicate agent user names".into()));
    }
    if cfg
        .agents
        .iter()
        .any(|(u, _)| u.is_empty() || u.contains(':'))
    {
        return Err(StartError::BadConfig(
            "agent user names must be non-empty and contain no ':'".into(),
        ));
    }
    if cfg.head_read_timeout.is_zero()
        || cfg.max_connections == 0
        || cfg.max_customer_chats == 0
        || cfg.max_connect_bytes == 0
    {
        return Err(StartError::BadConfig(
            "head_read_timeout, max_connections, max_customer_chats and max_connect_bytes must be > 0".into(),
        ));
    }
    if cfg.capacity == Some(0) {
        return Err(StartError::BadConfig(
            "capacity must be at least 1 (or unlimited)".into(),
        ));
    }
    if cfg.typing.is_some_and(|t| t < Duration::from_millis(10)) {
        return Err(StartError::BadConfig(
            "typing interval must be at least 10 ms".into(),
        ));
    }
    if cfg.bayeux_timeout_ms == 0 || cfg.bayeux_max_interval_ms == 0 {
        return Err(StartError::BadConfig(
            "bayeux_timeout_ms and bayeux_max_interval_ms must be > 0".into(),
        ));
    }
    Ok(())
}

/// Starts the server on `bind` (e.g. `127.0.0.1:0`) in the current tokio runtime. Must
/// be called inside one.
pub async fn start(cfg: ServerConfig, bind: &str) -> Result<RunningServer, StartError> {
    let (listener, shared, addr, base_url) = prepare(cfg, bind)?;
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|error| StartError::Bind {
            addr: bind.to_string(),
            error,
        })?;
    let task = tokio::spawn(http::serve(listener, shared.clone()));
    Ok(RunningServer {
        base_url,
        addr,
        shared,
        task: Some(task),
        runtime: None,
    })
}

/// Starts the server on `bind` on a runtime of its own (`threads` worker threads), as a
/// separate process would run it: what the caller's runtime does (a harness judging a
/// case) never delays the server's answers, and the server's work is not the caller's.
/// May be called from inside another runtime or outside any.
pub fn start_dedicated(
    cfg: ServerConfig,
    bind: &str,
    threads: usize,
) -> Result<RunningServer, StartError> {
    let (listener, shared, addr, base_url) = prepare(cfg, bind)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("gws-conform-server")
        .enable_all()
        .build()
        .map_err(|e| StartError::BadConfig(format!("cannot start the server's runtime: {e}")))?;
    let listener = {
        let _in = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(|error| StartError::Bind {
            addr: bind.to_string(),
            error,
        })?
    };
    let task = runtime.spawn(http::serve(listener, shared.clone()));
    Ok(RunningServer {
        base_url,
        addr,
        shared,
        task: Some(task),
        runtime: Some(runtime),
    })
}

/// Checks `cfg`, binds `bind` (non-blocking, for either kind of start) and builds the
/// shared state.
fn prepare(
    cfg: ServerConfig,
    bind: &str,
) -> Result<(std::net::TcpListener, Arc<http::Shared>, SocketAddr, String), StartError> {
    let fault = match &cfg.fault {
        None => None,
        Some(n) => {
            Some(faults::Fault::by_name(n).ok_or_else(|| StartError::UnknownFault(n.clone()))?)
        }
    };
    let cfg = cfg.with_variation_presets();
    validate(&cfg)?;
    let bind_err = |error| StartError::Bind {
        addr: bind.to_string(),
        error,
    };
    let listener = std::net::TcpListener::bind(bind).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(|error| StartError::Bind {
        addr: bind.to_string(),
        error,
    })?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let base_url = format!("http://{host}:{}", addr.port());
    let core_cfg = state::CoreCfg {
        agents: cfg.agents.clone(),
        csrf: cfg.csrf,
        fault,
        contact_center_id: cfg.contact_center_id.clone(),
        bayeux_timeout_ms: cfg.bayeux_timeout_ms,
        bayeux_max_interval_ms: cfg.bayeux_max_interval_ms,
        base_url: base_url.clone(),
        capacity: cfg.capacity,
        latency: cfg.latency,
        typing: cfg.typing,
        transcript_form: cfg.transcript_form,
        head_read_timeout: cfg.head_read_timeout,
        max_connections: cfg.max_connections,
        max_user_data_bytes: cfg.max_user_data_bytes,
        max_customer_chats: cfg.max_customer_chats,
        max_customer_bytes: cfg.max_customer_bytes,
        max_connect_bytes: cfg.max_connect_bytes,
        variations: cfg.variations,
    };
    let shared = http::Shared::new(core_cfg);
    Ok((listener, shared, addr, base_url))
}
