//! Builders of AksNetwork specs, Services, Nodes and observed Azure state for the planning
//! core's tests and benchmark.
#![allow(dead_code)]

pub mod worlds;

use std::collections::BTreeMap;

use aksnet_core::diff::{Op, diff};
use aksnet_core::model::{
    Access, Direction, Observed, Route, RouteTable, SecurityGroup, SecurityRule,
};
use aksnet_core::plan::{Desired, Holds, Limits, PlanInput, plan};
use aksnet_crds::AksNetworkSpec;
use k8s_openapi::api::core::v1::{Node, Service};
use serde_json::json;

/// Subscription of the fixtures.
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
/// Node resource group of the fixtures.
pub const RG: &str = "mc_rg_aks_westeurope";
/// The LB class.
pub const CLASS: &str = "aksnet.io/azure";

/// A kubenet AksNetwork with an NSG and a route table.
pub fn network() -> AksNetworkSpec {
    serde_json::from_value(json!({
        "clusterName": "aks",
        "azure": {
            "subscriptionId": SUB,
            "resourceGroup": RG,
            "location": "westeurope",
            "vnet": {"name": "aks-vnet", "subnetName": "aks-subnet"}
        },
        "networkModel": "kubenet",
        "ipPlan": {"vnetCidrs": ["10.224.0.0/12"], "nodeSubnetCidr": "10.224.0.0/16", "podCidr": "10.244.0.0/16"},
        "securityGroup": {"name": "aks-nsg"},
        "routeTable": {"name": "aks-rt"}
    }))
    .expect("fixture network")
}

/// Change a network through its JSON form.
pub fn network_with(patch: serde_json::Value) -> AksNetworkSpec {
    let mut v = serde_json::to_value(network()).expect("to json");
    merge(&mut v, patch);
    serde_json::from_value(v).expect("patched network")
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (a, b) => *a = b,
    }
}

/// A LoadBalancer Service with TCP ports `(port, nodePort)`, created at second `created`.
pub fn service(name: &str, created: i64, ports: &[(u16, u16)]) -> Service {
    let ports: Vec<_> = ports
        .iter()
        .map(|(p, n)| json!({"name": format!("p{p}"), "port": p, "protocol": "TCP", "nodePort": n}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {
            "namespace": "default",
            "name": name,
            "uid": uid(name),
            "creationTimestamp": format!("2026-01-01T00:{:02}:{:02}Z", created / 60 % 60, created % 60),
        },
        "spec": {"type": "LoadBalancer", "ports": ports}
    }))
    .expect("fixture service")
}

/// The benchmarks' Services: `n` LoadBalancer Services with two ports each (80 and 443),
/// created one second apart.
pub fn bench_services(n: usize) -> Vec<Service> {
    (0..n)
        .map(|i| {
            service(
                &format!("svc-{i:05}"),
                i as i64,
                &[
                    (80, 30000 + (i % 2000) as u16),
                    (443, 32000 + (i % 700) as u16),
                ],
            )
        })
        .collect()
}

/// The benchmarks' network of several load balancers: Azure CNI, no route table, no NSG (one
/// NSG admits at most 4,000 destination addresses), up to 20 public load balancers.
pub fn several_lbs_network() -> AksNetworkSpec {
    network_with(json!({
        "networkModel": "azureCni", "ipPlan": {"podCidr": null}, "routeTable": null,
        "securityGroup": null, "loadBalancer": {"maxCount": 20}
    }))
}

/// Change a Service through its JSON form.
pub fn with(svc: Service, patch: serde_json::Value) -> Service {
    let mut v = serde_json::to_value(svc).expect("to json");
    merge(&mut v, patch);
    serde_json::from_value(v).expect("patched service")
}

/// A Service with one annotation.
pub fn annotated(svc: Service, key: &str, value: &str) -> Service {
    with(svc, json!({"metadata": {"annotations": {key: value}}}))
}

/// A deterministic UID for a name.
pub fn uid(name: &str) -> String {
    let h = aksnet_core::naming::short_hash(name, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A node with an InternalIP and a pod CIDR.
pub fn node(name: &str, ip: &str, pod_cidr: Option<&str>) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": pod_cidr.map(|c| vec![c])},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}
    }))
    .expect("fixture node")
}

/// `n` nodes 10.224.x.y with pod CIDRs 10.244.i.0/24.
pub fn nodes(n: usize) -> Vec<Node> {
    (0..n)
        .map(|i| {
            node(
                &format!("aks-np-{i:05}"),
                &format!("10.224.{}.{}", 1 + i / 250, 4 + i % 250),
                Some(&format!("10.{}.{}.0/24", 244 + i / 256, i % 256)),
            )
        })
        .collect()
}

