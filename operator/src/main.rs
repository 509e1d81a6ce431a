//! The `aksnet-operator` binary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aksnet_operator::apply;
use aksnet_operator::azure::{self, AzureClient};
use aksnet_operator::controller::{self, Publisher, Reconciler, Settings, Timing, Watches};
use aksnet_operator::leader::{self, Fence, LeaseSettings};
use aksnet_operator::logging::{self, LogFormat};
use aksnet_operator::metrics::Metrics;
use aksnet_operator::plan::Limits;
use aksnet_operator::presence;
use aksnet_operator::server::{self, Health};
use clap::Parser;
use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::watch;

/// mimalloc: the plan of a large cluster is allocation-heavy, and mimalloc runs it in about half
/// the time of the system allocator (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes an Azure network follow a Kubernetes cluster.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// kubeconfig file; in-cluster config (or ~/.kube/config) when unset.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Name of the AksNetwork to manage (cluster-scoped; the samples' `default` matches).
    #[arg(long, env = "AKSNET_NETWORK", default_value = "default")]
    network: String,
    /// The `loadBalancerClass` served (Services without a class are served too).
    #[arg(long, env = "AKSNET_LOAD_BALANCER_CLASS", default_value = aksnet_operator::DEFAULT_LOAD_BALANCER_CLASS)]
    load_balancer_class: String,
    /// ARM endpoint.
    #[arg(
        long,
        env = "AKSNET_ARM_ENDPOINT",
        default_value = "https://management.azure.com"
    )]
    arm_endpoint: String,
    /// Microsoft Entra authority host for tokens.
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    authority_host: Option<String>,
    /// Drift check interval (e.g. `5m`, `30s`; at least 1s, as each check re-reads Azure) for
    /// an AksNetwork without `spec.reconcile.driftCheckInterval`; the AksNetwork's value wins
    /// when set.
    #[arg(long, env = "AKSNET_DRIFT_INTERVAL", default_value = "5m", value_parser = parse_drift_interval)]
    drift_interval: Duration,
    /// Quiet time after a change before reconciling, at most 5m (changes within it coalesce;
    /// a stream of changes waits two windows at most).
    #[arg(long, env = "AKSNET_DEBOUNCE", default_value = "1s", value_parser = parse_debounce)]
    debounce: Duration,
    /// Azure writes that may leave back to back (the write budget's bucket; ARM's subscription
    /// write bucket holds 200). The budget also follows ARM's remaining-writes header.
    #[arg(long, env = "AKSNET_WRITE_BURST", default_value_t = 200)]
    write_burst: u32,
    /// Azure writes per second once the burst is spent (ARM refills 10 per second).
    #[arg(long, env = "AKSNET_WRITES_PER_SECOND", default_value_t = 10.0, value_parser = parse_rate)]
    writes_per_second: f64,
    /// ARM writes left to others: below this remaining count, one write every few seconds.
    #[arg(long, env = "AKSNET_WRITE_RESERVE", default_value_t = 20)]
    write_reserve: u64,
    /// Azure writes in flight at most: of each Service's public IP, and of the load
    /// balancers, NSG and route table one pass writes together (each kind on its own).
    #[arg(long, env = "AKSNET_MAX_CONCURRENT_WRITES", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=256))]
    max_concurrent_writes: u32,
    /// Compute and report what would change; never write to Azure.
    #[arg(long, env = "AKSNET_DRY_RUN")]
    dry_run: bool,
    /// Log format.
    #[arg(long, env = "AKSNET_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "AKSNET_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Elect a leader on a Lease so that replicas can run side by side.
    #[arg(long, env = "AKSNET_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the leader Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "aksnet-system")]
    lease_namespace: String,
    /// How long the leader's Lease holds without renewal (a standby takes over after it). The
    /// leader stops writing to Azure ⅓ of it earlier if it cannot renew, and renews every ⅐.
    #[arg(long, env = "AKSNET_LEASE_DURATION", default_value = "15s", value_parser = parse_lease)]
    lease_duration: Duration,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Frontends a load balancer takes before aksnet grows past it (Azure's Standard limit:
    /// 600; lower it to keep room for others' frontends, or in tests).
    #[arg(long, env = "AKSNET_FRONTENDS_PER_LOAD_BALANCER", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=600))]
    frontends_per_load_balancer: u32,
    /// Load-balancing rules a load balancer takes (Azure: 1,500).
    #[arg(long, env = "AKSNET_RULES_PER_LOAD_BALANCER", default_value_t = 1500, value_parser = clap::value_parser!(u32).range(1..=1500))]
    rules_per_load_balancer: u32,
    /// Health probes a load balancer takes (Azure: 1,000).
    #[arg(long, env = "AKSNET_PROBES_PER_LOAD_BALANCER", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    probes_per_load_balancer: u32,
}

