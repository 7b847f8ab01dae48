//! The checker judged on hand-built histories: a good and a bad history per requirement.

use crate::check_common;
use gws_conform::spec::ReqId;

use check_common::*;
use gws_conform::check::Verdict::{Error, Fail, Pass, Skip};
use gws_conform::check::build::{HistoryBuilder, new_messages, status_change};
use gws_conform::check::judge_session;
use gws_conform::history::{AuthVariant, BayeuxEvent, Body, ChatRef, Step};
use serde_json::json;

fn complete() -> serde_json::Value {
    json!({"operationName":"Complete"})
}

// ---------------------------------------------------------------- CMP-01/02/03/19

#[test]
fn plain_complete_on_chatting_passes_01_02_03_19() {
    let mut b = chatting(&[ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp03, ReqId::Cmp19]);
    complete_ok(&mut b, "c1", "agent1", "X1", complete());
    b.settle();
    let fs = run(&b.build());
    for r in [
        ReqId::Cmp01,
        ReqId::Cmp02,
        ReqId::Cmp03,
        ReqId::Cmp19,
        ReqId::Ntf01,
    ] {
        assert_verdict(&fs, r, Pass);
    }
    assert_verdict(&fs, ReqId::Cmp22, Skip);
    assert!(!has(&fs, ReqId::Cmp04), "no text, no CMP-04: {fs:#?}");
}

#[test]
fn cmp01_fails_on_a_status_message_and_on_http_500() {
    let mut b = chatting(&[ReqId::Cmp01]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, json!({"statusCode":0,"statusMessage":"ok"}));
    b.notify("agent1", status_change("X1", "Completed"));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp01, Fail);
    assert_verdict(&fs, ReqId::Cmp02, Pass);

    let mut b = chatting(&[ReqId::Cmp01]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond_body(r, 500, Body::Raw("boom".into()));
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp01, Fail);
    assert!(!has(&fs, ReqId::Cmp02), "no CMP-02 after a failed Complete");
}

#[test]
fn cmp02_fails_when_no_completed_arrives_and_says_how_long_it_waited() {
    let mut b = chatting(&[ReqId::Cmp02]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    let quiet = b.settle_deadline(5000);
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp02, Fail);
    let f = fs.iter().find(|f| f.req == ReqId::Cmp02).unwrap();
    let w = f.witness.as_ref().unwrap();
    assert!(w.observed.contains("waited 5.0 s (deadline)"), "{w:?}");
    assert!(w.events.contains(&quiet), "{w:?}");
}

#[test]
fn cmp02_fails_on_a_duplicate_a_late_one_and_one_to_another_agent() {
    let mut b = chatting(&[ReqId::Cmp02]);
    complete_ok(&mut b, "c1", "agent1", "X1", complete());
    b.notify("agent1", status_change("X1", "Completed"));
    assert_verdict(&run(&b.build()), ReqId::Cmp02, Fail);

    let mut b = chatting(&[ReqId::Cmp02]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    b.advance_ms(6000);
    b.notify("agent1", status_change("X1", "Completed"));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp02, Fail);
    assert!(fs.iter().any(|f| {
        f.req == ReqId::Cmp02
            && f.witness
                .as_ref()
                .unwrap()
                .observed
                .contains("arrived 6.0 s")
    }));

    let mut b = chatting(&[ReqId::Cmp02]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    b.notify("agent2", status_change("X1", "Completed"));
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp02, Fail);
}

