//! Following observed traffic chat by chat: exchanges (one HTTP request and its answer,
//! redacted) → per-chat case histories → the checker's verdicts.
//!
//! An agent `POST /api/v2/me/chats/{id}` becomes a step (`Step::AgentPost`) with its
//! request and answer; the `/v2/me/chats` messages in the answers of
//! `/api/v2/notifications` (Bayeux) become notifications; the first `Invited` notification
//! of a chat binds it (`Step::OfferChat` + `Bind`, alias `c1`, owner = the agent whose
//! Bayeux session delivered it). Chats whose `Invited` was never observed (they began
//! before the observation) are not judged.

use crate::check::{self, CheckConfig, Finding, Verdict};
use crate::history::{Actor, AuthVariant, Body, ChatRef, Event, EventKind, History, Step};
use crate::history::{notes, notification_chat_id};
use crate::report::CaseReport;
use crate::runner::exec::SchemaShapes;
use crate::schema::Schemas;
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The Bayeux channel of chat notifications.
pub(crate) const CHATS_CHANNEL: &str = "/v2/me/chats";

/// The alias every observed chat gets in its case.
const ALIAS: &str = "c1";

/// How an observed request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Answer {
    /// The target answered (headers redacted).
    Http {
        /// HTTP status.
        status: u16,
        /// Response headers, secret values redacted.
        headers: Vec<(String, String)>,
        /// The body (`Json` when it parsed).
        body: Body,
    },
    /// No answer (upstream unreachable, connection lost, aborted in the browser).
    None {
        /// Why, in words.
        message: String,
    },
}

/// One observed HTTP exchange, as recorded (secrets already redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Order of observation, from 1.
    pub id: u64,
    /// The agent session it belongs to (Basic user, or a label for a cookie-only session).
    pub agent: String,
    /// HTTP method.
    pub method: String,
    /// Path and query, relative to the target base URL.
    pub path: String,
    /// Request headers, secret values redacted.
    pub req_headers: Vec<(String, String)>,
    /// Request body.
    pub req_body: Body,
    /// Wall clock of the start, microseconds since the Unix epoch (HAR `startedDateTime`).
    pub started_unix_us: u64,
    /// Start, microseconds since the observation began.
    pub start_us: u64,
    /// End of the answer, microseconds since the observation began.
    pub end_us: u64,
    /// The answer.
    pub answer: Answer,
}

