//! A Bayeux 1.0 long-polling client (CometD), written for hostile servers.
//!
//! One session per agent, with that agent's Basic auth and cookie jar and no CSRF token
//! (SPEC §6.1, §6.7). [`BayeuxClient::start`] handshakes and subscribes before returning,
//! then a task loops `/meta/connect`, honouring the server's `advice`, recording every
//! delivered message as [`EventKind::Notification`] and every session event as
//! [`EventKind::Bayeux`] on stream `"bayeux:<user>"`.
//!
//! Bounds: every HTTP exchange has a timeout (the advised long-poll `timeout` plus
//! [`TargetConfig::request_timeout`] for connects) and a body cap
//! ([`TargetConfig::max_body_bytes`]); advised intervals are capped
//! ([`BayeuxTuning::max_interval`]); transport failures back off exponentially up to
//! [`BayeuxTuning::max_backoff`] and after [`BayeuxTuning::max_failures`] in a row the
//! session records `Closed` and ends.
//!
//! Every answer is read message by message with the tolerant reader
//! ([`crate::history::json`]): its top-level array is split into its elements first, so
//! a message that cannot be read, or is not a Bayeux message (not an object, no string
//! `channel`), is recorded alone as [`BayeuxEvent::BadMessage`] (that message's NTF-01
//! Fail, with its bytes) and the other messages of the answer are still delivered; an
//! answer that is no JSON at all is one such message, and the loop retries as after any
//! failed connect. How a delivery's bytes were read (a lone-surrogate escape shown as
//! U+FFFD…) is kept in its event's notes.

use super::http;
use super::{AgentClient, HarnessError, TargetConfig};
use crate::history::{BayeuxEvent, EventKind, Recorder};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod advice;
mod session;
#[cfg(test)]
mod tests;
mod wire;

pub use advice::{Action, Advice, Happened, Reconnect, StandingAdvice, Streak, decide};

/// The Bayeux client (a namespace for [`BayeuxClient::start`]).
#[derive(Debug, Clone, Copy)]
pub struct BayeuxClient;

/// Limits of the connect loop. The defaults suit a real target; tests shrink them.
#[derive(Debug, Clone, PartialEq)]
pub struct BayeuxTuning {
    /// First back-off after a transport failure or garbage answer; doubles each time.
    pub base_backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// Consecutive failures (transport, garbage, unsuccessful connect or handshake) after
    /// which the session gives up and records `Closed`.
    pub max_failures: u32,
    /// Longest advised `interval` obeyed (a hostile server could advise hours).
    pub max_interval: Duration,
    /// Long-poll hold assumed when the server advises no `timeout`: CometD's default
    /// server timeout is 30 s (SPEC is silent; CometD convention, facts sheet §5.1 says
    /// GWS runs CometD 3).
    pub default_server_timeout: Duration,
    /// An empty successful connect answered faster than this is followed by a pause of
    /// the remainder, so a server that answers instantly cannot make the loop spin.
    pub min_poll_period: Duration,
    /// Deliveries in one connect answer at most: a server that batches more is flooding
    /// (a real one sends what happened since the last poll: a handful). Past it the session
    /// records one `Garbage` naming the flood and closes (`Closed` says observation
    /// stopped). Per answer, not per session: a long run or a soak sees any number of
    /// notifications from a good server.
    pub max_notifications: u64,
    /// Bytes of deliveries (each message's compact JSON text) within any
    /// [`BayeuxTuning::flood_window`] at most: past that the session is flooded as above,
    /// so a few huge notifications answered at once cannot exhaust memory either. The
    /// fastest faultless runs deliver well under a tenth of it.
    pub max_notification_bytes: u64,
    /// The window over which [`BayeuxTuning::max_notification_bytes`] is counted.
    pub flood_window: Duration,
    /// Malformed messages (without a channel) recorded per session at most, each as one
    /// `Garbage`; past that the session closes as flooded.
    pub max_garbage: u64,
    /// Malformed messages recorded per answer at most; the rest of that answer's are
    /// counted in one `Garbage`.
    pub max_garbage_per_answer: u64,
}

/// Default [`BayeuxTuning::max_notifications`].
pub(crate) const DEFAULT_MAX_NOTIFICATIONS: u64 = 1_000;
/// Default [`BayeuxTuning::max_notification_bytes`] (4 MiB of JSON text per 5 s and
/// session; the fastest faultless runs deliver under 2 MiB per 5 s to one agent; parsed
/// JSON takes a few times that in memory).
pub(crate) const DEFAULT_MAX_NOTIFICATION_BYTES: u64 = 4 * 1024 * 1024;

impl Default for BayeuxTuning {
    fn default() -> Self {
        BayeuxTuning {
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_failures: 6,
            max_interval: Duration::from_secs(30),
            default_server_timeout: Duration::from_secs(30),
            min_poll_period: Duration::from_millis(20),
            max_notifications: DEFAULT_MAX_NOTIFICATIONS,
            max_notification_bytes: DEFAULT_MAX_NOTIFICATION_BYTES,
            flood_window: Duration::from_secs(5),
            max_garbage: 200,
            max_garbage_per_answer: 20,
        }
    }
}

