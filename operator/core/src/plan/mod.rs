//! The plan: (AksNetwork spec, LoadBalancer Services, Nodes, what Azure holds) → desired state.
//!
//! Pure and deterministic: the same inputs in any order give the same [`Desired`]. Services are
//! served in creation order, so on a clash (a shared IP's port, a limit) the older Service wins
//! and the newer one is rejected with a [`ServiceError`]; but a Service served on a load
//! balancer keeps its room there, whatever its age. A rejected Service is *frozen*: the Azure
//! children it already has are kept as they are (the diff leaves them alone), so a typo in an
//! annotation never takes a working Service down. The observed state is read only to find
//! existing public IPs, keep NSG priorities stable and learn allocated addresses.

mod children;
mod egress;
mod intent;
mod load_balancer;
mod nodes;
mod order;
mod private_link;
mod profiles;
mod routes;
mod security;

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt, HashSet};

use aksnet_crds::{AksNetworkSpec, LoadBalancerSpec};
use k8s_openapi::api::core::v1::{Node, Service};

pub use intent::{DEFAULT_IDLE_TIMEOUT, DEFAULT_PROBE_INTERVAL, DEFAULT_PROBE_THRESHOLD};
pub use nodes::{CONTROL_PLANE_LABEL, EXCLUDE_LABEL};

use crate::model::{
    Frontend, FrontendTarget, IpKey, LoadBalancer, NatGateway, NoCase, Observed,
    PrivateLinkService, PublicIp, PublicIpIndex, RouteTable, SecurityGroup, Subnet, ip_key_of_id,
    name_key,
};
use crate::naming::Ownership;
use crate::problem::{ObjectError, ServiceError};

/// Azure's limits the plan keeps to (configurable so tests can reach them cheaply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Frontend IP configurations per load balancer (Standard: 600).
    pub frontends_per_load_balancer: usize,
    /// Load-balancing rules per load balancer (Standard: 1,500).
    pub rules_per_load_balancer: usize,
    /// Health probes per load balancer (1,000).
    pub probes_per_load_balancer: usize,
    /// Security rules per NSG (1,000).
    pub rules_per_security_group: usize,
    /// Routes per route table (400).
    pub routes_per_table: usize,
    /// Source prefixes, destination prefixes, source ports or destination ports, each kind
    /// summed over the rules of one NSG (4,000; Azure's
    /// `MaxSecurityRuleAddressesOrPortsPerSecurityGroup`).
    pub addresses_or_ports_per_security_group: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            frontends_per_load_balancer: 600,
            rules_per_load_balancer: 1500,
            probes_per_load_balancer: 1000,
            rules_per_security_group: 1000,
            routes_per_table: 400,
            addresses_or_ports_per_security_group: 4000,
        }
    }
}

/// Everything the plan reads.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    /// The AksNetwork's spec.
    pub network: &'a AksNetworkSpec,
    /// Services (all of them; the plan picks the LoadBalancer ones of our class).
    pub services: &'a [Service],
    /// Nodes.
    pub nodes: &'a [Node],
    /// What Azure holds.
    pub observed: &'a Observed,
    /// The `loadBalancerClass` aksnet serves (Services without a class are served too).
    pub load_balancer_class: &'a str,
    /// Azure limits.
    pub limits: Limits,
    /// What the apply engine holds back.
    pub holds: &'a Holds,
    /// Each namespace's labels (load balancer profiles select Services by them).
    pub namespace_labels: &'a BTreeMap<String, BTreeMap<String, String>>,
}

