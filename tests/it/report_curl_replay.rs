//! The generated curl script really replays a case: run it with bash and curl against a
//! loopback fake target (axum) and check what the target received — login with Basic
//! auth, the CSRF token echoed, the session cookie kept, chats provisioned through the
//! provider-state endpoint, each step's exact body, and no secret on any command line.

use crate::report_support;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use gws_conform::history::{AuthVariant, Body, ChatRef, Step};
use gws_conform::report;
use report_support::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    auth: Option<String>,
    cookie: Option<String>,
    csrf: Option<String>,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn any(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    log.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        auth: h("authorization"),
        cookie: h("cookie"),
        csrf: h("x-csrf-token"),
        body: body.clone(),
    });
    if uri.path() == "/provider" {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let answer = if v["action"] == "setup" && v["state"] == "chat offered" {
            let n = if v["params"]["agent"] == "agent2" {
                "B"
            } else {
                "A"
            };
            serde_json::json!({ "chatId": format!("chat-{n}") })
        } else {
            serde_json::json!({})
        };
        return axum::Json(answer).into_response();
    }
    if uri.path() == "/api/v2/chats" && method == Method::POST {
        return axum::Json(
            serde_json::json!({"statusCode":0,"id":"cust-1","path":"/api/v2/chats/cust-1"}),
        )
        .into_response();
    }
    if uri.path() == "/api/v2/me/chats" {
        // The chat appears on the agent side once the customer asked for it.
        let asked = log
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.path == "/api/v2/chats" && s.method == "POST");
        let chats = if asked {
            serde_json::json!([{"id":"chat-C"}])
        } else {
            serde_json::json!([])
        };
        return axum::Json(serde_json::json!({"statusCode":0,"chats":chats})).into_response();
    }
    if method == Method::GET {
        return (
            [
                ("X-CSRF-HEADER", "X-CSRF-TOKEN"),
                ("X-CSRF-TOKEN", "csrf-tok-1"),
                ("Set-Cookie", "JSESSIONID=sess-1; Path=/"),
            ],
            axum::Json(serde_json::json!({"statusCode":0,"user":{}})),
        )
            .into_response();
    }
    axum::Json(serde_json::json!({"statusCode":0})).into_response()
}

