//! The reference server over real HTTP: the SPEC §2 model table, Complete's
//! notifications, per-agent delivery, auth, CSRF and bad input.

use crate::common_server;

use common_server::*;
use serde_json::{Value, json};

fn complete() -> Value {
    json!({"operationName":"Complete"})
}

fn assert_refused(a: &Answer, codes: &[i64]) {
    let code = a.body["statusCode"].as_i64().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "want one of {codes:?}: {} {}",
        a.status,
        a.text
    );
    assert!(a.status < 500);
    let o = a.body.as_object().unwrap();
    assert_eq!(
        o.len(),
        2,
        "error body is exactly statusCode+statusMessage: {}",
        a.text
    );
    assert!(o["statusMessage"].is_string());
}

/// Brings a fresh chat of agent1 into `state` and returns (agent, bayeux, id).
async fn in_state(base: &str, state: &str) -> (Agent, Bayeux, String) {
    match state {
        "Invited" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let mut bx = ag.bayeux().await;
            let id = offer(base, "agent1").await;
            bx.wait_for(20, |v| {
                is_status(v, "Invited") && v["chat"]["id"] == id.as_str()
            })
            .await
            .unwrap();
            (ag, bx, id)
        }
        "Chatting" => chatting(base, "agent1").await,
        "LeftChat" => {
            let (ag, mut bx, id) = chatting(base, "agent1").await;
            let a = ag.op(&id, json!({"operationName":"Leave"})).await;
            assert_eq!(a.body["statusCode"], 0, "{}", a.text);
            bx.wait_for(20, |v| {
                is_status(v, "LeftChat") && v["chat"]["id"] == id.as_str()
            })
            .await
            .unwrap();
            (ag, bx, id)
        }
        "Completed" => {
            let (ag, mut bx, id) = chatting(base, "agent1").await;
            let a = ag.op(&id, complete()).await;
            assert_eq!(a.body["statusCode"], 0, "{}", a.text);
            bx.wait_for(20, |v| {
                is_status(v, "Completed") && v["chat"]["id"] == id.as_str()
            })
            .await
            .unwrap();
            (ag, bx, id)
        }
        _ => unreachable!(),
    }
}