/// An observed NSG with one rule that is not ours, and an empty route table with a foreign route.
pub fn observed_base() -> Observed {
    Observed {
        security_group: Some(SecurityGroup {
            name: "aks-nsg".into(),
            resource_group: RG.into(),
            location: "westeurope".into(),
            rules: vec![foreign_rule("allow-bastion", 500)],
            etag: Some("1".into()),
            ..Default::default()
        }),
        route_table: Some(RouteTable {
            name: "aks-rt".into(),
            resource_group: RG.into(),
            location: "westeurope".into(),
            routes: vec![Route {
                name: "to-onprem".into(),
                address_prefix: "192.168.0.0/16".into(),
                next_hop_type: "VirtualNetworkGateway".into(),
                next_hop_ip: None,
            }],
            etag: Some("1".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An inbound NSG rule someone else owns.
pub fn foreign_rule(name: &str, priority: u32) -> SecurityRule {
    SecurityRule {
        name: name.into(),
        priority,
        direction: Direction::Inbound,
        access: Access::Allow,
        protocol: "Tcp".into(),
        sources: vec!["10.1.0.0/16".into()],
        source_ports: vec!["*".into()],
        destinations: vec!["*".into()],
        destination_ports: vec!["22".into()],
        description: None,
    }
}

/// Plan with the default class and limits.
pub fn plan_with(
    network: &AksNetworkSpec,
    services: &[Service],
    nodes: &[Node],
    observed: &Observed,
) -> Desired {
    plan_limited(network, services, nodes, observed, Limits::default())
}

/// [`plan_with`] under other limits.
pub fn plan_limited(
    network: &AksNetworkSpec,
    services: &[Service],
    nodes: &[Node],
    observed: &Observed,
    limits: Limits,
) -> Desired {
    plan(&PlanInput {
        network,
        services,
        nodes,
        observed,
        load_balancer_class: CLASS,
        limits,
        holds: &Holds::default(),
        namespace_labels: &Default::default(),
    })
}

/// Plan, diff, apply until no operation is left (at most `rounds` rounds); the final state.
pub fn converge(
    network: &AksNetworkSpec,
    services: &[Service],
    nodes: &[Node],
    mut observed: Observed,
    rounds: usize,
) -> (Observed, Desired, usize) {
    for round in 0..rounds {
        let desired = plan_with(network, services, nodes, &observed);
        let ops = diff(&desired, &observed);
        if ops.is_empty() {
            return (observed, desired, round);
        }
        aksnet_core::simulate::apply(&mut observed, &ops).expect("Azure accepts the operations");
    }
    let desired = plan_with(network, services, nodes, &observed);
    let left: Vec<Op> = diff(&desired, &observed);
    assert!(
        left.is_empty(),
        "not converged after {rounds} rounds: {left:#?}"
    );
    (observed, desired, rounds)
}

/// Annotations as a map.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A public IP someone else made (no tags).
pub fn byo_ip(name: &str, rg: &str, address: &str) -> aksnet_core::model::PublicIp {
    aksnet_core::model::PublicIp {
        name: name.into(),
        resource_group: rg.into(),
        location: "westeurope".into(),
        family: aksnet_core::model::Family::V4,
        zones: vec![],
        dns_label: None,
        prefix_id: None,
        ip_tags: Vec::new(),
        tags: Default::default(),
        address: Some(address.into()),
        used_by: None,
        etag: Some("1".into()),
    }
}

/// The NSG rules aksnet made for Service `default/<svc>` (found by their description).
pub fn service_rules<'a>(
    state: &'a Observed,
    svc: &str,
) -> Vec<&'a aksnet_core::model::SecurityRule> {
    let desc = format!("aksnet: default/{svc}");
    state
        .security_group
        .as_ref()
        .map(|n| {
            n.rules
                .iter()
                .filter(|r| r.description.as_deref() == Some(&desc))
                .collect()
        })
        .unwrap_or_default()
}

/// The rejection errors of Service `default/<name>`, as (field, problem); panics when it is
/// not rejected.
pub fn rejected(d: &Desired, name: &str) -> Vec<(String, aksnet_core::problem::Problem)> {
    match d.services.get(&format!("default/{name}")) {
        Some(aksnet_core::plan::ServiceOutcome::Rejected { errors }) => errors
            .iter()
            .map(|e| (e.field.clone(), e.problem.clone()))
            .collect(),
        other => panic!("{name} should be rejected, is {other:?}"),
    }
}
