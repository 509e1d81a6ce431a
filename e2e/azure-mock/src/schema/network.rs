//! The Microsoft.Network 2024-03-01 models of the resources the mock serves: for each type,
//! its properties' shapes, which are read-only and which are required, after the published
//! OpenAPI definitions (`loadBalancer.json`, `publicIpAddress.json`, `publicIpPrefix.json`,
//! `networkSecurityGroup.json`, `routeTable.json`, `virtualNetwork.json`, `natGateway.json`,
//! `privateLinkService.json`, `network.json`).
//!
//! Types the mock only ever takes by reference (subnets inside a frontend, a public IP's NAT
//! gateway, application security groups...) are [`Shape::Reference`]; collections the mock does not
//! serve (virtual network peerings, application gateway IP configurations) are opaque.

use super::{Field, Model, Shape};

const fn opt(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        shape,
        required: false,
    }
}

const fn req(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        shape,
        required: true,
    }
}

const fn ro(name: &'static str) -> Field {
    opt(name, Shape::ReadOnly)
}

/// An open (`modelAsString`) enum.
const fn open(values: &'static [&'static str]) -> Shape {
    Shape::Enum { values, open: true }
}

const STR: Shape = Shape::String;
const INT: Shape = Shape::Int;
const BOOL: Shape = Shape::Bool;
const REF: Shape = Shape::Reference;
const STRINGS: Shape = Shape::Array(&Shape::String);
const REFS: Shape = Shape::Array(&Shape::Reference);

/// The properties every top-level (tracked) resource has.
const TRACKED: &[Field] = &[
    opt("id", STR),
    ro("name"),
    ro("type"),
    opt("location", STR),
    opt("tags", Shape::Tags),
    ro("etag"),
];

/// The properties of a child resource whose `type` is the server's (load balancer children).
const CHILD: &[Field] = &[opt("id", STR), opt("name", STR), ro("etag"), ro("type")];

/// The properties of a child resource whose `type` the definitions leave writable (rules,
/// routes, subnets, delegations; the server ignores what is sent).
const NAMED_CHILD: &[Field] = &[
    opt("id", STR),
    opt("name", STR),
    ro("etag"),
    opt("type", STR),
];

const IP_ALLOCATION: Shape = open(&["Static", "Dynamic"]);
const IP_VERSION: Shape = open(&["IPv4", "IPv6"]);
const TRANSPORT: Shape = open(&["Udp", "Tcp", "All"]);
const SKU_TIER: Shape = open(&["Regional", "Global"]);

const EXTENDED_LOCATION: Model = Model {
    name: "ExtendedLocation",
    inherits: &[],
    fields: &[opt("name", STR), opt("type", open(&["EdgeZone"]))],
};

// ---- public IP addresses and prefixes ----

const PUBLIC_IP_SKU: Model = Model {
    name: "PublicIPAddressSku",
    inherits: &[],
    fields: &[
        opt("name", open(&["Basic", "Standard"])),
        opt("tier", SKU_TIER),
    ],
};

const DNS_SETTINGS: Model = Model {
    name: "PublicIPAddressDnsSettings",
    inherits: &[],
    fields: &[
        opt("domainNameLabel", STR),
        opt(
            "domainNameLabelScope",
            Shape::Enum {
                values: &[
                    "TenantReuse",
                    "SubscriptionReuse",
                    "ResourceGroupReuse",
                    "NoReuse",
                ],
                open: false,
            },
        ),
        opt("fqdn", STR),
        opt("reverseFqdn", STR),
    ],
};

const DDOS_SETTINGS: Model = Model {
    name: "DdosSettings",
    inherits: &[],
    fields: &[
        opt(
            "protectionMode",
            open(&["VirtualNetworkInherited", "Enabled", "Disabled"]),
        ),
        opt("ddosProtectionPlan", REF),
    ],
};

const IP_TAG: Model = Model {
    name: "IpTag",
    inherits: &[],
    fields: &[opt("ipTagType", STR), opt("tag", STR)],
};

