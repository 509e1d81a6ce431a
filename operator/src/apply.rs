//! The apply engine: carries a plan out as a pipeline of passes, with failure isolation.
//!
//! ```text
//!            ┌─────────── plan + diff(observed, holds) ── publish ◀────────────┐
//!            │                                                                  │
//!  independent writes (public IPs): up to N in flight ── done ── observed.record┤
//!  shared-parent writes (LB, NSG, route table): once per parent per pass,      │
//!  those whose order does not matter at the same time ─────────────────────────┘
//! ```
//!
//! - Each Service's public IP is created, updated or deleted on its own, concurrently, up to
//!   `max_concurrent_writes` in flight (all inside the transport's write budget).
//! - A *pass* writes each shared parent once, holding every Service that is ready at that
//!   moment; the plan leaves out Services whose public IPs are still being created
//!   ([`ServiceOutcome::Waiting`]), so a pass never waits for them. The parents of a pass are
//!   written at once where their order does not matter (`concurrent_batch`): load balancers,
//!   the NSG and the route table, except that a load balancer taking a frontend on waits for
//!   one letting a frontend go, and the NSG for the takers. Passes start when the first
//!   public IPs land, then at a growing interval (so a burst costs a few writes of each parent),
//!   and at once when nothing else is in flight.
//! - After every write the result goes into the observed state (no re-read) and the plan is
//!   published, so a Service gets its address as soon as Azure serves it.
//! - A refused write is judged ([`blame::judge`]): a public IP's refusal rejects its Service;
//!   a shared write's refusal rejects the Services its error names, or holds back half of the
//!   Services it carried and writes the rest in the next pass. Rejected Services are frozen by
//!   the plan, so the rest of the plan goes ahead in the same run.
//! - 412 and 404 re-read Azure and re-plan; those and transient errors back off per resource.
//!   Errors of the network itself (permissions, a missing resource group) stop the run.
//!
//! [`ServiceOutcome::Waiting`]: crate::plan::ServiceOutcome::Waiting

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::azure::{AzureError, AzurePort};
use crate::blame::{self, Verdict};
use crate::diff::{FrontendMoves, Op, carried, frontend_moves};
use crate::memo::Planned;
use crate::model::{Applied, NoCase, Observed};
use crate::plan::{Desired, Holds};
use crate::problem::{ArmRefusal, Problem, ServiceError};

/// How the engine runs.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Writes in flight at most: of public IPs, and of the shared parents one pass writes
    /// together (each kind on its own).
    pub max_concurrent_writes: usize,
    /// Attempts at one resource in one run before it is left to the next reconcile.
    pub max_attempts: u32,
    /// The wait between the first two passes of a burst; it doubles up to `max_pass_interval`.
    pub pass_interval: Duration,
    /// The longest wait between passes while writes are in flight.
    pub max_pass_interval: Duration,
    /// The first back-off of a resource whose write failed (doubles per failure).
    pub retry_backoff: Duration,
    /// Passes in one run at most (what is left goes to the next reconcile).
    pub max_passes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_concurrent_writes: 32,
            max_attempts: 4,
            pass_interval: Duration::from_secs(2),
            max_pass_interval: Duration::from_secs(8),
            retry_backoff: Duration::from_millis(500),
            max_passes: 64,
        }
    }
}

/// One look at the run, handed to the publisher after every change.
pub struct Pass<'a> {
    /// The plan now.
    pub desired: &'a Desired,
    /// Azure now (as the writes answered).
    pub observed: &'a Observed,
    /// What is still to do.
    pub ops: &'a [Op],
    /// The Services (lower-case name prefixes) that some op still to do carries: not served yet.
    pub unserved: &'a BTreeSet<String>,
}

/// How a run ended.
pub struct Report {
    /// The last plan, and its operations: those still to do (left to the next reconcile).
    pub planned: Arc<Planned>,
    /// Azure as the writes left it.
    pub observed: Observed,
    /// What was written, for Events.
    pub applied: Vec<String>,
    /// Services Azure refused in this run, with why.
    pub refused: BTreeMap<String, ServiceError>,
    /// Why part of the plan was left: a network-level error stops the run; otherwise the last
    /// error of a resource that ran out of attempts.
    pub error: Option<AzureError>,
}

