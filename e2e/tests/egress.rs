//! Egress through a NAT gateway: a cluster moved from the load balancer's outbound rule to a
//! managed NAT gateway and back, with azure-mock's journal showing the order of the writes.

use std::time::Duration;

use aksnet_e2e::scenario::{World, eventually, ingress_ip, lb_service};
use aksnet_operator::naming::Ownership;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000e2e15";
const RG: &str = "mc_egress_e2e";
/// A condition type another controller writes on the network.
const PEER_CONDITION: &str = "example.com/Audited";
/// The second scenario's own resource group (one AksNetwork per Azure network).
const RG_BYO: &str = "mc_egress_byo_e2e";

/// Whether azure-mock has the resource.
async fn exists(world: &World, id: &str) -> bool {
    world.mock.get(id).await.is_ok()
}

/// The node subnet's NAT gateway id, lower case.
async fn subnet_gateway(world: &World) -> Option<String> {
    let subnet = world
        .mock
        .get(&format!(
            "{}/subnets/aks-subnet",
            world.id("virtualNetworks", "aks-vnet")
        ))
        .await
        .ok()?;
    subnet["properties"]["natGateway"]["id"]
        .as_str()
        .map(str::to_ascii_lowercase)
}

/// How many outbound rules the public load balancer has.
async fn outbound_rules(world: &World) -> usize {
    let lb: Value = world
        .mock
        .get(&world.id("loadBalancers", "kubernetes"))
        .await
        .unwrap_or_default();
    lb["properties"]["outboundRules"]
        .as_array()
        .map_or(0, Vec::len)
}

/// The place in `writes` of the first `method` on a path ending with `suffix` (any case).
fn place(writes: &[(String, String)], method: &str, suffix: &str) -> usize {
    let suffix = suffix.to_ascii_lowercase();
    writes
        .iter()
        .position(|(m, p)| m == method && p.to_ascii_lowercase().ends_with(&suffix))
        .unwrap_or_else(|| panic!("no {method} …{suffix} among {writes:#?}"))
}

