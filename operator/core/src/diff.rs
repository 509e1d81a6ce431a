//! The diff: (desired, observed) → the ordered Azure operations that make Azure follow the plan.
//!
//! Semantic: server-computed fields, list order and name casing are ignored, so an unchanged
//! resource gives no operation (zero writes at steady state). Shared parents are written as the
//! observed object with only aksnet's children replaced, because an ARM PUT replaces child lists:
//! children without aksnet's prefix, children of rejected (frozen) Services, and children that a
//! kept rule refers to all stay as observed. Order: public IPs are written before the load
//! balancers that use them; load balancers drop references before public IPs are deleted; only
//! resources carrying aksnet's ownership tag are ever deleted, and never a static IP with a
//! `Retain` policy.

use std::borrow::Cow;
use std::collections::BTreeSet;

use foldhash::{HashMap, HashSet};

use crate::model::{
    BackendAddress, Frontend, FrontendTarget, IpKey, IpRef, LoadBalancer, NatGateway, NoCase,
    Observed, PlsIpConfiguration, PrivateLinkService, PublicIp, RouteTable, SecurityGroup, Subnet,
    canonical_id, frontend_of_id, ip_key, ip_key_of_id, ip_ref, name_key, tag,
};
use crate::naming::{Ownership, TAG_DELETION_POLICY};
use crate::plan::Desired;

/// How a load balancer put moves frontends against what Azure holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontendMoves {
    /// It takes a frontend on that Azure does not have on it (a new load balancer takes all
    /// of its frontends).
    pub takes: bool,
    /// It lets a frontend go that Azure has on it.
    pub releases: bool,
}

/// How `lb` (to be put) moves frontends against its observed self. A public IP (or private
/// address) moving between load balancers must be let go by one before another takes it on,
/// so writes that take wait for writes that let go.
pub fn frontend_moves(lb: &LoadBalancer, observed: &Observed) -> FrontendMoves {
    let Some(seen) = observed.load_balancer(&lb.name) else {
        return FrontendMoves {
            takes: !lb.frontends.is_empty(),
            releases: false,
        };
    };
    let (after, before) = (frontend_names(lb), frontend_names(seen));
    FrontendMoves {
        takes: after.difference(&before).next().is_some(),
        releases: before.difference(&after).next().is_some(),
    }
}

/// A load balancer's frontend names, as Azure compares them.
fn frontend_names(lb: &LoadBalancer) -> HashSet<NoCase<'_>> {
    lb.frontends
        .iter()
        .map(|f| NoCase(f.name.as_str()))
        .collect()
}

/// One Azure write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create or update a public IP (`etag` set: update with If-Match).
    PutPublicIp(PublicIp),
    /// Create or update a load balancer with its full child lists.
    PutLoadBalancer(LoadBalancer),
    /// Create or update the NSG with its full rule list.
    PutSecurityGroup(SecurityGroup),
    /// Create or update the route table with its full route list.
    PutRouteTable(RouteTable),
    /// Create or update the managed NAT gateway.
    PutNatGateway(NatGateway),
    /// Set the node subnet's NAT gateway (the rest of the subnet is written as observed).
    PutSubnet(Subnet),
    /// Create or update a Private Link Service.
    PutPrivateLinkService(PrivateLinkService),
    /// Delete a Private Link Service aksnet created.
    DeletePrivateLinkService {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
        /// Observed entity tag (If-Match).
        etag: Option<String>,
    },
    /// Delete the NAT gateway aksnet created.
    DeleteNatGateway {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
        /// Observed entity tag (If-Match).
        etag: Option<String>,
    },
    /// Delete a load balancer aksnet created.
    DeleteLoadBalancer {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
        /// Observed entity tag (If-Match).
        etag: Option<String>,
    },
    /// Delete a public IP aksnet created.
    DeletePublicIp {
        /// Resource group.
        resource_group: String,
        /// Name.
        name: String,
        /// Observed entity tag (If-Match).
        etag: Option<String>,
    },
}

impl Op {
    /// `verb kind name`, for logs and Events.
    pub fn describe(&self) -> String {
        match self {
            Op::PutPublicIp(p) => format!("put publicIPAddress {}", p.name),
            Op::PutLoadBalancer(l) => format!("put loadBalancer {}", l.name),
            Op::PutSecurityGroup(n) => format!("put networkSecurityGroup {}", n.name),
            Op::PutRouteTable(r) => format!("put routeTable {}", r.name),
            Op::PutNatGateway(g) => format!("put natGateway {}", g.name),
            Op::PutSubnet(s) => format!(
                "put subnet {} (natGateway {})",
                s.id.rsplit('/').next().unwrap_or_default(),
                s.nat_gateway_id
                    .as_deref()
                    .and_then(|id| id.rsplit('/').next())
                    .unwrap_or("none")
            ),
            Op::DeleteNatGateway { name, .. } => format!("delete natGateway {name}"),
            Op::PutPrivateLinkService(p) => format!("put privateLinkService {}", p.name),
            Op::DeletePrivateLinkService { name, .. } => {
                format!("delete privateLinkService {name}")
            }
            Op::DeleteLoadBalancer { name, .. } => format!("delete loadBalancer {name}"),
            Op::DeletePublicIp { name, .. } => format!("delete publicIPAddress {name}"),
        }
    }
}

