//! Public IP addresses and prefixes: SKU and allocation rules, address allocation from the
//! documentation ranges (never routable), DNS labels, quota, and in-use checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::{Map, Value, json};

use super::nat_gateway::IpUsers;
use crate::error::{ArmError, ArmResult};
use crate::json::{self, id_ref, same_id};
use crate::normalize::Put;
use crate::store::Data;

/// Where public IPv4 prefixes come from: TEST-NET-2 (RFC 5737).
const IPV4_PREFIX_POOL: &str = "198.51.100.0/24";
/// Where public IPv6 addresses come from (RFC 3849).
const IPV6_POOL: &str = "2001:db8::/64";
/// Where public IPv6 prefixes come from (RFC 3849).
const IPV6_PREFIX_POOL: &str = "2001:db8:ffff::/112";

fn zones(body: &Value, out: &mut Map<String, Value>) -> ArmResult<()> {
    if let Some(obj) = body.as_object() {
        let zones = json::opt_strings(obj, "zones", "")?;
        if let Some(bad) = zones
            .iter()
            .find(|z| !["1", "2", "3"].contains(&z.as_str()))
        {
            return Err(ArmError::bad_request(
                "InvalidAvailabilityZone",
                format!(
                    "The zone(s) '{bad}' for resource is not supported. The supported zones for location are '1,2,3'."
                ),
            ));
        }
        if !zones.is_empty() {
            out.insert("zones".into(), json!(zones));
        }
    }
    Ok(())
}