/// The engine over one Azure port.
pub struct Engine<A> {
    azure: Arc<A>,
    settings: Settings,
}

/// What an independent write answered.
type Done = (Op, Result<Applied, AzureError>);

impl<A: AzurePort + 'static> Engine<A> {
    /// An engine writing through `azure`.
    pub fn new(azure: Arc<A>, settings: Settings) -> Self {
        Self { azure, settings }
    }

    /// Carry out what `plan` wants (the plan of an observed state and its diff from it),
    /// starting from `observed`, with `refused` Services (known from earlier runs) held out.
    /// `reobserve` reads Azure again after a 412 or 404; `publish` is told of every change.
    pub async fn run<P, R, RF, F>(
        &self,
        observed: Observed,
        refused: BTreeMap<String, ServiceError>,
        plan: P,
        reobserve: R,
        mut publish: F,
    ) -> Report
    where
        P: Fn(&Observed, &Holds) -> Arc<Planned>,
        R: Fn() -> RF,
        RF: Future<Output = Result<Observed, AzureError>>,
        F: AsyncFnMut(Pass<'_>),
    {
        let mut run = Run {
            settings: self.settings,
            observed,
            holds: Holds {
                refused,
                ..Holds::default()
            },
            refused_now: BTreeMap::new(),
            inflight: JoinSet::new(),
            busy: HashSet::new(),
            attempts: HashMap::new(),
            not_before: HashMap::new(),
            given_up: HashSet::new(),
            applied: Vec::new(),
            error: None,
            next_pass: Instant::now(),
            interval: self.settings.pass_interval,
            written: HashSet::new(),
            passes: 0,
            stale: false,
        };
        loop {
            if run.stale {
                run.stale = false;
                match reobserve().await {
                    Ok(o) => run.observed = o,
                    Err(e) => run.fail_network(e),
                }
            }
            let planned = plan(&run.observed, &run.holds);
            let (desired, ops) = (&planned.desired, &planned.ops);
            // Where each Service was placed stays its place for the rest of the run.
            for (service, lb) in &desired.newly_placed {
                run.holds.pinned.insert(service.clone(), lb.clone());
            }
            let unserved: BTreeSet<String> = ops
                .iter()
                .flat_map(|op| carried(op, &run.observed, desired))
                .collect();
            publish(Pass {
                desired,
                observed: &run.observed,
                ops,
                unserved: &unserved,
            })
            .await;
            if run.is_stopped() {
                run.drain().await;
                return run.report(planned);
            }
            let mut progressed = self.start_independent(&mut run, ops, false);
            if run.pass_open() {
                match self.next_shared(&mut run, ops, desired).await {
                    Step::Wrote | Step::Refused => continue,
                    Step::Nothing => {
                        if !run.written.is_empty() {
                            run.end_pass();
                            // What the pass could not take waits for the next one.
                            progressed |= run.passes < self.settings.max_passes;
                        }
                        // Deletes of public IPs go once the load balancers have let go of
                        // them: when no shared write is left to do.
                        if ops.iter().all(Op::is_independent) {
                            progressed |= self.start_independent(&mut run, ops, true);
                        }
                    }
                }
            }
            if progressed {
                continue;
            }
            let gated = ops
                .iter()
                .any(|op| !op.is_independent() && run.may_write(op) && !run.pass_open());
            if !run.wait(gated).await {
                return run.report(planned);
            }
        }
    }

    /// Start the independent writes that may go (puts, or with `deletes` the deletes). The
    /// network's own public IPs (outbound, the spec's static ones) go before any Service's, so
    /// a quota that runs out is the tenants' problem, not the network's.
    fn start_independent(&self, run: &mut Run, ops: &[Op], deletes: bool) -> bool {
        let network_first = ops.iter().any(|op| is_network_ip(op) && !run.done_with(op));
        let mut started = false;
        for op in ops.iter().filter(|op| op.is_independent()) {
            let is_delete = matches!(op, Op::DeletePublicIp { .. });
            if is_delete != deletes || !run.may_write(op) {
                continue;
            }
            if network_first && !is_network_ip(op) {
                continue;
            }
            if run.inflight.len() >= self.settings.max_concurrent_writes.max(1) {
                break;
            }
            let azure = self.azure.clone();
            let op = op.clone();
            run.busy.insert(op.resource_key());
            let span = tracing::info_span!("azure_write", op = %op.describe());
            run.inflight.spawn(
                async move {
                    let result = azure.apply(&op).await;
                    (op, result)
                }
                .instrument(span),
            );
            started = true;
        }
        started
    }

    /// Write the next shared parents of this pass: the next one in the diff's order, with
    /// those after it that may go at the same time.
    async fn next_shared(&self, run: &mut Run, ops: &[Op], desired: &Desired) -> Step {
        let existing = run.observed.public_ip_index();
        let ready = ops.iter().filter(|op| {
            !op.is_independent()
                && run.may_write(op)
                && !run.written.contains(&op.resource_key())
                && op
                    .public_ips_named()
                    .iter()
                    .all(|(rg, name)| existing.contains_key(&(NoCase(rg), NoCase(name))))
        });
        let mut batch = concurrent_batch(ready, &run.observed);
        batch.truncate(self.settings.max_concurrent_writes.max(1));
        if batch.is_empty() {
            return Step::Nothing;
        }
        let writes = batch.iter().map(|op| {
            tracing::info!(op = %op.describe(), "applying");
            (self.azure.apply(op))
                .instrument(tracing::info_span!("azure_write", op = %op.describe()))
        });
        let results = futures::future::join_all(writes).await;
        let mut step = Step::Wrote;
        for (op, result) in batch.into_iter().zip(results) {
            run.written.insert(op.resource_key());
            match result {
                Ok(applied) => run.accepted(op, applied),
                Err(e) => {
                    run.refused_shared(op, e, desired);
                    step = Step::Refused;
                }
            }
        }
        step
    }
}

