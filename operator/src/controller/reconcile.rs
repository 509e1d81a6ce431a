//! One reconcile of the cluster network, in named phases: check the spec, observe Azure, carry
//! the plan out through the apply engine (publishing each Service as Azure serves it), then
//! finish (remember refusals, release Services, Events, the AksNetwork's status).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aksnet_crds::{
    AksNetwork, AksNetworkStatus, ManagedCounts, PublicIpStatus, ReconcilePolicy, ResolvedAzureIds,
};
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::Instrument;

use super::publish::{FIELD_MANAGER, Publisher, set_finalizers, tally};
use super::status::{self, Health};
use super::{fingerprint, guards};
use crate::annotations;
use crate::apply::{self, Engine, Pass, Report};
use crate::azure::{AzureError, AzurePort, ObserveRequest};
use crate::diff::{Op, carried, diff};
use crate::memo::{Answer, Memo, Planned};
use crate::metrics::{Metrics, PlanAnswer};
use crate::model::{Observed, PublicIp, canonical_id, tag};
use crate::naming::TAG_SERVICE;
use crate::plan::{self, Desired, Holds, Limits, PlanInput};
use crate::problem::ServiceError;

pub use super::publish::SERVICE_FINALIZER;

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
    Retry,
}

/// What the loop does next: run again after this long (`None`: wait for a change or the drift
/// timer).
pub type Requeue = Option<Duration>;

/// Errors of a reconcile that the loop retries with back-off.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// Azure failed (retryable kinds; network-level ones become `Stalled`).
    #[error("azure: {0}")]
    Azure(#[from] AzureError),
}

impl ReconcileError {
    /// How long to wait before retrying, when the error says (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReconcileError::Azure(AzureError::Throttled { retry_after, .. }) => *retry_after,
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
    /// How the apply engine runs.
    pub apply: apply::Settings,
}

/// A Service Azure refused, remembered across reconciles so it is not retried at once.
#[derive(Clone, Debug)]
struct Refusal {
    error: ServiceError,
    /// The Service as it was refused: an edit retries it at once.
    fingerprint: u64,
    retry_at: Instant,
    count: u32,
}

/// The first wait before a refused Service is tried again; it doubles per refusal.
const REFUSAL_RETRY: Duration = Duration::from_secs(60);
/// The longest wait before a refused Service is tried again.
const REFUSAL_RETRY_MAX: Duration = Duration::from_secs(900);
/// The first re-check of a `Stalled` network; it doubles up to [`STALLED_RETRY_MAX`].
const STALLED_RETRY: Duration = Duration::from_secs(10);
/// The longest wait before a `Stalled` network is checked again.
const STALLED_RETRY_MAX: Duration = Duration::from_secs(300);
/// How often the plan takes a fresh look at Services and Nodes during a long run.
const SNAPSHOT_AGE: Duration = Duration::from_secs(1);

/// Everything a reconcile needs.
pub struct Reconciler<A> {
    /// Kubernetes client.
    pub client: Client,
    /// Azure.
    pub azure: Arc<A>,
    /// Settings.
    pub settings: Settings,
    /// AksNetworks.
    pub networks: Store<AksNetwork>,
    /// Services.
    pub services: Store<Service>,
    /// Nodes.
    pub nodes: Store<Node>,
    /// Namespaces (load balancer profiles select Services by their labels).
    pub namespaces: Store<Namespace>,
    /// Writes Service statuses, finalizers and Events.
    pub publisher: Publisher,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Fingerprint of the last plan that Azure matched: the same plan with operations to do
    /// means Azure drifted.
    last_converged: Mutex<Option<u64>>,
    /// The last plan and its inputs: a pass with the same inputs reuses it.
    memo: Mutex<Memo>,
    /// Services Azure refused, by `namespace/name`.
    refusals: Mutex<HashMap<String, Refusal>>,
    /// `Stalled` reconciles in a row.
    stalls: Mutex<u32>,
}

