//! Egress through NAT gateways: the managed gateway and its subnet association, a gateway the
//! user assigned, and switches between outbound types that never leave the nodes without a
//! way out.

mod support;

use aksnet_core::diff::{Op, diff};
use aksnet_core::model::{NatGateway, Observed, Subnet};
use aksnet_core::naming::Ownership;
use aksnet_core::plan::teardown;
use aksnet_core::simulate;
use aksnet_crds::AksNetworkSpec;
use k8s_openapi::api::core::v1::{Node, Service};
use serde_json::json;
use support::*;

const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/mc_rg_aks_westeurope/providers/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-subnet";
const BYO: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/net-rg/providers/Microsoft.Network/natGateways/byo-natgw";

fn ownership() -> Ownership {
    let net = network();
    Ownership::new(
        &net.azure.subscription_id,
        &net.azure.resource_group,
        &net.cluster_name,
    )
}

/// The base state with the node subnet (on `nat_gateway`, if any).
fn with_subnet(nat_gateway: Option<&str>) -> Observed {
    Observed {
        node_subnet: Some(Subnet {
            id: SUBNET.into(),
            nat_gateway_id: nat_gateway.map(str::to_string),
            etag: Some("1".into()),
        }),
        ..observed_base()
    }
}

/// A NAT gateway someone else made in `net-rg`.
fn byo_gateway(subnets: Vec<String>) -> NatGateway {
    NatGateway {
        name: "byo-natgw".into(),
        resource_group: "net-rg".into(),
        location: "westeurope".into(),
        idle_timeout_minutes: 4,
        subnets,
        etag: Some("1".into()),
        ..Default::default()
    }
}

fn outbound(kind: &str) -> AksNetworkSpec {
    network_with(json!({"loadBalancer": {"outboundType": kind}}))
}

/// Whether the nodes have a way out in `state`: the subnet on a NAT gateway with public IPs,
/// or the public load balancer's outbound rule.
fn has_egress(state: &Observed) -> bool {
    let via_nat = state
        .node_subnet
        .as_ref()
        .and_then(|s| s.nat_gateway_id.as_deref())
        .and_then(|id| state.nat_gateways.iter().find(|g| g.is(id)))
        .is_some_and(|g| !g.public_ip_ids.is_empty());
    let via_lb = state
        .load_balancer("kubernetes")
        .is_some_and(|lb| lb.outbound_rules.iter().any(|r| !r.frontends.is_empty()));
    via_nat || via_lb
}

/// Apply one operation of each plan until none is left, as the engine would if public IPs
/// took long to create: the first shared write whose public IPs exist goes before any public
/// IP write. Every state in between must keep egress. The operations, described.
fn step(
    network: &AksNetworkSpec,
    services: &[Service],
    nodes: &[Node],
    state: &mut Observed,
) -> Vec<String> {
    let mut done = Vec::new();
    for _ in 0..40 {
        let desired = plan_with(network, services, nodes, state);
        let ops = diff(&desired, state);
        let ready = |op: &&Op| {
            !op.is_independent()
                && op
                    .public_ips_named()
                    .iter()
                    .all(|(rg, name)| state.public_ip(rg, name).is_some())
        };
        let Some(op) = ops.iter().find(ready).or(ops.first()).cloned() else {
            return done;
        };
        simulate::apply_op(state, &op).unwrap_or_else(|e| panic!("Azure refuses: {e}"));
        assert!(has_egress(state), "no egress after {}", op.describe());
        done.push(op.describe());
    }
    panic!("no end after 40 writes: {done:#?}");
}

/// The position of the write `what` in `done`.
fn at(done: &[String], what: &str) -> usize {
    done.iter()
        .position(|d| d == what)
        .unwrap_or_else(|| panic!("{what} not among {done:#?}"))
}

