//! The model's unit tests: the SPEC tables, read back through the model's functions.

use super::*;
use crate::history::Body;
use crate::spec::ReqId;
use serde_json::Value;
use serde_json::json;

fn j(v: Value) -> Body {
    Body::Json(v)
}

fn req_of(c: &Classified) -> Option<ReqId> {
    c.broken_req()
}

#[test]
fn what_the_contract_leaves_open_may_be_accepted_or_refused() {
    // SPEC §6.12: a property the schema does not list, and (in a raw body) a
    // lone-surrogate escape, make a Complete neither valid nor invalid.
    let extra = classify(&j(json!({"operationName": "Complete", "extra": 1})));
    assert!(matches!(
        extra,
        Classified::Unruled {
            rule: rules::EXTRA_PROPERTY,
            ..
        }
    ));
    assert_eq!(extra.broken_req(), None);
    let e = expect(Some(ChatState::Chatting), true, &extra);
    assert!(e.is_success());
    assert_eq!(e.either, Some(rules::EXTRA_PROPERTY));
    // Accepted: a success with its notifications; refused: a refusal under no
    // requirement that must change nothing.
    assert!(
        e.clone()
            .given(true, Some(ChatState::Chatting))
            .is_success()
    );
    let r = e.given(false, Some(ChatState::Chatting));
    let refusal = r.refusal.expect("refused");
    assert!(refusal.either && refusal.req.is_none());
    assert_eq!(r.next, Some(ChatState::Chatting));
    assert!(r.notifications.is_empty());
    // Where a valid Complete is refused anyway, the body changes nothing of that.
    let e = expect(Some(ChatState::Invited), true, &extra);
    assert_eq!(e.refusal.unwrap().req, Some(ReqId::Cmp12));
    // Both answers are explained in Chatting; in Completed only the refusal.
    for ok in [true, false] {
        assert!(explains(ChatState::Chatting, true, None, &extra, ok));
    }
    assert!(!explains(ChatState::Completed, true, None, &extra, true));
    // Without credentials, never.
    assert!(!explains(
        ChatState::Chatting,
        true,
        Some(ReqId::Ses02),
        &extra,
        true
    ));
    // A valid Complete refused is not explained; §6.8's Leave in LeftChat is.
    let plain = classify(&j(json!({"operationName": "Complete"})));
    assert!(!explains(ChatState::Chatting, true, None, &plain, false));
    let leave = classify(&j(json!({"operationName": "Leave"})));
    assert!(explains(ChatState::LeftChat, true, None, &leave, true));
    assert!(explains(ChatState::LeftChat, true, None, &leave, false));
}

#[test]
fn every_refusal_of_a_body_cites_its_rule() {
    for b in [
        Body::Raw("{".into()),
        Body::Empty,
        j(json!([1])),
        j(json!({"operationName": "complete"})),
        j(json!({"operationName": "Complete", "treatAs": "Normal"})),
        j(json!({"operationName": "Complete", "text": "x", "treatAs": "normal"})),
        j(json!({"operationName": "Complete", "saveLAR": "true"})),
    ] {
        let e = expect(Some(ChatState::Chatting), true, &classify(&b));
        let r = e.refusal.expect("refused");
        assert!(r.rule.is_some_and(|t| t.contains("SPEC §")), "{b:?}: {r:?}");
    }
}

#[test]
fn classify_hand_written_bodies() {
    let cases: Vec<(Body, Option<ReqId>)> = vec![
        (Body::Raw("{".into()), Some(ReqId::Req01)),
        (Body::Empty, Some(ReqId::Req01)),
        (j(json!([1])), Some(ReqId::Req01)),
        (j(json!({})), Some(ReqId::Req01)),
        (j(json!({"operationName": 3})), Some(ReqId::Req01)),
        (j(json!({"operationName": "Explode"})), Some(ReqId::Req01)),
        (j(json!({"operationName": "complete"})), Some(ReqId::Req01)),
        (j(json!({"operationName": "Complete"})), None),
        (
            j(
                json!({"operationName": "Complete", "queueName": "Q", "saveLAR": true,
            "text": "bye", "messageType": "Text", "treatAs": "System"}),
            ),
            None,
        ),
        (
            j(json!({"operationName": "Complete", "messageType": "Text"})),
            Some(ReqId::Cmp09),
        ),
        (
            j(json!({"operationName": "Complete", "treatAs": "Normal"})),
            Some(ReqId::Cmp09),
        ),
        (
            j(json!({"operationName": "Complete", "text": "x", "treatAs": "Loud"})),
            Some(ReqId::Cmp10),
        ),
        (
            j(json!({"operationName": "Complete", "text": "x", "treatAs": 1})),
            Some(ReqId::Cmp10),
        ),
        (
            j(json!({"operationName": "Complete", "saveLAR": "true"})),
            Some(ReqId::Cmp11),
        ),
        (
            j(json!({"operationName": "Complete", "queueName": ""})),
            Some(ReqId::Cmp11),
        ),
        (
            j(json!({"operationName": "Complete", "queueName": 7})),
            Some(ReqId::Cmp11),
        ),
        (
            j(json!({"operationName": "Complete", "text": 7})),
            Some(ReqId::Cmp11),
        ),
        (
            j(json!({"operationName": "Complete", "text": null})),
            Some(ReqId::Cmp11),
        ),
        (
            j(json!({"operationName": "Complete", "text": "x", "messageType": 1})),
            Some(ReqId::Cmp11),
        ),
        (j(json!({"operationName": "Accept", "nickname": "A"})), None),
    ];
    for (b, want) in cases {
        assert_eq!(req_of(&classify(&b)), want, "{b:?}");
    }
}

