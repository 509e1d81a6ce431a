//! Pieces the operator's end-to-end scenarios share: waiting for a condition, Services and
//! their addresses, ARM ids, and a kubenet AksNetwork over the cluster `MockAzure::seed_cluster`
//! makes.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

/// Poll `check` every 200 ms until it returns `Some`, for at most `secs` seconds; panics
/// naming `what` when time runs out.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until object `name` is gone from `api` (its finalizers released), for at most `secs`.
pub async fn gone<K>(api: &Api<K>, name: &str, secs: u64)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} gone"), secs, || async {
        api.get_opt(name)
            .await
            .ok()
            .and_then(|o| o.is_none().then_some(()))
    })
    .await
}

/// The ARM id of a Microsoft.Network resource.
pub fn net_id(subscription: &str, resource_group: &str, kind: &str, name: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Network/{kind}/{name}"
    )
}

/// The first ingress address of a Service, once it has one.
pub async fn ingress_ip(api: &Api<Service>, name: &str) -> Option<String> {
    let svc = api.get_opt(name).await.ok()??;
    svc.status?.load_balancer?.ingress?.first()?.ip.clone()
}

/// A LoadBalancer Service of `class` with one TCP port.
pub fn lb_service(name: &str, class: &str, port: u16, annotations: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": class, "ports": [{"name": "p", "port": port, "protocol": "TCP"}]}
    }))
    .expect("service")
}

/// The reasons of the Warning Events about `object`.
pub async fn warning_reasons(events: &Api<Event>, object: &str) -> Vec<String> {
    events
        .list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|e| {
                    e.involved_object.name.as_deref() == Some(object)
                        && e.type_.as_deref() == Some("Warning")
                })
                .filter_map(|e| e.reason)
                .collect()
        })
        .unwrap_or_default()
}

/// The `aksnet.io/LoadBalancerReady` condition of a Service: (status, reason, message).
pub async fn service_condition(api: &Api<Service>, name: &str) -> Option<(String, String, String)> {
    let svc = api.get_opt(name).await.ok()??;
    svc.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "aksnet.io/LoadBalancerReady")
        .map(|c| (c.status, c.reason, c.message))
}