#[test]
fn a_switch_to_the_managed_nat_gateway_and_back_keeps_egress_all_the_way() {
    let o = ownership();
    let (gw, ip, out_ip) = (o.nat_gateway(), o.nat_gateway_ip(1), o.outbound_ip(1));
    let services = [service("web", 1, &[(80, 30080)])];
    let (mut state, _, _) = converge(&network(), &services, &nodes(2), with_subnet(None), 4);
    assert!(has_egress(&state));

    let nat = network_with(
        json!({"loadBalancer": {"outboundType": "managedNATGateway", "natGateway": {"managedOutboundIpCount": 2, "idleTimeoutMinutes": 10}}}),
    );
    let done = step(&nat, &services, &nodes(2), &mut state);
    // Its IPs, the gateway, the subnet on it; only then the outbound rule and its IP go.
    let gateway = at(&done, &format!("put natGateway {gw}"));
    assert!(at(&done, &format!("put publicIPAddress {ip}")) < gateway);
    let joined = at(&done, &format!("put subnet aks-subnet (natGateway {gw})"));
    let rule_gone = at(&done, "put loadBalancer kubernetes");
    let ip_gone = at(&done, &format!("delete publicIPAddress {out_ip}"));
    assert!(
        gateway < joined && joined < rule_gone && rule_gone < ip_gone,
        "{done:#?}"
    );
    let g = state.nat_gateway(RG, &gw).expect("gateway");
    assert_eq!((g.public_ip_ids.len(), g.idle_timeout_minutes), (2, 10));
    assert!(g.tags.contains_key(aksnet_core::naming::TAG_OWNER));
    let lb = state
        .load_balancer("kubernetes")
        .expect("the Service's LB stays");
    assert!(lb.outbound_rules.is_empty());
    assert!(!lb.rules[0].disable_outbound_snat);
    assert!(diff(&plan_with(&nat, &services, &nodes(2), &state), &state).is_empty());

    let done = step(&network(), &services, &nodes(2), &mut state);
    // The outbound rule first; the subnet leaves the gateway once Azure shows the rule; the
    // gateway, then its IPs, go last.
    let rule_back = at(&done, "put loadBalancer kubernetes");
    assert!(at(&done, &format!("put publicIPAddress {out_ip}")) < rule_back);
    let left = at(&done, "put subnet aks-subnet (natGateway none)");
    let gateway_gone = at(&done, &format!("delete natGateway {gw}"));
    let ip_gone = at(&done, &format!("delete publicIPAddress {ip}"));
    assert!(
        rule_back < left && left < gateway_gone && gateway_gone < ip_gone,
        "{done:#?}"
    );
    assert!(state.nat_gateways.is_empty());
    assert!(
        state
            .public_ips
            .iter()
            .all(|p| !o.is_outbound_ip(&p.name) || p.name == out_ip)
    );
}

#[test]
fn managed_gateway_settings_follow_the_spec_in_one_write() {
    let o = ownership();
    let nat = outbound("managedNATGateway");
    let (state, _, _) = converge(&nat, &[], &nodes(1), with_subnet(None), 6);
    let g = state.nat_gateway(RG, &o.nat_gateway()).expect("gateway");
    assert_eq!((g.public_ip_ids.len(), g.idle_timeout_minutes), (1, 4));
    assert!(
        state
            .node_subnet
            .as_ref()
            .expect("subnet")
            .has_nat_gateway(&g.id_in(SUB))
    );
    // No load balancer at all: no Service, and no outbound rule to hold.
    assert!(state.load_balancers.is_empty());

    let more = network_with(
        json!({"loadBalancer": {"outboundType": "managedNATGateway", "natGateway": {"managedOutboundIpCount": 3, "idleTimeoutMinutes": 30}}}),
    );
    let desired = plan_with(&more, &[], &nodes(1), &state);
    let ops: Vec<String> = diff(&desired, &state).iter().map(Op::describe).collect();
    assert_eq!(
        ops,
        [
            format!("put publicIPAddress {}", o.nat_gateway_ip(2)),
            format!("put publicIPAddress {}", o.nat_gateway_ip(3)),
            format!("put natGateway {}", o.nat_gateway()),
        ]
    );
}

#[test]
fn a_gateway_aksnet_does_not_own_is_never_replaced_on_the_subnet() {
    let mut start = with_subnet(Some(BYO));
    start.nat_gateways.push(byo_gateway(vec![SUBNET.into()]));
    let (state, desired, _) = converge(&outbound("managedNATGateway"), &[], &nodes(1), start, 6);
    assert!(
        state
            .node_subnet
            .as_ref()
            .expect("subnet")
            .has_nat_gateway(BYO),
        "the subnet keeps the gateway someone else associated"
    );
    let error = desired
        .errors
        .iter()
        .find(|e| e.object == "spec.loadBalancer.outboundType")
        .expect("the conflict is reported");
    assert!(error.problem.to_string().contains("byo-natgw"), "{error:?}");
}

