//! Properties of the apply engine over generated clusters, against Azure simulated in memory
//! (`aksnet_core::simulate`, with writes that take random times): the pipelined engine reaches
//! the same Azure state as one write at a time (unless a limit binds where Azure refuses a
//! Service: then the room goes to whichever Azure served first), a Service Azure refuses costs
//! only itself, and a second run writes nothing.

#[path = "../core/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aksnet_operator::annotations as a;
use aksnet_operator::apply::{Engine, Report, Settings};
use aksnet_operator::azure::{AzureError, AzurePort, Fault, ObserveRequest};
use aksnet_operator::diff::Op;
use aksnet_operator::memo::{Memo, Planned};
use aksnet_operator::model::{Applied, Observed};
use aksnet_operator::plan::{Holds, Limits, PlanInput, ServiceOutcome};
use k8s_openapi::api::core::v1::Service;
use proptest::prelude::*;
use support::worlds::{World, world_strategy};
use support::*;

/// The DNS label that "another subscription" holds: Azure refuses any public IP that asks
/// for it, and the plan cannot see that coming.
const TAKEN: &str = "taken-elsewhere";

/// Azure in memory: every write takes a pseudo-random time, and writes `refuse` answers for
/// are refused with that answer.
struct SimAzure {
    state: Mutex<Observed>,
    seed: u64,
    calls: AtomicU64,
    writes: AtomicUsize,
    /// Writes in flight now, and at most.
    inflight: AtomicUsize,
    peak: AtomicUsize,
    refuse: fn(&Op) -> Option<Fault>,
}

/// Public IPs asking for [`TAKEN`] are refused, as Azure does.
fn taken_label(op: &Op) -> Option<Fault> {
    match op {
        Op::PutPublicIp(p) if p.dns_label.as_deref() == Some(TAKEN) => Some(Fault {
            code: "DnsRecordInUse".into(),
            message: format!(
                "DNS record {TAKEN}.westeurope.cloudapp.azure.com is already used by another public IP."
            ),
            resource: p.name.clone(),
        }),
        _ => None,
    }
}

impl SimAzure {
    fn new(observed: Observed, seed: u64, refuse: fn(&Op) -> Option<Fault>) -> Self {
        Self {
            state: Mutex::new(observed),
            seed,
            calls: AtomicU64::new(0),
            writes: AtomicUsize::new(0),
            inflight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refuse,
        }
    }

    fn state(&self) -> Observed {
        self.state.lock().expect("state").clone()
    }
}

impl AzurePort for SimAzure {
    async fn observe(&self, _: &ObserveRequest) -> Result<Observed, AzureError> {
        Ok(self.state())
    }

    async fn apply(&self, op: &Op) -> Result<Applied, AzureError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let now = self.inflight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if self.seed != 0 {
            let mut x = self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            x ^= x >> 31;
            tokio::time::sleep(Duration::from_millis(1 + x % 40)).await;
        }
        self.inflight.fetch_sub(1, Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
        if let Some(fault) = (self.refuse)(op) {
            return Err(AzureError::Invalid(fault));
        }
        let mut state = self.state.lock().expect("state");
        aksnet_operator::simulate::apply_op(&mut state, op).map_err(|e| {
            AzureError::Invalid(Fault {
                code: "InvalidResourceReference".into(),
                message: e.to_string(),
                resource: op.describe(),
            })
        })
    }
}

/// Run the engine to the end over `services`, with writes in flight at most `concurrent`.
fn run(w: &World, services: &[Service], seed: u64, concurrent: usize) -> (Report, Observed, usize) {
    run_with(w, services, seed, concurrent, taken_label)
}

/// [`run`] against an Azure that refuses what `refuse` says.
fn run_with(
    w: &World,
    services: &[Service],
    seed: u64,
    concurrent: usize,
    refuse: fn(&Op) -> Option<Fault>,
) -> (Report, Observed, usize) {
    let (report, azure) = run_engine(w, services, seed, concurrent, refuse);
    let writes = azure.writes.load(Ordering::Relaxed);
    (report, azure.state(), writes)
}