/// What the apply engine asks the plan to hold back while it carries a plan out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holds {
    /// Services whose writes Azure refused (`namespace/name` → why): rejected and frozen
    /// without being placed, so the rest of the plan goes ahead without them.
    pub refused: BTreeMap<String, ServiceError>,
    /// Services left out of the shared-parent writes of this pass while a refused write is
    /// narrowed down: placed (their claims hold), but their children stay as observed.
    pub deferred: BTreeSet<String>,
    /// Services placed earlier in the engine's run (`namespace/name` → lower-case load
    /// balancer name, from [`Desired::newly_placed`]): placed there again while it admits
    /// them, so that a refusal of an older Service does not move a younger one whose writes
    /// have not landed yet, and the run ends where writing one at a time would.
    pub pinned: BTreeMap<String, String>,
}

/// Where a Service's ingress address will come from once Azure has applied the plan.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IngressSource {
    /// The address of this public IP.
    PublicIp {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
    },
    /// The private address of this internal frontend.
    PrivateFrontend {
        /// Load balancer name.
        load_balancer: String,
        /// Frontend name.
        frontend: String,
        /// The static address, when one was asked for.
        static_ip: Option<String>,
    },
}

impl IngressSource {
    /// The address Azure has given this source, if any; `public_ip` finds a public IP by
    /// resource group and name in `observed`.
    pub fn address<'o>(
        &self,
        observed: &'o Observed,
        public_ip: impl Fn(&str, &str) -> Option<&'o PublicIp>,
    ) -> Option<String> {
        match self {
            IngressSource::PublicIp {
                resource_group,
                name,
            } => public_ip(resource_group, name)?.address.clone(),
            IngressSource::PrivateFrontend {
                static_ip: Some(ip),
                ..
            } => Some(ip.clone()),
            IngressSource::PrivateFrontend {
                load_balancer,
                frontend,
                ..
            } => observed
                .load_balancer(load_balancer)?
                .frontends
                .iter()
                .find(|f| name_key(&f.name) == name_key(frontend))?
                .private_ip
                .clone(),
        }
    }
}

/// What the plan decided for one Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceOutcome {
    /// Served; its ingress addresses come from these sources.
    Planned {
        /// One per family.
        ingress: Vec<IngressSource>,
    },
    /// Placed, but its load balancer and NSG children wait (kept as observed) until the public
    /// IPs its frontends name exist with an address, or until a narrowed-down write lets it in.
    Waiting {
        /// What it waits for.
        reason: String,
    },
    /// Not served as asked; its existing Azure children are kept as they are.
    Rejected {
        /// Every reason.
        errors: Vec<ServiceError>,
    },
    /// Not (or no longer) ours: not a LoadBalancer, another class, or being deleted. Its Azure
    /// children are removed, and its finalizer can go once that is applied.
    Released,
}

/// The desired Azure state: only what aksnet owns. The diff merges it into what others own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The cluster's naming scheme and ownership proof.
    pub ownership: Ownership,
    /// Public IPs aksnet creates or keeps up to date.
    pub public_ips: Vec<PublicIp>,
    /// The load balancers aksnet manages, by name, with only aksnet's children; `None` when
    /// nothing of ours is wanted on it (it is deleted if aksnet created it and it is empty).
    pub load_balancers: BTreeMap<String, Option<LoadBalancer>>,
    /// The NSG with only aksnet's rules, when the AksNetwork names one.
    pub security_group: Option<SecurityGroup>,
    /// The route table with only aksnet's routes, when the AksNetwork names one.
    pub route_table: Option<RouteTable>,
    /// The managed NAT gateway (`outboundType: managedNATGateway`); one aksnet created that
    /// is not wanted is deleted once no subnet uses it.
    pub nat_gateway: Option<NatGateway>,
    /// The node subnet with the NAT gateway it should have, when aksnet changes its
    /// association (only to or from the gateway aksnet manages).
    pub subnet: Option<Subnet>,
    /// The Private Link Services of the Services served; one aksnet created that is not
    /// wanted (and whose Service is not frozen) is deleted.
    pub private_link_services: Vec<PrivateLinkService>,
    /// Per Service (`namespace/name`).
    pub services: BTreeMap<String, ServiceOutcome>,
    /// Problems with nodes and spec entries (they are left out; the rest is planned).
    pub errors: Vec<ObjectError>,
    /// Name prefixes (lower case) of rejected and waiting Services, whose observed children
    /// are kept.
    pub frozen: BTreeSet<String>,
    /// Every Service's name prefix (lower case) → its `namespace/name`: which Service a child
    /// (and so a write) carries.
    pub service_prefixes: BTreeMap<String, String>,
    /// What waits for Azure (e.g. an NSG rule for a public IP not allocated yet); plan again
    /// after applying.
    pub pending: Vec<String>,
    /// For each NSG rule (lower-case name), the prefixes of the Services it carries: a rule
    /// packed for several Services names none of them.
    pub rule_carriers: BTreeMap<String, BTreeSet<String>>,
    /// Services placed on a load balancer their rules are not on in Azure (`namespace/name` →
    /// the load balancer's lower-case name): the engine pins them there for the rest of its
    /// run ([`Holds::pinned`]).
    pub newly_placed: BTreeMap<String, String>,
}

