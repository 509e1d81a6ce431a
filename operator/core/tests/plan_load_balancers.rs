//! Several load balancers: growth past a full one (`<name>-2`, …) and removal once empty,
//! profiles (nodes, namespaces, labels, `azure-load-balancer-configurations`), and placement
//! that never moves a served Service.

mod support;

use std::collections::BTreeMap;

use aksnet_core::annotations::LB_CONFIGURATIONS;
use aksnet_core::diff::{Op, diff};
use aksnet_core::model::Observed;
use aksnet_core::plan::{Desired, Holds, Limits, PlanInput, ServiceOutcome, plan};
use aksnet_core::problem::Problem;
use aksnet_core::simulate::apply;
use aksnet_crds::AksNetworkSpec;
use k8s_openapi::api::core::v1::{Node, Service};
use serde_json::json;
use support::*;

/// Plan and apply (simulated Azure) until nothing is left to do; the last plan, the state,
/// and every operation applied.
fn settle(
    net: &AksNetworkSpec,
    services: &[Service],
    nodes: &[Node],
    mut state: Observed,
    limits: Limits,
) -> (Desired, Observed, Vec<Op>) {
    let mut all = Vec::new();
    for _ in 0..6 {
        let ops = diff(&plan_limited(net, services, nodes, &state, limits), &state);
        if ops.is_empty() {
            return (
                plan_limited(net, services, nodes, &state, limits),
                state,
                all,
            );
        }
        apply(&mut state, &ops).expect("Azure accepts the operations");
        all.extend(ops);
    }
    panic!("no fixed point");
}

/// The load balancer each Service's rules are on (Service name → load balancer name).
fn placement(state: &Observed, services: &[Service]) -> BTreeMap<String, String> {
    services
        .iter()
        .filter_map(|s| {
            let name = s.metadata.name.clone()?;
            let prefix = &uid(&name)[..8];
            let lb = state.load_balancers.iter().find(|lb| {
                lb.rules
                    .iter()
                    .any(|r| r.name.to_ascii_lowercase().contains(prefix))
            })?;
            Some((name, lb.name.clone()))
        })
        .collect()
}

/// Every Service of the plan is served.
fn assert_all_planned(d: &Desired) {
    assert!(
        d.services
            .values()
            .all(|o| matches!(o, ServiceOutcome::Planned { .. })),
        "{:?}",
        d.services
    );
}

/// A profile `apps` that may grow to two load balancers, under limits of two frontends per
/// load balancer.
fn apps_of_two() -> (AksNetworkSpec, Limits) {
    let net =
        network_with(json!({"loadBalancer": {"profiles": [{"name": "apps", "maxCount": 2}]}}));
    let limits = Limits {
        frontends_per_load_balancer: 2,
        ..Limits::default()
    };
    (net, limits)
}

/// A Service that asks for the load balancer profile `profile`.
fn on(svc: Service, profile: &str) -> Service {
    annotated(svc, LB_CONFIGURATIONS, profile)
}

fn one_port(i: usize) -> Service {
    service(
        &format!("s{i}"),
        i as i64,
        &[(8000 + i as u16, 30000 + i as u16)],
    )
}

