//! Private Link Services (`azure-pls-*`): one on the IPv4 frontend of an internal Service that
//! asks for it, named, placed and configured as the cloud provider does.
//!
//! A Service's Private Link Service is planned only once Azure shows its frontend (so the
//! write never names a frontend that is not there yet), and only in a subnet whose
//! `privateLinkServiceNetworkPolicies` are `Disabled`: aksnet never changes a subnet's policy
//! on a Service's behalf (the cloud provider does; the subnet is not the Service's). Services
//! sharing a frontend share its Private Link Service: the oldest that asks for one owns it, and
//! the others may not configure it.

use foldhash::{HashMap, HashMapExt};
use std::net::Ipv4Addr;

use crate::annotations::private_link::{self as pls, PrivateLink};
use crate::model::{
    Family, IpKey, PlsIpConfiguration, PrivateLinkService, canonical_id, ip_key, tag,
};
use crate::naming::TAG_SERVICE;
use crate::problem::{Problem, ServiceError};

use super::intent::{AddressSource, ServiceIntent};
use super::load_balancer::Placed;
use super::{Context, IngressSource};

/// Longest name of a Private Link Service IP configuration (Azure's child name limit).
const CHILD_NAME_MAX: usize = 80;

/// Plans the Private Link Services of the Services placed, one Service at a time.
pub(crate) struct Planner<'c, 'a> {
    ctx: &'c Context<'a>,
    /// The Private Link Services planned, by resource group and name.
    planned: HashMap<IpKey, PrivateLinkService>,
    /// Who owns the Private Link Service of each frontend (canonical ARM id).
    owners: HashMap<String, String>,
}

/// What [`Planner::check`] found for one Service: a Private Link Service to add, or one it
/// shares.
pub(crate) struct Checked(Option<(String, PrivateLinkService)>);

impl<'c, 'a> Planner<'c, 'a> {
    /// A planner over the context's observed state.
    pub fn new(ctx: &'c Context<'a>) -> Self {
        Self {
            ctx,
            planned: HashMap::new(),
            owners: HashMap::new(),
        }
    }

