//! Service annotations of the Azure cloud provider that aksnet honours, parsed into typed settings.
//!
//! Names and meanings follow `service.beta.kubernetes.io/...` of the Azure cloud provider, so
//! Services migrate unchanged. Where the cloud provider silently falls back on a bad value
//! (e.g. an unknown probe protocol), aksnet rejects the Service with an error naming the
//! annotation: a typo must not change traffic behind the user's back. Every error is collected,
//! not just the first.

pub mod private_link;

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{Family, NetworkResource, ProbeProtocol, Tags};
use crate::naming::RESERVED_TAG_PREFIX;
use crate::problem::{Problem, ServiceError};

pub use private_link::PrivateLink;

/// Prefix of every annotation below.
pub const PREFIX: &str = "service.beta.kubernetes.io/";

/// `"true"`: an internal load balancer frontend with a private address.
pub const INTERNAL: &str = "service.beta.kubernetes.io/azure-load-balancer-internal";
/// Subnet of the internal frontend.
pub const INTERNAL_SUBNET: &str = "service.beta.kubernetes.io/azure-load-balancer-internal-subnet";
/// Frontend IPv4 address (a public IP with that address, or a static private address).
pub const IPV4: &str = "service.beta.kubernetes.io/azure-load-balancer-ipv4";
/// Frontend IPv6 address.
pub const IPV6: &str = "service.beta.kubernetes.io/azure-load-balancer-ipv6";
/// Name of an existing public IP to use.
pub const PIP_NAME: &str = "service.beta.kubernetes.io/azure-pip-name";
/// Name of an existing IPv6 public IP to use.
pub const PIP_NAME_IPV6: &str = "service.beta.kubernetes.io/azure-pip-name-ipv6";
/// Resource group of the public IPs named by the annotations above.
pub const RESOURCE_GROUP: &str = "service.beta.kubernetes.io/azure-load-balancer-resource-group";
/// DNS label of the public IP aksnet creates.
pub const DNS_LABEL: &str = "service.beta.kubernetes.io/azure-dns-label-name";
/// Public IP prefix to allocate the IPv4 public IP from.
pub const PIP_PREFIX: &str = "service.beta.kubernetes.io/azure-pip-prefix-id";
/// Public IP prefix to allocate the IPv6 public IP from.
pub const PIP_PREFIX_IPV6: &str = "service.beta.kubernetes.io/azure-pip-prefix-id-ipv6";
/// Extra tags of the public IP aksnet creates: `a=b,c=d`.
pub const PIP_TAGS: &str = "service.beta.kubernetes.io/azure-pip-tags";
/// Probe protocol for every port: `Tcp`, `Http` or `Https`.
pub const PROBE_PROTOCOL: &str =
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-protocol";
/// Probe request path for HTTP(S).
pub const PROBE_PATH: &str =
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path";
/// Probe interval in seconds (at least 5).
pub const PROBE_INTERVAL: &str =
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-interval";
/// Failed probes before a node is taken out (at least 2).
pub const PROBE_COUNT: &str =
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-num-of-probe";
/// TCP idle timeout in minutes (4-100).
pub const IDLE_TIMEOUT: &str = "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout";
/// `"true"`: no TCP reset on idle timeout.
pub const DISABLE_TCP_RESET: &str =
    "service.beta.kubernetes.io/azure-load-balancer-disable-tcp-reset";
/// `"true"`: floating IP off; the backend port becomes the node port.
pub const DISABLE_FLOATING_IP: &str =
    "service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip";
/// Allowed source service tags, comma-separated.
pub const ALLOWED_SERVICE_TAGS: &str = "service.beta.kubernetes.io/azure-allowed-service-tags";
/// Allowed source CIDRs, comma-separated (alternative to `spec.loadBalancerSourceRanges`).
pub const ALLOWED_IP_RANGES: &str = "service.beta.kubernetes.io/azure-allowed-ip-ranges";
/// The generic Kubernetes spelling of allowed source CIDRs.
pub const SOURCE_RANGES: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";
/// `"true"`: share NSG rules with other Services that admit the same ports from the same sources.
pub const SHARED_SECURITY_RULE: &str = "service.beta.kubernetes.io/azure-shared-securityrule";
/// `"true"`: one rule per family for every port and protocol (internal load balancers only).
pub const HA_PORTS: &str =
    "service.beta.kubernetes.io/azure-load-balancer-enable-high-availability-ports";
