//! Test-side helpers for the reference server tests: an agent HTTP client (Basic auth,
//! cookie jar, CSRF), a small Bayeux long-poll loop and a customer client. Written for the
//! tests only; they do not use the harness's target or check code.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine;
use gws_conform::server::{RunningServer, ServerConfig, start};
use serde_json::{Value, json};

/// Small Bayeux timeouts so that an empty long-poll ends quickly.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        bayeux_timeout_ms: 300,
        bayeux_max_interval_ms: 2_000,
        ..ServerConfig::default()
    }
}

pub async fn server(cfg: ServerConfig) -> RunningServer {
    start(cfg, "127.0.0.1:0").await.expect("server starts")
}

pub async fn server_with_fault(fault: &str) -> RunningServer {
    let cfg = ServerConfig {
        fault: Some(fault.to_string()),
        ..test_config()
    };
    server(cfg).await
}

pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// An HTTP answer: status, headers, parsed JSON body (Null if not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// An agent: its own cookie jar, Basic credentials and the CSRF token it was given.
pub struct Agent {
    pub base: String,
    pub user: String,
    pub pass: String,
    pub http: reqwest::Client,
    pub csrf: Option<String>,
}

impl Agent {
    pub fn new(base: &str, user: &str, pass: &str) -> Agent {
        Agent {
            base: base.to_string(),
            user: user.to_string(),
            pass: pass.to_string(),
            http: client(),
            csrf: None,
        }
    }

    pub fn auth(&self) -> String {
        basic(&self.user, &self.pass)
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let a = answer(
            self.http
                .get(format!("{}{path}", self.base))
                .header("Authorization", self.auth())
                .send()
                .await
                .expect("GET"),
        )
        .await;
        if let Some(t) = a.headers.get("X-CSRF-TOKEN") {
            self.csrf = Some(t.to_str().unwrap().to_string());
        }
        a
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .json(&body);
        if let Some(t) = &self.csrf {
            rb = rb.header("X-CSRF-TOKEN", t);
        }
        answer(rb.send().await.expect("POST")).await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Answer {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(t) = &self.csrf {
            rb = rb.header("X-CSRF-TOKEN", t);
        }
        answer(rb.send().await.expect("POST")).await
    }

    /// GET /me (session + CSRF token), StartContactCenterSession.
    pub async fn login(&mut self) {
        let a = self.get("/api/v2/me").await;
        assert_eq!(a.status, 200, "{}", a.text);
        let a = self
            .post(
                "/api/v2/me",
                json!({"operationName":"StartContactCenterSession","channels":["chat"]}),
            )
            .await;
        assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    }

    pub async fn ready(&self) {
        let a = self
            .post("/api/v2/me/channels/chat", json!({"operationName":"Ready"}))
            .await;
        assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    }

    pub async fn op(&self, chat: &str, body: Value) -> Answer {
        self.post(&format!("/api/v2/me/chats/{chat}"), body).await
    }

    /// A Bayeux session bound to this agent's cookie jar, subscribed to /v2/me/chats.
    pub async fn bayeux(&self) -> Bayeux {
        let mut b = Bayeux {
            base: self.base.clone(),
            auth: self.auth(),
            http: self.http.clone(),
            client_id: String::new(),
            seen: Vec::new(),
        };
        let h = b
            .send(json!([{"channel":"/meta/handshake","version":"1.0",
                "supportedConnectionTypes":["long-polling"]}]))
            .await;
        assert_eq!(h.body[0]["successful"], true, "{}", h.text);
        b.client_id = h.body[0]["clientId"].as_str().unwrap().to_string();
        let s = b
            .send(json!([{"channel":"/meta/subscribe","clientId":b.client_id,
                "subscription":"/v2/me/chats"}]))
            .await;
        assert_eq!(s.body[0]["successful"], true, "{}", s.text);
        b
    }
}

/// A test-side Bayeux long-polling session.
pub struct Bayeux {
    pub base: String,
    pub auth: String,
    pub http: reqwest::Client,
    pub client_id: String,
    /// Every `data` received on /v2/me/chats, in order.
    pub seen: Vec<Value>,
}

impl Bayeux {
    pub async fn send(&self, body: Value) -> Answer {
        answer(
            self.http
                .post(format!("{}/api/v2/notifications", self.base))
                .header("Authorization", &self.auth)
                .json(&body)
                .send()
                .await
                .expect("bayeux POST"),
        )
        .await
    }

    /// One /meta/connect; returns the data messages it delivered (also kept in `seen`).
    pub async fn poll(&mut self) -> Vec<Value> {
        let a = self
            .send(json!([{"channel":"/meta/connect","clientId":self.client_id,
                "connectionType":"long-polling"}]))
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        let arr = a.body.as_array().expect("array").clone();
        assert_eq!(arr[0]["channel"], "/meta/connect", "{}", a.text);
        assert_eq!(arr[0]["successful"], true, "{}", a.text);
        let data: Vec<Value> = arr[1..]
            .iter()
            .map(|m| {
                assert_eq!(m["channel"], "/v2/me/chats");
                m["data"].clone()
            })
            .collect();
        self.seen.extend(data.iter().cloned());
        data
    }

