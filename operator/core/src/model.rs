//! The Azure objects the planning core reasons about, reduced to the fields aksnet manages.
//!
//! The same types describe the desired state (from [`crate::plan`]) and the observed state (read
//! from Azure by the adapter). Server-computed fields (`etag`, a public IP's `address`, an
//! internal frontend's allocated private IP) are `Option`s that the plan leaves empty and the
//! diff ignores. Children refer to siblings by name; the adapter turns names into ARM ids.
//! Names are compared case-insensitively, as Azure does, through [`name_key`].

use std::collections::BTreeMap;

/// Lower-cased name: the key Azure itself uses to tell resources and children apart.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A borrowed name that compares and hashes as Azure compares names (ASCII case-insensitively),
/// for look-ups that should not allocate a [`name_key`] per child.
#[derive(Clone, Copy, Debug)]
pub struct NoCase<'a>(pub &'a str);

impl PartialEq for NoCase<'_> {
    /// Byte for byte first: names are mostly spelled one way (aksnet's in lower case).
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for NoCase<'_> {}

impl std::hash::Hash for NoCase<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(buf.len()) {
            let lower = &mut buf[..chunk.len()];
            for (to, from) in lower.iter_mut().zip(chunk) {
                *to = from.to_ascii_lowercase();
            }
            state.write(lower);
        }
        // As `str` does: a terminator, so that tuples of names hash apart.
        state.write_u8(0xff);
    }
}

/// `(resource group, name)` in lower case: how Azure tells public IPs apart.
pub type IpKey = (String, String);

/// A borrowed `(resource group, name)`, compared as Azure compares them: an [`IpKey`] that
/// does not allocate.
pub type IpRef<'a> = (NoCase<'a>, NoCase<'a>);

/// Public IPs by [`IpRef`], for many look-ups ([`Observed::public_ip_index`]).
pub type PublicIpIndex<'a> = foldhash::HashMap<IpRef<'a>, &'a PublicIp>;

/// The [`IpRef`] of a public IP.
pub fn ip_ref(ip: &PublicIp) -> IpRef<'_> {
    (NoCase(&ip.resource_group), NoCase(&ip.name))
}

/// The [`IpKey`] of a public IP.
pub fn ip_key(resource_group: &str, name: &str) -> IpKey {
    (name_key(resource_group), name_key(name))
}

/// An ARM id in canonical form: lower case, starting with `/`, with no empty or `.` segments
/// and `..` applied as a URL path would (so `./rg`, `//` and a trailing `/` are gone). Two ids
/// name one Azure object exactly when their canonical forms are equal.
pub fn canonical_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 1);
    for segment in id.split('/') {
        match segment {
            "" | "." => {}
            ".." => out.truncate(out.rfind('/').unwrap_or(0)),
            s => {
                out.push('/');
                out.extend(s.chars().map(|c| c.to_ascii_lowercase()));
            }
        }
    }
    out
}

/// A top-level Microsoft.Network resource named by an ARM id, canonical (lower case).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkResource {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Resource type, e.g. `publicipaddresses`.
    pub kind: String,
    /// Resource name.
    pub name: String,
}

impl NetworkResource {
    /// Parse `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}`
    /// (in its [canonical form](canonical_id)); `None` for anything else.
    pub fn parse(id: &str) -> Option<Self> {
        let canonical = canonical_id(id);
        let parts: Vec<&str> = canonical.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            [
                "subscriptions",
                sub,
                "resourcegroups",
                rg,
                "providers",
                "microsoft.network",
                kind,
                name,
            ] => Some(Self {
                subscription: sub.to_string(),
                resource_group: rg.to_string(),
                kind: kind.to_string(),
                name: name.to_string(),
            }),
            _ => None,
        }
    }
}

/// The [`IpKey`] of the public IP an ARM id names
/// (`/subscriptions/../resourceGroups/{rg}/providers/Microsoft.Network/publicIPAddresses/{name}`).
pub fn ip_key_of_id(id: &str) -> Option<IpKey> {
    NetworkResource::parse(id)
        .filter(|r| r.kind == "publicipaddresses")
        .map(|r| (r.resource_group, r.name))
}

