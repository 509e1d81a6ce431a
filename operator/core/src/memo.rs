//! The kept plan: a pass whose inputs are the last pass's reuses that pass's plan and
//! operations instead of planning again.
//!
//! At steady state nothing the plan reads changes between passes (a drift check, an event
//! about something the plan does not read), yet a full plan of 10,000 Services costs tens of
//! milliseconds, bound by memory. [`Memo`] tells an unchanged pass at a fraction of that:
//! - each Service and Node by a hash of its content, hashed again only when its `uid` or
//!   `resourceVersion` moved (the API server changes `resourceVersion` with every write, so
//!   the same pair is the same object; an object without them is hashed every pass);
//! - what Azure holds by a hash of all of it (ETags alone would not do: a public IP's user is
//!   worked out from the load balancers, not from its own ETag);
//! - the spec, the class, the limits, the holds and the namespaces' labels compared whole.
//!
//! Any difference plans again, in full: the kept plan is only ever one that [`plan`] made from
//! equal inputs. The hashes are keyed SipHash (std's `RandomState`) with a random key per
//! memo: Service authors are untrusted, and without the key no Service can be written to
//! collide with what it replaces (a faster hash whose secret can be learnt from its outputs
//! would not promise that). By chance, two different inputs share a hash once in 2^64.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;

use aksnet_crds::AksNetworkSpec;
use foldhash::HashMap;

use k8s_openapi::Metadata;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::diff::{Op, diff};
use crate::plan::{Desired, Holds, Limits, PlanInput, plan};

/// One pass's plan and the operations that reach it from what Azure held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The plan.
    pub desired: Desired,
    /// The diff of the plan against the observed state it was made from.
    pub ops: Vec<Op>,
}

impl Planned {
    /// Plan and diff `input` afresh.
    pub fn of(input: &PlanInput<'_>) -> Self {
        let desired = plan(input);
        let ops = diff(&desired, input.observed);
        Self { desired, ops }
    }
}

/// Where a pass's answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The kept plan: the inputs were the last pass's.
    Kept,
    /// Planned and diffed afresh.
    Planned,
}

impl Answer {
    /// `kept` or `planned` (a metric's label).
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Kept => "kept",
            Answer::Planned => "planned",
        }
    }
}

/// The last pass's inputs (by fingerprint) and its plan. See the module doc.
#[derive(Default)]
pub struct Memo {
    seed: RandomState,
    /// Per object `uid`: its `resourceVersion` and content hash when last seen.
    versions: HashMap<String, Version>,
    /// Passes so far: marks which objects the last pass saw.
    passes: u64,
    /// Entries of `versions` this pass saw.
    seen: usize,
    /// Serialised objects are hashed from here (kept to reuse its memory).
    buffer: Vec<u8>,
    last: Option<Kept>,
}

struct Version {
    resource_version: String,
    content: u64,
    seen: u64,
}

struct Kept {
    network: AksNetworkSpec,
    class: String,
    limits: Limits,
    holds: Holds,
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    fingerprints: Fingerprints,
    planned: Arc<Planned>,
}

/// What is hashed rather than compared: the Services, the Nodes and Azure.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprints {
    services: u64,
    nodes: u64,
    observed: u64,
}

impl Kept {
    fn matches(&self, input: &PlanInput<'_>, fingerprints: Fingerprints) -> bool {
        self.fingerprints == fingerprints
            && self.class == input.load_balancer_class
            && self.limits == input.limits
            && self.holds == *input.holds
            && self.network == *input.network
            && self.namespace_labels == *input.namespace_labels
    }
}

impl Memo {
    /// The plan of `input` and its operations: the last pass's when its inputs were equal,
    /// else planned and diffed afresh (and kept for the next pass).
    pub fn plan(&mut self, input: &PlanInput<'_>) -> Arc<Planned> {
        self.answer(input).0
    }

    /// [`Memo::plan`], and where the answer came from.
    pub fn answer(&mut self, input: &PlanInput<'_>) -> (Arc<Planned>, Answer) {
        let fingerprints = self.fingerprints(input);
        if let (Some(fingerprints), Some(kept)) = (fingerprints, &self.last)
            && kept.matches(input, fingerprints)
        {
            return (kept.planned.clone(), Answer::Kept);
        }
        // The kept plan goes before the next is made: never two in memory for the memo.
        self.last = None;
        let planned = Arc::new(Planned::of(input));
        self.last = fingerprints.map(|fingerprints| Kept {
            network: input.network.clone(),
            class: input.load_balancer_class.to_string(),
            limits: input.limits,
            holds: input.holds.clone(),
            namespace_labels: input.namespace_labels.clone(),
            fingerprints,
            planned: planned.clone(),
        });
        (planned, Answer::Planned)
    }

    /// `None` when an object could not be serialised (it is planned, never kept).
    fn fingerprints(&mut self, input: &PlanInput<'_>) -> Option<Fingerprints> {
        self.passes += 1;
        self.seen = 0;
        let services = self.objects(input.services)?;
        let nodes = self.objects(input.nodes)?;
        if self.versions.len() > self.seen {
            let pass = self.passes;
            self.versions.retain(|_, v| v.seen == pass);
        }
        Some(Fingerprints {
            services,
            nodes,
            observed: self.seed.hash_one(input.observed),
        })
    }

    /// One hash of a set of objects, whatever their order.
    fn objects<K>(&mut self, objects: &[K]) -> Option<u64>
    where
        K: Metadata<Ty = ObjectMeta> + Serialize + Clone,
    {
        let mut hashes = Vec::with_capacity(objects.len());
        for object in objects {
            hashes.push(self.content(object)?);
        }
        hashes.sort_unstable();
        Some(self.seed.hash_one(&hashes))
    }

    /// An object's content hash, hashed again only when its `uid` or `resourceVersion` moved.
    fn content<K>(&mut self, object: &K) -> Option<u64>
    where
        K: Metadata<Ty = ObjectMeta> + Serialize + Clone,
    {
        let meta = object.metadata();
        let (Some(uid), Some(version)) = (&meta.uid, &meta.resource_version) else {
            return self.hash_content(object);
        };
        let pass = self.passes;
        self.seen += 1;
        if let Some(v) = self.versions.get_mut(uid.as_str())
            && v.resource_version == *version
        {
            v.seen = pass;
            return Some(v.content);
        }
        let content = self.hash_content(object)?;
        self.versions.insert(
            uid.clone(),
            Version {
                resource_version: version.clone(),
                content,
                seen: pass,
            },
        );
        Some(content)
    }

    /// A hash of everything in an object but its `resourceVersion` and `managedFields`,
    /// which change when nothing the plan reads did (a Node's heartbeat, a field manager).
    fn hash_content<K>(&mut self, object: &K) -> Option<u64>
    where
        K: Metadata<Ty = ObjectMeta> + Serialize + Clone,
    {
        let mut object = object.clone();
        let meta = object.metadata_mut();
        meta.resource_version = None;
        meta.managed_fields = None;
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, &object).ok()?;
        let mut hasher = self.seed.build_hasher();
        hasher.write(&self.buffer);
        Some(hasher.finish())
    }
}