    /// Polls until `pred` holds for some received message (at most `max_polls` polls);
    /// returns that message.
    pub async fn wait_for(
        &mut self,
        max_polls: usize,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return Some(v.clone());
        }
        for _ in 0..max_polls {
            for v in self.poll().await {
                if pred(&v) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Polls until one long-poll comes back empty (a quiet window of one Bayeux timeout).
    pub async fn drain(&mut self) {
        for _ in 0..50 {
            if self.poll().await.is_empty() {
                return;
            }
        }
        panic!("notifications never stop");
    }

    /// The received notifications that concern agent-side chat `id`.
    pub fn for_chat(&self, id: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|v| concerns(v, id))
            .cloned()
            .collect()
    }

    /// Waits for an Invited StatusChange not yet consumed and returns its chat id.
    pub async fn next_invite(&mut self, taken: &mut Vec<String>) -> Option<String> {
        let t = taken.clone();
        let v = self
            .wait_for(20, |v| {
                is_status(v, "Invited") && !t.iter().any(|x| v["chat"]["id"] == x.as_str())
            })
            .await?;
        let id = v["chat"]["id"].as_str()?.to_string();
        taken.push(id.clone());
        Some(id)
    }
}

pub fn is_status(v: &Value, state: &str) -> bool {
    v["messageType"] == "ChatStateChangeMessage"
        && v["notificationType"] == "StatusChange"
        && v["chat"]["state"] == state
}

pub fn concerns(v: &Value, id: &str) -> bool {
    v["chat"]["id"] == id
        || v["chatUri"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/{id}")))
        || v["chat"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/{id}")))
}

pub fn is_text(v: &Value, text: &str) -> bool {
    v["notificationType"] == "NewMessages"
        && v["messages"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["type"] == "Text" && m["text"] == text))
}

/// A customer of the customer chat API.
pub struct Customer {
    pub base: String,
    pub http: reqwest::Client,
    pub cc: String,
}

impl Customer {
    pub fn new(base: &str) -> Customer {
        Customer {
            base: base.to_string(),
            http: client(),
            cc: "gws-conform".into(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        answer(
            self.http
                .post(format!("{}{path}", self.base))
                .header("ContactCenterId", &self.cc)
                .json(&body)
                .send()
                .await
                .expect("customer POST"),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.http
                .get(format!("{}{path}", self.base))
                .header("ContactCenterId", &self.cc)
                .send()
                .await
                .expect("customer GET"),
        )
        .await
    }

    pub async fn request_chat(&self, nickname: &str, tag: &str) -> String {
        let a = self
            .post(
                "/api/v2/chats",
                json!({"operationName":"RequestChat","nickname":nickname,"subject":"help",
                    "userData":{"tag":tag}}),
            )
            .await;
        assert_eq!(a.body["statusCode"], 0, "{}", a.text);
        a.body["id"].as_str().unwrap().to_string()
    }

    pub async fn state(&self, id: &str) -> String {
        let a = self.get(&format!("/api/v2/chats/{id}")).await;
        a.body["chat"]["state"].as_str().unwrap_or("?").to_string()
    }

    pub async fn transcript(&self, id: &str) -> Vec<Value> {
        let a = self.get(&format!("/api/v2/chats/{id}/messages")).await;
        a.body["messages"].as_array().cloned().unwrap_or_default()
    }
}

/// Provider-state call.
pub async fn provider(base: &str, body: Value) -> Answer {
    answer(
        client()
            .post(format!("{base}/conformance/provider-state"))
            .json(&body)
            .send()
            .await
            .expect("provider POST"),
    )
    .await
}

/// Offers a chat to `agent` through provider-state; returns the agent-side id.
pub async fn offer(base: &str, agent: &str) -> String {
    let a = provider(
        base,
        json!({"action":"setup","state":"chat offered","params":{"agent":agent,"nickname":"Cust"}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body["chatId"].as_str().unwrap().to_string()
}

pub async fn inspect(base: &str, chat: &str) -> Value {
    let a = provider(base, json!({"action":"inspect","params":{"chatId":chat}})).await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body
}

/// A logged-in agent with a subscribed Bayeux session, and a Chatting chat offered
/// through provider-state.
pub async fn chatting(base: &str, user: &str) -> (Agent, Bayeux, String) {
    let mut ag = Agent::new(base, user, &format!("{user}-pass"));
    ag.login().await;
    let mut bx = ag.bayeux().await;
    let id = offer(base, user).await;
    bx.wait_for(20, |v| is_status(v, "Invited") && concerns(v, &id))
        .await
        .expect("Invited");
    let a = ag
        .op(&id, json!({"operationName":"Accept","nickname":"Ann"}))
        .await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    bx.wait_for(20, |v| is_status(v, "Chatting") && concerns(v, &id))
        .await
        .expect("Chatting");
    (ag, bx, id)
}
