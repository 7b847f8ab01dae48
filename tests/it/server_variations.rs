//! The legitimate variations of the reference server (`serve --variation`): each shows
//! its behaviour on the wire.

use crate::common_server;

use common_server::*;
use gws_conform::server::{ServerConfig, Variations};
use serde_json::json;

fn with(names: &str) -> ServerConfig {
    ServerConfig {
        variations: Variations::from_names(&[names]).expect("known variations"),
        ..test_config()
    }
}

/// Two Ready agents with Bayeux sessions.
async fn two_agents(base: &str) -> (Agent, Bayeux, Agent, Bayeux) {
    let mut a1 = Agent::new(base, "agent1", "agent1-pass");
    let mut a2 = Agent::new(base, "agent2", "agent2-pass");
    a1.login().await;
    a2.login().await;
    let b1 = a1.bayeux().await;
    let b2 = a2.bayeux().await;
    a1.ready().await;
    a2.ready().await;
    (a1, b1, a2, b2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reoffer_rejected_offers_the_chat_again_to_another_agent_in_both_modes() {
    let srv = server(with("reoffer-rejected")).await;
    let base = srv.base_url.clone();
    let (a1, mut b1, _a2, mut b2) = two_agents(&base).await;
    // provider-state: offered to agent1, Rejected, then Invited at agent2 (new id).
    let x1 = offer(&base, "agent1").await;
    b1.wait_for(20, |v| {
        is_status(v, "Invited") && v["chat"]["id"] == x1.as_str()
    })
    .await
    .expect("offered to agent1");
    let r = a1.op(&x1, json!({"operationName":"Reject"})).await;
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    let mut t2 = Vec::new();
    let y1 = b2.next_invite(&mut t2).await.expect("re-offered to agent2");
    assert_ne!(x1, y1, "a new agent-side chat id");
    // Same interaction: inspect through either id shows the same customer.
    assert_eq!(
        inspect(&base, &x1).await["customerTranscript"],
        inspect(&base, &y1).await["customerTranscript"]
    );
    // customer-api: the chat goes to one agent; whoever gets it rejects; the other
    // agent gets it, and the customer keeps waiting meanwhile.
    let cust = Customer::new(&base);
    let c = cust.request_chat("Carl", "re1").await;
    let mut t1 = vec![x1.clone()];
    let first = b1
        .next_invite(&mut t1)
        .await
        .expect("round-robin offers the next chat to agent1");
    let r = a1.op(&first, json!({"operationName":"Reject"})).await;
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    assert_eq!(cust.state(&c).await, "WaitingForAgent");
    let again = b2
        .next_invite(&mut t2)
        .await
        .expect("re-offered to the other agent");
    assert_ne!(again, first);
    let inv = b2
        .seen
        .iter()
        .find(|v| v["chat"]["id"] == again.as_str())
        .unwrap()
        .clone();
    assert_eq!(inv["chat"]["userData"]["tag"], "re1");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_chats_are_offered_when_room_frees_under_capacity_3() {
    let srv = server(with("capacity-3,reoffer-rejected")).await;
    let base = srv.base_url.clone();
    let cust = Customer::new(&base);
    let mut a1 = Agent::new(&base, "agent1", "agent1-pass");
    a1.login().await;
    let mut b1 = a1.bayeux().await;
    a1.ready().await;
    let mut t = Vec::new();
    let mut cs = Vec::new();
    for i in 0..4 {
        cs.push(cust.request_chat("C", &format!("q{i}")).await);
    }
    for _ in 0..3 {
        b1.next_invite(&mut t)
            .await
            .expect("offered up to capacity");
    }
    assert_eq!(cust.state(&cs[3]).await, "WaitingForAgent", "4th is queued");
    // provider-state at capacity: 409 (retry later).
    let a = provider(
        &base,
        json!({"action":"setup","state":"chat offered","params":{"agent":"agent1","nickname":"N"}}),
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.text);
    // A Reject frees room: the queued 4th chat is offered late.
    let r = a1.op(&t[0], json!({"operationName":"Reject"})).await;
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    b1.next_invite(&mut t)
        .await
        .expect("queued chat offered late");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reoffer_keeps_a_rejected_chat_queued() {
    let srv = server(with("no-reoffer")).await;
    let base = srv.base_url.clone();
    let (a1, mut b1, _a2, mut b2) = two_agents(&base).await;
    let x1 = offer(&base, "agent1").await;
    b1.wait_for(20, |v| {
        is_status(v, "Invited") && v["chat"]["id"] == x1.as_str()
    })
    .await
    .expect("offered");
    let r = a1.op(&x1, json!({"operationName":"Reject"})).await;
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    b2.drain().await;
    assert!(
        !b2.seen.iter().any(|v| is_status(v, "Invited")),
        "not re-offered: {:?}",
        b2.seen
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_forms_errors_4xx_close_chunked_charset_no_reference_id() {
    let srv = server(with(
        "errors-http-4xx,connection-close,chunked,charset,no-reference-id,escaped-letters",
    ))
    .await;
    let base = srv.base_url.clone();
    let (a1, _b1, _a2, _b2) = two_agents(&base).await;
    let a = a1
        .op("0000unknownchat0", json!({"operationName":"Complete"}))
        .await;
    assert_eq!(a.status, 404, "statusCode 6 answered 404: {}", a.text);
    assert_eq!(a.body["statusCode"], 6);
    assert!(a.text.contains("\\u00"), "escaped letters: {}", a.text);
    assert_eq!(a.headers["connection"], "close");
    assert_eq!(a.headers["transfer-encoding"], "chunked");
    assert!(a.headers.get("content-length").is_none());
    assert_eq!(a.headers["content-type"], "application/json;charset=UTF-8");
    let x = offer(&base, "agent1").await;
    let r = a1.op(&x, json!({"operationName":"Accept"})).await;
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    assert!(r.body.get("referenceId").is_none(), "{}", r.text);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_surrogates_are_accepted_and_echoed_as_escapes() {
    let srv = server(with("lone-surrogates")).await;
    let base = srv.base_url.clone();
    let (a1, mut b1, _a2, _b2) = two_agents(&base).await;
    let x = offer(&base, "agent1").await;
    let r = a1.op(&x, json!({"operationName":"Accept"})).await;
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    b1.drain().await;
    let raw = br#"{"operationName":"SendMessage","text":"a\ud800b"}"#.to_vec();
    let r = a1.post_raw(&format!("/api/v2/me/chats/{x}"), raw).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["statusCode"], 0, "{}", r.text);
    // The connect answer's raw bytes carry the escape.
    let a = b1
        .send(json!([{"channel":"/meta/connect","clientId":b1.client_id,
            "connectionType":"long-polling"}]))
        .await;
    assert!(a.text.contains(r"a\ud800b"), "{}", a.text);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_connect_puts_the_connect_reply_last() {
    let srv = server(with("batched-connect")).await;
    let base = srv.base_url.clone();
    let (_a1, b1, _a2, _b2) = two_agents(&base).await;
    let _x = offer(&base, "agent1").await;
    let _y = offer(&base, "agent1").await;
    let a = b1
        .send(json!([{"channel":"/meta/connect","clientId":b1.client_id,
            "connectionType":"long-polling"}]))
        .await;
    let arr = a.body.as_array().expect("array");
    assert!(arr.len() >= 3, "two chats in one answer: {}", a.text);
    assert_eq!(
        arr.last().unwrap()["channel"],
        "/meta/connect",
        "{}",
        a.text
    );
    srv.shutdown().await;
}
