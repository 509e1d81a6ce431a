//! Two replicas of the operator with leader election, on the real API server and azure-mock:
//! both are Ready (before any AksNetwork exists, and while one stands by), only the leader
//! writes, and when the lease is taken from the leader in the middle of a burst, the old leader
//! writes nothing more (from the mock journal, which names each write's caller).

use std::time::Duration;

use aksnet_e2e::azure::{JournalWrite, MockAzure};
use aksnet_e2e::operator::{OperatorOptions, OperatorProcess, free_port};
use aksnet_e2e::scenario::{eventually, ingress_ip, kubenet_network, lb_service};
use aksnet_e2e::{TestCluster, manifests, namespace, nodes};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-0000000000ee";
const RG: &str = "rg-leadership";
const SERVICES: usize = 30;

/// One replica: its process, HTTP port and Azure client id (the journal's caller).
struct Replica {
    process: OperatorProcess,
    port: u16,
    identity: String,
    client_id: String,
}

impl Replica {
    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        let code = r.status().as_u16();
        Some((code, r.text().await.ok()?))
    }

    /// The value of metric `name` (no labels).
    async fn metric(&self, name: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }
}

fn start(
    cluster: &TestCluster,
    mock: &MockAzure,
    ns: &str,
    network: &str,
    class: &str,
    name: &str,
) -> Replica {
    let port = free_port().expect("port");
    let identity = format!("{name}-{ns}");
    let client_id = format!("replica-{name}");
    let process = OperatorProcess::start(&OperatorOptions {
        kubeconfig: cluster.kubeconfig().to_path_buf(),
        http_addr: format!("127.0.0.1:{port}"),
        network: network.into(),
        class: class.into(),
        azure_url: mock.url(),
        drift: "3s".into(),
        log: std::env::temp_dir().join(format!("aksnet-operator-{identity}.log")),
        extra: [
            "--leader-elect",
            "--lease-namespace",
            ns,
            "--lease-duration",
            "6s",
            "--identity",
            &identity,
            // A slow burst, so that the lease moves while writes are still to come.
            "--max-concurrent-writes",
            "2",
        ]
        .map(String::from)
        .to_vec(),
        log_filter: aksnet_e2e::operator::TEST_LOG_FILTER.into(),
        env: vec![("AZURE_CLIENT_ID".into(), client_id.clone())],
    })
    .expect("start replica");
    Replica {
        process,
        port,
        identity,
        client_id,
    }
}

