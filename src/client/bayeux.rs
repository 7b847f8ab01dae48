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

use super::http::{self, Req};
use super::{AgentClient, HarnessError, TargetConfig};
use crate::history::{BayeuxEvent, Body, EventKind, Recorder, json as tolerant, notes};
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
pub const DEFAULT_MAX_NOTIFICATIONS: u64 = 1_000;
/// Default [`BayeuxTuning::max_notification_bytes`] (4 MiB of JSON text per 5 s and
/// session; the fastest faultless runs deliver under 2 MiB per 5 s to one agent; parsed
/// JSON takes a few times that in memory).
pub const DEFAULT_MAX_NOTIFICATION_BYTES: u64 = 4 * 1024 * 1024;

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

/// What a Bayeux `advice.reconnect` asks of the client (Bayeux 1.0 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// Connect again (after the advised interval). Also what an unknown value means.
    Retry,
    /// Handshake again, then subscribe and connect.
    Handshake,
    /// Stop: the server will not accept this client again.
    None,
}

impl Reconnect {
    /// The wire name (`"retry"`, `"handshake"`, `"none"`).
    pub fn name(self) -> &'static str {
        match self {
            Reconnect::Retry => "retry",
            Reconnect::Handshake => "handshake",
            Reconnect::None => "none",
        }
    }
}

/// One `advice` object as a server sent it; a field is `None` when absent (or not of
/// the expected JSON type, which Bayeux servers never send).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Advice {
    /// `reconnect` (an unknown string is read as [`Reconnect::Retry`], the default).
    pub reconnect: Option<Reconnect>,
    /// `interval`: wait this long before the next connect.
    pub interval: Option<Duration>,
    /// `timeout`: how long the server holds a long poll.
    pub timeout: Option<Duration>,
    /// `multiple-clients`: the server saw several clients in one browser session.
    pub multiple_clients: Option<bool>,
}

impl Advice {
    /// Reads an `advice` JSON value (anything that is not an object has no field).
    pub fn parse(v: &Value) -> Advice {
        let ms = |k: &str| v.get(k).and_then(Value::as_u64).map(Duration::from_millis);
        Advice {
            reconnect: v.get("reconnect").and_then(Value::as_str).map(|r| match r {
                "handshake" => Reconnect::Handshake,
                "none" => Reconnect::None,
                _ => Reconnect::Retry,
            }),
            interval: ms("interval"),
            timeout: ms("timeout"),
            multiple_clients: v.get("multiple-clients").and_then(Value::as_bool),
        }
    }
}

/// The advice in force: every field as last advised (advice persists until the server
/// changes it, Bayeux 1.0 §5.1), starting from `retry`, interval 0, no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandingAdvice {
    /// The reconnect policy in force.
    pub reconnect: Reconnect,
    /// The advised interval (not yet capped).
    pub interval: Duration,
    /// The advised long-poll hold, if any was advised.
    pub timeout: Option<Duration>,
    /// Whether the server last said `multiple-clients: true`.
    pub multiple_clients: bool,
}

impl Default for StandingAdvice {
    fn default() -> Self {
        StandingAdvice {
            reconnect: Reconnect::Retry,
            interval: Duration::ZERO,
            timeout: None,
            multiple_clients: false,
        }
    }
}

impl StandingAdvice {
    /// Applies the fields `a` gives.
    pub fn apply(&mut self, a: &Advice) {
        if let Some(r) = a.reconnect {
            self.reconnect = r;
        }
        if let Some(i) = a.interval {
            self.interval = i;
        }
        if let Some(t) = a.timeout {
            self.timeout = Some(t);
        }
        if let Some(m) = a.multiple_clients {
            self.multiple_clients = m;
        }
    }
}

