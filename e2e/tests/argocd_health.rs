//! The Argo CD health check (`config/argocd/health.lua`) run by a real Lua 5.4 interpreter, as
//! Argo CD runs it: the object is the global `obj`, the script returns `{status, message}`.

use aksnet_e2e::repo_root;
use mlua::{Lua, LuaSerdeExt, Table};
use serde_json::{Value, json};

fn health(obj: Value) -> (String, String) {
    let script =
        std::fs::read_to_string(repo_root().join("config/argocd/health.lua")).expect("script");
    let lua = Lua::new();
    let value = lua.to_value(&obj).expect("to lua");
    lua.globals().set("obj", value).expect("set obj");
    let hs: Table = lua.load(&script).eval().expect("run health.lua");
    (
        hs.get("status").expect("status"),
        hs.get("message").expect("message"),
    )
}

fn object(generation: i64, status: Option<Value>) -> Value {
    let mut obj = json!({"apiVersion": "aksnet.io/v1alpha1", "kind": "AksNetwork", "metadata": {"name": "n", "generation": generation}});
    if let Some(s) = status {
        obj["status"] = s;
    }
    obj
}

fn cond(type_: &str, status: &str, reason: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": format!("{type_} is {status}"),
           "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 2})
}

#[test]
fn health_follows_kstatus_conditions() {
    let cases = [
        ("no status yet", object(1, None), "Progressing"),
        (
            "generation not observed",
            object(
                3,
                Some(
                    json!({"observedGeneration": 2, "conditions": [cond("Ready", "True", "Synced")]}),
                ),
            ),
            "Progressing",
        ),
        (
            "stalled",
            object(
                2,
                Some(
                    json!({"observedGeneration": 2, "conditions": [cond("Ready", "False", "InvalidIpPlan"), cond("Stalled", "True", "InvalidIpPlan")]}),
                ),
            ),
            "Degraded",
        ),
        (
            "reconciling",
            object(
                2,
                Some(
                    json!({"observedGeneration": 2, "conditions": [cond("Ready", "False", "Applying"), cond("Reconciling", "True", "Applying")]}),
                ),
            ),
            "Progressing",
        ),
        (
            "ready",
            object(
                2,
                Some(
                    json!({"observedGeneration": 2, "conditions": [cond("Ready", "True", "Synced"), cond("Reconciling", "False", "Synced"), cond("Stalled", "False", "Synced")]}),
                ),
            ),
            "Healthy",
        ),
        (
            "not ready, not stalled",
            object(
                2,
                Some(
                    json!({"observedGeneration": 2, "conditions": [cond("Ready", "False", "Throttled")]}),
                ),
            ),
            "Progressing",
        ),
        (
            "no conditions",
            object(2, Some(json!({"observedGeneration": 2}))),
            "Progressing",
        ),
    ];
    for (what, obj, want) in cases {
        let (status, message) = health(obj);
        assert_eq!(status, want, "{what}: {message}");
    }
    let (_, message) = health(object(
        2,
        Some(
            json!({"observedGeneration": 2, "conditions": [cond("Stalled", "True", "AzureForbidden")]}),
        ),
    ));
    assert!(
        message.starts_with("AzureForbidden: "),
        "the reason is shown: {message}"
    );
}
