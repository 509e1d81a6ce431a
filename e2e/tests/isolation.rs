//! Failure isolation end to end: the operator binary, the real API server and azure-mock. Each
//! poisoned Service (one Azure refuses, or one the plan can tell Azure would refuse) exists
//! first; an innocent Service created afterwards in another namespace still gets its address,
//! the bad ones carry a condition and a Warning naming the cause, the AksNetwork is not
//! `Stalled`, and nothing is retried in a loop. A managed public IP deleted behind aksnet's back
//! is repaired with a bounded number of writes; a quota refusal costs only the Services it hits.

use std::time::Duration;

use aksnet_e2e::scenario::{
    World, eventually, ingress_ip, lb_service, service_condition, warning_reasons,
};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, PostParams};
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-0000000e2e03";
const RG: &str = "mc_isolation_e2e";

/// A poisoned Service: its name, annotations, and the reasons its condition may carry.
struct Poison {
    name: &'static str,
    annotations: serde_json::Value,
    reasons: &'static [&'static str],
    /// A word its condition's message must hold (the object at fault).
    names: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_service_never_holds_back_the_others() {
    let world = World::start(
        "isolation",
        azure_mock::Config {
            operation_duration: Duration::from_millis(200),
            ..azure_mock::Config::default()
        },
        (SUB, RG),
        &[
            ("a", "10.224.3.4", "10.244.31.0/24"),
            ("b", "10.224.3.5", "10.244.32.0/24"),
        ],
        json!({}),
    )
    .await;
    let mock = &world.mock;
    // Someone else's public IP holds a DNS label; a second subnet exists in the VNet.
    mock.arm(
        "PUT",
        &world.id("publicIPAddresses", "squatter"),
        Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "dnsSettings": {"domainNameLabel": "taken-label"}}})),
    )
    .await
    .expect("squatter");
    mock.arm(
        "PUT",
        &world.id("virtualNetworks", "aks-vnet"),
        Some(json!({"location": "westeurope", "properties": {
            "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
            "subnets": [
                {"name": "aks-subnet", "properties": {"addressPrefix": "10.224.0.0/16"}},
                {"name": "extra", "properties": {"addressPrefix": "10.225.0.0/24"}}
            ]
        }})),
    )
    .await
    .expect("second subnet");
    // What aksnet does not read: a public IP in another resource group holding a DNS label, and
    // another team's internal load balancer holding an address of the subnet.
    let other_rg = format!("/subscriptions/{SUB}/resourceGroups/other-rg");
    mock.arm("PUT", &other_rg, Some(json!({"location": "westeurope"})))
        .await
        .expect("other resource group");
    mock.arm(
        "PUT",
        &format!("{other_rg}/providers/Microsoft.Network/publicIPAddresses/elsewhere"),
        Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "dnsSettings": {"domainNameLabel": "taken-elsewhere"}}})),
    )
    .await
    .expect("public IP elsewhere");
    let subnet_id = format!(
        "{}/subnets/aks-subnet",
        world.id("virtualNetworks", "aks-vnet")
    );
    mock.arm(
        "PUT",
        &world.id("loadBalancers", "other-team-ilb"),
        Some(json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"frontendIPConfigurations": [
            {"name": "fe", "properties": {"privateIPAllocationMethod": "Static", "privateIPAddress": "10.224.7.7", "subnet": {"id": subnet_id}}}
        ]}})),
    )
    .await
    .expect("another team's load balancer");

    let internal = "service.beta.kubernetes.io/azure-load-balancer-internal";
    let subnet = "service.beta.kubernetes.io/azure-load-balancer-internal-subnet";
    let ipv4 = "service.beta.kubernetes.io/azure-load-balancer-ipv4";
    let prefix = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPPrefixes/nope"
    );
    let poisons = [
        Poison {
            name: "dns-taken",
            annotations: json!({"service.beta.kubernetes.io/azure-dns-label-name": "taken-label"}),
            // The plan sees the squatter and refuses before Azure would.
            reasons: &["ConflictingSettings", "DnsRecordInUse"],
            names: "taken-label",
        },
        Poison {
            name: "no-prefix",
            annotations: json!({"service.beta.kubernetes.io/azure-pip-prefix-id": prefix}),
            // The plan reads the prefix and refuses; Azure would answer the second.
            reasons: &["AzureResourceNotFound", "InvalidResourceReference"],
            names: "nope",
        },
        Poison {
            name: "no-subnet",
            annotations: json!({internal: "true", subnet: "missing-subnet"}),
            reasons: &["AzureResourceNotFound", "InvalidResourceReference"],
            names: "missing-subnet",
        },
        Poison {
            name: "node-address",
            annotations: json!({internal: "true", ipv4: "10.224.3.4"}),
            reasons: &["ConflictingSettings", "PrivateIPAddressInUse"],
            names: "10.224.3.4",
        },
        Poison {
            name: "outside-subnet",
            annotations: json!({internal: "true", subnet: "extra", ipv4: "10.224.9.9"}),
            reasons: &["InvalidValue", "PrivateIPAddressNotInSubnet"],
            names: "10.224.9.9",
        },
        // Azure refuses these: the plan cannot see what is in the way.
        Poison {
            name: "dns-elsewhere",
            annotations: json!({"service.beta.kubernetes.io/azure-dns-label-name": "taken-elsewhere"}),
            reasons: &["DnsRecordInUse"],
            names: "taken-elsewhere",
        },
        Poison {
            name: "foreign-frontend",
            annotations: json!({internal: "true", ipv4: "10.224.7.7"}),
            reasons: &["PrivateIPAddressInUse"],
            names: "10.224.7.7",
        },
    ];
    for (i, p) in poisons.iter().enumerate() {
        world
            .services
            .create(
                &PostParams::default(),
                &lb_service(p.name, &world.class, 8000 + i as u16, p.annotations.clone()),
            )
            .await
            .expect("poisoned service");
    }
    // The innocent comes afterwards, in another namespace.
    let tenant = world.other_namespace("innocent").await;
    tenant
        .create(
            &PostParams::default(),
            &lb_service("innocent", &world.class, 80, json!({})),
        )
        .await
        .expect("innocent");
    let ip = eventually("the innocent Service's address", 90, || {
        ingress_ip(&tenant, "innocent")
    })
    .await;
    assert!(ip.starts_with("203.0.113."), "a public address: {ip}");

    let events: Api<Event> = Api::namespaced(world.client.clone(), &world.namespace);
    for p in &poisons {
        let (status, reason, message) =
            eventually(&format!("{}'s condition", p.name), 60, || async {
                service_condition(&world.services, p.name)
                    .await
                    .filter(|(s, r, _)| s == "False" && r != "Pending")
            })
            .await;
        assert_eq!(status, "False");
        assert!(
            p.reasons.contains(&reason.as_str()),
            "{}: {reason}: {message}",
            p.name
        );
        assert!(
            message.contains(p.names),
            "{}: the message names the cause: {message}",
            p.name
        );
        assert!(
            ingress_ip(&world.services, p.name).await.is_none(),
            "{} has no address",
            p.name
        );
        let warned = eventually(&format!("{}'s Warning", p.name), 30, || async {
            let r = warning_reasons(&events, p.name).await;
            (!r.is_empty()).then_some(r)
        })
        .await;
        assert!(warned.contains(&reason), "{}: {warned:?}", p.name);
    }

    // The network is not Stalled by its tenants, and says how many it refused.
    let (ready, _, message) = eventually("the network Ready", 60, || async {
        world
            .network_condition("Ready")
            .await
            .filter(|(s, _, _)| s == "True")
    })
    .await;
    assert!(
        message.contains(&format!("{} rejected", poisons.len())),
        "{message}"
    );
    let stalled = world.network_condition("Stalled").await;
    assert!(
        stalled.as_ref().is_none_or(|(s, _, _)| s == "False"),
        "{stalled:?}"
    );
    assert_eq!(ready, "True");

    // No hot loop: refused Services wait for an edit or their back-off; drift checks run
    // every 3 s and write nothing.
    mock.clear_journal().await.expect("journal");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        mock.writes().await.expect("journal"),
        0,
        "nothing is retried in a loop"
    );

    // Mending a Service's annotation retries it at once: drop the bad prefix.
    let patch = json!({"metadata": {"annotations": {"service.beta.kubernetes.io/azure-pip-prefix-id": null}}});
    world
        .services
        .patch(
            "no-prefix",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("mend");
    eventually("the mended Service's address", 60, || {
        ingress_ip(&world.services, "no-prefix")
    })
    .await;

    // A managed public IP deleted behind aksnet's back while in use is repaired with a few
    // writes (a new public IP, and the NSG rule for its new address), then nothing more.
    let pips = mock
        .arm("GET", &format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPAddresses"), None)
        .await
        .expect("pips");
    let innocent_pip = pips["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|p| {
            p["tags"]["aksnet.io-service"]
                .as_str()
                .is_some_and(|s| s.ends_with("/innocent"))
        })
        .and_then(|p| p["name"].as_str())
        .expect("the innocent's public IP")
        .to_string();
    mock.clear_journal().await.expect("journal");
    mock.remove_out_of_band(&world.id("publicIPAddresses", &innocent_pip))
        .await
        .expect("delete behind aksnet's back");
    eventually("the public IP re-created", 30, || async {
        mock.get(&world.id("publicIPAddresses", &innocent_pip))
            .await
            .ok()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let writes = mock.writes().await.expect("journal");
    assert!(
        (1..=4).contains(&writes),
        "repaired with {writes} writes\n{}",
        world.operator.log()
    );
    let pip = mock
        .get(&world.id("publicIPAddresses", &innocent_pip))
        .await
        .expect("public IP");
    let address = pip["properties"]["ipAddress"].as_str().map(str::to_string);
    assert!(address.is_some());
    assert_eq!(
        ingress_ip(&tenant, "innocent").await,
        address,
        "the Service is served at the repaired address (it was {ip})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_refusal_costs_only_the_services_it_hits() {
    // Room for the outbound IP and two Services' public IPs.
    let world = World::start(
        "quota",
        azure_mock::Config {
            operation_duration: Duration::from_millis(200),
            limits: azure_mock::Limits {
                public_ips_per_subscription: 3,
                ..azure_mock::Limits::default()
            },
            ..azure_mock::Config::default()
        },
        (SUB, "mc_quota_e2e"),
        &[("a", "10.224.4.4", "10.244.41.0/24")],
        json!({}),
    )
    .await;
    for (i, name) in ["q1", "q2", "q3", "q4"].iter().enumerate() {
        world
            .services
            .create(
                &PostParams::default(),
                &lb_service(name, &world.class, 80 + i as u16, json!({})),
            )
            .await
            .expect("service");
    }
    let served = eventually("two Services served, two refused", 90, || async {
        let mut served = 0;
        let mut refused = 0;
        for name in ["q1", "q2", "q3", "q4"] {
            match service_condition(&world.services, name).await {
                Some((s, _, _)) if s == "True" => served += 1,
                // The plan reads the quota (ARM's usages) and refuses before Azure would.
                Some((_, r, m)) if r == "AzureLimitReached" => {
                    assert!(m.contains("public IP addresses"), "{m}");
                    refused += 1;
                }
                _ => {}
            }
        }
        (served + refused == 4).then_some(served)
    })
    .await;
    assert_eq!(served, 2, "the quota holds two Services' public IPs");
    let refused_writes: Vec<_> = world
        .mock
        .writes_by_caller()
        .await
        .expect("journal")
        .into_iter()
        .filter(|w| w.status >= 400)
        .map(|w| format!("{} {} {}", w.status, w.method, w.path))
        .collect();
    assert!(
        refused_writes.is_empty(),
        "nothing over the quota is sent: {refused_writes:?}"
    );
    let stalled = world.network_condition("Stalled").await;
    assert!(
        stalled.as_ref().is_none_or(|(s, _, _)| s == "False"),
        "a tenant's quota refusal is not the network's: {stalled:?}"
    );
}
