//! NTF-02 over the run-level history: the Bayeux sessions of every agent.
//!
//! Per agent that started a session: every handshake and subscribe successful, a
//! successful subscribe to `/v2/me/chats`, no failed connect without advice, no garbage
//! from the server, and advice followed. A failure of the server (unsuccessful
//! handshake, subscribe or connect, garbage) is a Fail; advice the harness did not follow
//! is the harness's fault, so an Error (SPEC §4), not a target Fail.

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
        if out.len() == before {
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

fn judge_agent(agent: &str, evs: &[(u64, &BayeuxEvent)], out: &mut Vec<Finding>) {
    let mut handshook = false;
    let mut subscribed = false;
    // Advice that must be followed: (seq, reconnect, interval_ms).
    let mut pending: Option<(u64, String, u64)> = None;
    for (seq, ev) in evs {
        match ev {
            BayeuxEvent::Handshake { successful, error } => {
                if *successful {
                    handshook = true;
                    subscribed = false;
                    if pending.as_ref().is_some_and(|p| p.1 == "handshake") {
                        // A new handshake after the advice: followed, provided it was
                        // marked (FollowedAdvice) or this is the handshake it asked for.
                        pending = None;
                    }
                } else {
                    out.push(fail(
                        agent,
                        "handshake failed",
                        "a successful /meta/handshake",
                        error.clone().unwrap_or_else(|| "successful: false".into()),
                        vec![*seq],
                    ));
                }
            }
            BayeuxEvent::Subscribe {
                channel,
                successful,
                error,
            } => {
                if *successful {
                    if channel == "/v2/me/chats" {
                        subscribed = true;
                    }
                } else {
                    out.push(fail(
                        agent,
                        &format!("subscribe to {channel} failed"),
                        "a successful /meta/subscribe",
                        error.clone().unwrap_or_else(|| "successful: false".into()),
                        vec![*seq],
                    ));
                }
            }
            BayeuxEvent::Connect {
                successful,
                advice,
                error,
            } => {
                let reconnect = advice
                    .as_ref()
                    .and_then(|a| a.get("reconnect"))
                    .and_then(Value::as_str);
                let interval = advice
                    .as_ref()
                    .and_then(|a| a.get("interval"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if !successful && reconnect.is_none() {
                    out.push(fail(
                        agent,
                        "connect failed without advice",
                        "a successful /meta/connect, or advice on how to reconnect",
                        error.clone().unwrap_or_else(|| "successful: false".into()),
                        vec![*seq],
                    ));
                }
                if let Some(r) = reconnect
                    && (r == "handshake" || !successful)
                {
                    pending = Some((*seq, r.to_string(), interval));
                }
            }
            BayeuxEvent::FollowedAdvice {
                reconnect,
                interval_ms,
            } => {
                if let Some((aseq, want, interval)) = &pending {
                    if reconnect != want {
                        out.push(Finding::error(
                            ReqId::Ntf02,
                            format!(
                                "{agent}: the harness followed reconnect {reconnect:?} where the server advised {want:?} (seq {aseq}, {seq})"
                            ),
                        ));
                    } else if interval_ms < interval {
                        out.push(Finding::error(
                            ReqId::Ntf02,
                            format!(
                                "{agent}: the harness waited {interval_ms} ms where the server advised {interval} ms (seq {aseq}, {seq})"
                            ),
                        ));
                    }
                    if want != "handshake" {
                        pending = None;
                    }
                }
            }
            BayeuxEvent::Garbage { error, excerpt } => out.push(fail(
                agent,
                "the server sent something that is not a Bayeux message",
                "a JSON array of Bayeux messages",
                format!("{error}: {excerpt}"),
                vec![*seq],
            )),
            BayeuxEvent::Closed { .. } => {
                if pending.as_ref().is_some_and(|p| p.1 == "none") {
                    pending = None;
                }
            }
        }
    }
    if !handshook {
        if !out
            .iter()
            .any(|f| f.reason.starts_with(&format!("{agent}:")))
        {
            out.push(fail(
                agent,
                "no successful handshake",
                "a successful /meta/handshake",
                "none recorded".into(),
                evs.iter().map(|(s, _)| *s).take(3).collect(),
            ));
        }
    } else if !subscribed {
        out.push(fail(
            agent,
            "no successful subscribe to /v2/me/chats after the last handshake",
            "a successful /meta/subscribe to /v2/me/chats",
            "none recorded".into(),
            evs.iter().map(|(s, _)| *s).rev().take(3).collect(),
        ));
    }
    if let Some((seq, r, _)) = pending
        && r == "handshake"
    {
        out.push(Finding::error(
            ReqId::Ntf02,
            format!("{agent}: the server advised reconnect \"handshake\" (seq {seq}) and the harness never handshook again"),
        ));
    }
}
