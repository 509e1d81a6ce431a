//! The adversarial suite: hostile tenants and careless admins against the operator binary, the
//! real API server and azure-mock. Table-driven, in four parts, each case asserting the clear
//! error, that the victim's Services keep their addresses, and (from the mock journal and the
//! Azure objects) that nothing of theirs was written:
//!
//! 1. Services a tenant creates in its own namespace as a user with a namespaced Role
//!    (impersonation): takeovers of other namespaces' addresses by name, address or case,
//!    resource-group tricks, forged tags, silently dropped settings, and a few benign controls.
//! 2. What that user's Role must not allow (`kubectl --as`).
//! 3. Careless edits of the live AksNetwork: refused by the API server, or (an NSG name typo, a
//!    second AksNetwork for the same Azure network) stalled with nothing written.
//! 4. Azure-side interference (another writer): removed children, a rule at our priority, a
//!    changed DNS label, a deleted NSG, someone else's children on our load balancer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aksnet_e2e::kubectl;
use aksnet_e2e::scenario::{
    World, eventually, gone, ingress_ip, net_id, service_condition, warning_reasons,
};
use aksnet_operator::naming::Ownership;
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000e2e12";
const RG: &str = "mc_adversarial_e2e";
/// A resource group the AksNetwork lists for Services' public IPs.
const ALLOWED_RG: &str = "shared-ips";
/// One it does not list.
const UNLISTED_RG: &str = "not-listed";
/// The hostile user: a Role in its own namespace, nothing else.
const TENANT: &str = "tenant-user";
const A: &str = "service.beta.kubernetes.io/";

/// What a case expects.
#[derive(Clone, Debug)]
enum Expect {
    /// `aksnet.io/LoadBalancerReady=False` with this reason, naming this field, a Warning.
    Refused(&'static str, String),
    /// An address.
    Served,
    /// No outcome at all (not aksnet's to serve).
    Ignored,
}

/// A Service of the hostile tenant.
struct Hostile {
    name: &'static str,
    annotations: Value,
    spec: Value,
    expect: Expect,
}

fn refused(reason: &'static str, field: &str) -> Expect {
    Expect::Refused(reason, field.to_string())
}

fn ann(key: &str) -> String {
    format!("{A}{key}")
}

/// A Service of `class` on `port`, with annotations and `spec` merged over the defaults.
fn service(name: &str, class: &str, port: u16, annotations: &Value, spec: &Value) -> Service {
    let mut s = json!({"type": "LoadBalancer", "loadBalancerClass": class,
                       "ports": [{"name": "p", "port": port, "protocol": "TCP"}]});
    if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    serde_json::from_value(
        json!({"metadata": {"name": name, "annotations": annotations}, "spec": s}),
    )
    .expect("service")
}

/// The address of a public IP in azure-mock.
async fn address_of(world: &World, rg: &str, name: &str) -> String {
    let ip = world
        .mock
        .get(&net_id(SUB, rg, "publicIPAddresses", name))
        .await
        .expect("public IP");
    ip["properties"]["ipAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Create a resource group and an unowned public IP in it (optionally tagged).
async fn byo_ip(world: &World, rg: &str, name: &str, tags: Value) {
    let mock = &world.mock;
    mock.arm(
        "PUT",
        &format!("/subscriptions/{SUB}/resourceGroups/{rg}"),
        Some(json!({"location": "westeurope"})),
    )
    .await
    .expect("resource group");
    mock.arm(
        "PUT",
        &net_id(SUB, rg, "publicIPAddresses", name),
        Some(
            json!({"location": "westeurope", "tags": tags, "sku": {"name": "Standard"},
                    "properties": {"publicIPAllocationMethod": "Static"}}),
        ),
    )
    .await
    .expect("public IP");
}

/// JSON without what Azure changes on every write (entity tags, provisioning state).
fn stable(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "etag" | "provisioningState"))
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(stable).collect()),
        other => other.clone(),
    }
}

fn items<'v>(resource: &'v Value, collection: &str) -> impl Iterator<Item = &'v Value> {
    resource["properties"][collection]
        .as_array()
        .into_iter()
        .flatten()
}

fn lower_name(v: &Value) -> String {
    v["name"].as_str().unwrap_or_default().to_ascii_lowercase()
}

/// What belongs to the victim in Azure: its load balancer children (by its Services' name
/// prefixes, and the frontends its rules use) and its NSG rules, as stable JSON; and every
/// public IP that exists (none of which the tenant may write).
#[derive(Debug, PartialEq)]
struct VictimState {
    children: BTreeMap<String, Value>,
    ips: BTreeSet<String>,
}

