//! Load balancers: frontends (public IP or subnet), IP-based backend pools, probes, rules,
//! outbound and inbound NAT rules; references inside the LB and out of it; limits; SKU match;
//! the back-references ARM computes between children.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use serde_json::{Map, Value, json};

use crate::error::{ArmError, ArmResult};
use crate::json::{self, id_ref, same_id};
use crate::normalize::{Put, check_limit};
use crate::store::{Data, referrers};

const BACK_REFERENCES: [&str; 5] = [
    "loadBalancingRules",
    "outboundRules",
    "inboundNatRules",
    "inboundNatPools",
    "backendIPConfigurations",
];

/// Normalizes a load balancer.
pub fn normalize(
    put: &Put,
    body: &Value,
    props: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> ArmResult<()> {
    super::private_link_service::dropped_frontend_in_use(put, props)?;
    let sku = json::sku(body, &["Basic", "Standard", "Gateway"], "Basic")?;
    let sku_name = sku["name"].as_str().unwrap_or("Basic").to_string();
    // Back-references are the server's to compute; what the client sent is dropped.
    for collection in ["frontendIPConfigurations", "backendAddressPools", "probes"] {
        for child in children_mut(props, collection) {
            let p = child_props(child);
            for key in BACK_REFERENCES {
                p.remove(key);
            }
        }
    }
    let limits = &put.config.limits;
    let count = |c: &str| props.get(c).and_then(Value::as_array).map_or(0, Vec::len);
    check_limit(
        count("frontendIPConfigurations"),
        limits.frontends_per_load_balancer,
        "LoadBalancerFrontendIPConfigurationCountLimitReached",
        |limit| format!("A load balancer cannot have more than {limit} FrontendIPConfigurations."),
    )?;
    check_limit(
        count("probes"),
        limits.probes_per_load_balancer,
        "LoadBalancerProbeCountLimitReached",
        |limit| format!("A load balancer cannot have more than {limit} Probes."),
    )?;
    check_limit(
        count("loadBalancingRules") + count("inboundNatRules"),
        limits.rules_per_load_balancer,
        "LoadBalancerRuleCountLimitReached",
        |limit| {
            format!(
                "A load balancer cannot have more than {limit} LoadBalancingRules and InboundNatRules combined."
            )
        },
    )?;

    // Backend addresses stand for NICs in the subnet: a frontend never takes one of them.
    let mut taken_private: Vec<IpAddr> = backend_ips(props).collect();
    let ip_users = super::nat_gateway::IpUsers::new(put.data);
    for (i, fe) in children_mut(props, "frontendIPConfigurations").enumerate() {
        frontend(put, &ip_users, &sku_name, i, fe, &mut taken_private)?;
    }
    for (i, pool) in children_mut(props, "backendAddressPools").enumerate() {
        backend_pool(put, i, pool)?;
    }
    for (i, probe) in children_mut(props, "probes").enumerate() {
        self::probe(i, probe)?;
    }
    let own: HashSet<String> = ["frontendIPConfigurations", "backendAddressPools", "probes"]
        .iter()
        .flat_map(|c| {
            props
                .get(*c)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| c["id"].as_str().map(str::to_ascii_lowercase))
        .collect();
    for (i, rule) in children_mut(props, "loadBalancingRules").enumerate() {
        lb_rule(put, &own, i, rule)?;
    }
    rule_conflicts(props)?;
    for (i, rule) in children_mut(props, "outboundRules").enumerate() {
        outbound_rule(put, &own, i, rule)?;
    }
    for (i, rule) in children_mut(props, "inboundNatRules").enumerate() {
        nat_rule(put, &own, i, rule)?;
    }
    link_children(props);
    out.insert("sku".into(), sku);
    Ok(())
}

fn children_mut<'a>(
    props: &'a mut Map<String, Value>,
    collection: &str,
) -> impl Iterator<Item = &'a mut Value> {
    props
        .get_mut(collection)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn child_props(child: &mut Value) -> &mut Map<String, Value> {
    if !child["properties"].is_object() {
        child["properties"] = json!({});
    }
    child["properties"]
        .as_object_mut()
        .expect("just made an object")
}

/// Checks a reference to a child of this load balancer (`<lb id>/<collection>/<name>`);
/// `own` holds the lowercase ids of its frontends, pools and probes.
fn own_child(
    put: &Put,
    own: &HashSet<String>,
    target: &str,
    collection: &str,
    from: &str,
) -> ArmResult<()> {
    let t = target.to_ascii_lowercase();
    let prefix = format!("{}/{collection}/", put.id).to_ascii_lowercase();
    if t.starts_with(&prefix) && own.contains(&t) {
        Ok(())
    } else {
        Err(ArmError::missing_reference(target, from))
    }
}

fn frontend(
    put: &Put,
    ip_users: &super::nat_gateway::IpUsers,
    sku: &str,
    i: usize,
    fe: &mut Value,
    taken: &mut Vec<IpAddr>,
) -> ArmResult<()> {
    let id = fe["id"].as_str().unwrap_or_default().to_string();
    let path = format!("properties.frontendIPConfigurations[{i}].properties");
    let p = child_props(fe);
    let pip = json::reference(p, "publicIPAddress", &path)?;
    let prefix = json::reference(p, "publicIPPrefix", &path)?;
    let subnet = json::reference(p, "subnet", &path)?;
    match (&pip, &prefix, &subnet) {
        (Some(_), None, None) | (None, Some(_), None) | (None, None, Some(_)) => {}
        _ => {
            return Err(ArmError::bad_request(
                "InvalidFrontendIPConfiguration",
                format!(
                    "Frontend IP configuration {id} must reference exactly one of a public IP address, a public IP prefix or a subnet."
                ),
            ));
        }
    }
    if let Some(pip_id) = &pip {
        let ip = put
            .data
            .get(pip_id)
            .ok_or_else(|| ArmError::missing_reference(pip_id, &id))?;
        let pip_sku = ip["sku"]["name"].as_str().unwrap_or("Basic");
        if !pip_sku.eq_ignore_ascii_case(sku) {
            return Err(ArmError::bad_request(
                "PublicIPAndLBSkuDoNotMatch",
                format!(
                    "{sku} sku load balancer {} cannot reference {pip_sku} sku publicIP {pip_id}.",
                    put.id
                ),
            ));
        }
        let own = format!("{}/", put.id.to_ascii_lowercase());
        let other = ip_users
            .of(pip_id)
            .find(|user| !user.to_ascii_lowercase().starts_with(&own));
        if let Some(user) = other {
            return Err(ArmError::bad_request(
                "PublicIPAddressInUse",
                format!("Resource {pip_id} is referenced by {user} and cannot be used by {id}."),
            ));
        }
    }
    if let Some(prefix_id) = &prefix {
        put.data
            .get(prefix_id)
            .ok_or_else(|| ArmError::missing_reference(prefix_id, &id))?;
    }
    if let Some(subnet_id) = &subnet {
        let kept = put.existing.and_then(|e| {
            crate::store::find_child(e, "frontendIPConfigurations", fe_name(&id)).and_then(|f| {
                f["properties"]["privateIPAddress"]
                    .as_str()
                    .map(str::to_string)
            })
        });
        private_address(put, subnet_id, &id, &path, p, kept, taken)?;
    }
    Ok(())
}

/// The private IPv4 address the IP configuration `id` takes in `subnet_id`, written into its
/// properties `p`: the requested one when `Static` (inside the subnet, not one Azure reserves,
/// held by nothing else nor in `taken`), else the one it `kept`, else the lowest free one.
pub(super) fn private_address(
    put: &Put,
    subnet_id: &str,
    id: &str,
    path: &str,
    p: &mut Map<String, Value>,
    kept: Option<String>,
    taken: &mut Vec<IpAddr>,
) -> ArmResult<()> {
    let sn = put
        .data
        .child(subnet_id)
        .ok_or_else(|| ArmError::missing_reference(subnet_id, id))?;
    let range: Option<Ipv4Net> = sn["properties"]["addressPrefix"]
        .as_str()
        .and_then(|s| s.parse().ok());
    let method = json::opt_str(p, "privateIPAllocationMethod", path)?
        .unwrap_or("Dynamic")
        .to_string();
    let requested = json::opt_str(p, "privateIPAddress", path)?.map(str::to_string);
    let others = used_private(put, subnet_id);
    let address = if method.eq_ignore_ascii_case("Static") {
        let ip: Ipv4Addr = requested
            .as_deref()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| {
                ArmError::bad_request(
                    "PrivateIPAddressInvalid",
                    format!(
                        "IP configuration {id} has Static allocation and no valid privateIPAddress."
                    ),
                )
            })?;
        if !range.is_some_and(|r| r.contains(&ip)) {
            return Err(ArmError::bad_request(
                "PrivateIPAddressNotInSubnet",
                format!(
                    "Private static IP address {ip} does not belong to the range of subnet {subnet_id}."
                ),
            ));
        }
        if let Some(r) = range.filter(|r| reserved(*r, ip)) {
            return Err(ArmError::bad_request(
                "PrivateIPAddressInReservedRange",
                format!(
                    "Private static IP address {ip} falls within reserved IP range of subnet prefix {r}."
                ),
            ));
        }
        if others.contains(&IpAddr::V4(ip)) || taken.contains(&IpAddr::V4(ip)) {
            return Err(ArmError::bad_request(
                "PrivateIPAddressInUse",
                format!(
                    "IP configuration {id} is using the private IP address {ip} which is already allocated to another resource."
                ),
            ));
        }
        ip
    } else {
        let keep = kept
            .and_then(|k| k.parse::<Ipv4Addr>().ok())
            .filter(|k| range.is_some_and(|r| r.contains(k)));
        match keep {
            Some(k) => k,
            None => {
                let r = range.ok_or_else(|| ArmError::missing_reference(subnet_id, id))?;
                free_private(r, &others, taken).ok_or_else(|| {
                    ArmError::bad_request(
                        "SubnetIsFull",
                        format!("Subnet {subnet_id} has no free address for {id}."),
                    )
                })?
            }
        }
    };
    taken.push(IpAddr::V4(address));
    p.insert("privateIPAddress".into(), json!(address.to_string()));
    p.insert(
        "privateIPAllocationMethod".into(),
        json!(if method.eq_ignore_ascii_case("Static") {
            "Static"
        } else {
            "Dynamic"
        }),
    );
    p.entry("privateIPAddressVersion").or_insert(json!("IPv4"));
    Ok(())
}

