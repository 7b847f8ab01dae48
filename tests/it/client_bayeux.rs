//! The Bayeux client against a small scripted in-test Bayeux server (axum): handshake,
//! subscribe, deliveries in order, advice (retry/interval, handshake, none,
//! multiple-clients), 402 re-handshake, garbage and oversized answers survived, giving up
//! after repeated failures, clean stop.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gws_conform::check::{Verdict, judge_session};
use gws_conform::client::{
    AgentClient, BayeuxClient, BayeuxHandle, BayeuxTuning, Credentials, TargetConfig,
};
use gws_conform::history::{BayeuxEvent, Event, EventKind, Recorder};
use gws_conform::spec::ReqId;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(5);
const CSRF_TOKEN: &str = "csrf-tok-99";

/// What the server answers to the next `/meta/connect`.
enum Script {
    /// A Bayeux message array.
    Json(Value),
    /// Any bytes, as is, with HTTP 200.
    Text(String),
    /// Any bytes, as is, with HTTP 200 and `Content-Type: application/json;charset=UTF-8`.
    JsonText(String),
    /// An HTTP status with an empty body.
    Status(u16),
    /// No answer for this long (then an empty successful connect).
    Hang(Duration),
}

/// One Bayeux message the server received, with what its HTTP request carried.
#[derive(Clone, Debug)]
struct Seen {
    msg: Value,
    authorization: bool,
    cookie: String,
    csrf: bool,
}

#[derive(Default)]
struct Srv {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Script>>,
    pushed: Notify,
    handshakes: AtomicU64,
    refuse_handshake: std::sync::atomic::AtomicBool,
}

impl Srv {
    fn push(&self, s: Script) {
        self.script.lock().unwrap().push_back(s);
        self.pushed.notify_one();
    }
    fn seen(&self, channel: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.msg["channel"] == channel)
            .cloned()
            .collect()
    }
}

fn connect_ok() -> Value {
    json!({"channel":"/meta/connect","successful":true})
}

fn delivery(n: u64) -> Value {
    json!({"channel":"/v2/me/chats","data":{"messageType":"ChatStateChangeMessage","notificationType":"StatusChange","n":n,"chat":{"id":format!("C{n}"),"state":"Invited"}}})
}

async fn me() -> Response {
    let mut h = HeaderMap::new();
    h.insert("set-cookie", "JSESSIONID=js1; Path=/".parse().unwrap());
    h.insert("x-csrf-header", "X-CSRF-TOKEN".parse().unwrap());
    h.insert("x-csrf-token", CSRF_TOKEN.parse().unwrap());
    (h, axum::Json(json!({"statusCode":0,"user":{}}))).into_response()
}

async fn ok0() -> axum::Json<Value> {
    axum::Json(json!({"statusCode":0}))
}

