//! The aksnet operator: a pure planning core (cluster state to desired Azure state, and the diff
//! against Azure), an Azure adapter, and the controllers that wire them to Kubernetes.
//!
//! The planning core is [`plan`] (AksNetwork + Services + Nodes + what Azure holds → [`plan::Desired`])
//! and [`diff`] (desired vs observed → ordered [`diff::Op`]s), over the Azure model in [`model`],
//! with names and ownership proof from [`naming`] and Service annotations parsed by
//! [`annotations`]. [`simulate`] applies operations to a snapshot as Azure would. See
//! `docs/architecture.md` for the design.

pub mod annotations;
pub mod azure;
pub mod controller;
pub mod diff;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod model;
pub mod naming;
pub mod plan;
pub mod server;
pub mod simulate;

/// The `loadBalancerClass` aksnet serves (Services without a class are served too).
pub const DEFAULT_LOAD_BALANCER_CLASS: &str = "aksnet.io/azure";

/// The API group of the resources the operator reads, re-exported for the binary.
pub use aksnet_crds::API_GROUP;