/// The shared writes that go together: the first of `ready` (in the diff's order), and those
/// after it while their order does not matter. Puts of load balancers, the NSG and the route
/// table are of different resources, with two orders kept:
/// - a load balancer letting a frontend go is written before one taking a frontend on (as the
///   diff orders them), so a public IP (or private address) moving between them is never on
///   two at once;
/// - the NSG is written after the load balancers taking frontends on: Azure gives a new
///   internal frontend its address as it writes it, and the NSG rule admitting its traffic
///   names that address (written together, the NSG would be written twice).
///
/// Any other shared write (the NAT gateway, the subnet, a Private Link Service, a delete) goes
/// alone, as do those after it, whose order it may matter to.
fn concurrent_batch<'o>(ready: impl Iterator<Item = &'o Op>, observed: &Observed) -> Vec<&'o Op> {
    let mut batch: Vec<&Op> = Vec::new();
    let (mut takes, mut releases, mut nsg) = (false, false, false);
    for op in ready {
        match op {
            Op::PutLoadBalancer(lb) => {
                let FrontendMoves {
                    takes: took,
                    releases: released,
                } = frontend_moves(lb, observed);
                if (took && (releases || nsg)) || (released && takes) {
                    break;
                }
                (takes, releases) = (takes || took, releases || released);
            }
            // Its turn comes once the takers are written.
            Op::PutSecurityGroup(_) if takes => continue,
            Op::PutSecurityGroup(_) => nsg = true,
            Op::PutRouteTable(_) => {}
            _ => {
                if batch.is_empty() {
                    batch.push(op);
                }
                break;
            }
        }
        batch.push(op);
    }
    batch
}

/// A put of a public IP that belongs to the network, not to one Service.
fn is_network_ip(op: &Op) -> bool {
    matches!(op, Op::PutPublicIp(p) if !p.tags.contains_key(crate::naming::TAG_SERVICE))
}

