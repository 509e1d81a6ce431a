//! Prometheus metrics, with controller-runtime's names where one exists, and the standard
//! `process_*` ones.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an ARM call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmCall {
    /// Resource type, e.g. `loadBalancers`.
    pub resource: String,
    /// HTTP verb.
    pub verb: String,
    /// HTTP status code (`error` when no response came back).
    pub code: String,
}

/// Labels of a reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `controller` label, as controller-runtime.
    pub controller: String,
    /// `success`, `error` or `requeue`.
    pub result: String,
}

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    /// `controller` label.
    pub controller: String,
}

/// Labels of a pass's plan.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlanAnswer {
    /// `kept` (the inputs were the last pass's: its plan again) or `planned`.
    pub answer: String,
}

/// Every metric the operator exports.
#[derive(Debug)]
pub struct Metrics {
    /// `aksnet_arm_requests_total{resource,verb,code}`.
    pub arm_requests: Family<ArmCall, Counter>,
    /// `aksnet_arm_request_duration_seconds{resource,verb,code}`.
    pub arm_duration: Family<ArmCall, Histogram>,
    /// `controller_runtime_reconcile_total{controller,result}`.
    pub reconcile_total: Family<Outcome, Counter>,
    /// `controller_runtime_reconcile_errors_total{controller}`.
    pub reconcile_errors: Family<ControllerLabel, Counter>,
    /// `controller_runtime_reconcile_time_seconds{controller}`.
    pub reconcile_time: Family<ControllerLabel, Histogram>,
    /// `aksnet_plans_total{answer}`: passes planned afresh, or answered by the kept plan.
    pub plans: Family<PlanAnswer, Counter>,
    /// `aksnet_arm_writes_planned` of the last reconcile.
    pub planned_writes: Gauge,
    /// `aksnet_services_rejected` in the last plan.
    pub rejected_services: Gauge,
    /// `aksnet_leader`: 1 while this replica leads (or runs without election), else 0.
    pub leader: Gauge,
    /// `aksnet_leader_transitions_total`: times this replica became the leader.
    pub leader_transitions: Counter,
    /// `aksnet_network_present`: 1 once the configured AksNetwork exists, else 0.
    pub network_present: Gauge,
    /// `aksnet_arm_writes_fenced_total`: writes not sent because leadership had ended.
    pub writes_fenced: Counter,
}

fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Metrics {
    /// Metrics registered in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            arm_requests: Family::default(),
            arm_duration: Family::new_with_constructor(histogram),
            reconcile_total: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_time: Family::new_with_constructor(histogram),
            plans: Family::default(),
            planned_writes: Gauge::default(),
            rejected_services: Gauge::default(),
            leader: Gauge::default(),
            leader_transitions: Counter::default(),
            network_present: Gauge::default(),
            writes_fenced: Counter::default(),
        };
        registry.register(
            "aksnet_arm_requests",
            "ARM requests by resource type, verb and status code",
            m.arm_requests.clone(),
        );
        registry.register(
            "aksnet_arm_request_duration_seconds",
            "ARM request latency",
            m.arm_duration.clone(),
        );
        registry.register(
            "controller_runtime_reconcile",
            "Reconciles by result",
            m.reconcile_total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Reconcile errors",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Reconcile duration",
            m.reconcile_time.clone(),
        );
        registry.register(
            "aksnet_plans",
            "Passes of the apply engine, planned afresh or answered by the kept plan (inputs unchanged)",
            m.plans.clone(),
        );
        registry.register(
            "aksnet_arm_writes_planned",
            "Azure writes the last reconcile planned",
            m.planned_writes.clone(),
        );
        registry.register(
            "aksnet_services_rejected",
            "LoadBalancer Services rejected by the last plan",
            m.rejected_services.clone(),
        );
        registry.register(
            "aksnet_leader",
            "1 while this replica leads and writes to Azure, 0 while it stands by",
            m.leader.clone(),
        );
        registry.register(
            "aksnet_leader_transitions",
            "Times this replica became the leader",
            m.leader_transitions.clone(),
        );
        registry.register(
            "aksnet_network_present",
            "1 once the AksNetwork the operator manages exists, 0 while it waits for it",
            m.network_present.clone(),
        );
        registry.register(
            "aksnet_arm_writes_fenced",
            "Azure writes not sent because this replica's leadership had ended",
            m.writes_fenced.clone(),
        );
        registry.register_collector(Box::new(crate::process::ProcessCollector));
        m
    }
}
