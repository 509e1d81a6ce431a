//! Properties of the kept plan (`aksnet_core::memo`): over generated clusters and sequences of
//! changes (Services added, edited, deleted; Nodes relabelled or only heartbeating; Azure
//! applying the plan or drifting; holds and the spec changing), the memo's answer always
//! equals a fresh plan and diff of the same inputs, and a pass with nothing changed (a
//! heartbeat included) reuses the last answer instead of planning again.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use aksnet_core::memo::{Memo, Planned};
use aksnet_core::model::Observed;
use aksnet_core::plan::{Holds, PlanInput};
use aksnet_core::simulate::apply;
use k8s_openapi::api::core::v1::{Node, Service};
use proptest::prelude::*;
use serde_json::json;
use support::worlds::*;
use support::*;

/// One change between two passes.
#[derive(Clone, Debug)]
enum Change {
    /// Nothing: the pass must reuse the last answer.
    Nothing,
    /// A Node's `resourceVersion` moves with nothing else (its status heartbeat, as the
    /// operator's cache keeps it): the pass must reuse the last answer too.
    Heartbeat(usize),
    /// Azure carries out the last answer's operations.
    Apply,
    /// Someone else changes Azure: the first load balancer loses its last rule, or the NSG
    /// gets a rule.
    Drift,
    /// A Service is replaced by another spec (a new `resourceVersion`).
    Edit(usize, Svc),
    /// A Service is deleted.
    Delete(usize),
    /// A Service is created.
    Create(Svc),
    /// A Node gains or loses the `extra` profile's label.
    Relabel(usize),
    /// The engine defers a Service.
    Defer(usize),
    /// `loadBalancer.maxCount` changes.
    MaxCount(u32),
    /// A namespace is labelled.
    Namespace,
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => Just(Change::Nothing),
        1 => (0usize..8).prop_map(Change::Heartbeat),
        3 => Just(Change::Apply),
        1 => Just(Change::Drift),
        2 => (0usize..12, svc_strategy()).prop_map(|(i, s)| Change::Edit(i, s)),
        1 => (0usize..12).prop_map(Change::Delete),
        1 => svc_strategy().prop_map(Change::Create),
        1 => (0usize..8).prop_map(Change::Relabel),
        1 => (0usize..12).prop_map(Change::Defer),
        1 => (1u32..4).prop_map(Change::MaxCount),
        1 => Just(Change::Namespace),
    ]
}

/// A generated cluster as the API server hands it out: every object with a `uid` and a
/// `resourceVersion`, except where `unversioned` says (tests and fakes build such objects;
/// the memo must still be right about them).
struct Cluster {
    world: World,
    services: Vec<Service>,
    nodes: Vec<Node>,
    observed: Observed,
    holds: Holds,
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether objects carry a `resourceVersion`.
    versioned: bool,
    /// The last `resourceVersion` handed out.
    version: u64,
    created: usize,
}

impl Cluster {
    fn new(world: World, unversioned: bool) -> Self {
        let mut cluster = Self {
            services: world.services.clone(),
            nodes: world.nodes.clone(),
            observed: world.observed.clone(),
            holds: Holds::default(),
            namespace_labels: BTreeMap::new(),
            versioned: !unversioned,
            created: world.services.len(),
            version: 0,
            world,
        };
        for i in 0..cluster.services.len() {
            cluster.bump_service(i);
        }
        for i in 0..cluster.nodes.len() {
            let uid = uid(cluster.nodes[i]
                .metadata
                .name
                .as_deref()
                .unwrap_or_default());
            cluster.nodes[i].metadata.uid = Some(uid);
            cluster.bump_node(i);
        }
        cluster
    }

    /// The API server's write: a new `resourceVersion`.
    fn next_version(&mut self) -> Option<String> {
        self.version += 1;
        self.versioned.then(|| self.version.to_string())
    }

    fn bump_service(&mut self, i: usize) {
        self.services[i].metadata.resource_version = self.next_version();
    }

    fn bump_node(&mut self, i: usize) {
        self.nodes[i].metadata.resource_version = self.next_version();
    }

