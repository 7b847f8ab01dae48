//! NTF-02 over the run-level history: the Bayeux sessions of every agent.
//!
//! Per agent that started a session: every handshake and subscribe successful, a
//! successful subscribe to `/v2/me/chats`, no failed connect without advice, no garbage
//! from the server, and advice followed. A failure of the server (unsuccessful
//! handshake, subscribe or connect, garbage) is a Fail; advice the harness did not follow
//! is the harness's fault, so an Error (SPEC §4), not a target Fail.
//!
//! One message of an answer that cannot be read or is not a Bayeux message
//! ([`BayeuxEvent::BadMessage`]) is that message's NTF-01 Fail, not the session's: the
//! rest of the answer was read and the session went on.

use super::{Finding, Witness};
use crate::history::{BayeuxEvent, EventKind, History};
use crate::spec::ReqId;
use serde_json::Value;

/// Judges NTF-02 for every agent with Bayeux events in `run_history`: one finding per
/// agent (Pass, or each Fail/Error found).
pub fn judge_session(run_history: &History) -> Vec<Finding> {
    let mut agents: Vec<&str> = vec![];
    for e in run_history.iter() {
        if let EventKind::Bayeux { agent, .. } = &e.kind
            && !agents.contains(&agent.as_str())
        {
            agents.push(agent);
        }
    }
    let mut out = vec![];
    for agent in agents {
        let evs: Vec<(u64, &BayeuxEvent)> = run_history
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Bayeux { agent: a, event } if a == agent => Some((e.seq, event)),
                _ => None,
            })
            .collect();
        let before = out.len();
        judge_agent(agent, &evs, &mut out);
        // An unreadable message is that message's NTF-01 Fail, not the session's.
        if !out[before..].iter().any(|f| f.req == ReqId::Ntf02) {
            out.push(Finding::pass(
                ReqId::Ntf02,
                format!("{agent}: handshake, subscribe and connect succeeded; advice followed"),
            ));
        }
    }
    out
}

fn fail(agent: &str, reason: &str, expected: &str, observed: String, seq: Vec<u64>) -> Finding {
    Finding::fail(
        ReqId::Ntf02,
        format!("{agent}: {reason}"),
        Witness {
            expected: expected.into(),
            observed,
            events: seq,
        },
    )
}

/// One agent's Bayeux session, replayed event by event.
struct AgentSession<'a> {
    agent: &'a str,
    handshook: bool,
    subscribed: bool,
    /// Advice that must be followed: (seq, reconnect, interval_ms).
    pending: Option<(u64, String, u64)>,
    out: &'a mut Vec<Finding>,
}

fn judge_agent(agent: &str, evs: &[(u64, &BayeuxEvent)], out: &mut Vec<Finding>) {
    let mut s = AgentSession {
        agent,
        handshook: false,
        subscribed: false,
        pending: None,
        out,
    };
    for (seq, ev) in evs {
        s.event(*seq, ev);
    }
    s.finish(evs);
}

fn or_unsuccessful(error: &Option<String>) -> String {
    error.clone().unwrap_or_else(|| "successful: false".into())
}

