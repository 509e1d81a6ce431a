//! Benchmark: requests per second and latency percentiles of GET and PUT of a load balancer
//! with 1,000 load-balancing rules, over HTTP on loopback. Reports numbers; asserts nothing.
//!
//! `cargo run --release -p azure-mock --example bench [-- <puts> <gets> <concurrency>]`

use std::time::{Duration, Instant};

use azure_mock::{Config, MockServer};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-00000000bench";
const RULES: usize = 1000;

fn load_balancer(lb_id: &str, pip_id: &str) -> Value {
    let rules: Vec<Value> = (0..RULES)
        .map(|i| {
            json!({"name": format!("rule-{i}"), "properties": {
                "protocol": "Tcp", "frontendPort": 1000 + i, "backendPort": 1000 + i, "enableFloatingIP": true,
                "frontendIPConfiguration": {"id": format!("{lb_id}/frontendIPConfigurations/fe")},
                "backendAddressPool": {"id": format!("{lb_id}/backendAddressPools/pool")},
                "probe": {"id": format!("{lb_id}/probes/probe")}
            }})
        })
        .collect();
    json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip_id}}}],
        "backendAddressPools": [{"name": "pool"}],
        "probes": [{"name": "probe", "properties": {"protocol": "Tcp", "port": 30000}}],
        "loadBalancingRules": rules,
    }})
}

fn report(what: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{what}: {} requests in {:.2}s = {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (puts, gets, concurrency) = (
        args.first().copied().unwrap_or(200),
        args.get(1).copied().unwrap_or(2000),
        args.get(2).copied().unwrap_or(8),
    );
    let config = Config {
        write_budget: u64::MAX,
        read_budget: u64::MAX,
        ..Config::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse()?, config, None).await?;
    let base = server.url();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/bench/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bench"),
            ("client_secret", "bench"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rg = format!("/subscriptions/{SUB}/resourceGroups/bench");
    let v = "api-version=2024-03-01";
    http.put(format!("{base}{rg}?{v}"))
        .bearer_auth(&token)
        .json(&json!({"location": "westeurope"}))
        .send()
        .await?;
    let pip = format!("{rg}/providers/Microsoft.Network/publicIPAddresses/pip");
    http.put(format!("{base}{pip}?{v}"))
        .bearer_auth(&token)
        .json(&json!({"location": "westeurope", "sku": {"name": "Standard"}}))
        .send()
        .await?;
    let lb = format!("{rg}/providers/Microsoft.Network/loadBalancers/kubernetes");
    let body = load_balancer(&lb, &pip);
    println!(
        "load balancer body: {} rules, {} KiB",
        RULES,
        serde_json::to_vec(&body)?.len() / 1024
    );

    let started = Instant::now();
    let mut put_latencies = Vec::with_capacity(puts);
    for _ in 0..puts {
        let t = Instant::now();
        let resp = http
            .put(format!("{base}{lb}?{v}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        resp.bytes().await?;
        if !status.is_success() {
            return Err(format!("PUT failed: {status}").into());
        }
        put_latencies.push(t.elapsed());
    }
    report("PUT (sequential)", put_latencies, started.elapsed());

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, token) = (http.clone(), format!("{base}{lb}?{v}"), token.clone());
        let n = gets / concurrency;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let resp = http.get(&url).bearer_auth(&token).send().await?;
                resp.bytes().await?;
                lat.push(t.elapsed());
            }
            Ok::<_, reqwest::Error>(lat)
        }));
    }
    let mut get_latencies = Vec::new();
    for t in tasks {
        get_latencies.extend(t.await??);
    }
    report(
        &format!("GET ({concurrency} concurrent)"),
        get_latencies,
        started.elapsed(),
    );
    server.shutdown().await;
    Ok(())
}
