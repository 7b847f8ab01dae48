//! The agent REST client against wiremock (login, CSRF, cookies, auth variants, redaction)
//! and against hand-written hostile servers (down, slow, garbage, reset, huge, drip).

use gws_conform::client::{AgentClient, AuthVariant, Credentials, Outcome, TargetConfig};
use gws_conform::history::{Body, EventKind, NoResponseKind, Recorder};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{basic_auth, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "agent1";
const PASSWORD: &str = "pa55-w0rd-XYZ";
const SESSION: &str = "sess-7f3a9c";
const TOKEN: &str = "tok-SECRET-42";
/// Deliberately a CSRF header name without "csrf" in it: redaction must follow the
/// announcement, not only the name.
const CSRF_NAME: &str = "X-Anti-Forgery";

fn cfg(base: &str) -> TargetConfig {
    let mut c = TargetConfig::new(base).unwrap();
    c.request_timeout = Duration::from_millis(600);
    c.connect_timeout = Duration::from_millis(600);
    c.max_body_bytes = 64 * 1024;
    c
}

fn creds() -> Credentials {
    Credentials::new(USER, PASSWORD)
}

fn basic_b64() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
}

/// Mounts the three login steps; the POSTs only match with Basic auth, the session cookie
/// and (when `csrf`) the announced token.
async fn mount_login(server: &MockServer, csrf: bool) {
    let mut me = ResponseTemplate::new(200)
        .set_body_json(json!({"statusCode":0,"user":{"userName":USER}}))
        .insert_header(
            "Set-Cookie",
            format!("JSESSIONID={SESSION}; Path=/; HttpOnly"),
        );
    if csrf {
        me = me
            .insert_header("X-CSRF-HEADER", CSRF_NAME)
            .insert_header("X-CSRF-TOKEN", TOKEN);
    }
    Mock::given(method("GET"))
        .and(path("/api/v2/me"))
        .and(basic_auth(USER, PASSWORD))
        .respond_with(me)
        .expect(1)
        .mount(server)
        .await;
    for (p, op) in [
        ("/api/v2/me", "StartContactCenterSession"),
        ("/api/v2/me/channels/chat", "Ready"),
    ] {
        let mut m = Mock::given(method("POST"))
            .and(path(p))
            .and(basic_auth(USER, PASSWORD))
            .and(header("cookie", format!("JSESSIONID={SESSION}").as_str()))
            .and(header("content-type", "application/json"))
            .and(body_partial_json(json!({"operationName": op})));
        if csrf {
            m = m.and(header(CSRF_NAME, TOKEN));
        }
        m.respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
            .expect(1)
            .mount(server)
            .await;
    }
}

fn assert_no_secret(text: &str) {
    for s in [PASSWORD, &basic_b64(), SESSION, TOKEN] {
        assert!(!text.contains(s), "secret {s:?} leaked into: {text}");
    }
}

#[tokio::test]
async fn login_learns_cookie_and_csrf_and_echoes_them() {
    let server = MockServer::start().await;
    mount_login(&server, true).await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .expect("login");
    assert_eq!(agent.user(), USER);
    assert!(agent.uses_csrf());
    let h = rec.snapshot();
    let session = h
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Session { agent, csrf } => Some((agent.clone(), *csrf, e.stream.clone())),
            _ => None,
        })
        .expect("Session event");
    assert_eq!(session, (USER.to_string(), true, format!("rest:{USER}")));
    // 3 requests, 3 responses, 1 session, all on the agent's stream.
    assert_eq!(h.events.len(), 7);
    assert!(h.iter().all(|e| e.stream == "rest:agent1"));
    assert_no_secret(&serde_json::to_string(&h).unwrap());
    server.verify().await;
}

#[tokio::test]
async fn login_without_csrf_is_detected() {
    let server = MockServer::start().await;
    mount_login(&server, false).await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap();
    assert!(!agent.uses_csrf());
    assert!(
        rec.snapshot()
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Session { csrf: false, .. }))
    );
}

