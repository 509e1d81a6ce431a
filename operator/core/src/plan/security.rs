//! NSG rules: the AksNetwork's custom rules, and rules admitting each Service's ports to its
//! frontend addresses, with priorities that are stable and never collide with others' rules.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};

use aksnet_crds::SecurityGroupSpec;

use super::intent::ServiceIntent;
use super::load_balancer::Placed;
use super::{Context, IngressSource};
use crate::model::{
    Access, Direction, Family, FrontendTarget, LoadBalancer, Protocol, SecurityGroup, SecurityRule,
    ip_key_of_id, name_key,
};
use crate::problem::{ObjectError, Problem, ServiceError};

/// One service rule before its priority is known.
struct Wanted {
    rule: SecurityRule,
    /// Where its destinations come from (resolved in [`Planner::finish`]).
    destinations: Vec<Destination>,
    /// Counted (it holds its priority and its share of the limits) but not written yet: its
    /// Service waits for Azure.
    held: bool,
    /// For a deny rule: the (lower-case) names of the allow rules it must come after.
    after: Vec<String>,
    /// The Services whose traffic it admits or denies: (prefix in lower case, key).
    carriers: BTreeSet<(String, String)>,
}

/// A destination address of a service rule.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Destination {
    Frontend(IngressSource),
    Literal(String),
    NodesOf(Family),
}

/// How many addresses and ports of each kind rules name. Azure counts each kind over all the
/// rules of an NSG and refuses more than a limit of each.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    sources: usize,
    source_ports: usize,
    destinations: usize,
    destination_ports: usize,
}

impl Tally {
    /// What one rule names.
    fn of(rule: &SecurityRule) -> Self {
        Self {
            sources: rule.sources.len(),
            source_ports: rule.source_ports.len(),
            destinations: rule.destinations.len(),
            destination_ports: rule.destination_ports.len(),
        }
    }

    fn add(self, other: Self) -> Self {
        Self {
            sources: self.sources + other.sources,
            source_ports: self.source_ports + other.source_ports,
            destinations: self.destinations + other.destinations,
            destination_ports: self.destination_ports + other.destination_ports,
        }
    }

    fn less(self, other: Self) -> Self {
        Self {
            sources: self.sources.saturating_sub(other.sources),
            source_ports: self.source_ports.saturating_sub(other.source_ports),
            destinations: self.destinations.saturating_sub(other.destinations),
            destination_ports: self
                .destination_ports
                .saturating_sub(other.destination_ports),
        }
    }

    /// The first kind over `limit`, and the Service field that feeds it.
    fn over(self, limit: usize) -> Option<(&'static str, &'static str)> {
        [
            (
                self.sources,
                "source address prefixes",
                "spec.loadBalancerSourceRanges",
            ),
            (self.source_ports, "source port ranges", "spec.ports"),
            (
                self.destinations,
                "destination address prefixes",
                "spec.ports",
            ),
            (
                self.destination_ports,
                "destination port ranges",
                "spec.ports",
            ),
        ]
        .into_iter()
        .find(|(n, _, _)| *n > limit)
        .map(|(_, kind, field)| (kind, field))
    }
}

/// Where a served Service's rules are in the NSG now (those of its rules, as it asks for them
/// now, that Azure has): their room is kept for it until it is admitted
/// ([`Planner::reserve`]).
pub(crate) struct NsgStay {
    /// The rules' lower-case names.
    rules: Vec<String>,
    /// The destinations the Service adds to them.
    destinations: usize,
}

/// A rule in Azure that Services not admitted yet stay in.
struct KeptRule {
    /// How many such Services.
    stayers: usize,
    /// What the rule names but for its destinations (each Service's are kept apart).
    tally: Tally,
    /// Whether it is taken in already (then the plan's tally counts it).
    taken: bool,
}

/// Where the rules in Azure of each Service lie, for Services rejected as they are read
/// ([`Planner::reserve_as_is`]); built when the first such Service is read.
#[derive(Default)]
struct RulesInAzure {
    /// Each Service's frontend addresses in Azure, by lower-case prefix.
    addresses: HashMap<String, Vec<String>>,
    /// Each Service's own rules (named by its prefix), by lower-case prefix.
    own: HashMap<String, Vec<String>>,
    /// Packed rules (lower-case names) by the destination addresses they name.
    packed: HashMap<String, Vec<String>>,
    /// Addresses in packed rules counted for a Service already: `(rule, address)`.
    counted: BTreeSet<(String, String)>,
}