fn op_body(op: &str) -> Value {
    match op {
        "SendMessage" => json!({"operationName":"SendMessage","text":"hi"}),
        "Accept" => json!({"operationName":"Accept","nickname":"Ann"}),
        _ => json!({"operationName": op}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_table_every_cell() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    // (state, op, Some(next state) or None for refused)
    let table: &[(&str, &str, Option<&str>)] = &[
        ("Invited", "Accept", Some("Chatting")),
        ("Invited", "Reject", Some("Completed")),
        ("Invited", "SendMessage", None),
        ("Invited", "Leave", None),
        ("Invited", "Complete", None),
        ("Chatting", "Accept", None),
        ("Chatting", "Reject", None),
        ("Chatting", "SendMessage", Some("Chatting")),
        ("Chatting", "Leave", Some("LeftChat")),
        ("Chatting", "Complete", Some("Completed")),
        ("LeftChat", "Accept", None),
        ("LeftChat", "Reject", None),
        ("LeftChat", "SendMessage", None),
        ("LeftChat", "Leave", None),
        ("LeftChat", "Complete", Some("Completed")),
        ("Completed", "Accept", None),
        ("Completed", "Reject", None),
        ("Completed", "SendMessage", None),
        ("Completed", "Leave", None),
        ("Completed", "Complete", None),
    ];
    for (state, op, next) in table {
        let (ag, mut bx, id) = in_state(&base, state).await;
        bx.drain().await;
        let before = bx.seen.len();
        let a = ag.op(&id, op_body(op)).await;
        match next {
            Some(n) => {
                assert_eq!(a.status, 200, "{state}/{op}: {}", a.text);
                assert_eq!(a.body["statusCode"], 0, "{state}/{op}: {}", a.text);
                assert!(a.body["referenceId"].is_u64(), "{state}/{op}: {}", a.text);
                if *n == *state {
                    bx.wait_for(20, |v| is_text(v, "hi") && concerns(v, &id))
                        .await
                        .unwrap();
                } else {
                    let v = bx
                        .wait_for(20, |v| is_status(v, n) && v["chat"]["id"] == id.as_str())
                        .await;
                    assert!(v.is_some(), "{state}/{op}: no StatusChange {n}");
                }
            }
            None => {
                let codes: &[i64] = if *state == "Completed" {
                    &[2, 3, 6]
                } else {
                    &[2, 3]
                };
                assert_refused(&a, codes);
                bx.drain().await;
                let after: Vec<&Value> = bx.seen[before..]
                    .iter()
                    .filter(|v| concerns(v, &id))
                    .collect();
                assert!(
                    after.is_empty(),
                    "{state}/{op}: refused op notified {after:?}"
                );
                // Still in its state: the GET list shows it (or not, for Completed).
                let mut ag2 = Agent::new(&base, "agent1", "agent1-pass");
                let list = ag2.get("/api/v2/me/chats").await;
                let found = list.body["chats"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"] == id.as_str())
                    .map(|c| c["state"].as_str().unwrap().to_string());
                if *state == "Completed" {
                    assert_eq!(found, None);
                } else {
                    assert_eq!(found.as_deref(), Some(*state), "{state}/{op}");
                }
            }
        }
    }
    // Unknown id and another agent's chat: 6 for every operation.
    let (_a1, _b1, id1) = in_state(&base, "Chatting").await;
    let mut a2 = Agent::new(&base, "agent2", "agent2-pass");
    a2.login().await;
    for op in ["Accept", "Reject", "SendMessage", "Leave", "Complete"] {
        assert_refused(&a2.op("0000NoSuchChat00", op_body(op)).await, &[6]);
        assert_refused(&a2.op(&id1, op_body(op)).await, &[6]);
    }
    let mut a1 = Agent::new(&base, "agent1", "agent1-pass");
    let list = a1.get("/api/v2/me/chats").await;
    assert!(
        list.body["chats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id1.as_str() && c["state"] == "Chatting")
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_with_text_orders_notifications_and_ends_customer() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let (ag, mut bx, id) = chatting(&base, "agent1").await;
    let a = ag
        .op(
            &id,
            json!({"operationName":"Complete","text":"bye now","treatAs":"System",
            "messageType":"Closing","queueName":"PostQ","saveLAR":true}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["statusCode"], 0);
    assert!(a.body.get("statusMessage").is_none());
    let rid = a.body["referenceId"].clone();
    bx.wait_for(20, |v| {
        is_status(v, "Completed") && v["chat"]["id"] == id.as_str()
    })
    .await
    .unwrap();
    bx.drain().await;
    let mine = bx.for_chat(&id);
    let ti = mine
        .iter()
        .position(|v| is_text(v, "bye now"))
        .expect("text notified");
    let si: Vec<usize> = mine
        .iter()
        .enumerate()
        .filter(|(_, v)| is_status(v, "Completed"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(si.len(), 1, "exactly one Completed: {mine:?}");
    assert!(ti < si[0], "text before Completed");
    assert_eq!(si[0], mine.len() - 1, "nothing after Completed");
    assert_eq!(mine[si[0]]["referenceId"], rid);
    assert_eq!(mine[ti]["referenceId"], rid);
    let uri = mine[si[0]]["chat"]["uri"].as_str().unwrap();
    assert!(uri.ends_with(&format!("/api/v2/chats/{id}")), "{uri}");
    let ins = inspect(&base, &id).await;
    assert_eq!(ins["queue"], "PostQ");
    assert_eq!(ins["lastAgent"], "agent1");
    assert_eq!(ins["customerSessionEnded"], true);
    let tr = ins["customerTranscript"].as_array().unwrap();
    assert!(
        tr.iter()
            .any(|m| m["type"] == "Text" && m["text"] == "bye now" && m["from"] == "Agent")
    );
    assert!(
        tr.iter()
            .any(|m| m["type"] == "ParticipantLeft" && m["from"] == "Agent")
    );
    // Without saveLAR / queueName nothing is recorded.
    let (ag, mut bx, id2) = chatting(&base, "agent1").await;
    assert_eq!(ag.op(&id2, complete()).await.body["statusCode"], 0);
    bx.wait_for(20, |v| {
        is_status(v, "Completed") && v["chat"]["id"] == id2.as_str()
    })
    .await
    .unwrap();
    let ins = inspect(&base, &id2).await;
    assert_eq!(ins["queue"], Value::Null);
    assert_eq!(ins["lastAgent"], Value::Null);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_parameter_validation() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let (ag, mut bx, id) = chatting(&base, "agent1").await;
    let bad: &[(Value, &[i64])] = &[
        (
            json!({"operationName":"Complete","messageType":"Text"}),
            &[1],
        ),
        (json!({"operationName":"Complete","treatAs":"Normal"}), &[1]),
        (
            json!({"operationName":"Complete","text":"x","treatAs":"Loud"}),
            &[10],
        ),
        (json!({"operationName":"Complete","saveLAR":"yes"}), &[10]),
        (json!({"operationName":"Complete","queueName":5}), &[10]),
        (json!({"operationName":"Complete","queueName":""}), &[10]),
        (json!({"operationName":"Complete","text":7}), &[10]),
        (
            json!({"operationName":"Complete","text":"x","messageType":3}),
            &[10],
        ),
        (json!({"text":"x"}), &[1]),
        (json!({"operationName":"Completee"}), &[2]),
        (json!({"operationName":42}), &[10]),
        (json!([1, 2]), &[1]),
    ];
    for (body, codes) in bad {
        let a = ag.op(&id, body.clone()).await;
        assert_refused(&a, codes);
    }
    bx.drain().await;
    assert!(bx.for_chat(&id).iter().all(|v| !is_status(v, "Completed")));
    // Non-JSON and huge bodies: 4xx, never 5xx.
    let a = ag
        .post_raw(&format!("/api/v2/me/chats/{id}"), b"{not json".to_vec())
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["statusCode"], 2);
    let huge = format!(
        "{{\"operationName\":\"Complete\",\"text\":\"{}\"}}",
        "x".repeat(70_000)
    );
    let a = ag
        .post_raw(&format!("/api/v2/me/chats/{id}"), huge.into_bytes())
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    // Still Chatting: a valid Complete succeeds now.
    assert_eq!(ag.op(&id, complete()).await.body["statusCode"], 0);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_csrf_refusals_change_nothing() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let (mut ag, mut bx, id) = chatting(&base, "agent1").await;
    let url = format!("{base}/api/v2/me/chats/{id}");
    // No credentials at all.
    let a = answer(
        reqwest::Client::new()
            .post(&url)
            .json(&complete())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["statusCode"], 20);
    // Wrong password.
    let a = answer(
        reqwest::Client::new()
            .get(format!("{base}/api/v2/me"))
            .header("Authorization", basic("agent1", "nope"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    // Cookie only (the agent's own jar, with the CSRF token, but no Basic auth).
    let a = answer(
        ag.http
            .post(&url)
            .header("X-CSRF-TOKEN", ag.csrf.clone().unwrap())
            .json(&complete())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.text);
    // Without the CSRF token, and with a wrong one.
    let a = answer(
        ag.http
            .post(&url)
            .header("Authorization", ag.auth())
            .json(&complete())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.text);
    let a = answer(
        ag.http
            .post(&url)
            .header("Authorization", ag.auth())
            .header("X-CSRF-TOKEN", "bogus")
            .json(&complete())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 403);
    // Another agent's token in this agent's session does not work either.
    let mut other = Agent::new(&base, "agent2", "agent2-pass");
    other.get("/api/v2/me").await;
    let a = answer(
        ag.http
            .post(&url)
            .header("Authorization", ag.auth())
            .header("X-CSRF-TOKEN", other.csrf.clone().unwrap())
            .json(&complete())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 403);
    bx.drain().await;
    assert!(!bx.for_chat(&id).iter().any(|v| is_status(v, "Completed")));
    // GET announces the CSRF header; the chat is still Chatting.
    let list = ag.get("/api/v2/me/chats").await;
    assert_eq!(list.headers.get("X-CSRF-HEADER").unwrap(), "X-CSRF-TOKEN");
    assert!(
        list.body["chats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str() && c["state"] == "Chatting")
    );
    assert_eq!(ag.op(&id, complete()).await.body["statusCode"], 0);
    // Bayeux needs credentials.
    let a = answer(
        reqwest::Client::new()
            .post(format!("{base}/api/v2/notifications"))
            .json(&json!([{"channel":"/meta/handshake"}]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_off_accepts_posts_without_token() {
    let cfg = gws_conform::server::ServerConfig {
        csrf: false,
        ..test_config()
    };
    let srv = server(cfg).await;
    let mut ag = Agent::new(&srv.base_url, "agent1", "agent1-pass");
    let me = ag.get("/api/v2/me").await;
    assert!(me.headers.get("X-CSRF-TOKEN").is_none());
    assert_eq!(me.body["user"]["userName"], "agent1");
    assert_eq!(
        ag.post("/api/v2/me/channels/chat", json!({"operationName":"Ready"}))
            .await
            .body["statusCode"],
        0
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_go_only_to_the_chats_agent() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let mut a2 = Agent::new(&base, "agent2", "agent2-pass");
    a2.login().await;
    let mut b2 = a2.bayeux().await;
    let (a1, mut b1, id) = chatting(&base, "agent1").await;
    assert_eq!(
        a1.op(&id, json!({"operationName":"Complete","text":"t"}))
            .await
            .body["statusCode"],
        0
    );
    b1.wait_for(20, |v| {
        is_status(v, "Completed") && v["chat"]["id"] == id.as_str()
    })
    .await
    .unwrap();
    b2.drain().await;
    assert!(b2.seen.is_empty(), "agent2 got {:?}", b2.seen);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_leaves_then_complete_succeeds() {
    let srv = server(test_config()).await;
    let base = srv.base_url.clone();
    let (ag, mut bx, id) = chatting(&base, "agent1").await;
    let a = provider(&base, json!({"action":"setup","state":"customer sends message","params":{"chatId":id,"text":"hello"}})).await;
    assert_eq!(a.status, 200);
    bx.wait_for(20, |v| is_text(v, "hello") && concerns(v, &id))
        .await
        .unwrap();
    let a = provider(
        &base,
        json!({"action":"setup","state":"customer leaves","params":{"chatId":id}}),
    )
    .await;
    assert_eq!(a.status, 200);
    bx.wait_for(20, |v| {
        v["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["type"] == "ParticipantLeft"))
            && concerns(v, &id)
    })
    .await
    .unwrap();
    let list = Agent::new(&base, "agent1", "agent1-pass")
        .get("/api/v2/me/chats")
        .await;
    assert!(
        list.body["chats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str() && c["state"] == "Chatting")
    );
    let a = ag
        .op(&id, json!({"operationName":"Complete","text":"late"}))
        .await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    bx.wait_for(20, |v| {
        is_status(v, "Completed") && v["chat"]["id"] == id.as_str()
    })
    .await
    .unwrap();
    assert_eq!(inspect(&base, &id).await["customerSessionEnded"], true);
    srv.shutdown().await;
}