/// [`run_with`], answering with the simulated Azure itself.
fn run_engine(
    w: &World,
    services: &[Service],
    seed: u64,
    concurrent: usize,
    refuse: fn(&Op) -> Option<Fault>,
) -> (Report, Arc<SimAzure>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let azure = Arc::new(SimAzure::new(w.observed.clone(), seed, refuse));
    let engine = Engine::new(
        azure.clone(),
        Settings {
            max_concurrent_writes: concurrent,
            pass_interval: Duration::from_millis(50),
            ..Settings::default()
        },
    );
    let memo = Mutex::new(Memo::default());
    let report = runtime.block_on(engine.run(
        w.observed.clone(),
        BTreeMap::new(),
        planner(w, services, &memo),
        || {
            let azure = azure.clone();
            async move { azure.observe(&ObserveRequest::default()).await }
        },
        async |_| {},
    ));
    (report, azure)
}

/// The engine's plan as the reconciler makes it: through a memo of the last pass.
fn planner<'a>(
    w: &'a World,
    services: &'a [Service],
    memo: &'a Mutex<Memo>,
) -> impl Fn(&Observed, &Holds) -> Arc<Planned> + 'a {
    move |observed, holds| {
        memo.lock().expect("memo").plan(&PlanInput {
            network: &w.network,
            services,
            nodes: &w.nodes,
            observed,
            load_balancer_class: CLASS,
            limits: w.limits,
            holds,
            namespace_labels: &Default::default(),
        })
    }
}

