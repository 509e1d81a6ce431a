//! The `AksNetwork` custom resource: one cluster's Azure network, declared.
//!
//! Validation lives in the schema (OpenAPI constraints and CEL `x-kubernetes-validations`), so the
//! API server refuses a wrong object at apply time with a message naming the field. The same
//! checks exist in Rust in [`crate::validate`].

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::rules::*;

/// Desired state of one cluster's Azure network.
// Each printcolumn repeats `type_`, which clippy misreads as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aksnet.io",
    version = "v1alpha1",
    kind = "AksNetwork",
    plural = "aksnetworks",
    shortname = "akn",
    category = "aksnet",
    status = "AksNetworkStatus",
    derive = "PartialEq",
    doc = "AksNetwork declares the Azure network of one Kubernetes cluster: coordinates, network model and IP plan, load balancers, static public IPs, NSG rules and routes. The operator makes Azure follow it.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Model", type_ = "string", json_path = ".spec.networkModel"),
    printcolumn(
        name = "Public IPs",
        type_ = "string",
        json_path = ".status.publicIpAddresses"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.networkModel == 'azureCni' || has(self.ipPlan.podCidr)").message("ipPlan.podCidr is required for networkModel kubenet, azureCniOverlay and azureCniCilium").field_path(".ipPlan.podCidr").reason(Reason::FieldValueRequired),
    validation = Rule::new("self.networkModel != 'azureCni' || !has(self.ipPlan.podCidr)").message("ipPlan.podCidr is forbidden for networkModel azureCni: pods take VNet addresses (use ipPlan.podSubnetCidr for a pod subnet)").field_path(".ipPlan.podCidr").reason(Reason::FieldValueForbidden),
    validation = Rule::new("self.networkModel == 'azureCni' || !has(self.ipPlan.podSubnetCidr)").message("ipPlan.podSubnetCidr is only used by networkModel azureCni").field_path(".ipPlan.podSubnetCidr").reason(Reason::FieldValueForbidden),
    validation = Rule::new("self.networkModel != 'kubenet' || !has(self.ipPlan.maxNodes) || self.ipPlan.maxNodes <= 400").message("ipPlan.maxNodes must be at most 400 with kubenet: a route table holds at most 400 routes, one per node").field_path(".ipPlan.maxNodes"),
    validation = Rule::new("self.networkModel != 'kubenet' || has(self.routeTable)").message("routeTable is required for networkModel kubenet: pod traffic is routed through it").field_path(".routeTable").reason(Reason::FieldValueRequired),
    validation = Rule::new("!has(self.routeTable) || !has(self.routeTable.syncNodeRoutes) || !self.routeTable.syncNodeRoutes || self.networkModel == 'kubenet'").message("routeTable.syncNodeRoutes only applies to networkModel kubenet").field_path(".routeTable.syncNodeRoutes"),
    validation = Rule::new("!has(self.routeTable) || self.networkModel != 'kubenet' || !has(self.ipPlan.maxNodes) || self.ipPlan.maxNodes + size(self.routeTable.routes) <= 400").message("routeTable.routes plus one route per node (ipPlan.maxNodes) exceed the 400 routes of a route table").field_path(".routeTable.routes"),
    validation = Rule::new("self.networkModel != 'kubenet' || !has(self.routeTable) || !has(self.ipPlan.podCidr) || !isCIDR(self.ipPlan.podCidr) || self.routeTable.routes.all(r, !isCIDR(r.addressPrefix) || !cidr(self.ipPlan.podCidr).containsCIDR(r.addressPrefix))").message("routeTable.routes must not lie inside ipPlan.podCidr with networkModel kubenet: aksnet routes each node's pod range there, and such a route would take a node's traffic").field_path(".routeTable.routes"),
    validation = Rule::new("(has(self.loadBalancer) ? self.loadBalancer.publicName : 'kubernetes') == (has(oldSelf.loadBalancer) ? oldSelf.loadBalancer.publicName : 'kubernetes')").message("is immutable: a renamed load balancer would be built while the old one still holds the Services' public IPs").field_path(".loadBalancer.publicName"),
    validation = Rule::new("(has(self.loadBalancer) ? self.loadBalancer.internalName : 'kubernetes-internal') == (has(oldSelf.loadBalancer) ? oldSelf.loadBalancer.internalName : 'kubernetes-internal')").message("is immutable: a renamed load balancer would be built while the old one still holds the Services' frontends").field_path(".loadBalancer.internalName"),
    validation = Rule::new("self.networkModel == oldSelf.networkModel || oldSelf.networkModel != 'kubenet' || (has(oldSelf.routeTable) && has(oldSelf.routeTable.syncNodeRoutes) && !oldSelf.routeTable.syncNodeRoutes)").message("networkModel can leave kubenet only once its pod routes are switched off: apply routeTable.syncNodeRoutes: false first (changing the model directly would remove every node's pod route at once)").field_path(".networkModel"),
    validation = Rule::new("!has(self.loadBalancer) || self.loadBalancer.outboundType != 'userDefinedRouting' || (has(self.routeTable) && self.routeTable.routes.exists(r, r.addressPrefix == '0.0.0.0/0' && (r.nextHopType == 'VirtualAppliance' || r.nextHopType == 'VirtualNetworkGateway')))").message("loadBalancer.outboundType userDefinedRouting needs a routeTable.routes entry for 0.0.0.0/0 to a VirtualAppliance or VirtualNetworkGateway (AKS refuses 0.0.0.0/0 to Internet)").field_path(".routeTable.routes").reason(Reason::FieldValueRequired),
)]
#[serde(rename_all = "camelCase")]
pub struct AksNetworkSpec {
    /// Name of the cluster, used in Azure resource names and ownership tags. Immutable.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    #[x_kube(validation = Rule::new(IMMUTABLE).message(IMMUTABLE_MSG))]
    pub cluster_name: String,

