//! The schema's checks, in Rust: the operator re-validates every AksNetwork it reads, because an
//! older API server may lack the CEL IP library, and because objects may predate a rule.
//!
//! Each failure names the field path (as the API server would) and the reason.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::aksnetwork::*;
use crate::ipplan::ROUTES_PER_TABLE;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Path of the field, e.g. `spec.ipPlan.podCidr`.
    pub field: String,
    /// Why the value is refused.
    pub reason: String,
}

/// Ranges that AKS refuses for service, pod and VNet ranges.
pub const RESERVED_RANGES: [&str; 4] = [
    "169.254.0.0/16",
    "172.30.0.0/16",
    "172.31.0.0/16",
    "192.0.2.0/24",
];

/// Collects errors while walking the spec.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn check(&mut self, ok: bool, field: impl Into<String>, reason: impl Into<String>) {
        if !ok {
            self.push(field, reason);
        }
    }

    /// Parses a canonical IPv4 CIDR outside the reserved ranges, recording why not.
    fn cidr(&mut self, field: &str, value: &str) -> Option<Ipv4Net> {
        let Some(net) = parse_canonical_v4(value) else {
            self.push(field, format!("{value:?} {}", crate::rules::IPV4_CIDR_MSG));
            return None;
        };
        if overlaps_reserved(net) {
            self.push(field, format!("{value} {}", crate::rules::NOT_RESERVED_MSG));
        }
        Some(net)
    }
}

/// Validates a spec; empty when it is valid.
pub fn validate(spec: &AksNetworkSpec) -> Vec<FieldError> {
    let mut e = Errors::default();
    e.check(
        is_dns_label(&spec.cluster_name),
        "spec.clusterName",
        "must be a lowercase DNS label of 1-63 characters",
    );
    validate_azure(&mut e, &spec.azure);
    validate_ip_plan(&mut e, spec);
    if let Some(lb) = &spec.load_balancer {
        validate_load_balancer(&mut e, lb);
    }
    validate_public_ips(&mut e, &spec.public_ips);
    if let Some(nsg) = &spec.security_group {
        validate_security_group(&mut e, nsg);
    }
    validate_route_table(&mut e, spec);
    if let Some(interval) = spec.reconcile.as_ref().and_then(|r| r.drift_check_interval) {
        e.check(
            interval >= std::time::Duration::from_secs(30),
            "spec.reconcile.driftCheckInterval",
            "must be at least 30s",
        );
    }
    e.0
}

/// Validates an update: `validate(new)` plus the immutable fields and the network model's
/// transitions.
pub fn validate_update(old: &AksNetworkSpec, new: &AksNetworkSpec) -> Vec<FieldError> {
    let mut e = Errors(validate(new));
    let pod_routes_off = old
        .route_table
        .as_ref()
        .is_some_and(|rt| rt.sync_node_routes == Some(false));
    e.check(
        old.network_model == new.network_model
            || old.network_model != NetworkModel::Kubenet
            || pod_routes_off,
        "spec.networkModel",
        MODEL_TRANSITION_REASON,
    );
    let immutable = [
        ("spec.clusterName", &old.cluster_name, &new.cluster_name),
        (
            "spec.azure.subscriptionId",
            &old.azure.subscription_id,
            &new.azure.subscription_id,
        ),
        (
            "spec.azure.resourceGroup",
            &old.azure.resource_group,
            &new.azure.resource_group,
        ),
    ];
    for (field, before, after) in immutable {
        e.check(before == after, field, crate::rules::IMMUTABLE_MSG);
    }
    let (before, after) = (load_balancer_names(old), load_balancer_names(new));
    e.check(
        before.0 == after.0,
        "spec.loadBalancer.publicName",
        "is immutable: a renamed load balancer would be built while the old one still holds the Services' public IPs",
    );
    e.check(
        before.1 == after.1,
        "spec.loadBalancer.internalName",
        "is immutable: a renamed load balancer would be built while the old one still holds the Services' frontends",
    );
    e.0
}