impl Op {
    /// Whether this write touches only one Service's own resource (a public IP), so it can run
    /// beside others; load balancers, the NSG and the route table are shared parents.
    pub fn is_independent(&self) -> bool {
        matches!(self, Op::PutPublicIp(_) | Op::DeletePublicIp { .. })
    }

    /// `kind/resourceGroup/name` in lower case: writes with the same key touch one resource.
    pub fn resource_key(&self) -> String {
        let (kind, rg, name) = match self {
            Op::PutPublicIp(p) => ("publicipaddresses", &p.resource_group, &p.name),
            Op::DeletePublicIp {
                resource_group,
                name,
                ..
            } => ("publicipaddresses", resource_group, name),
            Op::PutLoadBalancer(l) => ("loadbalancers", &l.resource_group, &l.name),
            Op::DeleteLoadBalancer {
                resource_group,
                name,
                ..
            } => ("loadbalancers", resource_group, name),
            Op::PutSecurityGroup(n) => ("networksecuritygroups", &n.resource_group, &n.name),
            Op::PutRouteTable(r) => ("routetables", &r.resource_group, &r.name),
            Op::PutNatGateway(g) => ("natgateways", &g.resource_group, &g.name),
            Op::DeleteNatGateway {
                resource_group,
                name,
                ..
            } => ("natgateways", resource_group, name),
            Op::PutSubnet(subnet) => return format!("subnets{}", canonical_id(&subnet.id)),
            Op::PutPrivateLinkService(p) => ("privatelinkservices", &p.resource_group, &p.name),
            Op::DeletePrivateLinkService {
                resource_group,
                name,
                ..
            } => ("privatelinkservices", resource_group, name),
        };
        name_key(&format!("{kind}/{rg}/{name}"))
    }

    /// The public IPs (by key) this write's body names: it must wait until they exist.
    pub fn public_ips_named(&self) -> Vec<IpKey> {
        let mut out = Vec::new();
        match self {
            Op::PutLoadBalancer(lb) => {
                for f in &lb.frontends {
                    if let FrontendTarget::Public { public_ip_id } = &f.target {
                        out.extend(ip_key_of_id(public_ip_id));
                    }
                }
            }
            Op::PutNatGateway(g) => {
                out.extend(g.public_ip_ids.iter().filter_map(|id| ip_key_of_id(id)))
            }
            _ => {}
        }
        out
    }
}