/// What the last step of the connect loop observed (the input of [`decide`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// `/meta/connect` answered with its reply. The standing advice already includes
    /// `advice` (this reply's own advice, if any).
    ConnectReply {
        /// The reply's `successful`.
        successful: bool,
        /// The reply's own advice.
        advice: Option<Advice>,
        /// The advice differs from the last one seen (it is then recorded as followed).
        changed: bool,
        /// The reply's error is `402…` (unknown client: handshake again).
        unknown_client: bool,
    },
    /// The answer delivered messages but held no `/meta/connect` reply.
    DeliveriesOnly,
    /// No usable answer to a connect (transport failure, HTTP error, garbage, no reply).
    ConnectFailed,
    /// A re-handshake (and its subscribe) succeeded.
    Rehandshaked,
    /// A re-handshake or its subscribe failed.
    RehandshakeFailed,
}

/// Consecutive counts the loop keeps between decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    /// Failures in a row (failed connects or failed re-handshakes).
    pub failures: u32,
    /// Re-handshakes asked in a row without a working connect in between.
    pub rehandshakes: u32,
}

/// What the loop does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `/meta/connect` after the delay.
    Connect,
    /// Handshake and subscribe again after the delay.
    Handshake,
    /// End the session, recording `Closed` with this reason.
    Close(String),
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The next action.
    pub action: Action,
    /// How long to wait before it (zero for `Close`).
    pub delay: Duration,
    /// The counts after this step.
    pub streak: Streak,
    /// Advice followed, to record as `FollowedAdvice` (with the capped interval, or 0
    /// for `none`) before acting.
    pub followed: Option<Reconnect>,
    /// An empty fast answer must be paced ([`BayeuxTuning::min_poll_period`]).
    pub pace: bool,
}

