//! `make bench`: the operator binary against azure-mock (long-running operations of
//! `--operation-ms`) and the real API server. For each burst size: create that many
//! LoadBalancer Services on `--nodes` nodes at once, and report ARM writes and reads by resource
//! type, time to the first address, creation→address p50/p99/max, time until all, the
//! operator's peak RSS; then the writes of two drift intervals at steady state, and the writes
//! for 20 nodes added and 10 removed, and how long after each change its last write came.
//! Numbers are reported, never asserted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aksnet_e2e::azure::MockAzure;
use aksnet_e2e::nodes::create_node;
use aksnet_e2e::operator::{OperatorOptions, OperatorProcess, free_port};
use aksnet_e2e::scenario::{kubenet_network, lb_service, net_id};
use aksnet_e2e::{TestCluster, manifests, namespace, repo_root};
use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-00000000be4c";
const RG: &str = "mc_bench";
/// The drift interval the operator runs with.
const DRIFT: Duration = Duration::from_secs(10);

/// Services that share static public IPs (made beforehand, as a team would bring its own),
/// created with each burst.
#[derive(Clone, Copy)]
struct Sharing {
    /// How many Services.
    services: usize,
    /// Over how many static IPs (named with `azure-pip-name`), each Service on its own port.
    ips: usize,
}

/// What one burst measured.
struct Burst {
    services: usize,
    sharing: Sharing,
    refused: usize,
    writes: BTreeMap<String, u64>,
    reads: BTreeMap<String, u64>,
    first: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    all: Duration,
    rss_kib: u64,
    drift_writes: u64,
    /// Writes after 20 nodes were added, and when the last came.
    nodes_added: (u64, Duration),
    /// Writes after 10 nodes were removed, and when the last came.
    nodes_removed: (u64, Duration),
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// The resource type a journal path is about (`publicIPAddresses`, `loadBalancers`, ...).
fn kind(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("Microsoft.Network"))
    {
        Some(i) => parts.get(i + 1).copied().unwrap_or("other").to_string(),
        None if path.contains("oauth2") => "token".into(),
        None => "other".into(),
    }
}

/// Writes and reads in the journal since it was cleared, by resource type.
async fn calls(mock: &MockAzure) -> anyhow::Result<(BTreeMap<String, u64>, BTreeMap<String, u64>)> {
    let journal: Value = reqwest::get(format!("{}/_mock/journal", mock.url()))
        .await?
        .json()
        .await?;
    let mut writes = BTreeMap::new();
    let mut reads = BTreeMap::new();
    for e in journal["entries"].as_array().into_iter().flatten() {
        let method = e["method"].as_str().unwrap_or_default();
        let path = e["path"].as_str().unwrap_or_default();
        if path.starts_with("/_mock") {
            continue;
        }
        let map = if method == "GET" {
            &mut reads
        } else {
            &mut writes
        };
        *map.entry(kind(path)).or_default() += 1;
    }
    Ok((writes, reads))
}