/// Plans the NSG.
pub(crate) struct Planner<'c, 'a> {
    ctx: &'c Context<'a>,
    spec: Option<&'a SecurityGroupSpec>,
    /// Rules by lower-cased name, in planning order.
    wanted: Vec<Wanted>,
    index: BTreeMap<String, usize>,
    /// Priorities (inbound) that are not ours to give.
    reserved: BTreeSet<u32>,
    /// Rules in the NSG that are not ours, plus the spec's.
    fixed_count: usize,
    /// What those rules name.
    fixed_tally: Tally,
    /// What the wanted rules name so far.
    tally: Tally,
    /// Node addresses per family (destinations of rules without floating IP).
    node_ips: BTreeMap<Family, Vec<String>>,
    /// The frontend addresses of rejected Services: packed rules keep them as they are.
    frozen_addresses: BTreeSet<String>,
    /// Packed rules in Azure that only rejected Services still need, cut to their addresses.
    frozen_packed: Vec<SecurityRule>,
    /// The NSG's rules in Azure by lower-case name.
    observed: HashMap<String, &'a SecurityRule>,
    /// Rules in Azure that Services staying there keep, by lower-case name.
    kept: HashMap<String, KeptRule>,
    /// How many of those are not taken in yet.
    kept_rules: usize,
    /// What those name, and the destinations of the Services staying there.
    kept_tally: Tally,
    /// Where the rules of Services rejected as they are read lie.
    in_azure: Option<RulesInAzure>,
}

/// The planned NSG and what the rest of the plan needs to know of it.
pub(crate) struct NsgPlan {
    /// The NSG with our rules, if the AksNetwork names one.
    pub security_group: Option<SecurityGroup>,
    /// Rules that wait for addresses.
    pub pending: Vec<String>,
    /// Problems.
    pub errors: Vec<ObjectError>,
    /// For each rule (lower-case name), the prefixes of the Services it carries.
    pub carriers: BTreeMap<String, BTreeSet<String>>,
}

impl<'c, 'a> Planner<'c, 'a> {
    /// A planner for the AksNetwork's NSG, if it names one; `node_ips` are the backend nodes'
    /// addresses per family.
    pub fn new(ctx: &'c Context<'a>, node_ips: BTreeMap<Family, Vec<String>>) -> Self {
        let spec = ctx.input.network.security_group.as_ref();
        let mut reserved = BTreeSet::new();
        let mut fixed_count = 0;
        let mut fixed_tally = Tally::default();
        if let Some(spec) = spec {
            for r in &spec.rules {
                if r.direction == aksnet_crds::Direction::Inbound {
                    reserved.insert(r.priority);
                }
                fixed_tally = fixed_tally.add(Tally::of(&custom_rule(ctx, r)));
            }
            fixed_count = spec.rules.len();
            if let Some(nsg) = &ctx.input.observed.security_group {
                for r in nsg
                    .rules
                    .iter()
                    .filter(|r| !ctx.ownership.owns_child(&r.name))
                {
                    fixed_count += 1;
                    fixed_tally = fixed_tally.add(Tally::of(r));
                    if r.direction == Direction::Inbound {
                        reserved.insert(r.priority);
                    }
                }
            }
        }
        Self {
            ctx,
            spec,
            wanted: Vec::new(),
            index: BTreeMap::new(),
            reserved,
            fixed_count,
            fixed_tally,
            tally: Tally::default(),
            node_ips,
            frozen_addresses: BTreeSet::new(),
            frozen_packed: Vec::new(),
            observed: (ctx.input.observed.security_group.iter())
                .flat_map(|n| n.rules.iter())
                .map(|r| (name_key(&r.name), r))
                .collect(),
            kept: HashMap::new(),
            kept_rules: 0,
            kept_tally: Tally::default(),
            in_azure: None,
        }
    }

    /// How many addresses a destination will stand for.
    fn destination_count(&self, d: &Destination) -> usize {
        match d {
            Destination::NodesOf(family) => self.node_ips.get(family).map_or(0, Vec::len),
            Destination::Frontend(_) | Destination::Literal(_) => 1,
        }
    }

    /// Where a Service's rules of one family lead: its frontend address, or (floating IP off)
    /// the node subnet or the nodes.
    fn destination(
        &self,
        intent: &ServiceIntent,
        ingress: &[(Family, IngressSource)],
        family: Family,
    ) -> Option<Destination> {
        if intent.floating_ip {
            return ingress
                .iter()
                .find(|(f, _)| *f == family)
                .map(|(_, i)| Destination::Frontend(i.clone()));
        }
        let cidr = self.ctx.input.network.ip_plan.node_subnet_cidr.as_str();
        Some(match family {
            Family::V4 if !cidr.is_empty() => Destination::Literal(cidr.to_string()),
            _ => Destination::NodesOf(family),
        })
    }