fn fe_name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or_default()
}

/// Private addresses other resources hold: load balancer frontends and Private Link Service
/// IP configurations in `subnet_id`, and load balancers' backend addresses (the NICs behind
/// them).
fn used_private(put: &Put, subnet_id: &str) -> Vec<IpAddr> {
    let others = |segment: &'static str| {
        put.data
            .of_type(segment)
            .filter(|r| !same_id(r["id"].as_str().unwrap_or_default(), &put.id))
    };
    let in_subnet = |collection: &'static str, segment: &'static str| {
        others(segment)
            .flat_map(move |r| crate::store::children(r, collection).iter())
            .filter(|c| {
                c["properties"]["subnet"]["id"]
                    .as_str()
                    .is_some_and(|s| same_id(s, subnet_id))
            })
            .filter_map(|c| c["properties"]["privateIPAddress"].as_str()?.parse().ok())
    };
    in_subnet("frontendIPConfigurations", "loadBalancers")
        .chain(in_subnet("ipConfigurations", "privateLinkServices"))
        .chain(others("loadBalancers").flat_map(|lb| {
            lb["properties"]
                .as_object()
                .map(|p| backend_ips(p).collect::<Vec<_>>())
                .unwrap_or_default()
        }))
        .collect()
}

/// The IP-based backend addresses of a load balancer's pools.
fn backend_ips(props: &Map<String, Value>) -> impl Iterator<Item = IpAddr> + '_ {
    props
        .get("backendAddressPools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|pool| {
            pool["properties"]["loadBalancerBackendAddresses"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(|a| a["properties"]["ipAddress"].as_str()?.parse().ok())
}

/// Whether Azure reserves `ip` in the subnet: its first four addresses (network, gateway,
/// two for DNS) and its broadcast address.
fn reserved(range: Ipv4Net, ip: Ipv4Addr) -> bool {
    let (first, n) = (u32::from(range.network()), u32::from(ip));
    n.wrapping_sub(first) < 4 || ip == range.broadcast()
}

/// The lowest address of the subnet that Azure does not reserve and nobody holds.
fn free_private(range: Ipv4Net, others: &[IpAddr], taken: &[IpAddr]) -> Option<Ipv4Addr> {
    let first = u32::from(range.network()) + 4;
    let last = u32::from(range.broadcast()).checked_sub(1)?;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| !others.contains(&IpAddr::V4(*ip)) && !taken.contains(&IpAddr::V4(*ip)))
}

