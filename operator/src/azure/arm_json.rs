//! The planning model in ARM's JSON shape, both ways.
//!
//! Reading turns an ARM resource body into the model. Writing starts from the observed body and
//! replaces only the child lists: a child whose model is unchanged keeps its observed JSON as is,
//! so properties aksnet does not model (on children of others especially) survive a PUT.

mod private_link;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub use private_link::{private_link_service, private_link_service_body};

use crate::model::{
    Access, BackendAddress, BackendPool, Direction, Distribution, Family, Frontend, FrontendTarget,
    LbRule, LoadBalancer, NatGateway, OutboundRule, Probe, ProbeProtocol, Protocol, PublicIp,
    Route, RouteTable, SecurityGroup, SecurityRule, Subnet, Tags,
};

/// Where resources live: builds ARM ids.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Subscription id.
    pub subscription: String,
}

impl Scope {
    /// ARM id of a top-level Microsoft.Network resource.
    pub fn id(&self, resource_group: &str, kind: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{resource_group}/providers/Microsoft.Network/{kind}/{name}",
            self.subscription
        )
    }
}

fn s(v: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn n(v: &Value, key: &str) -> Option<u64> {
    v.get("properties")?.get(key)?.as_u64()
}

fn b(v: &Value, key: &str) -> bool {
    v.get("properties")
        .and_then(|p| p.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The last segment of an ARM id (a child's name).
fn last(id: &str) -> String {
    id.rsplit('/').next().unwrap_or_default().to_string()
}

fn id_ref(v: &Value, key: &str) -> Option<String> {
    v.get("properties")?.get(key)?.get("id")?.as_str().map(last)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get("properties")
        .and_then(|p| p.get(key))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn tags(v: &Value) -> Tags {
    v.get("tags")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn family(text: Option<String>) -> Family {
    match text.as_deref() {
        Some(f) if f.eq_ignore_ascii_case("IPv6") => Family::V6,
        _ => Family::V4,
    }
}

fn strings(v: &Value, one: &str, many: &str) -> Vec<String> {
    let props = v.get("properties");
    let mut out: Vec<String> = props
        .and_then(|p| p.get(many))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(x) = props.and_then(|p| p.get(one)).and_then(Value::as_str) {
        out.push(x.to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// The subnets of a VNet's ARM body (lower-case names) whose Private Link Service network
/// policies are `Disabled`.
pub fn private_link_subnets(v: &Value) -> std::collections::BTreeSet<String> {
    list(v, "subnets")
        .iter()
        .filter(|sn| {
            s(sn, &["properties", "privateLinkServiceNetworkPolicies"])
                .is_some_and(|p| p.eq_ignore_ascii_case("Disabled"))
        })
        .filter_map(|sn| s(sn, &["name"]).map(|n| n.to_ascii_lowercase()))
        .collect()
}

/// A VNet's subnets from its ARM body: lower-case name → address prefixes.
pub fn subnets(v: &Value) -> BTreeMap<String, Vec<String>> {
    list(v, "subnets")
        .iter()
        .map(|sn| {
            let p = &sn["properties"];
            let mut prefixes: Vec<String> = p["addressPrefixes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            prefixes.extend(p["addressPrefix"].as_str().map(str::to_string));
            (
                s(sn, &["name"]).unwrap_or_default().to_ascii_lowercase(),
                prefixes,
            )
        })
        .collect()
}

/// The resource group and name an ARM resource id names.
pub fn resource_group_and_name(id: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    let rg = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))?;
    let name = parts.last().filter(|n| !n.is_empty() && parts.len() >= 8)?;
    Some((rg.to_string(), name.to_string()))
}

/// A public IP from its ARM body; its resource group is the one its id names (as Azure spells
/// it), else `resource_group`.
pub fn public_ip(v: &Value, resource_group: &str) -> PublicIp {
    let mut zones: Vec<String> = v
        .get("zones")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|z| z.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    zones.sort();
    let resource_group = s(v, &["id"])
        .and_then(|id| resource_group_and_name(&id))
        .map_or_else(|| resource_group.to_string(), |(rg, _)| rg);
    PublicIp {
        name: s(v, &["name"]).unwrap_or_default(),
        resource_group,
        location: s(v, &["location"]).unwrap_or_default(),
        family: family(s(v, &["properties", "publicIPAddressVersion"])),
        zones,
        dns_label: s(v, &["properties", "dnsSettings", "domainNameLabel"]),
        prefix_id: s(v, &["properties", "publicIPPrefix", "id"]),
        ip_tags: ip_tags(v),
        tags: tags(v),
        address: s(v, &["properties", "ipAddress"]),
        used_by: s(v, &["properties", "ipConfiguration", "id"])
            .or_else(|| s(v, &["properties", "natGateway", "id"])),
        etag: s(v, &["etag"]),
    }
}

/// The ARM body of a public IP: the observed body (if any) with the managed fields set.
pub fn public_ip_body(p: &PublicIp, observed: Option<&Value>) -> Value {
    let mut v = observed.cloned().unwrap_or_else(|| {
        json!({
            "location": p.location,
            "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {"publicIPAllocationMethod": "Static"}
        })
    });
    v["tags"] = json!(p.tags);
    if !p.zones.is_empty() {
        v["zones"] = json!(p.zones);
    }
    let props = ensure_object(&mut v, "properties");
    props.insert(
        "publicIPAddressVersion".into(),
        json!(p.family.azure_name()),
    );
    props.insert("publicIPAllocationMethod".into(), json!("Static"));
    match &p.dns_label {
        Some(label) => {
            props.insert("dnsSettings".into(), json!({"domainNameLabel": label}));
        }
        None => {
            props.remove("dnsSettings");
        }
    }
    if let Some(prefix) = &p.prefix_id {
        props.insert("publicIPPrefix".into(), json!({"id": prefix}));
    }
    if !p.ip_tags.is_empty() {
        let tags: Vec<Value> = p
            .ip_tags
            .iter()
            .map(|(kind, tag)| json!({"ipTagType": kind, "tag": tag}))
            .collect();
        props.insert("ipTags".into(), json!(tags));
    }
    v
}

/// A public IP's `ipTags`, sorted.
fn ip_tags(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["properties"]["ipTags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["ipTagType"].as_str()?.into(), t["tag"].as_str()?.into())))
        .collect();
    out.sort();
    out
}

fn ensure_object<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    match v.get_mut(key) {
        Some(Value::Object(m)) => m,
        _ => unreachable!("just made an object"),
    }
}

fn probe_protocol(text: Option<String>) -> ProbeProtocol {
    match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => ProbeProtocol::Http,
        Some("https") => ProbeProtocol::Https,
        _ => ProbeProtocol::Tcp,
    }
}

fn protocol(text: Option<String>) -> Protocol {
    match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("tcp") => Protocol::Tcp,
        Some("udp") => Protocol::Udp,
        _ => Protocol::All,
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "Tcp",
        Protocol::Udp => "Udp",
        Protocol::All => "All",
    }
}

fn frontend(v: &Value) -> Frontend {
    let target = match s(v, &["properties", "publicIPAddress", "id"]) {
        Some(public_ip_id) => FrontendTarget::Public { public_ip_id },
        None => {
            let is_static = s(v, &["properties", "privateIPAllocationMethod"])
                .is_some_and(|m| m.eq_ignore_ascii_case("Static"));
            FrontendTarget::Private {
                subnet_id: s(v, &["properties", "subnet", "id"]).unwrap_or_default(),
                static_ip: if is_static {
                    s(v, &["properties", "privateIPAddress"])
                } else {
                    None
                },
                family: family(s(v, &["properties", "privateIPAddressVersion"])),
            }
        }
    };
    Frontend {
        name: s(v, &["name"]).unwrap_or_default(),
        target,
        private_ip: s(v, &["properties", "privateIPAddress"]),
    }
}

fn frontend_json(f: &Frontend) -> Value {
    match &f.target {
        FrontendTarget::Public { public_ip_id } => {
            json!({"name": f.name, "properties": {"publicIPAddress": {"id": public_ip_id}}})
        }
        FrontendTarget::Private {
            subnet_id,
            static_ip,
            family,
        } => {
            let mut props = json!({
                "subnet": {"id": subnet_id},
                "privateIPAddressVersion": family.azure_name(),
                "privateIPAllocationMethod": if static_ip.is_some() { "Static" } else { "Dynamic" },
            });
            if let Some(ip) = static_ip {
                props["privateIPAddress"] = json!(ip);
            }
            json!({"name": f.name, "properties": props})
        }
    }
}

fn pool(v: &Value) -> BackendPool {
    let mut addresses: Vec<BackendAddress> = list(v, "loadBalancerBackendAddresses")
        .iter()
        .filter_map(|a| {
            Some(BackendAddress {
                name: s(a, &["name"])?,
                ip: s(a, &["properties", "ipAddress"])?,
                vnet_id: s(a, &["properties", "virtualNetwork", "id"]).unwrap_or_default(),
            })
        })
        .collect();
    addresses.sort();
    BackendPool {
        name: s(v, &["name"]).unwrap_or_default(),
        addresses: addresses.into(),
    }
}

fn pool_json(p: &BackendPool) -> Value {
    let addresses: Vec<Value> = p
        .addresses
        .iter()
        .map(|a| json!({"name": a.name, "properties": {"ipAddress": a.ip, "virtualNetwork": {"id": a.vnet_id}}}))
        .collect();
    json!({"name": p.name, "properties": {"loadBalancerBackendAddresses": addresses}})
}

fn probe(v: &Value) -> Probe {
    Probe {
        name: s(v, &["name"]).unwrap_or_default(),
        protocol: probe_protocol(s(v, &["properties", "protocol"])),
        port: n(v, "port")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        path: s(v, &["properties", "requestPath"]),
        interval_seconds: n(v, "intervalInSeconds").map_or(15, |x| x as u32),
        threshold: n(v, "probeThreshold")
            .or_else(|| n(v, "numberOfProbes"))
            .map_or(1, |x| x as u32),
    }
}

fn probe_json(p: &Probe) -> Value {
    let mut props = json!({
        "protocol": match p.protocol { ProbeProtocol::Tcp => "Tcp", ProbeProtocol::Http => "Http", ProbeProtocol::Https => "Https" },
        "port": p.port,
        "intervalInSeconds": p.interval_seconds,
        "numberOfProbes": p.threshold,
        "probeThreshold": p.threshold,
    });
    if let Some(path) = &p.path {
        props["requestPath"] = json!(path);
    }
    json!({"name": p.name, "properties": props})
}

fn rule(v: &Value) -> LbRule {
    LbRule {
        name: s(v, &["name"]).unwrap_or_default(),
        frontend: id_ref(v, "frontendIPConfiguration").unwrap_or_default(),
        backend_pool: id_ref(v, "backendAddressPool").unwrap_or_default(),
        probe: id_ref(v, "probe"),
        protocol: protocol(s(v, &["properties", "protocol"])),
        frontend_port: n(v, "frontendPort")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        backend_port: n(v, "backendPort")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        idle_timeout_minutes: n(v, "idleTimeoutInMinutes").map_or(4, |x| x as u32),
        floating_ip: b(v, "enableFloatingIP"),
        tcp_reset: b(v, "enableTcpReset"),
        distribution: match s(v, &["properties", "loadDistribution"]).as_deref() {
            Some("SourceIP") | Some("SourceIPProtocol") => Distribution::SourceIp,
            _ => Distribution::Default,
        },
        disable_outbound_snat: b(v, "disableOutboundSnat"),
    }
}

fn rule_json(r: &LbRule, lb_id: &str) -> Value {
    let mut props = json!({
        "frontendIPConfiguration": {"id": format!("{lb_id}/frontendIPConfigurations/{}", r.frontend)},
        "backendAddressPool": {"id": format!("{lb_id}/backendAddressPools/{}", r.backend_pool)},
        "protocol": protocol_name(r.protocol),
        "frontendPort": r.frontend_port,
        "backendPort": r.backend_port,
        "idleTimeoutInMinutes": r.idle_timeout_minutes,
        "enableFloatingIP": r.floating_ip,
        "enableTcpReset": r.tcp_reset,
        "loadDistribution": match r.distribution { Distribution::Default => "Default", Distribution::SourceIp => "SourceIP" },
        "disableOutboundSnat": r.disable_outbound_snat,
    });
    if let Some(p) = &r.probe {
        props["probe"] = json!({"id": format!("{lb_id}/probes/{p}")});
    }
    json!({"name": r.name, "properties": props})
}

fn outbound(v: &Value) -> OutboundRule {
    let mut frontends: Vec<String> = list(v, "frontendIPConfigurations")
        .iter()
        .filter_map(|f| f.get("id")?.as_str().map(last))
        .collect();
    frontends.sort();
    OutboundRule {
        name: s(v, &["name"]).unwrap_or_default(),
        frontends,
        backend_pool: id_ref(v, "backendAddressPool").unwrap_or_default(),
        allocated_ports: n(v, "allocatedOutboundPorts")
            .map(|x| x as u32)
            .filter(|x| *x > 0),
        idle_timeout_minutes: n(v, "idleTimeoutInMinutes").map_or(4, |x| x as u32),
    }
}

fn outbound_json(o: &OutboundRule, lb_id: &str) -> Value {
    let frontends: Vec<Value> = o
        .frontends
        .iter()
        .map(|f| json!({"id": format!("{lb_id}/frontendIPConfigurations/{f}")}))
        .collect();
    json!({"name": o.name, "properties": {
        "frontendIPConfigurations": frontends,
        "backendAddressPool": {"id": format!("{lb_id}/backendAddressPools/{}", o.backend_pool)},
        "protocol": "All",
        "allocatedOutboundPorts": o.allocated_ports.unwrap_or(0),
        "idleTimeoutInMinutes": o.idle_timeout_minutes,
        "enableTcpReset": true,
    }})
}

/// A load balancer from its ARM body.
pub fn load_balancer(v: &Value, resource_group: &str) -> LoadBalancer {
    let mut nat_frontends: Vec<String> = ["inboundNatRules", "inboundNatPools"]
        .iter()
        .flat_map(|k| list(v, k))
        .filter_map(|r| id_ref(r, "frontendIPConfiguration"))
        .collect();
    nat_frontends.sort();
    nat_frontends.dedup();
    LoadBalancer {
        name: s(v, &["name"]).unwrap_or_default(),
        resource_group: resource_group.to_string(),
        location: s(v, &["location"]).unwrap_or_default(),
        tags: tags(v),
        frontends: list(v, "frontendIPConfigurations")
            .iter()
            .map(frontend)
            .collect(),
        backend_pools: list(v, "backendAddressPools").iter().map(pool).collect(),
        probes: list(v, "probes").iter().map(probe).collect(),
        rules: list(v, "loadBalancingRules").iter().map(rule).collect(),
        outbound_rules: list(v, "outboundRules").iter().map(outbound).collect(),
        nat_frontends,
        etag: s(v, &["etag"]),
    }
}

/// The ARM body of a load balancer: the observed body (if any) with its child lists set to the
/// model's, reusing each observed child's JSON when its model is unchanged.
pub fn load_balancer_body(lb: &LoadBalancer, lb_id: &str, observed: Option<&Value>) -> Value {
    let mut v = observed.cloned().unwrap_or_else(
        || json!({"location": lb.location, "sku": {"name": "Standard", "tier": "Regional"}}),
    );
    v["tags"] = json!(lb.tags);
    let old = observed.cloned().unwrap_or(Value::Null);
    let props = ensure_object(&mut v, "properties");
    props.insert(
        "frontendIPConfigurations".into(),
        children(
            &old,
            "frontendIPConfigurations",
            &lb.frontends,
            frontend,
            frontend_json,
            |a, b| canonical_frontend(a) == canonical_frontend(b),
        ),
    );
    props.insert(
        "backendAddressPools".into(),
        children(
            &old,
            "backendAddressPools",
            &lb.backend_pools,
            pool,
            pool_json,
            |a, b| a == b,
        ),
    );
    props.insert(
        "probes".into(),
        children(&old, "probes", &lb.probes, probe, probe_json, |a, b| a == b),
    );
    props.insert(
        "loadBalancingRules".into(),
        children(
            &old,
            "loadBalancingRules",
            &lb.rules,
            rule,
            |r| rule_json(r, lb_id),
            |a, b| a == b,
        ),
    );
    props.insert(
        "outboundRules".into(),
        children(
            &old,
            "outboundRules",
            &lb.outbound_rules,
            outbound,
            |o| outbound_json(o, lb_id),
            |a, b| a == b,
        ),
    );
    v
}

/// A frontend without the server-allocated private address, for comparison.
fn canonical_frontend(f: &Frontend) -> Frontend {
    Frontend {
        private_ip: None,
        ..f.clone()
    }
}

/// The JSON list of children: observed JSON where the model is unchanged, else rendered anew.
fn children<T>(
    observed: &Value,
    key: &str,
    wanted: &[T],
    read: impl Fn(&Value) -> T,
    write: impl Fn(&T) -> Value,
    same: impl Fn(&T, &T) -> bool,
) -> Value {
    let old = list(observed, key);
    let out: Vec<Value> = wanted
        .iter()
        .map(|w| {
            let w_json = write(w);
            let name = w_json
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            old.iter()
                .find(|o| {
                    s(o, &["name"]).is_some_and(|n| n.to_ascii_lowercase() == name)
                        && same(&read(o), w)
                })
                .cloned()
                .unwrap_or(w_json)
        })
        .collect();
    Value::Array(out)
}

fn security_rule(v: &Value) -> SecurityRule {
    SecurityRule {
        name: s(v, &["name"]).unwrap_or_default(),
        priority: n(v, "priority").map_or(0, |x| x as u32),
        direction: match s(v, &["properties", "direction"]).as_deref() {
            Some("Outbound") => Direction::Outbound,
            _ => Direction::Inbound,
        },
        access: match s(v, &["properties", "access"]).as_deref() {
            Some("Deny") => Access::Deny,
            _ => Access::Allow,
        },
        protocol: s(v, &["properties", "protocol"]).unwrap_or_else(|| "*".into()),
        sources: strings(v, "sourceAddressPrefix", "sourceAddressPrefixes"),
        source_ports: strings(v, "sourcePortRange", "sourcePortRanges"),
        destinations: strings(v, "destinationAddressPrefix", "destinationAddressPrefixes"),
        destination_ports: strings(v, "destinationPortRange", "destinationPortRanges"),
        description: s(v, &["properties", "description"]),
    }
}

fn security_rule_json(r: &SecurityRule) -> Value {
    let mut props = json!({
        "priority": r.priority,
        "direction": match r.direction { Direction::Inbound => "Inbound", Direction::Outbound => "Outbound" },
        "access": match r.access { Access::Allow => "Allow", Access::Deny => "Deny" },
        "protocol": r.protocol,
    });
    for (one, many, values) in [
        ("sourceAddressPrefix", "sourceAddressPrefixes", &r.sources),
        ("sourcePortRange", "sourcePortRanges", &r.source_ports),
        (
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
            &r.destinations,
        ),
        (
            "destinationPortRange",
            "destinationPortRanges",
            &r.destination_ports,
        ),
    ] {
        if let [single] = values.as_slice() {
            props[one] = json!(single);
        } else {
            props[many] = json!(values);
        }
    }
    if let Some(d) = &r.description {
        props["description"] = json!(d);
    }
    json!({"name": r.name, "properties": props})
}

/// An NSG from its ARM body.
pub fn security_group(v: &Value, resource_group: &str) -> SecurityGroup {
    SecurityGroup {
        name: s(v, &["name"]).unwrap_or_default(),
        resource_group: resource_group.to_string(),
        location: s(v, &["location"]).unwrap_or_default(),
        tags: tags(v),
        rules: list(v, "securityRules").iter().map(security_rule).collect(),
        etag: s(v, &["etag"]),
    }
}

/// The ARM body of an NSG with its rule list set to the model's.
pub fn security_group_body(nsg: &SecurityGroup, observed: Option<&Value>) -> Value {
    let mut v = observed
        .cloned()
        .unwrap_or_else(|| json!({"location": nsg.location}));
    v["tags"] = json!(nsg.tags);
    let old = observed.cloned().unwrap_or(Value::Null);
    let props = ensure_object(&mut v, "properties");
    props.remove("defaultSecurityRules");
    props.insert(
        "securityRules".into(),
        children(
            &old,
            "securityRules",
            &nsg.rules,
            security_rule,
            security_rule_json,
            |a, b| a == b,
        ),
    );
    v
}

fn route(v: &Value) -> Route {
    Route {
        name: s(v, &["name"]).unwrap_or_default(),
        address_prefix: s(v, &["properties", "addressPrefix"]).unwrap_or_default(),
        next_hop_type: s(v, &["properties", "nextHopType"]).unwrap_or_default(),
        next_hop_ip: s(v, &["properties", "nextHopIpAddress"]),
    }
}

fn route_json(r: &Route) -> Value {
    let mut props = json!({"addressPrefix": r.address_prefix, "nextHopType": r.next_hop_type});
    if let Some(ip) = &r.next_hop_ip {
        props["nextHopIpAddress"] = json!(ip);
    }
    json!({"name": r.name, "properties": props})
}

/// A route table from its ARM body.
pub fn route_table(v: &Value, resource_group: &str) -> RouteTable {
    RouteTable {
        name: s(v, &["name"]).unwrap_or_default(),
        resource_group: resource_group.to_string(),
        location: s(v, &["location"]).unwrap_or_default(),
        tags: tags(v),
        routes: list(v, "routes").iter().map(route).collect(),
        etag: s(v, &["etag"]),
    }
}

/// The ARM body of a route table with its route list set to the model's.
pub fn route_table_body(rt: &RouteTable, observed: Option<&Value>) -> Value {
    let mut v = observed
        .cloned()
        .unwrap_or_else(|| json!({"location": rt.location}));
    v["tags"] = json!(rt.tags);
    let old = observed.cloned().unwrap_or(Value::Null);
    let props = ensure_object(&mut v, "properties");
    props.insert(
        "routes".into(),
        children(&old, "routes", &rt.routes, route, route_json, |a, b| a == b),
    );
    v
}

/// A NAT gateway from its ARM body.
pub fn nat_gateway(v: &Value, resource_group: &str) -> NatGateway {
    let ids = |key: &str| -> Vec<String> {
        let mut ids: Vec<String> = list(v, key).iter().filter_map(|r| s(r, &["id"])).collect();
        ids.sort();
        ids
    };
    let resource_group = s(v, &["id"])
        .and_then(|id| resource_group_and_name(&id))
        .map_or_else(|| resource_group.to_string(), |(rg, _)| rg);
    NatGateway {
        name: s(v, &["name"]).unwrap_or_default(),
        resource_group,
        location: s(v, &["location"]).unwrap_or_default(),
        tags: tags(v),
        idle_timeout_minutes: n(v, "idleTimeoutInMinutes")
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(4),
        public_ip_ids: ids("publicIpAddresses"),
        subnets: ids("subnets"),
        etag: s(v, &["etag"]),
    }
}

/// The ARM body of a NAT gateway: the observed body (if any) with the managed fields set.
pub fn nat_gateway_body(g: &NatGateway, observed: Option<&Value>) -> Value {
    let mut v = observed.cloned().unwrap_or_else(|| {
        json!({
            "location": g.location,
            "sku": {"name": "Standard"},
        })
    });
    v["tags"] = json!(g.tags);
    let props = ensure_object(&mut v, "properties");
    props.insert("idleTimeoutInMinutes".into(), json!(g.idle_timeout_minutes));
    props.insert(
        "publicIpAddresses".into(),
        Value::Array(g.public_ip_ids.iter().map(|id| json!({"id": id})).collect()),
    );
    v
}

/// The subnet named `name` of a VNet's ARM body, with its ARM id, when the VNet has it.
pub fn subnet_of<'v>(vnet: &'v Value, name: &str) -> Option<(Subnet, &'v Value)> {
    let body = list(vnet, "subnets")
        .iter()
        .find(|sn| s(sn, &["name"]).is_some_and(|n| n.eq_ignore_ascii_case(name)))?;
    let id = s(body, &["id"])
        .or_else(|| s(vnet, &["id"]).map(|vnet| format!("{vnet}/subnets/{name}")))?;
    Some((subnet(body, &id), body))
}

/// `((resource group, VNet), subnet)` of a subnet's ARM id.
pub fn subnet_path(id: &str) -> Option<((String, String), String)> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    let after = |key: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(key))
            .and_then(|i| parts.get(i + 1))
            .map(|s| s.to_string())
    };
    Some((
        (after("resourceGroups")?, after("virtualNetworks")?),
        after("subnets")?,
    ))
}

/// A subnet from its ARM body.
pub fn subnet(v: &Value, id: &str) -> Subnet {
    Subnet {
        id: id.to_string(),
        nat_gateway_id: s(v, &["properties", "natGateway", "id"]),
        etag: s(v, &["etag"]),
    }
}

/// The ARM body of a subnet: the observed body with its NAT gateway set as the model has it.
pub fn subnet_body(subnet: &Subnet, observed: &Value) -> Value {
    let mut v = observed.clone();
    let props = ensure_object(&mut v, "properties");
    match &subnet.nat_gateway_id {
        Some(id) => props.insert("natGateway".into(), json!({"id": id})),
        None => props.remove("natGateway"),
    };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_write_changes_its_nat_gateway_and_nothing_else() {
        let gw = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/natGateways/g";
        let vnet = json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
            "properties": {"subnets": [{"name": "Nodes", "etag": "W/\"3\"", "properties": {
                "addressPrefix": "10.0.0.0/16",
                "routeTable": {"id": "rt"},
                "serviceEndpoints": [{"service": "Microsoft.Storage"}]}}]}});
        let (subnet, body) = subnet_of(&vnet, "nodes").expect("found in any case");
        assert!(subnet.id.ends_with("/virtualNetworks/v/subnets/nodes"));
        assert_eq!(
            (subnet.nat_gateway_id.as_deref(), subnet.etag.as_deref()),
            (None, Some("W/\"3\""))
        );
        let on = subnet_body(
            &Subnet {
                nat_gateway_id: Some(gw.into()),
                ..subnet.clone()
            },
            body,
        );
        assert_eq!(on["properties"]["natGateway"]["id"], gw);
        assert_eq!(
            on["properties"]["routeTable"],
            body["properties"]["routeTable"]
        );
        assert_eq!(
            on["properties"]["serviceEndpoints"],
            body["properties"]["serviceEndpoints"]
        );
        assert_eq!(on["etag"], body["etag"]);
        let off = subnet_body(&subnet, &on);
        assert_eq!(&off, body);
        assert_eq!(
            subnet_path(&subnet.id),
            Some((("rg".into(), "v".into()), "nodes".into()))
        );
    }

    #[test]
    fn nat_gateways_both_ways() {
        let ip =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/a";
        let g = NatGateway {
            name: "g".into(),
            resource_group: "rg".into(),
            location: "westeurope".into(),
            tags: Tags::from([("aksnet.io-owner".into(), "aksnet-1".into())]),
            idle_timeout_minutes: 10,
            public_ip_ids: vec![ip.into()],
            ..NatGateway::default()
        };
        let mut body = nat_gateway_body(&g, None);
        assert_eq!(body["sku"]["name"], "Standard");
        body["properties"]["subnets"] = json!([{"id": "sn"}]);
        body["name"] = json!("g");
        let back = nat_gateway(&body, "rg");
        assert_eq!(back.subnets, vec!["sn".to_string()]);
        assert_eq!(
            NatGateway {
                subnets: Vec::new(),
                ..back
            },
            g
        );
    }

    #[test]
    fn subnets_and_resource_ids() {
        let vnet = json!({"properties": {"subnets": [
            {"name": "Aks-Subnet", "properties": {"addressPrefix": "10.224.0.0/16"}},
            {"name": "dual", "properties": {"addressPrefixes": ["10.225.0.0/24", "fd00::/64"]}}
        ]}});
        let subnets = subnets(&vnet);
        assert_eq!(subnets["aks-subnet"], vec!["10.224.0.0/16".to_string()]);
        assert_eq!(subnets["dual"].len(), 2);
        assert_eq!(
            resource_group_and_name(
                "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/publicIPPrefixes/p/"
            ),
            Some(("RG".into(), "p".into()))
        );
        assert_eq!(
            resource_group_and_name("/subscriptions/s/resourceGroups/rg"),
            None
        );
        assert_eq!(resource_group_and_name("nonsense"), None);
    }

    #[test]
    fn unchanged_children_keep_their_observed_json() {
        let observed = json!({
            "name": "lb", "location": "westeurope", "etag": "W/\"1\"",
            "properties": {
                "frontendIPConfigurations": [{"name": "theirs", "properties": {"publicIPAddress": {"id": "/x/publicIPAddresses/p"}, "gatewayLoadBalancer": {"id": "/gw"}}}],
                "loadBalancingRules": [],
                "inboundNatRules": [{"name": "ssh", "properties": {"frontendIPConfiguration": {"id": "/lb/frontendIPConfigurations/theirs"}}}]
            }
        });
        let mut model = load_balancer(&observed, "rg");
        assert_eq!(model.nat_frontends, vec!["theirs"]);
        model.probes.push(Probe {
            name: "ours".into(),
            protocol: ProbeProtocol::Http,
            port: 10256,
            path: Some("/healthz".into()),
            interval_seconds: 5,
            threshold: 2,
        });
        let body = load_balancer_body(&model, "/lb", Some(&observed));
        let fe = &body["properties"]["frontendIPConfigurations"][0];
        assert_eq!(
            fe["properties"]["gatewayLoadBalancer"]["id"], "/gw",
            "unmodelled property survives"
        );
        assert_eq!(
            body["properties"]["inboundNatRules"][0]["name"], "ssh",
            "lists aksnet does not model survive"
        );
        assert_eq!(
            body["properties"]["probes"][0]["properties"]["requestPath"],
            "/healthz"
        );
        assert_eq!(
            load_balancer(&body, "rg").probes,
            model.probes,
            "round trip"
        );
    }

    #[test]
    fn security_rules_round_trip_single_and_plural_fields() {
        let rule = SecurityRule {
            name: "r".into(),
            priority: 500,
            direction: Direction::Inbound,
            access: Access::Allow,
            protocol: "Tcp".into(),
            sources: vec!["Internet".into()],
            source_ports: vec!["*".into()],
            destinations: vec!["1.2.3.4".into(), "5.6.7.8".into()],
            destination_ports: vec!["443".into(), "80".into()],
            description: Some("d".into()),
        };
        let nsg = SecurityGroup {
            name: "nsg".into(),
            rules: vec![rule.clone()],
            ..Default::default()
        };
        let body = security_group_body(&nsg, None);
        let props = &body["properties"]["securityRules"][0]["properties"];
        assert_eq!(props["sourceAddressPrefix"], "Internet");
        assert_eq!(
            props["destinationAddressPrefixes"],
            json!(["1.2.3.4", "5.6.7.8"])
        );
        assert_eq!(security_group(&body, "rg").rules, vec![rule]);
    }
}
