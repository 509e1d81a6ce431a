//! Placing Services on the public and internal load balancers: frontends (shared by IP),
//! public IPs, rules and probes, with port-clash and limit checks; plus outbound rules and
//! backend pools.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet};
use std::net::IpAddr;

use aksnet_crds::IpVersion;
use k8s_openapi::api::core::v1::Node;

use super::children::{Builder, Children, Resolved, rule_ports};
use super::intent::{AddressSource, ManagedIp, ServiceIntent};
use super::order::{sort_by_name, sort_runs_by_name};
use super::profiles::{self, Profile};
use super::{AddressKey, Context, IngressSource, egress, namespace_of};
use crate::model::{
    BackendAddress, BackendPool, Family, Frontend, FrontendTarget, LbRule, LoadBalancer, NoCase,
    OutboundRule, Probe, Protocol, PublicIp, name_key,
};
use crate::naming::{Ownership, TAG_DELETION_POLICY, TAG_SERVICE};
use crate::problem::{ObjectError, Problem, ServiceError};

/// How a Service was placed: where its addresses come from, for status and NSG rules.
pub(crate) struct Placed {
    /// One per family.
    pub ingress: Vec<(Family, IngressSource)>,
    /// `(family, protocol, backend port)` of each rule.
    pub ports: Vec<(Family, Protocol, u16)>,
    /// Why its frontends, rules and probes are not written yet (its claims hold meanwhile).
    pub waiting: Option<String>,
}

/// A Service placed but not yet taken in: what [`Planner::commit`] adds.
pub(crate) struct Placement {
    /// What the rest of the plan needs to know.
    pub placed: Placed,
    key: String,
    /// The load balancer it goes on.
    target: Target,
    /// Its rules and probes, and the ports they claim.
    children: Children,
    resolved: Vec<Resolved>,
    /// How many public IPs it creates.
    created: usize,
    /// Where its children are in Azure now: the room it gives back once taken in.
    stay: Option<Stay>,
}

/// Frontends, rules and probes: what a load balancer's limits count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    frontends: usize,
    rules: usize,
    probes: usize,
}

impl Counts {
    /// The kinds' names, in the order of [`Counts::kinds`].
    const NAMES: [&'static str; 3] = ["frontends", "rules", "probes"];

    /// Each kind's count.
    fn kinds(self) -> [usize; 3] {
        [self.frontends, self.rules, self.probes]
    }

    /// Each kind's limit.
    fn limits(limits: &super::Limits) -> [usize; 3] {
        [
            limits.frontends_per_load_balancer,
            limits.rules_per_load_balancer,
            limits.probes_per_load_balancer,
        ]
    }

    /// These and `other`, kind by kind.
    fn plus(self, other: Counts) -> Counts {
        Counts {
            frontends: self.frontends + other.frontends,
            rules: self.rules + other.rules,
            probes: self.probes + other.probes,
        }
    }

    /// These less `other`, kind by kind, never below zero.
    fn less(self, other: Counts) -> Counts {
        Counts {
            frontends: self.frontends.saturating_sub(other.frontends),
            rules: self.rules.saturating_sub(other.rules),
            probes: self.probes.saturating_sub(other.probes),
        }
    }
}

/// Where a Service's rules are in Azure now, and how many of its own children are there:
/// the room it keeps on that load balancer until the plan takes it in (or gives it up).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stay {
    /// Index into [`Planner::lbs`].
    lb: usize,
    /// Its own frontends (named by its prefix), rules and probes there.
    children: Counts,
}

/// What a Service would add to a load balancer, for the limit checks.
#[derive(Clone, Copy, Debug, Default)]
struct Adding {
    /// Children the load balancer does not hold in Azure for another Service.
    fresh: Counts,
    /// Frontends in Azure shared with other Services that no Service has taken in yet.
    shared: usize,
    /// What it holds on this load balancer in Azure now, when its rules are there.
    own: Option<Counts>,
}

/// How a Service fits on a load balancer.
struct Fit {
    /// How many public IPs it creates.
    created: usize,
    /// Why its children wait, if they do.
    waiting: Option<String>,
}

/// A load balancer a Service may go on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// One being planned (index into [`Planner::lbs`]).
    Existing(usize),
    /// The next one of a profile, which this placement adds.
    New { profile: usize, name: String },
}

/// One load balancer being planned.
struct LbState {
    name: String,
    /// Index of its profile.
    profile: usize,
    /// Its frontends by lower-case name.
    frontends: HashMap<String, Frontend>,
    rules: Vec<LbRule>,
    /// How many rules and probes each Service taken in added, in order (runs of
    /// [`LbState::rules`] and [`LbState::probes`] named by one Service's prefix, which sort
    /// apart).
    runs: (Vec<usize>, Vec<usize>),
    /// The families whose backend pool a rule of [`LbState::rules`] names.
    rule_pools: std::collections::BTreeSet<Family>,
    probes: Vec<Probe>,
    outbound: Option<OutboundRule>,
    /// Children of others already on the observed LB: (frontends, rules, probes).
    foreign: (usize, usize, usize),
    /// Children of waiting Services, counted against the limits but not written yet:
    /// (frontend names, rules, probes).
    held: (std::collections::BTreeSet<String>, usize, usize),
    /// For each frontend (lower-case name): (protocol, port) → the Service holding it.
    ports: HashMap<String, HashMap<(Protocol, u16), String>>,
    /// The own children in Azure of Services whose rules are on it, until the plan takes
    /// each Service in or gives its children up: room they keep ([`Stay`]).
    reserved: Counts,
    /// aksnet's frontends in Azure not named for one Service (shared by address) that no
    /// Service has taken in yet (lower-case names).
    reserved_shared: HashSet<String>,
}

impl LbState {
    /// Sized for what Azure holds on it (the steady state: the plan puts the same back).
    fn new(ctx: &Context<'_>, name: &str, profile: usize) -> Self {
        let observed = ctx.input.observed.load_balancer(name);
        let o = &ctx.ownership;
        let foreign = observed.map_or((0, 0, 0), |lb| {
            (
                lb.frontends
                    .iter()
                    .filter(|c| !o.owns_child(&c.name))
                    .count(),
                lb.rules.iter().filter(|c| !o.owns_child(&c.name)).count(),
                lb.probes.iter().filter(|c| !o.owns_child(&c.name)).count(),
            )
        });
        let (frontends, rules, probes) = observed.map_or((0, 0, 0), |lb| {
            (lb.frontends.len(), lb.rules.len(), lb.probes.len())
        });
        Self {
            name: name.to_string(),
            profile,
            frontends: HashMap::with_capacity(frontends),
            rules: Vec::with_capacity(rules),
            runs: Default::default(),
            rule_pools: Default::default(),
            probes: Vec::with_capacity(probes),
            outbound: None,
            foreign,
            held: Default::default(),
            ports: HashMap::with_capacity(frontends),
            reserved: Counts::default(),
            reserved_shared: HashSet::default(),
        }
    }
}

