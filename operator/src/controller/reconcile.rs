//! One reconcile of the cluster network: read the stores, observe Azure, plan, diff, apply in
//! order, then write statuses, Events and finalizers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aksnet_crds::{AksNetwork, AksNetworkStatus, ManagedCounts, PublicIpStatus, ReconcilePolicy};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::status::{self, Health};
use crate::annotations;
use crate::azure::{AzureError, AzurePort, ObserveRequest};
use crate::diff::{Op, diff};
use crate::metrics::Metrics;
use crate::model::Observed;
use crate::naming::TAG_SERVICE;
use crate::plan::{self, Desired, Limits, PlanInput, ServiceOutcome};

/// Finalizer on every Service aksnet serves: removed once its Azure objects are gone.
pub const SERVICE_FINALIZER: &str = "aksnet.io/load-balancer-cleanup";
/// Finalizer on the AksNetwork: removed once everything aksnet created is gone.
pub const NETWORK_FINALIZER: &str = "aksnet.io/network-cleanup";

/// Why a reconcile runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A watched object changed.
    Change,
    /// The periodic drift check.
    Drift,
    /// A retry or a pending follow-up.
    Requeue,
}

/// What the loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    /// Run again after this long (`None`: wait for a change or the drift timer).
    pub requeue_after: Option<Duration>,
}

/// Errors of a reconcile that the loop retries with back-off.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// Azure failed (retryable kinds; terminal ones become `Stalled`).
    #[error("azure: {0}")]
    Azure(#[from] AzureError),
}

impl ReconcileError {
    /// How long to wait before retrying, when the error says (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReconcileError::Azure(AzureError::Throttled { retry_after, .. }) => *retry_after,
            ReconcileError::Azure(AzureError::Precondition(_)) => Some(Duration::ZERO),
            _ => None,
        }
    }
}

/// Settings of the controller.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Name of the AksNetwork to manage.
    pub network: String,
    /// `loadBalancerClass` served.
    pub load_balancer_class: String,
    /// Compute and report only.
    pub dry_run: bool,
    /// Azure limits.
    pub limits: Limits,
}

/// Everything a reconcile needs.
pub struct Reconciler<A> {
    /// Kubernetes client.
    pub client: Client,
    /// Azure.
    pub azure: A,
    /// Settings.
    pub settings: Settings,
    /// AksNetworks.
    pub networks: Store<AksNetwork>,
    /// Services.
    pub services: Store<Service>,
    /// Nodes.
    pub nodes: Store<Node>,
    /// Event recorder.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Fingerprint of the last plan that Azure matched: the same plan with operations to do
    /// means Azure drifted.
    pub last_converged: std::sync::Mutex<Option<u64>>,
}

/// A fingerprint of a plan.
fn plan_fingerprint(desired: &Desired) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // Only what is wanted in Azure: Services coming and going without Azure changes (e.g. a
    // released Service's object finally removed) do not make a new plan.
    let azure = (
        &desired.public_ips,
        &desired.load_balancers,
        &desired.security_group,
        &desired.route_table,
        &desired.frozen,
    );
    format!("{azure:?}").hash(&mut h);
    h.finish()
}

fn strip<T: Clone>(items: Vec<Arc<T>>) -> Vec<T> {
    items.into_iter().map(|a| (*a).clone()).collect()
}

