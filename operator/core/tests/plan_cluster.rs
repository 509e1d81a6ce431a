//! Cluster-wide planning: backend pools, kubenet routes and UDRs, NSG priorities, outbound,
//! limits, and the diff's safety rules around what others own.

mod support;

use std::collections::BTreeMap;

use aksnet_core::diff::{Op, diff};
use aksnet_core::model::{
    Distribution, Frontend, FrontendTarget, LbRule, LoadBalancer, Observed, Protocol, Quota,
};
use aksnet_core::naming::{TAG_DELETION_POLICY, TAG_SERVICE};
use aksnet_core::plan::{EXCLUDE_LABEL, Holds, Limits, PlanInput, ServiceOutcome, plan};
use aksnet_core::problem::{Problem, ServiceError};
use serde_json::json;
use support::*;

fn lb<'a>(state: &'a Observed, name: &str) -> &'a LoadBalancer {
    state.load_balancer(name).expect("load balancer exists")
}

fn pool_ips(state: &Observed) -> Vec<String> {
    let lb = lb(state, "kubernetes");
    let pool = lb
        .backend_pools
        .iter()
        .find(|p| p.name.ends_with("-nodes"))
        .expect("pool");
    pool.addresses.iter().map(|a| a.ip.clone()).collect()
}

#[test]
fn backend_pool_follows_nodes() {
    let svc = [service("web", 1, &[(80, 30080)])];
    let mut ns = nodes(3);
    let (state, _, _) = converge(&network(), &svc, &ns, observed_base(), 4);
    assert_eq!(
        pool_ips(&state),
        vec!["10.224.1.4", "10.224.1.5", "10.224.1.6"]
    );

    ns[0] = with_node_label(ns[0].clone(), EXCLUDE_LABEL, "");
    ns[1] = with_node_label(ns[1].clone(), "node-role.kubernetes.io/control-plane", "");
    ns.push(node("aks-np-new", "10.224.9.9", Some("10.250.0.0/24")));
    let (state, _, _) = converge(&network(), &svc, &ns, state, 4);
    assert_eq!(pool_ips(&state), vec!["10.224.1.6", "10.224.9.9"]);

    ns[0] = with_node_label(ns[0].clone(), EXCLUDE_LABEL, "false");
    ns.pop();
    let (state, _, _) = converge(&network(), &svc, &ns, state, 4);
    assert_eq!(
        pool_ips(&state),
        vec!["10.224.1.4", "10.224.1.6"],
        "exclude label with value false does not exclude"
    );
}

fn with_node_label(
    n: k8s_openapi::api::core::v1::Node,
    k: &str,
    v: &str,
) -> k8s_openapi::api::core::v1::Node {
    let mut n = n;
    n.metadata
        .labels
        .get_or_insert_default()
        .insert(k.into(), v.into());
    n
}

