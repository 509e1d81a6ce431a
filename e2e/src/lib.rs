//! aksnet's end-to-end test support: a real Kubernetes API server for tests ([`TestCluster`]),
//! manifest application, and helpers shared by the end-to-end tests.

pub mod azure;
pub mod cluster;
pub mod manifests;
pub mod namespace;
pub mod nodes;
pub mod operator;
pub mod scenario;

use std::path::{Path, PathBuf};

pub use cluster::{ClusterError, TestCluster};

/// The repository root (where `config/` and `crds/` live).
pub fn repo_root() -> PathBuf {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR"));
    e2e.parent().unwrap_or(e2e).to_path_buf()
}

/// A `kubectl` command for the given kubeconfig. `$KUBECTL` picks the binary (the Makefile sets
/// it to the newest kubectl on the machine); plain `kubectl` otherwise.
pub fn kubectl(kubeconfig: &Path) -> std::process::Command {
    let bin = std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into());
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--kubeconfig").arg(kubeconfig);
    cmd
}

/// Run kubectl with `args` in the repository root; panics with its stderr unless it succeeds.
pub fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl(kubeconfig)
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