/// A kubenet AksNetwork named `name` over the resources `MockAzure::seed_cluster` makes
/// (`aks-vnet`/`aks-subnet` 10.224.0.0/16, `aks-nsg`, `aks-rt`), with `extra` merged into its
/// spec.
pub fn kubenet_network(
    name: &str,
    subscription: &str,
    resource_group: &str,
    extra: Value,
) -> Value {
    let mut spec = json!({
        "clusterName": "e2e",
        "azure": {"subscriptionId": subscription, "resourceGroup": resource_group, "location": "westeurope", "vnet": {"name": "aks-vnet", "subnetName": "aks-subnet"}},
        "networkModel": "kubenet",
        "ipPlan": {"vnetCidrs": ["10.224.0.0/12"], "nodeSubnetCidr": "10.224.0.0/16", "podCidr": "10.244.0.0/16"},
        "securityGroup": {"name": "aks-nsg"},
        "routeTable": {"name": "aks-rt"}
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    json!({
        "apiVersion": "aksnet.io/v1alpha1", "kind": "AksNetwork", "metadata": {"name": name},
        "spec": spec
    })
}

/// One operator over its own AksNetwork, namespace and azure-mock, on the shared test cluster.
pub struct World {
    /// Admin client of the cluster.
    pub client: kube::Client,
    /// The namespace of the scenario's Services.
    pub namespace: String,
    /// The `loadBalancerClass` the operator serves.
    pub class: String,
    /// The AksNetwork's name.
    pub network: String,
    /// Azure.
    pub mock: crate::azure::MockAzure,
    /// The operator process.
    pub operator: crate::operator::OperatorProcess,
    /// Services in [`World::namespace`].
    pub services: Api<Service>,
    /// Subscription and resource group of the cluster.
    pub azure: (&'static str, &'static str),
}

impl World {
    /// Apply the CRD, make a namespace, start azure-mock with `config` (seeded with a cluster
    /// in `azure`), create nodes `(suffix, ip, pod CIDR)`, apply a kubenet AksNetwork with
    /// `extra` spec fields, and start the operator (drift check every 3 s).
    pub async fn start(
        tag: &str,
        config: azure_mock::Config,
        azure: (&'static str, &'static str),
        nodes: &[(&str, &str, &str)],
        extra: Value,
    ) -> Self {
        Self::start_with(
            tag,
            config,
            azure,
            nodes,
            extra,
            crate::operator::TEST_LOG_FILTER,
            &[],
        )
        .await
    }

    /// [`World::start`] with the operator's `RUST_LOG` set to `log_filter` and more
    /// command-line arguments.
    pub async fn start_with(
        tag: &str,
        config: azure_mock::Config,
        azure: (&'static str, &'static str),
        nodes: &[(&str, &str, &str)],
        extra: Value,
        log_filter: &str,
        args: &[&str],
    ) -> Self {
        let cluster = crate::TestCluster::shared();
        let client = cluster.client().await.expect("client");
        let crd =
            std::fs::read_to_string(crate::repo_root().join("crds/aksnet.io_aksnetworks.yaml"))
                .expect("crd");
        crate::manifests::apply_yaml(&client, &crd, None)
            .await
            .expect("apply CRD");
        let namespace = crate::namespace::create_unique(&client, tag)
            .await
            .expect("namespace");
        let class = format!("aksnet.io/{namespace}");
        let network = format!("net-{namespace}");
        let mock = crate::azure::MockAzure::start(config).await.expect("mock");
        mock.seed_cluster(azure.0, azure.1)
            .await
            .expect("seed azure");
        let node_api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        for (suffix, ip, cidr) in nodes {
            crate::nodes::create_node(&node_api, &format!("{namespace}-{suffix}"), ip, cidr)
                .await
                .expect("node");
        }
        let spec = kubenet_network(&network, azure.0, azure.1, extra);
        crate::manifests::apply_yaml(&client, &serde_yaml::to_string(&spec).expect("yaml"), None)
            .await
            .expect("apply network");
        let port = crate::operator::free_port().expect("port");
        let operator = crate::operator::OperatorProcess::start(&crate::operator::OperatorOptions {
            kubeconfig: cluster.kubeconfig().to_path_buf(),
            http_addr: format!("127.0.0.1:{port}"),
            network: network.clone(),
            class: class.clone(),
            azure_url: mock.url(),
            drift: "3s".into(),
            log: std::env::temp_dir().join(format!("aksnet-operator-{namespace}.log")),
            extra: args.iter().map(|a| a.to_string()).collect(),
            log_filter: log_filter.into(),
            env: Vec::new(),
        })
        .expect("start operator");
        let services = Api::namespaced(client.clone(), &namespace);
        Self {
            client,
            namespace,
            class,
            network,
            mock,
            operator,
            services,
            azure,
        }
    }

    /// A second namespace of this scenario, with its Services.
    pub async fn other_namespace(&self, tag: &str) -> Api<Service> {
        let ns = crate::namespace::create_unique(&self.client, tag)
            .await
            .expect("namespace");
        Api::namespaced(self.client.clone(), &ns)
    }

    /// The ARM id of a resource of the cluster.
    pub fn id(&self, kind: &str, name: &str) -> String {
        net_id(self.azure.0, self.azure.1, kind, name)
    }

    /// The AksNetwork's condition `type_`: (status, reason, message).
    pub async fn network_condition(&self, type_: &str) -> Option<(String, String, String)> {
        let api: Api<aksnet_crds::AksNetwork> = Api::all(self.client.clone());
        let n = api.get_opt(&self.network).await.ok()??;
        n.status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status, c.reason, c.message))
    }
}
