//! Hardening of the reference server: a request head must arrive in time, open
//! connections are capped, the customer API is bounded in bytes and chats, and one
//! `/meta/connect` answer is bounded in bytes (the rest comes with the next connects).

use crate::common_server;

use std::time::Duration;

use common_server::*;
use gws_conform::server::ServerConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn with(f: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut cfg = test_config();
    f(&mut cfg);
    cfg
}

/// Whether the server has closed `s` (EOF or a reset) within `wait`.
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar answer before the close: keep reading.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_dripped_request_head_is_cut_off() {
    let srv = server(with(|c| c.head_read_timeout = Duration::from_millis(500))).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let head = b"GET /api/v2/me HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut cut = false;
    // One byte every 150 ms: always under the idle limit, never a whole head in time.
    for b in head.iter() {
        if s.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        if closed_within(&mut s, Duration::from_millis(150)).await {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "the connection survived a {}-byte slow drip",
        head.len()
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed() {
    let srv = server(with(|c| c.max_connections = 2)).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        // Make sure the server has accepted it (an answered request).
        s.write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        assert!(buf.starts_with(b"HTTP/1.1"), "{buf:?}");
        held.push(s);
    }
    let mut third = TcpStream::connect(srv.addr).await.unwrap();
    let _ = third
        .write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf))
        .await
        .expect("the third connection is closed, not held");
    assert!(
        n.is_err() || buf.is_empty(),
        "a third connection was served: {:?}",
        String::from_utf8_lossy(&buf)
    );
    // Room again once a held connection goes away.
    drop(held.pop());
    let mut served = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        let _ = s
            .write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut buf = [0u8; 12];
        if s.read_exact(&mut buf).await.is_ok() && buf.starts_with(b"HTTP/1.1") {
            served = true;
            break;
        }
    }
    assert!(served, "no connection served after one was released");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_api_refuses_oversized_user_data_and_too_much_data() {
    let srv = server(with(|c| {
        c.max_user_data_bytes = 2_000;
        c.max_customer_bytes = 5_000;
        c.max_customer_chats = 10;
    }))
    .await;
    let base = srv.base_url.clone();
    let cust = Customer::new(&base);
    let req = |ud: Value| json!({"operationName":"RequestChat","nickname":"C","userData":ud});
    let big = cust
        .post("/api/v2/chats", req(json!({"x": "a".repeat(3_000)})))
        .await;
    assert_eq!(big.body["statusCode"], 10, "{}", big.text);
    assert!(
        big.body["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("userData")),
        "{}",
        big.text
    );
    let ps = provider(
        &base,
        json!({"action":"setup","state":"chat offered",
            "params":{"agent":"agent1","nickname":"C","userData":{"x": "a".repeat(3_000)}}}),
    )
    .await;
    assert_eq!(ps.status, 400, "{}", ps.text);
    assert!(ps.text.contains("params.userData"), "{}", ps.text);
    // 1.5 KB each: three fit in 5,000 bytes, the fourth does not.
    let mid = json!({"x": "b".repeat(1_500)});
    for i in 0..3 {
        let a = cust.post("/api/v2/chats", req(mid.clone())).await;
        assert_eq!(a.body["statusCode"], 0, "chat {i}: {}", a.text);
    }
    let a = cust.post("/api/v2/chats", req(mid.clone())).await;
    assert_eq!(a.body["statusCode"], 13, "{}", a.text);
    assert!(a.body["statusMessage"].is_string(), "{}", a.text);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_chats_are_capped_in_number() {
    let srv = server(with(|c| c.max_customer_chats = 2)).await;
    let cust = Customer::new(&srv.base_url);
    cust.request_chat("A", "a").await;
    cust.request_chat("B", "b").await;
    let a = cust
        .post(
            "/api/v2/chats",
            json!({"operationName":"RequestChat","nickname":"C"}),
        )
        .await;
    assert_eq!(a.body["statusCode"], 13, "{}", a.text);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_answer_is_bounded_in_bytes_and_nothing_is_dropped() {
    let max = 4_096;
    let srv = server(with(|c| c.max_connect_bytes = max)).await;
    let base = srv.base_url.clone();
    let (_ag, mut bx, id) = chatting(&base, "agent1").await;
    bx.drain().await;
    let n = 20;
    for i in 0..n {
        let text = format!("m{i:02}-{}", "z".repeat(1_000));
        let a = provider(
            &base,
            json!({"action":"setup","state":"customer sends message",
                "params":{"chatId":id,"text":text}}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    let mut got = Vec::new();
    let mut answers = 0;
    while got.len() < n && answers < 50 {
        let a = bx
            .send(json!([{"channel":"/meta/connect","clientId":bx.client_id,
                "connectionType":"long-polling"}]))
            .await;
        answers += 1;
        let arr = a.body.as_array().expect("array").clone();
        assert_eq!(arr[0]["successful"], true, "{}", a.text);
        let bytes: usize = arr[1..]
            .iter()
            .map(|m| serde_json::to_vec(m).unwrap().len())
            .sum();
        assert!(
            arr.len() <= 2 || bytes <= max,
            "one answer carried {bytes} bytes in {} messages",
            arr.len() - 1
        );
        for m in &arr[1..] {
            for msg in m["data"]["messages"].as_array().into_iter().flatten() {
                if let Some(t) = msg["text"].as_str() {
                    got.push(t[..3].to_string());
                }
            }
        }
    }
    let want: Vec<String> = (0..n).map(|i| format!("m{i:02}")).collect();
    assert_eq!(got, want, "every message, in order");
    assert!(answers > 1, "all {n} came in one answer");
    srv.shutdown().await;
}