#[test]
fn cmp03_fails_on_a_uri_naming_another_chat() {
    let mut b = chatting(&[ReqId::Cmp03]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    let mut n = status_change("X1", "Completed");
    n["chat"]["uri"] = json!("http://gws/api/v2/chats/OTHER");
    b.notify("agent1", n);
    assert_verdict(&run(&b.build()), ReqId::Cmp03, Fail);
}

#[test]
fn cmp19_fails_on_a_message_after_completed() {
    let mut b = chatting(&[ReqId::Cmp19]);
    complete_ok(&mut b, "c1", "agent1", "X1", complete());
    b.notify("agent1", new_messages("X1", "late", "Client"));
    b.settle();
    assert_verdict(&run(&b.build()), ReqId::Cmp19, Fail);
}

// ---------------------------------------------------------------- CMP-04/05/06/07/08/22

fn full_complete() -> serde_json::Value {
    json!({"operationName":"Complete","text":"bye","queueName":"PostQ","saveLAR":true})
}

fn good_inspect() -> serde_json::Value {
    json!({"queue":"PostQ","lastAgent":"agent1","customerSessionEnded":true,
           "customerTranscript":[{"type":"Text","text":"bye","from":"Agent"}]})
}

#[test]
fn complete_with_everything_passes_04_to_08() {
    let mut b = chatting(&[
        ReqId::Cmp04,
        ReqId::Cmp05,
        ReqId::Cmp06,
        ReqId::Cmp07,
        ReqId::Cmp08,
    ]);
    complete_ok(&mut b, "c1", "agent1", "X1", full_complete());
    b.inspect("c1", Some(good_inspect()));
    b.settle();
    let fs = run(&b.build());
    for r in [
        ReqId::Cmp04,
        ReqId::Cmp05,
        ReqId::Cmp06,
        ReqId::Cmp07,
        ReqId::Cmp08,
        ReqId::Cmp19,
    ] {
        assert_verdict(&fs, r, Pass);
    }
}

#[test]
fn inspect_mismatches_fail_05_to_08() {
    let mut b = chatting(&[ReqId::Cmp05, ReqId::Cmp06, ReqId::Cmp07, ReqId::Cmp08]);
    complete_ok(&mut b, "c1", "agent1", "X1", full_complete());
    b.inspect(
        "c1",
        Some(
            json!({"queue":null,"lastAgent":"agent2","customerSessionEnded":false,
                    "customerTranscript":[{"type":"Text","text":"bye","from":"Customer"}]}),
        ),
    );
    let fs = run(&b.build());
    for r in [ReqId::Cmp05, ReqId::Cmp06, ReqId::Cmp07, ReqId::Cmp08] {
        assert_verdict(&fs, r, Fail);
    }
}

#[test]
fn inspect_missing_keys_or_answer_skip_05_to_08() {
    let mut b = chatting(&[ReqId::Cmp07]);
    complete_ok(&mut b, "c1", "agent1", "X1", full_complete());
    b.inspect("c1", Some(json!({"customerSessionEnded":true})));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp06, Pass);
    for r in [ReqId::Cmp05, ReqId::Cmp07, ReqId::Cmp08] {
        assert_verdict(&fs, r, Skip);
    }
    let mut b = chatting(&[ReqId::Cmp07]);
    complete_ok(&mut b, "c1", "agent1", "X1", full_complete());
    b.inspect("c1", None);
    let fs = run(&b.build());
    for r in [ReqId::Cmp05, ReqId::Cmp06, ReqId::Cmp07, ReqId::Cmp08] {
        assert_verdict(&fs, r, Skip);
    }
    assert!(fs.iter().any(|f| f.reason.contains("501")), "{fs:#?}");
}