fn validate_azure(e: &mut Errors, azure: &AzureCoordinates) {
    e.check(
        is_uuid(&azure.subscription_id),
        "spec.azure.subscriptionId",
        "must be a UUID",
    );
    e.check(
        is_resource_group(&azure.resource_group),
        "spec.azure.resourceGroup",
        RESOURCE_GROUP_REASON,
    );
    if let Some(rg) = &azure.vnet.resource_group {
        e.check(
            is_resource_group(rg),
            "spec.azure.vnet.resourceGroup",
            RESOURCE_GROUP_REASON,
        );
    }
    e.check(
        (2..=40).contains(&azure.location.len())
            && azure
                .location
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "spec.azure.location",
        "must be an Azure region name such as westeurope",
    );
    e.check(
        azure.vnet.name.len() >= 2
            && azure.vnet.name.len() <= 64
            && is_azure_name(&azure.vnet.name),
        "spec.azure.vnet.name",
        "must be a valid Azure VNet name (2-64 characters)",
    );
    e.check(
        is_azure_name(&azure.vnet.subnet_name),
        "spec.azure.vnet.subnetName",
        AZURE_NAME_REASON,
    );
    for (i, rg) in azure.public_ip_resource_groups.iter().enumerate() {
        e.check(
            is_resource_group(&rg.0),
            format!("spec.azure.publicIpResourceGroups[{i}]"),
            RESOURCE_GROUP_REASON,
        );
    }
    e.check(
        unique_any_case(azure.public_ip_resource_groups.iter().map(|g| g.0.as_str())),
        "spec.azure.publicIpResourceGroups",
        "resource groups must be unique up to case: Azure names are case-insensitive",
    );
}

fn validate_ip_plan(e: &mut Errors, spec: &AksNetworkSpec) {
    let plan = &spec.ip_plan;
    let model = spec.network_model;
    let vnets: Vec<Ipv4Net> = plan
        .vnet_cidrs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| e.cidr(&format!("spec.ipPlan.vnetCidrs[{i}]"), &c.0))
        .collect();
    e.check(
        !plan.vnet_cidrs.is_empty(),
        "spec.ipPlan.vnetCidrs",
        "must hold at least one range",
    );
    for (i, a) in vnets.iter().enumerate() {
        if vnets[i + 1..].iter().any(|b| overlaps(*a, *b)) {
            e.push(
                "spec.ipPlan.vnetCidrs",
                "vnetCidrs must not overlap each other",
            );
            break;
        }
    }
    let node = e.cidr("spec.ipPlan.nodeSubnetCidr", &plan.node_subnet_cidr);
    let pod = plan
        .pod_cidr
        .as_deref()
        .and_then(|c| e.cidr("spec.ipPlan.podCidr", c));
    let pod_subnet = plan
        .pod_subnet_cidr
        .as_deref()
        .and_then(|c| e.cidr("spec.ipPlan.podSubnetCidr", c));
    let service = e.cidr("spec.ipPlan.serviceCidr", &plan.service_cidr);

    for (field, net) in [
        ("spec.ipPlan.nodeSubnetCidr", node),
        ("spec.ipPlan.podSubnetCidr", pod_subnet),
    ] {
        e.check(
            net.is_none_or(|n| n.prefix_len() <= 29),
            field,
            crate::rules::AZURE_SUBNET_SIZE_MSG,
        );
    }
    if let Some(node) = node {
        e.check(
            vnets.iter().any(|v| v.contains(&node)),
            "spec.ipPlan.nodeSubnetCidr",
            "nodeSubnetCidr must lie inside one of vnetCidrs",
        );
    }
    if let Some(ps) = pod_subnet {
        e.check(
            vnets.iter().any(|v| v.contains(&ps)),
            "spec.ipPlan.podSubnetCidr",
            "podSubnetCidr must lie inside one of vnetCidrs",
        );
        e.check(
            node.is_none_or(|n| !overlaps(n, ps)),
            "spec.ipPlan.podSubnetCidr",
            "podSubnetCidr must not overlap nodeSubnetCidr",
        );
    }
    if let Some(p) = pod {
        e.check(
            p.prefix_len() <= 24,
            "spec.ipPlan.podCidr",
            "must be /24 or larger: each node takes a /24",
        );
        e.check(
            !vnets.iter().any(|v| overlaps(*v, p)),
            "spec.ipPlan.podCidr",
            "podCidr must not overlap vnetCidrs",
        );
    }
    if let Some(s) = service {
        e.check(
            s.prefix_len() > 12,
            "spec.ipPlan.serviceCidr",
            "must be smaller than /12",
        );
        e.check(
            !vnets.iter().any(|v| overlaps(*v, s)),
            "spec.ipPlan.serviceCidr",
            "serviceCidr must not overlap vnetCidrs",
        );
        e.check(
            pod.is_none_or(|p| !overlaps(p, s)),
            "spec.ipPlan.serviceCidr",
            "serviceCidr must not overlap podCidr",
        );
    }
    match plan.dns_service_ip.parse::<IpAddr>() {
        Ok(ip) if ip.to_string() == plan.dns_service_ip => {
            if let Some(s) = service {
                let usable = matches!(ip, IpAddr::V4(v4) if s.contains(&v4)
                    && u32::from(v4) > u32::from(s.network()) + 1
                    && v4 != s.broadcast());
                e.check(
                    usable,
                    "spec.ipPlan.dnsServiceIp",
                    crate::rules::DNS_SERVICE_IP_MSG,
                );
            }
        }
        _ => e.push("spec.ipPlan.dnsServiceIp", crate::rules::IP_ADDRESS_MSG),
    }

    match (model, plan.pod_cidr.is_some()) {
        (NetworkModel::AzureCni, true) => e.push(
            "spec.ipPlan.podCidr",
            "ipPlan.podCidr is forbidden for networkModel azureCni: pods take VNet addresses (use ipPlan.podSubnetCidr for a pod subnet)",
        ),
        (NetworkModel::AzureCni, false) | (_, true) => {}
        (_, false) => e.push(
            "spec.ipPlan.podCidr",
            "ipPlan.podCidr is required for networkModel kubenet, azureCniOverlay and azureCniCilium",
        ),
    }
    e.check(
        model == NetworkModel::AzureCni || plan.pod_subnet_cidr.is_none(),
        "spec.ipPlan.podSubnetCidr",
        "ipPlan.podSubnetCidr is only used by networkModel azureCni",
    );
    if let Some(p) = plan.max_pods_per_node {
        e.check(
            (10..=250).contains(&p),
            "spec.ipPlan.maxPodsPerNode",
            "must be within 10..250",
        );
    }
    if let Some(n) = plan.max_nodes {
        e.check(
            (1..=5000).contains(&n),
            "spec.ipPlan.maxNodes",
            "must be within 1..5000",
        );
        e.check(
            model != NetworkModel::Kubenet || u64::from(n) <= ROUTES_PER_TABLE,
            "spec.ipPlan.maxNodes",
            "ipPlan.maxNodes must be at most 400 with kubenet: a route table holds at most 400 routes, one per node",
        );
    }
}

