//! `make run`: a local test cluster (a real kube-apiserver), azure-mock and the operator; the
//! CRD, `config/samples/` and example Services applied; the resulting Azure state shown as
//! tables. Ctrl-C stops everything.

use std::time::Duration;

use aksnet_e2e::azure::{MockAzure, Seed};
use aksnet_e2e::nodes::create_node;
use aksnet_e2e::operator::{OperatorOptions, OperatorProcess, free_port};
use aksnet_e2e::{TestCluster, kubectl, manifests, repo_root};
use anyhow::Context;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::Api;
use serde_json::Value;

/// The sample network the operator manages (`config/samples/aksnet_v1alpha1_aksnetwork_kubenet.yaml`,
/// named `default` like the operator's `--network` default).
const NETWORK: &str = "default";
/// Its file; the other samples stay examples and are not applied.
const NETWORK_SAMPLE: &str = "aksnet_v1alpha1_aksnetwork_kubenet.yaml";
const SUB: &str = "00000000-0000-0000-0000-000000000001";
const RG: &str = "MC_demo-kubenet_westeurope";

fn yaml_files(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        })
        .collect();
    files.sort();
    Ok(files)
}

fn s(v: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "-".into())
}

fn last(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn table(title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    println!("\n{title}");
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("  {}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    if rows.is_empty() {
        println!("  (none)");
    }
    for r in rows {
        line(r);
    }
}

/// Print the Azure state in azure-mock as tables.
async fn show_azure(mock: &MockAzure) -> anyhow::Result<()> {
    let net = format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network");
    let pips = mock
        .arm("GET", &format!("{net}/publicIPAddresses"), None)
        .await?;
    let rows = pips["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            vec![
                s(p, &["name"]),
                s(p, &["properties", "ipAddress"]),
                s(p, &["properties", "dnsSettings", "fqdn"]),
                s(p, &["tags", "aksnet.io-service"]),
                last(&s(p, &["properties", "ipConfiguration", "id"])).to_string(),
            ]
        })
        .collect::<Vec<_>>();
    table(
        "Public IPs",
        &["NAME", "ADDRESS", "FQDN", "SERVICE", "FRONTEND"],
        rows,
    );
    for lb_name in ["kubernetes", "kubernetes-internal"] {
        let Ok(lb) = mock.get(&format!("{net}/loadBalancers/{lb_name}")).await else {
            continue;
        };
        let list = |k: &str| lb["properties"][k].as_array().cloned().unwrap_or_default();
        let rows = list("frontendIPConfigurations")
            .iter()
            .map(|f| {
                let target = match f["properties"]["publicIPAddress"]["id"].as_str() {
                    Some(id) => format!("public IP {}", last(id)),
                    None => format!(
                        "{} ({})",
                        s(f, &["properties", "privateIPAddress"]),
                        last(&s(f, &["properties", "subnet", "id"]))
                    ),
                };
                vec![s(f, &["name"]), target]
            })
            .collect::<Vec<_>>();
        table(
            &format!("Load balancer {lb_name}: frontends"),
            &["NAME", "ADDRESS"],
            rows,
        );
        let rows = list("loadBalancingRules")
            .iter()
            .map(|r| {
                let p = &r["properties"];
                let probe = p["probe"]["id"]
                    .as_str()
                    .map(last)
                    .and_then(|name| list("probes").into_iter().find(|x| x["name"] == name));
                let probe = probe.map_or("-".to_string(), |x| {
                    format!(
                        "{} :{} {}",
                        s(&x, &["properties", "protocol"]),
                        s(&x, &["properties", "port"]),
                        x["properties"]["requestPath"].as_str().unwrap_or("")
                    )
                });
                vec![
                    s(r, &["name"]),
                    last(&s(p, &["frontendIPConfiguration", "id"])).to_string(),
                    format!(
                        "{} {}->{}",
                        s(p, &["protocol"]),
                        s(p, &["frontendPort"]),
                        s(p, &["backendPort"])
                    ),
                    probe.trim().to_string(),
                ]
            })
            .collect::<Vec<_>>();
        table(
            &format!("Load balancer {lb_name}: rules"),
            &["NAME", "FRONTEND", "PORTS", "PROBE"],
            rows,
        );
        let pools: Vec<String> = list("backendAddressPools")
            .iter()
            .map(|p| {
                format!(
                    "{} [{}]",
                    s(p, &["name"]),
                    p["properties"]["loadBalancerBackendAddresses"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .map(|x| s(x, &["properties", "ipAddress"]))
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                )
            })
            .collect();
        println!("  backend pools: {}", pools.join("; "));
    }
    let nsg = mock
        .get(&format!("{net}/networkSecurityGroups/demo-kubenet-nsg"))
        .await?;
    let mut rules = nsg["properties"]["securityRules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    rules.sort_by_key(|r| r["properties"]["priority"].as_u64().unwrap_or(0));
    let joined =
        |p: &Value, one: &str, many: &str| match p[many].as_array().filter(|a| !a.is_empty()) {
            Some(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(","),
            None => s(p, &[one]),
        };
    let rows = rules
        .iter()
        .map(|r| {
            let p = &r["properties"];
            vec![
                s(p, &["priority"]),
                s(r, &["name"]),
                s(p, &["access"]),
                joined(p, "sourceAddressPrefix", "sourceAddressPrefixes"),
                joined(p, "destinationAddressPrefix", "destinationAddressPrefixes"),
                format!(
                    "{}/{}",
                    s(p, &["protocol"]),
                    joined(p, "destinationPortRange", "destinationPortRanges")
                ),
            ]
        })
        .collect::<Vec<_>>();
    table(
        "NSG demo-kubenet-nsg",
        &[
            "PRIORITY",
            "NAME",
            "ACCESS",
            "SOURCE",
            "DESTINATION",
            "PORTS",
        ],
        rows,
    );
    let rt = mock
        .get(&format!("{net}/routeTables/demo-kubenet-routes"))
        .await?;
    let rows = rt["properties"]["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            vec![
                s(r, &["name"]),
                s(r, &["properties", "addressPrefix"]),
                format!(
                    "{} {}",
                    s(r, &["properties", "nextHopType"]),
                    r["properties"]["nextHopIpAddress"].as_str().unwrap_or("")
                ),
            ]
        })
        .collect::<Vec<_>>();
    table(
        "Route table demo-kubenet-routes",
        &["NAME", "PREFIX", "NEXT HOP"],
        rows,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cluster = tokio::task::spawn_blocking(TestCluster::start).await??;
    println!(
        "test cluster ready at {} in {:?}",
        cluster.server(),
        cluster.startup()
    );
    let client = cluster.client().await?;

    let mock = MockAzure::start(azure_mock::Config {
        operation_duration: Duration::from_millis(200),
        ..azure_mock::Config::default()
    })
    .await?;
    mock.seed(&Seed {
        subscription: SUB,
        resource_group: RG,
        vnet: "demo-kubenet-vnet",
        subnet: "nodes",
        security_group: "demo-kubenet-nsg",
        route_table: "demo-kubenet-routes",
    })
    .await?;
    println!(
        "azure-mock at {} with resource group {RG} (a VNet, an NSG and a route table with entries of someone else's)",
        mock.url()
    );

    let crd = aksnet_crds::crdgen::aksnetwork_crd_yaml()?;
    for applied in manifests::apply_yaml(&client, &crd, None).await? {
        println!("applied {applied}");
    }
    let samples = repo_root().join("config").join("samples");
    for file in [samples.join(NETWORK_SAMPLE)] {
        let yaml = std::fs::read_to_string(&file)?;
        for applied in manifests::apply_yaml(&client, &yaml, Some("default")).await? {
            println!("applied {applied} from {}", file.display());
        }
    }
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..3 {
        create_node(
            &nodes,
            &format!("aks-nodepool1-{i}"),
            &format!("10.224.1.{}", 4 + i),
            &format!("10.244.{i}.0/24"),
        )
        .await?;
    }
    println!("created nodes aks-nodepool1-0..2 (10.224.1.4-6, pod CIDRs 10.244.0-2.0/24)");

    let log = cluster.scratch_dir().join("operator.log");
    let options = OperatorOptions {
        kubeconfig: cluster.kubeconfig().to_path_buf(),
        network: NETWORK.into(),
        class: aksnet_operator_class(),
        azure_url: mock.url(),
        drift: "1m".into(),
        log: log.clone(),
        http_addr: format!("127.0.0.1:{}", free_port()?),
        extra: vec![],
        log_filter: aksnet_e2e::operator::TEST_LOG_FILTER.into(),
        env: Vec::new(),
    };
    let mut operator = OperatorProcess::start(&options)?;
    println!(
        "operator started for AksNetwork {NETWORK} (metrics at http://{}/metrics, log {})",
        options.http_addr,
        log.display()
    );

    for file in yaml_files(&samples.join("services"))? {
        let yaml = std::fs::read_to_string(&file)?;
        for applied in manifests::apply_yaml(&client, &yaml, Some("default")).await? {
            println!("applied {applied} from {}", file.display());
        }
    }
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let wanted = ["web", "ingress-https", "ingress-http", "api"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut missing = Vec::new();
        for name in wanted {
            let ip = services
                .get_opt(name)
                .await?
                .and_then(|s| s.status?.load_balancer?.ingress?.first()?.ip.clone());
            if ip.is_none() {
                missing.push(name);
            }
        }
        if missing.is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline || !operator.running() {
            println!(
                "still waiting for {missing:?}; operator log:\n{}",
                operator.log()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let kc = cluster.kubeconfig();
    for args in [
        &["get", "services", "-o", "wide"][..],
        &["get", "aksnetworks"][..],
        &[
            "get",
            "events",
            "--field-selector",
            "type=Warning",
            "-o",
            "custom-columns=OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message",
        ][..],
    ] {
        let out = kubectl(kc).args(args).output()?;
        println!(
            "\n$ kubectl {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    show_azure(&mock).await?;

    println!("\nexplore it:\n  export KUBECONFIG={}", kc.display());
    println!("  kubectl get akn {NETWORK} -o yaml\n  kubectl describe service broken");
    println!(
        "  curl -s {}/_mock/state | head   # Azure as azure-mock holds it",
        mock.url()
    );
    println!("\nCtrl-C (or SIGTERM) stops the operator, azure-mock and the cluster.");
    stop_requested().await?;
    println!("stopping");
    operator.stop()?;
    mock.stop().await;
    tokio::task::spawn_blocking(move || cluster.stop()).await??;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM (what `timeout`, CI runners and service managers send), so
/// that either stops the processes this program started.
async fn stop_requested() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
    }
}

/// The operator's default `loadBalancerClass` (the example Services set none).
fn aksnet_operator_class() -> String {
    "aksnet.io/azure".into()
}