impl AgentSession<'_> {
    fn fail(&mut self, reason: &str, expected: &str, observed: String, seq: Vec<u64>) {
        self.out
            .push(fail(self.agent, reason, expected, observed, seq));
    }

    fn event(&mut self, seq: u64, ev: &BayeuxEvent) {
        match ev {
            BayeuxEvent::Handshake { successful, error } => {
                if *successful {
                    self.handshook = true;
                    self.subscribed = false;
                    if self.pending.as_ref().is_some_and(|p| p.1 == "handshake") {
                        // A new handshake after the advice: followed, provided it was
                        // marked (FollowedAdvice) or this is the handshake it asked for.
                        self.pending = None;
                    }
                } else {
                    let o = or_unsuccessful(error);
                    self.fail(
                        "handshake failed",
                        "a successful /meta/handshake",
                        o,
                        vec![seq],
                    );
                }
            }
            BayeuxEvent::Subscribe {
                channel,
                successful,
                error,
            } => {
                if *successful {
                    if channel == "/v2/me/chats" {
                        self.subscribed = true;
                    }
                } else {
                    let o = or_unsuccessful(error);
                    self.fail(
                        &format!("subscribe to {channel} failed"),
                        "a successful /meta/subscribe",
                        o,
                        vec![seq],
                    );
                }
            }
            BayeuxEvent::Connect {
                successful,
                advice,
                error,
            } => self.connect(seq, *successful, advice.as_ref(), error),
            BayeuxEvent::FollowedAdvice {
                reconnect,
                interval_ms,
            } => self.followed(seq, reconnect, *interval_ms),
            BayeuxEvent::Garbage { error, excerpt } => self.fail(
                "the server's answer broke the Bayeux exchange",
                "a JSON array of Bayeux messages holding the reply to the exchange, within the session's bounds",
                format!("{error}: {excerpt}"),
                vec![seq],
            ),
            BayeuxEvent::BadMessage { error, excerpt } => self.out.push(Finding::fail(
                ReqId::Ntf01,
                format!(
                    "{}: a message of a Bayeux answer cannot be read or is not a Bayeux message",
                    self.agent
                ),
                Witness {
                    expected: "a Bayeux message: a JSON object with a string \"channel\"".into(),
                    observed: format!("{error}: {excerpt}"),
                    events: vec![seq],
                },
            )),
            BayeuxEvent::Closed { reason } => self.closed(seq, reason),
        }
    }

    fn connect(
        &mut self,
        seq: u64,
        successful: bool,
        advice: Option<&Value>,
        error: &Option<String>,
    ) {
        let reconnect = advice
            .and_then(|a| a.get("reconnect"))
            .and_then(Value::as_str);
        let interval = advice
            .and_then(|a| a.get("interval"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if !successful && reconnect.is_none() {
            self.fail(
                "connect failed without advice",
                "a successful /meta/connect, or advice on how to reconnect",
                or_unsuccessful(error),
                vec![seq],
            );
        }
        if let Some(r) = reconnect
            && (r == "handshake" || r == "none" || !successful)
        {
            self.pending = Some((seq, r.to_string(), interval));
        }
    }

    fn followed(&mut self, seq: u64, reconnect: &str, interval_ms: u64) {
        let agent = self.agent;
        let Some((aseq, want, interval)) = self.pending.clone() else {
            return;
        };
        if reconnect != want {
            self.out.push(Finding::error(
                ReqId::Ntf02,
                format!(
                    "{agent}: the harness followed reconnect {reconnect:?} where the server advised {want:?} (seq {aseq}, {seq})"
                ),
            ));
        } else if interval_ms < interval {
            self.out.push(Finding::error(
                ReqId::Ntf02,
                format!(
                    "{agent}: the harness waited {interval_ms} ms where the server advised {interval} ms (seq {aseq}, {seq})"
                ),
            ));
        }
        // A followed "none" stays pending until the session's end says who ended it.
        if want != "handshake" && want != "none" {
            self.pending = None;
        }
    }

    /// The session ended. When the harness gave up because the server kept failing it
    /// (connects that never work, re-handshake after re-handshake), that is the
    /// server's NTF-02 Fail; what the harness could no longer see afterwards is judged
    /// by the cases as Error, never Fail.
    fn closed(&mut self, seq: u64, reason: &str) {
        if reason.starts_with("gave up") {
            let mut events = vec![seq];
            events.extend(self.pending.as_ref().map(|p| p.0));
            events.sort_unstable();
            self.fail(
                "the session never worked; the harness gave up",
                "a working /meta/connect after the advised reconnects",
                reason.to_string(),
                events,
            );
            self.pending = None;
        } else if let Some((aseq, _, _)) = self.pending.take_if(|p| p.1 == "none")
            && reason.contains("advised reconnect: none")
        {
            // The session ended by following the server's advice (the harness's own
            // stop cancels its connect in flight and says so): the server ended
            // observation while the run still needed it, the connect did not succeed.
            self.fail(
                "the server ended the session (advice reconnect \"none\") while the run still needed it",
                "a /meta/connect that keeps the session open until the harness ends it",
                reason.to_string(),
                vec![aseq, seq],
            );
        }
    }

    fn finish(self, evs: &[(u64, &BayeuxEvent)]) {
        let agent = self.agent;
        if !self.handshook {
            if !self
                .out
                .iter()
                .any(|f| f.req == ReqId::Ntf02 && f.reason.starts_with(&format!("{agent}:")))
            {
                self.out.push(fail(
                    agent,
                    "no successful handshake",
                    "a successful /meta/handshake",
                    "none recorded".into(),
                    evs.iter().map(|(s, _)| *s).take(3).collect(),
                ));
            }
        } else if !self.subscribed {
            self.out.push(fail(
                agent,
                "no successful subscribe to /v2/me/chats after the last handshake",
                "a successful /meta/subscribe to /v2/me/chats",
                "none recorded".into(),
                evs.iter().map(|(s, _)| *s).rev().take(3).collect(),
            ));
        }
        if let Some((seq, r, _)) = self.pending
            && r == "handshake"
        {
            self.out.push(Finding::error(
                ReqId::Ntf02,
                format!("{agent}: the server advised reconnect \"handshake\" (seq {seq}) and the harness never handshook again"),
            ));
        }
    }
}

/// What the run knew beyond its run-level history when it judged the `session`
/// pseudo-case: which chats its cases bound (the runner's routing state, or the Bind
/// events of the cases' histories when a bundle is judged again), how many, and how many
/// notifications and how long the run took (the record may have dropped old events).
pub struct RunLevel<'a> {
    /// Whether a chat id is one the run's cases bound.
    pub provisioned: &'a dyn Fn(&str) -> bool,
    /// How many chats the cases bound.
    pub offered: usize,
    /// Notifications the run's Bayeux sessions delivered.
    pub notifications: u64,
    /// How long the run went on.
    pub elapsed: std::time::Duration,
}

/// NTF-02 and NTF-01 over the whole run (the `session` pseudo-case): the Bayeux sessions
/// ([`judge_session`]); the shape of every notification about no chat the cases bound;
/// and a run whose chats were offered while no /meta/connect ever delivered a
/// notification (the connect never answered: a run can end before the client's own
/// connect timeout says so).
pub fn judge_run_level(
    run: &History,
    at: &RunLevel<'_>,
    shapes: &dyn super::Shapes,
) -> Vec<Finding> {
    let mut out = judge_session(run);
    let unclaimed: Vec<&crate::history::Event> =
        run.iter()
            .filter(|e| match &e.kind {
                EventKind::Notification { data, .. } => crate::history::notification_chat_id(data)
                    .is_none_or(|id| !(at.provisioned)(id)),
                _ => false,
            })
            .collect();
    out.extend(super::judge_unclaimed(&unclaimed, shapes));
    if at.offered > 0 && at.notifications == 0 {
        out.push(Finding::fail(
            ReqId::Ntf02,
            "no /meta/connect delivered a notification during the run",
            super::Witness {
                expected: format!(
                    "notifications about the {} chats offered to the agents, delivered by /meta/connect",
                    at.offered
                ),
                observed: format!(
                    "no notification in {:.1} s of the run",
                    at.elapsed.as_secs_f64()
                ),
                events: Vec::new(),
            },
        ));
    }
    out
}