/// Azure's state with what the order of writes may change cleared: entity tags, list order,
/// the NSG priorities of Services (given in the order they became ready), and unused public
/// IPs of Services rejected in the end (`outcomes`). A Service's public IPs are written side
/// by side, so one family's may land before Azure refuses the other's; and a Service waiting
/// for its public IP may lose its room to an older one that a refusal of a third lets in, after
/// its public IP landed or before, as the writes fall. Either is kept for when it is served.
fn canonical(observed: &Observed, outcomes: &BTreeMap<String, ServiceOutcome>) -> String {
    let mut o = observed.clone();
    let rejected = |s: &String| matches!(outcomes.get(s), Some(ServiceOutcome::Rejected { .. }));
    o.public_ips.retain(|p| {
        p.used_by.is_some()
            || !p
                .tags
                .get(aksnet_operator::naming::TAG_SERVICE)
                .is_some_and(rejected)
    });
    o.public_ips.sort_by_key(|p| p.name.to_ascii_lowercase());
    for p in &mut o.public_ips {
        p.etag = None;
    }
    o.load_balancers
        .sort_by_key(|l| l.name.to_ascii_lowercase());
    for lb in &mut o.load_balancers {
        lb.etag = None;
        lb.frontends.sort_by_key(|c| c.name.to_ascii_lowercase());
        lb.rules.sort_by_key(|c| c.name.to_ascii_lowercase());
        lb.probes.sort_by_key(|c| c.name.to_ascii_lowercase());
        lb.backend_pools
            .sort_by_key(|c| c.name.to_ascii_lowercase());
        lb.outbound_rules
            .sort_by_key(|c| c.name.to_ascii_lowercase());
    }
    if let Some(nsg) = &mut o.security_group {
        nsg.etag = None;
        nsg.rules.sort_by_key(|c| c.name.to_ascii_lowercase());
        let ours = aksnet_operator::naming::Ownership::new(SUB, RG, "aks");
        for r in nsg.rules.iter_mut().filter(|r| ours.owns_child(&r.name)) {
            r.priority = 0;
        }
    }
    if let Some(rt) = &mut o.route_table {
        rt.etag = None;
        rt.routes.sort_by_key(|c| c.name.to_ascii_lowercase());
    }
    format!("{o:#?}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn pipelined_apply_reaches_the_sequential_state(
        w in world_strategy(),
        poisoned in prop::collection::btree_set(0usize..10, 0..3),
        seed in 1u64..u64::MAX,
    ) {
        // Some Services ask for a DNS label Azure refuses.
        let services: Vec<Service> = w.services.iter().enumerate().map(|(i, s)| {
            let internal = s.metadata.annotations.as_ref().is_some_and(|m| m.contains_key(a::INTERNAL) || m.contains_key(a::PIP_NAME));
            if poisoned.contains(&i) && !internal {
                annotated(s.clone(), a::DNS_LABEL, TAKEN)
            } else {
                s.clone()
            }
        }).collect();
        let (seq, seq_state, seq_writes) = run(&w, &services, 0, 1);
        let (pipe, pipe_state, _) = run(&w, &services, seed, 8);
        for (name, report) in [("sequential", &seq), ("pipelined", &pipe)] {
            prop_assert!(report.error.is_none(), "{name}: {:?}", report.error);
            prop_assert!(report.planned.ops.is_empty(), "{name} left {:?}", report.planned.ops.iter().map(Op::describe).collect::<Vec<_>>());
        }
        // Where a limit binds and Azure refuses a Service, who has the room depends on when
        // writes land: a refusal lets in an older Service the limit held out, and a younger
        // one Azure served already keeps its room (it is never pushed out), while one not
        // served yet gives it up. Everywhere else the end state is the same.
        let limited = |r: &Report| r.planned.desired.services.values().any(|o| matches!(o, ServiceOutcome::Rejected { errors } if errors.iter().any(|e| e.problem.reason() == "AzureLimitReached")));
        let refused = !seq.refused.is_empty() || !pipe.refused.is_empty();
        if !(refused && (limited(&seq) || limited(&pipe))) {
            let (a, b) = (canonical(&seq_state, &seq.planned.desired.services), canonical(&pipe_state, &pipe.planned.desired.services));
            if a != b {
                let only = |x: &str, y: &str| x.lines().filter(|l| !y.lines().any(|m| m == *l)).collect::<Vec<_>>().join("\n");
                return Err(TestCaseError::fail(format!("states differ:\nsequential only:\n{}\npipelined only:\n{}\noutcomes {:#?}", only(&a, &b), only(&b, &a), pipe.planned.desired.services)));
            }
            prop_assert_eq!(&seq.planned.desired.services, &pipe.planned.desired.services);
        }

        // Azure's refusal costs the refused Service only: every other one is served as the
        // plan alone would serve it.
        for (key, outcome) in &pipe.planned.desired.services {
            let refused = pipe.refused.contains_key(key);
            let asked_taken = services.iter().any(|s| plan_key(s) == *key
                && s.metadata.annotations.as_ref().and_then(|m| m.get(a::DNS_LABEL)).is_some_and(|l| l == TAKEN));
            // Refused by Azure only for what Azure refuses; never served with it (a second
            // Service asking for the same label is refused by the plan already).
            prop_assert!(!refused || asked_taken, "{} refused for nothing", key);
            prop_assert!(!asked_taken || matches!(outcome, ServiceOutcome::Rejected { .. }), "{} served with a refused label", key);
            if let ServiceOutcome::Rejected { errors } = outcome && refused {
                prop_assert_eq!(errors[0].problem.reason(), "DnsRecordInUse");
            }
        }

        // NSG priorities stay unique whatever the order of passes.
        if let Some(nsg) = &pipe_state.security_group {
            let mut seen = std::collections::BTreeSet::new();
            for r in &nsg.rules {
                prop_assert!(seen.insert((r.direction, r.priority)), "priority {} twice", r.priority);
            }
        }

        // Steady state: a second run over what Azure now holds writes nothing (the refusals
        // remembered by the reconciler are passed in, as it does).
        let again = World { observed: seq_state, ..w.clone() };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("rt");
        let azure = Arc::new(SimAzure::new(again.observed.clone(), 0, taken_label));
        let memo = Mutex::new(Memo::default());
        let report = runtime.block_on(Engine::new(azure.clone(), Settings::default()).run(
            again.observed.clone(),
            seq.refused.clone(),
            planner(&again, &services, &memo),
            || { let azure = azure.clone(); async move { azure.observe(&ObserveRequest::default()).await } },
            async |_| {},
        ));
        prop_assert!(report.applied.is_empty(), "steady state wrote {:?}", report.applied);
        prop_assert!(seq_writes >= report.applied.len());
    }
}