async fn set_outbound(world: &World, load_balancer: Value) {
    let networks: kube::Api<aksnet_crds::AksNetwork> = kube::Api::all(world.client.clone());
    networks
        .patch(
            &world.network,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"loadBalancer": load_balancer}})),
        )
        .await
        .expect("patch the outbound type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_moves_to_a_managed_nat_gateway_and_back_without_a_gap() {
    let world = World::start(
        "egress",
        azure_mock::Config {
            operation_duration: Duration::from_millis(100),
            ..azure_mock::Config::default()
        },
        (SUB, RG),
        &[("a", "10.224.15.4", "10.244.151.0/24")],
        json!({}),
    )
    .await;
    let o = Ownership::new(SUB, RG, "e2e");
    let (gateway, nat_ip, lb_ip) = (o.nat_gateway(), o.nat_gateway_ip(1), o.outbound_ip(1));
    world
        .services
        .create(
            &PostParams::default(),
            &lb_service("web", &world.class, 80, json!({})),
        )
        .await
        .expect("service");
    let address = eventually("web's address", 90, || ingress_ip(&world.services, "web")).await;
    eventually("the outbound rule", 60, || async {
        (outbound_rules(&world).await == 1).then_some(())
    })
    .await;

    // Onto the managed NAT gateway.
    world.mock.clear_journal().await.expect("clear");
    set_outbound(
        &world,
        json!({"outboundType": "managedNATGateway", "natGateway": {"managedOutboundIpCount": 2, "idleTimeoutMinutes": 10}}),
    )
    .await;
    let gateway_id = world.id("natGateways", &gateway).to_ascii_lowercase();
    eventually(
        "the subnet on the gateway, and the outbound rule gone",
        90,
        || async {
            let done = subnet_gateway(&world).await.as_deref() == Some(gateway_id.as_str())
                && outbound_rules(&world).await == 0
                && !exists(&world, &world.id("publicIPAddresses", &lb_ip)).await;
            done.then_some(())
        },
    )
    .await;
    let writes = world.mock.write_entries().await.expect("journal");
    let ip = place(&writes, "PUT", &format!("/publicIPAddresses/{nat_ip}"));
    let gw = place(&writes, "PUT", &format!("/natGateways/{gateway}"));
    let joined = place(&writes, "PUT", "/subnets/aks-subnet");
    let rule_gone = place(&writes, "PUT", "/loadBalancers/kubernetes");
    let ip_gone = place(&writes, "DELETE", &format!("/publicIPAddresses/{lb_ip}"));
    assert!(
        ip < gw && gw < joined && joined < rule_gone && rule_gone < ip_gone,
        "IPs, gateway, subnet, then the outbound rule and its IP: {writes:#?}"
    );
    let g = world
        .mock
        .get(&world.id("natGateways", &gateway))
        .await
        .expect("gateway");
    assert_eq!(g["properties"]["idleTimeoutInMinutes"], 10);
    assert_eq!(
        g["properties"]["publicIpAddresses"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(g["tags"]["aksnet.io-owner"], o.prefix());
    assert_eq!(
        ingress_ip(&world.services, "web").await.as_deref(),
        Some(address.as_str()),
        "the Service keeps its address"
    );
    // The network's status names the gateway its nodes go out through.
    eventually("status.azure.natGatewayId", 30, || async {
        let networks: kube::Api<aksnet_crds::AksNetwork> = kube::Api::all(world.client.clone());
        let azure = networks.get(&world.network).await.ok()?.status?.azure?;
        let subnet = azure.subnet_id?.to_ascii_lowercase();
        (azure.nat_gateway_id?.to_ascii_lowercase() == gateway_id
            && subnet.ends_with("/virtualnetworks/aks-vnet/subnets/aks-subnet")
            && azure.public_load_balancer_id.is_some())
        .then_some(())
    })
    .await;
    // Settled: no more writes.
    world.mock.clear_journal().await.expect("clear");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(world.mock.write_entries().await.expect("journal"), vec![]);

    // A peer writes a condition of its own on the network with a merge patch, which replaces
    // the whole list (aksnet's conditions gone).
    let networks: kube::Api<aksnet_crds::AksNetwork> = kube::Api::all(world.client.clone());
    let peer = json!({"status": {"conditions": [{
        "type": PEER_CONDITION, "status": "True", "reason": "Audited",
        "message": "a peer was here", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    networks
        .patch_status(
            &world.network,
            &PatchParams::default(),
            &Patch::Merge(&peer),
        )
        .await
        .expect("peer's write");

    // Back to the load balancer's outbound rule.
    set_outbound(
        &world,
        json!({"outboundType": "loadBalancer", "natGateway": null}),
    )
    .await;
    eventually("the gateway and its IPs gone", 90, || async {
        let mut done = subnet_gateway(&world).await.is_none()
            && outbound_rules(&world).await == 1
            && !exists(&world, &world.id("natGateways", &gateway)).await;
        for n in 1..=2 {
            done &= !exists(&world, &world.id("publicIPAddresses", &o.nat_gateway_ip(n))).await;
        }
        done.then_some(())
    })
    .await;
    let writes = world.mock.write_entries().await.expect("journal");
    let ip = place(&writes, "PUT", &format!("/publicIPAddresses/{lb_ip}"));
    let rule_back = place(&writes, "PUT", "/loadBalancers/kubernetes");
    let left = place(&writes, "PUT", "/subnets/aks-subnet");
    let gw_gone = place(&writes, "DELETE", &format!("/natGateways/{gateway}"));
    let ip_gone = place(&writes, "DELETE", &format!("/publicIPAddresses/{nat_ip}"));
    assert!(
        ip < rule_back && rule_back < left && left < gw_gone && gw_gone < ip_gone,
        "outbound IP and rule, then the subnet leaves, then the gateway and its IPs go: {writes:#?}"
    );
    assert_eq!(
        writes
            .iter()
            .filter(|(m, p)| m == "PUT"
                && p.to_ascii_lowercase()
                    .ends_with("/loadbalancers/kubernetes"))
            .count(),
        1,
        "one load balancer write brings the rule back: {writes:#?}"
    );
    // The network's status no longer names the gateway (a field left out of aksnet's status
    // is removed), its conditions are back, and the peer's condition stayed.
    eventually(
        "status without the gateway, with both writers' conditions",
        30,
        || async {
            let status = networks.get(&world.network).await.ok()?.status?;
            let azure = status.azure?;
            let has = |t: &str| status.conditions.iter().any(|c| c.type_ == t);
            (azure.nat_gateway_id.is_none()
                && azure.public_load_balancer_id.is_some()
                && has("Ready")
                && has(PEER_CONDITION))
            .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_assigned_gateway_is_waited_for_and_never_written() {
    let world = World::start(
        "egress-byo",
        azure_mock::Config {
            operation_duration: Duration::from_millis(50),
            ..azure_mock::Config::default()
        },
        (SUB, RG_BYO),
        &[("a", "10.224.15.5", "10.244.152.0/24")],
        json!({}),
    )
    .await;
    eventually("the outbound rule", 60, || async {
        (outbound_rules(&world).await == 1).then_some(())
    })
    .await;
    let byo = world.id("natGateways", "byo-natgw");
    set_outbound(
        &world,
        json!({"outboundType": "userAssignedNATGateway", "natGateway": {"id": byo}}),
    )
    .await;
    // Not there: the network is Stalled, saying why, and egress stays on the outbound rule.
    let (_, _, message) = eventually("Stalled on the missing gateway", 60, || async {
        world
            .network_condition("Stalled")
            .await
            .filter(|(status, reason, _)| status == "True" && reason == "EgressNotReady")
    })
    .await;
    assert!(
        message.contains("byo-natgw") && message.contains("not found"),
        "{message}"
    );
    assert_eq!(outbound_rules(&world).await, 1);

    // The user makes it and associates it with the node subnet.
    let ip = world.id("publicIPAddresses", "byo-natgw-ip");
    world
        .mock
        .arm(
            "PUT",
            &ip,
            Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})),
        )
        .await
        .expect("the user's IP");
    world
        .mock
        .arm(
            "PUT",
            &byo,
            Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIpAddresses": [{"id": ip}]}})),
        )
        .await
        .expect("the user's gateway");
    let subnet_id = format!(
        "{}/subnets/aks-subnet",
        world.id("virtualNetworks", "aks-vnet")
    );
    let mut subnet = world.mock.get(&subnet_id).await.expect("subnet");
    subnet["properties"]["natGateway"] = json!({"id": byo});
    world
        .mock
        .arm("PUT", &subnet_id, Some(subnet))
        .await
        .expect("the user's association");
    world.mock.clear_journal().await.expect("clear");
    eventually("Ready once the gateway is associated", 60, || async {
        world
            .network_condition("Ready")
            .await
            .filter(|(status, _, _)| status == "True")
    })
    .await;
    eventually("the outbound rule gone", 30, || async {
        (outbound_rules(&world).await == 0).then_some(())
    })
    .await;
    let writes = world.mock.write_entries().await.expect("journal");
    assert!(
        writes.iter().all(|(_, p)| {
            let p = p.to_ascii_lowercase();
            !p.contains("/natgateways/") && !p.contains("/subnets/")
        }),
        "aksnet wrote to the user's gateway or subnet: {writes:#?}"
    );
    assert_eq!(subnet_gateway(&world).await, Some(byo.to_ascii_lowercase()));
}