/// IP tags of the public IP aksnet creates: `RoutingPreference=Internet,FirstPartyUsage=/x`.
pub const PIP_IP_TAGS: &str = "service.beta.kubernetes.io/azure-pip-ip-tags";
/// More addresses the Service's NSG rules admit traffic to, comma-separated.
pub const ADDITIONAL_PUBLIC_IPS: &str = "service.beta.kubernetes.io/azure-additional-public-ips";
/// `"true"`: deny every other source to the Service's addresses and ports.
pub const DENY_ALL_EXCEPT_SOURCE_RANGES: &str =
    "service.beta.kubernetes.io/azure-deny-all-except-load-balancer-source-ranges";
/// The load balancer profiles a Service may be placed on, comma-separated.
pub const LB_CONFIGURATIONS: &str = "service.beta.kubernetes.io/azure-load-balancer-configurations";
/// `"true"`: aksnet writes no NSG rule for the Service.
pub const DISABLE_NSG_RULE: &str =
    "service.beta.kubernetes.io/azure-disable-load-balancer-nsg-rule";

/// The address annotation of a family (`azure-load-balancer-ipv4` or `-ipv6`).
pub fn address_annotation(family: Family) -> &'static str {
    match family {
        Family::V4 => IPV4,
        Family::V6 => IPV6,
    }
}

/// The public IP name annotation of a family (`azure-pip-name` or `-ipv6`).
pub fn pip_name_annotation(family: Family) -> &'static str {
    match family {
        Family::V4 => PIP_NAME,
        Family::V6 => PIP_NAME_IPV6,
    }
}

/// The public IP prefix annotation of a family (`azure-pip-prefix-id` or `-ipv6`).
pub fn pip_prefix_annotation(family: Family) -> &'static str {
    match family {
        Family::V4 => PIP_PREFIX,
        Family::V6 => PIP_PREFIX_IPV6,
    }
}

/// Per-port annotation suffixes (`service.beta.kubernetes.io/port_{port}_{suffix}`).
pub const PORT_SUFFIXES: [&str; 7] = [
    "no_lb_rule",
    "no_probe_rule",
    "health-probe_protocol",
    "health-probe_port",
    "health-probe_request-path",
    "health-probe_interval",
    "health-probe_num-of-probe",
];

/// A probe port given by a per-port annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbePort {
    /// A port number (a service port number maps to that port's node port).
    Number(u16),
    /// The name of a service port (probes its node port).
    Named(String),
}

/// Probe settings from annotations; `None` means the default applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Protocol.
    pub protocol: Option<ProbeProtocol>,
    /// HTTP(S) request path.
    pub path: Option<String>,
    /// Interval in seconds.
    pub interval: Option<u32>,
    /// Failure threshold.
    pub threshold: Option<u32>,
    /// Probe port (per-port annotation only).
    pub port: Option<ProbePort>,
}

/// Per-port settings (`port_{port}_...`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSettings {
    /// The annotations that set them (to name in errors).
    pub keys: Vec<String>,
    /// No load-balancing rule (and no probe) for this port.
    pub no_lb_rule: bool,
    /// A rule without a probe.
    pub no_probe_rule: bool,
    /// Probe overrides.
    pub probe: ProbeSettings,
}