fn backend_pool(put: &Put, i: usize, pool: &mut Value) -> ArmResult<()> {
    let path = format!("properties.backendAddressPools[{i}].properties");
    let p = child_props(pool);
    let Some(Value::Array(addresses)) = p.get_mut("loadBalancerBackendAddresses") else {
        return Ok(());
    };
    for (j, a) in addresses.iter_mut().enumerate() {
        let apath = format!("{path}.loadBalancerBackendAddresses[{j}]");
        let Value::Object(addr) = a else {
            return Err(ArmError::invalid_property(&apath, "must be an object"));
        };
        if json::opt_str(addr, "name", &apath)?.is_none() {
            return Err(ArmError::bad_request(
                "InvalidRequestFormat",
                format!("Cannot parse the request. Property '{apath}.name' is required."),
            ));
        }
        let props = json::object(
            addr.get("properties").unwrap_or(&Value::Null),
            &format!("{apath}.properties"),
        )?;
        if let Some(ip) = json::opt_str(props, "ipAddress", &format!("{apath}.properties"))?
            && ip.parse::<IpAddr>().is_err()
        {
            return Err(ArmError::bad_request(
                "InvalidIPAddress",
                format!("Backend address {ip} in {apath} is not a valid IP address."),
            ));
        }
        if let Some(vnet) =
            json::reference(props, "virtualNetwork", &format!("{apath}.properties"))?
            && put.data.get(&vnet).is_none()
        {
            return Err(ArmError::missing_reference(&vnet, &put.id));
        }
    }
    Ok(())
}

