//! The controller: kube-runtime reflectors for AksNetworks, Services and Nodes feed one work
//! loop for the configured AksNetwork. Changes that matter (not status heartbeats) trigger a
//! reconcile after a debounce window, so a burst of Service changes costs one pass; a drift
//! timer re-reads Azure; failures back off (or wait for `Retry-After`).

mod guards;
mod publish;
mod reconcile;
pub mod status;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use aksnet_crds::AksNetwork;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, NodeStatus, Service};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::{mpsc, watch};

pub use publish::Publisher;
pub use reconcile::{
    Cause, NETWORK_FINALIZER, ReconcileError, Reconciler, Requeue, SERVICE_FINALIZER, Settings,
};

use crate::azure::AzurePort;
use crate::metrics::{ControllerLabel, Outcome};

/// The longest a change waits for quiet, in debounce windows.
const DEBOUNCE_WINDOWS: u32 = 2;

/// Loop timing.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Quiet time after a change before reconciling (changes in the window coalesce).
    pub debounce: Duration,
    /// Drift check interval when the AksNetwork does not set one.
    pub drift_interval: Duration,
}

/// A hash of what matters in an object (to ignore status-only updates, to tell an edit).
fn fingerprint<T: Hash>(value: T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn service_fingerprint(s: &Service) -> u64 {
    fingerprint((
        serde_json::to_string(&s.spec).unwrap_or_default(),
        s.annotations(),
        s.finalizers(),
        s.meta().deletion_timestamp.is_some(),
    ))
}

fn node_fingerprint(n: &Node) -> u64 {
    let addresses = n
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .map(|a| {
            a.iter()
                .filter(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
                .collect::<Vec<_>>()
        });
    fingerprint((
        addresses,
        n.spec
            .as_ref()
            .map(|s| (s.pod_cidr.clone(), s.pod_cidrs.clone())),
        n.labels(),
        n.meta().deletion_timestamp.is_some(),
    ))
}

fn network_fingerprint(a: &AksNetwork) -> u64 {
    fingerprint((
        a.meta().generation,
        a.finalizers(),
        a.meta().deletion_timestamp.is_some(),
    ))
}

/// What the caches keep of an object: all but `metadata.managedFields` (never read here, and
/// often the bulk of an object).
fn prune<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// What the cache keeps of a Node: what [`prune`] keeps, without the status other than its
/// addresses (its image list, conditions and capacity are most of a real node, and never read).
fn prune_node(node: &mut Node) {
    prune(node);
    if let Some(status) = node.status.as_mut() {
        *status = NodeStatus {
            addresses: status.addresses.take(),
            ..NodeStatus::default()
        };
    }
}

/// How a kind is watched: its fingerprint (what matters in it) and what its cache keeps.
type Watching<K> = (fn(&K) -> u64, fn(&mut K));

/// Keep a store of `K` (pruned by `trim`) up to date and send a trigger when an object changes
/// in a way that matters (its fingerprint) or goes away.
fn watch_into<K>(
    api: Api<K>,
    (print, trim): Watching<K>,
    triggers: mpsc::Sender<()>,
) -> (Store<K>, impl Stream<Item = ()>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let objects = watcher(api, watcher::Config::default()).modify(trim);
    let stream = reflector::reflector(writer, objects)
        .default_backoff()
        .filter_map(move |event| {
            let changed = match event {
                Ok(watcher::Event::Apply(obj)) | Ok(watcher::Event::InitApply(obj)) => {
                    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
                    let print = print(&obj);
                    seen.insert(key, print) != Some(print)
                }
                Ok(watcher::Event::Delete(obj)) => {
                    seen.remove(&format!(
                        "{}/{}",
                        obj.namespace().unwrap_or_default(),
                        obj.name_any()
                    ));
                    true
                }
                Ok(watcher::Event::Init) => false,
                Ok(watcher::Event::InitDone) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "watch error; retrying");
                    false
                }
            };
            let triggers = triggers.clone();
            async move {
                if changed {
                    let _ = triggers.try_send(());
                }
                Some(())
            }
        });
    (store, stream)
}

