//! The operator binary as a process, pointed at a test cluster and azure-mock.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::azure::{CLIENT_ID, CLIENT_SECRET, TENANT};

/// Where cargo put the operator binary: next to the running test's `deps/` folder.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("aksnet-operator")
}

/// A running `aksnet-operator`; stopped (SIGTERM, then killed) on drop.
pub struct OperatorProcess {
    child: Child,
    log: PathBuf,
}

/// How to run it.
#[derive(Clone, Debug)]
pub struct OperatorOptions {
    /// kubeconfig of the cluster.
    pub kubeconfig: PathBuf,
    /// AksNetwork name.
    pub network: String,
    /// loadBalancerClass served.
    pub class: String,
    /// azure-mock URL (ARM endpoint and authority host).
    pub azure_url: String,
    /// Drift interval, e.g. `3s`.
    pub drift: String,
    /// Where to write the log.
    pub log: PathBuf,
    /// Address of /metrics, /healthz, /readyz.
    pub http_addr: String,
    /// More flags.
    pub extra: Vec<String>,
    /// `RUST_LOG` of the process.
    pub log_filter: String,
    /// More environment (after the test credentials, so it may replace them).
    pub env: Vec<(String, String)>,
}

/// The log filter tests run the operator with.
pub const TEST_LOG_FILTER: &str = "info,aksnet_operator=debug,kube=warn";

impl OperatorProcess {
    /// Start the binary.
    pub fn start(o: &OperatorOptions) -> std::io::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&o.log)?;
        let child = Command::new(binary())
            .arg("--kubeconfig")
            .arg(&o.kubeconfig)
            .args(["--network", &o.network, "--load-balancer-class", &o.class])
            .args([
                "--arm-endpoint",
                &o.azure_url,
                "--authority-host",
                &o.azure_url,
            ])
            .args([
                "--drift-interval",
                &o.drift,
                "--debounce",
                "300ms",
                "--http-addr",
                &o.http_addr,
            ])
            .args(&o.extra)
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
            .env("RUST_LOG", &o.log_filter)
            .envs(o.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Self {
            child,
            log: o.log.clone(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stop with SIGTERM and wait (killed after 10 s).
    pub fn stop(&mut self) -> std::io::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        for _ in 0..100 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A copy of `kubeconfig` whose user acts as `user` (impersonation), written to `out`.
pub fn impersonating_kubeconfig(kubeconfig: &Path, user: &str, out: &Path) -> std::io::Result<()> {
    let text = std::fs::read_to_string(kubeconfig)?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(std::io::Error::other)?;
    if let Some(users) = doc
        .get_mut("users")
        .and_then(serde_yaml::Value::as_sequence_mut)
    {
        for u in users {
            if let Some(m) = u
                .get_mut("user")
                .and_then(serde_yaml::Value::as_mapping_mut)
            {
                m.insert("as".into(), user.into());
            }
        }
    }
    std::fs::write(
        out,
        serde_yaml::to_string(&doc).map_err(std::io::Error::other)?,
    )
}