    /// Where the cluster's network lives in Azure.
    pub azure: AzureCoordinates,

    /// How pods get their addresses. Leaving `kubenet` needs `routeTable.syncNodeRoutes:
    /// false` applied first (its pod routes are then removed, as asked), so one edit never
    /// takes every node's pod route at once.
    pub network_model: NetworkModel,

    /// Address ranges of the cluster, validated against each other and the network model.
    pub ip_plan: IpPlan,

    /// Load balancers and outbound connectivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSpec>,

    /// Static public IPs the cluster reserves; Services name them to use them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]), validation = Rule::new(UNIQUE_NAMES_ANY_CASE).message(UNIQUE_NAMES_ANY_CASE_MSG))]
    pub public_ips: Vec<PublicIpSpec>,

    /// The cluster NSG: custom rules and the priorities left to service rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<SecurityGroupSpec>,

    /// The cluster route table: user-defined routes and, for kubenet, pod routes per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table: Option<RouteTableSpec>,

    /// How the operator reconciles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<ReconcileSpec>,
}

/// Azure coordinates of the cluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzureCoordinates {
    /// Subscription id (a UUID). Immutable.
    #[schemars(regex(
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    #[x_kube(validation = Rule::new(IMMUTABLE).message(IMMUTABLE_MSG))]
    pub subscription_id: String,

    /// The node resource group, where load balancers, public IPs, the NSG and the route table
    /// live. Immutable.
    #[schemars(
        length(min = 1, max = 90),
        regex(pattern = "^[-a-zA-Z0-9._()]*[-a-zA-Z0-9_()]$")
    )]
    #[x_kube(validation = Rule::new(IMMUTABLE).message(IMMUTABLE_MSG))]
    pub resource_group: String,

    /// Azure region, e.g. `westeurope`.
    #[schemars(length(min = 2, max = 40), regex(pattern = "^[a-z0-9]+$"))]
    pub location: String,

    /// The virtual network and subnet of the nodes.
    pub vnet: VnetRef,

    /// More resource groups whose public IPs Services may use, named with the
    /// `service.beta.kubernetes.io/azure-load-balancer-resource-group` annotation (the cluster's
    /// own `resourceGroup` is always allowed). aksnet reads or writes nothing else on a
    /// Service's behalf.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, b.lowerAscii() == a.lowerAscii()))").message("resource groups must be unique up to case: Azure names are case-insensitive"))]
    pub public_ip_resource_groups: Vec<ResourceGroupName>,
}

/// An Azure resource group name.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct ResourceGroupName(
    #[schemars(
        length(min = 1, max = 90),
        regex(pattern = "^[-a-zA-Z0-9._()]*[-a-zA-Z0-9_()]$")
    )]
    pub String,
);

/// A Kubernetes namespace name.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct NamespaceName(
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub String,
);

/// A reference to the cluster's virtual network and node subnet.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VnetRef {
    /// Resource group of the VNet; defaults to `azure.resourceGroup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 90),
        regex(pattern = "^[-a-zA-Z0-9._()]*[-a-zA-Z0-9_()]$")
    )]
    pub resource_group: Option<String>,

    /// VNet name.
    #[schemars(
        length(min = 2, max = 64),
        regex(pattern = "^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9_]$")
    )]
    pub name: String,

    /// Name of the node subnet in the VNet.
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    pub subnet_name: String,
}