/// Everything the annotations say about one Service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Internal load balancer.
    pub internal: bool,
    /// Subnet of the internal frontend.
    pub internal_subnet: Option<String>,
    /// Requested frontend address per family.
    pub ip: BTreeMap<Family, IpAddr>,
    /// Named public IP per family.
    pub pip_name: BTreeMap<Family, String>,
    /// Resource group of named public IPs.
    pub resource_group: Option<String>,
    /// DNS label: `None` leaves it unset, `Some("")` too.
    pub dns_label: Option<String>,
    /// Public IP prefix per family.
    pub pip_prefix: BTreeMap<Family, String>,
    /// Extra public IP tags.
    pub pip_tags: Tags,
    /// Probe settings for every port.
    pub probe: ProbeSettings,
    /// Per-port settings, by service port number.
    pub ports: BTreeMap<u16, PortSettings>,
    /// TCP idle timeout in minutes.
    pub idle_timeout: Option<u32>,
    /// TCP reset off.
    pub disable_tcp_reset: bool,
    /// Floating IP off.
    pub disable_floating_ip: bool,
    /// Allowed source CIDRs from annotations.
    pub allowed_ranges: Option<(String, Vec<IpNet>)>,
    /// Allowed source service tags.
    pub allowed_service_tags: Vec<String>,
    /// Shared NSG rules: `Some(false)` asks for rules of its own.
    pub shared_security_rule: Option<bool>,
    /// High-availability ports: one rule per family, protocol All, port 0.
    pub ha_ports: bool,
    /// IP tags of the created public IP, sorted `(type, tag)` pairs.
    pub pip_ip_tags: Vec<(String, String)>,
    /// Extra NSG destinations.
    pub additional_ips: Vec<IpAddr>,
    /// A deny rule after the allow rules.
    pub deny_all_except_sources: bool,
    /// No NSG rules at all.
    pub disable_nsg_rule: bool,
    /// Load balancer profiles to choose from.
    pub configurations: Option<Vec<String>>,
    /// A Private Link Service on the frontend (`azure-pls-create: "true"`).
    pub private_link: Option<PrivateLink>,
}

/// Parse a Service's annotations. `service` (`namespace/name`) is used in errors.
pub fn parse(
    service: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<Annotations, Vec<ServiceError>> {
    let mut p = Parser {
        service,
        errors: Vec::new(),
    };
    let mut out = Annotations::default();
    let mut pls = private_link::Reading::default();
    for (key, value) in annotations.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
        if !p.private_link(&mut pls, key, value.trim()) {
            p.one(&mut out, key, value.trim());
        }
    }
    out.private_link = pls.finish(&mut p);
    if p.errors.is_empty() {
        Ok(out)
    } else {
        Err(p.errors)
    }
}

struct Parser<'a> {
    service: &'a str,
    errors: Vec<ServiceError>,
}

