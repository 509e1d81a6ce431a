//! The cloud provider's `azure-pls-*` annotations: a Private Link Service on an internal
//! Service's frontend.
//!
//! Lists are space-separated, as the cloud provider reads them. Where it lets a bad value
//! through (a visibility entry that is not a subscription, an IPv6 static address), aksnet
//! refuses it naming the annotation.

use std::net::Ipv4Addr;

use super::Parser;

/// `"true"`: a Private Link Service on the Service's (internal) frontend.
pub const CREATE: &str = "service.beta.kubernetes.io/azure-pls-create";
/// Its name (default `pls-<frontend name>`).
pub const NAME: &str = "service.beta.kubernetes.io/azure-pls-name";
/// Its resource group (default the cluster's).
pub const RESOURCE_GROUP: &str = "service.beta.kubernetes.io/azure-pls-resource-group";
/// Subnet of its IP configurations (default the internal frontend's subnet).
pub const SUBNET: &str = "service.beta.kubernetes.io/azure-pls-ip-configuration-subnet";
/// How many IP configurations (1-8, default 1).
pub const IP_COUNT: &str = "service.beta.kubernetes.io/azure-pls-ip-configuration-ip-address-count";
/// Static IPv4 addresses of IP configurations, space-separated; the first is the primary.
pub const IPS: &str = "service.beta.kubernetes.io/azure-pls-ip-configuration-ip-address";
/// FQDNs, space-separated.
pub const FQDNS: &str = "service.beta.kubernetes.io/azure-pls-fqdns";
/// `"true"`: TCP proxy protocol v2 towards the backends.
pub const PROXY_PROTOCOL: &str = "service.beta.kubernetes.io/azure-pls-proxy-protocol";
/// Subscriptions that may see it, space-separated, or `*`.
pub const VISIBILITY: &str = "service.beta.kubernetes.io/azure-pls-visibility";
/// Subscriptions whose private endpoints are approved at once, space-separated.
pub const AUTO_APPROVAL: &str = "service.beta.kubernetes.io/azure-pls-auto-approval";

/// Every `azure-pls-*` annotation but [`CREATE`]: what a Service that shares another's
/// Private Link Service may not set.
pub const SETTINGS: [&str; 9] = [
    NAME,
    RESOURCE_GROUP,
    SUBNET,
    IP_COUNT,
    IPS,
    FQDNS,
    PROXY_PROTOCOL,
    VISIBILITY,
    AUTO_APPROVAL,
];

/// Most IP configurations of one Private Link Service (Azure's limit).
pub const MAX_IP_CONFIGURATIONS: u32 = 8;

/// What a Service asks of its Private Link Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateLink {
    /// Its name, when given.
    pub name: Option<String>,
    /// Its resource group, when given.
    pub resource_group: Option<String>,
    /// Subnet of its IP configurations, when given.
    pub subnet: Option<String>,
    /// How many IP configurations.
    pub ip_count: u32,
    /// Static addresses, the primary first.
    pub static_ips: Vec<Ipv4Addr>,
    /// FQDNs, sorted.
    pub fqdns: Vec<String>,
    /// Proxy protocol on.
    pub proxy_protocol: bool,
    /// Subscriptions that may see it (`*`: every one), sorted.
    pub visibility: Vec<String>,
    /// Subscriptions approved at once, sorted.
    pub auto_approval: Vec<String>,
    /// The settings annotations the Service sets.
    pub set: Vec<&'static str>,
}

impl Default for PrivateLink {
    fn default() -> Self {
        Self {
            name: None,
            resource_group: None,
            subnet: None,
            ip_count: 1,
            static_ips: Vec::new(),
            fqdns: Vec::new(),
            proxy_protocol: false,
            visibility: Vec::new(),
            auto_approval: Vec::new(),
            set: Vec::new(),
        }
    }
}

/// The `azure-pls-*` annotations as they are read, before `azure-pls-create` decides.
#[derive(Default)]
pub(super) struct Reading {
    create: bool,
    settings: PrivateLink,
}

impl Reading {
    /// What the Service asks for: `None` without `azure-pls-create: "true"` (the settings
    /// alone create nothing, as with the cloud provider).
    pub fn finish(self, p: &mut Parser<'_>) -> Option<PrivateLink> {
        let s = self.settings;
        if self.create && s.static_ips.len() > s.ip_count as usize {
            p.bad(
                IP_COUNT,
                format!(
                    "{} IP configurations cannot hold the {} static addresses of {IPS}",
                    s.ip_count,
                    s.static_ips.len()
                ),
            );
        }
        self.create.then_some(s)
    }
}

