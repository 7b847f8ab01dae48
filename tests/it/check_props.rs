//! The checker never panics, whatever the history: random event sequences built from
//! small pools (so ids, aliases and request ids collide often) are judged, and every
//! Fail carries a witness.

use crate::check_common;
use gws_conform::spec::ReqId;

use check_common::TestShapes;
use gws_conform::check::build::{new_messages, status_change};
use gws_conform::check::{CheckConfig, Verdict, judge, judge_session};
use gws_conform::history::{
    Actor, AuthVariant, BayeuxEvent, Body, ChatRef, Event, EventKind, History, NoResponseKind, Step,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn alias() -> impl Strategy<Value = String> {
    prop_oneof![Just("c1".to_string()), Just("c2".to_string())]
}
fn chat_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("X1".to_string()),
        Just("X2".to_string()),
        Just("NOPE".to_string())
    ]
}
fn agent() -> impl Strategy<Value = String> {
    prop_oneof![Just("a1".to_string()), Just("a2".to_string())]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::Empty),
        Just(Body::Raw("{".into())),
        Just(Body::Json(json!({"operationName":"Complete"}))),
        Just(Body::Json(
            json!({"operationName":"Complete","text":"bye","queueName":"Q","saveLAR":true})
        )),
        Just(Body::Json(
            json!({"operationName":"Complete","treatAs":"Loud"})
        )),
        Just(Body::Json(json!({"operationName":"Accept"}))),
        Just(Body::Json(json!({"operationName":"Leave"}))),
        Just(Body::Json(json!({"operationName":"Reject"}))),
        Just(Body::Json(json!({"statusCode":0}))),
        Just(Body::Json(json!({"statusCode":2,"statusMessage":"x"}))),
        Just(Body::Json(json!({"statusCode":"weird","referenceId":3}))),
        Just(Body::Json(json!([1, 2]))),
        Just(Body::Json(json!({"statusCode":0,"referenceId":3}))),
    ]
}

fn chat_ref() -> impl Strategy<Value = ChatRef> {
    prop_oneof![
        alias().prop_map(ChatRef::Alias),
        chat_id().prop_map(ChatRef::Unknown)
    ]
}

fn auth() -> impl Strategy<Value = AuthVariant> {
    prop_oneof![
        Just(AuthVariant::Normal),
        Just(AuthVariant::NoCsrf),
        Just(AuthVariant::NoCredentials),
        Just(AuthVariant::CookieOnly)
    ]
}