/// A load balancer write holding a rule for port 6666 is refused with a message that names
/// nothing, as some of ARM's internal errors do.
fn port_6666(op: &Op) -> Option<Fault> {
    match op {
        Op::PutLoadBalancer(lb) if lb.rules.iter().any(|r| r.frontend_port == 6666) => {
            Some(Fault {
                code: "InvalidRequestContent".into(),
                message: "The request content was invalid and could not be deserialized.".into(),
                resource: lb.name.clone(),
            })
        }
        _ => None,
    }
}

#[test]
fn a_refusal_that_names_no_one_is_narrowed_down_to_its_service() {
    let mut services: Vec<Service> = (0..7)
        .map(|i| service(&format!("good{i}"), i, &[(80 + i as u16, 30080 + i as u16)]))
        .collect();
    services.insert(3, service("bad", 3, &[(6666, 31666)]));
    let w = World {
        services: services.clone(),
        nodes: nodes(2),
        observed: observed_base(),
        limits: Default::default(),
        network: network(),
    };
    let (report, state, writes) = run_with(&w, &services, 7, 8, port_6666);
    assert!(report.planned.ops.is_empty(), "{:?}", report.planned.ops);
    let ServiceOutcome::Rejected { errors } = &report.planned.desired.services["default/bad"]
    else {
        panic!(
            "the bad Service is rejected: {:?}",
            report.planned.desired.services
        );
    };
    assert_eq!(errors[0].problem.reason(), "InvalidRequestContent");
    for i in 0..7 {
        assert!(
            matches!(
                report.planned.desired.services[&format!("default/good{i}")],
                ServiceOutcome::Planned { .. }
            ),
            "good{i} is served"
        );
    }
    let lb = state.load_balancer("kubernetes").expect("LB");
    assert_eq!(lb.rules.len(), 7, "every good Service's rule is in Azure");
    // 9 public IPs (8 Services, the outbound one) and a few LB and NSG writes: narrowing 8
    // suspects costs about log2(8) refused writes.
    assert!(writes <= 9 + 10, "{writes} writes");
}

fn plan_key(svc: &Service) -> String {
    aksnet_operator::plan::service_key(svc)
}

/// A node change rewrites the pool of every load balancer: the puts of one pass go out
/// together (as many as `max_concurrent_writes` lets), so the change takes one write's time,
/// not one per load balancer; with one write in flight at most, they go one at a time.
#[test]
fn a_node_change_writes_the_load_balancers_of_a_pass_together() {
    let services = bench_services(6);
    let mut w = World {
        services: services.clone(),
        nodes: nodes(3),
        observed: observed_base(),
        // Two frontends a load balancer (the outbound IP takes one on the first): four.
        limits: Limits {
            frontends_per_load_balancer: 2,
            ..Limits::default()
        },
        network: several_lbs_network(),
    };
    let (report, azure) = run_engine(&w, &services, 7, 8, taken_label);
    assert!(report.planned.ops.is_empty(), "{:?}", report.planned.ops);
    w.observed = azure.state();
    let lbs = w.observed.load_balancers.len();
    assert_eq!(lbs, 4, "load balancers");
    w.nodes = nodes(4);
    let added = w.nodes[3].metadata.name.clone().expect("node name");
    for (concurrent, together) in [(8, lbs), (2, 2), (1, 1)] {
        let (report, azure) = run_engine(&w, &services, 7, concurrent, taken_label);
        assert!(report.planned.ops.is_empty(), "{:?}", report.planned.ops);
        assert_eq!(
            azure.writes.load(Ordering::Relaxed),
            lbs,
            "one put per load balancer"
        );
        assert_eq!(
            azure.peak.load(Ordering::Relaxed),
            together,
            "{concurrent} at most"
        );
        for lb in azure.state().load_balancers {
            let pool = &lb.backend_pools[0].addresses;
            assert!(
                pool.iter().any(|a| a.name == added),
                "{} lacks {added}",
                lb.name
            );
        }
    }
}

/// Azure's rule limit of an NSG, lowered to three rules.
fn three_nsg_rules(op: &Op) -> Option<Fault> {
    match op {
        Op::PutSecurityGroup(nsg) if nsg.rules.len() > 3 => Some(Fault {
            code: "SecurityRuleCountLimitReached".into(),
            message: "A security group cannot have more than 3 security rules.".into(),
            resource: nsg.name.clone(),
        }),
        _ => None,
    }
}

