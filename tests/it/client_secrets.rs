//! Session secrets never leak: a target that echoes the request's Cookie, CSRF token and
//! Authorization back (in a JSON body, a statusMessage, URL-encoded, JSON-escaped) gets
//! none of them into the outputs, because the client registers every secret it sends or
//! learns with the run's shared scrubber.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use gws_conform::client::{AgentClient, AuthVariant, Credentials, TargetConfig};
use gws_conform::history::{Body, Recorder};
use serde_json::json;
use std::time::Duration;

pub(crate) const SESSION: &str = "Sess/Id+7f3a9c";
pub(crate) const TOKEN: &str = "csrf-T0ken/with+chars";
pub(crate) const PASSWORD: &str = "pa55-w0rd-XYZ";

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Every answer: a fresh session cookie and the CSRF announcement, and a body echoing
/// what the request carried, plainly, URL-encoded and as a JSON document in a string.
pub(crate) async fn echo(h: HeaderMap) -> impl IntoResponse {
    let cookie = header(&h, "cookie");
    let csrf = header(&h, "x-anti-forgery");
    let auth = header(&h, "authorization");
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let body = json!({
        "statusCode": 0,
        "statusMessage": format!("you sent cookie {cookie} and token {csrf} as {auth}"),
        "url": format!("/x?c={}&t={}", enc(&cookie), enc(&csrf)),
        "nested": json!({"cookie": cookie, "token": csrf}).to_string(),
    });
    (
        StatusCode::OK,
        [
            (
                "Set-Cookie",
                format!("JSESSIONID={SESSION}; Path=/; HttpOnly"),
            ),
            ("X-CSRF-HEADER", "X-Anti-Forgery".to_string()),
            ("X-CSRF-TOKEN", TOKEN.to_string()),
        ],
        axum::Json(body),
    )
}

#[tokio::test]
async fn echoed_cookies_tokens_and_authorization_are_scrubbed_from_every_output() {
    let app = Router::new().fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut cfg = TargetConfig::new(&base).unwrap();
    cfg.request_timeout = Duration::from_secs(5);
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg, Credentials::new("agent1", PASSWORD), &rec)
        .await
        .unwrap();
    assert!(agent.uses_csrf());
    let out = agent
        .post_chat(
            &rec,
            "c1",
            &Body::Json(json!({"operationName": "Complete"})),
            AuthVariant::Normal,
            None,
        )
        .await;
    assert_eq!(out.status(), Some(200));
    let history = serde_json::to_string_pretty(&rec.snapshot()).unwrap();
    // The echo did carry the secrets into the recorded history...
    assert!(history.contains("csrf-T0ken"), "the echo server must echo");

    // ...and the run's scrubber, fed by the client, removes every form of them.
    let scrub = cfg.secrets.snapshot();
    let written = scrub.scrub(&history);
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("agent1:{PASSWORD}"));
    for leak in [
        "Sess/Id",
        "Sess%2FId",
        "7f3a",
        "csrf-T0ken",
        "T0ken%2Fwith",
        basic.as_str(),
    ] {
        assert!(!written.contains(leak), "{leak} leaked into:\n{written}");
    }
    assert!(written.contains("<redacted>"));
    server.abort();
}