async fn victim_state(
    world: &World,
    prefixes: &[String],
    nsg_rules: &BTreeSet<String>,
) -> VictimState {
    let mut children = BTreeMap::new();
    for lb in ["kubernetes", "kubernetes-internal"] {
        let Ok(lb) = world.mock.get(&world.id("loadBalancers", lb)).await else {
            continue;
        };
        let mut frontends = BTreeSet::new();
        for collection in ["loadBalancingRules", "probes"] {
            for c in items(&lb, collection) {
                let name = lower_name(c);
                if prefixes.iter().any(|p| name.starts_with(p)) {
                    if let Some(fe) = c["properties"]["frontendIPConfiguration"]["id"].as_str() {
                        frontends.insert(
                            fe.rsplit('/')
                                .next()
                                .unwrap_or_default()
                                .to_ascii_lowercase(),
                        );
                    }
                    children.insert(format!("{collection}/{name}"), stable(c));
                }
            }
        }
        for c in items(&lb, "frontendIPConfigurations") {
            let name = lower_name(c);
            if frontends.contains(&name) || prefixes.iter().any(|p| name.starts_with(p)) {
                let mut c = stable(c);
                // Back-references list every rule on the frontend: the victim's are compared
                // above, and another's would show up here.
                c["properties"]
                    .as_object_mut()
                    .map(|p| p.remove("outboundRules"));
                children.insert(format!("frontend/{name}"), c);
            }
        }
    }
    let nsg = world
        .mock
        .get(&world.id("networkSecurityGroups", "aks-nsg"))
        .await
        .expect("NSG");
    for r in items(&nsg, "securityRules") {
        let name = lower_name(r);
        if nsg_rules.contains(&name) {
            children.insert(format!("rule/{name}"), stable(r));
        }
    }
    let mut ips = BTreeSet::new();
    for rg in [RG, ALLOWED_RG, UNLISTED_RG] {
        let list = world
            .mock
            .get(&format!(
                "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/publicIPAddresses"
            ))
            .await
            .expect("public IPs");
        ips.extend(
            list["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["id"].as_str().map(str::to_ascii_lowercase)),
        );
    }
    VictimState { children, ips }
}

/// The writes since the journal was cleared that touched a protected public IP.
async fn writes_to(world: &World, ips: &BTreeSet<String>) -> Vec<String> {
    world
        .mock
        .write_entries()
        .await
        .expect("journal")
        .into_iter()
        .filter(|(_, path)| ips.contains(&path.trim_end_matches('/').to_ascii_lowercase()))
        .map(|(m, p)| format!("{m} {p}"))
        .collect()
}

/// Every victim Service still has the address it had.
async fn assert_victims_kept(world: &World, addresses: &BTreeMap<String, String>, when: &str) {
    for (name, ip) in addresses {
        assert_eq!(
            ingress_ip(&world.services, name).await.as_ref(),
            Some(ip),
            "{when}: victim {name} lost its address"
        );
    }
}

/// The Role the tenant has: Services (and Events to read) in its own namespace.
async fn tenant_role(client: &kube::Client, namespace: &str) {
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "service-author", "namespace": namespace},
        "rules": [
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}
        ]
    }))
    .expect("role");
    Api::<Role>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await
        .expect("create role");
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "service-author", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "service-author"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": TENANT}]
    }))
    .expect("binding");
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await
        .expect("create binding");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tenants_and_careless_admins_reach_nothing_that_is_not_theirs() {
    let world = World::start(
        "victim",
        azure_mock::Config {
            operation_duration: Duration::from_millis(50),
            ..azure_mock::Config::default()
        },
        (SUB, RG),
        &[
            ("a", "10.224.4.4", "10.244.41.0/24"),
            ("b", "10.224.4.5", "10.244.42.0/24"),
        ],
        json!({
            "azure": {"subscriptionId": SUB, "resourceGroup": RG, "location": "westeurope",
                      "vnet": {"name": "aks-vnet", "subnetName": "aks-subnet"},
                      "publicIpResourceGroups": [ALLOWED_RG]},
            "publicIps": [{"name": "open-ip"}, {"name": "reserved-ip", "allowedNamespaces": [], "deletionPolicy": "Delete"}]
        }),
    )
    .await;
    let victim_ns = world.namespace.clone();
    let networks: Api<aksnet_crds::AksNetwork> = Api::all(world.client.clone());
    // The victim's namespace alone may use team-ip.
    networks
        .patch(
            &world.network,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"publicIps": [
                {"name": "open-ip"},
                {"name": "reserved-ip", "allowedNamespaces": [], "deletionPolicy": "Delete"},
                {"name": "team-ip", "allowedNamespaces": [victim_ns]}
            ]}})),
        )
        .await
        .expect("team-ip");
    byo_ip(&world, RG, "victim-byo", json!({})).await;
    byo_ip(&world, RG, "free-byo", json!({})).await;
    byo_ip(
        &world,
        RG,
        "other-cluster-ip",
        json!({"aksnet.io-owner": "aksnet-0badc0de"}),
    )
    .await;
    byo_ip(&world, ALLOWED_RG, "far-byo", json!({})).await;
    byo_ip(&world, UNLISTED_RG, "unlisted-byo", json!({})).await;

    // The victim's Services.
    let class = world.class.clone();
    let none = json!({});
    let victims = [
        service(
            "v-managed",
            &class,
            80,
            &json!({ann("azure-dns-label-name"): "victim-web"}),
            &none,
        ),
        service(
            "v-byo",
            &class,
            81,
            &json!({ann("azure-pip-name"): "victim-byo"}),
            &none,
        ),
        service(
            "v-static",
            &class,
            82,
            &json!({ann("azure-pip-name"): "team-ip"}),
            &none,
        ),
        service(
            "v-internal",
            &class,
            83,
            &json!({ann("azure-load-balancer-internal"): "true", ann("azure-load-balancer-ipv4"): "10.224.9.9"}),
            &none,
        ),
        service(
            "v-shared",
            &class,
            443,
            &json!({ann("azure-shared-securityrule"): "true"}),
            &none,
        ),
        service(
            "v-far",
            &class,
            84,
            &json!({ann("azure-pip-name"): "far-byo", ann("azure-load-balancer-resource-group"): ALLOWED_RG}),
            &none,
        ),
    ];
    for v in &victims {
        world
            .services
            .create(&PostParams::default(), v)
            .await
            .expect("victim");
    }
    let mut addresses = BTreeMap::new();
    for v in &victims {
        let name = v.metadata.name.clone().unwrap_or_default();
        let ip = eventually(&format!("{name}'s address"), 90, || {
            ingress_ip(&world.services, &name)
        })
        .await;
        addresses.insert(name, ip);
    }
    let ownership = Ownership::new(SUB, RG, "e2e");
    let mut prefixes = Vec::new();
    for v in &victims {
        let svc = world
            .services
            .get(v.metadata.name.as_deref().unwrap_or_default())
            .await
            .expect("victim");
        prefixes.push(
            ownership
                .service_prefix(svc.metadata.uid.as_deref().unwrap_or_default())
                .to_ascii_lowercase(),
        );
    }
    let nsg = world
        .mock
        .get(&world.id("networkSecurityGroups", "aks-nsg"))
        .await
        .expect("NSG");
    let victim_rules: BTreeSet<String> = items(&nsg, "securityRules")
        .filter(|r| {
            let d = r["properties"]["description"].as_str().unwrap_or_default();
            // Its Services' own rules, and the rules packed for several of them.
            d.starts_with(&format!("aksnet: {victim_ns}/"))
                || d.ends_with(&format!(" Services of {victim_ns}"))
        })
        .map(lower_name)
        .collect();
    assert!(
        !victim_rules.is_empty(),
        "the victim's NSG rules: {victim_rules:?}"
    );
    let before = victim_state(&world, &prefixes, &victim_rules).await;
    let managed_ip = ownership.service_frontend(&prefixes[0], aksnet_operator::model::Family::V4);
    let managed_address = addresses["v-managed"].clone();
    let outbound = ownership.outbound_ip(1);
    let outbound_address = address_of(&world, RG, &outbound).await;
    let byo_address = address_of(&world, RG, "victim-byo").await;
    let other_cluster_address = address_of(&world, RG, "other-cluster-ip").await;
    let free_address = address_of(&world, RG, "free-byo").await;
    world.mock.clear_journal().await.expect("journal");

    // ---- 1. Services of a hostile tenant, created as the tenant ----
    let cluster = aksnet_e2e::TestCluster::shared();
    let tenant_ns = aksnet_e2e::namespace::create_unique(&world.client, "tenant")
        .await
        .expect("namespace");
    tenant_role(&world.client, &tenant_ns).await;
    let tenant_client = cluster.client_as(TENANT).await.expect("tenant client");
    let tenant: Api<Service> = Api::namespaced(tenant_client, &tenant_ns);
    let prefix_id = |sub: &str, rg: &str, name: &str| {
        format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/publicIPPrefixes/{name}"
        )
    };
    let (pip, ipv4, rg) = (
        ann("azure-pip-name"),
        ann("azure-load-balancer-ipv4"),
        ann("azure-load-balancer-resource-group"),
    );
    let (internal, dns, tags) = (
        ann("azure-load-balancer-internal"),
        ann("azure-dns-label-name"),
        ann("azure-pip-tags"),
    );
    let cases = vec![
        Hostile {
            name: "takeover-by-name",
            annotations: json!({&pip: managed_ip}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "takeover-by-name-case",
            annotations: json!({&pip: managed_ip.to_ascii_uppercase()}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "takeover-by-address",
            annotations: json!({&ipv4: managed_address}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &ipv4),
        },
        Hostile {
            name: "takeover-by-lb-ip",
            annotations: none.clone(),
            spec: json!({"loadBalancerIP": managed_address}),
            expect: refused("AddressNotAllowed", "spec.loadBalancerIP"),
        },
        Hostile {
            name: "outbound-by-name",
            annotations: json!({&pip: outbound}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "outbound-by-address",
            annotations: json!({&ipv4: outbound_address}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &ipv4),
        },
        Hostile {
            name: "team-ip",
            annotations: json!({&pip: "team-ip"}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "reserved-ip",
            annotations: json!({&pip: "reserved-ip"}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "victim-byo",
            annotations: json!({&pip: "victim-byo"}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "victim-byo-address",
            annotations: json!({&ipv4: byo_address}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &ipv4),
        },
        Hostile {
            name: "other-cluster",
            annotations: json!({&pip: "other-cluster-ip"}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "other-cluster-address",
            annotations: json!({&ipv4: other_cluster_address}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &ipv4),
        },
        Hostile {
            name: "far-byo",
            annotations: json!({&pip: "far-byo", &rg: ALLOWED_RG}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &pip),
        },
        Hostile {
            name: "unlisted-group",
            annotations: json!({&pip: "unlisted-byo", &rg: UNLISTED_RG}),
            spec: none.clone(),
            expect: refused("ResourceGroupNotAllowed", &rg),
        },
        Hostile {
            name: "dot-slash-group",
            annotations: json!({&pip: "free-byo", &rg: format!("./{RG}")}),
            spec: none.clone(),
            expect: refused("InvalidValue", &rg),
        },
        Hostile {
            name: "trailing-slash-group",
            annotations: json!({&pip: "free-byo", &rg: format!("{RG}/")}),
            spec: none.clone(),
            expect: refused("InvalidValue", &rg),
        },
        Hostile {
            name: "prefix-unlisted-group",
            annotations: json!({ann("azure-pip-prefix-id"): prefix_id(SUB, UNLISTED_RG, "p")}),
            spec: none.clone(),
            expect: refused("ResourceGroupNotAllowed", &ann("azure-pip-prefix-id")),
        },
        Hostile {
            name: "prefix-other-subscription",
            annotations: json!({ann("azure-pip-prefix-id"): prefix_id("00000000-0000-0000-0000-00000000beef", RG, "p")}),
            spec: none.clone(),
            expect: refused("ResourceGroupNotAllowed", &ann("azure-pip-prefix-id")),
        },
        Hostile {
            name: "prefix-dot-dot",
            annotations: json!({ann("azure-pip-prefix-id"): format!("{}/../p", prefix_id(SUB, RG, "x"))}),
            spec: none.clone(),
            expect: refused("InvalidValue", &ann("azure-pip-prefix-id")),
        },
        Hostile {
            name: "private-takeover",
            annotations: json!({&internal: "true", &ipv4: "10.224.9.9"}),
            spec: none.clone(),
            expect: refused("AddressNotAllowed", &ipv4),
        },
        Hostile {
            name: "private-takeover-lb-ip",
            annotations: json!({&internal: "true"}),
            spec: json!({"loadBalancerIP": "10.224.9.9"}),
            expect: refused("AddressNotAllowed", "spec.loadBalancerIP"),
        },
        Hostile {
            name: "dns-squat",
            annotations: json!({&dns: "victim-web"}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &dns),
        },
        Hostile {
            name: "forged-service-tag",
            annotations: json!({&tags: format!("aksnet.io-service={victim_ns}/v-managed")}),
            spec: none.clone(),
            expect: refused("InvalidValue", &tags),
        },
        Hostile {
            name: "forged-owner-tag",
            annotations: json!({&tags: "AKSNET.IO-owner=aksnet-00000000"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &tags),
        },
        Hostile {
            name: "internal-maybe",
            annotations: json!({&internal: "maybe"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &internal),
        },
        Hostile {
            name: "internal-capitals",
            annotations: json!({&internal: "TRUE"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &internal),
        },
        Hostile {
            name: "internal-with-pip-name",
            annotations: json!({&internal: "true", &pip: "free-byo"}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &pip),
        },
        Hostile {
            name: "internal-with-dns-label",
            annotations: json!({&internal: "true", &dns: "tenant-web"}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &dns),
        },
        Hostile {
            name: "internal-with-pip-tags",
            annotations: json!({&internal: "true", &tags: "team=a"}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &tags),
        },
        Hostile {
            name: "public-with-subnet",
            annotations: json!({ann("azure-load-balancer-internal-subnet"): "aks-subnet"}),
            spec: none.clone(),
            expect: refused(
                "ConflictingSettings",
                &ann("azure-load-balancer-internal-subnet"),
            ),
        },
        Hostile {
            name: "lb-ip-other-family",
            annotations: none.clone(),
            spec: json!({"loadBalancerIP": "2001:db8::1"}),
            expect: refused("ConflictingSettings", "spec.loadBalancerIP"),
        },
        Hostile {
            name: "ipv6-on-ipv4",
            annotations: json!({ann("azure-load-balancer-ipv6"): "2001:db8::1"}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &ann("azure-load-balancer-ipv6")),
        },
        Hostile {
            name: "lb-ip-differs",
            annotations: json!({&ipv4: free_address}),
            spec: json!({"loadBalancerIP": "20.9.9.9"}),
            expect: refused("ConflictingSettings", "spec.loadBalancerIP"),
        },
        Hostile {
            name: "probe-for-missing-port",
            annotations: json!({ann("port_81_health-probe_protocol"): "Http"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &ann("port_81_health-probe_protocol")),
        },
        Hostile {
            name: "no-rule-left",
            annotations: json!({ann("port_9034_no_lb_rule"): "true"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &ann("port_9034_no_lb_rule")),
        },
        Hostile {
            name: "ranges-other-family",
            annotations: none.clone(),
            spec: json!({"loadBalancerSourceRanges": ["fd00::/8"]}),
            expect: refused("ConflictingSettings", "spec.loadBalancerSourceRanges"),
        },
        Hostile {
            name: "bool-yes",
            annotations: json!({ann("azure-load-balancer-disable-tcp-reset"): "yes"}),
            spec: none.clone(),
            expect: refused(
                "InvalidValue",
                &ann("azure-load-balancer-disable-tcp-reset"),
            ),
        },
        Hostile {
            name: "shared-rule-maybe",
            annotations: json!({ann("azure-shared-securityrule"): "maybe"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &ann("azure-shared-securityrule")),
        },
        Hostile {
            name: "pip-name-too-long",
            annotations: json!({&pip: "p".repeat(81)}),
            spec: none.clone(),
            expect: refused("InvalidValue", &pip),
        },
        Hostile {
            name: "dns-capitals",
            annotations: json!({&dns: "Victim-Web"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &dns),
        },
        Hostile {
            name: "probe-interval-zero",
            annotations: json!({ann("azure-load-balancer-health-probe-interval"): "0"}),
            spec: none.clone(),
            expect: refused(
                "InvalidValue",
                &ann("azure-load-balancer-health-probe-interval"),
            ),
        },
        Hostile {
            name: "idle-timeout-huge",
            annotations: json!({ann("azure-load-balancer-tcp-idle-timeout"): "1000"}),
            spec: none.clone(),
            expect: refused("InvalidValue", &ann("azure-load-balancer-tcp-idle-timeout")),
        },
        Hostile {
            name: "private-link",
            annotations: json!({ann("azure-pls-create"): "true"}),
            spec: none.clone(),
            expect: refused("Unsupported", &ann("azure-pls-create")),
        },
        Hostile {
            name: "pip-name-with-dns-label",
            annotations: json!({&pip: "free-byo", &dns: "tenant-web"}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &dns),
        },
        Hostile {
            name: "group-for-created-ip",
            annotations: json!({&rg: RG}),
            spec: none.clone(),
            expect: refused("ConflictingSettings", &rg),
        },
        Hostile {
            name: "cluster-ip-with-odd-group",
            annotations: json!({&rg: format!("./{RG}")}),
            spec: json!({"type": "ClusterIP", "loadBalancerClass": null}),
            expect: Expect::Ignored,
        },
        Hostile {
            name: "other-class",
            annotations: json!({&pip: managed_ip}),
            spec: json!({"loadBalancerClass": "example.com/other"}),
            expect: Expect::Ignored,
        },
        Hostile {
            name: "open-ip-a",
            annotations: json!({&pip: "open-ip"}),
            spec: json!({"ports": [{"name": "p", "port": 7000, "protocol": "TCP"}]}),
            expect: Expect::Served,
        },
        Hostile {
            name: "open-ip-b",
            annotations: json!({&pip: "open-ip"}),
            spec: json!({"ports": [{"name": "p", "port": 7000, "protocol": "TCP"}]}),
            expect: refused("PortInUse", "spec.ports"),
        },
        Hostile {
            name: "free-byo-group-capitals",
            annotations: json!({&pip: "free-byo", &rg: RG.to_ascii_uppercase()}),
            spec: none.clone(),
            expect: Expect::Served,
        },
        Hostile {
            name: "shared-rule-same-key",
            annotations: json!({ann("azure-shared-securityrule"): "true"}),
            spec: json!({"ports": [{"name": "p", "port": 443, "protocol": "TCP"}]}),
            expect: Expect::Served,
        },
        Hostile {
            name: "service-tag-and-ranges",
            annotations: json!({ann("azure-allowed-service-tags"): "AzureFrontDoor.Backend"}),
            spec: json!({"loadBalancerSourceRanges": ["10.0.0.0/8"]}),
            expect: Expect::Served,
        },
    ];
    assert!(cases.len() >= 50, "{} Service cases", cases.len());
    for (i, c) in cases.iter().enumerate() {
        let svc = service(c.name, &class, 9000 + i as u16, &c.annotations, &c.spec);
        tenant
            .create(&PostParams::default(), &svc)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    }
    let events: Api<Event> = Api::namespaced(world.client.clone(), &tenant_ns);
    let mut failures = Vec::new();
    for c in &cases {
        match &c.expect {
            Expect::Refused(reason, field) => {
                let got = eventually(&format!("{}'s condition", c.name), 90, || async {
                    service_condition(&tenant, c.name)
                        .await
                        .filter(|(s, r, _)| s == "False" && r != "Pending")
                })
                .await;
                let (_, r, message) = &got;
                if r != reason || !message.contains(field.as_str()) {
                    failures.push(format!(
                        "{}: expected {reason} naming {field}, got {got:?}",
                        c.name
                    ));
                }
                if ingress_ip(&tenant, c.name).await.is_some() {
                    failures.push(format!("{}: has an address", c.name));
                }
                let warned = eventually(&format!("{}'s Warning", c.name), 30, || async {
                    let w = warning_reasons(&events, c.name).await;
                    w.contains(&reason.to_string()).then_some(w)
                })
                .await;
                assert!(!warned.is_empty());
            }
            Expect::Served => {
                eventually(&format!("{}'s address", c.name), 90, || {
                    ingress_ip(&tenant, c.name)
                })
                .await;
            }
            Expect::Ignored => {}
        }
    }
    // Services aksnet does not serve get nothing from it, even once everything else settled.
    for c in cases.iter().filter(|c| matches!(c.expect, Expect::Ignored)) {
        let svc = tenant.get(c.name).await.expect("ignored Service");
        let conditions = svc.status.and_then(|s| s.conditions).unwrap_or_default();
        if conditions.iter().any(|c| c.type_.starts_with("aksnet.io"))
            || svc.metadata.finalizers.is_some()
        {
            failures.push(format!("{}: aksnet touched it", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_victims_kept(&world, &addresses, "hostile Services").await;
    let after = victim_state(&world, &prefixes, &victim_rules).await;
    assert_eq!(
        after.children, before.children,
        "the victim's Azure children changed"
    );
    assert!(
        after.ips.is_superset(&before.ips),
        "a public IP disappeared (reserved-ip has deletionPolicy Delete)"
    );
    let written = writes_to(&world, &before.ips).await;
    assert!(
        written.is_empty(),
        "writes to public IPs that are not the tenant's: {written:?}"
    );

    // ---- 2. What the tenant's Role does not allow ----
    let kubeconfig = cluster.kubeconfig();
    let akn = serde_json::to_string(
        &json!({"apiVersion": "aksnet.io/v1alpha1", "kind": "AksNetwork",
        "metadata": {"name": "tenant-network"}, "spec": {}}),
    )
    .expect("json");
    let status_patch = r#"{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.250"}]}}}"#;
    let forbidden: Vec<(&str, Vec<String>)> = vec![
        (
            "list the victim's Services",
            vec![
                "-n".into(),
                victim_ns.clone(),
                "get".into(),
                "services".into(),
            ],
        ),
        (
            "delete a victim's Service",
            vec![
                "-n".into(),
                victim_ns.clone(),
                "delete".into(),
                "service".into(),
                "v-managed".into(),
            ],
        ),
        (
            "annotate a victim's Service",
            vec![
                "-n".into(),
                victim_ns.clone(),
                "annotate".into(),
                "service".into(),
                "v-byo".into(),
                format!("{pip}=free-byo"),
            ],
        ),
        (
            "create a Service in the victim's namespace",
            vec![
                "-n".into(),
                victim_ns.clone(),
                "create".into(),
                "service".into(),
                "loadbalancer".into(),
                "sneaky".into(),
                "--tcp=80:80".into(),
            ],
        ),
        (
            "read the AksNetwork",
            vec!["get".into(), "aksnetworks".into()],
        ),
        (
            "patch the AksNetwork",
            vec![
                "patch".into(),
                "aksnetwork".into(),
                world.network.clone(),
                "--type=merge".into(),
                "-p".into(),
                r#"{"spec":{"publicIps":[{"name":"team-ip"}]}}"#.into(),
            ],
        ),
        (
            "create an AksNetwork",
            vec!["create".into(), "-f".into(), "-".into()],
        ),
        (
            "write its own Service's status",
            vec![
                "-n".into(),
                tenant_ns.clone(),
                "patch".into(),
                "service".into(),
                "open-ip-a".into(),
                "--subresource=status".into(),
                "--type=merge".into(),
                "-p".into(),
                status_patch.into(),
            ],
        ),
    ];
    for (what, args) in &forbidden {
        let mut cmd = kubectl(kubeconfig);
        cmd.args(["--as", TENANT]).args(args);
        let out = if args.iter().any(|a| a == "-") {
            use std::io::Write;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("kubectl");
            child.stdin.take().map(|mut s| s.write_all(akn.as_bytes()));
            child.wait_with_output().expect("kubectl")
        } else {
            cmd.output().expect("kubectl")
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.to_ascii_lowercase().contains("forbidden"),
            "{what}: {stderr}"
        );
    }
    // The Role does what it should.
    let out = kubectl(kubeconfig)
        .args(["--as", TENANT, "-n", &tenant_ns, "get", "services"])
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_victims_kept(&world, &addresses, "RBAC").await;

    // ---- 3. Careless edits of the live AksNetwork ----
    world.mock.clear_journal().await.expect("journal");
    let route = |name: &str, prefix: &str| json!({"name": name, "addressPrefix": prefix, "nextHopType": "None"});
    let rule = |name: &str, sources: Value, destinations: Value| {
        json!({"name": name, "priority": 200, "direction": "Inbound",
        "access": "Allow", "protocol": "Tcp", "sourceAddressPrefixes": sources, "destinationAddressPrefixes": destinations,
        "destinationPortRanges": ["22"]})
    };
    let refused_edits: Vec<(&str, Value, &str)> = vec![
        (
            "internal load balancer named like the public one",
            json!({"loadBalancer": {"internalName": "Kubernetes"}}),
            "spec.loadBalancer.internalName",
        ),
        (
            "public load balancer renamed",
            json!({"loadBalancer": {"publicName": "renamed"}}),
            "spec.loadBalancer.publicName",
        ),
        (
            "route named like a pod route",
            json!({"routeTable": {"routes": [route("pod-10.244.41.0_24", "10.50.0.0/16")]}}),
            "spec.routeTable.routes[0].name",
        ),
        (
            "route over a node's pod CIDR",
            json!({"routeTable": {"routes": [route("steal", "10.244.41.0/24")]}}),
            "spec.routeTable.routes",
        ),
        (
            "two routes with one prefix",
            json!({"routeTable": {"routes": [route("a", "10.50.0.0/16"), route("b", "10.50.0.0/16")]}}),
            "spec.routeTable.routes",
        ),
        (
            "route names equal up to case",
            json!({"routeTable": {"routes": [route("a", "10.50.0.0/16"), route("A", "10.51.0.0/16")]}}),
            "spec.routeTable.routes",
        ),
        (
            "IPv6 next hop for an IPv4 prefix",
            json!({"routeTable": {"routes": [{"name": "fw", "addressPrefix": "10.50.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "fd00::4"}]}}),
            "spec.routeTable.routes[0].nextHopIpAddress",
        ),
        (
            "NSG rule names equal up to case",
            json!({"securityGroup": {"rules": [rule("ssh", json!(["10.1.0.0/24"]), json!(["*"])), {"name": "SSH", "priority": 201, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefixes": ["10.1.0.0/24"], "destinationAddressPrefixes": ["*"], "destinationPortRanges": ["22"]}]}}),
            "spec.securityGroup.rules",
        ),
        (
            "NSG rule named like a Service rule",
            json!({"securityGroup": {"rules": [rule(&prefixes[0][16..], json!(["10.1.0.0/24"]), json!(["*"]))]}}),
            "spec.securityGroup.rules[0].name",
        ),
        (
            "NSG rule mixing families",
            json!({"securityGroup": {"rules": [rule("mixed", json!(["10.1.0.0/24"]), json!(["fd00::/64"]))]}}),
            "spec.securityGroup.rules[0].destinationAddressPrefixes",
        ),
        (
            "NSG rule mixing a service tag and CIDRs",
            json!({"securityGroup": {"rules": [rule("tagged", json!(["Internet", "10.1.0.0/24"]), json!(["*"]))]}}),
            "spec.securityGroup.rules[0].sourceAddressPrefixes",
        ),
        (
            "public IP names equal up to case",
            json!({"publicIps": [{"name": "open-ip"}, {"name": "OPEN-IP"}]}),
            "spec.publicIps",
        ),
        (
            "public IP named like the outbound IP",
            json!({"publicIps": [{"name": outbound}]}),
            "spec.publicIps[0].name",
        ),
        (
            "reserved tag key in capitals",
            json!({"publicIps": [{"name": "open-ip", "tags": {"Aksnet.IO-service": "x"}}]}),
            "spec.publicIps[0].tags",
        ),
        (
            "DNS service IP on the kubernetes Service",
            json!({"ipPlan": {"dnsServiceIp": "10.0.0.1"}}),
            "spec.ipPlan.dnsServiceIp",
        ),
        (
            "node subnet /30",
            json!({"ipPlan": {"nodeSubnetCidr": "10.224.0.0/30"}}),
            "spec.ipPlan.nodeSubnetCidr",
        ),
        (
            "kubenet to overlay with pod routes on",
            json!({"networkModel": "azureCniOverlay"}),
            "spec.networkModel",
        ),
        (
            "allowed namespace that is no namespace name",
            json!({"publicIps": [{"name": "open-ip", "allowedNamespaces": ["Not_A_Namespace"]}]}),
            "spec.publicIps[0].allowedNamespaces[0]",
        ),
    ];
    for (what, spec, field) in &refused_edits {
        let err = networks
            .patch(
                &world.network,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": spec})),
            )
            .await
            .expect_err(what);
        let kube::Error::Api(status) = err else {
            panic!("{what}: {err}")
        };
        assert!(
            status.code == 422 && status.message.contains(field),
            "{what}: {}",
            status.message
        );
    }
    // An NSG name typo is accepted by the API server: the network stalls and writes nothing.
    networks
        .patch(
            &world.network,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"securityGroup": {"name": "aks-nsg-typo"}}})),
        )
        .await
        .expect("typo");
    let (_, reason, message) = eventually("Stalled on the missing NSG", 60, || async {
        world
            .network_condition("Stalled")
            .await
            .filter(|(s, _, _)| s == "True")
    })
    .await;
    assert!(
        reason == "NotFound" && message.contains("aks-nsg-typo"),
        "{reason}: {message}"
    );
    networks
        .patch(
            &world.network,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"securityGroup": {"name": "aks-nsg"}}})),
        )
        .await
        .expect("typo fixed");
    eventually("Ready again", 60, || async {
        world
            .network_condition("Ready")
            .await
            .filter(|(s, _, _)| s == "True")
    })
    .await;
    let writes = world.mock.write_entries().await.expect("journal");
    assert!(
        writes.is_empty(),
        "careless edits wrote to Azure: {writes:?}"
    );

    // A second AksNetwork for the same Azure network, with an operator of its own: it stalls
    // with OwnershipConflict, writes nothing, and its deletion tears nothing down.
    let mut twin = networks.get(&world.network).await.expect("network");
    twin.metadata = kube::api::ObjectMeta {
        name: Some(format!("{}-twin", world.network)),
        ..Default::default()
    };
    twin.status = None;
    networks
        .create(&PostParams::default(), &twin)
        .await
        .expect("twin network");
    let twin_name = twin.metadata.name.clone().unwrap_or_default();
    let port = aksnet_e2e::operator::free_port().expect("port");
    let twin_operator =
        aksnet_e2e::operator::OperatorProcess::start(&aksnet_e2e::operator::OperatorOptions {
            kubeconfig: cluster.kubeconfig().to_path_buf(),
            http_addr: format!("127.0.0.1:{port}"),
            network: twin_name.clone(),
            class: format!("{class}-twin"),
            azure_url: world.mock.url(),
            drift: "3s".into(),
            log: std::env::temp_dir().join(format!("aksnet-operator-{twin_name}.log")),
            extra: Vec::new(),
            log_filter: aksnet_e2e::operator::TEST_LOG_FILTER.into(),
            env: Vec::new(),
        })
        .expect("twin operator");
    let (reason, message) = eventually("the twin Stalled", 60, || async {
        let n = networks.get_opt(&twin_name).await.ok()??;
        n.status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Stalled" && c.status == "True")
            .map(|c| (c.reason, c.message))
    })
    .await;
    assert!(
        reason == "OwnershipConflict" && message.contains(&world.network),
        "{reason}: {message}"
    );
    networks
        .delete(&twin_name, &DeleteParams::default())
        .await
        .expect("delete twin");
    gone(&networks, &twin_name, 60).await;
    drop(twin_operator);
    world.mock.clear_journal().await.expect("journal");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let writes = world.mock.write_entries().await.expect("journal");
    assert!(
        writes.is_empty(),
        "the twin or its deletion wrote to Azure: {writes:?}"
    );
    assert_eq!(
        victim_state(&world, &prefixes, &victim_rules)
            .await
            .children,
        before.children
    );
    assert_victims_kept(&world, &addresses, "careless edits").await;

    // ---- 4. Azure-side interference ----
    let lb_id = world.id("loadBalancers", "kubernetes");
    let nsg_id = world.id("networkSecurityGroups", "aks-nsg");
    // (a) A victim's rule removed by another writer comes back.
    let lb = world.mock.get(&lb_id).await.expect("LB");
    let victim_rule = items(&lb, "loadBalancingRules")
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .find(|n| n.to_ascii_lowercase().starts_with(&prefixes[0]))
        .expect("v-managed's rule");
    world
        .mock
        .remove_out_of_band(&format!("{lb_id}/loadBalancingRules/{victim_rule}"))
        .await
        .expect("remove rule");
    eventually("the rule repaired", 30, || async {
        let lb = world.mock.get(&lb_id).await.ok()?;
        items(&lb, "loadBalancingRules")
            .any(|r| r["name"] == victim_rule.as_str())
            .then_some(())
    })
    .await;
    // (b) Someone puts a rule at the priority of a victim's rule: theirs stays as it is, the
    // victim's moves, no two share a priority.
    let nsg = world.mock.get(&nsg_id).await.expect("NSG");
    let taken = items(&nsg, "securityRules")
        .find(|r| victim_rules.contains(&lower_name(r)))
        .and_then(|r| r["properties"]["priority"].as_u64())
        .expect("a victim rule's priority");
    let squatter = json!({"name": "someone-else", "properties": {"priority": taken, "direction": "Inbound", "access": "Deny",
        "protocol": "Udp", "sourceAddressPrefix": "10.9.0.0/16", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "53"}});
    world
        .mock
        .edit_out_of_band(&format!("{nsg_id}/securityRules/someone-else"), &squatter)
        .await
        .expect("foreign rule");
    eventually("priorities unique again", 30, || async {
        let nsg = world.mock.get(&nsg_id).await.ok()?;
        let mut seen = BTreeSet::new();
        let unique = items(&nsg, "securityRules").all(|r| {
            seen.insert((
                r["properties"]["direction"].to_string(),
                r["properties"]["priority"].as_u64(),
            ))
        });
        let theirs = items(&nsg, "securityRules").find(|r| r["name"] == "someone-else")?;
        (unique && theirs["properties"]["priority"].as_u64() == Some(taken)).then_some(())
    })
    .await;
    // (c) A victim's DNS label changed by another writer is put back.
    let pip_id = world.id("publicIPAddresses", &managed_ip);
    let mut ip = world.mock.get(&pip_id).await.expect("victim IP");
    ip["properties"]["dnsSettings"]["domainNameLabel"] = json!("hijacked");
    world
        .mock
        .edit_out_of_band(&pip_id, &ip)
        .await
        .expect("edit");
    eventually("the DNS label back", 30, || async {
        let ip = world.mock.get(&pip_id).await.ok()?;
        (ip["properties"]["dnsSettings"]["domainNameLabel"] == "victim-web").then_some(())
    })
    .await;
    // (d) The NSG deleted by another writer: Stalled NotFound, nothing written; once it is
    // back, the rules are.
    world.mock.clear_journal().await.expect("journal");
    world
        .mock
        .remove_out_of_band(&nsg_id)
        .await
        .expect("remove NSG");
    let (_, reason, _) = eventually("Stalled without the NSG", 30, || async {
        world
            .network_condition("Stalled")
            .await
            .filter(|(s, _, _)| s == "True")
    })
    .await;
    assert_eq!(reason, "NotFound");
    assert!(
        world
            .mock
            .write_entries()
            .await
            .expect("journal")
            .is_empty(),
        "wrote while the NSG was missing"
    );
    world
        .mock
        .arm(
            "PUT",
            &nsg_id,
            Some(json!({"location": "westeurope", "properties": {"securityRules": []}})),
        )
        .await
        .expect("NSG back");
    eventually("the victim's rules back", 60, || async {
        let nsg = world.mock.get(&nsg_id).await.ok()?;
        let names: BTreeSet<String> = items(&nsg, "securityRules").map(lower_name).collect();
        victim_rules.is_subset(&names).then_some(())
    })
    .await;
    // (e) A node's pod route removed by another writer comes back.
    let rt_id = world.id("routeTables", "aks-rt");
    let pod_route = ownership.pod_route("10.244.41.0/24");
    world
        .mock
        .remove_out_of_band(&format!("{rt_id}/routes/{pod_route}"))
        .await
        .expect("remove route");
    eventually("the pod route back", 30, || async {
        let rt = world.mock.get(&rt_id).await.ok()?;
        items(&rt, "routes")
            .any(|r| r["name"] == pod_route.as_str())
            .then_some(())
    })
    .await;
    // (f) Someone else's frontend and rule on our load balancer survive our next write.
    byo_ip(&world, RG, "their-byo", json!({})).await;
    let fe = json!({"name": "their-frontend", "properties": {"publicIPAddress": {"id": world.id("publicIPAddresses", "their-byo")}}});
    world
        .mock
        .edit_out_of_band(
            &format!("{lb_id}/frontendIPConfigurations/their-frontend"),
            &fe,
        )
        .await
        .expect("their frontend");
    tenant
        .create(
            &PostParams::default(),
            &service("late-tenant", &class, 7100, &none, &none),
        )
        .await
        .expect("late tenant");
    eventually("late-tenant's address", 60, || {
        ingress_ip(&tenant, "late-tenant")
    })
    .await;
    let lb = world.mock.get(&lb_id).await.expect("LB");
    assert!(
        items(&lb, "frontendIPConfigurations").any(|f| f["name"] == "their-frontend"),
        "someone else's frontend was dropped"
    );

    assert_victims_kept(&world, &addresses, "interference").await;
    let (ready, _, message) = eventually("the network Ready", 60, || async {
        world
            .network_condition("Ready")
            .await
            .filter(|(s, _, _)| s == "True")
    })
    .await;
    assert_eq!(ready, "True", "{message}");
}
