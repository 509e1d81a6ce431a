//! Who is to blame when Azure refuses a write: the Services it carries that its error names,
//! or (when the error names none of them) a half of them to hold back while the write is
//! narrowed down.
//!
//! A write *carries* the Services whose objects it creates, changes or removes
//! ([`crate::diff::carried`]); Services whose children did not change since the last write
//! Azure accepted are innocent by construction. ARM's messages name the resources they refuse
//! (a public IP, a frontend, a subnet, an address), so a carried Service is blamed when the
//! message names one of its objects: its name prefix (every child of its own), the public IPs
//! and frontends it uses, or its static private address.

use std::collections::BTreeSet;

use crate::model::name_key;
use crate::plan::{Desired, IngressSource, ServiceOutcome};

/// What to do about a refused write that carried Services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// These Services (`namespace/name`) are to blame: reject them, write the rest.
    Blame(BTreeSet<String>),
    /// None is named: hold these back for a pass and write the others (narrowing down).
    HoldBack(BTreeSet<String>),
    /// The write carries no Service: the network itself (spec routes, pools) is at fault.
    Network,
}

/// Judge a refusal whose ARM code and message are `text`, of a write carrying the Services
/// with these (lower-case) name prefixes.
pub fn judge(text: &str, carried: &BTreeSet<String>, desired: &Desired) -> Verdict {
    let keys: BTreeSet<&String> = carried
        .iter()
        .filter_map(|p| desired.service_prefixes.get(p))
        .collect();
    if keys.is_empty() {
        return Verdict::Network;
    }
    let text = name_key(text);
    let named: BTreeSet<String> = desired
        .service_prefixes
        .iter()
        .filter(|(prefix, key)| {
            keys.contains(key) && tokens(prefix, key, desired).iter().any(|t| names(&text, t))
        })
        .map(|(_, key)| key.clone())
        .collect();
    if !named.is_empty() {
        return Verdict::Blame(named);
    }
    if keys.len() == 1 {
        return Verdict::Blame(keys.into_iter().cloned().collect());
    }
    // The newer half waits: older Services (sorted first by key here) are more likely to have
    // been accepted before, and each refusal halves the suspects.
    let suspects: Vec<&String> = keys.into_iter().collect();
    let half = suspects.len() / 2;
    Verdict::HoldBack(suspects[half..].iter().map(|k| (*k).clone()).collect())
}

/// The (lower-case) strings that name one Service's objects in an ARM message.
fn tokens(prefix: &str, key: &str, desired: &Desired) -> Vec<String> {
    let mut out = vec![prefix.to_string()];
    if let Some(ServiceOutcome::Planned { ingress }) = desired.services.get(key) {
        for source in ingress {
            match source {
                IngressSource::PublicIp { name, .. } => out.push(name_key(name)),
                IngressSource::PrivateFrontend {
                    frontend,
                    static_ip,
                    ..
                } => {
                    out.push(name_key(frontend));
                    out.extend(static_ip.as_deref().map(name_key));
                }
            }
        }
    }
    out
}

/// Whether `text` names `token` as a whole word (not as part of a longer name or address).
fn names(text: &str, token: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    text.match_indices(token).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + token.len()..].chars().next();
        // A trailing '.' ends a sentence, not a name.
        let after_ok = match after {
            Some('.') => text[i + token.len() + 1..]
                .chars()
                .next()
                .is_none_or(|c| !part(c)),
            Some(c) => !part(c),
            None => true,
        };
        before.is_none_or(|c| !part(c)) && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::Ownership;
    use std::collections::BTreeMap;

    fn desired(services: &[(&str, &str, Option<IngressSource>)]) -> Desired {
        let mut d = Desired {
            ownership: Ownership::new("s", "rg", "c"),
            public_ips: Vec::new(),
            load_balancers: BTreeMap::new(),
            security_group: None,
            route_table: None,
            nat_gateway: None,
            subnet: None,
            private_link_services: Vec::new(),
            services: BTreeMap::new(),
            errors: Vec::new(),
            frozen: BTreeSet::new(),
            service_prefixes: BTreeMap::new(),
            pending: Vec::new(),
            rule_carriers: BTreeMap::new(),
            newly_placed: BTreeMap::new(),
        };
        for (key, prefix, ingress) in services {
            d.service_prefixes
                .insert(prefix.to_string(), key.to_string());
            d.services.insert(
                key.to_string(),
                ServiceOutcome::Planned {
                    ingress: ingress.iter().cloned().collect(),
                },
            );
        }
        d
    }

    #[test]
    fn the_service_an_error_names_is_blamed() {
        let d = desired(&[
            ("a/one", "aksnet-1-aaaa", None),
            (
                "b/two",
                "aksnet-1-bbbb",
                Some(IngressSource::PrivateFrontend {
                    load_balancer: "lb".into(),
                    frontend: "aksnet-1-ip-10-224-0-5".into(),
                    static_ip: Some("10.224.0.5".into()),
                }),
            ),
        ]);
        let carried: BTreeSet<String> = ["aksnet-1-aaaa".into(), "aksnet-1-bbbb".into()].into();
        let msg = "PrivateIPAddressInUse: IP configuration /x/frontendIPConfigurations/aksnet-1-ip-10-224-0-5 is using the private IP address 10.224.0.5 which is already allocated.";
        assert_eq!(
            judge(msg, &carried, &d),
            Verdict::Blame(["b/two".to_string()].into())
        );
        let by_prefix = "InvalidResourceReference: Resource /x/subnets/nope referenced by resource /x/frontendIPConfigurations/aksnet-1-aaaa was not found.";
        assert_eq!(
            judge(by_prefix, &carried, &d),
            Verdict::Blame(["a/one".to_string()].into())
        );
    }

    #[test]
    fn an_address_is_not_named_by_a_longer_one() {
        assert!(names("address 10.0.0.5.", "10.0.0.5"));
        assert!(!names("address 10.0.0.50", "10.0.0.5"));
        assert!(!names("aksnet-1-aaaa-tcp-80", "aksnet-1-aaaa-tcp-8"));
    }

    #[test]
    fn an_error_naming_no_one_holds_back_half() {
        let d = desired(&[
            ("a/1", "p1", None),
            ("a/2", "p2", None),
            ("a/3", "p3", None),
            ("a/4", "p4", None),
        ]);
        let all: BTreeSet<String> = ["p1", "p2", "p3", "p4"].map(String::from).into();
        assert_eq!(
            judge("InternalError: something", &all, &d),
            Verdict::HoldBack(["a/3".to_string(), "a/4".to_string()].into())
        );
        let one: BTreeSet<String> = ["p4".to_string()].into();
        assert_eq!(
            judge("InternalError: something", &one, &d),
            Verdict::Blame(["a/4".to_string()].into())
        );
        assert_eq!(
            judge("x", &BTreeSet::new(), &d),
            Verdict::Network,
            "a write carrying no Service is the network's"
        );
    }
}
