//! Nodes: backend pool membership and kubenet pod routes.

use k8s_openapi::api::core::v1::Node;

use crate::model::{BackendAddress, Family, Route};
use crate::naming::{Ownership, fit};

/// Label that keeps a node out of load balancer backend pools (unless its value is `false`).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
/// Control-plane nodes are never backends.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// A node's name and InternalIP addresses.
fn internal_ips(node: &Node) -> Vec<std::net::IpAddr> {
    let Some(addresses) = node.status.as_ref().and_then(|s| s.addresses.as_ref()) else {
        return Vec::new();
    };
    addresses
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.parse().ok())
        .collect()
}

/// Whether the node belongs in the backend pools.
pub fn is_backend(node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    let excluded = labels.is_some_and(|l| {
        l.get(EXCLUDE_LABEL)
            .is_some_and(|v| !v.eq_ignore_ascii_case("false"))
            || l.contains_key(CONTROL_PLANE_LABEL)
    });
    !excluded && node.metadata.deletion_timestamp.is_none()
}

/// Backend pool addresses of one family, sorted by name.
pub fn pool_addresses(nodes: &[&Node], family: Family, vnet_id: &str) -> Vec<BackendAddress> {
    let mut out: Vec<BackendAddress> = nodes
        .iter()
        .filter(|n| is_backend(n))
        .filter_map(|n| {
            let ip = internal_ips(n)
                .into_iter()
                .find(|ip| Family::of(ip) == family)?;
            Some(BackendAddress {
                name: fit(n.metadata.name.as_deref().unwrap_or_default()),
                ip: ip.to_string(),
                vnet_id: vnet_id.to_string(),
            })
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// A kubenet route per pod CIDR of the node, to its InternalIP of the same family.
/// Returns the routes and, for a CIDR without a matching address, the reason.
pub fn pod_routes(node: &Node, ownership: &Ownership) -> (Vec<Route>, Vec<String>) {
    let spec = node.spec.as_ref();
    let mut cidrs: Vec<String> = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if cidrs.is_empty() {
        cidrs.extend(spec.and_then(|s| s.pod_cidr.clone()));
    }
    let ips = internal_ips(node);
    let (mut routes, mut problems) = (Vec::new(), Vec::new());
    for cidr in cidrs {
        let Ok(net) = cidr.parse::<ipnet::IpNet>() else {
            problems.push(format!("podCIDR {cidr:?} is not a CIDR"));
            continue;
        };
        let family = Family::of(&net.addr());
        match ips.iter().find(|ip| Family::of(ip) == family) {
            Some(ip) => routes.push(Route {
                name: ownership.pod_route(&net.trunc().to_string()),
                address_prefix: net.trunc().to_string(),
                next_hop_type: "VirtualAppliance".into(),
                next_hop_ip: Some(ip.to_string()),
            }),
            None => problems.push(format!(
                "no {} InternalIP for podCIDR {cidr}",
                family.azure_name()
            )),
        }
    }
    (routes, problems)
}
