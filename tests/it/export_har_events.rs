//! HAR 1.2 and NDJSON events of a failing case (src/report/har.rs, events.rs).

use std::time::{Duration, SystemTime};

use gws_conform::history::{Actor, Body, Event, EventKind, History};
use gws_conform::report::CaseReport;
use gws_conform::report::{events, har};
use serde_json::{Value, json};

fn ev(seq: u64, t_us: u64, stream: &str, kind: EventKind) -> Event {
    Event {
        seq,
        t_us,
        stream: stream.into(),
        stream_seq: seq,
        in_step: Some(0),
        kind,
        notes: Vec::new(),
    }
}

fn case() -> CaseReport {
    let history = History {
        events: vec![
            ev(
                0,
                0,
                "rest:agent1",
                EventKind::Request {
                    req: 1,
                    actor: Actor::Agent("agent1".into()),
                    method: "POST".into(),
                    path: "/api/v2/me/chats/c1".into(),
                    headers: vec![
                        ("Authorization".into(), "Basic c2VjcmV0".into()),
                        ("X-CSRF-TOKEN".into(), "tok-123".into()),
                        ("Content-Type".into(), "application/json".into()),
                    ],
                    body: Body::Json(json!({"operationName": "Complete"})),
                    part: None,
                },
            ),
            ev(
                1,
                1500,
                "rest:agent1",
                EventKind::Response {
                    req: 1,
                    status: 200,
                    body: Body::Json(json!({"statusCode": 0, "statusMessage": "x"})),
                    elapsed_us: 1500,
                },
            ),
            ev(
                2,
                2000,
                "bayeux:agent1",
                EventKind::Notification {
                    agent: "agent1".into(),
                    channel: "/v2/me/chats".into(),
                    data: json!({"messageType": "ChatStateChangeMessage"}),
                },
            ),
        ],
    };
    let mut v: Value = json!({
        "id": "case-7", "seed": 7, "exercises": ["CMP-01"], "steps": [], "findings": [],
        "verdict": "fail", "duration_ms": 3
    });
    v["history"] = serde_json::to_value(&history).unwrap();
    serde_json::from_value(v).unwrap()
}

#[test]
fn har_has_the_exchange_and_no_secret() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let h = har::case_har(&case(), "http://127.0.0.1:8080/", start).unwrap();
    let log = &h["log"];
    assert_eq!(log["version"], "1.2");
    let entries = log["entries"].as_array().unwrap();
    // The request, then the notification as the long-poll answer it came in.
    assert_eq!(entries.len(), 2);
    let e = &entries[0];
    assert_eq!(e["_agent"], "agent1");
    assert_eq!(
        e["request"]["url"],
        "http://127.0.0.1:8080/api/v2/me/chats/c1"
    );
    assert_eq!(
        e["request"]["postData"]["text"],
        r#"{"operationName":"Complete"}"#
    );
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["startedDateTime"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(e["time"], 1.5);
    let n = &entries[1];
    assert_eq!(n["startedDateTime"], "2023-11-14T22:13:20.002000Z");
    assert_eq!(
        n["request"]["url"],
        "http://127.0.0.1:8080/api/v2/notifications"
    );
    let connect: Value =
        serde_json::from_str(n["request"]["postData"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(connect[0]["channel"], "/meta/connect");
    let answer: Value =
        serde_json::from_str(n["response"]["content"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer[1]["channel"], "/v2/me/chats");
    assert_eq!(answer[1]["data"]["messageType"], "ChatStateChangeMessage");
    // Secret headers are redacted by name, whatever the history held.
    for h in e["request"]["headers"].as_array().unwrap() {
        if h["name"] != "Content-Type" {
            assert_eq!(h["value"], "<redacted>", "{h}");
        }
    }
    let text = h.to_string();
    assert!(
        !text.contains("c2VjcmV0") && !text.contains("tok-123"),
        "{text}"
    );
    // A case without a history has no HAR.
    let mut c = case();
    c.history = None;
    assert!(har::case_har(&c, "http://x", start).is_none());
}

#[test]
fn events_are_ndjson_with_a_case_end() {
    let mut out = Vec::new();
    events::write_case(&mut out, &case()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["case"] == "case-7"));
    assert_eq!(lines[0]["type"], "request");
    assert_eq!(lines[2]["type"], "notification");
    assert_eq!(lines[3]["type"], "verdict");
    assert_eq!(lines[3]["verdict"], "fail");
    assert_eq!(lines[3]["seed"], 7);
}