    /// Free priorities in the service range.
    fn capacity(&self) -> usize {
        let Some(spec) = self.spec else { return 0 };
        let range = spec.service_priority_range;
        let size = (range.end - range.start + 1) as usize;
        size - self.reserved.range(range.start..=range.end).count()
    }

    /// Keep the room a served Service's rules take in the NSG until it is admitted (or
    /// [released](Planner::release)): a Service arriving or growing takes only room no
    /// Service staying keeps, whatever their ages. `None` when it has no rule there, or is not
    /// `served` (its rules are on no load balancer in Azure).
    pub fn reserve(
        &mut self,
        intent: &ServiceIntent,
        prefix: &str,
        served: bool,
    ) -> Option<NsgStay> {
        if !served || self.spec.is_none() || !intent.nsg_rules {
            return None;
        }
        // The rules it asks for now that Azure has, each counted as admitting it would count
        // it (a Service sharing an address with others is counted in each, as admitting
        // them counts it): the room kept is the room the fold gives it, pass after pass.
        let ports: Vec<(Family, Protocol, u16)> = (intent.frontends.iter())
            .flat_map(|(f, _)| (intent.ports.iter()).map(|p| (*f, p.protocol, p.backend_port)))
            .collect();
        let families: BTreeSet<Family> = intent.frontends.iter().map(|(f, _)| *f).collect();
        let destination = |family| {
            if !families.contains(&family) {
                return None;
            }
            // A frontend's address counts one, whichever it is.
            self.destination(intent, &[], family)
                .or(Some(Destination::Literal(String::new())))
        };
        let asked = self.rules(intent, prefix, &ports, destination, false);
        let mut stay = NsgStay {
            rules: Vec::new(),
            destinations: 0,
        };
        for (key, wanted) in asked {
            let Some(seen) = self.observed.get(&key).copied() else {
                continue;
            };
            stay.destinations += self.destination_total(&wanted.destinations);
            self.kept_rule(key.clone(), seen);
            stay.rules.push(key);
        }
        self.kept_stay(stay)
    }

    /// Keep the room of a Service rejected as it is read (its edit cannot be read, or Azure
    /// refused its writes): its rules stay in the NSG as Azure has them, its own and its
    /// addresses in packed rules, until it is [released](Planner::release).
    pub fn reserve_as_is(&mut self, prefix: &str) -> Option<NsgStay> {
        let seen_nsg = self.ctx.input.observed.security_group.as_ref();
        if self.spec.is_none() || seen_nsg.is_none_or(|n| n.rules.is_empty()) {
            return None;
        }
        let mut in_azure = self
            .in_azure
            .take()
            .unwrap_or_else(|| self.rules_in_azure());
        let prefix = name_key(prefix);
        let mut stay = NsgStay {
            rules: Vec::new(),
            destinations: 0,
        };
        for key in in_azure.own.get(&prefix).into_iter().flatten() {
            if let Some(seen) = self.observed.get(key).copied() {
                stay.destinations += seen.destinations.len();
                self.kept_rule(key.clone(), seen);
                stay.rules.push(key.clone());
            }
        }
        let addresses = in_azure.addresses.get(&prefix).into_iter().flatten();
        for address in addresses {
            for key in in_azure.packed.get(address).into_iter().flatten() {
                let Some(seen) = self.observed.get(key).copied() else {
                    continue;
                };
                // An address two such Services share is named once in the rule.
                if in_azure.counted.insert((key.clone(), address.clone())) {
                    stay.destinations += 1;
                }
                if !stay.rules.contains(key) {
                    self.kept_rule(key.clone(), seen);
                    stay.rules.push(key.clone());
                }
            }
        }
        self.in_azure = Some(in_azure);
        self.kept_stay(stay)
    }

    /// A rule in Azure that a Service keeps (what it names but for its destinations).
    fn kept_rule(&mut self, key: String, seen: &SecurityRule) {
        self.kept.entry(key).or_insert_with(|| KeptRule {
            stayers: 0,
            tally: Tally {
                destinations: 0,
                ..Tally::of(seen)
            },
            taken: false,
        });
    }

    /// Keep the room of `stay`, if it holds any rule.
    fn kept_stay(&mut self, stay: NsgStay) -> Option<NsgStay> {
        if stay.rules.is_empty() {
            return None;
        }
        self.keep(Some(&stay));
        Some(stay)
    }