#[test]
fn a_user_assigned_gateway_is_checked_and_never_written() {
    let user = network_with(
        json!({"loadBalancer": {"outboundType": "userAssignedNATGateway", "natGateway": {"id": BYO}}}),
    );
    let services = [service("web", 1, &[(80, 30080)])];
    // Egress through the load balancer while the user has not associated theirs.
    let (mut state, _, _) = converge(&network(), &services, &nodes(1), with_subnet(None), 4);
    state.nat_gateways.push(byo_gateway(Vec::new()));
    let (state, desired, _) = converge(&user, &services, &nodes(1), state, 4);
    assert!(
        has_egress(&state),
        "the outbound rule stays until the gateway is associated"
    );
    let error = desired
        .errors
        .iter()
        .find(|e| e.object == "spec.loadBalancer.natGateway.id")
        .expect("reported");
    assert!(
        error.problem.to_string().contains("not associated"),
        "{error:?}"
    );

    // The user associates it: the outbound rule goes, and nothing is written to the gateway
    // or the subnet.
    let mut state = state;
    state.node_subnet.as_mut().expect("subnet").nat_gateway_id = Some(BYO.into());
    state.nat_gateways[0].subnets.push(SUBNET.into());
    let desired = plan_with(&user, &services, &nodes(1), &state);
    assert!(desired.errors.is_empty(), "{:?}", desired.errors);
    let ops = diff(&desired, &state);
    assert!(
        ops.iter().all(|op| !matches!(
            op,
            Op::PutSubnet(_) | Op::PutNatGateway(_) | Op::DeleteNatGateway { .. }
        )),
        "{ops:#?}"
    );
    assert!(
        ops.iter()
            .any(|op| op.describe() == "put loadBalancer kubernetes")
    );

    // A gateway that does not exist is named in the error.
    let mut gone = state.clone();
    gone.nat_gateways.clear();
    let desired = plan_with(&user, &services, &nodes(1), &gone);
    assert!(
        desired
            .errors
            .iter()
            .any(|e| e.problem.to_string().contains("not found")),
        "{:?}",
        desired.errors
    );
}

#[test]
fn a_user_assigned_gateway_replaces_the_managed_one_only_once_the_user_associates_it() {
    let o = ownership();
    let (state, _, _) = converge(
        &outbound("managedNATGateway"),
        &[],
        &nodes(1),
        with_subnet(None),
        6,
    );
    let mut state = state;
    state.nat_gateways.push(byo_gateway(Vec::new()));
    let user = network_with(
        json!({"loadBalancer": {"outboundType": "userAssignedNATGateway", "natGateway": {"id": BYO}}}),
    );
    // Not associated yet: the managed gateway keeps the nodes' egress.
    let (state, _, _) = converge(&user, &[], &nodes(1), state, 4);
    assert!(state.nat_gateway(RG, &o.nat_gateway()).is_some());
    assert!(has_egress(&state));
    // The user puts theirs on the subnet: the managed one, then its IP, go.
    let mut state = state;
    simulate::apply_op(
        &mut state,
        &Op::PutSubnet(Subnet {
            id: SUBNET.into(),
            nat_gateway_id: Some(BYO.into()),
            etag: None,
        }),
    )
    .expect("the user's association");
    let (state, _, _) = converge(&user, &[], &nodes(1), state, 4);
    assert!(state.nat_gateway(RG, &o.nat_gateway()).is_none());
    assert!(state.public_ips.is_empty());
}

#[test]
fn deleting_the_network_takes_the_subnet_off_the_managed_gateway_then_deletes_it() {
    let o = ownership();
    let nat = outbound("managedNATGateway");
    let (mut state, _, _) = converge(&nat, &[], &nodes(1), with_subnet(None), 6);
    for _ in 0..4 {
        let ops = diff(&teardown(&nat, &state), &state);
        if ops.is_empty() {
            break;
        }
        simulate::apply(&mut state, &ops).expect("Azure accepts the teardown");
    }
    assert_eq!(
        state.node_subnet.as_ref().expect("subnet").nat_gateway_id,
        None
    );
    assert!(state.nat_gateway(RG, &o.nat_gateway()).is_none());
    assert!(state.public_ips.is_empty());
}

#[test]
fn a_node_subnet_the_vnet_lacks_is_reported_for_a_nat_gateway() {
    let mut start = observed_base();
    start.subnets = Some(Default::default());
    for net in [
        outbound("managedNATGateway"),
        network_with(
            json!({"loadBalancer": {"outboundType": "userAssignedNATGateway", "natGateway": {"id": BYO}}}),
        ),
    ] {
        let mut observed = start.clone();
        observed.nat_gateways.push(byo_gateway(Vec::new()));
        let desired = plan_with(&net, &[], &nodes(1), &observed);
        assert!(
            desired.errors.iter().any(|e| matches!(
                &e.problem,
                aksnet_core::problem::Problem::NotFound(m) if m.contains("node subnet aks-subnet")
            )),
            "{:?}",
            desired.errors
        );
        assert!(desired.subnet.is_none());
    }
}
