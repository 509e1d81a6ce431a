//! Publishing to Services while a plan is carried out: finalizers before Azure objects are
//! made, `status.loadBalancer.ingress` and the `aksnet.io/LoadBalancerReady` condition as soon
//! as Azure serves a Service, Warning Events for refused ones, and release of the Services
//! aksnet no longer serves.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::status;
use crate::apply::Pass;
use crate::model::{NoCase, PublicIpIndex};
use crate::plan::{Desired, ServiceOutcome};

/// Finalizer on every Service aksnet serves: removed once its Azure objects are gone.
pub const SERVICE_FINALIZER: &str = "aksnet.io/load-balancer-cleanup";

/// Kubernetes writes in flight at once while publishing.
const CONCURRENT_WRITES: usize = 16;

/// What a Service is told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Told {
    ingress: Option<Vec<String>>,
    ready: bool,
    reason: String,
    message: String,
}

/// The field manager of aksnet's server-side applies to Service and AksNetwork status.
pub(super) const FIELD_MANAGER: &str = "aksnet-operator";

/// What a Service was last told, and the Service's resource versions around that: the one
/// the write was based on and the one it made (the same when nothing needed writing).
struct Written {
    told: Told,
    based_on: Option<String>,
    made: Option<String>,
}

impl Written {
    /// Whether `told` is still what the Service shows at `version`: the same words, and the
    /// store shows the Service as aksnet left it (or not yet even that). Any other version
    /// (someone else wrote since) is checked against the object itself.
    fn holds(&self, told: &Told, version: Option<&str>) -> bool {
        self.told == *told
            && (version == self.based_on.as_deref() || version == self.made.as_deref())
    }
}

/// Writes what the plan means for each Service, once per change, and again when someone
/// else's write took it away (a drift pass sees it).
pub struct Publisher {
    client: Client,
    services: Store<Service>,
    recorder: Recorder,
    /// What each Service (`namespace/name`) was last told, so nothing is written twice.
    told: Mutex<HashMap<String, Written>>,
    /// Services with the finalizer added by this process (the store may lag behind).
    finalized: Mutex<BTreeSet<String>>,
}

impl Publisher {
    /// A publisher writing through `client`, reading Services from `services`.
    pub fn new(client: Client, services: Store<Service>, recorder: Recorder) -> Self {
        Self {
            client,
            services,
            recorder,
            told: Mutex::default(),
            finalized: Mutex::default(),
        }
    }

    fn service(&self, key: &str) -> Option<std::sync::Arc<Service>> {
        let (ns, name) = key.split_once('/')?;
        self.services.get(&ObjectRef::new(name).within(ns))
    }

    fn api(&self, svc: &Service) -> Api<Service> {
        Api::namespaced(self.client.clone(), &svc.namespace().unwrap_or_default())
    }