const IP_TAGS: Shape = Shape::Array(&Shape::Object(&IP_TAG));

const PUBLIC_IP_PROPERTIES: Model = Model {
    name: "PublicIPAddressPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("publicIPAllocationMethod", IP_ALLOCATION),
        opt("publicIPAddressVersion", IP_VERSION),
        ro("ipConfiguration"),
        opt("dnsSettings", Shape::Object(&DNS_SETTINGS)),
        opt("ddosSettings", Shape::Object(&DDOS_SETTINGS)),
        opt("ipTags", IP_TAGS),
        opt("ipAddress", STR),
        opt("publicIPPrefix", REF),
        opt("idleTimeoutInMinutes", INT),
        ro("resourceGuid"),
        ro("provisioningState"),
        opt("servicePublicIPAddress", REF),
        opt("natGateway", REF),
        opt(
            "migrationPhase",
            open(&["None", "Prepare", "Commit", "Abort", "Committed"]),
        ),
        opt("linkedPublicIPAddress", REF),
        opt("deleteOption", open(&["Delete", "Detach"])),
    ],
};

const PUBLIC_IP: Model = Model {
    name: "PublicIPAddress",
    inherits: TRACKED,
    fields: &[
        opt("extendedLocation", Shape::Object(&EXTENDED_LOCATION)),
        opt("sku", Shape::Object(&PUBLIC_IP_SKU)),
        opt("properties", Shape::Envelope(&PUBLIC_IP_PROPERTIES)),
        opt("zones", STRINGS),
    ],
};

const PREFIX_SKU: Model = Model {
    name: "PublicIPPrefixSku",
    inherits: &[],
    fields: &[opt("name", open(&["Standard"])), opt("tier", SKU_TIER)],
};

const PREFIX_PROPERTIES: Model = Model {
    name: "PublicIPPrefixPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("publicIPAddressVersion", IP_VERSION),
        opt("ipTags", IP_TAGS),
        opt("prefixLength", INT),
        ro("ipPrefix"),
        ro("publicIPAddresses"),
        ro("loadBalancerFrontendIpConfiguration"),
        opt("customIPPrefix", REF),
        ro("resourceGuid"),
        ro("provisioningState"),
        opt("natGateway", REF),
    ],
};

const PUBLIC_IP_PREFIX: Model = Model {
    name: "PublicIPPrefix",
    inherits: TRACKED,
    fields: &[
        opt("extendedLocation", Shape::Object(&EXTENDED_LOCATION)),
        opt("sku", Shape::Object(&PREFIX_SKU)),
        opt("properties", Shape::Envelope(&PREFIX_PROPERTIES)),
        opt("zones", STRINGS),
    ],
};

// ---- load balancers ----

const LOAD_BALANCER_SKU: Model = Model {
    name: "LoadBalancerSku",
    inherits: &[],
    fields: &[
        opt("name", open(&["Basic", "Standard", "Gateway"])),
        opt("tier", SKU_TIER),
    ],
};

const FRONTEND_PROPERTIES: Model = Model {
    name: "FrontendIPConfigurationPropertiesFormat",
    inherits: &[],
    fields: &[
        ro("inboundNatRules"),
        ro("inboundNatPools"),
        ro("outboundRules"),
        ro("loadBalancingRules"),
        opt("privateIPAddress", STR),
        opt("privateIPAllocationMethod", IP_ALLOCATION),
        opt("privateIPAddressVersion", IP_VERSION),
        opt("subnet", REF),
        opt("publicIPAddress", REF),
        opt("publicIPPrefix", REF),
        opt("gatewayLoadBalancer", REF),
        ro("provisioningState"),
    ],
};

const FRONTEND: Model = Model {
    name: "FrontendIPConfiguration",
    inherits: CHILD,
    fields: &[
        opt("properties", Shape::Envelope(&FRONTEND_PROPERTIES)),
        opt("zones", STRINGS),
    ],
};

