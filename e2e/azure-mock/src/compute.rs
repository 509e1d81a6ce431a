//! A minimal Microsoft.Compute: virtual machines, scale sets and their VMs, and availability
//! sets, read-only (list and get), so that ARM clients which read compute before networking
//! (the Azure cloud provider lists VMs and scale sets even with IP-based backend pools) run
//! against the mock. Empty unless seeded through the admin API
//! (`PUT /_mock/resources/{id}` with a compute id).

use serde_json::{Value, json};

use crate::error::{ArmError, ArmResult};
use crate::ids;

/// The provider namespace.
pub const COMPUTE: &str = "Microsoft.Compute";

/// Stable Microsoft.Compute API versions the mock takes (azure-mgmt-compute 39 sends 2026-04-01).
pub const COMPUTE_VERSIONS: &[&str] = &[
    "2015-06-15",
    "2016-03-30",
    "2017-03-30",
    "2017-12-01",
    "2018-04-01",
    "2018-06-01",
    "2018-10-01",
    "2019-03-01",
    "2019-07-01",
    "2019-12-01",
    "2020-06-01",
    "2020-12-01",
    "2021-03-01",
    "2021-04-01",
    "2021-07-01",
    "2021-11-01",
    "2022-03-01",
    "2022-08-01",
    "2022-11-01",
    "2023-03-01",
    "2023-07-01",
    "2023-09-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-04-01",
    "2026-04-01",
];

/// The compute resource types served (URL segments); a scale set's VMs are under it.
pub const TYPES: &[&str] = &[
    "virtualMachines",
    "virtualMachineScaleSets",
    "availabilitySets",
];

/// A Microsoft.Compute path: a list (no `name`) or one resource; `instance` names a scale
/// set's VM (with `name` the scale set), `instances` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputePath {
    /// Subscription.
    pub sub: String,
    /// Resource group (`None`: the subscription's list).
    pub rg: Option<String>,
    /// The type's segment, canonical casing.
    pub kind: &'static str,
    /// The resource's name.
    pub name: Option<String>,
    /// Whether the path lists or names a scale set's VMs.
    pub instances: bool,
    /// A scale set VM's instance id.
    pub instance: Option<String>,
}

impl ComputePath {
    /// Parses the segments after `providers/Microsoft.Compute/`.
    pub fn parse(sub: String, rg: Option<String>, rest: &[&str]) -> Option<Self> {
        let first = rest.first()?;
        let kind = *TYPES.iter().find(|t| t.eq_ignore_ascii_case(first))?;
        let name = rest.get(1).map(|s| s.to_string());
        let scale_set = kind == "virtualMachineScaleSets";
        let instances = match rest.get(2) {
            None => false,
            Some(s) if scale_set && s.eq_ignore_ascii_case("virtualMachines") => true,
            Some(_) => return None,
        };
        if rest.len() > 4 || (rg.is_none() && rest.len() > 1) {
            return None;
        }
        Some(Self {
            sub,
            rg,
            kind,
            name,
            instances,
            instance: rest.get(3).map(|s| s.to_string()),
        })
    }

    /// The ARM type of what the path reads.
    pub fn arm_type(&self) -> String {
        if self.instances {
            format!("{COMPUTE}/{}/virtualMachines", self.kind)
        } else {
            format!("{COMPUTE}/{}", self.kind)
        }
    }

    /// The id prefix every resource listed here starts with (lower case): the subscription's
    /// for a subscription-wide list (the type tells the rest).
    fn scope(&self) -> String {
        let Some(rg) = &self.rg else {
            return ids::key(&format!("/subscriptions/{}/", self.sub));
        };
        let mut scope = format!(
            "/subscriptions/{}/resourceGroups/{rg}/providers/{COMPUTE}/{}",
            self.sub, self.kind
        );
        if let (true, Some(name)) = (self.instances, &self.name) {
            scope.push_str(&format!("/{name}/virtualMachines"));
        }
        ids::key(&format!("{scope}/"))
    }

    /// Whether the path names one resource rather than a list.
    pub fn is_get(&self) -> bool {
        if self.instances {
            self.instance.is_some()
        } else {
            self.name.is_some()
        }
    }
}

/// Whether an id is a Microsoft.Compute resource the mock serves (for seeding).
pub fn is_compute_id(id: &str) -> bool {
    ids::key(id).contains(&format!("/providers/{}/", ids::key(COMPUTE)))
}

/// The resources a list path shows, in id order.
pub fn list<'a>(
    path: &ComputePath,
    resources: impl Iterator<Item = (&'a String, &'a Value)>,
) -> Vec<Value> {
    let scope = path.scope();
    let arm_type = path.arm_type();
    resources
        .filter(|(key, r)| {
            key.starts_with(&scope)
                && r["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&arm_type))
        })
        .map(|(_, r)| r.clone())
        .collect()
}

/// The id a get path names.
pub fn id(path: &ComputePath) -> String {
    let rg = path.rg.as_deref().unwrap_or_default();
    let name = path.name.as_deref().unwrap_or_default();
    let mut id = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/{COMPUTE}/{}/{name}",
        path.sub, path.kind
    );
    if let Some(instance) = &path.instance {
        id.push_str(&format!("/virtualMachines/{instance}"));
    }
    id
}

/// 404 for a compute resource that is not there.
pub fn not_found(path: &ComputePath) -> ArmError {
    let name = match &path.instance {
        Some(i) => format!(
            "{}/virtualMachines/{i}",
            path.name.as_deref().unwrap_or_default()
        ),
        None => path.name.clone().unwrap_or_default(),
    };
    ArmError::not_found(
        &format!("{COMPUTE}/{}", path.kind),
        &name,
        path.rg.as_deref().unwrap_or_default(),
    )
}

/// A seeded compute resource as stored: `id`, `name` and `type` filled in from its id.
pub fn seeded(id: &str, mut body: Value) -> ArmResult<Value> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let Some(at) = segs
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return Err(ArmError::invalid_property("id", "is not a resource id"));
    };
    let rest = &segs[at + 2..];
    let sub = segs.get(1).map(|s| s.to_string()).unwrap_or_default();
    let rg = segs.get(3).map(|s| s.to_string());
    let path = ComputePath::parse(sub, rg, rest)
        .filter(ComputePath::is_get)
        .ok_or_else(|| {
            ArmError::invalid_property(
                "id",
                "names no virtual machine, scale set (VM) or availability set",
            )
        })?;
    let Some(obj) = body.as_object_mut() else {
        return Err(ArmError::invalid_property("body", "must be an object"));
    };
    let name = path
        .instance
        .clone()
        .or(path.name.clone())
        .unwrap_or_default();
    obj.insert("id".into(), json!(id));
    obj.insert("name".into(), json!(name));
    obj.insert("type".into(), json!(path.arm_type()));
    Ok(body)
}