#[tokio::test]
async fn both_replicas_are_ready_only_the_leader_writes_and_a_deposed_leader_stops_at_once() {
    let cluster = TestCluster::shared();
    let client = cluster.client().await.expect("client");
    let crd =
        std::fs::read_to_string(aksnet_e2e::repo_root().join("crds/aksnet.io_aksnetworks.yaml"))
            .expect("crd");
    manifests::apply_yaml(&client, &crd, None)
        .await
        .expect("crd");
    let ns = namespace::create_unique(&client, "lead").await.expect("ns");
    let class = format!("aksnet.io/{ns}");
    let network = format!("net-{ns}");
    let mock = MockAzure::start(azure_mock::Config {
        operation_duration: Duration::from_millis(300),
        ..azure_mock::Config::default()
    })
    .await
    .expect("mock");
    mock.seed_cluster(SUB, RG).await.expect("seed");
    mock.clear_journal().await.expect("journal");
    let node_api: Api<Node> = Api::all(client.clone());
    for (i, ip) in ["10.224.0.4", "10.224.0.5"].iter().enumerate() {
        nodes::create_node(
            &node_api,
            &format!("{ns}-n{i}"),
            ip,
            &format!("10.244.{i}.0/24"),
        )
        .await
        .expect("node");
    }

    // Both replicas are Ready before their AksNetwork exists, and say what they wait for.
    let replicas = [
        start(cluster, &mock, &ns, &network, &class, "a"),
        start(cluster, &mock, &ns, &network, &class, "b"),
    ];
    for r in &replicas {
        let body = eventually(&format!("{} ready", r.identity), 60, || async {
            r.get("/readyz")
                .await
                .filter(|(code, body)| *code == 200 && body.contains("network:"))
                .map(|(_, b)| b)
        })
        .await;
        assert!(
            body.contains(&format!("AksNetwork {network} not found")),
            "{body}"
        );
        assert_eq!(r.metric("aksnet_network_present").await, Some(0.0));
    }
    let leader = eventually("one leader", 30, || async {
        let mut leading = Vec::new();
        for (i, r) in replicas.iter().enumerate() {
            if r.metric("aksnet_leader").await == Some(1.0) {
                leading.push(i);
            }
        }
        (leading.len() == 1).then(|| leading[0])
    })
    .await;
    let (old, new) = (&replicas[leader], &replicas[1 - leader]);
    assert!(
        new.process.log().contains("another replica leads"),
        "{}",
        new.process.log()
    );
    let (code, body) = new.get("/readyz").await.expect("standby readyz");
    assert_eq!(code, 200, "a standby is Ready: {body}");
    assert!(body.contains("role: standby"), "{body}");

    // The network and a burst of Services: only the leader writes.
    let spec = kubenet_network(&network, SUB, RG, json!({}));
    manifests::apply_yaml(&client, &serde_yaml::to_string(&spec).expect("yaml"), None)
        .await
        .expect("network");
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    for i in 0..SERVICES {
        let port = 8000 + u16::try_from(i).expect("port");
        services
            .create(
                &PostParams::default(),
                &lb_service(&format!("s{i}"), &class, port, json!({})),
            )
            .await
            .expect("service");
    }
    eventually("the leader writing", 60, || async {
        let writes = mock.writes_by_caller().await.ok()?;
        (writes.len() >= 5).then_some(())
    })
    .await;
    let before = mock.writes_by_caller().await.expect("journal");
    let callers: Vec<&str> = before.iter().map(|w| w.caller.as_str()).collect();
    assert!(
        before.iter().all(|w| w.caller == old.client_id),
        "only the leader writes: {callers:?}"
    );

    // The lease goes to the standby in the middle of the burst.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let now = MicroTime(Timestamp::now());
    leases
        .patch(
            "aksnet-operator-leader",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"holderIdentity": new.identity, "acquireTime": now, "renewTime": now}})),
        )
        .await
        .expect("force the lease");
    let forced_at = mock.journal_len().await.expect("journal");
    eventually("the old leader standing by", 30, || async {
        (old.metric("aksnet_leader").await == Some(0.0)).then_some(())
    })
    .await;
    let noticed_at = mock.journal_len().await.expect("journal");

    // The new leader serves every Service.
    for i in 0..SERVICES {
        let name = format!("s{i}");
        eventually(&format!("{name} served"), 120, || {
            ingress_ip(&services, &name)
        })
        .await;
    }
    let writes = mock.writes_by_caller().await.expect("journal");
    let by = |who: &Replica| -> Vec<&JournalWrite> {
        writes
            .iter()
            .filter(|w| w.caller == who.client_id)
            .collect()
    };
    let (old_writes, new_writes) = (by(old), by(new));
    assert_eq!(
        old_writes.len() + new_writes.len(),
        writes.len(),
        "no other caller"
    );
    let first_new = new_writes.first().expect("the new leader wrote").index;
    let late: Vec<&&JournalWrite> = old_writes.iter().filter(|w| w.index > noticed_at).collect();
    assert!(
        late.is_empty(),
        "the old leader wrote after it stood down: {late:?}"
    );
    let after_new: Vec<&&JournalWrite> =
        old_writes.iter().filter(|w| w.index > first_new).collect();
    assert!(
        after_new.is_empty(),
        "the old leader wrote after the new one began: {after_new:?}"
    );
    let in_flight = old_writes.iter().filter(|w| w.index > forced_at).count();
    println!(
        "lease forced at journal entry {forced_at}; old leader noticed by entry {noticed_at}; \
         its writes after the force: {in_flight}; new leader's first write: entry {first_new}; \
         writes: old {} new {}",
        old_writes.len(),
        new_writes.len()
    );
    let log = old.process.log();
    assert!(
        log.contains("lost the lease") && log.contains("the reconcile in flight is cancelled"),
        "{log}"
    );
    let (code, body) = old.get("/readyz").await.expect("readyz");
    assert_eq!(
        code, 200,
        "the deposed leader stays Ready as a standby: {body}"
    );
    assert!(
        body.contains("role: standby") && body.contains("found"),
        "{body}"
    );
}