const TUNNEL_INTERFACE: Model = Model {
    name: "GatewayLoadBalancerTunnelInterface",
    inherits: &[],
    fields: &[
        opt("port", INT),
        opt("identifier", INT),
        opt("protocol", open(&["None", "Native", "VXLAN"])),
        opt("type", open(&["None", "Internal", "External"])),
    ],
};

const BACKEND_ADDRESS_PROPERTIES: Model = Model {
    name: "LoadBalancerBackendAddressPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("virtualNetwork", REF),
        opt("subnet", REF),
        opt("ipAddress", STR),
        ro("networkInterfaceIPConfiguration"),
        opt("loadBalancerFrontendIPConfiguration", REF),
        ro("inboundNatRulesPortMapping"),
        opt("adminState", open(&["None", "Up", "Down"])),
    ],
};

const BACKEND_ADDRESS: Model = Model {
    name: "LoadBalancerBackendAddress",
    inherits: &[],
    fields: &[
        opt("properties", Shape::Envelope(&BACKEND_ADDRESS_PROPERTIES)),
        opt("name", STR),
    ],
};

const BACKEND_POOL_PROPERTIES: Model = Model {
    name: "BackendAddressPoolPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("location", STR),
        opt(
            "tunnelInterfaces",
            Shape::Array(&Shape::Object(&TUNNEL_INTERFACE)),
        ),
        opt(
            "loadBalancerBackendAddresses",
            Shape::Array(&Shape::Object(&BACKEND_ADDRESS)),
        ),
        ro("backendIPConfigurations"),
        ro("loadBalancingRules"),
        ro("outboundRule"),
        ro("outboundRules"),
        ro("inboundNatRules"),
        ro("provisioningState"),
        opt("drainPeriodInSeconds", INT),
        opt("virtualNetwork", REF),
        opt("syncMode", open(&["Automatic", "Manual"])),
    ],
};

const BACKEND_POOL: Model = Model {
    name: "BackendAddressPool",
    inherits: CHILD,
    fields: &[opt("properties", Shape::Envelope(&BACKEND_POOL_PROPERTIES))],
};

const LOAD_BALANCING_RULE_PROPERTIES: Model = Model {
    name: "LoadBalancingRulePropertiesFormat",
    inherits: &[],
    fields: &[
        opt("frontendIPConfiguration", REF),
        opt("backendAddressPool", REF),
        opt("backendAddressPools", REFS),
        opt("probe", REF),
        req("protocol", TRANSPORT),
        opt(
            "loadDistribution",
            open(&["Default", "SourceIP", "SourceIPProtocol"]),
        ),
        req("frontendPort", INT),
        opt("backendPort", INT),
        opt("idleTimeoutInMinutes", INT),
        opt("enableFloatingIP", BOOL),
        opt("enableTcpReset", BOOL),
        opt("disableOutboundSnat", BOOL),
        ro("provisioningState"),
    ],
};

const LOAD_BALANCING_RULE: Model = Model {
    name: "LoadBalancingRule",
    inherits: CHILD,
    fields: &[opt(
        "properties",
        Shape::Envelope(&LOAD_BALANCING_RULE_PROPERTIES),
    )],
};

const PROBE_PROPERTIES: Model = Model {
    name: "ProbePropertiesFormat",
    inherits: &[],
    fields: &[
        ro("loadBalancingRules"),
        req("protocol", open(&["Http", "Tcp", "Https"])),
        req("port", INT),
        opt("intervalInSeconds", INT),
        opt(
            "noHealthyBackendsBehavior",
            open(&["AllProbedDown", "AllProbedUp"]),
        ),
        opt("numberOfProbes", INT),
        opt("probeThreshold", INT),
        opt("requestPath", STR),
        ro("provisioningState"),
    ],
};

