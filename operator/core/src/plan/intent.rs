//! What one Service asks for, read from its spec and annotations and checked on its own.
//!
//! Checks that need other objects (shared IPs, limits, Azure lookups) happen later in
//! [`super::load_balancer`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};

use crate::annotations::{self, Annotations, ProbePort};
use crate::model::{Family, Probe, ProbeProtocol, Protocol, Tags};
use crate::problem::{Problem, ServiceError};

/// Default probe interval (seconds), as the Azure cloud provider.
pub const DEFAULT_PROBE_INTERVAL: u32 = 5;
/// Default probe failure threshold, as the Azure cloud provider.
pub const DEFAULT_PROBE_THRESHOLD: u32 = 2;
/// Default TCP idle timeout (minutes).
pub const DEFAULT_IDLE_TIMEOUT: u32 = 4;
/// interval × threshold must stay below this (seconds), as the Azure cloud provider checks.
const MAX_PROBE_WINDOW: u32 = 120;

/// Where one family's frontend address comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressSource {
    /// A public IP aksnet creates for the Service.
    Managed(ManagedIp),
    /// An existing public IP, by name (`azure-pip-name`), in `resource_group` if given.
    NamedPublicIp {
        /// Resource group from the annotation, else the cluster's.
        resource_group: Option<String>,
        /// Public IP name.
        name: String,
    },
    /// An existing public IP, found by its address.
    PublicAddress {
        /// Resource group from the annotation (searched first), else the cluster's.
        resource_group: Option<String>,
        /// The address.
        ip: IpAddr,
        /// Where the address was asked for (the annotation or `spec.loadBalancerIP`).
        field: &'static str,
    },
    /// A private address on the internal load balancer.
    Private {
        /// Subnet name (annotation or the AksNetwork's node subnet).
        subnet: Option<String>,
        /// Static address, or `None` for a dynamic one.
        ip: Option<IpAddr>,
        /// Where the address was asked for (the annotation or `spec.loadBalancerIP`).
        field: &'static str,
    },
}

/// What a Service asks of a public IP aksnet creates for it (nothing, by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedIp {
    /// DNS label.
    pub dns_label: Option<String>,
    /// Public IP prefix id.
    pub prefix_id: Option<String>,
    /// Extra tags.
    pub tags: Tags,
    /// IP tags, sorted `(type, tag)` pairs (part of the name: Azure sets them at creation).
    pub ip_tags: Vec<(String, String)>,
}

/// One service port that gets a load-balancing rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortIntent {
    /// Service port.
    pub port: u16,
    /// Azure protocol.
    pub protocol: Protocol,
    /// Backend port on the nodes (the port NSG rules admit too).
    pub backend_port: u16,
    /// Health probe, without its name.
    pub probe: Option<Probe>,
}

/// Sources allowed by the Service's NSG rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    /// CIDRs from `loadBalancerSourceRanges` or the annotations.
    pub ranges: Vec<IpNet>,
    /// Azure service tags.
    pub service_tags: Vec<String>,
}

/// A Service's request, validated on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceIntent {
    /// `namespace/name`.
    pub key: String,
    /// Internal load balancer.
    pub internal: bool,
    /// Frontend address source per family, IPv4 first (a family at most once).
    pub frontends: Vec<(Family, AddressSource)>,
    /// Ports with rules.
    pub ports: Vec<PortIntent>,
    /// Idle timeout.
    pub idle_timeout: u32,
    /// TCP reset on idle.
    pub tcp_reset: bool,
    /// Floating IP.
    pub floating_ip: bool,
    /// `sessionAffinity: ClientIP`.
    pub client_ip_affinity: bool,
    /// Allowed sources; `None` means the default (Internet or VirtualNetwork).
    pub sources: Option<Sources>,
    /// NSG rules of its own (`azure-shared-securityrule: "false"`) instead of rules packed
    /// with the namespace's other Services that admit the same ports from the same sources.
    pub own_security_rules: bool,
    /// High-availability ports: one rule per family (protocol All, port 0) instead of one per
    /// port; the NSG rules still admit the Service's ports.
    pub ha_ports: bool,
    /// More NSG destinations (`azure-additional-public-ips`), of the Service's families.
    pub additional_ips: Vec<IpAddr>,
    /// A deny rule for every other source, after the allow rules.
    pub deny_all_except_sources: bool,
    /// Whether aksnet writes NSG rules for the Service (`azure-disable-load-balancer-nsg-rule`).
    pub nsg_rules: bool,
    /// The load balancer profiles it may be placed on (`azure-load-balancer-configurations`).
    pub configurations: Option<Vec<String>>,
    /// Its labels (profiles select Services by them).
    pub labels: BTreeMap<String, String>,
    /// A Private Link Service on its IPv4 frontend (`azure-pls-create`).
    pub private_link: Option<annotations::PrivateLink>,
}

