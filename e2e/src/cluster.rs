//! [`TestCluster`]: a real kube-apiserver (the `e2e/testenv` Go program) run as a child process.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Environment variable naming the testenv binary; defaults to `<workspace>/.bin/testenv`.
pub const TESTENV_BIN_ENV: &str = "AKSNET_TESTENV_BIN";

/// How long a stopped cluster gets to exit on its own before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Failures of starting or talking to the test cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The testenv binary is not where we looked.
    #[error("testenv binary not found at {path}: run `make testenv` or set {TESTENV_BIN_ENV}")]
    MissingBinary {
        /// Where it was expected.
        path: PathBuf,
    },
    /// Spawning the process or reading its output failed.
    #[error("testenv I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The process exited before printing its ready line.
    #[error("testenv exited before it was ready; its log ends with:\n{log_tail}")]
    NotReady {
        /// The last lines of its standard error.
        log_tail: String,
    },
    /// The kubeconfig it wrote could not be loaded.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// A client could not be built from the kubeconfig.
    #[error("kube client: {0}")]
    Client(#[from] kube::Error),
}

/// A running kube-apiserver with embedded etcd on 127.0.0.1.
///
/// Dropping it stops the process (also when a test panics): its standard input is closed,
/// which the program treats like SIGTERM, and it is killed if it has not exited in time.
/// The process also exits when the test binary dies, because its stdin then closes.
pub struct TestCluster {
    child: Child,
    stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    server: String,
    state_dir: PathBuf,
    startup: Duration,
}

impl TestCluster {
    /// Starts a new cluster and waits until it serves requests.
    pub fn start() -> Result<Self, ClusterError> {
        let bin = testenv_binary();
        if !bin.is_file() {
            return Err(ClusterError::MissingBinary { path: bin });
        }
        let dir = tempfile::Builder::new().prefix("aksnet-e2e-").tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        let log_path = dir.path().join("testenv.log");
        let started = Instant::now();
        let mut child = Command::new(&bin)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path)?)
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("testenv stdout was not captured"))?;
        let mut lines = BufReader::new(stdout).lines();
        let (server, state_dir) = loop {
            match lines.next() {
                Some(line) => {
                    let line = line?;
                    if let Some(rest) = line.strip_prefix("READY ") {
                        let field = |key| ready_field(rest, key).unwrap_or_default().to_string();
                        break (field("server"), PathBuf::from(field("state")));
                    }
                }
                None => {
                    let _ = child.wait();
                    return Err(ClusterError::NotReady {
                        log_tail: tail(&log_path, 40),
                    });
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let startup = started.elapsed();
        tracing::info!(server, ?startup, "test cluster ready");
        Ok(Self {
            child,
            stdin,
            dir,
            kubeconfig,
            server,
            state_dir,
            startup,
        })
    }

    /// One cluster shared by every test of this test binary; tests isolate themselves by
    /// namespace. It is stopped when the test binary exits (its stdin closes).
    ///
    /// # Panics
    /// When the cluster cannot start: there is nothing a test could do without it.
    pub fn shared() -> &'static TestCluster {
        static SHARED: OnceLock<TestCluster> = OnceLock::new();
        SHARED.get_or_init(|| match TestCluster::start() {
            Ok(cluster) => cluster,
            Err(err) => panic!("cannot start the shared test cluster: {err}"),
        })
    }

    /// Path of the admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server URL, `https://127.0.0.1:<port>`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The process id of the API server process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory where the API server keeps its etcd data and credentials; removed on stop.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Time from spawning the process to its ready line.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// A scratch directory that lives as long as the cluster.
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new admin client. Build one per tokio runtime (each `#[tokio::test]` has its own).
    pub async fn client(&self) -> Result<kube::Client, ClusterError> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A client that acts as `user` (impersonation by the admin), as `kubectl --as` does.
    pub async fn client_as(&self, user: &str) -> Result<kube::Client, ClusterError> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        config.auth_info.impersonate = Some(user.to_string());
        Ok(kube::Client::try_from(config)?)
    }

    /// Stops the cluster and waits for the process to exit.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!("testenv did not stop within {STOP_GRACE:?}; killing it");
        self.child.kill()?;
        self.child.wait().map(drop)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            tracing::warn!(%err, "stopping testenv");
        }
    }
}

fn testenv_binary() -> PathBuf {
    std::env::var_os(TESTENV_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".bin").join("testenv"))
}

/// Reads `key=value` out of the ready line's space-separated fields.
fn ready_field<'a>(fields: &'a str, key: &str) -> Option<&'a str> {
    fields
        .split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_fields_are_parsed() {
        let rest = "kubeconfig=/tmp/k server=https://127.0.0.1:4321 startup=3.2s";
        assert_eq!(ready_field(rest, "server"), Some("https://127.0.0.1:4321"));
        assert_eq!(ready_field(rest, "kubeconfig"), Some("/tmp/k"));
        assert_eq!(ready_field(rest, "serv"), None);
    }
}