const PROBE: Model = Model {
    name: "Probe",
    inherits: CHILD,
    fields: &[opt("properties", Shape::Envelope(&PROBE_PROPERTIES))],
};

const INBOUND_NAT_RULE_PROPERTIES: Model = Model {
    name: "InboundNatRulePropertiesFormat",
    inherits: &[],
    fields: &[
        opt("frontendIPConfiguration", REF),
        ro("backendIPConfiguration"),
        opt("protocol", TRANSPORT),
        opt("frontendPort", INT),
        opt("backendPort", INT),
        opt("idleTimeoutInMinutes", INT),
        opt("enableFloatingIP", BOOL),
        opt("enableTcpReset", BOOL),
        opt("frontendPortRangeStart", INT),
        opt("frontendPortRangeEnd", INT),
        opt("backendAddressPool", REF),
        ro("provisioningState"),
    ],
};

const INBOUND_NAT_RULE: Model = Model {
    name: "InboundNatRule",
    inherits: CHILD,
    fields: &[opt(
        "properties",
        Shape::Envelope(&INBOUND_NAT_RULE_PROPERTIES),
    )],
};

const INBOUND_NAT_POOL_PROPERTIES: Model = Model {
    name: "InboundNatPoolPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("frontendIPConfiguration", REF),
        req("protocol", TRANSPORT),
        req("frontendPortRangeStart", INT),
        req("frontendPortRangeEnd", INT),
        req("backendPort", INT),
        opt("idleTimeoutInMinutes", INT),
        opt("enableFloatingIP", BOOL),
        opt("enableTcpReset", BOOL),
        ro("provisioningState"),
    ],
};

const INBOUND_NAT_POOL: Model = Model {
    name: "InboundNatPool",
    inherits: CHILD,
    fields: &[
        // Required by the specification; a missing envelope reports its required properties.
        opt("properties", Shape::Envelope(&INBOUND_NAT_POOL_PROPERTIES)),
    ],
};

const OUTBOUND_RULE_PROPERTIES: Model = Model {
    name: "OutboundRulePropertiesFormat",
    inherits: &[],
    fields: &[
        opt("allocatedOutboundPorts", INT),
        req("frontendIPConfigurations", REFS),
        req("backendAddressPool", REF),
        ro("provisioningState"),
        req("protocol", open(&["Tcp", "Udp", "All"])),
        opt("enableTcpReset", BOOL),
        opt("idleTimeoutInMinutes", INT),
    ],
};

const OUTBOUND_RULE: Model = Model {
    name: "OutboundRule",
    inherits: CHILD,
    fields: &[opt(
        "properties",
        Shape::Envelope(&OUTBOUND_RULE_PROPERTIES),
    )],
};

const LOAD_BALANCER_PROPERTIES: Model = Model {
    name: "LoadBalancerPropertiesFormat",
    inherits: &[],
    fields: &[
        opt(
            "frontendIPConfigurations",
            Shape::Array(&Shape::Object(&FRONTEND)),
        ),
        opt(
            "backendAddressPools",
            Shape::Array(&Shape::Object(&BACKEND_POOL)),
        ),
        opt(
            "loadBalancingRules",
            Shape::Array(&Shape::Object(&LOAD_BALANCING_RULE)),
        ),
        opt("probes", Shape::Array(&Shape::Object(&PROBE))),
        opt(
            "inboundNatRules",
            Shape::Array(&Shape::Object(&INBOUND_NAT_RULE)),
        ),
        opt(
            "inboundNatPools",
            Shape::Array(&Shape::Object(&INBOUND_NAT_POOL)),
        ),
        opt(
            "outboundRules",
            Shape::Array(&Shape::Object(&OUTBOUND_RULE)),
        ),
        ro("resourceGuid"),
        ro("provisioningState"),
    ],
};

const LOAD_BALANCER: Model = Model {
    name: "LoadBalancer",
    inherits: TRACKED,
    fields: &[
        opt("extendedLocation", Shape::Object(&EXTENDED_LOCATION)),
        opt("sku", Shape::Object(&LOAD_BALANCER_SKU)),
        opt("properties", Shape::Envelope(&LOAD_BALANCER_PROPERTIES)),
    ],
};