/// The AKS network model.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum NetworkModel {
    /// Nodes get VNet addresses, pods a private range routed per node (route table, at most 400 nodes).
    Kubenet,
    /// Azure CNI: pods take VNet addresses from the node subnet, or from a pod subnet.
    AzureCni,
    /// Azure CNI Overlay: pods get a /24 per node from a private pod CIDR.
    AzureCniOverlay,
    /// Azure CNI powered by Cilium, in overlay mode.
    AzureCniCilium,
}

/// The cluster's address plan.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.vnetCidrs.exists(v, cidr(v).containsCIDR(self.nodeSubnetCidr))").message("nodeSubnetCidr must lie inside one of vnetCidrs").field_path(".nodeSubnetCidr"),
    validation = Rule::new("!has(self.podSubnetCidr) || self.vnetCidrs.exists(v, cidr(v).containsCIDR(self.podSubnetCidr))").message("podSubnetCidr must lie inside one of vnetCidrs").field_path(".podSubnetCidr"),
    validation = Rule::new("!has(self.podSubnetCidr) || !(cidr(self.podSubnetCidr).containsCIDR(self.nodeSubnetCidr) || cidr(self.nodeSubnetCidr).containsCIDR(self.podSubnetCidr))").message("podSubnetCidr must not overlap nodeSubnetCidr").field_path(".podSubnetCidr"),
    validation = Rule::new("!has(self.podCidr) || !self.vnetCidrs.exists(v, cidr(v).containsCIDR(self.podCidr) || cidr(self.podCidr).containsCIDR(v))").message("podCidr must not overlap vnetCidrs").field_path(".podCidr"),
    validation = Rule::new("!self.vnetCidrs.exists(v, cidr(v).containsCIDR(self.serviceCidr) || cidr(self.serviceCidr).containsCIDR(v))").message("serviceCidr must not overlap vnetCidrs").field_path(".serviceCidr"),
    validation = Rule::new("!has(self.podCidr) || !(cidr(self.podCidr).containsCIDR(self.serviceCidr) || cidr(self.serviceCidr).containsCIDR(self.podCidr))").message("serviceCidr must not overlap podCidr").field_path(".serviceCidr"),
    validation = Rule::new(DNS_SERVICE_IP).message(DNS_SERVICE_IP_MSG).field_path(".dnsServiceIp"),
    validation = Rule::new("self.vnetCidrs.all(a, self.vnetCidrs.all(b, a == b || !(cidr(a).containsCIDR(b) || cidr(b).containsCIDR(a))))").message("vnetCidrs must not overlap each other").field_path(".vnetCidrs"),
)]
pub struct IpPlan {
    /// Address spaces of the VNet.
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub vnet_cidrs: Vec<Cidr>,

    /// Range of the node subnet (/29 or larger).
    #[x_kube(validation = Rule::new(IPV4_CIDR).message(IPV4_CIDR_MSG), validation = Rule::new(NOT_RESERVED).message(NOT_RESERVED_MSG), validation = Rule::new(AZURE_SUBNET_SIZE).message(AZURE_SUBNET_SIZE_MSG))]
    #[schemars(length(max = 43))]
    pub node_subnet_cidr: String,

    /// Pod range for kubenet, azureCniOverlay and azureCniCilium (each node takes a /24 of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(IPV4_CIDR).message(IPV4_CIDR_MSG), validation = Rule::new(NOT_RESERVED).message(NOT_RESERVED_MSG), validation = Rule::new("cidr(self).prefixLength() <= 24").message("must be /24 or larger: each node takes a /24"))]
    #[schemars(length(max = 43))]
    pub pod_cidr: Option<String>,

    /// Range of a dedicated pod subnet (azureCni with a pod subnet; /29 or larger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(IPV4_CIDR).message(IPV4_CIDR_MSG), validation = Rule::new(NOT_RESERVED).message(NOT_RESERVED_MSG), validation = Rule::new(AZURE_SUBNET_SIZE).message(AZURE_SUBNET_SIZE_MSG))]
    #[schemars(length(max = 43))]
    pub pod_subnet_cidr: Option<String>,

    /// Kubernetes service range; smaller than /12.
    #[serde(default = "default_service_cidr")]
    #[x_kube(validation = Rule::new(IPV4_CIDR).message(IPV4_CIDR_MSG), validation = Rule::new(NOT_RESERVED).message(NOT_RESERVED_MSG), validation = Rule::new("cidr(self).prefixLength() > 12").message("must be smaller than /12"))]
    #[schemars(length(max = 43))]
    pub service_cidr: String,

