//! Tenancy: a Service author reaches only what is theirs. Who may use which address (the
//! Service's own public IP, AksNetwork static IPs by `allowedNamespaces`, unowned IPs no other
//! namespace holds), resource groups the AksNetwork lists, and a property: no sequence of
//! Service creations, edits and deletions in one namespace makes aksnet write to a resource
//! made for another namespace's Service, a static IP of the spec, the outbound IP, or anything
//! it does not own.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use aksnet_core::annotations as a;
use aksnet_core::diff::{Op, diff};
use aksnet_core::model::{
    Family, FrontendTarget, IpKey, Observed, PublicIp, ip_key, ip_key_of_id, name_key,
};
use aksnet_core::naming::{Ownership, TAG_OWNER};
use aksnet_core::plan::{Desired, ServiceOutcome};
use aksnet_core::problem::Problem;
use aksnet_core::simulate::apply;
use aksnet_crds::AksNetworkSpec;
use k8s_openapi::api::core::v1::Service;
use proptest::prelude::*;
use serde_json::json;
use support::*;

/// Namespace of the Services under attack.
const VICTIM: &str = "victim";
/// Namespace of the hostile tenant.
const EVIL: &str = "evil";
/// A resource group the AksNetwork lists for public IPs.
const ALLOWED_RG: &str = "shared-ips";
/// A resource group it does not list.
const FAR_RG: &str = "far-away";

/// A Service `name` in namespace `ns`, created at second `created`, with TCP port `port`.
fn svc_in(ns: &str, name: &str, created: i64, port: u16) -> Service {
    with(
        service(name, created, &[(port, 30000 + port % 2000)]),
        json!({"metadata": {"namespace": ns}}),
    )
}

/// The AksNetwork of these tests: static IPs for the victim's namespace only, for every
/// namespace, and for none; one more resource group for public IPs.
fn tenancy_network() -> AksNetworkSpec {
    network_with(json!({
        "azure": {"publicIpResourceGroups": [ALLOWED_RG]},
        "publicIps": [
            {"name": "team-ip", "allowedNamespaces": [VICTIM]},
            {"name": "open-ip"},
            {"name": "reserved-ip", "allowedNamespaces": []}
        ]
    }))
}

fn ownership() -> Ownership {
    Ownership::new(SUB, RG, "aks")
}

/// The public IP aksnet makes for Service `name`.
fn managed_ip_name(name: &str) -> String {
    let o = ownership();
    o.service_frontend(&o.service_prefix(&uid(name)), Family::V4)
}

/// Azure before the Services: others' public IPs in the cluster's and other resource groups,
/// one of another aksnet cluster.
fn azure_before() -> Observed {
    let mut observed = observed_base();
    observed.public_ips.extend([
        byo_ip("byo-victim", RG, "20.0.0.10"),
        byo_ip("byo-free", RG, "20.0.0.11"),
        byo_ip("byo-allowed", ALLOWED_RG, "20.0.0.12"),
        byo_ip("byo-far", FAR_RG, "20.0.0.13"),
        PublicIp {
            tags: [(TAG_OWNER.to_string(), "aksnet-0badc0de".to_string())].into(),
            ..byo_ip("other-cluster", RG, "20.0.0.14")
        },
    ]);
    observed
}

/// The victim's Services: a public IP of its own with a DNS label, an unowned IP, the static
/// IP of its namespace, a static private address, a shared NSG rule.
fn victims() -> Vec<Service> {
    vec![
        annotated(
            svc_in(VICTIM, "v-managed", 10, 80),
            a::DNS_LABEL,
            "victim-label",
        ),
        annotated(svc_in(VICTIM, "v-byo", 11, 81), a::PIP_NAME, "byo-victim"),
        annotated(svc_in(VICTIM, "v-static", 12, 82), a::PIP_NAME, "team-ip"),
        annotated(
            annotated(svc_in(VICTIM, "v-internal", 13, 83), a::INTERNAL, "true"),
            a::IPV4,
            "10.224.9.9",
        ),
        annotated(
            svc_in(VICTIM, "v-shared", 14, 443),
            a::SHARED_SECURITY_RULE,
            "true",
        ),
    ]
}