// ---- network security groups ----

const SECURITY_RULE_PROPERTIES: Model = Model {
    name: "SecurityRulePropertiesFormat",
    inherits: &[],
    fields: &[
        opt("description", STR),
        req("protocol", open(&["Tcp", "Udp", "Icmp", "Esp", "*", "Ah"])),
        opt("sourcePortRange", STR),
        opt("destinationPortRange", STR),
        opt("sourceAddressPrefix", STR),
        opt("sourceAddressPrefixes", STRINGS),
        opt("sourceApplicationSecurityGroups", REFS),
        opt("destinationAddressPrefix", STR),
        opt("destinationAddressPrefixes", STRINGS),
        opt("destinationApplicationSecurityGroups", REFS),
        opt("sourcePortRanges", STRINGS),
        opt("destinationPortRanges", STRINGS),
        req("access", open(&["Allow", "Deny"])),
        req("priority", INT),
        req("direction", open(&["Inbound", "Outbound"])),
        ro("provisioningState"),
    ],
};

const SECURITY_RULE: Model = Model {
    name: "SecurityRule",
    inherits: NAMED_CHILD,
    fields: &[opt(
        "properties",
        Shape::Envelope(&SECURITY_RULE_PROPERTIES),
    )],
};

const SECURITY_GROUP_PROPERTIES: Model = Model {
    name: "NetworkSecurityGroupPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("flushConnection", BOOL),
        opt(
            "securityRules",
            Shape::Array(&Shape::Object(&SECURITY_RULE)),
        ),
        ro("defaultSecurityRules"),
        ro("networkInterfaces"),
        ro("subnets"),
        ro("flowLogs"),
        ro("resourceGuid"),
        ro("provisioningState"),
    ],
};

const SECURITY_GROUP: Model = Model {
    name: "NetworkSecurityGroup",
    inherits: TRACKED,
    fields: &[opt(
        "properties",
        Shape::Envelope(&SECURITY_GROUP_PROPERTIES),
    )],
};

// ---- route tables ----

const ROUTE_PROPERTIES: Model = Model {
    name: "RoutePropertiesFormat",
    inherits: &[],
    fields: &[
        opt("addressPrefix", STR),
        req(
            "nextHopType",
            open(&[
                "VirtualNetworkGateway",
                "VnetLocal",
                "Internet",
                "VirtualAppliance",
                "None",
            ]),
        ),
        opt("nextHopIpAddress", STR),
        ro("provisioningState"),
        ro("hasBgpOverride"),
    ],
};

const ROUTE: Model = Model {
    name: "Route",
    inherits: NAMED_CHILD,
    fields: &[opt("properties", Shape::Envelope(&ROUTE_PROPERTIES))],
};

const ROUTE_TABLE_PROPERTIES: Model = Model {
    name: "RouteTablePropertiesFormat",
    inherits: &[],
    fields: &[
        opt("routes", Shape::Array(&Shape::Object(&ROUTE))),
        ro("subnets"),
        opt("disableBgpRoutePropagation", BOOL),
        ro("provisioningState"),
        ro("resourceGuid"),
    ],
};

const ROUTE_TABLE: Model = Model {
    name: "RouteTable",
    inherits: TRACKED,
    fields: &[opt("properties", Shape::Envelope(&ROUTE_TABLE_PROPERTIES))],
};

// ---- NAT gateways ----

const NAT_GATEWAY_SKU: Model = Model {
    name: "NatGatewaySku",
    inherits: &[],
    fields: &[opt("name", open(&["Standard"]))],
};

const NAT_GATEWAY_PROPERTIES: Model = Model {
    name: "NatGatewayPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("idleTimeoutInMinutes", INT),
        opt("publicIpAddresses", REFS),
        opt("publicIpPrefixes", REFS),
        ro("subnets"),
        ro("resourceGuid"),
        ro("provisioningState"),
    ],
};

