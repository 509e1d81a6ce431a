//! The Azure adapter against azure-mock with the real SDK: plan, diff and apply converge, keep
//! what others own, cost zero writes at steady state, and repair an out-of-band delete.

use std::sync::Arc;
use std::time::Duration;

use aksnet_e2e::azure::{CLIENT_ID, CLIENT_SECRET, MockAzure, TENANT};
use aksnet_operator::azure::{AzureClient, AzurePort, BudgetSettings, ObserveRequest, Settings};
use aksnet_operator::diff::diff;
use aksnet_operator::leader::Fence;
use aksnet_operator::metrics::{ArmCall, Metrics};
use aksnet_operator::model::Observed;
use aksnet_operator::plan::{Desired, Holds, Limits, PlanInput, plan};
use k8s_openapi::api::core::v1::{Node, Service};
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-00000000e2e1";
const RG: &str = "mc_e2e";

fn network() -> aksnet_crds::AksNetworkSpec {
    serde_json::from_value(json!({
        "clusterName": "e2e",
        "azure": {"subscriptionId": SUB, "resourceGroup": RG, "location": "westeurope", "vnet": {"name": "aks-vnet", "subnetName": "aks-subnet"}},
        "networkModel": "kubenet",
        "ipPlan": {"vnetCidrs": ["10.224.0.0/12"], "nodeSubnetCidr": "10.224.0.0/16", "podCidr": "10.244.0.0/16"},
        "securityGroup": {"name": "aks-nsg"},
        "routeTable": {"name": "aks-rt"}
    }))
    .expect("network")
}

fn service(name: &str, port: u16, annotations: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": name, "uid": format!("0000000{}-0000-0000-0000-00000000000{}", port % 10, port % 7), "creationTimestamp": "2026-01-01T00:00:00Z", "annotations": annotations},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "p", "port": port, "protocol": "TCP", "nodePort": 30000 + port}]}
    }))
    .expect("service")
}

fn node(i: u8) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("node-{i}")},
        "spec": {"podCIDR": format!("10.244.{i}.0/24")},
        "status": {"addresses": [{"type": "InternalIP", "address": format!("10.224.0.{}", 10 + i)}]}
    }))
    .expect("node")
}

fn observe_request() -> ObserveRequest {
    ObserveRequest {
        resource_group: RG.into(),
        public_ip_groups: vec![],
        load_balancers: vec!["kubernetes".into(), "kubernetes-internal".into()],
        security_group: Some("aks-nsg".into()),
        route_table: Some("aks-rt".into()),
        vnet: Some((RG.into(), "aks-vnet".into())),
        node_subnet: Some("aks-subnet".into()),
        nat_gateways: vec![format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/natGateways/{}",
            aksnet_operator::naming::Ownership::new(SUB, RG, "e2e").nat_gateway()
        )],
        private_link_groups: vec![RG.into()],
        ip_prefixes: Vec::new(),
        location: Some("westeurope".into()),
    }
}

/// Observe, plan, diff, apply until nothing is left; the number of operations applied.
async fn converge(
    azure: &AzureClient,
    services: &[Service],
    nodes: &[Node],
) -> (Observed, Desired, usize) {
    let net = network();
    let mut applied = 0;
    for _ in 0..4 {
        let observed = azure.observe(&observe_request()).await.expect("observe");
        let desired = plan(&PlanInput {
            network: &net,
            services,
            nodes,
            observed: &observed,
            load_balancer_class: "aksnet.io/azure",
            limits: Limits::default(),
            holds: &Holds::default(),
            namespace_labels: &Default::default(),
        });
        let ops = diff(&desired, &observed);
        if ops.is_empty() {
            return (observed, desired, applied);
        }
        for op in &ops {
            azure
                .apply(op)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", op.describe()));
        }
        applied += ops.len();
    }
    panic!("no convergence in 4 passes");
}

