//! Lenient observation (SPEC §6.6, §6.10): the GWS transcript form, notifications the
//! harness does not judge (typing notices, participant and property updates),
//! attribution under concurrent Completes (CMP-20), and what happens after the harness
//! stopped observing an agent (its Bayeux session closed).

use crate::check_common;
use gws_conform::spec::ReqId;

use check_common::*;
use gws_conform::check::build::{HistoryBuilder, new_messages, status_change};
use gws_conform::check::{Finding, Verdict::*};
use gws_conform::history::{AuthVariant, BayeuxEvent, Body, ChatRef, Step};
use gws_conform::runner::exec::SchemaShapes;
use gws_conform::schema::Schemas;
use serde_json::{Value, json};

fn typing(id: &str, kind: &str, from: &str) -> Value {
    json!({"messageType":"MessageLogUpdated","notificationType":"NewMessages",
           "chatUri":format!("http://gws/api/v2/chats/{id}"),
           "messages":[{"index":7,"type":kind,
                        "from":{"nickname":"Cu","type":from,"participantId":"p2"},
                        "visibility":"All","timestamp":"2026-01-01 00:00:00.000+0000"}]})
}

fn chat_update(id: &str, kind: &str) -> Value {
    json!({"messageType":"ChatStateChangeMessage","notificationType":kind,
           "chat":{"id":id,"state":"Chatting","uri":format!("http://gws/api/v2/chats/{id}")}})
}

fn no_fail(fs: &[Finding]) {
    let fails: Vec<&Finding> = fs.iter().filter(|f| f.verdict == Fail).collect();
    assert!(fails.is_empty(), "{fails:#?}");
}

fn closed(b: &mut HistoryBuilder, agent: &str, reason: &str) -> u64 {
    b.bayeux(
        agent,
        BayeuxEvent::Closed {
            reason: reason.into(),
        },
    )
}

// ---------------------------------------------------------------- the GWS transcript form