/// Stores and watch streams for the three kinds, sharing one trigger channel. The watches run
/// for the life of the process (a standby keeps its caches warm); dropping this stops them.
pub struct Watches {
    /// AksNetworks.
    pub networks: Store<AksNetwork>,
    /// Services.
    pub services: Store<Service>,
    /// Nodes.
    pub nodes: Store<Node>,
    /// Namespaces (their labels).
    pub namespaces: Store<Namespace>,
    drivers: tokio::task::JoinHandle<()>,
    triggers: mpsc::Receiver<()>,
    synced: watch::Receiver<bool>,
}

impl Watches {
    /// Start watching through `client` (the watches run in a background task).
    pub fn new(client: &Client) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let (networks, s1) = watch_into(
            Api::<AksNetwork>::all(client.clone()),
            (network_fingerprint, prune),
            tx.clone(),
        );
        let (services, s2) = watch_into(
            Api::<Service>::all(client.clone()),
            (service_fingerprint, prune),
            tx.clone(),
        );
        let (nodes, s3) = watch_into(
            Api::<Node>::all(client.clone()),
            (node_fingerprint, prune_node),
            tx.clone(),
        );
        let (namespaces, s4) = watch_into(
            Api::<Namespace>::all(client.clone()),
            (|n: &Namespace| fingerprint(n.labels()), prune),
            tx,
        );
        let streams: Vec<std::pin::Pin<Box<dyn Stream<Item = ()> + Send>>> =
            vec![Box::pin(s1), Box::pin(s2), Box::pin(s3), Box::pin(s4)];
        let drivers = tokio::spawn(futures::stream::select_all(streams).for_each(|_| async {}));
        // One waiter only: a store's readiness wakes a single task (kube-runtime's
        // `DelayedInit` holds one waker), so everyone else waits on this channel.
        let (tx, synced) = watch::channel(false);
        let stores = (
            networks.clone(),
            services.clone(),
            nodes.clone(),
            namespaces.clone(),
        );
        tokio::spawn(async move {
            let _ = tokio::join!(
                stores.0.wait_until_ready(),
                stores.1.wait_until_ready(),
                stores.2.wait_until_ready(),
                stores.3.wait_until_ready()
            );
            let _ = tx.send(true);
        });
        Self {
            networks,
            services,
            nodes,
            namespaces,
            drivers,
            triggers: rx,
            synced,
        }
    }

    /// Turns true once the four caches are filled.
    pub fn synced(&self) -> watch::Receiver<bool> {
        self.synced.clone()
    }
}

impl Drop for Watches {
    fn drop(&mut self) {
        self.drivers.abort();
    }
}