impl Desired {
    /// A fingerprint of what is wanted in Azure (public IPs, load balancers, NSG, route table,
    /// and which Services' children are kept as they are), stable within a process: equal
    /// wants give equal fingerprints, whichever Services come and go without Azure changes.
    /// Hashed field by field, without an intermediate copy (a 10,000-Service plan is tens of
    /// megabytes as text).
    pub fn wanted_fingerprint(&self) -> u64 {
        use std::hash::BuildHasher;
        foldhash::quality::FixedState::default().hash_one((
            &self.public_ips,
            &self.load_balancers,
            &self.security_group,
            &self.route_table,
            &self.frozen,
        ))
    }
}

/// Compute the desired state.
pub fn plan(input: &PlanInput<'_>) -> Desired {
    let spec = input.network;
    let az = &spec.azure;
    let ownership = Ownership::new(&az.subscription_id, &az.resource_group, &spec.cluster_name);
    let ctx = Context::new(input, ownership.clone());

    let mut services: Vec<(ServiceOrder, &Service)> = input
        .services
        .iter()
        .map(|s| (service_order(s), s))
        .collect();
    services.sort_by(|a, b| a.0.cmp(&b.0));
    let mut nodes: Vec<&Node> = input.nodes.iter().collect();
    nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));

    // Gathered in creation order and sorted once at the end (cheaper than map inserts).
    let mut outcomes = Vec::with_capacity(services.len());
    let mut frozen = BTreeSet::new();
    let mut service_prefixes = Vec::with_capacity(services.len());
    let mut lbs = load_balancer::Planner::new(&ctx, &nodes);
    let mut nsg = security::Planner::new(&ctx, lbs.node_ips());
    let mut links = private_link::Planner::new(&ctx);
    let mut link_pending = Vec::new();
    // Every Service is read in a first pass and placed in a second: each pass's code then
    // stays in the CPU's instruction cache, which one pass doing both for thousands of
    // Services keeps missing.
    let requests: Vec<_> = services
        .into_iter()
        .map(|((_, key), svc)| {
            let prefix = ownership.service_prefix(svc.metadata.uid.as_deref().unwrap_or(&key));
            let request = Request::read(&ctx, &key, svc);
            // A Service served keeps the room its children take in Azure (on its load
            // balancer, in the NSG) until it is placed; the room of those no longer served (or
            // gone) is free to all.
            let stay = match request {
                Request::NotServed => None,
                _ => lbs.reserve(&prefix),
            };
            let nsg_stay = match &request {
                Request::NotServed => None,
                Request::Served(Ok(intent)) => nsg.reserve(intent, &prefix, stay.is_some()),
                // Rejected as it is read: its rules stay as they are in Azure.
                Request::Refused(_) | Request::Served(Err(_)) => nsg.reserve_as_is(&prefix),
            };
            (key, svc, prefix, request, (stay, nsg_stay))
        })
        .collect();
    for (key, svc, prefix, request, (stay, nsg_stay)) in requests {
        let placed = match request {
            Request::NotServed => {
                if ctx.releases(svc, &prefix) {
                    service_prefixes.push((prefix, key.clone()));
                    outcomes.push((key, ServiceOutcome::Released));
                }
                continue;
            }
            Request::Refused(refusal) => Err(vec![refusal.clone()]),
            Request::Served(intent) => intent.and_then(|intent| {
                let deferred = input.holds.deferred.contains(&key);
                let placement = lbs.place(&intent, &prefix, stay, deferred)?;
                let link = links.check(&intent, &placement.placed, &mut link_pending)?;
                nsg.admit(&intent, &prefix, &placement.placed, nsg_stay.as_ref())?;
                links.record(&key, link);
                Ok(lbs.commit(placement))
            }),
        };
        let outcome = match placed {
            Ok(placed) => match placed.waiting {
                Some(reason) => {
                    frozen.insert(prefix.clone());
                    ServiceOutcome::Waiting { reason }
                }
                None => ServiceOutcome::Planned {
                    ingress: placed.ingress.into_iter().map(|(_, i)| i).collect(),
                },
            },
            Err(errors) => {
                // Frozen, unless what it holds in Azure is an address it may not use: that
                // is given back rather than kept.
                if lbs.holds_forbidden_address(&key, &prefix) {
                    lbs.release(stay);
                    nsg.release(nsg_stay.as_ref());
                } else {
                    frozen.insert(prefix.clone());
                }
                ServiceOutcome::Rejected { errors }
            }
        };
        service_prefixes.push((prefix, key.clone()));
        outcomes.push((key, outcome));
    }
    nsg.reserve_frozen(&frozen);
    let security::NsgPlan {
        security_group,
        mut pending,
        mut errors,
        carriers: rule_carriers,
    } = nsg.finish();
    let egress = lbs.take_egress();
    errors.extend(egress.errors);
    pending.extend(egress.pending);
    pending.extend(link_pending);
    let load_balancer::LbPlan {
        public_ips,
        load_balancers,
        errors: lb_errors,
        newly_placed,
    } = lbs.finish();
    errors.extend(lb_errors);
    let (route_table, route_errors) = routes::plan(&ctx, &nodes);
    errors.extend(route_errors);
    pending.sort();
    Desired {
        ownership,
        public_ips,
        load_balancers,
        security_group,
        route_table,
        nat_gateway: egress.nat_gateway,
        subnet: egress.subnet,
        private_link_services: links.finish(),
        services: sorted_map(outcomes),
        errors,
        frozen,
        service_prefixes: sorted_map(service_prefixes),
        pending,
        rule_carriers,
        newly_placed,
    }
}