impl LbState {
    /// What the plan has taken in (and holds for waiting Services), with others' children.
    fn used(&self) -> Counts {
        Counts {
            frontends: self.frontends.len() + self.foreign.0 + self.held.0.len(),
            rules: self.rules.len() + self.foreign.1 + self.held.1,
            probes: self.probes.len() + self.foreign.2 + self.held.2,
        }
    }

    /// The room Services staying on it keep until the plan takes them in (for the limit check).
    fn kept(&self) -> Counts {
        Counts {
            frontends: self.reserved.frontends + self.reserved_shared.len(),
            ..self.reserved
        }
    }

    /// How full it is with what the plan has taken in so far: the fullest of its frontends,
    /// rules and probes, in thousandths of the limit. The room Services staying on it keep is
    /// left out: which of them Azure already holds depends on when writes landed, and the
    /// choice must not (the limit check counts that room).
    fn fullness(&self, limits: &super::Limits) -> usize {
        let used = self.used().kinds();
        (used.into_iter().zip(Counts::limits(limits)))
            .map(|(used, limit)| used * 1000 / limit.max(1))
            .max()
            .unwrap_or(0)
    }

    /// Another Service that holds every port of a frontend: its high-availability ports
    /// rule when `ha` is false, any rule at all when `ha` is true (an HA ports rule takes the
    /// frontend whole).
    fn all_ports_owner(&self, frontend: &str, ha: bool, key: &str) -> Option<&str> {
        let claims = self.ports.get(frontend)?;
        if ha {
            // The first by name, so the answer does not depend on the order of the map.
            claims
                .values()
                .filter(|owner| *owner != key)
                .min()
                .map(String::as_str)
        } else {
            claims
                .get(&(Protocol::All, 0))
                .filter(|owner| *owner != key)
                .map(String::as_str)
        }
    }

    /// The Service holding `(protocol, port)` on a frontend (lower-case name), if any.
    fn port_owner(&self, frontend: &str, protocol: Protocol, port: u16) -> Option<&String> {
        self.ports.get(frontend)?.get(&(protocol, port))
    }

    /// Errors if a Service adding these children would pass a limit (counting others'
    /// children). A Service arriving, moving in or growing takes only room no Service staying
    /// on it keeps, older or younger; one staying as it is counts only what was taken in
    /// before it, so on a load balancer over its limits (lowered at run time) the older
    /// Services keep their places.
    fn capacity(&self, key: &str, limits: &super::Limits, adding: &Adding) -> Vec<ServiceError> {
        let Adding { fresh, shared, own } = *adding;
        let added = Counts {
            frontends: fresh.frontends + shared,
            ..fresh
        }
        .kinds();
        let used = self.used().kinds();
        let kept = self.kept().less(own.unwrap_or_default()).kinds();
        let (fresh, own_kinds) = (fresh.kinds(), own.unwrap_or_default().kinds());
        let limit = Counts::limits(limits);
        (0..3)
            .filter_map(|i| {
                let stays = own.is_some() && fresh[i] <= own_kinds[i];
                let total = used[i] + if stays { added[i] } else { kept[i] + fresh[i] };
                (added[i] > 0 && total > limit[i]).then(|| {
                    let what = format!("{} on load balancer {}", Counts::NAMES[i], self.name);
                    let limit = limit[i];
                    ServiceError::new(key, "spec.ports", Problem::Limit { what, limit })
                })
            })
            .collect()
    }
}

/// `children` in runs of one Service's (a Service's children are usually next to each other),
/// each with the Service's prefix (`prefix_of`); children of no Service are left out.
fn runs<'c, T>(
    children: &'c [T],
    prefix_of: impl Fn(&'c T) -> Option<&'c str>,
) -> Vec<(&'c str, &'c [T])> {
    let mut out = Vec::new();
    let (mut start, mut last) = (0, None);
    for (i, child) in children.iter().enumerate() {
        let prefix = prefix_of(child);
        if prefix != last {
            out.extend(last.map(|p| (p, &children[start..i])));
            (start, last) = (i, prefix);
        }
    }
    out.extend(last.map(|p| (p, &children[start..])));
    out
}

/// Places Services on the load balancers, one at a time.
pub(crate) struct Planner<'c, 'a> {
    ctx: &'c Context<'a>,
    profiles: Vec<Profile>,
    /// The load balancers being planned: each profile's first, then the others Azure has or
    /// this plan adds. The first is `publicName`, the second `internalName`.
    lbs: Vec<LbState>,
    /// [`Planner::lbs`] by lower-case name.
    lb_index: HashMap<String, usize>,
    /// Where each Service's rules are in Azure now: its prefix → the load balancer, and the
    /// room its own children take there.
    current: HashMap<NoCase<'a>, Stay>,
    /// Frontends in Azure on the load balancers above: name → load balancer.
    observed_frontends: HashMap<NoCase<'a>, usize>,
    /// Frontends this plan has put (or holds for waiting Services) on the load balancers:
    /// lower-case name → load balancer.
    planned_frontends: HashMap<String, usize>,
    /// The public IPs planned, by [`crate::model::IpKey`].
    public_ips: HashMap<(String, String), PublicIp>,
    /// Services placed where their rules are not in Azure: `(namespace/name, load balancer)`.
    newly_placed: Vec<(String, String)>,
    dns_labels: HashMap<String, String>,
    /// Builds the Services' frontends and children.
    build: Builder<'c, 'a>,
    errors: Vec<ObjectError>,
    /// Shared addresses taken in this plan: the namespace of the first Service placed on each.
    address_users: HashMap<AddressKey, String>,
    /// Public IPs this plan creates (none of that name in Azure yet), against the quota.
    new_ips: usize,
    /// The egress of the outbound type (its NAT gateway's public IPs are planned here).
    egress: egress::Egress,
}

