//! Status in Kubernetes: kstatus conditions of the AksNetwork, and a Service's ingress and
//! condition.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition type aksnet sets on the Services it serves.
pub const SERVICE_CONDITION: &str = "aksnet.io/LoadBalancerReady";

/// Where the network stands after a reconcile, in kstatus terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Azure follows the spec.
    Ready(String),
    /// Work is in flight (operations applied and more to come, pending addresses, a retry).
    Reconciling {
        /// CamelCase reason.
        reason: String,
        /// Message.
        message: String,
    },
    /// A person must act: invalid spec, 403, quota.
    Stalled {
        /// CamelCase reason.
        reason: String,
        /// Message.
        message: String,
    },
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    old: &[Condition],
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    // The transition time moves only when the status does.
    let last = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: message.chars().take(32_000).collect(),
        observed_generation: generation,
        last_transition_time: last,
    }
}

/// `Ready`, `Reconciling` and `Stalled` for a health.
pub fn network_conditions(
    health: &Health,
    generation: Option<i64>,
    old: &[Condition],
) -> Vec<Condition> {
    let now = Time(Timestamp::now());
    let c = |t: &str, s: bool, r: &str, m: &str| condition(t, s, r, m, generation, old, &now);
    match health {
        Health::Ready(message) => vec![
            c("Ready", true, "Synced", message),
            c("Reconciling", false, "Synced", ""),
            c("Stalled", false, "Synced", ""),
        ],
        Health::Reconciling { reason, message } => vec![
            c("Ready", false, reason, message),
            c("Reconciling", true, reason, message),
            c("Stalled", false, reason, ""),
        ],
        Health::Stalled { reason, message } => vec![
            c("Ready", false, reason, message),
            c("Reconciling", false, reason, ""),
            c("Stalled", true, reason, message),
        ],
    }
}

/// A Service's conditions with aksnet's one replaced (others kept).
pub fn service_conditions(
    old: &[Condition],
    ready: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Vec<Condition> {
    let now = Time(Timestamp::now());
    let mut out: Vec<Condition> = old
        .iter()
        .filter(|c| c.type_ != SERVICE_CONDITION)
        .cloned()
        .collect();
    out.push(condition(
        SERVICE_CONDITION,
        ready,
        reason,
        message,
        generation,
        old,
        &now,
    ));
    out
}

/// Whether two condition lists say the same (ignoring transition times).
pub fn same_conditions(a: &[Condition], b: &[Condition]) -> bool {
    let key = |c: &Condition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
            c.observed_generation,
        )
    };
    let mut ka: Vec<_> = a.iter().map(key).collect();
    let mut kb: Vec<_> = b.iter().map(key).collect();
    ka.sort();
    kb.sort();
    ka == kb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kstatus_conditions_and_stable_transition_times() {
        let ready = network_conditions(&Health::Ready("ok".into()), Some(3), &[]);
        let types: Vec<_> = ready
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            types,
            vec![
                ("Ready", "True"),
                ("Reconciling", "False"),
                ("Stalled", "False")
            ]
        );
        assert!(ready.iter().all(|c| c.observed_generation == Some(3)));
        let again = network_conditions(&Health::Ready("ok".into()), Some(3), &ready);
        assert_eq!(again[0].last_transition_time, ready[0].last_transition_time);
        assert!(same_conditions(&again, &ready));
        let stalled = network_conditions(
            &Health::Stalled {
                reason: "InvalidSpec".into(),
                message: "bad".into(),
            },
            Some(4),
            &ready,
        );
        assert_eq!(
            (stalled[2].status.as_str(), stalled[2].reason.as_str()),
            ("True", "InvalidSpec")
        );
        assert_eq!(stalled[0].status, "False");
        assert!(!same_conditions(&stalled, &ready));
    }

    #[test]
    fn service_condition_keeps_the_others() {
        let other = Condition {
            type_: "example.com/Other".into(),
            status: "True".into(),
            reason: "X".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(Timestamp::now()),
        };
        let out = service_conditions(
            std::slice::from_ref(&other),
            false,
            "PortInUse",
            "port 80 is taken",
            Some(1),
        );
        assert_eq!(out.len(), 2);
        assert!(out.contains(&other));
        assert_eq!(out[1].type_, SERVICE_CONDITION);
    }
}