    /// Cluster DNS service IP: inside `serviceCidr`, and neither its network address, its first
    /// address (the `kubernetes` Service) nor its broadcast address (conventionally `.10`).
    #[serde(default = "default_dns_service_ip")]
    #[x_kube(validation = Rule::new(IP_ADDRESS).message(IP_ADDRESS_MSG))]
    #[schemars(length(max = 39))]
    pub dns_service_ip: String,

    /// Pods per node (10-250). Default depends on the model: kubenet 110, azureCni 30 (110 with a
    /// pod subnet), azureCniOverlay and azureCniCilium 250.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 250))]
    pub max_pods_per_node: Option<u32>,

    /// The most nodes the cluster may grow to; the plan must fit them (kubenet: at most 400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5000))]
    pub max_nodes: Option<u32>,
}

/// A canonical IPv4 CIDR outside the ranges AKS reserves.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(transparent)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": IPV4_CIDR, "message": IPV4_CIDR_MSG}, {"rule": NOT_RESERVED, "message": NOT_RESERVED_MSG}]))]
pub struct Cidr(#[schemars(length(max = 43))] pub String);

fn default_service_cidr() -> String {
    "10.0.0.0/16".into()
}

fn default_dns_service_ip() -> String {
    "10.0.0.10".into()
}

/// Load balancers and outbound connectivity.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.publicName.lowerAscii() != self.internalName.lowerAscii()").message("internalName must differ from publicName (Azure names are case-insensitive): one load balancer cannot be both").field_path(".internalName"),
    validation = Rule::new("!has(self.profiles) || self.profiles.all(p, p.name.lowerAscii() != self.publicName.lowerAscii() && p.name.lowerAscii() != self.internalName.lowerAscii())").message("a profile may not be named like publicName or internalName (Azure names are case-insensitive)").field_path(".profiles"),
    validation = Rule::new("!has(self.outboundType) || self.outboundType != 'userAssignedNATGateway' || (has(self.natGateway) && has(self.natGateway.id))").message(USER_NAT_GATEWAY_ID_MSG).field_path(".natGateway.id").reason(Reason::FieldValueRequired),
)]
pub struct LoadBalancerSpec {
    /// Name of the public Standard load balancer.
    #[serde(default = "default_public_lb")]
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    pub public_name: String,

    /// Name of the internal Standard load balancer.
    #[serde(default = "default_internal_lb")]
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    pub internal_name: String,

    /// How nodes reach the internet.
    #[serde(default)]
    pub outbound_type: OutboundType,

    /// Outbound rule settings, used when `outboundType` is `loadBalancer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<OutboundSpec>,

    /// NAT gateway settings, used when `outboundType` is `managedNATGateway` or
    /// `userAssignedNATGateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<NatGatewaySpec>,

    /// How many load balancers `publicName` and `internalName` may each grow to (`<name>`,
    /// `<name>-2`, …, 1-20): a Service that fits on none of them gets the next one, and one
    /// aksnet added is deleted once empty. 1 keeps one of each.
    #[serde(default = "default_max_count")]
    #[schemars(range(min = 1, max = 20))]
    pub max_count: u32,

    /// More load balancers, each with the nodes and Services it takes (the cloud provider's
    /// multiple standard load balancers). Services pick among them with the
    /// `service.beta.kubernetes.io/azure-load-balancer-configurations` annotation; without it,
    /// a Service goes to the least full load balancer that admits it (`publicName` and
    /// `internalName` admit every Service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]), validation = Rule::new(UNIQUE_NAMES_ANY_CASE).message(UNIQUE_NAMES_ANY_CASE_MSG))]
    pub profiles: Vec<LoadBalancerProfile>,
}

fn default_max_count() -> u32 {
    1
}

/// A set of load balancers with the nodes in their backend pools and the Services they admit.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerProfile {
    /// Azure name of its first load balancer; more are `<name>-2`, `<name>-3`, … It may not end
    /// in `-<number>` (those names are the grown ones). Immutable while Services use it.
    #[schemars(
        length(min = 1, max = 76),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,74}[a-zA-Z0-9_])?$")
    )]
    #[x_kube(validation = Rule::new("!self.matches('-[0-9]+$')").message("must not end in -<number>: such names are those of grown load balancers"))]
    pub name: String,

    /// Private frontends (an internal load balancer) instead of public IPs.
    #[serde(default)]
    pub internal: bool,

    /// Nodes in its backend pool, by label (unset: every node aksnet puts in pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Selector>,

    /// Namespaces whose Services it admits, by name (unset: every namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub service_namespaces: Option<Vec<NamespaceName>>,

    /// Namespaces whose Services it admits, by the namespaces' labels (unset: every
    /// namespace). With `serviceNamespaces` too, both must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_namespace_selector: Option<Selector>,

    /// Services it admits, by label (unset: every Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<Selector>,

    /// Whether new Services may be placed on it; Services on it stay when this turns false.
    #[serde(default = "default_true")]
    pub allow_service_placement: bool,

    /// How many load balancers it may grow to (1-20).
    #[serde(default = "default_max_count")]
    #[schemars(range(min = 1, max = 20))]
    pub max_count: u32,
}