/// Read a Service's request. `key` is `namespace/name`.
pub fn read(key: &str, svc: &Service) -> Result<ServiceIntent, Vec<ServiceError>> {
    let empty = BTreeMap::new();
    let ann = annotations::parse(key, svc.metadata.annotations.as_ref().unwrap_or(&empty))?;
    let default_spec;
    let spec = match svc.spec.as_ref() {
        Some(spec) => spec,
        None => {
            default_spec = ServiceSpec::default();
            &default_spec
        }
    };
    let mut errors = Vec::new();
    let err = |field: &str, problem: Problem| ServiceError::new(key, field, problem);

    let families = families(spec.ip_families.as_deref().unwrap_or_default());
    let legacy_ip = match spec.load_balancer_ip.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => match v.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let p = Problem::InvalidValue(format!("{v:?} is not an IP address"));
                errors.push(err("spec.loadBalancerIP", p));
                None
            }
        },
    };
    errors.extend(settings_conflicts(key, &ann, &families, legacy_ip));
    // `families` is sorted and has each family once.
    let frontends = families
        .iter()
        .map(|f| (*f, address_source(&ann, *f, &families, legacy_ip)))
        .collect();

    let local = spec.external_traffic_policy.as_deref() == Some("Local");
    let health_port = spec
        .health_check_node_port
        .and_then(|p| u16::try_from(p).ok());
    if local && health_port.is_none() {
        let p =
            Problem::InvalidValue("externalTrafficPolicy Local needs a healthCheckNodePort".into());
        errors.push(err("spec.healthCheckNodePort", p));
    }
    let all_ports = spec.ports.as_deref().unwrap_or_default();
    if all_ports.is_empty() {
        errors.push(err(
            "spec.ports",
            Problem::InvalidValue("a LoadBalancer Service needs ports".into()),
        ));
    }
    let ctx = PortContext {
        key,
        ann: &ann,
        all: all_ports,
        local_health_port: if local { health_port } else { None },
        floating_ip: !ann.disable_floating_ip,
        internal: ann.internal,
    };
    let mut ports = Vec::with_capacity(all_ports.len());
    for (i, p) in all_ports.iter().enumerate() {
        match ctx.port(i, p) {
            Ok(Some(intent)) => ports.push(intent),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    for (port, settings) in &ann.ports {
        if !all_ports.iter().any(|p| p.port == i32::from(*port))
            && let Some(annotation) = settings.keys.first()
        {
            let p = Problem::InvalidValue(format!("the Service has no port {port}"));
            errors.push(err(annotation, p));
        }
    }
    if ports.is_empty() && !all_ports.is_empty() && errors.is_empty() {
        let annotation = ann
            .ports
            .values()
            .find(|s| s.no_lb_rule)
            .and_then(|s| s.keys.first().cloned())
            .unwrap_or_else(|| "spec.ports".into());
        let p = Problem::InvalidValue(
            "no port is left with a load-balancing rule: nothing would reach the Service's address"
                .into(),
        );
        errors.push(err(&annotation, p));
    }

    let sources = match (&spec.load_balancer_source_ranges, &ann.allowed_ranges) {
        (Some(r), Some((k, _))) if !r.is_empty() => {
            let p = Problem::Conflict(format!(
                "spec.loadBalancerSourceRanges and {k} are both set"
            ));
            errors.push(err(k, p));
            None
        }
        (Some(r), _) if !r.is_empty() => match annotations::parse_cidrs(r.iter().map(|s| s.trim()))
        {
            Ok(ranges) => Some(ranges),
            Err(bad) => {
                let p = Problem::InvalidValue(format!("{bad:?} is not a CIDR"));
                errors.push(err("spec.loadBalancerSourceRanges", p));
                None
            }
        },
        (_, Some((_, ranges))) => Some(ranges.clone()),
        _ => None,
    };
    let sources = match (sources, ann.allowed_service_tags.is_empty()) {
        (None, true) => None,
        (ranges, _) => Some(Sources {
            ranges: ranges.unwrap_or_default(),
            service_tags: ann.allowed_service_tags.clone(),
        }),
    };
    if let Some(s) = sources.as_ref().filter(|s| s.service_tags.is_empty()) {
        let field = ann
            .allowed_ranges
            .as_ref()
            .map_or("spec.loadBalancerSourceRanges", |(k, _)| k.as_str());
        for family in &families {
            if !s.ranges.iter().any(|r| Family::of(&r.addr()) == *family) {
                let p = Problem::Conflict(format!(
                    "no source range is {0}: no NSG rule would admit traffic to the Service's {0} address",
                    family.azure_name()
                ));
                errors.push(err(field, p));
            }
        }
    }

    if ann.private_link.is_some() {
        let needs = if !ann.internal {
            Some(
                "a Private Link Service serves an internal frontend: the Service needs azure-load-balancer-internal: \"true\"",
            )
        } else if !families.contains(&Family::V4) {
            Some("a Private Link Service serves an IPv4 frontend, and the Service has none")
        } else {
            None
        };
        if let Some(why) = needs {
            let p = Problem::Unsupported(why.into());
            errors.push(err(annotations::private_link::CREATE, p));
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ServiceIntent {
        key: key.to_string(),
        internal: ann.internal,
        frontends,
        ports,
        idle_timeout: ann.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT),
        tcp_reset: !ann.disable_tcp_reset,
        floating_ip: !ann.disable_floating_ip,
        client_ip_affinity: spec.session_affinity.as_deref() == Some("ClientIP"),
        sources,
        own_security_rules: ann.shared_security_rule == Some(false),
        ha_ports: ann.ha_ports,
        additional_ips: ann.additional_ips.clone(),
        deny_all_except_sources: ann.deny_all_except_sources,
        nsg_rules: !ann.disable_nsg_rule,
        configurations: ann.configurations.clone(),
        labels: svc.metadata.labels.clone().unwrap_or_default(),
        private_link: ann.private_link.clone(),
    })
}

/// Families of `spec.ipFamilies`; none means IPv4.
fn families(list: &[String]) -> Vec<Family> {
    let mut out: Vec<Family> = list
        .iter()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some(Family::V4),
            "IPv6" => Some(Family::V6),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(Family::V4);
    }
    out
}

