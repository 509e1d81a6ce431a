//! The aksnet operator: a pure planning core (cluster state to desired Azure state, and the diff
//! against Azure), an Azure adapter, and the controllers that wire them to Kubernetes.
//!
//! The planning core, adapter and controllers arrive with their issues; see
//! `docs/architecture.md` for the design.

/// The `loadBalancerClass` aksnet serves (Services without a class are served too).
pub const DEFAULT_LOAD_BALANCER_CLASS: &str = "aksnet.io/azure";

/// The API group of the resources the operator reads, re-exported for the binary.
pub use aksnet_crds::API_GROUP;
