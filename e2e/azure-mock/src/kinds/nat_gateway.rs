//! NAT gateways: Standard SKU, idle timeout, public IPs and prefixes (static Standard IPv4, at
//! most 16 addresses in all, none another gateway or a load balancer frontend uses), the
//! `subnets` back-reference from the subnets that name the gateway, and the in-use checks.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::error::{ArmError, ArmResult};
use crate::json::{self, id_ref, same_id};
use crate::normalize::{Put, idle_timeout};
use crate::store::Data;

/// Addresses a NAT gateway takes, from its public IPs and prefixes together.
pub const MAX_ADDRESSES: u64 = 16;

/// Normalizes a NAT gateway.
pub fn normalize(
    put: &Put,
    body: &Value,
    props: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> ArmResult<()> {
    props.remove("subnets");
    let sku = body["sku"]["name"].as_str().unwrap_or("Standard");
    if !sku.eq_ignore_ascii_case("Standard") {
        // Unconfirmed code: the 2024-03-01 definitions know only the Standard SKU.
        return Err(ArmError::bad_request(
            "InvalidNatGatewaySku",
            format!(
                "NAT gateway {} has SKU {sku}; only Standard is supported.",
                put.id
            ),
        ));
    }
    out.insert("sku".into(), json!({"name": "Standard"}));
    // Unconfirmed code: Azure documents 4 to 120 minutes.
    idle_timeout(
        props,
        "properties",
        4..=120,
        "NatGatewayIdleTimeoutOutOfRange",
        &format!("NAT gateway {}", put.id),
    )?;
    let mut addresses = 0u64;
    for (i, target) in json::reference_list(props, "publicIpAddresses")?
        .iter()
        .enumerate()
    {
        let ip = referenced(put, target, "publicIPAddresses", i)?;
        let standard = ip["sku"]["name"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("Standard"));
        let v4 = ip["properties"]["publicIPAddressVersion"]
            .as_str()
            .is_none_or(|v| v.eq_ignore_ascii_case("IPv4"));
        if !standard || !v4 {
            // Unconfirmed code.
            return Err(ArmError::bad_request(
                "NatGatewayCannotUsePublicIpAddress",
                format!(
                    "NAT gateway {} can use only Standard SKU IPv4 public IP addresses; {target} is not one.",
                    put.id
                ),
            ));
        }
        if let Some(user) = ip_users(put.data, target)
            .into_iter()
            .find(|u| !same_id(u, &put.id))
        {
            return Err(ArmError::bad_request(
                "PublicIPAddressInUse",
                format!(
                    "Resource {target} is referenced by {user} and cannot be used by {}.",
                    put.id
                ),
            ));
        }
        addresses += 1;
    }
    for (i, target) in json::reference_list(props, "publicIpPrefixes")?
        .iter()
        .enumerate()
    {
        let prefix = referenced(put, target, "publicIPPrefixes", i)?;
        let length = prefix["properties"]["prefixLength"].as_u64().unwrap_or(28);
        addresses += 1u64 << 32u64.saturating_sub(length).min(32);
    }
    if addresses > MAX_ADDRESSES {
        // Unconfirmed code: Azure documents 16 addresses per NAT gateway.
        return Err(ArmError::bad_request(
            "NatGatewayPublicIpAddressesLimitReached",
            format!(
                "NAT gateway {} has {addresses} public IP addresses from its IPs and prefixes, more than the limit of {MAX_ADDRESSES}.",
                put.id
            ),
        ));
    }
    Ok(())
}

/// The resource of type `segment` the `i`-th reference of that list names, or
/// `InvalidResourceReference`.
fn referenced<'d>(put: &Put<'d>, target: &str, segment: &str, i: usize) -> ArmResult<&'d Value> {
    let arm_type = format!("Microsoft.Network/{segment}");
    put.data
        .get(target)
        .filter(|r| {
            r["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(&arm_type))
        })
        .ok_or_else(|| ArmError::missing_reference(target, &format!("{}/{segment}/{i}", put.id)))
}

/// The NAT gateways (ids) that list `target` under `properties.<key>`.
pub fn gateways_using(data: &Data, key: &str, target: &str) -> Vec<String> {
    data.of_type("natGateways")
        .filter(|g| {
            g["properties"][key]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["id"].as_str().is_some_and(|id| same_id(id, target)))
        })
        .filter_map(|g| g["id"].as_str().map(str::to_string))
        .collect()
}

/// Whatever uses a public IP: load balancer frontends and NAT gateways.
pub fn ip_users(data: &Data, pip_id: &str) -> Vec<String> {
    IpUsers::new(data).of(pip_id).cloned().collect()
}

/// Whatever uses each public IP (load balancer frontends, NAT gateways), read in one pass:
/// a load balancer's write checks each of its frontends' public IPs, and a list page shows
/// each IP's frontend, which looking up over every frontend of every load balancer for each
/// IP made quadratic.
#[derive(Default)]
pub struct IpUsers {
    /// Lower-case public IP id → the frontends using it.
    frontends: HashMap<String, Vec<String>>,
    /// Lower-case public IP id → the NAT gateways using it.
    gateways: HashMap<String, Vec<String>>,
}

impl IpUsers {
    /// The users of every public IP in `data`.
    pub fn new(data: &Data) -> Self {
        let mut users = Self::default();
        let add = |map: &mut HashMap<String, Vec<String>>, target: &Value, user: &Value| {
            if let (Some(target), Some(user)) = (target["id"].as_str(), user.as_str()) {
                let key = target.to_ascii_lowercase();
                map.entry(key).or_default().push(user.to_string());
            }
        };
        for lb in data.of_type("loadBalancers") {
            for fe in crate::store::children(lb, "frontendIPConfigurations") {
                add(
                    &mut users.frontends,
                    &fe["properties"]["publicIPAddress"],
                    &fe["id"],
                );
            }
        }
        for gateway in data.of_type("natGateways") {
            let ips = gateway["properties"]["publicIpAddresses"].as_array();
            for ip in ips.into_iter().flatten() {
                add(&mut users.gateways, ip, &gateway["id"]);
            }
        }
        users
    }

    /// The frontends using the public IP `pip_id`.
    pub fn frontends(&self, pip_id: &str) -> &[String] {
        self.frontends
            .get(&pip_id.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The users of the public IP `pip_id`: its frontends, then its NAT gateways.
    pub fn of(&self, pip_id: &str) -> impl Iterator<Item = &String> {
        let key = pip_id.to_ascii_lowercase();
        let gateways = self.gateways.get(&key).map_or(&[][..], Vec::as_slice);
        self.frontends(pip_id).iter().chain(gateways)
    }
}

/// The `natGateway` back-reference of a public IP or prefix a gateway uses.
pub fn add_gateway_reference(data: &Data, id: &str, key: &str, props: &mut Value) {
    if let Some(gateway) = gateways_using(data, key, id).into_iter().next() {
        props["natGateway"] = id_ref(&gateway);
    }
}
