//! Hand-built run reports for the report tests: pass / fail / skip / error cases, one
//! failing case with a hostile history, and histories that differ only in volatile values.
#![allow(dead_code)]

use gws_conform::check::{Finding, Verdict, Witness};
use gws_conform::history::{Actor, AuthVariant, Body, ChatRef, Event, EventKind, History, Step};
use gws_conform::report::{CaseReport, RunConfig, RunReport, requirement_table};
use gws_conform::spec::ReqId;
use serde_json::json;

/// A password planted in findings and histories; the Scrubber must remove it everywhere.
pub const PASSWORD: &str = "hunter22-Pa$$word";
pub const USER: &str = "agent1";

/// Strings a hostile target might send back.
pub const HOSTILE: &[&str] = &[
    "</script><script>alert(1)</script>",
    "<svg onload=alert(2)>",
    "]]><evil/>",
    "\"quoted\" & 'single' <b>bold</b>",
];

pub fn scrubber() -> gws_conform::history::redact::Scrubber {
    let mut s = gws_conform::history::redact::Scrubber::new();
    s.add_credentials(USER, PASSWORD);
    s
}

/// A small builder of histories with explicit times.
pub struct H {
    events: Vec<Event>,
    t: u64,
    req: u64,
    step: Option<usize>,
}

impl H {
    pub fn new() -> Self {
        H {
            events: vec![],
            t: 0,
            req: 0,
            step: None,
        }
    }
    /// Advance the clock by `ms`.
    pub fn at(mut self, ms: u64) -> Self {
        self.t += ms * 1000;
        self
    }
    pub fn push(mut self, stream: &str, kind: EventKind) -> Self {
        let stream_seq = self.events.iter().filter(|e| e.stream == stream).count() as u64;
        self.events.push(Event {
            seq: self.events.len() as u64,
            t_us: self.t,
            stream: stream.into(),
            stream_seq,
            in_step: self.step,
            kind,
            notes: Vec::new(),
        });
        self.t += 137;
        self
    }
    /// Notes on how the last event's bytes were read ([`Event::notes`]).
    #[allow(dead_code)]
    pub fn noted(mut self, notes: &[&str]) -> Self {
        if let Some(e) = self.events.last_mut() {
            e.notes = notes.iter().map(|n| n.to_string()).collect();
        }
        self
    }
    pub fn step(mut self, index: usize, step: Step) -> Self {
        self.step = Some(index);
        self.push("runner", EventKind::Step { index, step })
    }
    pub fn bind(self, alias: &str, chat_id: &str) -> Self {
        self.push(
            "runner",
            EventKind::Bind {
                alias: alias.into(),
                agent: USER.into(),
                chat_id: chat_id.into(),
                customer_chat_id: Some(format!("cust-{chat_id}")),
            },
        )
    }
    pub fn post(mut self, path: &str, body: serde_json::Value) -> Self {
        self.req += 1;
        let req = self.req;
        self.push(
            &format!("rest:{USER}"),
            EventKind::Request {
                req,
                actor: Actor::Agent(USER.into()),
                method: "POST".into(),
                path: path.into(),
                headers: vec![("Authorization".into(), "<redacted>".into())],
                body: Body::Json(body),
                part: None,
            },
        )
    }
    pub fn answer(self, status: u16, body: serde_json::Value) -> Self {
        let req = self.req;
        self.push(
            &format!("rest:{USER}"),
            EventKind::Response {
                req,
                status,
                body: Body::Json(body),
                elapsed_us: 1234,
            },
        )
    }
    pub fn notify(self, data: serde_json::Value) -> Self {
        self.push(
            &format!("bayeux:{USER}"),
            EventKind::Notification {
                agent: USER.into(),
                channel: "/v2/me/chats".into(),
                data,
            },
        )
    }
    pub fn quiet(self, waited_ms: u64, reached: bool) -> Self {
        self.push(
            "runner",
            EventKind::Quiet {
                waited_ms,
                quiet_ms: 1000,
                reached_quiet: reached,
            },
        )
    }
    pub fn build(self) -> History {
        History {
            events: self.events,
        }
    }
}

impl Default for H {
    fn default() -> Self {
        Self::new()
    }
}

pub fn complete_steps(text: Option<&str>) -> Vec<Step> {
    let mut body = json!({"operationName": "Complete"});
    if let Some(t) = text {
        body["text"] = json!(t);
    }
    vec![
        Step::OfferChat {
            chat: "c1".into(),
            agent: USER.into(),
        },
        Step::AgentPost {
            chat: ChatRef::Alias("c1".into()),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(json!({"operationName": "Accept", "nickname": "Ag'ent"})),
        },
        Step::AgentPost {
            chat: ChatRef::Alias("c1".into()),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(body),
        },
        Step::Settle,
    ]
}

