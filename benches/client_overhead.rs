//! What the target layer costs, as ratios measured in one run against a local server.
//!
//! 1. REST: `AgentClient::post_chat` (headers built per auth variant, cookie jar, CSRF,
//!    body cap, request + response recorded) versus a bare `reqwest` POST with the same
//!    headers, sequential round trips on 127.0.0.1. Ratio = harness / bare per request.
//! 2. Bayeux: notifications recorded per second through the long-poll client when the
//!    server hands out batches of 100 deliveries per connect, versus the bare REST round
//!    trip rate (how many deliveries fit in one REST round trip).
//!
//! `cargo bench --bench target_overhead` measures; without `--bench` (e.g. `cargo test
//! --benches`) it runs a tiny smoke version so the file stays correct.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gws_conform::client::{AgentClient, AuthVariant, BayeuxClient, Credentials, TargetConfig};
use gws_conform::history::{Body, EventKind, Recorder};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BATCH: u64 = 100;

async fn me() -> Response {
    let mut h = HeaderMap::new();
    h.insert("set-cookie", "JSESSIONID=bench; Path=/".parse().unwrap());
    h.insert("x-csrf-header", "X-CSRF-TOKEN".parse().unwrap());
    h.insert("x-csrf-token", "bench-token".parse().unwrap());
    (h, axum::Json(json!({"statusCode":0}))).into_response()
}

async fn ok0() -> axum::Json<Value> {
    axum::Json(json!({"statusCode":0}))
}

async fn bayeux(counter: Arc<AtomicU64>, body: Bytes) -> axum::Json<Value> {
    let msgs: Value = serde_json::from_slice(&body).unwrap_or(json!([]));
    let m = &msgs[0];
    let reply = match m["channel"].as_str().unwrap_or("") {
        "/meta/handshake" => json!([{"channel":"/meta/handshake","successful":true,"clientId":"b1",
            "advice":{"reconnect":"retry","interval":0,"timeout":1000}}]),
        "/meta/subscribe" => {
            json!([{"channel":"/meta/subscribe","successful":true,"subscription":m["subscription"]}])
        }
        "/meta/connect" => {
            let base = counter.fetch_add(BATCH, Ordering::SeqCst);
            let mut out: Vec<Value> = (0..BATCH)
                .map(|i| json!({"channel":"/v2/me/chats","data":{"messageType":"MessageLogUpdated",
                    "notificationType":"NewMessages","n":base + i,"messages":[{"index":1,"type":"Text","text":"hello"}]}}))
                .collect();
            out.push(json!({"channel":"/meta/connect","successful":true}));
            Value::Array(out)
        }
        _ => json!([{"channel":"/meta/disconnect","successful":true}]),
    };
    axum::Json(reply)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, per_round, deliveries) = if full {
        (11, 300, 20_000u64)
    } else {
        (2, 5, 200)
    };
    let counter = Arc::new(AtomicU64::new(0));
    let c2 = counter.clone();
    let app = Router::new()
        .route("/api/v2/me", get(me).post(ok0))
        .route("/api/v2/me/channels/chat", post(ok0))
        .route("/api/v2/me/chats/{id}", post(ok0))
        .route(
            "/api/v2/notifications",
            post(move |b: Bytes| bayeux(c2.clone(), b)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let cfg = TargetConfig::new(&base).unwrap();
    let agent = AgentClient::login(&cfg, Credentials::new("bench", "pw"), &Recorder::new())
        .await
        .unwrap();

    // 1. REST overhead.
    let bare = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{base}/api/v2/me/chats/C1");
    let body = Body::Json(json!({"operationName":"Complete","text":"bye"}));
    let raw = serde_json::to_vec(body.json().unwrap()).unwrap();
    let (mut t_bare, mut t_harness) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            let r = bare
                .post(&url)
                .header("Authorization", "Basic YmVuY2g6cHc=")
                .header("Cookie", "JSESSIONID=bench")
                .header("X-CSRF-TOKEN", "bench-token")
                .header("Content-Type", "application/json")
                .body(raw.clone())
                .send()
                .await
                .unwrap();
            let _ = r.bytes().await.unwrap();
        }
        t_bare.push(start.elapsed().as_secs_f64() / per_round as f64);
        let rec = Recorder::new();
        let start = Instant::now();
        for _ in 0..per_round {
            let out = agent
                .post_chat(&rec, "C1", &body, AuthVariant::Normal, None)
                .await;
            assert_eq!(out.status_code(), Some(0));
        }
        t_harness.push(start.elapsed().as_secs_f64() / per_round as f64);
    }
    let (b, h) = (median(t_bare), median(t_harness));
    println!(
        "rest: bare {:.1} us/request, harness {:.1} us/request, ratio harness/bare = {:.2} ({rounds} rounds x {per_round})",
        b * 1e6,
        h * 1e6,
        h / b
    );

    // 2. Bayeux deliveries.
    let rec = Recorder::new();
    let start = Instant::now();
    let handle = BayeuxClient::start(&cfg, &agent, &["/v2/me/chats"], rec.clone())
        .await
        .unwrap();
    let got = rec
        .wait_for(0, Duration::from_secs(120), |e| {
            matches!(&e.kind, EventKind::Notification { data, .. } if data["n"].as_u64() == Some(deliveries - 1))
        })
        .await;
    let took = start.elapsed().as_secs_f64();
    handle.stop().await;
    assert!(got.is_some(), "all deliveries arrived");
    let rate = deliveries as f64 / took;
    println!(
        "bayeux: {deliveries} deliveries in {took:.2} s = {rate:.0}/s; ratio deliveries per bare REST round trip = {:.1}",
        rate * b
    );
}