#[tokio::test]
async fn a_refused_setup_step_is_a_harness_error_naming_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":3,"statusMessage":"Forbidden"})),
        )
        .mount(&server)
        .await;
    let rec = Recorder::new();
    let err = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("StartContactCenterSession"), "{msg}");
    assert!(msg.contains("statusCode 3"), "{msg}");
    assert!(msg.contains(USER), "{msg}");
    assert_no_secret(&msg);

    // And a 401 on the first step names it too.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/me"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let err = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("GET /api/v2/me"), "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
}

#[tokio::test]
async fn auth_variants_send_exactly_their_headers() {
    let server = MockServer::start().await;
    mount_login(&server, true).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/C1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
        .mount(&server)
        .await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap();
    let body = Body::Json(json!({"operationName":"Complete"}));
    let variants = [
        AuthVariant::Normal,
        AuthVariant::NoCredentials,
        AuthVariant::CookieOnly,
        AuthVariant::NoCsrf,
    ];
    for (i, v) in variants.iter().enumerate() {
        let out = agent.post_chat(&rec, "C1", &body, *v, Some(i)).await;
        assert_eq!(out.status(), Some(200), "{v:?}: {out:?}");
        assert_eq!(out.status_code(), Some(0));
    }
    let reqs = server.received_requests().await.unwrap();
    let chats: Vec<_> = reqs
        .iter()
        .filter(|r| r.url.path() == "/api/v2/me/chats/C1")
        .collect();
    assert_eq!(chats.len(), 4);
    let has = |r: &wiremock::Request, h: &str| r.headers.get(h).is_some();
    // (authorization, cookie, csrf) per variant
    let expected = [
        (true, true, true),
        (false, false, false),
        (false, true, true),
        (true, true, false),
    ];
    for ((r, v), (a, c, x)) in chats.iter().zip(variants).zip(expected) {
        assert_eq!(has(r, "authorization"), a, "{v:?} authorization");
        assert_eq!(has(r, "cookie"), c, "{v:?} cookie");
        assert_eq!(has(r, CSRF_NAME), x, "{v:?} csrf");
        assert_eq!(
            r.headers.get("content-type").unwrap(),
            "application/json",
            "{v:?}"
        );
        if c {
            assert_eq!(
                r.headers.get("cookie").unwrap(),
                &format!("JSESSIONID={SESSION}")
            );
        }
        assert_eq!(
            r.body_json::<serde_json::Value>().unwrap(),
            json!({"operationName":"Complete"})
        );
    }
    // The recorded requests carry the parts and redacted headers, never the secrets.
    let h = rec.snapshot();
    let parts: Vec<_> = h
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request { path, part, .. } if path == "/api/v2/me/chats/C1" => Some(*part),
            _ => None,
        })
        .collect();
    assert_eq!(parts, vec![Some(0), Some(1), Some(2), Some(3)]);
    let text = serde_json::to_string(&h).unwrap();
    assert_no_secret(&text);
    assert!(
        text.contains(CSRF_NAME),
        "the CSRF header name is recorded: {text}"
    );
}