#[test]
fn cmp04_fails_when_the_text_comes_after_completed_or_never() {
    let mut b = chatting(&[ReqId::Cmp04]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.respond(r, 200, ok());
    b.notify("agent1", status_change("X1", "Completed"));
    b.notify("agent1", new_messages("X1", "bye", "Agent"));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp04, Fail);
    assert_verdict(&fs, ReqId::Cmp19, Fail);

    let mut b = chatting(&[ReqId::Cmp04]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.respond(r, 200, ok());
    b.notify("agent1", new_messages("X1", "bye!", "Agent"));
    b.notify("agent1", status_change("X1", "Completed"));
    assert_verdict(&run(&b.build()), ReqId::Cmp04, Fail);
}

#[test]
fn cmp22_reference_ids_must_agree() {
    for (nref, want) in [(7, Pass), (8, Fail)] {
        let mut b = chatting(&[ReqId::Cmp22]);
        let r = b.post("c1", "agent1", "X1", complete());
        b.respond(r, 200, json!({"statusCode":0,"referenceId":7}));
        let mut n = status_change("X1", "Completed");
        n["referenceId"] = json!(nref);
        b.notify("agent1", n);
        assert_verdict(&run(&b.build()), ReqId::Cmp22, want);
    }
}

// ---------------------------------------------------------------- CMP-15/16

#[test]
fn cmp15_complete_on_leftchat() {
    for good in [true, false] {
        let mut b = chatting(&[ReqId::Cmp15]);
        let r = b.post("c1", "agent1", "X1", json!({"operationName":"Leave"}));
        b.respond(r, 200, ok());
        b.notify("agent1", status_change("X1", "LeftChat"));
        if good {
            complete_ok(&mut b, "c1", "agent1", "X1", complete());
        } else {
            let r = b.post("c1", "agent1", "X1", complete());
            b.respond(r, 200, err(2));
        }
        b.settle();
        assert_verdict(
            &run(&b.build()),
            ReqId::Cmp15,
            if good { Pass } else { Fail },
        );
    }
}

#[test]
fn complete_with_text_on_leftchat_does_not_judge_the_customer_side() {
    // Leave ended the customer's session (facts sheet §3.1): the Complete's text need
    // not reach the customer (SPEC §6.4) and there is no session left to end (CMP-06).
    let mut b = chatting(&[ReqId::Cmp15, ReqId::Cmp05, ReqId::Cmp06]);
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Leave"}));
    b.respond(r, 200, ok());
    b.notify("agent1", status_change("X1", "LeftChat"));
    complete_ok(
        &mut b,
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","text":"bye"}),
    );
    b.inspect(
        "c1",
        Some(
            json!({"queue":null,"lastAgent":null,"customerSessionEnded":true,
                    "customerTranscript":[]}),
        ),
    );
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp15, Pass);
    assert_verdict(&fs, ReqId::Cmp04, Pass);
    for r in [ReqId::Cmp05, ReqId::Cmp06] {
        assert!(
            fs.iter().all(|f| f.req != r || f.verdict == Skip),
            "{r} judged after the agent left: {fs:#?}"
        );
    }
}

#[test]
fn cmp16_complete_after_the_customer_left() {
    for good in [true, false] {
        let mut b = chatting(&[ReqId::Cmp16]);
        b.step(Step::CustomerLeaves { chat: "c1".into() });
        b.notify("agent1", new_messages("X1", "", "Client"));
        let r = b.post("c1", "agent1", "X1", complete());
        b.respond(r, 200, ok());
        if good {
            b.notify("agent1", status_change("X1", "Completed"));
        }
        b.settle();
        let fs = run(&b.build());
        assert_verdict(&fs, ReqId::Cmp16, if good { Pass } else { Fail });
        assert!(!has(&fs, ReqId::Cmp06), "customer already gone: no CMP-06");
    }
}

// ---------------------------------------------------------------- refusals 09..14, 17

#[test]
fn invalid_parameters_are_judged_by_their_rule() {
    let cases = [
        (
            json!({"operationName":"Complete","messageType":"Text"}),
            ReqId::Cmp09,
        ),
        (
            json!({"operationName":"Complete","text":"x","treatAs":"Loud"}),
            ReqId::Cmp10,
        ),
        (
            json!({"operationName":"Complete","saveLAR":"yes"}),
            ReqId::Cmp11,
        ),
    ];
    for (body, req) in cases {
        let mut b = chatting(&[req]);
        let r = b.post("c1", "agent1", "X1", body.clone());
        b.respond(r, 200, err(2));
        complete_ok(&mut b, "c1", "agent1", "X1", complete());
        b.settle();
        let fs = run(&b.build());
        assert_verdict(&fs, req, Pass);
        assert_verdict(&fs, ReqId::Cmp17, Pass);

        let mut b = chatting(&[req]);
        let r = b.post("c1", "agent1", "X1", body);
        b.respond(r, 200, ok());
        b.notify("agent1", status_change("X1", "Completed"));
        b.settle();
        let fs = run(&b.build());
        assert_verdict(&fs, req, Fail);
        // The model followed the target: the chat is Completed, nothing cascades.
        assert!(!has(&fs, ReqId::Cmp19) || verdict(&fs, ReqId::Cmp19) != Fail);
    }
}

