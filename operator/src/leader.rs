//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules and a fence, so
//! replicas run side by side: every replica is Ready, one leads, the others stand by.
//!
//! - A standby takes the Lease when it is free (no holder) or expired. Expiry is counted on the
//!   standby's own clock from when it last saw the record change, as client-go does, so clock
//!   skew between nodes does not shorten it.
//! - The leader renews every `retry_period`, with the record's `resourceVersion` as a
//!   precondition. It holds leadership only until `renew_deadline` after the *start* of its
//!   last successful renewal ([`Fence`]). The deadline is shorter than the lease duration, so
//!   the leader has stopped before a standby may take over.
//! - A watch on the Lease ends leadership the moment another holder shows up.
//! - Losing the lease makes the replica a standby again; it never exits for it.
//!
//! Why not `kube-lease-manager` (0.13, fits kube 5): its holder learns of a lost lease only from
//! a successful read, so a leader cut off from the API server keeps believing it leads past the
//! lease's expiry (its watch loop logs the error and retries without reporting the loss). It
//! has no deadline to check before a write, which is what fencing needs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::Metrics;

/// Lease settings (client-go's defaults are 15s, 10s and 2s).
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal: a standby takes over after it.
    pub duration: Duration,
    /// How long the leader keeps leading without a successful renewal (less than `duration`).
    pub renew_deadline: Duration,
    /// How often the leader renews and a standby tries.
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// Settings with client-go's ratios: renew deadline ⅔ of the lease, retry period ⅐.
    pub fn new(namespace: String, name: String, identity: String, duration: Duration) -> Self {
        Self {
            namespace,
            name,
            identity,
            duration,
            renew_deadline: duration * 2 / 3,
            retry_period: (duration / 7).max(Duration::from_millis(200)),
        }
    }
}

/// Whether this replica may write now. Without leader election it always may; with it, only
/// until the deadline its last renewal earned, and never after another holder was seen.
#[derive(Clone, Debug, Default)]
pub struct Fence(Option<Arc<Mutex<Option<Instant>>>>);

impl Fence {
    /// A fence that always holds (one replica, no election).
    pub fn unfenced() -> Self {
        Self(None)
    }

    fn elected() -> Self {
        Self(Some(Arc::default()))
    }

    /// A fence of an election this replica has not won: no write goes.
    #[cfg(test)]
    pub(crate) fn closed() -> Self {
        Self::elected()
    }

    /// Whether writes may go now.
    pub fn holds(&self) -> bool {
        match &self.0 {
            None => true,
            Some(until) => until
                .lock()
                .is_ok_and(|u| u.is_some_and(|t| Instant::now() < t)),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.0.as_ref().and_then(|u| *u.lock().ok()?)
    }

    fn set(&self, until: Option<Instant>) {
        if let Some(Ok(mut u)) = self.0.as_ref().map(|u| u.lock()) {
            *u = until;
        }
    }
}

/// What a standby last saw of the Lease, and when (its own clock).
#[derive(Debug, Default)]
struct Seen {
    record: Option<(Option<String>, Option<String>, Option<String>)>,
    at: Option<Instant>,
}

impl Seen {
    /// Note `lease`'s record; the clock restarts when it changed.
    fn note(&mut self, spec: &LeaseSpec) {
        let record = (
            spec.holder_identity.clone(),
            spec.renew_time.as_ref().map(|t| t.0.to_string()),
            spec.acquire_time.as_ref().map(|t| t.0.to_string()),
        );
        if self.record.as_ref() != Some(&record) {
            self.record = Some(record);
            self.at = Some(Instant::now());
        }
    }

    /// Whether the record seen has gone unchanged for longer than its lease duration.
    fn expired(&self, spec: &LeaseSpec, default: Duration) -> bool {
        let lasts = spec
            .lease_duration_seconds
            .map_or(default, |s| Duration::from_secs(s.max(0) as u64));
        self.at.is_none_or(|at| at.elapsed() > lasts)
    }
}

/// The holder of `spec`, if any (an empty identity is no holder).
fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// The outcome of one try to take or renew the Lease.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This replica holds it.
    Held,
    /// Another replica does.
    HeldBy(String),
}