/// The history of a Complete with text on chat `chat_id`, ids and times as given. The
/// text notification arrives AFTER the status change (a CMP-04 failure).
pub fn complete_history(
    chat_id: &str,
    reference: u64,
    client: &str,
    t0: u64,
    text: &str,
) -> History {
    let path = format!("/api/v2/me/chats/{chat_id}");
    H::new()
        .push(
            "runner",
            EventKind::Case {
                id: "cmp04-1".into(),
                seed: 7,
                exercises: vec![ReqId::Cmp04],
            },
        )
        .at(t0)
        .step(0, complete_steps(Some(text))[0].clone())
        .bind("c1", chat_id)
        .notify(json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
            "clientId": client,
            "chat":{"id":chat_id,"state":"Invited","uri":format!("http://127.0.0.1:{}/api/v2/chats/{chat_id}", 40000 + t0)}}))
        .at(3)
        .step(1, complete_steps(Some(text))[1].clone())
        .post(&path, json!({"operationName":"Accept","nickname":"Ag'ent"}))
        .answer(200, json!({"statusCode":0}))
        .at(t0 % 7)
        .step(2, complete_steps(Some(text))[2].clone())
        .post(&path, json!({"operationName":"Complete","text":text}))
        .answer(200, json!({"statusCode":0,"referenceId":reference}))
        .notify(json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange","referenceId":reference,
            "chat":{"id":chat_id,"state":"Completed","uri":format!("http://127.0.0.1:{}/api/v2/chats/{chat_id}", 40000 + t0)}}))
        .at(12)
        .notify(json!({"messageType":"MessageLogUpdated","notificationType":"NewMessages","chatUri":format!("/api/v2/chats/{chat_id}"),
            "messages":[{"index":3,"type":"Text","text":text,"timestamp": 1_700_000_000 + t0,
            "from":{"nickname":"Ag'ent","type":"Agent","participantId":format!("p-{chat_id}")}}]}))
        .step(3, Step::Settle)
        .quiet(1000 + t0, true)
        .build()
}

pub fn case(
    id: &str,
    findings: Vec<Finding>,
    history: Option<History>,
    steps: Vec<Step>,
) -> CaseReport {
    let verdict = gws_conform::check::fold(findings.iter().map(|f| &f.verdict));
    CaseReport {
        id: id.into(),
        seed: 42,
        exercises: findings.iter().map(|f| f.req).collect(),
        steps,
        findings,
        verdict,
        history,
        original_steps: None,
        duration_ms: 12,
    }
}

pub fn witness(expected: &str, observed: &str, events: Vec<u64>) -> Witness {
    Witness {
        expected: expected.into(),
        observed: observed.into(),
        events,
    }
}

/// Cases: pass, SHOULD fail (hostile history), MUST fail (with a planted password),
/// skip, error.
pub fn cases() -> Vec<CaseReport> {
    let hostile_text = HOSTILE.join(" ");
    let hostile_history = complete_history("0000Na9B26EF002X", 55, "client-abc", 20, &hostile_text);
    let n = hostile_history.events.len() as u64;
    vec![
        case(
            "pass-1",
            vec![
                Finding::pass(ReqId::Cmp01, "200 statusCode 0"),
                Finding::pass(ReqId::Cmp02, "one Completed"),
            ],
            None,
            complete_steps(None),
        ),
        case(
            "cmp04-1",
            vec![
                Finding::pass(ReqId::Cmp01, "200 statusCode 0"),
                Finding::fail(
                    ReqId::Cmp04,
                    format!("text arrived after Completed: {}", HOSTILE[0]),
                    witness(
                        &format!(
                            "NewMessages carrying {:?} before the Completed status change",
                            HOSTILE[1]
                        ),
                        &format!(
                            "it arrived 12 ms after the Completed status change {}",
                            HOSTILE[2]
                        ),
                        vec![n - 5, n - 4, n - 3],
                    ),
                ),
            ],
            Some(hostile_history),
            complete_steps(Some(&hostile_text)),
        ),
        case(
            "cmp02/../x 9",
            vec![Finding::fail(
                ReqId::Cmp02,
                format!("no Completed within 5000 ms (login was {USER}:{PASSWORD})"),
                witness(
                    "StatusChange Completed within 5 s",
                    &format!("not received; waited 5000 ms; password {PASSWORD}"),
                    vec![1, 2],
                ),
            )],
            Some(
                H::new()
                    .step(0, Step::Settle)
                    .post("/api/v2/me/chats/abc", json!({"operationName":"Complete"}))
                    .answer(200, json!({"statusCode":0, "note": PASSWORD}))
                    .quiet(5000, false)
                    .build(),
            ),
            complete_steps(None),
        ),
        case(
            "skip-1",
            vec![Finding::skip(
                ReqId::Cmp07,
                "provider inspect unsupported (HTTP 501)",
            )],
            None,
            complete_steps(None),
        ),
        case(
            "error-1",
            vec![Finding::error(
                ReqId::Cmp05,
                "provisioning failed: connection refused",
            )],
            None,
            complete_steps(None),
        ),
    ]
}

pub fn report_of(cases: Vec<CaseReport>, strict: bool) -> RunReport {
    let (requirements, overall) = requirement_table(&cases, strict);
    RunReport {
        format: gws_conform::report::REPORT_FORMAT,
        run_id: "run-20261125-1".into(),
        target: "http://127.0.0.1:8080".into(),
        embedded: true,
        seed: 42,
        harness_version: "0.1.0".into(),
        started_at: "2026-11-25T13:00:00Z".into(),
        duration_ms: 1500,
        config: RunConfig {
            provisioning: gws_conform::client::ProvisioningKind::ProviderState,
            agents: vec![USER.into(), "agent2".into()],
            cases: cases.len() as u32,
            deadline_ms: 5000,
            quiet_window_ms: 1000,
            strict,
            shard: None,
            baseline: None,
            fault: None,
            insecure: false,
        },
        overall,
        exit_code: overall.exit_code(),
        requirements,
        cases,
        errors: vec![],
        groups: None,
        coverage: None,
        unlisted: None,
        interrupted: None,
    }
}

pub fn report() -> RunReport {
    report_of(cases(), false)
}

pub fn verdict_of(r: &RunReport, id: &str) -> Verdict {
    r.requirements.iter().find(|q| q.id == id).unwrap().verdict
}