/// A map of what the plan gathered in creation order, sorted once (the map then takes the
/// sorted entries in one pass).
fn sorted_map<V>(mut entries: Vec<(String, V)>) -> BTreeMap<String, V> {
    order::sort_by_name(&mut entries, |(key, _)| key);
    entries.into_iter().collect()
}

/// What the plan's first pass reads of a Service.
// Nearly every Service is `Served`: boxing its request would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Request<'i> {
    /// Not served now (released, or another controller's).
    NotServed,
    /// Held out: Azure refused its writes ([`Holds::refused`]).
    Refused(&'i ServiceError),
    /// Its request, or every problem with it.
    Served(Result<intent::ServiceIntent, Vec<ServiceError>>),
}

impl<'i> Request<'i> {
    /// Read one Service (`key` is `namespace/name`).
    fn read(ctx: &Context<'i>, key: &str, svc: &Service) -> Self {
        if !ctx.serves(svc) {
            return Self::NotServed;
        }
        match ctx.input.holds.refused.get(key) {
            Some(refusal) => Self::Refused(refusal),
            None => Self::Served(intent::read(key, svc)),
        }
    }
}

/// Whether aksnet serves the Service now: a LoadBalancer of no class or `class`, not being
/// deleted. Only such Services reach Azure on their own behalf (observe reads what they name).
pub fn serves(svc: &Service, class: &str) -> bool {
    let Some(spec) = svc.spec.as_ref() else {
        return false;
    };
    spec.type_.as_deref() == Some("LoadBalancer")
        && class_is(svc, class)
        && svc.metadata.deletion_timestamp.is_none()
}

