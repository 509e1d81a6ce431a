//! Benchmark of plan + diff on 1,000 nodes: 100, 1,000 and 5,000 LoadBalancer Services on one
//! public load balancer with the cluster NSG (`plan+diff`), and 10,000 Services spread over up
//! to 20 public load balancers (`loadBalancer.maxCount`) without an NSG (`several-lbs`: one NSG
//! admits at most 4,000 destination addresses, so 10,000 public Services cannot all have NSG
//! rules). Each measures the first reconcile (nothing in Azure yet), the steady state (Azure
//! already converged, zero operations expected) and one Service edited in the steady state
//! (`one-edited`: one of its ports changed, what an incremental planner would plan alone), and
//! prints the operations and load balancers next to criterion's timings; `fingerprint` times
//! the operator's fingerprint of the plan. It allocates with mimalloc, as the operator does.
//!
//! Each case is timed as the operator's pass makes it, through the kept plan
//! (`aksnet_core::memo`; Services and Nodes carry a `uid` and `resourceVersion`, as the API
//! server hands them out), and as a plan and diff made afresh (`<case>/full`): `first` starts
//! each pass with an empty memo, `steady` passes the same inputs again, `one-edited` passes the
//! edited and the steady inputs in turn (so every pass plans again).
//!
//! Run with `cargo bench -p aksnet-core --bench plan_diff`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use aksnet_core::diff::diff;
use aksnet_core::memo::Memo;
use aksnet_core::plan::{Holds, Limits, PlanInput};
use criterion::{BenchmarkId, Criterion, criterion_main};
use mimalloc::MiMalloc;
use serde_json::json;
use support::*;

/// The operator's allocator.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const NODES: usize = 1000;

fn bench(c: &mut Criterion) {
    // `cargo test` runs each benchmark once, unoptimised: small sizes there, which still
    // grow past one load balancer.
    let measuring = std::env::args().any(|a| a == "--bench");
    let pick = |full: &'static [usize], test: &'static [usize]| if measuring { full } else { test };
    // Azure CNI: 1,000 nodes would not fit kubenet's route table.
    let one = network_with(
        json!({"networkModel": "azureCni", "ipPlan": {"podCidr": null}, "routeTable": null}),
    );
    run_group(c, "plan+diff", &one, pick(&[100, 1000, 5000], &[100]));
    run_group(
        c,
        "several-lbs",
        &several_lbs_network(),
        pick(&[10_000], &[1300]),
    );
}

/// One benchmark group: `sizes` Services with two ports each on `net`.
fn run_group(c: &mut Criterion, name: &str, net: &aksnet_crds::AksNetworkSpec, sizes: &[usize]) {
    let net = net.clone();
    let mut nodes = nodes(NODES);
    for node in &mut nodes {
        node.metadata.uid = node.metadata.name.as_deref().map(uid);
    }
    let nodes = versioned(nodes);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for &n in sizes {
        let services = versioned(bench_services(n));
        let first = observed_base();
        let (steady, _, _) = converge(&net, &services, &nodes, first.clone(), 4);
        let mut edited = services.clone();
        let middle = &mut edited[n / 2];
        *middle = with(
            middle.clone(),
            json!({"spec": {"ports": [
                {"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 30080},
                {"name": "p8443", "port": 8443, "protocol": "TCP", "nodePort": 30443}
            ]}, "metadata": {"resourceVersion": "2"}}),
        );
        let steady_services = services.clone();
        let (holds, labels) = (Holds::default(), Default::default());
        for (label, services, observed) in [
            ("first", &services, &first),
            ("steady", &services, &steady),
            ("one-edited", &edited, &steady),
        ] {
            let desired = plan_with(&net, services, &nodes, observed);
            let ops = diff(&desired, observed);
            let rejected = desired
                .services
                .values()
                .filter(|o| matches!(o, aksnet_core::plan::ServiceOutcome::Rejected { .. }))
                .count();
            let lbs = desired.load_balancers.values().flatten().count();
            println!(
                "{label:>6} {n:>5} services x {NODES} nodes: {} ops, {lbs} load balancers, {rejected} rejected (Azure limits)",
                ops.len(),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("{label}/diff-only"), n),
                observed,
                |b, observed| b.iter(|| black_box(diff(black_box(&desired), observed))),
            );
            // The operator's fingerprint of each plan (drift repair or change).
            group.bench_with_input(
                BenchmarkId::new(format!("{label}/fingerprint"), n),
                &desired,
                |b, desired| b.iter(|| black_box(desired.wanted_fingerprint())),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("{label}/full"), n),
                observed,
                |b, observed| {
                    b.iter(|| {
                        let desired = plan_with(&net, black_box(services), &nodes, observed);
                        black_box(diff(&desired, observed))
                    })
                },
            );
            let input = |services| PlanInput {
                network: &net,
                services,
                nodes: &nodes,
                observed,
                load_balancer_class: CLASS,
                limits: Limits::default(),
                holds: &holds,
                namespace_labels: &labels,
            };
            let (this, other) = (input(services), input(&steady_services));
            group.bench_function(BenchmarkId::new(label, n), |b| match label {
                "first" => b.iter(|| black_box(Memo::default().plan(black_box(&this)))),
                "steady" => {
                    let mut memo = Memo::default();
                    memo.plan(&this);
                    b.iter(|| black_box(memo.plan(black_box(&this))))
                }
                _ => {
                    let (mut memo, mut turn) = (Memo::default(), false);
                    b.iter(|| {
                        turn = !turn;
                        black_box(memo.plan(black_box(if turn { &this } else { &other })))
                    })
                }
            });
        }
    }
    group.finish();
}

/// Objects as the API server hands them out: with a `resourceVersion`.
fn versioned<K>(mut objects: Vec<K>) -> Vec<K>
where
    K: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
{
    for o in &mut objects {
        o.metadata_mut().resource_version = Some("1".into());
    }
    objects
}

/// Criterion's generated entry points.
mod harness {
    #![allow(missing_docs)]
    use super::bench;
    use criterion::criterion_group;
    criterion_group!(benches, bench);
}

criterion_main!(harness::benches);