/// `(load balancer, frontend)`, lower case, of a load balancer frontend's ARM id.
pub fn frontend_of_id(id: &str) -> Option<(String, String)> {
    let id = canonical_id(id);
    let (_, rest) = id.split_once("/providers/microsoft.network/loadbalancers/")?;
    let (lb, frontend) = rest.split_once("/frontendipconfigurations/")?;
    Some((lb.to_string(), frontend.to_string()))
}

/// A tag's value, with the key compared as Azure compares it (case-insensitively).
pub fn tag<'t>(tags: &'t Tags, key: &str) -> Option<&'t str> {
    tags.iter()
        .find(|(k, _)| NoCase(k) == NoCase(key))
        .map(|(_, v)| v.as_str())
}

/// Azure tags on a top-level resource.
pub type Tags = BTreeMap<String, String>;

/// IP family of an address, frontend or public IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an IP address.
    pub fn of(ip: &std::net::IpAddr) -> Self {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    /// Azure's spelling: `IPv4` or `IPv6`.
    pub fn azure_name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// Transport protocol of a load-balancing rule or probe target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// Every protocol (SCTP services, HA ports and outbound rules).
    All,
}

impl Protocol {
    /// Upper-case form used in child names (`TCP`, `UDP`, `ALL`).
    pub fn tag(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::All => "ALL",
        }
    }
}

/// A public IP address resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublicIp {
    /// Resource name.
    pub name: String,
    /// Resource group.
    pub resource_group: String,
    /// Azure region.
    pub location: String,
    /// IP family.
    pub family: Family,
    /// Availability zones (`"1"`, `"2"`, `"3"`), sorted.
    pub zones: Vec<String>,
    /// DNS label (`<label>.<location>.cloudapp.azure.com`).
    pub dns_label: Option<String>,
    /// ARM id of the public IP prefix it is allocated from.
    pub prefix_id: Option<String>,
    /// IP tags (`ipTagType`, `tag`), sorted.
    pub ip_tags: Vec<(String, String)>,
    /// Tags, ownership tags included.
    pub tags: Tags,
    /// Server: the allocated address.
    pub address: Option<String>,
    /// Server: the ARM id of the IP configuration using it (e.g. an LB frontend), if any.
    pub used_by: Option<String>,
    /// Server: the entity tag of the observed resource.
    pub etag: Option<String>,
}

/// A Standard load balancer with its children.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct LoadBalancer {
    /// Resource name.
    pub name: String,
    /// Resource group.
    pub resource_group: String,
    /// Azure region.
    pub location: String,
    /// Tags.
    pub tags: Tags,
    /// Frontend IP configurations.
    pub frontends: Vec<Frontend>,
    /// Backend address pools.
    pub backend_pools: Vec<BackendPool>,
    /// Health probes.
    pub probes: Vec<Probe>,
    /// Load-balancing rules.
    pub rules: Vec<LbRule>,
    /// Outbound rules.
    pub outbound_rules: Vec<OutboundRule>,
    /// Names of frontends that inbound NAT rules or pools use (read-only for us).
    pub nat_frontends: Vec<String>,
    /// Server: the entity tag of the observed resource.
    pub etag: Option<String>,
}

/// Where a frontend's address comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FrontendTarget {
    /// A public IP, by ARM id.
    Public {
        /// ARM id of the public IP.
        public_ip_id: String,
    },
    /// A private address in a subnet (internal load balancer).
    Private {
        /// ARM id of the subnet.
        subnet_id: String,
        /// Requested static address; `None` lets Azure allocate one.
        static_ip: Option<String>,
        /// IP family.
        family: Family,
    },
}

/// A frontend IP configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frontend {
    /// Child name.
    pub name: String,
    /// Public IP or private subnet address.
    pub target: FrontendTarget,
    /// Server: the private address Azure allocated (internal frontends).
    pub private_ip: Option<String>,
}

/// An IP-based backend address pool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BackendPool {
    /// Child name.
    pub name: String,
    /// Node addresses, sorted by name; shared, not copied, by every load balancer whose
    /// pool holds the same nodes (a plan has one list per profile, not per load balancer).
    pub addresses: std::sync::Arc<[BackendAddress]>,
}

/// One address in an IP-based backend pool.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackendAddress {
    /// Address name (the node name, or a hash of it when too long).
    pub name: String,
    /// The node's IP address.
    pub ip: String,
    /// ARM id of the virtual network holding the address.
    pub vnet_id: String,
}