fn validate_load_balancer(e: &mut Errors, lb: &LoadBalancerSpec) {
    for (field, name) in [
        ("spec.loadBalancer.publicName", &lb.public_name),
        ("spec.loadBalancer.internalName", &lb.internal_name),
    ] {
        e.check(is_azure_name(name), field, AZURE_NAME_REASON);
    }
    e.check(
        !lb.public_name.eq_ignore_ascii_case(&lb.internal_name),
        "spec.loadBalancer.internalName",
        "internalName must differ from publicName (Azure names are case-insensitive): one load balancer cannot be both",
    );
    e.check(
        (1..=20).contains(&lb.max_count),
        "spec.loadBalancer.maxCount",
        "must be within 1..20",
    );
    let mut seen: Vec<String> = vec![
        lb.public_name.to_ascii_lowercase(),
        lb.internal_name.to_ascii_lowercase(),
    ];
    for (i, p) in lb.profiles.iter().enumerate() {
        let field = format!("spec.loadBalancer.profiles[{i}]");
        e.check(
            is_azure_name(&p.name),
            format!("{field}.name"),
            AZURE_NAME_REASON,
        );
        let grown = p
            .name
            .rsplit_once('-')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        e.check(
            !grown,
            format!("{field}.name"),
            "must not end in -<number>: such names are those of grown load balancers",
        );
        let lower = p.name.to_ascii_lowercase();
        e.check(
            !seen.contains(&lower),
            "spec.loadBalancer.profiles",
            "must differ from publicName, internalName and the other profiles (Azure names are case-insensitive)",
        );
        seen.push(lower);
        e.check(
            (1..=20).contains(&p.max_count),
            format!("{field}.maxCount"),
            "must be within 1..20",
        );
        for (s, which) in [
            (&p.node_selector, "nodeSelector"),
            (&p.service_selector, "serviceSelector"),
            (&p.service_namespace_selector, "serviceNamespaceSelector"),
        ] {
            for (j, r) in s
                .iter()
                .flat_map(|s| s.match_expressions.iter())
                .enumerate()
            {
                let listed = matches!(
                    r.operator,
                    crate::SelectorOperator::In | crate::SelectorOperator::NotIn
                );
                e.check(
                    listed != r.values.is_empty(),
                    format!("{field}.{which}.matchExpressions[{j}]"),
                    "values must be given for In and NotIn, and only for them",
                );
            }
        }
    }
    if let Some(o) = &lb.outbound {
        e.check(
            (1..=100).contains(&o.managed_outbound_ip_count),
            "spec.loadBalancer.outbound.managedOutboundIpCount",
            "must be within 1..100",
        );
        if let Some(ports) = o.allocated_outbound_ports {
            e.check(
                ports <= 64000 && ports % 8 == 0,
                "spec.loadBalancer.outbound.allocatedOutboundPorts",
                "must be a multiple of 8 within 0..64000",
            );
        }
        e.check(
            (4..=120).contains(&o.idle_timeout_minutes),
            "spec.loadBalancer.outbound.idleTimeoutMinutes",
            "must be within 4..120",
        );
    }
    validate_nat_gateway(e, lb);
}

