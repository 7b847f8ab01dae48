//! The session's exchanges: handshake, subscribe, the connect loop and the delivery of
//! what it reads.

use super::wire::{Msg, PostError, read_answer};
use super::{
    Action, Advice, EXCERPT, Happened, MAX_SERVER_HOLD, Reconnect, Session, Streak, decide,
};
use crate::client::http::{self, Req};
use crate::history::{BayeuxEvent, Body, EventKind, json_len, notes};
use reqwest::cookie::CookieStore;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Waits until the stop flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

// Servers (CometD, the reference server) repeat the same advice on every connect reply;
// only advice that differs from the last one seen is recorded, so a history holds the
// changes the harness followed, not one event per long poll.

/// Why a handshake or a subscribe failed; its text is the error recorded in the event.
#[derive(Debug, thiserror::Error)]
pub(super) enum SessionError {
    /// No usable answer to the exchange.
    #[error("{}", .0.describe())]
    Exchange(PostError),
    /// The answer held no handshake reply.
    #[error("no /meta/handshake reply in the answer")]
    NoHandshakeReply,
    /// A successful handshake reply without a `clientId`.
    #[error("successful handshake without a clientId")]
    NoClientId,
    /// An unsuccessful reply: its error, or `unsuccessful`.
    #[error("{0}")]
    Refused(String),
    /// The channels whose subscribe failed, each with why (`channel: why`).
    #[error("{}", .0.join("; "))]
    Subscribe(Vec<String>),
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
            // A long-poll connect is held open on purpose: not a sign of a dead target.
            liveness: None,
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

    pub(super) fn reply<'a>(msgs: &'a [Msg], channel: &str) -> Option<&'a Value> {
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
    pub(super) async fn handshake(&mut self) -> Result<(), SessionError> {
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
                return Err(self.handshake_failed(SessionError::Exchange(e)));
            }
        };
        self.deliver(&mut msgs);
        let Some(reply) = Self::reply(&msgs, "/meta/handshake") else {
            return Err(self.handshake_failed(SessionError::NoHandshakeReply));
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
            (true, _) => Err(self.handshake_failed(SessionError::NoClientId)),
            (false, _) => {
                let error = Self::error_of(reply).unwrap_or_else(|| "unsuccessful".into());
                Err(self.handshake_failed(SessionError::Refused(error)))
            }
        }
    }

    /// Records the failed handshake, with `error` as its text; returns `error`.
    fn handshake_failed(&self, error: SessionError) -> SessionError {
        self.record(BayeuxEvent::Handshake {
            successful: false,
            error: Some(error.to_string()),
        });
        error
    }

    /// `/meta/subscribe` to every channel in one batch. Records `Subscribe` per channel.
    pub(super) async fn subscribe(&mut self) -> Result<(), SessionError> {
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
                let e = SessionError::Exchange(e);
                for ch in &self.channels {
                    self.record(BayeuxEvent::Subscribe {
                        channel: ch.clone(),
                        successful: false,
                        error: Some(error.clone()),
                    });
                }
                return Err(e);
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
            Err(SessionError::Subscribe(failed))
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
    pub(super) async fn run(mut self, mut stop_rx: watch::Receiver<bool>) {
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
