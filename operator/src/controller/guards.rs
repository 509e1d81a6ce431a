//! Network-level guards, checked before anything is planned or written: each is a reason to
//! stop (`Stalled`) with nothing written, until a person acts.
//!
//! - `OwnershipConflict`: another AksNetwork, older, manages the same Azure network (same
//!   subscription, resource group and cluster name, so the same ownership prefix). Two writers
//!   would each delete what the other made.
//! - `NotFound`: the NSG or route table the spec names does not exist and the spec does not ask
//!   aksnet to create it (a misspelt name would otherwise make a new one that protects nothing).
//! - `ModelTransitionBlocked`: the network model is no longer kubenet, kubenet pod routes are
//!   still in the route table, and the spec did not switch them off (`syncNodeRoutes: false`):
//!   planning on would remove every node's route at once.

use aksnet_crds::{AksNetwork, AksNetworkSpec, NetworkModel};
use kube::ResourceExt;

use crate::model::{Observed, name_key};
use crate::naming::Ownership;

/// Why the network stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    /// CamelCase reason.
    pub reason: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// The ownership prefix of a spec.
fn ownership(spec: &AksNetworkSpec) -> Ownership {
    Ownership::new(
        &spec.azure.subscription_id,
        &spec.azure.resource_group,
        &spec.cluster_name,
    )
}

/// Another AksNetwork, older (creation time, then name), that manages the same Azure network.
pub fn ownership_conflict<'n>(
    network: &AksNetwork,
    others: impl IntoIterator<Item = &'n AksNetwork>,
) -> Option<Stall> {
    let prefix = ownership(&network.spec);
    let order = |n: &AksNetwork| (n.creation_timestamp().map(|t| t.0), n.name_any());
    let mine = order(network);
    let older = others
        .into_iter()
        .filter(|o| o.name_any() != network.name_any())
        .filter(|o| ownership(&o.spec) == prefix)
        .filter(|o| order(o) < mine)
        .min_by_key(|o| order(o))?;
    Some(Stall {
        reason: "OwnershipConflict",
        message: format!(
            "AksNetwork {} already manages subscription {}, resource group {} and cluster {}; this one writes nothing while it exists",
            older.name_any(),
            network.spec.azure.subscription_id,
            network.spec.azure.resource_group,
            network.spec.cluster_name
        ),
    })
}

/// The NSG or route table the spec names, missing in Azure without `createIfMissing`.
pub fn missing_resources(spec: &AksNetworkSpec, observed: &Observed) -> Option<Stall> {
    let rg = &spec.azure.resource_group;
    let missing = |kind: &str, field: &str, name: &str| Stall {
        reason: "NotFound",
        message: format!(
            "{kind} {name} (spec.{field}.name) does not exist in resource group {rg}; create it, fix the name, or set spec.{field}.createIfMissing: true"
        ),
    };
    if let Some(nsg) = &spec.security_group
        && !nsg.create_if_missing
        && observed.security_group.is_none()
    {
        return Some(missing(
            "network security group",
            "securityGroup",
            &nsg.name,
        ));
    }
    if let Some(rt) = &spec.route_table
        && !rt.create_if_missing
        && observed.route_table.is_none()
    {
        return Some(missing("route table", "routeTable", &rt.name));
    }
    None
}

/// Kubenet pod routes left in the route table of a network that is no longer kubenet, while
/// the spec has not switched them off.
pub fn model_transition(spec: &AksNetworkSpec, observed: &Observed) -> Option<Stall> {
    let routes_off = spec
        .route_table
        .as_ref()
        .is_some_and(|rt| rt.sync_node_routes == Some(false));
    if spec.network_model == NetworkModel::Kubenet || routes_off {
        return None;
    }
    let ownership = ownership(spec);
    let pod_route = name_key(&format!("{}-pod-", ownership.prefix()));
    let count = observed
        .route_table
        .iter()
        .flat_map(|t| t.routes.iter())
        .filter(|r| name_key(&r.name).starts_with(&pod_route))
        .count();
    (count > 0).then(|| Stall {
        reason: "ModelTransitionBlocked",
        message: format!(
            "networkModel is {:?} but {count} kubenet pod route(s) are still in the route table; set routeTable.syncNodeRoutes: false to remove them (each node loses its pod route) or go back to kubenet",
            spec.network_model
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Route, RouteTable, SecurityGroup};

    fn network(name: &str, created: &str, cluster: &str) -> AksNetwork {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "aksnet.io/v1alpha1", "kind": "AksNetwork",
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {
                "clusterName": cluster,
                "azure": {"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg",
                          "location": "westeurope", "vnet": {"name": "v", "subnetName": "s"}},
                "networkModel": "kubenet",
                "ipPlan": {"vnetCidrs": ["10.224.0.0/12"], "nodeSubnetCidr": "10.224.0.0/16", "podCidr": "10.244.0.0/16"},
                "securityGroup": {"name": "nsg"},
                "routeTable": {"name": "rt"}
            }
        }))
        .expect("network")
    }

    #[test]
    fn the_younger_of_two_networks_for_one_azure_network_stalls() {
        let first = network("first", "2026-01-01T00:00:00Z", "c");
        let second = network("second", "2026-01-02T00:00:00Z", "c");
        let elsewhere = network("elsewhere", "2025-01-01T00:00:00Z", "other");
        let all = [first.clone(), second.clone(), elsewhere];
        assert_eq!(ownership_conflict(&first, &all), None);
        let stall = ownership_conflict(&second, &all).expect("conflict");
        assert_eq!(stall.reason, "OwnershipConflict");
        assert!(
            stall.message.contains("AksNetwork first"),
            "{}",
            stall.message
        );
    }

    #[test]
    fn a_named_nsg_or_route_table_must_exist_unless_aksnet_may_create_it() {
        let mut spec = network("n", "2026-01-01T00:00:00Z", "c").spec;
        let mut observed = Observed::default();
        let stall = missing_resources(&spec, &observed).expect("missing NSG");
        assert_eq!(stall.reason, "NotFound");
        assert!(stall.message.contains("nsg (spec.securityGroup.name)"));
        observed.security_group = Some(SecurityGroup::default());
        let stall = missing_resources(&spec, &observed).expect("missing route table");
        assert!(stall.message.contains("rt (spec.routeTable.name)"));
        if let Some(rt) = spec.route_table.as_mut() {
            rt.create_if_missing = true;
        }
        assert_eq!(missing_resources(&spec, &observed), None);
    }

    #[test]
    fn leaving_kubenet_with_pod_routes_on_stalls() {
        let mut spec = network("n", "2026-01-01T00:00:00Z", "c").spec;
        let o = ownership(&spec);
        let observed = Observed {
            route_table: Some(RouteTable {
                routes: vec![Route {
                    name: o.pod_route("10.244.1.0/24"),
                    address_prefix: "10.244.1.0/24".into(),
                    next_hop_type: "VirtualAppliance".into(),
                    next_hop_ip: Some("10.224.0.4".into()),
                }],
                ..RouteTable::default()
            }),
            ..Observed::default()
        };
        assert_eq!(model_transition(&spec, &observed), None, "kubenet");
        spec.network_model = NetworkModel::AzureCniOverlay;
        let stall = model_transition(&spec, &observed).expect("blocked");
        assert_eq!(stall.reason, "ModelTransitionBlocked");
        if let Some(rt) = spec.route_table.as_mut() {
            rt.sync_node_routes = Some(false);
        }
        assert_eq!(
            model_transition(&spec, &observed),
            None,
            "routes switched off"
        );
    }
}