fn validate_nat_gateway(e: &mut Errors, lb: &LoadBalancerSpec) {
    let nat = lb.nat_gateway.as_ref();
    e.check(
        lb.outbound_type != OutboundType::UserAssignedNatGateway
            || nat.is_some_and(|n| n.id.is_some()),
        "spec.loadBalancer.natGateway.id",
        USER_NAT_GATEWAY_ID_MSG,
    );
    let Some(nat) = nat else {
        return;
    };
    e.check(
        (1..=16).contains(&nat.managed_outbound_ip_count),
        "spec.loadBalancer.natGateway.managedOutboundIpCount",
        "must be within 1..16 (Azure's limit of public IP addresses per NAT gateway)",
    );
    e.check(
        (4..=120).contains(&nat.idle_timeout_minutes),
        "spec.loadBalancer.natGateway.idleTimeoutMinutes",
        "must be within 4..120",
    );
    if let Some(id) = &nat.id {
        e.check(
            is_nat_gateway_id(id),
            "spec.loadBalancer.natGateway.id",
            "must be the ARM id of a NAT gateway: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/natGateways/<name>",
        );
    }
}

/// Whether `id` is the ARM id of a NAT gateway (the CRD's pattern).
fn is_nat_gateway_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    id.len() <= 512
        && parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case("Microsoft.Network")
        && parts[7].eq_ignore_ascii_case("natGateways")
        && [parts[2], parts[4], parts[8]].iter().all(|p| !p.is_empty())
}

fn validate_public_ips(e: &mut Errors, ips: &[PublicIpSpec]) {
    let mut seen = HashSet::new();
    for (i, ip) in ips.iter().enumerate() {
        let at = format!("spec.publicIps[{i}]");
        e.check(
            is_azure_name(&ip.name),
            format!("{at}.name"),
            AZURE_NAME_REASON,
        );
        e.check(
            !ip.name.to_ascii_lowercase().starts_with("aksnet-"),
            format!("{at}.name"),
            "names starting with aksnet- are kept for the public IPs aksnet names itself (outbound and Service IPs)",
        );
        unique_name(e, &mut seen, &ip.name, "spec.publicIps", &at);
        for (j, ns) in ip.allowed_namespaces.iter().flatten().enumerate() {
            e.check(
                is_dns_label(&ns.0),
                format!("{at}.allowedNamespaces[{j}]"),
                "must be a namespace name (a lowercase DNS label of 1-63 characters)",
            );
        }
        if let Some(label) = &ip.dns_label {
            e.check(
                is_dns_label(label)
                    && (3..=63).contains(&label.len())
                    && label.starts_with(|c: char| c.is_ascii_lowercase()),
                format!("{at}.dnsLabel"),
                "must be 3-63 lowercase letters, digits or '-', starting with a letter",
            );
        }
        e.check(
            ip.tags
                .keys()
                .all(|k| !k.to_ascii_lowercase().starts_with("aksnet.io")),
            format!("{at}.tags"),
            crate::rules::NO_RESERVED_TAG_KEYS_MSG,
        );
        e.check(
            ip.tags.keys().all(|k| is_azure_tag_key(k)),
            format!("{at}.tags"),
            crate::rules::AZURE_TAG_KEYS_MSG,
        );
    }
}

