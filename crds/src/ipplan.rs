//! IP-plan arithmetic: usable addresses, node and pod capacity per network model.
//!
//! One implementation, used by [`crate::validate`] and by the operator's status.

use ipnet::Ipv4Net;

use crate::aksnetwork::{IpPlan, IpPlanSummary, NetworkModel};

/// Addresses Azure keeps in every subnet: the network address, the next three, and the last.
pub const AZURE_RESERVED_PER_SUBNET: u64 = 5;
/// Routes a route table may hold, hence kubenet's node limit.
pub const ROUTES_PER_TABLE: u64 = 400;
/// Nodes per cluster with overlay pod networking.
pub const OVERLAY_MAX_NODES: u64 = 5000;
/// Prefix length of the pod range each node takes from the pod CIDR (kubenet and overlay).
pub const POD_CIDR_PER_NODE_PREFIX: u8 = 24;

/// Addresses of a subnet that Azure lets resources use (its size less the 5 it reserves).
pub fn usable_addresses(subnet: Ipv4Net) -> u64 {
    subnet_size(subnet).saturating_sub(AZURE_RESERVED_PER_SUBNET)
}

/// All addresses in the range.
pub fn subnet_size(net: Ipv4Net) -> u64 {
    1u64 << (32 - u32::from(net.prefix_len()))
}

/// How many per-node /24 ranges a pod CIDR holds (0 when it is smaller than a /24).
pub fn per_node_pod_ranges(pod_cidr: Ipv4Net) -> u64 {
    match POD_CIDR_PER_NODE_PREFIX.checked_sub(pod_cidr.prefix_len()) {
        Some(bits) => 1u64 << bits,
        None => 0,
    }
}

/// Pods per node when `ipPlan.maxPodsPerNode` is unset, as AKS defaults them.
pub fn default_max_pods(model: NetworkModel, has_pod_subnet: bool) -> u32 {
    match model {
        NetworkModel::Kubenet => 110,
        NetworkModel::AzureCni if has_pod_subnet => 110,
        NetworkModel::AzureCni => 30,
        NetworkModel::AzureCniOverlay | NetworkModel::AzureCniCilium => 250,
    }
}

/// The parsed ranges of a plan that capacity depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRanges {
    /// The node subnet.
    pub node_subnet: Ipv4Net,
    /// The overlay/kubenet pod range, if any.
    pub pod_cidr: Option<Ipv4Net>,
    /// The dedicated pod subnet, if any.
    pub pod_subnet: Option<Ipv4Net>,
}

/// Node and pod capacity of a plan under a network model.
pub fn capacity(model: NetworkModel, ranges: PlanRanges, max_pods: u32) -> (u64, u64) {
    let pods = u64::from(max_pods);
    let node_ips = usable_addresses(ranges.node_subnet);
    let nodes = match model {
        NetworkModel::Kubenet => node_ips
            .min(ranges.pod_cidr.map_or(0, per_node_pod_ranges))
            .min(ROUTES_PER_TABLE),
        NetworkModel::AzureCniOverlay | NetworkModel::AzureCniCilium => node_ips
            .min(ranges.pod_cidr.map_or(0, per_node_pod_ranges))
            .min(OVERLAY_MAX_NODES),
        NetworkModel::AzureCni => match ranges.pod_subnet {
            // Nodes take node-subnet addresses; pods take pod-subnet addresses.
            Some(pod_subnet) => node_ips.min(usable_addresses(pod_subnet) / pods.max(1)),
            // Each node takes one address for itself and one per pod, all from the node subnet.
            None => node_ips / (pods + 1),
        },
    };
    (nodes, nodes * pods)
}

