//! Observe mode: judge live traffic and recorded sessions (`gws-conform observe`).
//!
//! - Live: a reverse proxy ([`start_proxy`]) between real clients (an agent desktop, the
//!   CometD JS client, curl) and the target forwards every request and answer unchanged
//!   and records a redacted copy of each; the [`follow::Observer`] turns the traffic into
//!   one case history per chat and judges it with the same checker as `run`. A violation
//!   prints one line at once; the end (Ctrl-C or `--duration`) writes the usual reports.
//! - Offline: the same judgement over a HAR 1.2 recording ([`judge_har`]); where the
//!   recording cannot tell an order (overlapping exchanges), the verdict is Skip
//!   "indeterminate", never Fail.
//! - Every violation becomes a case file of the usual kind (the agent's operations as
//!   performed after an `OfferChat`), which `gws-conform replay` runs again.
//!
//! Safe by default: loopback unless told otherwise (then a warning), bodies recorded up
//! to 1 MiB, the recording capped in bytes, credentials/cookies/CSRF tokens never stored,
//! and what passes through never changed.

#![warn(missing_docs)]

pub(crate) mod follow;
pub mod har;
mod proxy;

use crate::check::CheckConfig;
use crate::client::ProvisioningKind;
use crate::history::redact::Scrubber;
use crate::report::{self, RunConfig, RunReport};
use crate::runner;
use crate::schema::Schemas;
use follow::{Exchange, Observer};
use proxy::{Identities, Shared};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bodies larger than this are passed on but not recorded.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// Default cap of the whole recording, in bytes.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The target's base URL.
    pub upstream: String,
    /// A PEM CA certificate to trust for the upstream.
    pub cacert: Option<PathBuf>,
    /// The checker's numbers.
    pub check: CheckConfig,
    /// Bodies recorded up to this size.
    pub max_body_bytes: usize,
    /// The recording's cap.
    pub max_record_bytes: usize,
    /// Print violation lines on stdout as they are found.
    pub print: bool,
}

impl ProxyConfig {
    /// Defaults for `upstream`.
    pub fn new(upstream: &str) -> Self {
        ProxyConfig {
            upstream: upstream.trim_end_matches('/').to_string(),
            cacert: None,
            check: CheckConfig::default(),
            max_body_bytes: MAX_BODY_BYTES,
            max_record_bytes: MAX_RECORD_BYTES,
            print: false,
        }
    }
}

/// What an observation produced.
pub struct Observation {
    /// The report (one case per chat).
    pub report: RunReport,
    /// The secrets seen, to scrub anything written.
    pub scrubber: Scrubber,
    /// The recorded exchanges (redacted).
    pub exchanges: Vec<Exchange>,
    /// The violation lines, in the order they were found.
    pub lines: Vec<String>,
}

/// A running proxy.
pub struct ProxyHandle {
    /// `http://ADDR` of the proxy.
    pub base_url: String,
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    judge: tokio::task::JoinHandle<()>,
    started: Instant,
    started_at: String,
}

