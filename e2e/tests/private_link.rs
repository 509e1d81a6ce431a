//! An internal Service with a Private Link Service (`azure-pls-*`), through the operator and
//! azure-mock: refused while the subnet's policies forbid one, created once its owner allows
//! it, changed in one write, and deleted before its frontend.

use std::time::Duration;

use aksnet_e2e::scenario::{World, eventually, ingress_ip, lb_service, service_condition};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000e2e16";
const RG: &str = "mc_pls_e2e";
const VISIBLE_TO: &str = "00000000-0000-0000-0000-00000000beef";

fn ann(suffix: &str) -> String {
    format!("service.beta.kubernetes.io/{suffix}")
}

/// The Private Link Services azure-mock holds in the cluster's resource group.
async fn private_link_services(world: &World) -> Vec<Value> {
    let list = world
        .mock
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/privateLinkServices"
        ))
        .await
        .unwrap_or_default();
    list["value"].as_array().cloned().unwrap_or_default()
}

/// The one Private Link Service, once it satisfies `check`.
async fn the_pls(world: &World, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(what, 60, || async {
        let all = private_link_services(world).await;
        (all.len() == 1 && check(&all[0])).then(|| all[0].clone())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_service_gets_a_private_link_service_changed_and_deleted_with_it() {
    let world = World::start(
        "pls",
        azure_mock::Config {
            operation_duration: Duration::from_millis(50),
            ..azure_mock::Config::default()
        },
        (SUB, RG),
        &[("a", "10.224.16.4", "10.244.161.0/24")],
        json!({}),
    )
    .await;
    let svc = lb_service(
        "web",
        &world.class,
        80,
        json!({
            ann("azure-load-balancer-internal"): "true",
            ann("azure-pls-create"): "true",
            ann("azure-pls-visibility"): VISIBLE_TO,
            ann("azure-pls-fqdns"): "web.example.com",
        }),
    );
    world
        .services
        .create(&PostParams::default(), &svc)
        .await
        .expect("service");

    // The node subnet's policies forbid Private Link Services (Azure's default): refused,
    // saying which subnet and how to allow it, and nothing is made for it.
    let (_, reason, message) = eventually("refused while the subnet forbids it", 60, || async {
        service_condition(&world.services, "web")
            .await
            .filter(|(status, _, _)| status == "False")
    })
    .await;
    assert_eq!(reason, "ConflictingSettings");
    assert!(
        message.contains("aks-subnet") && message.contains("privateLinkServiceNetworkPolicies"),
        "{message}"
    );
    assert!(private_link_services(&world).await.is_empty());

    // The subnet's owner allows them: the next drift check serves the Service.
    let subnet_id = format!(
        "{}/subnets/aks-subnet",
        world.id("virtualNetworks", "aks-vnet")
    );
    let mut subnet = world.mock.get(&subnet_id).await.expect("subnet");
    subnet["properties"]["privateLinkServiceNetworkPolicies"] = json!("Disabled");
    world
        .mock
        .arm("PUT", &subnet_id, Some(subnet))
        .await
        .expect("allow Private Link Services");
    let address = eventually("web's address", 60, || ingress_ip(&world.services, "web")).await;
    let pls = the_pls(&world, "the Private Link Service", |p| {
        p["properties"]["alias"].is_string()
    })
    .await;
    let name = pls["name"].as_str().expect("name").to_string();
    // The Service's condition gives the alias consumers connect with.
    let alias = pls["properties"]["alias"]
        .as_str()
        .expect("alias")
        .to_string();
    eventually("the alias in the Service's condition", 30, || async {
        service_condition(&world.services, "web")
            .await
            .filter(|(status, _, message)| status == "True" && message.contains(&alias))
    })
    .await;
    assert!(name.starts_with("pls-aksnet-"), "{name}");
    let props = &pls["properties"];
    assert_eq!(props["visibility"]["subscriptions"], json!([VISIBLE_TO]));
    assert_eq!(props["fqdns"], json!(["web.example.com"]));
    assert_eq!(
        pls["tags"]["aksnet.io-service"],
        format!("{}/web", world.namespace)
    );
    let frontend = props["loadBalancerFrontendIpConfigurations"][0]["id"]
        .as_str()
        .expect("frontend")
        .to_ascii_lowercase();
    assert!(frontend.contains("/loadbalancers/kubernetes-internal/frontendipconfigurations/"));
    let ilb = world
        .mock
        .get(&world.id("loadBalancers", "kubernetes-internal"))
        .await
        .expect("internal LB");
    let frontend_ip =
        ilb["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"]
            .as_str()
            .expect("frontend address");
    assert_eq!(frontend_ip, address);

    // Changed: proxy protocol on and two IP configurations, in one write.
    world.mock.clear_journal().await.expect("clear");
    world
        .services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {
                ann("azure-pls-proxy-protocol"): "true",
                ann("azure-pls-ip-configuration-ip-address-count"): "2",
            }}})),
        )
        .await
        .expect("patch");
    the_pls(&world, "the change", |p| {
        p["properties"]["enableProxyProtocol"] == json!(true)
            && p["properties"]["ipConfigurations"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    let writes = world.mock.write_entries().await.expect("journal");
    assert_eq!(
        writes
            .iter()
            .map(|(m, p)| format!("{m} {}", p.rsplit('/').nth(1).unwrap_or_default()))
            .collect::<Vec<_>>(),
        ["PUT privateLinkServices"],
        "one write: {writes:#?}"
    );

    // Deleted: the Private Link Service goes before its frontend.
    world.mock.clear_journal().await.expect("clear");
    world
        .services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    eventually(
        "the Private Link Service and the frontend gone",
        60,
        || async {
            let lb: Value = world
                .mock
                .get(&world.id("loadBalancers", "kubernetes-internal"))
                .await
                .unwrap_or_default();
            let frontends = lb["properties"]["frontendIPConfigurations"]
                .as_array()
                .map_or(0, Vec::len);
            (private_link_services(&world).await.is_empty() && frontends == 0).then_some(())
        },
    )
    .await;
    // Nothing refused on the way: the frontend stays while the Private Link Service serves
    // it, and goes (with its load balancer) after it.
    let writes = world.mock.writes_by_caller().await.expect("journal");
    assert!(writes.iter().all(|w| w.status < 300), "{writes:#?}");
    let at = |method: &str, suffix: &str| {
        writes
            .iter()
            .position(|w| w.method == method && w.path.to_ascii_lowercase().contains(suffix))
            .unwrap_or_else(|| panic!("no {method} {suffix} in {writes:#?}"))
    };
    assert!(
        at("DELETE", "/privatelinkservices/") < at("DELETE", "/loadbalancers/kubernetes-internal"),
        "the Private Link Service before the frontend: {writes:#?}"
    );
    aksnet_e2e::scenario::gone(&world.services, "web", 60).await;
}