async fn bayeux(State(srv): State<Arc<Srv>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(Value::Array(msgs)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a message array").into_response();
    };
    let cookie = headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    for m in &msgs {
        srv.seen.lock().unwrap().push(Seen {
            msg: m.clone(),
            authorization: headers.contains_key("authorization"),
            cookie: cookie.clone(),
            csrf: headers.contains_key("x-csrf-token"),
        });
    }
    let first = msgs[0]["channel"].as_str().unwrap_or("").to_string();
    match first.as_str() {
        "/meta/handshake" if srv.refuse_handshake.load(Ordering::SeqCst) => axum::Json(
            json!([{"channel":"/meta/handshake","successful":false,"error":"403::denied"}]),
        )
        .into_response(),
        "/meta/handshake" => {
            let n = srv.handshakes.fetch_add(1, Ordering::SeqCst) + 1;
            let mut h = HeaderMap::new();
            h.insert("set-cookie", "BAYEUX_BROWSER=bb1; Path=/".parse().unwrap());
            let reply = json!([{"channel":"/meta/handshake","successful":true,"version":"1.0",
                "supportedConnectionTypes":["long-polling"],"clientId":format!("c{n}"),
                "id":msgs[0]["id"],"advice":{"reconnect":"retry","interval":0,"timeout":150}}]);
            (h, axum::Json(reply)).into_response()
        }
        "/meta/subscribe" => {
            let replies: Vec<Value> = msgs
                .iter()
                .map(|m| json!({"channel":"/meta/subscribe","successful":true,"subscription":m["subscription"],"id":m["id"]}))
                .collect();
            axum::Json(Value::Array(replies)).into_response()
        }
        "/meta/connect" => {
            let mut next = srv.script.lock().unwrap().pop_front();
            if next.is_none() {
                // Hold like a long poll, at most the advised 150 ms.
                let _ =
                    tokio::time::timeout(Duration::from_millis(150), srv.pushed.notified()).await;
                next = srv.script.lock().unwrap().pop_front();
            }
            match next {
                None => axum::Json(json!([connect_ok()])).into_response(),
                Some(Script::Json(v)) => axum::Json(v).into_response(),
                Some(Script::Text(t)) => (StatusCode::OK, t).into_response(),
                Some(Script::JsonText(t)) => (
                    StatusCode::OK,
                    [("content-type", "application/json;charset=UTF-8")],
                    t,
                )
                    .into_response(),
                Some(Script::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
                Some(Script::Hang(d)) => {
                    tokio::time::sleep(d).await;
                    axum::Json(json!([connect_ok()])).into_response()
                }
            }
        }
        "/meta/disconnect" => {
            axum::Json(json!([{"channel":"/meta/disconnect","successful":true}])).into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "unknown channel").into_response(),
    }
}

fn tuning() -> BayeuxTuning {
    BayeuxTuning {
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_failures: 4,
        max_interval: Duration::from_secs(1),
        default_server_timeout: Duration::from_millis(200),
        min_poll_period: Duration::from_millis(20),
        max_notifications: 1000,
        ..BayeuxTuning::default()
    }
}

struct Fixture {
    srv: Arc<Srv>,
    cfg: TargetConfig,
    agent: AgentClient,
    run: Recorder,
}

async fn fixture(max_body: usize) -> Fixture {
    let srv = Arc::new(Srv::default());
    let app = Router::new()
        .route("/api/v2/me", get(me).post(ok0))
        .route("/api/v2/me/channels/chat", post(ok0))
        .route("/api/v2/notifications", post(bayeux))
        .with_state(srv.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut cfg = TargetConfig::new(&base).unwrap();
    cfg.request_timeout = Duration::from_millis(500);
    cfg.connect_timeout = Duration::from_millis(500);
    cfg.max_body_bytes = max_body;
    let run = Recorder::new();
    let agent = AgentClient::login(&cfg, Credentials::new("ag1", "pw-bayeux-1"), &run.child())
        .await
        .unwrap();
    Fixture {
        srv,
        cfg,
        agent,
        run,
    }
}

async fn start(f: &Fixture) -> BayeuxHandle {
    BayeuxClient::start_with(&f.cfg, &f.agent, &["/v2/me/chats"], f.run.clone(), tuning())
        .await
        .expect("bayeux start")
}

fn bayeux_event(e: &Event) -> Option<&BayeuxEvent> {
    match &e.kind {
        EventKind::Bayeux { event, .. } => Some(event),
        _ => None,
    }
}

async fn wait_bayeux(run: &Recorder, from: usize, pred: impl Fn(&BayeuxEvent) -> bool) -> Event {
    run.wait_for(from, WAIT, |e| bayeux_event(e).is_some_and(&pred))
        .await
        .expect("expected Bayeux event did not come")
}

fn notifications(run: &Recorder) -> Vec<u64> {
    run.snapshot()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Notification { data, .. } => data["n"].as_u64(),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn handshake_subscribe_then_deliveries_in_order() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    // Handshake and subscribe are done (and recorded) before start returns.
    let events: Vec<_> = f.run.snapshot().events;
    assert!(matches!(
        bayeux_event(&events[0]),
        Some(BayeuxEvent::Handshake {
            successful: true,
            ..
        })
    ));
    assert!(matches!(
        bayeux_event(&events[1]),
        Some(BayeuxEvent::Subscribe { channel, successful: true, .. }) if channel == "/v2/me/chats"
    ));
    assert!(events.iter().all(|e| e.stream == "bayeux:ag1"));
    let subs = f.srv.seen("/meta/subscribe");
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].msg["clientId"], "c1");
    assert_eq!(subs[0].msg["subscription"], "/v2/me/chats");

    f.srv.push(Script::Json(json!([
        delivery(1),
        delivery(2),
        connect_ok(),
        delivery(3)
    ])));
    f.srv.push(Script::Json(json!([delivery(4), connect_ok()])));
    f.run
        .wait_for(
            0,
            WAIT,
            |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["n"] == 4),
        )
        .await
        .expect("delivery 4");
    assert_eq!(notifications(&f.run), vec![1, 2, 3, 4]);
    let n = f
        .run
        .snapshot()
        .events
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::Notification { agent, channel, .. } => Some((agent, channel)),
            _ => None,
        })
        .unwrap();
    assert_eq!(n, ("ag1".to_string(), "/v2/me/chats".to_string()));

    // Every Bayeux request: Basic auth, the agent's session cookie (and the cookie the
    // Bayeux server set), never the CSRF token (SPEC §6.1).
    let connects = f.srv.seen("/meta/connect");
    assert!(connects.len() >= 2);
    for s in f.srv.seen.lock().unwrap().iter() {
        assert!(s.authorization, "{s:?}");
        assert!(s.cookie.contains("JSESSIONID=js1"), "{s:?}");
        assert!(!s.csrf, "{s:?}");
    }
    assert!(connects[0].cookie.contains("BAYEUX_BROWSER=bb1"));
    assert_eq!(connects[0].msg["connectionType"], "long-polling");
    assert_eq!(connects[0].msg["clientId"], "c1");

    assert!(h.is_alive());
    let from = f.run.len();
    h.stop().await;
    wait_bayeux(&f.run, from, |b| matches!(b, BayeuxEvent::Closed { .. })).await;
    assert_eq!(f.srv.seen("/meta/disconnect").len(), 1);
    let text = serde_json::to_string(&f.run.snapshot()).unwrap();
    assert!(!text.contains("pw-bayeux-1") && !text.contains("js1") && !text.contains(CSRF_TOKEN));
}

