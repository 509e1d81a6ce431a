//! CEL expressions shared by several fields of the AksNetwork schema.
//!
//! They use the Kubernetes CEL IP/CIDR library (GA in Kubernetes 1.31). The operator repeats
//! every check in Rust ([`crate::validate`]) for API servers that lack it.

/// A canonical IPv4 CIDR (network address, no host bits), e.g. `10.0.0.0/16`.
pub const IPV4_CIDR: &str =
    "isCIDR(self) && cidr(self).ip().family() == 4 && string(cidr(self).masked()) == self";
/// Message for [`IPV4_CIDR`].
pub const IPV4_CIDR_MSG: &str =
    "must be an IPv4 CIDR in canonical form (network address, e.g. 10.0.0.0/16)";

/// Outside the ranges AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16, 192.0.2.0/24).
pub const NOT_RESERVED: &str = "!isCIDR(self) || !['169.254.0.0/16', '172.30.0.0/16', '172.31.0.0/16', '192.0.2.0/24'].exists(r, cidr(r).containsCIDR(self) || cidr(self).containsCIDR(r))";
/// Message for [`NOT_RESERVED`].
pub const NOT_RESERVED_MSG: &str =
    "overlaps a range AKS reserves (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16, 192.0.2.0/24)";

/// An IP address (either family) in canonical form.
pub const IP_ADDRESS: &str = "isIP(self) && ip.isCanonical(self)";
/// Message for [`IP_ADDRESS`].
pub const IP_ADDRESS_MSG: &str = "must be an IP address in canonical form";

/// A security-rule address: `*`, an IP, a CIDR, or a service tag such as `Internet`.
pub const NSG_ADDRESS: &str = "self == '*' || isIP(self) || isCIDR(self) || self.matches('^[A-Za-z][A-Za-z0-9]*(\\\\.[A-Za-z0-9]+)?$')";
/// Message for [`NSG_ADDRESS`].
pub const NSG_ADDRESS_MSG: &str = "must be '*', an IP address, a CIDR or a service tag (e.g. Internet, AzureLoadBalancer, Storage.WestUS)";

/// A port range: `*`, `N` or `N-M` within 0..65535 with N <= M.
pub const PORT_RANGE: &str = "self == '*' || (self.matches('^[0-9]{1,5}$') && int(self) <= 65535) || (self.matches('^[0-9]{1,5}-[0-9]{1,5}$') && int(self.split('-')[0]) <= int(self.split('-')[1]) && int(self.split('-')[1]) <= 65535)";
/// Message for [`PORT_RANGE`].
pub const PORT_RANGE_MSG: &str = "must be '*', a port (0-65535) or a range N-M with N <= M";

/// The value may not change once set.
pub const IMMUTABLE: &str = "self == oldSelf";
/// Message for [`IMMUTABLE`].
pub const IMMUTABLE_MSG: &str = "is immutable";

/// An Azure child-resource name: 1-80 characters, starts with a letter or digit, ends with a
/// letter, digit or underscore, and holds only letters, digits, `.`, `-` and `_`.
pub const AZURE_NAME_PATTERN: &str = "^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,78}[a-zA-Z0-9_])?$";

/// Child names (routes, NSG rules) aksnet gives itself: kubenet pod routes (`pod-…`), shared
/// Service rules (`shared-…`) and Service children (32 hex digits of a Service UID). A spec
/// route or rule may not take one, or it would replace aksnet's own.
pub const NOT_RESERVED_CHILD_NAME: &str = "!self.lowerAscii().startsWith('pod-') && !self.lowerAscii().startsWith('shared-') && !self.lowerAscii().matches('^[0-9a-f]{32}')";
/// Message for [`NOT_RESERVED_CHILD_NAME`].
pub const NOT_RESERVED_CHILD_NAME_MSG: &str = "names starting with pod-, shared- or 32 hex digits are kept for the routes and rules aksnet makes (kubenet pod routes, Service rules)";

/// Names in a list are unique up to case, as Azure compares them.
pub const UNIQUE_NAMES_ANY_CASE: &str =
    "self.all(a, self.exists_one(b, b.name.lowerAscii() == a.name.lowerAscii()))";
/// Message for [`UNIQUE_NAMES_ANY_CASE`].
pub const UNIQUE_NAMES_ANY_CASE_MSG: &str =
    "names must be unique up to case: Azure names are case-insensitive";

/// A subnet Azure can create: /29 or larger.
pub const AZURE_SUBNET_SIZE: &str = "!isCIDR(self) || cidr(self).prefixLength() <= 29";
/// Message for [`AZURE_SUBNET_SIZE`].
pub const AZURE_SUBNET_SIZE_MSG: &str =
    "must be /29 or larger: Azure's smallest subnet is /29, and it reserves 5 addresses of each";

/// Tag keys that do not start with `aksnet.io` in any case.
pub const NO_RESERVED_TAG_KEYS: &str = "self.all(k, !k.lowerAscii().startsWith('aksnet.io'))";
/// Message for [`NO_RESERVED_TAG_KEYS`].
pub const NO_RESERVED_TAG_KEYS_MSG: &str =
    "tag keys starting with aksnet.io (in any case) are reserved for aksnet's ownership tags";

