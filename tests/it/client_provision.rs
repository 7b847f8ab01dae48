//! Provisioning in both modes against wiremock: provider-state (setup, inspect incl. 501,
//! teardown) and customer-api (RequestChat tied to the Invited notification by its tag,
//! customer messages and leaving, the customer's view as an inspect result).

use gws_conform::client::{Offered, Provisioner, Provisioning, TargetConfig};
use gws_conform::history::{Body, Event, EventKind, Recorder};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn cfg(base: &str) -> TargetConfig {
    let mut c = TargetConfig::new(base).unwrap();
    c.request_timeout = Duration::from_millis(500);
    c.connect_timeout = Duration::from_millis(500);
    c.deadline = Duration::from_millis(1500);
    c
}

fn provider(server: &MockServer) -> Provisioner {
    Provisioner::new(
        &cfg(&server.uri()),
        Provisioning::ProviderState {
            url: format!("{}/_gws_conform/provider-state", server.uri()),
        },
    )
    .unwrap()
}

fn kinds<'a>(h: &'a [Event], stream: &str) -> Vec<&'a EventKind> {
    h.iter()
        .filter(|e| e.stream == stream)
        .map(|e| &e.kind)
        .collect()
}

#[tokio::test]
async fn provider_state_offers_acts_inspects_and_tears_down() {
    let server = MockServer::start().await;
    let p = provider(&server);
    assert_eq!(p.mode_name(), "provider-state");
    let url = "/_gws_conform/provider-state";
    Mock::given(method("POST"))
        .and(path(url))
        .and(body_json(json!({"action":"setup","state":"chat offered","params":{"agent":"a1","nickname":"Cus"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chatId":"AG-1"})))
        .expect(1)
        .mount(&server)
        .await;
    for (state, params) in [
        (
            "customer sends message",
            json!({"chatId":"AG-1","text":"hello"}),
        ),
        ("customer leaves", json!({"chatId":"AG-1"})),
    ] {
        Mock::given(method("POST"))
            .and(path(url))
            .and(body_json(
                json!({"action":"setup","state":state,"params":params}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(url))
        .and(body_partial_json(
            json!({"action":"inspect","params":{"chatId":"AG-1"}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"queue":null,"lastAgent":"a1","customerSessionEnded":true})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(url))
        .and(body_partial_json(
            json!({"action":"teardown","params":{"chatId":"AG-1"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;

    let case = Recorder::new();
    let run = Recorder::new();
    let chat = p.offer_chat(&case, &run, "c1", "a1", "Cus").await.unwrap();
    assert_eq!(
        chat,
        Offered {
            alias: "c1".into(),
            agent: "a1".into(),
            chat_id: "AG-1".into(),
            customer_id: None
        }
    );
    p.customer_sends(&case, &chat, "hello").await.unwrap();
    p.customer_leaves(&case, &chat).await.unwrap();
    p.inspect(&case, &chat).await.unwrap();
    p.teardown(&case, &chat).await;
    server.verify().await;

    let h = case.snapshot().events;
    assert!(h.iter().all(|e| e.stream == "provider"));
    assert_eq!(
        case.snapshot().binding("c1"),
        Some(("a1", "AG-1")),
        "Bind recorded"
    );
    let inspect = h
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Inspect {
                alias,
                result,
                reason,
            } => Some((alias.clone(), result.clone(), reason.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(inspect.0, "c1");
    assert_eq!(inspect.1.unwrap()["lastAgent"], "a1");
    assert_eq!(inspect.2, None);
    // 5 requests, 5 responses, 1 bind, 1 inspect
    assert_eq!(kinds(&h, "provider").len(), 12);
    assert!(
        run.is_empty(),
        "provider mode does not touch the run recorder"
    );
}

#[tokio::test]
async fn provider_501_makes_inspect_not_observable_and_setup_an_error() {
    let server = MockServer::start().await;
    let p = provider(&server);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(501).set_body_string("not implemented"))
        .mount(&server)
        .await;
    let case = Recorder::new();
    let chat = Offered {
        alias: "c9".into(),
        agent: "a1".into(),
        chat_id: "X".into(),
        customer_id: None,
    };
    p.inspect(&case, &chat).await.unwrap();
    let got = case
        .snapshot()
        .events
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::Inspect { result, reason, .. } => Some((result, reason)),
            _ => None,
        })
        .unwrap();
    assert_eq!(got.0, None);
    assert_eq!(
        got.1.as_deref(),
        Some("not observable: provider answers 501")
    );

    let err = p.customer_leaves(&case, &chat).await.unwrap_err();
    assert!(
        err.is_unsupported(),
        "404/501 is 'not observable', not a breakage"
    );
    let err = err.to_string();
    assert!(
        err.contains("customer leaves") && err.contains("HTTP 501"),
        "{err}"
    );
    let err = p
        .offer_chat(&case, &Recorder::new(), "c1", "a1", "n")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("chat offered"), "{err}");
    assert_eq!(case.snapshot().binding("c1"), None, "no Bind on failure");
}

#[tokio::test]
async fn provider_answers_without_chat_id_or_transport_failure_are_errors() {
    let server = MockServer::start().await;
    let p = provider(&server);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .mount(&server)
        .await;
    let case = Recorder::new();
    let err = p
        .offer_chat(&case, &Recorder::new(), "c1", "a1", "n")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("chat offered"), "{err}");

    // Provider gone: inspect is an Err (transport), teardown returns quietly.
    let chat = Offered {
        alias: "c1".into(),
        agent: "a1".into(),
        chat_id: "X".into(),
        customer_id: None,
    };
    // (wiremock keeps pooled servers running: use a port nobody listens on.)
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let p = Provisioner::new(
        &cfg(&dead),
        Provisioning::ProviderState {
            url: format!("{dead}/provider"),
        },
    )
    .unwrap();
    let err = p.inspect(&case, &chat).await.unwrap_err().to_string();
    assert!(err.contains("no answer"), "{err}");
    p.teardown(&case, &chat).await;
}

async fn customer_server() -> (MockServer, Provisioner) {
    let server = MockServer::start().await;
    let p = Provisioner::new(
        &cfg(&server.uri()),
        Provisioning::CustomerApi {
            contact_center_id: "cc-42".into(),
        },
    )
    .unwrap();
    (server, p)
}

/// Plays the routing: when RequestChat is recorded, reads its tag and publishes (into the
/// run recorder, as a Bayeux client would) a decoy Invited with another tag, then the
/// real one for agent `a2`.
fn route_to_a2(case: &Recorder, run: &Recorder) -> tokio::task::JoinHandle<()> {
    let case = case.clone();
    let run = run.clone();
    tokio::spawn(async move {
        let req = case
            .wait_for(
                0,
                Duration::from_secs(5),
                |e| matches!(&e.kind, EventKind::Request { path, .. } if path == "/api/v2/chats"),
            )
            .await
            .expect("RequestChat recorded");
        let EventKind::Request {
            body: Body::Json(b),
            ..
        } = req.kind
        else {
            panic!("RequestChat body is JSON")
        };
        let tag = b["userData"]["gwsConformTag"].as_str().unwrap().to_string();
        let invited = |id: &str, tag: &str| {
            json!({"messageType":"ChatStateChangeMessage","notificationType":"StatusChange",
                "chat":{"id":id,"state":"Invited","uri":format!("http://x/api/v2/chats/{id}"),
                        "userData":{"gwsConformTag":tag}}})
        };
        for (agent, data) in [
            ("a1", invited("DECOY", "someone-else")),
            ("a2", invited("AG-7", &tag)),
        ] {
            run.record(
                &format!("bayeux:{agent}"),
                EventKind::Notification {
                    agent: agent.into(),
                    channel: "/v2/me/chats".into(),
                    data,
                },
            );
        }
    })
}

#[tokio::test]
async fn customer_api_binds_the_chat_from_the_tagged_invited_notification() {
    let (server, p) = customer_server().await;
    assert_eq!(p.mode_name(), "customer-api");
    Mock::given(method("POST"))
        .and(path("/api/v2/chats"))
        .and(header("ContactCenterId", "cc-42"))
        .and(body_partial_json(
            json!({"operationName":"RequestChat","nickname":"Cus"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":0,"id":"CU-1","path":"/chats/CU-1"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let case = Recorder::new();
    let run = Recorder::new();
    let router = route_to_a2(&case, &run);
    let chat = p.offer_chat(&case, &run, "c1", "a1", "Cus").await.unwrap();
    router.await.unwrap();
    assert_eq!(
        chat,
        Offered {
            alias: "c1".into(),
            agent: "a2".into(),
            chat_id: "AG-7".into(),
            customer_id: Some("CU-1".into())
        }
    );
    let bind = case
        .snapshot()
        .events
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::Bind {
                customer_chat_id, ..
            } => Some((e.stream, customer_chat_id)),
            _ => None,
        })
        .unwrap();
    assert_eq!(bind, ("customer".to_string(), Some("CU-1".to_string())));
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn customer_api_without_an_invited_notification_is_a_harness_error() {
    let (server, p) = customer_server().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/chats"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0,"id":"CU-2"})))
        .mount(&server)
        .await;
    let case = Recorder::new();
    let err = p
        .offer_chat(&case, &Recorder::new(), "c1", "a1", "Cus")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CU-2") && err.contains("Invited") && err.contains("gwsConformTag"),
        "{err}"
    );

    // A refused RequestChat names the operation and the statusCode.
    let (server, p) = customer_server().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/chats"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":2,"statusMessage":"no agents"})),
        )
        .mount(&server)
        .await;
    let err = p
        .offer_chat(&case, &Recorder::new(), "c1", "a1", "Cus")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RequestChat") && err.contains("statusCode 2"),
        "{err}"
    );
}

#[tokio::test]
async fn customer_api_sends_leaves_and_inspects_the_customer_view() {
    let (server, p) = customer_server().await;
    let chat = Offered {
        alias: "c1".into(),
        agent: "a2".into(),
        chat_id: "AG-7".into(),
        customer_id: Some("CU-1".into()),
    };
    Mock::given(method("POST"))
        .and(path("/api/v2/chats/CU-1"))
        .and(header("ContactCenterId", "cc-42"))
        .and(body_json(
            json!({"operationName":"SendMessage","text":"hi there"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/chats/CU-1"))
        .and(body_json(json!({"operationName":"Complete"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/chats/CU-1"))
        .and(header("ContactCenterId", "cc-42"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":0,"chat":{"state":"Idle"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/chats/CU-1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0,"messages":[
            {"index":1,"type":"ParticipantJoined","from":{"nickname":"Cus","type":"Client"}},
            {"index":2,"type":"Text","text":"hi there","from":{"nickname":"Cus","type":"Client"}},
            {"index":3,"type":"Text","text":"bye","from":{"nickname":"Ag","type":"Agent"}}
        ]})))
        .mount(&server)
        .await;
    let case = Recorder::new();
    p.customer_sends(&case, &chat, "hi there").await.unwrap();
    p.customer_leaves(&case, &chat).await.unwrap();
    p.inspect(&case, &chat).await.unwrap();
    p.teardown(&case, &chat).await; // nothing in customer-api mode
    server.verify().await;
    let h = case.snapshot().events;
    let result: Value = h
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Inspect { result, .. } => result.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        result,
        json!({"customerSessionEnded":true,"customerState":"Idle","customerTranscript":[
            {"type":"ParticipantJoined","text":null,"from":"Customer"},
            {"type":"Text","text":"hi there","from":"Customer"},
            {"type":"Text","text":"bye","from":"Agent"}
        ]})
    );
    assert!(result.get("queue").is_none() && result.get("lastAgent").is_none());
    assert!(h.iter().all(|e| e.stream == "customer"));
    // 4 requests + 4 responses + 1 inspect; teardown sent nothing.
    assert_eq!(h.len(), 9);

    // A customer-side refusal is an error naming the operation.
    let server2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":2,"statusMessage":"gone"})),
        )
        .mount(&server2)
        .await;
    let p2 = Provisioner::new(
        &cfg(&server2.uri()),
        Provisioning::CustomerApi {
            contact_center_id: "cc".into(),
        },
    )
    .unwrap();
    let err = p2
        .customer_sends(&case, &chat, "x")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SendMessage") && err.contains("statusCode 2"),
        "{err}"
    );
    let no_cid = Offered {
        customer_id: None,
        ..chat
    };
    let err = p2.inspect(&case, &no_cid).await.unwrap_err().to_string();
    assert!(err.contains("customer-side id"), "{err}");
}
