//! Virtual networks and subnets: address space, subnet ranges, NSG, route table and NAT gateway
//! references, the subnets back-reference of those, and in-use checks.

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use crate::api_version::SUBNETS_KEPT_SINCE;
use crate::error::{ArmError, ArmResult};
use crate::json::{self, id_ref};
use crate::normalize::Put;
use crate::store::{Data, children};

use super::load_balancer::frontend_users;

/// Normalizes a virtual network.
pub fn normalize(put: &Put, props: &mut Map<String, Value>) -> ArmResult<()> {
    let space = props
        .get("addressSpace")
        .and_then(|a| a.get("addressPrefixes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ranges: Vec<IpNet> = Vec::new();
    for (i, p) in space.iter().enumerate() {
        let net = p.as_str().and_then(|s| s.parse::<IpNet>().ok()).filter(|n| n.trunc() == *n).ok_or_else(|| {
            ArmError::bad_request("InvalidAddressPrefixFormat", format!("Address prefix {p} of properties.addressSpace.addressPrefixes[{i}] has an invalid format."))
        })?;
        ranges.push(net);
    }
    if ranges.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            "Cannot parse the request. Property 'properties.addressSpace.addressPrefixes' is required.",
        ));
    }
    // From 2023-09-01 on, a PUT that leaves `subnets` out keeps the existing subnets.
    if !props.contains_key("subnets")
        && put.api_version >= SUBNETS_KEPT_SINCE
        && let Some(existing) = put.existing
    {
        props.insert("subnets".into(), json!(children(existing, "subnets")));
    }
    let mut seen: Vec<(IpNet, String)> = Vec::new();
    for subnet in props
        .get_mut("subnets")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let id = subnet["id"].as_str().unwrap_or_default().to_string();
        let p = subnet["properties"]
            .as_object_mut()
            .expect("normalized child has properties");
        let net = subnet_props(put, &id, p)?;
        if !ranges.iter().any(|r| r.contains(&net)) {
            return Err(ArmError::bad_request(
                "NetcfgSubnetRangeOutsideVnet",
                format!(
                    "Subnet '{id}' is not valid because its IP address range is outside the IP address range of virtual network '{}'.",
                    put.id
                ),
            ));
        }
        if let Some((_, other)) = seen
            .iter()
            .find(|(n, _)| n.contains(&net) || net.contains(n))
        {
            return Err(ArmError::bad_request(
                "NetcfgSubnetRangesOverlap",
                format!(
                    "Subnet '{id}' is not valid because its IP address range overlaps with that of an existing subnet '{other}' in the virtual network."
                ),
            ));
        }
        seen.push((net, id));
    }
    Ok(())
}

fn subnet_props(put: &Put, id: &str, p: &mut Map<String, Value>) -> ArmResult<IpNet> {
    p.remove("ipConfigurations");
    // Azure's default: a Private Link Service needs them disabled explicitly.
    p.entry("privateLinkServiceNetworkPolicies")
        .or_insert(json!("Enabled"));
    let prefix = json::opt_str(p, "addressPrefix", "properties")?
        .map(str::to_string)
        .or_else(|| {
            json::opt_strings(p, "addressPrefixes", "properties")
                .ok()?
                .into_iter()
                .next()
        })
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidRequestFormat",
                format!("Cannot parse the request. Subnet {id} needs addressPrefix."),
            )
        })?;
    let net = prefix
        .parse::<IpNet>()
        .ok()
        .filter(|n| n.trunc() == *n)
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidCIDRNotation",
                format!(
                    "The address prefix {prefix} in resource {id} has an invalid CIDR notation."
                ),
            )
        })?;
    for (key, segment) in [
        ("networkSecurityGroup", "networkSecurityGroups"),
        ("routeTable", "routeTables"),
        ("natGateway", "natGateways"),
    ] {
        if let Some(target) = json::reference(p, key, "properties")? {
            let found = put.data.get(&target).is_some_and(|r| {
                r["type"].as_str().is_some_and(|t| {
                    t.to_ascii_lowercase()
                        .ends_with(&segment.to_ascii_lowercase())
                })
            });
            if !found {
                return Err(ArmError::missing_reference(&target, id));
            }
        }
    }
    Ok(net)
}

/// Subnets (ids) whose `properties.<key>` references `target`.
fn subnets_using(data: &Data, key: &str, target: &str) -> Vec<String> {
    crate::store::referrers(data, "virtualNetworks", &["subnets"], key, target)
}

/// An `InUse…CannotBeDeleted` error when a subnet still uses the NSG or route table.
pub fn subnet_user(data: &Data, id: &str, key: &str, code: &str, what: &str) -> Option<ArmError> {
    let subnets = subnets_using(data, key, id);
    (!subnets.is_empty()).then(|| {
        ArmError::bad_request(code, format!("{what} {id} cannot be deleted because it is in use by the following resources: {}. In order to delete the {}, remove the association with the resource(s).", subnets.join(", "), what.to_ascii_lowercase()))
    })
}

/// `InUseSubnetCannotBeDeleted` when a load balancer frontend uses the subnet.
pub fn subnet_in_use(data: &Data, subnet_id: &str) -> Option<ArmError> {
    let users = frontend_users(data, subnet_id);
    (!users.is_empty()).then(|| {
        ArmError::bad_request("InUseSubnetCannotBeDeleted", format!("Subnet {} is in use by {} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.", subnet_id.rsplit('/').next().unwrap_or_default(), users.join(", ")))
    })
}

/// Whether any subnet of the VNet is in use.
pub fn vnet_in_use(data: &Data, vnet: &Value) -> Option<ArmError> {
    children(vnet, "subnets")
        .iter()
        .find_map(|s| subnet_in_use(data, s["id"].as_str().unwrap_or_default()))
}

/// `subnets`: the subnets that use this NSG or route table.
pub fn add_subnet_references(data: &Data, id: &str, key: &str, props: &mut Value) {
    let subnets: Vec<Value> = subnets_using(data, key, id)
        .iter()
        .map(|s| id_ref(s))
        .collect();
    if !subnets.is_empty() {
        props["subnets"] = Value::Array(subnets);
    }
}