/// Tag keys Azure takes: 1 to 512 characters, not blank, none of `<>%&\?/` or a control
/// character (Azure answers `InvalidTagNameCharacters` otherwise).
pub const AZURE_TAG_KEYS: &str =
    r"self.all(k, k.size() <= 512 && k.matches(r'[^\s\p{Z}]') && !k.matches(r'[<>%&\\?/\p{Cc}]'))";
/// Message for [`AZURE_TAG_KEYS`].
pub const AZURE_TAG_KEYS_MSG: &str = "tag keys must be 1-512 characters, not blank, without <, >, %, &, \\, ?, / or control characters (Azure's rules)";

/// A Kubernetes namespace name (an RFC 1123 label).
pub const NAMESPACE_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// An Azure resource group name: 1-90 letters, digits, `-`, `_`, `.`, `(`, `)`, not ending in `.`.
pub const RESOURCE_GROUP_PATTERN: &str = "^[-a-zA-Z0-9._()]*[-a-zA-Z0-9_()]$";

/// `dnsServiceIp` inside `serviceCidr`, and none of: the network address, the first address
/// (the `kubernetes` Service) or the broadcast address. IPv4 addresses are compared as integers
/// (the CEL IP library has no arithmetic; `serviceCidr` is canonical, so its text starts with
/// the network address); the list holds the size of a block per prefix length.
pub const DNS_SERVICE_IP: &str = "!isIP(self.dnsServiceIp) || !isCIDR(self.serviceCidr) || (cidr(self.serviceCidr).containsIP(self.dnsServiceIp) && (int(self.dnsServiceIp.split('.')[0]) * 16777216 + int(self.dnsServiceIp.split('.')[1]) * 65536 + int(self.dnsServiceIp.split('.')[2]) * 256 + int(self.dnsServiceIp.split('.')[3])) > (int(self.serviceCidr.split('/')[0].split('.')[0]) * 16777216 + int(self.serviceCidr.split('/')[0].split('.')[1]) * 65536 + int(self.serviceCidr.split('/')[0].split('.')[2]) * 256 + int(self.serviceCidr.split('/')[0].split('.')[3])) + 1 && (int(self.dnsServiceIp.split('.')[0]) * 16777216 + int(self.dnsServiceIp.split('.')[1]) * 65536 + int(self.dnsServiceIp.split('.')[2]) * 256 + int(self.dnsServiceIp.split('.')[3])) < (int(self.serviceCidr.split('/')[0].split('.')[0]) * 16777216 + int(self.serviceCidr.split('/')[0].split('.')[1]) * 65536 + int(self.serviceCidr.split('/')[0].split('.')[2]) * 256 + int(self.serviceCidr.split('/')[0].split('.')[3])) + [4294967296, 2147483648, 1073741824, 536870912, 268435456, 134217728, 67108864, 33554432, 16777216, 8388608, 4194304, 2097152, 1048576, 524288, 262144, 131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1][cidr(self.serviceCidr).prefixLength()] - 1)";
/// Message for [`DNS_SERVICE_IP`].
pub const DNS_SERVICE_IP_MSG: &str = "dnsServiceIp must lie inside serviceCidr and be neither its network address, its first address (the kubernetes Service) nor its broadcast address";

/// `sourceAddressPrefixes` holds IPs and CIDRs, or one service tag or `*` alone.
pub const SINGLE_TAG_SOURCES: &str = "size(self.sourceAddressPrefixes) == 1 || self.sourceAddressPrefixes.all(a, isIP(a) || isCIDR(a))";
/// Message for [`SINGLE_TAG_SOURCES`].
pub const SINGLE_TAG_SOURCES_MSG: &str = "a service tag or '*' must be the only entry of sourceAddressPrefixes: Azure takes several addresses only as IPs and CIDRs";
/// `destinationAddressPrefixes` holds IPs and CIDRs, or one service tag or `*` alone.
pub const SINGLE_TAG_DESTINATIONS: &str = "size(self.destinationAddressPrefixes) == 1 || self.destinationAddressPrefixes.all(a, isIP(a) || isCIDR(a))";
/// Message for [`SINGLE_TAG_DESTINATIONS`].
pub const SINGLE_TAG_DESTINATIONS_MSG: &str = "a service tag or '*' must be the only entry of destinationAddressPrefixes: Azure takes several addresses only as IPs and CIDRs";

/// The IPs and CIDRs of a rule's sources and destinations are all of one family.
pub const ONE_FAMILY: &str = "(self.sourceAddressPrefixes + self.destinationAddressPrefixes).all(a, !(isIP(a) || isCIDR(a)) || (isIP(a) ? ip(a).family() : cidr(a).ip().family()) == 4) || (self.sourceAddressPrefixes + self.destinationAddressPrefixes).all(a, !(isIP(a) || isCIDR(a)) || (isIP(a) ? ip(a).family() : cidr(a).ip().family()) == 6)";
/// Message for [`ONE_FAMILY`].
pub const ONE_FAMILY_MSG: &str = "the IPs and CIDRs of sourceAddressPrefixes and destinationAddressPrefixes must all be IPv4 or all IPv6: Azure refuses a rule that mixes families";

/// `*` is the only entry of a port list, if it is in it.
pub const STAR_ALONE: &str = "size(self) == 1 || !self.exists(p, p == '*')";
/// Message for [`STAR_ALONE`].
pub const STAR_ALONE_MSG: &str = "'*' must be the only entry: it already means every port";