    fn input(&self) -> PlanInput<'_> {
        PlanInput {
            network: &self.world.network,
            services: &self.services,
            nodes: &self.nodes,
            observed: &self.observed,
            load_balancer_class: CLASS,
            limits: self.world.limits,
            holds: &self.holds,
            namespace_labels: &self.namespace_labels,
        }
    }

    /// Make the change; whether the inputs stay what the plan reads (the last answer holds).
    fn change(&mut self, change: &Change, last: &Planned) -> bool {
        match change {
            Change::Nothing => return true,
            Change::Heartbeat(i) => {
                if let Some(i) = pick(*i, self.nodes.len()) {
                    self.bump_node(i);
                }
                return true;
            }
            Change::Apply => {
                // Azure may refuse part of it (a limit): what it took stays, as in Azure.
                let _ = apply(&mut self.observed, &last.ops);
            }
            Change::Drift => match self.observed.load_balancers.first_mut() {
                Some(lb) if !lb.rules.is_empty() => {
                    lb.rules.pop();
                }
                _ => {
                    if let Some(nsg) = self.observed.security_group.as_mut() {
                        nsg.rules.push(foreign_rule("drift", 4000));
                    }
                }
            },
            Change::Edit(i, svc) => {
                if let Some(i) = pick(*i, self.services.len()) {
                    let meta = self.services[i].metadata.clone();
                    let mut edited = build_service(i, svc);
                    edited.metadata = meta;
                    self.services[i] = edited;
                    self.bump_service(i);
                }
            }
            Change::Delete(i) => {
                if let Some(i) = pick(*i, self.services.len()) {
                    self.services.remove(i);
                }
            }
            Change::Create(svc) => {
                self.services.push(build_service(self.created, svc));
                self.created += 1;
                let last = self.services.len() - 1;
                self.bump_service(last);
            }
            Change::Relabel(i) => {
                if let Some(i) = pick(*i, self.nodes.len()) {
                    let labels = self.nodes[i]
                        .metadata
                        .labels
                        .get_or_insert_with(Default::default);
                    if labels.remove(EXTRA_POOL.0).is_none() {
                        labels.insert(EXTRA_POOL.0.into(), EXTRA_POOL.1.into());
                    }
                    self.bump_node(i);
                }
            }
            Change::Defer(i) => {
                if let Some(s) = pick(*i, self.services.len()).map(|i| &self.services[i]) {
                    let key = format!("default/{}", s.metadata.name.as_deref().unwrap_or_default());
                    self.holds.deferred.insert(key);
                }
            }
            Change::MaxCount(n) => {
                self.world.network = network_with_max_count(&self.world.network, *n);
            }
            Change::Namespace => {
                let labels = self.namespace_labels.entry("default".into()).or_default();
                labels.insert(format!("l{}", labels.len()), "x".into());
            }
        }
        false
    }
}

fn pick(i: usize, len: usize) -> Option<usize> {
    (len > 0).then(|| i % len)
}

fn network_with_max_count(
    network: &aksnet_crds::AksNetworkSpec,
    n: u32,
) -> aksnet_crds::AksNetworkSpec {
    let mut v = serde_json::to_value(network).expect("to json");
    v["loadBalancer"]["maxCount"] = json!(n);
    serde_json::from_value(v).expect("network")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_memo_answers_as_a_fresh_plan_and_reuses_an_unchanged_pass(
        world in world_strategy(),
        unversioned in prop::bool::weighted(0.2),
        changes in prop::collection::vec(change_strategy(), 1..16),
    ) {
        let mut cluster = Cluster::new(world, unversioned);
        let mut memo = Memo::default();
        let mut last = memo.plan(&cluster.input());
        prop_assert_eq!(&*last, &Planned::of(&cluster.input()));
        for change in &changes {
            let unchanged = cluster.change(change, &last);
            let now = memo.plan(&cluster.input());
            prop_assert_eq!(&*now, &Planned::of(&cluster.input()), "after {:?}", change);
            if unchanged {
                prop_assert!(Arc::ptr_eq(&now, &last), "{:?} planned again", change);
            }
            last = now;
        }
    }
}