/// Health probe protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeProtocol {
    /// TCP connect.
    Tcp,
    /// HTTP GET, 200 means healthy.
    Http,
    /// HTTPS GET, 200 means healthy.
    Https,
}

/// A health probe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    /// Child name.
    pub name: String,
    /// Protocol.
    pub protocol: ProbeProtocol,
    /// Port probed on each node.
    pub port: u16,
    /// Request path for HTTP(S).
    pub path: Option<String>,
    /// Seconds between probes.
    pub interval_seconds: u32,
    /// Consecutive failures before a node is taken out.
    pub threshold: u32,
}

/// Load distribution of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// 5-tuple hash.
    Default,
    /// Client IP affinity (2-tuple).
    SourceIp,
}

/// A load-balancing rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LbRule {
    /// Child name.
    pub name: String,
    /// Frontend (child name).
    pub frontend: String,
    /// Backend pool (child name).
    pub backend_pool: String,
    /// Probe (child name), if any.
    pub probe: Option<String>,
    /// Protocol.
    pub protocol: Protocol,
    /// Frontend port (0 with HA ports).
    pub frontend_port: u16,
    /// Backend port.
    pub backend_port: u16,
    /// TCP idle timeout in minutes.
    pub idle_timeout_minutes: u32,
    /// Floating IP (direct server return).
    pub floating_ip: bool,
    /// Send TCP reset on idle timeout.
    pub tcp_reset: bool,
    /// Load distribution.
    pub distribution: Distribution,
    /// Leave outbound SNAT to the outbound rule.
    pub disable_outbound_snat: bool,
}

/// An outbound rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutboundRule {
    /// Child name.
    pub name: String,
    /// Frontends (child names), sorted.
    pub frontends: Vec<String>,
    /// Backend pool (child name).
    pub backend_pool: String,
    /// SNAT ports per backend instance; `None` lets Azure choose.
    pub allocated_ports: Option<u32>,
    /// Idle timeout in minutes.
    pub idle_timeout_minutes: u32,
}

/// A network security group with its rules.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct SecurityGroup {
    /// Resource name.
    pub name: String,
    /// Resource group.
    pub resource_group: String,
    /// Azure region.
    pub location: String,
    /// Tags.
    pub tags: Tags,
    /// Security rules.
    pub rules: Vec<SecurityRule>,
    /// Server: the entity tag of the observed resource.
    pub etag: Option<String>,
}

/// Direction of a security rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Into the subnet.
    Inbound,
    /// Out of the subnet.
    Outbound,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Admit.
    Allow,
    /// Drop.
    Deny,
}

/// A security rule. Lists hold no duplicates; their order does not matter (the diff sorts).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecurityRule {
    /// Rule name.
    pub name: String,
    /// Priority (100-4096), unique per direction.
    pub priority: u32,
    /// Direction.
    pub direction: Direction,
    /// Access.
    pub access: Access,
    /// Protocol as Azure spells it (`Tcp`, `Udp`, `Icmp`, `Esp`, `Ah`, `*`).
    pub protocol: String,
    /// Source prefixes, IPs or service tags.
    pub sources: Vec<String>,
    /// Source ports.
    pub source_ports: Vec<String>,
    /// Destination prefixes or IPs.
    pub destinations: Vec<String>,
    /// Destination ports.
    pub destination_ports: Vec<String>,
    /// Free text.
    pub description: Option<String>,
}

/// A route table with its routes.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct RouteTable {
    /// Resource name.
    pub name: String,
    /// Resource group.
    pub resource_group: String,
    /// Azure region.
    pub location: String,
    /// Tags.
    pub tags: Tags,
    /// Routes.
    pub routes: Vec<Route>,
    /// Server: the entity tag of the observed resource.
    pub etag: Option<String>,
}

/// A route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// Route name.
    pub name: String,
    /// Destination CIDR.
    pub address_prefix: String,
    /// Next hop type as Azure spells it (`VirtualAppliance`, `Internet`, ...).
    pub next_hop_type: String,
    /// Next hop address for `VirtualAppliance`.
    pub next_hop_ip: Option<String>,
}

