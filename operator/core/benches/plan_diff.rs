//! Benchmark of plan + diff on 1,000 nodes: 100, 1,000 and 5,000 LoadBalancer Services on one
//! public load balancer with the cluster NSG (`plan+diff`), and 10,000 Services spread over up
//! to 20 public load balancers (`loadBalancer.maxCount`) without an NSG (`several-lbs`: one
//! NSG holds 1,000 rules, and NSG rule packing is not there yet). Each measures the first
//! reconcile (nothing in Azure yet) and the steady state (Azure already converged, zero
//! operations expected), and prints allocations per run next to criterion's timings.
//!
//! Run with `cargo bench -p aksnet-operator --bench plan_diff`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::alloc::System;
use std::hint::black_box;

use aksnet_core::diff::diff;
use criterion::{BenchmarkId, Criterion, criterion_main};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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
    let several = network_with(json!({
        "networkModel": "azureCni", "ipPlan": {"podCidr": null}, "routeTable": null,
        "securityGroup": null, "loadBalancer": {"maxCount": 20}
    }));
    run_group(c, "several-lbs", &several, pick(&[10_000], &[1300]));
}

/// One benchmark group: `sizes` Services with two ports each on `net`.
fn run_group(c: &mut Criterion, name: &str, net: &aksnet_crds::AksNetworkSpec, sizes: &[usize]) {
    let net = net.clone();
    let nodes = nodes(NODES);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for &n in sizes {
        let services: Vec<_> = (0..n)
            .map(|i| {
                service(
                    &format!("svc-{i:05}"),
                    i as i64,
                    &[
                        (80, 30000 + (i % 2000) as u16),
                        (443, 32000 + (i % 700) as u16),
                    ],
                )
            })
            .collect();
        let first = observed_base();
        let (steady, _, _) = converge(&net, &services, &nodes, first.clone(), 4);
        for (label, observed) in [("first", &first), ("steady", &steady)] {
            let region = Region::new(GLOBAL);
            let desired = plan_with(&net, &services, &nodes, observed);
            let ops = diff(&desired, observed);
            let stats = region.change();
            let rejected = desired
                .services
                .values()
                .filter(|o| matches!(o, aksnet_core::plan::ServiceOutcome::Rejected { .. }))
                .count();
            let lbs = desired.load_balancers.values().flatten().count();
            println!(
                "{label:>6} {n:>5} services x {NODES} nodes: {} ops, {lbs} load balancers, {rejected} rejected (Azure limits), {} allocations, {:.1} MiB allocated",
                ops.len(),
                stats.allocations,
                stats.bytes_allocated as f64 / (1024.0 * 1024.0)
            );
            let planned = plan_with(&net, &services, &nodes, observed);
            group.bench_with_input(
                BenchmarkId::new(format!("{label}/diff-only"), n),
                observed,
                |b, observed| b.iter(|| black_box(diff(black_box(&planned), observed))),
            );
            group.bench_with_input(BenchmarkId::new(label, n), observed, |b, observed| {
                b.iter(|| {
                    let desired = plan_with(&net, black_box(&services), &nodes, observed);
                    black_box(diff(&desired, observed))
                })
            });
        }
    }
    group.finish();
}

/// Criterion's generated entry points.
mod harness {
    #![allow(missing_docs)]
    use super::bench;
    use criterion::criterion_group;
    criterion_group!(benches, bench);
}

criterion_main!(harness::benches);
