//! Generated clusters for property tests: Services of every kind the plan serves (public,
//! internal, shared public IPs, source ranges, shared rules, broken annotations, `Local`,
//! dual-stack), nodes, others' NSG rules and routes, and tight limits.

use aksnet_core::annotations as a;
use aksnet_core::model::{Observed, Route};
use aksnet_core::plan::Limits;
use k8s_openapi::api::core::v1::{Node, Service};
use proptest::prelude::*;
use serde_json::json;

use super::*;

/// What a generated Service asks for.
#[derive(Clone, Debug)]
pub struct Svc {
    ports: Vec<(u16, bool)>,
    internal: bool,
    pip: Option<&'static str>,
    ranges: bool,
    shared_rule: bool,
    broken: bool,
    local: bool,
    dual: bool,
    /// `azure-load-balancer-configurations`.
    profiles: Option<&'static str>,
}

pub fn svc_strategy() -> impl Strategy<Value = Svc> {
    (
        prop::collection::btree_map(
            prop::sample::select(vec![80u16, 443, 53, 8080, 9000]),
            any::<bool>(),
            1..4,
        ),
        any::<bool>(),
        prop::option::weighted(0.4, prop::sample::select(vec!["shared-a", "shared-b"])),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.15),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::option::weighted(
            0.3,
            prop::sample::select(vec![
                "extra",
                "kubernetes",
                "kubernetes-internal",
                "extra,kubernetes",
            ]),
        ),
    )
        .prop_map(
            |(ports, internal, pip, ranges, shared_rule, broken, local, dual, profiles)| Svc {
                profiles,
                ports: ports.into_iter().collect(),
                internal,
                pip: if internal { None } else { pip },
                ranges,
                shared_rule,
                broken,
                local,
                dual: dual && !internal && pip.is_none(),
            },
        )
}

pub fn build_service(i: usize, s: &Svc) -> Service {
    let ports: Vec<_> = s
        .ports
        .iter()
        .map(|(p, udp)| json!({"name": format!("p{p}"), "port": p, "protocol": if *udp { "UDP" } else { "TCP" }, "nodePort": 30000 + p % 2000 + i as u16 * 7}))
        .collect();
    let mut svc = with(
        service(&format!("s{i}"), i as i64, &[]),
        json!({"spec": {"ports": ports}}),
    );
    if s.internal {
        svc = annotated(svc, a::INTERNAL, "true");
    }
    if let Some(pip) = s.pip {
        svc = annotated(svc, a::PIP_NAME, pip);
    }
    if s.ranges {
        svc = with(
            svc,
            json!({"spec": {"loadBalancerSourceRanges": ["10.0.0.0/8", "fd00::/8"]}}),
        );
    }
    if s.shared_rule {
        svc = annotated(svc, a::SHARED_SECURITY_RULE, "true");
    }
    if s.broken {
        svc = annotated(svc, a::IDLE_TIMEOUT, "1");
    }
    if s.local {
        svc = with(
            svc,
            json!({"spec": {"externalTrafficPolicy": "Local", "healthCheckNodePort": 31000 + i}}),
        );
    }
    if s.dual {
        svc = with(svc, json!({"spec": {"ipFamilies": ["IPv4", "IPv6"]}}));
    }
    if let Some(names) = s.profiles {
        svc = annotated(svc, a::LB_CONFIGURATIONS, names);
    }
    svc
}

/// Label of the nodes the `extra` profile selects.
pub const EXTRA_POOL: (&str, &str) = ("pool", "extra");

/// A generated cluster and the Azure state it starts from.
#[derive(Clone, Debug)]
pub struct World {
    /// The Services.
    pub services: Vec<Service>,
    /// The Nodes.
    pub nodes: Vec<Node>,
    /// What Azure holds at the start.
    pub observed: Observed,
    /// The limits planned for.
    pub limits: Limits,
    /// The network: `loadBalancer.maxCount` varies, and a public profile `extra` takes the
    /// nodes labelled [`EXTRA_POOL`] and grows to two load balancers.
    pub network: aksnet_crds::AksNetworkSpec,
}

pub fn world_strategy() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(svc_strategy(), 0..10),
        0usize..6,
        prop::collection::btree_set(100u32..4097, 0..6),
        prop::collection::vec(0u8..=255, 0..4),
        prop::option::weighted(0.3, (3usize..12, 4usize..20, 3usize..20, 3usize..12)),
        1u32..4,
    )
        .prop_map(
            |(svcs, node_count, foreign_priorities, foreign_routes, tight, max_count)| {
                let mut observed = observed_base();
                let nsg = observed.security_group.as_mut().expect("fixture NSG");
                nsg.rules.clear();
                for (i, p) in foreign_priorities.iter().enumerate() {
                    nsg.rules.push(foreign_rule(&format!("user-{i}"), *p));
                }
                let rt = observed.route_table.as_mut().expect("fixture route table");
                for (i, b) in foreign_routes.iter().enumerate() {
                    rt.routes.push(Route {
                        name: format!("user-route-{i}"),
                        address_prefix: format!("172.16.{b}.0/24"),
                        next_hop_type: "VnetLocal".into(),
                        next_hop_ip: None,
                    });
                }
                for (name, ip) in [("shared-a", "20.0.0.1"), ("shared-b", "20.0.0.2")] {
                    observed.public_ips.push(byo_ip(name, RG, ip));
                }
                let limits = match tight {
                    None => Limits::default(),
                    Some((frontends, rules, nsg, routes)) => Limits {
                        frontends_per_load_balancer: frontends,
                        rules_per_load_balancer: rules,
                        probes_per_load_balancer: rules,
                        rules_per_security_group: nsg,
                        routes_per_table: routes,
                        addresses_or_ports_per_security_group: nsg / 2 + 2,
                    },
                };
                World {
                    services: svcs
                        .iter()
                        .enumerate()
                        .map(|(i, s)| build_service(i, s))
                        .collect(),
                    nodes: nodes(node_count)
                        .into_iter()
                        .enumerate()
                        .map(|(i, mut n)| {
                            if i % 2 == 0 {
                                n.metadata.labels.get_or_insert_with(Default::default).insert(
                                    EXTRA_POOL.0.into(),
                                    EXTRA_POOL.1.into(),
                                );
                            }
                            n
                        })
                        .collect(),
                    observed,
                    limits,
                    network: network_with(json!({"loadBalancer": {
                        "maxCount": max_count,
                        "profiles": [{"name": "extra", "maxCount": 2, "nodeSelector": {"matchLabels": {EXTRA_POOL.0: EXTRA_POOL.1}}}]
                    }})),
                }
            },
        )
}
