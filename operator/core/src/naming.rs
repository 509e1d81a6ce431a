//! Deterministic Azure names and the ownership proof they carry.
//!
//! Every child aksnet creates (frontend, rule, probe, pool, NSG rule, route) is named
//! `aksnet-<cluster hash>-...`, and per-service children `aksnet-<cluster hash>-<service uid>-...`
//! (the Azure cloud provider's service-UID scheme, scoped to the cluster). Top-level resources
//! (load balancers and public IPs aksnet creates) carry [`TAG_OWNER`] with the same prefix.
//! Nothing without this proof is ever changed or deleted. Names keep to Azure's rules: at most 80
//! characters of `[A-Za-z0-9._-]`, starting with a letter or digit, ending with a letter, digit
//! or `_`.

use sha2::{Digest, Sha256};

use crate::model::{Family, NoCase, Protocol, Tags, name_key, tag};

/// Tag naming the cluster (informational).
pub const TAG_CLUSTER: &str = "aksnet.io-cluster";
/// Tag proving that aksnet created a resource for this cluster (value: the cluster prefix).
pub const TAG_OWNER: &str = "aksnet.io-owner";
/// Tag naming the Service (`namespace/name`) a public IP was created for.
pub const TAG_SERVICE: &str = "aksnet.io-service";
/// Tag recording an AksNetwork static IP's deletion policy (`Retain` or `Delete`).
pub const TAG_DELETION_POLICY: &str = "aksnet.io-deletion-policy";
/// Tag keys start with this; users may not set them.
pub const RESERVED_TAG_PREFIX: &str = "aksnet.io";

/// Length of a Service prefix: `aksnet-` + 8 + `-` + 32.
pub const SERVICE_PREFIX_LEN: usize = 48;

/// Azure's maximum length of a resource or child name.
pub const MAX_NAME: usize = 80;

/// First `n` hex digits of the SHA-256 of `input`.
pub fn short_hash(input: &str, n: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(input.as_bytes());
    digest
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .take(n)
        .map(char::from)
        .collect()
}

/// Replace characters Azure refuses, and fit the name into [`MAX_NAME`] characters.
///
/// A name that is too long keeps its start (the ownership prefix) and ends with a hash of the
/// whole name, so distinct long names stay distinct.
pub fn fit(name: &str) -> String {
    fit_owned(name.to_string())
}

/// Whether Azure takes the byte in a name: an ASCII letter or digit, `.`, `_` or `-` (written
/// without branches, so a check of a whole name is vectorised).
fn name_byte(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | matches!(b, b'.' | b'_' | b'-')
}