#[test]
fn cmp05_reads_the_gws_transcript_form() {
    for from in [
        json!({"nickname":"Kristi","participantId":"p1","type":"Agent"}),
        json!("Agent"),
    ] {
        let mut b = chatting(&[ReqId::Cmp05]);
        complete_ok(
            &mut b,
            "c1",
            "agent1",
            "X1",
            json!({"operationName":"Complete","text":"bye"}),
        );
        b.inspect(
            "c1",
            Some(json!({"customerSessionEnded":true,"customerTranscript":[
                {"type":"Text","text":"hello","from":{"nickname":"Cu","participantId":"p2","type":"Customer"}},
                {"type":"Text","text":"bye","from":from},
            ]})),
        );
        b.settle();
        let fs = run(&b.build());
        assert_verdict(&fs, ReqId::Cmp05, Pass);
        no_fail(&fs);
    }
    // The text from the customer, not the agent, in the GWS form: still a Fail.
    let mut b = chatting(&[ReqId::Cmp05]);
    complete_ok(
        &mut b,
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.inspect(
        "c1",
        Some(json!({"customerTranscript":[{"type":"Text","text":"bye",
            "from":{"nickname":"Cu","participantId":"p2","type":"Client"}}]})),
    );
    b.settle();
    assert_verdict(&run(&b.build()), ReqId::Cmp05, Fail);
}

// ---------------------------------------------------------------- notifications not judged

#[test]
fn typing_and_updates_before_the_completed_fail_nothing() {
    let mut b = chatting(&[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp19]);
    b.notify("agent1", chat_update("X1", "ParticipantsUpdated"));
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.respond(r, 200, ok());
    b.notify("agent1", typing("X1", "TypingStarted", "Customer"));
    b.notify("agent1", new_messages("X1", "bye", "Agent"));
    b.notify("agent1", typing("X1", "TypingStopped", "Customer"));
    b.notify("agent1", chat_update("X1", "PropertiesUpdated"));
    b.notify("agent1", status_change("X1", "Completed"));
    b.settle();
    let h = b.build();
    let fs = run(&h);
    no_fail(&fs);
    for r in [ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp19, ReqId::Ntf01] {
        assert_verdict(&fs, r, Pass);
    }
    // With the real schemas too: typing notices are valid notifications (NTF-01).
    let shapes = SchemaShapes(Schemas::embedded().unwrap());
    let fs = gws_conform::check::judge(&h, &Default::default(), &shapes);
    no_fail(&fs);
    assert_verdict(&fs, ReqId::Ntf01, Pass);
}

#[test]
fn a_typing_notice_after_the_completed_fails_cmp19_only() {
    let mut b = chatting(&[ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp19]);
    complete_ok(
        &mut b,
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    let late = b.notify("agent1", typing("X1", "TypingStopped", "Customer"));
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp19, Fail);
    let f = fs.iter().find(|f| f.req == ReqId::Cmp19).unwrap();
    assert!(f.witness.as_ref().unwrap().events.contains(&late), "{f:#?}");
    for r in [ReqId::Cmp02, ReqId::Cmp04, ReqId::Ntf01] {
        assert_verdict(&fs, r, Pass);
    }
    let fails: Vec<ReqId> = fs
        .iter()
        .filter(|f| f.verdict == Fail)
        .map(|f| f.req)
        .collect();
    assert_eq!(fails, vec![ReqId::Cmp19]);
}

#[test]
fn typing_and_updates_after_a_refusal_are_not_its_doing() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp12, ReqId::Cmp17])
        .session("agent1", false);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, err(2));
    b.notify("agent1", typing("X1", "TypingStarted", "Customer"));
    b.notify("agent1", chat_update("X1", "ParticipantsUpdated"));
    b.notify("agent1", chat_update("X1", "PropertiesUpdated"));
    b.settle();
    let fs = run(&b.build());
    no_fail(&fs);
    assert_verdict(&fs, ReqId::Cmp17, Pass);
}

// ---------------------------------------------------------------- CMP-20 attribution

/// Five concurrent Completes with text; on `late`, the text arrives after its Completed.
fn concurrent_with_late_text(late: &str) -> gws_conform::history::History {
    let ids = ["A1", "A2", "A3", "B1", "B2"];
    let agent = |k: usize| if k < 3 { "agent1" } else { "agent2" };
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp04, ReqId::Cmp20])
        .session("agent1", false)
        .session("agent2", false);
    for (k, id) in ids.iter().enumerate() {
        accept(&mut b, &format!("c{k}"), agent(k), id);
    }
    let body = json!({"operationName":"Complete","text":"bye"});
    let steps = (0..5)
        .map(|k| Step::AgentPost {
            chat: ChatRef::Alias(format!("c{k}")),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(body.clone()),
        })
        .collect();
    b.step(Step::Concurrent { steps });
    let reqs: Vec<u64> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| b.request(agent(k), id, Body::Json(body.clone()), Some(k)))
        .collect();
    // Answers and notifications of all five chats interleave.
    for (k, _) in ids.iter().enumerate() {
        b.respond(reqs[k], 200, ok());
    }
    for (k, id) in ids.iter().enumerate() {
        if *id != late {
            b.notify(agent(k), new_messages(id, "bye", "Agent"));
        }
    }
    for (k, id) in ids.iter().enumerate() {
        b.notify(agent(k), status_change(id, "Completed"));
    }
    let k = ids.iter().position(|i| *i == late).unwrap();
    b.notify(agent(k), new_messages(late, "bye", "Agent"));
    b.settle();
    b.build()
}