#[test]
fn cmp09_with_an_unpreferred_code_passes_with_a_note_and_5xx_fails() {
    let mut b = chatting(&[ReqId::Cmp09]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","treatAs":"System"}),
    );
    b.respond(r, 200, err(9));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp09, Pass);
    assert!(fs.iter().any(|f| f.reason.contains("prefers")));

    let mut b = chatting(&[ReqId::Cmp09]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","treatAs":"System"}),
    );
    b.respond(r, 500, err(4));
    assert_verdict(&run(&b.build()), ReqId::Cmp09, Fail);
}

#[test]
fn cmp12_complete_on_invited() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp12, ReqId::Cmp17])
        .session("agent1", false);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, err(2));
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Accept"}));
    b.respond(r, 200, ok());
    b.notify("agent1", status_change("X1", "Chatting"));
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp12, Pass);
    assert_verdict(&fs, ReqId::Cmp17, Pass);

    // Accepted: CMP-12 fails; a Completed after a refusal fails CMP-17.
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp12]).session("agent1", false);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    assert_verdict(&run(&b.build()), ReqId::Cmp12, Fail);

    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp17]).session("agent1", false);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, err(2));
    b.notify("agent1", status_change("X1", "Completed"));
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp12, Pass);
    assert_verdict(&fs, ReqId::Cmp17, Fail);
}

#[test]
fn cmp17_fails_when_the_follow_up_operation_is_refused() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp17]).session("agent1", false);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, err(2));
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Accept"}));
    b.respond(r, 200, err(2));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp17, Fail);
}

#[test]
fn cmp17_ignores_a_late_echo_of_an_earlier_step() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp17]).session("agent1", false);
    b.step(Step::OfferChat {
        chat: "c1".into(),
        agent: "agent1".into(),
    });
    b.push(
        "provider",
        gws_conform::history::EventKind::Bind {
            alias: "c1".into(),
            agent: "agent1".into(),
            chat_id: "X1".into(),
            customer_chat_id: None,
        },
    );
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, err(2));
    b.notify("agent1", status_change("X1", "Invited"));
    b.settle();
    assert_verdict(&run(&b.build()), ReqId::Cmp17, Pass);
}

#[test]
fn cmp13_second_complete() {
    for good in [true, false] {
        let mut b = chatting(&[ReqId::Cmp13]);
        complete_ok(&mut b, "c1", "agent1", "X1", complete());
        let r = b.post("c1", "agent1", "X1", complete());
        b.respond(r, 200, err(6));
        if !good {
            b.notify("agent1", status_change("X1", "Completed"));
        }
        b.settle();
        let fs = run(&b.build());
        assert_verdict(&fs, ReqId::Cmp13, if good { Pass } else { Fail });
        assert_verdict(&fs, ReqId::Cmp02, Pass);
    }
}

#[test]
fn cmp14_unknown_id_needs_statuscode_6() {
    for (code, want) in [(6, Pass), (2, Fail)] {
        let mut b = HistoryBuilder::new();
        b.case("c", &[ReqId::Cmp14]).session("agent1", false);
        let r = b.post_with(
            ChatRef::Unknown("NOPE".into()),
            false,
            AuthVariant::Normal,
            "agent1",
            "NOPE",
            Body::Json(complete()),
        );
        b.respond(r, 404, err(code));
        let fs = run(&b.build());
        assert_verdict(&fs, ReqId::Cmp14, want);
        assert_verdict(&fs, ReqId::Cmp18, Pass);
    }
}