/// A Standard NAT gateway: the egress of the subnets associated with it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct NatGateway {
    /// Resource name.
    pub name: String,
    /// Resource group.
    pub resource_group: String,
    /// Azure region.
    pub location: String,
    /// Tags, ownership tags included.
    pub tags: Tags,
    /// Idle timeout of outbound flows in minutes.
    pub idle_timeout_minutes: u32,
    /// ARM ids of its public IPs, sorted.
    pub public_ip_ids: Vec<String>,
    /// Server: ARM ids of the subnets associated with it.
    pub subnets: Vec<String>,
    /// Server: the entity tag of the observed resource.
    pub etag: Option<String>,
}

impl NatGateway {
    /// Whether the ARM id `id` names this gateway.
    pub fn is(&self, id: &str) -> bool {
        NetworkResource::parse(id).is_some_and(|r| {
            r.kind == "natgateways"
                && same_resource(&self.resource_group, &self.name, &r.resource_group, &r.name)
        })
    }

    /// Its ARM id in `subscription`.
    pub fn id_in(&self, subscription: &str) -> String {
        format!(
            "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.Network/natGateways/{}",
            self.resource_group, self.name
        )
    }

    /// Point the back-references of `public_ips` at this gateway as Azure does: its own IPs
    /// name it, and an IP it let go of no longer does.
    pub fn refer(&self, public_ips: &mut [PublicIp]) {
        let listed: Vec<NetworkResource> = self
            .public_ip_ids
            .iter()
            .filter_map(|id| NetworkResource::parse(id))
            .filter(|r| r.kind == "publicipaddresses")
            .collect();
        for p in public_ips {
            let ip_id = listed
                .iter()
                .find(|r| same_resource(&r.resource_group, &r.name, &p.resource_group, &p.name));
            match ip_id {
                Some(ip_id) => p.used_by = Some(self.id_in(&ip_id.subscription)),
                None if p.used_by.as_deref().is_some_and(|u| self.is(u)) => p.used_by = None,
                None => {}
            }
        }
    }
}

/// A Private Link Service: private endpoints of other VNets reach a load balancer frontend
/// through it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct PrivateLinkService {
    /// Resource name.
    pub name: String,
    /// Resource group.
    pub resource_group: String,
    /// Azure region.
    pub location: String,
    /// Tags, ownership tags included.
    pub tags: Tags,
    /// ARM ids of the load balancer frontends it serves.
    pub frontend_ids: Vec<String>,
    /// Its IP configurations (the source addresses of the traffic it forwards).
    pub ip_configurations: Vec<PlsIpConfiguration>,
    /// Subscriptions that may see it (`*`: every one), sorted.
    pub visibility: Vec<String>,
    /// Subscriptions whose private endpoints are approved at once, sorted.
    pub auto_approval: Vec<String>,
    /// FQDNs, sorted.
    pub fqdns: Vec<String>,
    /// TCP proxy protocol v2 towards the backends.
    pub proxy_protocol: bool,
    /// Server: the alias consumers connect with.
    pub alias: Option<String>,
    /// Server: the entity tag of the observed resource.
    pub etag: Option<String>,
}

/// One IP configuration of a Private Link Service.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct PlsIpConfiguration {
    /// Child name.
    pub name: String,
    /// ARM id of its subnet.
    pub subnet_id: String,
    /// The static address, or `None` for one Azure allocates.
    pub static_ip: Option<String>,
    /// The primary configuration.
    pub primary: bool,
    /// Server: the allocated address.
    pub private_ip: Option<String>,
}

/// The node subnet, reduced to the one field aksnet may write: its NAT gateway.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct Subnet {
    /// ARM id of the subnet.
    pub id: String,
    /// ARM id of the NAT gateway associated with it, if any.
    pub nat_gateway_id: Option<String>,
    /// Server: the entity tag of the observed subnet.
    pub etag: Option<String>,
}

impl Subnet {
    /// Whether the subnet's NAT gateway is the one with ARM id `id` (compared canonically).
    pub fn has_nat_gateway(&self, id: &str) -> bool {
        self.nat_gateway_id
            .as_deref()
            .is_some_and(|n| canonical_id(n) == canonical_id(id))
    }
}

