//! The normalized transcript of a history: one line per event, volatile values replaced
//! by stable placeholders, time shown only as ordering. Used for insta snapshots and
//! `run --snapshot-dir`.

use crate::history::{Actor, BayeuxEvent, Body, ChatRef, EventKind, History, Step, notes};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;

/// JSON keys whose values are timestamps (replaced by `<time>`).
const TIME_KEYS: &[&str] = &[
    "timestamp",
    "time",
    "startedAt",
    "startDate",
    "endDate",
    "lastModified",
    "createdAt",
    "date",
];

/// Replaces volatile values by numbered placeholders, the same value always by the same
/// placeholder, numbered in order of first appearance.
#[derive(Default)]
struct Norm {
    /// class → (value → number)
    maps: HashMap<&'static str, HashMap<String, usize>>,
    /// Known ids to replace inside any string, longest first: (value, placeholder).
    ids: Vec<(String, String)>,
}

impl Norm {
    fn placeholder(&mut self, class: &'static str, value: &str) -> String {
        let m = self.maps.entry(class).or_default();
        let n = m.len() + 1;
        let n = *m.entry(value.to_string()).or_insert(n);
        format!("<{class}-{n}>")
    }

    /// Registers an id that may also appear inside other strings (paths, uris).
    fn id(&mut self, class: &'static str, value: &str) -> String {
        let p = self.placeholder(class, value);
        if value.len() >= 3 && !self.ids.iter().any(|(v, _)| v == value) {
            self.ids.push((value.to_string(), p.clone()));
            self.ids.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        }
        p
    }

    /// A string with known ids and the target authority replaced.
    fn text(&self, s: &str) -> String {
        let mut out = authority(s);
        for (v, p) in &self.ids {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), p);
            }
        }
        out
    }

    /// A JSON value with volatile fields replaced (keys kept, order kept).
    fn value(&mut self, v: &Value, key: Option<&str>) -> Value {
        let class = key.and_then(|k| match k {
            "referenceId" => Some("ref"),
            "clientId" => Some("client"),
            "participantId" => Some("participant"),
            "chatId" | "customerChatId" => Some("chat"),
            "id" => Some("id"),
            _ => None,
        });
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.value(x, Some(k))))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x, key)).collect()),
            _ if key.is_some_and(|k| TIME_KEYS.contains(&k)) => Value::from("<time>"),
            // Only string values are tokens: `customerSessionEnded: true` stays true.
            Value::String(_)
                if key.is_some_and(|k| {
                    let k = k.to_ascii_lowercase();
                    k.contains("token") || k.contains("csrf") || k.contains("session")
                }) =>
            {
                Value::from("<token>")
            }
            Value::String(s) => {
                if let Some((_, p)) = self.ids.iter().find(|(id, _)| id == s) {
                    return Value::from(p.clone());
                }
                match class {
                    Some("id") | None => Value::from(self.text(s)),
                    // Registered as ids, so they are also replaced inside later messages
                    // (e.g. "402::Unknown client <client-1>").
                    Some(c) => Value::from(self.id(c, s)),
                }
            }
            Value::Number(n) => match class {
                Some("ref") | Some("client") | Some("participant") => {
                    Value::from(self.placeholder(class.unwrap_or("ref"), &n.to_string()))
                }
                _ => v.clone(),
            },
            _ => v.clone(),
        }
    }

    fn body(&mut self, b: &Body) -> String {
        match b {
            Body::Empty => "-".into(),
            Body::Json(v) => self.value(v, None).to_string(),
            Body::Raw(r) => format!("raw {}", Value::from(self.text(r))),
        }
    }
}