#[test]
fn cmp21_other_agents_chat() {
    for (code, note, want) in [(3, false, Pass), (2, false, Fail), (5, true, Fail)] {
        let mut b = chatting(&[ReqId::Cmp21]);
        b.session("agent2", false);
        let r = b.post_with(
            ChatRef::Alias("c1".into()),
            true,
            AuthVariant::Normal,
            "agent2",
            "X1",
            Body::Json(complete()),
        );
        b.respond(r, 200, err(code));
        if note {
            b.notify("agent1", status_change("X1", "Completed"));
        }
        b.settle();
        assert_verdict(&run(&b.build()), ReqId::Cmp21, want);
    }
}

// ---------------------------------------------------------------- CMP-18, NTF-01

#[test]
fn cmp18_error_bodies_are_exactly_code_and_message() {
    let mut b = chatting(&[ReqId::Cmp18]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","messageType":"T"}),
    );
    b.respond(
        r,
        200,
        json!({"statusCode":2,"statusMessage":"x","chat":{}}),
    );
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp18, Fail);
    assert_verdict(&fs, ReqId::Cmp09, Pass);
}

#[test]
fn ntf01_invalid_notification_fails() {
    let mut b = chatting(&[ReqId::Ntf01]);
    b.notify(
        "agent1",
        json!({"messageType":"ChatStateChangeMessage","bogus":1}),
    );
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Ntf01, Fail);
}

// ---------------------------------------------------------------- CMP-20

fn concurrent(dup_on: Option<&str>) -> gws_conform::history::History {
    let ids = ["A1", "A2", "A3", "B1", "B2"];
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp20])
        .session("agent1", false)
        .session("agent2", false);
    for (k, id) in ids.iter().enumerate() {
        let agent = if k < 3 { "agent1" } else { "agent2" };
        accept(&mut b, &format!("c{k}"), agent, id);
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
    let mut reqs = vec![];
    for (k, id) in ids.iter().enumerate() {
        let agent = if k < 3 { "agent1" } else { "agent2" };
        reqs.push(b.request(agent, id, Body::Json(body.clone()), Some(k)));
    }
    for (k, id) in ids.iter().enumerate() {
        let agent = if k < 3 { "agent1" } else { "agent2" };
        b.respond(reqs[k], 200, ok());
        b.notify(agent, new_messages(id, "bye", "Agent"));
        b.notify(agent, status_change(id, "Completed"));
        if dup_on == Some(*id) {
            b.notify(agent, status_change(id, "Completed"));
        }
    }
    b.settle();
    b.build()
}

#[test]
fn cmp20_concurrent_completes() {
    let fs = run(&concurrent(None));
    assert_verdict(&fs, ReqId::Cmp20, Pass);
    assert_verdict(&fs, ReqId::Cmp02, Pass);
    let fs = run(&concurrent(Some("B1")));
    assert_verdict(&fs, ReqId::Cmp20, Fail);
    let f = fs.iter().find(|f| f.req == ReqId::Cmp20).unwrap();
    assert!(
        f.witness.as_ref().unwrap().observed.contains("chat c3"),
        "{f:#?}"
    );
}

// ---------------------------------------------------------------- SES-01/02, REQ-01

#[test]
fn ses01_csrf() {
    for (csrf, status, want) in [(true, 403, Pass), (true, 200, Fail), (false, 200, Skip)] {
        let mut b = HistoryBuilder::new();
        b.case("c", &[ReqId::Ses01]).session("agent1", csrf);
        accept(&mut b, "c1", "agent1", "X1");
        let r = b.post_with(
            ChatRef::Alias("c1".into()),
            false,
            AuthVariant::NoCsrf,
            "agent1",
            "X1",
            Body::Json(complete()),
        );
        if status == 403 {
            b.respond_body(r, 403, Body::Raw("Missing or invalid Csrf token".into()));
        } else {
            b.respond(r, 200, ok());
            b.notify("agent1", status_change("X1", "Completed"));
        }
        b.settle();
        let fs = run(&b.build());
        assert_verdict(&fs, ReqId::Ses01, want);
        // Without CSRF the request is an ordinary Complete and is judged as one.
        if !csrf {
            assert_verdict(&fs, ReqId::Cmp01, Pass);
        }
    }
}

