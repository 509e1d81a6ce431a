//! What Flux reads: AksNetworks the operator wrote, in each state of `docs/gitops.md`, judged by
//! the real kstatus library (`sigs.k8s.io/cli-utils`, the `e2e/kstatus` program that `make`
//! builds and names in `AKSNET_KSTATUS_BIN`).

use std::io::Write;
use std::process::{Command, Stdio};

use aksnet_crds::AksNetwork;
use aksnet_e2e::scenario::{World, eventually, lb_service};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000000cc";

/// kstatus's verdict and message for each object.
fn kstatus(objects: &[Value]) -> Vec<(String, String)> {
    let bin = std::env::var("AKSNET_KSTATUS_BIN")
        .expect("AKSNET_KSTATUS_BIN names the kstatus program (run through `make test`)");
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kstatus runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(Value::Array(objects.to_vec()).to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("kstatus");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (status, message) = l.split_once('\t').unwrap_or((l, ""));
            (status.to_string(), message.to_string())
        })
        .collect()
}

/// The AksNetwork as the API server has it, once `condition` is `True`.
async fn when(api: &Api<AksNetwork>, name: &str, condition: &str, reason: &str) -> Value {
    eventually(&format!("{condition}={reason}"), 60, || async {
        let n = api.get(name).await.ok()?;
        let status = n.status.as_ref()?;
        let current = status.observed_generation == n.metadata.generation;
        status
            .conditions
            .iter()
            .any(|c| c.type_ == condition && c.status == "True" && c.reason == reason)
            .then_some(())
            .filter(|()| current)?;
        serde_json::to_value(&n).ok()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_reads_each_state_of_the_network_as_documented() {
    let world = World::start(
        "kstatus",
        azure_mock::Config::default(),
        (SUB, "mc_kstatus_e2e"),
        &[("a", "10.224.5.4", "10.244.51.0/24")],
        json!({}),
    )
    .await;
    let api: Api<AksNetwork> = Api::all(world.client.clone());
    let name = world.network.clone();
    let patch = |v: Value| {
        let api = api.clone();
        let name = name.clone();
        async move {
            api.patch(&name, &PatchParams::default(), &Patch::Merge(v))
                .await
                .expect("patch")
        }
    };

    let ready = when(&api, &name, "Ready", "Synced").await;
    let mut behind = ready.clone();
    behind["metadata"]["generation"] =
        json!(ready["metadata"]["generation"].as_i64().unwrap_or(1) + 1);

    // A typo in the NSG name: Stalled, which Flux fails on at once.
    patch(json!({"spec": {"securityGroup": {"name": "aks-nsg-typo"}}})).await;
    let stalled = when(&api, &name, "Stalled", "NotFound").await;

    // Observe only, with a Service to serve: Reconciling (the writes it would make).
    patch(
        json!({"spec": {"securityGroup": {"name": "aks-nsg"}, "reconcile": {"policy": "observe"}}}),
    )
    .await;
    world
        .services
        .create(
            &PostParams::default(),
            &lb_service("web", &world.class, 80, json!({})),
        )
        .await
        .expect("service");
    let observing = when(&api, &name, "Reconciling", "ObserveOnly").await;

    // Deleting (another finalizer holds it while we look).
    patch(json!({"metadata": {"finalizers": ["aksnet.io/network-cleanup", "e2e.aksnet.io/hold"]}}))
        .await;
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("delete");
    let deleting = eventually("deleting", 30, || async {
        let n = api.get(&name).await.ok()?;
        n.metadata.deletion_timestamp.as_ref()?;
        serde_json::to_value(&n).ok()
    })
    .await;

    let verdicts = kstatus(&[ready, behind, stalled, observing, deleting]);
    let statuses: Vec<&str> = verdicts.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "Current",
            "InProgress",
            "Failed",
            "InProgress",
            "Terminating"
        ],
        "{verdicts:?}"
    );
    assert!(
        verdicts[2].1.contains("aks-nsg-typo"),
        "the Stalled message names it: {verdicts:?}"
    );

    // Let it go: the operator tears down (observe only: nothing written) and releases.
    let n = api.get(&name).await.expect("network");
    let rest: Vec<String> = n
        .metadata
        .finalizers
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != "e2e.aksnet.io/hold")
        .collect();
    patch(json!({"metadata": {"finalizers": rest}})).await;
    aksnet_e2e::scenario::gone(&api, &name, 60).await;
}