#[tokio::test]
async fn foreign_variants_borrow_the_other_agents_token_or_basic() {
    let server = MockServer::start().await;
    mount_login(&server, true).await;
    // A second agent with its own session and token.
    Mock::given(method("GET"))
        .and(path("/api/v2/me"))
        .and(basic_auth("agent2", "pw-2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":0,"user":{"userName":"agent2"}}))
                .insert_header("Set-Cookie", "JSESSIONID=sess-2; Path=/; HttpOnly")
                .insert_header("X-CSRF-HEADER", CSRF_NAME)
                .insert_header("X-CSRF-TOKEN", "tok-2"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(basic_auth("agent2", "pw-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/C1"))
        .respond_with(ResponseTemplate::new(403).set_body_string("no"))
        .mount(&server)
        .await;
    let rec = Recorder::new();
    let a1 = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap();
    let a2 = AgentClient::login(
        &cfg(&server.uri()),
        Credentials::new("agent2", "pw-2"),
        &rec,
    )
    .await
    .unwrap();
    let body = Body::Json(json!({"operationName":"Complete"}));
    for v in [AuthVariant::ForeignCsrf, AuthVariant::ForeignBasic] {
        assert!(v.needs_peer());
        a1.post_chat_with(&rec, "C1", &body, v, None, Some(&a2))
            .await;
    }
    let reqs = server.received_requests().await.unwrap();
    let chats: Vec<_> = reqs
        .iter()
        .filter(|r| r.url.path() == "/api/v2/me/chats/C1")
        .collect();
    assert_eq!(chats.len(), 2);
    use base64::Engine;
    let b2 = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("agent2:pw-2")
    );
    let b1 = format!("Basic {}", basic_b64());
    let get = |r: &wiremock::Request, h: &str| {
        r.headers
            .get(h)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    // The other agent's token on this agent's session.
    assert_eq!(get(chats[0], "authorization"), b1);
    assert_eq!(get(chats[0], "cookie"), format!("JSESSIONID={SESSION}"));
    assert_eq!(get(chats[0], CSRF_NAME), "tok-2");
    // The other agent's Basic on this agent's cookie and token.
    assert_eq!(get(chats[1], "authorization"), b2);
    assert_eq!(get(chats[1], "cookie"), format!("JSESSIONID={SESSION}"));
    assert_eq!(get(chats[1], CSRF_NAME), TOKEN);
    let text = serde_json::to_string(&rec.snapshot()).unwrap();
    assert_no_secret(&text);
    assert!(!text.contains("tok-2"), "{text}");
}

#[tokio::test]
async fn raw_bodies_go_as_is_and_answers_are_classified() {
    let server = MockServer::start().await;
    mount_login(&server, false).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/C2"))
        .respond_with(ResponseTemplate::new(400).set_body_string("<html>bad request</html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/me/chats"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0,"chats":[]})))
        .mount(&server)
        .await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap();
    let out = agent
        .post_chat(
            &rec,
            "C2",
            &Body::Raw("{not json".into()),
            AuthVariant::Normal,
            None,
        )
        .await;
    assert_eq!(
        out,
        Outcome::Answered {
            status: 400,
            body: Body::Raw("<html>bad request</html>".into())
        }
    );
    let reqs = server.received_requests().await.unwrap();
    let sent = reqs
        .iter()
        .find(|r| r.url.path() == "/api/v2/me/chats/C2")
        .unwrap();
    assert_eq!(sent.body, b"{not json");
    assert_eq!(
        sent.headers.get("content-type").unwrap(),
        "application/json"
    );

    let got = agent.get(&rec, "/api/v2/me/chats").await;
    assert_eq!(got.json().unwrap()["chats"], json!([]));
    // A chat id with path characters is encoded, not interpreted.
    let out = agent
        .post_chat(&rec, "../x y", &Body::Empty, AuthVariant::Normal, None)
        .await;
    assert_eq!(out.status(), Some(404));
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path() == "/api/v2/me/chats/..%2Fx%20y")
    );
}

#[test]
fn debug_output_and_config_errors_hold_no_secret() {
    let c = creds();
    let d = format!("{c:?}");
    assert!(d.contains(USER) && !d.contains(PASSWORD), "{d}");
    for (bad, needle) in [
        ("ftp://h:1", "scheme"),
        ("not a url", "not a valid URL"),
        ("http://127.0.0.1:1/?q=1", "query"),
    ] {
        let e = TargetConfig::new(bad).unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
    let e = TargetConfig::new(&format!("http://{USER}:{PASSWORD}@127.0.0.1:1"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("credentials") && !e.contains(PASSWORD), "{e}");
    assert_eq!(
        TargetConfig::new("http://127.0.0.1:8080/")
            .unwrap()
            .base_url,
        "http://127.0.0.1:8080"
    );
}

// ---------------------------------------------------------------- hostile servers

/// Reads one HTTP request head (and discards its body); returns the request line.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let mut have = buf.len() - end - 4;
            while have < len {
                let n = sock.read(&mut tmp).await.ok()?;
                if n == 0 {
                    break;
                }
                have += n;
            }
            return head.lines().next().map(str::to_string);
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    }
}

