//! The checker never panics, whatever the history: random event sequences built from
//! small pools (so ids, aliases and request ids collide often) are judged, and every
//! Fail carries a witness.

mod check_common;

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
            prop_oneof![
                Just("CMP-01".to_string()),
                Just("CMP-20".to_string()),
                Just("XYZ".to_string())
            ],
            0..3
        )
        .prop_map(|targets| EventKind::Case {
            id: "c".into(),
            seed: 0,
            targets
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
        b.case("p", &["CMP-01", "CMP-02", "CMP-20"]).session("a1", true);
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
            prop_assert!(gws_conform::spec::find(&f.req).is_some(), "unknown id {f:?}");
            if f.verdict == Verdict::Fail {
                prop_assert!(f.witness.as_ref().is_some_and(|w| !w.events.is_empty()), "{f:?}");
            }
        }
    }
}