/// A running Bayeux session. Dropping it aborts the loop without a disconnect; call
/// [`BayeuxHandle::stop`] to end it cleanly.
#[derive(Debug)]
pub struct BayeuxHandle {
    alive: Arc<AtomicBool>,
    stop_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    stop_wait: Duration,
    rec: Recorder,
    stream: String,
    agent: String,
}

impl BayeuxHandle {
    /// Whether the connect loop is still running (false after `Closed`).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Ends the loop: sends `/meta/disconnect` (bounded wait) and records `Closed`.
    pub async fn stop(mut self) {
        let _ = self.stop_tx.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(self.stop_wait, &mut task)
                .await
                .is_err()
        {
            {
                task.abort();
                self.alive.store(false, Ordering::SeqCst);
                self.rec.record(
                    &self.stream,
                    EventKind::Bayeux {
                        agent: self.agent.clone(),
                        event: BayeuxEvent::Closed {
                            reason: "stopped by the harness (loop aborted: disconnect did not finish in time)".into(),
                        },
                    },
                );
            }
        }
    }
}

impl Drop for BayeuxHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            let _ = self.stop_tx.send(true);
            task.abort();
            self.alive.store(false, Ordering::SeqCst);
        }
    }
}

/// The state of one agent's session, shared by the handshake, the subscribe and the connect
/// loop ([`session`]).
struct Session {
    cfg: TargetConfig,
    tuning: BayeuxTuning,
    http: http::Client,
    url: reqwest::Url,
    user: String,
    basic: String,
    jar: Arc<reqwest::cookie::Jar>,
    rec: Recorder,
    stream: String,
    channels: Vec<String>,
    client_id: Option<String>,
    next_id: u64,
    delivered: u64,
    /// Bytes (compact JSON) of the deliveries recorded in the current flood window.
    delivered_bytes: u64,
    /// When the current flood window started.
    window_started: Instant,
    /// Malformed messages recorded so far.
    garbage: u64,
    /// Set once the session saw a flood: why observation stops.
    flood: Option<String>,
    alive: Arc<AtomicBool>,
    advice: StandingAdvice,
    /// The last advice object seen (handshake or connect), to record only changes.
    last_advice: Option<Value>,
}

const EXCERPT: usize = 200;

/// Longest advised long-poll `timeout` believed: a hostile server advising hours must not
/// park the connect loop that long (a real CometD server holds 30 s by default).
const MAX_SERVER_HOLD: Duration = Duration::from_secs(120);

impl BayeuxClient {
    /// Handshake, then subscribe to `channels`, on `{base}/api/v2/notifications` with the
    /// agent's Basic auth and ITS session cookie (SPEC §6.1: no CSRF there), BEFORE
    /// returning (so nothing published afterwards is missed); then spawns the long-poll
    /// connect loop. Records on `rec` (the run-level recorder), stream `"bayeux:<user>"`.
    pub async fn start(
        cfg: &TargetConfig,
        agent: &AgentClient,
        channels: &[&str],
        rec: Recorder,
    ) -> Result<BayeuxHandle, HarnessError> {
        Self::start_with(cfg, agent, channels, rec, BayeuxTuning::default()).await
    }

    /// [`BayeuxClient::start`] with explicit loop limits.
    pub async fn start_with(
        cfg: &TargetConfig,
        agent: &AgentClient,
        channels: &[&str],
        rec: Recorder,
        tuning: BayeuxTuning,
    ) -> Result<BayeuxHandle, HarnessError> {
        cfg.base()?;
        let url = http::join(agent.base(), "/api/v2/notifications")?;
        if channels.is_empty() {
            return Err(HarnessError::new(
                "Bayeux: no channel to subscribe to was given",
            ));
        }
        let stream = format!("bayeux:{}", agent.user());
        let mut s = Session {
            cfg: cfg.clone(),
            tuning,
            http: agent.http().clone(),
            url,
            user: agent.user().to_string(),
            basic: agent.basic().to_string(),
            jar: agent.jar_handle(),
            rec: rec.clone(),
            stream: stream.clone(),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            client_id: None,
            next_id: 0,
            delivered: 0,
            delivered_bytes: 0,
            window_started: Instant::now(),
            garbage: 0,
            flood: None,
            alive: Arc::new(AtomicBool::new(true)),
            last_advice: None,
            advice: StandingAdvice::default(),
        };
        let who = agent.user().to_string();
        s.handshake().await.map_err(|e| {
            HarnessError::new(format!(
                "Bayeux handshake of agent {who} on {} failed: {e}",
                s.url
            ))
        })?;
        s.subscribe().await.map_err(|e| {
            HarnessError::new(format!(
                "Bayeux subscribe of agent {who} on {} failed: {e}",
                s.url
            ))
        })?;
        let alive = s.alive.clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_wait = cfg.request_timeout.min(Duration::from_secs(5)) + Duration::from_secs(1);
        let a2 = alive.clone();
        let task = tokio::spawn(async move {
            s.run(stop_rx).await;
            a2.store(false, Ordering::SeqCst);
        });
        Ok(BayeuxHandle {
            alive,
            stop_tx,
            task: Some(task),
            stop_wait,
            rec,
            stream,
            agent: who,
        })
    }
}