#[test]
fn expect_follows_the_spec_table() {
    let complete = classify(&j(json!({"operationName":"Complete","text":"bye"})));
    let e = expect(Some(ChatState::Chatting), true, &complete);
    assert!(e.is_success());
    assert_eq!(e.next, Some(ChatState::Completed));
    assert_eq!(
        e.notifications,
        vec![
            ExpectedNote::AgentText("bye".into()),
            ExpectedNote::StatusChange(ChatState::Completed)
        ]
    );
    assert!(expect(Some(ChatState::LeftChat), true, &complete).is_success());
    let r = |s, owns| expect(s, owns, &complete).refusal.unwrap();
    assert_eq!(r(Some(ChatState::Invited), true).req, Some(ReqId::Cmp12));
    assert_eq!(
        r(Some(ChatState::Invited), true).preferred_codes,
        Some(&[2, 3][..])
    );
    assert_eq!(r(Some(ChatState::Completed), true).req, Some(ReqId::Cmp13));
    assert_eq!(r(None, true).req, Some(ReqId::Cmp14));
    assert_eq!(r(None, true).required_codes, Some(&[6][..]));
    assert_eq!(r(Some(ChatState::Chatting), false).req, Some(ReqId::Cmp21));
    assert_eq!(
        r(Some(ChatState::Chatting), false).required_codes,
        Some(&[3, 5, 6][..])
    );
    let bad = classify(&j(json!({"operationName":"Complete","treatAs":"Normal"})));
    let e = expect(Some(ChatState::Chatting), true, &bad);
    assert_eq!(e.refusal.as_ref().unwrap().req, Some(ReqId::Cmp09));
    assert_eq!(e.next, Some(ChatState::Chatting));
    let accept = classify(&j(json!({"operationName":"Accept"})));
    assert_eq!(
        expect(Some(ChatState::Invited), true, &accept).next,
        Some(ChatState::Chatting)
    );
    let e = expect(Some(ChatState::Chatting), true, &accept);
    assert_eq!(e.refusal.unwrap().req, None);
    let leave = classify(&j(json!({"operationName":"Leave"})));
    assert_eq!(
        expect(Some(ChatState::Chatting), true, &leave).next,
        Some(ChatState::LeftChat)
    );
    let reject = classify(&j(json!({"operationName":"Reject"})));
    assert_eq!(
        expect(Some(ChatState::Invited), true, &reject).next,
        Some(ChatState::Completed)
    );
    let send = classify(&j(json!({"operationName":"SendMessage","text":"x"})));
    assert_eq!(
        expect(Some(ChatState::Chatting), true, &send).next,
        Some(ChatState::Chatting)
    );
    let junk = Classified::Malformed {
        reason: "x".into(),
        rule: rules::NOT_JSON,
    };
    assert_eq!(
        expect(Some(ChatState::Chatting), true, &junk)
            .refusal
            .unwrap()
            .req,
        Some(ReqId::Req01)
    );
}

