//! Bayeux (`/api/v2/notifications`): handshake, subscribe, disconnect, the long-poll
//! `/meta/connect` and the per-client queues that notifications are published to.

#![allow(clippy::result_large_err)]

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use serde_json::{Value, json};
use tokio::sync::Notify;

use super::faults::Fault;
use super::http::{Shared, header_str, session_cookie};
use super::state::*;
use super::variations::{BATCH_HOLD_MS, MULTIPLE_CLIENTS_INTERVAL_MS, Variation};

/// Most messages in one Bayeux batch.
const MAX_BAYEUX_BATCH: usize = 64;

impl Core {
    // ---------------------------------------------------------------- Bayeux

    /// Queues `data` on `/v2/me/chats` for every subscribed client of `agent`.
    pub(crate) fn publish(&mut self, agent: usize, mut data: Value) {
        if self.var(Variation::NoReferenceId)
            && let Some(o) = data.as_object_mut()
        {
            o.remove("referenceId");
        }
        let msg = json!({"channel": CHATS_CHANNEL, "data": data});
        let mut overflow = Vec::new();
        for (cid, c) in self.clients.iter_mut() {
            if c.agent == agent && c.subs.contains(CHATS_CHANNEL) {
                if c.queue.len() >= MAX_CLIENT_QUEUE {
                    overflow.push(cid.clone());
                    continue;
                }
                c.queue.push_back(msg.clone());
                c.notify.notify_one();
            }
        }
        for cid in overflow {
            if let Some(c) = self.clients.remove(&cid) {
                c.notify.notify_one();
            }
        }
    }

    pub(super) fn advice(&self) -> Value {
        json!({"reconnect": "retry", "interval": 0, "timeout": self.cfg.bayeux_timeout_ms})
    }

    pub(super) fn unknown_client(channel: &str, id: &Value, client: Option<&str>) -> Value {
        let mut v = json!({
            "channel": channel, "successful": false, "error": "402::Unknown client",
            "advice": {"reconnect": "handshake", "interval": 0},
        });
        if let Some(c) = client {
            v["clientId"] = json!(c);
        }
        if !id.is_null() {
            v["id"] = id.clone();
        }
        v
    }

    /// Authenticates a Bayeux POST (Basic auth; the session is established if missing;
    /// no CSRF, SPEC §6.1).
    pub(crate) fn bayeux_auth(
        &mut self,
        authorization: Option<&str>,
        session: Option<&str>,
    ) -> Result<(usize, Option<String>), Reply> {
        let (a, tok, new) = self.authenticate(authorization, session)?;
        Ok((a, new.then_some(tok)))
    }

    /// Handles one non-connect Bayeux message.
    pub(crate) fn bayeux_message(&mut self, agent: usize, m: &Value) -> Value {
        let channel = m.get("channel").and_then(Value::as_str).unwrap_or("");
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let client = m.get("clientId").and_then(Value::as_str);
        let mut reply = match channel {
            "/meta/handshake" => self.handshake(agent, m),
            "/meta/subscribe" | "/meta/unsubscribe" => {
                match self.subscribe(agent, channel, client, m) {
                    Some(v) => v,
                    None => return Self::unknown_client(channel, &id, client),
                }
            }
            "/meta/disconnect" => {
                match client.filter(|c| self.clients.get(*c).is_some_and(|x| x.agent == agent)) {
                    None => return Self::unknown_client(channel, &id, client),
                    Some(c) => {
                        if let Some(x) = self.clients.remove(c) {
                            x.notify.notify_one();
                        }
                        json!({"channel": channel, "successful": true})
                    }
                }
            }
            "" => {
                json!({"channel": "", "successful": false, "error": "400::message without channel"})
            }
            other => json!({"channel": other, "successful": false,
                "error": format!("403::{other}: publishing is not supported")}),
        };
        if let Some(c) = client
            && reply.get("clientId").is_none()
        {
            reply["clientId"] = json!(c);
        }
        if !id.is_null() {
            reply["id"] = id;
        }
        reply
    }

    /// `/meta/handshake`: a new client of `agent` (long-polling only).
    fn handshake(&mut self, agent: usize, m: &Value) -> Value {
        let channel = "/meta/handshake";
        let types_ok = m
            .get("supportedConnectionTypes")
            .and_then(Value::as_array)
            .is_none_or(|a| a.iter().any(|t| t == "long-polling"));
        if !types_ok {
            return json!({"channel": channel, "successful": false,
                "error": "406::long-polling is the only supported connection type",
                "supportedConnectionTypes": ["long-polling"], "version": "1.0",
                "advice": {"reconnect": "none"}});
        }
        let cid = self.token();
        self.clients.insert(
            cid.clone(),
            Client {
                agent,
                subs: HashSet::new(),
                queue: VecDeque::new(),
                last_seen: Instant::now(),
                polling: 0,
                notify: Arc::new(Notify::new()),
                delivered: 0,
                session: None,
            },
        );
        self.bound_clients(agent, &cid);
        json!({"channel": channel, "version": "1.0",
            "supportedConnectionTypes": ["long-polling"], "clientId": cid,
            "successful": true, "advice": self.advice()})
    }

