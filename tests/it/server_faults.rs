//! Every fault of the catalogue is observable: for each fault, a scenario over real HTTP
//! sees the deviation on the faulty server, and the same scenario does not see it on the
//! faithful server (so the observation is not vacuous).

use crate::common_server;

use common_server::*;
use gws_conform::server::{RunningServer, faults};
use serde_json::{Value, json};

async fn complete_and_settle(base: &str, body: Value) -> (Agent, Bayeux, String, Answer) {
    let (ag, mut bx, id) = chatting(base, "agent1").await;
    bx.drain().await;
    let a = ag.op(&id, body).await;
    bx.drain().await;
    (ag, bx, id, a)
}

fn positions(bx: &Bayeux, id: &str, pred: impl Fn(&Value) -> bool) -> Vec<usize> {
    bx.for_chat(id)
        .iter()
        .enumerate()
        .filter(|(_, v)| pred(v))
        .map(|(i, _)| i)
        .collect()
}

fn completed(v: &Value) -> bool {
    v["notificationType"] == "StatusChange"
        && v["chat"]["state"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("completed"))
}

/// Runs the scenario of `fault` against `srv`; true when the deviation is observed.
async fn deviation(fault: &str, srv: &RunningServer) -> bool {
    let base = srv.base_url.as_str();
    let text = json!({"operationName":"Complete","text":"bye"});
    match fault {
        "complete-no-status-change" => {
            let (_a, bx, id, a) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            a.body["statusCode"] == 0 && positions(&bx, &id, completed).is_empty()
        }
        "complete-status-late" => {
            let (_a, mut bx, id, a) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            let missing_at_first = positions(&bx, &id, completed).is_empty();
            if missing_at_first {
                // It does arrive, later (the 7 s delay passes while long-polls are held).
                let later = bx.wait_for(60, |v| completed(v) && concerns(v, &id)).await;
                assert!(later.is_some(), "late Completed never arrived");
            }
            a.body["statusCode"] == 0 && missing_at_first
        }
        "complete-status-duplicated" => {
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            positions(&bx, &id, completed).len() == 2
        }
        "complete-text-after-status" => {
            let (_a, bx, id, _) = complete_and_settle(base, text).await;
            let s = positions(&bx, &id, completed);
            let t = positions(&bx, &id, |v| is_text(v, "bye"));
            s.len() == 1 && t.len() == 1 && s[0] < t[0]
        }
        "complete-reorder-under-concurrency" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let mut bx = ag.bayeux().await;
            let mut ids = Vec::new();
            for _ in 0..5 {
                let id = offer(base, "agent1").await;
                assert_eq!(
                    ag.op(&id, json!({"operationName":"Accept"})).await.body["statusCode"],
                    0
                );
                ids.push(id);
            }
            bx.drain().await;
            // One Complete alone keeps the order even with this fault.
            let lone = offer(base, "agent1").await;
            assert_eq!(
                ag.op(&lone, json!({"operationName":"Accept"})).await.body["statusCode"],
                0
            );
            assert_eq!(
                ag.op(&lone, json!({"operationName":"Complete","text":"bye"}))
                    .await
                    .body["statusCode"],
                0
            );
            bx.drain().await;
            let (s, t) = (
                positions(&bx, &lone, completed),
                positions(&bx, &lone, |v| is_text(v, "bye")),
            );
            assert!(t[0] < s[0], "a lone Complete must keep the order");
            let ag = std::sync::Arc::new(ag);
            let mut tasks = Vec::new();
            for id in &ids {
                let (ag, id) = (ag.clone(), id.clone());
                tasks.push(tokio::spawn(async move {
                    ag.op(&id, json!({"operationName":"Complete","text":"bye"}))
                        .await
                }));
            }
            for t in tasks {
                assert_eq!(t.await.unwrap().body["statusCode"], 0);
            }
            bx.drain().await;
            ids.iter().any(|id| {
                let s = positions(&bx, id, completed);
                let t = positions(&bx, id, |v| is_text(v, "bye"));
                s.len() == 1 && t.len() == 1 && s[0] < t[0]
            })
        }
        "complete-text-not-notified" => {
            let (_a, bx, id, _) = complete_and_settle(base, text).await;
            positions(&bx, &id, |v| is_text(v, "bye")).is_empty()
                && inspect(base, &id).await["customerTranscript"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["text"] == "bye")
        }
        "notify-wrong-agent" => {
            let mut a2 = Agent::new(base, "agent2", "agent2-pass");
            a2.login().await;
            let mut b2 = a2.bayeux().await;
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            b2.drain().await;
            positions(&bx, &id, completed).is_empty() && !b2.for_chat(&id).is_empty()
        }
        "notify-after-completed" => {
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            let s = positions(&bx, &id, completed);
            s.len() == 1 && s[0] + 1 < bx.for_chat(&id).len()
        }
        "status-uri-wrong" => {
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            bx.for_chat(&id).iter().filter(|v| completed(v)).any(|v| {
                !v["chat"]["uri"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with(&format!("/api/v2/chats/{id}"))
            })
        }
        "status-state-lowercase" => {
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            bx.for_chat(&id)
                .iter()
                .any(|v| v["chat"]["state"] == "completed")
        }
        "notification-missing-chat-id" => {
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            bx.for_chat(&id).iter().any(|v| {
                v["messageType"] == "ChatStateChangeMessage" && v["chat"].get("id").is_none()
            })
        }
        "unknown-id-status-2" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            ag.op("0000Unknown00000", json!({"operationName":"Complete"}))
                .await
                .body["statusCode"]
                == 2
        }
        "complete-invited-accepted" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let id = offer(base, "agent1").await;
            ag.op(&id, json!({"operationName":"Complete"})).await.body["statusCode"] == 0
        }
        "error-body-extra-field" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let a = ag
                .op("0000Unknown00000", json!({"operationName":"Complete"}))
                .await;
            a.body.as_object().unwrap().len() != 2
        }
        "success-with-status-message" => {
            let (_a, _bx, _id, a) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            a.body["statusCode"] == 0 && a.body.get("statusMessage").is_some()
        }
        "refused-complete-still-completes" => {
            let (_a, bx, id, a) = complete_and_settle(
                base,
                json!({"operationName":"Complete","text":"x","treatAs":"Loud"}),
            )
            .await;
            a.body["statusCode"] != 0 && !positions(&bx, &id, completed).is_empty()
        }
        "refused-complete-ends-customer-session" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            let a = ag
                .op(
                    &id,
                    json!({"operationName":"Complete","text":"x","treatAs":"Loud"}),
                )
                .await;
            a.body["statusCode"] != 0 && inspect(base, &id).await["customerSessionEnded"] == true
        }
        "refused-complete-posts-text" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            let a = ag
                .op(
                    &id,
                    json!({"operationName":"Complete","text":"x!","treatAs":"Loud"}),
                )
                .await;
            let t = inspect(base, &id).await["customerTranscript"].clone();
            a.body["statusCode"] != 0
                && t.as_array()
                    .is_some_and(|t| t.iter().any(|e| e["text"] == "x!"))
        }
        "csrf-any-session" => {
            // agent1's session with agent2's token.
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let mut other = Agent::new(base, "agent2", "agent2-pass");
            other.login().await;
            ag.csrf = other.csrf.clone();
            ag.post("/api/v2/me/channels/chat", json!({"operationName":"Ready"}))
                .await
                .status
                != 403
        }
        "cookie-over-basic" => {
            // agent2's Basic credentials on agent1's session cookie.
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let a = answer(
                ag.http
                    .get(format!("{base}/api/v2/me"))
                    .header("Authorization", basic("agent2", "agent2-pass"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            a.body["user"]["userName"] == "agent1"
        }
        "csrf-not-enforced" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            ag.csrf = None;
            ag.post("/api/v2/me/channels/chat", json!({"operationName":"Ready"}))
                .await
                .status
                != 403
        }
        "credentials-not-required" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let mut rb = ag.http.get(format!("{base}/api/v2/me"));
            if let Some(t) = &ag.csrf {
                rb = rb.header("X-CSRF-TOKEN", t);
            }
            let a = answer(rb.send().await.unwrap()).await;
            a.status == 200 && a.body["statusCode"] == 0
        }
        "other-agent-chat-completable" => {
            let (_a, _bx, id) = chatting(base, "agent1").await;
            let mut a2 = Agent::new(base, "agent2", "agent2-pass");
            a2.login().await;
            a2.op(&id, json!({"operationName":"Complete"})).await.body["statusCode"] == 0
        }
        "transcript-missing-text" => {
            let (_a, _bx, id, _) = complete_and_settle(base, text).await;
            !inspect(base, &id).await["customerTranscript"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["text"] == "bye" && m["from"] == "Agent")
        }
        "customer-session-not-ended" => {
            let (_a, _bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            inspect(base, &id).await["customerSessionEnded"] == false
        }
        "queue-ignored" => {
            let (_a, _bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete","queueName":"Post"}))
                    .await;
            inspect(base, &id).await["queue"] != "Post"
        }
        "savelar-ignored" => {
            let (_a, _bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete","saveLAR":true})).await;
            inspect(base, &id).await["lastAgent"] != "agent1"
        }
        "message-type-without-text-accepted" => {
            let (_a, _bx, _id, a) = complete_and_settle(
                base,
                json!({"operationName":"Complete","messageType":"Text"}),
            )
            .await;
            a.body["statusCode"] == 0
        }
        "bad-treatas-accepted" => {
            let (_a, _bx, _id, a) = complete_and_settle(
                base,
                json!({"operationName":"Complete","text":"x","treatAs":"Loud"}),
            )
            .await;
            a.body["statusCode"] == 0
        }
        "wrong-types-accepted" => {
            let (_a, _bx, _id, a) =
                complete_and_settle(base, json!({"operationName":"Complete","saveLAR":"yes"}))
                    .await;
            a.body["statusCode"] == 0
        }
        "second-complete-accepted" => {
            let (ag, mut bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            let a = ag.op(&id, json!({"operationName":"Complete"})).await;
            bx.drain().await;
            a.body["statusCode"] == 0 && positions(&bx, &id, completed).len() == 2
        }
        "leftchat-complete-refused" => {
            let (ag, mut bx, id) = chatting(base, "agent1").await;
            assert_eq!(
                ag.op(&id, json!({"operationName":"Leave"})).await.body["statusCode"],
                0
            );
            bx.wait_for(20, |v| is_status(v, "LeftChat") && concerns(v, &id))
                .await
                .unwrap();
            ag.op(&id, json!({"operationName":"Complete"})).await.body["statusCode"] != 0
        }
        "complete-after-customer-left-refused" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            let a = provider(
                base,
                json!({"action":"setup","state":"customer leaves","params":{"chatId":id}}),
            )
            .await;
            assert_eq!(a.status, 200);
            ag.op(&id, json!({"operationName":"Complete"})).await.body["statusCode"] != 0
        }
        "treatas-case-insensitive" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            ag.op(
                &id,
                json!({"operationName":"Complete","text":"bye","treatAs":"normal"}),
            )
            .await
            .body["statusCode"]
                == 0
        }
        "savelar-string-accepted" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            ag.op(&id, json!({"operationName":"Complete","saveLAR":"true"}))
                .await
                .body["statusCode"]
                == 0
        }
        "long-text-truncated" => {
            let long = "x".repeat(5000);
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete","text":long})).await;
            !bx.for_chat(&id).iter().any(|v| is_text(v, &long))
        }
        "non-ascii-mangled" => {
            let t = "Merci 👋🏽 感谢";
            let (_a, bx, id, _) =
                complete_and_settle(base, json!({"operationName":"Complete","text":t})).await;
            !bx.for_chat(&id).iter().any(|v| is_text(v, t))
        }
        "queue-ignored-with-text" => {
            let (_a, _bx, id, _) = complete_and_settle(
                base,
                json!({"operationName":"Complete","queueName":"Post","text":"bye"}),
            )
            .await;
            inspect(base, &id).await["queue"] != "Post"
        }
        "complete-after-customer-left-in-leftchat-refused" => {
            let (ag, mut bx, id) = chatting(base, "agent1").await;
            let a = provider(
                base,
                json!({"action":"setup","state":"customer leaves","params":{"chatId":id}}),
            )
            .await;
            assert_eq!(a.status, 200);
            assert_eq!(
                ag.op(&id, json!({"operationName":"Leave"})).await.body["statusCode"],
                0
            );
            bx.wait_for(20, |v| is_status(v, "LeftChat") && concerns(v, &id))
                .await
                .unwrap();
            ag.op(&id, json!({"operationName":"Complete"})).await.body["statusCode"] != 0
        }
        "double-complete-race" => {
            // Two Completes on one chat at once: with the fault both succeed.
            let (ag, _bx, id) = chatting(base, "agent1").await;
            let (a, b) = tokio::join!(
                ag.op(&id, json!({"operationName":"Complete"})),
                ag.op(&id, json!({"operationName":"Complete"}))
            );
            a.body["statusCode"] == 0 && b.body["statusCode"] == 0
        }
        "reference-id-mismatch" => {
            let (_a, bx, id, a) =
                complete_and_settle(base, json!({"operationName":"Complete"})).await;
            bx.for_chat(&id)
                .iter()
                .filter(|v| completed(v))
                .any(|v| v["referenceId"] != a.body["referenceId"])
        }
        "non-json-500" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            ag.post_raw(&format!("/api/v2/me/chats/{id}"), b"<xml/>".to_vec())
                .await
                .status
                >= 500
        }
        "unknown-operation-status-4" => {
            let (ag, _bx, id) = chatting(base, "agent1").await;
            ag.op(&id, json!({"operationName":"Fly"})).await.body["statusCode"] == 4
        }
        "bayeux-subscribe-fails" => {
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let b = Bayeux {
                base: base.to_string(),
                auth: ag.auth(),
                http: ag.http.clone(),
                client_id: String::new(),
                seen: Vec::new(),
            };
            let h = b.send(json!([{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}])).await;
            let cid = h.body[0]["clientId"].clone();
            let s = b.send(json!([{"channel":"/meta/subscribe","clientId":cid,"subscription":"/v2/me/chats"}])).await;
            s.body[0]["successful"] == false
        }
        "bayeux-session-dropped" => {
            // One offer per round, then a connect: the session is dropped once it has
            // been delivered enough; the faithful server keeps delivering.
            let mut ag = Agent::new(base, "agent1", "agent1-pass");
            ag.login().await;
            let bx = ag.bayeux().await;
            for _ in 0..20 {
                offer(base, "agent1").await;
                let a = bx
                    .send(json!([{"channel":"/meta/connect","clientId":bx.client_id,
                        "connectionType":"long-polling"}]))
                    .await;
                let reply = &a.body[0];
                if reply["successful"] == false {
                    return reply["advice"]["reconnect"] == "none";
                }
            }
            false
        }
        other => panic!("no scenario for fault {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_observable_and_absent_without_it() {
    let clean = server(test_config()).await;
    let mut problems = Vec::new();
    for f in faults() {
        eprintln!("fault {}", f.name);
        let srv = server_with_fault(f.name).await;
        if !deviation(f.name, &srv).await {
            problems.push(format!("{}: deviation not observed with the fault", f.name));
        }
        srv.shutdown().await;
        if deviation(f.name, &clean).await {
            problems.push(format!(
                "{}: deviation observed on the faithful server",
                f.name
            ));
        }
    }
    clean.shutdown().await;
    assert!(problems.is_empty(), "{problems:#?}");
}
