//! Leader election on a `coordination.k8s.io/v1` Lease, so replicas can run side by side: one
//! reconciles, the others wait and take over when its lease expires.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::watch;

/// Lease settings.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
}

/// Whether `lease` is free for `identity` at `now`.
fn available(lease: &Lease, identity: &str, now: Timestamp, duration: Duration) -> bool {
    let Some(spec) = &lease.spec else { return true };
    if spec
        .holder_identity
        .as_deref()
        .is_none_or(|h| h == identity || h.is_empty())
    {
        return true;
    }
    let renewed = spec.renew_time.as_ref().map(|t| t.0);
    let lease_for = spec
        .lease_duration_seconds
        .map_or(duration, |s| Duration::from_secs(s.max(0) as u64));
    renewed.is_none_or(|r| {
        let expiry = r + lease_for;
        expiry < now
    })
}

/// Try once to take or renew the lease. `Ok(true)` when held.
async fn try_hold(api: &Api<Lease>, s: &LeaseSettings) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let existing = api.get_opt(&s.name).await?;
    let Some(lease) = existing else {
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": {"holderIdentity": s.identity, "leaseDurationSeconds": s.duration.as_secs(),
                     "acquireTime": MicroTime(now), "renewTime": MicroTime(now), "leaseTransitions": 0}
        }))
        .map_err(kube::Error::SerdeError)?;
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    if !available(&lease, &s.identity, now, s.duration) {
        return Ok(false);
    }
    let spec = lease.spec.clone().unwrap_or_default();
    let taking_over = spec.holder_identity.as_deref() != Some(s.identity.as_str());
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(taking_over);
    let acquire = if taking_over {
        Some(MicroTime(now))
    } else {
        spec.acquire_time.clone()
    };
    let patch = json!({
        "metadata": {"resourceVersion": lease.metadata.resource_version},
        "spec": {"holderIdentity": s.identity, "leaseDurationSeconds": s.duration.as_secs(),
                 "acquireTime": acquire, "renewTime": MicroTime(now), "leaseTransitions": transitions}
    });
    match api
        .patch(&s.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Wait until this replica holds the lease, then keep renewing it in the background. The
/// returned receiver turns `false` if the lease is lost (the caller should stop).
pub async fn acquire(client: Client, s: LeaseSettings) -> watch::Receiver<bool> {
    let api: Api<Lease> = Api::namespaced(client, &s.namespace);
    let retry = s.duration / 3;
    loop {
        match try_hold(&api, &s).await {
            Ok(true) => break,
            Ok(false) => tracing::info!(lease = %s.name, "another replica leads; waiting"),
            Err(e) => tracing::warn!(error = %e, "lease: could not read or write"),
        }
        tokio::time::sleep(retry).await;
    }
    tracing::info!(lease = %s.name, identity = %s.identity, "leading");
    let (tx, rx) = watch::channel(true);
    tokio::spawn(async move {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(retry).await;
            match try_hold(&api, &s).await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!("lease taken by another replica");
                    let _ = tx.send(false);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lease renewal failed");
                    if last_ok.elapsed() > s.duration {
                        let _ = tx.send(false);
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Give the lease up if this replica holds it, so a standby takes over at once.
pub async fn release(client: Client, s: &LeaseSettings) {
    let api: Api<Lease> = Api::namespaced(client, &s.namespace);
    let Ok(Some(lease)) = api.get_opt(&s.name).await else {
        return;
    };
    let holder = lease
        .spec
        .as_ref()
        .and_then(|l| l.holder_identity.as_deref());
    if holder != Some(s.identity.as_str()) {
        return;
    }
    let patch = json!({
        "metadata": {"resourceVersion": lease.metadata.resource_version},
        "spec": {"holderIdentity": "", "renewTime": null}
    });
    match api
        .patch(&s.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => tracing::info!(lease = %s.name, "lease released"),
        Err(e) => tracing::warn!(error = %e, "could not release the lease"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed_secs_ago: i64) -> Lease {
        let renew =
            Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(renewed_secs_ago);
        serde_json::from_value(json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": MicroTime(renew)}})).expect("lease")
    }

    #[test]
    fn a_lease_is_free_when_ours_or_expired() {
        let d = Duration::from_secs(15);
        let now = Timestamp::now();
        assert!(available(&lease("me", 1), "me", now, d));
        assert!(!available(&lease("other", 1), "me", now, d));
        assert!(available(&lease("other", 60), "me", now, d));
        assert!(available(&Lease::default(), "me", now, d));
    }
}
