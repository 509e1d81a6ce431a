//! ARM URL shapes: which resource, list or operation a path names.
//!
//! ARM matches its fixed segments (`subscriptions`, `resourceGroups`, provider and type names)
//! case-insensitively; we do too, and answer with the canonical casing.

use crate::compute::{COMPUTE, ComputePath};

/// The provider namespace this mock serves (Microsoft.Compute is served read-only).
pub const NETWORK: &str = "Microsoft.Network";

/// A top-level Microsoft.Network resource type and its child collections.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// The URL segment and type name, e.g. `loadBalancers`.
    pub segment: &'static str,
    /// Child collections, stored as `properties.<segment>` of the parent.
    pub children: &'static [ChildKind],
}

/// A child collection of a top-level resource.
#[derive(Debug, PartialEq, Eq)]
pub struct ChildKind {
    /// The URL segment and the parent's property name, e.g. `securityRules`.
    pub segment: &'static str,
    /// Whether ARM lets clients PUT and DELETE children on their own endpoint.
    pub writable: bool,
}

const fn child(segment: &'static str, writable: bool) -> ChildKind {
    ChildKind { segment, writable }
}

/// Every resource type the mock serves.
pub static KINDS: &[Kind] = &[
    Kind {
        segment: "virtualNetworks",
        children: &[child("subnets", true)],
    },
    Kind {
        segment: "publicIPAddresses",
        children: &[],
    },
    Kind {
        segment: "publicIPPrefixes",
        children: &[],
    },
    Kind {
        segment: "natGateways",
        children: &[],
    },
    Kind {
        segment: "privateLinkServices",
        children: &[child("ipConfigurations", false)],
    },
    Kind {
        segment: "loadBalancers",
        children: &[
            child("frontendIPConfigurations", false),
            child("backendAddressPools", true),
            child("loadBalancingRules", false),
            child("probes", false),
            child("outboundRules", false),
            child("inboundNatRules", true),
        ],
    },
    Kind {
        segment: "networkSecurityGroups",
        children: &[
            child("securityRules", true),
            child("defaultSecurityRules", false),
        ],
    },
    Kind {
        segment: "routeTables",
        children: &[child("routes", true)],
    },
];

/// Looks a top-level type up by URL segment, case-insensitively.
pub fn kind(segment: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.segment.eq_ignore_ascii_case(segment))
}

impl Kind {
    /// Looks a child collection up by URL segment, case-insensitively.
    pub fn child(&self, segment: &str) -> Option<&'static ChildKind> {
        self.children
            .iter()
            .find(|c| c.segment.eq_ignore_ascii_case(segment))
    }

    /// The ARM type, e.g. `Microsoft.Network/loadBalancers`.
    pub fn arm_type(&self) -> String {
        format!("{NETWORK}/{}", self.segment)
    }
}

/// What a request path names. Fields are the path's parts: `sub`scription, resource group `rg`,
/// the resource `name`, the `child` collection and `child_name`.
#[allow(missing_docs)]
#[derive(Debug, PartialEq, Eq)]
pub enum ArmPath {
    /// `/subscriptions/{sub}/resourcegroups`
    ResourceGroups { sub: String },
    /// `/subscriptions/{sub}/resourcegroups/{rg}`
    ResourceGroup { sub: String, rg: String },
    /// `/subscriptions/{sub}[/resourcegroups/{rg}]/resources`: every resource, of any type.
    Resources { sub: String, rg: Option<String> },
    /// A list of a type in a subscription (`rg` is `None`) or a resource group.
    List {
        sub: String,
        rg: Option<String>,
        kind: &'static Kind,
    },
    /// One top-level resource.
    Resource {
        sub: String,
        rg: String,
        kind: &'static Kind,
        name: String,
    },
    /// The children of one collection of a resource.
    ChildList {
        sub: String,
        rg: String,
        kind: &'static Kind,
        name: String,
        child: &'static ChildKind,
    },
    /// One child.
    Child {
        sub: String,
        rg: String,
        kind: &'static Kind,
        name: String,
        child: &'static ChildKind,
        child_name: String,
    },
    /// `/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/usages`: the
    /// subscription's network resource counts and quotas in a region.
    Usages { sub: String, location: String },
    /// A Microsoft.Compute list or resource (read-only).
    Compute(ComputePath),
    /// `/subscriptions/{sub}/providers[/{namespace}]`: resource provider reads.
    Providers {
        sub: String,
        namespace: Option<String>,
    },
    /// `/subscriptions/{sub}/operationresults/{id}`: a Microsoft.Resources long-running
    /// operation (a resource group's delete), polled as `operationResults/` are.
    GroupOperation { sub: String, id: String },
    /// A long-running operation's status (`result` false: `operations/`, true: `operationResults/`).
    Operation {
        sub: String,
        location: String,
        id: String,
        result: bool,
    },
}

