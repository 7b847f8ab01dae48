use super::advice::backoff;
use super::wire::{Msg, read_answer};
use super::*;
use serde_json::json;

fn tuning() -> BayeuxTuning {
    BayeuxTuning {
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
        max_failures: 3,
        max_interval: Duration::from_secs(1),
        ..BayeuxTuning::default()
    }
}

fn reply(successful: bool, advice: Option<Value>, changed: bool, error: &str) -> Happened {
    Happened::ConnectReply {
        successful,
        advice: advice.as_ref().map(Advice::parse),
        changed,
        unknown_client: error.starts_with("402"),
    }
}

fn bad(m: &Msg) -> &str {
    match m {
        Msg::Bad { error, .. } => error,
        Msg::Read { value, .. } => panic!("read: {value}"),
    }
}

#[test]
fn an_answer_is_read_message_by_message() {
    let msgs = read_answer(
        r#"[{"channel":"/a","data":{"t":"x\ud800"}}, {bad}, 7, , {"channel":"/meta/connect","successful":true}]"#
            .as_bytes(),
        "/meta/connect",
    );
    assert_eq!(msgs.len(), 5, "{msgs:?}");
    match &msgs[0] {
        Msg::Read { value, notes } => {
            assert_eq!(value["data"]["t"], "x\u{fffd}");
            assert!(notes[0].contains("at byte 31"), "{notes:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        bad(&msgs[1]).contains("the element at byte 42 is not JSON: key must be a string"),
        "{msgs:?}"
    );
    assert!(matches!(&msgs[1], Msg::Bad { excerpt, .. } if excerpt == "{bad}"));
    assert!(bad(&msgs[2]).contains("not a message object"));
    assert!(
        bad(&msgs[3]).contains("an empty element at byte 52"),
        "{msgs:?}"
    );
    assert_eq!(
        Session::reply(&msgs, "/meta/connect").map(|r| r["successful"].clone()),
        Some(Value::Bool(true))
    );
}

#[test]
fn a_whole_answer_that_is_no_array_is_one_message() {
    let msgs = read_answer(b"<html>502</html>", "/meta/connect");
    assert_eq!(msgs.len(), 1);
    assert!(bad(&msgs[0]).starts_with("/meta/connect answer is not JSON"));
    let msgs = read_answer(b"\"x\"", "/meta/handshake");
    assert!(bad(&msgs[0]).contains("not an array of Bayeux messages"));
}

#[test]
fn a_lone_message_object_is_a_one_message_answer() {
    let msgs = read_answer(
        r#"{"channel":"/meta/connect","successful":true}"#.as_bytes(),
        "c",
    );
    assert!(
        matches!(&msgs[..], [Msg::Read { notes, .. }] if notes[0].contains("one message object")),
        "{msgs:?}"
    );
    assert!(read_answer(b"[]", "c").is_empty());
}

#[test]
fn an_answer_cut_short_or_followed_by_text_has_one_more_bad_message() {
    // Cut short after a whole message, or followed by text: one more bad message.
    let msgs = read_answer(r#"[{"channel":"/a"}"#.as_bytes(), "c");
    assert!(bad(&msgs[1]).contains("before its closing ']'"), "{msgs:?}");
    let msgs = read_answer(r#"[{"channel":"/a"}] junk"#.as_bytes(), "c");
    assert!(
        bad(&msgs[1]).contains("after the closing ']' at byte 19"),
        "{msgs:?}"
    );
    // Cut inside a message: that message is the bad one, nothing more.
    let msgs = read_answer(r#"[{"channel":"/a"},{"chan"#.as_bytes(), "c");
    assert_eq!(msgs.len(), 2);
    assert!(bad(&msgs[1]).contains("ends inside a value"), "{msgs:?}");
}

#[test]
fn advice_is_parsed_into_types_and_persists_field_by_field() {
    let a = Advice::parse(
        &json!({"reconnect": "handshake", "interval": 250, "timeout": 30000, "multiple-clients": true}),
    );
    assert_eq!(a.reconnect, Some(Reconnect::Handshake));
    assert_eq!(a.interval, Some(Duration::from_millis(250)));
    assert_eq!(a.timeout, Some(Duration::from_secs(30)));
    assert_eq!(a.multiple_clients, Some(true));
    assert_eq!(
        Advice::parse(&json!({"reconnect": "bogus"})).reconnect,
        Some(Reconnect::Retry)
    );
    assert_eq!(Advice::parse(&json!("x")), Advice::default());
    let mut st = StandingAdvice::default();
    st.apply(&a);
    st.apply(&Advice::parse(&json!({"interval": 10})));
    assert_eq!(st.reconnect, Reconnect::Handshake);
    assert_eq!(st.interval, Duration::from_millis(10));
    assert_eq!(st.timeout, Some(Duration::from_secs(30)));
}

#[test]
fn successful_connect_retries_after_the_capped_interval_and_resets_counts() {
    let mut st = StandingAdvice::default();
    st.apply(&Advice::parse(&json!({"interval": 5000})));
    let d = decide(
        &st,
        Streak {
            failures: 2,
            rehandshakes: 1,
        },
        &reply(
            true,
            Some(json!({"reconnect": "retry", "interval": 5000})),
            true,
            "",
        ),
        &tuning(),
    );
    assert_eq!(d.action, Action::Connect);
    assert_eq!(d.delay, Duration::from_secs(1), "capped at max_interval");
    assert_eq!(d.streak, Streak::default());
    assert_eq!(d.followed, Some(Reconnect::Retry));
    assert!(d.pace);
    // Unchanged advice is not recorded again.
    let d = decide(
        &st,
        Streak::default(),
        &reply(true, None, false, ""),
        &tuning(),
    );
    assert_eq!((d.action, d.followed), (Action::Connect, None));
}

#[test]
fn advised_none_and_handshake_are_obeyed_at_once() {
    let st = StandingAdvice::default();
    let d = decide(
        &st,
        Streak::default(),
        &reply(true, Some(json!({"reconnect": "none"})), true, ""),
        &tuning(),
    );
    assert_eq!(
        d.action,
        Action::Close("server advised reconnect: none".into())
    );
    assert_eq!(d.followed, Some(Reconnect::None));
    let d = decide(
        &st,
        Streak::default(),
        &reply(false, Some(json!({"reconnect": "handshake"})), true, ""),
        &tuning(),
    );
    assert_eq!(d.action, Action::Handshake);
    assert_eq!(d.followed, Some(Reconnect::Handshake));
    assert_eq!(d.streak.rehandshakes, 1);
    // Too many re-handshakes in a row: give up.
    let d = decide(
        &st,
        Streak {
            failures: 0,
            rehandshakes: 3,
        },
        &reply(false, None, false, "402::unknown client"),
        &tuning(),
    );
    assert!(
        matches!(&d.action, Action::Close(r) if r.contains("4 re-handshakes")),
        "{d:?}"
    );
}

#[test]
fn unsuccessful_without_advice_follows_the_standing_advice() {
    let mut st = StandingAdvice::default();
    let d = decide(
        &st,
        Streak::default(),
        &reply(false, None, false, "500"),
        &tuning(),
    );
    assert_eq!(d.action, Action::Connect);
    assert_eq!(d.streak.failures, 1);
    assert_eq!(d.delay, Duration::from_millis(100));
    st.reconnect = Reconnect::None;
    let d = decide(
        &st,
        Streak::default(),
        &reply(false, None, false, "500"),
        &tuning(),
    );
    assert!(matches!(&d.action, Action::Close(r) if r.contains("standing advice")));
    st.reconnect = Reconnect::Handshake;
    let d = decide(
        &st,
        Streak::default(),
        &reply(false, None, false, "500"),
        &tuning(),
    );
    assert_eq!(d.action, Action::Handshake);
}

#[test]
fn failures_back_off_exponentially_then_close() {
    let st = StandingAdvice::default();
    let t = tuning();
    let mut streak = Streak::default();
    let mut delays = Vec::new();
    loop {
        let d = decide(&st, streak, &Happened::ConnectFailed, &t);
        streak = d.streak;
        if let Action::Close(r) = d.action {
            assert_eq!(r, "gave up after 3 consecutive failed connects");
            break;
        }
        delays.push(d.delay.as_millis());
    }
    assert_eq!(delays, vec![100, 200]);
    let d = decide(
        &st,
        Streak {
            failures: 1,
            rehandshakes: 2,
        },
        &Happened::RehandshakeFailed,
        &t,
    );
    assert_eq!(
        (d.action, d.delay),
        (Action::Handshake, Duration::from_millis(200))
    );
    let d = decide(
        &st,
        Streak {
            failures: 1,
            rehandshakes: 2,
        },
        &Happened::Rehandshaked,
        &t,
    );
    assert_eq!(
        (d.action, d.delay, d.streak),
        (
            Action::Connect,
            Duration::ZERO,
            Streak {
                failures: 0,
                rehandshakes: 2
            }
        )
    );
    assert_eq!(backoff(&t, 20), Duration::from_millis(500));
}
