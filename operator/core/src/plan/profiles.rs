//! Load balancer profiles: the sets of load balancers a cluster has (`publicName`,
//! `internalName` and the AksNetwork's `loadBalancer.profiles`), the nodes in each one's backend
//! pools, the Services each admits, and the names of the load balancers a profile grows to.

use std::collections::BTreeMap;
use std::sync::Arc;

use aksnet_crds::{LoadBalancerSpec, Selector};
use k8s_openapi::api::core::v1::Node;

use super::intent::ServiceIntent;
use super::nodes;
use crate::model::{BackendAddress, Family, name_key};
use crate::problem::{Problem, ServiceError};

/// One profile, ready for placement.
pub(crate) struct Profile {
    /// Name of its first load balancer (and of the profile).
    pub name: String,
    /// Private frontends.
    pub internal: bool,
    /// How many load balancers it may have.
    pub max: u32,
    /// Whether new Services may be placed on it.
    pub placement: bool,
    /// Namespaces it admits by name (`None`: all).
    namespaces: Option<Vec<String>>,
    /// Namespaces it admits by label (`None`: all).
    namespace_labels: Option<Selector>,
    /// Services it admits by label (`None`: all).
    services: Option<Selector>,
    /// Its backend pool addresses per family.
    pub pools: BTreeMap<Family, Arc<[BackendAddress]>>,
}

impl Profile {
    /// Whether the profile admits this Service (its namespace's name and labels, its own
    /// labels); `namespaces` holds each namespace's labels.
    pub fn admits(
        &self,
        intent: &ServiceIntent,
        namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> bool {
        let namespace = super::namespace_of(&intent.key);
        let empty = BTreeMap::new();
        self.namespaces
            .as_ref()
            .is_none_or(|n| n.iter().any(|n| n == namespace))
            && self
                .namespace_labels
                .as_ref()
                .is_none_or(|s| s.matches(namespaces.get(namespace).unwrap_or(&empty)))
            && self
                .services
                .as_ref()
                .is_none_or(|s| s.matches(&intent.labels))
    }

    /// The name of its `n`th load balancer: the profile's name, then `<name>-2`, `<name>-3`, …
    pub fn instance(&self, n: u32) -> String {
        if n <= 1 {
            self.name.clone()
        } else {
            format!("{}-{n}", self.name)
        }
    }

    /// Which of its load balancers `name` is (1 for the first), if it is one of them.
    pub fn instance_of(&self, name: &str) -> Option<u32> {
        let key = name_key(name);
        let base = name_key(&self.name);
        if key == base {
            return Some(1);
        }
        let n: u32 = key.strip_prefix(&base)?.strip_prefix('-')?.parse().ok()?;
        (2..=self.max.max(20)).contains(&n).then_some(n)
    }
}

/// The profiles of a network: the public one (`publicName`, which holds the outbound rule),
/// the internal one (`internalName`), then the spec's, each with the nodes it selects.
pub(crate) fn profiles(spec: &LoadBalancerSpec, nodes: &[&Node], vnet_id: &str) -> Vec<Profile> {
    let pools = |selector: Option<&Selector>| -> BTreeMap<Family, Arc<[BackendAddress]>> {
        let chosen: Vec<&Node> = nodes
            .iter()
            .copied()
            .filter(|n| {
                selector.is_none_or(|s| {
                    s.matches(n.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()))
                })
            })
            .collect();
        [Family::V4, Family::V6]
            .into_iter()
            .map(|f| (f, nodes::pool_addresses(&chosen, f, vnet_id).into()))
            .collect()
    };
    let every = pools(None);
    let implicit = |name: &str, internal: bool| Profile {
        name: name.to_string(),
        internal,
        max: spec.max_count,
        placement: true,
        namespaces: None,
        namespace_labels: None,
        services: None,
        pools: every.clone(),
    };
    let mut out = vec![
        implicit(&spec.public_name, false),
        implicit(&spec.internal_name, true),
    ];
    out.extend(spec.profiles.iter().map(|p| {
        Profile {
            name: p.name.clone(),
            internal: p.internal,
            max: p.max_count,
            placement: p.allow_service_placement,
            namespaces: p
                .service_namespaces
                .as_ref()
                .map(|n| n.iter().map(|n| n.0.clone()).collect()),
            namespace_labels: p.service_namespace_selector.clone(),
            services: p.service_selector.clone(),
            pools: match &p.node_selector {
                Some(s) => pools(Some(s)),
                None => every.clone(),
            },
        }
    }));
    out
}

/// The profiles a Service may be placed on, by index: those of its kind that admit it, and
/// among them the ones its `azure-load-balancer-configurations` annotation names.
pub(crate) fn eligible(
    profiles: &[Profile],
    intent: &ServiceIntent,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<usize>, ServiceError> {
    let annotation = crate::annotations::LB_CONFIGURATIONS;
    let kind = if intent.internal {
        "internal"
    } else {
        "public"
    };
    if let Some(names) = &intent.configurations {
        for name in names {
            match profiles
                .iter()
                .find(|p| name_key(&p.name) == name_key(name))
            {
                None => {
                    let p = Problem::NotFound(format!(
                        "load balancer profile {name:?} (the AksNetwork's loadBalancer names: {})",
                        profiles
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    return Err(ServiceError::new(&intent.key, annotation, p));
                }
                Some(p) if p.internal != intent.internal => {
                    let p = Problem::Conflict(format!(
                        "load balancer profile {name:?} is {}, the Service is {kind}",
                        if p.internal { "internal" } else { "public" }
                    ));
                    return Err(ServiceError::new(&intent.key, annotation, p));
                }
                Some(_) => {}
            }
        }
    }
    let chosen: Vec<usize> = profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| p.internal == intent.internal && p.admits(intent, namespaces))
        .filter(|(_, p)| {
            intent
                .configurations
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| name_key(n) == name_key(&p.name)))
        })
        .map(|(i, _)| i)
        .collect();
    if chosen.is_empty() {
        let (field, why) = match &intent.configurations {
            Some(_) => (
                annotation,
                "none of the load balancer profiles it names admits the Service's namespace and labels",
            ),
            None => (
                "metadata.labels",
                "no load balancer profile of its kind admits the Service's namespace and labels",
            ),
        };
        let p = Problem::Conflict(format!("{why} ({kind})"));
        return Err(ServiceError::new(&intent.key, field, p));
    }
    Ok(chosen)
}