/// [`fit`] on a name of one's own, changed in place (the plan names every child this way, so
/// the common name, already fit, costs no copy).
pub fn fit_owned(name: String) -> String {
    let allowed = name_byte;
    // The common name, already fit, in one pass (no early exit, so it is vectorised).
    if name.len() <= MAX_NAME
        && name.bytes().fold(true, |fit, b| fit & allowed(b))
        && !name.ends_with(['.', '-'])
    {
        return name;
    }
    // Each character becomes one byte: a long name is one of many characters, hashed as given.
    let chars = if name.is_ascii() {
        name.len()
    } else {
        name.chars().count()
    };
    let hash = (chars > MAX_NAME).then(|| short_hash(&name, 8));
    let mut clean = if name.is_ascii() {
        let mut bytes = name.into_bytes();
        for b in bytes.iter_mut().filter(|b| !allowed(**b)) {
            *b = b'-';
        }
        // Only ASCII bytes were written over ASCII bytes.
        String::from_utf8(bytes).unwrap_or_default()
    } else {
        name.chars()
            .map(|c| {
                if c.is_ascii() && allowed(c as u8) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    if let Some(hash) = hash {
        clean.truncate(MAX_NAME - hash.len() - 1);
        clean.push('-');
        clean.push_str(&hash);
    }
    if clean.ends_with(['.', '-']) {
        clean.pop();
        clean.push('_');
    }
    clean
}

/// The naming scheme and ownership proof of one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    prefix: String,
    prefix_key: String,
    cluster_name: String,
    resource_group_key: String,
}

impl Ownership {
    /// The scheme for a cluster, identified by subscription, node resource group and name.
    pub fn new(subscription: &str, resource_group: &str, cluster_name: &str) -> Self {
        let identity = format!(
            "{}/{}/{}",
            name_key(subscription),
            name_key(resource_group),
            name_key(cluster_name)
        );
        let prefix = format!("aksnet-{}", short_hash(&identity, 8));
        Self {
            prefix_key: name_key(&prefix),
            prefix,
            cluster_name: cluster_name.to_string(),
            resource_group_key: name_key(resource_group),
        }
    }

    /// Whether `resource_group` is the cluster's own (compared as Azure does).
    pub fn is_cluster_group(&self, resource_group: &str) -> bool {
        NoCase(resource_group) == NoCase(&self.resource_group_key)
    }

    /// `aksnet-<hash>`: the start of every name aksnet gives a child.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether a child name carries this cluster's prefix.
    pub fn owns_child(&self, name: &str) -> bool {
        let prefix = self.prefix_key.as_str();
        name.as_bytes().get(prefix.len()) == Some(&b'-')
            && name
                .get(..prefix.len())
                .is_some_and(|start| NoCase(start) == NoCase(prefix))
    }

    /// Whether a top-level resource's tags prove this cluster created it (tag keys compare
    /// case-insensitively, as Azure's do).
    pub fn owns_resource(&self, tags: &Tags) -> bool {
        tag(tags, TAG_OWNER).is_some_and(|v| NoCase(v) == NoCase(&self.prefix_key))
    }

    /// The aksnet instance (its prefix) whose ownership tag a resource carries, if any: this
    /// cluster's or another's.
    pub fn owner_tag(tags: &Tags) -> Option<&str> {
        tag(tags, TAG_OWNER)
    }

    /// Name of the `n`-th managed outbound public IP (from 1) and its frontend.
    pub fn outbound_ip(&self, n: u32) -> String {
        self.child(&format!("outbound-{n}"))
    }

    /// Name of the public load balancer's outbound rule.
    pub fn outbound_rule(&self) -> String {
        self.child("outbound")
    }

    /// Name of the managed NAT gateway (`outboundType: managedNATGateway`).
    pub fn nat_gateway(&self) -> String {
        self.child("natgw")
    }

    /// Name of the `n`-th public IP of the managed NAT gateway (from 1).
    pub fn nat_gateway_ip(&self, n: u32) -> String {
        self.child(&format!("natgw-{n}"))
    }

    /// Whether a public IP name is one of the cluster's outbound IPs (the load balancer's or
    /// the managed NAT gateway's).
    pub fn is_outbound_ip(&self, name: &str) -> bool {
        let key = name_key(name);
        self.owns_child(&key)
            && ["-outbound-", "-natgw-"].iter().any(|kind| {
                key[self.prefix_key.len()..]
                    .strip_prefix(kind)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    }

    /// Ownership tags for a resource aksnet creates.
    pub fn tags(&self) -> Tags {
        let mut tags = Tags::new();
        self.add_tags(&mut tags);
        tags
    }

    /// Add the ownership tags to a resource's own ones.
    pub fn add_tags(&self, tags: &mut Tags) {
        tags.insert(TAG_CLUSTER.to_string(), self.cluster_name.clone());
        tags.insert(TAG_OWNER.to_string(), self.prefix.clone());
    }

    /// A cluster-level child name: `<prefix>-<suffix>`.
    pub fn child(&self, suffix: &str) -> String {
        fit_owned([self.prefix.as_str(), "-", suffix].concat())
    }

    /// The prefix of a Service's children: `<prefix>-<uid without dashes>` (a UID that is not
    /// 32 hex digits is hashed to 32), always [`SERVICE_PREFIX_LEN`] characters, in lower case.
    pub fn service_prefix(&self, uid: &str) -> String {
        let mut out = String::with_capacity(SERVICE_PREFIX_LEN);
        out.push_str(&self.prefix);
        out.push('-');
        // The hex digits, lower-cased, while there are at most 32 and nothing else but `-`.
        let mut hex = [0u8; 32];
        let mut digits = 0;
        for b in uid.bytes().filter(|b| *b != b'-') {
            if digits == hex.len() || !b.is_ascii_hexdigit() {
                digits = usize::MAX;
                break;
            }
            hex[digits] = b.to_ascii_lowercase();
            digits += 1;
        }
        match std::str::from_utf8(&hex) {
            Ok(hex) if digits == hex.len() => out.push_str(hex),
            _ => out.push_str(&short_hash(uid, 32)),
        }
        out
    }

    /// The (lower-case) Service prefix a child name starts with, if it is one of ours and long
    /// enough to carry one.
    pub fn service_prefix_of<'n>(&self, name_key: &'n str) -> Option<&'n str> {
        name_key
            .get(..SERVICE_PREFIX_LEN)
            .filter(|_| self.owns_child(name_key))
    }

    /// Whether two child names carry the same Service prefix of this cluster (any case), or
    /// neither carries one: without allocating, for scans over every child.
    pub fn same_service(&self, a: &str, b: &str) -> bool {
        fn prefix<'n>(o: &Ownership, n: &'n str) -> Option<&'n str> {
            n.get(..SERVICE_PREFIX_LEN).filter(|_| o.owns_child(n))
        }
        match (prefix(self, a), prefix(self, b)) {
            (Some(x), Some(y)) => NoCase(x) == NoCase(y),
            (x, y) => x.is_none() && y.is_none(),
        }
    }

    /// Name of a load-balancing rule (and its probe): `<service prefix>-<PROTO>-<port>[-IPv6]`.
    pub fn rule(
        &self,
        service_prefix: &str,
        protocol: Protocol,
        port: u16,
        family: Family,
    ) -> String {
        let mut digits = [0u8; 5];
        fit_owned(
            [
                service_prefix,
                "-",
                protocol.tag(),
                "-",
                decimal(port, &mut digits),
                family_suffix(family),
            ]
            .concat(),
        )
    }

    /// Name of a service's own frontend (and managed public IP): `<service prefix>[-IPv6]`.
    pub fn service_frontend(&self, service_prefix: &str, family: Family) -> String {
        fit_owned([service_prefix, family_suffix(family)].concat())
    }

    /// Name of the frontend shared by every Service that uses one named public IP.
    pub fn public_ip_frontend(&self, public_ip_name: &str) -> String {
        self.child(&["pip-", public_ip_name].concat())
    }

    /// Name of the internal frontend shared by every Service that asks for one private address.
    pub fn private_ip_frontend(&self, ip: &std::net::IpAddr) -> String {
        self.child(&format!("ip-{}", address_token(&ip.to_string())))
    }

    /// Name of the backend pool of one family.
    pub fn backend_pool(&self, family: Family) -> String {
        self.child(&format!("nodes{}", family_suffix(family)))
    }

    /// Name of the kubenet route for a pod CIDR.
    pub fn pod_route(&self, cidr: &str) -> String {
        self.child(&format!("pod-{}", address_token(cidr)))
    }

    /// Azure name of a route or rule declared in the AksNetwork spec.
    pub fn spec_child(&self, name: &str) -> String {
        self.child(name)
    }

    /// Name of a service NSG rule: `<service prefix>-<PROTO>-<IPv4|IPv6>`, and
    /// `…-<service tag>` for the rule admitting one service tag.
    pub fn service_security_rule(
        &self,
        service_prefix: &str,
        protocol: &str,
        family: Family,
        service_tag: Option<&str>,
    ) -> String {
        let tag = service_tag.map(|t| format!("-{t}")).unwrap_or_default();
        fit_owned(format!(
            "{service_prefix}-{}-{}{tag}",
            protocol.to_ascii_uppercase().replace('*', "ALL"),
            family.azure_name()
        ))
    }

    /// Name of a Service's deny rule (`azure-deny-all-except-load-balancer-source-ranges`):
    /// `<service prefix>-deny-<PROTO>-<IPv4|IPv6>`, apart from every allow rule's name.
    pub fn service_deny_rule(
        &self,
        service_prefix: &str,
        protocol: &str,
        family: Family,
    ) -> String {
        self.service_security_rule(&format!("{service_prefix}-deny"), protocol, family, None)
    }

    /// Name of an NSG rule shared by Services with `azure-shared-securityrule`.
    pub fn shared_security_rule(&self, key: &str) -> String {
        self.child(&format!("shared-{}", short_hash(key, 16)))
    }
}

