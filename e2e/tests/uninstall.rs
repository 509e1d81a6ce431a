//! `make undeploy` on the real API server: installed with `config/default`, the operator (run
//! here as the Deployment's ServiceAccount) serving a Service, uninstalling deletes the
//! AksNetwork first, so the operator tears Azure down and releases every finalizer, then the
//! operator and the CRD; nothing is left stuck.

use aksnet_e2e::azure::MockAzure;
use aksnet_e2e::operator::{
    OperatorOptions, OperatorProcess, TEST_LOG_FILTER, free_port, impersonating_kubeconfig,
};
use aksnet_e2e::scenario::{eventually, ingress_ip, kubenet_network, lb_service};
use aksnet_e2e::{TestCluster, kubectl_ok, manifests, namespace, nodes, repo_root};
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use kube::core::ResourceExt;
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-0000000000dd";
const RG: &str = "rg-uninstall";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeploy_tears_azure_down_before_removing_the_operator_and_leaves_nothing_stuck() {
    let cluster = TestCluster::shared();
    let client = cluster.client().await.expect("client");
    kubectl_ok(
        cluster.kubeconfig(),
        &["apply", "--server-side", "-k", "config/default"],
    );
    kubectl_ok(
        cluster.kubeconfig(),
        &[
            "wait",
            "--for=condition=Established",
            "crd/aksnetworks.aksnet.io",
            "--timeout=30s",
        ],
    );

    let mock = MockAzure::start(azure_mock::Config::default())
        .await
        .expect("mock");
    mock.seed_cluster(SUB, RG).await.expect("seed");
    let node_api: Api<Node> = Api::all(client.clone());
    nodes::create_node(&node_api, "uninstall-n0", "10.224.0.4", "10.244.0.0/24")
        .await
        .expect("node");
    // The network named like the Deployment's --network (`default`), as a user would apply it.
    let spec = kubenet_network("default", SUB, RG, json!({}));
    manifests::apply_yaml(&client, &serde_yaml::to_string(&spec).expect("yaml"), None)
        .await
        .expect("network");

    // The operator as the Deployment would run it: its ServiceAccount, leader election.
    let sa = cluster.scratch_dir().join("uninstall-sa.kubeconfig");
    impersonating_kubeconfig(
        cluster.kubeconfig(),
        "system:serviceaccount:aksnet-system:aksnet-operator",
        &sa,
    )
    .expect("kubeconfig");
    let mut operator = OperatorProcess::start(&OperatorOptions {
        kubeconfig: sa,
        http_addr: format!("127.0.0.1:{}", free_port().expect("port")),
        network: "default".into(),
        class: "aksnet.io/azure".into(),
        azure_url: mock.url(),
        drift: "3s".into(),
        log: std::env::temp_dir().join("aksnet-operator-uninstall.log"),
        extra: [
            "--leader-elect",
            "--lease-namespace",
            "aksnet-system",
            "--identity",
            "uninstall",
        ]
        .map(String::from)
        .to_vec(),
        log_filter: TEST_LOG_FILTER.into(),
        env: Vec::new(),
    })
    .expect("operator");
    let ns = namespace::create_unique(&client, "uninstall")
        .await
        .expect("ns");
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    services
        .create(
            &PostParams::default(),
            &lb_service("web", "aksnet.io/azure", 80, json!({})),
        )
        .await
        .expect("service");
    eventually("web served", 90, || ingress_ip(&services, "web")).await;
    let lb = mock
        .get(&aksnet_e2e::scenario::net_id(
            SUB,
            RG,
            "loadBalancers",
            "kubernetes",
        ))
        .await
        .expect("the public load balancer");
    assert!(
        !lb["properties"]["loadBalancingRules"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );

    // azure-mock runs in this process: wait for make off the runtime's threads.
    let kubeconfig = cluster.kubeconfig().to_path_buf();
    let undeploy = tokio::task::spawn_blocking(move || {
        std::process::Command::new("make")
            .args(["-s", "undeploy", "UNDEPLOY_TIMEOUT=90s"])
            .env("KUBECONFIG", kubeconfig)
            .current_dir(repo_root())
            .output()
    })
    .await
    .expect("join")
    .expect("make");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&undeploy.stdout),
        String::from_utf8_lossy(&undeploy.stderr)
    );
    assert!(
        undeploy.status.success(),
        "make undeploy:\n{said}\n{}",
        operator.log()
    );
    let first = said.find("1/2").expect("networks first");
    let second = said.find("2/2").expect("then the operator");
    assert!(first < second, "{said}");

    // Azure is torn down: the load balancer aksnet made and the Service's public IP are gone.
    let lb = mock
        .get(&aksnet_e2e::scenario::net_id(
            SUB,
            RG,
            "loadBalancers",
            "kubernetes",
        ))
        .await;
    assert!(lb.is_err(), "the load balancer is deleted: {lb:?}");
    assert!(
        operator.log().contains("tearing down"),
        "{}",
        operator.log()
    );
    // Nothing is stuck: the Service keeps running without aksnet's finalizer, the CRD is gone,
    // the operator's namespace is going (no namespace controller runs in the test cluster).
    let web = services.get("web").await.expect("the Service stays");
    assert!(
        !web.finalizers().iter().any(|f| f.starts_with("aksnet.io/")),
        "{:?}",
        web.finalizers()
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    eventually("the CRD gone", 30, || async {
        crds.get_opt("aksnetworks.aksnet.io")
            .await
            .ok()
            .and_then(|c| c.is_none().then_some(()))
    })
    .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let system = namespaces.get_opt("aksnet-system").await.expect("read");
    assert!(
        system.is_none_or(|n| n.metadata.deletion_timestamp.is_some()),
        "aksnet-system is deleted"
    );
    operator.stop().expect("stop");
    mock.stop().await;
}