#[tokio::test]
async fn adapter_converges_keeps_foreign_objects_and_repairs_drift() {
    let mock = MockAzure::start(azure_mock::Config {
        operation_duration: Duration::from_millis(50),
        ..azure_mock::Config::default()
    })
    .await
    .expect("mock");
    mock.seed_cluster(SUB, RG).await.expect("seed");
    let url = azure_core::Url::parse(&mock.url()).expect("url");
    let credential = Arc::new(azure_identity::ClientSecretCredential::new(
        azure_core::new_http_client(),
        url.clone(),
        TENANT.into(),
        CLIENT_ID.into(),
        CLIENT_SECRET.into(),
    ));
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let settings = Settings {
        endpoint: url,
        subscription: SUB.into(),
        budget: BudgetSettings::default(),
        poll_interval: Duration::from_millis(50),
    };
    let azure = AzureClient::new(&settings, credential, metrics.clone(), Fence::unfenced())
        .expect("client");

    let services = [
        service("web", 80, json!({})),
        service(
            "api",
            443,
            json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
        ),
    ];
    let nodes = [node(1), node(2)];
    let (observed, desired, applied) = converge(&azure, &services, &nodes).await;
    assert!(applied >= 5, "PIPs, two LBs, NSG, route table: {applied}");
    assert!(desired.pending.is_empty());
    // The region's public IP quota is read with the rest (ARM's network usages).
    let quota = observed.public_ip_quota.expect("quota read");
    assert_eq!((quota.used, quota.limit), (observed.public_ips.len(), 1000));

    let public = observed.load_balancer("kubernetes").expect("public LB");
    assert_eq!(public.rules.len(), 1);
    assert_eq!(public.backend_pools[0].addresses.len(), 2);
    let internal = observed
        .load_balancer("kubernetes-internal")
        .expect("internal LB");
    assert!(
        internal.frontends[0].private_ip.is_some(),
        "Azure allocated a private IP"
    );
    let nsg = observed.security_group.as_ref().expect("nsg");
    assert!(
        nsg.rules
            .iter()
            .any(|r| r.name == "allow-bastion" && r.priority == 500),
        "foreign NSG rule kept"
    );
    assert_eq!(nsg.rules.len(), 3);
    let rt = observed.route_table.as_ref().expect("rt");
    assert!(
        rt.routes.iter().any(|r| r.name == "to-onprem"),
        "foreign route kept"
    );
    assert_eq!(rt.routes.len(), 3);

    assert_eq!(
        mock.ignored_properties().await.expect("journal"),
        Vec::<String>::new(),
        "every body the adapter wrote is read by Azure's definitions as sent"
    );

    // Steady state: nothing to write.
    mock.clear_journal().await.expect("journal");
    let (_, _, applied) = converge(&azure, &services, &nodes).await;
    assert_eq!(applied, 0);
    assert_eq!(
        mock.writes().await.expect("journal"),
        0,
        "zero ARM writes at steady state"
    );

    // Someone deletes our NSG rule: the next pass puts it back, and only it.
    let ours = nsg
        .rules
        .iter()
        .find(|r| r.name != "allow-bastion")
        .expect("our rule")
        .name
        .clone();
    let nsg_id = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkSecurityGroups/aks-nsg"
    );
    mock.remove_out_of_band(&format!("{nsg_id}/securityRules/{ours}"))
        .await
        .expect("out-of-band delete");
    let (observed, _, applied) = converge(&azure, &services, &nodes).await;
    assert_eq!(applied, 1, "one NSG write repairs it");
    assert!(
        observed
            .security_group
            .expect("nsg")
            .rules
            .iter()
            .any(|r| r.name == ours)
    );

    // Throttling and a transient 5xx: the SDK waits for Retry-After and retries; every call is
    // counted by status code.
    mock.set_faults(
        &json!({"throttleNext": 2, "retryAfterSeconds": 1, "errorNext": 1, "errorStatus": 503}),
    )
    .await
    .expect("faults");
    mock.remove_out_of_band(&format!("{nsg_id}/securityRules/{ours}"))
        .await
        .expect("out-of-band delete");
    let (_, _, applied) = converge(&azure, &services, &nodes).await;
    assert_eq!(applied, 1, "repaired despite 429s and a 503");
    let count = |code: &str| {
        ["networkSecurityGroups", "publicIPAddresses"]
            .iter()
            .map(|resource| {
                metrics
                    .arm_requests
                    .get_or_create(&ArmCall {
                        resource: (*resource).into(),
                        verb: "GET".into(),
                        code: code.into(),
                    })
                    .get()
            })
            .sum::<u64>()
    };
    assert!(
        count("429") >= 1 && count("200") > 0,
        "429s counted: {}",
        count("429")
    );

    // Services gone: our objects go, the foreign ones stay.
    let (observed, _, _) = converge(&azure, &[], &nodes).await;
    assert!(
        observed.load_balancer("kubernetes-internal").is_none(),
        "our empty internal LB is deleted"
    );
    assert!(
        observed
            .public_ips
            .iter()
            .all(|p| p.name.contains("outbound")),
        "only the outbound IP is left"
    );
    assert_eq!(observed.security_group.expect("nsg").rules.len(), 1);
    mock.stop().await;
}