/// What one shared step did.
enum Step {
    Wrote,
    Refused,
    Nothing,
}

/// The state of one run.
struct Run {
    settings: Settings,
    observed: Observed,
    holds: Holds,
    refused_now: BTreeMap<String, ServiceError>,
    inflight: JoinSet<Done>,
    /// Resource keys with a write in flight.
    busy: HashSet<String>,
    attempts: HashMap<String, u32>,
    not_before: HashMap<String, Instant>,
    given_up: HashSet<String>,
    applied: Vec<String>,
    error: Option<AzureError>,
    /// When the next pass may start while writes are in flight.
    next_pass: Instant,
    interval: Duration,
    /// Shared parents written in this pass.
    written: HashSet<String>,
    /// Passes so far.
    passes: u32,
    /// Azure changed behind the plan (412, 404): read it again.
    stale: bool,
}

impl Run {
    fn is_stopped(&self) -> bool {
        self.error
            .as_ref()
            .is_some_and(AzureError::is_network_level)
    }

    /// Whether nothing more will be tried for `op`'s resource in this run.
    fn done_with(&self, op: &Op) -> bool {
        self.given_up.contains(&op.resource_key())
    }

    fn may_write(&self, op: &Op) -> bool {
        let key = op.resource_key();
        !self.busy.contains(&key)
            && !self.given_up.contains(&key)
            && self
                .not_before
                .get(&key)
                .is_none_or(|t| *t <= Instant::now())
    }

    /// A pass may start: its time has come, or nothing else is in flight to wait for, or one
    /// is under way.
    fn pass_open(&self) -> bool {
        !self.written.is_empty() || self.inflight.is_empty() || Instant::now() >= self.next_pass
    }

    fn end_pass(&mut self) {
        self.written.clear();
        self.passes += 1;
        // Held-back Services get their turn in the next pass (which starts at once when nothing
        // else is in flight).
        if !self.holds.deferred.is_empty() {
            self.holds.deferred.clear();
            self.next_pass = Instant::now();
            return;
        }
        self.next_pass = Instant::now() + self.interval;
        self.interval = (self.interval * 2).min(self.settings.max_pass_interval);
    }

    fn accepted(&mut self, op: &Op, applied: Applied) {
        let key = op.resource_key();
        self.attempts.remove(&key);
        self.not_before.remove(&key);
        self.applied.push(op.describe());
        self.observed.record(applied);
    }

    fn refuse(&mut self, key: &str, e: &AzureError) {
        let fault = e.fault();
        let error = ServiceError::new(
            key,
            "Azure",
            Problem::AzureRefused(Box::new(ArmRefusal {
                code: fault.code.clone(),
                message: fault.message.clone(),
                resource: fault.resource.clone(),
            })),
        );
        tracing::warn!(service = %key, error = %e, "Azure refused a write for this Service");
        self.holds.refused.insert(key.to_string(), error.clone());
        self.refused_now.insert(key.to_string(), error);
    }

    fn fail_network(&mut self, e: AzureError) {
        tracing::warn!(error = %e, "network-level Azure error");
        self.error = Some(e);
    }

    /// A failed write that is not a refusal: re-read (412, 404) and back off, or give up on
    /// the resource for this run.
    fn retry_later(&mut self, op: &Op, e: AzureError) {
        let key = op.resource_key();
        let n = self.attempts.entry(key.clone()).or_default();
        *n += 1;
        if matches!(e, AzureError::Precondition(_) | AzureError::NotFound(_)) {
            self.stale = true;
        }
        if *n >= self.settings.max_attempts {
            tracing::warn!(op = %op.describe(), error = %e, "giving up on this resource for now");
            self.given_up.insert(key);
            self.error = Some(e);
            return;
        }
        let wait = match &e {
            AzureError::Throttled {
                retry_after: Some(d),
                ..
            } => *d,
            _ => self.settings.retry_backoff * 2u32.pow(*n - 1),
        };
        tracing::info!(op = %op.describe(), error = %e, retry_in_ms = wait.as_millis() as u64, "write failed; backing off");
        self.not_before.insert(key, Instant::now() + wait);
    }