    /// What the Service's Private Link Service would be, or why it cannot be; nothing is
    /// taken until [`Planner::record`].
    pub fn check(
        &self,
        intent: &ServiceIntent,
        placed: &Placed,
        pending: &mut Vec<String>,
    ) -> Result<Checked, Vec<ServiceError>> {
        let key = intent.key.as_str();
        let Some(asked) = &intent.private_link else {
            return Ok(Checked(None));
        };
        if placed.waiting.is_some() {
            return Ok(Checked(None));
        }
        let err = |field: &str, p: Problem| vec![ServiceError::new(key, field, p)];
        let Some((lb, frontend)) = placed.ingress.iter().find_map(|(family, i)| match i {
            IngressSource::PrivateFrontend {
                load_balancer,
                frontend,
                ..
            } if *family == Family::V4 => Some((load_balancer, frontend)),
            _ => None,
        }) else {
            let p = Problem::Unsupported("the Service has no internal IPv4 frontend".into());
            return Err(err(pls::CREATE, p));
        };
        let ctx = self.ctx;
        let frontend_id = format!(
            "{}/frontendIPConfigurations/{frontend}",
            ctx.load_balancer_id(lb)
        );
        if let Some(owner) = self.owners.get(&canonical_id(&frontend_id)) {
            return match asked.set.first() {
                Some(field) => Err(err(
                    field,
                    Problem::Conflict(format!(
                        "the frontend's Private Link Service belongs to Service {owner}, which alone configures it"
                    )),
                )),
                None => Ok(Checked(None)),
            };
        }
        let name = asked
            .name
            .clone()
            .unwrap_or_else(|| crate::naming::fit_owned(format!("pls-{frontend}")));
        let rg = asked
            .resource_group
            .clone()
            .unwrap_or_else(|| ctx.resource_group().to_string());
        if !ctx.allows_group(&rg) {
            let p = Problem::ResourceGroupNotAllowed(format!(
                "{rg} is neither the cluster's resource group nor listed in the AksNetwork's spec.azure.publicIpResourceGroups"
            ));
            return Err(err(pls::RESOURCE_GROUP, p));
        }
        let observed = ctx.input.observed.private_link_service(&rg, &name);
        if let Some(seen) = observed {
            if !ctx.ownership.owns_resource(&seen.tags) {
                let p = Problem::Conflict(format!(
                    "Private Link Service {name} exists in {rg} and was not created by aksnet"
                ));
                return Err(err(name_field(asked), p));
            }
            if let Some(other) = tag(&seen.tags, TAG_SERVICE).filter(|s| *s != key) {
                let p = Problem::Conflict(format!(
                    "Private Link Service {name} in {rg} belongs to Service {other}"
                ));
                return Err(err(name_field(asked), p));
            }
        }
        let subnet = asked
            .subnet
            .clone()
            .or_else(|| internal_subnet(intent))
            .unwrap_or_else(|| ctx.input.network.azure.vnet.subnet_name.clone());
        self.check_subnet(key, &subnet, asked)?;
        let frontend_there = ctx.input.observed.load_balancer(lb).is_some_and(|l| {
            l.frontends
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(frontend))
        });
        if !frontend_there {
            pending.push(format!(
                "Private Link Service {name} waits for frontend {frontend}"
            ));
            return Ok(Checked(None));
        }
        let mut tags = ctx.ownership.tags();
        tags.insert(TAG_SERVICE.into(), key.to_string());
        Ok(Checked(Some((
            canonical_id(&frontend_id),
            PrivateLinkService {
                ip_configurations: ip_configurations(
                    &ctx.subnet_id(&subnet),
                    &subnet,
                    &name,
                    asked,
                ),
                name,
                resource_group: rg,
                location: ctx.location().to_string(),
                tags,
                frontend_ids: vec![frontend_id],
                visibility: asked.visibility.clone(),
                auto_approval: asked.auto_approval.clone(),
                fqdns: asked.fqdns.clone(),
                proxy_protocol: asked.proxy_protocol,
                alias: None,
                etag: None,
            },
        ))))
    }

    /// Take in what [`Planner::check`] found for the Service `key`, once it is served.
    pub fn record(&mut self, key: &str, checked: Checked) {
        if let Some((frontend, pls)) = checked.0 {
            self.owners.insert(frontend, key.to_string());
            self.planned
                .insert(ip_key(&pls.resource_group, &pls.name), pls);
        }
    }

    /// The Private Link Services planned, sorted by resource group and name.
    pub fn finish(self) -> Vec<PrivateLinkService> {
        let mut out: Vec<(IpKey, PrivateLinkService)> = self.planned.into_iter().collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// The subnet must exist with its Private Link Service network policies disabled, and hold
    /// the static addresses (not the first four nor the last, which Azure keeps).
    fn check_subnet(
        &self,
        key: &str,
        subnet: &str,
        asked: &PrivateLink,
    ) -> Result<(), Vec<ServiceError>> {
        let observed = self.ctx.input.observed;
        let Some(subnets) = &observed.subnets else {
            return Ok(());
        };
        let vnet = &self.ctx.input.network.azure.vnet.name;
        let field = if asked.subnet.is_some() {
            pls::SUBNET
        } else {
            pls::CREATE
        };
        let Some(prefixes) = subnets.get(&subnet.to_ascii_lowercase()) else {
            let p = Problem::NotFound(format!("subnet {subnet} in VNet {vnet}"));
            return Err(vec![ServiceError::new(key, field, p)]);
        };
        if !observed
            .private_link_subnets
            .contains(&subnet.to_ascii_lowercase())
        {
            let p = Problem::Conflict(format!(
                "subnet {subnet} has privateLinkServiceNetworkPolicies Enabled, and Azure places no Private Link Service there; its owner can disable them (az network vnet subnet update --vnet-name {vnet} --name {subnet} --private-link-service-network-policies Disabled)"
            ));
            return Err(vec![ServiceError::new(key, field, p)]);
        }
        let nets: Vec<ipnet::Ipv4Net> = prefixes.iter().filter_map(|p| p.parse().ok()).collect();
        let errors: Vec<ServiceError> = asked
            .static_ips
            .iter()
            .filter(|ip| !nets.iter().any(|n| usable(n, **ip)))
            .map(|ip| {
                let p = Problem::InvalidValue(format!(
                    "{ip} is not a usable address of subnet {subnet} ({}; Azure keeps the first four and the last)",
                    prefixes.join(", ")
                ));
                ServiceError::new(key, pls::IPS, p)
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The annotation that named the Private Link Service (its name comes from the frontend
/// otherwise).
fn name_field(asked: &PrivateLink) -> &'static str {
    if asked.name.is_some() {
        pls::NAME
    } else {
        pls::CREATE
    }
}

/// The subnet of the Service's internal IPv4 frontend, when an annotation named one.
fn internal_subnet(intent: &ServiceIntent) -> Option<String> {
    match intent.frontends.iter().find(|(f, _)| *f == Family::V4) {
        Some((_, AddressSource::Private { subnet, .. })) => subnet.clone(),
        _ => None,
    }
}

/// Whether `ip` is an address of `net` Azure lets a resource take.
fn usable(net: &ipnet::Ipv4Net, ip: Ipv4Addr) -> bool {
    let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
    let n = u32::from(ip);
    net.contains(&ip) && n >= first.saturating_add(4) && n < last
}

/// The IP configurations: the static addresses (the first is the primary), then dynamic ones
/// up to the count, named `<subnet>-<name>-static-<ip>` and `-dynamic-<n>` as the cloud
/// provider names them.
fn ip_configurations(
    subnet_id: &str,
    subnet: &str,
    name: &str,
    asked: &PrivateLink,
) -> Vec<PlsIpConfiguration> {
    let child = |suffix: String| {
        let mut prefix = format!("{subnet}-{name}");
        prefix.truncate(CHILD_NAME_MAX.saturating_sub(suffix.len()));
        prefix + &suffix
    };
    let statics = asked
        .static_ips
        .iter()
        .enumerate()
        .map(|(i, ip)| PlsIpConfiguration {
            name: child(format!("-static-{ip}")),
            subnet_id: subnet_id.to_string(),
            static_ip: Some(ip.to_string()),
            primary: i == 0,
            private_ip: None,
        });
    let dynamic = asked.ip_count as usize - asked.static_ips.len().min(asked.ip_count as usize);
    let dynamics = (0..dynamic).map(|i| PlsIpConfiguration {
        name: child(format!("-dynamic-{i}")),
        subnet_id: subnet_id.to_string(),
        static_ip: None,
        primary: asked.static_ips.is_empty() && i == 0,
        private_ip: None,
    });
    statics.chain(dynamics).collect()
}