fn post() -> impl Strategy<Value = Step> {
    (chat_ref(), any::<bool>(), auth(), body()).prop_map(|(chat, by_other_agent, auth, body)| {
        Step::AgentPost {
            chat,
            by_other_agent,
            auth,
            body,
        }
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (alias(), agent()).prop_map(|(chat, agent)| Step::OfferChat { chat, agent }),
        post(),
        alias().prop_map(|chat| Step::CustomerSends {
            chat,
            text: "hi".into()
        }),
        alias().prop_map(|chat| Step::CustomerLeaves { chat }),
        alias().prop_map(|chat| Step::Inspect { chat }),
        Just(Step::Settle),
        proptest::collection::vec(
            prop_oneof![
                post(),
                alias().prop_map(|chat| Step::CustomerLeaves { chat })
            ],
            0..7
        )
        .prop_map(|steps| Step::Concurrent { steps }),
    ]
}

fn note() -> impl Strategy<Value = Value> {
    (chat_id(), 0..6u8).prop_map(|(id, k)| match k {
        0 => status_change(&id, "Completed"),
        1 => status_change(&id, "Chatting"),
        2 => new_messages(&id, "bye", "Agent"),
        3 => json!({"messageType":"ChatStateChangeMessage","notificationType":"Error","referenceId":3,"chat":{"id":id}}),
        4 => json!({"chat":{"id":5},"chatPath":7}),
        _ => json!(null),
    })
}

fn bayeux() -> impl Strategy<Value = BayeuxEvent> {
    prop_oneof![
        any::<bool>().prop_map(|successful| BayeuxEvent::Handshake {
            successful,
            error: None
        }),
        any::<bool>().prop_map(|successful| BayeuxEvent::Subscribe {
            channel: "/v2/me/chats".into(),
            successful,
            error: None
        }),
        (
            any::<bool>(),
            prop_oneof![Just("retry"), Just("handshake"), Just("none"), Just("?")]
        )
            .prop_map(|(successful, r)| BayeuxEvent::Connect {
                successful,
                advice: Some(json!({"reconnect": r, "interval": 100})),
                error: None
            }),
        (prop_oneof![Just("retry"), Just("handshake")], 0..200u64).prop_map(|(r, i)| {
            BayeuxEvent::FollowedAdvice {
                reconnect: r.into(),
                interval_ms: i,
            }
        }),
        Just(BayeuxEvent::Garbage {
            error: "e".into(),
            excerpt: "x".into()
        }),
        Just(BayeuxEvent::Closed { reason: "r".into() }),
    ]
}

fn kind() -> impl Strategy<Value = EventKind> {
    let req = 1..5u64;
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![Just(ReqId::Cmp01), Just(ReqId::Cmp20), Just(ReqId::Ses02)],
            0..3
        )
        .prop_map(|exercises| EventKind::Case {
            id: "c".into(),
            seed: 0,
            exercises
        }),
        (0..6usize, step()).prop_map(|(index, step)| EventKind::Step { index, step }),
        (alias(), agent(), chat_id()).prop_map(|(alias, agent, chat_id)| EventKind::Bind {
            alias,
            agent,
            chat_id,
            customer_chat_id: None
        }),
        (
            req.clone(),
            agent(),
            body(),
            proptest::option::of(0..6usize)
        )
            .prop_map(|(req, a, body, part)| EventKind::Request {
                req,
                actor: if a == "a1" {
                    Actor::Agent(a)
                } else {
                    Actor::Provider
                },
                method: "POST".into(),
                path: "/api/v2/me/chats/X1".into(),
                headers: vec![],
                body,
                part
            }),
        (
            req.clone(),
            prop_oneof![Just(200u16), Just(401), Just(403), Just(404), Just(500)],
            body()
        )
            .prop_map(|(req, status, body)| EventKind::Response {
                req,
                status,
                body,
                elapsed_us: 5
            }),
        req.prop_map(|req| EventKind::NoResponse {
            req,
            kind: NoResponseKind::Timeout,
            message: "t".into(),
            elapsed_us: u64::MAX
        }),
        (agent(), any::<bool>()).prop_map(|(agent, csrf)| EventKind::Session { agent, csrf }),
        (agent(), note()).prop_map(|(agent, data)| EventKind::Notification {
            agent,
            channel: "/v2/me/chats".into(),
            data
        }),
        (agent(), bayeux()).prop_map(|(agent, event)| EventKind::Bayeux { agent, event }),
        (
            alias(),
            proptest::option::of(Just(
                json!({"queue":"Q","lastAgent":1,"customerTranscript":"no"})
            ))
        )
            .prop_map(|(alias, result)| EventKind::Inspect {
                alias,
                result,
                reason: None
            }),
        (any::<u64>(), any::<bool>()).prop_map(|(w, r)| EventKind::Quiet {
            waited_ms: w,
            quiet_ms: w,
            reached_quiet: r
        }),
        Just(EventKind::HarnessError {
            message: "boom".into()
        }),
    ]
}

