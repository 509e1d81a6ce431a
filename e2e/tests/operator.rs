//! The operator end to end: the real kube-apiserver, azure-mock over HTTP with the real SDK, and
//! the `aksnet-operator` binary as a process. One scenario walks the product's main paths in
//! order (tests in this binary would otherwise see each other's nodes).

use std::time::Duration;

use aksnet_e2e::azure::MockAzure;
use aksnet_e2e::nodes::create_node;
use aksnet_e2e::operator::{OperatorOptions, OperatorProcess, free_port, impersonating_kubeconfig};
use aksnet_e2e::scenario::{
    self, eventually, gone, ingress_ip, kubenet_network, lb_service, warning_reasons,
};
use aksnet_e2e::{TestCluster, kubectl, manifests, namespace, repo_root};
use k8s_openapi::api::core::v1::{Event, Node, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-0000000e2e02";
const RG: &str = "mc_operator_e2e";

fn net_id(kind: &str, name: &str) -> String {
    scenario::net_id(SUB, RG, kind, name)
}

/// Delete a Service and wait until aksnet has released it (its finalizer gone).
/// The condition type a peer controller writes on a Service.
const PEER_CONDITION: &str = "example.com/Peered";

/// A Service's ingress addresses and condition types.
async fn ingress_and_conditions(
    services: &Api<Service>,
    name: &str,
) -> Option<(Vec<String>, Vec<String>)> {
    let status = services.get(name).await.ok()?.status?;
    let ips = status
        .load_balancer
        .and_then(|l| l.ingress)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.ip)
        .collect();
    let types = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    Some((ips, types))
}

