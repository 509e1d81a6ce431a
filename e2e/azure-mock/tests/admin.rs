//! The settings of the admin API and the command line: limits changed at run time (whole or
//! in part) and set by flags of the `azure-mock` binary; limits and faults refused, naming the
//! field, when unknown or out of range.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use azure_mock::{Config, Limits};
use serde_json::{Value, json};
use support::Env;

/// A raw admin call to `/_mock/{what}`: status and body text.
async fn admin_raw(env: &Env, method: &str, what: &str, body: Value) -> (u16, String) {
    let resp = env
        .http
        .request(
            method.parse().expect("method"),
            format!("{}/_mock/{what}", env.server.url()),
        )
        .json(&body)
        .send()
        .await
        .expect("admin request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// PUT a route named `name` into route table `rt`; the status and the ARM error code.
async fn put_route(env: &Env, name: &str, third_octet: u8) -> (u16, Value) {
    let (status, body) = env
        .arm(
            "PUT",
            &format!(
                "{}/routes/{name}?api-version=2024-03-01",
                env.id("routeTables", "rt")
            ),
            Some(json!({"properties": {
                "addressPrefix": format!("10.244.{third_octet}.0/24"),
                "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.0.4"}})),
        )
        .await;
    (status, body["error"]["code"].clone())
}

#[tokio::test]
async fn limits_change_in_part_or_whole_at_run_time_and_bad_ones_are_refused() {
    let env = Env::start(Config::default()).await;
    assert_eq!(
        env.admin("GET", "/limits", None).await,
        json!(Limits::AZURE),
        "Azure's limits by default"
    );

    // PATCH changes the limits it names and keeps the others.
    let changed = env
        .admin("PATCH", "/limits", Some(json!({"routesPerTable": 1})))
        .await;
    let want = Limits {
        routes_per_table: 1,
        ..Limits::AZURE
    };
    assert_eq!(changed, json!(want));
    assert_eq!(env.admin("GET", "/limits", None).await, json!(want));
    let rt = format!("{}?api-version=2024-03-01", env.id("routeTables", "rt"));
    let (status, _) = env
        .arm("PUT", &rt, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(put_route(&env, "a", 0).await.0, 201);
    assert_eq!(
        put_route(&env, "b", 1).await,
        (400, json!("RouteTableRouteLimitReached")),
        "the lowered limit holds"
    );

    // Unknown limits and values that are not counts are refused by name; nothing changes.
    for bad in [
        json!({"routesPerTabel": 5}),
        json!({"routesPerTable": -1}),
        json!({"rulesPerNsg": "many"}),
    ] {
        for method in ["PATCH", "PUT"] {
            let (status, text) = admin_raw(&env, method, "limits", bad.clone()).await;
            assert_eq!(status, 422, "{method} {bad}: {text}");
            let field = bad
                .as_object()
                .and_then(|o| o.keys().next())
                .expect("a field");
            assert!(
                text.contains(field.as_str()),
                "{method} {bad} names it: {text}"
            );
        }
    }
    assert_eq!(env.admin("GET", "/limits", None).await, json!(want));

    // PUT replaces: a limit it leaves out is Azure's again.
    let replaced = env
        .admin("PUT", "/limits", Some(json!({"rulesPerNsg": 5})))
        .await;
    let want = Limits {
        rules_per_nsg: 5,
        ..Limits::AZURE
    };
    assert_eq!(replaced, json!(want));
    assert_eq!(put_route(&env, "b", 1).await.0, 201, "routes: 400 again");
}

#[tokio::test]
async fn faults_that_cannot_be_injected_are_refused_by_name() {
    let env = Env::start(Config::default()).await;
    let none = env.admin("GET", "/faults", None).await;
    for (bad, field) in [
        (json!({"throttelNext": 1}), "throttelNext"),
        (json!({"throttleRate": 1.5}), "throttleRate"),
        (json!({"throttleRate": -0.1}), "throttleRate"),
        (json!({"errorNext": 1, "errorStatus": 200}), "errorStatus"),
    ] {
        let (status, text) = admin_raw(&env, "PUT", "faults", bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {text}");
        assert!(text.contains(field), "{bad} names {field}: {text}");
    }
    assert_eq!(
        env.admin("GET", "/faults", None).await,
        none,
        "nothing injected"
    );
    let ok = json!({"throttleNext": 1, "throttleRate": 0.5, "errorNext": 1, "errorStatus": 503});
    let (status, text) = admin_raw(&env, "PUT", "faults", ok).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn the_binary_takes_every_limit_as_a_flag() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_azure-mock"))
        .args([
            "--frontends-per-load-balancer",
            "3",
            "--probes-per-load-balancer",
            "4",
            "--rules-per-load-balancer",
            "5",
            "--public-ips-per-subscription",
            "6",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start azure-mock");
    let stdout = child.stdout.take().expect("stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("READY url="));
    let limits = match ready {
        Some(line) => {
            let url = line.trim_start_matches("READY url=").to_string();
            let got = reqwest::get(format!("{url}/_mock/limits")).await;
            match got {
                Ok(resp) => resp.json::<Value>().await.ok(),
                Err(_) => None,
            }
        }
        None => None,
    };
    let _ = child.kill();
    let _ = child.wait();
    let want = Limits {
        frontends_per_load_balancer: 3,
        probes_per_load_balancer: 4,
        rules_per_load_balancer: 5,
        public_ips_per_subscription: 6,
        ..Limits::AZURE
    };
    assert_eq!(limits, Some(json!(want)));
}

#[test]
fn the_binary_refuses_a_limit_that_is_not_a_count_naming_the_flag() {
    for (flag, value) in [
        ("--routes-per-table", "many"),
        ("--frontends-per-load-balancer", "-1"),
        ("--public-ips-per-subscription", "1.5"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_azure-mock"))
            .arg(format!("{flag}={value}"))
            .stdout(Stdio::null())
            .output()
            .expect("run azure-mock");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} started");
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
}