    async fn patch_status(
        &self,
        svc: &Service,
        patch: &serde_json::Value,
    ) -> Result<(), kube::Error> {
        self.api(svc)
            .patch_status(
                &svc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        Ok(())
    }

    /// Publish one look at the run: finalizers on every Service the plan will write for, then
    /// the status of each Service whose state changed.
    pub async fn publish(&self, pass: Pass<'_>) -> Result<(), kube::Error> {
        self.add_finalizers(pass.desired).await?;
        let prefixes: HashMap<&str, &str> = pass
            .desired
            .service_prefixes
            .iter()
            .map(|(p, k)| (k.as_str(), p.as_str()))
            .collect();
        // One index per look: a pass tells every Service, and each looks its addresses up.
        let ips = pass.observed.public_ip_index();
        let mut writes = Vec::new();
        for (key, outcome) in &pass.desired.services {
            let prefix = prefixes.get(key.as_str()).copied().unwrap_or_default();
            let Some(told) = tell(prefix, outcome, &pass, &ips) else {
                continue;
            };
            let Some(svc) = self.service(key) else {
                continue;
            };
            let version = svc.resource_version();
            let holds = self.told.lock().ok().is_some_and(|t| {
                t.get(key)
                    .is_some_and(|w| w.holds(&told, version.as_deref()))
            });
            if !holds {
                writes.push(self.write_status(svc, key.clone(), told));
            }
        }
        let results: Vec<Result<(), kube::Error>> = futures::stream::iter(writes)
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Put the finalizer on every Service the plan serves that lacks it, 16 at a time (a burst
    /// of new Services waits for this before its public IPs are made).
    async fn add_finalizers(&self, desired: &Desired) -> Result<(), kube::Error> {
        let missing: Vec<(String, std::sync::Arc<Service>)> = desired
            .services
            .iter()
            .filter(|(_, outcome)| !matches!(outcome, ServiceOutcome::Released))
            .filter_map(|(key, _)| Some((key.clone(), self.service(key)?)))
            .filter(|(key, svc)| {
                let done = self.finalized.lock().is_ok_and(|f| f.contains(key));
                !done && !svc.finalizers().iter().any(|f| f == SERVICE_FINALIZER)
            })
            .collect();
        let results: Vec<Result<(), kube::Error>> = futures::stream::iter(missing)
            .map(|(key, svc)| async move {
                let mut finalizers = svc.finalizers().to_vec();
                finalizers.push(SERVICE_FINALIZER.to_string());
                set_finalizers(
                    &self.api(&svc),
                    &svc.name_any(),
                    svc.resource_version(),
                    finalizers,
                )
                .await?;
                if let Ok(mut f) = self.finalized.lock() {
                    f.insert(key);
                }
                Ok(())
            })
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn write_status(
        &self,
        svc: std::sync::Arc<Service>,
        key: String,
        told: Told,
    ) -> Result<(), kube::Error> {
        let old_status = svc.status.clone().unwrap_or_default();
        let old_conditions = old_status.conditions.clone().unwrap_or_default();
        let conditions = status::service_conditions(
            &old_conditions,
            told.ready,
            &told.reason,
            &told.message,
            svc.meta().generation,
        );
        let old_ingress = old_status
            .load_balancer
            .and_then(|lb| lb.ingress)
            .unwrap_or_default();
        let old_ips: Vec<String> = old_ingress.iter().filter_map(|i| i.ip.clone()).collect();
        let mut made = None;
        let ingress_changed = told.ingress.as_ref().is_some_and(|ips| *ips != old_ips);
        if ingress_changed || !status::same_conditions(&conditions, &old_conditions) {
            if !told.ready && told.ingress.is_none() && told.reason != PENDING {
                self.event(
                    svc.as_ref(),
                    EventType::Warning,
                    &told.reason,
                    &told.message,
                )
                .await;
            }
            // Only aksnet's condition and the ingress: other writers' conditions stay (the
            // list merges by type), whatever this process last saw of them.
            let ours: Vec<_> = conditions
                .iter()
                .filter(|c| c.type_ == status::SERVICE_CONDITION)
                .collect();
            let ingress = match &told.ingress {
                Some(ips) => ips
                    .iter()
                    .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
                    .collect(),
                // Not served now (waiting or refused): the address it has stays.
                None => serde_json::to_value(&old_ingress).unwrap_or_default(),
            };
            let mut body = json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": svc.name_any(), "namespace": svc.namespace()},
                "status": {"conditions": ours},
            });
            if ingress.as_array().is_some_and(|l| !l.is_empty()) {
                body["status"]["loadBalancer"] = json!({ "ingress": ingress });
            }
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let written = self
                .api(&svc)
                .patch_status(&svc.name_any(), &params, &Patch::Apply(&body))
                .await?;
            made = written.resource_version();
        }
        if let Ok(mut t) = self.told.lock() {
            let based_on = svc.resource_version();
            t.insert(
                key,
                Written {
                    told,
                    made: made.or_else(|| based_on.clone()),
                    based_on,
                },
            );
        }
        Ok(())
    }

    /// Released Services (deleted, another class or type) lose the finalizer once Azure no
    /// longer holds their objects (`unreleased` holds the name prefixes of those that writes
    /// still to do carry); a type change also clears the ingress aksnet wrote.
    pub async fn release(
        &self,
        desired: &Desired,
        unreleased: &BTreeSet<String>,
    ) -> Result<(), kube::Error> {
        let held: BTreeSet<&str> = desired
            .service_prefixes
            .iter()
            .filter(|(p, _)| unreleased.contains(*p))
            .map(|(_, k)| k.as_str())
            .collect();
        for (key, outcome) in &desired.services {
            if !matches!(outcome, ServiceOutcome::Released) || held.contains(key.as_str()) {
                continue;
            }
            let Some(svc) = self.service(key) else {
                continue;
            };
            if !svc.finalizers().iter().any(|f| f == SERVICE_FINALIZER) {
                continue;
            }
            if svc.meta().deletion_timestamp.is_none() {
                let patch = json!({"status": {"loadBalancer": {"ingress": null}}});
                self.patch_status(&svc, &patch).await?;
            }
            self.remove_finalizer(&svc).await?;
            self.forget(key);
        }
        Ok(())
    }

    /// Remove the finalizer from a Service (its Azure objects are gone).
    pub async fn remove_finalizer(&self, svc: &Service) -> Result<(), kube::Error> {
        let rest: Vec<String> = svc
            .finalizers()
            .iter()
            .filter(|f| *f != SERVICE_FINALIZER)
            .cloned()
            .collect();
        set_finalizers(
            &self.api(svc),
            &svc.name_any(),
            svc.resource_version(),
            rest,
        )
        .await
    }

    fn forget(&self, key: &str) {
        if let Ok(mut t) = self.told.lock() {
            t.remove(key);
        }
        if let Ok(mut f) = self.finalized.lock() {
            f.remove(key);
        }
    }

    /// Publish an Event about `object`.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        let note: String = note.chars().take(1000).collect();
        let ev = Event {
            type_,
            reason: reason.to_string(),
            action: event_action(&note),
            note: Some(note),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &object.object_ref(&())).await {
            tracing::warn!(error = %e, "could not publish an Event");
        }
    }
}

/// The Event's `action`: `Reconcile` and a digest of the note. kube's recorder counts an Event
/// again (`series`) when reason and action repeat, keeping the first note; with the note's
/// digest in the action, a different note is its own Event and only the same note is counted.
fn event_action(note: &str) -> String {
    format!("Reconcile-{:016x}", super::fingerprint(note))
}

/// The reason of a Service that waits for Azure.
const PENDING: &str = "Pending";

/// What a Service (with this lower-case name prefix) should be told now, if anything: served
/// ones once no write still to do carries them, waiting ones that they wait, refused ones why.
fn tell(
    prefix: &str,
    outcome: &ServiceOutcome,
    pass: &Pass<'_>,
    ips: &PublicIpIndex<'_>,
) -> Option<Told> {
    match outcome {
        ServiceOutcome::Planned { ingress } => {
            if pass.unserved.contains(prefix) {
                return None;
            }
            let ips: Vec<String> = ingress
                .iter()
                .filter_map(|i| {
                    i.address(pass.observed, |rg, n| {
                        ips.get(&(NoCase(rg), NoCase(n))).copied()
                    })
                })
                .collect();
            if ips.len() != ingress.len() {
                return Some(Told {
                    ingress: None,
                    ready: false,
                    reason: PENDING.into(),
                    message: "waiting for Azure to allocate an address".into(),
                });
            }
            let link = private_link_alias(prefix, pass)
                .map(|alias| format!("; Private Link Service alias {alias}"))
                .unwrap_or_default();
            Some(Told {
                message: format!("served at {}{link}", ips.join(", ")),
                ingress: Some(ips),
                ready: true,
                reason: "Synced".into(),
            })
        }
        ServiceOutcome::Waiting { reason } => Some(Told {
            ingress: None,
            ready: false,
            reason: PENDING.into(),
            message: reason.clone(),
        }),
        ServiceOutcome::Rejected { errors } => Some(Told {
            ingress: None,
            ready: false,
            reason: errors
                .first()
                .map_or("Rejected", |e| e.problem.reason())
                .to_string(),
            message: errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.problem))
                .collect::<Vec<_>>()
                .join("; "),
        }),
        ServiceOutcome::Released => None,
    }
}