#[test]
fn ses02_no_credentials() {
    for (status, body, note, want) in [
        (401, Body::Raw("".into()), false, Pass),
        (200, Body::Json(err(20)), false, Pass),
        (200, Body::Json(err(20)), true, Fail),
        (200, Body::Json(err(3)), false, Fail),
    ] {
        let mut b = chatting(&[ReqId::Ses02]);
        let r = b.post_with(
            ChatRef::Alias("c1".into()),
            false,
            AuthVariant::CookieOnly,
            "agent1",
            "X1",
            Body::Json(complete()),
        );
        b.respond_body(r, status, body);
        if note {
            b.notify("agent1", status_change("X1", "Completed"));
        }
        b.settle();
        assert_verdict(&run(&b.build()), ReqId::Ses02, want);
    }
}

#[test]
fn req01_malformed_bodies() {
    let cases = [
        (
            Body::Raw("{not json".into()),
            400,
            Body::Raw("bad".into()),
            Pass,
        ),
        (
            Body::Json(json!({"operationName":"Explode"})),
            200,
            Body::Json(err(2)),
            Pass,
        ),
        (Body::Json(json!({})), 200, Body::Json(err(4)), Fail),
        (Body::Raw("{".into()), 500, Body::Raw("oops".into()), Fail),
        (Body::Json(json!({"x":1})), 200, Body::Json(ok()), Fail),
    ];
    for (sent, status, answer, want) in cases {
        let mut b = chatting(&[ReqId::Req01]);
        let r = b.post_with(
            ChatRef::Alias("c1".into()),
            false,
            AuthVariant::Normal,
            "agent1",
            "X1",
            sent,
        );
        b.respond_body(r, status, answer);
        assert_verdict(&run(&b.build()), ReqId::Req01, want);
    }
}

// ---------------------------------------------------------------- harness faults

#[test]
fn no_response_is_an_error_and_the_chat_is_not_judged_after() {
    let mut b = chatting(&[ReqId::Cmp01, ReqId::Cmp13]);
    let r = b.post("c1", "agent1", "X1", complete());
    b.no_response(r);
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp01, Error);
    assert!(
        fs.iter().any(|f| f.reason.contains("timeout after 5.0 s")),
        "{fs:#?}"
    );
    assert!(fs.iter().all(|f| f.verdict != Fail), "{fs:#?}");
}

#[test]
fn provisioning_failure_is_an_error_never_a_fail() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp01, ReqId::Cmp02])
        .session("agent1", false);
    b.step(Step::OfferChat {
        chat: "c1".into(),
        agent: "agent1".into(),
    });
    b.harness_error("provider answered 500 to setup");
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond_body(r, 500, Body::Raw("x".into()));
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp01, Error);
    assert_verdict(&fs, ReqId::Cmp02, Error);
    assert!(fs.iter().all(|f| f.verdict != Fail), "{fs:#?}");
}

#[test]
fn a_provider_state_the_target_does_not_support_makes_its_targets_skip() {
    // SPEC §1.5: an unsupported state (HTTP 404/501): the requirements that need it are
    // Skip (not observable), never Pass, and not an Error either.
    let mut b = chatting(&[ReqId::Cmp16]);
    b.step(Step::CustomerLeaves { chat: "c1".into() });
    b.not_observable("not observable: provider-state setup \"customer leaves\": HTTP 501");
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp16, Skip);
    assert!(
        fs.iter().all(|f| f.verdict != Error && f.verdict != Fail),
        "{fs:#?}"
    );
}

#[test]
fn a_setup_step_refused_makes_the_targets_error() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp01]).session("agent1", false);
    b.offer("c1", "agent1", "X1");
    let r = b.post("c1", "agent1", "X1", json!({"operationName":"Accept"}));
    b.respond(r, 200, err(2));
    let r = b.post("c1", "agent1", "X1", complete());
    b.respond(r, 200, ok());
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp01, Error);
}