/// The NSG keeps the room of the Services served there: an older Service growing at the
/// NSG's rule limit is rejected by the plan, the younger served one keeps its rule, and no
/// NSG write Azure would refuse is sent.
#[test]
fn a_service_growing_past_the_nsg_rule_limit_is_rejected_and_the_served_one_keeps_its_rule() {
    let (w, rules_before) = full_nsg();
    let [older, younger] = [0, 1].map(|i| w.services[i].clone());
    // The older Service now asks for a rule of its own sources and a deny rule.
    let grown = annotated(
        with(
            older,
            serde_json::json!({"spec": {"loadBalancerSourceRanges": ["10.0.0.0/8"]}}),
        ),
        a::DENY_ALL_EXCEPT_SOURCE_RANGES,
        "true",
    );
    let (report, state, _) = run_with(&w, &[grown, younger], 3, 4, three_nsg_rules);
    let ServiceOutcome::Rejected { errors } = &report.planned.desired.services["default/older"]
    else {
        panic!(
            "the growing Service is rejected: {:?}",
            report.planned.desired.services
        );
    };
    assert_eq!(errors[0].problem.reason(), "AzureLimitReached");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert!(
        matches!(
            report.planned.desired.services["default/younger"],
            ServiceOutcome::Planned { .. }
        ),
        "the younger Service is served: {:?}",
        report.planned.desired.services["default/younger"]
    );
    // Azure's NSG as it was: both Services' rules, nothing over the limit.
    assert_eq!(state.security_group.expect("NSG").rules, rules_before);
}

/// A Service rejected for an edit that cannot be read keeps its rule and its room in a full
/// NSG: the Service arriving is rejected by the plan, and no NSG write Azure would refuse is
/// sent.
#[test]
fn a_service_arriving_never_takes_the_nsg_room_of_one_rejected_for_a_typo() {
    let (w, rules_before) = full_nsg();
    let broken = annotated(w.services[0].clone(), a::IDLE_TIMEOUT, "forever");
    let arriving = service("arriving", 3, &[(82, 30082)]);
    let services = [broken, w.services[1].clone(), arriving];
    let (report, state, _) = run_with(&w, &services, 3, 4, three_nsg_rules);
    let outcome = |name: &str| &report.planned.desired.services[&format!("default/{name}")];
    let ServiceOutcome::Rejected { errors } = outcome("arriving") else {
        panic!(
            "the arriving Service is rejected: {:?}",
            outcome("arriving")
        );
    };
    assert_eq!(errors[0].problem.reason(), "AzureLimitReached");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert!(
        matches!(outcome("older"), ServiceOutcome::Rejected { .. })
            && matches!(outcome("younger"), ServiceOutcome::Planned { .. }),
        "{:?}",
        report.planned.desired.services
    );
    // Azure's NSG as it was, and no public IP made for the arriving Service.
    assert_eq!(state.security_group.expect("NSG").rules, rules_before);
    assert_eq!(state.public_ips.len(), w.observed.public_ips.len());
}

/// Two Services served, `older` (port 80) and `younger` (port 81), on an NSG full at three
/// rules (others' rule and one packed rule each); the world as Azure is then, and the NSG's
/// rules.
fn full_nsg() -> (World, Vec<aksnet_operator::model::SecurityRule>) {
    let mut w = World {
        services: vec![
            service("older", 1, &[(80, 30080)]),
            service("younger", 2, &[(81, 30081)]),
        ],
        nodes: nodes(1),
        observed: observed_base(),
        limits: Limits {
            rules_per_security_group: 3,
            ..Limits::default()
        },
        network: network(),
    };
    let (report, state, _) = run_with(&w, &w.services, 3, 4, three_nsg_rules);
    assert!(report.planned.ops.is_empty(), "{:?}", report.planned.ops);
    let rules = state.security_group.as_ref().expect("NSG").rules.clone();
    assert_eq!(rules.len(), 3);
    w.observed = state;
    (w, rules)
}