fn probe(i: usize, probe: &mut Value) -> ArmResult<()> {
    let path = format!("properties.probes[{i}].properties");
    let id = probe["id"].as_str().unwrap_or_default().to_string();
    let p = child_props(probe);
    let protocol = json::enum_value(p, "protocol", &path, &["Tcp", "Http", "Https"], None)?;
    let port = json::opt_int(p, "port", &path)?.ok_or_else(|| json::required(&path, "port"))?;
    if !(1..=65535).contains(&port) {
        return Err(ArmError::bad_request(
            "InvalidProbePort",
            format!("Probe {id} has port {port}, outside 1..65535."),
        ));
    }
    let request_path = json::opt_str(p, "requestPath", &path)?;
    match (protocol.as_str(), request_path) {
        ("Http" | "Https", None) => {
            return Err(ArmError::bad_request(
                "ProbeRequestPathRequired",
                format!("Probe {id} with protocol {protocol} must specify requestPath."),
            ));
        }
        ("Tcp", Some(_)) => {
            return Err(ArmError::bad_request(
                "ProbeRequestPathNotAllowed",
                format!("Probe {id} with protocol Tcp must not specify requestPath."),
            ));
        }
        _ => {}
    }
    let interval = json::opt_int(p, "intervalInSeconds", &path)?.unwrap_or(15);
    if interval < 5 {
        return Err(ArmError::bad_request(
            "InvalidProbeInterval",
            format!("Probe {id} interval {interval}s is below the minimum of 5s."),
        ));
    }
    let count = json::opt_int(p, "numberOfProbes", &path)?.unwrap_or(2);
    if count < 1 {
        return Err(ArmError::bad_request(
            "InvalidProbeCount",
            format!("Probe {id} numberOfProbes must be at least 1."),
        ));
    }
    p.insert("protocol".into(), json!(protocol));
    p.insert("intervalInSeconds".into(), json!(interval));
    p.insert("numberOfProbes".into(), json!(count));
    p.entry("probeThreshold").or_insert(json!(1));
    Ok(())
}

fn port(
    p: &Map<String, Value>,
    key: &str,
    path: &str,
    max: i64,
    id: &str,
) -> ArmResult<Option<i64>> {
    let v = json::opt_int(p, key, path)?;
    if let Some(n) = v
        && !(0..=max).contains(&n)
    {
        return Err(ArmError::bad_request(
            "InvalidPort",
            format!("{key} {n} of {id} is outside 0..{max}."),
        ));
    }
    Ok(v)
}