#[test]
fn untouched_targets_are_skipped_not_dropped() {
    let mut b = HistoryBuilder::new();
    b.case("c", &[ReqId::Cmp07]).session("agent1", false);
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp07, Skip);
}

// ---------------------------------------------------------------- NTF-02

#[test]
fn ntf02_sessions() {
    let good = |b: &mut HistoryBuilder| {
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
    };
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::Connect {
            successful: false,
            advice: Some(json!({"reconnect":"handshake","interval":0})),
            error: Some("402::Unknown client".into()),
        },
    );
    b.bayeux(
        "agent1",
        BayeuxEvent::FollowedAdvice {
            reconnect: "handshake".into(),
            interval_ms: 0,
        },
    );
    good(&mut b);
    let fs = judge_session(&b.build());
    assert_verdict(&fs, ReqId::Ntf02, Pass);

    // The server ends the session mid-run (advice reconnect none, followed): Fail; the
    // harness's own stop is no connect, so it is never taken for this.
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::Connect {
            successful: false,
            advice: Some(json!({"reconnect":"none"})),
            error: Some("402::session dropped".into()),
        },
    );
    b.bayeux(
        "agent1",
        BayeuxEvent::FollowedAdvice {
            reconnect: "none".into(),
            interval_ms: 0,
        },
    );
    b.bayeux(
        "agent1",
        BayeuxEvent::Closed {
            reason: "server advised reconnect: none".into(),
        },
    );
    assert_verdict(&judge_session(&b.build()), ReqId::Ntf02, Fail);
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::Closed {
            reason: "stopped by the harness".into(),
        },
    );
    assert_verdict(&judge_session(&b.build()), ReqId::Ntf02, Pass);
    // Advice "none" on a connect that succeeded, the session going on until the
    // harness stops it: nothing ended observation early, Pass.
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::Connect {
            successful: true,
            advice: Some(json!({"reconnect":"none"})),
            error: None,
        },
    );
    b.bayeux(
        "agent1",
        BayeuxEvent::Closed {
            reason: "stopped by the harness".into(),
        },
    );
    assert_verdict(&judge_session(&b.build()), ReqId::Ntf02, Pass);

    // A failed handshake: Fail.
    let mut b = HistoryBuilder::new();
    b.bayeux(
        "agent1",
        BayeuxEvent::Handshake {
            successful: false,
            error: Some("403::denied".into()),
        },
    );
    assert_verdict(&judge_session(&b.build()), ReqId::Ntf02, Fail);

    // Advice to handshake never followed: the harness's fault, an Error.
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::Connect {
            successful: false,
            advice: Some(json!({"reconnect":"handshake"})),
            error: None,
        },
    );
    assert_verdict(&judge_session(&b.build()), ReqId::Ntf02, Error);

    // Garbage from the server: Fail.
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::Garbage {
            error: "expected value".into(),
            excerpt: "<html>".into(),
        },
    );
    assert_verdict(&judge_session(&b.build()), ReqId::Ntf02, Fail);

    // One unreadable message of an answer: that message's NTF-01 Fail, with its bytes;
    // the session itself worked (NTF-02 Pass).
    let mut b = HistoryBuilder::new();
    good(&mut b);
    b.bayeux(
        "agent1",
        BayeuxEvent::BadMessage {
            error: "/meta/connect answer: the element at byte 9 is not JSON: key must be a string"
                .into(),
            excerpt: "{oops: 1}".into(),
        },
    );
    let fs = judge_session(&b.build());
    assert_verdict(&fs, ReqId::Ntf02, Pass);
    assert_verdict(&fs, ReqId::Ntf01, Fail);
    let f = fs.iter().find(|f| f.req == ReqId::Ntf01).unwrap();
    assert!(
        f.witness.as_ref().unwrap().observed.contains("{oops: 1}"),
        "{f:?}"
    );
}

// ---------------------------------------------------------------- whole histories