/// Settings that contradict each other or the Service: each would otherwise be dropped
/// silently (an annotation for a public IP on an internal Service, an address of a family the
/// Service lacks, a DNS label on an existing public IP, ...).
fn settings_conflicts(
    key: &str,
    ann: &Annotations,
    families: &[Family],
    legacy_ip: Option<IpAddr>,
) -> Vec<ServiceError> {
    let asked = Asked {
        ann,
        families,
        legacy_ip,
    };
    let mut conflicts = asked.scope();
    conflicts.extend(asked.families());
    conflicts.extend(asked.existing_ips());
    conflicts.extend(asked.security());
    conflicts
        .into_iter()
        .map(|(field, reason)| ServiceError::new(key, &field, Problem::Conflict(reason)))
        .collect()
}

/// What a Service asks for, to check its settings against each other.
struct Asked<'a> {
    ann: &'a Annotations,
    families: &'a [Family],
    legacy_ip: Option<IpAddr>,
}

/// A setting (annotation or field) and why it cannot apply.
type Conflict = (String, String);

impl Asked<'_> {
    /// `spec.loadBalancerIP`, if it is of this family.
    fn legacy(&self, family: Family) -> Option<IpAddr> {
        self.legacy_ip.filter(|ip| Family::of(ip) == family)
    }

    /// Whether aksnet creates this family's public IP (nothing names an existing one).
    fn managed(&self, family: Family) -> bool {
        let ann = self.ann;
        !ann.internal
            && !ann.pip_name.contains_key(&family)
            && ann
                .ip
                .get(&family)
                .copied()
                .or(self.legacy(family))
                .is_none()
    }

    /// Public-only settings on an internal Service, and internal-only ones on a public one.
    fn scope(&self) -> Vec<Conflict> {
        let ann = self.ann;
        if !ann.internal {
            let internal_only = [
                (annotations::INTERNAL_SUBNET, ann.internal_subnet.is_some()),
                (annotations::HA_PORTS, ann.ha_ports),
            ];
            return internal_only
                .into_iter()
                .filter(|(_, set)| *set)
                .map(|(field, _)| {
                    let reason = format!(
                        "applies to internal Services; this one is public (set {} to \"true\")",
                        annotations::INTERNAL
                    );
                    (field.to_string(), reason)
                })
                .collect();
        }
        let public_only = [Family::V4, Family::V6]
            .into_iter()
            .flat_map(|f| {
                [
                    (
                        annotations::pip_name_annotation(f),
                        ann.pip_name.contains_key(&f),
                    ),
                    (
                        annotations::pip_prefix_annotation(f),
                        ann.pip_prefix.contains_key(&f),
                    ),
                ]
            })
            .chain([
                (annotations::RESOURCE_GROUP, ann.resource_group.is_some()),
                (annotations::DNS_LABEL, ann.dns_label.is_some()),
                (annotations::PIP_TAGS, !ann.pip_tags.is_empty()),
                (annotations::PIP_IP_TAGS, !ann.pip_ip_tags.is_empty()),
            ]);
        public_only
            .filter(|(_, set)| *set)
            .map(|(field, _)| {
                let reason = format!(
                    "applies to public Services; this one is internal ({})",
                    annotations::INTERNAL
                );
                (field.to_string(), reason)
            })
            .collect()
    }

    /// Addresses, public IPs and prefixes of a family the Service lacks, and an address asked
    /// twice differently.
    fn families(&self) -> Vec<Conflict> {
        let ann = self.ann;
        let mut out = Vec::new();
        for family in [Family::V4, Family::V6] {
            let address = ann.ip.get(&family).copied();
            let legacy = self.legacy(family);
            if !self.families.contains(&family) {
                let asked = [
                    (annotations::address_annotation(family), address.is_some()),
                    (
                        annotations::pip_name_annotation(family),
                        ann.pip_name.contains_key(&family),
                    ),
                    (
                        annotations::pip_prefix_annotation(family),
                        ann.pip_prefix.contains_key(&family),
                    ),
                    ("spec.loadBalancerIP", legacy.is_some()),
                ];
                out.extend(asked.into_iter().filter(|(_, set)| *set).map(|(field, _)| {
                    let reason = format!(
                        "the Service has no {} family (spec.ipFamilies)",
                        family.azure_name()
                    );
                    (field.to_string(), reason)
                }));
            }
            if let (Some(a), Some(l)) = (address, legacy)
                && a != l
            {
                let reason = format!(
                    "{l} differs from {a} in {}",
                    annotations::address_annotation(family)
                );
                out.push(("spec.loadBalancerIP".into(), reason));
            }
        }
        out
    }

    /// Settings for the public IPs aksnet creates, on a Service that names existing ones.
    fn existing_ips(&self) -> Vec<Conflict> {
        let ann = self.ann;
        if ann.internal {
            return Vec::new();
        }
        let created_only =
            "applies to the public IP aksnet creates; this Service names an existing one";
        let mut out: Vec<Conflict> = [Family::V4, Family::V6]
            .into_iter()
            .filter(|f| ann.pip_prefix.contains_key(f) && !self.managed(*f))
            .map(|f| {
                (
                    annotations::pip_prefix_annotation(f).to_string(),
                    created_only.into(),
                )
            })
            .collect();
        // The DNS label goes to the first family's public IP.
        let label_family = self.families.first().copied().unwrap_or(Family::V4);
        if ann.dns_label.is_some() && !self.managed(label_family) {
            out.push((annotations::DNS_LABEL.into(), created_only.into()));
        }
        if ann.resource_group.is_some() && self.families.iter().all(|f| self.managed(*f)) {
            let reason = format!(
                "applies to the public IPs a Service names ({} or an address); aksnet creates its own in the cluster's resource group",
                annotations::PIP_NAME
            );
            out.push((annotations::RESOURCE_GROUP.into(), reason));
        }
        let none_managed = !self.families.iter().any(|f| self.managed(*f));
        for (key, set) in [
            (annotations::PIP_TAGS, !ann.pip_tags.is_empty()),
            (annotations::PIP_IP_TAGS, !ann.pip_ip_tags.is_empty()),
        ] {
            if set && none_managed {
                let reason =
                    "apply to the public IP aksnet creates; this Service names existing ones";
                out.push((key.into(), reason.into()));
            }
        }
        out
    }

    /// Security settings that cannot apply: NSG settings with the NSG rules off, additional
    /// addresses of a family the Service lacks, per-port settings with HA ports.
    fn security(&self) -> Vec<Conflict> {
        let ann = self.ann;
        let mut out = Vec::new();
        if ann.disable_nsg_rule {
            let set = [
                (
                    annotations::ADDITIONAL_PUBLIC_IPS,
                    !ann.additional_ips.is_empty(),
                ),
                (
                    annotations::DENY_ALL_EXCEPT_SOURCE_RANGES,
                    ann.deny_all_except_sources,
                ),
                (
                    annotations::SHARED_SECURITY_RULE,
                    ann.shared_security_rule.is_some(),
                ),
            ];
            out.extend(set.into_iter().filter(|(_, s)| *s).map(|(key, _)| {
                let reason = format!(
                    "sets NSG rules, and {} turns them off",
                    annotations::DISABLE_NSG_RULE
                );
                (key.to_string(), reason)
            }));
        }
        for ip in &ann.additional_ips {
            let family = Family::of(ip);
            if !self.families.contains(&family) {
                let reason = format!(
                    "{ip}: the Service has no {} family (spec.ipFamilies)",
                    family.azure_name()
                );
                out.push((annotations::ADDITIONAL_PUBLIC_IPS.to_string(), reason));
            }
        }
        if ann.ha_ports {
            for settings in ann.ports.values().filter(|s| s.no_lb_rule) {
                let key = settings.keys.first().cloned().unwrap_or_default();
                let reason = format!(
                    "{} makes one rule for every port; a port cannot be left out",
                    annotations::HA_PORTS
                );
                out.push((key, reason));
            }
        }
        out
    }
}

