//! Egress: the outbound type's NAT gateway, the node subnet's association with it, and
//! whether the public load balancer keeps its outbound rule while the egress path switches.
//!
//! A switch never leaves the nodes without egress longer than Azure needs to apply one write.
//! A NAT gateway on a subnet takes precedence over a load balancer's outbound rule, so:
//!
//! - **to a NAT gateway**: its public IPs, then the gateway, then the subnet association; the
//!   outbound rule goes only once Azure shows the subnet on the gateway (with
//!   `userAssignedNATGateway`, once the user has associated theirs), and its IPs after it;
//! - **to the load balancer**: its outbound IPs, then the outbound rule; the subnet lets go of
//!   the managed gateway only once Azure shows the rule, and the gateway and its IPs go last;
//! - **to `userDefinedRouting` or `none`**: the outbound rule and the managed gateway's
//!   association go at once (the spec asks for no such egress).
//!
//! Each step is planned from what Azure holds now, so a pass that stops half-way resumes
//! where it stopped.

use aksnet_crds::{AksNetworkSpec, NatGatewaySpec, OutboundType};

use crate::model::{NatGateway, NetworkResource, Observed, PublicIp, Subnet};
use crate::naming::Ownership;
use crate::problem::{ObjectError, Problem};

use super::Context;

/// The spec field of the outbound type.
const OUTBOUND_TYPE: &str = "spec.loadBalancer.outboundType";

/// What egress wants of Azure.
#[derive(Default)]
pub(crate) struct Egress {
    /// The managed NAT gateway, created or kept up to date.
    pub nat_gateway: Option<NatGateway>,
    /// The managed NAT gateway's public IPs.
    pub public_ips: Vec<PublicIp>,
    /// The node subnet with the NAT gateway it should have, when aksnet changes it.
    pub subnet: Option<Subnet>,
    /// Why egress is not as the spec asks.
    pub errors: Vec<ObjectError>,
    /// What waits for Azure.
    pub pending: Vec<String>,
}

/// Whether the public load balancer carries the outbound rule in this plan: always with
/// `outboundType: loadBalancer`; with a NAT gateway type, while Azure still has the rule and
/// the node subnet is not on the gateway yet.
pub(crate) fn keeps_outbound_rule(ctx: &Context<'_>) -> bool {
    match ctx.lb_spec.outbound_type {
        OutboundType::LoadBalancer => true,
        OutboundType::UserDefinedRouting | OutboundType::None => false,
        OutboundType::ManagedNatGateway => {
            outbound_rule_live(ctx) && !subnet_on(ctx, &managed_id(ctx))
        }
        OutboundType::UserAssignedNatGateway => {
            outbound_rule_live(ctx) && !user_id(ctx).is_some_and(|id| subnet_on(ctx, id))
        }
    }
}

/// Plan the managed NAT gateway and the node subnet's association; `managed_ip` makes a public
/// IP aksnet creates (IPv4: Standard NAT gateways take no other).
pub(crate) fn plan(ctx: &Context<'_>, managed_ip: impl Fn(&str) -> PublicIp) -> Egress {
    let mut egress = Egress::default();
    let observed = ctx.input.observed;
    let managed = managed_id(ctx);
    let on_managed = subnet_on(ctx, &managed);
    let ours = observed
        .nat_gateway(ctx.resource_group(), &ctx.ownership.nat_gateway())
        .filter(|g| ctx.ownership.owns_resource(&g.tags));
    match ctx.lb_spec.outbound_type {
        OutboundType::ManagedNatGateway => {
            let settings = ctx.lb_spec.nat_gateway.clone().unwrap_or_default();
            egress.managed(ctx, &settings, managed_ip);
            let Some(subnet) = &observed.node_subnet else {
                egress.no_subnet(ctx);
                return egress;
            };
            match &subnet.nat_gateway_id {
                Some(other) if !on_managed => egress.errors.push(ObjectError {
                    object: OUTBOUND_TYPE.into(),
                    problem: Problem::Conflict(format!(
                        "the node subnet already has NAT gateway {other}, which aksnet did not create; remove that association, or use outboundType userAssignedNATGateway with natGateway.id"
                    )),
                }),
                Some(_) => {}
                None if ours.is_some() => egress.subnet = Some(associated(subnet, Some(managed))),
                None => egress
                    .pending
                    .push("the node subnet joins the NAT gateway once it exists".into()),
            }
        }
        OutboundType::UserAssignedNatGateway => {
            egress.user_assigned(ctx);
        }
        OutboundType::LoadBalancer => {
            if on_managed {
                if outbound_rule_live(ctx) {
                    egress.subnet = observed.node_subnet.as_ref().map(|s| associated(s, None));
                } else {
                    egress.pending.push(
                        "the node subnet leaves the NAT gateway once the outbound rule is in place"
                            .into(),
                    );
                }
            }
        }
        OutboundType::UserDefinedRouting | OutboundType::None => {
            if on_managed {
                egress.subnet = observed.node_subnet.as_ref().map(|s| associated(s, None));
            }
        }
    }
    egress
}

impl Egress {
    /// The VNet was read and has no node subnet: no gateway can serve the nodes.
    fn no_subnet(&mut self, ctx: &Context<'_>) {
        if ctx.input.observed.subnets.is_some() {
            let vnet = &ctx.input.network.azure.vnet;
            self.errors.push(ObjectError {
                object: OUTBOUND_TYPE.into(),
                problem: Problem::NotFound(format!(
                    "node subnet {} in VNet {}",
                    vnet.subnet_name, vnet.name
                )),
            });
        }
    }