fn default_true() -> bool {
    true
}

/// A label selector: every `matchLabels` pair and every expression must hold.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Labels that must have these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements on labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One requirement of a [`Selector`].
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.operator == 'In' || self.operator == 'NotIn') == (has(self.values) && size(self.values) > 0)").message("values must be given for In and NotIn, and only for them"))]
pub struct SelectorRequirement {
    /// The label key.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// How the label relates to the values.
    pub operator: SelectorOperator,
    /// Values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub values: Vec<String>,
}

/// Operators of a [`SelectorRequirement`].
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOperator {
    /// The label has one of the values.
    In,
    /// The label is missing or has none of the values.
    NotIn,
    /// The label is set.
    Exists,
    /// The label is not set.
    DoesNotExist,
}

impl Selector {
    /// Whether `labels` satisfy the selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    SelectorOperator::In => value.is_some_and(|v| r.values.contains(v)),
                    SelectorOperator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    SelectorOperator::Exists => value.is_some(),
                    SelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }
}

impl Default for LoadBalancerSpec {
    fn default() -> Self {
        Self {
            public_name: default_public_lb(),
            internal_name: default_internal_lb(),
            outbound_type: OutboundType::default(),
            outbound: None,
            nat_gateway: None,
            max_count: default_max_count(),
            profiles: Vec::new(),
        }
    }
}

fn default_public_lb() -> String {
    "kubernetes".into()
}

fn default_internal_lb() -> String {
    "kubernetes-internal".into()
}

/// The cluster's egress path.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum OutboundType {
    /// Outbound rules on the public load balancer with managed public IPs.
    #[default]
    LoadBalancer,
    /// Through the route table's `0.0.0.0/0` route (a firewall or appliance); no outbound IPs.
    UserDefinedRouting,
    /// An AKS-managed NAT gateway.
    #[serde(rename = "managedNATGateway")]
    ManagedNatGateway,
    /// A NAT gateway the user associated with the subnet.
    #[serde(rename = "userAssignedNATGateway")]
    UserAssignedNatGateway,
    /// No egress is set up (network-isolated clusters).
    None,
}

/// Why `userAssignedNATGateway` needs `natGateway.id`.
pub const USER_NAT_GATEWAY_ID_MSG: &str = "outboundType userAssignedNATGateway needs natGateway.id: the ARM id of the NAT gateway associated with the node subnet";

/// NAT gateway settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NatGatewaySpec {
    /// `managedNATGateway`: how many public IPs aksnet creates for the gateway (1-16, Azure's
    /// limit per gateway).
    #[serde(default = "default_outbound_ips")]
    #[schemars(range(min = 1, max = 16))]
    pub managed_outbound_ip_count: u32,

    /// `managedNATGateway`: idle timeout of outbound flows in minutes (4-120).
    #[serde(default = "default_nat_idle_timeout")]
    #[schemars(range(min = 4, max = 120))]
    pub idle_timeout_minutes: u32,

    /// `userAssignedNATGateway`: ARM id of the NAT gateway the user associated with the node
    /// subnet. aksnet checks the association and writes nothing to the gateway or the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 512),
        regex(
            pattern = "^(?i)/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Network/natGateways/[^/]+$"
        )
    )]
    pub id: Option<String>,
}

impl Default for NatGatewaySpec {
    fn default() -> Self {
        Self {
            managed_outbound_ip_count: default_outbound_ips(),
            idle_timeout_minutes: default_nat_idle_timeout(),
            id: None,
        }
    }
}

fn default_nat_idle_timeout() -> u32 {
    4
}

