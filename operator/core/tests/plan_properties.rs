//! Properties of plan and diff over generated clusters: order independence, convergence to zero
//! operations, ownership safety, unique NSG priorities, limits kept or reported, and served
//! Services staying where they are (never moved, never pushed off by another's edit, keeping their
//! room in the NSG when an edit of theirs is rejected).

mod support;

use aksnet_core::diff::{Op, diff};
use aksnet_core::model::{Direction, Observed};
use aksnet_core::naming::Ownership;
use aksnet_core::plan::{Desired, Holds, PlanInput, ServiceOutcome, plan};
use aksnet_core::simulate::apply;
use k8s_openapi::api::core::v1::{Node, Service};
use proptest::prelude::*;
use support::worlds::*;
use support::*;

fn plan_world(w: &World, services: &[Service], nodes: &[Node], observed: &Observed) -> Desired {
    plan(&PlanInput {
        network: &w.network,
        services,
        nodes,
        observed,
        load_balancer_class: CLASS,
        limits: w.limits,
        holds: &Holds::default(),
        namespace_labels: &Default::default(),
    })
}

/// Plan, diff and apply (simulated Azure) until nothing is left to do: the last plan and the
/// state.
fn settle(
    w: &World,
    services: &[Service],
    mut state: Observed,
) -> Result<(Desired, Observed), TestCaseError> {
    for _ in 0..4 {
        let desired = plan_world(w, services, &w.nodes, &state);
        let ops = diff(&desired, &state);
        if ops.is_empty() {
            return Ok((desired, state));
        }
        apply(&mut state, &ops)
            .map_err(|e| TestCaseError::fail(format!("Azure would refuse: {e}")))?;
    }
    Err(TestCaseError::fail("no fixed point"))
}

/// Every child a write adds, changes or removes carries our prefix; every delete targets a
/// resource with our ownership tag.
fn assert_owned(ownership: &Ownership, desired: &Desired, before: &Observed, ops: &[Op]) {
    let frozen = |name: &str| {
        let key = name.to_ascii_lowercase();
        ownership
            .service_prefix_of(&key)
            .is_some_and(|p| desired.frozen.contains(p))
    };
    fn changed<T: PartialEq + std::fmt::Debug>(
        before: &[T],
        after: &[T],
        name: impl Fn(&T) -> &str,
        check: &dyn Fn(&str),
    ) {
        for b in before {
            if !after.iter().any(|x| x == b) {
                check(name(b));
            }
        }
        for x in after {
            if !before.iter().any(|b| b == x) {
                check(name(x));
            }
        }
    }
    let check = |name: &str| {
        assert!(
            ownership.owns_child(name),
            "touched a child we do not own: {name}"
        );
        assert!(!frozen(name), "touched a frozen Service's child: {name}");
    };
    for op in ops {
        match op {
            Op::PutLoadBalancer(lb) => {
                if let Some(seen) = before.load_balancer(&lb.name) {
                    changed(&seen.frontends, &lb.frontends, |c| &c.name, &check);
                    changed(&seen.rules, &lb.rules, |c| &c.name, &check);
                    changed(&seen.probes, &lb.probes, |c| &c.name, &check);
                    changed(&seen.backend_pools, &lb.backend_pools, |c| &c.name, &check);
                    changed(
                        &seen.outbound_rules,
                        &lb.outbound_rules,
                        |c| &c.name,
                        &check,
                    );
                }
            }
            Op::PutSecurityGroup(nsg) => {
                if let Some(seen) = &before.security_group {
                    changed(&seen.rules, &nsg.rules, |c| &c.name, &check);
                }
            }
            Op::PutRouteTable(rt) => {
                if let Some(seen) = &before.route_table {
                    changed(&seen.routes, &rt.routes, |c| &c.name, &check);
                }
            }
            Op::PutPublicIp(p) => {
                if let Some(seen) = before.public_ip(&p.resource_group, &p.name) {
                    assert!(
                        ownership.owns_resource(&seen.tags),
                        "updated a public IP we do not own: {}",
                        p.name
                    );
                }
            }
            Op::DeleteLoadBalancer { name, .. } => {
                let seen = before.load_balancer(name).expect("deletes what exists");
                assert!(
                    ownership.owns_resource(&seen.tags),
                    "deleted a load balancer we do not own: {name}"
                );
            }
            Op::DeletePublicIp {
                resource_group,
                name,
                ..
            } => {
                let seen = before
                    .public_ip(resource_group, name)
                    .expect("deletes what exists");
                assert!(
                    ownership.owns_resource(&seen.tags),
                    "deleted a public IP we do not own: {name}"
                );
            }
            Op::PutNatGateway(_) | Op::DeleteNatGateway { .. } => {
                let id = gateway_id(op);
                if let Some(seen) = before.nat_gateways.iter().find(|g| g.is(&id)) {
                    assert!(
                        ownership.owns_resource(&seen.tags),
                        "wrote a NAT gateway we do not own: {}",
                        op.describe()
                    );
                }
            }
            Op::PutPrivateLinkService(pls) => {
                if let Some(seen) = before.private_link_service(&pls.resource_group, &pls.name) {
                    assert!(
                        ownership.owns_resource(&seen.tags),
                        "updated a Private Link Service we do not own: {}",
                        pls.name
                    );
                }
            }
            Op::DeletePrivateLinkService {
                resource_group,
                name,
                ..
            } => {
                let seen = before
                    .private_link_service(resource_group, name)
                    .expect("deletes what exists");
                assert!(
                    ownership.owns_resource(&seen.tags) && !frozen(name),
                    "deleted a Private Link Service we do not own: {name}"
                );
            }
            Op::PutSubnet(subnet) => {
                // Only onto or off the gateway aksnet manages.
                let managed = ownership.nat_gateway();
                let ours = |id: &Option<String>| {
                    id.as_deref().is_none_or(|id| {
                        id.to_ascii_lowercase()
                            .ends_with(&format!("/natgateways/{}", managed.to_ascii_lowercase()))
                    })
                };
                let seen = before.node_subnet.as_ref().expect("writes what exists");
                assert!(
                    ours(&seen.nat_gateway_id) && ours(&subnet.nat_gateway_id),
                    "moved the subnet off or onto a gateway we do not own: {subnet:?}"
                );
            }
        }
    }
}