/// Plan, diff and apply until nothing is left (at most `rounds`), checking each round's
/// operations with `check`.
fn settle(
    network: &AksNetworkSpec,
    services: &[Service],
    mut state: Observed,
    mut check: impl FnMut(&Observed, &[Op]),
) -> (Observed, Desired) {
    let nodes = nodes(3);
    for _ in 0..6 {
        let desired = plan_with(network, services, &nodes, &state);
        let ops = diff(&desired, &state);
        if ops.is_empty() {
            return (state, desired);
        }
        check(&state, &ops);
        apply(&mut state, &ops).expect("Azure accepts the operations");
    }
    panic!("no fixed point in 6 rounds");
}

fn outcome<'d>(d: &'d Desired, key: &str) -> &'d ServiceOutcome {
    d.services
        .get(key)
        .unwrap_or_else(|| panic!("{key} has no outcome"))
}

fn not_allowed(d: &Desired, key: &str, field: &str) -> bool {
    matches!(outcome(d, key), ServiceOutcome::Rejected { errors }
        if errors.iter().any(|e| e.field == field && matches!(e.problem, Problem::AddressNotAllowed(_))))
}

/// The victims served, and Azure with them.
fn victims_served() -> (Observed, Desired) {
    let (state, d) = settle(&tenancy_network(), &victims(), azure_before(), |_, _| {});
    for v in victims() {
        let key = format!("{VICTIM}/{}", v.metadata.name.clone().unwrap_or_default());
        assert!(
            matches!(outcome(&d, &key), ServiceOutcome::Planned { .. }),
            "{key}: {:?}",
            outcome(&d, &key)
        );
    }
    (state, d)
}

#[test]
fn another_namespaces_addresses_are_refused_by_name_and_by_address() {
    let (state, _) = victims_served();
    let managed = managed_ip_name("v-managed");
    let managed_address = state
        .public_ip(RG, &managed)
        .and_then(|p| p.address.clone())
        .expect("victim's address");
    let outbound = ownership().outbound_ip(1);
    let cases = [
        (
            a::PIP_NAME,
            managed.as_str(),
            "the one aksnet made for Service victim/v-managed",
        ),
        (a::IPV4, managed_address.as_str(), "victim/v-managed"),
        (a::PIP_NAME, outbound.as_str(), "outbound"),
        (a::PIP_NAME, "other-cluster", "another aksnet cluster"),
        (a::PIP_NAME, "team-ip", "admits only namespaces [victim]"),
        (a::PIP_NAME, "reserved-ip", "admits only namespaces []"),
        (
            a::PIP_NAME,
            "byo-victim",
            "used by Services of namespace victim",
        ),
        (a::IPV4, "20.0.0.10", "used by Services of namespace victim"),
    ];
    for (field, value, reason) in cases {
        let evil = annotated(svc_in(EVIL, "intruder", 1, 9000), field, value);
        let mut services = victims();
        services.push(evil);
        let before = state.clone();
        let (after, d) = settle(&tenancy_network(), &services, state.clone(), |_, _| {});
        assert!(
            not_allowed(&d, "evil/intruder", field),
            "{field}={value}: {:?}",
            outcome(&d, "evil/intruder")
        );
        let ServiceOutcome::Rejected { errors } = outcome(&d, "evil/intruder") else {
            unreachable!()
        };
        assert!(
            errors
                .iter()
                .any(|e| e.problem.to_string().contains(reason)),
            "{field}={value}: {errors:?}"
        );
        assert_eq!(after, before, "{field}={value}: nothing is written");
    }
}