#[tokio::test]
async fn advice_retry_waits_the_interval_and_multiple_clients_is_noted() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    f.srv.push(Script::Json(json!([
        {"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":30,"multiple-clients":true}}
    ])));
    f.srv.push(Script::Json(json!([delivery(7), connect_ok()])));
    let e = wait_bayeux(&f.run, 0, |b| {
        matches!(b, BayeuxEvent::FollowedAdvice { .. })
    })
    .await;
    assert_eq!(
        bayeux_event(&e),
        Some(&BayeuxEvent::FollowedAdvice {
            reconnect: "retry".into(),
            interval_ms: 30
        })
    );
    let noted = f.run.snapshot().iter().any(|e| {
        matches!(bayeux_event(e), Some(BayeuxEvent::Connect { successful: true, advice: Some(a), .. }) if a["multiple-clients"] == true)
    });
    assert!(noted, "the multiple-clients advice is recorded");
    // The loop went on after the advised interval and got the next delivery.
    f.run
        .wait_for(0, WAIT, |e| {
            matches!(&e.kind, EventKind::Notification { .. })
        })
        .await
        .expect("delivery after retry");
    assert_eq!(notifications(&f.run), vec![7]);
    assert_eq!(
        f.srv.handshakes.load(Ordering::SeqCst),
        1,
        "retry is not a re-handshake"
    );
    h.stop().await;
}