fn validate_security_group(e: &mut Errors, nsg: &SecurityGroupSpec) {
    e.check(
        is_azure_name(&nsg.name),
        "spec.securityGroup.name",
        AZURE_NAME_REASON,
    );
    let range = nsg.service_priority_range;
    let in_bounds = |p: u32| (100..=4096).contains(&p);
    e.check(
        in_bounds(range.start) && in_bounds(range.end) && range.start <= range.end,
        "spec.securityGroup.servicePriorityRange",
        "start and end must be within 100..4096 and start must not exceed end",
    );
    let mut names = HashSet::new();
    let mut slots = HashSet::new();
    for (i, r) in nsg.rules.iter().enumerate() {
        let at = format!("spec.securityGroup.rules[{i}]");
        e.check(
            is_azure_name(&r.name),
            format!("{at}.name"),
            AZURE_NAME_REASON,
        );
        e.check(
            !is_reserved_child_name(&r.name),
            format!("{at}.name"),
            crate::rules::NOT_RESERVED_CHILD_NAME_MSG,
        );
        unique_name(e, &mut names, &r.name, "spec.securityGroup.rules", &at);
        e.check(
            in_bounds(r.priority),
            format!("{at}.priority"),
            "must be within 100..4096",
        );
        e.check(
            slots.insert((r.priority, r.direction)),
            "spec.securityGroup.rules",
            "priority must be unique per direction",
        );
        e.check(
            r.priority < range.start || r.priority > range.end,
            "spec.securityGroup.rules",
            "rules must use priorities outside servicePriorityRange, which is left to service rules",
        );
        for (list, field, reason) in [
            (
                &r.source_address_prefixes,
                "sourceAddressPrefixes",
                crate::rules::SINGLE_TAG_SOURCES_MSG,
            ),
            (
                &r.destination_address_prefixes,
                "destinationAddressPrefixes",
                crate::rules::SINGLE_TAG_DESTINATIONS_MSG,
            ),
        ] {
            e.check(
                !list.is_empty(),
                format!("{at}.{field}"),
                "must not be empty",
            );
            e.check(
                list.len() == 1 || list.iter().all(|a| address_family(&a.0).is_some()),
                format!("{at}.{field}"),
                reason,
            );
            for (j, a) in list.iter().enumerate() {
                e.check(
                    is_nsg_address(&a.0),
                    format!("{at}.{field}[{j}]"),
                    crate::rules::NSG_ADDRESS_MSG,
                );
            }
        }
        let families: HashSet<bool> = r
            .source_address_prefixes
            .iter()
            .chain(&r.destination_address_prefixes)
            .filter_map(|a| address_family(&a.0))
            .collect();
        e.check(
            families.len() <= 1,
            format!("{at}.destinationAddressPrefixes"),
            crate::rules::ONE_FAMILY_MSG,
        );
        for (list, field) in [
            (&r.source_port_ranges, "sourcePortRanges"),
            (&r.destination_port_ranges, "destinationPortRanges"),
        ] {
            e.check(
                !list.is_empty(),
                format!("{at}.{field}"),
                "must not be empty",
            );
            e.check(
                list.len() == 1 || list.iter().all(|p| p.0 != "*"),
                format!("{at}.{field}"),
                crate::rules::STAR_ALONE_MSG,
            );
            for (j, p) in list.iter().enumerate() {
                e.check(
                    parse_port_range(&p.0).is_some(),
                    format!("{at}.{field}[{j}]"),
                    crate::rules::PORT_RANGE_MSG,
                );
            }
        }
    }
}

