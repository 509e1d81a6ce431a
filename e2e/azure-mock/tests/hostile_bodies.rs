//! Hostile request bodies over HTTP: a valid body of each served type with properties
//! replaced by any JSON, or any JSON at all, PUT to any served resource or child, is answered
//! with a success or a 4xx carrying an ARM error code, never a 5xx; and the mock keeps serving.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use support::*;

/// Property names the served types use, so random objects hit real code paths.
const KEYS: &[&str] = &[
    "location",
    "sku",
    "name",
    "properties",
    "tags",
    "id",
    "zones",
    "frontendIPConfigurations",
    "loadBalancingRules",
    "probes",
    "backendAddressPools",
    "outboundRules",
    "securityRules",
    "routes",
    "subnets",
    "addressSpace",
    "addressPrefix",
    "addressPrefixes",
    "nextHopType",
    "nextHopIpAddress",
    "priority",
    "protocol",
    "direction",
    "access",
    "publicIPAddress",
    "publicIPAddresses",
    "publicIPPrefix",
    "subnet",
    "frontendIPConfiguration",
    "backendAddressPool",
    "probe",
    "frontendPort",
    "backendPort",
    "port",
    "requestPath",
    "intervalInSeconds",
    "publicIPAllocationMethod",
    "privateIPAddress",
    "privateIPAllocationMethod",
    "ipTags",
    "idleTimeoutInMinutes",
    "prefixLength",
    "loadBalancerBackendAddresses",
    "ipAddress",
    "virtualNetwork",
    "sourceAddressPrefix",
    "sourceAddressPrefixes",
    "destinationAddressPrefix",
    "destinationAddressPrefixes",
    "destinationPortRange",
    "destinationPortRanges",
    "sourcePortRange",
    "allocatedOutboundPorts",
    "natGateway",
    "routeTable",
    "networkSecurityGroup",
    "ipConfigurations",
    "loadBalancerFrontendIpConfigurations",
    "visibility",
    "autoApproval",
];

/// Strings the types take (and near misses).
const WORDS: &[&str] = &[
    "westeurope",
    "Standard",
    "Basic",
    "Static",
    "Dynamic",
    "Tcp",
    "Udp",
    "All",
    "Http",
    "Inbound",
    "Allow",
    "Deny",
    "*",
    "Internet",
    "VirtualAppliance",
    "10.0.0.0/16",
    "10.0.0.4",
    "fd00::/64",
    "0.0.0.0/0",
    "80",
    "1-65535",
    "/healthz",
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-conformance/providers/Microsoft.Network/publicIPAddresses/ip",
    "/subscriptions/x/../../y",
    "",
];

/// Any JSON, leaning towards the shapes and words of the served types.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(KEYS).prop_map(String::from),
                    "\\PC{0,8}"
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Where a body goes, and a valid body for it.
fn targets() -> Vec<(String, Value)> {
    let net = format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network");
    let top = |kind: &str, body: Value| (format!("{net}/{kind}/fuzz"), body);
    let standard = json!({"location": "westeurope", "sku": {"name": "Standard"}});
    vec![
        top(
            "publicIPAddresses",
            json!({"location": "westeurope", "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static"}}),
        ),
        top(
            "publicIPPrefixes",
            json!({"location": "westeurope", "sku": {"name": "Standard"},
                "properties": {"prefixLength": 30}}),
        ),
        top("loadBalancers", standard.clone()),
        top("natGateways", standard),
        top("networkSecurityGroups", json!({"location": "westeurope"})),
        top("routeTables", json!({"location": "westeurope"})),
        top(
            "virtualNetworks",
            json!({"location": "westeurope",
                "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}),
        ),
        top("privateLinkServices", json!({"location": "westeurope"})),
        (
            format!("{net}/networkSecurityGroups/nsg/securityRules/fuzz"),
            json!({"properties": {"priority": 100, "direction": "Inbound", "access": "Allow",
                "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": "80"}}),
        ),
        (
            format!("{net}/routeTables/rt/routes/fuzz"),
            json!({"properties": {"addressPrefix": "10.1.0.0/16", "nextHopType": "None"}}),
        ),
        (
            format!("{net}/virtualNetworks/vnet/subnets/fuzz"),
            json!({"properties": {"addressPrefix": "10.0.1.0/24"}}),
        ),
    ]
}

/// A body: the target's valid one with some properties (top-level or under `properties`)
/// replaced by any JSON, or any JSON at all.
fn body(valid: Value) -> impl Strategy<Value = Value> {
    let edits = prop::collection::vec(
        (any::<bool>(), prop::sample::select(KEYS), any_json()),
        1..4,
    );
    prop_oneof![
        4 => edits.prop_map(move |edits| {
            let mut b = valid.clone();
            for (nested, key, value) in edits {
                let at = if nested { &mut b["properties"] } else { &mut b };
                if !at.is_object() {
                    *at = json!({});
                }
                at[key] = value;
            }
            b
        }),
        1 => any_json(),
    ]
}

#[test]
fn any_body_gets_an_arm_answer_never_a_server_error() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let env = rt.block_on(async {
        let env = Env::start(azure_mock::Config::default()).await;
        // The parents the child targets name.
        let net = format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network");
        for (parent, valid) in [
            (
                "networkSecurityGroups/nsg",
                json!({"location": "westeurope"}),
            ),
            ("routeTables/rt", json!({"location": "westeurope"})),
            (
                "virtualNetworks/vnet",
                json!({"location": "westeurope",
                    "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}),
            ),
        ] {
            let path = format!("{net}/{parent}?api-version=2024-03-01");
            let (status, _) = env.arm("PUT", &path, Some(valid)).await;
            assert!(status < 300, "{parent}: {status}");
        }
        env
    });
    let strategy =
        prop::sample::select(targets()).prop_flat_map(|(path, valid)| (Just(path), body(valid)));
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 300,
        ..RunnerConfig::default()
    });
    let outcome = runner.run(&strategy, |(path, body)| {
        let (status, answer) = rt.block_on(env.arm(
            "PUT",
            &format!("{path}?api-version=2024-03-01"),
            Some(body.clone()),
        ));
        if status >= 500 {
            return Err(TestCaseError::fail(format!(
                "{status} for {body}: {answer}"
            )));
        }
        if status >= 400 && !answer["error"]["code"].is_string() {
            return Err(TestCaseError::fail(format!(
                "{status} without an ARM error code for {body}: {answer}"
            )));
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // Still serving, and what it holds reads back.
    for (path, _) in targets() {
        let list = path.rsplit_once('/').map_or(path.as_str(), |(l, _)| l);
        let (status, answer) =
            rt.block_on(env.arm("GET", &format!("{list}?api-version=2024-03-01"), None));
        assert_eq!(status, 200, "{list}: {answer}");
    }
}