    /// `/meta/subscribe` or `/meta/unsubscribe` (`channel`); `None`: unknown client.
    fn subscribe(
        &mut self,
        agent: usize,
        channel: &str,
        client: Option<&str>,
        m: &Value,
    ) -> Option<Value> {
        let sub = m.get("subscription").and_then(Value::as_str).unwrap_or("");
        let fails = self.cfg.fault == Some(Fault::BayeuxSubscribeFails);
        let c = client
            .and_then(|c| self.clients.get_mut(c))
            .filter(|c| c.agent == agent)?;
        c.last_seen = Instant::now();
        Some(if sub != "/v2/me" && !sub.starts_with("/v2/me/") {
            json!({"channel": channel, "successful": false, "subscription": sub,
                "error": format!("403:{sub}:subscription denied (only /v2/me/... channels)")})
        } else if channel == "/meta/subscribe" && sub == CHATS_CHANNEL && fails {
            json!({"channel": channel, "successful": false, "subscription": sub,
                "error": "500:/v2/me/chats:subscription failed"})
        } else {
            if channel == "/meta/subscribe" {
                c.subs.insert(sub.to_string());
            } else {
                c.subs.remove(sub);
            }
            json!({"channel": channel, "successful": true, "subscription": sub})
        })
    }

    pub(super) fn bound_clients(&mut self, agent: usize, keep: &str) {
        let mut mine: Vec<(Instant, String)> = self
            .clients
            .iter()
            .filter(|(k, c)| c.agent == agent && k.as_str() != keep && c.polling == 0)
            .map(|(k, c)| (c.last_seen, k.clone()))
            .collect();
        if mine.len() >= MAX_CLIENTS_PER_AGENT {
            mine.sort();
            let excess = mine.len() + 1 - MAX_CLIENTS_PER_AGENT;
            for (_, k) in mine.into_iter().take(excess) {
                if let Some(c) = self.clients.remove(&k) {
                    c.notify.notify_one();
                }
            }
        }
    }

    /// Starts a `/meta/connect`.
    pub(crate) fn connect_start(&mut self, agent: usize, m: &Value, session: &str) -> ConnectStart {
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let client = m.get("clientId").and_then(Value::as_str);
        let ct = m.get("connectionType").and_then(Value::as_str);
        let Some(cid) = client.filter(|c| self.clients.get(*c).is_some_and(|x| x.agent == agent))
        else {
            return ConnectStart::Now(vec![Self::unknown_client("/meta/connect", &id, client)]);
        };
        if ct.is_some_and(|t| t != "long-polling") {
            let mut v = json!({"channel": "/meta/connect", "successful": false, "clientId": cid,
                "error": "406::unsupported connectionType", "advice": self.advice()});
            if !id.is_null() {
                v["id"] = id;
            }
            return ConnectStart::Now(vec![v]);
        }
        if self.cfg.fault == Some(Fault::BayeuxSessionDropped)
            && self
                .clients
                .get(cid)
                .is_some_and(|c| c.delivered >= super::faults::SESSION_DROP_AFTER)
        {
            let cid = cid.to_string();
            self.clients.remove(&cid);
            let mut v = json!({"channel": "/meta/connect", "successful": false, "clientId": cid,
                "error": "402::session dropped", "advice": {"reconnect": "none"}});
            if !id.is_null() {
                v["id"] = id;
            }
            return ConnectStart::Now(vec![v]);
        }
        // A connect asking `advice.timeout: 0` (CometD's first connect) is not held.
        let no_hold = m
            .get("advice")
            .and_then(|a| a.get("timeout"))
            .and_then(Value::as_u64)
            == Some(0);
        // `multiple-clients` (a CometD server, SPEC §6.7): while another client of the
        // same browser cookie holds a long-poll, this one is answered at once with
        // `advice.multiple-clients` and a slow interval, not held.
        let second = self.var(Variation::MultipleClients)
            && self
                .clients
                .iter()
                .any(|(k, x)| k != cid && x.polling > 0 && x.session.as_deref() == Some(session));
        let c = self.clients.get_mut(cid).expect("checked");
        c.last_seen = Instant::now();
        c.session = Some(session.to_string());
        if second {
            let cid = cid.to_string();
            let mut out = self.connect_finish(&cid, m, false);
            for r in out.iter_mut().filter(|r| r["channel"] == "/meta/connect") {
                r["advice"] = json!({"multiple-clients": true, "reconnect": "retry",
                    "interval": MULTIPLE_CLIENTS_INTERVAL_MS,
                    "timeout": self.cfg.bayeux_timeout_ms});
            }
            return ConnectStart::Now(out);
        }
        if !c.queue.is_empty() || no_hold {
            let cid = cid.to_string();
            return ConnectStart::Now(self.connect_finish(&cid, m, false));
        }
        c.polling += 1;
        ConnectStart::Wait(c.notify.clone())
    }

    /// Whether a held `/meta/connect` of `cid` should answer now: something is queued, or
    /// the client is gone (expired or dropped on overflow).
    pub(crate) fn connect_ready(&self, cid: &str) -> bool {
        self.clients.get(cid).is_none_or(|c| !c.queue.is_empty())
    }

