//! No secret in any log line, at any level: the operator binary runs at `RUST_LOG=trace`
//! (every crate: the Azure SDK logs each request with its `Authorization` header at debug)
//! through a whole Service life (served, changed, deleted), and neither a bearer token
//! azure-mock issued nor the client secret appears in its output, while the log shows that
//! the SDK's request lines were there and redacted.

use std::time::Duration;

use aksnet_e2e::azure::CLIENT_SECRET;
use aksnet_e2e::scenario::{World, eventually, gone, ingress_ip, lb_service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const SUB: &str = "00000000-0000-0000-0000-0000000e2e06";
const RG: &str = "mc_secrets_e2e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_secret_reaches_the_log_at_trace_level() {
    let world = World::start_with(
        "secrets",
        azure_mock::Config {
            operation_duration: Duration::from_millis(100),
            ..azure_mock::Config::default()
        },
        (SUB, RG),
        &[("a", "10.224.6.4", "10.244.61.0/24")],
        json!({}),
        "trace",
        &[],
    )
    .await;
    let services = &world.services;
    services
        .create(
            &PostParams::default(),
            &lb_service("web", &world.class, 80, json!({})),
        )
        .await
        .expect("service");
    eventually("web's address", 60, || ingress_ip(services, "web")).await;
    let port = json!({"spec": {"ports": [{"name": "p", "port": 8080, "protocol": "TCP"}]}});
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&port))
        .await
        .expect("port change");
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    gone(services, "web", 60).await;

    let log = world.operator.log();
    let tokens = world.mock.issued_tokens().await.expect("tokens");
    assert!(
        !tokens.is_empty(),
        "the operator took tokens from azure-mock"
    );
    let leaked: Vec<&String> = tokens.iter().filter(|t| log.contains(t.as_str())).collect();
    assert!(leaked.is_empty(), "tokens in the log: {}", leaked.len());
    assert!(
        !log.contains(CLIENT_SECRET),
        "the client secret is in the log"
    );
    // The lines were there (trace really ran, the SDK logged its requests) and were redacted.
    assert!(
        log.contains("azure_core"),
        "the SDK logged at trace level ({} bytes of log)",
        log.len()
    );
    assert!(
        log.contains("[redacted]"),
        "the SDK's request lines were redacted"
    );
}