    /// The managed gateway with `settings`, unless a gateway of its name exists that aksnet
    /// did not create.
    fn managed(
        &mut self,
        ctx: &Context<'_>,
        settings: &NatGatewaySpec,
        managed_ip: impl Fn(&str) -> PublicIp,
    ) {
        let name = ctx.ownership.nat_gateway();
        let rg = ctx.resource_group();
        if let Some(existing) = ctx.input.observed.nat_gateway(rg, &name)
            && !ctx.ownership.owns_resource(&existing.tags)
        {
            self.errors.push(ObjectError {
                object: OUTBOUND_TYPE.into(),
                problem: Problem::Conflict(format!(
                    "NAT gateway {name} exists in {rg} and was not created by aksnet"
                )),
            });
            return;
        }
        self.public_ips = (1..=settings.managed_outbound_ip_count)
            .map(|n| managed_ip(&ctx.ownership.nat_gateway_ip(n)))
            .collect();
        let mut public_ip_ids: Vec<String> = self
            .public_ips
            .iter()
            .map(|p| ctx.public_ip_id(&p.resource_group, &p.name))
            .collect();
        public_ip_ids.sort();
        self.nat_gateway = Some(NatGateway {
            name,
            resource_group: rg.to_string(),
            location: ctx.location().to_string(),
            tags: ctx.ownership.tags(),
            idle_timeout_minutes: settings.idle_timeout_minutes,
            public_ip_ids,
            subnets: Vec::new(),
            etag: None,
        });
    }

    /// `userAssignedNATGateway`: check that the gateway exists and that the node subnet is on
    /// it; write nothing.
    fn user_assigned(&mut self, ctx: &Context<'_>) {
        let field = "spec.loadBalancer.natGateway.id";
        let Some(id) = user_id(ctx) else {
            self.errors.push(ObjectError {
                object: field.into(),
                problem: Problem::InvalidValue(aksnet_crds::USER_NAT_GATEWAY_ID_MSG.into()),
            });
            return;
        };
        let observed = ctx.input.observed;
        let found = NetworkResource::parse(id)
            .and_then(|r| observed.nat_gateway(&r.resource_group, &r.name));
        if found.is_none() {
            self.errors.push(ObjectError {
                object: field.into(),
                problem: Problem::NotFound(format!("NAT gateway {id}")),
            });
        } else if observed.node_subnet.is_none() {
            self.no_subnet(ctx);
        } else if !subnet_on(ctx, id) {
            self.errors.push(ObjectError {
                object: field.into(),
                problem: Problem::Conflict(format!(
                    "NAT gateway {id} is not associated with the node subnet {}; associate it (aksnet keeps the current egress until then)",
                    ctx.input.network.azure.vnet.subnet_name
                )),
            });
        }
    }
}

/// The node subnet with NAT gateway `nat_gateway_id`.
fn associated(subnet: &Subnet, nat_gateway_id: Option<String>) -> Subnet {
    Subnet {
        nat_gateway_id,
        ..subnet.clone()
    }
}

/// The node subnet without the managed NAT gateway, when Azure shows it on it: what the
/// AksNetwork's deletion leaves (the gateway goes once the subnet has let go of it).
pub(crate) fn teardown(
    observed: &Observed,
    ownership: &Ownership,
    network: &AksNetworkSpec,
) -> Option<Subnet> {
    let id = nat_gateway_id(network, ownership);
    observed
        .node_subnet
        .as_ref()
        .filter(|s| s.has_nat_gateway(&id))
        .map(|s| associated(s, None))
}

/// ARM id of the managed NAT gateway.
fn managed_id(ctx: &Context<'_>) -> String {
    nat_gateway_id(ctx.input.network, &ctx.ownership)
}

/// ARM id of the managed NAT gateway of `network`.
fn nat_gateway_id(network: &AksNetworkSpec, ownership: &Ownership) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/natGateways/{}",
        network.azure.subscription_id,
        network.azure.resource_group,
        ownership.nat_gateway()
    )
}

/// The NAT gateway `natGateway.id` names.
fn user_id<'a>(ctx: &Context<'a>) -> Option<&'a str> {
    ctx.input
        .network
        .load_balancer
        .as_ref()?
        .nat_gateway
        .as_ref()?
        .id
        .as_deref()
}

/// Whether Azure shows the node subnet on the NAT gateway with ARM id `id`.
fn subnet_on(ctx: &Context<'_>, id: &str) -> bool {
    ctx.input
        .observed
        .node_subnet
        .as_ref()
        .is_some_and(|s| s.has_nat_gateway(id))
}

/// Whether Azure shows the public load balancer's outbound rule, so nodes have egress
/// through it.
pub(crate) fn outbound_rule_live(ctx: &Context<'_>) -> bool {
    let name = ctx.ownership.outbound_rule();
    ctx.input
        .observed
        .load_balancer(&ctx.lb_spec.public_name)
        .is_some_and(|lb| {
            lb.outbound_rules
                .iter()
                .any(|r| r.name.eq_ignore_ascii_case(&name) && !r.frontends.is_empty())
        })
}
