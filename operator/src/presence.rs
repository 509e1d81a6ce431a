//! Saying what the operator waits for: whether the AksNetwork it manages exists, in the log
//! (once when that changes, then every [`REMIND`] while it is missing), in the
//! `aksnet_network_present` metric and in `/readyz`'s body.

use std::sync::Arc;
use std::time::Duration;

use aksnet_crds::AksNetwork;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::server::Health;

/// How often a missing AksNetwork is logged again.
pub const REMIND: Duration = Duration::from_secs(60);

/// What is known of the managed network: found, or missing with the names that do exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// It exists.
    Found,
    /// It does not; these AksNetworks do.
    Missing(Vec<String>),
}

impl Presence {
    /// Look `name` up in `networks`.
    pub fn of(networks: &Store<AksNetwork>, name: &str) -> Self {
        if networks.get(&ObjectRef::new(name)).is_some() {
            return Self::Found;
        }
        let mut others: Vec<String> = networks.state().iter().map(|n| n.name_any()).collect();
        others.sort();
        Self::Missing(others)
    }

    /// The line `/readyz` shows.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Self::Found => format!("AksNetwork {name} found"),
            Self::Missing(others) if others.is_empty() => format!(
                "AksNetwork {name} not found; waiting for it (no AksNetwork exists: apply one named {name}, or start the operator with --network NAME)"
            ),
            Self::Missing(others) => format!(
                "AksNetwork {name} not found; waiting for it (existing: {}; start the operator with --network NAME to manage one of them)",
                others.join(", ")
            ),
        }
    }
}

/// Watch the (filled) store until `shutdown`, keeping the metric, `/readyz` and the log up to
/// date.
pub async fn watch(
    networks: Store<AksNetwork>,
    name: String,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last: Option<Presence> = None;
    let mut told = Instant::now();
    loop {
        let now = Presence::of(&networks, &name);
        metrics
            .network_present
            .set(i64::from(now == Presence::Found));
        let line = now.describe(&name);
        let changed = last.as_ref() != Some(&now);
        if changed || (now != Presence::Found && told.elapsed() >= REMIND) {
            match now {
                Presence::Found => tracing::info!(network = %name, "{line}"),
                Presence::Missing(_) => tracing::warn!(network = %name, "{line}"),
            }
            told = Instant::now();
        }
        health.set_network(line);
        last = Some(now);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|v| *v) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_network_says_what_exists_and_what_to_do() {
        let none = Presence::Missing(vec![]).describe("default");
        assert!(
            none.contains("no AksNetwork exists") && none.contains("--network"),
            "{none}"
        );
        let some = Presence::Missing(vec!["azurecni".into(), "kubenet".into()]).describe("default");
        assert!(some.contains("existing: azurecni, kubenet"), "{some}");
        assert_eq!(Presence::Found.describe("x"), "AksNetwork x found");
    }
}