/// Whether the Service has no `loadBalancerClass`, or `class`.
fn class_is(svc: &Service, class: &str) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.as_deref())
        .is_none_or(|c| c == class)
}

/// Whether Services may name public IPs (or prefixes) in `resource_group`: the cluster's own,
/// or one `spec.azure.publicIpResourceGroups` lists (names compare as Azure compares them).
pub fn allows_group(network: &AksNetworkSpec, resource_group: &str) -> bool {
    let azure = &network.azure;
    azure.resource_group.eq_ignore_ascii_case(resource_group)
        || azure
            .public_ip_resource_groups
            .iter()
            .any(|g| g.0.eq_ignore_ascii_case(resource_group))
}

/// Whether a public IP prefix a Service names (an ARM id) lies in the cluster's subscription
/// and a resource group Services may name.
pub fn allows_prefix(network: &AksNetworkSpec, id: &str) -> bool {
    crate::model::NetworkResource::parse(id).is_some_and(|r| {
        r.subscription
            .eq_ignore_ascii_case(&network.azure.subscription_id)
            && allows_group(network, &r.resource_group)
    })
}

/// The desired state when the AksNetwork is deleted: none of aksnet's children anywhere, and
/// the public IPs it created gone (static ones with `deletionPolicy: Retain` stay, as the diff
/// never deletes those). Resources that do not exist are not created.
pub fn teardown(network: &AksNetworkSpec, observed: &Observed) -> Desired {
    let az = &network.azure;
    let ownership = Ownership::new(
        &az.subscription_id,
        &az.resource_group,
        &network.cluster_name,
    );
    let lb = load_balancer_spec(network);
    // Every profile's load balancers, the ones they grew to included (observe reads those).
    let mut names: Vec<String> = observed
        .load_balancers
        .iter()
        .map(|l| l.name.clone())
        .chain([lb.public_name, lb.internal_name])
        .chain(lb.profiles.into_iter().map(|p| p.name))
        .collect();
    names.sort_by_key(|n| name_key(n));
    names.dedup_by_key(|n| name_key(n));
    Desired {
        public_ips: Vec::new(),
        load_balancers: names.into_iter().map(|n| (n, None)).collect(),
        security_group: observed.security_group.clone().map(|mut nsg| {
            nsg.rules.clear();
            nsg.etag = None;
            nsg
        }),
        route_table: observed.route_table.clone().map(|mut rt| {
            rt.routes.clear();
            rt.etag = None;
            rt
        }),
        nat_gateway: None,
        subnet: egress::teardown(observed, &ownership, network),
        private_link_services: Vec::new(),
        ownership,
        services: BTreeMap::new(),
        errors: Vec::new(),
        frozen: BTreeSet::new(),
        service_prefixes: BTreeMap::new(),
        pending: Vec::new(),
        rule_carriers: BTreeMap::new(),
        newly_placed: BTreeMap::new(),
    }
}

/// The AksNetwork's load balancer settings, with the defaults (`kubernetes` and
/// `kubernetes-internal`, the cloud provider's names) when it sets none.
pub fn load_balancer_spec(network: &AksNetworkSpec) -> LoadBalancerSpec {
    network.load_balancer.clone().unwrap_or_default()
}

/// The namespace of a Service key (`namespace/name`).
pub(crate) fn namespace_of(key: &str) -> &str {
    key.split_once('/').map_or("default", |(ns, _)| ns)
}