fn lb_rule(put: &Put, own: &HashSet<String>, i: usize, rule: &mut Value) -> ArmResult<()> {
    let path = format!("properties.loadBalancingRules[{i}].properties");
    let id = rule["id"].as_str().unwrap_or_default().to_string();
    let p = child_props(rule);
    let protocol = json::enum_value(p, "protocol", &path, &["Tcp", "Udp", "All"], None)?;
    let frontend_port = port(p, "frontendPort", &path, 65534, &id)?
        .ok_or_else(|| json::required(&path, "frontendPort"))?;
    let backend_port = port(p, "backendPort", &path, 65535, &id)?.unwrap_or(frontend_port);
    let fe = json::reference(p, "frontendIPConfiguration", &path)?
        .ok_or_else(|| json::required(&path, "frontendIPConfiguration"))?;
    own_child(put, own, &fe, "frontendIPConfigurations", &id)?;
    let mut pools: Vec<String> = json::reference(p, "backendAddressPool", &path)?
        .into_iter()
        .collect();
    for (j, r) in json::opt_array(p, "backendAddressPools", &path)?
        .iter()
        .enumerate()
    {
        let obj = json::object(r, &format!("{path}.backendAddressPools[{j}]"))?;
        pools.extend(
            json::opt_str(obj, "id", &format!("{path}.backendAddressPools[{j}]"))?
                .map(str::to_string),
        );
    }
    for pool in &pools {
        own_child(put, own, pool, "backendAddressPools", &id)?;
    }
    if let Some(probe) = json::reference(p, "probe", &path)? {
        own_child(put, own, &probe, "probes", &id)?;
    }
    crate::normalize::idle_timeout(
        p,
        &path,
        4..=100,
        "LoadBalancingRuleIdleTimeoutOutOfRange",
        &id,
    )?;
    let distribution = json::enum_value(
        p,
        "loadDistribution",
        &path,
        &["Default", "SourceIP", "SourceIPProtocol"],
        Some("Default"),
    )?;
    p.insert("protocol".into(), json!(protocol));
    p.insert("backendPort".into(), json!(backend_port));
    p.insert("loadDistribution".into(), json!(distribution));
    for flag in ["enableFloatingIP", "enableTcpReset", "disableOutboundSnat"] {
        let v = p.get(flag).and_then(Value::as_bool).unwrap_or(false);
        p.insert(flag.into(), json!(v));
    }
    Ok(())
}

/// Two rules may not share (frontend, protocol, frontend port), and rules without floating IP
/// may not share (protocol, backend port, pool). Protocol `All` overlaps Tcp and Udp.
fn rule_conflicts(props: &Map<String, Value>) -> ArmResult<()> {
    let rules = json::opt_array(props, "loadBalancingRules", "properties")?;
    let overlapping = |p: &str| -> Vec<String> {
        if p == "All" {
            vec!["Tcp".into(), "Udp".into(), "All".into()]
        } else {
            vec![p.to_string(), "All".into()]
        }
    };
    let lower = |v: &Value| v.as_str().unwrap_or_default().to_ascii_lowercase();
    let mut frontends: HashMap<(String, String, String), &str> = HashMap::new();
    let mut backends: HashMap<(String, String, String), &str> = HashMap::new();
    for rule in rules {
        let p = &rule["properties"];
        let id = rule["id"].as_str().unwrap_or_default();
        let protocol = p["protocol"].as_str().unwrap_or_default();
        let fe = lower(&p["frontendIPConfiguration"]["id"]);
        let port = p["frontendPort"].to_string();
        for proto in overlapping(protocol) {
            if let Some(other) = frontends.get(&(fe.clone(), proto, port.clone())) {
                return Err(ArmError::bad_request(
                    "RulesUseSameFrontendIPConfigurationProtocolAndPort",
                    format!(
                        "Load balancing rules {other} and {id} use the same frontend IP configuration, protocol and frontend port {port}."
                    ),
                ));
            }
        }
        frontends.insert((fe, protocol.to_string(), port), id);
        let pool = lower(&p["backendAddressPool"]["id"]);
        if p["enableFloatingIP"] == true || pool.is_empty() {
            continue;
        }
        let backend_port = p["backendPort"].to_string();
        for proto in overlapping(protocol) {
            if let Some(other) = backends.get(&(pool.clone(), proto, backend_port.clone())) {
                return Err(ArmError::bad_request(
                    "RulesUseSameBackendPortProtocolAndPool",
                    format!(
                        "Load balancing rules {other} and {id} with floating IP disabled use the same protocol {protocol} and backend port {backend_port}, and must not be used with the same backend address pool {}.",
                        p["backendAddressPool"]["id"].as_str().unwrap_or_default()
                    ),
                ));
            }
        }
        backends.insert((pool, protocol.to_string(), backend_port), id);
    }
    Ok(())
}