/// Run the loop until `stop` turns true (shutdown, or this replica's leadership ended). A
/// reconcile in flight when it does is cancelled: its writes in flight are dropped and no new
/// one starts.
pub async fn run<A: AzurePort + 'static>(
    reconciler: &Reconciler<A>,
    watches: &mut Watches,
    timing: Timing,
    mut stop: watch::Receiver<bool>,
) {
    let mut synced = watches.synced();
    tokio::select! {
        _ = synced.wait_for(|s| *s) => {}
        _ = stop.wait_for(|v| *v) => return,
    }
    tracing::info!("reconciling");
    let triggers = &mut watches.triggers;

    let label = ControllerLabel {
        controller: "aksnetwork".into(),
    };
    let mut cause = Cause::Change;
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            result = reconciler.reconcile(cause) => result,
            _ = stop.wait_for(|v| *v) => {
                tracing::warn!("the reconcile in flight is cancelled");
                break;
            }
        };
        reconciler
            .metrics
            .reconcile_time
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        let (result_label, wait) = match result {
            Ok(requeue) => {
                failures = 0;
                let label = if requeue.is_some() {
                    "requeue"
                } else {
                    "success"
                };
                (label, requeue)
            }
            Err(e) => {
                failures += 1;
                reconciler
                    .metrics
                    .reconcile_errors
                    .get_or_create(&label)
                    .inc();
                let backoff = e.retry_after().unwrap_or_else(|| {
                    Duration::from_secs(1 << failures.min(8)).min(Duration::from_secs(300))
                });
                tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "reconcile failed");
                ("error", Some(backoff))
            }
        };
        reconciler
            .metrics
            .reconcile_total
            .get_or_create(&Outcome {
                controller: label.controller.clone(),
                result: result_label.into(),
            })
            .inc();

        let drift = drift_interval(reconciler, timing.drift_interval);
        // A retry far off never delays the drift check.
        let timer = wait.map_or(drift, |w| w.min(drift));
        let drift_due = wait.is_none_or(|w| drift <= w);
        tokio::select! {
            _ = stop.wait_for(|v| *v) => break,
            Some(()) = triggers.recv() => {
                // Coalesce: wait for a quiet window, taking every trigger that arrives in it,
                // but never longer than a few windows: a long stream of changes (a burst of
                // Services being created) starts being served while it goes on, and the run
                // takes in what comes later.
                let latest = tokio::time::Instant::now() + timing.debounce * DEBOUNCE_WINDOWS;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(timing.debounce) => break,
                        _ = tokio::time::sleep_until(latest) => break,
                        Some(()) = triggers.recv() => continue,
                    }
                }
                cause = Cause::Change;
            }
            _ = tokio::time::sleep(timer) => {
                cause = if drift_due { Cause::Drift } else { Cause::Retry };
            }
        }
        if *stop.borrow() {
            break;
        }
    }
    tracing::info!("controller stopped");
}

/// The drift interval: the AksNetwork's `spec.reconcile.driftCheckInterval` when set, else
/// the operator's `--drift-interval`.
fn drift_interval<A>(reconciler: &Reconciler<A>, default: Duration) -> Duration {
    reconciler
        .networks
        .get(&reflector::ObjectRef::new(&reconciler.settings.network))
        .and_then(|n| n.spec.reconcile.as_ref()?.drift_check_interval)
        .map(Duration::from)
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cached_node_keeps_what_the_plan_reads_only() {
        let mut node: Node = serde_json::from_value(json!({
            "metadata": {
                "name": "aks-np-0",
                "labels": {"agentpool": "np"},
                "managedFields": [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1"}]
            },
            "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "10.224.0.4"}],
                "images": [{"names": ["mcr.microsoft.com/oss/kubernetes/pause:3.6"], "sizeBytes": 300000}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "capacity": {"cpu": "2"}
            }
        }))
        .expect("node");
        let before = node_fingerprint(&node);
        prune_node(&mut node);
        assert_eq!(
            node_fingerprint(&node),
            before,
            "the trigger sees the same node"
        );
        assert_eq!(node.metadata.managed_fields, None);
        assert_eq!(
            node.labels().get("agentpool").map(String::as_str),
            Some("np")
        );
        let status = node.status.expect("status");
        assert_eq!(status.addresses.map(|a| a.len()), Some(1));
        assert_eq!(status.images, None);
        assert_eq!(status.conditions, None);
        assert_eq!(status.capacity, None);
        assert!(node.spec.and_then(|s| s.pod_cidr).is_some());
    }

    #[test]
    fn a_cached_service_keeps_its_status() {
        let mut svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default",
                         "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1"}]},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
        }))
        .expect("service");
        let before = service_fingerprint(&svc);
        prune(&mut svc);
        assert_eq!(service_fingerprint(&svc), before);
        assert_eq!(svc.metadata.managed_fields, None);
        assert!(svc.status.and_then(|s| s.load_balancer).is_some());
    }
}