fn address_source(
    ann: &Annotations,
    family: Family,
    families: &[Family],
    legacy_ip: Option<IpAddr>,
) -> AddressSource {
    let annotated = ann.ip.get(&family).copied();
    let ip = annotated.or(legacy_ip.filter(|ip| Family::of(ip) == family));
    let field = match annotated {
        None if ip.is_some() => "spec.loadBalancerIP",
        _ => annotations::address_annotation(family),
    };
    if ann.internal {
        return AddressSource::Private {
            subnet: ann.internal_subnet.clone(),
            ip,
            field,
        };
    }
    let resource_group = ann.resource_group.clone();
    if let Some(name) = ann.pip_name.get(&family) {
        return AddressSource::NamedPublicIp {
            resource_group,
            name: name.clone(),
        };
    }
    if let Some(ip) = ip {
        return AddressSource::PublicAddress {
            resource_group,
            ip,
            field,
        };
    }
    // The DNS label goes to the first family's public IP: IPv4, or IPv6 on an IPv6-only
    // Service.
    AddressSource::Managed(ManagedIp {
        dns_label: if families.first() == Some(&family) {
            ann.dns_label.clone()
        } else {
            None
        },
        prefix_id: ann.pip_prefix.get(&family).cloned(),
        tags: ann.pip_tags.clone(),
        ip_tags: ann.pip_ip_tags.clone(),
    })
}

