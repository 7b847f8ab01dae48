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

use super::http::{self, Req};
use super::{AgentClient, HarnessError, TargetConfig};
use crate::history::{BayeuxEvent, Body, EventKind, Recorder};
use reqwest::cookie::CookieStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

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
    /// Deliveries recorded per session at most; a server flooding beyond that is
    /// recorded as `Garbage` and the session is closed (the history must stay bounded).
    pub max_notifications: u64,
}

impl Default for BayeuxTuning {
    fn default() -> Self {
        BayeuxTuning {
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_failures: 6,
            max_interval: Duration::from_secs(30),
            default_server_timeout: Duration::from_secs(30),
            min_poll_period: Duration::from_millis(20),
            max_notifications: 100_000,
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

/// The server's current advice, as the client follows it.
#[derive(Debug, Clone)]
struct Advice {
    reconnect: String,
    interval_ms: u64,
    timeout_ms: Option<u64>,
}

// Servers (CometD, the reference server) repeat the same advice on every connect reply;
// only advice that differs from the last one seen is recorded, so a history holds the
// changes the harness followed, not one event per long poll.

/// A failed Bayeux exchange.
enum PostError {
    /// No answer (timeout, refused, reset, too large).
    Transport(String),
    /// HTTP answered but not with a 2xx.
    Http(u16, String),
    /// Not a Bayeux message array.
    Garbage(String, String),
}

impl PostError {
    fn describe(&self) -> String {
        match self {
            PostError::Transport(m) => m.clone(),
            PostError::Http(s, e) => format!("HTTP {s}: {e}"),
            PostError::Garbage(e, x) => format!("{e}: {x}"),
        }
    }
}

struct Session {
    cfg: TargetConfig,
    tuning: BayeuxTuning,
    http: reqwest::Client,
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
    alive: Arc<AtomicBool>,
    advice: Advice,
    /// The last advice object seen (handshake or connect), to record only changes.
    last_advice: Option<Value>,
}

enum Next {
    /// Connect again after `interval_ms` (already capped).
    Connect,
    Handshake,
    Stop(String),
    Backoff,
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
            alive: Arc::new(AtomicBool::new(true)),
            last_advice: None,
            advice: Advice {
                reconnect: "retry".into(),
                interval_ms: 0,
                timeout_ms: None,
            },
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

/// Waits until the stop flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

impl Session {
    fn record(&self, event: BayeuxEvent) {
        self.rec.record(
            &self.stream,
            EventKind::Bayeux {
                agent: self.user.clone(),
                event,
            },
        );
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// POSTs a batch of Bayeux messages and returns the answered message array.
    async fn post(&self, msgs: Value, timeout: Duration) -> Result<Vec<Value>, PostError> {
        let mut headers = vec![
            ("Authorization".to_string(), self.basic.clone()),
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        if let Some(c) = self
            .jar
            .cookies(&self.url)
            .and_then(|v| v.to_str().ok().map(str::to_string))
        {
            headers.push(("Cookie".to_string(), c));
        }
        let body = Body::Json(msgs);
        let req = Req {
            method: reqwest::Method::POST,
            url: self.url.clone(),
            headers,
            body: &body,
            timeout,
            max_body: self.cfg.max_body_bytes,
        };
        let answer = http::send(&self.http, req)
            .await
            .map_err(|na| PostError::Transport(na.message))?;
        let mut set = answer.headers.get_all(reqwest::header::SET_COOKIE).iter();
        self.jar.set_cookies(&mut set, &self.url);
        if !(200..300).contains(&answer.status) {
            return Err(PostError::Http(
                answer.status,
                http::excerpt(&answer.bytes, EXCERPT),
            ));
        }
        let v: Value = serde_json::from_slice(&answer.bytes).map_err(|e| {
            PostError::Garbage(
                format!("answer is not JSON: {e}"),
                http::excerpt(&answer.bytes, EXCERPT),
            )
        })?;
        match v {
            Value::Array(items) if items.iter().all(Value::is_object) => Ok(items),
            Value::Array(_) => Err(PostError::Garbage(
                "answer array holds something other than message objects".into(),
                http::excerpt(&answer.bytes, EXCERPT),
            )),
            _ => Err(PostError::Garbage(
                "answer is JSON but not an array of Bayeux messages".into(),
                http::excerpt(&answer.bytes, EXCERPT),
            )),
        }
    }

    fn record_failure(&self, e: &PostError, during: &str) {
        match e {
            PostError::Garbage(error, excerpt) => self.record(BayeuxEvent::Garbage {
                error: format!("{during}: {error}"),
                excerpt: excerpt.clone(),
            }),
            other => {
                if during == "/meta/connect" {
                    self.record(BayeuxEvent::Connect {
                        successful: false,
                        advice: None,
                        error: Some(other.describe()),
                    })
                }
            }
        }
    }

    /// Records every non-meta message of an answer as a delivery, in order.
    fn deliver(&mut self, msgs: &[Value]) -> usize {
        let mut n = 0;
        for m in msgs {
            if self.delivered >= self.tuning.max_notifications {
                self.record(BayeuxEvent::Garbage {
                    error: format!(
                        "flood: more than {} deliveries on this session; the rest of this answer is dropped",
                        self.tuning.max_notifications
                    ),
                    excerpt: String::new(),
                });
                break;
            }
            let channel = m.get("channel").and_then(Value::as_str).unwrap_or("");
            if channel.starts_with("/meta/") {
                continue;
            }
            if channel.is_empty() {
                self.record(BayeuxEvent::Garbage {
                    error: "message without a channel".into(),
                    excerpt: http::excerpt(m.to_string().as_bytes(), EXCERPT),
                });
                continue;
            }
            self.rec.record(
                &self.stream,
                EventKind::Notification {
                    agent: self.user.clone(),
                    channel: channel.to_string(),
                    data: m.get("data").cloned().unwrap_or(Value::Null),
                },
            );
            n += 1;
            self.delivered += 1;
        }
        n
    }

    fn flooded(&self) -> bool {
        self.delivered >= self.tuning.max_notifications
    }

    fn update_advice(&mut self, advice: &Value) {
        self.last_advice = Some(advice.clone());
        if let Some(r) = advice.get("reconnect").and_then(Value::as_str) {
            self.advice.reconnect = r.to_string();
        }
        if let Some(i) = advice.get("interval").and_then(Value::as_u64) {
            self.advice.interval_ms = i;
        }
        if let Some(t) = advice.get("timeout").and_then(Value::as_u64) {
            self.advice.timeout_ms = Some(t);
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.advice.interval_ms).min(self.tuning.max_interval)
    }

    fn reply<'a>(msgs: &'a [Value], channel: &str) -> Option<&'a Value> {
        msgs.iter()
            .find(|m| m.get("channel").and_then(Value::as_str) == Some(channel))
    }

    fn error_of(m: &Value) -> Option<String> {
        m.get("error").map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// `/meta/handshake`. Records `Handshake{successful, error}`.
    async fn handshake(&mut self) -> Result<(), String> {
        self.client_id = None;
        let id = self.id();
        let msg = json!([{
            "channel": "/meta/handshake",
            "version": "1.0",
            "minimumVersion": "1.0",
            "supportedConnectionTypes": ["long-polling"],
            "id": id,
        }]);
        let msgs = match self.post(msg, self.cfg.request_timeout).await {
            Ok(m) => m,
            Err(e) => {
                self.record_failure(&e, "/meta/handshake");
                let error = e.describe();
                self.record(BayeuxEvent::Handshake {
                    successful: false,
                    error: Some(error.clone()),
                });
                return Err(error);
            }
        };
        self.deliver(&msgs);
        let Some(reply) = Self::reply(&msgs, "/meta/handshake") else {
            let error = "no /meta/handshake reply in the answer".to_string();
            self.record(BayeuxEvent::Handshake {
                successful: false,
                error: Some(error.clone()),
            });
            return Err(error);
        };
        if let Some(a) = reply.get("advice") {
            let a = a.clone();
            self.update_advice(&a);
        }
        let successful = reply.get("successful") == Some(&Value::Bool(true));
        let client_id = reply.get("clientId").and_then(Value::as_str);
        match (successful, client_id) {
            (true, Some(cid)) if !cid.is_empty() => {
                self.client_id = Some(cid.to_string());
                self.record(BayeuxEvent::Handshake {
                    successful: true,
                    error: None,
                });
                Ok(())
            }
            (true, _) => {
                let error = "successful handshake without a clientId".to_string();
                self.record(BayeuxEvent::Handshake {
                    successful: false,
                    error: Some(error.clone()),
                });
                Err(error)
            }
            (false, _) => {
                let error = Self::error_of(reply).unwrap_or_else(|| "unsuccessful".into());
                self.record(BayeuxEvent::Handshake {
                    successful: false,
                    error: Some(error.clone()),
                });
                Err(error)
            }
        }
    }

    /// `/meta/subscribe` to every channel in one batch. Records `Subscribe` per channel.
    async fn subscribe(&mut self) -> Result<(), String> {
        let cid = self.client_id.clone().unwrap_or_default();
        let mut batch = Vec::new();
        for ch in self.channels.clone() {
            let id = self.id();
            batch.push(json!({
                "channel": "/meta/subscribe",
                "clientId": cid,
                "subscription": ch,
                "id": id,
            }));
        }
        let msgs = match self
            .post(Value::Array(batch), self.cfg.request_timeout)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                self.record_failure(&e, "/meta/subscribe");
                let error = e.describe();
                for ch in &self.channels {
                    self.record(BayeuxEvent::Subscribe {
                        channel: ch.clone(),
                        successful: false,
                        error: Some(error.clone()),
                    });
                }
                return Err(error);
            }
        };
        self.deliver(&msgs);
        let mut failed = Vec::new();
        for ch in &self.channels {
            let reply = msgs.iter().find(|m| {
                m.get("channel").and_then(Value::as_str) == Some("/meta/subscribe")
                    && subscription_matches(m.get("subscription"), ch)
            });
            let (ok, error) = match reply {
                None => (
                    false,
                    Some("no /meta/subscribe reply for this channel".to_string()),
                ),
                Some(r) if r.get("successful") == Some(&Value::Bool(true)) => (true, None),
                Some(r) => (
                    false,
                    Some(Self::error_of(r).unwrap_or_else(|| "unsuccessful".into())),
                ),
            };
            if let Some(e) = &error {
                failed.push(format!("{ch}: {e}"));
            }
            self.record(BayeuxEvent::Subscribe {
                channel: ch.clone(),
                successful: ok,
                error,
            });
        }
        if let Some(a) = Self::reply(&msgs, "/meta/subscribe").and_then(|r| r.get("advice")) {
            let a = a.clone();
            self.update_advice(&a);
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }

    /// One `/meta/connect`, and what to do next.
    async fn connect_once(&mut self) -> Next {
        let id = self.id();
        let msg = json!([{
            "channel": "/meta/connect",
            "clientId": self.client_id.clone().unwrap_or_default(),
            "connectionType": "long-polling",
            "id": id,
        }]);
        let hold = self
            .advice
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.tuning.default_server_timeout)
            .min(MAX_SERVER_HOLD);
        let started = Instant::now();
        let msgs = match self.post(msg, hold + self.cfg.request_timeout).await {
            Ok(m) => m,
            Err(e) => {
                self.record_failure(&e, "/meta/connect");
                return Next::Backoff;
            }
        };
        let delivered = self.deliver(&msgs);
        let Some(reply) = Self::reply(&msgs, "/meta/connect") else {
            if delivered > 0 {
                // Deliveries without the connect reply: unusual, but nothing lost. Go on.
                return Next::Connect;
            }
            self.record(BayeuxEvent::Garbage {
                error: "/meta/connect: no /meta/connect reply in the answer".into(),
                excerpt: http::excerpt(Value::Array(msgs).to_string().as_bytes(), EXCERPT),
            });
            return Next::Backoff;
        };
        let successful = reply.get("successful") == Some(&Value::Bool(true));
        let advice = reply.get("advice").cloned();
        let error = Self::error_of(reply);
        let changed = advice.is_some() && advice != self.last_advice;
        if let Some(a) = &advice {
            self.update_advice(a);
        }
        if !successful || changed {
            self.record(BayeuxEvent::Connect {
                successful,
                advice: advice.clone(),
                error: error.clone(),
            });
        }
        let unknown_client = error.as_deref().is_some_and(|e| e.starts_with("402"));
        match advice
            .as_ref()
            .and_then(|a| a.get("reconnect"))
            .and_then(Value::as_str)
        {
            Some("none") => return Next::Stop("server advised reconnect: none".into()),
            Some("handshake") => return Next::Handshake,
            Some("retry") if successful => {
                let next = if changed {
                    self.followed_retry()
                } else {
                    Next::Connect
                };
                self.pace(started, delivered).await;
                return next;
            }
            _ => {}
        }
        if unknown_client {
            return Next::Handshake;
        }
        if !successful {
            // No advice in this answer: the last advice stands (Bayeux 1.0 §5.1 — advice
            // persists until the server changes it).
            return match self.advice.reconnect.as_str() {
                "handshake" => Next::Handshake,
                "none" => Next::Stop("server advised reconnect: none (standing advice)".into()),
                _ => Next::Backoff,
            };
        }
        if advice.is_some() {
            // Advice without `reconnect` (e.g. only `interval` or `multiple-clients`):
            // the standing reconnect policy applies, with the advised interval.
            let next = if changed {
                self.followed_retry()
            } else {
                Next::Connect
            };
            self.pace(started, delivered).await;
            return next;
        }
        self.pace(started, delivered).await;
        Next::Connect
    }

    /// Records `FollowedAdvice{retry}`; the caller's loop waits the advised interval.
    fn followed_retry(&mut self) -> Next {
        self.record(BayeuxEvent::FollowedAdvice {
            reconnect: "retry".into(),
            interval_ms: self.interval().as_millis() as u64,
        });
        Next::Connect
    }

    /// Keeps an instantly answering server from making the loop spin.
    async fn pace(&self, started: Instant, delivered: usize) {
        let took = started.elapsed();
        if delivered == 0 && took < self.tuning.min_poll_period {
            tokio::time::sleep(self.tuning.min_poll_period - took).await;
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(16);
        self.tuning
            .base_backoff
            .saturating_mul(1u32 << exp)
            .min(self.tuning.max_backoff)
    }

    /// `/meta/disconnect`, bounded.
    async fn disconnect(&mut self) {
        let Some(cid) = self.client_id.clone() else {
            return;
        };
        let id = self.id();
        let msg = json!([{"channel": "/meta/disconnect", "clientId": cid, "id": id}]);
        let wait = self.cfg.request_timeout.min(Duration::from_secs(5));
        if let Ok(msgs) = self.post(msg, wait).await {
            self.deliver(&msgs);
        }
    }

    /// The connect loop, until stopped, advised `none`, or too many failures.
    async fn run(mut self, mut stop_rx: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        let mut rehandshakes: u32 = 0;
        let mut need_handshake = false;
        loop {
            if *stop_rx.borrow() {
                break;
            }
            if self.flooded() {
                self.close(format!(
                    "flood: more than {} deliveries",
                    self.tuning.max_notifications
                ));
                return;
            }
            let next = if need_handshake {
                let r = tokio::select! {
                    r = async { match self.handshake().await { Ok(()) => self.subscribe().await, Err(e) => Err(e) } } => r,
                    _ = stopped(&mut stop_rx) => break,
                };
                match r {
                    Ok(()) => {
                        need_handshake = false;
                        failures = 0;
                        continue;
                    }
                    Err(_) => Next::Handshake,
                }
            } else {
                tokio::select! {
                    n = self.connect_once() => n,
                    _ = stopped(&mut stop_rx) => break,
                }
            };
            let wait = match next {
                Next::Connect => {
                    failures = 0;
                    rehandshakes = 0;
                    self.interval()
                }
                Next::Handshake => {
                    if need_handshake {
                        // The re-handshake itself failed: count it and back off.
                        match self.one_more_failure(&mut failures, "failures to re-handshake") {
                            Some(wait) => wait,
                            None => return,
                        }
                    } else {
                        rehandshakes += 1;
                        if rehandshakes > self.tuning.max_failures {
                            self.close(format!(
                                "gave up: the server asked for {rehandshakes} re-handshakes in a row without a working connect"
                            ));
                            return;
                        }
                        need_handshake = true;
                        self.record(BayeuxEvent::FollowedAdvice {
                            reconnect: "handshake".into(),
                            interval_ms: self.interval().as_millis() as u64,
                        });
                        self.interval()
                    }
                }
                Next::Stop(reason) => {
                    self.record(BayeuxEvent::FollowedAdvice {
                        reconnect: "none".into(),
                        interval_ms: 0,
                    });
                    self.close(reason);
                    return;
                }
                Next::Backoff => match self.one_more_failure(&mut failures, "failed connects") {
                    Some(wait) => wait,
                    None => return,
                },
            };
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped(&mut stop_rx) => break,
                }
            }
        }
        // Stopped by the harness.
        self.disconnect().await;
        self.close("stopped by the harness".into());
    }

    /// Marks the session dead, then records `Closed` (so a waiter on `Closed` sees
    /// `is_alive() == false`).
    /// Counts one more failure in a row: the back-off to wait before the next try, or
    /// `None` once [`BayeuxTuning::max_failures`] is reached (the session is then closed,
    /// its reason naming `what` failed).
    fn one_more_failure(&self, failures: &mut u32, what: &str) -> Option<Duration> {
        *failures = failures.saturating_add(1);
        if *failures >= self.tuning.max_failures {
            self.close(format!("gave up after {failures} consecutive {what}"));
            return None;
        }
        Some(self.backoff(*failures).max(self.interval()))
    }

    fn close(&self, reason: String) {
        self.alive.store(false, Ordering::SeqCst);
        self.record(BayeuxEvent::Closed { reason });
    }
}

/// A subscribe reply names its subscription as a string or (some servers) an array.
fn subscription_matches(v: Option<&Value>, ch: &str) -> bool {
    match v {
        Some(Value::String(s)) => s == ch,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(ch)),
        _ => false,
    }
}
