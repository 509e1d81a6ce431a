//! Immutable fields, checked in Rust as the API server's transition rules check them.

use aksnet_crds::{AksNetworkSpec, validate::validate_update};

fn sample() -> AksNetworkSpec {
    load("overlay")
}

fn load(name: &str) -> AksNetworkSpec {
    let path = format!(
        "{}/../config/samples/aksnet_v1alpha1_aksnetwork_{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("read sample");
    let obj: serde_json::Value = serde_yaml::from_str(&text).expect("parse sample");
    serde_json::from_value(obj["spec"].clone()).expect("sample spec")
}

#[test]
fn an_unchanged_or_mutable_update_passes() {
    let old = sample();
    let mut new = old.clone();
    assert_eq!(validate_update(&old, &new), vec![]);
    new.ip_plan.max_nodes = Some(100);
    assert_eq!(validate_update(&old, &new), vec![]);
}

#[test]
fn immutable_fields_are_refused_by_name() {
    let old = sample();
    let mut new = old.clone();
    new.cluster_name = "other".into();
    new.azure.subscription_id = "00000000-0000-0000-0000-0000000000ff".into();
    new.azure.resource_group = "other-rg".into();
    new.load_balancer = Some(aksnet_crds::LoadBalancerSpec {
        public_name: "renamed".into(),
        internal_name: "kubernetes-internal".into(),
        ..Default::default()
    });
    let fields: Vec<String> = validate_update(&old, &new)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "spec.clusterName",
            "spec.azure.subscriptionId",
            "spec.azure.resourceGroup",
            "spec.loadBalancer.publicName"
        ]
    );
}

#[test]
fn kubenet_is_left_only_once_pod_routes_are_off() {
    let kubenet = load("kubenet");
    let mut overlay = kubenet.clone();
    overlay.network_model = aksnet_crds::NetworkModel::AzureCniOverlay;
    let fields: Vec<String> = validate_update(&kubenet, &overlay)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, ["spec.networkModel"]);

    let mut routes_off = kubenet.clone();
    if let Some(rt) = routes_off.route_table.as_mut() {
        rt.sync_node_routes = Some(false);
    }
    assert_eq!(validate_update(&kubenet, &routes_off), vec![]);
    let mut overlay = routes_off.clone();
    overlay.network_model = aksnet_crds::NetworkModel::AzureCniOverlay;
    assert_eq!(validate_update(&routes_off, &overlay), vec![]);
    // Into kubenet is no danger: pod routes are added, none removed.
    assert_eq!(validate_update(&overlay, &kubenet), vec![]);
}