fn total(m: &BTreeMap<String, u64>) -> u64 {
    m.values().sum()
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Quiet time that ends a settle after a burst.
const QUIET: Duration = Duration::from_secs(3);
/// How often [`settle`] counts the writes.
const TICK: Duration = Duration::from_millis(250);
/// The longest a settle after a burst waits.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// Whether Azure follows these nodes: every backend pool of every load balancer holds exactly
/// their addresses, and the route table routes exactly their pod CIDRs.
async fn follows_nodes(mock: &MockAzure, nodes: &[(String, String)]) -> anyhow::Result<bool> {
    let ips: std::collections::BTreeSet<&str> = nodes.iter().map(|(ip, _)| ip.as_str()).collect();
    let cidrs: std::collections::BTreeSet<&str> =
        nodes.iter().map(|(_, cidr)| cidr.as_str()).collect();
    let lbs = mock
        .arm(
            "GET",
            &format!(
                "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers"
            ),
            None,
        )
        .await?;
    let pools_follow = lbs["value"].as_array().into_iter().flatten().all(|lb| {
        lb["properties"]["backendAddressPools"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|pool| {
                let held: std::collections::BTreeSet<&str> =
                    pool["properties"]["loadBalancerBackendAddresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["properties"]["ipAddress"].as_str())
                        .collect();
                held == ips
            })
    });
    let table = mock.get(&net_id(SUB, RG, "routeTables", "aks-rt")).await?;
    let routed: std::collections::BTreeSet<&str> = table["properties"]["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["properties"]["addressPrefix"].as_str())
        .filter(|p| p.starts_with("10.24"))
        .collect();
    Ok(pools_follow && routed == cidrs)
}

/// Watch the writes (at most `limit`) until none came for `quiet` and, given `nodes`, Azure
/// follows them (a node change is measured to its end, however long the operator takes to
/// see it); the writes since the journal was cleared, and when the last one came.
async fn settle(
    mock: &MockAzure,
    quiet: Duration,
    limit: Duration,
    nodes: Option<&[(String, String)]>,
) -> anyhow::Result<(u64, Duration)> {
    let start = Instant::now();
    let mut last = mock.writes().await?;
    let (mut since, mut last_write) = (Instant::now(), Duration::ZERO);
    while start.elapsed() < limit {
        tokio::time::sleep(TICK).await;
        let now = mock.writes().await?;
        if now != last {
            last = now;
            since = Instant::now();
            last_write = start.elapsed();
        } else if since.elapsed() >= quiet {
            match nodes {
                None => return Ok((last, last_write)),
                // Azure's state runs ahead of the journal (a write is recorded once its
                // answer is sent) and the count was taken before the state was read: writes
                // landing in between made a change look done without them. Count again.
                Some(nodes) if follows_nodes(mock, nodes).await? => {
                    tokio::time::sleep(TICK).await;
                    if mock.writes().await? == last {
                        return Ok((last, last_write));
                    }
                }
                Some(_) => {}
            }
        }
    }
    match nodes {
        None => Ok((last, last_write)),
        Some(nodes) => anyhow::bail!(
            "Azure did not follow the {} nodes in {limit:?}",
            nodes.len()
        ),
    }
}

async fn burst(
    cluster: &TestCluster,
    own_ips: usize,
    sharing: Sharing,
    nodes_wanted: usize,
    operation_ms: u64,
) -> anyhow::Result<Burst> {
    let services_wanted = own_ips + sharing.services;
    let client = cluster.client().await?;
    let crd = std::fs::read_to_string(repo_root().join("crds/aksnet.io_aksnetworks.yaml"))?;
    manifests::apply_yaml(&client, &crd, None).await?;
    let ns = namespace::create_unique(&client, "bench").await?;
    let class = format!("aksnet.io/{ns}");
    let network = format!("net-{ns}");
    let mock = MockAzure::start(azure_mock::Config {
        operation_duration: Duration::from_millis(operation_ms),
        limits: azure_mock::Limits {
            public_ips_per_subscription: services_wanted + sharing.ips + 100,
            ..azure_mock::Limits::default()
        },
        // ARM's hourly write budget, raised for bursts that need more writes than it holds.
        write_budget: 1_200.max(2 * (services_wanted as u64 + sharing.ips as u64)),
        ..azure_mock::Config::default()
    })
    .await?;
    mock.seed_cluster(SUB, RG).await?;
    for k in 0..sharing.ips {
        mock.arm(
            "PUT",
            &net_id(SUB, RG, "publicIPAddresses", &format!("bench-static-{k}")),
            Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})),
        )
        .await?;
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let node_name = |i: usize| format!("{ns}-n{i}");
    let node_ip = |i: usize| format!("10.224.{}.{}", 10 + i / 200, 4 + i % 200);
    let node_cidr = |i: usize| format!("10.{}.{}.0/24", 244 + i / 256, i % 256);
    // The nodes' addresses and pod CIDRs, as Azure should hold them.
    let node_facts = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
        range.map(|i| (node_ip(i), node_cidr(i))).collect()
    };
    let add_nodes = async |range: std::ops::Range<usize>| -> Result<(), kube::Error> {
        for i in range {
            create_node(&nodes, &node_name(i), &node_ip(i), &node_cidr(i)).await?;
        }
        Ok(())
    };
    add_nodes(0..nodes_wanted).await?;
    // Each burst is a cluster of its own: AksNetworks of earlier bursts stay in the API
    // server, and two for one Azure network would be an ownership conflict.
    let spec = kubenet_network(
        &network,
        SUB,
        RG,
        json!({"clusterName": ns, "loadBalancer": {"maxCount": 10}}),
    );
    manifests::apply_yaml(&client, &serde_yaml::to_string(&spec)?, None).await?;
    let port = free_port()?;
    let mut operator = OperatorProcess::start(&OperatorOptions {
        kubeconfig: cluster.kubeconfig().to_path_buf(),
        http_addr: format!("127.0.0.1:{port}"),
        network: network.clone(),
        class: class.clone(),
        azure_url: mock.url(),
        drift: format!("{}s", DRIFT.as_secs()),
        log: std::env::temp_dir().join(format!("aksnet-bench-{ns}.log")),
        extra: Vec::new(),
        // `AKSNET_BENCH_LOG` sets the operator's `RUST_LOG`, to see where a pass spends its time.
        log_filter: std::env::var("AKSNET_BENCH_LOG").unwrap_or_else(|_| "info,kube=warn".into()),
        env: Vec::new(),
    })?;
    // The network's own objects first (outbound IP, pool, routes), then the burst.
    settle(&mock, QUIET, SETTLE_LIMIT, None).await?;
    mock.clear_journal().await?;

    let api: Api<Service> = Api::namespaced(client.clone(), &ns);
    let start = Instant::now();
    let created: Vec<(String, Duration)> = futures::stream::iter(0..services_wanted)
        .map(|i| {
            let api = api.clone();
            let class = class.clone();
            async move {
                let name = format!("svc-{i:04}");
                // The first ones share the static IPs, each on a port of its own.
                let svc = match i.checked_rem(sharing.ips).filter(|_| i < sharing.services) {
                    Some(k) => lb_service(
                        &name,
                        &class,
                        2000 + i as u16,
                        json!({"service.beta.kubernetes.io/azure-pip-name": format!("bench-static-{k}")}),
                    ),
                    None => lb_service(&name, &class, 80, json!({})),
                };
                api.create(&PostParams::default(), &svc)
                .await
                .map(|_| (name, start.elapsed()))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let created: BTreeMap<String, Duration> = created.into_iter().collect();
    let mut served: BTreeMap<String, Duration> = BTreeMap::new();
    let mut refused = 0;
    let deadline = Duration::from_secs(1800);
    while served.len() + refused < services_wanted && start.elapsed() < deadline {
        refused = 0;
        for svc in api.list(&ListParams::default()).await?.items {
            let status = svc.status.as_ref();
            let has_ip = status
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|l| l.ingress.as_ref())
                .is_some_and(|i| !i.is_empty());
            let is_refused = status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| {
                    c.type_ == "aksnet.io/LoadBalancerReady"
                        && c.status == "False"
                        && c.reason != "Pending"
                });
            match (has_ip, svc.metadata.name) {
                (true, Some(name)) => {
                    served.entry(name).or_insert_with(|| start.elapsed());
                }
                _ if is_refused => refused += 1,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        served.len() + refused == services_wanted,
        "{} of {services_wanted} Services served, {refused} refused, after {:?}",
        served.len(),
        start.elapsed()
    );
    let all = start.elapsed();
    let mut latencies: Vec<Duration> = served
        .iter()
        .map(|(n, t)| t.saturating_sub(created[n]))
        .collect();
    latencies.sort();
    settle(&mock, QUIET, SETTLE_LIMIT, None).await?;
    let (writes, reads) = calls(&mock).await?;
    let rss_kib = peak_rss_kib(operator.pid());

    mock.clear_journal().await?;
    tokio::time::sleep(DRIFT * 2 + Duration::from_secs(1)).await;
    let drift_writes = mock.writes().await?;
    // Node changes: the writes they cause, and how long after the change the last one came.

    mock.clear_journal().await?;
    add_nodes(nodes_wanted..nodes_wanted + 20).await?;
    let nodes_added = settle(
        &mock,
        Duration::from_secs(1),
        Duration::from_secs(300),
        Some(&node_facts(0..nodes_wanted + 20)),
    )
    .await?;
    mock.clear_journal().await?;
    for i in 0..10 {
        nodes
            .delete(&node_name(i), &DeleteParams::default())
            .await?;
    }
    let nodes_removed = settle(
        &mock,
        Duration::from_secs(1),
        Duration::from_secs(300),
        Some(&node_facts(10..nodes_wanted + 20)),
    )
    .await?;

    operator.stop()?;
    // Free the burst's node ports for the next one: with the operator gone, its finalizers go
    // by hand.
    let release = json!({"metadata": {"finalizers": null}});
    let names: Vec<String> = created.keys().cloned().collect();
    futures::stream::iter(names)
        .for_each_concurrent(16, |name| {
            let api = api.clone();
            let release = &release;
            async move {
                let _ = api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(release))
                    .await;
                let _ = api.delete(&name, &DeleteParams::default()).await;
            }
        })
        .await;
    for i in 10..nodes_wanted + 20 {
        let _ = nodes.delete(&node_name(i), &DeleteParams::default()).await;
    }
    mock.stop().await;
    Ok(Burst {
        services: own_ips,
        sharing,
        refused,
        writes,
        reads,
        first: *latencies.first().unwrap_or(&Duration::ZERO),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        max: *latencies.last().unwrap_or(&Duration::ZERO),
        all,
        rss_kib,
        drift_writes,
        nodes_added,
        nodes_removed,
    })
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn by_kind(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A node change's writes and when the last came.
fn node_change((writes, last): (u64, Duration)) -> String {
    format!("{writes} in {}", secs(last))
}

fn report(operation_ms: u64, nodes: usize, bursts: &[Burst]) -> String {
    let mut out = format!(
        "### LROs of {operation_ms} ms, {nodes} nodes\n\n| Services (refused) | writes (by type) | reads (by type) | first IP | p50 | p99 | max | all served | operator peak RSS | drift writes (2 intervals) | +20 nodes (writes, last at) | -10 nodes (writes, last at) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for b in bursts {
        let services = match b.sharing.services {
            0 => b.services.to_string(),
            n => format!("{} + {n} on {} static IPs", b.services, b.sharing.ips),
        };
        out.push_str(&format!(
            "| {} ({}) | {} ({}) | {} ({}) | {} | {} | {} | {} | {} | {:.1} MiB | {} | {} | {} |\n",
            services,
            b.refused,
            total(&b.writes),
            by_kind(&b.writes),
            total(&b.reads),
            by_kind(&b.reads),
            secs(b.first),
            secs(b.p50),
            secs(b.p99),
            secs(b.max),
            secs(b.all),
            b.rss_kib as f64 / 1024.0,
            b.drift_writes,
            node_change(b.nodes_added),
            node_change(b.nodes_removed),
        ));
    }
    out
}

/// The machine and settings the numbers come from.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kib: u64 = m.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "?".into());
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores, {memory} memory; commit {commit}; release build")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let list = |name: &str, default: &str| -> anyhow::Result<Vec<u64>> {
        arg(name, default)
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .with_context(|| format!("{name}: a comma-separated list of numbers"))
            })
            .collect()
    };
    let sizes = list("--services", "100,500,1000")?;
    let settings = list("--operation-ms", "200,2000")?;
    let nodes: usize = arg("--nodes", "50").parse().context("--nodes")?;
    let sharing = Sharing {
        services: arg("--shared", "0").parse().context("--shared")?,
        ips: arg("--static-ips", "50").parse().context("--static-ips")?,
    };
    let out = arg("--out", "");
    // The part of `--out` this run writes: between `<!-- {section} -->` and
    // `<!-- /{section} -->` (or the end).
    let section = arg("--section", "bench");
    let cluster = TestCluster::start()?;
    let mut doc = format!(
        "Measured by `make bench` on {}. Each burst starts a fresh azure-mock (ARM's write budget of 1,200 per hour, raised to twice the public IPs for bursts that need more, `x-ms-ratelimit-remaining-subscription-writes` sent; the public IP quota raised above the burst) and a kubenet AksNetwork with `loadBalancer.maxCount: 10`, and the operator with its defaults (`--max-concurrent-writes 32`, write budget 200 + 10/s); Services are created 16 at a time; \"first IP\", p50, p99 and max are creation→address per Service, \"all served\" is from the first creation. Writes are counted from the mock's journal.\n\n",
        machine()
    );
    for operation_ms in settings {
        let mut bursts = Vec::new();
        for &n in &sizes {
            eprintln!("bench: {n} Services on {nodes} nodes, LROs of {operation_ms} ms");
            let b = burst(&cluster, n as usize, sharing, nodes, operation_ms).await?;
            eprintln!(
                "bench: {n}: {} writes, first IP {}, p50 {}, all {}",
                total(&b.writes),
                secs(b.first),
                secs(b.p50),
                secs(b.all)
            );
            bursts.push(b);
        }
        doc.push_str(&report(operation_ms, nodes, &bursts));
        doc.push('\n');
        // Written after each setting, so a long run keeps what it measured.
        if !out.is_empty() {
            let path = std::path::Path::new(&out);
            let old = std::fs::read_to_string(path).unwrap_or_default();
            let (start, end) = (
                format!("<!-- {section} -->"),
                format!("<!-- /{section} -->"),
            );
            let head = old.split(&start).next().unwrap_or_default();
            let tail = old
                .split_once(&end)
                .map(|(_, t)| format!("{end}{t}"))
                .unwrap_or_default();
            std::fs::write(path, format!("{head}{start}\n{doc}{tail}"))?;
        }
    }
    println!("{doc}");
    cluster.stop()?;
    Ok(())
}