/// Try once to take or renew the lease.
async fn try_hold(
    api: &Api<Lease>,
    s: &LeaseSettings,
    seen: &mut Seen,
) -> Result<Attempt, kube::Error> {
    let now = Timestamp::now();
    let Some(lease) = api.get_opt(&s.name).await? else {
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": {"holderIdentity": s.identity, "leaseDurationSeconds": s.duration.as_secs(),
                     "acquireTime": MicroTime(now), "renewTime": MicroTime(now), "leaseTransitions": 0}
        }))
        .map_err(kube::Error::SerdeError)?;
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::HeldBy("?".into())),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.clone().unwrap_or_default();
    seen.note(&spec);
    let current = holder(&spec).map(str::to_string);
    let ours = current.as_deref() == Some(s.identity.as_str());
    if let Some(other) = current.as_ref().filter(|_| !ours)
        && !seen.expired(&spec, s.duration)
    {
        return Ok(Attempt::HeldBy(other.clone()));
    }
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
    let acquire = if ours {
        spec.acquire_time.clone()
    } else {
        Some(MicroTime(now))
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
        Ok(_) => Ok(Attempt::Held),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            Ok(Attempt::HeldBy(current.unwrap_or_else(|| "?".into())))
        }
        Err(e) => Err(e),
    }
}

/// This replica's part in the election: the fence its writes check, and whether it leads.
pub struct Leadership {
    /// Checked before every Azure write.
    pub fence: Fence,
    /// `true` while this replica leads.
    pub leading: watch::Receiver<bool>,
    api: Api<Lease>,
    settings: LeaseSettings,
    task: tokio::task::JoinHandle<()>,
}

/// Run for the lease in the background, from now until [`Leadership::release`].
pub fn start(client: Client, settings: LeaseSettings, metrics: Arc<Metrics>) -> Leadership {
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let fence = Fence::elected();
    let (tx, leading) = watch::channel(false);
    let elector = Elector {
        api: api.clone(),
        settings: settings.clone(),
        fence: fence.clone(),
        tx,
        metrics,
    };
    Leadership {
        fence,
        leading,
        api,
        settings,
        task: tokio::spawn(elector.run()),
    }
}

impl Leadership {
    /// Stop running for the lease and give it up if held, so a standby takes over at once.
    pub async fn release(self) {
        self.task.abort();
        self.fence.set(None);
        let s = &self.settings;
        let Ok(Some(lease)) = self.api.get_opt(&s.name).await else {
            return;
        };
        if lease.spec.as_ref().and_then(holder) != Some(s.identity.as_str()) {
            return;
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": "", "renewTime": null}
        });
        match self
            .api
            .patch(&s.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::info!(lease = %s.name, "lease released"),
            Err(e) => tracing::warn!(error = %e, "could not release the lease"),
        }
    }
}

/// The background task behind [`Leadership`].
struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    fence: Fence,
    tx: watch::Sender<bool>,
    metrics: Arc<Metrics>,
}

impl Elector {
    fn leading(&self) -> bool {
        *self.tx.borrow()
    }

    fn gained(&self) {
        if !self.leading() {
            tracing::info!(lease = %self.settings.name, identity = %self.settings.identity, "leading: this replica writes to Azure");
            self.metrics.leader.set(1);
            self.metrics.leader_transitions.inc();
            let _ = self.tx.send(true);
        }
    }

    fn lost(&self, why: &str) {
        self.fence.set(None);
        if self.leading() {
            tracing::warn!(lease = %self.settings.name, reason = why, "lost the lease: standing by, no more Azure writes");
            self.metrics.leader.set(0);
            let _ = self.tx.send(false);
        }
    }