#[test]
fn shared_addresses_follow_allowed_namespaces_and_first_holder() {
    let (state, _) = victims_served();
    let network = tenancy_network();
    let mut services = victims();
    services.extend([
        // Every namespace may use open-ip, and two namespaces share it.
        annotated(svc_in(EVIL, "e-open", 1, 9001), a::PIP_NAME, "open-ip"),
        annotated(svc_in(VICTIM, "v-open", 20, 9002), a::PIP_NAME, "open-ip"),
        // An unowned IP nobody holds: first come.
        annotated(svc_in(EVIL, "e-free", 2, 9003), a::PIP_NAME, "byo-free"),
        // The victim's namespace shares its own unowned IP among its Services.
        annotated(
            svc_in(VICTIM, "v-byo-2", 21, 9004),
            a::PIP_NAME,
            "byo-victim",
        ),
        // An allowed resource group works; one the AksNetwork does not list does not.
        annotated(
            annotated(
                svc_in(EVIL, "e-allowed", 3, 9005),
                a::PIP_NAME,
                "byo-allowed",
            ),
            a::RESOURCE_GROUP,
            "SHARED-IPS",
        ),
        annotated(
            annotated(svc_in(EVIL, "e-far", 4, 9006), a::PIP_NAME, "byo-far"),
            a::RESOURCE_GROUP,
            FAR_RG,
        ),
        // The victim's static private address is the victim's.
        annotated(
            annotated(svc_in(EVIL, "e-private", 5, 9007), a::INTERNAL, "true"),
            a::IPV4,
            "10.224.9.9",
        ),
    ]);
    let (state, d) = settle(&network, &services, state, |_, _| {});
    for key in [
        "evil/e-open",
        "victim/v-open",
        "evil/e-free",
        "victim/v-byo-2",
        "evil/e-allowed",
    ] {
        assert!(
            matches!(outcome(&d, key), ServiceOutcome::Planned { .. }),
            "{key}: {:?}",
            outcome(&d, key)
        );
    }
    assert!(
        matches!(outcome(&d, "evil/e-far"), ServiceOutcome::Rejected { errors }
        if errors.iter().any(|e| e.field == a::RESOURCE_GROUP && matches!(e.problem, Problem::ResourceGroupNotAllowed(_))))
    );
    assert!(not_allowed(&d, "evil/e-private", a::IPV4));

    // Once the victim's last Service on byo-victim is gone, another namespace may take it.
    let services: Vec<Service> = services
        .into_iter()
        .filter(|s| !matches!(s.metadata.name.as_deref(), Some("v-byo") | Some("v-byo-2")))
        .chain([annotated(
            svc_in(EVIL, "e-late", 6, 9008),
            a::PIP_NAME,
            "byo-victim",
        )])
        .collect();
    let (_, d) = settle(&network, &services, state, |_, _| {});
    assert!(matches!(
        outcome(&d, "evil/e-late"),
        ServiceOutcome::Planned { .. }
    ));
}

#[test]
fn an_older_service_cannot_take_an_address_another_namespace_holds() {
    let (state, _) = victims_served();
    // Created long before the victims, edited now to name the victim's address.
    let evil = annotated(svc_in(EVIL, "sleeper", 0, 9000), a::PIP_NAME, "byo-victim");
    let mut services = victims();
    services.push(evil);
    let (after, d) = settle(&tenancy_network(), &services, state.clone(), |_, _| {});
    assert!(not_allowed(&d, "evil/sleeper", a::PIP_NAME));
    assert!(matches!(
        outcome(&d, "victim/v-byo"),
        ServiceOutcome::Planned { .. }
    ));
    assert_eq!(after, state);
}

#[test]
fn a_service_may_pin_its_own_address() {
    let (state, _) = victims_served();
    let address = state
        .public_ip(RG, &managed_ip_name("v-managed"))
        .and_then(|p| p.address.clone())
        .expect("address");
    let mut services = victims();
    services[0] = with(
        services[0].clone(),
        json!({"spec": {"loadBalancerIP": address}, "metadata": {"annotations": {a::DNS_LABEL: null}}}),
    );
    let (after, d) = settle(&tenancy_network(), &services, state, |_, _| {});
    assert!(matches!(
        outcome(&d, "victim/v-managed"),
        ServiceOutcome::Planned { .. }
    ));
    assert!(after.public_ip(RG, &managed_ip_name("v-managed")).is_some());
}

#[test]
fn a_working_service_edited_to_trespass_keeps_what_it_had() {
    let (state, _) = victims_served();
    let network = tenancy_network();
    let mut services = victims();
    services.push(svc_in(EVIL, "e-own", 1, 9000));
    let (state, d) = settle(&network, &services, state, |_, _| {});
    assert!(matches!(
        outcome(&d, "evil/e-own"),
        ServiceOutcome::Planned { .. }
    ));
    // Edited to take the victim's address: refused, and frozen on the address it had.
    if let Some(last) = services.last_mut() {
        *last = annotated(last.clone(), a::PIP_NAME, "byo-victim");
    }
    let (after, d) = settle(&network, &services, state.clone(), |_, _| {});
    assert!(not_allowed(&d, "evil/e-own", a::PIP_NAME));
    assert_eq!(after, state, "nothing is written");
}

