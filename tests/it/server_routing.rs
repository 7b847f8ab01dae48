//! The customer chat API, routing, provider-state and the Bayeux server's rules.

use crate::common_server;

use common_server::*;
use gws_conform::server::ServerConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_until_ready_then_round_robin_and_reject_reoffers() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let cust = Customer::new(&base);
    // Nobody Ready: the chat is held.
    let c1 = cust.request_chat("Carl", "t1").await;
    assert_eq!(cust.state(&c1).await, "WaitingForAgent");
    let mut a1 = Agent::new(&base, "agent1", "agent1-pass");
    let mut a2 = Agent::new(&base, "agent2", "agent2-pass");
    a1.login().await;
    a2.login().await;
    let mut b1 = a1.bayeux().await;
    let mut b2 = a2.bayeux().await;
    b1.drain().await;
    assert!(b1.seen.is_empty(), "offered before Ready: {:?}", b1.seen);
    // agent1 becomes Ready: the held chat is offered, with the customer's userData.
    a1.ready().await;
    let mut t1 = Vec::new();
    let x1 = b1
        .next_invite(&mut t1)
        .await
        .expect("held chat offered on Ready");
    let inv = b1
        .seen
        .iter()
        .find(|v| v["chat"]["id"] == x1.as_str())
        .unwrap()
        .clone();
    assert_eq!(inv["chat"]["userData"]["tag"], "t1");
    assert_eq!(inv["chat"]["capabilities"], json!(["Accept", "Reject"]));
    assert_ne!(x1, c1, "agent-side and customer-side ids differ");
    assert_eq!(x1.len(), 16);
    // Both Ready: new chats alternate.
    a2.ready().await;
    let mut t2 = Vec::new();
    for i in 0..4 {
        cust.request_chat("C", &format!("rr{i}")).await;
    }
    let mut got1 = 0;
    let mut got2 = 0;
    while got1 + got2 < 4 {
        if b1.next_invite(&mut t1).await.is_some() {
            got1 += 1;
        }
        if b2.next_invite(&mut t2).await.is_some() {
            got2 += 1;
        }
    }
    assert_eq!((got1, got2), (2, 2), "round-robin");
    // agent1 rejects its first chat: it goes to agent2.
    let a = a1.op(&x1, json!({"operationName":"Reject"})).await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    b1.wait_for(20, |v| {
        is_status(v, "Completed") && v["chat"]["id"] == x1.as_str()
    })
    .await
    .unwrap();
    let x2 = b2.next_invite(&mut t2).await.expect("re-offered to agent2");
    let inv = b2
        .seen
        .iter()
        .find(|v| v["chat"]["id"] == x2.as_str())
        .unwrap()
        .clone();
    assert_eq!(inv["chat"]["userData"]["tag"], "t1");
    // agent2 rejects too: nobody else is Ready, the chat is held again.
    assert_eq!(
        a2.op(&x2, json!({"operationName":"Reject"})).await.body["statusCode"],
        0
    );
    assert_eq!(cust.state(&c1).await, "WaitingForAgent");
    // agent2 accepts a chat: customer sees Chatting, transcript flows both ways.
    let x3 = t2[0].clone();
    assert_eq!(
        a2.op(&x3, json!({"operationName":"Accept","nickname":"Bea"}))
            .await
            .body["statusCode"],
        0
    );
    b2.wait_for(20, |v| {
        is_status(v, "Chatting") && v["chat"]["id"] == x3.as_str()
    })
    .await
    .unwrap();
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_api_end_to_end() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let cust = Customer::new(&base);
    let mut a1 = Agent::new(&base, "agent1", "agent1-pass");
    a1.login().await;
    let mut b1 = a1.bayeux().await;
    a1.ready().await;
    let c = cust.request_chat("Dora", "e2e").await;
    let mut t = Vec::new();
    let x = b1.next_invite(&mut t).await.unwrap();
    assert_eq!(
        a1.op(&x, json!({"operationName":"Accept"})).await.body["statusCode"],
        0
    );
    assert_eq!(cust.state(&c).await, "Chatting");
    let a = cust
        .post(
            &format!("/api/v2/chats/{c}"),
            json!({"operationName":"SendMessage","text":"need help"}),
        )
        .await;
    assert_eq!(a.body["statusCode"], 0);
    let v = b1.wait_for(20, |v| is_text(v, "need help")).await.unwrap();
    assert_eq!(v["messages"][0]["from"]["type"], "Customer");
    assert_eq!(v["chatUri"], format!("{base}/api/v2/chats/{x}"));
    assert_eq!(
        a1.op(&x, json!({"operationName":"SendMessage","text":"sure"}))
            .await
            .body["statusCode"],
        0
    );
    assert_eq!(
        a1.op(&x, json!({"operationName":"Complete","text":"solved"}))
            .await
            .body["statusCode"],
        0
    );
    assert_eq!(cust.state(&c).await, "Idle");
    let tr = cust.transcript(&c).await;
    let kinds: Vec<(String, String)> = tr
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let pos = |k: &str, t: &str| kinds.iter().position(|x| x.0 == k && x.1 == t);
    assert!(pos("Text", "need help").unwrap() < pos("Text", "sure").unwrap());
    assert!(pos("Text", "sure").unwrap() < pos("Text", "solved").unwrap());
    assert!(pos("Text", "solved").unwrap() < pos("ParticipantLeft", "").unwrap());
    let ts = tr[0]["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2014-01-09 11:58:12.035+0000".len(), "{ts}");
    assert!(ts.ends_with("+0000"));
    // ?index=N returns the messages from N on.
    let last = tr.last().unwrap()["index"].as_u64().unwrap();
    let a = cust
        .get(&format!("/api/v2/chats/{c}/messages?index={last}"))
        .await;
    assert_eq!(a.body["messages"].as_array().unwrap().len(), 1);
    // The customer can no longer send.
    let a = cust
        .post(
            &format!("/api/v2/chats/{c}"),
            json!({"operationName":"SendMessage","text":"?"}),
        )
        .await;
    assert_eq!(a.body["statusCode"], 2);
    // Wrong / missing ContactCenterId.
    let mut bad = Customer::new(&base);
    bad.cc = "other".into();
    let a = bad.get(&format!("/api/v2/chats/{c}")).await;
    assert!(a.status == 403 && a.body["statusCode"] == 3, "{}", a.text);
    let a = answer(
        reqwest::Client::new()
            .get(format!("{base}/api/v2/chats/{c}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(a.status == 400 && a.body["statusCode"] == 1, "{}", a.text);
    // Customer leaves while the agent chats: agent gets ParticipantLeft, stays Chatting.
    let c2 = cust.request_chat("Eve", "leave").await;
    let x2 = b1.next_invite(&mut t).await.unwrap();
    assert_eq!(
        a1.op(&x2, json!({"operationName":"Accept"})).await.body["statusCode"],
        0
    );
    let a = cust
        .post(
            &format!("/api/v2/chats/{c2}"),
            json!({"operationName":"Complete"}),
        )
        .await;
    assert_eq!(a.body["statusCode"], 0);
    assert_eq!(cust.state(&c2).await, "Idle");
    b1.wait_for(20, |v| {
        concerns(v, &x2)
            && v["messages"].as_array().is_some_and(|m| {
                m.iter()
                    .any(|m| m["type"] == "ParticipantLeft" && m["from"]["type"] == "Customer")
            })
    })
    .await
    .unwrap();
    // Agent Leave ends the customer's session as well.
    let c3 = cust.request_chat("Fay", "agentleave").await;
    let x3 = b1.next_invite(&mut t).await.unwrap();
    assert_eq!(
        a1.op(&x3, json!({"operationName":"Accept"})).await.body["statusCode"],
        0
    );
    assert_eq!(
        a1.op(&x3, json!({"operationName":"Leave","text":"gone"}))
            .await
            .body["statusCode"],
        0
    );
    assert_eq!(cust.state(&c3).await, "Idle");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_state_errors_and_teardown() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let a = provider(
        &base,
        json!({"action":"setup","state":"moon landing","params":{}}),
    )
    .await;
    assert_eq!(a.status, 501);
    let a = provider(
        &base,
        json!({"action":"setup","state":"chat offered","params":{"nickname":"x"}}),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.text.contains("params.agent"), "{}", a.text);
    let a = provider(
        &base,
        json!({"action":"setup","state":"chat offered","params":{"agent":"nobody","nickname":"x"}}),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = provider(
        &base,
        json!({"action":"setup","state":"customer sends message","params":{"chatId":5}}),
    )
    .await;
    assert!(
        a.status == 400 && a.text.contains("params.chatId"),
        "{}",
        a.text
    );
    let a = provider(&base, json!({"action":"fly"})).await;
    assert!(a.status == 400 && a.text.contains("action"), "{}", a.text);
    let a = answer(
        reqwest::Client::new()
            .post(format!("{base}/conformance/provider-state"))
            .body("nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400);
    // Offer, inspect, teardown (idempotent), then the chat is gone.
    let id = offer(&base, "agent2").await;
    let ins = inspect(&base, &id).await;
    assert_eq!(ins["customerSessionEnded"], false);
    assert_eq!(ins["queue"], serde_json::Value::Null);
    let before = srv.sizes();
    for _ in 0..2 {
        let a = provider(
            &base,
            json!({"action":"teardown","state":"chat offered","params":{"chatId":id}}),
        )
        .await;
        assert_eq!(a.status, 200);
    }
    let after = srv.sizes();
    assert_eq!(after.0 + 1, before.0);
    assert_eq!(after.1 + 1, before.1);
    let a = provider(&base, json!({"action":"inspect","params":{"chatId":id}})).await;
    assert_eq!(a.status, 404);
    let mut a2 = Agent::new(&base, "agent2", "agent2-pass");
    a2.login().await;
    assert_eq!(
        a2.op(&id, json!({"operationName":"Accept"})).await.body["statusCode"],
        6
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bayeux_rules_and_expiry() {
    let cfg = ServerConfig {
        bayeux_timeout_ms: 200,
        bayeux_max_interval_ms: 300,
        ..ServerConfig::default()
    };
    let srv = server(cfg).await;
    let base = srv.base_url.clone();
    let mut a1 = Agent::new(&base, "agent1", "agent1-pass");
    a1.login().await;
    let mut bx = a1.bayeux().await;
    // Handshake advice.
    let h = bx.send(json!({"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"id":"7"})).await;
    assert_eq!(h.body[0]["version"], "1.0");
    assert_eq!(h.body[0]["id"], "7");
    assert_eq!(
        h.body[0]["advice"],
        json!({"reconnect":"retry","interval":0,"timeout":200})
    );
    // Subscribing outside /v2/me is refused.
    let s = bx.send(json!([{"channel":"/meta/subscribe","clientId":bx.client_id,"subscription":"/v2/others/chats"}])).await;
    assert_eq!(s.body[0]["successful"], false);
    assert!(s.body[0]["error"].is_string());
    // An empty long-poll answers the connect reply with advice.
    assert!(bx.poll().await.is_empty());
    // A first connect with advice.timeout 0 is answered at once (and is well formed).
    let r = bx
        .send(json!([{"channel":"/meta/connect","clientId":bx.client_id,
        "connectionType":"long-polling","advice":{"timeout":0},"id":"9"}]))
        .await;
    assert_eq!(r.body[0]["successful"], true);
    assert_eq!(r.body[0]["id"], "9");
    assert_eq!(r.body[0]["advice"]["reconnect"], "retry");
    // Another agent cannot use this clientId.
    let other = Agent::new(&base, "agent2", "agent2-pass");
    let b2 = other.bayeux().await;
    let r = b2.send(json!([{"channel":"/meta/connect","clientId":bx.client_id,"connectionType":"long-polling"}])).await;
    assert_eq!(r.body[0]["error"], "402::Unknown client");
    // Abandon the client: after max interval without a connect it is expired.
    // Clients now: bx, the extra one of the handshake above, b2. Only b2 keeps polling.
    assert_eq!(srv.sizes().2, 3);
    let mut expired = false;
    for _ in 0..50 {
        // Each empty long-poll of b2 lasts one Bayeux timeout: time passes by events.
        let r = b2.send(json!([{"channel":"/meta/connect","clientId":b2.client_id,"connectionType":"long-polling"}])).await;
        assert_eq!(r.body[0]["successful"], true);
        srv.sweep_now();
        if srv.sizes().2 == 1 {
            expired = true;
            break;
        }
    }
    assert!(expired, "abandoned client never expired");
    let r = bx.send(json!([{"channel":"/meta/connect","clientId":bx.client_id,"connectionType":"long-polling"}])).await;
    assert_eq!(r.body[0]["successful"], false);
    assert_eq!(r.body[0]["error"], "402::Unknown client");
    assert_eq!(r.body[0]["advice"]["reconnect"], "handshake");
    // Garbage to the Bayeux endpoint: 4xx, no crash.
    let a = answer(
        a1.http
            .post(format!("{base}/api/v2/notifications"))
            .header("Authorization", a1.auth())
            .body("[[[")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = bx.send(json!([])).await;
    assert_eq!(a.status, 400);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflowing_client_is_dropped_not_grown() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let (ag, mut bx, id) = chatting(&base, "agent1").await;
    bx.drain().await;
    // Never poll while > 4096 messages are published for this client.
    for i in 0..4200 {
        let a = ag
            .op(
                &id,
                json!({"operationName":"SendMessage","text":format!("m{i}")}),
            )
            .await;
        assert_eq!(a.body["statusCode"], 0);
    }
    let r = bx.send(json!([{"channel":"/meta/connect","clientId":bx.client_id,"connectionType":"long-polling"}])).await;
    assert_eq!(
        r.body[0]["error"],
        "402::Unknown client",
        "{}",
        &r.text[..200.min(r.text.len())]
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors_are_clear() {
    let e = gws_conform::server::start(
        ServerConfig {
            fault: Some("nope".into()),
            ..ServerConfig::default()
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("nope") && e.contains("complete-status-late"),
        "{e}"
    );
    let srv = server(test_config()).await;
    let e = gws_conform::server::start(ServerConfig::default(), &srv.addr.to_string())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&srv.addr.to_string()), "{e}");
    assert!(srv.base_url.starts_with("http://127.0.0.1:"));
    srv.shutdown().await;
}

/// CometD clients append the message type to the URL by default
/// (`appendMessageTypeToURL`): `/api/v2/notifications/handshake`, `/connect`, …
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bayeux_answers_on_message_type_sub_paths_and_nothing_deeper() {
    let srv = server(test_config()).await;
    let mut a = Agent::new(&srv.base_url, "agent1", "agent1-pass");
    a.login().await;
    let hs = a
        .post(
            "/api/v2/notifications/handshake",
            json!([{"channel": "/meta/handshake", "version": "1.0",
                    "supportedConnectionTypes": ["long-polling"]}]),
        )
        .await;
    assert_eq!(hs.status, 200, "{}", hs.text);
    assert_eq!(hs.body[0]["successful"], true, "{}", hs.text);
    let cid = hs.body[0]["clientId"].as_str().unwrap().to_string();
    let sub = a
        .post(
            "/api/v2/notifications/subscribe",
            json!([{"channel": "/meta/subscribe", "clientId": cid, "subscription": "/v2/me/chats"}]),
        )
        .await;
    assert_eq!(sub.body[0]["successful"], true, "{}", sub.text);
    let deeper = a
        .post(
            "/api/v2/notifications/a/b",
            json!([{"channel": "/meta/handshake"}]),
        )
        .await;
    assert_eq!(deeper.status, 404, "{}", deeper.text);
}

/// RFC 9110 §15.5.6: a 405 names the methods the resource allows (Schemathesis'
/// `unsupported_method` check relies on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_names_the_allowed_methods() {
    // CSRF off: with it, a PUT/DELETE without the token is a 403 before the method is read.
    let srv = server(ServerConfig {
        csrf: false,
        ..test_config()
    })
    .await;
    let base = srv.base_url.clone();
    let http = reqwest::Client::new();
    let cases = [
        ("PUT", "/api/v2/me/chats/X1", "GET, POST"),
        ("PUT", "/api/v2/me/channels/chat", "POST"),
        ("DELETE", "/api/v2/me/chats", "GET"),
        ("PATCH", "/api/v2/me", "GET, POST"),
        ("GET", "/api/v2/notifications", "POST"),
        ("GET", "/conformance/provider-state", "POST"),
        ("GET", "/api/v2/chats", "POST"),
        ("DELETE", "/api/v2/chats/C1", "GET, POST"),
    ];
    for (method, path, allow) in cases {
        let r = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("Authorization", basic("agent1", "agent1-pass"))
            .header("ContactCenterId", "gws-conform")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            r.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
}

/// A customer who leaves before any agent accepted takes the invitation back: the
/// agent's Invited chat (here a re-offer after a Reject) ends Completed and frees the
/// agent's room, so a capacity-1 agent gets the next customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_leaving_revokes_a_pending_invitation_and_frees_the_room() {
    let srv = server(ServerConfig {
        capacity: Some(1),
        ..test_config()
    })
    .await;
    let base = srv.base_url.clone();
    let cust = Customer::new(&base);
    let mut a1 = Agent::new(&base, "agent1", "agent1-pass");
    a1.login().await;
    let mut b1 = a1.bayeux().await;
    a1.ready().await;
    let c1 = cust.request_chat("Carl", "r1").await;
    let mut t = Vec::new();
    let x1 = b1.next_invite(&mut t).await.expect("offered");
    // The customer leaves while the chat is still Invited.
    let a = cust
        .post(
            &format!("/api/v2/chats/{c1}"),
            json!({"operationName":"Complete"}),
        )
        .await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    b1.wait_for(20, |v| {
        is_status(v, "Completed") && v["chat"]["id"] == x1.as_str()
    })
    .await
    .expect("the invitation is revoked (StatusChange Completed)");
    // The agent's one room is free again: the next customer is offered at once.
    let _c2 = cust.request_chat("Dora", "r2").await;
    let x2 = b1
        .next_invite(&mut t)
        .await
        .expect("the next chat is offered");
    assert_ne!(x1, x2);
}