fn have(cmd: &str) -> bool {
    std::process::Command::new(cmd)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_script_replays_the_case_against_a_loopback_target() {
    if !have("curl") || !have("python3") {
        eprintln!("SKIPPED: curl and python3 are needed to run a generated script");
        return;
    }
    let log: Log = Default::default();
    let app = Router::new().fallback(any).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let r = report();
    let mut cf = report::case_file(&r, &r.cases[1]);
    let hostile = HOSTILE.join(" ");
    cf.steps = vec![
        Step::OfferChat {
            chat: "c1".into(),
            agent: "agent1".into(),
        },
        Step::OfferChat {
            chat: "c2".into(),
            agent: "agent2".into(),
        },
        Step::CustomerSends {
            chat: "c1".into(),
            text: format!("hi $(touch /tmp/pwned) {hostile}"),
        },
        Step::AgentPost {
            chat: ChatRef::Alias("c1".into()),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(serde_json::json!({"operationName":"Complete","text":hostile})),
        },
        Step::AgentPost {
            chat: ChatRef::Alias("c2".into()),
            by_other_agent: true,
            auth: AuthVariant::NoCsrf,
            body: Body::Json(serde_json::json!({"operationName":"Complete"})),
        },
        Step::AgentPost {
            chat: ChatRef::Unknown("no-such".into()),
            by_other_agent: false,
            auth: AuthVariant::NoCredentials,
            body: Body::Raw("{not json".into()),
        },
    ];
    let script = report::curl_script(&cf);
    run_script(
        &script,
        &base,
        &[("GWS_PROVIDER_URL", format!("{base}/provider"))],
    )
    .await;
    let seen = log.lock().unwrap().clone();
    let basic = |u: &str, p: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let (a1, a2) = (basic("agent1", PASSWORD), basic("agent2", "second-Secret9"));
    // Both agents logged in and went Ready, with the CSRF token and the cookie.
    for a in [&a1, &a2] {
        assert!(
            seen.iter()
                .any(|s| s.method == "GET" && s.path == "/api/v2/me" && s.auth.as_ref() == Some(a))
        );
        let ready = seen
            .iter()
            .find(|s| s.path == "/api/v2/me/channels/chat" && s.auth.as_ref() == Some(a))
            .unwrap();
        assert_eq!(ready.body, r#"{"operationName":"Ready"}"#);
        assert_eq!(ready.csrf.as_deref(), Some("csrf-tok-1"));
        assert!(
            ready
                .cookie
                .as_deref()
                .unwrap_or("")
                .contains("JSESSIONID=sess-1")
        );
    }
    // The customer message went through the provider with the chat id and the exact text.
    let sends = seen
        .iter()
        .find(|s| s.path == "/provider" && s.body.contains("customer sends message"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&sends.body).unwrap();
    assert_eq!(v["params"]["chatId"], "chat-A");
    assert_eq!(
        v["params"]["text"],
        format!("hi $(touch /tmp/pwned) {hostile}")
    );
    // The Complete with text: owner, exact body, CSRF.
    let c1 = seen
        .iter()
        .find(|s| s.path == "/api/v2/me/chats/chat-A")
        .unwrap();
    assert_eq!(c1.auth.as_ref(), Some(&a1));
    assert_eq!(c1.csrf.as_deref(), Some("csrf-tok-1"));
    let body: serde_json::Value = serde_json::from_str(&c1.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"operationName":"Complete","text":hostile})
    );
    // agent2 owns c2, so "another agent" is agent1, and no CSRF token is sent.
    let c2 = seen
        .iter()
        .find(|s| s.path == "/api/v2/me/chats/chat-B")
        .unwrap();
    assert_eq!(c2.auth.as_ref(), Some(&a1));
    assert_eq!(c2.csrf, None);
    // No credentials at all, and the raw body as is.
    let u = seen
        .iter()
        .find(|s| s.path == "/api/v2/me/chats/no-such")
        .unwrap();
    assert_eq!((u.auth.as_deref(), u.cookie.as_deref()), (None, None));
    assert_eq!(u.body, "{not json");
    // Teardown of both chats.
    assert_eq!(
        seen.iter()
            .filter(|s| s.body.contains("\"teardown\""))
            .count(),
        2
    );
    // The script holds no secret, and the hostile text never ran.
    assert!(!script.contains(PASSWORD) && !script.contains("second-Secret9"));
    assert!(!std::path::Path::new("/tmp/pwned").exists());
}

/// Runs `script` with bash against `base` (60 s at most) and asserts it succeeded.
async fn run_script(script: &str, base: &str, extra_env: &[(&str, String)]) {
    let dir = std::env::temp_dir().join(format!(
        "gws-conform-curl-{}-{}",
        std::process::id(),
        script.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("case.sh");
    std::fs::write(&path, script).unwrap();
    let (b2, p2) = (base.to_string(), path.clone());
    let extra: Vec<(String, String)> = extra_env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg(&p2)
                .env("GWS_TARGET", &b2)
                .env("GWS_USER", "agent1")
                .env("GWS_PASSWORD", PASSWORD)
                .env("GWS_USER2", "agent2")
                .env("GWS_PASSWORD2", "second-Secret9")
                .env("GWS_TIMEOUT", "5")
                .envs(extra)
                .output()
                .unwrap()
        }),
    )
    .await
    .expect("the script finished within 60 s")
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "script failed: {stderr}\n{script}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_customer_api_mode_the_script_requests_the_chat_as_a_customer() {
    if !have("curl") || !have("python3") {
        eprintln!("SKIPPED: curl and python3 are needed to run a generated script");
        return;
    }
    let log: Log = Default::default();
    let app = Router::new().fallback(any).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut r = report();
    r.config.provisioning = gws_conform::client::ProvisioningKind::CustomerApi;
    let mut cf = report::case_file(&r, &r.cases[1]);
    cf.steps = vec![
        Step::OfferChat {
            chat: "c1".into(),
            agent: "agent1".into(),
        },
        Step::CustomerSends {
            chat: "c1".into(),
            text: "it's me".into(),
        },
        Step::AgentPost {
            chat: ChatRef::Alias("c1".into()),
            by_other_agent: false,
            auth: AuthVariant::Normal,
            body: Body::Json(serde_json::json!({"operationName":"Complete","queueName":"Q1"})),
        },
        Step::Inspect { chat: "c1".into() },
        Step::CustomerLeaves { chat: "c1".into() },
    ];
    let script = report::curl_script(&cf);
    run_script(
        &script,
        &base,
        &[("GWS_CONTACT_CENTER_ID", "cc-7".to_string())],
    )
    .await;
    let seen = log.lock().unwrap().clone();
    let paths: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    let ask = seen.iter().find(|s| s.path == "/api/v2/chats").unwrap();
    assert_eq!(
        ask.auth, None,
        "the Customer Chat API takes no Authorization"
    );
    let v: serde_json::Value = serde_json::from_str(&ask.body).unwrap();
    assert_eq!(v["operationName"], "RequestChat");
    let complete = seen
        .iter()
        .find(|s| s.path == "/api/v2/me/chats/chat-C")
        .unwrap();
    assert_eq!(
        complete.body,
        r#"{"operationName":"Complete","queueName":"Q1"}"#
    );
    let customer: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/api/v2/chats/cust-1")
        .collect();
    assert_eq!(customer.len(), 3, "{paths:#?}");
    assert_eq!(
        customer[0].body,
        r#"{"operationName": "SendMessage", "text": "it's me"}"#
    );
    assert_eq!(customer[1].method, "GET");
    assert_eq!(customer[2].body, r#"{"operationName": "Complete"}"#);
    assert!(paths.contains(&"GET /api/v2/chats/cust-1/messages".to_string()));
    assert!(!paths.iter().any(|p| p.contains("/provider")));
}
