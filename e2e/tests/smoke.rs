//! Smoke tests: the harness gives us a real kube-apiserver that allocates, validates and watches.

use std::net::Ipv4Addr;
use std::time::Duration;

use aksnet_e2e::{TestCluster, manifests, namespace};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn creates_a_namespace() -> anyhow::Result<()> {
    let client = TestCluster::shared().client().await?;
    let name = namespace::create_unique(&client, "smoke-ns").await?;
    let ns = Api::<Namespace>::all(client).get(&name).await?;
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Active"),
        "a new namespace is Active"
    );
    Ok(())
}

#[tokio::test]
async fn load_balancer_service_gets_cluster_ip_and_node_ports() -> anyhow::Result<()> {
    let client = TestCluster::shared().client().await?;
    let ns = namespace::create_unique(&client, "smoke-svc").await?;
    let services: Api<Service> = Api::namespaced(client, &ns);
    let svc = Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            selector: Some([("app".to_string(), "web".to_string())].into()),
            ports: Some(vec![
                ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some("https".into()),
                    port: 443,
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    services.create(&PostParams::default(), &svc).await?;
    let spec = services.get("web").await?.spec.unwrap_or_default();

    let cluster_ip: Ipv4Addr = spec.cluster_ip.as_deref().unwrap_or_default().parse()?;
    let octets = cluster_ip.octets();
    assert_eq!(
        (octets[0], octets[1]),
        (10, 0),
        "ClusterIP {cluster_ip} comes from the service CIDR 10.0.0.0/16"
    );
    let node_ports: Vec<i32> = spec
        .ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.node_port)
        .collect();
    assert_eq!(node_ports.len(), 2, "each port gets a NodePort");
    assert!(
        node_ports.iter().all(|p| (30000..=32767).contains(p)),
        "NodePorts {node_ports:?} come from the NodePort range"
    );
    assert_ne!(node_ports[0], node_ports[1], "NodePorts are distinct");
    Ok(())
}

/// A throwaway custom resource for the watch test.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "smoke.aksnet.io", version = "v1", kind = "Widget", namespaced)]
struct WidgetSpec {
    size: u32,
}

#[tokio::test]
async fn applies_a_crd_and_watches_its_objects() -> anyhow::Result<()> {
    let client = TestCluster::shared().client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        Widget::crd_name(),
        &PatchParams::apply(manifests::FIELD_MANAGER).force(),
        &Patch::Apply(Widget::crd()),
    )
    .await?;
    manifests::wait_established(&client, Widget::crd_name()).await?;

    let ns = namespace::create_unique(&client, "smoke-crd").await?;
    let widgets: Api<Widget> = Api::namespaced(client, &ns);
    let mut events = watcher(widgets.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();

    widgets
        .create(
            &PostParams::default(),
            &Widget::new("w1", WidgetSpec { size: 3 }),
        )
        .await?;
    let seen = tokio::time::timeout(Duration::from_secs(30), events.try_next()).await??;
    let seen = seen.ok_or_else(|| anyhow::anyhow!("watch ended"))?;
    assert_eq!((seen.name_any(), seen.spec.size), ("w1".to_string(), 3));

    widgets
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"size": 5}})),
        )
        .await?;
    let updated = tokio::time::timeout(Duration::from_secs(30), events.try_next()).await??;
    let updated = updated.ok_or_else(|| anyhow::anyhow!("watch ended"))?;
    assert_eq!(updated.spec.size, 5, "the watch delivers the update");
    Ok(())
}

#[tokio::test]
async fn kubectl_reads_the_cluster_with_the_kubeconfig() -> anyhow::Result<()> {
    let cluster = TestCluster::shared();
    let client = cluster.client().await?;
    let ns = namespace::create_unique(&client, "smoke-kubectl").await?;
    let out = tokio::process::Command::from(aksnet_e2e::kubectl(cluster.kubeconfig()))
        .args(["get", "ns", "-o", "name"])
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.lines().any(|l| l == "namespace/default"));
    assert!(stdout.lines().any(|l| l == format!("namespace/{ns}")));
    Ok(())
}