#[test]
fn legal_ops_next_and_closing_follow_the_table() {
    let at = |state| Chat {
        state,
        customer_present: true,
    };
    use ChatState::*;
    use OpName::*;
    assert_eq!(legal_ops(&at(Invited)), vec![Accept, Reject]);
    assert_eq!(legal_ops(&at(Chatting)), vec![SendMessage, Leave, Complete]);
    assert_eq!(legal_ops(&at(LeftChat)), vec![Complete]);
    assert!(legal_ops(&at(Completed)).is_empty());
    assert_eq!(next(&at(Chatting), Leave), Some(at(LeftChat)));
    assert_eq!(next(&at(Invited), Complete), None);
    assert_eq!(closing_op(&at(Invited)), Some(Reject));
    assert_eq!(closing_op(&at(Chatting)), Some(Complete));
    assert_eq!(closing_op(&at(LeftChat)), Some(Complete));
    assert_eq!(closing_op(&at(Completed)), None);
    // Clean-up never Rejects: a Rejected chat may be offered again (SPEC §6.13).
    for st in ChatState::ALL {
        let mut s = st;
        for op in closing_ops_for_cleanup(st) {
            assert_ne!(*op, Reject);
            s = transition(s, *op).expect("each clean-up op is legal where it is sent");
        }
        assert_eq!(s, Completed, "{st:?}");
    }
    assert_eq!(status_change_of(Accept), Some(Chatting));
    assert_eq!(status_change_of(Reject), Some(Completed));
    assert_eq!(status_change_of(Leave), Some(LeftChat));
    assert_eq!(status_change_of(Complete), Some(Completed));
    assert_eq!(status_change_of(SendMessage), None);
}

#[test]
fn customer_session_follows_the_customer_and_leave() {
    let c = Chat::offered().apply(ChatEvent::Performed(OpName::Accept));
    assert_eq!(c.state, ChatState::Chatting);
    assert!(c.customer_session_open());
    assert_eq!(customer_events(&c).len(), 2);
    assert_eq!(c.apply(ChatEvent::CustomerSends), c);
    let gone = c.apply(ChatEvent::CustomerLeaves);
    assert_eq!(
        gone.state,
        ChatState::Chatting,
        "CMP-16: the agent still chats"
    );
    assert!(!gone.customer_session_open());
    assert!(customer_events(&gone).is_empty());
    let left = c.apply(ChatEvent::Performed(OpName::Leave));
    assert_eq!(left.state, ChatState::LeftChat);
    assert!(left.customer_present && !left.customer_session_open());
    let done = left.apply(ChatEvent::Performed(OpName::Complete));
    assert_eq!(done.state, ChatState::Completed);
    assert!(!done.customer_session_open());
}

#[test]
fn handle_follows_expect() {
    let complete = classify(&j(json!({"operationName":"Complete"})));
    let bad = classify(&j(json!({"operationName":"Complete","treatAs":"Loud"})));
    let chatting = Chat::offered().apply(ChatEvent::Performed(OpName::Accept));
    assert_eq!(chatting.handle(true, &complete).state, ChatState::Completed);
    assert_eq!(chatting.handle(false, &complete), chatting, "CMP-21");
    assert_eq!(chatting.handle(true, &bad), chatting, "CMP-09");
    assert_eq!(Chat::offered().handle(true, &complete), Chat::offered());
    let junk = Classified::Malformed {
        reason: "x".into(),
        rule: rules::NOT_JSON,
    };
    assert_eq!(chatting.handle(true, &junk), chatting);
    // Whatever the request, the model's next state is what `expect` says.
    for state in ChatState::ALL {
        let c = Chat {
            state,
            customer_present: true,
        };
        for op in OpName::ALL {
            let cls = classify(&j(json!({ "operationName": op.as_str() })));
            assert_eq!(
                Some(c.handle(true, &cls).state),
                expect(Some(state), true, &cls).next
            );
            assert_eq!(
                next(&c, op).is_some(),
                expect(Some(state), true, &cls).is_success()
            );
        }
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn field_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-zA-Z]{0,6}".prop_map(Value::String),
            Just(json!("Normal")),
            Just(json!("System")),
            Just(json!([])),
        ]
    }

    proptest! {
        /// The classifier agrees with an independent statement of each rule.
        #[test]
        fn classifier_agrees_with_the_rules(
            fields in proptest::collection::btree_map(
                prop_oneof![Just("text"), Just("messageType"), Just("treatAs"),
                            Just("saveLAR"), Just("queueName"), Just("other")],
                field_value(), 0..5)
        ) {
            let mut obj = serde_json::Map::new();
            obj.insert("operationName".into(), json!("Complete"));
            for (k, v) in &fields { obj.insert((*k).into(), v.clone()); }
            let got = req_of(&classify(&Body::Json(Value::Object(obj))));
            let g = |k: &str| fields.get(k);
            let want = if g("text").is_some_and(|v| !v.is_string())
                || g("messageType").is_some_and(|v| !v.is_string())
                || g("saveLAR").is_some_and(|v| !v.is_boolean())
                || g("queueName").is_some_and(|v| v.as_str().is_none_or(|s| s.is_empty())) {
                Some(ReqId::Cmp11)
            } else if g("text").is_none() && (g("messageType").is_some() || g("treatAs").is_some()) {
                Some(ReqId::Cmp09)
            } else if g("treatAs").is_some_and(|v| v != "Normal" && v != "System") {
                Some(ReqId::Cmp10)
            } else { None };
            prop_assert_eq!(got, want);
        }
    }
}