async fn assert_rehandshakes(first_answer: Value) {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    f.srv.push(Script::Json(first_answer));
    f.srv.push(Script::Json(json!([delivery(9), connect_ok()])));
    f.run
        .wait_for(0, WAIT, |e| {
            matches!(&e.kind, EventKind::Notification { .. })
        })
        .await
        .expect("delivery after re-handshake");
    assert_eq!(f.srv.handshakes.load(Ordering::SeqCst), 2);
    let subs = f.srv.seen("/meta/subscribe");
    assert_eq!(subs.len(), 2, "re-subscribed after the new handshake");
    assert_eq!(subs[1].msg["clientId"], "c2");
    let last_connect = f.srv.seen("/meta/connect").last().unwrap().msg.clone();
    assert_eq!(last_connect["clientId"], "c2");
    let h_events: Vec<_> = f
        .run
        .snapshot()
        .events
        .iter()
        .filter_map(|e| bayeux_event(e).cloned())
        .collect();
    let handshakes = h_events
        .iter()
        .filter(|b| {
            matches!(
                b,
                BayeuxEvent::Handshake {
                    successful: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(handshakes, 2);
    let followed = h_events.iter().any(
        |b| matches!(b, BayeuxEvent::FollowedAdvice { reconnect, .. } if reconnect == "handshake"),
    );
    assert!(followed, "the re-handshake is recorded as followed advice");
    assert!(h.is_alive());
    h.stop().await;
}

#[tokio::test]
async fn reconnect_handshake_advice_rehandshakes_and_resubscribes() {
    assert_rehandshakes(
        json!([{"channel":"/meta/connect","successful":false,"error":"403::session expired","advice":{"reconnect":"handshake","interval":0}}]),
    )
    .await;
}

#[tokio::test]
async fn unknown_client_402_rehandshakes_even_without_advice() {
    assert_rehandshakes(
        json!([{"channel":"/meta/connect","successful":false,"error":"402::Unknown client"}]),
    )
    .await;
}

#[tokio::test]
async fn reconnect_none_stops_the_session() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    f.srv.push(Script::Json(json!([
        {"channel":"/meta/connect","successful":false,"error":"bye","advice":{"reconnect":"none"}}
    ])));
    let e = wait_bayeux(&f.run, 0, |b| matches!(b, BayeuxEvent::Closed { .. })).await;
    assert!(
        matches!(bayeux_event(&e), Some(BayeuxEvent::Closed { reason }) if reason.contains("none"))
    );
    assert!(!h.is_alive());
    let connects = f.srv.seen("/meta/connect").len();
    assert_eq!(connects, 1, "no connect after reconnect: none");
    h.stop().await; // stopping a dead session is harmless
    assert_eq!(f.srv.seen("/meta/connect").len(), 1);
}

#[tokio::test]
async fn garbage_and_oversized_answers_are_recorded_and_survived() {
    let f = fixture(4096).await;
    let h = start(&f).await;
    f.srv.push(Script::Text("<html>proxy error</html>".into()));
    f.srv.push(Script::Json(
        json!({"channel":"/meta/connect","successful":true}),
    ));
    // A good answer in between resets the failure count (4 in a row would end the session).
    f.srv.push(Script::Json(json!([connect_ok()])));
    f.srv
        .push(Script::Text(format!("[{}]", " ".repeat(10_000))));
    f.srv.push(Script::Json(json!([1, 2, 3])));
    f.srv.push(Script::Json(json!([delivery(5), connect_ok()])));
    f.run
        .wait_for(0, WAIT, |e| {
            matches!(&e.kind, EventKind::Notification { .. })
        })
        .await
        .expect("delivery after garbage");
    let h_events: Vec<_> = f
        .run
        .snapshot()
        .events
        .iter()
        .filter_map(|e| bayeux_event(e).cloned())
        .collect();
    // Each unreadable message is recorded on its own (NTF-01); a single message object
    // is read as a one-message answer.
    let bad: Vec<_> = h_events
        .iter()
        .filter_map(|b| match b {
            BayeuxEvent::BadMessage { error, excerpt } => Some((error.clone(), excerpt.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(bad.len(), 4, "{bad:?}");
    assert!(bad[0].0.contains("not JSON") && bad[0].1.contains("proxy error"));
    for (i, (error, excerpt)) in bad[1..].iter().enumerate() {
        assert!(error.contains("not a message object"), "{error}");
        assert_eq!(excerpt, &(i + 1).to_string());
    }
    assert!(
        !h_events
            .iter()
            .any(|b| matches!(b, BayeuxEvent::Garbage { .. })),
        "{h_events:?}"
    );
    let too_large = h_events.iter().any(|b| {
        matches!(b, BayeuxEvent::Connect { successful: false, error: Some(e), .. } if e.contains("exceeds the cap"))
    });
    assert!(too_large, "{h_events:?}");
    assert!(h.is_alive());
    assert_eq!(notifications(&f.run), vec![5]);
    h.stop().await;
}

#[tokio::test]
async fn repeated_failures_end_the_session() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    for _ in 0..10 {
        f.srv.push(Script::Status(500));
    }
    let e = wait_bayeux(&f.run, 0, |b| matches!(b, BayeuxEvent::Closed { .. })).await;
    assert!(
        matches!(bayeux_event(&e), Some(BayeuxEvent::Closed { reason }) if reason.contains("4 consecutive")),
        "{e:?}"
    );
    assert!(!h.is_alive());
    assert_eq!(f.srv.seen("/meta/connect").len(), 4);
    let failed = f
        .run
        .snapshot()
        .iter()
        .filter(|e| {
            matches!(bayeux_event(e), Some(BayeuxEvent::Connect { successful: false, error: Some(m), .. }) if m.contains("HTTP 500"))
        })
        .count();
    assert_eq!(failed, 4);
}

#[tokio::test]
async fn a_refused_handshake_is_a_harness_error() {
    let f = fixture(1 << 20).await;
    f.srv.refuse_handshake.store(true, Ordering::SeqCst);
    let run = Recorder::new();
    let err = BayeuxClient::start_with(&f.cfg, &f.agent, &["/v2/me/chats"], run.clone(), tuning())
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("handshake") && err.contains("403::denied"),
        "{err}"
    );
    assert!(
        err.contains("ag1") && err.contains("/api/v2/notifications"),
        "{err}"
    );
    assert!(run.snapshot().iter().any(|e| matches!(
        bayeux_event(e),
        Some(BayeuxEvent::Handshake { successful: false, error: Some(m) }) if m.contains("403")
    )));
    let err = BayeuxClient::start_with(&f.cfg, &f.agent, &[], run, tuning())
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("no channel"), "{err}");
}

#[tokio::test]
async fn a_connect_that_never_answers_times_out_and_the_loop_goes_on() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    // Advised long-poll timeout is 150 ms and the request timeout 500 ms: a connect held
    // for 30 s is abandoned, recorded, and the next connect delivers.
    f.srv.push(Script::Hang(Duration::from_secs(30)));
    f.srv
        .push(Script::Json(json!([delivery(11), connect_ok()])));
    f.run
        .wait_for(0, WAIT, |e| {
            matches!(&e.kind, EventKind::Notification { .. })
        })
        .await
        .expect("delivery after a hung connect");
    let timed_out = f.run.snapshot().iter().any(|e| {
        matches!(bayeux_event(e), Some(BayeuxEvent::Connect { successful: false, error: Some(m), .. }) if m.contains("no complete answer"))
    });
    assert!(timed_out);
    assert!(h.is_alive());
    h.stop().await;
}

#[tokio::test]
async fn a_flood_of_deliveries_is_cut_and_the_session_closed() {
    let f = fixture(1 << 20).await;
    let h = BayeuxClient::start_with(
        &f.cfg,
        &f.agent,
        &["/v2/me/chats"],
        f.run.clone(),
        BayeuxTuning {
            max_notifications: 5,
            ..tuning()
        },
    )
    .await
    .unwrap();
    let mut flood: Vec<Value> = (1..=8).map(delivery).collect();
    flood.push(connect_ok());
    f.srv.push(Script::Json(Value::Array(flood)));
    let e = wait_bayeux(&f.run, 0, |b| matches!(b, BayeuxEvent::Closed { .. })).await;
    assert!(
        matches!(bayeux_event(&e), Some(BayeuxEvent::Closed { reason }) if reason.contains("flood"))
    );
    assert_eq!(notifications(&f.run), vec![1, 2, 3, 4, 5]);
    assert!(f.run.snapshot().iter().any(|e| {
        matches!(bayeux_event(e), Some(BayeuxEvent::Garbage { error, .. }) if error.contains("flood"))
    }));
    assert!(!h.is_alive());
}

/// The flood bound is per connect answer (and bytes per window), not per session: a long
/// run or a soak against a good server sees any number of notifications.
#[tokio::test]
async fn many_answers_under_the_bound_are_no_flood() {
    let f = fixture(1 << 20).await;
    let h = BayeuxClient::start_with(
        &f.cfg,
        &f.agent,
        &["/v2/me/chats"],
        f.run.clone(),
        BayeuxTuning {
            max_notifications: 5,
            ..tuning()
        },
    )
    .await
    .unwrap();
    for k in 0..4u64 {
        let mut answer: Vec<Value> = (1..=4).map(|i| delivery(k * 4 + i)).collect();
        answer.push(connect_ok());
        f.srv.push(Script::Json(Value::Array(answer)));
    }
    f.run
        .wait_for(
            0,
            WAIT,
            |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["n"] == 16),
        )
        .await
        .expect("the 16th delivery arrives");
    assert_eq!(notifications(&f.run), (1..=16).collect::<Vec<u64>>());
    assert!(
        h.is_alive(),
        "16 deliveries in answers of 4 are not a flood"
    );
    h.stop().await;
}

#[tokio::test]
async fn endless_handshake_advice_is_bounded() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    for _ in 0..20 {
        f.srv.push(Script::Json(json!([
            {"channel":"/meta/connect","successful":false,"error":"402::Unknown client","advice":{"reconnect":"handshake","interval":0}}
        ])));
    }
    let e = wait_bayeux(&f.run, 0, |b| matches!(b, BayeuxEvent::Closed { .. })).await;
    assert!(
        matches!(bayeux_event(&e), Some(BayeuxEvent::Closed { reason }) if reason.contains("re-handshakes in a row")),
        "{e:?}"
    );
    // The first handshake plus max_failures (4) re-handshakes.
    assert_eq!(f.srv.handshakes.load(Ordering::SeqCst), 5);
    assert!(!h.is_alive());
}

#[tokio::test]
async fn repeated_identical_advice_is_recorded_once() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    let with = |interval: u64| {
        Script::Json(json!([
            {"channel":"/meta/connect","successful":true,"advice":{"reconnect":"retry","interval":interval,"timeout":150}}
        ]))
    };
    for _ in 0..4 {
        f.srv.push(with(5));
    }
    f.srv.push(with(6));
    f.srv.push(Script::Json(json!([delivery(1), connect_ok()])));
    f.run
        .wait_for(0, WAIT, |e| {
            matches!(&e.kind, EventKind::Notification { .. })
        })
        .await
        .expect("delivery");
    let followed: Vec<u64> = f
        .run
        .snapshot()
        .iter()
        .filter_map(|e| match bayeux_event(e) {
            Some(BayeuxEvent::FollowedAdvice { interval_ms, .. }) => Some(*interval_ms),
            _ => None,
        })
        .collect();
    assert_eq!(followed, vec![5, 6]);
    h.stop().await;
}

