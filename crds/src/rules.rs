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