#[test]
fn an_address_taken_before_the_rules_is_given_back() {
    // Azure as an older aksnet left it: a Service of another namespace on the victim's IP.
    let (mut state, _) = victims_served();
    let network = tenancy_network();
    let squatter = annotated(
        svc_in(EVIL, "squatter", 30, 9000),
        a::PIP_NAME,
        "byo-victim",
    );
    let ownership = ownership();
    let prefix = ownership.service_prefix(&uid("squatter"));
    let lb = state
        .load_balancers
        .iter_mut()
        .find(|lb| lb.name == "kubernetes")
        .expect("public LB");
    let mut rule = lb
        .rules
        .iter()
        .find(|r| name_key(&r.frontend) == name_key(&ownership.public_ip_frontend("byo-victim")))
        .expect("victim's rule")
        .clone();
    rule.name = ownership.rule(&prefix, aksnet_core::model::Protocol::Tcp, 9000, Family::V4);
    rule.frontend_port = 9000;
    rule.backend_port = 9000;
    rule.probe = None;
    lb.rules.push(rule);
    let mut services = victims();
    services.push(squatter);
    let (after, d) = settle(&network, &services, state, |_, _| {});
    assert!(not_allowed(&d, "evil/squatter", a::PIP_NAME));
    let lb = after.load_balancer("kubernetes").expect("public LB");
    assert!(
        !lb.rules
            .iter()
            .any(|r| ownership.service_prefix_of(&name_key(&r.name)) == Some(&name_key(&prefix))),
        "the squatter's rule is removed, not frozen"
    );
}

// ---- the property ----