/// `namespace/name` of a Service.
pub fn service_key(svc: &Service) -> String {
    [
        svc.metadata.namespace.as_deref().unwrap_or("default"),
        "/",
        svc.metadata.name.as_deref().unwrap_or_default(),
    ]
    .concat()
}

/// Creation time and `namespace/name`: older Services win clashes.
type ServiceOrder = (Option<k8s_openapi::jiff::Timestamp>, String);

/// The [`ServiceOrder`] of a Service.
fn service_order(svc: &Service) -> ServiceOrder {
    (
        svc.metadata.creation_timestamp.as_ref().map(|t| t.0),
        service_key(svc),
    )
}

/// Facts every part of the plan shares.
pub(crate) struct Context<'a> {
    pub input: &'a PlanInput<'a>,
    /// Observed public IPs by key.
    pub observed_ips: PublicIpIndex<'a>,
    /// [`Context::ips_by_dns_label`]. This index and the next two are built when first asked:
    /// most Services name no DNS label and no address.
    ips_by_dns_label: OnceCell<HashMap<&'a str, Vec<&'a PublicIp>>>,
    /// [`Context::ips_by_address`].
    ips_by_address: OnceCell<HashMap<std::net::IpAddr, Vec<&'a PublicIp>>>,
    /// [`Context::frontends_by_private_ip`].
    frontends_by_private_ip: OnceCell<PrivateFrontends<'a>>,
    /// Service prefixes that have objects in Azure (computed when first asked: only a Service
    /// aksnet does not serve asks).
    observed_prefixes: OnceCell<HashSet<NoCase<'a>>>,
    /// Who uses which shared address in Azure now.
    pub addresses: AddressUse,
    pub ownership: Ownership,
    pub lb_spec: LoadBalancerSpec,
    pub vnet_id: String,
    /// Whether the public load balancer carries the outbound rule
    /// ([`egress::keeps_outbound_rule`]).
    pub outbound_rule: bool,
}

impl<'a> Context<'a> {
    fn new(input: &'a PlanInput<'a>, ownership: Ownership) -> Self {
        let az = &input.network.azure;
        let vnet_rg = az
            .vnet
            .resource_group
            .as_deref()
            .unwrap_or(&az.resource_group);
        let lb_spec = load_balancer_spec(input.network);
        let mut ctx = Self {
            vnet_id: format!(
                "/subscriptions/{}/resourceGroups/{vnet_rg}/providers/Microsoft.Network/virtualNetworks/{}",
                az.subscription_id, az.vnet.name
            ),
            observed_ips: input.observed.public_ip_index(),
            ips_by_dns_label: OnceCell::new(),
            ips_by_address: OnceCell::new(),
            frontends_by_private_ip: OnceCell::new(),
            observed_prefixes: OnceCell::new(),
            addresses: AddressUse::observe(input, &ownership),
            input,
            ownership,
            lb_spec,
            outbound_rule: false,
        };
        ctx.outbound_rule = egress::keeps_outbound_rule(&ctx);
        ctx
    }

    /// Observed public IPs by DNS label.
    pub fn ips_by_dns_label(&self) -> &HashMap<&'a str, Vec<&'a PublicIp>> {
        let observed = self.input.observed;
        self.ips_by_dns_label
            .get_or_init(|| index_ips(observed, |p| p.dns_label.as_deref()))
    }

