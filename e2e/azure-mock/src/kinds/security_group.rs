//! Network security groups: rule validation (priority, direction, access, protocol, addresses,
//! ports), `SecurityRuleConflict`, the rule limit, and the default rules Azure adds.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use crate::error::{ArmError, ArmResult};
use crate::json;
use crate::normalize::{Put, check_limit};

/// Normalizes a network security group.
pub fn normalize(put: &Put, props: &mut Map<String, Value>) -> ArmResult<()> {
    props.remove("subnets");
    props.remove("networkInterfaces");
    let count = props
        .get("securityRules")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    check_limit(
        count,
        put.config.limits.rules_per_nsg,
        "SecurityRuleCountLimitReached",
        |limit| format!("A security group cannot have more than {limit} security rules."),
    )?;
    addresses_and_ports(put, props)?;
    let mut seen: Vec<(i64, String, String)> = Vec::new();
    for (i, rule) in props
        .get_mut("securityRules")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = rule["id"].as_str().unwrap_or_default().to_string();
        let name = rule["name"].as_str().unwrap_or_default().to_string();
        let p = rule["properties"]
            .as_object_mut()
            .expect("normalized child has properties");
        let (priority, direction) =
            security_rule(&format!("properties.securityRules[{i}].properties"), &id, p)?;
        if let Some((_, _, other)) = seen
            .iter()
            .find(|(pr, d, _)| *pr == priority && *d == direction)
        {
            return Err(ArmError::bad_request(
                "SecurityRuleConflict",
                format!(
                    "Security rule {name} conflicts with rule {other}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules."
                ),
            ));
        }
        seen.push((priority, direction, name));
    }
    props.insert(
        "defaultSecurityRules".into(),
        default_security_rules(&put.id),
    );
    Ok(())
}

/// Refuses an NSG whose rules together name more addresses or ports of one kind than Azure
/// allows (`MaxSecurityRuleAddressesOrPortsPerSecurityGroup`).
fn addresses_and_ports(put: &Put, props: &Map<String, Value>) -> ArmResult<()> {
    let rules = props
        .get("securityRules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (single, plural, kind) in [
        (
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
            "SourceAddressPrefixes",
        ),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            "DestinationAddressPrefixes",
        ),
        ("sourcePortRange", "sourcePortRanges", "SourcePortRanges"),
        (
            "destinationPortRange",
            "destinationPortRanges",
            "DestinationPortRanges",
        ),
    ] {
        let count: usize = rules
            .iter()
            .map(|r| {
                let p = &r["properties"];
                usize::from(p[single].is_string()) + p[plural].as_array().map_or(0, Vec::len)
            })
            .sum();
        check_limit(
            count,
            put.config.limits.addresses_or_ports_per_nsg,
            "SecurityRuleAddressesOrPortsPerSecurityGroupLimitReached",
            |limit| {
                format!(
                    "Network security group {} has {count} {kind}. A security group cannot have more than {limit} {kind} as per the limit MaxSecurityRuleAddressesOrPortsPerSecurityGroup.",
                    put.id
                )
            },
        )?;
    }
    Ok(())
}