fn validate_route_table(e: &mut Errors, spec: &AksNetworkSpec) {
    let kubenet = spec.network_model == NetworkModel::Kubenet;
    let udr = spec
        .load_balancer
        .as_ref()
        .is_some_and(|lb| lb.outbound_type == OutboundType::UserDefinedRouting);
    let Some(rt) = &spec.route_table else {
        e.check(
            !kubenet,
            "spec.routeTable",
            "routeTable is required for networkModel kubenet: pod traffic is routed through it",
        );
        e.check(
            !udr,
            "spec.routeTable.routes",
            "loadBalancer.outboundType userDefinedRouting needs a routeTable.routes entry for 0.0.0.0/0 to a VirtualAppliance or VirtualNetworkGateway (AKS refuses 0.0.0.0/0 to Internet)",
        );
        return;
    };
    e.check(
        is_azure_name(&rt.name),
        "spec.routeTable.name",
        AZURE_NAME_REASON,
    );
    e.check(
        kubenet || rt.sync_node_routes != Some(true),
        "spec.routeTable.syncNodeRoutes",
        "routeTable.syncNodeRoutes only applies to networkModel kubenet",
    );
    let node_routes = if kubenet {
        spec.ip_plan.max_nodes.map_or(0, u64::from)
    } else {
        0
    };
    e.check(
        rt.routes.len() as u64 + node_routes <= ROUTES_PER_TABLE,
        "spec.routeTable.routes",
        "routeTable.routes plus one route per node (ipPlan.maxNodes) exceed the 400 routes of a route table",
    );
    let mut names = HashSet::new();
    let mut prefixes = HashSet::new();
    let pod_cidr = spec
        .ip_plan
        .pod_cidr
        .as_deref()
        .and_then(parse_canonical_v4)
        .filter(|_| kubenet);
    for (i, r) in rt.routes.iter().enumerate() {
        let at = format!("spec.routeTable.routes[{i}]");
        e.check(
            is_azure_name(&r.name),
            format!("{at}.name"),
            AZURE_NAME_REASON,
        );
        e.check(
            !is_reserved_child_name(&r.name),
            format!("{at}.name"),
            crate::rules::NOT_RESERVED_CHILD_NAME_MSG,
        );
        unique_name(e, &mut names, &r.name, "spec.routeTable.routes", &at);
        e.check(
            prefixes.insert(r.address_prefix.as_str()),
            "spec.routeTable.routes",
            "each addressPrefix may have one route only: Azure refuses two routes with one prefix",
        );
        let prefix = parse_canonical(&r.address_prefix);
        e.check(
            prefix.is_some(),
            format!("{at}.addressPrefix"),
            "must be a CIDR in canonical form (network address)",
        );
        if let (Some(IpNet::V4(route)), Some(pods)) = (prefix, pod_cidr) {
            e.check(
                !pods.contains(&route),
                "spec.routeTable.routes",
                "routeTable.routes must not lie inside ipPlan.podCidr with networkModel kubenet: aksnet routes each node's pod range there, and such a route would take a node's traffic",
            );
        }
        if let (Some(prefix), Some(hop)) = (
            prefix,
            r.next_hop_ip_address
                .as_deref()
                .and_then(|h| h.parse::<IpAddr>().ok()),
        ) {
            e.check(
                prefix.addr().is_ipv4() == hop.is_ipv4(),
                format!("{at}.nextHopIpAddress"),
                "nextHopIpAddress must be of the addressPrefix's IP family",
            );
        }
        let appliance = r.next_hop_type == NextHopType::VirtualAppliance;
        e.check(
            appliance == r.next_hop_ip_address.is_some(),
            format!("{at}.nextHopIpAddress"),
            "nextHopIpAddress is required for nextHopType VirtualAppliance and forbidden otherwise",
        );
        if let Some(ip) = &r.next_hop_ip_address {
            e.check(
                ip.parse::<IpAddr>().is_ok_and(|a| a.to_string() == *ip),
                format!("{at}.nextHopIpAddress"),
                crate::rules::IP_ADDRESS_MSG,
            );
        }
    }
    e.check(
        !udr || rt.routes.iter().any(|r| {
            r.address_prefix == "0.0.0.0/0"
                && matches!(
                    r.next_hop_type,
                    NextHopType::VirtualAppliance | NextHopType::VirtualNetworkGateway
                )
        }),
        "spec.routeTable.routes",
        "loadBalancer.outboundType userDefinedRouting needs a routeTable.routes entry for 0.0.0.0/0 to a VirtualAppliance or VirtualNetworkGateway (AKS refuses 0.0.0.0/0 to Internet)",
    );
}

/// The public and internal load balancer names, with their defaults.
fn load_balancer_names(spec: &AksNetworkSpec) -> (&str, &str) {
    spec.load_balancer
        .as_ref()
        .map_or(("kubernetes", "kubernetes-internal"), |lb| {
            (lb.public_name.as_str(), lb.internal_name.as_str())
        })
}

const RESOURCE_GROUP_REASON: &str =
    "must be 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'";

const MODEL_TRANSITION_REASON: &str = "networkModel can leave kubenet only once its pod routes are switched off: apply routeTable.syncNodeRoutes: false first (changing the model directly would remove every node's pod route at once)";