struct PortContext<'a> {
    key: &'a str,
    ann: &'a Annotations,
    all: &'a [ServicePort],
    local_health_port: Option<u16>,
    floating_ip: bool,
    internal: bool,
}

impl PortContext<'_> {
    fn err(&self, field: String, problem: Problem) -> ServiceError {
        ServiceError::new(self.key, &field, problem)
    }

    fn port(&self, i: usize, p: &ServicePort) -> Result<Option<PortIntent>, ServiceError> {
        let field = || format!("spec.ports[{i}]");
        let port = u16::try_from(p.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                self.err(
                    format!("{}.port", field()),
                    Problem::InvalidValue("not a port".into()),
                )
            })?;
        let per_port = self.ann.ports.get(&port).cloned().unwrap_or_default();
        if per_port.no_lb_rule {
            return Ok(None);
        }
        let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" if self.internal => Protocol::All,
            "SCTP" => {
                let p = Problem::Unsupported("SCTP needs an internal load balancer".into());
                return Err(self.err(format!("{}.protocol", field()), p));
            }
            other => {
                let p = Problem::InvalidValue(format!("unknown protocol {other:?}"));
                return Err(self.err(format!("{}.protocol", field()), p));
            }
        };
        let node_port = p
            .node_port
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0);
        let backend_port = if self.floating_ip {
            port
        } else {
            node_port.ok_or_else(|| {
                let p = Problem::Unsupported(format!(
                    "{} needs node ports (allocateLoadBalancerNodePorts is false)",
                    annotations::DISABLE_FLOATING_IP
                ));
                self.err(format!("{}.nodePort", field()), p)
            })?
        };
        let probe = if per_port.no_probe_rule {
            None
        } else {
            self.probe(i, port, protocol, node_port, &per_port.probe)?
        };
        Ok(Some(PortIntent {
            port,
            protocol,
            backend_port,
            probe,
        }))
    }

    /// The probe of one port: per-port annotations, then the Service-wide ones, then defaults
    /// (HTTP `/healthz` on the health-check node port for `externalTrafficPolicy: Local`, TCP
    /// on the node port otherwise, none for UDP and SCTP).
    fn probe(
        &self,
        index: usize,
        port: u16,
        protocol: Protocol,
        node_port: Option<u16>,
        over: &annotations::ProbeSettings,
    ) -> Result<Option<Probe>, ServiceError> {
        let global = &self.ann.probe;
        let port_key = |s: &str| format!("{}port_{port}_health-probe_{s}", annotations::PREFIX);
        let explicit_port = match &over.port {
            None => None,
            Some(pp) => Some(self.resolve_probe_port(pp).ok_or_else(|| {
                let p =
                    Problem::InvalidValue(format!("{pp:?} names no service port with a node port"));
                self.err(port_key("port"), p)
            })?),
        };
        let (default_protocol, default_port, default_path) = match self.local_health_port {
            Some(hp) => (ProbeProtocol::Http, Some(hp), Some("/healthz")),
            None if protocol != Protocol::Tcp && over.protocol.is_none() => return Ok(None),
            None => (ProbeProtocol::Tcp, node_port, None),
        };
        let probe_protocol = over
            .protocol
            .or(if self.local_health_port.is_some() {
                None
            } else {
                global.protocol
            })
            .unwrap_or(default_protocol);
        let Some(probe_port) = explicit_port.or(default_port) else {
            let p = Problem::Unsupported(
                "no node port to probe (allocateLoadBalancerNodePorts is false): use externalTrafficPolicy Local or a health-probe_port annotation".into(),
            );
            return Err(self.err(format!("spec.ports[{index}].nodePort"), p));
        };
        let path = match probe_protocol {
            ProbeProtocol::Tcp => None,
            _ => Some(
                over.path
                    .clone()
                    .or_else(|| global.path.clone())
                    .unwrap_or_else(|| default_path.unwrap_or("/").to_string()),
            ),
        };
        let interval = over
            .interval
            .or(global.interval)
            .unwrap_or(DEFAULT_PROBE_INTERVAL);
        let threshold = over
            .threshold
            .or(global.threshold)
            .unwrap_or(DEFAULT_PROBE_THRESHOLD);
        if interval * threshold >= MAX_PROBE_WINDOW {
            let key = if over.interval.is_some() || over.threshold.is_some() {
                port_key("interval")
            } else {
                annotations::PROBE_INTERVAL.to_string()
            };
            let p = Problem::InvalidValue(format!(
                "interval ({interval}s) times number of probes ({threshold}) must be below {MAX_PROBE_WINDOW}s"
            ));
            return Err(self.err(key, p));
        }
        Ok(Some(Probe {
            name: String::new(),
            protocol: probe_protocol,
            port: probe_port,
            path,
            interval_seconds: interval,
            threshold,
        }))
    }

    /// A probe port annotation: a service port (number or name) means its node port; any other
    /// number is used as is.
    fn resolve_probe_port(&self, pp: &ProbePort) -> Option<u16> {
        let node_port = |sp: &ServicePort| sp.node_port.and_then(|n| u16::try_from(n).ok());
        match pp {
            ProbePort::Number(n) => match self.all.iter().find(|sp| sp.port == i32::from(*n)) {
                Some(sp) => node_port(sp),
                None => Some(*n),
            },
            ProbePort::Named(name) => self
                .all
                .iter()
                .find(|sp| sp.name.as_deref() == Some(name.as_str()))
                .and_then(node_port),
        }
    }
}
