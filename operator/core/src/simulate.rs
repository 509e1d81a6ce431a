//! Apply operations to an observed snapshot the way Azure would, without Azure.
//!
//! Used to check plans before they are sent (dry runs and tests): it allocates addresses and
//! entity tags, keeps back-references, and refuses what ARM refuses (a rule naming a missing
//! frontend, probe or pool; a frontend naming a missing public IP; deleting a public IP in use).

use std::collections::{HashMap, HashSet};

use crate::diff::Op;
use crate::model::{
    Applied, FrontendTarget, IpKey, LoadBalancer, NatGateway, Observed, PrivateLinkService,
    frontend_of_id, ip_key, ip_key_of_id,
};
use crate::naming::short_hash;

/// Why Azure would refuse an operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A child refers to something that does not exist.
    #[error("{op}: {what} refers to missing {missing}")]
    MissingReference {
        /// The operation.
        op: String,
        /// The referring child.
        what: String,
        /// The missing target.
        missing: String,
    },
    /// A public IP still used by a frontend.
    #[error("{0}: public IP in use")]
    InUse(String),
    /// A public IP past the subscription's quota.
    #[error("{0}: public IP quota reached")]
    Quota(String),
    /// Two NSG rules with one priority and direction.
    #[error("{0}: security rules with the same priority and direction")]
    PriorityConflict(String),
}

/// Apply `ops` in order to `observed`.
pub fn apply(observed: &mut Observed, ops: &[Op]) -> Result<(), Refused> {
    for op in ops {
        apply_op(observed, op)?;
    }
    Ok(())
}

/// Apply one operation to `state` and answer as ARM does: the resource as written (or that it
/// is gone). Addresses depend only on names, so the order of independent writes does not
/// change the outcome.
pub fn apply_op(state: &mut Observed, op: &Op) -> Result<Applied, Refused> {
    apply_one(state, op)?;
    let found = match op {
        Op::PutPublicIp(p) => state
            .public_ip(&p.resource_group, &p.name)
            .cloned()
            .map(Applied::PublicIp),
        Op::PutLoadBalancer(lb) => state
            .load_balancer(&lb.name)
            .cloned()
            .map(Applied::LoadBalancer),
        Op::PutSecurityGroup(_) => state.security_group.clone().map(Applied::SecurityGroup),
        Op::PutRouteTable(_) => state.route_table.clone().map(Applied::RouteTable),
        Op::PutNatGateway(g) => state
            .nat_gateway(&g.resource_group, &g.name)
            .cloned()
            .map(Applied::NatGateway),
        Op::PutSubnet(_) => state.node_subnet.clone().map(Applied::Subnet),
        Op::PutPrivateLinkService(p) => state
            .private_link_service(&p.resource_group, &p.name)
            .cloned()
            .map(Applied::PrivateLinkService),
        Op::DeletePrivateLinkService {
            resource_group,
            name,
            ..
        } => Some(Applied::DeletedPrivateLinkService {
            resource_group: resource_group.clone(),
            name: name.clone(),
        }),
        Op::DeleteNatGateway {
            resource_group,
            name,
            ..
        } => Some(Applied::DeletedNatGateway {
            resource_group: resource_group.clone(),
            name: name.clone(),
        }),
        Op::DeleteLoadBalancer { name, .. } => {
            Some(Applied::DeletedLoadBalancer { name: name.clone() })
        }
        Op::DeletePublicIp {
            resource_group,
            name,
            ..
        } => Some(Applied::DeletedPublicIp {
            resource_group: resource_group.clone(),
            name: name.clone(),
        }),
    };
    found.ok_or_else(|| Refused::MissingReference {
        op: op.describe(),
        what: "the written resource".into(),
        missing: "its result".into(),
    })
}