/// How many source addresses, source ports, destination addresses and destination ports NSG
/// rules name, as Azure counts them against its limit of each.
fn named(rules: &[aksnet_core::model::SecurityRule]) -> [usize; 4] {
    rules.iter().fold([0usize; 4], |[s, sp, d, dp], r| {
        [
            s + r.sources.len(),
            sp + r.source_ports.len(),
            d + r.destinations.len(),
            dp + r.destination_ports.len(),
        ]
    })
}

/// The ARM id (without subscription: compared by group and name) of a NAT gateway write.
fn gateway_id(op: &Op) -> String {
    let (rg, name) = match op {
        Op::PutNatGateway(g) => (g.resource_group.as_str(), g.name.as_str()),
        Op::DeleteNatGateway {
            resource_group,
            name,
            ..
        } => (resource_group.as_str(), name.as_str()),
        _ => return String::new(),
    };
    format!("/subscriptions/any/resourceGroups/{rg}/providers/Microsoft.Network/natGateways/{name}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn same_inputs_in_any_order_give_the_same_plan(w in world_strategy(), seed in any::<u64>()) {
        let mut services = w.services.clone();
        let mut nodes = w.nodes.clone();
        // A deterministic shuffle from the seed.
        let mut s = seed | 1;
        for i in (1..services.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            services.swap(i, (s % (i as u64 + 1)) as usize);
        }
        nodes.reverse();
        let a = plan_world(&w, &w.services, &w.nodes, &w.observed);
        let b = plan_world(&w, &services, &nodes, &w.observed);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(diff(&a, &w.observed), diff(&b, &w.observed));
        prop_assert_eq!(a.wanted_fingerprint(), b.wanted_fingerprint());
    }

    #[test]
    fn converges_safely_to_zero_operations(w in world_strategy()) {
        let mut state = w.observed.clone();
        let mut last = None;
        for _ in 0..3 {
            let desired = plan_world(&w, &w.services, &w.nodes, &state);
            let ops = diff(&desired, &state);
            assert_owned(&desired.ownership, &desired, &state, &ops);
            if ops.is_empty() {
                last = Some(desired);
                break;
            }
            apply(&mut state, &ops).map_err(|e| TestCaseError::fail(format!("Azure would refuse: {e}")))?;
        }
        let desired = last.ok_or_else(|| {
            let d = plan_world(&w, &w.services, &w.nodes, &state);
            TestCaseError::fail(format!("no fixed point within 3 rounds: {:#?} {:#?}", diff(&d, &state), d.services))
        })?;
        prop_assert!(diff(&desired, &state).is_empty());

        // Foreign objects are untouched.
        let foreign_before: Vec<_> = w.observed.security_group.iter().flat_map(|n| n.rules.iter()).collect();
        let after = state.security_group.as_ref().expect("NSG");
        for r in foreign_before {
            prop_assert!(after.rules.contains(r), "foreign rule {} changed", r.name);
        }
        let routes_before = &w.observed.route_table.as_ref().expect("rt").routes;
        for r in routes_before {
            prop_assert!(state.route_table.as_ref().expect("rt").routes.contains(r));
        }
        for name in ["shared-a", "shared-b"] {
            let p = state.public_ip(RG, name).expect("BYO public IPs are never deleted");
            prop_assert!(p.tags.is_empty(), "BYO public IPs are never tagged");
        }

        // NSG priorities are unique per direction.
        let mut seen = std::collections::BTreeSet::new();
        for r in &after.rules {
            prop_assert!(seen.insert((r.direction == Direction::Inbound, r.priority)), "priority {} used twice", r.priority);
        }

        // Limits are kept, or an error says why something was left out.
        let reported = !desired.errors.is_empty()
            || desired.services.values().any(|o| matches!(o, ServiceOutcome::Rejected { .. }));
        for lb in &state.load_balancers {
            // Placement checks every load balancer's limits before it puts a Service there.
            let over = lb.frontends.len() > w.limits.frontends_per_load_balancer
                || lb.rules.len() > w.limits.rules_per_load_balancer
                || lb.probes.len() > w.limits.probes_per_load_balancer;
            prop_assert!(!over, "load balancer {} over a limit", lb.name);
            // Every node is in the pools of each profile that selects it, and no other.
            let extra = lb.name.starts_with("extra");
            for pool in lb.backend_pools.iter().filter(|p| !p.name.ends_with("-IPv6")) {
                let mut want: Vec<String> = w.nodes.iter()
                    .filter(|n| !extra || n.metadata.labels.as_ref().is_some_and(|l| l.get(EXTRA_POOL.0).map(String::as_str) == Some(EXTRA_POOL.1)))
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                want.sort();
                let got: Vec<String> = pool.addresses.iter().map(|a| a.name.clone()).collect();
                prop_assert_eq!(got, want, "pool {} of {}", &pool.name, &lb.name);
            }
            let max = if extra { 2 } else { w.network.load_balancer.as_ref().map_or(1, |l| l.max_count) as usize };
            let base = if extra { "extra" } else if lb.name.starts_with("kubernetes-internal") { "kubernetes-internal" } else { "kubernetes" };
            let siblings = state.load_balancers.iter().filter(|l| l.name == base || l.name.strip_prefix(base).and_then(|r| r.strip_prefix('-')).is_some_and(|n| n.parse::<u32>().is_ok())).count();
            prop_assert!(siblings <= max, "{} load balancers of {}, at most {}", siblings, base, max);
        }
        // Others' rules and routes may already exceed a limit; aksnet must not add past it.
        let foreign_rules = w.observed.security_group.as_ref().map_or(0, |n| n.rules.len());
        let foreign_routes = w.observed.route_table.as_ref().map_or(0, |t| t.routes.len());
        prop_assert!(after.rules.len() <= w.limits.rules_per_security_group.max(foreign_rules) || reported);
        prop_assert!(state.route_table.as_ref().expect("rt").routes.len() <= w.limits.routes_per_table.max(foreign_routes) || reported);
        let foreign_named = named(w.observed.security_group.as_ref().map_or(&[][..], |n| &n.rules[..]));
        for (kind, (total, foreign)) in named(&after.rules).into_iter().zip(foreign_named).enumerate() {
            let limit = w.limits.addresses_or_ports_per_security_group;
            // The plan counts what its rules will name before admitting a Service, so this
            // holds without excuses: nothing aksnet wrote is over.
            prop_assert!(total <= limit.max(foreign), "NSG address/port kind {kind}: {total} over {limit}");
        }

        // Every planned Service has its ingress available in Azure.
        for outcome in desired.services.values() {
            if let ServiceOutcome::Planned { ingress } = outcome {
                prop_assert!(!ingress.is_empty());
            }
        }
    }

    #[test]
    fn an_edit_never_takes_the_room_of_a_served_service(w in world_strategy(), edited in any::<prop::sample::Index>(), new in svc_strategy()) {
        prop_assume!(!w.services.is_empty());
        let (before, state) = settle(&w, &w.services, w.observed.clone())?;
        // The same Service (name, uid, creation time) asking for something else: other
        // profiles, ports, addresses.
        let k = edited.index(w.services.len());
        let mut services = w.services.clone();
        services[k] = build_service(k, &new);
        let (after, _) = settle(&w, &services, state)?;
        for (key, outcome) in &after.services {
            if key == &format!("default/s{k}") || !matches!(before.services.get(key), Some(ServiceOutcome::Planned { .. })) {
                continue;
            }
            if let ServiceOutcome::Rejected { errors } = outcome {
                for e in errors {
                    // Room on its load balancer, or in the NSG.
                    let taken = matches!(&e.problem, aksnet_core::problem::Problem::Limit { what, .. } if what.contains("load balancer") || what.contains("NSG"));
                    prop_assert!(!taken, "{} lost its room to the edit of s{}: {:?}", key, k, e);
                }
            }
        }
    }

    #[test]
    fn a_service_rejected_for_its_edit_keeps_its_room_in_the_nsg(w in world_strategy(), edited in any::<prop::sample::Index>(), new in svc_strategy()) {
        let (before, state) = settle(&w, &w.services, w.observed.clone())?;
        let served: Vec<usize> = (0..w.services.len())
            .filter(|k| matches!(before.services.get(&format!("default/s{k}")), Some(ServiceOutcome::Planned { .. })))
            .collect();
        if served.is_empty() {
            return Ok(());
        }
        // A served Service edited into an annotation that cannot be read keeps its rules as
        // they are in Azure; a Service arriving takes only the room left.
        let k = served[edited.index(served.len())];
        let mut services = w.services.clone();
        services[k] = annotated(services[k].clone(), aksnet_core::annotations::IDLE_TIMEOUT, "forever");
        services.push(build_service(w.services.len() + 1, &new));
        let (after, state_after) = settle(&w, &services, state.clone())?;
        let key = format!("default/s{k}");
        prop_assert!(matches!(after.services.get(&key), Some(ServiceOutcome::Rejected { .. })), "{:?}", after.services.get(&key));
        let nsg = |s: &Observed| s.security_group.as_ref().map_or(Vec::new(), |n| n.rules.clone());
        let (rules_before, rules_after) = (nsg(&state), nsg(&state_after));
        let prefix = before.service_prefixes.iter().find(|(_, v)| **v == key).map(|(p, _)| p.clone()).expect("prefix");
        for r in rules_before.iter().filter(|r| r.name.to_ascii_lowercase().starts_with(&prefix)) {
            prop_assert!(rules_after.contains(r), "{}'s rule {} changed", key, r.name);
        }
        let limit = w.limits.rules_per_security_group;
        prop_assert!(rules_after.len() <= limit.max(rules_before.len()), "{} NSG rules, limit {}, {} before", rules_after.len(), limit, rules_before.len());
        let limit = w.limits.addresses_or_ports_per_security_group;
        for (kind, (total, was)) in named(&rules_after).into_iter().zip(named(&rules_before)).enumerate() {
            prop_assert!(total <= limit.max(was), "NSG address/port kind {kind}: {total} over {limit} ({was} before)");
        }
    }

    #[test]
    fn a_served_service_never_moves_when_others_come_and_go(w in world_strategy(), gone in any::<prop::sample::Index>(), new in svc_strategy()) {
        let (before, state) = settle(&w, &w.services, w.observed.clone())?;
        let mut services = w.services.clone();
        if !services.is_empty() {
            services.remove(gone.index(services.len()));
        }
        services.push(build_service(w.services.len() + 1, &new));
        let (after, state_after) = settle(&w, &services, state.clone())?;
        // Where each Service's rules are: the load balancer holding a rule named after it.
        let home = |state: &Observed, prefix: &str| {
            state.load_balancers.iter().find(|lb| lb.rules.iter().any(|r| r.name.to_ascii_lowercase().starts_with(prefix))).map(|lb| lb.name.clone())
        };
        for (prefix, key) in &before.service_prefixes {
            let planned = |d: &Desired| matches!(d.services.get(key), Some(ServiceOutcome::Planned { .. }));
            if planned(&before) && planned(&after) {
                prop_assert_eq!(home(&state, prefix), home(&state_after, prefix), "{} moved", key);
            }
        }
    }
}
