//! Conformance with a client we did not write: azure_mgmt_network 0.21 and an azure_identity
//! client-secret credential drive every resource type against the mock over HTTP.

mod support;

use std::time::Duration;

use azure_mgmt_network::package_2024_03::models;
use azure_mock::{Config, Limits};
use futures::StreamExt;
use serde_json::{Value, json};
use support::{Env, RG, SUB, error_code, model};

async fn route_table(env: &Env, name: impl Into<String>) {
    env.net
        .route_tables_client()
        .create_or_update(
            RG,
            name,
            model::<models::RouteTable>(json!({"location": "westeurope"})),
            SUB,
        )
        .await
        .expect("route table");
}

fn pip_body(sku: &str) -> models::PublicIpAddress {
    model(
        json!({"location": "westeurope", "sku": {"name": sku}, "properties": {"publicIPAllocationMethod": "Static"}, "tags": {"owner": "test"}}),
    )
}

#[tokio::test]
async fn public_ip_create_get_list_update_delete() {
    let env = Env::start(Config::default()).await;
    let pips = env.net.public_ip_addresses_client();
    let created = pips
        .create_or_update(RG, "pip-1", pip_body("Standard"), SUB)
        .await
        .expect("create");
    let props = created.properties.expect("properties");
    let ip: std::net::Ipv4Addr = props.ip_address.expect("address").parse().expect("ipv4");
    assert_eq!(
        &ip.octets()[..3],
        &[203, 0, 113],
        "addresses come from TEST-NET-3"
    );
    assert_eq!(
        created.resource.id.as_deref(),
        Some(env.id("publicIPAddresses", "pip-1").as_str())
    );
    let etag = created.etag.expect("etag");

    let got = pips.get(RG, "pip-1", SUB).await.expect("get");
    assert_eq!(got.etag.as_deref(), Some(etag.as_str()));

    let in_rg: Vec<_> = pips.list(RG, SUB).into_stream().collect().await;
    let all: Vec<_> = pips.list_all(SUB).into_stream().collect().await;
    assert_eq!(
        in_rg
            .into_iter()
            .map(|p| p.expect("page").value.len())
            .sum::<usize>(),
        1
    );
    assert_eq!(
        all.into_iter()
            .map(|p| p.expect("page").value.len())
            .sum::<usize>(),
        1
    );

    let tagged = pips
        .update_tags(
            RG,
            "pip-1",
            model::<models::TagsObject>(json!({"tags": {"team": "net"}})),
            SUB,
        )
        .await
        .expect("patch tags");
    assert_eq!(tagged.resource.tags, Some(json!({"team": "net"})));
    assert_ne!(
        tagged.etag.as_deref(),
        Some(etag.as_str()),
        "a change makes a new etag"
    );

    // A second PUT updates (200) and keeps the address.
    let again = pips
        .create_or_update(RG, "pip-1", pip_body("Standard"), SUB)
        .send()
        .await
        .expect("update");
    assert_eq!(u16::from(again.as_raw_response().status()), 200);
    let kept = pips.get(RG, "pip-1", SUB).await.expect("get");
    assert_eq!(
        kept.properties.and_then(|p| p.ip_address),
        Some(ip.to_string())
    );

    pips.delete(RG, "pip-1", SUB).send().await.expect("delete");
    let err = pips.get(RG, "pip-1", SUB).await.expect_err("deleted");
    assert_eq!(error_code(&err), (404, "ResourceNotFound".into()));
    // Deleting what is gone is 204.
    let (status, _) = env
        .arm(
            "DELETE",
            &format!(
                "{}?api-version=2024-03-01",
                env.id("publicIPAddresses", "pip-1")
            ),
            None,
        )
        .await;
    assert_eq!(status, 204);
    env.assert_nothing_ignored().await;
}

/// An empty NSG `nsg`.
async fn nsg(env: &Env) {
    env.net
        .network_security_groups_client()
        .create_or_update(
            RG,
            "nsg",
            model::<models::NetworkSecurityGroup>(json!({"location": "westeurope"})),
            SUB,
        )
        .await
        .expect("nsg");
}

async fn vnet(env: &Env) {
    env.net
        .virtual_networks_client()
        .create_or_update(
            RG,
            "vnet",
            model::<models::VirtualNetwork>(json!({"location": "westeurope", "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.0.0.0/24"}}]
            }})),
            SUB,
        )
        .await
        .expect("vnet");
}

fn lb_body(env: &Env, with_rule: bool) -> models::LoadBalancer {
    let lb = env.id("loadBalancers", "kubernetes");
    let mut rules = vec![];
    if with_rule {
        rules.push(json!({"name": "web-80", "properties": {
            "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "enableFloatingIP": true,
            "frontendIPConfiguration": {"id": format!("{lb}/frontendIPConfigurations/web")},
            "backendAddressPool": {"id": format!("{lb}/backendAddressPools/kubernetes")},
            "probe": {"id": format!("{lb}/probes/web-80")}
        }}));
    }
    model(
        json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"name": "web", "properties": {"publicIPAddress": {"id": env.id("publicIPAddresses", "web")}}}],
            "backendAddressPools": [{"name": "kubernetes", "properties": {"loadBalancerBackendAddresses": [
                {"name": "node-1", "properties": {"ipAddress": "10.0.0.4", "virtualNetwork": {"id": env.id("virtualNetworks", "vnet")}}}
            ]}}],
            "probes": [{"name": "web-80", "properties": {"protocol": "Tcp", "port": 30080, "intervalInSeconds": 5, "numberOfProbes": 2}}],
            "loadBalancingRules": rules,
        }}),
    )
}