/// Services and Nodes, as the plan reads them.
/// Services, Nodes, and each namespace's labels.
type Objects = (
    Vec<Service>,
    Vec<Node>,
    BTreeMap<String, BTreeMap<String, String>>,
);

/// The Services, Nodes and namespace labels the plan reads, refreshed at most every
/// [`SNAPSHOT_AGE`].
struct Snapshot<'s> {
    services: &'s Store<Service>,
    nodes: &'s Store<Node>,
    namespaces: &'s Store<Namespace>,
    taken: Mutex<(Instant, Arc<Objects>)>,
}

impl<'s> Snapshot<'s> {
    fn new(
        services: &'s Store<Service>,
        nodes: &'s Store<Node>,
        namespaces: &'s Store<Namespace>,
    ) -> Self {
        let snapshot = Self {
            services,
            nodes,
            namespaces,
            taken: Mutex::new((Instant::now(), Arc::default())),
        };
        if let Ok(mut taken) = snapshot.taken.lock() {
            taken.1 = Arc::new(snapshot.read());
        }
        snapshot
    }

    fn read(&self) -> Objects {
        let labels = self
            .namespaces
            .state()
            .iter()
            .map(|n| (n.name_any(), n.labels().clone()))
            .collect();
        (
            owned(self.services.state()),
            owned(self.nodes.state()),
            labels,
        )
    }

    fn get(&self) -> Arc<Objects> {
        let Ok(mut taken) = self.taken.lock() else {
            return Arc::new(self.read());
        };
        if taken.0.elapsed() >= SNAPSHOT_AGE {
            *taken = (Instant::now(), Arc::new(self.read()));
        }
        taken.1.clone()
    }
}

/// Copies of the objects a store holds.
fn owned<K: Clone>(items: Vec<Arc<K>>) -> Vec<K> {
    items.into_iter().map(|a| (*a).clone()).collect()
}

/// What makes a Service worth trying again after a refusal: its spec and annotations.
fn service_fingerprint(svc: &Service) -> u64 {
    fingerprint((
        serde_json::to_string(&svc.spec).unwrap_or_default(),
        svc.annotations(),
    ))
}

