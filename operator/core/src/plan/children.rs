//! A Service's load balancer children as they are wherever it is placed: the frontends (and
//! the public IPs aksnet creates for them), rules and probes. Built once per Service, from the
//! Service and the network, before [`super::load_balancer`] tries the load balancers it may
//! go on (which check it fits, and never change what it asks for).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::intent::{ManagedIp, PortIntent, ServiceIntent};
use super::{Context, IngressSource};
use crate::model::{
    Distribution, Family, Frontend, FrontendTarget, LbRule, Probe, Protocol, PublicIp,
    canonical_id, name_key,
};
use crate::naming::{TAG_SERVICE, fit_owned, short_hash};
use crate::problem::{Problem, ServiceError};

/// A frontend resolved for one family of a Service.
#[derive(Clone)]
pub(super) struct Resolved {
    pub frontend: Frontend,
    /// The frontend's name in lower case, which the planner's maps are keyed by.
    pub key: String,
    pub public_ip: Option<PublicIp>,
    pub ingress: IngressSource,
    pub family: Family,
}

/// The rules and probes of a Service's resolved frontends, and what they claim.
pub(super) struct Children {
    pub rules: Vec<LbRule>,
    pub probes: Vec<Probe>,
    /// `(frontend key, protocol, port)` of each rule.
    pub claimed: Vec<(String, Protocol, u16)>,
}

/// The ports a Service's load-balancing rules carry: its own, or with high-availability
/// ports one rule (protocol All, port 0) probed as its first probed port is.
pub(super) fn rule_ports(intent: &ServiceIntent) -> Cow<'_, [PortIntent]> {
    if !intent.ha_ports {
        return Cow::Borrowed(&intent.ports);
    }
    Cow::Owned(vec![PortIntent {
        port: 0,
        protocol: Protocol::All,
        backend_port: 0,
        probe: intent.ports.iter().find_map(|p| p.probe.clone()),
    }])
}

/// Builds Services' frontends, public IPs, rules and probes.
pub(super) struct Builder<'c, 'a> {
    ctx: &'c Context<'a>,
    /// Each family's backend pool name.
    pool_names: BTreeMap<Family, String>,
    /// Whether public load-balancing rules leave outbound SNAT to the outbound rule: once it
    /// is planned or in Azure (so a rule coming back costs one write with the rules).
    pub(super) outbound_snat: bool,
}

impl<'c, 'a> Builder<'c, 'a> {
    /// A builder for the plan of `ctx` (outbound SNAT off until the outbound rule is planned).
    pub(super) fn new(ctx: &'c Context<'a>) -> Self {
        Self {
            ctx,
            pool_names: [Family::V4, Family::V6]
                .into_iter()
                .map(|f| (f, ctx.ownership.backend_pool(f)))
                .collect(),
            outbound_snat: false,
        }
    }

    /// The frontend of a public IP aksnet creates for a Service, or why it cannot have it
    /// (but for a DNS label clash with a Service placed before, which the planner checks).
    pub(super) fn managed(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
        family: Family,
        ip: &ManagedIp,
    ) -> Result<Resolved, ServiceError> {
        let ManagedIp {
            dns_label,
            prefix_id,
            ip_tags,
            ..
        } = ip;
        let ctx = self.ctx;
        let key = intent.key.as_str();
        if let Some(id) = prefix_id {
            let field = crate::annotations::pip_prefix_annotation(family);
            if !ctx.allows_prefix(id) {
                let p = Problem::ResourceGroupNotAllowed(format!(
                    "public IP prefix {id} is outside the cluster's subscription and the resource groups the AksNetwork allows (spec.azure.publicIpResourceGroups)"
                ));
                return Err(ServiceError::new(key, field, p));
            }
            if ctx.input.observed.ip_prefixes.get(&canonical_id(id)) == Some(&false) {
                let p = Problem::NotFound(format!("public IP prefix {id}"));
                return Err(ServiceError::new(key, field, p));
            }
        }
        let base = ctx.ownership.service_frontend(prefix, family);
        // Azure sets a prefix and IP tags only at creation: other ones make a new IP.
        let mut name = match prefix_id {
            Some(id) => fit_owned(format!("{base}-p{}", short_hash(&name_key(id), 6))),
            None => base,
        };
        if !ip_tags.is_empty() {
            let text: Vec<String> = ip_tags
                .iter()
                .map(|(k, v)| format!("{}={v}", k.to_ascii_lowercase()))
                .collect();
            name = fit_owned(format!("{name}-t{}", short_hash(&text.join(","), 6)));
        }
        // Azure refuses a DNS label another public IP of the region holds.
        if let Some(label) = dns_label
            && let Some(holder) = ctx
                .ips_by_dns_label()
                .get(label.as_str())
                .into_iter()
                .flatten()
                .find(|p| {
                    p.dns_label.as_deref() == Some(label.as_str())
                        && name_key(&p.location) == name_key(ctx.location())
                        && ctx
                            .ownership
                            .service_prefix_of(&name_key(&p.name))
                            .is_none_or(|p| p != name_key(prefix))
                })
        {
            let p = Problem::Conflict(format!(
                "DNS label {label:?} is already used by public IP {} in resource group {}",
                holder.name, holder.resource_group
            ));
            return Err(ServiceError::new(key, crate::annotations::DNS_LABEL, p));
        }
        let mut settings = ip.clone();
        settings.tags.insert(TAG_SERVICE.into(), key.to_string());
        let pip = self.managed_ip(&name, family, settings);
        Ok(self.public_frontend(family, ctx.resource_group(), &name, Some(pip)))
    }