/// Computes the capacity summary of a plan whose ranges parse; `None` otherwise (the
/// validation errors explain why).
pub fn summarize(model: NetworkModel, plan: &IpPlan) -> Option<IpPlanSummary> {
    let ranges = PlanRanges {
        node_subnet: plan.node_subnet_cidr.parse().ok()?,
        pod_cidr: plan.pod_cidr.as_deref().map(str::parse).transpose().ok()?,
        pod_subnet: plan
            .pod_subnet_cidr
            .as_deref()
            .map(str::parse)
            .transpose()
            .ok()?,
    };
    let max_pods = plan
        .max_pods_per_node
        .unwrap_or_else(|| default_max_pods(model, ranges.pod_subnet.is_some()));
    let (node_capacity, pod_capacity) = capacity(model, ranges, max_pods);
    let mut warnings = Vec::new();
    if let Some(max_nodes) = plan.max_nodes {
        // An upgrade surges one node above the pool size.
        let needed = u64::from(max_nodes) + 1;
        if needed > node_capacity {
            warnings.push(format!(
                "ipPlan.maxNodes {max_nodes} (+1 for upgrade surge) exceeds the plan's node capacity {node_capacity}"
            ));
        }
    }
    if node_capacity == 0 {
        warnings.push("the plan leaves room for no node".into());
    }
    Some(IpPlanSummary {
        node_subnet_usable_addresses: usable_addresses(ranges.node_subnet),
        pod_subnet_usable_addresses: ranges.pod_subnet.map(usable_addresses),
        max_pods_per_node: max_pods,
        node_capacity,
        pod_capacity,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn azure_keeps_five_addresses_per_subnet() {
        assert_eq!(usable_addresses(net("10.0.0.0/24")), 251);
        assert_eq!(usable_addresses(net("10.0.0.0/29")), 3);
        assert_eq!(usable_addresses(net("10.0.0.0/30")), 0, "too small to use");
        assert_eq!(usable_addresses(net("10.0.0.0/8")), 16_777_211);
    }

    #[test]
    fn capacity_per_model_matches_the_aks_sizing_examples() {
        let ranges = |node, pod: Option<&str>, pod_subnet: Option<&str>| PlanRanges {
            node_subnet: net(node),
            pod_cidr: pod.map(net),
            pod_subnet: pod_subnet.map(net),
        };
        // kubenet: a /24 subnet holds 251 nodes and 27,610 pods at 110 per node (AKS docs).
        assert_eq!(
            capacity(
                NetworkModel::Kubenet,
                ranges("10.240.0.0/24", Some("10.244.0.0/16"), None),
                110
            ),
            (251, 27_610)
        );
        // kubenet is capped by the route table.
        assert_eq!(
            capacity(
                NetworkModel::Kubenet,
                ranges("10.240.0.0/16", Some("10.244.0.0/14"), None),
                110
            )
            .0,
            400
        );
        // Azure CNI node subnet: 50 nodes at 30 pods need 51 + 51*30 = 1,581 addresses, a /21.
        let (nodes, _) = capacity(
            NetworkModel::AzureCni,
            ranges("10.240.0.0/21", None, None),
            30,
        );
        assert!(nodes >= 51, "a /21 fits 51 nodes at 30 pods, got {nodes}");
        assert_eq!(nodes, (2048 - 5) / 31);
        // Overlay: a /16 pod CIDR gives 256 per-node /24s.
        assert_eq!(
            capacity(
                NetworkModel::AzureCniOverlay,
                ranges("10.240.0.0/16", Some("10.244.0.0/16"), None),
                250
            ),
            (256, 64_000)
        );
        // Pod subnet: the smaller of node addresses and pod addresses / pods per node.
        assert_eq!(
            capacity(
                NetworkModel::AzureCni,
                ranges("10.240.0.0/24", None, Some("10.241.0.0/20")),
                110
            ),
            ((4096 - 5) / 110, (4091 / 110) * 110)
        );
    }

    #[test]
    fn default_max_pods_follow_aks() {
        assert_eq!(default_max_pods(NetworkModel::Kubenet, false), 110);
        assert_eq!(default_max_pods(NetworkModel::AzureCni, false), 30);
        assert_eq!(default_max_pods(NetworkModel::AzureCni, true), 110);
        assert_eq!(default_max_pods(NetworkModel::AzureCniOverlay, false), 250);
        assert_eq!(default_max_pods(NetworkModel::AzureCniCilium, false), 250);
    }

    fn model() -> impl Strategy<Value = NetworkModel> {
        prop_oneof![
            Just(NetworkModel::Kubenet),
            Just(NetworkModel::AzureCni),
            Just(NetworkModel::AzureCniOverlay),
            Just(NetworkModel::AzureCniCilium),
        ]
    }

    fn ipv4net() -> impl Strategy<Value = Ipv4Net> {
        (any::<u32>(), 8u8..=30)
            .prop_map(|(addr, len)| Ipv4Net::new(addr.into(), len).unwrap().trunc())
    }

    proptest! {
        #[test]
        fn usable_never_exceeds_size(n in ipv4net()) {
            prop_assert!(usable_addresses(n) <= subnet_size(n));
            prop_assert_eq!(usable_addresses(n) + 5, subnet_size(n).max(5));
        }

        #[test]
        fn capacity_fits_the_address_space(
            m in model(), node in ipv4net(), pod in ipv4net(), pod_subnet in ipv4net(), max_pods in 10u32..=250,
        ) {
            let ranges = PlanRanges { node_subnet: node, pod_cidr: Some(pod), pod_subnet: Some(pod_subnet) };
            let (nodes, pods) = capacity(m, ranges, max_pods);
            prop_assert!(nodes <= usable_addresses(node), "each node needs a node-subnet address");
            prop_assert_eq!(pods, nodes * u64::from(max_pods));
            match m {
                NetworkModel::Kubenet => prop_assert!(nodes <= ROUTES_PER_TABLE),
                NetworkModel::AzureCni => prop_assert!(pods <= usable_addresses(pod_subnet)),
                _ => prop_assert!(nodes <= per_node_pod_ranges(pod) && nodes <= OVERLAY_MAX_NODES),
            }
        }

        #[test]
        fn a_bigger_node_subnet_never_holds_fewer_nodes(
            m in model(), addr in any::<u32>(), len in 9u8..=29, max_pods in 10u32..=250,
        ) {
            let small = Ipv4Net::new(addr.into(), len).unwrap().trunc();
            let big = small.supernet().unwrap();
            let pod = Some(net("100.64.0.0/10"));
            let at = |n| capacity(m, PlanRanges { node_subnet: n, pod_cidr: pod, pod_subnet: None }, max_pods).0;
            prop_assert!(at(big) >= at(small));
        }
    }
}
