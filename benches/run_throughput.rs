//! How fast a run drives a target, as ratios measured in one process against a raw
//! request loop on the same embedded server.
//!
//! `cargo bench --bench run_throughput` (release). Prints: the wall time of a default
//! run (directed cases + 20 random sequences, 1 s quiet window), its cases/s and
//! requests/s, the same with a 100 ms quiet window (how much of a run is waiting for
//! quiet), and a raw loop of Complete requests at the same concurrency (4) — the
//! ceiling the harness is measured against.

use gws_conform::history::EventKind;
use gws_conform::runner::{self, Progress, RunSettings};
use gws_conform::server::{self, ServerConfig};
use std::time::{Duration, Instant};

fn count_requests(r: &gws_conform::report::RunReport) -> usize {
    r.cases
        .iter()
        .filter_map(|c| c.history.as_ref())
        .map(|h| {
            h.iter()
                .filter(|e| matches!(e.kind, EventKind::Request { .. }))
                .count()
        })
        .sum()
}

async fn harness(quiet: Duration) -> (Duration, usize, usize) {
    let s = RunSettings {
        seed: 1,
        quiet_window: quiet,
        progress: Progress::None,
        keep_histories: true,
        ..RunSettings::default()
    };
    let t = Instant::now();
    let r = runner::execute(s).await.report;
    let wall = t.elapsed();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let cases = r.cases.iter().filter(|c| !c.steps.is_empty()).count();
    (wall, cases, count_requests(&r))
}

async fn raw_loop(n: usize, workers: usize) -> Duration {
    let srv = server::start(ServerConfig::default(), "127.0.0.1:0")
        .await
        .unwrap();
    let (user, pass) = ServerConfig::default().agents[0].clone();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let me = client
        .get(format!("{}/api/v2/me", srv.base_url))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    let token = me
        .headers()
        .get("X-CSRF-TOKEN")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let url = format!("{}/api/v2/me/chats/0000UNKNOWN00000", srv.base_url);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, url, user, pass, token) = (
            client.clone(),
            url.clone(),
            user.clone(),
            pass.clone(),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / workers {
                let r = client
                    .post(&url)
                    .basic_auth(&user, Some(&pass))
                    .header("X-CSRF-TOKEN", &token)
                    .json(&serde_json::json!({"operationName": "Complete"}))
                    .send()
                    .await
                    .unwrap();
                let _ = r.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let d = t.elapsed();
    srv.shutdown().await;
    d
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let n = 4000;
        let raw = raw_loop(n, 4).await;
        let raw_rps = n as f64 / raw.as_secs_f64();
        let (wall, cases, reqs) = harness(Duration::from_secs(1)).await;
        let (wall_q, cases_q, reqs_q) = harness(Duration::from_millis(100)).await;
        let rps = reqs as f64 / wall.as_secs_f64();
        let rps_q = reqs_q as f64 / wall_q.as_secs_f64();
        println!("raw loop:                 {n} requests in {:.2} s = {raw_rps:.0} req/s (4 workers)", raw.as_secs_f64());
        println!(
            "default run (quiet 1 s):  {:.2} s wall, {cases} cases = {:.2} cases/s, {reqs} requests = {rps:.0} req/s",
            wall.as_secs_f64(),
            cases as f64 / wall.as_secs_f64()
        );
        println!(
            "run with quiet 100 ms:    {:.2} s wall, {cases_q} cases = {:.2} cases/s, {reqs_q} requests = {rps_q:.0} req/s",
            wall_q.as_secs_f64(),
            cases_q as f64 / wall_q.as_secs_f64()
        );
        println!(
            "ratios: default run req/s ÷ raw = {:.3}; quiet-100ms run ÷ raw = {:.3}; default wall ÷ quiet-100ms wall = {:.2}",
            rps / raw_rps,
            rps_q / raw_rps,
            wall.as_secs_f64() / wall_q.as_secs_f64()
        );
    });
}
