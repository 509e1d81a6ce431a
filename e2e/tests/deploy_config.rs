//! `config/` deploys: the kustomization passes a server-side dry run against the real API
//! server, and the RBAC grants exactly what the operator needs.

use aksnet_e2e::{TestCluster, kubectl, repo_root};

fn run(args: &[&str]) -> (bool, String) {
    let cluster = TestCluster::shared();
    let out = kubectl(cluster.kubeconfig())
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("kubectl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn ensure_namespace() {
    let client = TestCluster::shared().client().await.expect("client");
    aksnet_e2e::namespace::ensure(&client, "aksnet-system")
        .await
        .expect("namespace");
}

#[tokio::test]
async fn default_kustomization_passes_a_server_side_dry_run() {
    ensure_namespace().await;
    let (ok, out) = run(&[
        "apply",
        "--server-side",
        "-k",
        "config/default",
        "--dry-run=server",
    ]);
    assert!(ok, "{out}");
    for what in [
        "customresourcedefinition.apiextensions.k8s.io/aksnetworks.aksnet.io",
        "deployment.apps/aksnet-operator",
        "clusterrole.rbac.authorization.k8s.io/aksnet-operator",
        "role.rbac.authorization.k8s.io/aksnet-leader-election",
        "poddisruptionbudget.policy/aksnet-operator",
    ] {
        assert!(out.contains(what), "{what} in:\n{out}");
    }
}

#[test]
fn the_manifests_name_the_image_by_this_version() {
    let (ok, out) = run(&["kustomize", "config/default"]);
    assert!(ok, "{out}");
    let images: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .collect();
    let want = format!(
        "ghcr.io/aksnet/aksnet-operator:{}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        images,
        [want.as_str()],
        "the Deployment runs this release's image"
    );
    assert!(out.contains("topologySpreadConstraints"), "{out}");
}

#[tokio::test]
async fn rbac_grants_exactly_the_verbs_used() {
    ensure_namespace().await;
    for dir in ["config/crd", "config/rbac"] {
        let (ok, out) = run(&["apply", "--server-side", "-k", dir]);
        assert!(ok, "{out}");
    }
    let (ok, out) = run(&[
        "wait",
        "--for=condition=Established",
        "crd/aksnetworks.aksnet.io",
        "--timeout=30s",
    ]);
    assert!(ok, "{out}");
    let sa = "system:serviceaccount:aksnet-system:aksnet-operator";
    let allowed = [
        ("watch", "aksnetworks.aksnet.io", None),
        ("patch", "aksnetworks.aksnet.io/status", None),
        ("patch", "services", Some("default")),
        ("patch", "services/status", Some("default")),
        ("list", "nodes", None),
        ("create", "events.events.k8s.io", Some("default")),
        ("patch", "leases.coordination.k8s.io", Some("aksnet-system")),
        ("watch", "leases.coordination.k8s.io", Some("aksnet-system")),
    ];
    let denied = [
        ("delete", "services", Some("default")),
        ("update", "services", Some("default")),
        ("patch", "nodes", None),
        ("get", "secrets", Some("default")),
        ("delete", "aksnetworks.aksnet.io", None),
        ("patch", "leases.coordination.k8s.io", Some("default")),
    ];
    for (verbs, expect) in [(&allowed[..], true), (&denied[..], false)] {
        for (verb, resource, ns) in verbs {
            let mut args = vec!["auth", "can-i", verb, resource, "--as", sa];
            if let Some(ns) = ns {
                args.extend(["-n", ns]);
            }
            let (ok, out) = run(&args);
            assert_eq!(ok, expect, "can-i {verb} {resource} {ns:?}: {out}");
        }
    }
}