    fn refused_shared(&mut self, op: &Op, e: AzureError, desired: &Desired) {
        if e.is_network_level() {
            return self.fail_network(e);
        }
        if !e.is_refusal() {
            return self.retry_later(op, e);
        }
        let carried: BTreeSet<String> = carried(op, &self.observed, desired);
        let text = format!("{}: {}", e.fault().code, e.fault().message);
        match blame::judge(&text, &carried, desired) {
            Verdict::Blame(keys) => {
                for key in keys {
                    self.refuse(&key, &e);
                }
                // Try again at once without them.
                self.written.remove(&op.resource_key());
            }
            Verdict::HoldBack(keys) => {
                tracing::info!(op = %op.describe(), held = keys.len(), error = %e, "refused; narrowing down");
                self.holds.deferred.extend(keys);
                self.written.remove(&op.resource_key());
            }
            Verdict::Network => {
                tracing::warn!(op = %op.describe(), error = %e, "refused; no Service to blame");
                self.given_up.insert(op.resource_key());
                self.error = Some(e);
            }
        }
    }

    /// Take in one finished independent write.
    fn finished(&mut self, (op, result): Done) {
        self.busy.remove(&op.resource_key());
        match result {
            Ok(applied) => self.accepted(&op, applied),
            Err(e) if e.is_network_level() => self.fail_network(e),
            // Still in use after all: Azure knows better than the plan; read it again.
            Err(e @ AzureError::InUse(_)) if matches!(op, Op::DeletePublicIp { .. }) => {
                self.stale = true;
                self.retry_later(&op, e);
            }
            Err(e) if e.is_refusal() => {
                let key = match &op {
                    Op::PutPublicIp(p) => p.tags.get(crate::naming::TAG_SERVICE).cloned(),
                    _ => None,
                };
                match key {
                    Some(key) => self.refuse(&key, &e),
                    None => {
                        self.given_up.insert(op.resource_key());
                        self.error = Some(e);
                    }
                }
            }
            Err(e) => self.retry_later(&op, e),
        }
    }