#[tokio::test]
async fn load_balancer_children_back_references_and_in_use_delete() {
    let env = Env::start(Config::default()).await;
    vnet(&env).await;
    env.net
        .public_ip_addresses_client()
        .create_or_update(RG, "web", pip_body("Standard"), SUB)
        .await
        .expect("pip");
    let lbs = env.net.load_balancers_client();
    let lb = lbs
        .create_or_update(RG, "kubernetes", lb_body(&env, true), SUB)
        .await
        .expect("lb");
    let props = lb.properties.expect("props");
    let fe = &props.frontend_ip_configurations[0];
    let fe_id = fe.sub_resource.id.clone().expect("frontend id");
    assert_eq!(
        fe_id,
        format!(
            "{}/frontendIPConfigurations/web",
            env.id("loadBalancers", "kubernetes")
        )
    );
    let rule_ids: Vec<_> = fe
        .properties
        .as_ref()
        .expect("fe props")
        .load_balancing_rules
        .iter()
        .filter_map(|r| r.id.clone())
        .collect();
    assert_eq!(
        rule_ids.len(),
        1,
        "the frontend lists the rule that uses it"
    );

    // The public IP points back at the frontend.
    let pip = env
        .net
        .public_ip_addresses_client()
        .get(RG, "web", SUB)
        .await
        .expect("pip");
    let ip_config = pip
        .properties
        .and_then(|p| p.ip_configuration)
        .and_then(|c| c.sub_resource.id);
    assert_eq!(ip_config, Some(fe_id.clone()));
    // So does a list of them (a page works out its IPs' users in one pass).
    let listed: Vec<(Option<String>, Option<String>)> = (env.net.public_ip_addresses_client())
        .list(RG, SUB)
        .into_stream()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|p| p.expect("page").value)
        .map(|p| {
            let user = (p.properties)
                .and_then(|p| p.ip_configuration)
                .and_then(|c| c.sub_resource.id);
            (p.resource.name, user)
        })
        .collect();
    assert!(
        listed.contains(&(Some("web".into()), Some(fe_id.clone()))),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .all(|(name, user)| name.as_deref() == Some("web") || user.is_none()),
        "{listed:?}"
    );

    // Child endpoints.
    let probes: Vec<_> = env
        .net
        .load_balancer_probes_client()
        .list(RG, "kubernetes", SUB)
        .into_stream()
        .collect()
        .await;
    assert_eq!(
        probes
            .into_iter()
            .map(|p| p.expect("page").value.len())
            .sum::<usize>(),
        1
    );
    let fe_get = env
        .net
        .load_balancer_frontend_ip_configurations_client()
        .get(RG, "kubernetes", "web", SUB)
        .await
        .expect("frontend");
    assert_eq!(fe_get.sub_resource.id, Some(fe_id));

    // In use: the IP cannot go.
    let err = env
        .net
        .public_ip_addresses_client()
        .delete(RG, "web", SUB)
        .send()
        .await
        .expect_err("in use");
    assert_eq!(
        error_code(&err),
        (400, "PublicIPAddressCannotBeDeleted".into())
    );

    // PUT replaces children: the rule is gone when the body leaves it out.
    let lb = lbs
        .create_or_update(RG, "kubernetes", lb_body(&env, false), SUB)
        .await
        .expect("lb without rule");
    assert!(
        lb.properties
            .expect("props")
            .load_balancing_rules
            .is_empty()
    );

    // A Basic public IP cannot serve a Standard load balancer.
    env.net
        .public_ip_addresses_client()
        .create_or_update(
            RG,
            "basic",
            model::<models::PublicIpAddress>(json!({"location": "westeurope"})),
            SUB,
        )
        .await
        .expect("basic pip");
    let mut body = serde_json::to_value(lb_body(&env, false)).expect("json");
    body["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"] =
        json!(env.id("publicIPAddresses", "basic"));
    let err = lbs
        .create_or_update(RG, "kubernetes", model::<models::LoadBalancer>(body), SUB)
        .await
        .expect_err("sku mismatch");
    assert_eq!(error_code(&err), (400, "PublicIPAndLBSkuDoNotMatch".into()));

    // A reference to a resource that does not exist.
    let mut body = serde_json::to_value(lb_body(&env, false)).expect("json");
    body["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"] =
        json!(env.id("publicIPAddresses", "nope"));
    let err = lbs
        .create_or_update(RG, "kubernetes", model::<models::LoadBalancer>(body), SUB)
        .await
        .expect_err("missing reference");
    assert_eq!(error_code(&err), (400, "InvalidResourceReference".into()));
    env.assert_nothing_ignored().await;
}

