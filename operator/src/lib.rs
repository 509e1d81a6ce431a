//! The aksnet operator: the Azure adapter ([`azure`]), the apply engine that carries out a plan
//! ([`apply`]), and the controllers that wire them to Kubernetes ([`controller`]). The pure
//! planning core lives in the `aksnet-core` crate and is re-exported here.
//!
//! See `docs/architecture.md` for the design.

pub use aksnet_core::{annotations, blame, diff, model, naming, plan, problem, simulate};

pub mod apply;
pub mod azure;
pub mod controller;
pub mod leader;
pub mod metrics;
pub mod redact;
pub mod server;

/// The `loadBalancerClass` aksnet serves (Services without a class are served too).
pub const DEFAULT_LOAD_BALANCER_CLASS: &str = "aksnet.io/azure";

/// The API group of the resources the operator reads, re-exported for the binary.
pub use aksnet_crds::API_GROUP;