/// Normalizes a public IP address.
pub fn normalize(
    put: &Put,
    body: &Value,
    props: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> ArmResult<()> {
    let sku = json::sku(body, &["Basic", "Standard", "StandardV2"], "Basic")?;
    let standard = sku["name"] != "Basic";
    zones(body, out)?;
    let version = json::enum_value(
        props,
        "publicIPAddressVersion",
        "properties",
        &["IPv4", "IPv6"],
        Some("IPv4"),
    )?;
    let default_method = if standard { "Static" } else { "Dynamic" };
    let method = json::enum_value(
        props,
        "publicIPAllocationMethod",
        "properties",
        &["Static", "Dynamic"],
        Some(default_method),
    )?;
    if standard && method != "Static" {
        return Err(ArmError::bad_request(
            "StandardSkuPublicIPAddressesMustBeStatic",
            format!(
                "Standard sku publicIp {} must be specified with publicIPAllocationMethod set to Static.",
                put.id
            ),
        ));
    }
    crate::normalize::idle_timeout(
        props,
        "properties",
        4..=30,
        "PublicIPIdleTimeoutIsOutOfRange",
        &format!("public IP {}", put.id),
    )?;
    let location = out["location"].as_str().unwrap_or_default().to_string();
    dns_settings(put, props, &location)?;
    let prefix = json::reference(props, "publicIPPrefix", "properties")?;
    let prefix_net = match &prefix {
        Some(pid) => {
            let p = put
                .data
                .get(pid)
                .ok_or_else(|| ArmError::missing_reference(pid, &put.id))?;
            Some(
                p["properties"]["ipPrefix"]
                    .as_str()
                    .and_then(|s| s.parse::<IpNet>().ok())
                    .ok_or_else(|| ArmError::missing_reference(pid, &put.id))?,
            )
        }
        None => None,
    };
    if put.existing.is_none() {
        let location = out["location"].as_str().unwrap_or_default();
        let count = count_in_region(put.data, &put.id, location);
        if count >= put.config.limits.public_ips_per_subscription {
            return Err(ArmError::bad_request(
                "PublicIPCountLimitReached",
                format!(
                    "Cannot create more than {} public IP addresses for this subscription in this region.",
                    put.config.limits.public_ips_per_subscription
                ),
            ));
        }
    }
    props.remove("ipConfiguration");
    props.remove("ipAddress");
    // The gateway's own list says which NAT gateway uses the IP.
    props.remove("natGateway");
    let kept = put.existing.and_then(|e| {
        let p = &e["properties"];
        let same_prefix = p["publicIPPrefix"]["id"]
            .as_str()
            .map(str::to_ascii_lowercase)
            == prefix.as_deref().map(str::to_ascii_lowercase);
        (p["publicIPAddressVersion"].as_str() == Some(version.as_str()) && same_prefix)
            .then(|| p["ipAddress"].clone())
    });
    match kept {
        Some(Value::String(ip)) => {
            props.insert("ipAddress".into(), json!(ip));
        }
        _ if method == "Static" => {
            let pools: Vec<IpNet> = match prefix_net {
                Some(p) => vec![p],
                None if version == "IPv6" => IPV6_POOL.parse().into_iter().collect(),
                None => put
                    .config
                    .public_ipv4_pools
                    .iter()
                    .copied()
                    .map(IpNet::V4)
                    .collect(),
            };
            let ip = allocate_address(put.data, &pools, prefix_net.is_some()).ok_or_else(|| {
                ArmError::bad_request(
                    "PublicIPAddressAllocationFailed",
                    format!("No free {version} address left for {}.", put.id),
                )
            })?;
            props.insert("ipAddress".into(), json!(ip.to_string()));
        }
        _ => {}
    }
    props.insert("publicIPAddressVersion".into(), json!(version));
    props.insert("publicIPAllocationMethod".into(), json!(method));
    props.entry("ipTags").or_insert(json!([]));
    out.insert("sku".into(), sku);
    Ok(())
}

fn dns_settings(put: &Put, props: &mut Map<String, Value>, location: &str) -> ArmResult<()> {
    let Some(Value::Object(dns)) = props.get_mut("dnsSettings") else {
        return Ok(());
    };
    let Some(label) =
        json::opt_str(dns, "domainNameLabel", "properties.dnsSettings")?.map(str::to_string)
    else {
        dns.remove("fqdn");
        return Ok(());
    };
    let valid = label.len() >= 3
        && label.len() <= 63
        && label.starts_with(|c: char| c.is_ascii_lowercase())
        && label.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && label
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !valid {
        return Err(ArmError::bad_request(
            "InvalidDomainNameLabel",
            format!(
                "The domain name label {label} is invalid. It must conform to the following regular expression: ^[a-z][a-z0-9-]{{1,61}}[a-z0-9]$."
            ),
        ));
    }
    let taken = put.data.of_type("publicIPAddresses").any(|r| {
        !same_id(r["id"].as_str().unwrap_or_default(), &put.id)
            && r["location"].as_str() == Some(location)
            && r["properties"]["dnsSettings"]["domainNameLabel"].as_str() == Some(label.as_str())
    });
    if taken {
        return Err(ArmError::bad_request(
            "DnsRecordInUse",
            format!(
                "DNS record {label}.{location}.cloudapp.azure.com is already used by another public IP."
            ),
        ));
    }
    dns.insert(
        "fqdn".into(),
        json!(format!("{label}.{location}.cloudapp.azure.com")),
    );
    Ok(())
}

/// Normalizes a public IP prefix.
pub fn normalize_prefix(
    put: &Put,
    body: &Value,
    props: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> ArmResult<()> {
    let sku = json::sku(body, &["Standard", "StandardV2"], "Standard")?;
    zones(body, out)?;
    let version = json::enum_value(
        props,
        "publicIPAddressVersion",
        "properties",
        &["IPv4", "IPv6"],
        Some("IPv4"),
    )?;
    let len = json::opt_int(props, "prefixLength", "properties")?.ok_or_else(|| {
        ArmError::bad_request(
            "InvalidRequestFormat",
            "Cannot parse the request. Property 'properties.prefixLength' is required.",
        )
    })?;
    let allowed = if version == "IPv4" {
        24..=31
    } else {
        112..=127
    };
    if !allowed.contains(&len) {
        return Err(ArmError::bad_request(
            "PublicIpPrefixLengthNotSupported",
            format!(
                "Prefix length {len} is not supported for {version} public IP prefixes; supported: {}..{}.",
                allowed.start(),
                allowed.end()
            ),
        ));
    }
    props.remove("publicIPAddresses");
    props.remove("natGateway");
    let kept = put
        .existing
        .and_then(|e| e["properties"]["ipPrefix"].as_str())
        .filter(|p| p.ends_with(&format!("/{len}")));
    let prefix = match kept {
        Some(p) => p.to_string(),
        None => allocate_prefix(put.data, &version, len as u8)
            .ok_or_else(|| {
                ArmError::bad_request(
                    "PublicIpPrefixAllocationFailed",
                    format!("No free /{len} {version} prefix left."),
                )
            })?
            .to_string(),
    };
    props.insert("ipPrefix".into(), json!(prefix));
    props.insert("prefixLength".into(), json!(len));
    props.insert("publicIPAddressVersion".into(), json!(version));
    out.insert("sku".into(), sku);
    Ok(())
}

/// Public IPs of the subscription of `id` in `location`: what the quota counts.
pub fn count_in_region(data: &Data, id: &str, location: &str) -> usize {
    let sub = subscription(id);
    data.of_type("publicIPAddresses")
        .filter(|r| subscription(r["id"].as_str().unwrap_or_default()) == sub)
        .filter(|r| {
            r["location"]
                .as_str()
                .is_some_and(|l| l.eq_ignore_ascii_case(location))
        })
        .count()
}

fn subscription(id: &str) -> String {
    id.split('/')
        .nth(2)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn used_addresses(data: &Data) -> std::collections::HashSet<IpAddr> {
    data.of_type("publicIPAddresses")
        .filter_map(|r| r["properties"]["ipAddress"].as_str()?.parse().ok())
        .collect()
}

/// The lowest free address of the pools, in order (`whole`: a prefix, every address of it).
fn allocate_address(data: &Data, pools: &[IpNet], whole: bool) -> Option<IpAddr> {
    let used = used_addresses(data);
    pools.iter().find_map(|pool| match *pool {
        IpNet::V4(net) => hosts_v4(net, whole)
            .map(IpAddr::V4)
            .find(|ip| !used.contains(ip)),
        IpNet::V6(net) => hosts_v6(net).map(IpAddr::V6).find(|ip| !used.contains(ip)),
    })
}

fn hosts_v4(net: Ipv4Net, whole: bool) -> impl Iterator<Item = Ipv4Addr> {
    // A prefix hands out every address; a pool skips its network and broadcast addresses.
    let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
    let (first, last) = if whole {
        (first, last)
    } else {
        (first + 1, last - 1)
    };
    (first..=last).map(Ipv4Addr::from)
}

fn hosts_v6(net: Ipv6Net) -> impl Iterator<Item = Ipv6Addr> {
    let first = u128::from(net.network());
    (1..=u128::from(u16::MAX)).map(move |i| Ipv6Addr::from(first + i))
}

fn allocate_prefix(data: &Data, version: &str, len: u8) -> Option<IpNet> {
    let used: Vec<IpNet> = data
        .of_type("publicIPPrefixes")
        .filter_map(|r| r["properties"]["ipPrefix"].as_str()?.parse().ok())
        .collect();
    let pool: IpNet = if version == "IPv6" {
        IPV6_PREFIX_POOL
    } else {
        IPV4_PREFIX_POOL
    }
    .parse()
    .ok()?;
    pool.subnets(len).ok()?.find(|candidate| {
        !used
            .iter()
            .any(|u| u.contains(candidate) || candidate.contains(u))
    })
}

/// `PublicIPAddressCannotBeDeleted` when a frontend still uses the IP.
pub fn in_use(data: &Data, pip_id: &str) -> Option<ArmError> {
    let user = super::nat_gateway::ip_users(data, pip_id)
        .into_iter()
        .next()?;
    Some(ArmError::bad_request(
        "PublicIPAddressCannotBeDeleted",
        format!(
            "Public IP address {pip_id} can not be deleted since it is still allocated to resource {user}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.  To learn how to do this, see aka.ms/deletepublicip."
        ),
    ))
}

/// `InUsePublicIpPrefixCannotBeDeleted` when an address still comes from the prefix.
pub fn prefix_in_use(data: &Data, prefix_id: &str) -> Option<ArmError> {
    let user = data
        .of_type("publicIPAddresses")
        .find(|p| {
            p["properties"]["publicIPPrefix"]["id"]
                .as_str()
                .is_some_and(|id| same_id(id, prefix_id))
        })
        .and_then(|p| p["id"].as_str().map(str::to_string))
        .or_else(|| {
            super::nat_gateway::gateways_using(data, "publicIpPrefixes", prefix_id)
                .into_iter()
                .next()
        })?;
    Some(ArmError::bad_request(
        "InUsePublicIpPrefixCannotBeDeleted",
        format!("Public IP prefix {prefix_id} cannot be deleted since it is in use by {user}."),
    ))
}

/// `ipConfiguration`: the frontend using the IP.
pub fn add_back_references(users: &IpUsers, pip_id: &str, props: &mut Value) {
    if let Some(user) = users.frontends(pip_id).first() {
        props["ipConfiguration"] = id_ref(user);
    }
}

/// `publicIPAddresses`: the IPs taken from the prefix.
pub fn add_prefix_back_references(data: &Data, prefix_id: &str, props: &mut Value) {
    let ips: Vec<Value> = data
        .of_type("publicIPAddresses")
        .filter(|p| {
            p["properties"]["publicIPPrefix"]["id"]
                .as_str()
                .is_some_and(|id| same_id(id, prefix_id))
        })
        .filter_map(|p| p["id"].as_str().map(id_ref))
        .collect();
    props["publicIPAddresses"] = Value::Array(ips);
}