    /// Where the Services' rules lie in Azure: their frontend addresses (from the load
    /// balancers' rules), their own rules, and the packed rules by address.
    fn rules_in_azure(&self) -> RulesInAzure {
        let ctx = self.ctx;
        let ownership = &ctx.ownership;
        let mut found = RulesInAzure::default();
        for lb in &ctx.input.observed.load_balancers {
            for rule in &lb.rules {
                let key = name_key(&rule.name);
                let Some(prefix) = ownership.service_prefix_of(&key) else {
                    continue;
                };
                if let Some(address) = frontend_address(ctx, lb, &rule.frontend) {
                    let addresses = found.addresses.entry(prefix.to_string()).or_default();
                    if !addresses.contains(&address) {
                        addresses.push(address);
                    }
                }
            }
        }
        let spec_rules = self.spec_rule_keys();
        for key in self.observed.keys() {
            if let Some(prefix) = ownership.service_prefix_of(key) {
                let own = found.own.entry(prefix.to_string()).or_default();
                own.push(key.clone());
            } else if self.is_packed(key, &spec_rules) {
                for d in &self.observed[key].destinations {
                    found.packed.entry(d.clone()).or_default().push(key.clone());
                }
            }
        }
        found
    }

    /// Whether the rule of lower-case name `key` is one aksnet packs for Services: ours, named
    /// by no Service and by none of `spec_rules` ([`Planner::spec_rule_keys`]).
    fn is_packed(&self, key: &str, spec_rules: &BTreeSet<String>) -> bool {
        let ownership = &self.ctx.ownership;
        ownership.owns_child(key)
            && ownership.service_prefix_of(key).is_none()
            && !spec_rules.contains(key)
    }

    /// The lower-case names of the AksNetwork's custom rules.
    fn spec_rule_keys(&self) -> BTreeSet<String> {
        let ownership = &self.ctx.ownership;
        (self.spec.iter())
            .flat_map(|s| s.rules.iter())
            .map(|r| name_key(&ownership.spec_child(&r.name)))
            .collect()
    }

    /// Keep the room of a Service's rules in Azure: as it is read ([`Planner::reserve`]), and
    /// again when [`Planner::admit`] does not admit it (its rules stay as they are).
    fn keep(&mut self, stay: Option<&NsgStay>) {
        let Some(stay) = stay else { return };
        for key in &stay.rules {
            let Some(rule) = self.kept.get_mut(key) else {
                continue;
            };
            if rule.stayers == 0 && !rule.taken {
                self.kept_rules += 1;
                self.kept_tally = self.kept_tally.add(rule.tally);
            }
            rule.stayers += 1;
        }
        self.kept_tally = self.kept_tally.add(Tally {
            destinations: stay.destinations,
            ..Tally::default()
        });
    }

    /// Free the room [`Planner::reserve`] kept for a Service (admitted, or no longer holding
    /// what it has in Azure).
    pub fn release(&mut self, stay: Option<&NsgStay>) {
        let Some(stay) = stay else { return };
        for key in &stay.rules {
            let Some(rule) = self.kept.get_mut(key) else {
                continue;
            };
            rule.stayers -= 1;
            if rule.stayers == 0 && !rule.taken {
                self.kept_rules -= 1;
                self.kept_tally = self.kept_tally.less(rule.tally);
            }
        }
        self.kept_tally = self.kept_tally.less(Tally {
            destinations: stay.destinations,
            ..Tally::default()
        });
    }

    /// Whether Services staying in the rule `key` keep it and it is not taken in yet.
    fn kept_apart(&self, key: &str) -> Option<&KeptRule> {
        self.kept
            .get(key)
            .filter(|r| r.stayers > 0 && !r.taken && !self.index.contains_key(key))
    }

    /// How many addresses the destinations of a rule stand for.
    fn destination_total(&self, destinations: &[Destination]) -> usize {
        destinations.iter().map(|d| self.destination_count(d)).sum()
    }

