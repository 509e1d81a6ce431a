//! The mock's state: resource groups and resources as ARM JSON, plus issued tokens. It is what
//! `--data-dir` persists and what `/_mock/state` dumps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{self, NETWORK};
use crate::json::same_id;

/// Stored resources, keyed by lowercase id (ARM ids are case-insensitive).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Data {
    /// Resource groups.
    pub resource_groups: BTreeMap<String, Value>,
    /// Top-level Microsoft.Network resources, children embedded in their parent's properties.
    pub resources: BTreeMap<String, Value>,
    /// Access tokens the token endpoint issued.
    pub tokens: BTreeSet<String>,
    /// The client id each token was issued to (the journal's `caller`).
    #[serde(default)]
    pub callers: BTreeMap<String, String>,
}

/// Failures of loading or saving state.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the state file failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The state file is not valid JSON of the right shape.
    #[error("state file {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

const STATE_FILE: &str = "state.json";

impl Data {
    /// Loads state from `dir/state.json`; empty when the file does not exist yet.
    pub fn load(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(STATE_FILE);
        let display = path.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
                path: display,
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(StoreError::Io {
                path: display,
                source,
            }),
        }
    }

    /// Writes state to `dir/state.json` atomically (write a temporary file, then rename).
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let bytes = serde_json::to_vec(self).map_err(|source| StoreError::Json {
            path: path.display().to_string(),
            source,
        })?;
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// A top-level resource by id.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.resources.get(&ids::key(id))
    }

    /// Whether the resource group exists.
    pub fn has_resource_group(&self, sub: &str, rg: &str) -> bool {
        self.resource_groups
            .contains_key(&ids::key(&ids::resource_group_id(sub, rg)))
    }

    /// Every resource of a type (`segment` like `loadBalancers`).
    pub fn of_type<'a>(&'a self, segment: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        let arm_type = format!("{NETWORK}/{segment}");
        self.resources.values().filter(move |r| {
            r["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(&arm_type))
        })
    }

    /// A child (`<parent id>/<collection>/<name>`) by id.
    pub fn child(&self, id: &str) -> Option<&Value> {
        let (parent, collection, name) = ids::split_child_id(id)?;
        find_child(self.get(parent)?, collection, name)
    }
}

/// The children of a collection of a stored resource.
pub fn children<'a>(resource: &'a Value, collection: &str) -> &'a [Value] {
    resource["properties"]
        .as_object()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(collection))
                .and_then(|(_, v)| v.as_array())
        })
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// One child of a collection by name (case-insensitive).
pub fn find_child<'a>(resource: &'a Value, collection: &str, name: &str) -> Option<&'a Value> {
    children(resource, collection).iter().find(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// Ids of every child (across `collections` of every resource of type `segment`) whose
/// `properties.<key>` references `target`.
pub fn referrers(
    data: &Data,
    segment: &str,
    collections: &[&str],
    key: &str,
    target: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for r in data.of_type(segment) {
        for collection in collections {
            for c in children(r, collection) {
                if c["properties"][key]["id"]
                    .as_str()
                    .is_some_and(|id| same_id(id, target))
                {
                    out.push(c["id"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    out
}