/// `n` in decimal, written into `buf` (names are built on the plan's hot path, where
/// `format!` costs more than the rest of the name).
fn decimal(mut n: u16, buf: &mut [u8; 5]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// `-IPv6` for IPv6 objects, nothing for IPv4.
fn family_suffix(family: Family) -> &'static str {
    match family {
        Family::V4 => "",
        Family::V6 => "-IPv6",
    }
}

/// An address or CIDR spelled with name-safe characters (`10.0.0.0/24` -> `10.0.0.0_24`).
fn address_token(text: &str) -> String {
    text.replace('/', "_").replace(':', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_azure_name(name: &str) -> bool {
        aksnet_crds::validate::is_azure_name(name)
    }

    #[test]
    fn name_bytes_are_letters_digits_dots_underscores_and_dashes() {
        for b in 0..=u8::MAX {
            let want = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
            assert_eq!(name_byte(b), want, "{b}");
        }
    }

    #[test]
    fn decimal_writes_every_port_as_format_does() {
        let mut buf = [0u8; 5];
        for n in 0..=u16::MAX {
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn prefix_depends_on_cluster_identity_only() {
        let a = Ownership::new("SUB", "rg", "kubernetes");
        let b = Ownership::new("sub", "RG", "kubernetes");
        let c = Ownership::new("sub", "rg2", "kubernetes");
        assert_eq!(a.prefix(), b.prefix());
        assert_ne!(a.prefix(), c.prefix());
        assert!(a.prefix().starts_with("aksnet-") && a.prefix().len() == 15);
    }

    #[test]
    fn ownership_needs_the_prefix_and_a_dash() {
        let o = Ownership::new("s", "rg", "c");
        let p = o.prefix().to_string();
        assert!(o.owns_child(&format!("{p}-x")));
        assert!(o.owns_child(&format!("{}-x", p.to_uppercase())));
        assert!(!o.owns_child(&p));
        assert!(!o.owns_child(&format!("{p}x")));
        assert!(!o.owns_child("k8s-azure-lb_allow_IPv4_1"));
        let mut tags = o.tags();
        assert!(o.owns_resource(&tags));
        tags.insert(TAG_OWNER.into(), "aksnet-00000000".into());
        assert!(!o.owns_resource(&tags));
    }

    #[test]
    fn long_names_are_fitted_and_stay_distinct() {
        let o = Ownership::new("s", "rg", "c");
        let a = o.child(&"x".repeat(100));
        let b = o.child(&format!("{}y", "x".repeat(99)));
        assert_eq!(a.len(), MAX_NAME);
        assert_ne!(a, b);
        assert!(o.owns_child(&a));
        assert!(valid_azure_name(&a));
    }

    #[test]
    fn fitting_in_place_keeps_names_as_they_were() {
        // Replaced characters, non-ASCII ones included, and a long name's hash of the name
        // as given (so names aksnet wrote before stay theirs).
        assert_eq!(fit("a b/é.c-"), "a-b--.c_");
        let long = format!("é{}", "x".repeat(90));
        let fitted = fit(&long);
        assert_eq!(fitted.len(), MAX_NAME);
        assert!(fitted.ends_with(&short_hash(&long, 8)), "{fitted}");
        assert!(fitted.starts_with("-xxx"));
    }

    #[test]
    fn children_of_one_service_are_told_apart_from_others_without_allocating() {
        let o = Ownership::new("s", "rg", "c");
        let a = o.service_prefix("0d5c9a4e-8f7b-4e2a-9c1d-2b3a4c5d6e7f");
        let b = o.service_prefix("1d5c9a4e-8f7b-4e2a-9c1d-2b3a4c5d6e7f");
        let rule = o.rule(&a, Protocol::Tcp, 80, Family::V4);
        assert!(o.same_service(&rule, &a.to_ascii_uppercase()));
        assert!(!o.same_service(&rule, &b));
        assert!(!o.same_service(&rule, "kubernetes-frontend"));
        assert!(o.same_service("theirs", "also-theirs"));
    }

    #[test]
    fn a_service_prefix_is_its_uid_in_lower_case_or_a_hash_of_it() {
        let o = Ownership::new("s", "rg", "c");
        let uid = "0D5C9A4E-8f7b-4e2a-9c1d-2b3a4c5d6e7f";
        let compact = "0d5c9a4e8f7b4e2a9c1d2b3a4c5d6e7f";
        assert_eq!(o.service_prefix(uid), format!("{}-{compact}", o.prefix()));
        assert_eq!(o.service_prefix(compact), o.service_prefix(uid));
        // Not 32 hex digits: hashed, still 32 lower-case hex digits.
        for odd in [
            &compact[1..],
            &format!("{compact}0"),
            "0d5c9a4e-8f7b-4e2a-9c1d-2b3a4c5d6e7g",
            "é",
        ] {
            let prefix = o.service_prefix(odd);
            assert_eq!(
                prefix,
                format!("{}-{}", o.prefix(), short_hash(odd, 32)),
                "{odd}"
            );
            assert_eq!(prefix.len(), SERVICE_PREFIX_LEN);
        }
        assert_eq!(
            short_hash("abc", 12),
            "ba7816bf8f01",
            "the first hex digits of SHA-256"
        );
    }

    #[test]
    fn names_are_valid_azure_names() {
        let o = Ownership::new("s", "rg", "c");
        let sp = o.service_prefix("0d5c9a4e-8f7b-4e2a-9c1d-2b3a4c5d6e7f");
        assert_eq!(sp.len(), 15 + 1 + 32);
        for name in [
            o.rule(&sp, Protocol::Tcp, 65535, Family::V6),
            o.service_frontend(&sp, Family::V4),
            o.public_ip_frontend("my.pip-"),
            o.private_ip_frontend(&"fd00::1".parse().unwrap()),
            o.backend_pool(Family::V6),
            o.pod_route("fd00:10:244:1::/64"),
            o.pod_route("10.244.1.0/24"),
            o.spec_child("to firewall!"),
            o.service_security_rule(&sp, "*", Family::V4, None),
            o.service_security_rule(&sp, "Tcp", Family::V6, Some("AzureFrontDoor.Backend")),
            o.shared_security_rule("Tcp|80|Internet"),
        ] {
            assert!(valid_azure_name(&name), "{name}");
            assert!(o.owns_child(&name), "{name}");
        }
        assert_eq!(
            o.pod_route("10.244.1.0/24"),
            format!("{}-pod-10.244.1.0_24", o.prefix())
        );
    }
}
