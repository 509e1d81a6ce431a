//! Any values on the cloud provider's annotations (several at once, valid, malformed or
//! binary): the plan never panics and converges with writes Azure accepts; the Service is
//! served or rejected with errors that name one of its annotations or fields; and a bystander
//! Service is served with the same load balancer rules and NSG rules as without it.

mod support;

use std::collections::BTreeSet;

use aksnet_core::annotations as a;
use aksnet_core::model::{Observed, tag};
use aksnet_core::naming::TAG_SERVICE;
use aksnet_core::plan::{Desired, ServiceOutcome};
use k8s_openapi::api::core::v1::Service;
use proptest::prelude::*;
use serde_json::json;
use support::*;

/// The bystander's key.
const BYSTANDER: &str = "default/bystander";

/// Every annotation aksnet reads, and per-port ones on the fuzzed Service's port and on a port
/// it does not have.
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        a::INTERNAL,
        a::INTERNAL_SUBNET,
        a::IPV4,
        a::IPV6,
        a::PIP_NAME,
        a::PIP_NAME_IPV6,
        a::RESOURCE_GROUP,
        a::DNS_LABEL,
        a::PIP_PREFIX,
        a::PIP_PREFIX_IPV6,
        a::PIP_TAGS,
        a::PROBE_PROTOCOL,
        a::PROBE_PATH,
        a::PROBE_INTERVAL,
        a::PROBE_COUNT,
        a::IDLE_TIMEOUT,
        a::DISABLE_TCP_RESET,
        a::DISABLE_FLOATING_IP,
        a::ALLOWED_SERVICE_TAGS,
        a::ALLOWED_IP_RANGES,
        a::SOURCE_RANGES,
        a::SHARED_SECURITY_RULE,
        a::HA_PORTS,
        a::PIP_IP_TAGS,
        a::ADDITIONAL_PUBLIC_IPS,
        a::DENY_ALL_EXCEPT_SOURCE_RANGES,
        a::LB_CONFIGURATIONS,
        a::DISABLE_NSG_RULE,
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    for port in ["443", "9", "0", "x"] {
        for suffix in a::PORT_SUFFIXES {
            keys.push(format!("{}port_{port}_{suffix}", a::PREFIX));
        }
    }
    keys
}

/// Pieces of plausible values: each annotation's valid forms and their near misses.
const PIECES: &[&str] = &[
    "true",
    "TRUE",
    "false",
    "yes",
    "0",
    "1",
    "2",
    "4",
    "5",
    "30",
    "100",
    "101",
    "3600",
    "-1",
    "99999999999999999999",
    "443",
    "65536",
    "tcp",
    "Http",
    "https",
    "udp",
    "/healthz",
    "healthz",
    "..",
    "10.0.0.0/8",
    "10.0.0.1/8",
    "0.0.0.0/0",
    "::/0",
    "fd00::/8",
    "20.0.0.10",
    "10.224.0.10",
    "10.224.0.1",
    "fd00::1",
    "a=b",
    "a=",
    "=b",
    "RoutingPreference=Internet",
    "FirstPartyUsage=/x",
    "Internet",
    "AzureFrontDoor.Backend",
    "kubernetes",
    "kubernetes-internal",
    "extra",
    "my-ip",
    "rg",
    "MC_RG_AKS_WESTEUROPE",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/publicIPPrefixes/p",
    "aksnet.io-owner",
    "aksnet-1234abcd-outbound-1",
    "nodes",
    "é",
    "\u{0}",
    "\u{7f}",
    "*",
    " ",
    "",
];

/// A value: pieces joined by separators, or arbitrary text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (
            prop::collection::vec(prop::sample::select(PIECES), 1..4),
            prop::sample::select(vec![",", ", ", "=", " ", ";", ""]),
        )
            .prop_map(|(pieces, sep)| pieces.join(sep)),
        1 => "\\PC{0,40}",
        1 => any::<String>(),
    ]
}

/// The bystander: a plain public Service on port 80.
fn bystander() -> Service {
    service("bystander", 1, &[(80, 30080)])
}

/// The fuzzed Service: TCP 443, with `annotations`.
fn fuzzed(annotations: &[(String, String)]) -> Service {
    let annotations: serde_json::Map<String, serde_json::Value> = annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    with(
        service("fuzzed", 2, &[(443, 30443)]),
        json!({"metadata": {"annotations": annotations}}),
    )
}

/// What the bystander has in `state`: its load balancer rules (name, protocol, ports) and the
/// NSG rules that admit traffic to its address (protocol, sources, ports).
fn bystander_view(state: &Observed, desired: &Desired) -> BTreeSet<String> {
    let prefixes: Vec<&String> = desired
        .service_prefixes
        .iter()
        .filter(|(_, key)| key.as_str() == BYSTANDER)
        .map(|(p, _)| p)
        .collect();
    let lb_rules = state
        .load_balancers
        .iter()
        .flat_map(|lb| &lb.rules)
        .filter(|r| prefixes.iter().any(|p| r.name.starts_with(p.as_str())))
        .map(|r| {
            format!(
                "lb {} {:?} {}->{}",
                r.name, r.protocol, r.frontend_port, r.backend_port
            )
        });
    let address = state
        .public_ips
        .iter()
        .find(|p| tag(&p.tags, TAG_SERVICE) == Some(BYSTANDER))
        .and_then(|p| p.address.clone());
    let nsg_rules = state
        .security_group
        .iter()
        .flat_map(|n| &n.rules)
        .filter(|r| address.as_ref().is_some_and(|a| r.destinations.contains(a)))
        .map(|r| {
            format!(
                "nsg {:?} {} {:?} {:?}",
                r.access, r.protocol, r.sources, r.destination_ports
            )
        });
    lb_rules.chain(nsg_rules).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_annotation_values_hurt_only_their_service(
        annotations in prop::collection::vec((prop::sample::select(keys()), value()), 1..5),
    ) {
        let net = network();
        let nodes = nodes(3);
        let (alone, alone_desired, _) = converge(&net, &[bystander()], &nodes, observed_base(), 4);
        let expected = bystander_view(&alone, &alone_desired);
        prop_assert!(expected.iter().any(|v| v.starts_with("lb ")) && expected.iter().any(|v| v.starts_with("nsg ")));

        let services = [bystander(), fuzzed(&annotations)];
        let (state, desired, _) = converge(&net, &services, &nodes, observed_base(), 6);

        prop_assert!(
            matches!(desired.services.get(BYSTANDER), Some(ServiceOutcome::Planned { .. })),
            "the bystander is served: {:?}", desired.services.get(BYSTANDER)
        );
        prop_assert_eq!(bystander_view(&state, &desired), expected);
        match desired.services.get("default/fuzzed") {
            Some(ServiceOutcome::Planned { .. } | ServiceOutcome::Waiting { .. }) => {}
            Some(ServiceOutcome::Rejected { errors }) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert_eq!(e.service.as_str(), "default/fuzzed");
                    prop_assert!(
                        annotations.iter().any(|(k, _)| *k == e.field)
                            || e.field.starts_with("spec.")
                            || e.field.starts_with("metadata."),
                        "the error names one of the Service's annotations or fields: {:?}", e
                    );
                }
            }
            other => prop_assert!(false, "the fuzzed Service is judged: {other:?}"),
        }
    }
}