fn outbound_rule(put: &Put, own: &HashSet<String>, i: usize, rule: &mut Value) -> ArmResult<()> {
    let path = format!("properties.outboundRules[{i}].properties");
    let id = rule["id"].as_str().unwrap_or_default().to_string();
    let p = child_props(rule);
    let protocol = json::enum_value(p, "protocol", &path, &["Tcp", "Udp", "All"], None)?;
    let frontends = json::opt_array(p, "frontendIPConfigurations", &path)?;
    if frontends.is_empty() {
        return Err(json::required(&path, "frontendIPConfigurations"));
    }
    for (j, r) in frontends.iter().enumerate() {
        let target = json::opt_str(
            json::object(r, &format!("{path}.frontendIPConfigurations[{j}]"))?,
            "id",
            &path,
        )?
        .unwrap_or_default();
        own_child(put, own, target, "frontendIPConfigurations", &id)?;
    }
    let pool = json::reference(p, "backendAddressPool", &path)?
        .ok_or_else(|| json::required(&path, "backendAddressPool"))?;
    own_child(put, own, &pool, "backendAddressPools", &id)?;
    let ports = json::opt_int(p, "allocatedOutboundPorts", &path)?.unwrap_or(0);
    if !(0..=64000).contains(&ports) || ports % 8 != 0 {
        return Err(ArmError::bad_request(
            "InvalidAllocatedOutboundPorts",
            format!(
                "allocatedOutboundPorts {ports} of {id} must be a multiple of 8 within 0..64000."
            ),
        ));
    }
    crate::normalize::idle_timeout(p, &path, 4..=120, "OutboundRuleIdleTimeoutOutOfRange", &id)?;
    p.insert("protocol".into(), json!(protocol));
    p.insert("allocatedOutboundPorts".into(), json!(ports));
    Ok(())
}

fn nat_rule(put: &Put, own: &HashSet<String>, i: usize, rule: &mut Value) -> ArmResult<()> {
    let path = format!("properties.inboundNatRules[{i}].properties");
    let id = rule["id"].as_str().unwrap_or_default().to_string();
    let p = child_props(rule);
    let protocol = json::enum_value(p, "protocol", &path, &["Tcp", "Udp", "All"], None)?;
    let fe = json::reference(p, "frontendIPConfiguration", &path)?
        .ok_or_else(|| json::required(&path, "frontendIPConfiguration"))?;
    own_child(put, own, &fe, "frontendIPConfigurations", &id)?;
    port(p, "frontendPort", &path, 65534, &id)?;
    port(p, "backendPort", &path, 65535, &id)?;
    p.insert("protocol".into(), json!(protocol));
    Ok(())
}

/// The references ARM adds between children: frontends, pools and probes list the rules that
/// use them.
fn link_children(props: &mut Map<String, Value>) {
    let mut links: Vec<(String, &'static str, String)> = Vec::new();
    for (collection, fields) in [
        (
            "loadBalancingRules",
            &["frontendIPConfiguration", "backendAddressPool", "probe"][..],
        ),
        ("outboundRules", &["backendAddressPool"][..]),
        ("inboundNatRules", &["frontendIPConfiguration"][..]),
    ] {
        let key: &'static str = collection;
        for rule in props
            .get(collection)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rule_id = rule["id"].as_str().unwrap_or_default().to_string();
            for field in fields {
                if let Some(target) = rule["properties"][field]["id"].as_str() {
                    links.push((target.to_ascii_lowercase(), key, rule_id.clone()));
                }
            }
            if collection == "outboundRules" {
                for fe in rule["properties"]["frontendIPConfigurations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if let Some(target) = fe["id"].as_str() {
                        links.push((target.to_ascii_lowercase(), key, rule_id.clone()));
                    }
                }
            }
        }
    }
    let mut by_target: HashMap<String, Vec<(&'static str, String)>> = HashMap::new();
    for (target, key, rule_id) in links {
        by_target.entry(target).or_default().push((key, rule_id));
    }
    for collection in ["frontendIPConfigurations", "backendAddressPools", "probes"] {
        for child in children_mut(props, collection) {
            let id = child["id"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            for (key, rule_id) in by_target.get(&id).into_iter().flatten() {
                let list = child_props(child).entry(*key).or_insert(json!([]));
                if let Value::Array(items) = list {
                    items.push(id_ref(rule_id));
                }
            }
        }
    }
}

/// Frontends (ids) that reference a subnet.
pub fn frontend_users(data: &Data, subnet_id: &str) -> Vec<String> {
    referrers(
        data,
        "loadBalancers",
        &["frontendIPConfigurations"],
        "subnet",
        subnet_id,
    )
}
