//! Unit tests of the server state and its rules (no HTTP).

use std::collections::HashSet;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{Value, json};

use super::state::*;

#[test]
fn timestamp_format() {
    let t = UNIX_EPOCH + Duration::from_millis(1_389_261_492_035);
    assert_eq!(timestamp(t), "2014-01-09 09:58:12.035+0000");
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29 00:00:00.000+0000"
    );
}

fn core(csrf: bool) -> Core {
    Core::new(CoreCfg {
        agents: vec![("a1".into(), "p1".into())],
        csrf,
        fault: None,
        contact_center_id: "cc".into(),
        bayeux_timeout_ms: 100,
        bayeux_max_interval_ms: 1_000,
        base_url: "http://h".into(),
        capacity: None,
        latency: Duration::ZERO,
        typing: None,
        transcript_form: super::TranscriptForm::Plain,
        head_read_timeout: Duration::from_secs(15),
        max_connections: 1024,
        max_user_data_bytes: 16 * 1024,
        max_customer_chats: 50_000,
        max_customer_bytes: 256 * 1024 * 1024,
        max_connect_bytes: 512 * 1024,
        variations: super::Variations::NONE,
    })
}

fn post(c: &mut Core, rest: Vec<&str>, body: Value) -> Reply {
    use base64::Engine;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("a1:p1")
    );
    c.agent_api(AgentReq {
        method: "POST",
        rest,
        authorization: Some(&auth),
        session: None,
        csrf: None,
        body: BodyIn::Json(body),
        concurrent_completes: false,
        stale_state: None,
    })
}

#[test]
fn completed_chats_and_abandoned_clients_are_dropped_by_the_sweep() {
    let mut c = core(false);
    let (id, _) = offered(&mut c);
    let _ = c.bayeux_message(0, &json!({"channel":"/meta/handshake"}));
    assert_eq!(
        post(
            &mut c,
            vec!["chats", &id],
            json!({"operationName":"Accept"})
        )
        .body["statusCode"],
        0
    );
    assert_eq!(
        post(
            &mut c,
            vec!["chats", &id],
            json!({"operationName":"Complete"})
        )
        .body["statusCode"],
        0
    );
    let now = Instant::now();
    c.sweep(now);
    assert_eq!(c.sizes().0, 1, "kept for a while after completion");
    assert_eq!(c.sizes().2, 1);
    c.sweep(now + Duration::from_millis(1_500));
    assert_eq!(c.sizes().2, 0, "abandoned client expired");
    c.sweep(now + RETENTION + Duration::from_secs(1));
    assert_eq!((c.sizes().0, c.sizes().1), (0, 0), "completed chat dropped");
    assert_eq!(
        post(
            &mut c,
            vec!["chats", &id],
            json!({"operationName":"Complete"})
        )
        .body["statusCode"],
        6
    );
}

/// Offers a chat to `a1` through provider-state: (agent chat id, interaction id).
fn offered(c: &mut Core) -> (String, String) {
    let r = c.provider_state(BodyIn::Json(
        json!({"action":"setup","state":"chat offered","params":{"agent":"a1","nickname":"n"}}),
    ));
    let id = r.body["chatId"].as_str().unwrap().to_string();
    let inter = c.chats[&id].inter.clone();
    (id, inter)
}

/// The customer sends `text` through the customer API; returns the statusCode.
fn customer_says(c: &mut Core, inter: &str, text: &str) -> Value {
    c.customer_api(
        "POST",
        &[inter],
        None,
        Some("cc"),
        BodyIn::Json(json!({"operationName":"SendMessage","text":text})),
    )
    .body["statusCode"]
        .clone()
}

#[test]
fn a_message_flood_does_not_grow_a_transcript_without_bound() {
    let mut c = core(false);
    let (id, inter) = offered(&mut c);
    let mut refused = 0;
    for _ in 0..MAX_TRANSCRIPT + 10 {
        match customer_says(&mut c, &inter, "spam").as_i64() {
            Some(0) => {}
            Some(13) => refused += 1,
            other => panic!("unexpected statusCode {other:?}"),
        }
    }
    assert!(refused >= 10, "only {refused} refusals");
    assert_eq!(c.inters[&inter].transcript.len(), MAX_TRANSCRIPT);
    // The agent side is refused too, and the chat can still be completed.
    let op = |c: &mut Core, body: Value| post(c, vec!["chats", &id], body).body;
    assert_eq!(
        op(&mut c, json!({"operationName":"Accept"}))["statusCode"],
        0
    );
    let r = op(&mut c, json!({"operationName":"SendMessage","text":"x"}));
    assert_eq!(r["statusCode"], 13, "{r}");
    let r = op(&mut c, json!({"operationName":"Complete"}));
    assert_eq!(r["statusCode"], 0, "{r}");
    // Large messages hit the byte bound long before the count bound.
    let (_, inter) = offered(&mut c);
    let big = "x".repeat(60 * 1024);
    let mut sent = 0;
    while customer_says(&mut c, &inter, &big) == 0 {
        sent += 1;
        assert!(
            sent <= MAX_TRANSCRIPT_BYTES / big.len() + 1,
            "no byte bound"
        );
    }
    assert_eq!(customer_says(&mut c, &inter, &big), 13);
    assert!(c.inters[&inter].text_bytes < MAX_TRANSCRIPT_BYTES + big.len());
}

#[test]
fn debug_hides_passwords() {
    let mut c = core(true);
    let text = format!("{:?}", c.cfg);
    assert!(text.contains("a1") && !text.contains("p1"), "{text}");
    // A session (with its CSRF token) exists once the agent has made a request.
    post(
        &mut c,
        vec![],
        json!({"operationName": "StartContactCenterSession"}),
    );
    assert_eq!(c.sessions.len(), 1);
    for a in &c.agents {
        let text = format!("{a:?}");
        assert!(text.contains("a1") && !text.contains("p1"), "{text}");
    }
    for s in c.sessions.values() {
        let text = format!("{s:?}");
        assert!(!s.csrf.0.is_empty() && !text.contains(&s.csrf.0), "{text}");
    }
}

#[test]
fn ids_are_unique_and_16_chars() {
    let mut c = Core::new(CoreCfg {
        agents: vec![],
        csrf: true,
        fault: None,
        contact_center_id: "x".into(),
        bayeux_timeout_ms: 1,
        bayeux_max_interval_ms: 1,
        base_url: "http://h".into(),
        capacity: None,
        latency: Duration::ZERO,
        typing: None,
        transcript_form: super::TranscriptForm::Plain,
        head_read_timeout: Duration::from_secs(15),
        max_connections: 1024,
        max_user_data_bytes: 16 * 1024,
        max_customer_chats: 50_000,
        max_customer_bytes: 256 * 1024 * 1024,
        max_connect_bytes: 512 * 1024,
        variations: super::Variations::NONE,
    });
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let id = c.new_id(1);
        assert_eq!(id.len(), 16);
        assert!(id.starts_with("0000"));
        assert!(seen.insert(id));
    }
}