impl<A: AzurePort> Reconciler<A> {
    /// Reconcile the configured AksNetwork once.
    pub async fn reconcile(&self, cause: Cause) -> Result<Next, ReconcileError> {
        let key = ObjectRef::<AksNetwork>::new(&self.settings.network);
        let Some(network) = self.networks.get(&key) else {
            tracing::info!(network = %self.settings.network, "no AksNetwork of that name; waiting");
            return Ok(Next {
                requeue_after: None,
            });
        };
        let api: Api<AksNetwork> = Api::all(self.client.clone());
        if network.meta().deletion_timestamp.is_some() {
            return self.teardown(&api, &network).await;
        }
        if !network.finalizers().iter().any(|f| f == NETWORK_FINALIZER) {
            let mut finalizers = network.finalizers().to_vec();
            finalizers.push(NETWORK_FINALIZER.to_string());
            set_finalizers(
                &api,
                &network.name_any(),
                network.resource_version(),
                finalizers,
            )
            .await?;
        }
        let spec = &network.spec;
        let problems = aksnet_crds::validate::validate(spec);
        if !problems.is_empty() {
            let message = problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            self.write_network_status(
                &api,
                &network,
                Health::Stalled {
                    reason: "InvalidSpec".into(),
                    message,
                },
                None,
                None,
            )
            .await?;
            return Ok(Next {
                requeue_after: None,
            });
        }

        let services = strip(self.services.state());
        let nodes = strip(self.nodes.state());
        let request = observe_request(&network, &services);
        let mut observed = match self.azure.observe(&request).await {
            Ok(o) => o,
            Err(e) if e.is_terminal() => return self.stalled(&api, &network, &e).await,
            Err(e) => return Err(e.into()),
        };
        let input = |observed: &'_ Observed| -> Desired {
            plan::plan(&PlanInput {
                network: spec,
                services: &services,
                nodes: &nodes,
                observed,
                load_balancer_class: &self.settings.load_balancer_class,
                limits: self.settings.limits,
            })
        };
        let mut desired = input(&observed);
        let mut ops = diff(&desired, &observed);
        self.metrics.planned_writes.set(ops.len() as i64);
        let rejected = desired
            .services
            .values()
            .filter(|o| matches!(o, ServiceOutcome::Rejected { .. }))
            .count();
        self.metrics.rejected_services.set(rejected as i64);

        let observe_only = self.settings.dry_run
            || spec
                .reconcile
                .as_ref()
                .is_some_and(|r| r.policy == ReconcilePolicy::Observe);
        if observe_only {
            let message = format!(
                "{} Azure operation(s) would be applied: {}",
                ops.len(),
                describe(&ops)
            );
            let health = if ops.is_empty() {
                Health::Ready("Azure matches the spec (observe only)".into())
            } else {
                Health::Reconciling {
                    reason: "ObserveOnly".into(),
                    message,
                }
            };
            self.write_network_status(&api, &network, health, Some(&desired), Some(&observed))
                .await?;
            return Ok(Next {
                requeue_after: None,
            });
        }