    /// Observed public IPs by address.
    pub fn ips_by_address(&self) -> &HashMap<std::net::IpAddr, Vec<&'a PublicIp>> {
        let observed = self.input.observed;
        self.ips_by_address.get_or_init(|| {
            index_ips(observed, |p| {
                p.address.as_deref().and_then(|a| a.parse().ok())
            })
        })
    }

    /// Observed load balancer frontends by their private address.
    pub fn frontends_by_private_ip(&self) -> &PrivateFrontends<'a> {
        let observed = self.input.observed;
        self.frontends_by_private_ip
            .get_or_init(|| private_frontends(observed))
    }

    /// The observed public IP with this resource group and name.
    pub fn observed_ip(&self, resource_group: &str, name: &str) -> Option<&'a PublicIp> {
        self.observed_ips
            .get(&(NoCase(resource_group), NoCase(name)))
            .copied()
    }

    /// The cluster (node) resource group.
    pub fn resource_group(&self) -> &str {
        &self.input.network.azure.resource_group
    }

    /// See [`allows_prefix`].
    pub fn allows_prefix(&self, id: &str) -> bool {
        allows_prefix(self.input.network, id)
    }

    /// See [`allows_group`].
    pub fn allows_group(&self, resource_group: &str) -> bool {
        allows_group(self.input.network, resource_group)
    }

    /// The Azure region.
    pub fn location(&self) -> &str {
        &self.input.network.azure.location
    }

    /// ARM id of a subnet of the cluster VNet.
    pub fn subnet_id(&self, subnet: &str) -> String {
        format!("{}/subnets/{subnet}", self.vnet_id)
    }

    /// ARM id of a load balancer in the cluster resource group.
    pub fn load_balancer_id(&self, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/{name}",
            self.input.network.azure.subscription_id,
            self.resource_group()
        )
    }

    /// ARM id of a public IP.
    pub fn public_ip_id(&self, resource_group: &str, name: &str) -> String {
        [
            "/subscriptions/",
            &self.input.network.azure.subscription_id,
            "/resourceGroups/",
            resource_group,
            "/providers/Microsoft.Network/publicIPAddresses/",
            name,
        ]
        .concat()
    }

    /// Whether aksnet serves this Service now.
    fn serves(&self, svc: &Service) -> bool {
        serves(svc, self.input.load_balancer_class)
    }

    /// Whether a Service aksnet does not serve (now) is one to release: of our class, or
    /// with objects of its own in this cluster's Azure. A Service of another class that aksnet
    /// never served is another controller's, and left alone (its finalizer included).
    fn releases(&self, svc: &Service, prefix: &str) -> bool {
        class_is(svc, self.input.load_balancer_class)
            || self
                .observed_prefixes
                .get_or_init(|| observed_prefixes(self.input.observed, &self.ownership))
                .contains(&NoCase(prefix))
    }
}

/// The observed public IPs by a key some of them have.
fn index_ips<'a, K: std::hash::Hash + Eq>(
    observed: &'a Observed,
    key: impl Fn(&'a PublicIp) -> Option<K>,
) -> HashMap<K, Vec<&'a PublicIp>> {
    let mut index: HashMap<K, Vec<&'a PublicIp>> =
        HashMap::with_capacity(observed.public_ips.len());
    for ip in &observed.public_ips {
        if let Some(k) = key(ip) {
            index.entry(k).or_default().push(ip);
        }
    }
    index
}

/// Load balancer frontends by their private address.
pub(crate) type PrivateFrontends<'a> =
    HashMap<std::net::IpAddr, Vec<(&'a LoadBalancer, &'a Frontend)>>;

/// The observed load balancer frontends by their private address.
fn private_frontends(observed: &Observed) -> PrivateFrontends<'_> {
    let mut index: HashMap<_, Vec<_>> = HashMap::new();
    for lb in &observed.load_balancers {
        for f in &lb.frontends {
            if let Some(ip) = f.private_ip.as_deref().and_then(|a| a.parse().ok()) {
                index.entry(ip).or_default().push((lb, f));
            }
        }
    }
    index
}

/// An address that Services may share: a public IP, or a static private address on the
/// internal load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum AddressKey {
    /// A public IP.
    Public(IpKey),
    /// A static private address, in canonical text.
    Private(String),
}

impl AddressKey {
    /// The shared address a frontend target stands for, if it is one (a Service's own dynamic
    /// private frontend is not).
    pub fn of(target: &FrontendTarget) -> Option<Self> {
        match target {
            FrontendTarget::Public { public_ip_id } => ip_key_of_id(public_ip_id).map(Self::Public),
            FrontendTarget::Private {
                static_ip: Some(ip),
                ..
            } => ip
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| Self::Private(ip.to_string())),
            FrontendTarget::Private { .. } => None,
        }
    }
}