/// The alias of the Private Link Service of the Service with this prefix, as Azure has it:
/// what consumers' private endpoints connect to.
fn private_link_alias<'p>(prefix: &str, pass: &Pass<'p>) -> Option<&'p str> {
    let key = pass.desired.service_prefixes.get(prefix)?;
    pass.observed
        .private_link_services
        .iter()
        .find(|p| crate::model::tag(&p.tags, crate::naming::TAG_SERVICE) == Some(key.as_str()))?
        .alias
        .as_deref()
}

/// Replace an object's finalizers, guarded by its resourceVersion.
pub async fn set_finalizers<K>(
    api: &Api<K>,
    name: &str,
    resource_version: Option<String>,
    finalizers: Vec<String>,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": resource_version}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The number of Services in each state of the plan: (served, waiting, rejected).
pub fn tally(desired: &Desired) -> (usize, usize, usize) {
    desired
        .services
        .values()
        .fold((0, 0, 0), |(s, w, r), o| match o {
            ServiceOutcome::Planned { .. } => (s + 1, w, r),
            ServiceOutcome::Waiting { .. } => (s, w + 1, r),
            ServiceOutcome::Rejected { .. } => (s, w, r + 1),
            ServiceOutcome::Released => (s, w, r),
        })
}

#[cfg(test)]
mod tests {
    use super::event_action;

    #[test]
    fn each_note_is_its_own_event_and_a_repeated_note_is_counted() {
        assert_eq!(
            event_action("put loadBalancer a"),
            event_action("put loadBalancer a")
        );
        assert_ne!(
            event_action("put loadBalancer a"),
            event_action("put loadBalancer b")
        );
        assert!(
            event_action("x").len() <= 128,
            "an Event's action is at most 128 characters"
        );
    }
}
