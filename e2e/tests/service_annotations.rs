//! The cloud provider's annotations that shape NSG rules, public IPs and internal rules, end
//! to end: the operator binary, the real API server and azure-mock. What aksnet writes must be
//! what the annotations ask for, accepted by the mock as Azure would accept it, with nothing
//! Azure would ignore.

use std::time::Duration;

use aksnet_e2e::scenario::{World, eventually, ingress_ip, service_condition};
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000e2e14";
const RG: &str = "mc_annotations_e2e";
const A: &str = "service.beta.kubernetes.io/";

fn service(name: &str, class: &str, ports: &[u16], annotations: Value, spec: Value) -> Service {
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| json!({"name": format!("p{p}"), "port": p, "protocol": "TCP"}))
        .collect();
    let mut spec_json = json!({"type": "LoadBalancer", "loadBalancerClass": class, "ports": ports});
    if let (Some(s), Value::Object(extra)) = (spec_json.as_object_mut(), spec) {
        s.extend(extra);
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec_json
    }))
    .expect("service")
}

/// The NSG rules whose description names `namespace/name`.
fn rules_of<'a>(nsg: &'a Value, key: &str) -> Vec<&'a Value> {
    nsg["properties"]["securityRules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["properties"]["description"]
                .as_str()
                .is_some_and(|d| d.contains(key))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_reach_azure_as_the_cloud_provider_defines_them() {
    let world = World::start(
        "annotations",
        azure_mock::Config {
            operation_duration: Duration::from_millis(100),
            ..azure_mock::Config::default()
        },
        (SUB, RG),
        &[("a", "10.224.5.4", "10.244.51.0/24")],
        json!({}),
    )
    .await;
    let class = world.class.clone();
    let services = [
        service(
            "tagged",
            &class,
            &[80],
            json!({format!("{A}azure-pip-ip-tags"): "RoutingPreference=Internet"}),
            json!({}),
        ),
        service(
            "ha",
            &class,
            &[80, 443],
            json!({format!("{A}azure-load-balancer-internal"): "true", format!("{A}azure-load-balancer-enable-high-availability-ports"): "true"}),
            json!({}),
        ),
        service(
            "guarded",
            &class,
            &[8443],
            json!({
                format!("{A}azure-deny-all-except-load-balancer-source-ranges"): "true",
                format!("{A}azure-additional-public-ips"): "20.30.40.50"
            }),
            json!({"loadBalancerSourceRanges": ["10.0.0.0/8"]}),
        ),
        service(
            "quiet",
            &class,
            &[9000],
            json!({format!("{A}azure-disable-load-balancer-nsg-rule"): "true"}),
            json!({}),
        ),
    ];
    for svc in &services {
        world
            .services
            .create(&PostParams::default(), svc)
            .await
            .expect("create service");
    }
    let names = ["tagged", "ha", "guarded", "quiet"];
    eventually("every Service served", 90, || async {
        for name in names {
            match service_condition(&world.services, name).await {
                Some((s, _, _)) if s == "True" => {}
                _ => return None,
            }
            ingress_ip(&world.services, name).await?;
        }
        Some(())
    })
    .await;
    let ns = &world.namespace;
    let mock = &world.mock;

    // The public IP of `tagged` carries its IP tag.
    let pips = mock
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPAddresses?api-version=2024-03-01"
        ))
        .await
        .expect("public IPs");
    let tagged_ip = ingress_ip(&world.services, "tagged").await;
    let tagged = pips["value"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["properties"]["ipAddress"].as_str() == tagged_ip.as_deref())
        .expect("the tagged Service's public IP");
    assert_eq!(
        tagged["properties"]["ipTags"],
        json!([{"ipTagType": "RoutingPreference", "tag": "Internet"}])
    );

    // `ha` is one rule for every port on the internal load balancer.
    let ilb = load_balancer(&world, "kubernetes-internal").await;
    let rules = ilb["properties"]["loadBalancingRules"]
        .as_array()
        .expect("rules");
    assert_eq!(rules.len(), 1, "{rules:?}");
    let p = &rules[0]["properties"];
    assert_eq!(
        (&p["protocol"], &p["frontendPort"], &p["backendPort"]),
        (&json!("All"), &json!(0), &json!(0))
    );

    let nsg = mock
        .get(&format!(
            "{}?api-version=2024-03-01",
            world.id("networkSecurityGroups", "aks-nsg")
        ))
        .await
        .expect("NSG");
    // `ha`'s NSG rule admits its own ports only.
    let ha_ports: Vec<String> = rules_of(&nsg, &format!("{ns}/ha"))
        .iter()
        .flat_map(|r| strings(&r["properties"]["destinationPortRanges"]))
        .collect();
    assert_eq!(ha_ports, ["443", "80"]);
    // `guarded`: allow from its range to its address and the additional one, then deny all.
    let guarded = rules_of(&nsg, &format!("{ns}/guarded"));
    let by_access = |access: &str| {
        guarded
            .iter()
            .find(|r| r["properties"]["access"] == access)
            .map(|r| &r["properties"])
            .unwrap_or_else(|| panic!("no {access} rule: {guarded:?}"))
    };
    let (allow, deny) = (by_access("Allow"), by_access("Deny"));
    let guarded_ip = ingress_ip(&world.services, "guarded")
        .await
        .expect("address");
    let mut want = vec![guarded_ip, "20.30.40.50".to_string()];
    want.sort();
    assert_eq!(strings(&allow["destinationAddressPrefixes"]), want);
    assert_eq!(strings(&deny["destinationAddressPrefixes"]), want);
    assert_eq!(allow["sourceAddressPrefix"], "10.0.0.0/8");
    assert_eq!(deny["sourceAddressPrefix"], "*");
    assert!(
        deny["priority"].as_u64() > allow["priority"].as_u64(),
        "deny after allow: {deny} vs {allow}"
    );
    // `quiet` has no NSG rule at all.
    assert!(rules_of(&nsg, &format!("{ns}/quiet")).is_empty());
    assert_eq!(
        mock.ignored_properties().await.expect("journal"),
        Vec::<String>::new(),
        "nothing aksnet wrote is ignored by Azure"
    );
}

