//! `make run`: starts a local test cluster (a real kube-apiserver), applies the CRDs and the
//! samples, shows the result and how to explore it, and stops everything on Ctrl-C.

use aksnet_e2e::{TestCluster, kubectl, manifests, repo_root};
use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cluster = tokio::task::spawn_blocking(TestCluster::start).await??;
    println!(
        "test cluster ready at {} in {:?}",
        cluster.server(),
        cluster.startup()
    );
    let client = cluster.client().await?;

    let crd = aksnet_crds::crdgen::aksnetwork_crd_yaml()?;
    for applied in manifests::apply_yaml(&client, &crd, None).await? {
        println!("applied {applied}");
    }
    let samples = repo_root().join("config").join("samples");
    let mut files: Vec<_> = std::fs::read_dir(&samples)
        .with_context(|| format!("reading {}", samples.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        })
        .collect();
    files.sort();
    for file in files {
        let yaml = std::fs::read_to_string(&file)?;
        for applied in manifests::apply_yaml(&client, &yaml, Some("default")).await? {
            println!("applied {applied} from {}", file.display());
        }
    }

    let out = kubectl(cluster.kubeconfig())
        .args(["get", "aksnetworks", "-o", "wide"])
        .output()?;
    println!("\n{}", String::from_utf8_lossy(&out.stdout));
    println!(
        "explore it:\n  export KUBECONFIG={}",
        cluster.kubeconfig().display()
    );
    println!("  kubectl get akn\n  kubectl get akn kubenet -o yaml");
    println!("\nCtrl-C stops the cluster.");
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    tokio::task::spawn_blocking(move || cluster.stop()).await??;
    Ok(())
}