async fn ok_json(sock: &mut TcpStream, body: &str) {
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
}

/// A server that logs agents in properly and then misbehaves on
/// `/api/v2/me/chats/<behaviour>`.
async fn hostile_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Some(line) = read_request(&mut sock).await else {
                    return;
                };
                let target = line.split(' ').nth(1).unwrap_or("").to_string();
                let behaviour = target.strip_prefix("/api/v2/me/chats/").unwrap_or("");
                match behaviour {
                    "" => ok_json(&mut sock, r#"{"statusCode":0}"#).await,
                    "slow" => tokio::time::sleep(Duration::from_secs(30)).await,
                    "garbage" => {
                        let _ = sock
                            .write_all(b"\x00\x01\x02 SPDY?? \xff\xfe\r\n\r\nnonsense")
                            .await;
                    }
                    "reset" => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"statusCo")
                            .await;
                        // Linger 0: the close is an RST, i.e. a reset mid-answer (it does
                        // not block with a zero timeout).
                        #[allow(deprecated)]
                        let _ = sock.set_linger(Some(Duration::ZERO));
                        drop(sock);
                    }
                    "huge" => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";
                        let _ = sock.write_all(head.as_bytes()).await;
                        let chunk = vec![b' '; 64 * 1024];
                        for _ in 0..160 {
                            if sock.write_all(&chunk).await.is_err() {
                                return;
                            }
                        }
                    }
                    "huge-chunked" => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                        let _ = sock.write_all(head.as_bytes()).await;
                        let data = vec![b' '; 16 * 1024];
                        for _ in 0..640 {
                            let mut c = format!("{:x}\r\n", data.len()).into_bytes();
                            c.extend_from_slice(&data);
                            c.extend_from_slice(b"\r\n");
                            if sock.write_all(&c).await.is_err() {
                                return;
                            }
                        }
                    }
                    "drip" => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
                        let _ = sock.write_all(head.as_bytes()).await;
                        for _ in 0..1000 {
                            if sock.write_all(b" ").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    _ => ok_json(&mut sock, r#"{"statusCode":6,"statusMessage":"?"}"#).await,
                }
            });
        }
    });
    (base, task)
}