    /// A Service's rules on `ports` (`(family, protocol, backend port)`), leading to
    /// `destination` of each family (a family without one has none), by lower-case name.
    fn rules(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
        ports: &[(Family, Protocol, u16)],
        destination: impl Fn(Family) -> Option<Destination>,
        held: bool,
    ) -> Vec<(String, Wanted)> {
        let ctx = self.ctx;
        let mut groups: BTreeMap<(Family, &'static str), BTreeSet<u16>> = BTreeMap::new();
        for (family, protocol, port) in ports {
            let proto = match protocol {
                Protocol::Tcp => "Tcp",
                Protocol::Udp => "Udp",
                Protocol::All => "*",
            };
            groups.entry((*family, proto)).or_default().insert(*port);
        }
        let mut new_rules = Vec::new();
        let carrier: BTreeSet<(String, String)> =
            BTreeSet::from([(name_key(prefix), intent.key.clone())]);
        for ((family, proto), ports) in groups {
            let Some(destination) = destination(family) else {
                continue;
            };
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            let destinations: Vec<Destination> = std::iter::once(destination)
                .chain(
                    intent
                        .additional_ips
                        .iter()
                        .filter(|ip| Family::of(ip) == family)
                        .map(|ip| Destination::Literal(ip.to_string())),
                )
                .collect();
            let mut allows = Vec::new();
            for (tag, sources) in source_sets(intent, family) {
                let name = if !intent.own_security_rules {
                    // Packed with the Services that admit the same ports from the same
                    // sources, within a namespace only: one tenant's rule never carries
                    // another's. One rule per such set, so a Service coming or going
                    // rewrites that rule alone.
                    let namespace = super::namespace_of(&intent.key);
                    let key = format!(
                        "{namespace}|{proto}|{}|{}|{}",
                        family.azure_name(),
                        sources.join(","),
                        ports.join(",")
                    );
                    ctx.ownership.shared_security_rule(&key)
                } else {
                    ctx.ownership
                        .service_security_rule(prefix, proto, family, tag.as_deref())
                };
                allows.push(name_key(&name));
                new_rules.push((
                    name_key(&name),
                    Wanted {
                        rule: inbound(name, Access::Allow, proto, sources, &ports),
                        destinations: destinations.clone(),
                        held,
                        after: Vec::new(),
                        carriers: carrier.clone(),
                    },
                ));
            }
            if intent.deny_all_except_sources {
                let name = ctx.ownership.service_deny_rule(prefix, proto, family);
                new_rules.push((
                    name_key(&name),
                    Wanted {
                        rule: SecurityRule {
                            description: Some(format!(
                                "aksnet: {} admits only its allowed sources",
                                intent.key
                            )),
                            ..inbound(name, Access::Deny, proto, vec!["*".into()], &ports)
                        },
                        destinations,
                        held,
                        after: allows,
                        carriers: carrier.clone(),
                    },
                ));
            }
        }
        new_rules
    }

    /// Add a Service's rules, or say why they do not fit (nothing is added then). The rules of
    /// a Service that waits are counted but not written. `stay`: its rules in Azure
    /// ([`Planner::reserve`]), kept for it again if it is not admitted ([`Planner::keep`]).
    pub fn admit(
        &mut self,
        intent: &ServiceIntent,
        prefix: &str,
        placed: &Placed,
        stay: Option<&NsgStay>,
    ) -> Result<(), Vec<ServiceError>> {
        if self.spec.is_none() || !intent.nsg_rules {
            return Ok(());
        }
        let ctx = self.ctx;
        let trespass: Vec<ServiceError> = intent
            .additional_ips
            .iter()
            .filter_map(|ip| {
                let holder = self.address_holder(ip, prefix)?;
                let p = Problem::AddressNotAllowed(format!(
                    "{ip} is the address of {holder}: additional addresses must be ones aksnet does not serve"
                ));
                Some(ServiceError::new(
                    &intent.key,
                    crate::annotations::ADDITIONAL_PUBLIC_IPS,
                    p,
                ))
            })
            .collect();
        if !trespass.is_empty() {
            return Err(trespass);
        }
        let destination = |family| self.destination(intent, &placed.ingress, family);
        let held = placed.waiting.is_some();
        let new_rules = self.rules(intent, prefix, &placed.ports, destination, held);
        self.release(stay);
        let added = new_rules
            .iter()
            .filter(|(k, _)| !self.index.contains_key(k))
            .count();
        // A rule shared with earlier Services only gains destinations.
        let extra = new_rules.iter().fold(Tally::default(), |t, (k, w)| {
            let new = if self.index.contains_key(k) {
                Tally::default()
            } else {
                Tally::of(&w.rule)
            };
            t.add(new).add(Tally {
                destinations: self.destination_total(&w.destinations),
                ..Tally::default()
            })
        });
        // A Service staying as it is counts what was admitted before it, as ever (on an NSG
        // over limits lowered at run time, the older keep their rules); one arriving or
        // growing counts the room every Service staying keeps, too.
        let growing = stay.is_none_or(|stay| {
            new_rules.iter().any(|(k, _)| !stay.rules.contains(k))
                || extra.destinations > stay.destinations
        });
        let (kept_rules, kept_tally) = if growing {
            // Its rules that others keep are counted there already.
            new_rules
                .iter()
                .filter_map(|(k, _)| self.kept_apart(k))
                .fold((self.kept_rules, self.kept_tally), |(n, t), r| {
                    (n - 1, t.less(r.tally))
                })
        } else {
            (0, Tally::default())
        };
        let addresses_limit = ctx.input.limits.addresses_or_ports_per_security_group;
        let limit = ctx.input.limits.rules_per_security_group;
        let mut errors = Vec::new();
        if self.fixed_count + self.wanted.len() + kept_rules + added > limit {
            let what = format!(
                "security rules in NSG {}",
                self.spec.map_or("", |s| s.name.as_str())
            );
            errors.push(ServiceError::new(
                &intent.key,
                "spec.ports",
                Problem::Limit { what, limit },
            ));
        } else if self.wanted.len() + kept_rules + added > self.capacity() {
            let p = Problem::Limit {
                what: "NSG priorities in securityGroup.servicePriorityRange".into(),
                limit: self.capacity(),
            };
            errors.push(ServiceError::new(&intent.key, "spec.ports", p));
        } else if let Some((kind, field)) = self
            .fixed_tally
            .add(self.tally)
            .add(kept_tally)
            .add(extra)
            .over(addresses_limit)
        {
            let what = format!(
                "{kind} in NSG {}",
                self.spec.map_or("", |s| s.name.as_str())
            );
            errors.push(ServiceError::new(
                &intent.key,
                field,
                Problem::Limit {
                    what,
                    limit: addresses_limit,
                },
            ));
        }
        if !errors.is_empty() {
            self.keep(stay);
            return Err(errors);
        }
        self.tally = self.tally.add(extra);
        for (key, wanted) in new_rules {
            match self.index.get(&key) {
                // A waiting Service adds to a shared rule once it is served.
                Some(_) if wanted.held => {}
                Some(i) => {
                    let shared = &mut self.wanted[*i];
                    shared.held = false;
                    shared.destinations.extend(wanted.destinations);
                    shared.carriers.extend(wanted.carriers);
                }
                None => {
                    // Taken in: the plan's tally counts it from here on.
                    if let Some(rule) = self.kept.get_mut(&key)
                        && !rule.taken
                    {
                        rule.taken = true;
                        if rule.stayers > 0 {
                            self.kept_rules -= 1;
                            self.kept_tally = self.kept_tally.less(rule.tally);
                        }
                    }
                    self.index.insert(key, self.wanted.len());
                    self.wanted.push(wanted);
                }
            }
        }
        Ok(())
    }

    /// What holds `ip` among the addresses aksnet sees (public IPs, internal frontends), other
    /// than the Service of `prefix` itself.
    fn address_holder(&self, ip: &std::net::IpAddr, prefix: &str) -> Option<String> {
        let own = |name: &str| {
            self.ctx
                .ownership
                .service_prefix_of(&name_key(name))
                .is_some_and(|p| p == name_key(prefix))
        };
        let ctx = self.ctx;
        let public = ctx
            .ips_by_address()
            .get(ip)
            .into_iter()
            .flatten()
            .find(|p| !own(&p.name))
            .map(|p| format!("public IP {} in {}", p.name, p.resource_group));
        public.or_else(|| {
            ctx.frontends_by_private_ip()
                .get(ip)
                .into_iter()
                .flatten()
                .find(|(_, f)| !own(&f.name))
                .map(|(lb, f)| format!("frontend {} of load balancer {}", f.name, lb.name))
        })
    }

    /// Keep the priorities of rejected Services' rules (their rules stay as they are).
    pub fn reserve_frozen(&mut self, frozen: &BTreeSet<String>) {
        let ctx = self.ctx;
        let ownership = &ctx.ownership;
        let is_frozen = |name: &str| {
            ownership
                .service_prefix_of(&name_key(name))
                .is_some_and(|p| frozen.contains(p))
        };
        // Their addresses: what their rules' frontends stand for in Azure.
        for lb in &ctx.input.observed.load_balancers {
            for rule in lb.rules.iter().filter(|r| is_frozen(&r.name)) {
                self.frozen_addresses
                    .extend(frontend_address(ctx, lb, &rule.frontend));
            }
        }
        let Some(nsg) = &ctx.input.observed.security_group else {
            return;
        };
        let spec_rules = self.spec_rule_keys();
        for r in &nsg.rules {
            let key = name_key(&r.name);
            let packed = self.is_packed(&key, &spec_rules) && !self.index.contains_key(&key);
            let kept: Vec<String> = r
                .destinations
                .iter()
                .filter(|d| self.frozen_addresses.contains(*d))
                .cloned()
                .collect();
            if packed && !kept.is_empty() {
                if r.direction == Direction::Inbound {
                    self.reserved.insert(r.priority);
                }
                let mut rule = r.clone();
                rule.destinations = kept;
                self.frozen_packed.push(rule);
            }
            let is_frozen = self
                .ctx
                .ownership
                .service_prefix_of(&key)
                .is_some_and(|p| frozen.contains(p));
            if r.direction == Direction::Inbound && is_frozen {
                self.reserved.insert(r.priority);
            }
        }
    }

    /// The NSG with our rules, what waits for addresses, problems, and who each rule carries.
    pub fn finish(self) -> NsgPlan {
        let Some(spec) = self.spec else {
            return NsgPlan {
                security_group: None,
                pending: Vec::new(),
                errors: Vec::new(),
                carriers: BTreeMap::new(),
            };
        };
        let mut carriers = BTreeMap::new();
        let ctx = self.ctx;
        let mut pending = Vec::new();
        let mut errors = Vec::new();
        let mut rules: Vec<SecurityRule> = spec.rules.iter().map(|r| custom_rule(ctx, r)).collect();

        let range = spec.service_priority_range;
        let mut used = self.reserved.clone();
        let mut service_rules = Vec::new();
        for mut w in self.wanted.into_iter().filter(|w| !w.held) {
            let key = name_key(&w.rule.name);
            let seen = self.observed.get(&key).copied();
            let mut dests = BTreeSet::new();
            // A packed rule keeps the addresses of rejected Services as Azure has them.
            if ctx.ownership.service_prefix_of(&key).is_none()
                && let Some(seen) = seen
            {
                dests.extend(
                    seen.destinations
                        .iter()
                        .filter(|d| self.frozen_addresses.contains(*d))
                        .cloned(),
                );
            }
            if w.rule.description.is_none() {
                w.rule.description = Some(describe(&w.carriers));
            }
            carriers.insert(key, w.carriers.iter().map(|(p, _)| p.clone()).collect());
            for d in w.destinations {
                match d {
                    Destination::Literal(s) => {
                        dests.insert(s);
                    }
                    Destination::NodesOf(f) => {
                        dests.extend(self.node_ips.get(&f).cloned().unwrap_or_default())
                    }
                    Destination::Frontend(source) => {
                        match source.address(ctx.input.observed, |rg, n| ctx.observed_ip(rg, n)) {
                            Some(ip) => {
                                dests.insert(ip);
                            }
                            None => pending.push(format!(
                                "NSG rule {} waits for the address of {source:?}",
                                w.rule.name
                            )),
                        }
                    }
                }
            }
            if dests.is_empty() {
                continue;
            }
            w.rule.destinations = dests.into_iter().collect();
            // Keep the priority the rule already has, when it is still ours to give (a deny
            // rule's is checked against its allow rules below).
            if let Some(seen) = seen
                && seen.direction == Direction::Inbound
                && (range.start..=range.end).contains(&seen.priority)
                && used.insert(seen.priority)
            {
                w.rule.priority = seen.priority;
            }
            service_rules.push((w.rule, w.after));
        }
        let mut next = range.start;
        let (service_rules, denies): (Vec<_>, Vec<_>) = service_rules
            .into_iter()
            .partition(|(_, after)| after.is_empty());
        let mut service_rules: Vec<SecurityRule> =
            service_rules.into_iter().map(|(r, _)| r).collect();
        for rule in service_rules.iter_mut().filter(|r| r.priority == 0) {
            while next <= range.end && used.contains(&next) {
                next += 1;
            }
            if next > range.end {
                errors.push(ObjectError {
                    object: format!("NSG rule {}", rule.name),
                    problem: Problem::Limit {
                        what: "NSG priorities in securityGroup.servicePriorityRange".into(),
                        limit: (range.end - range.start + 1) as usize,
                    },
                });
                continue;
            }
            rule.priority = next;
            used.insert(next);
        }
        let allowed: BTreeMap<String, u32> = service_rules
            .iter()
            .map(|r| (name_key(&r.name), r.priority))
            .collect();
        for (mut rule, after) in denies {
            // After every allow rule of its Service: its kept priority if that still holds,
            // else the highest free one (denies fill the range from the top, allows from the
            // bottom, so they seldom meet).
            let floor = after.iter().filter_map(|n| allowed.get(n)).max().copied();
            let floor = floor.unwrap_or(0).max(range.start.saturating_sub(1));
            let kept = Some(rule.priority).filter(|p| *p > floor);
            if kept.is_none() {
                used.remove(&rule.priority);
            }
            let free = || ((floor + 1)..=range.end).rev().find(|p| !used.contains(p));
            match kept.or_else(free) {
                Some(p) => {
                    rule.priority = p;
                    used.insert(p);
                    service_rules.push(rule);
                }
                None => errors.push(ObjectError {
                    object: format!("NSG rule {}", rule.name),
                    problem: Problem::Limit {
                        what: "NSG priorities in securityGroup.servicePriorityRange above the Service's allow rules".into(),
                        limit: (range.end - range.start + 1) as usize,
                    },
                }),
            }
        }
        rules.extend(service_rules.into_iter().filter(|r| r.priority != 0));
        rules.extend(self.frozen_packed);
        rules.sort_by_key(|r| name_key(&r.name));
        let nsg = SecurityGroup {
            name: spec.name.clone(),
            resource_group: ctx.resource_group().to_string(),
            location: ctx.location().to_string(),
            tags: ctx.ownership.tags(),
            rules,
            etag: None,
        };
        NsgPlan {
            security_group: Some(nsg),
            pending,
            errors,
            carriers,
        }
    }
}

/// The address in Azure of the frontend `name` of `lb`: its public IP's, or its private one.
fn frontend_address(ctx: &Context<'_>, lb: &LoadBalancer, name: &str) -> Option<String> {
    let fe = lb
        .frontends
        .iter()
        .find(|f| name_key(&f.name) == name_key(name))?;
    match &fe.target {
        FrontendTarget::Public { public_ip_id } => ip_key_of_id(public_ip_id)
            .and_then(|(rg, name)| ctx.observed_ip(&rg, &name))
            .and_then(|p| p.address.clone()),
        FrontendTarget::Private { .. } => fe.private_ip.clone(),
    }
}

/// A service rule before its priority, destinations and description are known.
fn inbound(
    name: String,
    access: Access,
    protocol: &str,
    sources: Vec<String>,
    ports: &[String],
) -> SecurityRule {
    SecurityRule {
        name,
        priority: 0,
        direction: Direction::Inbound,
        access,
        protocol: protocol.to_string(),
        sources,
        source_ports: vec!["*".into()],
        destinations: Vec::new(),
        destination_ports: ports.to_vec(),
        description: None,
    }
}

/// A rule's description: the Service it admits traffic for, or how many it is packed for.
fn describe(carriers: &BTreeSet<(String, String)>) -> String {
    match carriers.iter().next() {
        Some((_, key)) if carriers.len() == 1 => format!("aksnet: {key}"),
        Some((_, key)) => format!(
            "aksnet: shared by {} Services of {}",
            carriers.len(),
            super::namespace_of(key)
        ),
        None => "aksnet".into(),
    }
}

/// The source sets of a Service's rules for one family, one rule each: its ranges of that
/// family in one rule, and each service tag in a rule of its own (Azure takes a service tag
/// only alone); or the default (Internet for public Services, VirtualNetwork for internal
/// ones). The tag of a set names its rule apart.
fn source_sets(intent: &ServiceIntent, family: Family) -> Vec<(Option<String>, Vec<String>)> {
    match &intent.sources {
        None if intent.internal => vec![(None, vec!["VirtualNetwork".into()])],
        None => vec![(None, vec!["Internet".into()])],
        Some(s) => {
            let ranges: Vec<String> = s
                .ranges
                .iter()
                .filter(|n| Family::of(&n.addr()) == family)
                .map(|n| n.to_string())
                .collect();
            let tags = s
                .service_tags
                .iter()
                .map(|t| (Some(t.clone()), vec![t.clone()]));
            (!ranges.is_empty())
                .then_some((None, ranges))
                .into_iter()
                .chain(tags)
                .collect()
        }
    }
}

/// A custom rule of the AksNetwork spec, named with the cluster prefix.
fn custom_rule(ctx: &Context<'_>, r: &aksnet_crds::SecurityRuleSpec) -> SecurityRule {
    let strings = |v: &[aksnet_crds::NsgAddress]| {
        let mut out: Vec<String> = v.iter().map(|a| a.0.clone()).collect();
        out.sort();
        out.dedup();
        out
    };
    let ports = |v: &[aksnet_crds::PortRange]| {
        let mut out: Vec<String> = v.iter().map(|a| a.0.clone()).collect();
        out.sort();
        out.dedup();
        out
    };
    SecurityRule {
        name: ctx.ownership.spec_child(&r.name),
        priority: r.priority,
        direction: match r.direction {
            aksnet_crds::Direction::Inbound => Direction::Inbound,
            aksnet_crds::Direction::Outbound => Direction::Outbound,
        },
        access: match r.access {
            aksnet_crds::Access::Allow => Access::Allow,
            aksnet_crds::Access::Deny => Access::Deny,
        },
        protocol: serde_json::to_value(r.protocol)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "*".into()),
        sources: strings(&r.source_address_prefixes),
        source_ports: ports(&r.source_port_ranges),
        destinations: strings(&r.destination_address_prefixes),
        destination_ports: ports(&r.destination_port_ranges),
        description: r.description.clone(),
    }
}