impl Parser<'_> {
    /// One `azure-pls-*` annotation; `false` when `key` is not one.
    pub(super) fn private_link(&mut self, r: &mut Reading, key: &str, v: &str) -> bool {
        let s = &mut r.settings;
        match key {
            CREATE => r.create = self.boolean(key, v),
            NAME => s.name = self.azure_name(key, v),
            RESOURCE_GROUP => s.resource_group = self.resource_group(key, v),
            SUBNET => s.subnet = self.azure_name(key, v),
            IP_COUNT => s.ip_count = self.number(key, v, 1, MAX_IP_CONFIGURATIONS).unwrap_or(1),
            IPS => s.static_ips = self.ipv4s(key, v),
            FQDNS => s.fqdns = self.words(key, v, is_fqdn, "an FQDN"),
            PROXY_PROTOCOL => s.proxy_protocol = self.boolean(key, v),
            VISIBILITY => {
                s.visibility = self.words(
                    key,
                    v,
                    |w| w == "*" || aksnet_crds::validate::is_uuid(w),
                    "a subscription id or *",
                );
                if s.visibility.len() > 1 && s.visibility.iter().any(|w| w == "*") {
                    self.bad(key, "\"*\" admits every subscription and stands alone");
                }
            }
            AUTO_APPROVAL => {
                s.auto_approval =
                    self.words(key, v, aksnet_crds::validate::is_uuid, "a subscription id")
            }
            _ => return false,
        }
        if let Some(k) = SETTINGS.iter().find(|k| **k == key) {
            s.set.push(k);
        }
        true
    }

    /// Space-separated IPv4 addresses, in order, each once.
    fn ipv4s(&mut self, key: &str, v: &str) -> Vec<Ipv4Addr> {
        let mut out: Vec<Ipv4Addr> = Vec::new();
        for item in v.split_whitespace() {
            match item.parse::<Ipv4Addr>() {
                Ok(ip) if !out.contains(&ip) => out.push(ip),
                Ok(_) => self.bad(key, format!("{item} is given twice")),
                Err(_) => self.bad(
                    key,
                    format!(
                        "{item:?} is not an IPv4 address (Private Link Services take IPv4 only)"
                    ),
                ),
            }
        }
        out
    }

    /// Space-separated words that pass `ok`, sorted and without repeats.
    fn words(&mut self, key: &str, v: &str, ok: fn(&str) -> bool, what: &str) -> Vec<String> {
        let mut out = Vec::new();
        for word in v.split_whitespace() {
            if ok(word) {
                out.push(word.to_ascii_lowercase());
            } else {
                self.bad(key, format!("{word:?} is not {what}"));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A DNS name: labels of 1-63 letters, digits and `-`, 253 characters at most.
fn is_fqdn(v: &str) -> bool {
    v.len() <= 253
        && v.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::annotations::parse;

    const SUB_A: &str = "00000000-0000-0000-0000-00000000000a";
    const SUB_B: &str = "00000000-0000-0000-0000-00000000000B";

    fn read(pairs: &[(&str, &str)]) -> Result<Option<PrivateLink>, Vec<String>> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse("ns/svc", &map)
            .map(|a| a.private_link)
            .map_err(|errors| errors.iter().map(|e| e.field.clone()).collect())
    }

    #[test]
    fn every_setting_reads_as_the_cloud_provider_means_it() {
        let pls = read(&[
            (CREATE, "true"),
            (NAME, "my-pls"),
            (RESOURCE_GROUP, "pls-rg"),
            (SUBNET, "pls-subnet"),
            (IP_COUNT, "3"),
            (IPS, " 10.1.0.9  10.1.0.7 "),
            (FQDNS, "b.example.com a.example.com"),
            (PROXY_PROTOCOL, "True"),
            (VISIBILITY, &format!("{SUB_B} {SUB_A}")),
            (AUTO_APPROVAL, SUB_A),
        ])
        .expect("valid")
        .expect("asked for");
        assert_eq!(pls.name.as_deref(), Some("my-pls"));
        assert_eq!(pls.resource_group.as_deref(), Some("pls-rg"));
        assert_eq!(pls.subnet.as_deref(), Some("pls-subnet"));
        assert_eq!(pls.ip_count, 3);
        assert_eq!(
            pls.static_ips,
            [
                "10.1.0.9".parse::<Ipv4Addr>().unwrap(),
                "10.1.0.7".parse().unwrap()
            ],
            "in order: the first is the primary"
        );
        assert_eq!(pls.fqdns, ["a.example.com", "b.example.com"]);
        assert!(pls.proxy_protocol);
        assert_eq!(
            pls.visibility,
            [SUB_A.to_string(), SUB_B.to_ascii_lowercase()]
        );
        assert_eq!(pls.auto_approval, [SUB_A]);
        assert_eq!(pls.set.len(), 9);
        // Defaults.
        let plain = read(&[(CREATE, "true")]).unwrap().unwrap();
        assert_eq!(plain, PrivateLink::default());
        // Settings without create ask for nothing; create "false" neither.
        assert_eq!(read(&[(NAME, "x")]), Ok(None));
        assert_eq!(read(&[(CREATE, "false"), (IP_COUNT, "2")]), Ok(None));
    }

    #[test]
    fn bad_values_name_their_annotation() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[(CREATE, "yes")], CREATE),
            (&[(CREATE, "true"), (IP_COUNT, "9")], IP_COUNT),
            (&[(CREATE, "true"), (IP_COUNT, "0")], IP_COUNT),
            (&[(CREATE, "true"), (IPS, "10.0.0.4 10.0.0.5")], IP_COUNT),
            (&[(CREATE, "true"), (IPS, "fd00::4")], IPS),
            (&[(CREATE, "true"), (IPS, "10.0.0.4 10.0.0.4")], IPS),
            (
                &[(CREATE, "true"), (VISIBILITY, "my-subscription")],
                VISIBILITY,
            ),
            (
                &[(CREATE, "true"), (VISIBILITY, &format!("* {SUB_A}"))],
                VISIBILITY,
            ),
            (&[(CREATE, "true"), (FQDNS, "bad_name.example.com")], FQDNS),
        ];
        for (pairs, field) in cases {
            assert_eq!(read(pairs), Err(vec![field.to_string()]), "{pairs:?}");
        }
        assert_eq!(
            read(&[(CREATE, "true"), (AUTO_APPROVAL, "*")]),
            Err(vec![AUTO_APPROVAL.to_string()]),
            "auto-approval names subscriptions"
        );
    }
}