#[test]
fn kubenet_routes_and_udrs_next_to_foreign_routes() {
    let net = network_with(
        json!({"routeTable": {"routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}}),
    );
    let (state, d, _) = converge(&net, &[], &nodes(3), observed_base(), 4);
    let rt = state.route_table.as_ref().unwrap();
    assert!(
        rt.routes.iter().any(|r| r.name == "to-onprem"),
        "foreign route survives"
    );
    let egress = rt
        .routes
        .iter()
        .find(|r| r.address_prefix == "0.0.0.0/0")
        .unwrap();
    assert_eq!(egress.name, d.ownership.spec_child("egress"));
    let pod: Vec<_> = rt
        .routes
        .iter()
        .filter(|r| r.name.contains("-pod-"))
        .collect();
    assert_eq!(pod.len(), 3);
    assert!(pod.iter().any(|r| r.address_prefix == "10.244.1.0/24"
        && r.next_hop_ip.as_deref() == Some("10.224.1.5")
        && r.next_hop_type == "VirtualAppliance"));

    // A node leaves; its route goes, the rest stays.
    let (state, _, _) = converge(&net, &[], &nodes(2), state, 4);
    assert_eq!(state.route_table.as_ref().unwrap().routes.len(), 1 + 1 + 2);
    // syncNodeRoutes false: only the UDR and the foreign route remain.
    let no_sync = network_with(
        json!({"routeTable": {"syncNodeRoutes": false, "routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}}),
    );
    let (state, _, _) = converge(&no_sync, &[], &nodes(2), state, 4);
    assert_eq!(state.route_table.as_ref().unwrap().routes.len(), 2);
}

#[test]
fn a_pod_cidr_routed_already_is_left_out_with_an_error() {
    let net = network_with(
        json!({"routeTable": {"routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}}),
    );
    let mut nodes = nodes(2);
    // A node that claims another's pod CIDR, and one that claims the egress route's prefix.
    nodes.push(node("aks-np-zz-copy", "10.224.9.4", Some("10.244.0.0/24")));
    nodes.push(node("aks-np-zz-default", "10.224.9.5", Some("0.0.0.0/0")));
    let (state, d, _) = converge(&net, &[], &nodes, observed_base(), 4);
    let rt = state.route_table.as_ref().expect("route table");
    let prefixes: Vec<&str> = rt
        .routes
        .iter()
        .map(|r| r.address_prefix.as_str())
        .collect();
    let mut unique = prefixes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        prefixes.len(),
        "one route per prefix: {prefixes:?}"
    );
    let egress = rt
        .routes
        .iter()
        .find(|r| r.address_prefix == "0.0.0.0/0")
        .expect("egress");
    assert_eq!(
        egress.next_hop_ip.as_deref(),
        Some("10.225.0.4"),
        "the spec route keeps 0.0.0.0/0"
    );
    for node in ["aks-np-zz-copy", "aks-np-zz-default"] {
        assert!(
            d.errors
                .iter()
                .any(|e| e.object == format!("node {node}")
                    && matches!(e.problem, Problem::Conflict(_))),
            "{node}: {:?}",
            d.errors
        );
    }
}

#[test]
fn route_limit_leaves_later_nodes_out_with_an_error() {
    let limits = Limits {
        routes_per_table: 3,
        ..Limits::default()
    };
    let net = network();
    let observed = observed_base();
    let ns = nodes(4);
    let d = plan(&PlanInput {
        network: &net,
        services: &[],
        nodes: &ns,
        observed: &observed,
        load_balancer_class: CLASS,
        limits,
        holds: &Holds::default(),
        namespace_labels: &Default::default(),
    });
    assert_eq!(
        d.route_table.as_ref().unwrap().routes.len(),
        2,
        "3 minus the foreign one"
    );
    let errs: Vec<_> = d
        .errors
        .iter()
        .filter(|e| matches!(e.problem, Problem::Limit { limit: 3, .. }))
        .map(|e| e.object.as_str())
        .collect();
    assert_eq!(errs, vec!["node aks-np-00002", "node aks-np-00003"]);
}

#[test]
fn nodes_without_matching_address_are_reported() {
    let n = node("odd", "fd00::5", Some("10.244.7.0/24"));
    let d = plan_with(&network(), &[], &[n], &observed_base());
    assert!(d.errors.iter().any(|e| e.object == "node odd"
        && matches!(&e.problem, Problem::InvalidValue(m) if m.contains("no IPv4 InternalIP"))));
}

#[test]
fn nsg_custom_rules_and_stable_priorities() {
    let net = network_with(
        json!({"securityGroup": {"rules": [{"name": "deny-telnet", "priority": 200, "direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefixes": ["*"], "destinationAddressPrefixes": ["*"], "destinationPortRanges": ["23"]}]}}),
    );
    let svcs = [
        service("one", 1, &[(80, 30080)]),
        service("two", 2, &[(81, 30081)]),
    ];
    let (state, d, _) = converge(&net, &svcs, &nodes(2), observed_base(), 4);
    let nsg = state.security_group.as_ref().unwrap();
    assert!(
        nsg.rules
            .iter()
            .any(|r| r.name == "allow-bastion" && r.priority == 500),
        "foreign rule untouched"
    );
    assert!(
        nsg.rules
            .iter()
            .any(|r| r.name == d.ownership.spec_child("deny-telnet") && r.priority == 200)
    );
    let prio = |state: &Observed, svc: &str| service_rules(state, svc).first().map(|r| r.priority);
    assert_eq!(
        (prio(&state, "one"), prio(&state, "two")),
        (Some(501), Some(502)),
        "500 is taken by a rule we do not own"
    );
    // "one" goes away: "two" keeps its priority; a new Service takes the free one.
    let svcs = [
        service("two", 2, &[(81, 30081)]),
        service("three", 3, &[(82, 30082)]),
    ];
    let (state, _, _) = converge(&net, &svcs, &nodes(2), state, 4);
    assert_eq!(
        (
            prio(&state, "two"),
            prio(&state, "three"),
            prio(&state, "one")
        ),
        (Some(502), Some(501), None)
    );
}

#[test]
fn nsg_priority_range_exhausted() {
    let net = network_with(
        json!({"securityGroup": {"servicePriorityRange": {"start": 500, "end": 501}}}),
    );
    let svcs = [
        service("one", 1, &[(80, 30080)]),
        service("two", 2, &[(81, 30081)]),
    ];
    let (_, d, _) = converge(&net, &svcs, &nodes(1), observed_base(), 4);
    assert!(matches!(
        &d.services["default/one"],
        ServiceOutcome::Planned { .. }
    ));
    assert!(
        matches!(&d.services["default/two"], ServiceOutcome::Rejected { errors } if matches!(errors[0].problem, Problem::Limit { .. }))
    );
}

#[test]
fn frontend_limit_rejects_later_services_only() {
    let limits = Limits {
        frontends_per_load_balancer: 2,
        ..Limits::default()
    };
    let net = network_with(
        json!({"loadBalancer": {"outboundType": "userDefinedRouting"}, "routeTable": {"routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}}),
    );
    let svcs: Vec<_> = (0..3)
        .map(|i| service(&format!("s{i}"), i, &[(80 + i as u16, 30080 + i as u16)]))
        .collect();
    let ns = nodes(1);
    let d = settled(&net, &svcs, &ns, limits);
    assert!(matches!(
        &d.services["default/s0"],
        ServiceOutcome::Planned { .. }
    ));
    assert!(matches!(
        &d.services["default/s1"],
        ServiceOutcome::Planned { .. }
    ));
    assert!(
        matches!(&d.services["default/s2"], ServiceOutcome::Rejected { errors } if matches!(errors[0].problem, Problem::Limit { limit: 2, .. }))
    );
}

#[test]
fn outbound_rule_and_its_public_ips() {
    let net = network_with(
        json!({"loadBalancer": {"outbound": {"managedOutboundIpCount": 2, "idleTimeoutMinutes": 10}}}),
    );
    let (state, d, _) = converge(&net, &[], &nodes(2), observed_base(), 4);
    let public = lb(&state, "kubernetes");
    assert_eq!(public.outbound_rules.len(), 1);
    assert_eq!(public.outbound_rules[0].frontends.len(), 2);
    assert_eq!(public.outbound_rules[0].idle_timeout_minutes, 10);
    assert_eq!(state.public_ips.len(), 2);
    // Down to one IP: the LB drops the frontend first, then the IP is deleted.
    let one = network_with(json!({"loadBalancer": {"outbound": {"managedOutboundIpCount": 1}}}));
    let desired = plan_with(&one, &[], &nodes(2), &state);
    let ops = diff(&desired, &state);
    let kinds: Vec<_> = ops.iter().map(Op::describe).collect();
    assert_eq!(
        kinds,
        vec![
            "put loadBalancer kubernetes".to_string(),
            format!("delete publicIPAddress {}", d.ownership.child("outbound-2"))
        ]
    );
    // userDefinedRouting: no outbound rule; the LB (ours, now empty) is deleted with its IPs.
    let udr = network_with(
        json!({"loadBalancer": {"outboundType": "userDefinedRouting"}, "routeTable": {"routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}}),
    );
    let (state, _, _) = converge(&udr, &[], &nodes(2), state, 4);
    assert!(state.load_balancer("kubernetes").is_none());
    assert!(state.public_ips.is_empty());
    let (state, _, _) = converge(
        &udr,
        &[service("web", 1, &[(80, 30080)])],
        &nodes(2),
        state,
        4,
    );
    assert!(!lb(&state, "kubernetes").rules[0].disable_outbound_snat);
}

/// A load balancer someone else made, with a frontend and rule of theirs.
fn foreign_lb() -> LoadBalancer {
    LoadBalancer {
        name: "kubernetes".into(),
        resource_group: RG.into(),
        location: "westeurope".into(),
        frontends: vec![Frontend {
            name: "theirs".into(),
            target: FrontendTarget::Private {
                subnet_id: "/x/subnets/s".into(),
                static_ip: Some("10.224.0.9".into()),
                family: aksnet_core::model::Family::V4,
            },
            private_ip: Some("10.224.0.9".into()),
        }],
        backend_pools: vec![aksnet_core::model::BackendPool {
            name: "their-pool".into(),
            addresses: Vec::new().into(),
        }],
        rules: vec![LbRule {
            name: "their-rule".into(),
            frontend: "theirs".into(),
            backend_pool: "their-pool".into(),
            probe: None,
            protocol: Protocol::Tcp,
            frontend_port: 22,
            backend_port: 22,
            idle_timeout_minutes: 4,
            floating_ip: false,
            tcp_reset: true,
            distribution: Distribution::Default,
            disable_outbound_snat: false,
        }],
        etag: Some("7".into()),
        ..Default::default()
    }
}

#[test]
fn foreign_load_balancer_children_survive_and_it_is_never_deleted() {
    let mut observed = observed_base();
    observed.load_balancers.push(foreign_lb());
    let (state, _, _) = converge(
        &network(),
        &[service("web", 1, &[(80, 30080)])],
        &nodes(2),
        observed,
        4,
    );
    let public = lb(&state, "kubernetes");
    assert!(public.rules.iter().any(|r| r.name == "their-rule"));
    assert!(public.frontends.iter().any(|f| f.name == "theirs"));
    assert!(
        public.tags.is_empty(),
        "we do not tag what we did not create"
    );
    // Everything of ours goes: the LB stays with their children.
    let udr = network_with(
        json!({"loadBalancer": {"outboundType": "userDefinedRouting"}, "routeTable": {"routes": [{"name": "egress", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.225.0.4"}]}}),
    );
    let (state, _, _) = converge(&udr, &[], &nodes(2), state, 4);
    let public = lb(&state, "kubernetes");
    assert_eq!(public.rules.len(), 1);
    assert_eq!(public.frontends.len(), 1);
    assert_eq!(public.backend_pools.len(), 1);
}

#[test]
fn service_deletion_removes_its_objects_in_order() {
    let svcs = [
        service("web", 1, &[(80, 30080)]),
        service("api", 2, &[(81, 30081)]),
    ];
    let (state, _, _) = converge(&network(), &svcs, &nodes(2), observed_base(), 4);
    let web_pip = state
        .public_ips
        .iter()
        .find(|p| p.tags.get(TAG_SERVICE).map(String::as_str) == Some("default/web"))
        .unwrap()
        .name
        .clone();
    let desired = plan_with(&network(), &svcs[1..], &nodes(2), &state);
    let ops = diff(&desired, &state);
    let kinds: Vec<_> = ops.iter().map(Op::describe).collect();
    assert_eq!(
        kinds,
        vec![
            "put loadBalancer kubernetes".to_string(),
            "put networkSecurityGroup aks-nsg".into(),
            format!("delete publicIPAddress {web_pip}")
        ]
    );
    let (state, _, _) = converge(&network(), &svcs[1..], &nodes(2), state, 4);
    assert_eq!(lb(&state, "kubernetes").rules.len(), 1);
    assert_eq!(lb(&state, "kubernetes").probes.len(), 1);
    assert!(service_rules(&state, "web").is_empty());
}

#[test]
fn static_public_ips_follow_their_deletion_policy() {
    let net = network_with(
        json!({"publicIps": [{"name": "keep-me", "dnsLabel": "keepme", "zones": ["2", "1"]}, {"name": "drop-me", "deletionPolicy": "Delete"}]}),
    );
    let svc = annotated(
        service("web", 1, &[(80, 30080)]),
        aksnet_core::annotations::PIP_NAME,
        "keep-me",
    );
    let (state, d, _) = converge(&net, &[svc], &nodes(1), observed_base(), 4);
    assert!(matches!(
        &d.services["default/web"],
        ServiceOutcome::Planned { .. }
    ));
    let keep = state.public_ip(RG, "keep-me").unwrap();
    assert_eq!(keep.zones, vec!["1", "2"]);
    assert_eq!(keep.dns_label.as_deref(), Some("keepme"));
    assert_eq!(
        keep.tags.get(TAG_DELETION_POLICY).map(String::as_str),
        Some("Retain")
    );
    assert!(keep.used_by.is_some());
    // Both leave the spec and the Service goes: Retain stays, Delete goes.
    let (state, _, _) = converge(&network(), &[], &nodes(1), state, 4);
    assert!(state.public_ip(RG, "keep-me").is_some());
    assert!(state.public_ip(RG, "drop-me").is_none());
}

#[test]
fn static_ip_name_taken_by_someone_else() {
    let net = network_with(json!({"publicIps": [{"name": "taken"}]}));
    let mut observed = observed_base();
    let mut theirs = byo_ip("taken", RG, "20.0.0.1");
    theirs.tags.insert("owner".into(), "someone".into());
    observed.public_ips.push(theirs.clone());
    let d = plan_with(&net, &[], &[], &observed);
    assert!(
        d.errors
            .iter()
            .any(|e| e.object == "spec.publicIps[taken]"
                && matches!(e.problem, Problem::Conflict(_)))
    );
    let ops = diff(&d, &observed);
    assert!(
        !ops.iter().any(|op| op.describe().contains("taken")),
        "never overwrite or delete it: {ops:?}"
    );
}

#[test]
fn steady_state_is_zero_writes() {
    let svcs: Vec<_> = (0..20)
        .map(|i| service(&format!("s{i}"), i, &[(1000 + i as u16, 30000 + i as u16)]))
        .collect();
    let (state, _, rounds) = converge(&network(), &svcs, &nodes(5), observed_base(), 4);
    assert!(
        rounds <= 2,
        "public IPs first, then NSG rules with their addresses: {rounds} rounds"
    );
    let desired = plan_with(&network(), &svcs, &nodes(5), &state);
    assert!(desired.pending.is_empty());
    assert!(diff(&desired, &state).is_empty());
}

#[test]
fn a_public_ip_read_twice_under_two_spellings_is_kept() {
    let svcs = [service("web", 1, &[(80, 30080)])];
    let (mut state, _, _) = converge(&network(), &svcs, &nodes(2), observed_base(), 4);
    let mut copy = state.public_ips[0].clone();
    copy.resource_group = copy.resource_group.to_ascii_uppercase();
    assert_ne!(copy.resource_group, state.public_ips[0].resource_group);
    // Both orders: the copy read before the original, and after it.
    for at in [0, state.public_ips.len()] {
        let mut observed = state.clone();
        observed.public_ips.insert(at, copy.clone());
        let desired = plan_with(&network(), &svcs, &nodes(2), &observed);
        assert_eq!(diff(&desired, &observed), vec![], "copy at {at}");
    }
    // Unwanted, both copies go (the one public IP, under either spelling).
    state.public_ips.push(copy);
    let desired = plan_with(&network(), &[], &nodes(2), &state);
    let deletes = diff(&desired, &state)
        .iter()
        .filter(|op| matches!(op, Op::DeletePublicIp { .. }))
        .count();
    assert_eq!(deletes, 2);
}

#[test]
fn nsg_address_limit_counts_others_rules_and_rejects_the_newer_service() {
    let ranges = |n: usize| {
        let cidrs: Vec<String> = (0..n).map(|i| format!("10.{i}.0.0/16")).collect();
        json!({"spec": {"loadBalancerSourceRanges": cidrs}})
    };
    let svcs = [
        with(service("one", 1, &[(80, 30080)]), ranges(3)),
        with(service("two", 2, &[(81, 30081)]), ranges(2)),
    ];
    let net = network();
    let ns = nodes(1);
    let outcomes = |limit: usize| {
        let limits = Limits {
            addresses_or_ports_per_security_group: limit,
            ..Limits::default()
        };
        settled(&net, &svcs, &ns, limits).services
    };
    // Others' rule names one source prefix: 1 + 3 + 2 fits in 6, not in 5.
    let fits = outcomes(6);
    assert!(
        fits.values()
            .all(|o| matches!(o, ServiceOutcome::Planned { .. }))
    );
    let tight = outcomes(5);
    assert!(matches!(
        &tight["default/one"],
        ServiceOutcome::Planned { .. }
    ));
    let ServiceOutcome::Rejected { errors } = &tight["default/two"] else {
        panic!("the newer Service is rejected: {:?}", tight["default/two"]);
    };
    assert_eq!(errors[0].field, "spec.loadBalancerSourceRanges");
    assert!(
        matches!(&errors[0].problem, Problem::Limit { what, limit: 5 } if what == "source address prefixes in NSG aks-nsg"),
        "{:?}",
        errors[0].problem
    );
}

/// The plan once Azure (simulated, from [`observed_base`]) has carried it out, public IPs first
/// and then the rest, as the apply engine would: Services wait for their public IPs before
/// their rules are planned.
fn settled(
    network: &aksnet_crds::AksNetworkSpec,
    services: &[k8s_openapi::api::core::v1::Service],
    nodes: &[k8s_openapi::api::core::v1::Node],
    limits: Limits,
) -> aksnet_core::plan::Desired {
    settled_from(observed_base(), network, services, nodes, limits).0
}

/// [`settled`] from another Azure state; the plan and the state it left.
fn settled_from(
    mut observed: Observed,
    network: &aksnet_crds::AksNetworkSpec,
    services: &[k8s_openapi::api::core::v1::Service],
    nodes: &[k8s_openapi::api::core::v1::Node],
    limits: Limits,
) -> (aksnet_core::plan::Desired, Observed) {
    let plan_on = |observed: &Observed| plan_limited(network, services, nodes, observed, limits);
    for _ in 0..4 {
        let ops = aksnet_core::diff::diff(&plan_on(&observed), &observed);
        if ops.is_empty() {
            break;
        }
        aksnet_core::simulate::apply(&mut observed, &ops).expect("Azure accepts the operations");
    }
    (plan_on(&observed), observed)
}

#[test]
fn public_ip_quota_rejects_newer_services_before_azure_would() {
    // Five public IPs of others in the region, a quota of eight: the outbound IP and two
    // Services' public IPs fit, a third does not.
    let mut observed = observed_base();
    observed.public_ip_quota = Some(Quota { used: 5, limit: 8 });
    let net = network();
    let ns = nodes(1);
    let svcs: Vec<_> = (0..3)
        .map(|i| service(&format!("s{i}"), i, &[(80 + i as u16, 30080 + i as u16)]))
        .collect();
    let (d, state) = settled_from(observed, &net, &svcs, &ns, Limits::default());
    assert!(matches!(
        d.services["default/s0"],
        ServiceOutcome::Planned { .. }
    ));
    assert!(matches!(
        d.services["default/s1"],
        ServiceOutcome::Planned { .. }
    ));
    let ServiceOutcome::Rejected { errors } = &d.services["default/s2"] else {
        panic!(
            "the newest Service is over the quota: {:?}",
            d.services["default/s2"]
        );
    };
    assert!(
        matches!(&errors[0].problem, Problem::Limit { what, limit: 8 } if what.contains("public IP addresses")),
        "{:?}",
        errors[0].problem
    );
    assert_eq!(errors[0].problem.reason(), "AzureLimitReached");
    assert_eq!(state.public_ip_quota, Some(Quota { used: 8, limit: 8 }));
    // A Service that names an existing public IP needs no room.
    let mut named = state.clone();
    named.public_ips.push(byo_ip("byo", RG, "20.1.2.3"));
    let mut more = svcs.clone();
    more.push(annotated(
        service("byo", 9, &[(90, 30090)]),
        aksnet_core::annotations::PIP_NAME,
        "byo",
    ));
    let (d, _) = settled_from(named, &net, &more, &ns, Limits::default());
    assert!(matches!(
        d.services["default/byo"],
        ServiceOutcome::Planned { .. }
    ));
    // When s0 goes, its public IP is deleted and s2 takes the room.
    let (d, state) = settled_from(state, &net, &svcs[1..], &ns, Limits::default());
    assert!(
        matches!(d.services["default/s2"], ServiceOutcome::Planned { .. }),
        "{:?}",
        d.services
    );
    assert_eq!(state.public_ip_quota, Some(Quota { used: 8, limit: 8 }));
}

#[test]
fn what_azure_would_refuse_is_refused_before_writing() {
    use aksnet_core::annotations as a;
    let mut observed = observed_base();
    observed.subnets = Some(BTreeMap::from([
        ("aks-subnet".to_string(), vec!["10.224.0.0/16".to_string()]),
        ("extra".to_string(), vec!["10.225.0.0/24".to_string()]),
    ]));
    let missing = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPPrefixes/nope"
    );
    observed
        .ip_prefixes
        .insert(missing.to_ascii_lowercase(), false);
    let internal = |name: &str, created: i64, extra: &[(&str, &str)]| {
        let mut svc = annotated(service(name, created, &[(80, 30080)]), a::INTERNAL, "true");
        for (k, v) in extra {
            svc = annotated(svc, k, v);
        }
        svc
    };
    let svcs = [
        internal("no-subnet", 1, &[(a::INTERNAL_SUBNET, "missing")]),
        internal(
            "outside",
            2,
            &[(a::INTERNAL_SUBNET, "extra"), (a::IPV4, "10.224.9.9")],
        ),
        // nodes(2) are 10.224.1.4 and 10.224.1.5.
        internal("node-ip", 3, &[(a::IPV4, "10.224.1.4")]),
        annotated(
            service("no-prefix", 4, &[(81, 30081)]),
            a::PIP_PREFIX,
            &missing,
        ),
        internal(
            "fine",
            5,
            &[(a::INTERNAL_SUBNET, "extra"), (a::IPV4, "10.225.0.9")],
        ),
    ];
    let d = plan_with(&network(), &svcs, &nodes(2), &observed);
    let why = |n: &str| match &d.services[&format!("default/{n}")] {
        ServiceOutcome::Rejected { errors } => (errors[0].field.clone(), errors[0].problem.clone()),
        other => panic!("{n} is refused before writing: {other:?}"),
    };
    assert!(
        matches!(why("no-subnet"), (f, Problem::NotFound(m)) if f == a::INTERNAL_SUBNET && m.contains("missing"))
    );
    assert!(
        matches!(why("outside"), (f, Problem::InvalidValue(m)) if f == a::IPV4 && m.contains("10.225.0.0/24"))
    );
    assert!(
        matches!(why("node-ip"), (f, Problem::Conflict(m)) if f == a::IPV4 && m.contains("node"))
    );
    assert!(
        matches!(why("no-prefix"), (f, Problem::NotFound(m)) if f == a::PIP_PREFIX && m.contains("nope"))
    );
    assert!(!matches!(
        d.services["default/fine"],
        ServiceOutcome::Rejected { .. }
    ));
}

#[test]
fn a_packed_rule_write_carries_every_service_it_admits() {
    // Three Services admitting port 80 from the Internet share one NSG rule: a write of that
    // rule is blamed on them, not on the network.
    let net = network();
    let ns = nodes(1);
    let two: Vec<_> = (0..2)
        .map(|i| service(&format!("p{i}"), i, &[(80, 30080 + i as u16)]))
        .collect();
    let (_, state) = settled_from(observed_base(), &net, &two, &ns, Limits::default());
    let mut three = two.clone();
    three.push(service("p2", 2, &[(80, 30082)]));
    let (_, state) = settled_from(state, &net, &three, &ns, Limits::default());
    let desired = plan_limited(&net, &three[1..], &ns, &state, Limits::default());
    let ops = diff(&desired, &state);
    let nsg_write = ops
        .iter()
        .find(|o| matches!(o, Op::PutSecurityGroup(_)))
        .expect("the packed rule loses p0's address");
    let carried = aksnet_core::diff::carried(nsg_write, &state, &desired);
    let mut keys: Vec<&str> = carried
        .iter()
        .filter_map(|p| desired.service_prefixes.get(p).map(String::as_str))
        .collect();
    keys.sort();
    assert_eq!(keys, ["default/p1", "default/p2"], "{carried:?}");
}

#[test]
fn wanted_fingerprint_follows_what_is_wanted_in_azure() {
    let net = network();
    let ns = nodes(2);
    let svcs = vec![
        service("a", 1, &[(80, 30080)]),
        service("b", 2, &[(443, 30443)]),
    ];
    let (state, _, _) = converge(&net, &svcs, &ns, observed_base(), 4);
    let before = plan_with(&net, &svcs, &ns, &state).wanted_fingerprint();
    // A Service aksnet does not serve changes nothing wanted in Azure.
    let mut more = svcs.clone();
    more.push(with(
        service("c", 3, &[(8080, 30808)]),
        json!({"spec": {"type": "ClusterIP"}}),
    ));
    let unchanged = plan_with(&net, &more, &ns, &state).wanted_fingerprint();
    assert_eq!(before, unchanged);
    // A port changed is a rule (and an NSG rule) changed.
    let changed = vec![svcs[0].clone(), service("b", 2, &[(8443, 30443)])];
    let after = plan_with(&net, &changed, &ns, &state).wanted_fingerprint();
    assert_ne!(before, after);
}

#[test]
fn an_older_service_growing_at_the_nsg_rule_limit_never_pushes_a_served_one_out() {
    let FullNsg {
        net,
        ns,
        limits,
        a,
        b,
        state,
    } = full_nsg();
    // The older Service now asks for two rules of its own (its sources, and a deny for the
    // rest) where it had one.
    let grown = annotated(
        with(
            a,
            json!({"spec": {"loadBalancerSourceRanges": ["10.0.0.0/8"]}}),
        ),
        aksnet_core::annotations::DENY_ALL_EXCEPT_SOURCE_RANGES,
        "true",
    );
    let d = plan_limited(&net, &[grown, b], &ns, &state, limits);
    let younger = &d.services["default/b"];
    assert!(
        matches!(younger, ServiceOutcome::Planned { .. }),
        "the younger served Service keeps its place: {younger:?}"
    );
    let older = &d.services["default/a"];
    assert!(
        rejected_for_nsg_rules(&d, "default/a", 3),
        "the older Service's growth does not fit: {older:?}"
    );
    // Nothing the plan writes goes over the limit.
    let nsg = nsg_after(&d, &state).expect("nsg");
    assert!(nsg.rules.len() <= 3, "{:#?}", nsg.rules);
}

#[test]
fn a_service_rejected_as_it_is_read_keeps_its_room_in_the_nsg() {
    let full = full_nsg();
    // A new Service on another port needs a rule of its own.
    let c = service("c", 3, &[(82, 30082)]);
    let refusal = ServiceError::new(
        "default/a",
        "spec.ports",
        Problem::Conflict("refused".into()),
    );
    // The older Service is rejected as it is read, and its rules stay as they are in Azure:
    // its edit cannot be read, or Azure refused its last write.
    let cases = [
        (
            "an edit that cannot be read",
            annotated(
                full.a.clone(),
                aksnet_core::annotations::IDLE_TIMEOUT,
                "forever",
            ),
            Holds::default(),
        ),
        (
            "a write Azure refused",
            full.a.clone(),
            Holds {
                refused: [("default/a".to_string(), refusal)].into(),
                ..Holds::default()
            },
        ),
    ];
    for (case, a, holds) in cases {
        let d = plan(&PlanInput {
            network: &full.net,
            services: &[a, full.b.clone(), c.clone()],
            nodes: &full.ns,
            observed: &full.state,
            load_balancer_class: CLASS,
            limits: full.limits,
            holds: &holds,
            namespace_labels: &Default::default(),
        });
        let outcomes = ["a", "b", "c"].map(|name| &d.services[&format!("default/{name}")]);
        let [a, b, _] = outcomes;
        assert!(
            matches!(a, ServiceOutcome::Rejected { .. })
                && matches!(b, ServiceOutcome::Planned { .. })
                && rejected_for_nsg_rules(&d, "default/c", 3),
            "{case}: a rejected, b planned, c over the NSG's limit: {outcomes:?}"
        );
        // Nothing the plan writes goes over the limit: the NSG stays as it is.
        let before = &full.state.security_group;
        assert_eq!(&nsg_after(&d, &full.state), before, "{case}");
    }
}

/// Whether the Service `key` is rejected because NSG `aks-nsg` holds at most `limit` rules.
fn rejected_for_nsg_rules(d: &aksnet_core::plan::Desired, key: &str, limit: usize) -> bool {
    matches!(
        &d.services[key],
        ServiceOutcome::Rejected { errors } if matches!(
            &errors[0].problem,
            Problem::Limit { what, limit: l } if *l == limit && what == "security rules in NSG aks-nsg"
        )
    )
}

/// Two Services served on one node, `a` (older, port 80) and `b` (port 81), and an NSG that
/// holds three rules: others' rule and one packed rule for each, so it is full.
struct FullNsg {
    net: aksnet_crds::AksNetworkSpec,
    ns: Vec<k8s_openapi::api::core::v1::Node>,
    limits: Limits,
    a: k8s_openapi::api::core::v1::Service,
    b: k8s_openapi::api::core::v1::Service,
    /// Azure once both are served.
    state: Observed,
}

/// [`FullNsg`], settled.
fn full_nsg() -> FullNsg {
    let net = network();
    let ns = nodes(1);
    let limits = Limits {
        rules_per_security_group: 3,
        ..Limits::default()
    };
    let a = service("a", 1, &[(80, 30080)]);
    let b = service("b", 2, &[(81, 30081)]);
    let (d, state) = settled_from(observed_base(), &net, &[a.clone(), b.clone()], &ns, limits);
    assert!(
        (d.services.values()).all(|o| matches!(o, ServiceOutcome::Planned { .. })),
        "{:?}",
        d.services
    );
    FullNsg {
        net,
        ns,
        limits,
        a,
        b,
        state,
    }
}

/// The NSG once Azure (simulated) has carried out `d`, planned on `state`.
fn nsg_after(
    d: &aksnet_core::plan::Desired,
    state: &Observed,
) -> Option<aksnet_core::model::SecurityGroup> {
    let mut after = state.clone();
    aksnet_core::simulate::apply(&mut after, &diff(d, state)).expect("Azure accepts");
    after.security_group
}