/// `500ms`, `30s`, `5m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s or 5m"))?;
    let seconds = |per: u64| {
        n.checked_mul(per)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    }
}

/// A duration of at least `min` and at most `max`, or why not: `what` names the setting and
/// gives the reason for its bounds.
fn parse_duration_within(
    s: &str,
    min: Duration,
    max: Duration,
    what: &str,
) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < min {
        return Err(format!("{s:?} is too short for {what}"));
    }
    if d > max {
        return Err(format!("{s:?} is too long for {what}"));
    }
    Ok(d)
}

/// A debounce window of at most five minutes: changes wait up to two of them.
fn parse_debounce(s: &str) -> Result<Duration, String> {
    let what = "a debounce window (at most 5m: changes wait up to two)";
    parse_duration_within(s, Duration::ZERO, Duration::from_secs(300), what)
}

/// A drift interval of at least a second: a shorter one would re-read Azure without pause.
fn parse_drift_interval(s: &str) -> Result<Duration, String> {
    let what = "a drift interval (at least 1s: each check re-reads Azure)";
    parse_duration_within(s, Duration::from_secs(1), Duration::MAX, what)
}

/// A lease duration of at least 3 seconds (the leader renews every ⅐ of it).
fn parse_lease(s: &str) -> Result<Duration, String> {
    let what = "a lease (at least 3s)";
    parse_duration_within(s, Duration::from_secs(3), Duration::MAX, what)
}

/// A positive number of writes per second.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of writes per second"
        )),
    }
}

/// Errors that stop the binary.
#[derive(Debug, thiserror::Error)]
enum FatalError {
    #[error("kubernetes config: {0}")]
    KubeConfig(String),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("azure: {0}")]
    Azure(#[from] azure::AzureError),
    #[error("--arm-endpoint: {0}")]
    Endpoint(String),
    #[error("http server: {0}")]
    Http(#[from] std::io::Error),
}

async fn kube_client(args: &Args) -> Result<kube::Client, FatalError> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| FatalError::KubeConfig(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| FatalError::KubeConfig(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| FatalError::KubeConfig(e.to_string()))?,
    };
    Ok(kube::Client::try_from(config)?)
}

async fn run(args: Args) -> Result<(), FatalError> {
    let client = kube_client(&args).await?;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let registry = Arc::new(registry);
    let health = Arc::new(Health::new(if args.leader_elect {
        "standby"
    } else {
        "single (no leader election)"
    }));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let http = tokio::spawn(server::serve(
        args.http_addr,
        registry,
        health.clone(),
        shutdown_rx.clone(),
    ));
    let signals = shutdown_tx.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = signals.send(true);
    });

    let endpoint = azure_core::Url::parse(&args.arm_endpoint)
        .map_err(|e| FatalError::Endpoint(e.to_string()))?;
    let credential = azure::default_credential(args.authority_host.as_deref())?;
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("aksnet-{}", std::process::id()));

    // Caches fill (and stay warm) whether or not this replica leads: that is readiness.
    let mut watches = Watches::new(&client);
    let stores = (
        watches.networks.clone(),
        watches.services.clone(),
        watches.nodes.clone(),
        watches.namespaces.clone(),
    );
    tokio::spawn({
        let (health, mut synced) = (health.clone(), watches.synced());
        let (networks, metrics) = (watches.networks.clone(), metrics.clone());
        let (name, shutdown) = (args.network.clone(), shutdown_rx.clone());
        async move {
            if synced.wait_for(|s| *s).await.is_ok() {
                health.set_synced();
                tracing::info!("caches filled: ready");
                presence::watch(networks, name, metrics, health, shutdown).await;
            }
        }
    });
    let leadership = args.leader_elect.then(|| {
        leader::start(
            client.clone(),
            LeaseSettings::new(
                args.lease_namespace.clone(),
                LEASE_NAME.into(),
                identity.clone(),
                args.lease_duration,
            ),
            metrics.clone(),
        )
    });
    // Without election this replica always leads.
    let (_single, single) = watch::channel(true);
    let (fence, mut leading) = match &leadership {
        Some(l) => (l.fence.clone(), l.leading.clone()),
        None => {
            metrics.leader.set(1);
            (Fence::unfenced(), single)
        }
    };
    let mut shutdown = shutdown_rx.clone();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|v| *v) => break,
            led = leading.wait_for(|l| *l) => if led.is_err() { break },
        }
        if leadership.is_some() {
            health.set_role("leader");
        }
        let stop = term(shutdown_rx.clone(), leading.clone());
        // The subscription comes from the AksNetwork; the Azure client is built once it is known.
        let Some(subscription) =
            wait_for_subscription(&watches.networks, &args.network, stop.clone()).await
        else {
            continue;
        };
        let settings = azure::Settings {
            endpoint: endpoint.clone(),
            subscription,
            budget: azure::BudgetSettings {
                burst: args.write_burst,
                per_second: args.writes_per_second,
                reserve: args.write_reserve,
            },
            poll_interval: Duration::from_secs(2),
        };
        let azure = Arc::new(AzureClient::new(
            &settings,
            credential.clone(),
            metrics.clone(),
            fence.clone(),
        )?);
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "aksnet-operator".into(),
                instance: Some(identity.clone()),
            },
        );
        let publisher = Publisher::new(client.clone(), watches.services.clone(), recorder);
        // A new term starts from what Azure and the cluster say now, not from what an earlier
        // term remembered (another replica may have led in between).
        let reconciler = Reconciler::new(
            client.clone(),
            azure,
            Settings {
                network: args.network.clone(),
                load_balancer_class: args.load_balancer_class.clone(),
                dry_run: args.dry_run,
                limits: Limits {
                    frontends_per_load_balancer: args.frontends_per_load_balancer as usize,
                    rules_per_load_balancer: args.rules_per_load_balancer as usize,
                    probes_per_load_balancer: args.probes_per_load_balancer as usize,
                    ..Limits::default()
                },
                apply: apply::Settings {
                    max_concurrent_writes: args.max_concurrent_writes as usize,
                    ..apply::Settings::default()
                },
            },
            stores.clone(),
            publisher,
            metrics.clone(),
        );
        let timing = Timing {
            debounce: args.debounce,
            drift_interval: args.drift_interval,
        };
        controller::run(&reconciler, &mut watches, timing, stop).await;
        if leadership.is_some() {
            health.set_role("standby");
        }
    }
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    drop(watches);
    let _ = shutdown_tx.send(true);
    http.await
        .map_err(|e| FatalError::Http(std::io::Error::other(e)))??;
    Ok(())
}