    async fn run(self) {
        let s = self.settings.clone();
        let config = watcher::Config::default().fields(&format!("metadata.name={}", s.name));
        let mut events = watcher(self.api.clone(), config).default_backoff().boxed();
        let mut seen = Seen::default();
        let mut said_waiting = false;
        loop {
            let started = Instant::now();
            match try_hold(&self.api, &s, &mut seen).await {
                Ok(Attempt::Held) => {
                    self.fence.set(Some(started + s.renew_deadline));
                    self.gained();
                    said_waiting = false;
                }
                Ok(Attempt::HeldBy(other)) => {
                    self.lost(&format!("held by {other}"));
                    if !said_waiting {
                        tracing::info!(lease = %s.name, holder = %other, "standing by: another replica leads");
                        said_waiting = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, lease = %s.name, "lease: could not read or write")
                }
            }
            if self.leading() && !self.fence.holds() {
                self.lost("not renewed within the renew deadline");
            }
            let deadline = self.fence.deadline().filter(|_| self.leading());
            let next = Instant::now() + s.retry_period;
            let wake = deadline.map_or(next, |d| d.min(next));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => break,
                    event = events.next() => {
                        let lease = match event {
                            Some(Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l))) => l,
                            Some(_) => continue,
                            // The watch ended: renewals alone keep going.
                            None => {
                                tokio::time::sleep_until(wake).await;
                                break;
                            }
                        };
                        let spec = lease.spec.unwrap_or_default();
                        seen.note(&spec);
                        match holder(&spec) {
                            Some(h) if h != s.identity => {
                                self.lost(&format!("taken by {h}"));
                            }
                            Some(_) => {}
                            // Freed: a standby tries at once; a leader whose lease someone
                            // else cleared may be replaced at any moment, so it stops.
                            None if self.leading() => self.lost("the lease was cleared"),
                            None => break,
                        }
                    }
                }
            }
            if self.leading() && !self.fence.holds() {
                self.lost("not renewed within the renew deadline");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, secs: i32) -> LeaseSpec {
        serde_json::from_value(json!({"holderIdentity": holder, "leaseDurationSeconds": secs, "renewTime": MicroTime(Timestamp::now())})).expect("spec")
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_expires_on_the_watchers_clock_from_the_last_change_it_saw() {
        let mut seen = Seen::default();
        let held = spec("other", 15);
        seen.note(&held);
        assert!(!seen.expired(&held, Duration::from_secs(15)));
        tokio::time::advance(Duration::from_secs(10)).await;
        seen.note(&held);
        assert!(!seen.expired(&held, Duration::from_secs(15)), "same record");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(seen.expired(&held, Duration::from_secs(15)));
        // A renewal (new renewTime) restarts the clock.
        let renewed = spec("other", 15);
        tokio::time::advance(Duration::from_millis(1)).await;
        seen.note(&renewed);
        assert!(!seen.expired(&renewed, Duration::from_secs(15)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_fence_holds_until_the_renew_deadline_only() {
        assert!(Fence::unfenced().holds());
        let fence = Fence::elected();
        assert!(!fence.holds(), "not before the first renewal");
        fence.set(Some(Instant::now() + Duration::from_secs(10)));
        assert!(fence.holds());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!fence.holds(), "a leader that cannot renew stops writing");
        fence.set(Some(Instant::now() + Duration::from_secs(10)));
        fence.set(None);
        assert!(!fence.holds(), "closed when another holder is seen");
    }

    #[test]
    fn the_renew_deadline_is_shorter_than_the_lease() {
        let s = LeaseSettings::new(
            "ns".into(),
            "l".into(),
            "me".into(),
            Duration::from_secs(15),
        );
        assert_eq!(s.renew_deadline, Duration::from_secs(10));
        assert!(s.retry_period < s.renew_deadline);
        assert_eq!(holder(&spec("", 15)), None);
    }
}