/// Validates one rule's properties in place and returns its (priority, direction).
pub fn security_rule(path: &str, id: &str, p: &mut Map<String, Value>) -> ArmResult<(i64, String)> {
    let protocol = json::enum_value(
        p,
        "protocol",
        path,
        &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"],
        None,
    )?;
    let access = json::enum_value(p, "access", path, &["Allow", "Deny"], None)?;
    let direction = json::enum_value(p, "direction", path, &["Inbound", "Outbound"], None)?;
    let priority = json::opt_int(p, "priority", path)?.ok_or_else(|| {
        ArmError::bad_request(
            "SecurityRuleInvalidPriority",
            format!("Security rule {id} has no priority. Priority must be between 100 and 4096."),
        )
    })?;
    if !(100..=4096).contains(&priority) {
        return Err(ArmError::bad_request(
            "SecurityRuleInvalidPriority",
            format!(
                "Security rule {id} has invalid Priority {priority}. Value provided: {priority} Allowed range 100-4096."
            ),
        ));
    }
    // The address families the rule's prefixes name, on both sides.
    let mut families = std::collections::BTreeSet::new();
    for side in ["source", "destination"] {
        let single = json::opt_str(p, &format!("{side}AddressPrefix"), path)?.map(str::to_string);
        let many = json::opt_strings(p, &format!("{side}AddressPrefixes"), path)?;
        let groups = json::opt_array(p, &format!("{side}ApplicationSecurityGroups"), path)?.len();
        let all: Vec<String> = single
            .clone()
            .into_iter()
            .chain(many.iter().cloned())
            .collect();
        if (single.is_some() && !many.is_empty()) || (all.is_empty() && groups == 0) {
            return Err(ArmError::bad_request(
                "SecurityRuleInvalidAddressPrefix",
                format!(
                    "Security rule {id} must specify exactly one of {side}AddressPrefix or {side}AddressPrefixes."
                ),
            ));
        }
        if let Some(bad) = all.iter().find(|a| !valid_address(a)) {
            return Err(ArmError::bad_request(
                "SecurityRuleInvalidAddressPrefix",
                format!("Security rule {id} has invalid Address prefix. Value provided: {bad}"),
            ));
        }
        // The plural list takes addresses and prefixes only: a service tag or `*` goes alone
        // in the singular member.
        if let Some(tag) = many.iter().find(|a| family(a).is_none()) {
            let member = if side == "source" {
                "SourceAddressPrefixes"
            } else {
                "DestinationAddressPrefixes"
            };
            return Err(ArmError::bad_request(
                "SecurityRuleParameterContainsUnsupportedValue",
                format!(
                    "Security rule parameter {member} for rule with Id {id} cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: {tag}."
                ),
            ));
        }
        families.extend(all.iter().filter_map(|a| family(a)));
        let single_port = json::opt_str(p, &format!("{side}PortRange"), path)?.map(str::to_string);
        let ports = json::opt_strings(p, &format!("{side}PortRanges"), path)?;
        if single_port.is_some() && !ports.is_empty() || single_port.is_none() && ports.is_empty() {
            return Err(ArmError::bad_request(
                "SecurityRuleInvalidPortRange",
                format!(
                    "Security rule {id} must specify exactly one of {side}PortRange or {side}PortRanges."
                ),
            ));
        }
        if let Some(bad) = single_port
            .iter()
            .chain(ports.iter())
            .find(|r| !valid_port_range(r))
        {
            return Err(ArmError::bad_request(
                "SecurityRuleInvalidPortRange",
                format!(
                    "Security rule {id} has invalid Port range. Value provided: {bad}. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535."
                ),
            ));
        }
        let key = format!("{side}AddressPrefixes");
        p.entry(key).or_insert(json!([]));
        p.entry(format!("{side}PortRanges")).or_insert(json!([]));
    }
    if families.len() > 1 {
        // Unconfirmed code: Azure refuses a rule mixing IPv4 and IPv6 prefixes (documented for
        // dual-stack NSGs), but no public report quotes its error code.
        return Err(ArmError::bad_request(
            "SecurityRuleInvalidAddressPrefix",
            format!(
                "Security rule {id} mixes IPv4 and IPv6 address prefixes; a rule takes prefixes of one IP version."
            ),
        ));
    }
    p.insert("protocol".into(), json!(protocol));
    p.insert("access".into(), json!(access));
    p.insert("direction".into(), json!(direction));
    Ok((priority, direction))
}

/// The IP version of an address or prefix (`None` for `*` and service tags).
fn family(a: &str) -> Option<bool> {
    a.parse::<IpAddr>()
        .map(|ip| ip.is_ipv4())
        .or_else(|_| a.parse::<IpNet>().map(|n| matches!(n, IpNet::V4(_))))
        .ok()
}

fn valid_address(a: &str) -> bool {
    a == "*"
        || a.parse::<IpAddr>().is_ok()
        || a.parse::<IpNet>().is_ok()
        || (a.starts_with(|c: char| c.is_ascii_alphabetic())
            && a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-'))
}

fn valid_port_range(r: &str) -> bool {
    if r == "*" {
        return true;
    }
    let (lo, hi) = r.split_once('-').unwrap_or((r, r));
    match (lo.parse::<u16>(), hi.parse::<u16>()) {
        (Ok(lo), Ok(hi)) => lo <= hi,
        _ => false,
    }
}

/// The six rules Azure puts in every NSG.
pub fn default_security_rules(nsg_id: &str) -> Value {
    let rule = |name: &str, priority: u32, direction: &str, access: &str, src: &str, dst: &str| {
        json!({
            "name": name,
            "id": format!("{nsg_id}/defaultSecurityRules/{name}"),
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
            "properties": {
                "provisioningState": "Succeeded",
                "description": format!("Default rule {name}"),
                "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                "sourceAddressPrefix": src, "destinationAddressPrefix": dst,
                "sourceAddressPrefixes": [], "destinationAddressPrefixes": [],
                "sourcePortRanges": [], "destinationPortRanges": [],
                "access": access, "priority": priority, "direction": direction,
            }
        })
    };
    json!([
        rule(
            "AllowVnetInBound",
            65000,
            "Inbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork"
        ),
        rule(
            "AllowAzureLoadBalancerInBound",
            65001,
            "Inbound",
            "Allow",
            "AzureLoadBalancer",
            "*"
        ),
        rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
        rule(
            "AllowVnetOutBound",
            65000,
            "Outbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork"
        ),
        rule(
            "AllowInternetOutBound",
            65001,
            "Outbound",
            "Allow",
            "*",
            "Internet"
        ),
        rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
    ])
}