/// What aksnet read from Azure: everything the plan and diff need to see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Observed {
    /// Public IPs in the cluster resource group and in resource groups Services name.
    pub public_ips: Vec<PublicIp>,
    /// The public and internal load balancers, when they exist.
    pub load_balancers: Vec<LoadBalancer>,
    /// The cluster NSG, when it exists.
    pub security_group: Option<SecurityGroup>,
    /// The cluster route table, when it exists.
    pub route_table: Option<RouteTable>,
    /// The cluster VNet's subnets (lower-case name → address prefixes), when it was read.
    pub subnets: Option<BTreeMap<String, Vec<String>>>,
    /// The node subnet, when it was read.
    pub node_subnet: Option<Subnet>,
    /// The NAT gateways aksnet looks at: the managed one it names, and the one
    /// `natGateway.id` names.
    pub nat_gateways: Vec<NatGateway>,
    /// Private Link Services in the cluster resource group and in groups Services name.
    pub private_link_services: Vec<PrivateLinkService>,
    /// The cluster VNet's subnets (lower-case names) whose `privateLinkServiceNetworkPolicies`
    /// are `Disabled`, so Private Link Services may take addresses in them.
    pub private_link_subnets: std::collections::BTreeSet<String>,
    /// Public IP prefixes Services name ([canonical](canonical_id) ARM id → whether it exists).
    pub ip_prefixes: BTreeMap<String, bool>,
    /// The subscription's public IP quota in the cluster's region, when it was read.
    pub public_ip_quota: Option<Quota>,
}

/// A quota of the subscription and how much of it is used (ARM's `usages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Resources counted now.
    pub used: usize,
    /// The most there may be.
    pub limit: usize,
}

impl Quota {
    /// How many more there may be.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }
}

impl Observed {
    /// The observed load balancer with this name.
    pub fn load_balancer(&self, name: &str) -> Option<&LoadBalancer> {
        let key = name_key(name);
        self.load_balancers
            .iter()
            .find(|lb| name_key(&lb.name) == key)
    }

    /// The observed Private Link Service with this resource group and name.
    pub fn private_link_service(
        &self,
        resource_group: &str,
        name: &str,
    ) -> Option<&PrivateLinkService> {
        self.private_link_services
            .iter()
            .find(|p| same_pls(p, resource_group, name))
    }

    /// The observed NAT gateway with this resource group and name.
    pub fn nat_gateway(&self, resource_group: &str, name: &str) -> Option<&NatGateway> {
        self.nat_gateways
            .iter()
            .find(|g| same_resource(&g.resource_group, &g.name, resource_group, name))
    }

    /// The observed public IP with this resource group and name (a linear search: use
    /// [`Observed::public_ip_index`] for many look-ups).
    pub fn public_ip(&self, resource_group: &str, name: &str) -> Option<&PublicIp> {
        self.public_ips
            .iter()
            .find(|p| same_resource(&p.resource_group, &p.name, resource_group, name))
    }

    /// The observed public IPs by [`IpRef`].
    pub fn public_ip_index(&self) -> PublicIpIndex<'_> {
        self.public_ips.iter().map(|p| (ip_ref(p), p)).collect()
    }
}

/// What Azure holds after one write: the resource as Azure answered the PUT, or a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A public IP as written (with its address).
    PublicIp(PublicIp),
    /// A load balancer as written (with allocated private frontend addresses).
    LoadBalancer(LoadBalancer),
    /// The NSG as written.
    SecurityGroup(SecurityGroup),
    /// The route table as written.
    RouteTable(RouteTable),
    /// A NAT gateway as written.
    NatGateway(NatGateway),
    /// The node subnet as written.
    Subnet(Subnet),
    /// A Private Link Service as written (with its alias and allocated addresses).
    PrivateLinkService(PrivateLinkService),
    /// A Private Link Service is gone.
    DeletedPrivateLinkService {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
    },
    /// A NAT gateway is gone.
    DeletedNatGateway {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
    },
    /// A load balancer is gone.
    DeletedLoadBalancer {
        /// Its name.
        name: String,
    },
    /// A public IP is gone.
    DeletedPublicIp {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
    },
}

