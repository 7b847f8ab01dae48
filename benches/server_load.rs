//! Load benchmark of the reference server (`harness = false`): 50 agents, 1,000
//! concurrent chats requested through the customer API, offered round-robin, accepted,
//! then completed with text. Counts the notifications received against the expected
//! number (must be equal), reports RSS before/after each of 2 rounds (memory must stay
//! flat) and throughput. Run: `cargo bench --bench server_load --profile dev`
//! (or plain `cargo bench --bench server_load` for an optimised build).

#[path = "../tests/it/common_server/mod.rs"]
mod common_server;

use std::sync::Arc;
use std::time::Instant;

use common_server::*;
use gws_conform::server::ServerConfig;
use serde_json::json;

const AGENTS: usize = 50;
const CHATS: usize = 1_000;
/// Invited + (StatusChange Chatting, ParticipantsUpdated, NewMessages history) +
/// (NewMessages text, StatusChange Completed).
const PER_CHAT: usize = 6;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn agent_round(
    ag: Arc<Agent>,
    mut bx: Bayeux,
    share: usize,
    go: Arc<tokio::sync::Barrier>,
) -> (usize, Bayeux) {
    let start = bx.seen.len();
    let mut invites: Vec<String> = Vec::new();
    while invites.len() < share {
        invites.next_invite_batch(&mut bx).await;
    }
    for id in &invites {
        let a = ag
            .op(id, json!({"operationName":"Accept","nickname":"Ann"}))
            .await;
        assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    }
    for id in &invites {
        bx.wait_for(200, |v| is_status(v, "Chatting") && concerns(v, id))
            .await
            .expect("Chatting");
    }
    // All 1,000 chats are Chatting at once before anyone completes.
    go.wait().await;
    for id in &invites {
        let a = ag
            .op(id, json!({"operationName":"Complete","text":"bye"}))
            .await;
        assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    }
    for id in &invites {
        bx.wait_for(200, |v| is_status(v, "Completed") && concerns(v, id))
            .await
            .expect("Completed");
    }
    bx.drain().await;
    (bx.seen.len() - start, bx)
}

trait InviteBatch {
    async fn next_invite_batch(&mut self, bx: &mut Bayeux);
}

impl InviteBatch for Vec<String> {
    async fn next_invite_batch(&mut self, bx: &mut Bayeux) {
        let from = bx.seen.len();
        bx.poll().await;
        for v in &bx.seen[from..] {
            if is_status(v, "Invited") {
                self.push(v["chat"]["id"].as_str().unwrap().to_string());
            }
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let cfg = ServerConfig {
            agents: (1..=AGENTS).map(|i| (format!("agent{i}"), format!("agent{i}-pass"))).collect(),
            bayeux_timeout_ms: 500,
            bayeux_max_interval_ms: 30_000,
            ..ServerConfig::default()
        };
        let srv = server(cfg).await;
        let base = srv.base_url.clone();
        let mut agents = Vec::new();
        let mut bxs = Vec::new();
        for i in 1..=AGENTS {
            let mut ag = Agent::new(&base, &format!("agent{i}"), &format!("agent{i}-pass"));
            ag.login().await;
            bxs.push(Some(ag.bayeux().await));
            ag.ready().await;
            agents.push(Arc::new(ag));
        }
        let rss0 = rss_kib();
        println!("server_load: {AGENTS} agents, {CHATS} chats per round; RSS at start {rss0} KiB");
        for round in 1..=2 {
            let rss_before = rss_kib();
            let t0 = Instant::now();
            let go = Arc::new(tokio::sync::Barrier::new(AGENTS));
            let mut tasks = Vec::new();
            for (i, ag) in agents.iter().enumerate() {
                let bx = bxs[i].take().unwrap();
                tasks.push(tokio::spawn(agent_round(ag.clone(), bx, CHATS / AGENTS, go.clone())));
            }
            let sem = Arc::new(tokio::sync::Semaphore::new(64));
            let mut reqs = Vec::new();
            for n in 0..CHATS {
                let (b, sem) = (base.clone(), sem.clone());
                reqs.push(tokio::spawn(async move {
                    let _p = sem.acquire().await.unwrap();
                    Customer::new(&b).request_chat("Cust", &format!("r{round}-{n}")).await
                }));
            }
            for r in reqs {
                r.await.unwrap();
            }
            let mut got = 0;
            for (i, t) in tasks.into_iter().enumerate() {
                let (n, bx) = t.await.unwrap();
                got += n;
                bxs[i] = Some(bx);
            }
            let secs = t0.elapsed().as_secs_f64();
            for b in bxs.iter_mut().flatten() {
                b.seen.clear();
            }
            srv.sweep_now();
            let rss_after = rss_kib();
            let expected = CHATS * PER_CHAT;
            println!(
                "round {round}: notifications received {got} / expected {expected}; {:.0} chats/s, {:.0} notifications/s ({secs:.2} s); RSS before {rss_before} KiB, after {rss_after} KiB; held (chats, interactions, clients, sessions) = {:?}",
                CHATS as f64 / secs,
                got as f64 / secs,
                srv.sizes()
            );
            assert_eq!(got, expected, "lost or extra notifications");
        }
        srv.shutdown().await;
    });
}