#[test]
fn a_full_load_balancer_grows_onto_the_next_and_an_emptied_one_is_deleted() {
    let net = network_with(json!({"loadBalancer": {"maxCount": 3}}));
    let limits = Limits {
        frontends_per_load_balancer: 2,
        ..Limits::default()
    };
    let ns = nodes(2);
    let svcs: Vec<Service> = (0..6).map(one_port).collect();
    let (d, state, _) = settle(&net, &svcs, &ns, observed_base(), limits);
    // `kubernetes` holds the outbound IP and s0; s1, s2 go to -2; s3, s4 to -3; s5 finds no
    // room and no fourth load balancer.
    let placed = placement(&state, &svcs);
    assert_eq!(placed["s0"], "kubernetes");
    assert_eq!(placed["s1"], "kubernetes-2");
    assert_eq!(placed["s2"], "kubernetes-2");
    assert_eq!(placed["s3"], "kubernetes-3");
    assert_eq!(placed["s4"], "kubernetes-3");
    let ServiceOutcome::Rejected { errors } = &d.services["default/s5"] else {
        panic!("s5 has no room: {:?}", d.services["default/s5"]);
    };
    assert!(matches!(errors[0].problem, Problem::Limit { limit: 2, .. }));
    for lb in &state.load_balancers {
        assert!(lb.frontends.len() <= 2, "{} over its limit", lb.name);
        // Every node is in the pool of every load balancer.
        assert_eq!(lb.backend_pools[0].addresses.len(), 2, "{}", lb.name);
        assert!(
            lb.tags.contains_key("aksnet.io-owner"),
            "{} carries the ownership tag",
            lb.name
        );
    }
    // The load balancers of one profile share one list of node addresses, not a copy each
    // (10,000 Services over 20 load balancers on 1,000 nodes would copy 60,000 strings).
    let pools: Vec<_> = d
        .load_balancers
        .values()
        .flatten()
        .map(|lb| lb.backend_pools[0].addresses.clone())
        .collect();
    assert_eq!(pools.len(), 3);
    assert!(pools.iter().all(|p| std::sync::Arc::ptr_eq(p, &pools[0])));
    // Services leave: -3 is emptied and deleted, -2 keeps s1; nobody moves.
    let fewer = [svcs[0].clone(), svcs[1].clone(), svcs[5].clone()];
    let (d, state, ops) = settle(&net, &fewer, &ns, state, limits);
    assert!(
        ops.iter()
            .any(|o| matches!(o, Op::DeleteLoadBalancer { name, .. } if name == "kubernetes-3")),
        "{ops:?}"
    );
    assert!(state.load_balancer("kubernetes-3").is_none());
    let placed = placement(&state, &fewer);
    assert_eq!(placed["s0"], "kubernetes");
    assert_eq!(placed["s1"], "kubernetes-2");
    assert_eq!(placed["s5"], "kubernetes-2", "the freed room is used");
    assert_all_planned(&d);
    // A restart (a plan from what Azure holds, Services in another order) writes nothing.
    let mut reordered = fewer.to_vec();
    reordered.reverse();
    assert!(diff(&plan_limited(&net, &reordered, &ns, &state, limits), &state).is_empty());
}

#[test]
fn new_services_go_to_the_least_full_load_balancer() {
    let net = network_with(json!({"loadBalancer": {"maxCount": 2}}));
    let limits = Limits {
        frontends_per_load_balancer: 3,
        ..Limits::default()
    };
    let ns = nodes(1);
    // Fill `kubernetes` (outbound + s0 + s1), s2 opens -2; s0 and s1 leave; s3 and s4 are
    // spread: one each, so both hold two frontends.
    let svcs: Vec<Service> = (0..3).map(one_port).collect();
    let (_, state, _) = settle(&net, &svcs, &ns, observed_base(), limits);
    assert_eq!(placement(&state, &svcs)["s2"], "kubernetes-2");
    let later = [svcs[2].clone(), one_port(3), one_port(4)];
    let (_, state, _) = settle(&net, &later, &ns, state, limits);
    let placed = placement(&state, &later);
    assert_eq!(placed["s2"], "kubernetes-2", "a served Service stays");
    assert_eq!(placed["s3"], "kubernetes", "equally full: the first");
    assert_eq!(placed["s4"], "kubernetes-2", "then the less full one");
}

fn labelled(mut node: Node, key: &str, value: &str) -> Node {
    node.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
    node
}

fn in_namespace(mut svc: Service, ns: &str) -> Service {
    svc.metadata.namespace = Some(ns.into());
    svc
}