/// A body as recorded: JSON when it parses, raw text otherwise; larger than `cap`: a
/// marker (the body still passed through unchanged).
pub(crate) fn record_body(bytes: &[u8], total_len: usize, cap: usize) -> Body {
    if total_len > cap {
        return Body::Raw(format!(
            "<{total_len} bytes: over the {cap}-byte recording cap, not recorded>"
        ));
    }
    if bytes.is_empty() {
        return Body::Empty;
    }
    // The tolerant reader: every text JSON's grammar allows (a lone-surrogate escape, a
    // number beyond a double) is Json, as the clients read it.
    match crate::history::json::parse_value(bytes) {
        Ok(v) => Body::Json(v),
        Err(_) => Body::Raw(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// The messages of a Bayeux answer that are readable on their own when the whole answer
/// is not JSON (one bad element, a cut): each element of its top-level array read alone.
fn readable_messages(text: &[u8]) -> Vec<Value> {
    let Some(arr) = crate::history::json::split_array(text) else {
        return Vec::new();
    };
    arr.parts
        .iter()
        .filter_map(|(_, b)| crate::history::json::parse_value(b).ok())
        .filter(Value::is_object)
        .collect()
}

fn body_len(b: &Body) -> usize {
    match b {
        Body::Empty => 0,
        Body::Raw(s) => s.len(),
        Body::Json(v) => v.to_string().len(),
    }
}

#[derive(Debug, Clone)]
enum Item {
    /// An agent request on the chat: index into `exchanges`.
    Post(usize),
    /// A notification about the chat: (exchange index, position in its answer, agent,
    /// channel, data).
    Note {
        ex: usize,
        agent: String,
        channel: String,
        data: Value,
    },
}

#[derive(Debug, Clone)]
struct Chat {
    id: String,
    owner: String,
    items: Vec<Item>,
    last_us: u64,
    /// Items judged at the last judgement (re-judge only when more came).
    judged_items: usize,
    /// Violation keys already printed.
    printed: BTreeSet<String>,
    findings: Vec<Finding>,
}

/// Where a history event came from: the exchange and its interval.
#[derive(Debug, Clone, Copy)]
struct Origin {
    ex: u64,
    start_us: u64,
    end_us: u64,
    note: bool,
}

/// Follows observed exchanges, builds one case history per chat and judges it.
pub(crate) struct Observer {
    cfg: CheckConfig,
    schemas: &'static Schemas,
    exchanges: Vec<Exchange>,
    /// agent → the target announced a CSRF token to it.
    sessions: BTreeMap<String, bool>,
    chats: BTreeMap<String, Chat>,
    order: Vec<String>,
    recorded_bytes: usize,
    max_record_bytes: usize,
    /// Orders come from intervals that may overlap (a HAR file): a Fail that rests on
    /// the order of two overlapping exchanges is indeterminate (Skip).
    intervals_only: bool,
    /// Run-level problems (the recording cap, …).
    pub errors: Vec<String>,
    /// Chat ids seen in notifications or requests but never `Invited` while observed.
    pub unjudged: BTreeSet<String>,
    /// Items about chats not (yet) invited, by chat id.
    orphans: BTreeMap<String, Vec<Item>>,
}

impl Observer {
    /// A new observer. `max_record_bytes` caps the recording (bodies); past it, traffic
    /// still passes but is no longer recorded or judged (a run-level error says so).
    pub fn new(cfg: CheckConfig, schemas: &'static Schemas, max_record_bytes: usize) -> Self {
        Observer {
            cfg,
            schemas,
            exchanges: Vec::new(),
            sessions: BTreeMap::new(),
            chats: BTreeMap::new(),
            order: Vec::new(),
            recorded_bytes: 0,
            max_record_bytes,
            intervals_only: false,
            errors: Vec::new(),
            unjudged: BTreeSet::new(),
            orphans: BTreeMap::new(),
        }
    }

    /// Marks the timings as coming from a recording whose intervals may overlap (HAR).
    pub fn intervals_only(mut self) -> Self {
        self.intervals_only = true;
        self
    }

    /// The exchanges recorded so far.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// The check configuration.
    pub fn check_config(&self) -> CheckConfig {
        self.cfg
    }

    /// Takes one exchange into the recording and follows the chats it touches.
    pub fn ingest(&mut self, ex: Exchange) {
        if self.recorded_bytes > self.max_record_bytes {
            return;
        }
        let size = body_len(&ex.req_body)
            + match &ex.answer {
                Answer::Http { body, .. } => body_len(body),
                Answer::None { message } => message.len(),
            }
            + ex.path.len()
            + 256;
        self.recorded_bytes += size;
        if self.recorded_bytes > self.max_record_bytes {
            self.errors.push(format!(
                "the recording reached its cap of {} bytes: later traffic passed through but was not recorded or judged",
                self.max_record_bytes
            ));
            return;
        }
        let idx = self.exchanges.len();
        let path = ex.path.split('?').next().unwrap_or("").to_string();
        // A session: GET /api/v2/me answered 2xx; CSRF when it announced the header.
        if ex.method == "GET"
            && path == "/api/v2/me"
            && let Answer::Http {
                status: 200..=299,
                headers,
                ..
            } = &ex.answer
        {
            let csrf = headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("x-csrf-header"));
            self.sessions.insert(ex.agent.clone(), csrf);
        }
        let touched = touched_by(&ex, &path, idx);
        let end = ex.end_us;
        self.exchanges.push(ex);
        for (id, item) in touched {
            self.file_item(id, item, end);
        }
    }

    /// Files `item` (of an exchange that ended at `end`) under chat `id`: a chat is
    /// followed from its Invited on; items of a chat not followed yet are kept a while.
    fn file_item(&mut self, id: String, item: Item, end: u64) {
        if !self.chats.contains_key(&id) {
            let invited =
                matches!(&item, Item::Note { data, .. } if notes::is_invited_status(data));
            if !invited {
                // Kept a while: the Invited may be recorded after an answer that
                // reacted to it (the proxy records each exchange when it ends).
                let o = self.orphans.entry(id.clone()).or_default();
                if o.len() < 64 {
                    o.push(item);
                }
                self.unjudged.insert(id);
                return;
            }
            let owner = match &item {
                Item::Note { agent, .. } => agent.clone(),
                Item::Post(_) => String::new(),
            };
            self.unjudged.remove(&id);
            self.order.push(id.clone());
            self.chats.insert(
                id.clone(),
                Chat {
                    id: id.clone(),
                    owner,
                    items: Vec::new(),
                    last_us: end,
                    judged_items: 0,
                    printed: BTreeSet::new(),
                    findings: Vec::new(),
                },
            );
        }
        if let Some(c) = self.chats.get_mut(&id) {
            if let Some(early) = self.orphans.remove(&id) {
                c.items.extend(early);
            }
            c.items.push(item);
            c.last_us = c.last_us.max(end);
        }
    }

    /// Judges every chat with something new whose last event is at least `settle_us`
    /// before `now_us` (so an absence is established); returns the violation lines not
    /// shown before, one per new Fail.
    pub fn judge_settled(&mut self, now_us: u64, settle_us: u64) -> Vec<String> {
        let ids: Vec<String> = self
            .order
            .iter()
            .filter(|id| {
                self.chats.get(*id).is_some_and(|c| {
                    c.items.len() > c.judged_items && c.last_us + settle_us <= now_us
                })
            })
            .cloned()
            .collect();
        let mut lines = Vec::new();
        for id in ids {
            lines.extend(self.judge_chat(&id, now_us));
        }
        lines
    }

    /// Judges every chat now (the end of the observation); returns the new violation
    /// lines.
    pub fn judge_all(&mut self, now_us: u64) -> Vec<String> {
        let ids = self.order.clone();
        let mut lines = Vec::new();
        for id in ids {
            lines.extend(self.judge_chat(&id, now_us));
        }
        lines
    }

    fn judge_chat(&mut self, id: &str, now_us: u64) -> Vec<String> {
        let Some(chat) = self.chats.get(id) else {
            return vec![];
        };
        let (history, origins) = self.history_of(chat, now_us);
        let shapes = SchemaShapes(self.schemas);
        let mut findings = check::judge(&history, &self.cfg, &shapes);
        if self.intervals_only {
            indeterminate(&mut findings, &history, &origins);
        }
        let mut lines = Vec::new();
        let Some(chat) = self.chats.get_mut(id) else {
            return lines;
        };
        for f in findings.iter().filter(|f| f.verdict == Verdict::Fail) {
            let (expected, observed) = f
                .witness
                .as_ref()
                .map(|w| (w.expected.as_str(), w.observed.as_str()))
                .unwrap_or((f.reason.as_str(), ""));
            let key = format!("{}|{expected}|{observed}", f.req);
            if chat.printed.insert(key) {
                lines.push(violation_line(f.req, id, expected, observed));
            }
        }
        chat.findings = findings;
        chat.judged_items = chat.items.len();
        lines
    }

    /// One case report per judged chat (history kept for failing and erroring ones).
    pub fn case_reports(&self) -> Vec<CaseReport> {
        let mut out = Vec::new();
        for id in &self.order {
            let Some(c) = self.chats.get(id) else {
                continue;
            };
            let (history, _) = self.history_of(c, c.last_us);
            let verdict = check::fold(c.findings.iter().map(|f| &f.verdict));
            let keep = matches!(verdict, Verdict::Fail | Verdict::Error);
            let duration = c
                .items
                .first()
                .map(|i| c.last_us.saturating_sub(self.item_t(i)))
                .unwrap_or(0);
            out.push(CaseReport {
                id: format!("chat-{id}"),
                seed: 0,
                exercises: Vec::new(),
                steps: self.steps_of(c),
                findings: c.findings.clone(),
                verdict,
                history: keep.then_some(history),
                original_steps: None,
                duration_ms: duration / 1000,
            });
        }
        out
    }

    fn item_t(&self, i: &Item) -> u64 {
        match i {
            Item::Post(x) => self.exchanges[*x].start_us,
            Item::Note { ex, .. } => self.exchanges[*ex].end_us,
        }
    }

    /// The agent's operations as performed, after a provisioning step in place of how
    /// the chat arrived: a case `gws-conform replay` can run.
    fn steps_of(&self, c: &Chat) -> Vec<Step> {
        let mut steps = vec![Step::OfferChat {
            chat: ALIAS.into(),
            agent: c.owner.clone(),
        }];
        for i in &c.items {
            if let Item::Post(x) = i {
                steps.push(self.post_step(c, &self.exchanges[*x]));
            }
        }
        steps
    }

    fn post_step(&self, c: &Chat, ex: &Exchange) -> Step {
        let has = |name: &str| {
            ex.req_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let csrf_session = self.sessions.get(&ex.agent).copied().unwrap_or(false);
        let has_csrf = ex.req_headers.iter().any(|(n, _)| {
            let n = n.to_ascii_lowercase();
            (n.contains("csrf") || n.contains("xsrf")) && n != "x-csrf-header"
        });
        let auth = match (has("authorization"), has("cookie")) {
            (false, false) => AuthVariant::NoCredentials,
            (false, true) => AuthVariant::CookieOnly,
            _ if csrf_session && !has_csrf => AuthVariant::NoCsrf,
            _ => AuthVariant::Normal,
        };
        Step::AgentPost {
            chat: ChatRef::Alias(ALIAS.into()),
            by_other_agent: ex.agent != c.owner,
            auth,
            body: ex.req_body.clone(),
        }
    }

    /// The case history of a chat, and where each event came from.
    fn history_of(&self, c: &Chat, now_us: u64) -> (History, Vec<Option<Origin>>) {
        // (t_us, order, stream, step index for steps/requests/responses, kind, origin)
        type Raw = (u64, usize, String, Option<usize>, EventKind, Option<Origin>);
        let mut raw: Vec<Raw> = Vec::new();
        let mut n = 0usize;
        let mut next = || {
            n += 1;
            n
        };
        let mut agents: BTreeSet<&str> = BTreeSet::new();
        agents.insert(&c.owner);
        for i in &c.items {
            if let Item::Post(x) = i {
                agents.insert(&self.exchanges[*x].agent);
            }
        }
        raw.push((
            0,
            next(),
            "runner".into(),
            None,
            EventKind::Case {
                id: format!("chat-{}", c.id),
                seed: 0,
                exercises: Vec::new(),
            },
            None,
        ));
        for a in &agents {
            raw.push((
                0,
                next(),
                "runner".into(),
                None,
                EventKind::Session {
                    agent: a.to_string(),
                    csrf: self.sessions.get(*a).copied().unwrap_or(false),
                },
                None,
            ));
        }
        let mut step = 0usize;
        // The chat was offered when its Invited arrived; an agent cannot act on it
        // before (with a coarse clock, a HAR in milliseconds, a request may seem to).
        let invited_t = c
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Note { ex, data, .. } if notes::chat_state(data) == Some("Invited") => {
                    Some(self.exchanges[*ex].end_us)
                }
                _ => None,
            })
            .min()
            .unwrap_or(0);
        raw.push((
            invited_t,
            next(),
            "runner".into(),
            Some(0),
            EventKind::Step {
                index: 0,
                step: Step::OfferChat {
                    chat: ALIAS.into(),
                    agent: c.owner.clone(),
                },
            },
            None,
        ));
        raw.push((
            invited_t,
            next(),
            "provider".into(),
            Some(0),
            EventKind::Bind {
                alias: ALIAS.into(),
                agent: c.owner.clone(),
                chat_id: c.id.clone(),
                customer_chat_id: None,
            },
            None,
        ));
        let mut last_t = 0;
        // Steps are numbered in the order the requests started.
        let mut items: Vec<&Item> = c.items.iter().collect();
        items.sort_by_key(|i| self.item_t(i));
        for i in items {
            match i {
                Item::Note {
                    ex,
                    agent,
                    channel,
                    data,
                } => {
                    let e = &self.exchanges[*ex];
                    let t = e.end_us;
                    raw.push((
                        t,
                        next(),
                        format!("bayeux:{agent}"),
                        None,
                        EventKind::Notification {
                            agent: agent.clone(),
                            channel: channel.clone(),
                            data: data.clone(),
                        },
                        Some(Origin {
                            ex: e.id,
                            start_us: e.start_us,
                            end_us: e.end_us,
                            note: true,
                        }),
                    ));
                    last_t = last_t.max(t);
                }
                Item::Post(x) => {
                    let e = &self.exchanges[*x];
                    let start_t = e.start_us.max(invited_t);
                    let end_t = e.end_us.max(start_t);
                    step += 1;
                    let origin = Some(Origin {
                        ex: e.id,
                        start_us: e.start_us,
                        end_us: e.end_us,
                        note: false,
                    });
                    raw.push((
                        start_t,
                        next(),
                        "runner".into(),
                        Some(step),
                        EventKind::Step {
                            index: step,
                            step: self.post_step(c, e),
                        },
                        None,
                    ));
                    raw.push((
                        start_t,
                        next(),
                        format!("rest:{}", e.agent),
                        Some(step),
                        EventKind::Request {
                            req: e.id,
                            actor: Actor::Agent(e.agent.clone()),
                            method: e.method.clone(),
                            path: e.path.clone(),
                            headers: e.req_headers.clone(),
                            body: e.req_body.clone(),
                            part: None,
                        },
                        origin,
                    ));
                    let kind = match &e.answer {
                        Answer::Http { status, body, .. } => EventKind::Response {
                            req: e.id,
                            status: *status,
                            body: body.clone(),
                            elapsed_us: e.end_us.saturating_sub(e.start_us),
                        },
                        Answer::None { message } => EventKind::NoResponse {
                            req: e.id,
                            kind: crate::history::NoResponseKind::Io,
                            message: message.clone(),
                            elapsed_us: e.end_us.saturating_sub(e.start_us),
                        },
                    };
                    raw.push((
                        end_t,
                        next(),
                        format!("rest:{}", e.agent),
                        Some(step),
                        kind,
                        origin,
                    ));
                    last_t = last_t.max(end_t);
                }
            }
        }
        let end = now_us.max(last_t);
        raw.push((
            end,
            next(),
            "runner".into(),
            None,
            EventKind::Quiet {
                waited_ms: (end - last_t) / 1000,
                quiet_ms: self.cfg.quiet_window.as_millis() as u64,
                reached_quiet: true,
            },
            None,
        ));
        raw.sort_by_key(|r| (r.0, r.1));
        let mut events = Vec::with_capacity(raw.len());
        let mut origins = Vec::with_capacity(raw.len());
        let mut stream_seqs: BTreeMap<String, u64> = BTreeMap::new();
        let mut current = None;
        for (i, (t, _, stream, in_step, kind, origin)) in raw.into_iter().enumerate() {
            if let EventKind::Step { index, .. } = &kind {
                current = Some(*index);
            }
            let in_step = match &kind {
                EventKind::Notification { .. } => current,
                _ => in_step,
            };
            let ss = stream_seqs.entry(stream.clone()).or_insert(0);
            events.push(Event {
                seq: i as u64,
                t_us: t,
                stream,
                stream_seq: *ss,
                in_step,
                kind,
                notes: Vec::new(),
            });
            *ss += 1;
            origins.push(origin);
        }
        (History { events }, origins)
    }
}

/// The chats exchange `ex` (#`idx`, its path without query `path`) touches: a chat
/// operation POSTed, and the chat notifications its answer delivered.
fn touched_by(ex: &Exchange, path: &str, idx: usize) -> Vec<(String, Item)> {
    let mut touched: Vec<(String, Item)> = Vec::new();
    if ex.method == "POST"
        && let Some(id) = path.strip_prefix("/api/v2/me/chats/")
        && !id.is_empty()
        && !id.contains('/')
    {
        touched.push((percent_decode(id), Item::Post(idx)));
    }
    let salvaged: Vec<Value>;
    let msgs: &[Value] = match &ex.answer {
        _ if !path.starts_with("/api/v2/notifications") => &[],
        Answer::Http {
            status: 200..=299,
            body: Body::Json(Value::Array(msgs)),
            ..
        } => msgs,
        // One unreadable message must not hide the others of its answer.
        Answer::Http {
            status: 200..=299,
            body: Body::Raw(text),
            ..
        } => {
            salvaged = readable_messages(text.as_bytes());
            &salvaged
        }
        _ => &[],
    };
    for m in msgs {
        let channel = notes::message_channel(m).unwrap_or("");
        if channel != CHATS_CHANNEL {
            continue;
        }
        let Some(data) = notes::message_data(m) else {
            continue;
        };
        let Some(id) = notification_chat_id(data) else {
            continue;
        };
        touched.push((
            id.to_string(),
            Item::Note {
                ex: idx,
                agent: ex.agent.clone(),
                channel: channel.to_string(),
                data: data.clone(),
            },
        ));
    }
    touched
}

/// A Fail whose witness rests on the order of two events from different exchanges whose
/// intervals overlap (two notifications, or two answers) cannot be told from the
/// recording: it becomes Skip "indeterminate".
fn indeterminate(findings: &mut [Finding], history: &History, origins: &[Option<Origin>]) {
    for f in findings.iter_mut().filter(|f| f.verdict == Verdict::Fail) {
        let Some(w) = &f.witness else { continue };
        let os: Vec<(u64, Origin)> = w
            .events
            .iter()
            .filter_map(|s| Some((*s, (*origins.get(*s as usize)?)?)))
            .filter(|(s, _)| {
                matches!(
                    history.events.get(*s as usize).map(|e| &e.kind),
                    Some(EventKind::Notification { .. } | EventKind::Response { .. })
                )
            })
            .collect();
        let mut clash = None;
        for (i, (sa, a)) in os.iter().enumerate() {
            for (sb, b) in &os[i + 1..] {
                if a.ex != b.ex
                    && a.note == b.note
                    && a.start_us < b.end_us
                    && b.start_us < a.end_us
                {
                    clash = Some((*sa, *sb));
                }
            }
        }
        if let Some((a, b)) = clash {
            f.reason = format!(
                "indeterminate: the recording cannot tell the order of events {a} and {b} (their exchanges overlap in time); was: {}",
                f.reason
            );
            f.verdict = Verdict::Skip;
            f.witness = None;
        }
    }
}

/// The line printed at once for a violation: requirement id, chat id, what was expected
/// and what came, with control characters of target text escaped.
pub(crate) fn violation_line(req: ReqId, chat: &str, expected: &str, observed: &str) -> String {
    format!(
        "VIOLATION {req} chat {}: expected {}; observed {}",
        escape_control(chat),
        escape_control(expected),
        escape_control(observed)
    )
}

/// `s` with control characters (C0, DEL, C1, bidi overrides) written as `\u{..}` so a
/// hostile target cannot move the cursor or rewrite the terminal line.
pub(crate) fn escape_control(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c as u32, 0x202A..=0x202E | 0x2066..=0x2069);
        if c.is_control() || bidi {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\u{a}");
        assert_eq!(escape_control("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn bodies_over_the_cap_are_not_recorded() {
        assert_eq!(record_body(b"", 0, 10), Body::Empty);
        assert!(matches!(record_body(b"{\"a\":1}", 7, 10), Body::Json(_)));
        assert!(matches!(record_body(b"xx", 20, 10), Body::Raw(s) if s.contains("cap")));
        assert_eq!(
            readable_messages(br#"[{"channel":"/a"}, {oops}, 3, {"channel":"/b"}"#),
            vec![
                serde_json::json!({"channel":"/a"}),
                serde_json::json!({"channel":"/b"})
            ]
        );
        assert!(readable_messages(b"<html>").is_empty());
    }
}