/// Outbound rule settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutboundSpec {
    /// How many managed public IPs the outbound rule uses (1-100).
    #[serde(default = "default_outbound_ips")]
    #[schemars(range(min = 1, max = 100))]
    pub managed_outbound_ip_count: u32,

    /// SNAT ports per node (0-64000, a multiple of 8); unset lets Azure allocate them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 64000))]
    #[x_kube(validation = Rule::new("self % 8 == 0").message("must be a multiple of 8"))]
    pub allocated_outbound_ports: Option<u32>,

    /// Idle timeout of outbound flows in minutes (4-120).
    #[serde(default = "default_idle_timeout")]
    #[schemars(range(min = 4, max = 120))]
    pub idle_timeout_minutes: u32,
}

fn default_outbound_ips() -> u32 {
    1
}

fn default_idle_timeout() -> u32 {
    30
}

/// A static public IP the cluster reserves.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublicIpSpec {
    /// Azure name of the public IP (names starting with `aksnet-` are kept for the IPs aksnet
    /// names itself).
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    #[x_kube(validation = Rule::new("!self.lowerAscii().startsWith('aksnet-')").message("names starting with aksnet- are kept for the public IPs aksnet names itself (outbound and Service IPs)"))]
    pub name: String,

    /// DNS label: `<label>.<location>.cloudapp.azure.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[a-z][a-z0-9-]{1,61}[a-z0-9]$"))]
    pub dns_label: Option<String>,

    /// Availability zones (`1`, `2`, `3`); empty means no zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub zones: Vec<Zone>,

    /// IP version.
    #[serde(default)]
    pub ip_version: IpVersion,

    /// Extra tags on the public IP (the operator adds its ownership tags).
    /// At most 40 tags; keys starting with `aksnet.io` (in any case) are reserved for ownership
    /// tags. Keys are 1-512 characters without `<>%&\?/` or control characters, values at most
    /// 256 characters (Azure's rules).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 40, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    #[x_kube(validation = Rule::new(NO_RESERVED_TAG_KEYS).message(NO_RESERVED_TAG_KEYS_MSG), validation = Rule::new(AZURE_TAG_KEYS).message(AZURE_TAG_KEYS_MSG))]
    pub tags: BTreeMap<String, String>,

    /// Namespaces whose Services may use this IP (with `azure-pip-name` or its address).
    /// Unset: every namespace. Empty: none (the IP is reserved but no Service may use it).
    /// Services of different namespaces share one address only through an IP listed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub allowed_namespaces: Option<Vec<NamespaceName>>,

    /// What happens to the IP when the AksNetwork is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// An availability zone.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Zone {
    /// Zone 1.
    #[serde(rename = "1")]
    One,
    /// Zone 2.
    #[serde(rename = "2")]
    Two,
    /// Zone 3.
    #[serde(rename = "3")]
    Three,
}

/// IP version of a public IP.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpVersion {
    /// IPv4.
    #[default]
    IPv4,
    /// IPv6.
    IPv6,
}

/// Whether a resource outlives the AksNetwork.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Keep the Azure resource.
    #[default]
    Retain,
    /// Delete the Azure resource with the AksNetwork.
    Delete,
}

/// The cluster network security group.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.rules.all(r, r.priority < self.servicePriorityRange.start || r.priority > self.servicePriorityRange.end)").message("rules must use priorities outside servicePriorityRange, which is left to service rules").field_path(".rules"),
)]
pub struct SecurityGroupSpec {
    /// NSG name (in `azure.resourceGroup`).
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    pub name: String,

    /// Create the NSG when it does not exist (you attach it to the subnet). Off by default: an
    /// NSG the spec names must exist, so a misspelt name stalls instead of making an NSG that
    /// protects nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_if_missing: bool,

    /// Custom security rules.
    #[serde(default)]
    #[schemars(length(max = 100))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["name".into()]),
        validation = Rule::new("self.all(a, self.exists_one(b, b.priority == a.priority && b.direction == a.direction))").message("priority must be unique per direction"),
        validation = Rule::new(UNIQUE_NAMES_ANY_CASE).message(UNIQUE_NAMES_ANY_CASE_MSG)
    )]
    pub rules: Vec<SecurityRuleSpec>,

    /// Priorities the operator may give to service rules.
    #[serde(default)]
    pub service_priority_range: PriorityRange,
}

/// An inclusive range of NSG priorities.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.start <= self.end").message("start must not exceed end"))]
pub struct PriorityRange {
    /// First priority (100-4096).
    #[schemars(range(min = 100, max = 4096))]
    pub start: u32,
    /// Last priority (100-4096).
    #[schemars(range(min = 100, max = 4096))]
    pub end: u32,
}

impl Default for PriorityRange {
    fn default() -> Self {
        Self {
            start: 500,
            end: 4096,
        }
    }
}

