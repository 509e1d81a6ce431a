//! The AksNetwork CRD on a real API server: it installs with server-side apply, every sample is
//! accepted, each invalid object of the table is refused with a message naming the field, the
//! immutable fields stay immutable, and `kubectl get akn` shows the printer columns.
//!
//! The same table runs through the operator's Rust validator, so the two stay in step.

use aksnet_crds::{AksNetwork, AksNetworkSpec, validate};
use aksnet_e2e::{TestCluster, kubectl, manifests, repo_root};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const KUBENET_SAMPLE: &str = "config/samples/aksnet_v1alpha1_aksnetwork_kubenet.yaml";
const EGRESS_SAMPLE: &str = "config/samples/aksnet_v1alpha1_aksnetwork_egress_firewall.yaml";

/// One invalid object: a sample with one change, the field the refusal must name, and a
/// fragment of the API server's message.
struct Invalid {
    what: &'static str,
    sample: &'static str,
    edits: Vec<(&'static str, Option<Value>)>,
    field: &'static str,
    message: &'static str,
}

fn case(
    what: &'static str,
    edits: Vec<(&'static str, Option<Value>)>,
    field: &'static str,
    message: &'static str,
) -> Invalid {
    Invalid {
        what,
        sample: KUBENET_SAMPLE,
        edits,
        field,
        message,
    }
}

fn set(path: &'static str, v: Value) -> (&'static str, Option<Value>) {
    (path, Some(v))
}

fn unset(path: &'static str) -> (&'static str, Option<Value>) {
    (path, None)
}

fn invalid_objects() -> Vec<Invalid> {
    let rule = |name: &str, priority: u32| {
        json!({"name": name, "priority": priority, "direction": "Inbound", "access": "Allow",
               "protocol": "Tcp", "sourceAddressPrefixes": ["*"], "destinationAddressPrefixes": ["*"],
               "destinationPortRanges": ["443"]})
    };
    let mut cases = vec![
        case(
            "kubenet without podCidr",
            vec![unset("/spec/ipPlan/podCidr")],
            "spec.ipPlan.podCidr",
            "ipPlan.podCidr is required for networkModel kubenet",
        ),
        case(
            "azureCni with podCidr",
            vec![
                set("/spec/networkModel", json!("azureCni")),
                unset("/spec/routeTable"),
            ],
            "spec.ipPlan.podCidr",
            "ipPlan.podCidr is forbidden for networkModel azureCni",
        ),
        case(
            "pod subnet outside azureCni",
            vec![set("/spec/ipPlan/podSubnetCidr", json!("10.225.0.0/16"))],
            "spec.ipPlan.podSubnetCidr",
            "only used by networkModel azureCni",
        ),
        case(
            "CIDR with host bits",
            vec![set("/spec/ipPlan/nodeSubnetCidr", json!("10.224.0.1/16"))],
            "spec.ipPlan.nodeSubnetCidr",
            "canonical form",
        ),
        case(
            "not a CIDR",
            vec![set("/spec/ipPlan/nodeSubnetCidr", json!("10.224.0.0/33"))],
            "spec.ipPlan.nodeSubnetCidr",
            "must be an IPv4 CIDR",
        ),
        case(
            "pod CIDR in a reserved range",
            vec![set("/spec/ipPlan/podCidr", json!("172.30.0.0/16"))],
            "spec.ipPlan.podCidr",
            "overlaps a range AKS reserves",
        ),
        case(
            "VNet range in a reserved range",
            vec![set(
                "/spec/ipPlan/vnetCidrs",
                json!(["10.224.0.0/12", "192.0.2.0/24"]),
            )],
            "spec.ipPlan.vnetCidrs[1]",
            "overlaps a range AKS reserves",
        ),
        case(
            "node subnet outside the VNet",
            vec![set("/spec/ipPlan/nodeSubnetCidr", json!("10.100.0.0/16"))],
            "spec.ipPlan.nodeSubnetCidr",
            "nodeSubnetCidr must lie inside one of vnetCidrs",
        ),
        case(
            "pod CIDR overlapping the VNet",
            vec![set("/spec/ipPlan/podCidr", json!("10.230.0.0/16"))],
            "spec.ipPlan.podCidr",
            "podCidr must not overlap vnetCidrs",
        ),
        case(
            "service CIDR overlapping the pod CIDR",
            vec![
                set("/spec/ipPlan/serviceCidr", json!("10.244.0.0/16")),
                set("/spec/ipPlan/dnsServiceIp", json!("10.244.0.10")),
            ],
            "spec.ipPlan.serviceCidr",
            "serviceCidr must not overlap podCidr",
        ),
        case(
            "service CIDR overlapping the VNet",
            vec![
                set("/spec/ipPlan/serviceCidr", json!("10.225.0.0/16")),
                set("/spec/ipPlan/dnsServiceIp", json!("10.225.0.10")),
            ],
            "spec.ipPlan.serviceCidr",
            "serviceCidr must not overlap vnetCidrs",
        ),
        case(
            "service CIDR of /12",
            vec![set("/spec/ipPlan/serviceCidr", json!("10.0.0.0/12"))],
            "spec.ipPlan.serviceCidr",
            "must be smaller than /12",
        ),
        case(
            "DNS IP outside the service CIDR",
            vec![set("/spec/ipPlan/dnsServiceIp", json!("10.1.0.10"))],
            "spec.ipPlan.dnsServiceIp",
            "dnsServiceIp must lie inside serviceCidr",
        ),
        case(
            "DNS IP on the service CIDR's network address",
            vec![set("/spec/ipPlan/dnsServiceIp", json!("10.0.0.0"))],
            "spec.ipPlan.dnsServiceIp",
            "neither its network address",
        ),
        case(
            "overlapping VNet ranges",
            vec![set(
                "/spec/ipPlan/vnetCidrs",
                json!(["10.224.0.0/12", "10.224.0.0/16"]),
            )],
            "spec.ipPlan.vnetCidrs",
            "vnetCidrs must not overlap each other",
        ),
        case(
            "kubenet beyond 400 nodes",
            vec![set("/spec/ipPlan/maxNodes", json!(401))],
            "spec.ipPlan.maxNodes",
            "at most 400 with kubenet",
        ),
        case(
            "max pods below 10",
            vec![set("/spec/ipPlan/maxPodsPerNode", json!(5))],
            "spec.ipPlan.maxPodsPerNode",
            "greater than or equal to 10",
        ),
        case(
            "max pods above 250",
            vec![set("/spec/ipPlan/maxPodsPerNode", json!(251))],
            "spec.ipPlan.maxPodsPerNode",
            "less than or equal to 250",
        ),
        case(
            "NSG priority below 100",
            vec![set("/spec/securityGroup/rules/0/priority", json!(50))],
            "spec.securityGroup.rules[0].priority",
            "greater than or equal to 100",
        ),
        case(
            "NSG priority above 4096",
            vec![set("/spec/securityGroup/rules/0/priority", json!(5000))],
            "spec.securityGroup.rules[0].priority",
            "less than or equal to 4096",
        ),
        case(
            "two NSG rules with one priority and direction",
            vec![set(
                "/spec/securityGroup/rules",
                json!([rule("a", 200), rule("b", 200)]),
            )],
            "spec.securityGroup.rules",
            "priority must be unique per direction",
        ),
        case(
            "duplicate NSG rule names",
            vec![set(
                "/spec/securityGroup/rules",
                json!([rule("a", 200), rule("a", 201)]),
            )],
            "spec.securityGroup.rules[1]",
            "Duplicate value",
        ),
        case(
            "NSG rule name starting with a dash",
            vec![set("/spec/securityGroup/rules/0/name", json!("-ssh"))],
            "spec.securityGroup.rules[0].name",
            "should match",
        ),
        case(
            "NSG rule inside the service priority range",
            vec![set("/spec/securityGroup/rules/0/priority", json!(600))],
            "spec.securityGroup.rules",
            "outside servicePriorityRange",
        ),
        case(
            "reversed port range",
            vec![set(
                "/spec/securityGroup/rules/0/destinationPortRanges",
                json!(["80-70"]),
            )],
            "spec.securityGroup.rules[0].destinationPortRanges[0]",
            "a range N-M with N <= M",
        ),
        case(
            "port above 65535",
            vec![set(
                "/spec/securityGroup/rules/0/destinationPortRanges",
                json!(["70000"]),
            )],
            "spec.securityGroup.rules[0].destinationPortRanges[0]",
            "a port (0-65535)",
        ),
        case(
            "NSG address that is none of the forms",
            vec![set(
                "/spec/securityGroup/rules/0/sourceAddressPrefixes",
                json!(["10.1.0.0/24 "]),
            )],
            "spec.securityGroup.rules[0].sourceAddressPrefixes[0]",
            "a service tag",
        ),
        case(
            "route to an appliance without its IP",
            vec![set(
                "/spec/routeTable/routes",
                json!([{"name": "fw", "addressPrefix": "10.50.0.0/16", "nextHopType": "VirtualAppliance"}]),
            )],
            "spec.routeTable.routes[0].nextHopIpAddress",
            "nextHopIpAddress is required for nextHopType VirtualAppliance",
        ),
        case(
            "route to the internet with a next-hop IP",
            vec![set(
                "/spec/routeTable/routes",
                json!([{"name": "out", "addressPrefix": "10.50.0.0/16", "nextHopType": "Internet", "nextHopIpAddress": "10.0.0.4"}]),
            )],
            "spec.routeTable.routes[0].nextHopIpAddress",
            "forbidden otherwise",
        ),
        case(
            "route name over 80 characters",
            vec![set(
                "/spec/routeTable/routes",
                json!([{"name": "r".repeat(81), "addressPrefix": "10.50.0.0/16", "nextHopType": "None"}]),
            )],
            "spec.routeTable.routes[0].name",
            "may not be more than 80",
        ),
        case(
            "kubenet without a route table",
            vec![unset("/spec/routeTable")],
            "spec.routeTable",
            "routeTable is required for networkModel kubenet",
        ),
        case(
            "node routes outside kubenet",
            vec![
                set("/spec/networkModel", json!("azureCniOverlay")),
                set("/spec/routeTable/syncNodeRoutes", json!(true)),
            ],
            "spec.routeTable.syncNodeRoutes",
            "only applies to networkModel kubenet",
        ),
        case(
            "subscription id that is not a UUID",
            vec![set("/spec/azure/subscriptionId", json!("my-subscription"))],
            "spec.azure.subscriptionId",
            "should match",
        ),
        case(
            "unknown network model",
            vec![set("/spec/networkModel", json!("flannel"))],
            "spec.networkModel",
            "Unsupported value",
        ),
        case(
            "outbound ports not a multiple of 8",
            vec![set(
                "/spec/loadBalancer/outbound/allocatedOutboundPorts",
                json!(100),
            )],
            "spec.loadBalancer.outbound.allocatedOutboundPorts",
            "must be a multiple of 8",
        ),
        case(
            "userAssignedNATGateway without the gateway's id",
            vec![set(
                "/spec/loadBalancer/outboundType",
                json!("userAssignedNATGateway"),
            )],
            "spec.loadBalancer.natGateway.id",
            "outboundType userAssignedNATGateway needs natGateway.id",
        ),
        case(
            "a NAT gateway id that is not one",
            vec![
                set(
                    "/spec/loadBalancer/outboundType",
                    json!("userAssignedNATGateway"),
                ),
                set(
                    "/spec/loadBalancer/natGateway",
                    json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip"}),
                ),
            ],
            "spec.loadBalancer.natGateway.id",
            "should match",
        ),
        case(
            "a managed NAT gateway with more than 16 public IPs",
            vec![set(
                "/spec/loadBalancer/natGateway",
                json!({"managedOutboundIpCount": 17}),
            )],
            "spec.loadBalancer.natGateway.managedOutboundIpCount",
            "less than or equal to 16",
        ),
        case(
            "drift interval under 30s",
            vec![set("/spec/reconcile/driftCheckInterval", json!("10s"))],
            "spec.reconcile.driftCheckInterval",
            "must be at least 30s",
        ),
        case(
            "cluster name with capitals",
            vec![set("/spec/clusterName", json!("Demo"))],
            "spec.clusterName",
            "should match",
        ),
    ];
    cases.extend(careless_edits());
    cases.push(Invalid {
        what: "userDefinedRouting without a default route to an appliance",
        sample: EGRESS_SAMPLE,
        edits: vec![set(
            "/spec/routeTable/routes",
            json!([{"name": "default-out", "addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}]),
        )],
        field: "spec.routeTable.routes",
        message: "userDefinedRouting needs a routeTable.routes entry for 0.0.0.0/0",
    });
    cases
}

/// Edits the API server used to accept although they break traffic while the status says
/// `Ready`, or that Azure would refuse (issue 12).
fn careless_edits() -> Vec<Invalid> {
    let long_tag_key = "k".repeat(513);
    let route = |name: &str, prefix: &str| json!({"name": name, "addressPrefix": prefix, "nextHopType": "None"});
    let rule = |sources: Value, destinations: Value, ports: Value| {
        json!({"name": "r", "priority": 200, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
               "sourceAddressPrefixes": sources, "destinationAddressPrefixes": destinations,
               "destinationPortRanges": ports})
    };
    vec![
        case(
            "internal load balancer named like the public one (any case)",
            vec![set("/spec/loadBalancer/internalName", json!("KUBERNETES"))],
            "spec.loadBalancer.internalName",
            "internalName must differ from publicName",
        ),
        case(
            "a load balancer profile named like the public load balancer (any case)",
            vec![set(
                "/spec/loadBalancer/profiles",
                json!([{"name": "Kubernetes"}]),
            )],
            "spec.loadBalancer.profiles",
            "a profile may not be named like publicName or internalName",
        ),
        case(
            "a load balancer profile named like a grown load balancer",
            vec![set(
                "/spec/loadBalancer/profiles",
                json!([{"name": "apps-2"}]),
            )],
            "spec.loadBalancer.profiles[0].name",
            "must not end in -<number>",
        ),
        case(
            "a selector requirement In without values",
            vec![set(
                "/spec/loadBalancer/profiles",
                json!([{"name": "apps", "nodeSelector": {"matchExpressions": [{"key": "pool", "operator": "In"}]}}]),
            )],
            "spec.loadBalancer.profiles[0].nodeSelector.matchExpressions[0]",
            "values must be given for In and NotIn",
        ),
        case(
            "spec route named like a kubenet pod route",
            vec![set(
                "/spec/routeTable/routes",
                json!([route("pod-10.244.1.0_24", "10.50.0.0/16")]),
            )],
            "spec.routeTable.routes[0].name",
            "kept for the routes and rules aksnet makes",
        ),
        case(
            "NSG rule named like a Service's rule",
            vec![set(
                "/spec/securityGroup/rules/0/name",
                json!("0123456789ABCDEF0123456789abcdef-TCP-IPv4"),
            )],
            "spec.securityGroup.rules[0].name",
            "kept for the routes and rules aksnet makes",
        ),
        case(
            "NSG rule named like a shared Service rule",
            vec![set("/spec/securityGroup/rules/0/name", json!("Shared-1"))],
            "spec.securityGroup.rules[0].name",
            "kept for the routes and rules aksnet makes",
        ),
        case(
            "spec route equal to a node's pod CIDR",
            vec![set(
                "/spec/routeTable/routes",
                json!([route("x", "10.244.1.0/24")]),
            )],
            "spec.routeTable.routes",
            "must not lie inside ipPlan.podCidr",
        ),
        case(
            "spec route equal to the pod CIDR",
            vec![set(
                "/spec/routeTable/routes",
                json!([route("x", "10.244.0.0/16")]),
            )],
            "spec.routeTable.routes",
            "must not lie inside ipPlan.podCidr",
        ),
        case(
            "two routes with one prefix",
            vec![set(
                "/spec/routeTable/routes",
                json!([route("a", "10.50.0.0/16"), route("b", "10.50.0.0/16")]),
            )],
            "spec.routeTable.routes",
            "each addressPrefix may have one route only",
        ),
        case(
            "route names equal up to case",
            vec![set(
                "/spec/routeTable/routes",
                json!([
                    route("egress", "10.50.0.0/16"),
                    route("Egress", "10.51.0.0/16")
                ]),
            )],
            "spec.routeTable.routes",
            "names must be unique up to case",
        ),
        case(
            "NSG rule names equal up to case",
            vec![set(
                "/spec/securityGroup/rules",
                json!([
                    {"name": "ssh", "priority": 200, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
                     "sourceAddressPrefixes": ["10.1.0.0/24"], "destinationAddressPrefixes": ["*"], "destinationPortRanges": ["22"]},
                    {"name": "SSH", "priority": 201, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
                     "sourceAddressPrefixes": ["10.1.0.0/24"], "destinationAddressPrefixes": ["*"], "destinationPortRanges": ["22"]}
                ]),
            )],
            "spec.securityGroup.rules",
            "names must be unique up to case",
        ),
        case(
            "public IP names equal up to case",
            vec![set(
                "/spec/publicIps",
                json!([{"name": "ingress"}, {"name": "INGRESS"}]),
            )],
            "spec.publicIps",
            "names must be unique up to case",
        ),
        case(
            "public IP named like aksnet's outbound IP",
            vec![set(
                "/spec/publicIps/0/name",
                json!("Aksnet-1234abcd-outbound-1"),
            )],
            "spec.publicIps[0].name",
            "kept for the public IPs aksnet names itself",
        ),
        case(
            "reserved tag key in capitals",
            vec![set(
                "/spec/publicIps/0/tags",
                json!({"AKSNET.IO-owner": "x"}),
            )],
            "spec.publicIps[0].tags",
            "reserved for aksnet's ownership tags",
        ),
        case(
            "tag key with a slash",
            vec![set(
                "/spec/publicIps/0/tags",
                json!({"k8s.io/role": "ingress"}),
            )],
            "spec.publicIps[0].tags",
            "tag keys must be 1-512 characters",
        ),
        case(
            "tag key over 512 characters",
            vec![set("/spec/publicIps/0/tags", json!({long_tag_key: "x"}))],
            "spec.publicIps[0].tags",
            "tag keys must be 1-512 characters",
        ),
        case(
            "blank tag key",
            vec![set("/spec/publicIps/0/tags", json!({" ": "x"}))],
            "spec.publicIps[0].tags",
            "tag keys must be 1-512 characters",
        ),
        case(
            "tag key with a control character",
            vec![set("/spec/publicIps/0/tags", json!({"a\u{7}b": "x"}))],
            "spec.publicIps[0].tags",
            "tag keys must be 1-512 characters",
        ),
        case(
            "DNS IP on the kubernetes Service address",
            vec![set("/spec/ipPlan/dnsServiceIp", json!("10.0.0.1"))],
            "spec.ipPlan.dnsServiceIp",
            "neither its network address, its first address",
        ),
        case(
            "DNS IP on the broadcast address",
            vec![set("/spec/ipPlan/dnsServiceIp", json!("10.0.255.255"))],
            "spec.ipPlan.dnsServiceIp",
            "nor its broadcast address",
        ),
        case(
            "node subnet /30",
            vec![set("/spec/ipPlan/nodeSubnetCidr", json!("10.224.0.0/30"))],
            "spec.ipPlan.nodeSubnetCidr",
            "must be /29 or larger",
        ),
        case(
            "node subnet /32",
            vec![set("/spec/ipPlan/nodeSubnetCidr", json!("10.224.0.7/32"))],
            "spec.ipPlan.nodeSubnetCidr",
            "must be /29 or larger",
        ),
        case(
            "NSG rule mixing IPv4 and IPv6",
            vec![set(
                "/spec/securityGroup/rules/0",
                rule(json!(["10.1.0.0/24"]), json!(["fd00::/64"]), json!(["22"])),
            )],
            "spec.securityGroup.rules[0].destinationAddressPrefixes",
            "must all be IPv4 or all IPv6",
        ),
        case(
            "NSG rule mixing a service tag and CIDRs",
            vec![set(
                "/spec/securityGroup/rules/0",
                rule(
                    json!(["Internet", "10.1.0.0/24"]),
                    json!(["*"]),
                    json!(["22"]),
                ),
            )],
            "spec.securityGroup.rules[0].sourceAddressPrefixes",
            "must be the only entry",
        ),
        case(
            "NSG rule with '*' among its ports",
            vec![set(
                "/spec/securityGroup/rules/0",
                rule(json!(["10.1.0.0/24"]), json!(["*"]), json!(["*", "22"])),
            )],
            "spec.securityGroup.rules[0].destinationPortRanges",
            "'*' must be the only entry",
        ),
        case(
            "IPv6 next hop for an IPv4 prefix",
            vec![set(
                "/spec/routeTable/routes",
                json!([{"name": "fw", "addressPrefix": "10.50.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "fd00::4"}]),
            )],
            "spec.routeTable.routes[0].nextHopIpAddress",
            "of the addressPrefix's IP family",
        ),
        case(
            "public IP resource groups equal up to case",
            vec![set(
                "/spec/azure/publicIpResourceGroups",
                json!(["team-a", "TEAM-A"]),
            )],
            "spec.azure.publicIpResourceGroups",
            "unique up to case",
        ),
        case(
            "public IP resource group that is not a name",
            vec![set("/spec/azure/publicIpResourceGroups", json!(["./rg"]))],
            "spec.azure.publicIpResourceGroups[0]",
            "should match",
        ),
        case(
            "allowed namespace that is not a namespace name",
            vec![set(
                "/spec/publicIps/0/allowedNamespaces",
                json!(["Team_A"]),
            )],
            "spec.publicIps[0].allowedNamespaces[0]",
            "should match",
        ),
    ]
}

fn load_sample(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(rel)).expect("read sample");
    serde_yaml::from_str(&text).expect("parse sample")
}

/// The sample with the case's edits applied (a JSON pointer per edit; `None` removes).
fn edited(case: &Invalid) -> Value {
    let mut obj = load_sample(case.sample);
    for (path, value) in &case.edits {
        let (parent, key) = path.rsplit_once('/').expect("pointer has a parent");
        let target = obj
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("{path} has no parent"));
        match (target, value) {
            (Value::Object(map), Some(v)) => {
                map.insert(key.to_string(), v.clone());
            }
            (Value::Object(map), None) => {
                map.remove(key);
            }
            (Value::Array(items), Some(v)) => {
                items[key.parse::<usize>().expect("index")] = v.clone()
            }
            _ => panic!("cannot edit {path}"),
        }
    }
    obj
}

async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let yaml = aksnet_crds::crdgen::aksnetwork_crd_yaml()?;
    manifests::apply_yaml(client, &yaml, None).await?;
    Ok(())
}

#[tokio::test]
async fn crd_installs_with_server_side_apply_and_every_sample_is_accepted() -> anyhow::Result<()> {
    let client = TestCluster::shared().client().await?;
    install_crd(&client).await?;
    // Applying again is a no-op, as a GitOps loop would do it.
    install_crd(&client).await?;
    let samples = repo_root().join("config/samples");
    let mut applied = Vec::new();
    for entry in std::fs::read_dir(samples)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with("aksnet_v1alpha1_") {
            let yaml = std::fs::read_to_string(&path)?;
            applied.extend(manifests::apply_yaml(&client, &yaml, None).await?);
        }
    }
    applied.sort();
    assert_eq!(
        applied,
        [
            "AksNetwork/azurecni",
            "AksNetwork/cilium",
            "AksNetwork/default",
            "AksNetwork/egress-firewall",
            "AksNetwork/overlay"
        ]
    );
    // The server stored the defaults the schema declares (read raw, not through serde defaults).
    let raw: Api<kube::api::DynamicObject> =
        Api::all_with(client, &kube::api::ApiResource::erase::<AksNetwork>(&()));
    let cilium = raw.get("cilium").await?.data;
    assert_eq!(cilium["spec"]["loadBalancer"]["publicName"], "kubernetes");
    assert_eq!(
        cilium["spec"]["loadBalancer"]["outboundType"],
        "loadBalancer"
    );
    assert_eq!(
        cilium["spec"]["loadBalancer"]["outbound"]["idleTimeoutMinutes"],
        30
    );
    Ok(())
}

#[tokio::test]
async fn the_api_server_refuses_each_invalid_object_naming_the_field() -> anyhow::Result<()> {
    let client = TestCluster::shared().client().await?;
    install_crd(&client).await?;
    let api: Api<AksNetwork> = Api::all(client);
    let cases = invalid_objects();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut obj = edited(case);
        obj["metadata"]["name"] = json!(format!("invalid-{i}"));
        let obj: AksNetwork = match serde_json::from_value(obj.clone()) {
            Ok(o) => o,
            // Values our types cannot even hold (an unknown enum) go to the server raw.
            Err(_) => {
                let raw: Api<kube::api::DynamicObject> = Api::all_with(
                    api.clone().into_client(),
                    &kube::api::ApiResource::erase::<AksNetwork>(&()),
                );
                let dynamic = serde_json::from_value(obj)?;
                let err = raw
                    .create(
                        &PostParams {
                            dry_run: true,
                            ..PostParams::default()
                        },
                        &dynamic,
                    )
                    .await;
                check_refusal(case, err.err(), &mut failures);
                continue;
            }
        };
        let err = api
            .create(
                &PostParams {
                    dry_run: true,
                    ..PostParams::default()
                },
                &obj,
            )
            .await;
        check_refusal(case, err.err(), &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

fn check_refusal(case: &Invalid, err: Option<kube::Error>, failures: &mut Vec<String>) {
    match err {
        Some(kube::Error::Api(status)) if status.code == 422 => {
            let msg = status.message;
            if !(msg.contains(case.field) && msg.contains(case.message)) {
                failures.push(format!(
                    "{}: expected {:?} and {:?} in: {msg}",
                    case.what, case.field, case.message
                ));
            }
        }
        Some(other) => failures.push(format!("{}: unexpected error {other}", case.what)),
        None => failures.push(format!("{}: accepted", case.what)),
    }
}

#[test]
fn the_rust_validator_refuses_each_invalid_object_on_the_same_field() {
    for sample in [KUBENET_SAMPLE, EGRESS_SAMPLE] {
        let spec: AksNetworkSpec =
            serde_json::from_value(load_sample(sample)["spec"].clone()).unwrap();
        assert_eq!(validate::validate(&spec), vec![], "{sample} is valid");
    }
    let mut failures = Vec::new();
    for case in invalid_objects() {
        let obj = edited(&case);
        let Ok(spec) = serde_json::from_value::<AksNetworkSpec>(obj["spec"].clone()) else {
            continue; // refused already by the types (an unknown enum value)
        };
        let errors = validate::validate(&spec);
        if !errors.iter().any(|e| e.field == case.field) {
            failures.push(format!(
                "{}: expected an error on {}, got {errors:?}",
                case.what, case.field
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn immutable_fields_cannot_change() -> anyhow::Result<()> {
    let client = TestCluster::shared().client().await?;
    install_crd(&client).await?;
    let api: Api<AksNetwork> = Api::all(client);
    let mut obj: AksNetwork = serde_json::from_value(load_sample(KUBENET_SAMPLE))?;
    obj.metadata.name = Some("immutable-check".into());
    api.create(&PostParams::default(), &obj).await?;
    for (field, patch) in [
        (
            "spec.clusterName",
            json!({"spec": {"clusterName": "renamed"}}),
        ),
        (
            "spec.azure.subscriptionId",
            json!({"spec": {"azure": {"subscriptionId": "00000000-0000-0000-0000-0000000000ff"}}}),
        ),
        (
            "spec.azure.resourceGroup",
            json!({"spec": {"azure": {"resourceGroup": "other-rg"}}}),
        ),
        (
            "spec.loadBalancer.publicName",
            json!({"spec": {"loadBalancer": {"publicName": "renamed"}}}),
        ),
        (
            "spec.loadBalancer.internalName",
            json!({"spec": {"loadBalancer": {"internalName": "renamed-internal"}}}),
        ),
    ] {
        let err = api
            .patch(
                "immutable-check",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .expect_err("an immutable field changed");
        let kube::Error::Api(status) = err else {
            panic!("unexpected {err}")
        };
        assert_eq!(status.code, 422);
        assert!(
            status.message.contains(&format!("{field}: Invalid value"))
                && status.message.contains("is immutable"),
            "{}",
            status.message
        );
    }
    // networkModel leaves kubenet only once pod routes are off: never in one step.
    let err = api
        .patch(
            "immutable-check",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"networkModel": "azureCniOverlay"}})),
        )
        .await
        .expect_err("kubenet left with pod routes on");
    let kube::Error::Api(status) = err else {
        panic!("unexpected {err}")
    };
    assert!(
        status.message.contains("spec.networkModel")
            && status.message.contains("syncNodeRoutes: false first"),
        "{}",
        status.message
    );
    for step in [
        json!({"spec": {"routeTable": {"syncNodeRoutes": false}}}),
        json!({"spec": {"networkModel": "azureCniOverlay"}}),
    ] {
        api.patch(
            "immutable-check",
            &PatchParams::default(),
            &Patch::Merge(&step),
        )
        .await?;
    }
    // A mutable field still changes.
    api.patch(
        "immutable-check",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"ipPlan": {"maxNodes": 50}}})),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn kubectl_get_akn_shows_the_printer_columns() -> anyhow::Result<()> {
    let cluster = TestCluster::shared();
    let client = cluster.client().await?;
    install_crd(&client).await?;
    let api: Api<AksNetwork> = Api::all(client);
    let mut obj: AksNetwork = serde_json::from_value(load_sample(KUBENET_SAMPLE))?;
    obj.metadata.name = Some("columns".into());
    api.create(&PostParams::default(), &obj).await?;
    let status = json!({"status": {
        "observedGeneration": 1,
        "publicIpAddresses": "203.0.113.7",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "in sync",
                        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]
    }});
    api.patch_status("columns", &PatchParams::default(), &Patch::Merge(&status))
        .await?;

    let out = kubectl(cluster.kubeconfig())
        .args(["get", "akn", "columns"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "REASON", "MODEL", "PUBLIC", "IPS", "AGE"]
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..5],
        ["columns", "True", "Synced", "kubenet", "203.0.113.7"]
    );

    // The short name and the category reach it too.
    let out = kubectl(cluster.kubeconfig())
        .args(["get", "aksnet", "-o", "name"])
        .output()?;
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == "aksnetwork.aksnet.io/columns")
    );
    Ok(())
}
