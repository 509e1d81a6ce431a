//! `charts/aksnet` rendered by the real Helm (built from Go modules; `make` names it in
//! `AKSNET_HELM_BIN`): with default values it renders the objects of `config/default`, it
//! passes a server-side dry run on the real API server, and its values reach the objects.

use std::collections::BTreeMap;
use std::process::Command;

use aksnet_e2e::{TestCluster, kubectl, repo_root};
use serde_json::Value;

/// Run a command in the repository; its stdout, or the failure with stderr.
fn output(cmd: &mut Command) -> String {
    let out = cmd.current_dir(repo_root()).output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn helm(args: &[&str]) -> String {
    let bin = std::env::var("AKSNET_HELM_BIN")
        .expect("AKSNET_HELM_BIN names the helm binary (run through `make test`)");
    output(Command::new(bin).args(args))
}

fn render(set: &[&str]) -> String {
    let mut args = vec![
        "template",
        "aksnet",
        "charts/aksnet",
        "--namespace",
        "aksnet-system",
    ];
    for s in set {
        args.extend(["--set", s]);
    }
    helm(&args)
}

/// The objects of a YAML stream by `kind/namespace/name`.
fn objects(yaml: &str) -> BTreeMap<String, Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|doc| {
            let v = Value::deserialize(doc).ok()?;
            let key = format!(
                "{}/{}/{}",
                v["kind"].as_str()?,
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str()?
            );
            Some((key, v))
        })
        .collect()
}

use serde::Deserialize;

#[test]
fn default_values_render_the_objects_of_config_default() {
    let mut chart = objects(&render(&[]));
    let crd = chart
        .get_mut("CustomResourceDefinition//aksnetworks.aksnet.io")
        .expect("the chart installs the CRD");
    // The chart keeps the CRD on uninstall; otherwise it is the generated one.
    let annotations = crd["metadata"]["annotations"]
        .as_object_mut()
        .expect("annotations");
    assert_eq!(
        annotations.remove("helm.sh/resource-policy"),
        Some(Value::from("keep"))
    );
    if annotations.is_empty() {
        crd["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("annotations");
    }
    let cluster = TestCluster::shared();
    let mut kustomized = objects(&output(
        kubectl(cluster.kubeconfig()).args(["kustomize", "config/default"]),
    ));
    // Helm installs into a namespace it is given (`--create-namespace`); config/default makes it.
    assert!(kustomized.remove("Namespace//aksnet-system").is_some());
    let names = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&chart), names(&kustomized));
    for (key, want) in &kustomized {
        assert_eq!(&chart[key], want, "{key} differs");
    }
}

#[tokio::test]
async fn the_chart_passes_a_server_side_dry_run_and_its_values_reach_the_objects() {
    let cluster = TestCluster::shared();
    let client = cluster.client().await.expect("client");
    aksnet_e2e::namespace::ensure(&client, "aksnet-system")
        .await
        .expect("namespace");
    let rendered = render(&[
        "replicas=3",
        "network=prod",
        "workloadIdentity.clientId=11111111-2222-3333-4444-555555555555",
        "logFormat=text",
        "image.repository=registry.example.com/aksnet",
        "image.tag=9.9.9",
        "extraArgs[0]=--drift-interval=10m",
        "leaderElection.leaseDuration=30s",
        "metrics.serviceMonitor.enabled=true",
        "podDisruptionBudget.enabled=false",
        "resources.limits.memory=512Mi",
    ]);
    let path = cluster.scratch_dir().join("chart.yaml");
    std::fs::write(&path, &rendered).expect("write");
    // The CRD first (the ServiceMonitor needs the Prometheus Operator's CRD: left out here).
    let without_monitor: String = rendered
        .split("\n---")
        .filter(|doc| !doc.contains("kind: ServiceMonitor"))
        .collect::<Vec<_>>()
        .join("\n---");
    std::fs::write(&path, without_monitor).expect("write");
    let out = output(kubectl(cluster.kubeconfig()).args([
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        path.to_str().expect("path"),
    ]));
    assert!(out.contains("deployment.apps/aksnet-operator"), "{out}");

    let objs = objects(&rendered);
    let deployment = &objs["Deployment/aksnet-system/aksnet-operator"];
    assert_eq!(deployment["spec"]["replicas"], 3);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/aksnet:9.9.9");
    assert_eq!(container["resources"]["limits"]["memory"], "512Mi");
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        args,
        [
            "--leader-elect",
            "--log-format=text",
            "--lease-duration=30s",
            "--drift-interval=10m"
        ]
    );
    assert_eq!(container["env"][0]["value"], "prod");
    assert_eq!(
        objs["ServiceAccount/aksnet-system/aksnet-operator"]["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert!(objs.contains_key("ServiceMonitor/aksnet-system/aksnet-operator"));
    assert!(!objs.contains_key("PodDisruptionBudget/aksnet-system/aksnet-operator"));
}