/// A custom security rule.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(SINGLE_TAG_SOURCES).message(SINGLE_TAG_SOURCES_MSG).field_path(".sourceAddressPrefixes"),
    validation = Rule::new(SINGLE_TAG_DESTINATIONS).message(SINGLE_TAG_DESTINATIONS_MSG).field_path(".destinationAddressPrefixes"),
    validation = Rule::new(ONE_FAMILY).message(ONE_FAMILY_MSG).field_path(".destinationAddressPrefixes"),
)]
pub struct SecurityRuleSpec {
    /// Rule name.
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    #[x_kube(validation = Rule::new(NOT_RESERVED_CHILD_NAME).message(NOT_RESERVED_CHILD_NAME_MSG))]
    pub name: String,

    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 140))]
    pub description: Option<String>,

    /// Priority (100-4096); lower wins. Unique per direction.
    #[schemars(range(min = 100, max = 4096))]
    pub priority: u32,

    /// Traffic direction.
    pub direction: Direction,

    /// Allow or deny.
    pub access: Access,

    /// Protocol.
    pub protocol: Protocol,

    /// Source addresses: IPs and CIDRs of one family, or one service tag or `*` alone.
    #[schemars(length(min = 1, max = 16))]
    pub source_address_prefixes: Vec<NsgAddress>,

    /// Source ports: `*`, `N` or `N-M` (`*` alone).
    #[serde(default = "any_port")]
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new(STAR_ALONE).message(STAR_ALONE_MSG))]
    pub source_port_ranges: Vec<PortRange>,

    /// Destination addresses: IPs and CIDRs of one family, or one service tag or `*` alone.
    #[schemars(length(min = 1, max = 16))]
    pub destination_address_prefixes: Vec<NsgAddress>,

    /// Destination ports: `*`, `N` or `N-M` (`*` alone).
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new(STAR_ALONE).message(STAR_ALONE_MSG))]
    pub destination_port_ranges: Vec<PortRange>,
}

fn any_port() -> Vec<PortRange> {
    vec![PortRange("*".into())]
}

/// A security-rule address: `*`, an IP, a CIDR or a service tag.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": NSG_ADDRESS, "message": NSG_ADDRESS_MSG}]))]
pub struct NsgAddress(#[schemars(length(min = 1, max = 80))] pub String);

/// A port range: `*`, `N` or `N-M`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": PORT_RANGE, "message": PORT_RANGE_MSG}]))]
pub struct PortRange(#[schemars(length(min = 1, max = 11))] pub String);

/// Direction of a security rule.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum Direction {
    /// Traffic into the subnet.
    Inbound,
    /// Traffic out of the subnet.
    Outbound,
}

/// Whether a security rule admits or drops traffic.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Admit.
    Allow,
    /// Drop.
    Deny,
}

/// Protocol of a security rule.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
    /// IPsec ESP.
    Esp,
    /// IPsec AH.
    Ah,
    /// Any protocol.
    #[serde(rename = "*")]
    Any,
}

/// The cluster route table.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableSpec {
    /// Route table name (in `azure.resourceGroup`).
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    pub name: String,

    /// Create the route table when it does not exist (you associate it with the subnet). Off
    /// by default: a route table the spec names must exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_if_missing: bool,

    /// Keep a route per node pod CIDR (kubenet). Unset means on for kubenet. Set it to `false`
    /// before moving `networkModel` away from kubenet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_node_routes: Option<bool>,

    /// User-defined routes (at most 200): names unique up to case, one route per address
    /// prefix.
    #[serde(default)]
    #[schemars(length(max = 200))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["name".into()]),
        validation = Rule::new(UNIQUE_NAMES_ANY_CASE).message(UNIQUE_NAMES_ANY_CASE_MSG),
        validation = Rule::new("self.all(a, self.exists_one(b, b.addressPrefix == a.addressPrefix))").message("each addressPrefix may have one route only: Azure refuses two routes with one prefix")
    )]
    pub routes: Vec<RouteSpec>,
}