#[test]
fn cmp20_fails_with_cmp04_when_a_chats_text_comes_after_its_completed() {
    let fs = run(&concurrent_with_late_text("B1"));
    assert_verdict(&fs, ReqId::Cmp04, Fail);
    assert_verdict(&fs, ReqId::Cmp20, Fail);
    let f = fs.iter().find(|f| f.req == ReqId::Cmp20).unwrap();
    let obs = &f.witness.as_ref().unwrap().observed;
    assert!(
        obs.contains("chat c3") && obs.contains("out of order"),
        "{f:#?}"
    );
    assert!(
        !obs.contains("chat c0"),
        "only the late chat is blamed: {f:#?}"
    );
    // CMP-04 fails for that chat only.
    let f04: Vec<&Finding> = fs
        .iter()
        .filter(|f| f.req == ReqId::Cmp04 && f.verdict == Fail)
        .collect();
    assert_eq!(f04.len(), 1, "{f04:#?}");
}

// ---------------------------------------------------------------- observation stopped

#[test]
fn nothing_unseen_fails_after_the_session_closed() {
    let mut b = chatting(&[ReqId::Cmp02, ReqId::Cmp04, ReqId::Cmp16, ReqId::Cmp19]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.respond(r, 200, ok());
    closed(
        &mut b,
        "agent1",
        "gave up: the server asked for 6 re-handshakes in a row without a working connect",
    );
    b.settle_deadline(5000);
    let fs = run(&b.build());
    no_fail(&fs);
    for r in [ReqId::Cmp02, ReqId::Cmp04] {
        assert_verdict(&fs, r, Error);
        let f = fs.iter().find(|f| f.req == r).unwrap();
        assert!(f.reason.contains("stopped observing agent1"), "{f:#?}");
        assert!(f.reason.contains("gave up"), "{f:#?}");
    }
    assert_verdict(&fs, ReqId::Cmp01, Pass);
}

#[test]
fn what_was_seen_before_the_session_closed_still_fails() {
    // The text after the Completed, then the session closes: CMP-04 and CMP-19 fail.
    let mut b = chatting(&[ReqId::Cmp04, ReqId::Cmp19]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.respond(r, 200, ok());
    b.notify("agent1", status_change("X1", "Completed"));
    b.notify("agent1", new_messages("X1", "bye", "Agent"));
    closed(&mut b, "agent1", "flood: more than 100000 deliveries");
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp04, Fail);
    assert_verdict(&fs, ReqId::Cmp19, Fail);
    assert_verdict(&fs, ReqId::Cmp02, Pass);

    // Closed only after the deadline had passed: the missing Completed is a Fail.
    let mut b = chatting(&[ReqId::Cmp02]);
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, ok());
    b.advance_ms(6000);
    closed(
        &mut b,
        "agent1",
        "gave up after 5 consecutive failed connects",
    );
    b.settle();
    assert_verdict(&run(&b.build()), ReqId::Cmp02, Fail);

    // Another agent's session closing changes nothing for this chat.
    let mut b = chatting(&[ReqId::Cmp02]);
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, ok());
    closed(
        &mut b,
        "agent2",
        "gave up after 5 consecutive failed connects",
    );
    b.settle_deadline(5000);
    assert_verdict(&run(&b.build()), ReqId::Cmp02, Fail);
}

#[test]
fn a_refusal_after_the_session_closed_cannot_pass_nothing_changed() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp12, ReqId::Cmp17])
        .session("agent1", false);
    b.offer("c1", "agent1", "X1");
    closed(
        &mut b,
        "agent1",
        "gave up after 5 consecutive failed connects",
    );
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, err(2));
    b.settle();
    let fs = run(&b.build());
    // The refusal itself is the target's answer: judged.
    assert_verdict(&fs, ReqId::Cmp12, Pass);
    assert_verdict(&fs, ReqId::Cmp17, Error);

    // A refused follow-up is still the target's own Fail.
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp17]).session("agent1", false);
    b.offer("c1", "agent1", "X1");
    closed(
        &mut b,
        "agent1",
        "gave up after 5 consecutive failed connects",
    );
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Complete"}));
    b.respond(r, 200, err(2));
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Accept"}));
    b.respond(r, 200, err(2));
    assert_verdict(&run(&b.build()), ReqId::Cmp17, Fail);
}

