//! The observing proxy never changes what passes through: bodies over the recording cap
//! (request and answer), `Set-Cookie`, `Cookie`, `Authorization` and custom headers reach
//! the other side byte for byte, and the recording keeps none of the secrets.

use gws_conform::observe::{ProxyConfig, start_proxy};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_bodies_and_secret_headers_pass_unchanged_and_are_not_recorded() {
    let upstream = MockServer::start().await;
    let big_answer: Vec<u8> = (0..(2 << 20)).map(|i| (i % 251) as u8).collect();
    let big_request: Vec<u8> = (0..(3 << 19)).map(|i| (i % 13) as u8 + b'a').collect();
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/X1"))
        .and(header("authorization", "Basic YWdlbnQxOmFnZW50MS1wYXNz"))
        .and(header("cookie", "JSESSIONID=s3cr3tcookie"))
        .and(header("x-csrf-token", "tok-123456"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("set-cookie", "JSESSIONID=n3wcookie; Path=/")
                .insert_header("x-custom", "kept")
                .set_body_bytes(big_answer.clone()),
        )
        .mount(&upstream)
        .await;
    let proxy = start_proxy(ProxyConfig::new(&upstream.uri()), "127.0.0.1:0")
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/me/chats/X1?x=1", proxy.base_url))
        .header("Authorization", "Basic YWdlbnQxOmFnZW50MS1wYXNz")
        .header("Cookie", "JSESSIONID=s3cr3tcookie")
        .header("X-CSRF-TOKEN", "tok-123456")
        .body(big_request.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers()["set-cookie"], "JSESSIONID=n3wcookie; Path=/");
    assert_eq!(r.headers()["x-custom"], "kept");
    let body = r.bytes().await.unwrap();
    assert!(body[..] == big_answer[..], "answer body changed");
    let got = upstream.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].body == big_request, "request body changed");
    assert_eq!(got[0].url.query(), Some("x=1"));

    let obs = proxy
        .finish(gws_conform::client::ProvisioningKind::CustomerApi)
        .await;
    assert_eq!(obs.exchanges.len(), 1);
    let rec = serde_json::to_string(&obs.exchanges).unwrap();
    for secret in [
        "YWdlbnQxOmFnZW50MS1wYXNz",
        "s3cr3tcookie",
        "n3wcookie",
        "tok-123456",
    ] {
        assert!(!rec.contains(secret), "the recording holds {secret}");
    }
    assert!(rec.contains("recording cap"), "over-cap bodies are marked");
    assert_eq!(obs.exchanges[0].agent, "agent1");
}

/// The proxy's own pool never forwards a request on an upstream connection idle for a
/// second or more, so an upstream that closes idle connections (Gunicorn after 2 s,
/// Apache and Node after 5 s) never makes the proxy answer a client's request with 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_closing_idle_connections_costs_the_client_no_502() {
    let (upstream, dropped) = crate::client_transport::idle_closing_server().await;
    let proxy = start_proxy(ProxyConfig::new(&upstream), "127.0.0.1:0")
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for gap_ms in [0, 1_700, 100, 1_700] {
        tokio::time::sleep(std::time::Duration::from_millis(gap_ms)).await;
        let r = client
            .post(format!("{}/api/v2/me/chats/X1", proxy.base_url))
            .body(r#"{"operationName":"Complete"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "after {gap_ms} ms idle");
    }
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 0);
    proxy
        .finish(gws_conform::client::ProvisioningKind::CustomerApi)
        .await;
}