impl Parser<'_> {
    fn bad(&mut self, key: &str, reason: impl Into<String>) {
        self.errors.push(ServiceError::new(
            self.service,
            key,
            Problem::InvalidValue(reason.into()),
        ));
    }

    fn one(&mut self, out: &mut Annotations, key: &str, v: &str) {
        match key {
            // The cloud provider treats anything but exactly "true" as public: a typo would
            // publish an internal Service to the internet, so other values are refused.
            INTERNAL => match v {
                "true" => out.internal = true,
                "false" => out.internal = false,
                _ => self.bad(
                    key,
                    format!("{v:?} is neither \"true\" nor \"false\" (exactly; the cloud provider would make the Service public)"),
                ),
            },
            INTERNAL_SUBNET => out.internal_subnet = self.azure_name(key, v),
            IPV4 | IPV6 => {
                let family = if key == IPV4 { Family::V4 } else { Family::V6 };
                if let Some(ip) = self.ip(key, v, family) {
                    out.ip.insert(family, ip);
                }
            }
            PIP_NAME | PIP_NAME_IPV6 => {
                let family = if key == PIP_NAME {
                    Family::V4
                } else {
                    Family::V6
                };
                if let Some(name) = self.azure_name(key, v) {
                    out.pip_name.insert(family, name);
                }
            }
            RESOURCE_GROUP => out.resource_group = self.resource_group(key, v),
            DNS_LABEL => out.dns_label = self.dns_label(key, v),
            PIP_PREFIX | PIP_PREFIX_IPV6 => {
                let family = if key == PIP_PREFIX {
                    Family::V4
                } else {
                    Family::V6
                };
                if let Some(id) = self.prefix_id(key, v) {
                    out.pip_prefix.insert(family, id);
                }
            }
            PIP_TAGS => out.pip_tags = self.tags(key, v),
            PROBE_PROTOCOL => out.probe.protocol = self.probe_protocol(key, v),
            PROBE_PATH => out.probe.path = self.path(key, v),
            PROBE_INTERVAL => out.probe.interval = self.number(key, v, 5, 3600),
            PROBE_COUNT => out.probe.threshold = self.number(key, v, 2, 100),
            IDLE_TIMEOUT => out.idle_timeout = self.number(key, v, 4, 100),
            DISABLE_TCP_RESET => out.disable_tcp_reset = self.boolean(key, v),
            DISABLE_FLOATING_IP => out.disable_floating_ip = self.boolean(key, v),
            SHARED_SECURITY_RULE => out.shared_security_rule = Some(self.boolean(key, v)),
            HA_PORTS => out.ha_ports = self.boolean(key, v),
            PIP_IP_TAGS => out.pip_ip_tags = self.ip_tags(key, v),
            ADDITIONAL_PUBLIC_IPS => out.additional_ips = self.ips(key, v),
            DENY_ALL_EXCEPT_SOURCE_RANGES => out.deny_all_except_sources = self.boolean(key, v),
            DISABLE_NSG_RULE => out.disable_nsg_rule = self.boolean(key, v),
            LB_CONFIGURATIONS => out.configurations = self.names(key, v),
            ALLOWED_SERVICE_TAGS => out.allowed_service_tags = self.service_tags(key, v),
            ALLOWED_IP_RANGES | SOURCE_RANGES => {
                if let Some((other, _)) = &out.allowed_ranges {
                    let reason = format!("conflicts with {other}: set allowed source ranges once");
                    self.bad(key, reason);
                } else if let Some(ranges) = self.cidrs(key, v) {
                    out.allowed_ranges = Some((key.to_string(), ranges));
                }
            }
            _ => self.per_port(out, key, v),
        }
    }

    /// `port_{port}_{suffix}` annotations; other unknown keys are left alone (other tools).
    fn per_port(&mut self, out: &mut Annotations, key: &str, v: &str) {
        let Some(rest) = key
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix("port_"))
        else {
            return;
        };
        let Some((port, suffix)) = rest.split_once('_') else {
            return;
        };
        if !PORT_SUFFIXES.contains(&suffix) {
            return;
        }
        let Some(port) = port.parse::<u16>().ok().filter(|p| *p > 0) else {
            self.bad(
                key,
                "the port in the annotation name must be a service port number (1-65535)",
            );
            return;
        };
        let settings = out.ports.entry(port).or_default();
        settings.keys.push(key.to_string());
        match suffix {
            "no_lb_rule" => settings.no_lb_rule = self.boolean(key, v),
            "no_probe_rule" => settings.no_probe_rule = self.boolean(key, v),
            "health-probe_protocol" => settings.probe.protocol = self.probe_protocol(key, v),
            "health-probe_request-path" => settings.probe.path = self.path(key, v),
            "health-probe_interval" => settings.probe.interval = self.number(key, v, 5, 3600),
            "health-probe_num-of-probe" => settings.probe.threshold = self.number(key, v, 2, 100),
            _ => settings.probe.port = self.probe_port(key, v),
        }
    }

    /// `true` or `false` in any case; anything else is refused (and means `false`).
    fn boolean(&mut self, key: &str, v: &str) -> bool {
        if v.eq_ignore_ascii_case("true") {
            true
        } else {
            if !v.eq_ignore_ascii_case("false") {
                self.bad(key, format!("{v:?} is neither \"true\" nor \"false\""));
            }
            false
        }
    }

    fn number(&mut self, key: &str, v: &str, min: u32, max: u32) -> Option<u32> {
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.bad(
                    key,
                    format!("{v:?} is not a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    fn ip(&mut self, key: &str, v: &str, family: Family) -> Option<IpAddr> {
        match v.parse::<IpAddr>() {
            Ok(ip) if Family::of(&ip) == family => Some(ip),
            Ok(_) => {
                self.bad(
                    key,
                    format!("{v:?} is not an {} address", family.azure_name()),
                );
                None
            }
            Err(_) => {
                self.bad(key, format!("{v:?} is not an IP address"));
                None
            }
        }
    }

    fn azure_name(&mut self, key: &str, v: &str) -> Option<String> {
        if aksnet_crds::validate::is_azure_name(v) {
            Some(v.to_string())
        } else {
            self.bad(
                key,
                format!("{v:?} is not an Azure name (1-80 letters, digits, '.', '-', '_')"),
            );
            None
        }
    }

    fn resource_group(&mut self, key: &str, v: &str) -> Option<String> {
        if is_resource_group(v) {
            Some(v.to_string())
        } else {
            self.bad(
                key,
                format!("{v:?} is not a resource group name (1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.')"),
            );
            None
        }
    }

    fn dns_label(&mut self, key: &str, v: &str) -> Option<String> {
        if v.is_empty() {
            return None;
        }
        let b = v.as_bytes();
        let ok = (3..=63).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[b.len() - 1] != b'-';
        if ok {
            Some(v.to_string())
        } else {
            self.bad(
                key,
                format!("{v:?} is not a DNS label (3-63 lower-case letters, digits and '-', starting with a letter)"),
            );
            None
        }
    }

    fn prefix_id(&mut self, key: &str, v: &str) -> Option<String> {
        // Spelled plainly (no empty, `.` or `..` segments), so the id names what it reads as.
        let plain = v
            .strip_prefix('/')
            .is_some_and(|rest| rest.split('/').all(|p| !matches!(p, "" | "." | "..")));
        let ok = plain
            && NetworkResource::parse(v).is_some_and(|r| {
                r.kind == "publicipprefixes"
                    && is_resource_group(&r.resource_group)
                    && aksnet_crds::validate::is_azure_name(&r.name)
            });
        if ok {
            Some(v.to_string())
        } else {
            self.bad(
                key,
                format!("{v:?} is not a public IP prefix id (/subscriptions/../resourceGroups/../providers/Microsoft.Network/publicIPPrefixes/..)"),
            );
            None
        }
    }

    fn tags(&mut self, key: &str, v: &str) -> Tags {
        let mut tags = Tags::new();
        for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, val)) = pair.split_once('=') else {
                self.bad(key, format!("{pair:?} is not key=value"));
                continue;
            };
            let (k, val) = (k.trim(), val.trim());
            if !aksnet_crds::validate::is_azure_tag_key(k) {
                self.bad(key, format!("{k:?} is not a valid Azure tag name"));
            } else if k.to_ascii_lowercase().starts_with(RESERVED_TAG_PREFIX) {
                self.bad(
                    key,
                    format!("tag {k:?} is reserved for aksnet's ownership tags"),
                );
            } else if val.chars().count() > 256 {
                self.bad(
                    key,
                    format!("the value of tag {k:?} is longer than 256 characters"),
                );
            } else {
                tags.insert(k.to_string(), val.to_string());
            }
        }
        tags
    }

    /// `type=tag` pairs of public IP tags (Azure: `RoutingPreference=Internet`,
    /// `FirstPartyUsage=/Unprivileged`); a type twice is refused.
    fn ip_tags(&mut self, key: &str, v: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, tag)) = pair.split_once('=').map(|(k, t)| (k.trim(), t.trim())) else {
                self.bad(key, format!("{pair:?} is not ipTagType=tag"));
                continue;
            };
            let word = |s: &str, extra: &[char]| {
                (1..=80).contains(&s.len())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
            };
            if !word(kind, &[]) {
                self.bad(
                    key,
                    format!("{kind:?} is not an IP tag type (letters and digits)"),
                );
            } else if !word(tag, &['/', '-', '_', '.']) {
                self.bad(key, format!("{tag:?} is not an IP tag value"));
            } else if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(kind)) {
                self.bad(key, format!("IP tag type {kind:?} is given twice"));
            } else {
                out.push((kind.to_string(), tag.to_string()));
            }
        }
        out.sort();
        out
    }

    /// Comma-separated Azure names, without repeats (any case); at least one.
    fn names(&mut self, key: &str, v: &str) -> Option<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !aksnet_crds::validate::is_azure_name(name) {
                self.bad(key, format!("{name:?} is not a load balancer name"));
            } else if !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                out.push(name.to_string());
            }
        }
        if out.is_empty() {
            self.bad(key, "names no load balancer");
            return None;
        }
        Some(out)
    }

    /// Comma-separated addresses, sorted and without repeats.
    fn ips(&mut self, key: &str, v: &str) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<IpAddr>() {
                Ok(ip) => out.push(ip),
                Err(_) => self.bad(key, format!("{item:?} is not an IP address")),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn probe_protocol(&mut self, key: &str, v: &str) -> Option<ProbeProtocol> {
        match v.to_ascii_lowercase().as_str() {
            "tcp" => Some(ProbeProtocol::Tcp),
            "http" => Some(ProbeProtocol::Http),
            "https" => Some(ProbeProtocol::Https),
            _ => {
                self.bad(
                    key,
                    format!("{v:?} is not a probe protocol (Tcp, Http or Https)"),
                );
                None
            }
        }
    }

    fn path(&mut self, key: &str, v: &str) -> Option<String> {
        if v.starts_with('/') && v.len() <= 2048 && !v.contains(char::is_whitespace) {
            Some(v.to_string())
        } else {
            self.bad(
                key,
                format!("{v:?} is not a request path (must start with '/')"),
            );
            None
        }
    }

    fn probe_port(&mut self, key: &str, v: &str) -> Option<ProbePort> {
        match v.parse::<u32>() {
            Ok(n @ 1..=65535) => u16::try_from(n).ok().map(ProbePort::Number),
            Ok(_) => {
                self.bad(key, format!("{v:?} is not a port (1-65535)"));
                None
            }
            Err(_) if !v.is_empty() && v.len() <= 15 => Some(ProbePort::Named(v.to_string())),
            Err(_) => {
                self.bad(
                    key,
                    format!("{v:?} is neither a port number nor a service port name"),
                );
                None
            }
        }
    }

    fn service_tags(&mut self, key: &str, v: &str) -> Vec<String> {
        let mut tags = Vec::new();
        for tag in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let ok = tag.starts_with(|c: char| c.is_ascii_alphabetic())
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if ok {
                tags.push(tag.to_string());
            } else {
                self.bad(key, format!("{tag:?} is not an Azure service tag"));
            }
        }
        tags.sort();
        tags.dedup();
        tags
    }

    fn cidrs(&mut self, key: &str, v: &str) -> Option<Vec<IpNet>> {
        let parsed = parse_cidrs(v.split(',').map(str::trim).filter(|s| !s.is_empty()));
        match parsed {
            Ok(nets) => Some(nets),
            Err(bad) => {
                self.bad(key, format!("{bad:?} is not a CIDR"));
                None
            }
        }
    }
}

/// Whether `v` is an Azure resource group name (1-90 ASCII letters, digits, `-`, `_`, `.`, `(`,
/// `)`, not ending in `.`).
pub fn is_resource_group(v: &str) -> bool {
    (1..=90).contains(&v.len())
        && !v.ends_with('.')
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'(' | b')'))
}

/// Parse CIDRs (a bare address means a single host), canonical and sorted; the first bad entry
/// is the error.
pub fn parse_cidrs<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for item in items {
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| item.to_string())?;
        nets.push(net.trunc());
    }
    nets.sort();
    nets.dedup();
    Ok(nets)
}