#[test]
fn cmp20_is_an_error_when_a_chats_owner_was_no_longer_observed() {
    let ids = ["A1", "A2", "A3", "B1", "B2"];
    let agent = |k: usize| if k < 3 { "agent1" } else { "agent2" };
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp20])
        .session("agent1", false)
        .session("agent2", false);
    for (k, id) in ids.iter().enumerate() {
        accept(&mut b, &format!("c{k}"), agent(k), id);
    }
    let body = json!({"operationName":"Complete"});
    let steps = (0..5)
        .map(|k| Step::AgentPost {
            chat: ChatRef::Alias(format!("c{k}")),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(body.clone()),
        })
        .collect();
    b.step(Step::Concurrent { steps });
    let reqs: Vec<u64> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| b.request(agent(k), id, Body::Json(body.clone()), Some(k)))
        .collect();
    for r in &reqs {
        b.respond(*r, 200, ok());
    }
    for (k, id) in ids.iter().enumerate().take(3) {
        b.notify(agent(k), status_change(id, "Completed"));
    }
    closed(&mut b, "agent2", "flood: more than 100000 deliveries");
    b.settle_deadline(5000);
    let fs = run(&b.build());
    no_fail(&fs);
    assert_verdict(&fs, ReqId::Cmp20, Error);
    assert_verdict(&fs, ReqId::Cmp02, Error);
}

#[test]
fn a_session_the_harness_gave_up_on_fails_ntf02_and_is_no_harness_error() {
    use gws_conform::check::judge_session;
    let mut b = HistoryBuilder::new();
    b.bayeux(
        "agent1",
        BayeuxEvent::Handshake {
            successful: true,
            error: None,
        },
    );
    b.bayeux(
        "agent1",
        BayeuxEvent::Subscribe {
            channel: "/v2/me/chats".into(),
            successful: true,
            error: None,
        },
    );
    for _ in 0..3 {
        b.bayeux(
            "agent1",
            BayeuxEvent::Connect {
                successful: true,
                advice: Some(json!({"reconnect":"handshake","interval":0})),
                error: None,
            },
        );
        b.bayeux(
            "agent1",
            BayeuxEvent::FollowedAdvice {
                reconnect: "handshake".into(),
                interval_ms: 0,
            },
        );
        b.bayeux(
            "agent1",
            BayeuxEvent::Handshake {
                successful: true,
                error: None,
            },
        );
        b.bayeux(
            "agent1",
            BayeuxEvent::Subscribe {
                channel: "/v2/me/chats".into(),
                successful: true,
                error: None,
            },
        );
    }
    b.bayeux(
        "agent1",
        BayeuxEvent::Connect {
            successful: true,
            advice: Some(json!({"reconnect":"handshake","interval":0})),
            error: None,
        },
    );
    let end = closed(
        &mut b,
        "agent1",
        "gave up: the server asked for 4 re-handshakes in a row without a working connect",
    );
    let fs = judge_session(&b.build());
    assert!(fs.iter().all(|f| f.verdict == Fail), "{fs:#?}");
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert!(fs[0].witness.as_ref().unwrap().events.contains(&end));

    // Stopped by the harness at the end of the run: nothing to judge.
    let mut b = HistoryBuilder::new();
    b.bayeux(
        "agent1",
        BayeuxEvent::Handshake {
            successful: true,
            error: None,
        },
    );
    b.bayeux(
        "agent1",
        BayeuxEvent::Subscribe {
            channel: "/v2/me/chats".into(),
            successful: true,
            error: None,
        },
    );
    closed(&mut b, "agent1", "stopped by the harness");
    let fs = judge_session(&b.build());
    assert_eq!(fs[0].verdict, Pass, "{fs:#?}");
}