/// A test address for a new public IP, from its name (the next free one on a clash).
fn address_for(state: &Observed, p: &crate::model::PublicIp) -> String {
    let seed = u32::from_str_radix(&short_hash(&p.name.to_ascii_lowercase(), 6), 16).unwrap_or(0);
    let taken = |a: &str| {
        state
            .public_ips
            .iter()
            .any(|o| o.address.as_deref() == Some(a))
    };
    (0u32..)
        .map(|i| {
            let n = (seed + i) & 0x3f_ffff;
            match p.family {
                crate::model::Family::V4 => {
                    format!("100.{}.{}.{}", 64 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
                }
                crate::model::Family::V6 => format!("2001:db8::{n:x}"),
            }
        })
        .find(|a| !taken(a))
        .unwrap_or_default()
}

fn apply_one(state: &mut Observed, op: &Op) -> Result<(), Refused> {
    let next_etag = |old: &Option<String>| {
        let n = old
            .as_deref()
            .and_then(|e| e.parse::<u64>().ok())
            .unwrap_or(0);
        Some((n + 1).to_string())
    };
    match op {
        Op::PutPublicIp(p) => {
            let mut p = p.clone();
            let index = state
                .public_ips
                .iter()
                .position(|o| same(&o.resource_group, &p.resource_group) && same(&o.name, &p.name));
            match index {
                Some(i) => {
                    let old = &state.public_ips[i];
                    p.address = old.address.clone();
                    p.used_by = old.used_by.clone();
                    p.etag = next_etag(&old.etag);
                    state.public_ips[i] = p;
                }
                None => {
                    if let Some(q) = &mut state.public_ip_quota {
                        if q.room() == 0 {
                            return Err(Refused::Quota(op.describe()));
                        }
                        q.used += 1;
                    }
                    p.address = Some(address_for(state, &p));
                    p.etag = next_etag(&None);
                    state.public_ips.push(p);
                }
            }
        }
        Op::PutLoadBalancer(lb) => {
            let mut lb = lb.clone();
            check_lb(state, &lb, &op.describe())?;
            let old = state.load_balancer(&lb.name).cloned();
            lb.etag = next_etag(&old.as_ref().and_then(|o| o.etag.clone()));
            lb.nat_frontends = old
                .as_ref()
                .map(|o| o.nat_frontends.clone())
                .unwrap_or_default();
            let mut used: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
            for f in lb.frontends.iter_mut() {
                if let FrontendTarget::Private { static_ip, .. } = &f.target {
                    let kept = old
                        .as_ref()
                        .and_then(|o| o.frontends.iter().find(|of| same(&of.name, &f.name)))
                        .and_then(|of| of.private_ip.clone());
                    let seed =
                        u32::from_str_radix(&short_hash(&f.name.to_ascii_lowercase(), 4), 16)
                            .unwrap_or(0);
                    let fresh = (0u32..)
                        .map(|i| {
                            let n = (seed + i) % (250 * 250);
                            format!("10.224.{}.{}", n / 250, 4 + n % 250)
                        })
                        .find(|a| !used.contains(a))
                        .unwrap_or_default();
                    let ip = static_ip.clone().or(kept).unwrap_or(fresh);
                    used.insert(ip.clone());
                    f.private_ip = Some(ip);
                }
            }
            state.load_balancers.retain(|o| !same(&o.name, &lb.name));
            state.load_balancers.push(lb);
            back_references(state);
        }
        Op::PutSecurityGroup(nsg) => {
            let mut seen = std::collections::BTreeSet::new();
            for r in &nsg.rules {
                if !seen.insert((r.direction, r.priority)) {
                    return Err(Refused::PriorityConflict(op.describe()));
                }
            }
            let mut nsg = nsg.clone();
            nsg.etag = next_etag(&state.security_group.as_ref().and_then(|o| o.etag.clone()));
            state.security_group = Some(nsg);
        }
        Op::PutRouteTable(table) => {
            let mut table = table.clone();
            table.etag = next_etag(&state.route_table.as_ref().and_then(|o| o.etag.clone()));
            state.route_table = Some(table);
        }
        Op::DeleteLoadBalancer { name, .. } => {
            let empty = LoadBalancer {
                name: name.clone(),
                ..LoadBalancer::default()
            };
            check_private_links(state, &empty, &op.describe())?;
            state.load_balancers.retain(|o| !same(&o.name, name));
            back_references(state);
        }
        Op::PutNatGateway(g) => put_nat_gateway(state, g, &op.describe())?,
        Op::PutPrivateLinkService(pls) => put_private_link_service(state, pls, &op.describe())?,
        Op::DeletePrivateLinkService {
            resource_group,
            name,
            ..
        } => state.record(Applied::DeletedPrivateLinkService {
            resource_group: resource_group.clone(),
            name: name.clone(),
        }),
        Op::PutSubnet(subnet) => {
            let gateway = subnet.nat_gateway_id.as_deref();
            if let Some(id) = gateway
                && !state.nat_gateways.iter().any(|g| g.is(id))
            {
                return Err(Refused::MissingReference {
                    op: op.describe(),
                    what: "the subnet".into(),
                    missing: id.to_string(),
                });
            }
            let mut subnet = subnet.clone();
            subnet.etag = next_etag(&state.node_subnet.as_ref().and_then(|o| o.etag.clone()));
            for g in &mut state.nat_gateways {
                g.subnets.retain(|s| !same(s, &subnet.id));
                if gateway.is_some_and(|id| g.is(id)) {
                    g.subnets.push(subnet.id.clone());
                }
            }
            state.node_subnet = Some(subnet);
        }
        Op::DeleteNatGateway {
            resource_group,
            name,
            ..
        } => {
            let in_use = state
                .nat_gateway(resource_group, name)
                .is_some_and(|g| !g.subnets.is_empty());
            if in_use {
                return Err(Refused::InUse(op.describe()));
            }
            state.record(Applied::DeletedNatGateway {
                resource_group: resource_group.clone(),
                name: name.clone(),
            });
        }
        Op::DeletePublicIp {
            resource_group,
            name,
            ..
        } => {
            let in_use = state.public_ips.iter().any(|p| {
                same(&p.resource_group, resource_group)
                    && same(&p.name, name)
                    && p.used_by.is_some()
            });
            if in_use {
                return Err(Refused::InUse(op.describe()));
            }
            let before = state.public_ips.len();
            state
                .public_ips
                .retain(|p| !(same(&p.resource_group, resource_group) && same(&p.name, name)));
            if state.public_ips.len() < before
                && let Some(q) = &mut state.public_ip_quota
            {
                q.used = q.used.saturating_sub(1);
            }
        }
    }
    Ok(())
}

/// A Private Link Service put: its frontends must exist; it gets an alias and its dynamic
/// addresses.
fn put_private_link_service(
    state: &mut Observed,
    pls: &PrivateLinkService,
    op: &str,
) -> Result<(), Refused> {
    for id in &pls.frontend_ids {
        let exists = frontend_of_id(id).is_some_and(|(lb, frontend)| {
            state
                .load_balancer(&lb)
                .is_some_and(|l| l.frontends.iter().any(|f| same(&f.name, &frontend)))
        });
        if !exists {
            return Err(Refused::MissingReference {
                op: op.to_string(),
                what: pls.name.clone(),
                missing: id.clone(),
            });
        }
    }
    let old = state.private_link_service(&pls.resource_group, &pls.name);
    let mut pls = pls.clone();
    let n = old
        .and_then(|o| o.etag.as_deref())
        .and_then(|e| e.parse::<u64>().ok())
        .unwrap_or(0);
    pls.etag = Some((n + 1).to_string());
    pls.alias = Some(format!(
        "{}.{}.{}.azure.privatelinkservice",
        pls.name,
        short_hash(&pls.name.to_ascii_lowercase(), 8),
        pls.location
    ));
    for (i, c) in pls.ip_configurations.iter_mut().enumerate() {
        c.private_ip = c
            .static_ip
            .clone()
            .or_else(|| Some(format!("10.224.255.{}", 4 + i)));
    }
    state.record(Applied::PrivateLinkService(pls));
    Ok(())
}

/// ARM refuses to take a frontend a Private Link Service serves off its load balancer.
fn check_private_links(state: &Observed, lb: &LoadBalancer, op: &str) -> Result<(), Refused> {
    let dropped = state.private_link_services.iter().any(|pls| {
        pls.frontend_ids.iter().any(|id| {
            frontend_of_id(id).is_some_and(|(l, f)| {
                same(&l, &lb.name) && !lb.frontends.iter().any(|x| same(&x.name, &f))
            })
        })
    });
    if dropped {
        return Err(Refused::InUse(op.to_string()));
    }
    Ok(())
}

/// A NAT gateway put: its public IPs must exist and be free of other users; its subnets stay.
fn put_nat_gateway(state: &mut Observed, g: &NatGateway, op: &str) -> Result<(), Refused> {
    for id in &g.public_ip_ids {
        let ip = ip_key_of_id(id).and_then(|(rg, name)| state.public_ip(&rg, &name));
        match ip {
            None => {
                return Err(Refused::MissingReference {
                    op: op.to_string(),
                    what: g.name.clone(),
                    missing: id.clone(),
                });
            }
            Some(p) if p.used_by.as_deref().is_some_and(|u| !g.is(u)) => {
                return Err(Refused::InUse(op.to_string()));
            }
            Some(_) => {}
        }
    }
    let old = state.nat_gateway(&g.resource_group, &g.name);
    let mut g = g.clone();
    let n = old
        .and_then(|o| o.etag.as_deref())
        .and_then(|e| e.parse::<u64>().ok())
        .unwrap_or(0);
    g.etag = Some((n + 1).to_string());
    g.subnets = old.map(|o| o.subnets.clone()).unwrap_or_default();
    state.record(Applied::NatGateway(g));
    Ok(())
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// ARM's referential checks on a load balancer body.
fn check_lb(state: &Observed, lb: &LoadBalancer, op: &str) -> Result<(), Refused> {
    check_private_links(state, lb, op)?;
    let missing = |what: &str, target: &str| Refused::MissingReference {
        op: op.to_string(),
        what: what.to_string(),
        missing: target.to_string(),
    };
    let names = |list: &mut dyn Iterator<Item = &String>| -> HashSet<String> {
        list.map(|n| n.to_ascii_lowercase()).collect()
    };
    let frontends = names(&mut lb.frontends.iter().map(|f| &f.name));
    let pools = names(&mut lb.backend_pools.iter().map(|p| &p.name));
    let probes = names(&mut lb.probes.iter().map(|p| &p.name));
    let has = |set: &HashSet<String>, n: &str| set.contains(&n.to_ascii_lowercase());
    for r in &lb.rules {
        if !has(&frontends, &r.frontend) {
            return Err(missing(&r.name, &r.frontend));
        }
        if !has(&pools, &r.backend_pool) {
            return Err(missing(&r.name, &r.backend_pool));
        }
        if let Some(p) = &r.probe
            && !has(&probes, p)
        {
            return Err(missing(&r.name, p));
        }
    }
    for o in &lb.outbound_rules {
        for f in &o.frontends {
            if !has(&frontends, f) {
                return Err(missing(&o.name, f));
            }
        }
    }
    let ips: HashSet<IpKey> = state
        .public_ips
        .iter()
        .map(|p| ip_key(&p.resource_group, &p.name))
        .collect();
    for f in &lb.frontends {
        if let FrontendTarget::Public { public_ip_id } = &f.target
            && !ip_key_of_id(public_ip_id).is_some_and(|k| ips.contains(&k))
        {
            return Err(missing(&f.name, public_ip_id));
        }
    }
    Ok(())
}

/// Recompute each public IP's `used_by` from the load balancers' frontends and the NAT
/// gateways.
fn back_references(state: &mut Observed) {
    for p in &mut state.public_ips {
        p.used_by = None;
    }
    let index: HashMap<IpKey, usize> = state
        .public_ips
        .iter()
        .enumerate()
        .map(|(i, p)| (ip_key(&p.resource_group, &p.name), i))
        .collect();
    for lb in &state.load_balancers {
        for f in &lb.frontends {
            if let FrontendTarget::Public { public_ip_id } = &f.target
                && let Some(p) = ip_key_of_id(public_ip_id)
                    .and_then(|k| index.get(&k))
                    .and_then(|i| state.public_ips.get_mut(*i))
            {
                let sub = public_ip_id.split('/').nth(2).unwrap_or_default();
                p.used_by = Some(format!(
                    "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/{}/frontendIPConfigurations/{}",
                    lb.resource_group, lb.name, f.name
                ));
            }
        }
    }
    for g in &state.nat_gateways {
        g.refer(&mut state.public_ips);
    }
}