        let first_plan = plan_fingerprint(&desired);
        self.add_service_finalizers(&services, &desired).await?;
        let mut applied = Vec::new();
        for _pass in 0..3 {
            if ops.is_empty() {
                break;
            }
            for op in &ops {
                tracing::info!(op = %op.describe(), "applying");
                match self.azure.apply(op).await {
                    Ok(()) => applied.push(op.describe()),
                    Err(e) if e.is_terminal() => return self.stalled(&api, &network, &e).await,
                    Err(e) => return Err(e.into()),
                }
            }
            observed = self.azure.observe(&request).await?;
            desired = input(&observed);
            ops = diff(&desired, &observed);
        }
        if !applied.is_empty() {
            let drifted = cause == Cause::Drift
                || self.last_converged.lock().ok().and_then(|l| *l) == Some(first_plan);
            let reason = if drifted { "DriftRepaired" } else { "Applied" };
            let note = format!(
                "{} Azure operation(s): {}",
                applied.len(),
                applied.join(", ")
            );
            tracing::info!(%reason, %note);
            self.event(&network.object_ref(&()), EventType::Normal, reason, &note)
                .await;
        }
        self.write_service_statuses(&services, &desired, &observed)
            .await?;
        self.release_services(&services, &desired).await?;
        let health = if ops.is_empty() && desired.pending.is_empty() {
            Health::Ready(summary(&desired))
        } else {
            Health::Reconciling {
                reason: "Progressing".into(),
                message: desired
                    .pending
                    .first()
                    .cloned()
                    .unwrap_or_else(|| describe(&ops)),
            }
        };
        let requeue = !matches!(health, Health::Ready(_));
        if let Ok(mut last) = self.last_converged.lock() {
            *last = (!requeue).then(|| plan_fingerprint(&desired));
        }
        self.write_network_status(&api, &network, health, Some(&desired), Some(&observed))
            .await?;
        Ok(Next {
            requeue_after: requeue.then_some(Duration::from_secs(2)),
        })
    }

    /// The AksNetwork is being deleted: remove what aksnet created, then the finalizers.
    async fn teardown(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
    ) -> Result<Next, ReconcileError> {
        if !network.finalizers().iter().any(|f| f == NETWORK_FINALIZER) {
            return Ok(Next {
                requeue_after: None,
            });
        }
        let services = strip(self.services.state());
        let request = observe_request(network, &services);
        let observed = self.azure.observe(&request).await?;
        let desired = plan::teardown(&network.spec, &observed);
        if !self.settings.dry_run {
            for op in diff(&desired, &observed) {
                tracing::info!(op = %op.describe(), "tearing down");
                self.azure.apply(&op).await?;
            }
        }
        for svc in &services {
            if svc.finalizers().iter().any(|f| f == SERVICE_FINALIZER) {
                self.remove_service_finalizer(svc).await?;
            }
        }
        let rest: Vec<String> = network
            .finalizers()
            .iter()
            .filter(|f| *f != NETWORK_FINALIZER)
            .cloned()
            .collect();
        set_finalizers(api, &network.name_any(), network.resource_version(), rest).await?;
        Ok(Next {
            requeue_after: None,
        })
    }

    async fn stalled(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        e: &AzureError,
    ) -> Result<Next, ReconcileError> {
        tracing::warn!(error = %e, "terminal Azure error");
        self.event(
            &network.object_ref(&()),
            EventType::Warning,
            e.reason(),
            &e.to_string(),
        )
        .await;
        let health = Health::Stalled {
            reason: e.reason().into(),
            message: e.to_string(),
        };
        self.write_network_status(api, network, health, None, None)
            .await?;
        Ok(Next {
            requeue_after: Some(Duration::from_secs(300)),
        })
    }

    async fn event(
        &self,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        let ev = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, reference).await {
            tracing::warn!(error = %e, "could not publish an Event");
        }
    }

    async fn add_service_finalizers(
        &self,
        services: &[Service],
        desired: &Desired,
    ) -> Result<(), ReconcileError> {
        for svc in services {
            let served = matches!(
                desired.services.get(&plan::service_key(svc)),
                Some(ServiceOutcome::Planned { .. } | ServiceOutcome::Rejected { .. })
            );
            if served && !svc.finalizers().iter().any(|f| f == SERVICE_FINALIZER) {
                let mut finalizers = svc.finalizers().to_vec();
                finalizers.push(SERVICE_FINALIZER.to_string());
                let api: Api<Service> =
                    Api::namespaced(self.client.clone(), &svc.namespace().unwrap_or_default());
                set_finalizers(&api, &svc.name_any(), svc.resource_version(), finalizers).await?;
            }
        }
        Ok(())
    }

    async fn remove_service_finalizer(&self, svc: &Service) -> Result<(), ReconcileError> {
        let api: Api<Service> =
            Api::namespaced(self.client.clone(), &svc.namespace().unwrap_or_default());
        let rest: Vec<String> = svc
            .finalizers()
            .iter()
            .filter(|f| *f != SERVICE_FINALIZER)
            .cloned()
            .collect();
        set_finalizers(&api, &svc.name_any(), svc.resource_version(), rest).await?;
        Ok(())
    }

    /// Released Services (deleted, another class or type) lose the finalizer once Azure no
    /// longer holds their objects; a type change also clears the ingress aksnet wrote.
    async fn release_services(
        &self,
        services: &[Service],
        desired: &Desired,
    ) -> Result<(), ReconcileError> {
        for svc in services {
            let released = matches!(
                desired.services.get(&plan::service_key(svc)),
                Some(ServiceOutcome::Released)
            );
            if released && svc.finalizers().iter().any(|f| f == SERVICE_FINALIZER) {
                if svc.meta().deletion_timestamp.is_none() {
                    let api: Api<Service> =
                        Api::namespaced(self.client.clone(), &svc.namespace().unwrap_or_default());
                    let patch = json!({"status": {"loadBalancer": {"ingress": null}}});
                    api.patch_status(
                        &svc.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                }
                self.remove_service_finalizer(svc).await?;
            }
        }
        Ok(())
    }

    async fn write_service_statuses(
        &self,
        services: &[Service],
        desired: &Desired,
        observed: &Observed,
    ) -> Result<(), ReconcileError> {
        for svc in services {
            let key = plan::service_key(svc);
            let (ingress, ready, reason, message) = match desired.services.get(&key) {
                Some(ServiceOutcome::Planned { ingress }) => {
                    let ips: Vec<String> = ingress
                        .iter()
                        .filter_map(|i| i.address(observed, |rg, n| observed.public_ip(rg, n)))
                        .collect();
                    let ready = ips.len() == ingress.len();
                    let message = if ready {
                        format!("served at {}", ips.join(", "))
                    } else {
                        "waiting for Azure to allocate an address".to_string()
                    };
                    (
                        Some(ips),
                        ready,
                        if ready { "Synced" } else { "Pending" },
                        message,
                    )
                }
                Some(ServiceOutcome::Rejected { errors }) => {
                    let message = errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.problem))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let reason = errors.first().map_or("Rejected", |e| e.problem.reason());
                    (None, false, reason, message)
                }
                _ => continue,
            };
            let old_status = svc.status.clone().unwrap_or_default();
            let old_conditions = old_status.conditions.clone().unwrap_or_default();
            let conditions = status::service_conditions(
                &old_conditions,
                ready,
                reason,
                &message,
                svc.meta().generation,
            );
            let old_ips: Vec<String> = old_status
                .load_balancer
                .and_then(|lb| lb.ingress)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|i| i.ip)
                .collect();
            let ingress_changed = ingress.as_ref().is_some_and(|ips| *ips != old_ips);
            if !ingress_changed && status::same_conditions(&conditions, &old_conditions) {
                continue;
            }
            if !ready {
                self.event(&svc.object_ref(&()), EventType::Warning, reason, &message)
                    .await;
            }
            let mut patch = json!({"status": {"conditions": conditions}});
            if let Some(ips) = ingress {
                let list: Vec<_> = ips
                    .iter()
                    .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
                    .collect();
                patch["status"]["loadBalancer"] = json!({"ingress": list});
            }
            let api: Api<Service> =
                Api::namespaced(self.client.clone(), &svc.namespace().unwrap_or_default());
            api.patch_status(
                &svc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        }
        Ok(())
    }

    async fn write_network_status(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        health: Health,
        desired: Option<&Desired>,
        observed: Option<&Observed>,
    ) -> Result<(), ReconcileError> {
        let old = network.status.clone().unwrap_or_default();
        let generation = network.meta().generation;
        let conditions = status::network_conditions(&health, generation, &old.conditions);
        let mut new = AksNetworkStatus {
            observed_generation: generation,
            conditions,
            ip_plan: aksnet_crds::ipplan::summarize(
                network.spec.network_model,
                &network.spec.ip_plan,
            ),
            ..old.clone()
        };
        if let (Some(desired), Some(observed)) = (desired, observed) {
            let public_ips = public_ip_status(desired, observed);
            let addresses: Vec<String> = public_ips
                .iter()
                .filter_map(|p| p.address.clone())
                .collect();
            new.public_ip_addresses = (!addresses.is_empty()).then(|| addresses.join(","));
            new.public_ips = public_ips;
            new.counts = Some(counts(desired, observed));
            if matches!(health, Health::Ready(_)) {
                new.last_sync_time = Some(Time(Timestamp::now()));
            }
        }
        let unchanged = old.observed_generation == new.observed_generation
            && status::same_conditions(&old.conditions, &new.conditions)
            && old.public_ips == new.public_ips
            && old.counts == new.counts
            && old.ip_plan == new.ip_plan;
        if unchanged {
            return Ok(());
        }
        let patch = json!({"status": new});
        api.patch_status(
            &network.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        Ok(())
    }
}