/// The shared addresses Services use in Azure now (a rule of theirs on the address's
/// frontend), read once per plan.
#[derive(Default)]
pub(crate) struct AddressUse {
    /// For each address, the namespace of the oldest Service using it: it holds the address,
    /// and a Service of another namespace may not take it (unless the AksNetwork shares it,
    /// `allowedNamespaces`).
    pub holders: HashMap<AddressKey, String>,
    /// For each Service prefix (lower case), the addresses its rules sit on.
    pub by_service: HashMap<String, BTreeSet<AddressKey>>,
}

impl AddressUse {
    fn observe(input: &PlanInput<'_>, ownership: &Ownership) -> Self {
        // Most Services use addresses of their own: the Services are indexed only when some
        // rule in Azure sits on a shared one.
        let shared_somewhere = input.observed.load_balancers.iter().any(|lb| {
            lb.rules
                .iter()
                .any(|rule| !ownership.same_service(&rule.name, &rule.frontend))
        });
        if !shared_somewhere {
            return Self::default();
        }
        let services: HashMap<String, (ServiceOrder, String)> = input
            .services
            .iter()
            .map(|svc| {
                let order = service_order(svc);
                let prefix =
                    ownership.service_prefix(svc.metadata.uid.as_deref().unwrap_or(&order.1));
                let namespace = namespace_of(&order.1).to_string();
                (name_key(&prefix), (order, namespace))
            })
            .collect();
        let mut holders: HashMap<AddressKey, (&ServiceOrder, &String)> = HashMap::new();
        let mut by_service: HashMap<String, BTreeSet<AddressKey>> = HashMap::new();
        for lb in &input.observed.load_balancers {
            let frontends: HashMap<String, &FrontendTarget> = lb
                .frontends
                .iter()
                .map(|f| (name_key(&f.name), &f.target))
                .collect();
            for rule in &lb.rules {
                let name = name_key(&rule.name);
                let Some(prefix) = ownership.service_prefix_of(&name) else {
                    continue;
                };
                // A Service's own frontend (its public IP, its dynamic private address) is
                // shared with no one.
                let frontend = name_key(&rule.frontend);
                if ownership.service_prefix_of(&frontend) == Some(prefix) {
                    continue;
                }
                let Some(address) = frontends.get(&frontend).and_then(|t| AddressKey::of(t)) else {
                    continue;
                };
                by_service
                    .entry(prefix.to_string())
                    .or_default()
                    .insert(address.clone());
                if let Some((order, namespace)) = services.get(prefix) {
                    let holder = holders.entry(address).or_insert((order, namespace));
                    if order < holder.0 {
                        *holder = (order, namespace);
                    }
                }
            }
        }
        Self {
            holders: holders
                .into_iter()
                .map(|(k, (_, ns))| (k, ns.clone()))
                .collect(),
            by_service,
        }
    }
}

/// The Service prefixes of the children and public IPs aksnet owns in `observed`.
fn observed_prefixes<'a>(observed: &'a Observed, ownership: &Ownership) -> HashSet<NoCase<'a>> {
    let lbs = observed.load_balancers.iter().flat_map(|lb| {
        lb.frontends
            .iter()
            .map(|c| &c.name)
            .chain(lb.rules.iter().map(|c| &c.name))
            .chain(lb.probes.iter().map(|c| &c.name))
    });
    let rules = observed
        .security_group
        .iter()
        .flat_map(|n| n.rules.iter().map(|r| &r.name));
    let ips = observed.public_ips.iter().map(|p| &p.name);
    lbs.chain(rules)
        .chain(ips)
        .filter_map(|n| ownership.service_prefix_of(n).map(NoCase))
        .collect()
}