/// Whether a spec route or rule name takes a name aksnet gives its own children (see
/// [`crate::rules::NOT_RESERVED_CHILD_NAME`]).
pub fn is_reserved_child_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("pod-")
        || lower.starts_with("shared-")
        || lower.len() >= 32 && lower.bytes().take(32).all(|b| b.is_ascii_hexdigit())
}

/// Records `name` of the list item at `at` in `seen` (lower-cased): a name seen before, in any
/// case, is refused on the list (`list`, as the API server's CEL rule reports it) and on the
/// item (as its list-map check reports an exact repeat).
fn unique_name(e: &mut Errors, seen: &mut HashSet<String>, name: &str, list: &str, at: &str) {
    if !seen.insert(name.to_ascii_lowercase()) {
        e.push(list, crate::rules::UNIQUE_NAMES_ANY_CASE_MSG);
        e.push(at, format!("duplicate name {name:?}"));
    }
}

/// Whether the strings are unique when case is ignored.
fn unique_any_case<'a>(items: impl Iterator<Item = &'a str>) -> bool {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .all(|s| seen.insert(s.to_ascii_lowercase()))
}

/// The family of an IP or CIDR (`true` for IPv4); `None` for `*` and service tags.
fn address_family(s: &str) -> Option<bool> {
    s.parse::<IpAddr>()
        .map(|ip| ip.is_ipv4())
        .or_else(|_| s.parse::<IpNet>().map(|n| n.addr().is_ipv4()))
        .ok()
}

const AZURE_NAME_REASON: &str = "must be 1-80 characters: letters, digits, '.', '-' or '_', starting with a letter or digit and ending with a letter, digit or '_'";

/// Whether `s` is a valid Azure child-resource name (1-80 characters, see
/// [`crate::rules::AZURE_NAME_PATTERN`]).
pub fn is_azure_name(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_');
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 80
                && first.is_ascii_alphanumeric()
                && (last.is_ascii_alphanumeric() || *last == b'_')
                && b.iter().all(inner)
        }
        _ => false,
    }
}

/// Whether Azure takes `k` as a tag key (see [`crate::rules::AZURE_TAG_KEYS`]): 1-512
/// characters, not blank, none of `<>%&\?/` or a control character.
pub fn is_azure_tag_key(k: &str) -> bool {
    k.chars().count() <= 512
        && k.chars().any(|c| !c.is_whitespace())
        && !k
            .chars()
            .any(|c| c.is_control() || matches!(c, '<' | '>' | '%' | '&' | '\\' | '?' | '/'))
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok_end = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    b.len() <= 63
        && ok_end(b.first())
        && ok_end(b.last())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Whether `s` is a GUID (8-4-4-4-12 hex digits), as Azure subscription ids are.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn is_resource_group(s: &str) -> bool {
    let ok = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'(' | b')');
    (1..=90).contains(&s.len()) && s.bytes().all(ok) && !s.ends_with('.')
}

fn is_nsg_address(s: &str) -> bool {
    s == "*" || s.parse::<IpAddr>().is_ok() || s.parse::<IpNet>().is_ok() || is_service_tag(s)
}

/// A service tag: letters and digits, starting with a letter, with an optional `.region` part.
fn is_service_tag(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let head = parts.next().unwrap_or_default();
    let head_ok = head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head.bytes().all(|c| c.is_ascii_alphanumeric());
    let tail_ok = parts
        .next()
        .is_none_or(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric()));
    head_ok && tail_ok
}

/// Parses `*` (all ports), `N` or `N-M` into an inclusive range.
pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    if s == "*" {
        return Some((0, u16::MAX));
    }
    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
    let parse = |p: &str| {
        (!p.is_empty() && p.len() <= 5 && p.bytes().all(|c| c.is_ascii_digit()))
            .then(|| p.parse::<u16>().ok())
            .flatten()
    };
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    (lo <= hi).then_some((lo, hi))
}

/// Parses a CIDR of either family that has no host bits set.
pub fn parse_canonical(s: &str) -> Option<IpNet> {
    let net: IpNet = s.parse().ok()?;
    (net.trunc() == net && net.to_string() == s).then_some(net)
}

/// Parses an IPv4 CIDR that has no host bits set.
pub fn parse_canonical_v4(s: &str) -> Option<Ipv4Net> {
    match parse_canonical(s)? {
        IpNet::V4(n) => Some(n),
        IpNet::V6(_) => None,
    }
}