#[test]
fn each_case_of_a_history_is_judged_on_its_own() {
    let mut b = chatting(&[ReqId::Cmp01]);
    complete_ok(&mut b, "c1", "agent1", "X1", complete());
    b.settle();
    // A second case reuses the alias and the request ids, as a fresh recorder would.
    let mut second = chatting(&[ReqId::Cmp02]);
    let r = second.post("c1", "agent1", "X1", complete());
    second.respond(r, 200, ok());
    second.settle_deadline(5000);
    let mut h = b.build();
    let base = h.events.len() as u64;
    for mut e in second.build().events {
        e.seq += base;
        h.events.push(e);
    }
    let fs = run(&h);
    let cmp02: Vec<_> = fs.iter().filter(|f| f.req == ReqId::Cmp02).collect();
    assert_eq!(cmp02.len(), 2, "{fs:#?}");
    assert_eq!(cmp02[0].verdict, Pass);
    assert_eq!(cmp02[1].verdict, Fail);
}

#[test]
fn findings_carry_no_secrets_from_the_history() {
    let mut b = chatting(&[ReqId::Cmp01]);
    let r = b.post("c1", "agent1", "X1", complete());
    // Even a header that slipped past redaction never reaches a finding.
    if let Some(gws_conform::history::EventKind::Request { headers, .. }) =
        b.build().events.last().map(|e| e.kind.clone())
    {
        assert!(headers.is_empty());
    }
    b.push(
        "rest:agent1",
        gws_conform::history::EventKind::Request {
            req: 99,
            actor: gws_conform::history::Actor::Agent("agent1".into()),
            method: "POST".into(),
            path: "/api/v2/me/chats/X1".into(),
            headers: vec![("Authorization".into(), "Basic c2VjcmV0".into())],
            body: Body::Json(complete()),
            part: None,
        },
    );
    b.respond(
        r,
        500,
        json!({"statusCode":4,"statusMessage":"x","csrf":"TOKEN123"}),
    );
    b.settle();
    let text = serde_json::to_string(&run(&b.build())).unwrap();
    assert!(
        !text.contains("c2VjcmV0") && !text.contains("TOKEN123"),
        "{text}"
    );
}

#[test]
fn cmp20_with_an_unanswered_complete_is_an_error() {
    let mut h = concurrent(None);
    // Turn the first Response of the concurrent step into a NoResponse.
    let pos = h
        .events
        .iter()
        .position(|e| {
            matches!(&e.kind, gws_conform::history::EventKind::Response { req, .. } if *req >= 6)
        })
        .unwrap();
    let gws_conform::history::EventKind::Response { req, .. } = h.events[pos].kind else {
        unreachable!()
    };
    h.events[pos].kind = gws_conform::history::EventKind::NoResponse {
        req,
        kind: gws_conform::history::NoResponseKind::Io,
        message: "connection reset".into(),
        elapsed_us: 1,
    };
    let fs = run(&h);
    assert_verdict(&fs, ReqId::Cmp20, Error);
}

#[test]
fn cmp17_fails_on_a_new_state_after_a_refusal() {
    let mut b = chatting(&[ReqId::Cmp17]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","treatAs":"Normal"}),
    );
    b.respond(r, 200, err(1));
    b.notify("agent1", status_change("X1", "LeftChat"));
    b.settle();
    let fs = run(&b.build());
    assert_verdict(&fs, ReqId::Cmp09, Pass);
    assert_verdict(&fs, ReqId::Cmp17, Fail);
    // A late echo of the Chatting the Accept caused is not the refusal's doing.
    let mut b = chatting(&[ReqId::Cmp17]);
    let r = b.post(
        "c1",
        "agent1",
        "X1",
        json!({"operationName":"Complete","treatAs":"Normal"}),
    );
    b.respond(r, 200, err(1));
    b.notify("agent1", status_change("X1", "Invited"));
    b.notify("agent1", status_change("X1", "Chatting"));
    b.settle();
    assert_verdict(&run(&b.build()), ReqId::Cmp17, Pass);
}