/// Replace an object's finalizers, guarded by its resourceVersion.
async fn set_finalizers<K>(
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

/// What to read from Azure for this network and these Services.
fn observe_request(network: &AksNetwork, services: &[Service]) -> ObserveRequest {
    let spec = &network.spec;
    let lb = spec.load_balancer.clone();
    let mut groups: Vec<String> = services
        .iter()
        .filter_map(|s| s.annotations().get(annotations::RESOURCE_GROUP).cloned())
        .collect();
    groups.sort();
    groups.dedup();
    ObserveRequest {
        resource_group: spec.azure.resource_group.clone(),
        public_ip_groups: groups,
        load_balancers: lb.map_or_else(
            || vec!["kubernetes".into(), "kubernetes-internal".into()],
            |l| vec![l.public_name, l.internal_name],
        ),
        security_group: spec.security_group.as_ref().map(|s| s.name.clone()),
        route_table: spec.route_table.as_ref().map(|r| r.name.clone()),
    }
}

fn public_ip_status(desired: &Desired, observed: &Observed) -> Vec<PublicIpStatus> {
    let mut out: Vec<PublicIpStatus> = desired
        .public_ips
        .iter()
        .map(|p| PublicIpStatus {
            name: p.name.clone(),
            address: observed
                .public_ip(&p.resource_group, &p.name)
                .and_then(|o| o.address.clone()),
            service: p.tags.get(TAG_SERVICE).cloned(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn counts(desired: &Desired, observed: &Observed) -> ManagedCounts {
    let o = &desired.ownership;
    let planned = desired
        .services
        .values()
        .filter(|s| matches!(s, ServiceOutcome::Planned { .. }))
        .count();
    ManagedCounts {
        services: planned as u32,
        load_balancer_rules: observed
            .load_balancers
            .iter()
            .flat_map(|l| l.rules.iter())
            .filter(|r| o.owns_child(&r.name))
            .count() as u32,
        security_rules: observed
            .security_group
            .iter()
            .flat_map(|n| n.rules.iter())
            .filter(|r| o.owns_child(&r.name))
            .count() as u32,
        routes: observed
            .route_table
            .iter()
            .flat_map(|t| t.routes.iter())
            .filter(|r| o.owns_child(&r.name))
            .count() as u32,
    }
}

fn summary(desired: &Desired) -> String {
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for o in desired.services.values() {
        let k = match o {
            ServiceOutcome::Planned { .. } => "served",
            ServiceOutcome::Rejected { .. } => "rejected",
            ServiceOutcome::Released => continue,
        };
        *by_state.entry(k).or_default() += 1;
    }
    let services = by_state
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let errors = if desired.errors.is_empty() {
        String::new()
    } else {
        format!(
            "; {} problem(s): {}",
            desired.errors.len(),
            desired.errors[0]
        )
    };
    format!(
        "Azure matches the spec; Services: {}{errors}",
        if services.is_empty() {
            "none".into()
        } else {
            services
        }
    )
}

fn describe(ops: &[Op]) -> String {
    ops.iter().map(Op::describe).collect::<Vec<_>>().join(", ")
}