#[tokio::test]
async fn hostile_answers_are_no_answers_of_the_right_kind() {
    let (base, server) = hostile_server().await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&base), creds(), &rec)
        .await
        .unwrap();
    let body = Body::Json(json!({"operationName":"Complete"}));
    for (chat, kind) in [
        ("slow", NoResponseKind::Timeout),
        ("drip", NoResponseKind::Timeout),
        ("garbage", NoResponseKind::Io),
        ("reset", NoResponseKind::Io),
        ("huge", NoResponseKind::TooLarge),
        ("huge-chunked", NoResponseKind::TooLarge),
    ] {
        let out = agent
            .post_chat(&rec, chat, &body, AuthVariant::Normal, None)
            .await;
        match &out {
            Outcome::NoAnswer { kind: k, message } => {
                assert_eq!(*k, kind, "{chat}: {message}");
                assert!(
                    message.contains(&format!("/api/v2/me/chats/{chat}")),
                    "{message}"
                );
            }
            other => panic!("{chat}: expected no answer, got {other:?}"),
        }
    }
    // Every one of them is recorded as a NoResponse with the same kind.
    let h = rec.snapshot();
    let kinds: Vec<_> = h
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NoResponse { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds.len(), 6);
    assert_no_secret(&serde_json::to_string(&h).unwrap());

    // The server goes away: connection refused is NoAnswer Connect.
    server.abort();
    let _ = server.await;
    let out = agent
        .post_chat(&rec, "anything", &body, AuthVariant::Normal, None)
        .await;
    assert!(
        matches!(
            out,
            Outcome::NoAnswer {
                kind: NoResponseKind::Connect,
                ..
            }
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn an_unreachable_target_fails_login_with_a_harness_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let rec = Recorder::new();
    let err = AgentClient::login(&cfg(&format!("http://{addr}")), creds(), &rec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GET /api/v2/me") && err.contains("no answer"),
        "{err}"
    );
    assert!(err.contains(&addr.to_string()), "{err}");
    assert!(rec.snapshot().iter().any(|e| matches!(
        e.kind,
        EventKind::NoResponse {
            kind: NoResponseKind::Connect,
            ..
        }
    )));
}

#[tokio::test]
async fn only_well_behaved_answers_may_change_the_session_cookie() {
    let server = MockServer::start().await;
    mount_login(&server, true).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/TAMPER"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Set-Cookie", "JSESSIONID=anonymous; Path=/")
                .insert_header("X-CSRF-HEADER", CSRF_NAME)
                .insert_header("X-CSRF-TOKEN", "anon-token"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/ROTATE"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode":0}))
                .insert_header("Set-Cookie", "JSESSIONID=rotated; Path=/"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/me/chats/C1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode":0})))
        .mount(&server)
        .await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap();
    let body = Body::Json(json!({"operationName":"Complete"}));
    for v in [
        AuthVariant::CookieOnly,
        AuthVariant::NoCredentials,
        AuthVariant::NoCsrf,
    ] {
        agent.post_chat(&rec, "TAMPER", &body, v, None).await;
    }
    agent
        .post_chat(&rec, "C1", &body, AuthVariant::Normal, None)
        .await;
    agent
        .post_chat(&rec, "ROTATE", &body, AuthVariant::Normal, None)
        .await;
    agent
        .post_chat(&rec, "C1", &body, AuthVariant::Normal, None)
        .await;
    let reqs = server.received_requests().await.unwrap();
    let c1: Vec<_> = reqs
        .iter()
        .filter(|r| r.url.path() == "/api/v2/me/chats/C1")
        .map(|r| {
            (
                r.headers
                    .get("cookie")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string(),
                r.headers
                    .get(CSRF_NAME)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        c1,
        vec![
            (format!("JSESSIONID={SESSION}"), TOKEN.to_string()),
            ("JSESSIONID=rotated".to_string(), TOKEN.to_string()),
        ]
    );
}

/// A target's answer body is read whatever JSON's grammar allows (a lone-surrogate
/// escape, a number beyond a double, `\/`), under a content type with a charset; how it
/// was read is noted on the recorded response.
#[tokio::test]
async fn every_legal_json_answer_is_read_and_what_was_tolerated_noted() {
    let server = MockServer::start().await;
    mount_login(&server, false).await;
    let body = r#"{"statusCode":0,"chats":[{"id":"C\/1","text":"bye \ud800 there","n":1e400}]}"#;
    Mock::given(method("GET"))
        .and(path("/api/v2/me/chats"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(body.as_bytes().to_vec(), "application/json;charset=UTF-8"),
        )
        .mount(&server)
        .await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&server.uri()), creds(), &rec)
        .await
        .unwrap();
    let got = agent.get(&rec, "/api/v2/me/chats").await;
    let v = got.json().expect("a JSON body");
    assert_eq!(v["chats"][0]["id"], "C/1");
    assert_eq!(v["chats"][0]["text"], "bye \u{fffd} there");
    assert_eq!(v["chats"][0]["n"], json!(f64::MAX));
    let h = rec.snapshot();
    let notes = h
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Response {
                body: Body::Json(b),
                ..
            } if b.get("chats").is_some() => Some(e.notes.clone()),
            _ => None,
        })
        .expect("the response recorded as JSON");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains(r"\ud800"), "{notes:?}");
    assert!(notes[1].contains("1e400"), "{notes:?}");
}