    /// The rules and probes of a Service on its resolved frontends.
    pub(super) fn children(
        &self,
        intent: &ServiceIntent,
        prefix: &str,
        resolved: &[Resolved],
    ) -> Children {
        let rule_ports = rule_ports(intent);
        let children = rule_ports.len() * resolved.len();
        let mut out = Children {
            rules: Vec::with_capacity(children),
            probes: Vec::with_capacity(children),
            claimed: Vec::with_capacity(children),
        };
        let outbound = !intent.internal && self.outbound_snat;
        for r in resolved {
            for p in rule_ports.iter() {
                out.claimed.push((r.key.clone(), p.protocol, p.port));
                let name = self
                    .ctx
                    .ownership
                    .rule(prefix, p.protocol, p.port, r.family);
                let probe = p.probe.as_ref().map(|template| Probe {
                    name: name.clone(),
                    ..template.clone()
                });
                let probe_name = probe.as_ref().map(|_| name.clone());
                out.rules.push(LbRule {
                    name,
                    frontend: r.frontend.name.clone(),
                    backend_pool: self.pool_names[&r.family].clone(),
                    probe: probe_name,
                    protocol: p.protocol,
                    frontend_port: p.port,
                    backend_port: p.backend_port,
                    idle_timeout_minutes: intent.idle_timeout,
                    floating_ip: intent.floating_ip,
                    tcp_reset: intent.tcp_reset && p.protocol == Protocol::Tcp,
                    distribution: if intent.client_ip_affinity {
                        Distribution::SourceIp
                    } else {
                        Distribution::Default
                    },
                    disable_outbound_snat: outbound,
                });
                out.probes.extend(probe);
            }
        }
        out
    }

    /// A public IP aksnet creates, with `settings` and aksnet's ownership tags.
    pub(super) fn managed_ip(&self, name: &str, family: Family, settings: ManagedIp) -> PublicIp {
        let ManagedIp {
            dns_label,
            prefix_id,
            mut tags,
            ip_tags,
        } = settings;
        self.ctx.ownership.add_tags(&mut tags);
        PublicIp {
            name: name.to_string(),
            resource_group: self.ctx.resource_group().to_string(),
            location: self.ctx.location().to_string(),
            family,
            zones: Vec::new(),
            dns_label,
            prefix_id,
            ip_tags,
            tags,
            address: None,
            used_by: None,
            etag: None,
        }
    }

    /// The frontend of a public IP: a Service's own name for IPs aksnet named, else shared.
    pub(super) fn public_frontend_name(&self, pip_name: &str) -> String {
        if self.ctx.ownership.owns_child(pip_name) {
            pip_name.to_string()
        } else {
            self.ctx.ownership.public_ip_frontend(pip_name)
        }
    }

    /// The frontend of a public IP in `rg`, with the public IP when aksnet creates it.
    pub(super) fn public_frontend(
        &self,
        family: Family,
        rg: &str,
        pip_name: &str,
        public_ip: Option<PublicIp>,
    ) -> Resolved {
        let name = self.public_frontend_name(pip_name);
        Resolved {
            key: name_key(&name),
            frontend: Frontend {
                name,
                target: FrontendTarget::Public {
                    public_ip_id: self.ctx.public_ip_id(rg, pip_name),
                },
                private_ip: None,
            },
            public_ip,
            ingress: IngressSource::PublicIp {
                resource_group: rg.to_string(),
                name: pip_name.to_string(),
            },
            family,
        }
    }
}