/// A load balancer of the cluster's resource group, as Azure holds it.
async fn load_balancer(world: &World, name: &str) -> Value {
    world
        .mock
        .get(&format!(
            "{}?api-version=2024-03-01",
            world.id("loadBalancers", name)
        ))
        .await
        .unwrap_or_else(|e| panic!("load balancer {name}: {e}"))
}

/// The names of the load balancers in the cluster's resource group.
async fn load_balancers(world: &World) -> Vec<String> {
    let list = world
        .mock
        .get(&format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers?api-version=2024-03-01",
            world.azure.0, world.azure.1
        ))
        .await
        .expect("load balancers");
    let mut names: Vec<String> = list["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|lb| lb["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_load_balancer_grows_and_the_extra_one_goes_when_empty() {
    let world = World::start_with(
        "growth",
        azure_mock::Config {
            operation_duration: Duration::from_millis(100),
            ..azure_mock::Config::default()
        },
        (SUB, "mc_growth_e2e"),
        &[("a", "10.224.7.4", "10.244.71.0/24")],
        json!({"loadBalancer": {"maxCount": 3}}),
        aksnet_e2e::operator::TEST_LOG_FILTER,
        &["--frontends-per-load-balancer", "3"],
    )
    .await;
    // Azure's limit, lowered at run time to what the operator plans for: three frontends.
    world
        .mock
        .set_limits(&azure_mock::Limits {
            frontends_per_load_balancer: 3,
            ..azure_mock::Limits::default()
        })
        .await
        .expect("limits");
    let class = world.class.clone();
    // The outbound IP and two Services fill `kubernetes`; the third opens `kubernetes-2`.
    for (i, name) in ["g1", "g2", "g3"].iter().enumerate() {
        world
            .services
            .create(
                &PostParams::default(),
                &service(name, &class, &[8000 + i as u16], json!({}), json!({})),
            )
            .await
            .expect("create service");
    }
    eventually("three Services served", 90, || async {
        for name in ["g1", "g2", "g3"] {
            ingress_ip(&world.services, name).await?;
        }
        Some(())
    })
    .await;
    let world_ref = &world;
    let names = eventually("a second load balancer", 60, || async move {
        let names = load_balancers(world_ref).await;
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(names, ["kubernetes", "kubernetes-2"]);
    let lb2 = load_balancer(&world, "kubernetes-2").await;
    assert_eq!(
        lb2["tags"]["aksnet.io-owner"]
            .as_str()
            .map(|t| t.starts_with("aksnet-")),
        Some(true),
        "aksnet owns what it grew: {}",
        lb2["tags"]
    );
    let lb1 = load_balancer(&world, "kubernetes").await;
    let pool = |lb: &Value| {
        let mut ips: Vec<String> = lb["properties"]["backendAddressPools"][0]["properties"]
            ["loadBalancerBackendAddresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["properties"]["ipAddress"].as_str().map(str::to_string))
            .collect();
        ips.sort();
        ips
    };
    assert!(pool(&lb2).contains(&"10.224.7.4".to_string()), "{lb2}");
    assert_eq!(pool(&lb2), pool(&lb1), "every node in the pools of both");
    // The Service on `kubernetes-2` leaves: the load balancer aksnet added goes too.
    world
        .services
        .delete("g3", &Default::default())
        .await
        .expect("delete g3");
    let names = eventually("the extra load balancer deleted", 60, || async move {
        let names = load_balancers(world_ref).await;
        (names.len() == 1).then_some(names)
    })
    .await;
    assert_eq!(names, ["kubernetes"]);
    assert!(ingress_ip(&world.services, "g1").await.is_some());
    assert_eq!(
        world.mock.ignored_properties().await.expect("journal"),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_takes_services_once_their_namespace_carries_its_label() {
    let world = World::start(
        "profiles",
        azure_mock::Config::default(),
        (SUB, "mc_profiles_e2e"),
        &[("a", "10.224.8.4", "10.244.81.0/24")],
        json!({"loadBalancer": {"profiles": [
            {"name": "gold", "serviceNamespaceSelector": {"matchLabels": {"aksnet-e2e/tier": "gold"}}}
        ]}}),
    )
    .await;
    let svc = service(
        "picky",
        &world.class,
        &[8080],
        json!({format!("{A}azure-load-balancer-configurations"): "gold"}),
        json!({}),
    );
    world
        .services
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    let refused = eventually("refused: its namespace lacks the label", 60, || async {
        service_condition(&world.services, "picky")
            .await
            .filter(|(s, r, _)| s == "False" && r == "ConflictingSettings")
    })
    .await;
    assert!(refused.2.contains("admits"), "{refused:?}");
    // Labelling the namespace is a change the operator watches: the Service is served on
    // the profile's own load balancer.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(world.client.clone());
    namespaces
        .patch(
            &world.namespace,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"aksnet-e2e/tier": "gold"}}})),
        )
        .await
        .expect("label namespace");
    eventually("served once labelled", 90, || async {
        ingress_ip(&world.services, "picky").await
    })
    .await;
    let gold = load_balancer(&world, "gold").await;
    assert_eq!(
        gold["properties"]["loadBalancingRules"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