/// What a hostile Service may ask for.
#[derive(Clone, Debug)]
enum Ask {
    PipName(&'static str, Option<&'static str>),
    Address(&'static str),
    VictimManagedByName,
    VictimManagedByAddress,
    Outbound,
    InternalAddress(&'static str),
    DnsLabel(&'static str),
    SharedRule,
    Tags(&'static str),
    Plain,
    ClusterIpWithGroup(&'static str),
}

fn ask_strategy() -> impl Strategy<Value = Ask> {
    prop_oneof![
        (
            prop::sample::select(vec![
                "byo-victim",
                "byo-free",
                "byo-allowed",
                "byo-far",
                "other-cluster",
                "team-ip",
                "open-ip",
                "reserved-ip",
            ]),
            prop::option::of(prop::sample::select(vec![
                RG,
                "MC_RG_AKS_WESTEUROPE",
                ALLOWED_RG,
                FAR_RG,
                "./mc_rg_aks_westeurope",
                "mc_rg_aks_westeurope/",
            ])),
        )
            .prop_map(|(n, g)| Ask::PipName(n, g)),
        prop::sample::select(vec!["20.0.0.10", "20.0.0.11", "20.0.0.12", "20.0.0.14"])
            .prop_map(Ask::Address),
        Just(Ask::VictimManagedByName),
        Just(Ask::VictimManagedByAddress),
        Just(Ask::Outbound),
        prop::sample::select(vec!["10.224.9.9", "10.224.9.10"]).prop_map(Ask::InternalAddress),
        Just(Ask::DnsLabel("victim-label")),
        Just(Ask::SharedRule),
        prop::sample::select(vec![
            "aksnet.io-service=victim/v-managed",
            "AKSNET.IO-owner=aksnet-00000000",
            "team=evil",
        ])
        .prop_map(Ask::Tags),
        Just(Ask::Plain),
        prop::sample::select(vec!["./mc_rg_aks_westeurope", FAR_RG])
            .prop_map(Ask::ClusterIpWithGroup),
    ]
}

/// One step of the hostile tenant.
#[derive(Clone, Debug)]
enum Step {
    /// Create (or replace) Service `evil-<n>`, created at second `created`.
    Put {
        n: u8,
        created: i64,
        port: u16,
        ask: Ask,
    },
    /// Delete Service `evil-<n>`.
    Delete { n: u8 },
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..4, 0i64..40, prop::sample::select(vec![80u16, 443, 9000, 9001]), ask_strategy())
            .prop_map(|(n, created, port, ask)| Step::Put { n, created, port, ask }),
        1 => (0u8..4).prop_map(|n| Step::Delete { n }),
    ]
}

/// The hostile Service a step asks for.
fn hostile(n: u8, created: i64, port: u16, ask: &Ask, victim_address: &str) -> Service {
    let svc = svc_in(EVIL, &format!("evil-{n}"), created, port);
    match ask {
        Ask::PipName(name, group) => {
            let svc = annotated(svc, a::PIP_NAME, name);
            match group {
                Some(g) => annotated(svc, a::RESOURCE_GROUP, g),
                None => svc,
            }
        }
        Ask::Address(ip) => annotated(svc, a::IPV4, ip),
        Ask::VictimManagedByName => annotated(svc, a::PIP_NAME, &managed_ip_name("v-managed")),
        Ask::VictimManagedByAddress => {
            with(svc, json!({"spec": {"loadBalancerIP": victim_address}}))
        }
        Ask::Outbound => annotated(svc, a::PIP_NAME, &ownership().outbound_ip(1)),
        Ask::InternalAddress(ip) => annotated(annotated(svc, a::INTERNAL, "true"), a::IPV4, ip),
        Ask::DnsLabel(label) => annotated(svc, a::DNS_LABEL, label),
        Ask::SharedRule => annotated(svc, a::SHARED_SECURITY_RULE, "true"),
        Ask::Tags(tags) => annotated(svc, a::PIP_TAGS, tags),
        Ask::Plain => svc,
        Ask::ClusterIpWithGroup(g) => annotated(
            with(svc, json!({"spec": {"type": "ClusterIP"}})),
            a::RESOURCE_GROUP,
            g,
        ),
    }
}

/// Everything the hostile tenant must never write to: public IPs that are not its own, and
/// the children (by name) of the victim's Services, of the shared frontends the victim uses, and
/// of others.
struct Protected {
    ips: BTreeSet<IpKey>,
    /// Lower-case names of load balancer and NSG children to keep as they are.
    children: BTreeSet<String>,
    /// Public IPs and private addresses no hostile rule may be put on.
    addresses: BTreeSet<String>,
}

fn protected(state: &Observed, desired: &Desired) -> Protected {
    let ownership = ownership();
    let mut ips: BTreeSet<IpKey> = state
        .public_ips
        .iter()
        .map(|p| ip_key(&p.resource_group, &p.name))
        .collect();
    ips.extend(
        desired
            .public_ips
            .iter()
            .map(|p| ip_key(&p.resource_group, &p.name)),
    );
    let victim_prefixes: BTreeSet<&String> = desired
        .service_prefixes
        .iter()
        .filter(|(_, key)| key.starts_with("victim/"))
        .map(|(p, _)| p)
        .collect();
    let ours_and_theirs = |name: &str| {
        let key = name_key(name);
        !ownership.owns_child(&key)
            || ownership
                .service_prefix_of(&key)
                .is_some_and(|p| victim_prefixes.contains(&p.to_string()))
    };
    let mut children = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    for lb in &state.load_balancers {
        for r in &lb.rules {
            if ours_and_theirs(&r.name) {
                children.insert(name_key(&r.name));
                // The frontend a victim's rule uses is theirs too.
                children.insert(name_key(&r.frontend));
                if let Some(f) = lb
                    .frontends
                    .iter()
                    .find(|f| name_key(&f.name) == name_key(&r.frontend))
                {
                    match &f.target {
                        FrontendTarget::Public { public_ip_id } => {
                            addresses.extend(
                                ip_key_of_id(public_ip_id).map(|(g, n)| format!("{g}/{n}")),
                            );
                        }
                        FrontendTarget::Private {
                            static_ip: Some(ip),
                            ..
                        } => {
                            addresses.insert(ip.clone());
                        }
                        FrontendTarget::Private { .. } => {}
                    }
                }
            }
        }
        for f in &lb.frontends {
            if ours_and_theirs(&f.name) {
                children.insert(name_key(&f.name));
            }
        }
        for p in &lb.probes {
            if ours_and_theirs(&p.name) {
                children.insert(name_key(&p.name));
            }
        }
    }
    for r in state.security_group.iter().flat_map(|n| n.rules.iter()) {
        let victim_shared = r.description.as_deref() == Some("aksnet: shared");
        if ours_and_theirs(&r.name) || victim_shared {
            children.insert(name_key(&r.name));
        }
    }
    // Addresses that are not the tenant's to take: every public IP but those it may use
    // (open-ip for every namespace, byo-free and byo-allowed while nobody holds them).
    for p in &state.public_ips {
        let free = ["open-ip", "byo-free", "byo-allowed"].contains(&p.name.as_str());
        if !free {
            addresses.insert(format!(
                "{}/{}",
                name_key(&p.resource_group),
                name_key(&p.name)
            ));
        }
    }
    Protected {
        ips,
        children,
        addresses,
    }
}

/// A load balancer's children by lower-case name, as text (without what the server fills in).
fn children_of(lb: &aksnet_core::model::LoadBalancer) -> BTreeMap<String, String> {
    let frontends = lb.frontends.iter().map(|c| {
        let mut c = c.clone();
        c.private_ip = None;
        (name_key(&c.name), format!("{c:?}"))
    });
    frontends
        .chain(
            lb.rules
                .iter()
                .map(|c| (name_key(&c.name), format!("{c:?}"))),
        )
        .chain(
            lb.probes
                .iter()
                .map(|c| (name_key(&c.name), format!("{c:?}"))),
        )
        .collect()
}

/// Checks one round of operations against what is protected.
fn assert_untouched(p: &Protected, before: &Observed, ops: &[Op]) {
    let ownership = ownership();
    let hostile_prefix = |name: &str| {
        ownership
            .service_prefix_of(&name_key(name))
            .is_some_and(|prefix| {
                (0..4).any(|n| {
                    name_key(&ownership.service_prefix(&uid(&format!("evil-{n}")))) == prefix
                })
            })
    };
    for op in ops {
        match op {
            Op::PutPublicIp(ip) => {
                let key = ip_key(&ip.resource_group, &ip.name);
                assert!(!p.ips.contains(&key), "wrote public IP {}", ip.name);
            }
            Op::DeletePublicIp {
                resource_group,
                name,
                ..
            } => {
                let key = ip_key(resource_group, name);
                assert!(!p.ips.contains(&key), "deleted public IP {name}");
            }
            Op::PutLoadBalancer(lb) => {
                let seen = before.load_balancer(&lb.name).expect("the LBs exist");
                let (after, was) = (children_of(lb), children_of(seen));
                for child in &p.children {
                    if let Some(old) = was.get(child) {
                        assert_eq!(
                            after.get(child),
                            Some(old),
                            "changed {child} of {}",
                            lb.name
                        );
                    }
                }
                for rule in lb.rules.iter().filter(|r| hostile_prefix(&r.name)) {
                    let target = lb
                        .frontends
                        .iter()
                        .find(|f| name_key(&f.name) == name_key(&rule.frontend))
                        .map(|f| &f.target);
                    let address = match target {
                        Some(FrontendTarget::Public { public_ip_id }) => {
                            ip_key_of_id(public_ip_id).map(|(g, n)| format!("{g}/{n}"))
                        }
                        Some(FrontendTarget::Private { static_ip, .. }) => static_ip.clone(),
                        None => None,
                    };
                    if let Some(address) = address {
                        assert!(
                            !p.addresses.contains(&address),
                            "hostile rule {} put on {address}",
                            rule.name
                        );
                    }
                }
            }
            Op::PutSecurityGroup(nsg) => {
                let seen = before.security_group.as_ref().expect("NSG");
                for r in &seen.rules {
                    if p.children.contains(&name_key(&r.name)) {
                        assert!(nsg.rules.contains(r), "changed NSG rule {}", r.name);
                    }
                }
            }
            Op::PutRouteTable(_) => panic!("a Service changed the route table"),
            Op::DeleteLoadBalancer { name, .. } => panic!("deleted load balancer {name}"),
            Op::PutNatGateway(_) | Op::PutSubnet(_) | Op::DeleteNatGateway { .. } => {
                panic!("a Service changed egress: {}", op.describe())
            }
            // Only a tenant's own (no victim asks for one).
            Op::PutPrivateLinkService(_) | Op::DeletePrivateLinkService { .. } => {
                panic!("a Private Link Service no one asked for: {}", op.describe())
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_tenant_never_writes_to_what_is_not_its_own(steps in prop::collection::vec(step_strategy(), 1..8)) {
        let network = tenancy_network();
        let (mut state, desired) = victims_served();
        let victim_address = state
            .public_ip(RG, &managed_ip_name("v-managed"))
            .and_then(|p| p.address.clone())
            .expect("victim's address");
        let victim_ingress: BTreeMap<String, ServiceOutcome> = desired
            .services
            .iter()
            .filter(|(k, _)| k.starts_with("victim/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let protect = protected(&state, &desired);
        let mut hostile_services: BTreeMap<u8, Service> = BTreeMap::new();
        for step in &steps {
            match step {
                Step::Put { n, created, port, ask } => {
                    hostile_services.insert(*n, hostile(*n, *created, *port, ask, &victim_address));
                }
                Step::Delete { n } => {
                    hostile_services.remove(n);
                }
            }
            let services: Vec<Service> = victims().into_iter().chain(hostile_services.values().cloned()).collect();
            let (after, d) = settle(&network, &services, state.clone(), |before, ops| {
                assert_untouched(&protect, before, ops)
            });
            for (key, was) in &victim_ingress {
                prop_assert_eq!(d.services.get(key), Some(was), "{} lost its address", key);
            }
            state = after;
        }
    }
}