impl<'c, 'a> Planner<'c, 'a> {
    /// A planner with the AksNetwork's static IPs and outbound rule in place.
    pub fn new(ctx: &'c Context<'a>, nodes: &[&Node]) -> Self {
        let profiles = profiles::profiles(&ctx.lb_spec, nodes, &ctx.vnet_id);
        let mut lbs: Vec<LbState> = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| LbState::new(ctx, &p.name, i))
            .collect();
        // The load balancers a profile grew to, while Azure has them.
        let mut grown: Vec<(usize, u32, String)> = ctx
            .input
            .observed
            .load_balancers
            .iter()
            .filter(|lb| ctx.ownership.owns_resource(&lb.tags))
            .filter_map(|lb| {
                profiles.iter().enumerate().find_map(|(i, p)| {
                    p.instance_of(&lb.name)
                        .filter(|n| *n >= 2)
                        .map(|n| (i, n, lb.name.clone()))
                })
            })
            .collect();
        grown.sort();
        lbs.extend(
            grown
                .into_iter()
                .map(|(i, _, name)| LbState::new(ctx, &name, i)),
        );
        let lb_index: HashMap<String, usize> = lbs
            .iter()
            .enumerate()
            .map(|(i, lb)| (name_key(&lb.name), i))
            .collect();
        let observed = &ctx.input.observed.load_balancers;
        let mut current: HashMap<NoCase<'a>, Stay> =
            HashMap::with_capacity(observed.iter().map(|l| l.rules.len()).sum());
        let mut observed_frontends =
            HashMap::with_capacity(observed.iter().map(|l| l.frontends.len()).sum());
        // aksnet's frontends in Azure that Services share (by address): those their rules are
        // on that are not named for one of them.
        let mut shared = Vec::new();
        for seen in observed {
            let Some(&lb) = lb_index.get(&name_key(&seen.name)) else {
                continue;
            };
            let o = &ctx.ownership;
            // The rules say where a Service is (its rules on two load balancers while it
            // moves: the last one), and what of its own is there: each rule's probe, and the
            // frontends named by its prefix that they are on.
            for (p, rules) in runs(&seen.rules, |r| o.service_prefix_of(&r.name)) {
                let mut children = Counts {
                    rules: rules.len(),
                    probes: rules.iter().filter(|r| r.probe.is_some()).count(),
                    frontends: 0,
                };
                for (i, r) in rules.iter().enumerate() {
                    let fe = r.frontend.as_str();
                    if rules[..i].iter().any(|e| NoCase(&e.frontend) == NoCase(fe)) {
                        continue;
                    }
                    if fe.get(..p.len()).is_some_and(|f| NoCase(f) == NoCase(p)) {
                        children.frontends += 1;
                    } else if o.owns_child(fe) {
                        shared.push((lb, name_key(fe)));
                    }
                }
                current.insert(NoCase(p), Stay { lb, children });
            }
            for fe in &seen.frontends {
                observed_frontends.insert(NoCase(fe.name.as_str()), lb);
            }
        }
        let mut planner = Self {
            ctx,
            profiles,
            lbs,
            lb_index,
            current,
            observed_frontends,
            planned_frontends: HashMap::with_capacity(ctx.input.services.len()),
            public_ips: HashMap::with_capacity(ctx.input.services.len()),
            newly_placed: Vec::new(),
            dns_labels: HashMap::new(),
            build: Builder::new(ctx),
            errors: Vec::new(),
            address_users: HashMap::new(),
            new_ips: 0,
            egress: egress::Egress::default(),
        };
        planner.static_ips();
        planner.outbound();
        planner.reserve_shared(shared);
        let egress = egress::plan(ctx, |name| {
            planner
                .build
                .managed_ip(name, Family::V4, ManagedIp::default())
        });
        for ip in &egress.public_ips {
            planner.public_ips.insert(
                (name_key(&ip.resource_group), name_key(&ip.name)),
                ip.clone(),
            );
        }
        planner.egress = egress;
        // The network's own public IPs go first: a quota that runs out is the tenants'.
        planner.new_ips = planner
            .public_ips
            .values()
            .filter(|p| ctx.observed_ip(&p.resource_group, &p.name).is_none())
            .count();
        planner
    }

    /// Keep the room of the frontends in Azure shared by address (`shared`: load balancer,
    /// lower-case name) that nothing of the network's own (the outbound rule's) has taken in.
    fn reserve_shared(&mut self, shared: Vec<(usize, String)>) {
        for (i, key) in shared {
            let lb = &mut self.lbs[i];
            if !lb.frontends.contains_key(&key) && !lb.held.0.contains(&key) {
                lb.reserved_shared.insert(key);
            }
        }
    }

    /// Keep the room the children in Azure of a Service served take where its rules are (its
    /// [`Stay`], for [`Planner::place`]), until it is taken in or [released](Planner::release).
    /// Every Service served is reserved before any is placed; the room of children whose
    /// Service is not served (or gone) is free to all.
    pub fn reserve(&mut self, prefix: &str) -> Option<Stay> {
        let stay = self.current.get(&NoCase(prefix)).copied()?;
        let lb = &mut self.lbs[stay.lb];
        lb.reserved = lb.reserved.plus(stay.children);
        Some(stay)
    }

    /// Give up the room a Service keeps where its rules are in Azure (its [`Stay`]): it is
    /// taken in (its children are counted as placed), or not placed and its children there go.
    pub fn release(&mut self, stay: Option<Stay>) {
        if let Some(stay) = stay {
            let lb = &mut self.lbs[stay.lb];
            lb.reserved = lb.reserved.less(stay.children);
        }
    }

    /// Every backend node's addresses, per family (`publicName`'s pools hold every one).
    fn every_node(&self) -> &BTreeMap<Family, std::sync::Arc<[BackendAddress]>> {
        &self.profiles[0].pools
    }

    /// Node addresses of the backend pools, per family.
    pub fn node_ips(&self) -> BTreeMap<Family, Vec<String>> {
        self.every_node()
            .iter()
            .map(|(f, a)| (*f, a.iter().map(|a| a.ip.clone()).collect()))
            .collect()
    }

    /// The AksNetwork's static public IPs: created and kept up to date by aksnet, unless a
    /// public IP of that name exists that aksnet did not create.
    fn static_ips(&mut self) {
        let ctx = self.ctx;
        for ip in &ctx.input.network.public_ips {
            let rg = ctx.resource_group().to_string();
            if let Some(existing) = ctx.observed_ip(&rg, &ip.name)
                && !ctx.ownership.owns_resource(&existing.tags)
            {
                self.errors.push(ObjectError {
                    object: format!("spec.publicIps[{}]", ip.name),
                    problem: Problem::Conflict(format!(
                        "public IP {} exists in {rg} and was not created by aksnet; use it with the {} annotation instead",
                        ip.name,
                        crate::annotations::PIP_NAME
                    )),
                });
                continue;
            }
            let mut tags = ctx.ownership.tags();
            tags.extend(ip.tags.clone());
            tags.insert(
                TAG_DELETION_POLICY.into(),
                format!("{:?}", ip.deletion_policy),
            );
            if let Some(label) = &ip.dns_label {
                self.dns_labels
                    .insert(label.clone(), format!("spec.publicIps[{}]", ip.name));
            }
            let mut zones: Vec<String> = ip
                .zones
                .iter()
                .filter_map(|z| serde_json::to_value(z).ok())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            zones.sort();
            self.public_ips.insert(
                (name_key(&rg), name_key(&ip.name)),
                PublicIp {
                    name: ip.name.clone(),
                    resource_group: rg,
                    location: ctx.location().to_string(),
                    family: match ip.ip_version {
                        IpVersion::IPv4 => Family::V4,
                        IpVersion::IPv6 => Family::V6,
                    },
                    zones,
                    dns_label: ip.dns_label.clone(),
                    prefix_id: None,
                    ip_tags: Vec::new(),
                    tags,
                    address: None,
                    used_by: None,
                    etag: None,
                },
            );
        }
    }

    /// Outbound rule with managed public IPs on the public LB (`outboundType: loadBalancer`,
    /// or while egress switches away from it: [`egress::keeps_outbound_rule`]).
    fn outbound(&mut self) {
        let ctx = self.ctx;
        if !ctx.outbound_rule {
            return;
        }
        let settings = ctx.lb_spec.outbound.clone();
        let count = settings.as_ref().map_or(1, |o| o.managed_outbound_ip_count);
        let mut frontends = Vec::new();
        for i in 1..=count {
            let name = ctx.ownership.outbound_ip(i);
            let rg = ctx.resource_group().to_string();
            let pip = self
                .build
                .managed_ip(&name, Family::V4, ManagedIp::default());
            self.public_ips
                .insert((name_key(&rg), name_key(&name)), pip);
            frontends.push(name);
        }
        // The rule names its public IPs: it waits until they all exist, so one refused
        // outbound IP never holds back the Services' frontends on the same load balancer.
        self.planned_frontends
            .extend(frontends.iter().map(|n| (name_key(n), 0)));
        let ready = frontends.iter().all(|name| {
            ctx.observed_ip(ctx.resource_group(), name)
                .is_some_and(|p| p.address.is_some())
        });
        self.build.outbound_snat = ready || egress::outbound_rule_live(ctx);
        if !ready {
            // Its frontends count against the limit meanwhile, so no Service takes their room.
            self.lbs[0]
                .held
                .0
                .extend(frontends.iter().map(|n| name_key(n)));
            return;
        }
        for name in &frontends {
            let rg = ctx.resource_group();
            self.lbs[0].frontends.insert(
                name_key(name),
                Frontend {
                    name: name.clone(),
                    target: FrontendTarget::Public {
                        public_ip_id: ctx.public_ip_id(rg, name),
                    },
                    private_ip: None,
                },
            );
        }
        frontends.sort();
        self.lbs[0].outbound = Some(OutboundRule {
            name: ctx.ownership.outbound_rule(),
            frontends,
            backend_pool: ctx.ownership.backend_pool(Family::V4),
            allocated_ports: settings.as_ref().and_then(|o| o.allocated_outbound_ports),
            idle_timeout_minutes: settings.as_ref().map_or(30, |o| o.idle_timeout_minutes),
        });
    }

    /// Place one Service, or say why it cannot be placed; nothing changes until the placement
    /// is [committed](Planner::commit) (after the NSG admits it too). A `deferred` Service, or
    /// one whose public IPs do not exist yet, keeps its claims (ports, DNS label, public IPs)
    /// but gets no frontends, rules or probes yet: a load balancer write never names a public
    /// IP that is still being created. `stay` is where its children are in Azure now
    /// ([`Planner::reserve`]).
    pub fn place(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
        stay: Option<Stay>,
        deferred: bool,
    ) -> Result<Placement, Vec<ServiceError>> {
        let eligible = profiles::eligible(&self.profiles, intent, self.ctx.input.namespace_labels)
            .map_err(|e| vec![e])?;
        let (resolved, children) = self.resolve_all(intent, prefix)?;
        // The first load balancer it fits on; a full one is no reason to refuse while another
        // may take it.
        let mut full = None;
        for target in self.targets(intent, prefix, stay, &eligible, &resolved)? {
            let fresh;
            let (lb, own) = match &target {
                Target::Existing(i) => (
                    &self.lbs[*i],
                    stay.filter(|s| s.lb == *i).map(|s| s.children),
                ),
                Target::New { profile, name } => {
                    fresh = LbState::new(self.ctx, name, *profile);
                    (&fresh, None)
                }
            };
            match self.fits(lb, own, intent, deferred, &resolved, &children) {
                Ok(fit) => {
                    let at = &lb.name;
                    let placement = Self::placement(intent, target, at, resolved, children, fit);
                    return Ok(Placement { stay, ..placement });
                }
                Err(errors)
                    if errors
                        .iter()
                        .all(|e| matches!(e.problem, Problem::Limit { .. })) =>
                {
                    full.get_or_insert(errors);
                }
                Err(errors) => return Err(errors),
            }
        }
        Err(full.unwrap_or_default())
    }

    /// A Service's placement on the load balancer `lb` (its `target`).
    fn placement(
        intent: &ServiceIntent,
        target: Target,
        lb: &str,
        mut resolved: Vec<Resolved>,
        children: Children,
        fit: Fit,
    ) -> Placement {
        for r in &mut resolved {
            if let IngressSource::PrivateFrontend { load_balancer, .. } = &mut r.ingress {
                lb.clone_into(load_balancer);
            }
        }
        let ports = (resolved.iter())
            .flat_map(|r| (intent.ports.iter()).map(|p| (r.family, p.protocol, p.backend_port)))
            .collect();
        Placement {
            placed: Placed {
                ingress: (resolved.iter())
                    .map(|r| (r.family, r.ingress.clone()))
                    .collect(),
                ports,
                waiting: fit.waiting,
            },
            key: intent.key.clone(),
            target,
            children,
            resolved,
            created: fit.created,
            stay: None,
        }
    }

    /// Every family's frontend of a Service and its children, or every reason it has none.
    fn resolve_all(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
    ) -> Result<(Vec<Resolved>, Children), Vec<ServiceError>> {
        let mut resolved = Vec::with_capacity(intent.frontends.len());
        let mut errors = Vec::new();
        for (family, source) in &intent.frontends {
            match self.resolve(intent, prefix, *family, source) {
                Ok(r) => resolved.push(r),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let children = self.build.children(intent, prefix, &resolved);
        Ok((resolved, children))
    }

    /// An error when a public IP aksnet creates for the Service asks for a DNS label a Service
    /// placed before (or a static IP of the AksNetwork) has.
    fn dns_label_free(
        &self,
        intent: &ServiceIntent,
        source: &AddressSource,
    ) -> Result<(), ServiceError> {
        let AddressSource::Managed(ManagedIp {
            dns_label: Some(label),
            ..
        }) = source
        else {
            return Ok(());
        };
        match self.dns_labels.get(label) {
            Some(other) if *other != intent.key => {
                let p =
                    Problem::Conflict(format!("DNS label {label:?} is already used by {other}"));
                Err(ServiceError::new(
                    &intent.key,
                    crate::annotations::DNS_LABEL,
                    p,
                ))
            }
            _ => Ok(()),
        }
    }

    /// The load balancers to try for a Service, in order: the one holding an address it
    /// shares (only that one), else the one it is on now (only that one: a Service never
    /// moves unless its profiles change), else those of its profiles that take new Services,
    /// least full first, then each such profile's next one while it may grow.
    fn targets(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
        stay: Option<Stay>,
        eligible: &[usize],
        resolved: &[Resolved],
    ) -> Result<Vec<Target>, Vec<ServiceError>> {
        let field = if intent.configurations.is_some() {
            crate::annotations::LB_CONFIGURATIONS
        } else {
            "metadata.labels"
        };
        for r in resolved {
            let fe = &r.key;
            let planned = self.planned_frontends.get(fe).copied();
            let shared_in_azure = self
                .observed_frontends
                .get(&NoCase(fe))
                .filter(|_| {
                    self.ctx
                        .ownership
                        .service_prefix_of(fe)
                        .is_none_or(|own| NoCase(own) != NoCase(prefix))
                })
                .copied();
            if let Some(i) = planned.or(shared_in_azure) {
                if !eligible.contains(&self.lbs[i].profile) {
                    let p = Problem::Conflict(format!(
                        "its address is on load balancer {}, whose profile does not admit the Service",
                        self.lbs[i].name
                    ));
                    return Err(vec![ServiceError::new(&intent.key, field, p)]);
                }
                return Ok(vec![Target::Existing(i)]);
            }
        }
        if let Some(i) = stay
            .map(|s| s.lb)
            .filter(|i| eligible.contains(&self.lbs[*i].profile))
        {
            return Ok(vec![Target::Existing(i)]);
        }
        let limits = &self.ctx.input.limits;
        let open = |p: usize| self.profiles[p].placement && eligible.contains(&p);
        let mut existing: Vec<usize> = (0..self.lbs.len())
            .filter(|i| open(self.lbs[*i].profile))
            .collect();
        existing.sort_by_key(|i| (self.lbs[*i].fullness(limits), *i));
        let mut targets: Vec<Target> = existing.into_iter().map(Target::Existing).collect();
        targets.extend(
            eligible
                .iter()
                .filter(|p| open(**p))
                .filter_map(|p| self.next_instance(*p)),
        );
        // Placed earlier in the engine's run: tried there first, so that an older Service
        // Azure refuses since does not move it before its writes land.
        if let Some(pinned) = self.ctx.input.holds.pinned.get(&intent.key)
            && let Some(at) =
                (targets.iter()).position(|t| NoCase(self.target_name(t)) == NoCase(pinned))
        {
            targets[..=at].rotate_right(1);
        }
        if targets.is_empty() {
            let p = Problem::Conflict(
                "every load balancer profile that admits the Service has allowServicePlacement: false".into(),
            );
            return Err(vec![ServiceError::new(&intent.key, field, p)]);
        }
        Ok(targets)
    }

    /// The name of the load balancer a target is.
    fn target_name<'t>(&'t self, target: &'t Target) -> &'t str {
        match target {
            Target::Existing(i) => &self.lbs[*i].name,
            Target::New { name, .. } => name,
        }
    }

    /// A profile's next load balancer, while it has fewer than its maximum.
    fn next_instance(&self, profile: usize) -> Option<Target> {
        let p = &self.profiles[profile];
        let taken = |name: &str| {
            self.lb_index.contains_key(&name_key(name))
                || self
                    .profiles
                    .iter()
                    .any(|o| name_key(&o.name) == name_key(name))
        };
        let count = self.lbs.iter().filter(|l| l.profile == profile).count();
        if count >= p.max as usize {
            return None;
        }
        (2..=p.max)
            .map(|n| p.instance(n))
            .find(|name| !taken(name))
            .map(|name| Target::New { profile, name })
    }

    /// How a Service with these frontends and children fits on one load balancer, or why it
    /// does not fit there.
    fn fits(
        &self,
        lb: &LbState,
        own: Option<Counts>,
        intent: &ServiceIntent,
        deferred: bool,
        resolved: &[Resolved],
        children: &Children,
    ) -> Result<Fit, Vec<ServiceError>> {
        let key = intent.key.as_str();
        let limits = &self.ctx.input.limits;
        let rules = Adding {
            fresh: Counts {
                frontends: 0,
                rules: children.rules.len(),
                probes: children.probes.len(),
            },
            shared: 0,
            own,
        };
        let errors = lb.capacity(key, limits, &rules);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut errors = Vec::new();
        let field = if intent.internal {
            "internal frontend"
        } else {
            "public frontend"
        };
        for r in resolved {
            if let Some(existing) = lb.frontends.get(&r.key)
                && existing.target != r.frontend.target
            {
                let p = Problem::Conflict(format!(
                    "frontend {} is shared with other Services but with different settings",
                    r.frontend.name
                ));
                errors.push(ServiceError::new(key, field, p));
            }
        }
        let rule_ports = rule_ports(intent);
        for r in resolved {
            let fe_key = &r.key;
            if let Some(owner) = lb.all_ports_owner(fe_key, intent.ha_ports, key) {
                let problem = Problem::PortClash {
                    port: 0,
                    protocol: "ALL",
                    frontend: frontend_label(&r.ingress),
                    other: owner.to_string(),
                };
                errors.push(ServiceError::new(key, "spec.ports", problem));
            }
            for p in rule_ports.iter() {
                let protocols: &[Protocol] = match p.protocol {
                    Protocol::All => &[Protocol::Tcp, Protocol::Udp, Protocol::All],
                    other => &[other, Protocol::All],
                };
                for proto in protocols {
                    if let Some(owner) = lb.port_owner(fe_key, *proto, p.port)
                        && owner != key
                    {
                        let problem = Problem::PortClash {
                            port: p.port,
                            protocol: p.protocol.tag(),
                            frontend: frontend_label(&r.ingress),
                            other: owner.clone(),
                        };
                        errors.push(ServiceError::new(key, "spec.ports", problem));
                    }
                }
            }
        }

        // New to what the plan holds: frontends in Azure shared with others, or fresh ones.
        let (shared, fresh) = (resolved.iter())
            .map(|r| &r.key)
            .filter(|n| !lb.frontends.contains_key(*n) && !lb.held.0.contains(*n))
            .fold((0, 0), |(shared, fresh), n| {
                if !lb.reserved_shared.is_empty() && lb.reserved_shared.contains(n) {
                    (shared + 1, fresh)
                } else {
                    (shared, fresh + 1)
                }
            });
        let frontends = Adding {
            fresh: Counts {
                frontends: fresh,
                ..Counts::default()
            },
            shared,
            own,
        };
        errors.extend(lb.capacity(key, limits, &frontends));
        // Each frontend's public IP as Azure has it, looked up once.
        let in_azure: Vec<Option<&PublicIp>> = resolved
            .iter()
            .map(|r| match &r.ingress {
                IngressSource::PublicIp {
                    resource_group,
                    name,
                } => self.ctx.observed_ip(resource_group, name),
                IngressSource::PrivateFrontend { .. } => None,
            })
            .collect();
        let created = self.created(resolved, &in_azure);
        errors.extend(self.quota(key, created));
        if !errors.is_empty() {
            return Err(errors);
        }

        let waiting = if deferred {
            Some("held back while Azure's refusal of a shared write is narrowed down".to_string())
        } else {
            resolved
                .iter()
                .zip(&in_azure)
                .find_map(|(r, seen)| match &r.ingress {
                    IngressSource::PublicIp { name, .. }
                        if seen.is_none_or(|p| p.address.is_none()) =>
                    {
                        Some(format!("public IP {name} is being created"))
                    }
                    _ => None,
                })
        };
        Ok(Fit { created, waiting })
    }

    /// The public IPs of `resolved` that neither Azure (`in_azure`: each one's public IP there,
    /// the one a created public IP would take) nor this plan has yet.
    fn created(&self, resolved: &[Resolved], in_azure: &[Option<&PublicIp>]) -> usize {
        resolved
            .iter()
            .zip(in_azure)
            .filter_map(|(r, seen)| r.public_ip.as_ref().filter(|_| seen.is_none()))
            .filter(|p| {
                !self
                    .public_ips
                    .contains_key(&(name_key(&p.resource_group), name_key(&p.name)))
            })
            .count()
    }

    /// An error if creating `wanted` more public IPs would pass the subscription's public IP
    /// quota in the region (when it was read), counting what this plan creates.
    fn quota(&self, key: &str, wanted: usize) -> Option<ServiceError> {
        let quota = self.ctx.input.observed.public_ip_quota?;
        (wanted > 0 && self.new_ips + wanted > quota.room()).then(|| {
            let what = format!(
                "public IP addresses of the subscription in {} ({} in use)",
                self.ctx.location(),
                quota.used
            );
            let p = Problem::Limit {
                what,
                limit: quota.limit,
            };
            ServiceError::new(key, "spec.type", p)
        })
    }

    /// Take a placement in: its claims always, its children unless it waits.
    pub fn commit(&mut self, placement: Placement) -> Placed {
        let Placement {
            placed,
            key,
            target,
            children:
                Children {
                    rules,
                    probes,
                    claimed,
                },
            resolved,
            created,
            stay,
        } = placement;
        let waiting = placed.waiting.is_some();
        self.new_ips += created;
        // Its children are counted as taken in from here on, wherever it goes.
        self.release(stay);
        let index = match target {
            Target::Existing(i) => i,
            Target::New { profile, name } => {
                self.lb_index.insert(name_key(&name), self.lbs.len());
                self.lbs.push(LbState::new(self.ctx, &name, profile));
                self.lbs.len() - 1
            }
        };
        let lb = &mut self.lbs[index];
        if stay.is_none_or(|s| s.lb != index) {
            self.newly_placed.push((key.clone(), name_key(&lb.name)));
        }
        if !lb.reserved_shared.is_empty() {
            for r in &resolved {
                lb.reserved_shared.remove(&r.key);
            }
        }
        for (frontend, protocol, port) in claimed {
            lb.ports
                .entry(frontend)
                .or_default()
                .insert((protocol, port), key.clone());
        }
        if waiting {
            for r in &resolved {
                if !lb.frontends.contains_key(&r.key) {
                    lb.held.0.insert(r.key.clone());
                }
            }
            lb.held.1 += rules.len();
            lb.held.2 += probes.len();
        } else {
            if !rules.is_empty() {
                // Each frontend has the same rules, each on its family's pool.
                lb.rule_pools.extend(resolved.iter().map(|r| r.family));
            }
            lb.runs.0.push(rules.len());
            lb.runs.1.push(probes.len());
            lb.rules.extend(rules);
            lb.probes.extend(probes);
        }
        let namespace = namespace_of(&key);
        for r in &resolved {
            self.planned_frontends.insert(r.key.clone(), index);
        }
        for r in resolved {
            if r.public_ip.is_none()
                && let Some(address) = AddressKey::of(&r.frontend.target)
            {
                self.address_users
                    .entry(address)
                    .or_insert_with(|| namespace.to_string());
            }
            if !waiting {
                lb.frontends.entry(r.key).or_insert(r.frontend);
            }
            if let Some(pip) = r.public_ip {
                if let Some(label) = &pip.dns_label {
                    self.dns_labels.insert(label.clone(), key.clone());
                }
                self.public_ips
                    .insert((name_key(&pip.resource_group), name_key(&pip.name)), pip);
            }
        }
        placed
    }

    /// Resolve one family's frontend of a Service.
    fn resolve(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
        family: Family,
        source: &AddressSource,
    ) -> Result<Resolved, ServiceError> {
        let ctx = self.ctx;
        let key = intent.key.as_str();
        let cluster_rg = ctx.resource_group();
        match source {
            AddressSource::Managed(ip) => {
                self.dns_label_free(intent, source)?;
                self.build.managed(intent, prefix, family, ip)
            }
            AddressSource::NamedPublicIp {
                resource_group,
                name,
            } => {
                let rg = self.allowed_group(key, resource_group.as_deref())?;
                let field = crate::annotations::pip_name_annotation(family);
                self.existing_ip(key, prefix, family, rg, name, field)
            }
            AddressSource::PublicAddress {
                resource_group,
                ip,
                field,
            } => {
                self.allowed_group(key, resource_group.as_deref())?;
                let groups = [resource_group.as_deref(), Some(cluster_rg)];
                let found = groups.into_iter().flatten().find_map(|rg| {
                    ctx.ips_by_address()
                        .get(ip)
                        .into_iter()
                        .flatten()
                        .find(|p| p.resource_group.eq_ignore_ascii_case(rg))
                });
                match found {
                    Some(p) => {
                        self.existing_ip(key, prefix, family, &p.resource_group, &p.name, field)
                    }
                    None => Err(ServiceError::new(
                        key,
                        field,
                        Problem::NotFound(format!(
                            "no public IP with address {ip} in resource group {}",
                            groups
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" or ")
                        )),
                    )),
                }
            }
            AddressSource::Private { subnet, ip, field } => {
                let spec_subnet = &ctx.input.network.azure.vnet.subnet_name;
                let subnet = subnet.as_deref().unwrap_or(spec_subnet);
                self.check_private(key, prefix, subnet, ip.as_ref(), field)?;
                if let Some(ip) = ip
                    && let Some(holder) =
                        self.held_elsewhere(key, &AddressKey::Private(ip.to_string()))
                {
                    let p = Problem::AddressNotAllowed(format!(
                        "private address {ip} is used by Services of namespace {holder}"
                    ));
                    return Err(ServiceError::new(key, field, p));
                }
                if let Some(ip) = ip
                    && subnet == spec_subnet
                    && let Ok(net) = ctx
                        .input
                        .network
                        .ip_plan
                        .node_subnet_cidr
                        .parse::<ipnet::IpNet>()
                    && Family::of(ip) == Family::of(&net.addr())
                    && !net.contains(ip)
                {
                    let p = Problem::InvalidValue(format!("{ip} is outside the node subnet {net}"));
                    return Err(ServiceError::new(key, field, p));
                }
                let name = match ip {
                    Some(ip) => ctx.ownership.private_ip_frontend(ip),
                    None => ctx.ownership.service_frontend(prefix, family),
                };
                let static_ip = ip.map(|i| i.to_string());
                Ok(Resolved {
                    key: name_key(&name),
                    ingress: IngressSource::PrivateFrontend {
                        load_balancer: ctx.lb_spec.internal_name.clone(),
                        frontend: name.clone(),
                        static_ip: static_ip.clone(),
                    },
                    frontend: Frontend {
                        name,
                        target: FrontendTarget::Private {
                            subnet_id: ctx.subnet_id(subnet),
                            static_ip,
                            family,
                        },
                        private_ip: None,
                    },
                    public_ip: None,
                    family,
                })
            }
        }
    }

    /// What Azure would refuse about an internal frontend, seen before writing: a subnet the
    /// VNet lacks, a static address outside its subnet, or one a node or another frontend
    /// holds.
    fn check_private(
        &self,
        key: &str,
        prefix: &str,
        subnet: &str,
        ip: Option<&IpAddr>,
        address_field: &str,
    ) -> Result<(), ServiceError> {
        let ctx = self.ctx;
        let vnet = &ctx.input.network.azure.vnet.name;
        let prefixes = match &ctx.input.observed.subnets {
            Some(subnets) => match subnets.get(&name_key(subnet)) {
                Some(prefixes) => Some(prefixes),
                None => {
                    let p = Problem::NotFound(format!("subnet {subnet} in VNet {vnet}"));
                    return Err(ServiceError::new(
                        key,
                        crate::annotations::INTERNAL_SUBNET,
                        p,
                    ));
                }
            },
            None => None,
        };
        let Some(ip) = ip else { return Ok(()) };
        let family = Family::of(ip);
        if let Some(prefixes) = prefixes {
            let inside = prefixes
                .iter()
                .any(|p| p.parse::<ipnet::IpNet>().is_ok_and(|net| net.contains(ip)));
            let same_family = prefixes.iter().any(|p| {
                p.parse::<ipnet::IpNet>()
                    .is_ok_and(|net| Family::of(&net.addr()) == family)
            });
            if same_family && !inside {
                let p = Problem::InvalidValue(format!(
                    "{ip} is outside subnet {subnet} ({})",
                    prefixes.join(", ")
                ));
                return Err(ServiceError::new(key, address_field, p));
            }
        }
        let text = ip.to_string();
        if let Some(node) = self
            .every_node()
            .get(&family)
            .and_then(|pool| pool.iter().find(|a| a.ip == text))
        {
            let p = Problem::Conflict(format!("{ip} is the address of node {}", node.name));
            return Err(ServiceError::new(key, address_field, p));
        }
        // The shared frontend of this address, and this Service's own, may hold it already.
        let shared = name_key(&ctx.ownership.private_ip_frontend(ip));
        let own = name_key(prefix);
        let holder = ctx
            .frontends_by_private_ip()
            .get(ip)
            .into_iter()
            .flatten()
            .find(|(_, f)| {
                let name = name_key(&f.name);
                name != shared && ctx.ownership.service_prefix_of(&name) != Some(own.as_str())
            })
            .map(|(lb, f)| format!("frontend {} of load balancer {}", f.name, lb.name));
        if let Some(holder) = holder {
            let p = Problem::Conflict(format!("{ip} is held by {holder}"));
            return Err(ServiceError::new(key, address_field, p));
        }
        Ok(())
    }

    /// The resource group a Service names for its public IPs (the cluster's when it names
    /// none), if the AksNetwork allows it.
    fn allowed_group<'r>(
        &'r self,
        key: &str,
        named: Option<&'r str>,
    ) -> Result<&'r str, ServiceError> {
        let rg = named.unwrap_or(self.ctx.resource_group());
        if self.ctx.allows_group(rg) {
            return Ok(rg);
        }
        let p = Problem::ResourceGroupNotAllowed(format!(
            "{rg} is neither the cluster's resource group nor listed in the AksNetwork's spec.azure.publicIpResourceGroups"
        ));
        Err(ServiceError::new(
            key,
            crate::annotations::RESOURCE_GROUP,
            p,
        ))
    }

    /// The namespace other than the Service's that holds a shared address: in Azure now (the
    /// oldest Service with a rule on it), else the first Service placed on it in this plan.
    fn held_elsewhere(&self, key: &str, address: &AddressKey) -> Option<String> {
        let namespace = namespace_of(key);
        self.ctx
            .addresses
            .holders
            .get(address)
            .or_else(|| self.address_users.get(address))
            .filter(|holder| holder.as_str() != namespace)
            .cloned()
    }

    /// Whether the Service may use the existing public IP `pip` (`rg`/`name`): an AksNetwork
    /// static IP whose `allowedNamespaces` admit its namespace; the IP aksnet made for this
    /// Service; or an IP no aksnet instance owns that no other namespace holds. Never the
    /// outbound IP, another Service's IP or another cluster's.
    fn may_use(&self, key: &str, prefix: &str, pip: &PublicIp) -> Result<(), String> {
        let ctx = self.ctx;
        let (rg, name) = (&pip.resource_group, &pip.name);
        let namespace = namespace_of(key);
        let spec_ip = ctx
            .input
            .network
            .public_ips
            .iter()
            .find(|s| ctx.ownership.is_cluster_group(rg) && s.name.eq_ignore_ascii_case(name));
        if let Some(spec_ip) = spec_ip {
            return match &spec_ip.allowed_namespaces {
                Some(allowed) if !allowed.iter().any(|ns| ns.0 == namespace) => Err(format!(
                    "public IP {name} (spec.publicIps) admits only namespaces [{}] (allowedNamespaces)",
                    allowed
                        .iter()
                        .map(|ns| ns.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                _ => Ok(()),
            };
        }
        if let Some(owner) = Ownership::owner_tag(&pip.tags) {
            let ours = ctx.ownership.owns_resource(&pip.tags);
            if ours && ctx.ownership.service_prefix_of(&name_key(name)) == Some(&name_key(prefix)) {
                return Ok(());
            }
            return Err(if !ours {
                format!("public IP {name} belongs to another aksnet cluster (owner {owner})")
            } else if ctx.ownership.is_outbound_ip(name) {
                format!("public IP {name} is the cluster's outbound IP")
            } else if let Some(service) = crate::model::tag(&pip.tags, TAG_SERVICE) {
                format!("public IP {name} is the one aksnet made for Service {service}")
            } else {
                format!("public IP {name} is managed by aksnet and not listed in spec.publicIps")
            });
        }
        let address = AddressKey::Public(crate::model::ip_key(rg, name));
        match self.held_elsewhere(key, &address) {
            Some(holder) => Err(format!(
                "public IP {name} is used by Services of namespace {holder}; sharing an address across namespaces needs an AksNetwork spec.publicIps entry that admits both (allowedNamespaces)"
            )),
            None => Ok(()),
        }
    }

    /// Whether the Service's rules in Azure sit on an address it may not use (an older
    /// aksnet, or another writer, put them there). Such a Service is not frozen when it is
    /// rejected: the address is given back.
    pub fn holds_forbidden_address(&self, key: &str, prefix: &str) -> bool {
        let ctx = self.ctx;
        let Some(addresses) = ctx.addresses.by_service.get(&name_key(prefix)) else {
            return false;
        };
        addresses.iter().any(|address| match address {
            AddressKey::Public((rg, name)) => ctx
                .observed_ip(rg, name)
                .is_some_and(|pip| self.may_use(key, prefix, pip).is_err()),
            AddressKey::Private(_) => self.held_elsewhere(key, address).is_some(),
        })
    }

    /// A public IP that exists (in Azure, or in the AksNetwork's static IPs) and that the
    /// Service may use.
    fn existing_ip(
        &self,
        key: &str,
        prefix: &str,
        family: Family,
        rg: &str,
        name: &str,
        field: &str,
    ) -> Result<Resolved, ServiceError> {
        let ctx = self.ctx;
        let planned = self.public_ips.get(&(name_key(rg), name_key(name)));
        let observed = ctx.observed_ip(rg, name);
        let Some(pip) = planned.or(observed) else {
            let p = Problem::NotFound(format!("public IP {name} in resource group {rg}"));
            return Err(ServiceError::new(key, field, p));
        };
        self.may_use(key, prefix, pip)
            .map_err(|reason| ServiceError::new(key, field, Problem::AddressNotAllowed(reason)))?;
        if pip.family != family {
            let p = Problem::Conflict(format!(
                "public IP {name} is {}, the Service asks for {}",
                pip.family.azure_name(),
                family.azure_name()
            ));
            return Err(ServiceError::new(key, field, p));
        }
        let frontend = self.build.public_frontend_name(&pip.name);
        if let Some(user) = observed.and_then(|p| p.used_by.as_deref()) {
            // Its frontend on one of our public load balancers, or someone else's.
            let user_key = name_key(user);
            let ours = self
                .lbs
                .iter()
                .filter(|l| !self.profiles[l.profile].internal)
                .any(|l| {
                    user_key.ends_with(&format!(
                        "/loadbalancers/{}/frontendipconfigurations/{}",
                        name_key(&l.name),
                        name_key(&frontend)
                    ))
                });
            if !ours {
                let p = Problem::Conflict(format!("public IP {name} is in use by {user}"));
                return Err(ServiceError::new(key, field, p));
            }
        }
        Ok(self
            .build
            .public_frontend(family, &pip.resource_group, &pip.name, None))
    }

    /// The public IPs and load balancers, and problems found on the way.
    /// The egress plan: the NAT gateway, its public IPs (also among [`Planner::finish`]'s) and
    /// the node subnet's association.
    pub fn take_egress(&mut self) -> egress::Egress {
        std::mem::take(&mut self.egress)
    }

    pub fn finish(self) -> LbPlan {
        let mut lbs = BTreeMap::new();
        for state in self.lbs {
            let pools = &self.profiles[state.profile].pools;
            let lb = build(self.ctx, state, pools);
            lbs.insert(lb.0, lb.1);
        }
        // By resource group, then name: sorted by name, then (stably) by resource group.
        let mut ips: Vec<_> = self.public_ips.into_iter().collect();
        sort_by_name(&mut ips, |((_, name), _)| name);
        sort_by_name(&mut ips, |((rg, _), _)| rg);
        LbPlan {
            public_ips: ips.into_iter().map(|(_, ip)| ip).collect(),
            load_balancers: lbs,
            errors: self.errors,
            newly_placed: self.newly_placed.into_iter().collect(),
        }
    }
}

/// The planned load balancers and public IPs, and what the rest of the plan needs to know.
pub(crate) struct LbPlan {
    /// The public IPs.
    pub public_ips: Vec<PublicIp>,
    /// The load balancers by lower-case name (`None`: one of ours to delete).
    pub load_balancers: BTreeMap<String, Option<LoadBalancer>>,
    /// Problems.
    pub errors: Vec<ObjectError>,
    /// Services placed where their rules are not in Azure: where ([`Desired::newly_placed`]).
    ///
    /// [`Desired::newly_placed`]: super::Desired::newly_placed
    pub newly_placed: BTreeMap<String, String>,
}

/// The Service or address a port clash is about, for the message.
fn frontend_label(ingress: &IngressSource) -> String {
    match ingress {
        IngressSource::PublicIp { name, .. } => format!("public IP {name}"),
        IngressSource::PrivateFrontend {
            static_ip: Some(ip),
            ..
        } => format!("private IP {ip}"),
        IngressSource::PrivateFrontend { frontend, .. } => format!("frontend {frontend}"),
    }
}

/// The load balancer with its pools, or `None` when nothing of ours is on it.
fn build(
    ctx: &Context<'_>,
    state: LbState,
    pools: &BTreeMap<Family, std::sync::Arc<[BackendAddress]>>,
) -> (String, Option<LoadBalancer>) {
    if state.frontends.is_empty() {
        return (state.name, None);
    }
    // The pools a rule uses (one per family at most).
    let used = |family: Family, name: &str| {
        state.rule_pools.contains(&family) || state.outbound.iter().any(|o| o.backend_pool == name)
    };
    let backend_pools = [Family::V4, Family::V6]
        .into_iter()
        .map(|f| (ctx.ownership.backend_pool(f), f))
        .filter(|(name, f)| used(*f, name))
        .map(|(name, f)| BackendPool {
            name,
            addresses: pools.get(&f).cloned().unwrap_or_default(),
        })
        .collect();
    let mut frontends: Vec<(String, Frontend)> = state.frontends.into_iter().collect();
    sort_by_name(&mut frontends, |(key, _)| key);
    let frontends = frontends.into_iter().map(|(_, f)| f).collect();
    let mut rules = state.rules;
    sort_runs_by_name(&mut rules, &state.runs.0, |r| &r.name);
    let mut probes = state.probes;
    sort_runs_by_name(&mut probes, &state.runs.1, |p| &p.name);
    let lb = LoadBalancer {
        name: state.name.clone(),
        resource_group: ctx.resource_group().to_string(),
        location: ctx.location().to_string(),
        tags: ctx.ownership.tags(),
        frontends,
        backend_pools,
        probes,
        rules,
        outbound_rules: state.outbound.into_iter().collect(),
        nat_frontends: Vec::new(),
        etag: None,
    };
    (state.name, Some(lb))
}
