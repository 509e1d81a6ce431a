//! `GET /subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/usages`: how many
//! network resources a subscription has in a region, against its quotas, as Azure reports them.
//! Public IPs count against [`Limits::public_ips_per_subscription`], the quota the mock
//! enforces; the other quotas are Azure's defaults and only reported.

use serde_json::{Value, json};

use crate::config::Limits;
use crate::store::Data;

/// One usage: ARM's name, its localized name, the resource type it counts, which of those
/// count, and the quota.
struct Counter {
    name: &'static str,
    localized: &'static str,
    kind: &'static str,
    counts: fn(&Value) -> bool,
    limit: fn(&Limits) -> usize,
}

const COUNTERS: &[Counter] = &[
    Counter {
        name: "VirtualNetworks",
        localized: "Virtual Networks",
        kind: "virtualNetworks",
        counts: |_| true,
        limit: |_| 1000,
    },
    Counter {
        name: "StaticPublicIPAddresses",
        localized: "Static Public IP Addresses",
        kind: "publicIPAddresses",
        counts: |r| r["properties"]["publicIPAllocationMethod"] == "Static",
        limit: |l| l.public_ips_per_subscription,
    },
    Counter {
        name: "NetworkSecurityGroups",
        localized: "Network Security Groups",
        kind: "networkSecurityGroups",
        counts: |_| true,
        limit: |_| 5000,
    },
    Counter {
        name: "PublicIPAddresses",
        localized: "Public IP Addresses",
        kind: "publicIPAddresses",
        counts: |_| true,
        limit: |l| l.public_ips_per_subscription,
    },
    Counter {
        name: "PublicIpPrefixes",
        localized: "Public IP Prefixes",
        kind: "publicIPPrefixes",
        counts: |_| true,
        limit: |_| 1000,
    },
    Counter {
        name: "LoadBalancers",
        localized: "Load Balancers",
        kind: "loadBalancers",
        counts: |_| true,
        limit: |_| 1000,
    },
    Counter {
        name: "RouteTables",
        localized: "Route Tables",
        kind: "routeTables",
        counts: |_| true,
        limit: |_| 200,
    },
    Counter {
        name: "StandardSkuPublicIpAddresses",
        localized: "Standard Sku Public IP Addresses",
        kind: "publicIPAddresses",
        counts: |r| r["sku"]["name"] != "Basic",
        limit: |l| l.public_ips_per_subscription,
    },
];

/// The usages of subscription `sub` in `location`.
pub fn list(data: &Data, limits: &Limits, sub: &str, location: &str) -> Vec<Value> {
    let prefix = format!("/subscriptions/{sub}/").to_ascii_lowercase();
    let location = location.to_ascii_lowercase();
    COUNTERS
        .iter()
        .map(|c| {
            let current = data
                .of_type(c.kind)
                .filter(|r| {
                    r["id"]
                        .as_str()
                        .is_some_and(|id| id.to_ascii_lowercase().starts_with(&prefix))
                        && r["location"]
                            .as_str()
                            .is_some_and(|l| l.eq_ignore_ascii_case(&location))
                        && (c.counts)(r)
                })
                .count();
            json!({
                "id": format!(
                    "/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/usages/{}",
                    c.name
                ),
                "currentValue": current,
                "limit": (c.limit)(limits),
                "name": {"value": c.name, "localizedValue": c.localized},
                "unit": "Count",
            })
        })
        .collect()
}
