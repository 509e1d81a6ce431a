//! aksnet's pure planning core: cluster state in, desired Azure state and the operations that
//! reach it out. No Kubernetes client, no async runtime and no Azure SDK: Cargo keeps it pure.
//!
//! ```text
//! AksNetwork spec + Services + Nodes + Observed ──plan──▶ Desired ──diff(Observed)──▶ [Op]
//!                                                            │
//!                             simulate(Observed, Op) ◀───────┘ (ARM's semantics, for tests)
//! ```
//!
//! [`plan`] computes [`plan::Desired`] over the Azure model in [`model`], with names and
//! ownership proof from [`naming`] and Service annotations parsed by [`annotations`]; [`diff`]
//! turns it into ordered [`diff::Op`]s; [`simulate`] applies operations to a snapshot as Azure
//! would; [`memo`] reuses the last pass's plan and operations when nothing it read changed.
//! Planning problems are typed in [`problem`]. See `docs/architecture.md`.

pub mod annotations;
pub mod blame;
pub mod diff;
pub mod memo;
pub mod model;
pub mod naming;
pub mod plan;
pub mod problem;
pub mod simulate;
