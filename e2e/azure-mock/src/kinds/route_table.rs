//! Route tables: route validation (prefix, next hop), and the routes-per-table limit.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use crate::error::{ArmError, ArmResult};
use crate::json;
use crate::normalize::{Put, check_limit};

const NEXT_HOPS: [&str; 5] = [
    "VirtualNetworkGateway",
    "VnetLocal",
    "Internet",
    "VirtualAppliance",
    "None",
];

/// Normalizes a route table.
pub fn normalize(put: &Put, props: &mut Map<String, Value>) -> ArmResult<()> {
    props.remove("subnets");
    let count = props
        .get("routes")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    check_limit(
        count,
        put.config.limits.routes_per_table,
        "RouteTableRouteLimitReached",
        |limit| {
            format!(
                "Route table {} has {count} routes, more than the limit of {limit}.",
                put.id
            )
        },
    )?;
    let bgp = props
        .get("disableBgpRoutePropagation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    props.insert("disableBgpRoutePropagation".into(), json!(bgp));
    let mut prefixes: Vec<(String, String)> = Vec::new();
    for (i, route) in props
        .get_mut("routes")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = route["id"].as_str().unwrap_or_default().to_string();
        let p = route["properties"]
            .as_object_mut()
            .expect("normalized child has properties");
        let prefix = self::route(&format!("properties.routes[{i}].properties"), &id, p)?;
        if let Some((_, other)) = prefixes
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(&prefix))
        {
            return Err(ArmError::bad_request(
                "RouteConflict",
                format!(
                    "Route {id} has the same address prefix {prefix} as route {other} in the same route table."
                ),
            ));
        }
        prefixes.push((prefix, id));
    }
    Ok(())
}

/// Validates one route's properties in place and returns its address prefix.
pub fn route(path: &str, id: &str, p: &mut Map<String, Value>) -> ArmResult<String> {
    let prefix = json::opt_str(p, "addressPrefix", path)?
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidRequestFormat",
                format!("Cannot parse the request. Property '{path}.addressPrefix' is required."),
            )
        })?
        .to_string();
    let is_tag = prefix.starts_with(|c: char| c.is_ascii_alphabetic())
        && prefix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.');
    let canonical = prefix.parse::<IpNet>().is_ok_and(|n| n.trunc() == n);
    if !is_tag && !canonical {
        return Err(ArmError::bad_request(
            "InvalidRouteAddressPrefix",
            format!(
                "Route {id} has an invalid AddressPrefix {prefix}. The prefix must be a CIDR with no bits set beyond the prefix length, or a service tag."
            ),
        ));
    }
    let hop = json::opt_str(p, "nextHopType", path)?.ok_or_else(|| {
        ArmError::bad_request(
            "InvalidRequestFormat",
            format!("Cannot parse the request. Property '{path}.nextHopType' is required."),
        )
    })?;
    let hop = NEXT_HOPS
        .iter()
        .find(|h| h.eq_ignore_ascii_case(hop))
        .ok_or_else(|| {
            ArmError::invalid_property(
                &format!("{path}.nextHopType"),
                format!("has an invalid value '{hop}'"),
            )
        })?
        .to_string();
    let next_ip = json::opt_str(p, "nextHopIpAddress", path)?.filter(|s| !s.is_empty());
    match (hop.as_str(), next_ip) {
        ("VirtualAppliance", None) => {
            return Err(ArmError::bad_request(
                "RouteNextHopIpAddressRequired",
                format!("Route {id} has next hop type VirtualAppliance and no nextHopIpAddress."),
            ));
        }
        ("VirtualAppliance", Some(ip)) if ip.parse::<IpAddr>().is_err() => {
            return Err(ArmError::bad_request(
                "InvalidNextHopIpAddress",
                format!("Route {id} has an invalid nextHopIpAddress {ip}."),
            ));
        }
        ("VirtualAppliance", Some(_)) => {}
        (_, Some(ip)) => {
            return Err(ArmError::bad_request(
                "NextHopIpAddressNotAllowed",
                format!(
                    "Route {id} has next hop type {hop}; nextHopIpAddress {ip} is only allowed with VirtualAppliance."
                ),
            ));
        }
        (_, None) => {}
    }
    p.insert("nextHopType".into(), json!(hop));
    Ok(prefix)
}