/// Parses a request path; `None` when it is no ARM path we serve.
pub fn parse(path: &str) -> Option<ArmPath> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is = |i: usize, word: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(word));
    if !is(0, "subscriptions") || segs.len() < 3 {
        return None;
    }
    let sub = segs[1].to_string();
    let s = |i: usize| segs[i].to_string();
    if is(2, "resourcegroups") {
        if segs.len() == 3 {
            return Some(ArmPath::ResourceGroups { sub });
        }
        let rg = s(3);
        if segs.len() == 4 {
            return Some(ArmPath::ResourceGroup { sub, rg });
        }
        if segs.len() == 5 && is(4, "resources") {
            return Some(ArmPath::Resources { sub, rg: Some(rg) });
        }
        if is(4, "providers") && is(5, COMPUTE) {
            return ComputePath::parse(sub, Some(rg), &segs[6..]).map(ArmPath::Compute);
        }
        if !(is(4, "providers") && is(5, NETWORK)) {
            return None;
        }
        let kind = kind(segs.get(6)?)?;
        return match segs.len() {
            7 => Some(ArmPath::List {
                sub,
                rg: Some(rg),
                kind,
            }),
            8 => Some(ArmPath::Resource {
                sub,
                rg,
                kind,
                name: s(7),
            }),
            9 => Some(ArmPath::ChildList {
                sub,
                rg,
                kind,
                name: s(7),
                child: kind.child(segs[8])?,
            }),
            10 => Some(ArmPath::Child {
                sub,
                rg,
                kind,
                name: s(7),
                child: kind.child(segs[8])?,
                child_name: s(9),
            }),
            _ => None,
        };
    }
    if is(2, "resources") && segs.len() == 3 {
        return Some(ArmPath::Resources { sub, rg: None });
    }
    if is(2, "providers") && segs.len() <= 4 {
        return Some(ArmPath::Providers {
            sub,
            namespace: segs.get(3).map(|s| s.to_string()),
        });
    }
    if is(2, "providers") && is(3, COMPUTE) {
        return ComputePath::parse(sub, None, &segs[4..]).map(ArmPath::Compute);
    }
    if is(2, "operationresults") && segs.len() == 4 {
        return Some(ArmPath::GroupOperation { sub, id: s(3) });
    }
    if !(is(2, "providers") && is(3, NETWORK)) {
        return None;
    }
    if is(4, "locations") && is(6, "usages") && segs.len() == 7 {
        return Some(ArmPath::Usages {
            sub,
            location: s(5),
        });
    }
    if is(4, "locations") && segs.len() == 8 {
        let result = is(6, "operationResults");
        if !result && !is(6, "operations") {
            return None;
        }
        return Some(ArmPath::Operation {
            sub,
            location: s(5),
            id: s(7),
            result,
        });
    }
    match segs.len() {
        5 => Some(ArmPath::List {
            sub,
            rg: None,
            kind: kind(segs[4])?,
        }),
        _ => None,
    }
}