/// A user-defined route.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(self.nextHopType == 'VirtualAppliance') == has(self.nextHopIpAddress)").message("nextHopIpAddress is required for nextHopType VirtualAppliance and forbidden otherwise").field_path(".nextHopIpAddress"),
    validation = Rule::new("!has(self.nextHopIpAddress) || !isCIDR(self.addressPrefix) || !isIP(self.nextHopIpAddress) || ip(self.nextHopIpAddress).family() == cidr(self.addressPrefix).ip().family()").message("nextHopIpAddress must be of the addressPrefix's IP family").field_path(".nextHopIpAddress"),
)]
pub struct RouteSpec {
    /// Route name.
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$")
    )]
    #[x_kube(validation = Rule::new(NOT_RESERVED_CHILD_NAME).message(NOT_RESERVED_CHILD_NAME_MSG))]
    pub name: String,

    /// Destination CIDR.
    #[x_kube(validation = Rule::new("isCIDR(self) && string(cidr(self).masked()) == self").message("must be a CIDR in canonical form (network address)"))]
    #[schemars(length(max = 43))]
    pub address_prefix: String,

    /// Where matching traffic goes.
    pub next_hop_type: NextHopType,

    /// The appliance's IP, for `VirtualAppliance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(IP_ADDRESS).message(IP_ADDRESS_MSG))]
    #[schemars(length(max = 39))]
    pub next_hop_ip_address: Option<String>,
}

/// Next hop of a route.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHopType {
    /// A network virtual appliance or firewall at `nextHopIpAddress`.
    VirtualAppliance,
    /// The internet.
    Internet,
    /// The VNet.
    VnetLocal,
    /// A VPN or ExpressRoute gateway.
    VirtualNetworkGateway,
    /// Drop the traffic.
    None,
}

/// How the operator reconciles.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileSpec {
    /// `manage` writes to Azure; `observe` computes and reports, and never writes.
    #[serde(default)]
    pub policy: ReconcilePolicy,

    /// How often Azure is re-read to repair drift (at least 30s). When unset, the operator's
    /// `--drift-interval` applies (default 5m); when set, it wins over the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("duration(self) >= duration('30s')").message("must be at least 30s"))]
    pub drift_check_interval: Option<kube::core::Duration>,
}

/// Reconcile policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ReconcilePolicy {
    /// Make Azure follow the spec.
    #[default]
    Manage,
    /// Compute and report what would change; never write to Azure.
    Observe,
}

/// Observed state, in the shape kstatus (Flux) and Argo CD read.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AksNetworkStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`, `Reconciling` and `Stalled`, one of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Azure ids of the resources the operator resolved or manages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<ResolvedAzureIds>,

    /// The cluster's own public IPs: the static ones (`spec.publicIps`) and the outbound and
    /// NAT gateway IPs aksnet made. The IPs made for Services are only counted
    /// (`counts.servicePublicIps`): each Service's status gives its address, and listing
    /// thousands here would pass the API server's object size limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<PublicIpStatus>,

    /// The addresses of `publicIps`, comma-separated (a printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_addresses: Option<String>,

    /// Counts of what the operator manages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<ManagedCounts>,

    /// What the IP plan allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_plan: Option<IpPlanSummary>,

    /// When Azure was last brought in line with the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
}

/// Resolved Azure resource ids.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedAzureIds {
    /// The public load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_load_balancer_id: Option<String>,
    /// The internal load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_load_balancer_id: Option<String>,
    /// The cluster NSG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// The cluster route table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table_id: Option<String>,
    /// The node subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// The NAT gateway the node subnet is on (its egress), when it is on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
}

/// One public IP as Azure reports it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublicIpStatus {
    /// Azure name.
    pub name: String,
    /// The allocated address, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// How many Azure children the operator manages.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedCounts {
    /// LoadBalancer services served.
    pub services: u32,
    /// LoadBalancer services refused (their Events and `aksnet.io/LoadBalancerReady`
    /// condition say why); they do not make the network `Stalled`.
    #[serde(default)]
    pub rejected_services: u32,
    /// LoadBalancer services waiting for Azure (a public IP being created).
    #[serde(default)]
    pub pending_services: u32,
    /// Load-balancing rules.
    pub load_balancer_rules: u32,
    /// Security rules in the cluster NSG owned by the operator.
    pub security_rules: u32,
    /// Routes in the cluster route table owned by the operator.
    pub routes: u32,
    /// Public IPs aksnet made for Services.
    #[serde(default)]
    pub service_public_ips: u32,
}

/// Capacity of the IP plan, computed by [`crate::ipplan`].
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IpPlanSummary {
    /// Usable addresses of the node subnet (Azure reserves 5 per subnet).
    pub node_subnet_usable_addresses: u64,
    /// Usable addresses of the pod subnet, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet_usable_addresses: Option<u64>,
    /// Pods per node in effect.
    pub max_pods_per_node: u32,
    /// Most nodes the plan can hold.
    pub node_capacity: u64,
    /// Most pods the plan can hold.
    pub pod_capacity: u64,
    /// Problems that do not stop reconciling (e.g. `maxNodes` above capacity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