/// Whether two ranges share an address (for prefixes: one contains the other).
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b) || b.contains(&a)
}

fn overlaps_reserved(net: Ipv4Net) -> bool {
    RESERVED_RANGES
        .iter()
        .filter_map(|r| r.parse::<Ipv4Net>().ok())
        .any(|r| overlaps(r, net))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("*"), Some((0, 65535)));
        assert_eq!(parse_port_range("443"), Some((443, 443)));
        assert_eq!(parse_port_range("8000-8080"), Some((8000, 8080)));
        for bad in ["", "-1", "80-", "80-70", "65536", "1-2-3", "+80", "080000"] {
            assert_eq!(parse_port_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn azure_names() {
        for good in ["a", "allow-https", "rule_1", "x.y_", &"r".repeat(80)] {
            assert!(is_azure_name(good), "{good:?}");
        }
        for bad in ["", "-a", "a-", "a.", "_a", "a b", &"r".repeat(81)] {
            assert!(!is_azure_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn nsg_addresses() {
        for good in [
            "*",
            "10.0.0.1",
            "10.0.0.0/8",
            "2001:db8::/32",
            "Internet",
            "Storage.WestUS",
            "AzureCloud.eastus2",
        ] {
            assert!(is_nsg_address(good), "{good:?}");
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "Storage.",
            "1Internet",
            "Storage.West.US",
            "a b",
        ] {
            assert!(!is_nsg_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn dns_service_ip_is_a_usable_service_address() {
        let sample = |dns: &str, cidr: &str| {
            let mut spec: AksNetworkSpec = serde_json::from_value(serde_json::json!({
                "clusterName": "c",
                "azure": {"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg",
                          "location": "westeurope", "vnet": {"name": "vnet", "subnetName": "s"}},
                "networkModel": "azureCniOverlay",
                "ipPlan": {"vnetCidrs": ["10.224.0.0/12"], "nodeSubnetCidr": "10.224.0.0/16", "podCidr": "10.244.0.0/16"}
            }))
            .expect("spec");
            spec.ip_plan.service_cidr = cidr.into();
            spec.ip_plan.dns_service_ip = dns.into();
            validate(&spec)
                .iter()
                .any(|e| e.field == "spec.ipPlan.dnsServiceIp")
        };
        for (dns, cidr, refused) in [
            ("10.0.0.0", "10.0.0.0/24", true),
            ("10.0.0.1", "10.0.0.0/24", true),
            ("10.0.0.2", "10.0.0.0/24", false),
            ("10.0.0.254", "10.0.0.0/24", false),
            ("10.0.0.255", "10.0.0.0/24", true),
            ("10.0.1.0", "10.0.0.0/24", true),
            ("10.0.255.255", "10.0.0.0/16", true),
            ("10.0.0.10", "10.0.0.0/16", false),
        ] {
            assert_eq!(sample(dns, cidr), refused, "{dns} in {cidr}");
        }
    }

    #[test]
    fn canonical_cidrs() {
        assert!(parse_canonical_v4("10.0.0.0/16").is_some());
        assert!(parse_canonical_v4("10.0.0.1/16").is_none(), "host bits");
        assert!(parse_canonical_v4("2001:db8::/32").is_none(), "IPv6");
        assert!(parse_canonical("2001:db8::/32").is_some());
        assert!(parse_canonical("10.0.0.0").is_none(), "no prefix length");
    }

    proptest! {
        #[test]
        fn overlap_is_symmetric_and_matches_address_sharing(a in any::<u32>(), la in 0u8..=32, b in any::<u32>(), lb in 0u8..=32) {
            let x = Ipv4Net::new(a.into(), la).unwrap().trunc();
            let y = Ipv4Net::new(b.into(), lb).unwrap().trunc();
            prop_assert_eq!(overlaps(x, y), overlaps(y, x));
            let shares = x.network() <= y.broadcast() && y.network() <= x.broadcast();
            prop_assert_eq!(overlaps(x, y), shares);
        }

        #[test]
        fn any_port_range_string_round_trips(lo in 0u16.., hi in 0u16..) {
            let s = format!("{lo}-{hi}");
            prop_assert_eq!(parse_port_range(&s), (lo <= hi).then_some((lo, hi)));
        }
    }
}