impl Observed {
    /// Take in the result of a write, so the next plan sees Azure as it is now without reading
    /// it again.
    pub fn record(&mut self, applied: Applied) {
        match applied {
            Applied::PublicIp(p) => {
                match self
                    .public_ips
                    .iter_mut()
                    .find(|o| same_resource(&o.resource_group, &o.name, &p.resource_group, &p.name))
                {
                    Some(o) => *o = p,
                    None => {
                        self.public_ips.push(p);
                        if let Some(q) = &mut self.public_ip_quota {
                            q.used += 1;
                        }
                    }
                }
            }
            Applied::LoadBalancer(lb) => {
                match self
                    .load_balancers
                    .iter_mut()
                    .find(|o| o.name.eq_ignore_ascii_case(&lb.name))
                {
                    Some(o) => *o = lb,
                    None => self.load_balancers.push(lb),
                }
            }
            Applied::NatGateway(gw) => {
                self.nat_gateways.retain(|o| {
                    !same_resource(&o.resource_group, &o.name, &gw.resource_group, &gw.name)
                });
                gw.refer(&mut self.public_ips);
                self.nat_gateways.push(gw);
            }
            Applied::Subnet(subnet) => self.node_subnet = Some(subnet),
            Applied::PrivateLinkService(pls) => {
                self.private_link_services
                    .retain(|o| !same_pls(o, &pls.resource_group, &pls.name));
                self.private_link_services.push(pls);
            }
            Applied::DeletedPrivateLinkService {
                resource_group,
                name,
            } => self
                .private_link_services
                .retain(|o| !same_pls(o, &resource_group, &name)),
            Applied::DeletedNatGateway {
                resource_group,
                name,
            } => {
                let gone = NatGateway {
                    resource_group,
                    name,
                    ..NatGateway::default()
                };
                self.nat_gateways.retain(|o| {
                    !same_resource(&o.resource_group, &o.name, &gone.resource_group, &gone.name)
                });
                // Its public IPs are free now.
                gone.refer(&mut self.public_ips);
            }
            Applied::SecurityGroup(nsg) => self.security_group = Some(nsg),
            Applied::RouteTable(rt) => self.route_table = Some(rt),
            Applied::DeletedLoadBalancer { name } => {
                self.load_balancers
                    .retain(|o| !o.name.eq_ignore_ascii_case(&name));
            }
            Applied::DeletedPublicIp {
                resource_group,
                name,
            } => {
                let before = self.public_ips.len();
                self.public_ips
                    .retain(|o| !same_resource(&o.resource_group, &o.name, &resource_group, &name));
                if self.public_ips.len() < before
                    && let Some(q) = &mut self.public_ip_quota
                {
                    q.used = q.used.saturating_sub(1);
                }
            }
        }
    }
}

/// Whether a Private Link Service has this resource group and name.
fn same_pls(pls: &PrivateLinkService, resource_group: &str, name: &str) -> bool {
    pls.resource_group.eq_ignore_ascii_case(resource_group) && pls.name.eq_ignore_ascii_case(name)
}

/// Whether a NAT gateway has this resource group and name.
/// Whether `(resource_group, name)` names the same Azure object as `(other_group, other)`, as
/// Azure compares names (ASCII case-insensitively), without allocating.
fn same_resource(resource_group: &str, name: &str, other_group: &str, other: &str) -> bool {
    name.eq_ignore_ascii_case(other) && resource_group.eq_ignore_ascii_case(other_group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_case_names_compare_and_hash_as_their_name_keys() {
        use std::collections::HashSet;
        let long = "A".repeat(150);
        for (a, b) in [
            ("kubernetes", "KuberNetes"),
            (long.as_str(), &long.to_lowercase()),
        ] {
            assert_eq!(NoCase(a), NoCase(b));
            let set: HashSet<_> = [NoCase(a)].into();
            assert!(set.contains(&NoCase(b)), "{a} and {b} hash apart");
        }
        assert_ne!(NoCase("lb-1"), NoCase("lb-2"));
        // Pairs hash apart when their names split differently.
        let pairs: HashSet<_> = [(NoCase("ab"), NoCase("c"))].into();
        assert!(!pairs.contains(&(NoCase("a"), NoCase("bc"))));
    }

    #[test]
    fn canonical_ids_name_one_object_one_way() {
        let id =
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/publicIPAddresses/IP";
        let canonical =
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/publicipaddresses/ip";
        for spelling in [
            id.to_string(),
            format!("{id}/"),
            id.replace("/RG/", "/./RG/"),
            id.replace("/RG/", "//RG/"),
            id.replace("/RG/", "/x/../RG/"),
        ] {
            assert_eq!(canonical_id(&spelling), canonical, "{spelling}");
        }
        assert_eq!(ip_key_of_id(&format!("{id}/")), Some(ip_key("rg", "ip")));
        assert_eq!(ip_key_of_id("/subscriptions/s/resourceGroups/rg"), None);
    }
}