const NAT_GATEWAY: Model = Model {
    name: "NatGateway",
    inherits: TRACKED,
    fields: &[
        opt("sku", Shape::Object(&NAT_GATEWAY_SKU)),
        opt("properties", Shape::Envelope(&NAT_GATEWAY_PROPERTIES)),
        opt("zones", STRINGS),
    ],
};

// ---- private link services ----

const RESOURCE_SET: Model = Model {
    name: "ResourceSet",
    inherits: &[],
    fields: &[opt("subscriptions", STRINGS)],
};

const PLS_IP_CONFIGURATION_PROPERTIES: Model = Model {
    name: "PrivateLinkServiceIpConfigurationProperties",
    inherits: &[],
    fields: &[
        opt("privateIPAddress", STR),
        opt("privateIPAllocationMethod", IP_ALLOCATION),
        opt("subnet", REF),
        opt("primary", BOOL),
        ro("provisioningState"),
        opt("privateIPAddressVersion", IP_VERSION),
    ],
};

const PLS_IP_CONFIGURATION: Model = Model {
    name: "PrivateLinkServiceIpConfiguration",
    inherits: CHILD,
    fields: &[opt(
        "properties",
        Shape::Envelope(&PLS_IP_CONFIGURATION_PROPERTIES),
    )],
};

const PRIVATE_LINK_SERVICE_PROPERTIES: Model = Model {
    name: "PrivateLinkServiceProperties",
    inherits: &[],
    fields: &[
        opt("loadBalancerFrontendIpConfigurations", REFS),
        opt(
            "ipConfigurations",
            Shape::Array(&Shape::Object(&PLS_IP_CONFIGURATION)),
        ),
        opt("destinationIPAddress", STR),
        ro("networkInterfaces"),
        ro("provisioningState"),
        ro("privateEndpointConnections"),
        opt("visibility", Shape::Object(&RESOURCE_SET)),
        opt("autoApproval", Shape::Object(&RESOURCE_SET)),
        opt("fqdns", STRINGS),
        ro("alias"),
        opt("enableProxyProtocol", BOOL),
    ],
};

const PRIVATE_LINK_SERVICE: Model = Model {
    name: "PrivateLinkService",
    inherits: TRACKED,
    fields: &[
        opt("extendedLocation", Shape::Object(&EXTENDED_LOCATION)),
        opt(
            "properties",
            Shape::Envelope(&PRIVATE_LINK_SERVICE_PROPERTIES),
        ),
    ],
};

// ---- virtual networks ----

const SERVICE_ENDPOINT: Model = Model {
    name: "ServiceEndpointPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("service", STR),
        opt("networkIdentifier", REF),
        opt("locations", STRINGS),
        ro("provisioningState"),
    ],
};

const DELEGATION_PROPERTIES: Model = Model {
    name: "ServiceDelegationPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("serviceName", STR),
        ro("actions"),
        ro("provisioningState"),
    ],
};

const DELEGATION: Model = Model {
    name: "Delegation",
    inherits: NAMED_CHILD,
    fields: &[opt("properties", Shape::Envelope(&DELEGATION_PROPERTIES))],
};

