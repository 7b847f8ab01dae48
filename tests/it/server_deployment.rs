//! The reference server modelling a real deployment: agent capacity (customer API queue
//! and provider-state 409), answer latency, customers typing, and the GWS transcript form.

use crate::common_server;

use std::time::{Duration, Instant};

use common_server::*;
use gws_conform::schema::Schemas;
use gws_conform::server::{ServerConfig, TranscriptForm};
use serde_json::{Value, json};

fn with(f: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut cfg = test_config();
    f(&mut cfg);
    cfg
}

fn is_typing(v: &Value, kind: &str) -> bool {
    v["notificationType"] == "NewMessages"
        && v["messages"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["type"] == kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_queues_customers_and_offers_when_room_frees() {
    let srv = server(with(|c| {
        c.agents = vec![("agent1".into(), "agent1-pass".into())];
        c.capacity = Some(1);
    }))
    .await;
    let base = srv.base_url.clone();
    let mut ag = Agent::new(&base, "agent1", "agent1-pass");
    ag.login().await;
    let mut bx = ag.bayeux().await;
    ag.ready().await;
    let cust = Customer::new(&base);
    let first = cust.request_chat("Cust1", "one").await;
    let second = cust.request_chat("Cust2", "two").await;
    let mut taken = Vec::new();
    let id1 = bx
        .next_invite(&mut taken)
        .await
        .expect("first chat offered");
    // The agent is at capacity: the second customer waits, and no second invite comes.
    bx.drain().await;
    assert_eq!(
        bx.seen.iter().filter(|v| is_status(v, "Invited")).count(),
        1,
        "a second chat was offered beyond capacity"
    );
    assert_eq!(cust.state(&second).await, "WaitingForAgent");
    let a = ag
        .op(&id1, json!({"operationName":"Accept","nickname":"Ann"}))
        .await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    assert_eq!(cust.state(&first).await, "Chatting");
    let a = ag.op(&id1, json!({"operationName":"Complete"})).await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    // Room again: the queued customer is offered now.
    let id2 = bx
        .next_invite(&mut taken)
        .await
        .expect("queued chat offered once the agent had room");
    assert_ne!(id1, id2);
    let inv = bx
        .seen
        .iter()
        .find(|v| is_status(v, "Invited") && v["chat"]["id"] == id2.as_str())
        .unwrap();
    assert_eq!(inv["chat"]["userData"]["tag"], "two", "{inv}");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_state_offer_at_capacity_is_409_retry_later() {
    let srv = server(with(|c| c.capacity = Some(2))).await;
    let base = srv.base_url.clone();
    let a = offer(&base, "agent1").await;
    let _b = offer(&base, "agent1").await;
    let third = provider(
        &base,
        json!({"action":"setup","state":"chat offered","params":{"agent":"agent1","nickname":"C"}}),
    )
    .await;
    assert_eq!(third.status, 409, "{}", third.text);
    let msg = third.body["error"].as_str().unwrap_or_default();
    assert!(msg.contains("capacity") && msg.contains("retry"), "{msg}");
    // Another agent still has room.
    offer(&base, "agent2").await;
    // Teardown frees the room.
    let t = provider(&base, json!({"action":"teardown","params":{"chatId":a}})).await;
    assert_eq!(t.status, 200, "{}", t.text);
    offer(&base, "agent1").await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_every_answer() {
    let latency = Duration::from_millis(300);
    let srv = server(with(|c| c.latency = latency)).await;
    let mut ag = Agent::new(&srv.base_url, "agent1", "agent1-pass");
    let t = Instant::now();
    let a = ag.get("/api/v2/me").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(t.elapsed() >= latency, "answered in {:?}", t.elapsed());
    let t = Instant::now();
    let a = provider(&srv.base_url, json!({"action":"teardown","params":{}})).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(t.elapsed() >= latency, "answered in {:?}", t.elapsed());
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_type_while_the_chat_is_open_and_stop_after_complete() {
    let srv = server(with(|c| c.typing = Some(Duration::from_millis(50)))).await;
    let base = srv.base_url.clone();
    let (ag, mut bx, id) = chatting(&base, "agent1").await;
    let started = bx
        .wait_for(40, |v| is_typing(v, "TypingStarted") && concerns(v, &id))
        .await
        .expect("TypingStarted notified");
    bx.wait_for(40, |v| is_typing(v, "TypingStopped") && concerns(v, &id))
        .await
        .expect("TypingStopped notified");
    let schemas = Schemas::embedded().unwrap();
    schemas
        .validate("notification", &started)
        .unwrap_or_else(|e| panic!("typing notice invalid: {e:?}\n{started}"));
    let m = &started["messages"][0];
    assert_eq!(m["from"]["type"], "Customer", "{started}");
    let a = ag.op(&id, json!({"operationName":"Complete"})).await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    bx.wait_for(40, |v| is_status(v, "Completed") && concerns(v, &id))
        .await
        .expect("Completed");
    // Several typing intervals later, nothing more arrives for the chat.
    let before = bx.seen.len();
    for _ in 0..3 {
        bx.poll().await;
    }
    let after: Vec<&Value> = bx.seen[before..]
        .iter()
        .filter(|v| concerns(v, &id))
        .collect();
    assert!(after.is_empty(), "notified after Completed: {after:?}");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_stops_when_the_customer_leaves() {
    let srv = server(with(|c| c.typing = Some(Duration::from_millis(50)))).await;
    let base = srv.base_url.clone();
    let (_ag, mut bx, id) = chatting(&base, "agent1").await;
    bx.wait_for(40, |v| is_typing(v, "TypingStarted") && concerns(v, &id))
        .await
        .expect("TypingStarted notified");
    let a = provider(
        &base,
        json!({"action":"setup","state":"customer leaves","params":{"chatId":id}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    bx.drain().await;
    let before = bx.seen.len();
    for _ in 0..3 {
        bx.poll().await;
    }
    let typing = bx.seen[before..]
        .iter()
        .filter(|v| is_typing(v, "TypingStarted") || is_typing(v, "TypingStopped"))
        .count();
    assert_eq!(typing, 0, "typing after the customer left");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcript_gws_form_names_the_participant() {
    for form in [TranscriptForm::Plain, TranscriptForm::Gws] {
        let srv = server(with(|c| c.transcript_form = form)).await;
        let base = srv.base_url.clone();
        let (ag, _bx, id) = chatting(&base, "agent1").await;
        let a = ag
            .op(&id, json!({"operationName":"SendMessage","text":"hello"}))
            .await;
        assert_eq!(a.body["statusCode"], 0, "{}", a.text);
        let v = inspect(&base, &id).await;
        let t = v["customerTranscript"].as_array().expect("transcript");
        let hello = t.iter().find(|m| m["text"] == "hello").expect("hello");
        let joined = t
            .iter()
            .find(|m| m["type"] == "ParticipantJoined")
            .expect("customer joined");
        match form {
            TranscriptForm::Plain => {
                assert_eq!(hello["from"], "Agent", "{v}");
                assert_eq!(joined["from"], "Customer", "{v}");
            }
            TranscriptForm::Gws => {
                assert_eq!(hello["from"]["type"], "Agent", "{v}");
                assert_eq!(hello["from"]["nickname"], "Ann", "{v}");
                assert!(hello["from"]["participantId"].is_string(), "{v}");
                assert_eq!(joined["from"]["type"], "Client", "{v}");
                assert_eq!(joined["from"]["nickname"], "Cust", "{v}");
            }
        }
        srv.shutdown().await;
    }
}