#[test]
fn profiles_choose_nodes_and_services() {
    let net = network_with(json!({"loadBalancer": {"profiles": [
        {"name": "apps", "nodeSelector": {"matchLabels": {"pool": "apps"}}, "serviceNamespaces": ["team-a"]},
        {"name": "private", "internal": true, "serviceSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}}
    ]}}));
    let ns = vec![
        labelled(nodes(3)[0].clone(), "pool", "apps"),
        nodes(3)[1].clone(),
        labelled(nodes(3)[2].clone(), "pool", "apps"),
    ];
    let svcs = vec![
        in_namespace(on(service("a1", 1, &[(80, 30080)]), "apps"), "team-a"),
        // Not of team-a: `apps` does not admit it.
        on(service("b1", 2, &[(81, 30081)]), "apps"),
        // No annotation: the least full load balancer that admits it (`kubernetes` or `apps`).
        in_namespace(service("a2", 3, &[(82, 30082)]), "team-a"),
        on(service("x1", 4, &[(83, 30083)]), "nope"),
        on(service("x2", 5, &[(84, 30084)]), "private"),
        with(
            on(
                annotated(
                    service("db", 6, &[(5432, 31432)]),
                    aksnet_core::annotations::INTERNAL,
                    "true",
                ),
                "private",
            ),
            json!({"metadata": {"labels": {"tier": "db"}}}),
        ),
        on(
            annotated(
                service("web", 7, &[(85, 30085)]),
                aksnet_core::annotations::INTERNAL,
                "true",
            ),
            "private",
        ),
    ];
    let (d, state, _) = settle(&net, &svcs, &ns, observed_base(), Limits::default());
    let outcome = |ns: &str, name: &str| d.services[&format!("{ns}/{name}")].clone();
    assert!(matches!(
        outcome("team-a", "a1"),
        ServiceOutcome::Planned { .. }
    ));
    let apps = state.load_balancer("apps").expect("apps LB");
    let mut pool: Vec<String> = apps.backend_pools[0]
        .addresses
        .iter()
        .map(|a| a.name.clone())
        .collect();
    pool.sort();
    assert_eq!(pool, ["aks-np-00000", "aks-np-00002"], "only its nodes");
    let kubernetes = state.load_balancer("kubernetes").expect("public LB");
    assert_eq!(kubernetes.backend_pools[0].addresses.len(), 3, "every node");
    let refused = |ns: &str, name: &str| match outcome(ns, name) {
        ServiceOutcome::Rejected { errors } => errors[0].clone(),
        other => panic!("{name} should be refused: {other:?}"),
    };
    let b1 = refused("default", "b1");
    assert_eq!(b1.field, LB_CONFIGURATIONS);
    assert!(matches!(b1.problem, Problem::Conflict(_)));
    assert!(matches!(
        refused("default", "x1").problem,
        Problem::NotFound(_)
    ));
    assert!(
        matches!(refused("default", "x2").problem, Problem::Conflict(ref m) if m.contains("internal")),
        "a public Service cannot pick an internal profile"
    );
    assert!(matches!(
        outcome("default", "db"),
        ServiceOutcome::Planned { .. }
    ));
    assert!(
        state
            .load_balancer("private")
            .is_some_and(|lb| lb.rules.len() == 1)
    );
    // `private` selects tier=db; `web` lacks the label.
    assert!(matches!(
        refused("default", "web").problem,
        Problem::Conflict(_)
    ));
    assert!(matches!(
        outcome("team-a", "a2"),
        ServiceOutcome::Planned { .. }
    ));
}

#[test]
fn a_service_moves_only_when_its_profiles_say_so() {
    let net = network_with(json!({"loadBalancer": {"profiles": [{"name": "apps"}]}}));
    let ns = nodes(1);
    let only = |svc: &Service| std::slice::from_ref(svc).to_vec();
    let svc = on(service("web", 1, &[(80, 30080)]), "kubernetes");
    let (_, state, _) = settle(&net, &only(&svc), &ns, observed_base(), Limits::default());
    assert_eq!(placement(&state, &only(&svc))["web"], "kubernetes");
    // Its annotation naming another profile moves it: the load balancer that lets its
    // public IP go is written first, so the IP is never on two frontends.
    let moved = on(svc, "apps");
    let (_, state, ops) = settle(&net, &only(&moved), &ns, state, Limits::default());
    assert_eq!(placement(&state, &only(&moved))["web"], "apps");
    let lb_writes: Vec<&str> = ops
        .iter()
        .filter_map(|o| match o {
            Op::PutLoadBalancer(lb) => Some(lb.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(lb_writes, ["kubernetes", "apps"]);
    // Closing the profile to new Services keeps it there.
    let closed = network_with(
        json!({"loadBalancer": {"profiles": [{"name": "apps", "allowServicePlacement": false}]}}),
    );
    let (d, _, ops) = settle(&closed, &only(&moved), &ns, state, Limits::default());
    assert!(ops.is_empty(), "{ops:?}");
    assert!(matches!(
        d.services["default/web"],
        ServiceOutcome::Planned { .. }
    ));
}

#[test]
fn a_profile_admits_namespaces_by_their_labels() {
    let net = network_with(json!({"loadBalancer": {"profiles": [
        {"name": "gold", "serviceNamespaceSelector": {"matchLabels": {"tier": "gold"}}}
    ]}}));
    let ns = nodes(1);
    let labels: BTreeMap<String, BTreeMap<String, String>> = [
        ("team-a".to_string(), map(&[("tier", "gold")])),
        ("team-b".to_string(), map(&[("tier", "bronze")])),
    ]
    .into_iter()
    .collect();
    let gold = |name: &str, namespace: &str| {
        let mut svc = on(service(name, 1, &[(80, 30080)]), "gold");
        svc.metadata.namespace = Some(namespace.into());
        svc
    };
    let svcs = [
        gold("a", "team-a"),
        gold("b", "team-b"),
        gold("c", "team-c"),
    ];
    let plan = aksnet_core::plan::plan(&aksnet_core::plan::PlanInput {
        network: &net,
        services: &svcs,
        nodes: &ns,
        observed: &observed_base(),
        load_balancer_class: CLASS,
        limits: Limits::default(),
        holds: &Default::default(),
        namespace_labels: &labels,
    });
    assert!(
        matches!(
            plan.services["team-a/a"],
            ServiceOutcome::Planned { .. } | ServiceOutcome::Waiting { .. }
        ),
        "{:?}",
        plan.services["team-a/a"]
    );
    for key in ["team-b/b", "team-c/c"] {
        assert!(
            matches!(&plan.services[key], ServiceOutcome::Rejected { errors } if errors[0].field == LB_CONFIGURATIONS),
            "{key}: {:?}",
            plan.services[key]
        );
    }
}

#[test]
fn a_service_moving_in_never_takes_the_place_of_one_served_there() {
    let (net, limits) = apps_of_two();
    let ns = nodes(1);
    let svcs = vec![
        on(one_port(1), "kubernetes"),
        on(one_port(2), "apps"),
        on(one_port(3), "apps"),
    ];
    let (_, state, _) = settle(&net, &svcs, &ns, observed_base(), limits);
    let placed = placement(&state, &svcs);
    assert_eq!(placed["s1"], "kubernetes");
    assert_eq!(
        (placed["s2"].as_str(), placed["s3"].as_str()),
        ("apps", "apps")
    );
    // The oldest asks for `apps`, which is full: it goes to `apps-2`, and the two served there
    // stay, however older it is.
    let moved = vec![on(one_port(1), "apps"), svcs[1].clone(), svcs[2].clone()];
    let (d, state, _) = settle(&net, &moved, &ns, state, limits);
    let placed = placement(&state, &moved);
    assert_eq!(placed["s1"], "apps-2");
    assert_eq!(
        (placed["s2"].as_str(), placed["s3"].as_str()),
        ("apps", "apps")
    );
    assert_all_planned(&d);
}

#[test]
fn room_a_deleted_service_leaves_is_taken_in_the_same_pass() {
    let net = network_with(json!({"loadBalancer": {"maxCount": 2}}));
    let limits = Limits {
        frontends_per_load_balancer: 3,
        ..Limits::default()
    };
    let ns = nodes(1);
    // `kubernetes` holds the outbound IP, s1 and s2: full.
    let svcs = vec![one_port(1), one_port(2)];
    let (_, state, _) = settle(&net, &svcs, &ns, observed_base(), limits);
    // s1 is gone (its children still in Azure) and s3 comes: it takes s1's room, no second
    // load balancer is made for it.
    let next = vec![svcs[1].clone(), one_port(3)];
    let desired = plan_limited(&net, &next, &ns, &state, limits);
    assert!(
        !desired.load_balancers.contains_key("kubernetes-2"),
        "{:?}",
        desired.load_balancers.keys()
    );
    let (_, state, _) = settle(&net, &next, &ns, state, limits);
    let placed = placement(&state, &next);
    assert_eq!(
        (placed["s2"].as_str(), placed["s3"].as_str()),
        ("kubernetes", "kubernetes")
    );
    assert!(state.load_balancer("kubernetes-2").is_none());
}

#[test]
fn a_frontend_served_services_share_keeps_its_room_too() {
    let (net, limits) = apps_of_two();
    let ns = nodes(1);
    let mut base = observed_base();
    base.public_ips.push(byo_ip("shared-a", RG, "20.0.0.1"));
    let sharing = |svc: Service| annotated(svc, aksnet_core::annotations::PIP_NAME, "shared-a");
    // `apps` holds the frontend of s2 and s3 (one public IP, two ports) and s4's own: full.
    let svcs = vec![
        on(one_port(1), "kubernetes"),
        sharing(on(one_port(2), "apps")),
        sharing(on(one_port(3), "apps")),
        on(one_port(4), "apps"),
    ];
    let (_, state, _) = settle(&net, &svcs, &ns, base, limits);
    let placed = placement(&state, &svcs);
    assert_eq!([&placed["s2"], &placed["s3"], &placed["s4"]], ["apps"; 3]);
    // The oldest moves to `apps`: the shared frontend's room is kept for s2 and s3 as s4's
    // is for s4, so it goes to `apps-2`.
    let mut moved = svcs.clone();
    moved[0] = on(one_port(1), "apps");
    let (d, state, _) = settle(&net, &moved, &ns, state, limits);
    let placed = placement(&state, &moved);
    assert_eq!(placed["s1"], "apps-2");
    assert_eq!([&placed["s2"], &placed["s3"], &placed["s4"]], ["apps"; 3]);
    assert_all_planned(&d);
}

#[test]
fn a_service_the_engine_pinned_is_placed_there_again_while_it_fits() {
    let net = network_with(json!({"loadBalancer": {"profiles": [{"name": "apps"}]}}));
    let ns = nodes(1);
    let svcs = [one_port(0)];
    let plan_pinned = |pinned: &[(&str, &str)], frontends: usize, observed: &Observed| {
        let holds = Holds {
            pinned: (pinned.iter())
                .map(|(k, lb)| (k.to_string(), lb.to_string()))
                .collect(),
            ..Holds::default()
        };
        plan(&PlanInput {
            network: &net,
            services: &svcs,
            nodes: &ns,
            observed,
            load_balancer_class: CLASS,
            limits: Limits {
                frontends_per_load_balancer: frontends,
                ..Limits::default()
            },
            holds: &holds,
            namespace_labels: &Default::default(),
        })
    };
    // `kubernetes` holds the outbound frontend: a new Service goes to the less full `apps`,
    // and the plan says so.
    let (_, state, _) = settle(&net, &[], &ns, observed_base(), Limits::default());
    let d = plan_pinned(&[], 3, &state);
    assert_eq!(d.newly_placed["default/s0"], "apps");
    // Pinned to `kubernetes` earlier in the run: there again.
    let d = plan_pinned(&[("default/s0", "kubernetes")], 3, &state);
    assert_eq!(d.newly_placed["default/s0"], "kubernetes");
    // Where it no longer fits (one frontend each, the outbound one there): the next.
    let d = plan_pinned(&[("default/s0", "kubernetes")], 1, &state);
    assert_eq!(d.newly_placed["default/s0"], "apps");
    // Served, it stays where its rules are whatever the pin, and is placed anew nowhere.
    let (_, state, _) = settle(&net, &svcs, &ns, state, Limits::default());
    let d = plan_pinned(&[("default/s0", "kubernetes")], 3, &state);
    assert!(d.newly_placed.is_empty(), "{:?}", d.newly_placed);
    assert_eq!(placement(&state, &svcs)["s0"], "apps");
}