async fn delete_service(services: &Api<Service>, name: &str) {
    services
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete Service");
    eventually(&format!("{name} released"), 30, || async {
        services
            .get_opt(name)
            .await
            .ok()
            .and_then(|s| s.is_none().then_some(()))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_serves_services_and_keeps_azure_in_line() {
    let cluster = TestCluster::shared();
    let client = cluster.client().await.expect("client");
    let crd =
        std::fs::read_to_string(repo_root().join("crds/aksnet.io_aksnetworks.yaml")).expect("crd");
    manifests::apply_yaml(&client, &crd, None)
        .await
        .expect("apply CRD");
    let ns = namespace::create_unique(&client, "operator")
        .await
        .expect("namespace");
    let class = format!("aksnet.io/{ns}");
    let network_name = format!("net-{ns}");

    let mock = MockAzure::start(azure_mock::Config {
        operation_duration: Duration::from_millis(100),
        ..azure_mock::Config::default()
    })
    .await
    .expect("mock");
    mock.seed_cluster(SUB, RG).await.expect("seed azure");

    let nodes: Api<Node> = Api::all(client.clone());
    let node_a = format!("{ns}-a");
    let node_b = format!("{ns}-b");
    create_node(&nodes, &node_a, "10.224.0.4", "10.244.1.0/24")
        .await
        .expect("node a");
    create_node(&nodes, &node_b, "10.224.0.5", "10.244.2.0/24")
        .await
        .expect("node b");

    let network = kubenet_network(
        &network_name,
        SUB,
        RG,
        json!({
            "publicIps": [{"name": "static-ip"}],
            "securityGroup": {"name": "aks-nsg", "rules": [{"name": "deny-telnet", "priority": 200, "direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefixes": ["*"], "destinationAddressPrefixes": ["*"], "destinationPortRanges": ["23"]}]},
            "routeTable": {"name": "aks-rt", "routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}
        }),
    );
    manifests::apply_yaml(
        &client,
        &serde_yaml::to_string(&network).expect("yaml"),
        None,
    )
    .await
    .expect("apply network");

    // The operator runs as the ServiceAccount of config/rbac (impersonation), with leader election.
    let scratch = cluster.scratch_dir().to_path_buf();
    let ns_api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let system: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "aksnet-system"}})).expect("ns");
    let _ = ns_api.create(&PostParams::default(), &system).await;
    let out = kubectl(cluster.kubeconfig())
        .args(["apply", "--server-side", "-k", "config/rbac"])
        .current_dir(repo_root())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sa_kubeconfig = scratch.join(format!("sa-{ns}.kubeconfig"));
    impersonating_kubeconfig(
        cluster.kubeconfig(),
        "system:serviceaccount:aksnet-system:aksnet-operator",
        &sa_kubeconfig,
    )
    .expect("kubeconfig");
    let port = free_port().expect("port");
    let options = OperatorOptions {
        kubeconfig: sa_kubeconfig,
        http_addr: format!("127.0.0.1:{port}"),
        network: network_name.clone(),
        class: class.clone(),
        azure_url: mock.url(),
        drift: "3s".into(),
        log: std::env::temp_dir().join(format!("aksnet-operator-{ns}.log")),
        extra: vec![
            "--leader-elect".into(),
            "--lease-namespace".into(),
            "aksnet-system".into(),
            "--identity".into(),
            format!("e2e-{ns}"),
        ],
        log_filter: aksnet_e2e::operator::TEST_LOG_FILTER.into(),
        env: Vec::new(),
    };
    let mut operator = OperatorProcess::start(&options).expect("start operator");

    // A public Service gets an IP; Azure holds the LB rule, the PIP, the NSG rule and routes.
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    services
        .create(
            &PostParams::default(),
            &lb_service("web", &class, 80, json!({})),
        )
        .await
        .expect("web");
    let ip = eventually("web's ingress IP", 60, || ingress_ip(&services, "web")).await;
    let lb = mock
        .get(&net_id("loadBalancers", "kubernetes"))
        .await
        .expect("LB");
    let rules = lb["properties"]["loadBalancingRules"]
        .as_array()
        .expect("rules")
        .clone();
    assert!(
        rules.iter().any(|r| r["properties"]["frontendPort"] == 80),
        "{lb:#}"
    );
    let pool =
        &lb["properties"]["backendAddressPools"][0]["properties"]["loadBalancerBackendAddresses"];
    let pool_ips: Vec<&str> = pool
        .as_array()
        .expect("pool")
        .iter()
        .filter_map(|a| a["properties"]["ipAddress"].as_str())
        .collect();
    assert!(
        pool_ips.contains(&"10.224.0.4") && pool_ips.contains(&"10.224.0.5"),
        "{pool_ips:?}"
    );
    let nsg = mock
        .get(&net_id("networkSecurityGroups", "aks-nsg"))
        .await
        .expect("nsg");
    let nsg_rules = nsg["properties"]["securityRules"]
        .as_array()
        .expect("rules")
        .clone();
    assert!(
        nsg_rules
            .iter()
            .any(|r| r["name"] == "allow-bastion" && r["properties"]["priority"] == 500),
        "rules of others survive"
    );
    assert!(
        nsg_rules.iter().any(
            |r| r["properties"]["destinationAddressPrefix"] == ip.as_str()
                && r["properties"]["destinationPortRange"] == "80"
        ),
        "{nsg_rules:#?}"
    );
    assert!(nsg_rules.iter().any(|r| {
        r["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("-deny-telnet"))
            && r["properties"]["priority"] == 200
    }));
    let rt = mock
        .get(&net_id("routeTables", "aks-rt"))
        .await
        .expect("rt");
    let routes: Vec<String> = rt["properties"]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            format!(
                "{}>{}",
                r["properties"]["addressPrefix"].as_str().unwrap_or(""),
                r["properties"]["nextHopIpAddress"].as_str().unwrap_or("-")
            )
        })
        .collect();
    for want in ["192.168.0.0/16>-", "0.0.0.0/0>10.225.0.4"] {
        assert!(routes.contains(&want.to_string()), "{want} in {routes:?}");
    }
    eventually("pod routes of both nodes", 30, || async {
        let rt = mock.get(&net_id("routeTables", "aks-rt")).await.ok()?;
        let text = rt["properties"]["routes"].to_string();
        (text.contains("10.244.1.0/24") && text.contains("10.244.2.0/24")).then_some(())
    })
    .await;
    let static_ip = mock
        .get(&net_id("publicIPAddresses", "static-ip"))
        .await
        .expect("static IP created");
    assert_eq!(static_ip["tags"]["aksnet.io-deletion-policy"], "Retain");

    // An internal Service with source ranges, and one with externalTrafficPolicy Local.
    let mut inner = lb_service(
        "inner",
        &class,
        5432,
        json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
    );
    inner
        .spec
        .as_mut()
        .expect("spec")
        .load_balancer_source_ranges = Some(vec!["10.0.0.0/8".into()]);
    services
        .create(&PostParams::default(), &inner)
        .await
        .expect("inner");
    let inner_ip = eventually("inner's private IP", 30, || ingress_ip(&services, "inner")).await;
    assert!(
        inner_ip.starts_with("10.224.") && inner_ip != "10.224.0.4" && inner_ip != "10.224.0.5",
        "a private address in the node subnet that no node holds: {inner_ip}"
    );
    let nsg = mock
        .get(&net_id("networkSecurityGroups", "aks-nsg"))
        .await
        .expect("nsg");
    assert!(
        nsg["properties"]["securityRules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| r["properties"]["sourceAddressPrefix"] == "10.0.0.0/8"
                && r["properties"]["destinationAddressPrefix"] == inner_ip.as_str()),
        "{nsg:#}"
    );
    let mut local = lb_service("local", &class, 9000, json!({}));
    local.spec.as_mut().expect("spec").external_traffic_policy = Some("Local".into());
    services
        .create(&PostParams::default(), &local)
        .await
        .expect("local");
    eventually("local's IP", 30, || ingress_ip(&services, "local")).await;
    let hc_port = services
        .get("local")
        .await
        .expect("local")
        .spec
        .and_then(|s| s.health_check_node_port)
        .expect("health check node port");
    let lb = mock
        .get(&net_id("loadBalancers", "kubernetes"))
        .await
        .expect("LB");
    assert!(
        lb["properties"]["probes"]
            .as_array()
            .expect("probes")
            .iter()
            .any(|p| p["properties"]["requestPath"] == "/healthz"
                && p["properties"]["port"] == hc_port),
        "{:#}",
        lb["properties"]["probes"]
    );

    // Ports change: the rule follows.
    let patch = json!({"spec": {"ports": [{"name": "p", "port": 8080, "protocol": "TCP"}]}});
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch web");
    eventually("web's rule on 8080 only", 30, || async {
        let lb = mock
            .get(&net_id("loadBalancers", "kubernetes"))
            .await
            .ok()?;
        let ports: Vec<i64> = lb["properties"]["loadBalancingRules"]
            .as_array()?
            .iter()
            .filter_map(|r| r["properties"]["frontendPort"].as_i64())
            .collect();
        (ports.contains(&8080) && !ports.contains(&80)).then_some(())
    })
    .await;

    // A node labelled for exclusion leaves the backend pool.
    let label = json!({"metadata": {"labels": {"node.kubernetes.io/exclude-from-external-load-balancers": "true"}}});
    nodes
        .patch(&node_a, &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect("label node");
    eventually("node a out of the pool", 30, || async {
        let lb = mock.get(&net_id("loadBalancers", "kubernetes")).await.ok()?;
        let pool = lb["properties"]["backendAddressPools"][0]["properties"]["loadBalancerBackendAddresses"].to_string();
        (!pool.contains("10.224.0.4") && pool.contains("10.224.0.5")).then_some(())
    })
    .await;

    // Metrics count ARM calls by resource type, verb and code.
    let metrics = match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
        Ok(r) => r.text().await.expect("text"),
        Err(e) => panic!("metrics: {e}\n{}", operator.log()),
    };
    assert!(
        metrics.contains("aksnet_arm_requests_total{resource=\"loadBalancers\",verb=\"PUT\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("controller_runtime_reconcile_total"),
        "{metrics}"
    );
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);

    // The AksNetwork reports Ready with the generation it saw.
    let networks: Api<aksnet_crds::AksNetwork> = Api::all(client.clone());
    eventually("AksNetwork Ready", 30, || async {
        let n = networks.get(&network_name).await.ok()?;
        let status = n.status?;
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        (ready && status.observed_generation == n.metadata.generation).then_some(())
    })
    .await;
    // Its status lists the cluster's own public IPs with their addresses, and only counts the
    // ones made for Services (web and local; inner is internal).
    let status = networks
        .get(&network_name)
        .await
        .expect("network")
        .status
        .expect("status");
    let listed: Vec<&str> = status.public_ips.iter().map(|p| p.name.as_str()).collect();
    assert!(
        status
            .public_ips
            .iter()
            .any(|p| p.name == "static-ip" && p.address.is_some()),
        "{listed:?}"
    );
    assert!(
        status
            .public_ips
            .iter()
            .all(|p| p.address.as_deref() != Some(ip.as_str())),
        "web's IP is not listed: {listed:?}"
    );
    assert_eq!(
        status.counts.map(|c| c.service_public_ips),
        Some(2),
        "{listed:?}"
    );

    // A peer controller writes a condition of its own on web with a merge patch, which
    // replaces the whole list (dropping aksnet's condition) and clears the ingress: the next
    // drift pass puts aksnet's back (a server-side apply of only its own fields), and the
    // peer's condition stays.
    let peer = json!({"status": {
        "conditions": [{"type": PEER_CONDITION, "status": "True", "reason": "Seen",
                        "message": "a peer was here", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        "loadBalancer": {"ingress": null}
    }});
    services
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&peer))
        .await
        .expect("peer's write");
    eventually("web's status repaired beside the peer's", 30, || async {
        let (ips, types) = ingress_and_conditions(&services, "web").await?;
        (ips == [ip.clone()]
            && types.iter().any(|t| t == "aksnet.io/LoadBalancerReady")
            && types.iter().any(|t| t == PEER_CONDITION))
        .then_some(())
    })
    .await;

    // Two Services share the static IP on different ports; a third clashes on a port.
    let share = |name: &str, port| {
        lb_service(
            name,
            &class,
            port,
            json!({"service.beta.kubernetes.io/azure-pip-name": "static-ip"}),
        )
    };
    services
        .create(&PostParams::default(), &share("first", 443))
        .await
        .expect("first");
    let first_ip = eventually("first's IP", 30, || ingress_ip(&services, "first")).await;
    services
        .create(&PostParams::default(), &share("second", 8443))
        .await
        .expect("second");
    let second_ip = eventually("second's IP", 30, || ingress_ip(&services, "second")).await;
    assert_eq!(first_ip, second_ip, "one IP, two Services");
    services
        .create(&PostParams::default(), &share("clash", 443))
        .await
        .expect("clash");
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let reasons = eventually("a PortInUse Warning on clash", 30, || async {
        let r = warning_reasons(&events, "clash").await;
        r.iter().any(|r| r == "PortInUse").then_some(r)
    })
    .await;
    assert!(!reasons.is_empty());
    let clash = services.get("clash").await.expect("clash");
    let cond = clash.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(
        cond.iter().any(|c| c.type_ == "aksnet.io/LoadBalancerReady"
            && c.status == "False"
            && c.reason == "PortInUse"),
        "{cond:?}"
    );
    assert_eq!(
        ingress_ip(&services, "first").await.as_deref(),
        Some(first_ip.as_str()),
        "the older Service keeps working"
    );
    delete_service(&services, "clash").await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A Service asks for an existing public IP by address; the IP is used, never tagged or deleted.
    let byo = mock
        .arm("PUT", &net_id("publicIPAddresses", "byo-ip"), Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})))
        .await
        .expect("BYO IP");
    let byo_address = byo["properties"]["ipAddress"]
        .as_str()
        .expect("address")
        .to_string();
    services
        .create(
            &PostParams::default(),
            &lb_service(
                "byaddr",
                &class,
                6000,
                json!({"service.beta.kubernetes.io/azure-load-balancer-ipv4": byo_address}),
            ),
        )
        .await
        .expect("byaddr");
    let got = eventually("byaddr's IP", 30, || ingress_ip(&services, "byaddr")).await;
    assert_eq!(got, byo_address);
    delete_service(&services, "byaddr").await;
    let byo = mock
        .get(&net_id("publicIPAddresses", "byo-ip"))
        .await
        .expect("BYO IP kept");
    assert!(
        byo.get("tags")
            .is_none_or(|t| t.as_object().is_none_or(|m| m.is_empty())),
        "never tagged: {byo:#}"
    );

    // A rule deleted behind our back is repaired within the drift interval, with an Event.
    let lb = mock
        .get(&net_id("loadBalancers", "kubernetes"))
        .await
        .expect("LB");
    let web_rule = lb["properties"]["loadBalancingRules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["properties"]["frontendPort"] == 8080)
        .and_then(|r| r["name"].as_str())
        .expect("rule name")
        .to_string();
    mock.remove_out_of_band(&format!(
        "{}/loadBalancingRules/{web_rule}",
        net_id("loadBalancers", "kubernetes")
    ))
    .await
    .expect("remove rule");
    eventually("the rule repaired", 30, || async {
        let lb = mock
            .get(&net_id("loadBalancers", "kubernetes"))
            .await
            .ok()?;
        lb["properties"]["loadBalancingRules"]
            .as_array()?
            .iter()
            .any(|r| r["name"] == web_rule.as_str())
            .then_some(())
    })
    .await;
    let all_events: Api<Event> = Api::all(client.clone());
    eventually("a DriftRepaired Event", 30, || async {
        let list = all_events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.involved_object.name.as_deref() == Some(network_name.as_str())
                    && e.reason.as_deref() == Some("DriftRepaired")
            })
            .then_some(())
    })
    .await;
    // Each run that wrote something different has its own Event (kube's recorder would merge
    // them under the first note), and no note is told twice.
    let list = all_events
        .list(&ListParams::default())
        .await
        .expect("events");
    let applied: Vec<&str> = list
        .items
        .iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(network_name.as_str())
                && e.reason.as_deref() == Some("Applied")
        })
        .filter_map(|e| e.message.as_deref())
        .collect();
    let distinct: std::collections::BTreeSet<&str> = applied.iter().copied().collect();
    assert!(applied.len() >= 2, "several runs wrote: {applied:?}");
    assert_eq!(distinct.len(), applied.len(), "{applied:?}");

    // Every body the operator wrote so far was read by Azure's definitions as sent.
    assert_eq!(
        mock.ignored_properties().await.expect("journal"),
        Vec::<String>::new(),
        "properties Azure would ignore"
    );

    // Restarted with nothing changed: zero ARM writes.
    operator.stop().expect("stop");
    tokio::time::sleep(Duration::from_millis(500)).await;
    mock.clear_journal().await.expect("journal");
    let mut operator = OperatorProcess::start(&options).expect("restart operator");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(operator.running(), "operator runs:\n{}", operator.log());
    assert_eq!(
        mock.writes().await.expect("journal"),
        0,
        "no writes after a restart with nothing changed:\n{}",
        operator.log()
    );
    // Its drift checks found nothing changed, and answered from the kept plan.
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let kept = metrics
        .lines()
        .find_map(|l| l.strip_prefix("aksnet_plans_total{answer=\"kept\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(kept.is_some_and(|k| k >= 1.0), "{metrics}");

    // A second replica waits while the first leads, and takes over when the leader stops.
    let mut standby_options = options.clone();
    standby_options.http_addr = format!("127.0.0.1:{}", free_port().expect("port"));
    standby_options.log = std::env::temp_dir().join(format!("aksnet-operator-{ns}-standby.log"));
    standby_options.extra = vec![
        "--leader-elect".into(),
        "--lease-namespace".into(),
        "aksnet-system".into(),
        "--lease-duration".into(),
        "4s".into(),
        "--identity".into(),
        format!("standby-{ns}"),
    ];
    let mut standby = OperatorProcess::start(&standby_options).expect("standby");
    eventually("the standby waiting", 30, || async {
        standby
            .log()
            .contains("another replica leads")
            .then_some(())
    })
    .await;
    operator.stop().expect("stop leader");
    eventually("the standby leading", 60, || async {
        standby.log().contains("leading").then_some(())
    })
    .await;
    services
        .create(
            &PostParams::default(),
            &lb_service("takeover", &class, 7100, json!({})),
        )
        .await
        .expect("takeover");
    eventually("takeover's IP from the new leader", 30, || {
        ingress_ip(&services, "takeover")
    })
    .await;
    delete_service(&services, "takeover").await;
    standby.stop().expect("stop standby");
    let mut operator = OperatorProcess::start(&options).expect("leader again");
    mock.clear_journal().await.expect("journal");

    // A Service that stops being a LoadBalancer is released: its rule goes, its ingress is
    // cleared and the finalizer removed, while the Service itself stays.
    services
        .create(
            &PostParams::default(),
            &lb_service("retype", &class, 7200, json!({})),
        )
        .await
        .expect("retype");
    eventually("retype's IP", 30, || ingress_ip(&services, "retype")).await;
    let to_cluster_ip = json!({"spec": {"type": "ClusterIP", "loadBalancerClass": null}});
    services
        .patch(
            "retype",
            &PatchParams::default(),
            &Patch::Merge(&to_cluster_ip),
        )
        .await
        .expect("type change");
    eventually("retype released", 30, || async {
        let svc = services.get("retype").await.ok()?;
        let finalized = svc
            .metadata
            .finalizers
            .unwrap_or_default()
            .iter()
            .any(|f| f.starts_with("aksnet.io/"));
        let ingress = svc
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .unwrap_or_default();
        (!finalized && ingress.is_empty()).then_some(())
    })
    .await;
    let lb = mock
        .get(&net_id("loadBalancers", "kubernetes"))
        .await
        .expect("LB");
    assert!(
        !lb["properties"]["loadBalancingRules"]
            .to_string()
            .contains("7200"),
        "retype's rule removed"
    );
    services
        .delete("retype", &DeleteParams::default())
        .await
        .expect("delete retype");

    // reconcile.policy observe: a new Service is planned and reported, and nothing is written.
    tokio::time::sleep(Duration::from_secs(1)).await;
    mock.clear_journal().await.expect("journal");
    let observe = json!({"spec": {"reconcile": {"policy": "observe"}}});
    networks
        .patch(
            &network_name,
            &PatchParams::default(),
            &Patch::Merge(&observe),
        )
        .await
        .expect("observe policy");
    eventually("the observe policy seen", 30, || async {
        let n = networks.get(&network_name).await.ok()?;
        (n.status?.observed_generation == n.metadata.generation).then_some(())
    })
    .await;
    services
        .create(
            &PostParams::default(),
            &lb_service("later", &class, 7000, json!({})),
        )
        .await
        .expect("later");
    let message = eventually("ObserveOnly reported", 30, || async {
        let n = networks.get(&network_name).await.ok()?;
        let c = n.status?.conditions.into_iter().find(|c| {
            c.type_ == "Reconciling" && c.status == "True" && c.reason == "ObserveOnly"
        })?;
        Some(c.message)
    })
    .await;
    assert!(message.contains("put loadBalancer kubernetes"), "{message}");
    assert_eq!(
        mock.writes().await.expect("journal"),
        0,
        "observe never writes"
    );
    let manage = json!({"spec": {"reconcile": {"policy": "manage"}}});
    networks
        .patch(
            &network_name,
            &PatchParams::default(),
            &Patch::Merge(&manage),
        )
        .await
        .expect("manage policy");
    eventually("later's IP once managed", 30, || {
        ingress_ip(&services, "later")
    })
    .await;
    services
        .delete("later", &DeleteParams::default())
        .await
        .expect("delete later");

    // A node leaves: its route goes.
    nodes
        .delete(&node_b, &DeleteParams::default())
        .await
        .expect("delete node");
    eventually("node b's route removed", 30, || async {
        let rt = mock.get(&net_id("routeTables", "aks-rt")).await.ok()?;
        (!rt["properties"]["routes"]
            .to_string()
            .contains("10.244.2.0/24"))
        .then_some(())
    })
    .await;

    // Deleting a Service removes its Azure objects, then the finalizer; the static IP stays.
    let web_pip: Vec<String> = {
        let list = mock.arm("GET", &format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPAddresses"), None).await.expect("pips");
        list["value"]
            .as_array()
            .expect("value")
            .iter()
            .filter(|p| p["tags"]["aksnet.io-service"] == format!("{ns}/web").as_str())
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(web_pip.len(), 1, "web's own PIP");
    delete_service(&services, "web").await;
    assert!(
        mock.get(&net_id("publicIPAddresses", &web_pip[0]))
            .await
            .is_err(),
        "web's PIP deleted\n{}",
        operator.log()
    );
    for name in ["inner", "local"] {
        services
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    services
        .delete("first", &DeleteParams::default())
        .await
        .expect("delete first");
    services
        .delete("second", &DeleteParams::default())
        .await
        .expect("delete second");
    let mut left = Vec::new();
    for _ in 0..150 {
        let l = services.list(&ListParams::default()).await.expect("list");
        left = l
            .items
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} {:?} {:?}",
                    s.metadata.name.clone().unwrap_or_default(),
                    s.metadata.finalizers,
                    s.metadata.deletion_timestamp,
                    s.spec.as_ref().map(|x| x.load_balancer_class.clone())
                )
            })
            .collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let net_status = networks
        .get(&network_name)
        .await
        .ok()
        .and_then(|n| n.status);
    assert!(
        left.is_empty(),
        "Services still there: {left:?}\n{net_status:#?}"
    );
    assert!(
        mock.get(&net_id("publicIPAddresses", "static-ip"))
            .await
            .is_ok(),
        "static IP kept"
    );

    // Deleting the AksNetwork cleans up what aksnet made and keeps what others own.
    networks
        .delete(&network_name, &DeleteParams::default())
        .await
        .expect("delete network");
    gone(&networks, &network_name, 60).await;
    let nsg = mock
        .get(&net_id("networkSecurityGroups", "aks-nsg"))
        .await
        .expect("nsg");
    let names: Vec<&str> = nsg["properties"]["securityRules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["allow-bastion"]);
    let rt = mock
        .get(&net_id("routeTables", "aks-rt"))
        .await
        .expect("rt");
    let names: Vec<&str> = rt["properties"]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["to-onprem"]);
    assert!(
        mock.get(&net_id("publicIPAddresses", "static-ip"))
            .await
            .is_ok(),
        "Retain keeps the static IP"
    );
    assert!(
        mock.get(&net_id("loadBalancers", "kubernetes"))
            .await
            .is_err(),
        "our LB is gone"
    );

    operator.stop().expect("stop");
    let _ = nodes.delete(&node_a, &DeleteParams::default()).await;
    assert_eq!(
        mock.ignored_properties().await.expect("journal"),
        Vec::<String>::new(),
        "properties Azure would ignore"
    );
    mock.stop().await;
}