/// The Services (lower-case name prefixes) whose objects a write creates, changes or removes
/// against what `observed` holds: who to hold responsible when Azure refuses it. A changed
/// NSG rule packed for several Services carries each of them.
pub fn carried(op: &Op, observed: &Observed, desired: &Desired) -> BTreeSet<String> {
    let ownership = &desired.ownership;
    let mut names: Vec<String> = Vec::new();
    match op {
        Op::PutPublicIp(p) => names.push(p.name.clone()),
        Op::DeletePublicIp { name, .. } => names.push(name.clone()),
        Op::PutLoadBalancer(lb) => {
            let new = canonical_lb(lb);
            let old = observed
                .load_balancer(&lb.name)
                .map(canonical_lb)
                .unwrap_or_default();
            changed(&new.frontends, &old.frontends, |c| &c.name, &mut names);
            changed(&new.probes, &old.probes, |c| &c.name, &mut names);
            changed(&new.rules, &old.rules, |c| &c.name, &mut names);
        }
        Op::PutSecurityGroup(nsg) => {
            let new = canonical_nsg(nsg);
            let old = observed
                .security_group
                .as_ref()
                .map(canonical_nsg)
                .map(|n| n.rules)
                .unwrap_or_default();
            changed(&new.rules, &old, |c| &c.name, &mut names);
        }
        Op::PutPrivateLinkService(p) => names.extend(private_link_carrier(p, desired)),
        Op::DeletePrivateLinkService {
            resource_group,
            name,
            ..
        } => names.extend(
            observed
                .private_link_service(resource_group, name)
                .and_then(|p| private_link_carrier(p, desired)),
        ),
        // The network's own: no Service is carried.
        Op::PutRouteTable(_)
        | Op::DeleteLoadBalancer { .. }
        | Op::PutNatGateway(_)
        | Op::PutSubnet(_)
        | Op::DeleteNatGateway { .. } => {}
    }
    names
        .iter()
        .flat_map(|n| {
            let key = name_key(n);
            match ownership.service_prefix_of(&key) {
                Some(prefix) => vec![prefix.to_string()],
                None => desired
                    .rule_carriers
                    .get(&key)
                    .map(|c| c.iter().cloned().collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// A name that carries the prefix of the Service a Private Link Service belongs to (its
/// `aksnet.io-service` tag).
fn private_link_carrier(pls: &PrivateLinkService, desired: &Desired) -> Option<String> {
    let key = tag(&pls.tags, crate::naming::TAG_SERVICE)?;
    desired
        .service_prefixes
        .iter()
        .find(|(_, k)| k.as_str() == key)
        .map(|(prefix, _)| prefix.clone())
}

/// Names of children that differ between two canonical lists (added, changed or removed).
fn changed<T: PartialEq>(new: &[T], old: &[T], name: impl Fn(&T) -> &str, out: &mut Vec<String>) {
    let old_by: HashMap<&str, &T> = old.iter().map(|c| (name(c), c)).collect();
    let new_by: HashMap<&str, &T> = new.iter().map(|c| (name(c), c)).collect();
    for (n, c) in &new_by {
        if old_by.get(n) != Some(c) {
            out.push(n.to_string());
        }
    }
    out.extend(
        old_by
            .keys()
            .filter(|n| !new_by.contains_key(*n))
            .map(|n| n.to_string()),
    );
}

/// Which observed children stay as they are.
struct Keep<'a> {
    ownership: &'a Ownership,
    frozen: &'a BTreeSet<String>,
}

impl Keep<'_> {
    /// Not ours, or a rejected Service's: left as observed.
    fn keeps(&self, name: &str) -> bool {
        !self.ownership.owns_child(name) || self.frozen(name)
    }

    /// Named after a rejected Service.
    fn frozen(&self, name: &str) -> bool {
        !self.frozen.is_empty()
            && self
                .ownership
                .service_prefix_of(&name_key(name))
                .is_some_and(|p| self.frozen.contains(p))
    }

    /// The observed list with our children replaced by the desired ones in place, ours that
    /// are no longer desired dropped, and new desired ones appended; `None` when that is the
    /// observed list itself (the steady state, found without copying it). Keeping the observed
    /// order makes an unchanged list compare equal without canonicalising it.
    fn merge<T: Clone + PartialEq>(
        &self,
        observed: &[T],
        desired: &[T],
        name: impl Fn(&T) -> &str,
    ) -> Option<Vec<T>> {
        // The steady state: Azure holds exactly the desired list, in its order.
        if observed == desired {
            return None;
        }
        let mut wanted: HashMap<NoCase<'_>, &T> =
            desired.iter().map(|c| (NoCase(name(c)), c)).collect();
        let mut out: Option<Vec<T>> = None;
        for (i, c) in observed.iter().enumerate() {
            let next = match wanted.remove(&NoCase(name(c))) {
                Some(d) => Some(d),
                None if self.keeps(name(c)) => Some(c),
                None => None,
            };
            match (&mut out, next) {
                (Some(out), next) => out.extend(next.cloned()),
                (None, Some(next)) if next == c => {}
                (None, next) => {
                    let mut list = Vec::with_capacity(observed.len().max(desired.len()));
                    list.extend_from_slice(&observed[..i]);
                    list.extend(next.cloned());
                    out = Some(list);
                }
            }
        }
        if !wanted.is_empty() {
            out.get_or_insert_with(|| observed.to_vec()).extend(
                desired
                    .iter()
                    .filter(|c| wanted.contains_key(&NoCase(name(c))))
                    .cloned(),
            );
        }
        out
    }
}

/// Operations that make `observed` follow `desired`, in a safe order.
pub fn diff(desired: &Desired, observed: &Observed) -> Vec<Op> {
    let keep = Keep {
        ownership: &desired.ownership,
        frozen: &desired.frozen,
    };
    let mut puts_ip = Vec::new();
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    // Each load balancer as it will be once the diff is applied.
    let mut final_lbs: Vec<Cow<'_, LoadBalancer>> = Vec::new();

    for (name, want) in &desired.load_balancers {
        let seen = observed.load_balancer(name);
        match (seen, want) {
            (None, Some(lb)) => {
                puts.push(Op::PutLoadBalancer(lb.clone()));
                final_lbs.push(Cow::Borrowed(lb));
            }
            (None, None) => {}
            (Some(seen), want) => {
                let merged = merge_lb(
                    &keep,
                    seen,
                    want.as_ref(),
                    &served_frontends(observed, seen),
                );
                let after = merged.as_ref().unwrap_or(seen);
                let ours = desired.ownership.owns_resource(&seen.tags);
                let nothing_left = after.frontends.is_empty()
                    && after.rules.is_empty()
                    && after.outbound_rules.is_empty()
                    && after.backend_pools.iter().all(|p| !keep.keeps(&p.name))
                    && after.probes.iter().all(|p| !keep.keeps(&p.name));
                if ours && nothing_left {
                    deletes.push(Op::DeleteLoadBalancer {
                        resource_group: seen.resource_group.clone(),
                        name: seen.name.clone(),
                        etag: seen.etag.clone(),
                    });
                    continue;
                }
                match merged {
                    Some(merged) => {
                        if canonical_lb(&merged) != canonical_lb(seen) {
                            puts.push(Op::PutLoadBalancer(merged.clone()));
                        }
                        final_lbs.push(Cow::Owned(merged));
                    }
                    None => final_lbs.push(Cow::Borrowed(seen)),
                }
            }
        }
    }

    // A load balancer that lets a frontend go is written before one that takes a frontend
    // on: a public IP (or private address) moving between them is never on two at once.
    puts.sort_by_key(|op| match op {
        Op::PutLoadBalancer(lb) => frontend_moves(lb, observed).takes,
        _ => false,
    });

    if let Some(want) = &desired.security_group {
        match &observed.security_group {
            None => puts.push(Op::PutSecurityGroup(want.clone())),
            Some(seen) => {
                if let Some(rules) = keep.merge(&seen.rules, &want.rules, |r| &r.name) {
                    let merged = SecurityGroup {
                        rules,
                        ..seen.clone()
                    };
                    if canonical_nsg(&merged) != canonical_nsg(seen) {
                        puts.push(Op::PutSecurityGroup(merged));
                    }
                }
            }
        }
    }
    if let Some(want) = &desired.route_table {
        match &observed.route_table {
            None => puts.push(Op::PutRouteTable(want.clone())),
            Some(seen) => {
                if let Some(routes) = keep.merge(&seen.routes, &want.routes, |r| &r.name) {
                    let merged = RouteTable {
                        routes,
                        ..seen.clone()
                    };
                    if canonical_routes(&merged) != canonical_routes(seen) {
                        puts.push(Op::PutRouteTable(merged));
                    }
                }
            }
        }
    }

    let egress = egress_ops(desired, observed);
    // Each observed public IP's first copy by key (a copy read under another spelling of its
    // resource group has the same key), and whether the plan wants it: one lookup per IP.
    let mut seen_ips: HashMap<IpRef<'_>, usize> = HashMap::default();
    seen_ips.reserve(observed.public_ips.len());
    let first: Vec<usize> = (observed.public_ips.iter().enumerate())
        .map(|(i, p)| *seen_ips.entry(ip_ref(p)).or_insert(i))
        .collect();
    let mut wanted = vec![false; observed.public_ips.len()];
    for want in &desired.public_ips {
        let Some(&i) = seen_ips.get(&ip_ref(want)) else {
            puts_ip.push(Op::PutPublicIp(want.clone()));
            continue;
        };
        wanted[i] = true;
        let seen = &observed.public_ips[i];
        if desired.ownership.owns_resource(&seen.tags)
            && let Some(update) = public_ip_update(seen, want)
        {
            puts_ip.push(Op::PutPublicIp(update));
        }
    }
    // Only what carries this cluster's proof, in the cluster's resource group (the only one
    // aksnet creates in; ids compare canonically, so no copy read under another spelling ever
    // looks unwanted), that the plan no longer wants, is deleted: once no load balancer uses it.
    let unwanted: Vec<&PublicIp> = (observed.public_ips.iter().zip(first))
        .filter(|(seen, first)| {
            !wanted[*first]
                && desired.ownership.owns_resource(&seen.tags)
                && desired.ownership.is_cluster_group(&seen.resource_group)
                && tag(&seen.tags, TAG_DELETION_POLICY).is_none_or(|v| v != "Retain")
                && !keep.frozen(&seen.name)
        })
        .map(|(seen, _)| seen)
        .collect();
    if !unwanted.is_empty() {
        let referenced: HashSet<IpKey> = final_lbs
            .iter()
            .flat_map(|lb| lb.frontends.iter())
            .filter_map(|f| match &f.target {
                FrontendTarget::Public { public_ip_id } => ip_key_of_id(public_ip_id),
                FrontendTarget::Private { .. } => None,
            })
            .collect();
        let kept_frontends = KeptFrontends::new(desired, &final_lbs);
        for seen in unwanted {
            let in_use = referenced.contains(&ip_key(&seen.resource_group, &seen.name))
                || seen
                    .used_by
                    .as_deref()
                    .is_some_and(|u| !kept_frontends.frees(u));
            if !in_use {
                deletes.push(Op::DeletePublicIp {
                    resource_group: seen.resource_group.clone(),
                    name: seen.name.clone(),
                    etag: seen.etag.clone(),
                });
            }
        }
    }

    // A subnet joins a NAT gateway before the load balancers let their outbound rule go, and
    // leaves one after they have put it back (`plan::egress` sequences the switch). A Private
    // Link Service goes before its frontend does, and comes after it.
    let links = private_link_ops(desired, observed, &keep);
    puts_ip.extend(egress.gateway);
    puts_ip.extend(egress.associate);
    puts_ip.extend(links.deletes);
    puts_ip.extend(puts);
    puts_ip.extend(egress.dissociate);
    puts_ip.extend(links.puts);
    let ip_deletes = deletes.split_off(
        deletes
            .iter()
            .position(|op| matches!(op, Op::DeletePublicIp { .. }))
            .unwrap_or(deletes.len()),
    );
    puts_ip.extend(deletes);
    puts_ip.extend(egress.delete);
    puts_ip.extend(ip_deletes);
    puts_ip
}

/// The Private Link Service writes: deletes (before the load balancers), puts (after them).
struct LinkOps {
    deletes: Vec<Op>,
    puts: Vec<Op>,
}

/// Private Link Services as the plan wants them; one aksnet created (its owner tag) that no
/// Service wants is deleted, unless its Service is frozen.
fn private_link_ops(desired: &Desired, observed: &Observed, keep: &Keep<'_>) -> LinkOps {
    let mut ops = LinkOps {
        deletes: Vec::new(),
        puts: Vec::new(),
    };
    let ownership = &desired.ownership;
    for want in &desired.private_link_services {
        match observed.private_link_service(&want.resource_group, &want.name) {
            None => ops.puts.push(Op::PutPrivateLinkService(want.clone())),
            Some(seen) if ownership.owns_resource(&seen.tags) => {
                if canonical_pls(seen, want) != canonical_pls(want, want) {
                    let mut update = want.clone();
                    update.tags = seen.tags.clone();
                    update.tags.extend(want.tags.clone());
                    update.etag = seen.etag.clone();
                    ops.puts.push(Op::PutPrivateLinkService(update));
                }
            }
            Some(_) => {}
        }
    }
    let wanted: HashSet<IpRef<'_>> = desired
        .private_link_services
        .iter()
        .map(|p| (NoCase(p.resource_group.as_str()), NoCase(p.name.as_str())))
        .collect();
    for seen in &observed.private_link_services {
        let frozen = seen
            .frontend_ids
            .iter()
            .any(|id| keep.frozen(id.rsplit('/').next().unwrap_or_default()))
            || private_link_carrier(seen, desired).is_some_and(|p| desired.frozen.contains(&p));
        if ownership.owns_resource(&seen.tags)
            && !frozen
            && !wanted.contains(&(NoCase(&seen.resource_group), NoCase(&seen.name)))
        {
            ops.deletes.push(Op::DeletePrivateLinkService {
                resource_group: seen.resource_group.clone(),
                name: seen.name.clone(),
                etag: seen.etag.clone(),
            });
        }
    }
    ops
}

/// What aksnet sets of a Private Link Service, in canonical form, with `want`'s tags only
/// (others' tags on the observed one do not count).
fn canonical_pls(pls: &PrivateLinkService, want: &PrivateLinkService) -> PrivateLinkService {
    let mut ids: Vec<String> = pls.frontend_ids.iter().map(|id| canonical_id(id)).collect();
    ids.sort();
    let mut configs: Vec<PlsIpConfiguration> = pls
        .ip_configurations
        .iter()
        .map(|c| PlsIpConfiguration {
            name: name_key(&c.name),
            subnet_id: canonical_id(&c.subnet_id),
            static_ip: c.static_ip.as_deref().map(normal_ip),
            primary: c.primary,
            private_ip: None,
        })
        .collect();
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    let lower = |list: &[String]| {
        let mut l: Vec<String> = list.iter().map(|s| s.to_ascii_lowercase()).collect();
        l.sort();
        l
    };
    PrivateLinkService {
        name: name_key(&pls.name),
        resource_group: name_key(&pls.resource_group),
        location: String::new(),
        tags: want
            .tags
            .keys()
            .filter_map(|k| tag(&pls.tags, k).map(|v| (k.clone(), v.to_string())))
            .collect(),
        frontend_ids: ids,
        ip_configurations: configs,
        visibility: lower(&pls.visibility),
        auto_approval: lower(&pls.auto_approval),
        fqdns: lower(&pls.fqdns),
        proxy_protocol: pls.proxy_protocol,
        alias: None,
        etag: None,
    }
}

/// The writes of the egress path, by when they go.
#[derive(Default)]
struct EgressOps {
    /// The managed NAT gateway's put (after its public IPs).
    gateway: Option<Op>,
    /// The node subnet joining a NAT gateway (before the load balancers).
    associate: Option<Op>,
    /// The node subnet leaving the managed NAT gateway (after the load balancers).
    dissociate: Option<Op>,
    /// The managed NAT gateway's delete, once no subnet uses it (before public IP deletes).
    delete: Option<Op>,
}

/// The NAT gateway and node subnet writes that make `observed` follow `desired`. Only the
/// gateway aksnet names, with its owner tag, is written or deleted.
fn egress_ops(desired: &Desired, observed: &Observed) -> EgressOps {
    let mut ops = EgressOps::default();
    let ownership = &desired.ownership;
    if let (Some(want), Some(seen)) = (&desired.subnet, &observed.node_subnet) {
        let same = match (&want.nat_gateway_id, &seen.nat_gateway_id) {
            (Some(a), Some(b)) => canonical_id(a) == canonical_id(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        if !same {
            let op = Op::PutSubnet(Subnet {
                nat_gateway_id: want.nat_gateway_id.clone(),
                ..seen.clone()
            });
            match want.nat_gateway_id {
                Some(_) => ops.associate = Some(op),
                None => ops.dissociate = Some(op),
            }
        }
    }
    let managed = ownership.nat_gateway();
    let seen = observed.nat_gateways.iter().find(|g| {
        g.name.eq_ignore_ascii_case(&managed) && ownership.is_cluster_group(&g.resource_group)
    });
    match (&desired.nat_gateway, seen) {
        (Some(want), None) => ops.gateway = Some(Op::PutNatGateway(want.clone())),
        (Some(want), Some(seen)) if ownership.owns_resource(&seen.tags) => {
            ops.gateway = nat_gateway_update(seen, want).map(Op::PutNatGateway);
        }
        (None, Some(seen)) if ownership.owns_resource(&seen.tags) => {
            let on_node_subnet = observed
                .node_subnet
                .as_ref()
                .and_then(|s| s.nat_gateway_id.as_deref())
                .is_some_and(|id| seen.is(id));
            if seen.subnets.is_empty() && !on_node_subnet {
                ops.delete = Some(Op::DeleteNatGateway {
                    resource_group: seen.resource_group.clone(),
                    name: seen.name.clone(),
                    etag: seen.etag.clone(),
                });
            }
        }
        _ => {}
    }
    ops
}

/// The observed NAT gateway with what aksnet sets made as `want` has it, when that differs.
fn nat_gateway_update(seen: &NatGateway, want: &NatGateway) -> Option<NatGateway> {
    let ids = |g: &NatGateway| {
        let mut ids: Vec<String> = g.public_ip_ids.iter().map(|id| canonical_id(id)).collect();
        ids.sort();
        ids
    };
    let tags_ok = want.tags.iter().all(|(k, v)| seen.tags.get(k) == Some(v));
    if tags_ok && seen.idle_timeout_minutes == want.idle_timeout_minutes && ids(seen) == ids(want) {
        return None;
    }
    let mut update = seen.clone();
    update.tags.extend(want.tags.clone());
    update.idle_timeout_minutes = want.idle_timeout_minutes;
    update.public_ip_ids = want.public_ip_ids.clone();
    Some(update)
}

/// The frontends of our load balancers once the diff is applied, to tell which public IPs
/// it frees.
struct KeptFrontends<'d> {
    /// The load balancers the plan decides on.
    planned: HashSet<NoCase<'d>>,
    /// `(load balancer, frontend)` for each frontend they keep.
    kept: HashSet<(NoCase<'d>, NoCase<'d>)>,
}

impl<'d> KeptFrontends<'d> {
    fn new(desired: &'d Desired, final_lbs: &'d [Cow<'_, LoadBalancer>]) -> Self {
        Self {
            planned: desired.load_balancers.keys().map(|n| NoCase(n)).collect(),
            kept: final_lbs
                .iter()
                .flat_map(|l| {
                    l.frontends
                        .iter()
                        .map(|f| (NoCase(l.name.as_str()), NoCase(f.name.as_str())))
                })
                .collect(),
        }
    }

    /// Whether the IP configuration `used_by` (an ARM id) is a frontend of one of our load
    /// balancers that the diff removes (so the public IP is free once the diff is applied).
    fn frees(&self, used_by: &str) -> bool {
        let Some((lb, frontend)) = frontend_of_id(used_by) else {
            return false;
        };
        self.planned.contains(&NoCase(&lb))
            && !self.kept.contains(&(NoCase(&lb), NoCase(&frontend)))
    }
}

/// The observed load balancer with only our children replaced by the desired ones (or removed),
/// keeping every child that a kept rule refers to; `None` when that is the observed one.
fn merge_lb(
    keep: &Keep<'_>,
    seen: &LoadBalancer,
    want: Option<&LoadBalancer>,
    served: &BTreeSet<String>,
) -> Option<LoadBalancer> {
    let empty = LoadBalancer::default();
    let want = want.unwrap_or(&empty);
    let rules = keep.merge(&seen.rules, &want.rules, |c| &c.name);
    let outbound_rules = keep.merge(&seen.outbound_rules, &want.outbound_rules, |c| &c.name);
    let frontends = keep.merge(&seen.frontends, &want.frontends, |c| &c.name);
    let backend_pools = keep.merge(&seen.backend_pools, &want.backend_pools, |c| &c.name);
    let probes = keep.merge(&seen.probes, &want.probes, |c| &c.name);
    let tags_kept = !keep.ownership.owns_resource(&seen.tags)
        || want.tags.iter().all(|(k, v)| seen.tags.get(k) == Some(v));
    if [
        rules.is_none(),
        outbound_rules.is_none(),
        frontends.is_none(),
    ]
    .into_iter()
    .chain([backend_pools.is_none(), probes.is_none(), tags_kept])
    .all(|same| same)
    {
        return None;
    }
    let mut lb = LoadBalancer {
        name: seen.name.clone(),
        resource_group: seen.resource_group.clone(),
        location: seen.location.clone(),
        tags: seen.tags.clone(),
        etag: seen.etag.clone(),
        nat_frontends: seen.nat_frontends.clone(),
        rules: or_seen(rules, &seen.rules),
        outbound_rules: or_seen(outbound_rules, &seen.outbound_rules),
        frontends: or_seen(frontends, &seen.frontends),
        backend_pools: or_seen(backend_pools, &seen.backend_pools),
        probes: or_seen(probes, &seen.probes),
    };

    // Children that kept rules (or NAT rules) still refer to stay.
    // So do frontends a Private Link Service serves (Azure refuses to take them away): they
    // go once it is gone.
    let mut frontends: BTreeSet<String> = seen.nat_frontends.iter().map(|n| name_key(n)).collect();
    frontends.extend(served.iter().cloned());
    let mut pools = BTreeSet::new();
    let mut probes = BTreeSet::new();
    for r in &lb.rules {
        frontends.insert(name_key(&r.frontend));
        pools.insert(name_key(&r.backend_pool));
        probes.extend(r.probe.as_deref().map(name_key));
    }
    for o in &lb.outbound_rules {
        frontends.extend(o.frontends.iter().map(|f| name_key(f)));
        pools.insert(name_key(&o.backend_pool));
    }
    restore(
        &mut lb.frontends,
        &seen.frontends,
        &frontends,
        |c: &Frontend| &c.name,
    );
    restore(&mut lb.backend_pools, &seen.backend_pools, &pools, |c| {
        &c.name
    });
    restore(&mut lb.probes, &seen.probes, &probes, |c| &c.name);

    if keep.ownership.owns_resource(&seen.tags) {
        lb.tags.extend(want.tags.clone());
    }
    Some(lb)
}

/// The frontends of `lb` (lower-case names) that a Private Link Service in `observed` serves.
fn served_frontends(observed: &Observed, lb: &LoadBalancer) -> BTreeSet<String> {
    observed
        .private_link_services
        .iter()
        .flat_map(|p| p.frontend_ids.iter())
        .filter_map(|id| frontend_of_id(id))
        .filter(|(l, _)| l.eq_ignore_ascii_case(&lb.name))
        .map(|(_, f)| f)
        .collect()
}

/// A merged child list, or the observed one it equals.
fn or_seen<T: Clone>(merged: Option<Vec<T>>, seen: &[T]) -> Vec<T> {
    merged.unwrap_or_else(|| seen.to_vec())
}

/// Put back observed children that are referenced but were dropped.
fn restore<T: Clone>(
    list: &mut Vec<T>,
    seen: &[T],
    referenced: &BTreeSet<String>,
    name: impl Fn(&T) -> &str,
) {
    let present: BTreeSet<String> = list.iter().map(|c| name_key(name(c))).collect();
    for c in seen {
        let key = name_key(name(c));
        if referenced.contains(&key) && !present.contains(&key) {
            list.push(c.clone());
        }
    }
}

/// The update a public IP needs (DNS label, tags we set), if any.
fn public_ip_update(seen: &PublicIp, want: &PublicIp) -> Option<PublicIp> {
    let tags_ok = want.tags.iter().all(|(k, v)| seen.tags.get(k) == Some(v));
    if tags_ok && seen.dns_label == want.dns_label {
        return None;
    }
    let mut update = seen.clone();
    update.tags.extend(want.tags.clone());
    update.dns_label = want.dns_label.clone();
    Some(update)
}

/// Sort by lower-cased name; normalise what Azure treats as equal.
fn sorted<T: Clone>(list: &[T], name: impl Fn(&T) -> &str) -> Vec<T> {
    let mut out = list.to_vec();
    out.sort_by_key(|c| name_key(name(c)));
    out
}

fn canonical_lb(lb: &LoadBalancer) -> LoadBalancer {
    let mut c = lb.clone();
    c.etag = None;
    c.nat_frontends.clear();
    c.name = name_key(&c.name);
    c.frontends = sorted(&lb.frontends, |f| &f.name);
    for f in &mut c.frontends {
        f.name = name_key(&f.name);
        f.private_ip = None;
        match &mut f.target {
            FrontendTarget::Public { public_ip_id } => *public_ip_id = canonical_id(public_ip_id),
            FrontendTarget::Private {
                subnet_id,
                static_ip,
                ..
            } => {
                *subnet_id = canonical_id(subnet_id);
                *static_ip = static_ip.as_deref().map(normal_ip);
            }
        }
    }
    c.backend_pools = sorted(&lb.backend_pools, |p| &p.name);
    for p in &mut c.backend_pools {
        p.name = name_key(&p.name);
        let mut addresses: Vec<BackendAddress> = p
            .addresses
            .iter()
            .map(|a| BackendAddress {
                name: name_key(&a.name),
                ip: normal_ip(&a.ip),
                vnet_id: canonical_id(&a.vnet_id),
            })
            .collect();
        addresses.sort();
        p.addresses = addresses.into();
    }
    c.probes = sorted(&lb.probes, |p| &p.name);
    for p in &mut c.probes {
        p.name = name_key(&p.name);
    }
    c.rules = sorted(&lb.rules, |r| &r.name);
    for r in &mut c.rules {
        r.name = name_key(&r.name);
        r.frontend = name_key(&r.frontend);
        r.backend_pool = name_key(&r.backend_pool);
        r.probe = r.probe.as_deref().map(name_key);
    }
    c.outbound_rules = sorted(&lb.outbound_rules, |r| &r.name);
    for o in &mut c.outbound_rules {
        o.name = name_key(&o.name);
        o.backend_pool = name_key(&o.backend_pool);
        o.frontends = o.frontends.iter().map(|f| name_key(f)).collect();
        o.frontends.sort();
    }
    c
}

fn canonical_nsg(nsg: &SecurityGroup) -> SecurityGroup {
    let mut c = nsg.clone();
    c.etag = None;
    c.rules = sorted(&nsg.rules, |r| &r.name);
    for r in &mut c.rules {
        r.name = name_key(&r.name);
        r.protocol = name_key(&r.protocol);
        for list in [
            &mut r.sources,
            &mut r.destinations,
            &mut r.source_ports,
            &mut r.destination_ports,
        ] {
            *list = list.iter().map(|s| normal_prefix(s)).collect();
            list.sort();
            list.dedup();
        }
    }
    c
}

fn canonical_routes(table: &RouteTable) -> RouteTable {
    let mut c = table.clone();
    c.etag = None;
    c.routes = sorted(&table.routes, |r| &r.name);
    for r in &mut c.routes {
        r.name = name_key(&r.name);
        r.next_hop_type = name_key(&r.next_hop_type);
        r.address_prefix = normal_prefix(&r.address_prefix);
        r.next_hop_ip = r.next_hop_ip.as_deref().map(normal_ip);
    }
    c
}

/// An IP address in canonical text (IPv6 compressed, lower case); other text unchanged.
fn normal_ip(s: &str) -> String {
    s.parse::<std::net::IpAddr>()
        .map_or_else(|_| s.to_string(), |ip| ip.to_string())
}

/// A prefix, address or service tag in canonical text; service tags compare case-insensitively.
fn normal_prefix(s: &str) -> String {
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return net.to_string();
    }
    if s.parse::<std::net::IpAddr>().is_ok() {
        return normal_ip(s);
    }
    name_key(s)
}