fn history() -> impl Strategy<Value = History> {
    proptest::collection::vec(
        (kind(), proptest::option::of(0..6usize), any::<u64>()),
        0..40,
    )
    .prop_map(|items| History {
        events: items
            .into_iter()
            .enumerate()
            .map(|(i, (kind, in_step, t))| Event {
                seq: i as u64,
                // Arbitrary, even non-monotonic, clocks.
                t_us: t % 20_000_000,
                stream: "s".into(),
                stream_seq: i as u64,
                in_step,
                kind,
                notes: Vec::new(),
            })
            .collect(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn judge_never_panics_and_every_fail_has_a_witness(h in history()) {
        let fs = judge(&h, &CheckConfig::default(), &TestShapes);
        for f in &fs {
            if f.verdict == Verdict::Fail {
                prop_assert!(f.witness.is_some(), "{f:?}");
            }
        }
        let _ = judge_session(&h);
    }
}

/// A structured history: steps followed by plausible effects (binds, requests with
/// random answers, random notifications), so the deep paths of the checker run.
fn structured() -> impl Strategy<Value = History> {
    proptest::collection::vec(
        (
            step(),
            prop_oneof![Just(200u16), Just(403), Just(500)],
            body(),
            any::<bool>(),
            proptest::collection::vec((agent(), note()), 0..3),
            0..8000u64,
        ),
        0..12,
    )
    .prop_map(|steps| {
        let mut b = gws_conform::check::build::HistoryBuilder::new();
        b.case("p", &[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp20]).session("a1", true);
        for (step, status, answer, lost, notes, gap) in steps {
            b.advance_ms(gap);
            let index = b.step(step.clone());
            let posts: Vec<(Option<usize>, Step)> = match &step {
                Step::Concurrent { steps } => steps
                    .iter()
                    .enumerate()
                    .map(|(k, s)| (Some(k), s.clone()))
                    .collect(),
                s => vec![(None, s.clone())],
            };
            for (part, s) in posts {
                match s {
                    Step::OfferChat { chat, agent } => {
                        let id = if chat == "c1" { "X1" } else { "X2" };
                        if lost {
                            b.harness_error("setup failed");
                        } else {
                            b.push(
                                "provider",
                                EventKind::Bind {
                                    alias: chat,
                                    agent,
                                    chat_id: id.into(),
                                    customer_chat_id: None,
                                },
                            );
                        }
                    }
                    Step::AgentPost { body, .. } => {
                        let r = b.request("a1", "X1", body, part);
                        if lost {
                            b.no_response(r);
                        } else {
                            b.respond_body(r, status, answer.clone());
                        }
                    }
                    Step::Inspect { chat } => {
                        b.push(
                            "provider",
                            EventKind::Inspect {
                                alias: chat,
                                result: Some(json!({"queue":"Q","lastAgent":"a1","customerSessionEnded":lost})),
                                reason: None,
                            },
                        );
                    }
                    Step::Settle => {
                        b.push(
                            "runner",
                            EventKind::Quiet {
                                waited_ms: 1000,
                                quiet_ms: 1000,
                                reached_quiet: !lost,
                            },
                        );
                    }
                    _ => {}
                }
            }
            let _ = index;
            for (agent, data) in notes {
                b.notify(&agent, data);
            }
        }
        b.build()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn judge_never_panics_on_structured_histories(h in structured()) {
        let fs = judge(&h, &CheckConfig::default(), &TestShapes);
        for f in &fs {
            prop_assert!(gws_conform::spec::find(f.req.as_str()).is_some(), "unknown id {f:?}");
            if f.verdict == Verdict::Fail {
                prop_assert!(f.witness.as_ref().is_some_and(|w| !w.events.is_empty()), "{f:?}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// A conforming target, simulated from the model, never gets a Fail or an Error: the
// checker has no false positives on the behaviour the SPEC describes.

#[derive(Clone, Debug)]
enum Act {
    Post(&'static str, bool, AuthVariant, Value),
    Unknown(Value),
    CustomerLeaves(&'static str),
    Inspect(&'static str),
}

fn act() -> impl Strategy<Value = Act> {
    let bodies = prop_oneof![
        Just(json!({"operationName":"Accept"})),
        Just(json!({"operationName":"Reject"})),
        Just(json!({"operationName":"Leave"})),
        Just(json!({"operationName":"SendMessage","text":"m"})),
        Just(json!({"operationName":"Complete"})),
        Just(json!({"operationName":"Complete","text":"bye","treatAs":"System"})),
        Just(json!({"operationName":"Complete","queueName":"Q","saveLAR":true})),
        Just(json!({"operationName":"Complete","messageType":"Text"})),
        Just(json!({"operationName":"Complete","text":"x","treatAs":"Loud"})),
        Just(json!({"operationName":"Complete","queueName":""})),
        Just(json!({"operationName":"Explode"})),
        Just(json!({"noop":1})),
    ];
    let alias = prop_oneof![Just("c1"), Just("c2")];
    prop_oneof![
        6 => (alias.clone(), bodies.clone()).prop_map(|(a, b)| Act::Post(a, false, AuthVariant::Normal, b)),
        1 => (alias.clone(), bodies.clone()).prop_map(|(a, b)| Act::Post(a, true, AuthVariant::Normal, b)),
        1 => (alias.clone(), prop_oneof![Just(AuthVariant::NoCsrf), Just(AuthVariant::CookieOnly), Just(AuthVariant::NoCredentials)])
            .prop_map(|(a, au)| Act::Post(a, false, au, json!({"operationName":"Complete"}))),
        1 => bodies.prop_map(Act::Unknown),
        1 => alias.clone().prop_map(Act::CustomerLeaves),
        1 => alias.prop_map(Act::Inspect),
    ]
}

#[derive(Clone, Debug)]
struct SimChat {
    id: &'static str,
    owner: &'static str,
    state: gws_conform::model::ChatState,
    present: bool,
    queue: Value,
    last_agent: Value,
    transcript: Vec<Value>,
}

fn simulate(acts: Vec<Act>) -> History {
    use gws_conform::model::{ChatState, Classified, Operation, classify, expect};
    let mut b = gws_conform::check::build::HistoryBuilder::new();
    b.case("sim", &[])
        .session("agent1", true)
        .session("agent2", true);
    let mut chats = vec![
        (
            "c1",
            SimChat {
                id: "X1",
                owner: "agent1",
                state: ChatState::Invited,
                present: true,
                queue: Value::Null,
                last_agent: Value::Null,
                transcript: vec![],
            },
        ),
        (
            "c2",
            SimChat {
                id: "X2",
                owner: "agent2",
                state: ChatState::Invited,
                present: true,
                queue: Value::Null,
                last_agent: Value::Null,
                transcript: vec![],
            },
        ),
    ];
    for (a, c) in &chats {
        b.offer(a, c.owner, c.id);
    }
    for act in acts {
        match act {
            Act::CustomerLeaves(a) => {
                b.step(Step::CustomerLeaves { chat: a.into() });
                let c = &mut chats.iter_mut().find(|(x, _)| *x == a).unwrap().1;
                if c.present && c.state != ChatState::Completed {
                    b.notify(c.owner, new_messages(c.id, "", "Client"));
                }
                c.present = false;
            }
            Act::Inspect(a) => {
                let c = &chats.iter().find(|(x, _)| *x == a).unwrap().1;
                let ended = !c.present || c.state == ChatState::Completed;
                b.inspect(
                    a,
                    Some(json!({"queue":c.queue,"lastAgent":c.last_agent,
                    "customerSessionEnded":ended,"customerTranscript":c.transcript})),
                );
            }
            Act::Unknown(body) => {
                let r = b.post_with(
                    ChatRef::Unknown("NOPE".into()),
                    false,
                    AuthVariant::Normal,
                    "agent1",
                    "NOPE",
                    Body::Json(body.clone()),
                );
                let code = match expect(None, true, &classify(&Body::Json(body))).refusal {
                    Some(r) => r
                        .required_codes
                        .or(r.preferred_codes)
                        .map(|c| c[0])
                        .unwrap_or(6),
                    None => 6,
                };
                b.respond(r, 200, json!({"statusCode":code,"statusMessage":"no"}));
            }
            Act::Post(a, other, auth, body) => {
                let c = &mut chats.iter_mut().find(|(x, _)| *x == a).unwrap().1;
                let actor = if other {
                    if c.owner == "agent1" {
                        "agent2"
                    } else {
                        "agent1"
                    }
                } else {
                    c.owner
                };
                let r = b.post_with(
                    ChatRef::Alias(a.into()),
                    other,
                    auth,
                    actor,
                    c.id,
                    Body::Json(body.clone()),
                );
                match auth {
                    AuthVariant::NoCsrf | AuthVariant::ForeignCsrf => {
                        b.respond_body(r, 403, Body::Raw("Missing or invalid Csrf token".into()));
                        continue;
                    }
                    AuthVariant::NoCredentials
                    | AuthVariant::CookieOnly
                    | AuthVariant::ForeignBasic => {
                        b.respond(
                            r,
                            200,
                            json!({"statusCode":20,"statusMessage":"Access denied"}),
                        );
                        continue;
                    }
                    AuthVariant::Normal => {}
                }
                let cls = classify(&Body::Json(body));
                let exp = expect(Some(c.state), !other, &cls);
                if let Some(refusal) = exp.refusal {
                    let code = refusal
                        .required_codes
                        .or(refusal.preferred_codes)
                        .map(|c| c[0])
                        .unwrap_or(2);
                    b.respond(r, 200, json!({"statusCode":code,"statusMessage":"refused"}));
                    continue;
                }
                b.respond(r, 200, json!({"statusCode":0}));
                let next = exp.next.unwrap();
                match &cls {
                    Classified::Op(Operation::Complete(p)) => {
                        if let Some(t) = &p.text {
                            b.notify(c.owner, new_messages(c.id, t, "Agent"));
                            if c.present {
                                c.transcript
                                    .push(json!({"type":"Text","text":t,"from":"Agent"}));
                            }
                        }
                        if let Some(q) = &p.queue_name {
                            c.queue = json!(q);
                        }
                        if p.save_lar == Some(true) {
                            c.last_agent = json!(c.owner);
                        }
                        b.notify(c.owner, status_change(c.id, "Completed"));
                    }
                    _ if next != c.state => {
                        // Leave (outside a conference) ends the customer's session
                        // (facts sheet §3.1), like the reference server does.
                        if next == ChatState::LeftChat {
                            c.present = false;
                        }
                        b.notify(c.owner, status_change(c.id, next.as_str()));
                    }
                    _ => {
                        b.notify(c.owner, new_messages(c.id, "m", "Agent"));
                    }
                }
                c.state = next;
            }
        }
    }
    b.settle();
    b.build()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn a_conforming_target_never_fails(acts in proptest::collection::vec(act(), 0..14)) {
        let h = simulate(acts);
        let fs = judge(&h, &CheckConfig::default(), &TestShapes);
        let bad: Vec<_> = fs.iter().filter(|f| matches!(f.verdict, Verdict::Fail | Verdict::Error)).collect();
        prop_assert!(bad.is_empty(), "{bad:#?}\n{}", serde_json::to_string(&h).unwrap());
    }
}