fn rule(priority: i64, port: &str) -> models::SecurityRule {
    model(
        json!({"properties": {"priority": priority, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
        "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "203.0.113.10", "destinationPortRange": port}}),
    )
}

#[tokio::test]
async fn security_rules_conflict_replace_and_in_use_nsg() {
    let env = Env::start(Config::default()).await;
    let nsgs = env.net.network_security_groups_client();
    let nsg = nsgs
        .create_or_update(RG, "nsg", model::<models::NetworkSecurityGroup>(json!({"location": "westeurope", "properties": {"securityRules": [
            {"name": "theirs", "properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "*",
              "sourceAddressPrefix": "10.1.0.0/24", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}
        ]}})), SUB)
        .await
        .expect("nsg");
    let props = nsg.properties.expect("props");
    assert_eq!(
        props.default_security_rules.len(),
        6,
        "Azure's default rules"
    );

    let rules = env.net.security_rules_client();
    rules
        .create_or_update(RG, "nsg", "ours-80", rule(500, "80"), SUB)
        .await
        .expect("child PUT");
    let err = rules
        .create_or_update(RG, "nsg", "clash", rule(500, "443"), SUB)
        .await
        .expect_err("same priority");
    assert_eq!(error_code(&err), (400, "SecurityRuleConflict".into()));
    let err = rules
        .create_or_update(RG, "nsg", "bad-port", rule(501, "70000"), SUB)
        .await
        .expect_err("bad port");
    assert_eq!(
        error_code(&err),
        (400, "SecurityRuleInvalidPortRange".into())
    );
    let listed: Vec<_> = rules.list(RG, "nsg", SUB).into_stream().collect().await;
    let names: Vec<String> = listed
        .into_iter()
        .flat_map(|p| p.expect("page").value)
        .filter_map(|r| r.sub_resource.id)
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the other writer's rule and ours: {names:?}"
    );

    rules
        .delete(RG, "nsg", "ours-80", SUB)
        .send()
        .await
        .expect("delete rule");
    let err = rules
        .get(RG, "nsg", "ours-80", SUB)
        .await
        .expect_err("gone");
    assert_eq!(error_code(&err).0, 404);

    // A parent PUT without the rule list drops every rule, as ARM does.
    let nsg = nsgs
        .create_or_update(
            RG,
            "nsg",
            model::<models::NetworkSecurityGroup>(json!({"location": "westeurope"})),
            SUB,
        )
        .await
        .expect("bare PUT");
    assert!(nsg.properties.expect("props").security_rules.is_empty());

    // In use by a subnet: cannot be deleted.
    env.net.virtual_networks_client().create_or_update(RG, "vnet", model::<models::VirtualNetwork>(json!({"location": "westeurope", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": env.id("networkSecurityGroups", "nsg")}}}]
    }})), SUB).await.expect("vnet");
    let got = nsgs.get(RG, "nsg", SUB).await.expect("nsg");
    assert_eq!(
        got.properties.expect("props").subnets.len(),
        1,
        "the NSG lists the subnet using it"
    );
    let err = nsgs
        .delete(RG, "nsg", SUB)
        .send()
        .await
        .expect_err("in use");
    assert_eq!(
        error_code(&err),
        (400, "InUseNetworkSecurityGroupCannotBeDeleted".into())
    );
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn security_group_limits_answer_with_azures_codes() {
    let limits = Limits {
        rules_per_nsg: 2,
        addresses_or_ports_per_nsg: 5,
        ..Limits::default()
    };
    let env = Env::with_limits(limits).await;
    nsg(&env).await;
    let rules = env.net.security_rules_client();
    for (priority, port) in [(100, "80"), (101, "443")] {
        rules
            .create_or_update(RG, "nsg", format!("r{priority}"), rule(priority, port), SUB)
            .await
            .expect("within the limit");
    }
    let err = rules
        .create_or_update(RG, "nsg", "r102", rule(102, "8080"), SUB)
        .await
        .expect_err("a third rule");
    assert_eq!(
        error_code(&err),
        (400, "SecurityRuleCountLimitReached".into())
    );
    let third = serde_json::to_value(rule(102, "8080")).expect("rule json");
    let (_, body) = env
        .arm(
            "PUT",
            &format!(
                "{}/securityRules/r102?api-version=2024-03-01",
                env.id("networkSecurityGroups", "nsg")
            ),
            Some(third),
        )
        .await;
    assert_eq!(
        body["error"]["message"],
        "A security group cannot have more than 2 security rules."
    );
    let many = model::<models::SecurityRule>(
        json!({"properties": {"priority": 101, "direction": "Inbound",
        "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
        "destinationAddressPrefixes": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"],
        "destinationPortRange": "443"}}),
    );
    let err = rules
        .create_or_update(RG, "nsg", "r101", many, SUB)
        .await
        .expect_err("six destination prefixes in the NSG");
    assert_eq!(
        error_code(&err),
        (
            400,
            "SecurityRuleAddressesOrPortsPerSecurityGroupLimitReached".into()
        )
    );
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn routes_and_the_route_limit() {
    let limits = Limits {
        routes_per_table: 3,
        ..Limits::default()
    };
    let env = Env::with_limits(limits).await;
    route_table(&env, "rt").await;
    let routes = env.net.routes_client();
    for i in 0..3 {
        routes
            .create_or_update(RG, "rt", format!("node-{i}"), model::<models::Route>(json!({"properties": {
                "addressPrefix": format!("10.244.{i}.0/24"), "nextHopType": "VirtualAppliance", "nextHopIpAddress": format!("10.0.0.{}", i + 4)}})), SUB)
            .await
            .expect("route");
    }
    let err = routes
        .create_or_update(RG, "rt", "node-3", model::<models::Route>(json!({"properties": {"addressPrefix": "10.244.3.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.0.7"}})), SUB)
        .await
        .expect_err("over the limit");
    assert_eq!(
        error_code(&err),
        (400, "RouteTableRouteLimitReached".into())
    );
    let err = routes
        .create_or_update(RG, "rt", "node-0", model::<models::Route>(json!({"properties": {"addressPrefix": "10.244.0.0/24", "nextHopType": "VirtualAppliance"}})), SUB)
        .await
        .expect_err("appliance without IP");
    assert_eq!(
        error_code(&err),
        (400, "RouteNextHopIpAddressRequired".into())
    );
    let rt = env
        .net
        .route_tables_client()
        .get(RG, "rt", SUB)
        .await
        .expect("rt");
    assert_eq!(rt.properties.expect("props").routes.len(), 3);
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn etags_guard_updates_and_exactly_one_concurrent_writer_wins() {
    let env = Env::start(Config::default()).await;
    let path = format!("{}?api-version=2024-03-01", env.id("routeTables", "rt"));
    let (status, body) = env
        .arm("PUT", &path, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(status, 201);
    let etag = body["etag"].as_str().expect("etag").to_string();

    let (status, _, body) = env
        .arm_full(
            "PUT",
            &path,
            Some(json!({"location": "westeurope"})),
            &[("If-Match", "W/\"stale\"")],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (412, Some("PreconditionFailed"))
    );
    let (status, _, _) = env
        .arm_full(
            "PUT",
            &path,
            Some(json!({"location": "westeurope"})),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(status, 412, "If-None-Match * refuses an existing resource");

    let writers = (0..8).map(|i| {
        let body = json!({"location": "westeurope", "tags": {"writer": i.to_string()}});
        let etag = etag.clone();
        let path = path.clone();
        let env = &env;
        async move {
            env.arm_full("PUT", &path, Some(body), &[("If-Match", etag.as_str())])
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(writers).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn long_running_operations_are_polled_to_completion() {
    let env = Env::start(Config {
        operation_duration: Duration::from_millis(1200),
        ..Config::default()
    })
    .await;
    let pips = env.net.public_ip_addresses_client();
    // send() submits without polling: 201, Updating, and an Azure-AsyncOperation to poll.
    let sent = pips
        .create_or_update(RG, "slow", pip_body("Standard"), SUB)
        .send()
        .await
        .expect("send");
    let raw = sent.as_raw_response();
    assert_eq!(u16::from(raw.status()), 201);
    let op_url = raw
        .headers()
        .get_optional_string(&azure_core::headers::AZURE_ASYNCOPERATION)
        .expect("Azure-AsyncOperation");
    assert!(
        op_url.contains("/providers/Microsoft.Network/locations/westeurope/operations/"),
        "{op_url}"
    );
    let got = pips.get(RG, "slow", SUB).await.expect("get");
    assert_eq!(
        got.properties
            .and_then(|p| p.provisioning_state)
            .map(|s| format!("{s:?}")),
        Some("Updating".into())
    );

    // The future polls the operation until it succeeds, then returns the resource.
    let done = pips
        .create_or_update(RG, "slow", pip_body("Standard"), SUB)
        .await
        .expect("polled");
    assert_eq!(
        done.properties
            .and_then(|p| p.provisioning_state)
            .map(|s| format!("{s:?}")),
        Some("Succeeded".into())
    );
    let journal = env.admin("GET", "/journal", None).await;
    let polls = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.contains("/operations/"))
        })
        .count();
    assert!(
        polls >= 2,
        "the SDK polled the operation until it ended ({polls} polls)"
    );

    // An operation that ends Failed is reported as failed by the SDK.
    env.admin("PUT", "/faults", Some(json!({"failNextOperations": 1})))
        .await;
    let err = pips
        .create_or_update(RG, "doomed", pip_body("Standard"), SUB)
        .await
        .expect_err("failed LRO");
    assert!(
        err.to_string().contains("Long running operation failed"),
        "{err}"
    );
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn throttling_is_reported_and_retry_after_honoured() {
    let env = Env::start(Config {
        write_budget: 3,
        ..Config::default()
    })
    .await;
    let path = |n: &str| format!("{}?api-version=2024-03-01", env.id("routeTables", n));
    // The resource group PUT was write 1.
    let (status, headers, _) = env
        .arm_full(
            "PUT",
            &path("a"),
            Some(json!({"location": "westeurope"})),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(headers["x-ms-ratelimit-remaining-subscription-writes"], "1");
    let (_, headers, _) = env.arm_full("GET", &path("a"), None, &[]).await;
    assert!(headers.contains_key("x-ms-ratelimit-remaining-subscription-reads"));
    env.arm("PUT", &path("b"), Some(json!({"location": "westeurope"})))
        .await;
    let (status, headers, body) = env
        .arm_full(
            "PUT",
            &path("c"),
            Some(json!({"location": "westeurope"})),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("SubscriptionRequestsThrottled"))
    );
    assert!(headers.contains_key("retry-after"));

    // Injected 429s: the SDK's retry policy waits Retry-After and succeeds.
    let env = Env::start(Config::default()).await;
    env.admin(
        "PUT",
        "/faults",
        Some(json!({"throttleNext": 2, "retryAfterSeconds": 1})),
    )
    .await;
    route_table(&env, "rt").await;
    let journal = env.admin("GET", "/journal", None).await;
    let throttled = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["status"] == 429)
        .count();
    assert_eq!(throttled, 2);
}

#[tokio::test]
async fn auth_api_version_and_malformed_bodies_get_arm_errors() {
    let env = Env::start(Config::default()).await;
    let url = format!(
        "{}{}?api-version=2024-03-01",
        env.server.url(),
        env.id("routeTables", "rt")
    );
    let resp = env.http.get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<serde_json::Value>().await.expect("json")["error"]["code"],
        "AuthenticationFailed"
    );
    let resp = env
        .http
        .get(&url)
        .bearer_auth("forged")
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.json::<serde_json::Value>().await.expect("json")["error"]["code"],
        "InvalidAuthenticationToken"
    );

    let base = env.id("routeTables", "rt");
    let (status, body) = env.arm("GET", &base, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let (status, body) = env
        .arm("GET", &format!("{base}?api-version=2099-01-01"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("NoRegisteredProviderFound"))
    );
    let (status, _) = env
        .arm(
            "PUT",
            &format!("{base}?api-version=2026-03-01"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, 201, "the current Python SDK's version works");

    let (status, body) = env
        .arm(
            "PUT",
            &format!("{base}?api-version=2024-03-01"),
            Some(json!({"location": "westeurope", "properties": []})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("properties")),
        "{body}"
    );
    let (status, body) = env
        .arm(
            "PUT",
            &format!("{base}?api-version=2024-03-01"),
            Some(json!({"properties": {}})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("LocationRequired"))
    );
    let other_rg = format!(
        "/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.Network/routeTables/rt?api-version=2024-03-01"
    );
    let (status, body) = env
        .arm("PUT", &other_rg, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
}

#[tokio::test]
async fn lists_page_through_next_link() {
    let env = Env::start(Config {
        page_size: 2,
        ..Config::default()
    })
    .await;
    for i in 0..5 {
        route_table(&env, format!("rt-{i}")).await;
    }
    let pages: Vec<_> = env
        .net
        .route_tables_client()
        .list(RG, SUB)
        .into_stream()
        .collect()
        .await;
    assert_eq!(pages.len(), 3, "2 + 2 + 1");
    let names: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.expect("page").value)
        .filter_map(|r| r.resource.name)
        .collect();
    assert_eq!(names, ["rt-0", "rt-1", "rt-2", "rt-3", "rt-4"]);
}

#[tokio::test]
async fn out_of_band_edits_are_seen_by_clients() {
    let env = Env::start(Config::default()).await;
    let rules = env.net.security_rules_client();
    nsg(&env).await;
    rules
        .create_or_update(RG, "nsg", "r1", rule(600, "80"), SUB)
        .await
        .expect("rule");
    let before = env.admin("GET", "/journal", None).await["writes"]
        .as_u64()
        .expect("writes");
    let rule_id = format!(
        "{}/securityRules/r1",
        env.id("networkSecurityGroups", "nsg")
    );
    let status = env
        .http
        .delete(format!("{}/_mock/resources{rule_id}", env.server.url()))
        .send()
        .await
        .expect("admin delete")
        .status();
    assert_eq!(status, 204);
    let err = rules
        .get(RG, "nsg", "r1", SUB)
        .await
        .expect_err("deleted behind the client's back");
    assert_eq!(error_code(&err).0, 404);
    let after = env.admin("GET", "/journal", None).await["writes"]
        .as_u64()
        .expect("writes");
    assert_eq!(before, after, "admin edits are not ARM writes");
}

#[tokio::test]
async fn state_survives_a_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    let env = Env::start(config.clone()).await;
    let created = env
        .net
        .public_ip_addresses_client()
        .create_or_update(RG, "keep", pip_body("Standard"), SUB)
        .await
        .expect("pip");
    env.server.shutdown().await;

    let server = azure_mock::MockServer::start("127.0.0.1:0".parse().expect("addr"), config, None)
        .await
        .expect("restart");
    let state: serde_json::Value = reqwest::get(format!("{}/_mock/state", server.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let key = created.resource.id.expect("id").to_ascii_lowercase();
    assert_eq!(
        state["resources"][&key]["properties"]["ipAddress"],
        json!(created.properties.and_then(|p| p.ip_address))
    );
}

#[tokio::test]
async fn bodies_are_read_as_the_2024_03_01_definitions_say() {
    let env = Env::start(Config::default()).await;
    let nsg = env.id("networkSecurityGroups", "nsg");
    // Names match case-insensitively, enum values take Azure's casing, read-only properties are
    // the server's, and a property the definitions do not know is dropped and reported.
    let (status, _) = env
        .arm(
            "PUT",
            &format!("{nsg}?api-version=2024-03-01"),
            Some(json!({"location": "westeurope", "Properties": {"SecurityRules": [
                {"name": "web", "properties": {"protocol": "tcp", "access": "allow", "priority": 200,
                    "direction": "inbound", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                    "destinationAddressPrefix": "*", "destinationPortRange": "80",
                    "provisioningState": "Failed", "destinationPortRnage": "443"}}
            ]}})),
        )
        .await;
    assert_eq!(status, 201);
    let got = env
        .net
        .network_security_groups_client()
        .get(RG, "nsg", SUB)
        .await
        .expect("SDK reads what was stored");
    let rule = got
        .properties
        .expect("properties")
        .security_rules
        .into_iter()
        .next()
        .expect("the rule");
    let p = rule.properties.expect("rule properties");
    assert_eq!(
        serde_json::to_value(&p.protocol).expect("protocol"),
        json!("Tcp")
    );
    assert_eq!(p.destination_port_range.as_deref(), Some("80"));
    assert_eq!(
        env.ignored_properties().await,
        vec![format!(
            "\"PUT\" \"{nsg}\": [\"properties.securityRules[0].properties.destinationPortRnage\"]"
        )]
    );
    env.admin("DELETE", "/journal", None).await;

    // A wrong JSON type or a missing required property is refused, naming the property.
    let (status, body) = env
        .arm(
            "PUT",
            &format!("{nsg}/securityRules/ssh?api-version=2024-03-01"),
            Some(json!({"properties": {"protocol": "Tcp", "access": "Allow", "priority": "300", "direction": "Inbound"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "InvalidRequestFormat");
    assert_eq!(
        body["error"]["message"],
        "Cannot parse the request. Property 'properties.priority' must be an integer."
    );
    route_table(&env, "rt").await;
    let created = env
        .net
        .routes_client()
        .create_or_update(
            RG,
            "rt",
            "no-hop",
            model::<models::Route>(
                json!({"properties": {"addressPrefix": "10.0.0.0/24", "nextHopType": "VnetLocal"}}),
            ),
            SUB,
        )
        .await;
    assert!(created.is_ok(), "a complete route is accepted: {created:?}");
    let (status, body) = env
        .arm(
            "PUT",
            &format!(
                "{}/routes/no-hop?api-version=2024-03-01",
                env.id("routeTables", "rt")
            ),
            Some(json!({"properties": {"addressPrefix": "10.0.0.0/24"}})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            400,
            Some("Cannot parse the request. Property 'properties.nextHopType' is required.")
        )
    );

    // A newer api-version may carry properties the 2024-03-01 definitions lack: kept.
    let (status, body) = env
        .arm(
            "PUT",
            &format!("{nsg}/securityRules/web?api-version=2026-03-01"),
            Some(json!({"properties": {"protocol": "Tcp", "access": "Allow", "priority": 200,
                "direction": "Inbound", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": "80", "futureSetting": true}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["properties"]["futureSetting"], true);
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn internal_frontends_take_addresses_no_backend_holds() {
    let env = Env::start(Config::default()).await;
    vnet(&env).await;
    let subnet = format!("{}/subnets/nodes", env.id("virtualNetworks", "vnet"));
    let internal = |name: &str, nodes: &[&str]| {
        let addresses: Vec<_> = nodes
            .iter()
            .map(|ip| json!({"name": ip, "properties": {"ipAddress": ip, "virtualNetwork": {"id": env.id("virtualNetworks", "vnet")}}}))
            .collect();
        model::<models::LoadBalancer>(
            json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {
                "frontendIPConfigurations": [{"name": name, "properties": {"subnet": {"id": subnet}}}],
                "backendAddressPools": [{"name": "nodes", "properties": {"loadBalancerBackendAddresses": addresses}}],
            }}),
        )
    };
    let private_ip = |lb: &models::LoadBalancer| {
        let fe = &lb
            .properties
            .as_ref()
            .expect("props")
            .frontend_ip_configurations[0];
        fe.properties
            .as_ref()
            .and_then(|p| p.private_ip_address.clone())
            .expect("a private address")
    };
    let lbs = env.net.load_balancers_client();
    // The nodes hold .4 and .5 (the first addresses Azure gives out): the frontend gets .6.
    let first = lbs
        .create_or_update(
            RG,
            "internal",
            internal("fe", &["10.0.0.4", "10.0.0.5"]),
            SUB,
        )
        .await
        .expect("internal LB");
    assert_eq!(private_ip(&first), "10.0.0.6");
    // Another load balancer's backends count too.
    let second = lbs
        .create_or_update(RG, "other", internal("fe2", &[]), SUB)
        .await
        .expect("second internal LB");
    assert_eq!(private_ip(&second), "10.0.0.7");
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn public_ip_pool_quota_per_region_and_usages() {
    // A pool of two addresses and a quota of three public IPs per region.
    let env = Env::start(Config {
        limits: Limits {
            public_ips_per_subscription: 3,
            ..Limits::default()
        },
        public_ipv4_pools: vec!["198.18.0.0/30".parse().expect("cidr")],
        ..Config::default()
    })
    .await;
    let pips = env.net.public_ip_addresses_client();
    let mut addresses = Vec::new();
    for name in ["a", "b"] {
        let created = pips
            .create_or_update(RG, name, pip_body("Standard"), SUB)
            .await
            .expect("create");
        addresses.extend(created.properties.and_then(|p| p.ip_address));
    }
    assert_eq!(
        addresses,
        ["198.18.0.1", "198.18.0.2"],
        "the pool, in order"
    );
    let err = pips
        .create_or_update(RG, "c", pip_body("Standard"), SUB)
        .await
        .expect_err("the pool is empty");
    assert_eq!(
        error_code(&err),
        (400, "PublicIPAddressAllocationFailed".into())
    );
    // A dynamic (Basic) address needs none, and the quota counts it.
    let basic = model::<models::PublicIpAddress>(
        json!({"location": "westeurope", "sku": {"name": "Basic"}, "properties": {"publicIPAllocationMethod": "Dynamic"}}),
    );
    pips.create_or_update(RG, "d", basic.clone(), SUB)
        .await
        .expect("dynamic");
    let err = pips
        .create_or_update(RG, "e", basic.clone(), SUB)
        .await
        .expect_err("over the quota");
    assert_eq!(error_code(&err), (400, "PublicIPCountLimitReached".into()));
    // The quota is per region.
    let mut elsewhere = json!(basic);
    elsewhere["location"] = json!("northeurope");
    pips.create_or_update(RG, "f", model::<models::PublicIpAddress>(elsewhere), SUB)
        .await
        .expect("another region has its own quota");

    let usages: Vec<models::Usage> = env
        .net
        .usages_client()
        .list("westeurope", SUB)
        .into_stream()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|page| page.expect("usages page").value)
        .collect();
    let usage = |name: &str| {
        usages
            .iter()
            .find(|u| u.name.value.as_deref() == Some(name))
            .map(|u| (u.current_value, u.limit))
    };
    assert_eq!(usage("PublicIPAddresses"), Some((3, 3)));
    assert_eq!(usage("StaticPublicIPAddresses"), Some((2, 3)));
    assert_eq!(usage("StandardSkuPublicIpAddresses"), Some((2, 3)));
    assert_eq!(usage("LoadBalancers"), Some((0, 1000)));
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn request_bodies_up_to_arms_four_mebibytes_are_read() {
    // A load balancer with hundreds of frontends and rules is a body of megabytes.
    let env = Env::start(Config::default()).await;
    let id = format!("{}?api-version=2024-03-01", env.id("routeTables", "big"));
    let padded = |bytes: usize| json!({"location": "westeurope", "properties": {"routes": []}, "padding": "x".repeat(bytes)});
    let (status, _) = env.arm("PUT", &id, Some(padded(3 << 20))).await;
    assert_eq!(status, 201, "3 MiB is within ARM's limit");
    let (status, body) = env.arm("PUT", &id, Some(padded(5 << 20))).await;
    assert_eq!(status, 413, "5 MiB is not");
    assert_eq!(body["error"]["code"], "RequestEntityTooLarge");
}

#[tokio::test]
async fn what_azure_refuses_is_refused_with_its_codes() {
    let env = Env::start(Config::default()).await;
    vnet(&env).await;
    nsg(&env).await;
    let rules = env.net.security_rules_client();
    let with = |sources: Value, destinations: Value| {
        model::<models::SecurityRule>(json!({"properties": {"priority": 100,
            "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "sourcePortRange": "*",
            "sourceAddressPrefixes": sources, "destinationAddressPrefixes": destinations,
            "destinationPortRange": "80"}}))
    };
    // A service tag (or `*`) in a plural member: confirmed by public reports of Azure's answer.
    for tag in ["Internet", "*"] {
        let err = rules
            .create_or_update(
                RG,
                "nsg",
                "r",
                with(json!([tag, "10.1.0.0/16"]), json!(["10.0.0.10"])),
                SUB,
            )
            .await
            .expect_err("a tag among prefixes");
        assert_eq!(
            error_code(&err),
            (400, "SecurityRuleParameterContainsUnsupportedValue".into()),
            "{tag}"
        );
    }
    // IPv4 and IPv6 in one rule, on one side or across both.
    for (sources, destinations) in [
        (
            json!(["10.1.0.0/16", "2001:db8::/64"]),
            json!(["10.0.0.10"]),
        ),
        (json!(["10.1.0.0/16"]), json!(["2001:db8::10"])),
    ] {
        let err = rules
            .create_or_update(RG, "nsg", "r", with(sources, destinations), SUB)
            .await
            .expect_err("mixed IP versions");
        assert_eq!(
            error_code(&err),
            (400, "SecurityRuleInvalidAddressPrefix".into())
        );
    }
    rules
        .create_or_update(
            RG,
            "nsg",
            "r",
            with(json!(["2001:db8::/64"]), json!(["2001:db8::10"])),
            SUB,
        )
        .await
        .expect("one IP version on both sides");

    // The subnet's reserved addresses: .0 to .3 and the broadcast address.
    let subnet = format!("{}/subnets/nodes", env.id("virtualNetworks", "vnet"));
    let lbs = env.net.load_balancers_client();
    let internal = |ip: &str| {
        model::<models::LoadBalancer>(
            json!({"location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"frontendIPConfigurations": [{"name": "fe", "properties": {
                "subnet": {"id": subnet}, "privateIPAllocationMethod": "Static", "privateIPAddress": ip}}]}}),
        )
    };
    for ip in ["10.0.0.0", "10.0.0.1", "10.0.0.3", "10.0.0.255"] {
        let err = lbs
            .create_or_update(RG, "internal", internal(ip), SUB)
            .await
            .expect_err("a reserved address");
        assert_eq!(
            error_code(&err),
            (400, "PrivateIPAddressInReservedRange".into()),
            "{ip}"
        );
    }
    lbs.create_or_update(RG, "internal", internal("10.0.0.4"), SUB)
        .await
        .expect("the first address Azure gives out");

    // At most 50 tags.
    let tagged = |n: usize| {
        let tags: serde_json::Map<String, Value> =
            (0..n).map(|i| (format!("k{i}"), json!("v"))).collect();
        model::<models::PublicIpAddress>(
            json!({"location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}, "tags": tags}),
        )
    };
    let pips = env.net.public_ip_addresses_client();
    let err = pips
        .create_or_update(RG, "tagged", tagged(51), SUB)
        .await
        .expect_err("51 tags");
    assert_eq!(error_code(&err), (400, "InvalidTagCount".into()));
    pips.create_or_update(RG, "tagged", tagged(50), SUB)
        .await
        .expect("50 tags");
    // Names of 1 to 512 characters without `<>%&\?/`, values of at most 256.
    let one_tag = |name: &str, value: &str| {
        model::<models::PublicIpAddress>(
            json!({"location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}, "tags": {name: value}}),
        )
    };
    let long_name = "n".repeat(513);
    let long_value = "v".repeat(257);
    for (name, value, code) in [
        ("", "v", "InvalidTagName"),
        (" ", "v", "InvalidTagName"),
        (long_name.as_str(), "v", "InvalidTagName"),
        ("k8s.io/role", "v", "InvalidTagNameCharacters"),
        ("a?b", "v", "InvalidTagNameCharacters"),
        ("a\nb", "v", "InvalidTagNameCharacters"),
        ("k", long_value.as_str(), "InvalidTagValueLength"),
    ] {
        let err = pips
            .create_or_update(RG, "tagged", one_tag(name, value), SUB)
            .await
            .expect_err("a tag Azure refuses");
        assert_eq!(error_code(&err), (400, code.into()), "{name:?}={value:?}");
    }
    pips.create_or_update(
        RG,
        "tagged",
        one_tag(&"n".repeat(512), &"v".repeat(256)),
        SUB,
    )
    .await
    .expect("the longest name and value");
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn nat_gateways_take_public_ips_serve_subnets_and_refuse_what_azure_refuses() {
    let env = Env::start(Config::default()).await;
    vnet(&env).await;
    let pips = env.net.public_ip_addresses_client();
    for name in ["egress-1", "egress-2", "lb-ip"] {
        pips.create_or_update(RG, name, pip_body("Standard"), SUB)
            .await
            .expect("standard IP");
    }
    pips.create_or_update(RG, "basic", pip_body("Basic"), SUB)
        .await
        .expect("basic IP");
    let prefix = |len: i64| {
        model::<models::PublicIpPrefix>(
            json!({"location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"prefixLength": len}}),
        )
    };
    let prefixes = env.net.public_ip_prefixes_client();
    prefixes
        .create_or_update(RG, "p28", prefix(28), SUB)
        .await
        .expect("a /28");
    let gateway = |ips: &[&str], prefixes: &[&str], idle: Option<i64>| {
        let refs = |kind: &str, names: &[&str]| -> Vec<Value> {
            names
                .iter()
                .map(|n| json!({"id": env.id(kind, n)}))
                .collect()
        };
        let mut props = json!({"publicIpAddresses": refs("publicIPAddresses", ips),
            "publicIpPrefixes": refs("publicIPPrefixes", prefixes)});
        if let Some(idle) = idle {
            props["idleTimeoutInMinutes"] = json!(idle);
        }
        model::<models::NatGateway>(
            json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": props}),
        )
    };
    let nats = env.net.nat_gateways_client();
    let made = nats
        .create_or_update(
            RG,
            "egress",
            gateway(&["egress-1", "egress-2"], &[], None),
            SUB,
        )
        .await
        .expect("gateway");
    let made = serde_json::to_value(made).expect("json");
    assert_eq!(made["sku"]["name"], "Standard");
    assert_eq!(made["properties"]["idleTimeoutInMinutes"], 4);
    assert_eq!(made["properties"]["provisioningState"], "Succeeded");

    // Refusals: a Basic IP, an IP a load balancer or another gateway uses, more than 16
    // addresses, an idle timeout outside 4..120, a missing reference.
    let refused = [
        (
            gateway(&["basic"], &[], None),
            "NatGatewayCannotUsePublicIpAddress",
        ),
        (gateway(&["egress-1"], &[], None), "PublicIPAddressInUse"),
        (
            gateway(&["lb-ip"], &["p28"], None),
            "NatGatewayPublicIpAddressesLimitReached",
        ),
        (
            gateway(&["lb-ip"], &[], Some(121)),
            "NatGatewayIdleTimeoutOutOfRange",
        ),
        (gateway(&["nope"], &[], None), "InvalidResourceReference"),
    ];
    for (body, code) in refused {
        let err = nats
            .create_or_update(RG, "other", body, SUB)
            .await
            .expect_err(code);
        assert_eq!(error_code(&err), (400, code.into()));
    }
    nats.create_or_update(RG, "other", gateway(&[], &["p28"], Some(120)), SUB)
        .await
        .expect("16 addresses from a prefix");

    // The subnet takes the gateway; both sides show it.
    let subnet = json!({"properties": {"addressPrefix": "10.0.0.0/24",
        "natGateway": {"id": env.id("natGateways", "egress")}}});
    env.net
        .subnets_client()
        .create_or_update(RG, "vnet", "nodes", model::<models::Subnet>(subnet), SUB)
        .await
        .expect("subnet with gateway");
    let seen = nats.get(RG, "egress", SUB).await.expect("get");
    let seen = serde_json::to_value(seen).expect("json");
    let subnet_id = format!("{}/subnets/nodes", env.id("virtualNetworks", "vnet"));
    assert_eq!(seen["properties"]["subnets"][0]["id"], json!(subnet_id));
    let ip = serde_json::to_value(pips.get(RG, "egress-1", SUB).await.expect("ip")).expect("json");
    assert_eq!(
        ip["properties"]["natGateway"]["id"],
        json!(env.id("natGateways", "egress"))
    );

    // In use: neither the gateway nor its IPs can go.
    let err = nats
        .delete(RG, "egress", SUB)
        .send()
        .await
        .expect_err("associated");
    assert_eq!(
        error_code(&err),
        (400, "InUseNatGatewayCannotBeDeleted".into())
    );
    let err = pips
        .delete(RG, "egress-2", SUB)
        .send()
        .await
        .expect_err("used by the gateway");
    assert_eq!(
        error_code(&err),
        (400, "PublicIPAddressCannotBeDeleted".into())
    );
    // A load balancer frontend may not take a gateway's IP either.
    let mut lb = serde_json::to_value(lb_body(&env, false)).expect("json");
    lb["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"] =
        json!(env.id("publicIPAddresses", "egress-1"));
    let err = env
        .net
        .load_balancers_client()
        .create_or_update(RG, "kubernetes", model::<models::LoadBalancer>(lb), SUB)
        .await
        .expect_err("the gateway's IP");
    assert_eq!(error_code(&err), (400, "PublicIPAddressInUse".into()));
    env.assert_nothing_ignored().await;
}

#[tokio::test]
async fn private_link_services_serve_internal_frontends_from_subnets_without_policies() {
    let env = Env::start(Config::default()).await;
    vnet(&env).await;
    let vnet_id = env.id("virtualNetworks", "vnet");
    let subnet = format!("{vnet_id}/subnets/nodes");
    let lb_id = env.id("loadBalancers", "internal");
    let lbs = env.net.load_balancers_client();
    let internal = |frontends: &[&str]| {
        let fes: Vec<Value> = frontends
            .iter()
            .map(|n| json!({"name": n, "properties": {"subnet": {"id": subnet}}}))
            .collect();
        model::<models::LoadBalancer>(
            json!({"location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"frontendIPConfigurations": fes}}),
        )
    };
    let lb = lbs
        .create_or_update(RG, "internal", internal(&["svc", "other"]), SUB)
        .await
        .expect("internal LB");
    let lb = serde_json::to_value(lb).expect("json");
    let frontend_ip =
        lb["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"].clone();
    let pls = |ip: Option<&str>, frontend: &str| {
        let mut config = json!({"subnet": {"id": subnet}});
        if let Some(ip) = ip {
            config["privateIPAllocationMethod"] = json!("Static");
            config["privateIPAddress"] = json!(ip);
        }
        model::<models::PrivateLinkService>(json!({"location": "westeurope", "properties": {
            "loadBalancerFrontendIpConfigurations": [{"id": frontend}],
            "ipConfigurations": [{"name": "ipconfig-0", "properties": config}],
            "visibility": {"subscriptions": [SUB, "sub-b"]},
            "autoApproval": {"subscriptions": [SUB]},
            "fqdns": ["svc.example.com"],
            "enableProxyProtocol": true,
        }}))
    };
    let svc_frontend = format!("{lb_id}/frontendIPConfigurations/svc");
    let services = env.net.private_link_services_client();
    // Azure's default subnet keeps its Private Link Service network policies enabled.
    let err = services
        .create_or_update(RG, "pls", pls(None, &svc_frontend), SUB)
        .await
        .expect_err("policies enabled");
    assert_eq!(
        error_code(&err),
        (
            400,
            "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled".into()
        )
    );
    env.net
        .subnets_client()
        .create_or_update(
            RG,
            "vnet",
            "nodes",
            model::<models::Subnet>(json!({"properties": {"addressPrefix": "10.0.0.0/24",
                "privateLinkServiceNetworkPolicies": "Disabled"}})),
            SUB,
        )
        .await
        .expect("policies disabled");
    for (ip, code) in [
        (Some("10.0.0.2"), "PrivateIPAddressInReservedRange"),
        (frontend_ip.as_str(), "PrivateIPAddressInUse"),
    ] {
        let err = services
            .create_or_update(RG, "pls", pls(ip, &svc_frontend), SUB)
            .await
            .expect_err(code);
        assert_eq!(error_code(&err), (400, code.into()));
    }
    let made = services
        .create_or_update(RG, "pls", pls(None, &svc_frontend), SUB)
        .await
        .expect("private link service");
    let made = serde_json::to_value(made).expect("json");
    let props = &made["properties"];
    let config = &props["ipConfigurations"][0];
    assert_eq!(
        config["id"],
        json!(format!(
            "{}/ipConfigurations/ipconfig-0",
            env.id("privateLinkServices", "pls")
        ))
    );
    assert_ne!(config["properties"]["privateIPAddress"], frontend_ip);
    assert_eq!(config["properties"]["privateIPAllocationMethod"], "Dynamic");
    assert_eq!(config["properties"]["primary"], true);
    assert_eq!(props["enableProxyProtocol"], true);
    assert_eq!(props["visibility"]["subscriptions"], json!([SUB, "sub-b"]));
    assert_eq!(props["fqdns"], json!(["svc.example.com"]));
    assert!(
        props["alias"].as_str().is_some_and(
            |a| a.starts_with("pls.") && a.ends_with(".westeurope.azure.privatelinkservice")
        ),
        "{}",
        props["alias"]
    );
    // A load balancer may not take the service's address, nor lose the frontend it serves.
    let mut static_fe = serde_json::to_value(internal(&["svc", "other", "third"])).expect("json");
    static_fe["properties"]["frontendIPConfigurations"][2]["properties"]["privateIPAllocationMethod"] =
        json!("Static");
    static_fe["properties"]["frontendIPConfigurations"][2]["properties"]["privateIPAddress"] =
        config["properties"]["privateIPAddress"].clone();
    let err = lbs
        .create_or_update(
            RG,
            "internal",
            model::<models::LoadBalancer>(static_fe),
            SUB,
        )
        .await
        .expect_err("the service's address");
    assert_eq!(error_code(&err), (400, "PrivateIPAddressInUse".into()));
    let err = lbs
        .create_or_update(RG, "internal", internal(&["other"]), SUB)
        .await
        .expect_err("dropping the served frontend");
    assert_eq!(
        error_code(&err),
        (
            400,
            "FrontendIPConfigurationInUseByPrivateLinkService".into()
        )
    );
    let err = lbs
        .delete(RG, "internal", SUB)
        .send()
        .await
        .expect_err("served");
    assert_eq!(
        error_code(&err),
        (400, "LoadBalancerInUseByPrivateLinkService".into())
    );
    // A public frontend cannot be served.
    env.net
        .public_ip_addresses_client()
        .create_or_update(RG, "web", pip_body("Standard"), SUB)
        .await
        .expect("ip");
    lbs.create_or_update(RG, "kubernetes", lb_body(&env, false), SUB)
        .await
        .expect("public LB");
    let public_frontend = format!(
        "{}/frontendIPConfigurations/web",
        env.id("loadBalancers", "kubernetes")
    );
    let err = services
        .create_or_update(RG, "public", pls(None, &public_frontend), SUB)
        .await
        .expect_err("public frontend");
    assert_eq!(
        error_code(&err),
        (
            400,
            "PrivateLinkServiceFrontendIpConfigurationMustBeInternal".into()
        )
    );
    // Gone in order: the service, then its load balancer.
    services
        .delete(RG, "pls", SUB)
        .send()
        .await
        .expect("delete service");
    lbs.delete(RG, "internal", SUB)
        .send()
        .await
        .expect("delete load balancer");
    env.assert_nothing_ignored().await;
}