/// Replaces the authority of every `scheme://host:port` in `s` with `<target>`.
fn authority(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c == '/' || c == '"' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str("<target>");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn actor(a: &Actor) -> String {
    match a {
        Actor::Agent(n) => format!("agent {n}"),
        Actor::Customer => "customer".into(),
        Actor::Provider => "provider".into(),
    }
}

fn step_line(n: &mut Norm, st: &Step) -> String {
    match st {
        Step::OfferChat { chat, agent } => format!("offer_chat {chat} to {agent}"),
        Step::AgentPost {
            chat,
            by_other_agent,
            auth,
            body,
        } => {
            let chat = match chat {
                ChatRef::Alias(a) => a.clone(),
                ChatRef::Unknown(id) => n.id("unknown", id),
            };
            format!(
                "agent_post {chat}{}{} {}",
                if *by_other_agent {
                    " by_other_agent"
                } else {
                    ""
                },
                match auth {
                    crate::history::AuthVariant::Normal => String::new(),
                    a => format!(
                        " auth={}",
                        serde_json::to_value(a)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    ),
                },
                n.body(body)
            )
        }
        Step::CustomerSends { chat, text } => {
            format!("customer_sends {chat} {}", Value::from(text.as_str()))
        }
        Step::CustomerLeaves { chat } => format!("customer_leaves {chat}"),
        Step::Inspect { chat } => format!("inspect {chat}"),
        Step::Settle => "settle".into(),
        Step::Concurrent { steps } => {
            let inner: Vec<String> = steps.iter().map(|s| step_line(n, s)).collect();
            format!("concurrent [{}]", inner.join("; "))
        }
    }
}

/// The normalized transcript of `history`: one line per event in recording order (the
/// parts of a Concurrent step sorted by part; notifications grouped at the end per chat
/// and agent, each group in arrival order) —
/// requests (`> METHOD path body`), responses (`< status body`), notifications
/// (`! agent channel data`), binds, inspects, quiet marks, Bayeux events and harness
/// errors. Chat ids become `<chat-1>`…, customer chat ids `<customer-1>`…, referenceIds
/// `<ref-1>`…, clientIds `<client-1>`…, participant ids `<participant-1>`…,
/// timestamps `<time>`, tokens `<token>`, the target's `host:port` `<target>`. Times,
/// durations and request numbers are not shown. Deterministic.
pub fn transcript(history: &History) -> String {
    let mut n = Norm::default();
    // Pass 1: bound ids get their numbers in order of binding, so a notification arriving
    // before its bind is still named consistently.
    for e in &history.events {
        if let EventKind::Bind {
            chat_id,
            customer_chat_id,
            ..
        } = &e.kind
        {
            n.id("chat", chat_id);
            if let Some(c) = customer_chat_id {
                n.id("customer", c);
            }
        }
    }
    // Requests by id, so answers find theirs without a scan (linear in the history).
    let mut requests: HashMap<u64, (&Actor, &str, &str)> = HashMap::new();
    for e in &history.events {
        if let EventKind::Request {
            req,
            actor: a,
            method,
            path,
            ..
        } = &e.kind
        {
            requests.entry(*req).or_insert((a, method, path));
        }
    }
    // Which inner part of a Concurrent step each request belongs to.
    let parts: HashMap<u64, usize> = history
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request {
                req, part: Some(p), ..
            } => Some((*req, *p)),
            _ => None,
        })
        .collect();
    let mut out = String::new();
    // Lines of the parts of a Concurrent step, emitted sorted by part when the step ends
    // (their arrival order is a race, not behaviour).
    let mut concurrent: Vec<(usize, usize, String)> = Vec::new();
    // Notifications are listed after the steps, per chat and agent in arrival order:
    // when a notification arrives relative to an HTTP answer is a race; the order of
    // one agent's notifications about one chat is behaviour (SPEC §2).
    let mut notes: Vec<&crate::history::Event> = Vec::new();
    let flush = |out: &mut String, concurrent: &mut Vec<(usize, usize, String)>| {
        concurrent.sort();
        for (_, _, l) in concurrent.drain(..) {
            let _ = writeln!(out, "{l}");
        }
    };
    for e in &history.events {
        if matches!(e.kind, EventKind::Notification { .. }) {
            notes.push(e);
            continue;
        }
        if matches!(e.kind, EventKind::Step { .. }) {
            flush(&mut out, &mut concurrent);
        }
        let part = match &e.kind {
            EventKind::Request { req, .. }
            | EventKind::Response { req, .. }
            | EventKind::NoResponse { req, .. } => parts.get(req).copied(),
            _ => None,
        };
        let mut line = match &e.kind {
            EventKind::Case {
                id,
                seed,
                exercises,
            } => {
                format!(
                    "case {id} seed {seed} exercises {}",
                    crate::spec::join(exercises, ",")
                )
            }
            EventKind::Step { index, step } => format!("step {index}: {}", step_line(&mut n, step)),
            EventKind::Bind {
                alias,
                agent,
                chat_id,
                customer_chat_id,
            } => {
                let c = n.id("chat", chat_id);
                match customer_chat_id {
                    Some(cc) => format!(
                        "bind {alias} = {c} (agent {agent}, customer {})",
                        n.id("customer", cc)
                    ),
                    None => format!("bind {alias} = {c} (agent {agent})"),
                }
            }
            EventKind::Request {
                actor: a,
                method,
                path,
                body,
                part,
                ..
            } => format!(
                "{} > {method} {}{} {}",
                actor(a),
                n.text(path),
                part.map(|p| format!(" [part {p}]")).unwrap_or_default(),
                n.body(body)
            ),
            EventKind::Response {
                req, status, body, ..
            } => {
                let who = requests
                    .get(req)
                    .map(|(a, method, path)| format!("{} < ({method} {})", actor(a), n.text(path)))
                    .unwrap_or_else(|| "? <".into());
                format!("{who} {status} {}", n.body(body))
            }
            EventKind::NoResponse {
                req, kind, message, ..
            } => {
                let who = requests
                    .get(req)
                    .map(|(a, method, path)| format!("{} < ({method} {})", actor(a), n.text(path)))
                    .unwrap_or_else(|| "? <".into());
                format!("{who} no answer: {kind:?} {}", n.text(message))
            }
            EventKind::Session { agent, csrf } => format!("session agent {agent} csrf={csrf}"),
            EventKind::Notification {
                agent,
                channel,
                data,
            } => format!("agent {agent} ! {channel} {}", n.value(data, None)),
            EventKind::Bayeux { agent, event } => {
                let ev = match event {
                    BayeuxEvent::Handshake { successful, error } => format!(
                        "handshake successful={successful}{}",
                        error
                            .as_ref()
                            .map(|e| format!(" error={}", n.text(e)))
                            .unwrap_or_default()
                    ),
                    BayeuxEvent::Subscribe {
                        channel,
                        successful,
                        error,
                    } => format!(
                        "subscribe {channel} successful={successful}{}",
                        error
                            .as_ref()
                            .map(|e| format!(" error={}", n.text(e)))
                            .unwrap_or_default()
                    ),
                    BayeuxEvent::Connect {
                        successful,
                        advice,
                        error,
                    } => format!(
                        "connect successful={successful}{}{}",
                        advice
                            .as_ref()
                            .map(|a| format!(" advice={}", n.value(a, None)))
                            .unwrap_or_default(),
                        error
                            .as_ref()
                            .map(|e| format!(" error={}", n.text(e)))
                            .unwrap_or_default()
                    ),
                    BayeuxEvent::FollowedAdvice { reconnect, .. } => {
                        format!("followed advice reconnect={reconnect}")
                    }
                    BayeuxEvent::Garbage { error, excerpt } => {
                        format!(
                            "garbage {} excerpt {}",
                            n.text(error),
                            Value::from(n.text(excerpt))
                        )
                    }
                    BayeuxEvent::BadMessage { error, excerpt } => {
                        format!(
                            "bad message {} excerpt {}",
                            n.text(error),
                            Value::from(n.text(excerpt))
                        )
                    }
                    BayeuxEvent::Closed { reason } => format!("closed {}", n.text(reason)),
                };
                format!("bayeux {agent} {ev}")
            }
            EventKind::Inspect {
                alias,
                result,
                reason,
            } => match result {
                Some(r) => format!("inspect {alias} = {}", n.value(r, None)),
                None => format!(
                    "inspect {alias} unavailable: {}",
                    reason.as_deref().map(|r| n.text(r)).unwrap_or_default()
                ),
            },
            EventKind::Quiet { reached_quiet, .. } => {
                if *reached_quiet {
                    "quiet".to_string()
                } else {
                    "deadline reached before quiet".to_string()
                }
            }
            EventKind::HarnessError { message } => format!("harness error: {}", n.text(message)),
            EventKind::NotObservable { message } => {
                format!("not observable: {}", n.text(message))
            }
        };
        if !e.notes.is_empty() {
            let notes: Vec<String> = e.notes.iter().map(|t| n.text(t)).collect();
            line.push_str(&format!(" [read: {}]", notes.join("; ")));
        }
        match part {
            Some(p) => {
                let order = usize::from(!matches!(e.kind, EventKind::Request { .. }));
                concurrent.push((p, order, line));
            }
            None => {
                flush(&mut out, &mut concurrent);
                let _ = writeln!(out, "{line}");
            }
        }
    }
    flush(&mut out, &mut concurrent);
    // Group notifications by (chat placeholder, agent), groups in placeholder order.
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for e in notes {
        let EventKind::Notification {
            agent,
            channel,
            data,
        } = &e.kind
        else {
            continue;
        };
        let chat = notes::chat_id(data)
            .or_else(|| notes::chat_path_field(data))
            .or_else(|| notes::chat_uri_field(data))
            .and_then(Value::as_str)
            .map(|c| n.text(c))
            .unwrap_or_else(|| "?".into());
        let chat = chat.rsplit('/').next().unwrap_or(chat.as_str()).to_string();
        let line = format!("agent {agent} ! {channel} {}", n.value(data, None));
        match groups.iter_mut().find(|(c, a, _)| *c == chat && a == agent) {
            Some(g) => g.2.push(line),
            None => groups.push((chat, agent.clone(), vec![line])),
        }
    }
    groups.sort_by(|a, b| (a.0.as_str(), a.1.as_str()).cmp(&(b.0.as_str(), b.1.as_str())));
    for (chat, agent, lines) in groups {
        let _ = writeln!(out, "notifications about {chat} to {agent}:");
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{AuthVariant, Event, NoResponseKind};
    use serde_json::json;

    fn ev(seq: u64, t_us: u64, kind: EventKind) -> Event {
        Event {
            seq,
            t_us,
            stream: "runner".into(),
            stream_seq: seq,
            in_step: None,
            kind,
            notes: Vec::new(),
        }
    }

    /// A history with every other kind of event; `v` varies the volatile values only.
    fn varied(v: &str, t: u64) -> History {
        let kinds = vec![
            EventKind::Session {
                agent: "a1".into(),
                csrf: true,
            },
            EventKind::Bayeux {
                agent: "a1".into(),
                event: BayeuxEvent::Connect {
                    successful: false,
                    advice: Some(
                        json!({"reconnect":"handshake","interval":0,"clientId":format!("cl-{v}")}),
                    ),
                    error: Some(format!(
                        "402::Unknown client cl-{v} at http://127.0.0.1:{t}/x"
                    )),
                },
            },
            EventKind::Step {
                index: 0,
                step: Step::Concurrent {
                    steps: vec![Step::AgentPost {
                        chat: ChatRef::Unknown(format!("nochat-{v}")),
                        by_other_agent: true,
                        auth: AuthVariant::NoCsrf,
                        body: Body::Raw("{".into()),
                    }],
                },
            },
            EventKind::Request {
                req: t,
                actor: Actor::Agent("a1".into()),
                method: "POST".into(),
                path: format!("/api/v2/me/chats/nochat-{v}"),
                headers: vec![],
                body: Body::Raw("{".into()),
                part: Some(0),
            },
            EventKind::NoResponse {
                req: t,
                kind: NoResponseKind::Timeout,
                message: format!("timed out after {t} ms"),
                elapsed_us: t,
            },
            EventKind::Inspect {
                alias: "c1".into(),
                result: Some(json!({"queue":null,"csrfToken":format!("tok-{v}")})),
                reason: None,
            },
            EventKind::Quiet {
                waited_ms: t,
                quiet_ms: 1000,
                reached_quiet: false,
            },
            EventKind::HarnessError {
                message: "provider answered 500".into(),
            },
        ];
        History {
            events: kinds
                .into_iter()
                .enumerate()
                .map(|(i, k)| ev(i as u64, t + i as u64, k))
                .collect(),
        }
    }

    #[test]
    fn every_event_kind_has_a_line_and_volatile_values_do_not_show() {
        let a = transcript(&varied("x1", 1000));
        let b = transcript(&varied("yy22", 2000));
        assert_eq!(a.lines().count(), 8, "{a}");
        assert!(
            a.contains("<unknown-1>") && a.contains("<client-1>") && a.contains("<target>"),
            "{a}"
        );
        assert!(a.contains("\"csrfToken\":\"<token>\""), "{a}");
        assert!(
            a.contains("[part 0]") && a.contains("deadline reached before quiet"),
            "{a}"
        );
        assert!(!a.contains("x1"), "{a}");
        // Times and request numbers are not shown, except where a message quotes them.
        let strip = |s: &str| s.replace("1000", "T").replace("2000", "T");
        assert_eq!(strip(&a), strip(&b));
    }

    #[test]
    fn authorities_are_replaced() {
        assert_eq!(
            authority("see http://127.0.0.1:4711/api/v2/chats/x and https://h"),
            "see http://<target>/api/v2/chats/x and https://<target>"
        );
    }
}