/// The canonical id of a top-level resource.
pub fn resource_id(sub: &str, rg: &str, kind: &Kind, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/{NETWORK}/{}/{name}",
        kind.segment
    )
}

/// The canonical id of a resource group.
pub fn resource_group_id(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// The key a resource is stored under: ids compare case-insensitively.
pub fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// Splits a child id `<parent id>/<collection>/<name>` into the parent id, collection and name.
pub fn split_child_id(id: &str) -> Option<(&str, &str, &str)> {
    let (rest, name) = id.rsplit_once('/')?;
    let (parent, collection) = rest.rsplit_once('/')?;
    Some((parent, collection, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape_case_insensitively() {
        assert_eq!(
            parse("/subscriptions/s/resourcegroups"),
            Some(ArmPath::ResourceGroups { sub: "s".into() })
        );
        assert_eq!(
            parse("/subscriptions/s/resourceGroups/rg"),
            Some(ArmPath::ResourceGroup {
                sub: "s".into(),
                rg: "rg".into()
            })
        );
        let lb = kind("loadbalancers").unwrap();
        assert_eq!(lb.segment, "loadBalancers");
        assert_eq!(
            parse("/subscriptions/s/providers/microsoft.network/LOADBALANCERS"),
            Some(ArmPath::List {
                sub: "s".into(),
                rg: None,
                kind: lb
            })
        );
        assert_eq!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/kubernetes/probes/p1"
            ),
            Some(ArmPath::Child {
                sub: "s".into(),
                rg: "rg".into(),
                kind: lb,
                name: "kubernetes".into(),
                child: lb.child("probes").unwrap(),
                child_name: "p1".into()
            })
        );
        assert_eq!(
            parse(
                "/subscriptions/s/providers/Microsoft.Network/locations/westeurope/operationResults/abc"
            ),
            Some(ArmPath::Operation {
                sub: "s".into(),
                location: "westeurope".into(),
                id: "abc".into(),
                result: true
            })
        );
        assert_eq!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/VIRTUALMACHINES/3"
            ),
            Some(ArmPath::Compute(ComputePath {
                sub: "s".into(),
                rg: Some("rg".into()),
                kind: "virtualMachineScaleSets",
                name: Some("ss".into()),
                instances: true,
                instance: Some("3".into()),
            }))
        );
        assert_eq!(
            parse("/subscriptions/s/providers/Microsoft.Compute/virtualMachines"),
            Some(ArmPath::Compute(ComputePath {
                sub: "s".into(),
                rg: None,
                kind: "virtualMachines",
                name: None,
                instances: false,
                instance: None,
            }))
        );
        for unserved in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/x",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x/extensions",
            "/subscriptions/s/providers/Microsoft.Compute/virtualMachines/x",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x",
        ] {
            assert_eq!(parse(unserved), None, "{unserved}");
        }
        assert_eq!(
            parse("/subscriptions/s/providers/microsoft.network"),
            Some(ArmPath::Providers {
                sub: "s".into(),
                namespace: Some("microsoft.network".into())
            })
        );
        assert_eq!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/x/nope"
            ),
            None
        );
        assert_eq!(
            parse("/subscriptions/s/operationresults/eyJqb2JJZCI6IjEifQ"),
            Some(ArmPath::GroupOperation {
                sub: "s".into(),
                id: "eyJqb2JJZCI6IjEifQ".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/providers/Microsoft.Network/locations/westeurope/usages"),
            Some(ArmPath::Usages {
                sub: "s".into(),
                location: "westeurope".into()
            })
        );
        assert_eq!(parse("/other"), None);
    }

    #[test]
    fn child_ids_split() {
        assert_eq!(
            split_child_id("/a/b/securityRules/r1"),
            Some(("/a/b", "securityRules", "r1"))
        );
    }
}