/// The Lease replicas elect a leader on.
const LEASE_NAME: &str = "aksnet-operator-leader";

/// A signal that turns true when this term of leadership ends: shutdown, or the lease is lost.
fn term(
    mut shutdown: watch::Receiver<bool>,
    mut leading: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => {}
            _ = leading.wait_for(|l| !*l) => {}
            _ = tx.closed() => return,
        }
        let _ = tx.send(true);
    });
    rx
}

/// The subscription of the managed AksNetwork, once the store has it (watches run meanwhile);
/// `None` when `stop` turns true first. [`presence::watch`] says what is missing meanwhile.
async fn wait_for_subscription(
    networks: &kube::runtime::reflector::Store<aksnet_crds::AksNetwork>,
    name: &str,
    mut stop: watch::Receiver<bool>,
) -> Option<String> {
    loop {
        if let Some(n) = networks.get(&kube::runtime::reflector::ObjectRef::new(name)) {
            return Some(n.spec.azure.subscription_id.clone());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.wait_for(|v| *v) => return None,
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn,azure_core=warn"));
    // Every line passes through the redactor: no token or secret at any level.
    logging::init(filter, args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aksnet-operator: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "aksnet-operator stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_say_why() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").is_err_and(|e| e.contains("unknown unit")));
        assert!(parse_duration("m").is_err_and(|e| e.contains("not a duration")));
        assert!(parse_duration("").is_err());
        let huge = format!("{}h", u64::MAX / 60);
        assert!(parse_duration(&huge).is_err_and(|e| e.contains("too long")));
    }

    #[test]
    fn bad_flags_are_refused_by_name() {
        let err = Args::try_parse_from(["aksnet-operator", "--drift-interval", "soon"])
            .expect_err("bad duration");
        assert!(err.to_string().contains("--drift-interval"), "{err}");
        let err = Args::try_parse_from(["aksnet-operator", "--http-addr", "nowhere"])
            .expect_err("bad address");
        assert!(err.to_string().contains("--http-addr"), "{err}");
        for (flag, value) in [
            ("--max-concurrent-writes", "0"),
            ("--writes-per-second", "0"),
            ("--writes-per-second", "fast"),
            ("--write-burst", "lots"),
            ("--lease-duration", "1s"),
            ("--drift-interval", "0s"),
            ("--drift-interval", "500ms"),
            ("--debounce", "6m"),
            ("--debounce", "18446744073709551615s"),
            ("--lease-duration", "soon"),
            ("--log-format", "xml"),
        ] {
            let err = Args::try_parse_from(["aksnet-operator", flag, value])
                .expect_err("bad write settings");
            assert!(err.to_string().contains(flag), "{flag}: {err}");
        }
    }
}