/// Whether `addr` binds loopback only.
pub(crate) fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Why an observation could not start, be judged or be written.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The embedded schemas did not load.
    #[error("schemas: {0}")]
    Schemas(crate::schema::SchemaError),
    /// `--upstream` is not a URL.
    #[error("--upstream {upstream}: not a URL: {error}")]
    UpstreamUrl {
        /// What was given.
        upstream: String,
        /// Why it is not a URL.
        error: String,
    },
    /// `--upstream` is not an `http(s)://host` URL.
    #[error("--upstream {0}: needs an http(s)://host URL")]
    UpstreamNotHttp(String),
    /// `--upstream` has credentials in it.
    #[error("--upstream: put no credentials in the URL (clients send their own)")]
    UpstreamCredentials,
    /// `--cacert` cannot be read.
    #[error("--cacert {}: {error}", path.display())]
    CacertRead {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// `--cacert` holds no PEM certificate.
    #[error("--cacert {}: not a PEM certificate: {error}", path.display())]
    CacertPem {
        /// The file.
        path: PathBuf,
        /// Why.
        error: reqwest::Error,
    },
    /// The HTTP client to the upstream could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    /// `--listen` is not an address.
    #[error("--listen {listen}: not an address (e.g. 127.0.0.1:8090): {error}")]
    ListenAddr {
        /// What was given.
        listen: String,
        /// Why.
        error: std::net::AddrParseError,
    },
    /// The proxy cannot listen on `--listen`.
    #[error("--listen {listen}: {error}")]
    Listen {
        /// What was given.
        listen: String,
        /// Why.
        error: std::io::Error,
    },
    /// The HAR recording cannot be read (the message names the file).
    #[error("{0}")]
    Har(#[from] har::HarError),
    /// The run folder cannot be written.
    #[error("{0}")]
    Reports(#[from] report::ReportError),
    /// The recording cannot be written as HAR JSON.
    #[error("{0}")]
    HarJson(#[from] serde_json::Error),
    /// The HAR file (`--har-out`) cannot be written.
    #[error("{}: {error}", path.display())]
    HarOut {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Starts the proxy on `listen` in front of `cfg.upstream`.
pub async fn start_proxy(cfg: ProxyConfig, listen: &str) -> Result<ProxyHandle, ObserveError> {
    let schemas = Schemas::embedded().map_err(ObserveError::Schemas)?;
    let up = reqwest::Url::parse(&cfg.upstream).map_err(|e| ObserveError::UpstreamUrl {
        upstream: cfg.upstream.clone(),
        error: e.to_string(),
    })?;
    if !matches!(up.scheme(), "http" | "https") || up.host_str().is_none() {
        return Err(ObserveError::UpstreamNotHttp(cfg.upstream.clone()));
    }
    if !up.username().is_empty() || up.password().is_some() {
        return Err(ObserveError::UpstreamCredentials);
    }
    let mut cb = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        // An upstream that closes idle connections must not see a client's request sent
        // into one it is closing (the client would get a 502 for nothing).
        .pool_idle_timeout(crate::client::POOL_IDLE)
        .no_proxy();
    if let Some(p) = &cfg.cacert {
        let pem = std::fs::read(p).map_err(|error| ObserveError::CacertRead {
            path: p.clone(),
            error,
        })?;
        let cert =
            reqwest::Certificate::from_pem(&pem).map_err(|error| ObserveError::CacertPem {
                path: p.clone(),
                error,
            })?;
        cb = cb.add_root_certificate(cert);
    }
    let client = cb.build().map_err(ObserveError::Client)?;
    let addr: SocketAddr = listen.parse().map_err(|error| ObserveError::ListenAddr {
        listen: listen.to_string(),
        error,
    })?;
    if !is_loopback(&addr) {
        eprintln!(
            "warning: observe listens on {addr}, which is not loopback: anyone who can reach it can use the target through it with their own credentials"
        );
    }
    let listen_error = |error| ObserveError::Listen {
        listen: listen.to_string(),
        error,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(listen_error)?;
    let local = listener.local_addr().map_err(listen_error)?;
    let base = up.as_str().trim_end_matches('/').to_string();
    let shared = Arc::new(Shared {
        upstream: base,
        client,
        clock: Instant::now(),
        obs: Mutex::new(Observer::new(cfg.check, schemas, cfg.max_record_bytes)),
        ids: Mutex::new(Identities::default()),
        next_id: AtomicU64::new(0),
        lines: Mutex::new(Vec::new()),
        print: cfg.print,
        max_body: cfg.max_body_bytes,
    });
    let app = axum::Router::new()
        .fallback(proxy::forward)
        .with_state(shared.clone());
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let mut rx2 = rx.clone();
    // No Nagle delay between an answer's head and its streamed body.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
    });
    let settle = cfg.check.deadline.max(cfg.check.quiet_window);
    let sh = shared.clone();
    let judge = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => sh.judge_settled(settle),
                _ = rx2.wait_for(|s| *s) => break,
            }
        }
    });
    Ok(ProxyHandle {
        base_url: format!("http://{local}"),
        shared,
        stop,
        server,
        judge,
        started: Instant::now(),
        started_at: now_rfc3339(),
    })
}

impl ProxyHandle {
    /// The violation lines found so far.
    pub fn violations(&self) -> Vec<String> {
        proxy_lines(&self.shared)
    }

    /// Stops the proxy (connections still open get up to 2 s), judges every chat one
    /// last time and builds the report.
    pub async fn finish(self, provisioning: ProvisioningKind) -> Observation {
        let _ = self.stop.send(true);
        let _ = self.judge.await;
        let abort = self.server.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), self.server)
            .await
            .is_err()
        {
            abort.abort();
        }
        let sh = self.shared;
        let lines = {
            let mut o = sh.obs.lock().unwrap_or_else(|p| p.into_inner());
            o.judge_all(sh.now_us())
        };
        sh.emit(lines);
        let scrubber = sh
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .scrubber
            .clone();
        let o = sh.obs.lock().unwrap_or_else(|p| p.into_inner());
        let report = build_report(
            &o,
            &sh.upstream,
            self.started_at,
            self.started.elapsed(),
            provisioning,
        );
        Observation {
            report,
            scrubber,
            exchanges: o.exchanges().to_vec(),
            lines: proxy_lines(&sh),
        }
    }
}