impl<A: AzurePort + 'static> Reconciler<A> {
    /// A reconciler with nothing remembered yet.
    pub fn new(
        client: Client,
        azure: Arc<A>,
        settings: Settings,
        (networks, services, nodes, namespaces): (
            Store<AksNetwork>,
            Store<Service>,
            Store<Node>,
            Store<Namespace>,
        ),
        publisher: Publisher,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            azure,
            settings,
            networks,
            services,
            nodes,
            namespaces,
            publisher,
            metrics,
            last_converged: Mutex::default(),
            memo: Mutex::default(),
            refusals: Mutex::default(),
            stalls: Mutex::default(),
        }
    }

    /// Reconcile the configured AksNetwork once.
    pub async fn reconcile(&self, cause: Cause) -> Result<Requeue, ReconcileError> {
        let span = tracing::info_span!("reconcile", network = %self.settings.network, ?cause);
        self.reconcile_phases(cause).instrument(span).await
    }

    async fn reconcile_phases(&self, cause: Cause) -> Result<Requeue, ReconcileError> {
        let key = ObjectRef::<AksNetwork>::new(&self.settings.network);
        let Some(network) = self.networks.get(&key) else {
            tracing::info!("no AksNetwork of that name; waiting");
            return Ok(None);
        };
        let api: Api<AksNetwork> = Api::all(self.client.clone());
        if network.meta().deletion_timestamp.is_some() {
            return self.teardown(&api, &network).await;
        }
        self.ensure_network_finalizer(&api, &network).await?;
        if let Some(message) = invalid_spec(&network) {
            let health = Health::Stalled {
                reason: "InvalidSpec".into(),
                message,
            };
            self.write_network_status(&api, &network, health, None)
                .await?;
            return Ok(None);
        }
        if let Some(stall) = self.ownership_conflict(&network) {
            return self.stall(&api, &network, stall).await;
        }

        let snapshot = Snapshot::new(&self.services, &self.nodes, &self.namespaces);
        let class = &self.settings.load_balancer_class;
        let request = observe_request(&network, &snapshot.get().0, class);
        let observed = match self
            .azure
            .observe(&request)
            .instrument(tracing::info_span!("azure_observe"))
            .await
        {
            Ok(o) => o,
            Err(e) if e.is_network_level() || e.is_refusal() => {
                return self.stalled(&api, &network, &e).await;
            }
            Err(e) => return Err(e.into()),
        };
        let blocked = guards::missing_resources(&network.spec, &observed)
            .or_else(|| guards::model_transition(&network.spec, &observed));
        if let Some(stall) = blocked {
            return self.stall(&api, &network, stall).await;
        }
        if self.observe_only(&network) {
            return self.report_only(&api, &network, &snapshot, &observed).await;
        }
        let report = self
            .apply(&network, &snapshot, &request, observed)
            .instrument(tracing::info_span!("apply"))
            .await;
        self.finish(&api, &network, report, cause).await
    }

    async fn ensure_network_finalizer(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
    ) -> Result<(), ReconcileError> {
        if network.finalizers().iter().any(|f| f == NETWORK_FINALIZER) {
            return Ok(());
        }
        let mut finalizers = network.finalizers().to_vec();
        finalizers.push(NETWORK_FINALIZER.to_string());
        set_finalizers(
            api,
            &network.name_any(),
            network.resource_version(),
            finalizers,
        )
        .await?;
        Ok(())
    }

    fn observe_only(&self, network: &AksNetwork) -> bool {
        self.settings.dry_run
            || network
                .spec
                .reconcile
                .as_ref()
                .is_some_and(|r| r.policy == ReconcilePolicy::Observe)
    }

    fn plan(
        &self,
        network: &AksNetwork,
        snapshot: &Snapshot<'_>,
        observed: &Observed,
        holds: &Holds,
    ) -> Desired {
        self.with_input(network, snapshot, observed, holds, plan::plan)
    }

    /// The plan and its operations: the last pass's when nothing it read changed.
    fn planned(
        &self,
        network: &AksNetwork,
        snapshot: &Snapshot<'_>,
        observed: &Observed,
        holds: &Holds,
    ) -> Arc<Planned> {
        let (planned, answer) = self.with_input(network, snapshot, observed, holds, |input| {
            match self.memo.lock() {
                Ok(mut memo) => memo.answer(input),
                Err(_) => (Arc::new(Planned::of(input)), Answer::Planned),
            }
        });
        let label = PlanAnswer {
            answer: answer.as_str().into(),
        };
        self.metrics.plans.get_or_create(&label).inc();
        planned
    }

    fn with_input<T>(
        &self,
        network: &AksNetwork,
        snapshot: &Snapshot<'_>,
        observed: &Observed,
        holds: &Holds,
        then: impl FnOnce(&PlanInput<'_>) -> T,
    ) -> T {
        let taken = snapshot.get();
        then(&PlanInput {
            network: &network.spec,
            services: &taken.0,
            nodes: &taken.1,
            observed,
            load_balancer_class: &self.settings.load_balancer_class,
            limits: self.settings.limits,
            holds,
            namespace_labels: &taken.2,
        })
    }

    /// Observe only (`reconcile.policy: observe`, `--dry-run`): say what would change.
    async fn report_only(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        snapshot: &Snapshot<'_>,
        observed: &Observed,
    ) -> Result<Requeue, ReconcileError> {
        // What the engine would write, pass after pass, as Azure (simulated) would answer.
        let mut simulated = observed.clone();
        let mut ops = Vec::new();
        let mut desired = self.plan(network, snapshot, &simulated, &Holds::default());
        for _ in 0..4 {
            let pass = diff(&desired, &simulated);
            if pass.is_empty() || crate::simulate::apply(&mut simulated, &pass).is_err() {
                ops.extend(pass);
                break;
            }
            ops.extend(pass);
            desired = self.plan(network, snapshot, &simulated, &Holds::default());
        }
        let desired = self.plan(network, snapshot, observed, &Holds::default());
        self.metrics.planned_writes.set(ops.len() as i64);
        let health = if ops.is_empty() {
            Health::Ready("Azure matches the spec (observe only)".into())
        } else {
            Health::Reconciling {
                reason: "ObserveOnly".into(),
                message: format!(
                    "{} Azure operation(s) would be applied: {}",
                    ops.len(),
                    describe(&ops)
                ),
            }
        };
        self.write_network_status(api, network, health, Some((&desired, observed)))
            .await?;
        Ok(None)
    }

    /// The Services refused before that are still to be held out (not edited since, and
    /// their back-off not over).
    fn held_refusals(&self, services: &[Service]) -> BTreeMap<String, ServiceError> {
        let Ok(mut refusals) = self.refusals.lock() else {
            return BTreeMap::new();
        };
        if refusals.is_empty() {
            return BTreeMap::new();
        }
        // Only the refused Services' fingerprints: the rest may be thousands.
        let current: HashMap<String, u64> = services
            .iter()
            .filter_map(|s| {
                let key = plan::service_key(s);
                refusals
                    .contains_key(&key)
                    .then(|| (key, service_fingerprint(s)))
            })
            .collect();
        refusals.retain(|key, r| current.get(key) == Some(&r.fingerprint));
        let now = Instant::now();
        refusals
            .iter()
            .filter(|(_, r)| r.retry_at > now)
            .map(|(k, r)| (k.clone(), r.error.clone()))
            .collect()
    }

    /// Carry the plan out, publishing as Azure serves each Service.
    async fn apply(
        &self,
        network: &AksNetwork,
        snapshot: &Snapshot<'_>,
        request: &ObserveRequest,
        observed: Observed,
    ) -> Report {
        let engine = Engine::new(self.azure.clone(), self.settings.apply);
        let refused = self.held_refusals(&snapshot.get().0);
        engine
            .run(
                observed,
                refused,
                |observed, holds| self.planned(network, snapshot, observed, holds),
                || self.azure.observe(request),
                async |pass: Pass<'_>| {
                    self.metrics.planned_writes.set(pass.ops.len() as i64);
                    if let Err(e) = self.publisher.publish(pass).await {
                        tracing::warn!(error = %e, "could not publish Service status");
                    }
                },
            )
            .await
    }

    /// Remember refusals, release Services, tell what was done, and set the network's status.
    async fn finish(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        report: Report,
        cause: Cause,
    ) -> Result<Requeue, ReconcileError> {
        self.remember_refusals(&report.refused);
        let (desired, remaining) = (&report.planned.desired, &report.planned.ops);
        let (_, _, rejected) = tally(desired);
        self.metrics.rejected_services.set(rejected as i64);
        // A Service is released only once no write left to do carries its objects.
        let unreleased: BTreeSet<String> = remaining
            .iter()
            .flat_map(|op| carried(op, &report.observed, desired))
            .collect();
        self.publisher.release(desired, &unreleased).await?;
        let converged = desired.wanted_fingerprint();
        if !report.applied.is_empty() {
            let drifted = cause == Cause::Drift
                || self.last_converged.lock().ok().and_then(|l| *l) == Some(converged);
            let reason = if drifted { "DriftRepaired" } else { "Applied" };
            let note = format!(
                "{} Azure operation(s): {}",
                report.applied.len(),
                listing(report.applied.iter())
            );
            tracing::info!(%reason, %note);
            self.publisher
                .event(network, EventType::Normal, reason, &note)
                .await;
        }
        let done = remaining.is_empty() && desired.pending.is_empty();
        if let Some(e) = &report.error
            && (e.is_network_level() || e.is_refusal())
        {
            return self.stalled(api, network, e).await;
        }
        if let Ok(mut stalls) = self.stalls.lock() {
            *stalls = 0;
        }
        let health = match &report.error {
            Some(e) => Health::Reconciling {
                reason: e.reason().to_string(),
                message: e.to_string(),
            },
            None if done => match egress_problem(desired) {
                Some(problem) => {
                    self.publisher
                        .event(network, EventType::Warning, EGRESS_NOT_READY, &problem)
                        .await;
                    Health::Stalled {
                        reason: EGRESS_NOT_READY.into(),
                        message: problem,
                    }
                }
                None => Health::Ready(summary(desired)),
            },
            None => Health::Reconciling {
                reason: "Progressing".into(),
                message: desired
                    .pending
                    .first()
                    .cloned()
                    .unwrap_or_else(|| describe(remaining)),
            },
        };
        if let Ok(mut last) = self.last_converged.lock() {
            *last = (done && report.error.is_none()).then_some(converged);
        }
        self.write_network_status(api, network, health, Some((desired, &report.observed)))
            .await?;
        if let Some(e) = report.error {
            return Err(e.into());
        }
        let retry_refused = self.next_refusal_retry();
        Ok(if done {
            retry_refused
        } else {
            Some(Duration::from_secs(2))
        })
    }

    fn remember_refusals(&self, refused: &BTreeMap<String, ServiceError>) {
        let Ok(mut refusals) = self.refusals.lock() else {
            return;
        };
        for (key, error) in refused {
            let Some(svc) = key
                .split_once('/')
                .and_then(|(ns, name)| self.services.get(&ObjectRef::new(name).within(ns)))
            else {
                continue;
            };
            let count = refusals.get(key).map_or(0, |r| r.count) + 1;
            let wait = (REFUSAL_RETRY * 2u32.saturating_pow(count - 1)).min(REFUSAL_RETRY_MAX);
            refusals.insert(
                key.clone(),
                Refusal {
                    error: error.clone(),
                    fingerprint: service_fingerprint(&svc),
                    retry_at: Instant::now() + wait,
                    count,
                },
            );
        }
    }

    /// When the first refused Service is due to be tried again.
    fn next_refusal_retry(&self) -> Requeue {
        let refusals = self.refusals.lock().ok()?;
        let now = Instant::now();
        refusals
            .values()
            .map(|r| r.retry_at.saturating_duration_since(now))
            .min()
    }

    /// The AksNetwork is being deleted: remove what aksnet created, then the finalizers.
    async fn teardown(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
    ) -> Result<Requeue, ReconcileError> {
        if !network.finalizers().iter().any(|f| f == NETWORK_FINALIZER) {
            return Ok(None);
        }
        if let Some(stall) = self.ownership_conflict(network) {
            // The Azure network is the other AksNetwork's: leave it, and its Services, alone.
            tracing::info!(message = %stall.message, "deleted without tearing Azure down");
            return self.release_network(api, network).await;
        }
        let services: Vec<Arc<Service>> = self.services.state();
        let request = observe_request(
            network,
            &owned(services.clone()),
            &self.settings.load_balancer_class,
        );
        let observed = self.azure.observe(&request).await?;
        let desired = plan::teardown(&network.spec, &observed);
        // `policy: observe` never writes, not even on the way out.
        if !self.observe_only(network) {
            for op in diff(&desired, &observed) {
                tracing::info!(op = %op.describe(), "tearing down");
                self.azure.apply(&op).await?;
            }
        }
        for svc in &services {
            if svc.finalizers().iter().any(|f| f == SERVICE_FINALIZER) {
                self.publisher.remove_finalizer(svc).await?;
            }
        }
        self.release_network(api, network).await
    }

    /// Remove aksnet's finalizer from the AksNetwork.
    async fn release_network(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
    ) -> Result<Requeue, ReconcileError> {
        let rest: Vec<String> = network
            .finalizers()
            .iter()
            .filter(|f| *f != NETWORK_FINALIZER)
            .cloned()
            .collect();
        set_finalizers(api, &network.name_any(), network.resource_version(), rest).await?;
        Ok(None)
    }

    /// An Azure error that is the network's problem: `Stalled` with ARM's code, message and
    /// resource.
    async fn stalled(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        e: &AzureError,
    ) -> Result<Requeue, ReconcileError> {
        let stall = Stall {
            reason: e.reason().to_string(),
            message: e.to_string(),
        };
        self.stall(api, network, stall).await
    }

    /// Another AksNetwork, older, that manages the same Azure network.
    fn ownership_conflict(&self, network: &AksNetwork) -> Option<guards::Stall> {
        let all = self.networks.state();
        guards::ownership_conflict(network, all.iter().map(|n| n.as_ref()))
    }

    /// A problem of the network itself: `Stalled` (and a Warning) with what is wrong, nothing
    /// written, and a re-check that backs off from [`STALLED_RETRY`] to
    /// [`STALLED_RETRY_MAX`].
    async fn stall(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        stall: impl Into<Stall>,
    ) -> Result<Requeue, ReconcileError> {
        let Stall { reason, message } = stall.into();
        tracing::warn!(%reason, %message, "the network is stalled");
        self.publisher
            .event(network, EventType::Warning, &reason, &message)
            .await;
        let health = Health::Stalled { reason, message };
        self.write_network_status(api, network, health, None)
            .await?;
        let stalls = self.stalls.lock().map_or(0, |mut s| {
            *s += 1;
            *s
        });
        let wait =
            (STALLED_RETRY * 2u32.saturating_pow(stalls.saturating_sub(1))).min(STALLED_RETRY_MAX);
        Ok(Some(wait))
    }

    async fn write_network_status(
        &self,
        api: &Api<AksNetwork>,
        network: &AksNetwork,
        health: Health,
        plan: Option<(&Desired, &Observed)>,
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
        if let Some((desired, observed)) = plan {
            let public_ips = public_ip_status(desired, observed);
            let addresses: Vec<String> = public_ips
                .iter()
                .filter_map(|p| p.address.clone())
                .collect();
            new.public_ip_addresses = (!addresses.is_empty()).then(|| addresses.join(","));
            new.public_ips = public_ips;
            new.counts = Some(counts(desired, observed));
            new.azure = Some(resolved_ids(&network.spec, observed));
            if matches!(health, Health::Ready(_)) {
                new.last_sync_time = Some(Time(Timestamp::now()));
            }
        }
        let unchanged = old.observed_generation == new.observed_generation
            && status::same_conditions(&old.conditions, &new.conditions)
            && old.public_ips == new.public_ips
            && old.counts == new.counts
            && old.azure == new.azure
            && old.ip_plan == new.ip_plan;
        if unchanged {
            return Ok(());
        }
        // Server-side apply of the whole status aksnet writes: a field it leaves out now (a
        // NAT gateway no longer used, the last static IP removed) is removed, where a merge
        // patch would keep the old value; other writers' conditions stay (the list merges by
        // type).
        let body = json!({
            "apiVersion": AksNetwork::api_version(&()),
            "kind": AksNetwork::kind(&()),
            "metadata": {"name": network.name_any()},
            "status": new,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch_status(&network.name_any(), &params, &Patch::Apply(&body))
            .await?;
        Ok(())
    }
}

/// Why the network stops: a CamelCase reason and what is wrong.
struct Stall {
    reason: String,
    message: String,
}

impl From<guards::Stall> for Stall {
    fn from(s: guards::Stall) -> Self {
        Self {
            reason: s.reason.to_string(),
            message: s.message,
        }
    }
}

/// The spec's problems, if any, as one message.
fn invalid_spec(network: &AksNetwork) -> Option<String> {
    let problems = aksnet_crds::validate::validate(&network.spec);
    (!problems.is_empty()).then(|| {
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// What to read from Azure for this network and these Services. Only Services aksnet serves
/// (of `class`) add to it, and only with what the AksNetwork allows them: resource groups it
/// lists and public IP prefixes in them; each resource is named once, compared canonically.
fn observe_request(network: &AksNetwork, services: &[Service], class: &str) -> ObserveRequest {
    let spec = &network.spec;
    let lb = plan::load_balancer_spec(spec);
    let asked: Vec<annotations::Annotations> = services
        .iter()
        .filter(|s| plan::serves(s, class))
        .filter_map(|s| {
            let key = plan::service_key(s);
            annotations::parse(&key, s.annotations()).ok()
        })
        .collect();
    let mut groups: Vec<String> = asked
        .iter()
        .filter_map(|a| a.resource_group.clone())
        .filter(|g| plan::allows_group(spec, g))
        .collect();
    groups.sort_by_key(|g| g.to_ascii_lowercase());
    groups.dedup_by_key(|g| g.to_ascii_lowercase());
    let mut ip_prefixes: Vec<String> = asked
        .iter()
        .flat_map(|a| a.pip_prefix.values().cloned())
        .filter(|id| plan::allows_prefix(spec, id))
        .collect();
    ip_prefixes.sort_by_key(|p| canonical_id(p));
    ip_prefixes.dedup_by_key(|p| canonical_id(p));
    let vnet = &spec.azure.vnet;
    ObserveRequest {
        resource_group: spec.azure.resource_group.clone(),
        public_ip_groups: groups,
        load_balancers: [lb.public_name, lb.internal_name]
            .into_iter()
            .chain(lb.profiles.into_iter().map(|p| p.name))
            .collect(),
        security_group: spec.security_group.as_ref().map(|s| s.name.clone()),
        route_table: spec.route_table.as_ref().map(|r| r.name.clone()),
        vnet: Some((
            vnet.resource_group
                .clone()
                .unwrap_or_else(|| spec.azure.resource_group.clone()),
            vnet.name.clone(),
        )),
        node_subnet: Some(vnet.subnet_name.clone()),
        nat_gateways: nat_gateways(spec),
        private_link_groups: private_link_groups(spec, &asked),
        ip_prefixes,
        location: Some(spec.azure.location.clone()),
    }
}

/// The resource groups whose Private Link Services to read: the cluster's (where aksnet
/// makes them unless a Service names another) and those Services name that the AksNetwork
/// allows.
fn private_link_groups(
    spec: &aksnet_crds::AksNetworkSpec,
    asked: &[annotations::Annotations],
) -> Vec<String> {
    let mut groups: Vec<String> = asked
        .iter()
        .filter_map(|a| a.private_link.as_ref()?.resource_group.clone())
        .filter(|g| plan::allows_group(spec, g))
        .chain([spec.azure.resource_group.clone()])
        .collect();
    groups.sort_by_key(|g| g.to_ascii_lowercase());
    groups.dedup_by_key(|g| g.to_ascii_lowercase());
    groups
}

/// The NAT gateways egress looks at: the managed one (read whatever the outbound type, so one
/// left from an earlier type is found and removed) and the one `natGateway.id` names.
fn nat_gateways(spec: &aksnet_crds::AksNetworkSpec) -> Vec<String> {
    let az = &spec.azure;
    let ownership =
        crate::naming::Ownership::new(&az.subscription_id, &az.resource_group, &spec.cluster_name);
    let managed = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/natGateways/{}",
        az.subscription_id,
        az.resource_group,
        ownership.nat_gateway()
    );
    let named = spec
        .load_balancer
        .as_ref()
        .and_then(|lb| lb.nat_gateway.as_ref())
        .and_then(|n| n.id.clone());
    let mut out: Vec<String> = [Some(managed), named].into_iter().flatten().collect();
    out.sort_by_key(|id| canonical_id(id));
    out.dedup_by_key(|id| canonical_id(id));
    out
}

/// The ARM ids of what the network's spec names, as Azure has it now (absent while missing).
fn resolved_ids(spec: &aksnet_crds::AksNetworkSpec, observed: &Observed) -> ResolvedAzureIds {
    let az = &spec.azure;
    let id = |kind: &str, name: &str| {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/{kind}/{name}",
            az.subscription_id, az.resource_group
        )
    };
    let lb = plan::load_balancer_spec(spec);
    let load_balancer = |name: &str| {
        observed
            .load_balancer(name)
            .map(|l| id("loadBalancers", &l.name))
    };
    ResolvedAzureIds {
        public_load_balancer_id: load_balancer(&lb.public_name),
        internal_load_balancer_id: load_balancer(&lb.internal_name),
        security_group_id: observed
            .security_group
            .as_ref()
            .map(|n| id("networkSecurityGroups", &n.name)),
        route_table_id: observed
            .route_table
            .as_ref()
            .map(|r| id("routeTables", &r.name)),
        subnet_id: observed.node_subnet.as_ref().map(|s| s.id.clone()),
        nat_gateway_id: observed
            .node_subnet
            .as_ref()
            .and_then(|s| s.nat_gateway_id.clone()),
    }
}

/// The cluster's own public IPs as Azure reports them (not the ones made for Services, which
/// only [`counts`] counts: a status listing 10,000 of them would pass etcd's object size limit).
fn public_ip_status(desired: &Desired, observed: &Observed) -> Vec<PublicIpStatus> {
    let mut out: Vec<PublicIpStatus> = desired
        .public_ips
        .iter()
        .filter(|p| !made_for_service(p))
        .map(|p| PublicIpStatus {
            name: p.name.clone(),
            address: observed
                .public_ip(&p.resource_group, &p.name)
                .and_then(|o| o.address.clone()),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Whether aksnet made this public IP for a Service (its Service tag names it).
fn made_for_service(ip: &PublicIp) -> bool {
    tag(&ip.tags, TAG_SERVICE).is_some()
}

fn counts(desired: &Desired, observed: &Observed) -> ManagedCounts {
    let o = &desired.ownership;
    let (served, pending, rejected) = tally(desired);
    ManagedCounts {
        services: served as u32,
        rejected_services: rejected as u32,
        pending_services: pending as u32,
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
        service_public_ips: desired
            .public_ips
            .iter()
            .filter(|p| made_for_service(p))
            .count() as u32,
    }
}

/// Reason of `Stalled` while egress is not as the spec asks.
const EGRESS_NOT_READY: &str = "EgressNotReady";

/// What keeps egress from being as the spec asks (a NAT gateway that is missing, not
/// associated, or a gateway of someone else's on the subnet): a person must act.
fn egress_problem(desired: &Desired) -> Option<String> {
    desired
        .errors
        .iter()
        .find(|e| {
            e.object == "spec.loadBalancer.outboundType"
                || e.object.starts_with("spec.loadBalancer.natGateway")
        })
        .map(ToString::to_string)
}

fn summary(desired: &Desired) -> String {
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for o in desired.services.values() {
        let k = match o {
            plan::ServiceOutcome::Planned { .. } => "served",
            plan::ServiceOutcome::Waiting { .. } => "waiting",
            plan::ServiceOutcome::Rejected { .. } => "rejected",
            plan::ServiceOutcome::Released => continue,
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

/// The operations, as [`listing`] lists them.
fn describe(ops: &[Op]) -> String {
    listing(ops.iter().map(Op::describe))
}

/// Most items a condition message, Event or log line names one by one.
const LISTED: usize = 20;

/// The first [`LISTED`] items, comma-separated, then how many more: a burst of thousands of
/// writes still makes a readable condition, Event and log line.
fn listing(items: impl ExactSizeIterator<Item = impl AsRef<str>>) -> String {
    let total = items.len();
    let mut out = items
        .take(LISTED)
        .map(|i| i.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if total > LISTED {
        out.push_str(&format!(" and {} more", total - LISTED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_names_twenty_then_counts_the_rest() {
        assert_eq!(listing(["a", "b", "c"].iter()), "a, b, c");
        let many: Vec<String> = (0..10_000)
            .map(|i| format!("put publicIPAddress ip-{i}"))
            .collect();
        let text = listing(many.iter());
        assert!(text.starts_with("put publicIPAddress ip-0, put publicIPAddress ip-1,"));
        assert!(
            text.ends_with("put publicIPAddress ip-19 and 9980 more"),
            "{text}"
        );
        assert_eq!(listing(Vec::<String>::new().iter()), "");
    }
}