fn notification_data(run: &Recorder, n: u64) -> (Value, Vec<String>) {
    run.snapshot()
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Notification { data, .. } if data["n"] == n => {
                Some((data.clone(), e.notes.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no notification {n}"))
}

/// A vendor's target echoes a Complete's text holding a lone-surrogate escape (legal
/// JSON grammar, RFC 8259 §7) in its NewMessages. It used to cost the whole connect
/// answer (serde_json refused it) and fail NTF-02.
#[tokio::test]
async fn a_lone_surrogate_in_a_delivery_is_read_shown_as_fffd_and_noted() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    let new_messages = r#"{"channel":"/v2/me/chats","data":{"messageType":"MessageLogUpdated","notificationType":"NewMessages","n":7,"chatUri":"/api/v2/chats/C7","messages":[{"index":1,"type":"Text","text":"bye \ud800 there","visibility":"All"}]}}"#;
    f.srv.push(Script::JsonText(format!(
        "[{}, {new_messages}, {}]",
        delivery(6),
        connect_ok()
    )));
    f.srv.push(Script::Json(json!([delivery(8), connect_ok()])));
    f.run
        .wait_for(
            0,
            WAIT,
            |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["n"] == 8),
        )
        .await
        .expect("the delivery after the one with a lone surrogate");
    assert_eq!(notifications(&f.run), vec![6, 7, 8]);
    let (data, notes) = notification_data(&f.run, 7);
    assert_eq!(data["messages"][0]["text"], "bye \u{fffd} there");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains(r"\ud800") && notes[0].contains("U+FFFD"),
        "{notes:?}"
    );
    assert!(notification_data(&f.run, 6).1.is_empty());
    assert!(h.is_alive());
    h.stop().await;
    let run = f.run.snapshot();
    assert!(
        !run.iter().any(|e| matches!(
            bayeux_event(e),
            Some(BayeuxEvent::Garbage { .. } | BayeuxEvent::BadMessage { .. })
        )),
        "{:?}",
        run.events
    );
    let findings = judge_session(&run);
    assert!(
        findings.iter().all(|f| f.verdict == Verdict::Pass),
        "{findings:?}"
    );
    assert!(findings.iter().any(|f| f.req == ReqId::Ntf02));
    // The note reaches the JSON history.
    let text = serde_json::to_string(&run).unwrap();
    assert!(
        text.contains(r#""notes":["the target sent the lone-surrogate escape \\ud800"#),
        "{text}"
    );
}

/// One message that cannot be read among good ones: the good ones are recorded, the bad
/// one is that message's NTF-01 Fail with its bytes, and the session goes on.
#[tokio::test]
async fn one_unreadable_message_costs_only_itself() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    f.srv.push(Script::JsonText(format!(
        r#"[{}, {{"channel":"/v2/me/chats","data":{{oops: 1}}}}, {}, {}]"#,
        delivery(1),
        delivery(2),
        connect_ok()
    )));
    f.srv.push(Script::Json(json!([delivery(3), connect_ok()])));
    f.run
        .wait_for(
            0,
            WAIT,
            |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["n"] == 3),
        )
        .await
        .expect("later notifications still arrive");
    assert_eq!(notifications(&f.run), vec![1, 2, 3]);
    assert!(h.is_alive());
    h.stop().await;
    let run = f.run.snapshot();
    let bad: Vec<(u64, String, String)> = run
        .iter()
        .filter_map(|e| match bayeux_event(e) {
            Some(BayeuxEvent::BadMessage { error, excerpt }) => {
                Some((e.seq, error.clone(), excerpt.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let (seq, error, excerpt) = &bad[0];
    assert!(error.contains("key must be a string"), "{error}");
    assert_eq!(excerpt, r#"{"channel":"/v2/me/chats","data":{oops: 1}}"#);
    let findings = judge_session(&run);
    let fails: Vec<_> = findings
        .iter()
        .filter(|f| f.verdict != Verdict::Pass)
        .collect();
    assert_eq!(fails.len(), 1, "{findings:?}");
    assert_eq!(fails[0].req, ReqId::Ntf01);
    let w = fails[0].witness.as_ref().unwrap();
    assert_eq!(w.events, vec![*seq]);
    assert!(w.observed.contains("oops"), "{w:?}");
    assert!(
        findings
            .iter()
            .any(|f| f.req == ReqId::Ntf02 && f.verdict == Verdict::Pass),
        "{findings:?}"
    );
}

/// An answer cut short, and one that is total garbage: what can be read is, the rest is
/// one unreadable message each, and the session retries and goes on.
#[tokio::test]
async fn cut_and_garbage_answers_cost_no_other_message() {
    let f = fixture(1 << 20).await;
    let h = start(&f).await;
    f.srv.push(Script::JsonText(format!(
        r#"[{}, {{"channel":"/meta/conn"#,
        delivery(4)
    )));
    f.srv.push(Script::Text("\u{0}\u{1}garbage".into()));
    f.srv.push(Script::Json(json!([delivery(5), connect_ok()])));
    f.run
        .wait_for(
            0,
            WAIT,
            |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["n"] == 5),
        )
        .await
        .expect("the session goes on");
    assert_eq!(notifications(&f.run), vec![4, 5]);
    assert!(h.is_alive());
    h.stop().await;
    let run = f.run.snapshot();
    let bad: Vec<String> = run
        .iter()
        .filter_map(|e| match bayeux_event(e) {
            Some(BayeuxEvent::BadMessage { error, .. }) => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].contains("ends inside a value"), "{bad:?}");
    assert!(bad[1].contains("not JSON"), "{bad:?}");
    let findings = judge_session(&run);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail && f.req == ReqId::Ntf01)
            .count(),
        2,
        "{findings:?}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f.req == ReqId::Ntf02 && f.verdict != Verdict::Pass),
        "{findings:?}"
    );
}