fn proxy_lines(sh: &Shared) -> Vec<String> {
    sh.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The report of an observation: one case per judged chat; requirements no chat
/// exercised are Skip "not exercised by the observed traffic".
pub(crate) fn build_report(
    obs: &Observer,
    target: &str,
    started_at: String,
    duration: Duration,
    provisioning: ProvisioningKind,
) -> RunReport {
    let cases = obs.case_reports();
    let (mut requirements, mut overall) = report::requirement_table(&cases, false);
    for r in &mut requirements {
        if r.reason == "not exercised" {
            r.reason = "not exercised by the observed traffic".into();
        }
    }
    let mut errors = obs.errors.clone();
    if cases.is_empty() {
        errors.push("no chat was observed from its start (no Invited notification)".into());
    }
    overall = report::table::settled(overall, !errors.is_empty(), false);
    let cfg = obs.check_config();
    let mut agents: Vec<String> = obs.exchanges().iter().map(|e| e.agent.clone()).collect();
    agents.sort();
    agents.dedup();
    agents.retain(|a| a != "anonymous");
    RunReport {
        format: report::REPORT_FORMAT,
        run_id: format!("observe-{}", runner::run_id(0)),
        target: target.to_string(),
        embedded: false,
        seed: 0,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        duration_ms: duration.as_millis() as u64,
        config: RunConfig {
            provisioning,
            agents,
            insecure: false,
            cases: 0,
            deadline_ms: cfg.deadline.as_millis() as u64,
            quiet_window_ms: cfg.quiet_window.as_millis() as u64,
            strict: false,
            shard: None,
            baseline: None,
            fault: None,
        },
        overall,
        exit_code: overall.exit_code(),
        requirements,
        cases,
        errors,
        groups: None,
        coverage: None,
        unlisted: None,
        interrupted: None,
    }
}

/// Judges a HAR recording offline (`target` names where it was recorded, for the
/// report; default: the host of its first entry).
pub fn judge_har(
    path: &Path,
    cfg: CheckConfig,
    max_record_bytes: usize,
    provisioning: ProvisioningKind,
) -> Result<Observation, ObserveError> {
    let schemas = Schemas::embedded().map_err(ObserveError::Schemas)?;
    let read = har::read_har(path, MAX_BODY_BYTES).map_err(ObserveError::Har)?;
    let target = har_target(path).unwrap_or_else(|| format!("har:{}", path.display()));
    let mut obs = Observer::new(cfg, schemas, max_record_bytes).intervals_only();
    let started = read
        .exchanges
        .first()
        .map(|e| {
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_micros(e.started_unix_us),
            )
            .to_string()
        })
        .unwrap_or_else(now_rfc3339);
    let end = read.exchanges.iter().map(|e| e.end_us).max().unwrap_or(0);
    for e in read.exchanges {
        obs.ingest(e);
    }
    let lines: Vec<String> = obs
        .judge_all(end)
        .into_iter()
        .map(|l| read.scrubber.scrub(&l))
        .collect();
    let report = build_report(
        &obs,
        &target,
        started,
        Duration::from_micros(end),
        provisioning,
    );
    Ok(Observation {
        report,
        scrubber: read.scrubber,
        exchanges: obs.exchanges().to_vec(),
        lines,
    })
}

/// `scheme://host[:port]` of the first entry of a HAR file.
fn har_target(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = crate::history::json::parse_value(text.as_bytes()).ok()?;
    let url = v.pointer("/log/entries/0/request/url")?.as_str()?;
    let u = reqwest::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

/// Writes the run folder of an observation (`DIR/<run id>/`: report.json, junit.xml,
/// report.html, a case file and curl script per violating chat) and, when asked, the
/// recording as HAR. Returns the run folder.
pub fn write_observation(
    reports: &Path,
    obs: &Observation,
    har_out: Option<&Path>,
) -> Result<PathBuf, ObserveError> {
    let dir = reports.join(&obs.report.run_id);
    report::write_all(&dir, &obs.report, &obs.scrubber)?;
    if let Some(p) = har_out {
        let doc = har::har_of(&obs.exchanges, &obs.report.target);
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(p, report::scrub_text(&obs.scrubber, &text)).map_err(|error| {
            ObserveError::HarOut {
                path: p.to_path_buf(),
                error,
            }
        })?;
    }
    Ok(dir)
}
