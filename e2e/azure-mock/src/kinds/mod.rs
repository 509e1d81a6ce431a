//! Type-specific rules of each resource kind, applied after the generic normalization.

mod load_balancer;
mod nat_gateway;
mod private_link_service;
mod public_ip;
mod route_table;
mod security_group;
mod virtual_network;

pub use load_balancer::frontend_users;
pub use nat_gateway::gateways_using;
pub use security_group::default_security_rules;

use serde_json::{Map, Value};

use crate::error::ArmResult;
use crate::normalize::Put;

/// Applies the kind's rules: validates `props` and fills in what the server computes; may add
/// top-level fields (`sku`, `zones`) to `out`.
pub fn normalize(
    put: &Put,
    body: &Value,
    props: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> ArmResult<()> {
    match put.kind.segment {
        "publicIPAddresses" => public_ip::normalize(put, body, props, out),
        "publicIPPrefixes" => public_ip::normalize_prefix(put, body, props, out),
        "loadBalancers" => load_balancer::normalize(put, body, props, out),
        "networkSecurityGroups" => security_group::normalize(put, props),
        "routeTables" => route_table::normalize(put, props),
        "virtualNetworks" => virtual_network::normalize(put, props),
        "natGateways" => nat_gateway::normalize(put, body, props, out),
        "privateLinkServices" => private_link_service::normalize(put, props),
        _ => Ok(()),
    }
}

/// Why a resource may not be deleted now (it is in use), if so.
pub fn delete_blocker(
    data: &crate::store::Data,
    resource: &Value,
) -> Option<crate::error::ArmError> {
    let id = resource["id"].as_str().unwrap_or_default();
    let arm_type = resource["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match arm_type.rsplit('/').next().unwrap_or_default() {
        "publicipaddresses" => public_ip::in_use(data, id),
        "publicipprefixes" => public_ip::prefix_in_use(data, id),
        "networksecuritygroups" => virtual_network::subnet_user(
            data,
            id,
            "networkSecurityGroup",
            "InUseNetworkSecurityGroupCannotBeDeleted",
            "Network security group",
        ),
        "routetables" => virtual_network::subnet_user(
            data,
            id,
            "routeTable",
            "InUseRouteTableCannotBeDeleted",
            "Route table",
        ),
        "virtualnetworks" => virtual_network::vnet_in_use(data, resource),
        "loadbalancers" => private_link_service::load_balancer_in_use(data, resource),
        // Unconfirmed code, named after the NSG and route table ones.
        "natgateways" => virtual_network::subnet_user(
            data,
            id,
            "natGateway",
            "InUseNatGatewayCannotBeDeleted",
            "NAT gateway",
        ),
        _ => None,
    }
}

/// Why a child may not be deleted now, if so.
pub fn child_delete_blocker(
    data: &crate::store::Data,
    child_id: &str,
) -> Option<crate::error::ArmError> {
    virtual_network::subnet_in_use(data, child_id)
}

/// What ARM computes on read: the references other resources hold to one. Made once per
/// read, so a list page finds the users of its public IPs in one pass over the load balancers.
pub struct BackReferences<'a> {
    data: &'a crate::store::Data,
    ip_users: std::cell::OnceCell<nat_gateway::IpUsers>,
}

impl<'a> BackReferences<'a> {
    /// Back-references into `data`.
    pub fn new(data: &'a crate::store::Data) -> Self {
        Self {
            data,
            ip_users: std::cell::OnceCell::new(),
        }
    }

    /// Adds the references other resources hold to `resource` (ARM computes them on read).
    pub fn add(&self, resource: &mut Value) {
        let data = self.data;
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        let arm_type = resource["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if arm_type.ends_with("/privatelinkservices") {
            private_link_service::add_alias(resource);
        }
        let props = &mut resource["properties"];
        match arm_type.rsplit('/').next().unwrap_or_default() {
            "publicipaddresses" => {
                let users = self
                    .ip_users
                    .get_or_init(|| nat_gateway::IpUsers::new(data));
                public_ip::add_back_references(users, &id, props);
                nat_gateway::add_gateway_reference(data, &id, "publicIpAddresses", props);
            }
            "publicipprefixes" => {
                public_ip::add_prefix_back_references(data, &id, props);
                nat_gateway::add_gateway_reference(data, &id, "publicIpPrefixes", props);
            }
            "natgateways" => virtual_network::add_subnet_references(data, &id, "natGateway", props),
            "networksecuritygroups" => {
                virtual_network::add_subnet_references(data, &id, "networkSecurityGroup", props)
            }
            "routetables" => virtual_network::add_subnet_references(data, &id, "routeTable", props),
            _ => {}
        }
    }
}
