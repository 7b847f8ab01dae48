//! The observing proxy's added latency: the median time of N agent requests
//! (`GET /api/v2/me` with Basic auth) sent directly to the embedded server, and through
//! `gws-conform observe`'s proxy in front of it. Run:
//! `cargo bench --bench observe_latency` (N from `OBSERVE_BENCH_N`, default 200).

use gws_conform::observe::{ProxyConfig, start_proxy};
use gws_conform::server::{ServerConfig, start};
use std::time::{Duration, Instant};

async fn median_us(client: &reqwest::Client, url: &str, n: usize) -> f64 {
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let s = Instant::now();
        let r = client
            .get(url)
            .basic_auth("agent1", Some("agent1-pass"))
            .send()
            .await
            .expect("request");
        let _ = r.bytes().await.expect("body");
        t.push(s.elapsed());
    }
    t.sort();
    t[n / 2].as_secs_f64() * 1e6
}

fn main() {
    let n: usize = std::env::var("OBSERVE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let srv = start(ServerConfig::default(), "127.0.0.1:0")
            .await
            .expect("server");
        let proxy = start_proxy(ProxyConfig::new(&srv.base_url), "127.0.0.1:0")
            .await
            .expect("proxy");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let direct_url = format!("{}/api/v2/me", srv.base_url);
        let proxied_url = format!("{}/api/v2/me", proxy.base_url);
        // Warm-up: connections, allocator.
        median_us(&client, &direct_url, 20).await;
        median_us(&client, &proxied_url, 20).await;
        let direct = median_us(&client, &direct_url, n).await;
        let proxied = median_us(&client, &proxied_url, n).await;
        println!(
            "observe_latency: n={n} direct median {direct:.0} µs, through the proxy {proxied:.0} µs, added {:.0} µs per request",
            proxied - direct
        );
        let _ = proxy.finish(gws_conform::client::ProvisioningKind::CustomerApi).await;
        srv.shutdown().await;
    });
}