    /// Wait for something to do: a write that finishes, the next pass (`gated`), or a back-off
    /// that ends. `false` when there is nothing left to wait for.
    async fn wait(&mut self, gated: bool) -> bool {
        let now = Instant::now();
        let mut until: Option<Instant> =
            self.not_before.values().copied().filter(|t| *t > now).min();
        if gated {
            until = Some(until.map_or(self.next_pass, |u| u.min(self.next_pass)));
        }
        if self.inflight.is_empty() && until.is_none() {
            return false;
        }
        let sleep = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = self.inflight.join_next() => {
                if let Ok(done) = done {
                    self.finished(done);
                }
                // Take in everything else that is done, so one pass holds it all.
                while let Some(Ok(done)) = self.inflight.try_join_next() {
                    self.finished(done);
                }
            }
            () = sleep => {}
        }
        true
    }

    /// Let writes in flight finish (a stopped run never leaves a write half-known).
    async fn drain(&mut self) {
        while let Some(done) = self.inflight.join_next().await {
            if let Ok(done) = done {
                self.finished(done);
            }
        }
    }

    fn report(self, planned: Arc<Planned>) -> Report {
        if !planned.ops.is_empty() {
            tracing::info!(left = ?planned.ops.iter().map(Op::describe).collect::<Vec<_>>(), passes = self.passes, "run ends with writes left");
        }
        Report {
            planned,
            observed: self.observed,
            applied: self.applied,
            refused: self.refused_now,
            error: self.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Frontend, FrontendTarget, LoadBalancer, RouteTable, SecurityGroup, Subnet};

    /// A load balancer with these frontends.
    fn lb(name: &str, frontends: &[&str]) -> LoadBalancer {
        LoadBalancer {
            name: name.into(),
            frontends: (frontends.iter())
                .map(|f| Frontend {
                    name: (*f).into(),
                    target: FrontendTarget::Public {
                        public_ip_id: format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/{f}"),
                    },
                    private_ip: None,
                })
                .collect(),
            ..LoadBalancer::default()
        }
    }

    /// Names of the batch `ops` start with, against Azure holding `observed`.
    fn batch(ops: &[Op], observed: &[LoadBalancer]) -> Vec<String> {
        let observed = Observed {
            load_balancers: observed.to_vec(),
            ..Observed::default()
        };
        concurrent_batch(ops.iter(), &observed)
            .into_iter()
            .map(Op::describe)
            .collect()
    }

    #[test]
    fn load_balancers_nsg_and_route_table_go_together() {
        let ops = [
            Op::PutLoadBalancer(lb("a", &["f1"])),
            Op::PutLoadBalancer(lb("b", &["f2", "f3"])),
            Op::PutSecurityGroup(SecurityGroup::default()),
            Op::PutRouteTable(RouteTable::default()),
        ];
        // The nodes changed: every frontend stays where it is.
        let got = batch(&ops, &[lb("a", &["f1"]), lb("b", &["f2", "f3"])]);
        assert_eq!(got.len(), 4, "{got:?}");
        // New Services: frontends taken on by both, none let go; the NSG waits for them.
        let got = batch(&ops, &[lb("a", &[]), lb("B", &["F2"])]);
        assert_eq!(
            got,
            [
                "put loadBalancer a",
                "put loadBalancer b",
                "put routeTable "
            ]
        );
    }

    #[test]
    fn the_nsg_waits_for_load_balancers_taking_frontends_on() {
        // Written first, it keeps a later taker out of its batch.
        let ops = [
            Op::PutSecurityGroup(SecurityGroup::default()),
            Op::PutLoadBalancer(lb("a", &["f1"])),
        ];
        assert_eq!(batch(&ops, &[lb("a", &[])]).len(), 1);
        assert_eq!(batch(&ops, &[lb("a", &["f1"])]).len(), 2);
    }

    #[test]
    fn a_load_balancer_taking_a_frontend_waits_for_one_letting_go() {
        // f2 moves from a to b: a lets it go first, alone with what takes nothing.
        let ops = [
            Op::PutLoadBalancer(lb("a", &["f1"])),
            Op::PutSecurityGroup(SecurityGroup::default()),
            Op::PutLoadBalancer(lb("b", &["f2"])),
            Op::PutRouteTable(RouteTable::default()),
        ];
        let observed = [lb("a", &["f1", "f2"]), lb("b", &[])];
        assert_eq!(batch(&ops, &observed).len(), 2);
        // Once a has let go, b goes (the route table with it).
        let observed = [lb("a", &["f1"]), lb("b", &[])];
        assert_eq!(batch(&ops[2..], &observed).len(), 2);
        // A taker first keeps a later releaser out.
        let ops = [
            Op::PutLoadBalancer(lb("b", &["f2"])),
            Op::PutLoadBalancer(lb("a", &["f1"])),
        ];
        let observed = [lb("a", &["f1", "f3"]), lb("b", &[])];
        assert_eq!(batch(&ops, &observed).len(), 1);
    }

    #[test]
    fn other_shared_writes_go_alone_and_keep_their_place() {
        let subnet = Op::PutSubnet(Subnet::default());
        let ops = [subnet.clone(), Op::PutRouteTable(RouteTable::default())];
        assert_eq!(batch(&ops, &[]), vec![subnet.describe()]);
        // After load balancer puts, it waits for them, and what follows it waits too.
        let ops = [
            Op::PutLoadBalancer(lb("a", &["f1"])),
            subnet,
            Op::PutRouteTable(RouteTable::default()),
        ];
        assert_eq!(batch(&ops, &[lb("a", &["f1"])]).len(), 1);
        let delete = Op::DeleteLoadBalancer {
            resource_group: "rg".into(),
            name: "a".into(),
            etag: None,
        };
        assert_eq!(
            batch(&[delete.clone(), ops[2].clone()], &[]),
            vec![delete.describe()]
        );
        assert!(batch(&[], &[]).is_empty());
    }
}