/// The reconnect decision, a pure function of the standing advice, the counts in a row,
/// what just happened and the loop limits.
///
/// - the reply's own `reconnect: none` or `handshake` is obeyed at once; `retry` (or
///   no reconnect) on a successful reply connects again after the capped interval;
/// - an unknown client (`402…`) handshakes again;
/// - an unsuccessful reply without its own reconnect follows the standing advice
///   (`handshake`, `none`, or back off as a failure);
/// - failures back off exponentially (never less than the interval) and after
///   [`BayeuxTuning::max_failures`] in a row the session closes; so does a server that
///   asks for more than `max_failures` re-handshakes in a row.
pub fn decide(
    standing: &StandingAdvice,
    streak: Streak,
    happened: &Happened,
    tuning: &BayeuxTuning,
) -> Decision {
    enum Next {
        Connect { follow: bool, pace: bool },
        Handshake,
        Stop(&'static str),
        Backoff(&'static str),
    }
    let interval = standing.interval.min(tuning.max_interval);
    let next = match happened {
        Happened::ConnectReply {
            successful,
            advice,
            changed,
            unknown_client,
        } => match advice.and_then(|a| a.reconnect) {
            Some(Reconnect::None) => Next::Stop("server advised reconnect: none"),
            Some(Reconnect::Handshake) => Next::Handshake,
            Some(Reconnect::Retry) if *successful => Next::Connect {
                follow: *changed,
                pace: true,
            },
            _ if *unknown_client => Next::Handshake,
            // No reconnect in this reply: the standing advice applies.
            _ if !*successful => match standing.reconnect {
                Reconnect::Handshake => Next::Handshake,
                Reconnect::None => Next::Stop("server advised reconnect: none (standing advice)"),
                Reconnect::Retry => Next::Backoff("failed connects"),
            },
            // Successful, with advice without `reconnect` (only `interval` or
            // `multiple-clients`) or none: connect again after the interval.
            _ => Next::Connect {
                follow: *changed && advice.is_some(),
                pace: true,
            },
        },
        Happened::DeliveriesOnly => Next::Connect {
            follow: false,
            pace: false,
        },
        Happened::ConnectFailed => Next::Backoff("failed connects"),
        Happened::Rehandshaked => {
            return Decision {
                action: Action::Connect,
                delay: Duration::ZERO,
                streak: Streak {
                    failures: 0,
                    ..streak
                },
                followed: None,
                pace: false,
            };
        }
        Happened::RehandshakeFailed => Next::Backoff("failures to re-handshake"),
    };
    let mut d = Decision {
        action: Action::Connect,
        delay: interval,
        streak,
        followed: None,
        pace: false,
    };
    match next {
        Next::Connect { follow, pace } => {
            d.streak = Streak::default();
            d.followed = follow.then_some(Reconnect::Retry);
            d.pace = pace;
        }
        Next::Handshake => {
            d.streak.rehandshakes = streak.rehandshakes.saturating_add(1);
            if d.streak.rehandshakes > tuning.max_failures {
                d.action = Action::Close(format!(
                    "gave up: the server asked for {} re-handshakes in a row without a working connect",
                    d.streak.rehandshakes
                ));
                d.delay = Duration::ZERO;
            } else {
                d.action = Action::Handshake;
                d.followed = Some(Reconnect::Handshake);
            }
        }
        Next::Stop(reason) => {
            d.action = Action::Close(reason.to_string());
            d.delay = Duration::ZERO;
            d.followed = Some(Reconnect::None);
        }
        Next::Backoff(what) => {
            d.streak.failures = streak.failures.saturating_add(1);
            if d.streak.failures >= tuning.max_failures {
                d.action = Action::Close(format!(
                    "gave up after {} consecutive {what}",
                    d.streak.failures
                ));
                d.delay = Duration::ZERO;
            } else {
                if matches!(happened, Happened::RehandshakeFailed) {
                    d.action = Action::Handshake;
                }
                d.delay = backoff(tuning, d.streak.failures).max(interval);
            }
        }
    }
    d
}

/// The exponential back-off after `failures` failures in a row.
fn backoff(tuning: &BayeuxTuning, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    tuning
        .base_backoff
        .saturating_mul(1u32 << exp)
        .min(tuning.max_backoff)
}

// Servers (CometD, the reference server) repeat the same advice on every connect reply;
// only advice that differs from the last one seen is recorded, so a history holds the
// changes the harness followed, not one event per long poll.

/// A failed Bayeux exchange. What a 2xx answer holds is read message by message
/// ([`read_answer`]): an unreadable message is a [`Msg::Bad`], not a failed exchange.
enum PostError {
    /// No answer (timeout, refused, reset, too large).
    Transport(String),
    /// HTTP answered but not with a 2xx.
    Http(u16, String),
}

impl PostError {
    fn describe(&self) -> String {
        match self {
            PostError::Transport(m) => m.clone(),
            PostError::Http(s, e) => format!("HTTP {s}: {e}"),
        }
    }
}

/// One message of an answer.
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    /// A JSON object, and how its bytes were read where that differs from what was sent
    /// (a lone-surrogate escape shown as U+FFFD…).
    Read { value: Value, notes: Vec<String> },
    /// It cannot be read, or is not a message object: why, and its bytes (bounded).
    Bad { error: String, excerpt: String },
}

impl Msg {
    fn value(&self) -> Option<&Value> {
        match self {
            Msg::Read { value, .. } => Some(value),
            Msg::Bad { .. } => None,
        }
    }

    fn bad(error: String, bytes: &[u8]) -> Msg {
        Msg::Bad {
            error,
            excerpt: http::excerpt(bytes, EXCERPT),
        }
    }
}

/// The messages of a 2xx answer to `during`, each read on its own with the tolerant
/// reader, so one that cannot be read costs no other: the top-level array is split into
/// its elements first ([`tolerant::split_array`]). A single message object (not in an
/// array) is read as a one-message answer; an answer that is no JSON array or object at
/// all is one [`Msg::Bad`].
fn read_answer(bytes: &[u8], during: &str) -> Vec<Msg> {
    let one = |b: &[u8], at: usize| -> Msg {
        if b.is_empty() {
            return Msg::bad(
                format!("{during} answer: an empty element at byte {at} (a comma too many)"),
                b,
            );
        }
        match tolerant::parse_at(b, at) {
            Ok(p) if p.value.is_object() => Msg::Read {
                value: p.value,
                notes: p.notes,
            },
            Ok(_) => Msg::bad(
                format!("{during} answer: the element at byte {at} is not a message object"),
                b,
            ),
            Err(e) => Msg::bad(
                format!("{during} answer: the element at byte {at} is {e}"),
                b,
            ),
        }
    };
    let Some(arr) = tolerant::split_array(bytes) else {
        return match tolerant::parse(bytes) {
            Ok(p) if p.value.is_object() => {
                let mut notes = p.notes;
                notes.push(format!(
                    "the {during} answer is one message object, not an array of messages; read as one message"
                ));
                vec![Msg::Read {
                    value: p.value,
                    notes,
                }]
            }
            Ok(_) => vec![Msg::bad(
                format!("{during} answer is JSON but not an array of Bayeux messages"),
                bytes,
            )],
            Err(e) => vec![Msg::bad(format!("{during} answer is {e}"), bytes)],
        };
    };
    let mut out: Vec<Msg> = arr.parts.iter().map(|(at, b)| one(b, *at)).collect();
    if arr.unclosed && matches!(out.last(), None | Some(Msg::Read { .. })) {
        let tail = &bytes[bytes.len().saturating_sub(EXCERPT)..];
        out.push(Msg::bad(
            format!(
                "{during} answer ends at byte {} before its closing ']' (cut short)",
                bytes.len()
            ),
            tail,
        ));
    }
    if let Some((at, rest)) = arr.trailing {
        out.push(Msg::bad(
            format!("{during} answer: text after the closing ']' at byte {at}"),
            rest,
        ));
    }
    out
}

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

    /// POSTs a batch of Bayeux messages and returns the answer's messages, each read on
    /// its own ([`read_answer`]).
    async fn post(
        &self,
        msgs: Value,
        timeout: Duration,
        during: &str,
    ) -> Result<Vec<Msg>, PostError> {
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
            secrets: &self.cfg.secrets,
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
        Ok(read_answer(&answer.bytes, during))
    }

    fn record_failure(&self, e: &PostError, during: &str) {
        if during == "/meta/connect" {
            self.record(BayeuxEvent::Connect {
                successful: false,
                advice: None,
                error: Some(e.describe()),
            })
        }
    }

    /// Records every non-meta message of an answer as a delivery, in order, within the
    /// session's bounds (count and bytes of deliveries, count of malformed messages),
    /// and every message that cannot be read or has no channel as a `BadMessage` (that
    /// message's NTF-01 Fail; the others are still read). Crossing a bound records one
    /// `Garbage` naming the flood, with the first offending message as excerpt and the
    /// count of what was dropped, and marks the session flooded (the loop then closes
    /// it: observation stopped).
    fn deliver(&mut self, msgs: &mut [Msg]) -> usize {
        let mut n = 0;
        let mut garbage_here: u64 = 0;
        let total = msgs.len();
        for (i, msg) in msgs.iter_mut().enumerate() {
            if self.flood.is_some() {
                break;
            }
            let bad = match &*msg {
                Msg::Bad { error, excerpt } => Some((error.clone(), excerpt.clone())),
                Msg::Read { value, .. } => match value.get("channel") {
                    Some(Value::String(c)) if !c.is_empty() => None,
                    Some(Value::String(_)) => Some(("a message with an empty channel".into(), ())),
                    Some(_) => Some(("a message whose channel is not a string".into(), ())),
                    None => Some(("a message without a channel".into(), ())),
                }
                .map(|(e, ())| (e, http::excerpt(value.to_string().as_bytes(), EXCERPT))),
            };
            if let Some((error, excerpt)) = bad {
                garbage_here += 1;
                self.garbage += 1;
                if self.garbage > self.tuning.max_garbage {
                    let rest = total - i;
                    self.flooded_by(
                        format!(
                            "flood: more than {} unreadable messages or messages without a channel on this session; observation stopped ({rest} more messages of this answer dropped)",
                            self.tuning.max_garbage
                        ),
                        excerpt,
                    );
                    break;
                }
                if garbage_here <= self.tuning.max_garbage_per_answer {
                    self.record(BayeuxEvent::BadMessage { error, excerpt });
                }
                continue;
            }
            let Msg::Read { value: m, notes } = msg else {
                continue;
            };
            let channel = notes::message_channel(m).unwrap_or("");
            if channel.starts_with("/meta/") {
                continue;
            }
            let channel = channel.to_string();
            let size = json_len(m);
            if self.window_started.elapsed() >= self.tuning.flood_window {
                self.window_started = Instant::now();
                self.delivered_bytes = 0;
            }
            let why = if n as u64 >= self.tuning.max_notifications {
                Some(format!(
                    "flood: more than {} deliveries in one connect answer; observation stopped (the rest of this answer, {} messages, dropped)",
                    self.tuning.max_notifications,
                    total - i
                ))
            } else if self.delivered_bytes + size > self.tuning.max_notification_bytes {
                Some(format!(
                    "flood: deliveries exceed {} bytes within {:?} ({} recorded, the next one is {size} bytes); observation stopped (the rest of this answer, {} messages, dropped)",
                    self.tuning.max_notification_bytes,
                    self.tuning.flood_window,
                    self.delivered_bytes,
                    total - i
                ))
            } else {
                None
            };
            if let Some(why) = why {
                let excerpt = http::excerpt(m.to_string().as_bytes(), EXCERPT);
                self.flooded_by(why, excerpt);
                break;
            }
            self.rec.record_noted(
                &self.stream,
                EventKind::Notification {
                    agent: self.user.clone(),
                    channel,
                    // Moved out: only the /meta/ replies are read after delivery.
                    data: notes::take_message_data(m),
                },
                std::mem::take(notes),
            );
            n += 1;
            self.delivered += 1;
            self.delivered_bytes += size;
        }
        let dropped = garbage_here.saturating_sub(self.tuning.max_garbage_per_answer);
        if dropped > 0 && self.flood.is_none() {
            self.record(BayeuxEvent::BadMessage {
                error: format!(
                    "{dropped} more unreadable messages or messages without a channel in this answer (not recorded one by one)"
                ),
                excerpt: String::new(),
            });
        }
        n
    }

    /// Marks the session flooded and records why, once, with `excerpt` (the first
    /// offending message).
    fn flooded_by(&mut self, why: String, excerpt: String) {
        self.record(BayeuxEvent::Garbage {
            error: why.clone(),
            excerpt,
        });
        self.flood = Some(why);
    }

    fn flooded(&self) -> bool {
        self.flood.is_some()
    }

    fn update_advice(&mut self, advice: &Value) {
        self.last_advice = Some(advice.clone());
        self.advice.apply(&Advice::parse(advice));
    }

    fn interval(&self) -> Duration {
        self.advice.interval.min(self.tuning.max_interval)
    }

    fn reply<'a>(msgs: &'a [Msg], channel: &str) -> Option<&'a Value> {
        msgs.iter()
            .filter_map(Msg::value)
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
        let mut msgs = match self
            .post(msg, self.cfg.request_timeout, "/meta/handshake")
            .await
        {
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
        self.deliver(&mut msgs);
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
        let mut msgs = match self
            .post(
                Value::Array(batch),
                self.cfg.request_timeout,
                "/meta/subscribe",
            )
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
        self.deliver(&mut msgs);
        let mut failed = Vec::new();
        for ch in &self.channels {
            let reply = msgs.iter().filter_map(Msg::value).find(|m| {
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

    /// One `/meta/connect`: what happened, when it started and how many messages it
    /// delivered (for pacing).
    async fn connect_once(&mut self) -> (Happened, Instant, usize) {
        let id = self.id();
        let msg = json!([{
            "channel": "/meta/connect",
            "clientId": self.client_id.clone().unwrap_or_default(),
            "connectionType": "long-polling",
            "id": id,
        }]);
        let hold = self
            .advice
            .timeout
            .unwrap_or(self.tuning.default_server_timeout)
            .min(MAX_SERVER_HOLD);
        let started = Instant::now();
        let mut msgs = match self
            .post(msg, hold + self.cfg.request_timeout, "/meta/connect")
            .await
        {
            Ok(m) => m,
            Err(e) => {
                self.record_failure(&e, "/meta/connect");
                return (Happened::ConnectFailed, started, 0);
            }
        };
        let delivered = self.deliver(&mut msgs);
        let Some(reply) = Self::reply(&msgs, "/meta/connect") else {
            if delivered > 0 {
                // Deliveries without the connect reply: unusual, but nothing lost. Go on.
                return (Happened::DeliveriesOnly, started, delivered);
            }
            if msgs.iter().any(|m| matches!(m, Msg::Bad { .. })) {
                // The reply may be the unreadable message: recorded as such (NTF-01);
                // retry as after any failed connect (repeated, the session gives up).
                return (Happened::ConnectFailed, started, 0);
            }
            let read: Vec<Value> = msgs.iter().filter_map(Msg::value).cloned().collect();
            self.record(BayeuxEvent::Garbage {
                error: "/meta/connect: no /meta/connect reply in the answer".into(),
                excerpt: http::excerpt(Value::Array(read).to_string().as_bytes(), EXCERPT),
            });
            return (Happened::ConnectFailed, started, 0);
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
        let happened = Happened::ConnectReply {
            successful,
            advice: advice.as_ref().map(Advice::parse),
            changed,
            unknown_client: error.as_deref().is_some_and(|e| e.starts_with("402")),
        };
        (happened, started, delivered)
    }

    /// Keeps an instantly answering server from making the loop spin.
    async fn pace(&self, started: Instant, delivered: usize) {
        let took = started.elapsed();
        if delivered == 0 && took < self.tuning.min_poll_period {
            tokio::time::sleep(self.tuning.min_poll_period - took).await;
        }
    }

    /// `/meta/disconnect`, bounded.
    async fn disconnect(&mut self) {
        let Some(cid) = self.client_id.clone() else {
            return;
        };
        let id = self.id();
        let msg = json!([{"channel": "/meta/disconnect", "clientId": cid, "id": id}]);
        let wait = self.cfg.request_timeout.min(Duration::from_secs(5));
        if let Ok(mut msgs) = self.post(msg, wait, "/meta/disconnect").await {
            self.deliver(&mut msgs);
        }
    }

    /// The connect loop, until stopped, advised `none`, or too many failures. Each step's
    /// decision is [`decide`]'s.
    async fn run(mut self, mut stop_rx: watch::Receiver<bool>) {
        let mut streak = Streak::default();
        let mut need_handshake = false;
        loop {
            if *stop_rx.borrow() {
                break;
            }
            if self.flooded() {
                let why = self.flood.clone().unwrap_or_else(|| {
                    format!(
                        "flood: more than {} deliveries; observation stopped",
                        self.tuning.max_notifications
                    )
                });
                self.close(why);
                return;
            }
            let (happened, started, delivered) = if need_handshake {
                let r = tokio::select! {
                    r = async { match self.handshake().await { Ok(()) => self.subscribe().await, Err(e) => Err(e) } } => r,
                    _ = stopped(&mut stop_rx) => break,
                };
                let h = match r {
                    Ok(()) => Happened::Rehandshaked,
                    Err(_) => Happened::RehandshakeFailed,
                };
                (h, Instant::now(), 0)
            } else {
                tokio::select! {
                    n = self.connect_once() => n,
                    _ = stopped(&mut stop_rx) => break,
                }
            };
            let d = decide(&self.advice, streak, &happened, &self.tuning);
            streak = d.streak;
            if let Some(r) = d.followed {
                self.record(BayeuxEvent::FollowedAdvice {
                    reconnect: r.name().into(),
                    interval_ms: if r == Reconnect::None {
                        0
                    } else {
                        self.interval().as_millis() as u64
                    },
                });
            }
            if d.pace {
                self.pace(started, delivered).await;
            }
            match d.action {
                Action::Close(reason) => {
                    self.close(reason);
                    return;
                }
                Action::Handshake => need_handshake = true,
                Action::Connect => need_handshake = false,
            }
            if !d.delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(d.delay) => {}
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

/// The length of `v` as compact JSON, counted without building the text.
fn json_len(v: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning() -> BayeuxTuning {
        BayeuxTuning {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_failures: 3,
            max_interval: Duration::from_secs(1),
            ..BayeuxTuning::default()
        }
    }

    fn reply(successful: bool, advice: Option<Value>, changed: bool, error: &str) -> Happened {
        Happened::ConnectReply {
            successful,
            advice: advice.as_ref().map(Advice::parse),
            changed,
            unknown_client: error.starts_with("402"),
        }
    }

    fn bad(m: &Msg) -> &str {
        match m {
            Msg::Bad { error, .. } => error,
            Msg::Read { value, .. } => panic!("read: {value}"),
        }
    }

    #[test]
    fn an_answer_is_read_message_by_message() {
        let msgs = read_answer(
            br#"[{"channel":"/a","data":{"t":"x\ud800"}}, {bad}, 7, , {"channel":"/meta/connect","successful":true}]"#,
            "/meta/connect",
        );
        assert_eq!(msgs.len(), 5, "{msgs:?}");
        match &msgs[0] {
            Msg::Read { value, notes } => {
                assert_eq!(value["data"]["t"], "x\u{fffd}");
                assert!(notes[0].contains("at byte 31"), "{notes:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            bad(&msgs[1]).contains("the element at byte 42 is not JSON: key must be a string"),
            "{msgs:?}"
        );
        assert!(matches!(&msgs[1], Msg::Bad { excerpt, .. } if excerpt == "{bad}"));
        assert!(bad(&msgs[2]).contains("not a message object"));
        assert!(
            bad(&msgs[3]).contains("an empty element at byte 52"),
            "{msgs:?}"
        );
        assert_eq!(
            Session::reply(&msgs, "/meta/connect").map(|r| r["successful"].clone()),
            Some(Value::Bool(true))
        );
    }

    #[test]
    fn a_whole_answer_that_is_no_array_is_one_message() {
        let msgs = read_answer(b"<html>502</html>", "/meta/connect");
        assert_eq!(msgs.len(), 1);
        assert!(bad(&msgs[0]).starts_with("/meta/connect answer is not JSON"));
        let msgs = read_answer(b"\"x\"", "/meta/handshake");
        assert!(bad(&msgs[0]).contains("not an array of Bayeux messages"));
        let msgs = read_answer(br#"{"channel":"/meta/connect","successful":true}"#, "c");
        assert!(
            matches!(&msgs[..], [Msg::Read { notes, .. }] if notes[0].contains("one message object")),
            "{msgs:?}"
        );
        assert!(read_answer(b"[]", "c").is_empty());
        // Cut short after a whole message, or followed by text: one more bad message.
        let msgs = read_answer(br#"[{"channel":"/a"}"#, "c");
        assert!(bad(&msgs[1]).contains("before its closing ']'"), "{msgs:?}");
        let msgs = read_answer(br#"[{"channel":"/a"}] junk"#, "c");
        assert!(
            bad(&msgs[1]).contains("after the closing ']' at byte 19"),
            "{msgs:?}"
        );
        // Cut inside a message: that message is the bad one, nothing more.
        let msgs = read_answer(br#"[{"channel":"/a"},{"chan"#, "c");
        assert_eq!(msgs.len(), 2);
        assert!(bad(&msgs[1]).contains("ends inside a value"), "{msgs:?}");
    }

    #[test]
    fn advice_is_parsed_into_types_and_persists_field_by_field() {
        let a = Advice::parse(
            &json!({"reconnect": "handshake", "interval": 250, "timeout": 30000, "multiple-clients": true}),
        );
        assert_eq!(a.reconnect, Some(Reconnect::Handshake));
        assert_eq!(a.interval, Some(Duration::from_millis(250)));
        assert_eq!(a.timeout, Some(Duration::from_secs(30)));
        assert_eq!(a.multiple_clients, Some(true));
        assert_eq!(
            Advice::parse(&json!({"reconnect": "bogus"})).reconnect,
            Some(Reconnect::Retry)
        );
        assert_eq!(Advice::parse(&json!("x")), Advice::default());
        let mut st = StandingAdvice::default();
        st.apply(&a);
        st.apply(&Advice::parse(&json!({"interval": 10})));
        assert_eq!(st.reconnect, Reconnect::Handshake);
        assert_eq!(st.interval, Duration::from_millis(10));
        assert_eq!(st.timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn successful_connect_retries_after_the_capped_interval_and_resets_counts() {
        let mut st = StandingAdvice::default();
        st.apply(&Advice::parse(&json!({"interval": 5000})));
        let d = decide(
            &st,
            Streak {
                failures: 2,
                rehandshakes: 1,
            },
            &reply(
                true,
                Some(json!({"reconnect": "retry", "interval": 5000})),
                true,
                "",
            ),
            &tuning(),
        );
        assert_eq!(d.action, Action::Connect);
        assert_eq!(d.delay, Duration::from_secs(1), "capped at max_interval");
        assert_eq!(d.streak, Streak::default());
        assert_eq!(d.followed, Some(Reconnect::Retry));
        assert!(d.pace);
        // Unchanged advice is not recorded again.
        let d = decide(
            &st,
            Streak::default(),
            &reply(true, None, false, ""),
            &tuning(),
        );
        assert_eq!((d.action, d.followed), (Action::Connect, None));
    }

    #[test]
    fn advised_none_and_handshake_are_obeyed_at_once() {
        let st = StandingAdvice::default();
        let d = decide(
            &st,
            Streak::default(),
            &reply(true, Some(json!({"reconnect": "none"})), true, ""),
            &tuning(),
        );
        assert_eq!(
            d.action,
            Action::Close("server advised reconnect: none".into())
        );
        assert_eq!(d.followed, Some(Reconnect::None));
        let d = decide(
            &st,
            Streak::default(),
            &reply(false, Some(json!({"reconnect": "handshake"})), true, ""),
            &tuning(),
        );
        assert_eq!(d.action, Action::Handshake);
        assert_eq!(d.followed, Some(Reconnect::Handshake));
        assert_eq!(d.streak.rehandshakes, 1);
        // Too many re-handshakes in a row: give up.
        let d = decide(
            &st,
            Streak {
                failures: 0,
                rehandshakes: 3,
            },
            &reply(false, None, false, "402::unknown client"),
            &tuning(),
        );
        assert!(
            matches!(&d.action, Action::Close(r) if r.contains("4 re-handshakes")),
            "{d:?}"
        );
    }

    #[test]
    fn unsuccessful_without_advice_follows_the_standing_advice() {
        let mut st = StandingAdvice::default();
        let d = decide(
            &st,
            Streak::default(),
            &reply(false, None, false, "500"),
            &tuning(),
        );
        assert_eq!(d.action, Action::Connect);
        assert_eq!(d.streak.failures, 1);
        assert_eq!(d.delay, Duration::from_millis(100));
        st.reconnect = Reconnect::None;
        let d = decide(
            &st,
            Streak::default(),
            &reply(false, None, false, "500"),
            &tuning(),
        );
        assert!(matches!(&d.action, Action::Close(r) if r.contains("standing advice")));
        st.reconnect = Reconnect::Handshake;
        let d = decide(
            &st,
            Streak::default(),
            &reply(false, None, false, "500"),
            &tuning(),
        );
        assert_eq!(d.action, Action::Handshake);
    }

    #[test]
    fn failures_back_off_exponentially_then_close() {
        let st = StandingAdvice::default();
        let t = tuning();
        let mut streak = Streak::default();
        let mut delays = Vec::new();
        loop {
            let d = decide(&st, streak, &Happened::ConnectFailed, &t);
            streak = d.streak;
            if let Action::Close(r) = d.action {
                assert_eq!(r, "gave up after 3 consecutive failed connects");
                break;
            }
            delays.push(d.delay.as_millis());
        }
        assert_eq!(delays, vec![100, 200]);
        let d = decide(
            &st,
            Streak {
                failures: 1,
                rehandshakes: 2,
            },
            &Happened::RehandshakeFailed,
            &t,
        );
        assert_eq!(
            (d.action, d.delay),
            (Action::Handshake, Duration::from_millis(200))
        );
        let d = decide(
            &st,
            Streak {
                failures: 1,
                rehandshakes: 2,
            },
            &Happened::Rehandshaked,
            &t,
        );
        assert_eq!(
            (d.action, d.delay, d.streak),
            (
                Action::Connect,
                Duration::ZERO,
                Streak {
                    failures: 0,
                    rehandshakes: 2
                }
            )
        );
        assert_eq!(backoff(&t, 20), Duration::from_millis(500));
    }
}