const SUBNET_PROPERTIES: Model = Model {
    name: "SubnetPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("addressPrefix", STR),
        opt("addressPrefixes", STRINGS),
        opt("networkSecurityGroup", REF),
        opt("routeTable", REF),
        opt("natGateway", REF),
        opt(
            "serviceEndpoints",
            Shape::Array(&Shape::Object(&SERVICE_ENDPOINT)),
        ),
        opt("serviceEndpointPolicies", REFS),
        ro("privateEndpoints"),
        ro("ipConfigurations"),
        ro("ipConfigurationProfiles"),
        opt("ipAllocations", REFS),
        ro("resourceNavigationLinks"),
        ro("serviceAssociationLinks"),
        opt("delegations", Shape::Array(&Shape::Object(&DELEGATION))),
        ro("purpose"),
        ro("provisioningState"),
        opt(
            "privateEndpointNetworkPolicies",
            open(&[
                "Enabled",
                "Disabled",
                "NetworkSecurityGroupEnabled",
                "RouteTableEnabled",
            ]),
        ),
        opt(
            "privateLinkServiceNetworkPolicies",
            open(&["Enabled", "Disabled"]),
        ),
        opt("applicationGatewayIPConfigurations", Shape::Opaque),
        opt("sharingScope", open(&["Tenant", "DelegatedServices"])),
        opt("defaultOutboundAccess", BOOL),
    ],
};

const SUBNET: Model = Model {
    name: "Subnet",
    inherits: NAMED_CHILD,
    fields: &[opt("properties", Shape::Envelope(&SUBNET_PROPERTIES))],
};

const ADDRESS_SPACE: Model = Model {
    name: "AddressSpace",
    inherits: &[],
    fields: &[opt("addressPrefixes", STRINGS)],
};

const DHCP_OPTIONS: Model = Model {
    name: "DhcpOptions",
    inherits: &[],
    fields: &[opt("dnsServers", STRINGS)],
};

const BGP_COMMUNITIES: Model = Model {
    name: "VirtualNetworkBgpCommunities",
    inherits: &[],
    fields: &[req("virtualNetworkCommunity", STR), ro("regionalCommunity")],
};

const ENCRYPTION: Model = Model {
    name: "VirtualNetworkEncryption",
    inherits: &[],
    fields: &[
        req("enabled", BOOL),
        opt(
            "enforcement",
            open(&["DropUnencrypted", "AllowUnencrypted"]),
        ),
    ],
};

const VIRTUAL_NETWORK_PROPERTIES: Model = Model {
    name: "VirtualNetworkPropertiesFormat",
    inherits: &[],
    fields: &[
        opt("addressSpace", Shape::Object(&ADDRESS_SPACE)),
        opt("dhcpOptions", Shape::Object(&DHCP_OPTIONS)),
        opt("flowTimeoutInMinutes", INT),
        opt("subnets", Shape::Array(&Shape::Object(&SUBNET))),
        opt("virtualNetworkPeerings", Shape::Opaque),
        ro("resourceGuid"),
        ro("provisioningState"),
        opt("enableDdosProtection", BOOL),
        opt("enableVmProtection", BOOL),
        opt("ddosProtectionPlan", REF),
        opt("bgpCommunities", Shape::Object(&BGP_COMMUNITIES)),
        opt("encryption", Shape::Object(&ENCRYPTION)),
        opt("ipAllocations", REFS),
        ro("flowLogs"),
        opt("privateEndpointVNetPolicies", open(&["Disabled", "Basic"])),
    ],
};

const VIRTUAL_NETWORK: Model = Model {
    name: "VirtualNetwork",
    inherits: TRACKED,
    fields: &[
        opt("extendedLocation", Shape::Object(&EXTENDED_LOCATION)),
        opt("properties", Shape::Envelope(&VIRTUAL_NETWORK_PROPERTIES)),
    ],
};

/// The model of a top-level resource type, by URL segment.
pub fn resource(segment: &str) -> Option<&'static Model> {
    let model: &'static Model = match segment {
        "publicIPAddresses" => &PUBLIC_IP,
        "publicIPPrefixes" => &PUBLIC_IP_PREFIX,
        "loadBalancers" => &LOAD_BALANCER,
        "networkSecurityGroups" => &SECURITY_GROUP,
        "routeTables" => &ROUTE_TABLE,
        "natGateways" => &NAT_GATEWAY,
        "privateLinkServices" => &PRIVATE_LINK_SERVICE,
        "virtualNetworks" => &VIRTUAL_NETWORK,
        _ => return None,
    };
    Some(model)
}