    /// Finishes a `/meta/connect`: the reply plus every queued message (batched).
    pub(crate) fn connect_finish(&mut self, cid: &str, m: &Value, was_waiting: bool) -> Vec<Value> {
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        let advice = self.advice();
        let Some(c) = self.clients.get_mut(cid) else {
            return vec![Self::unknown_client("/meta/connect", &id, Some(cid))];
        };
        if was_waiting {
            c.polling = c.polling.saturating_sub(1);
        }
        c.last_seen = Instant::now();
        let mut v = json!({"channel": "/meta/connect", "successful": true, "clientId": cid,
            "advice": advice});
        if !id.is_null() {
            v["id"] = id;
        }
        // At most `max_connect_bytes` of notifications per answer (always at least one);
        // the rest stays queued, so the next connect answers at once.
        let max = self.cfg.max_connect_bytes;
        let mut out = vec![v];
        let mut bytes = 0usize;
        while let Some(m) = c.queue.front() {
            let n = serde_json::to_vec(m).map_or(0, |b| b.len());
            if out.len() > 1 && bytes.saturating_add(n) > max {
                break;
            }
            bytes = bytes.saturating_add(n);
            out.extend(c.queue.pop_front());
        }
        c.delivered += (out.len() - 1) as u64;
        if self.var(Variation::BatchedConnect) {
            // Bayeux lets the connect reply stand anywhere in the batch: last here.
            out.rotate_left(1);
        }
        out
    }
}

fn bayeux_error(status: u16, msg: &str) -> Reply {
    Reply::new(status, json!({"statusCode": 2, "statusMessage": msg}))
}

/// Serves one Bayeux POST: the non-connect messages at once, then at most one
/// `/meta/connect`, held until something is queued or the hold time passes.
pub(super) async fn serve_bayeux(sh: &Arc<Shared>, headers: &HeaderMap, body: BodyIn) -> Reply {
    let msgs: Vec<Value> = match body {
        BodyIn::Json(Value::Array(a)) => a,
        BodyIn::Json(v @ Value::Object(_)) => vec![v],
        BodyIn::Json(_) | BodyIn::Empty => {
            return bayeux_error(400, "Bayeux body must be a message or an array of messages");
        }
        BodyIn::Invalid(e) => return bayeux_error(400, &format!("Bayeux body is not JSON: {e}")),
        BodyIn::TooLarge => return bayeux_error(413, "Bayeux body larger than 64 KiB"),
    };
    if msgs.is_empty() || msgs.len() > MAX_BAYEUX_BATCH {
        return bayeux_error(
            400,
            &format!("a Bayeux batch holds 1 to {MAX_BAYEUX_BATCH} messages"),
        );
    }
    let cookie = session_cookie(headers);
    let (agent, new_cookie, mut out, connect, session) = {
        let mut core = sh.lock();
        let (agent, new_cookie) =
            match core.bayeux_auth(header_str(headers, "authorization"), cookie.as_deref()) {
                Ok(x) => x,
                Err(r) => return r,
            };
        let session = new_cookie.clone().or(cookie.clone()).unwrap_or_default();
        let mut out = Vec::new();
        let mut connect = None;
        for m in &msgs {
            if !m.is_object() {
                out.push(json!({"successful": false, "error": "400::message is not an object"}));
                continue;
            }
            if m.get("channel").and_then(Value::as_str) == Some("/meta/connect") {
                if connect.is_none() {
                    connect = Some(m.clone());
                } else {
                    out.push(json!({"channel": "/meta/connect", "successful": false,
                        "error": "400::one /meta/connect per batch"}));
                }
                continue;
            }
            out.push(core.bayeux_message(agent, m));
        }
        (agent, new_cookie, out, connect, session)
    };
    if let Some(m) = connect {
        let start = sh.lock().connect_start(agent, &m, &session);
        match start {
            ConnectStart::Now(v) => out.extend(v),
            ConnectStart::Wait(notify) => {
                let cid = m
                    .get("clientId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let hold = Duration::from_millis(sh.cfg.bayeux_timeout_ms);
                let until = tokio::time::Instant::now() + hold;
                // A wake-up can be a leftover permit of an earlier publish: hold on
                // until something is really queued (or the client is gone).
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => break,
                        _ = notify.notified() => {
                            if sh.lock().connect_ready(&cid) {
                                if sh.cfg.variations.has(Variation::BatchedConnect) {
                                    // Hold on a little: what other chats publish
                                    // meanwhile shares this answer.
                                    tokio::select! {
                                        _ = tokio::time::sleep(Duration::from_millis(BATCH_HOLD_MS)) => {}
                                        _ = sh.stopped() => {}
                                    }
                                }
                                break;
                            }
                        }
                        _ = sh.stopped() => break,
                    }
                }
                out.extend(sh.lock().connect_finish(&cid, &m, true));
            }
        }
    }
    let mut r = Reply::new(200, Value::Array(out));
    r.set_cookie = new_cookie;
    r
}
