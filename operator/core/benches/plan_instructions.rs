//! The instructions of one steady-state plan + diff of the `several-lbs` case of `plan_diff`
//! (Services with two ports each over up to 20 load balancers, 1,000 nodes), counted by
//! valgrind's callgrind: unlike a timing, the count does not move with the machine's load, so
//! two versions of the code compare on any day. `make bench-instructions` runs it; the count
//! and each function's share are those of [`measure`] alone (`--toggle-collect`), the setup
//! (converging Azure) left out.
//!
//! `AKSNET_BENCH_SERVICES` sets the Services (2,000 by default: the per-Service work is the
//! same as at 10,000, and the run takes seconds instead of minutes under valgrind). Under
//! `cargo test` it runs once on 100 Services, unoptimised, as a check that it still works.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use aksnet_core::diff::diff;
use aksnet_core::model::Observed;
use aksnet_crds::AksNetworkSpec;
use k8s_openapi::api::core::v1::{Node, Service};
use mimalloc::MiMalloc;
use support::*;

/// The operator's allocator.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let n = match std::env::var("AKSNET_BENCH_SERVICES") {
        Err(_) => {
            if measuring {
                2000
            } else {
                100
            }
        }
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("AKSNET_BENCH_SERVICES: {v:?} is not a positive number of Services");
                std::process::exit(2);
            }
        },
    };
    let net = several_lbs_network();
    let nodes = nodes(1000);
    let services = bench_services(n);
    let (steady, _, _) = converge(&net, &services, &nodes, observed_base(), 4);
    let ops = measure(&net, &services, &nodes, &steady);
    assert_eq!(ops, 0, "the steady state needs no writes");
    println!("{n} services x 1000 nodes: one steady-state plan + diff measured");
}

/// The measured pass: plan and diff against Azure as it is after converging.
#[inline(never)]
fn measure(
    net: &AksNetworkSpec,
    services: &[Service],
    nodes: &[Node],
    observed: &Observed,
) -> usize {
    let desired = plan_with(net, black_box(services), nodes, observed);
    black_box(diff(&desired, observed)).len()
}
