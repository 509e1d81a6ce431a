//! The admin API under `/_mock/`: the request journal, fault injection, out-of-band edits that
//! simulate another writer, limits, state dump and reset. It needs no token.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::config::Limits;
use crate::ids;
use crate::json::new_etag;
use crate::normalize::stamp_etag;
use crate::state::{Faults, Shared};

/// Routes of the admin API.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/journal", get(journal).delete(clear_journal))
        .route("/faults", get(faults).put(set_faults).delete(clear_faults))
        .route("/limits", get(limits).put(set_limits).patch(change_limits))
        .route("/state", get(dump))
        .route("/tokens", get(tokens))
        .route("/reset", post(reset))
        .route("/resources/{*id}", put(edit).delete(remove))
}

async fn journal(State(state): State<Shared>) -> Json<Value> {
    let s = state.lock();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in &s.journal {
        *counts.entry(e.method.clone()).or_default() += 1;
    }
    let writes = s
        .journal
        .iter()
        .filter(|e| e.method != "GET" && e.method != "HEAD" && !e.path.contains("/oauth2/"))
        .count();
    Json(json!({"entries": s.journal, "counts": counts, "writes": writes}))
}

async fn clear_journal(State(state): State<Shared>) -> StatusCode {
    state.lock().journal.clear();
    StatusCode::NO_CONTENT
}

async fn faults(State(state): State<Shared>) -> Json<Faults> {
    Json(state.lock().faults.clone())
}

async fn set_faults(State(state): State<Shared>, Json(faults): Json<Faults>) -> Response {
    if let Some(problem) = faults.invalid() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("faults: {problem}"),
        )
            .into_response();
    }
    state.lock().faults = faults.clone();
    Json(faults).into_response()
}

async fn clear_faults(State(state): State<Shared>) -> StatusCode {
    state.lock().faults = Faults::default();
    StatusCode::NO_CONTENT
}

async fn limits(State(state): State<Shared>) -> Json<Limits> {
    Json(state.lock().config.limits.clone())
}

async fn set_limits(State(state): State<Shared>, Json(limits): Json<Limits>) -> Json<Limits> {
    state.lock().config.limits = limits.clone();
    Json(limits)
}

/// Changes only the limits the body names (`{"frontendsPerLoadBalancer": 2}`); 422 naming the
/// field when one is unknown or not a count.
async fn change_limits(
    State(state): State<Shared>,
    Json(changes): Json<serde_json::Map<String, Value>>,
) -> Response {
    // One at a time first, so the answer names the field.
    for (field, value) in &changes {
        if let Err(e) = serde_json::from_value::<Limits>(json!({ field: value })) {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("limits: {field}: {e}"),
            )
                .into_response();
        }
    }
    let mut s = state.lock();
    let mut limits = json!(s.config.limits);
    if let Some(current) = limits.as_object_mut() {
        current.extend(changes);
    }
    match serde_json::from_value::<Limits>(limits) {
        Ok(limits) => {
            s.config.limits = limits.clone();
            Json(limits).into_response()
        }
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("limits: {e}")).into_response(),
    }
}

async fn dump(State(state): State<Shared>) -> Json<Value> {
    let s = state.lock();
    Json(json!({"resourceGroups": s.data.resource_groups, "resources": s.data.resources}))
}

/// The access tokens the token endpoint issued (tests check they never reach a log).
async fn tokens(State(state): State<Shared>) -> Json<Value> {
    Json(json!({"tokens": state.lock().data.tokens}))
}

async fn reset(State(state): State<Shared>) -> StatusCode {
    let mut s = state.lock();
    s.data.resources.clear();
    s.data.resource_groups.clear();
    s.journal.clear();
    s.faults = Faults::default();
    s.operations.clear();
    s.busy.clear();
    s.persist();
    StatusCode::NO_CONTENT
}

/// Replaces a stored resource or child as another writer would (no validation), with a new
/// etag; a body without an `id` gets the one it is stored under, as everything in ARM has one.
async fn edit(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(mut body): Json<Value>,
) -> Response {
    let id = format!("/{}", id.trim_start_matches('/'));
    if let Some(b) = body.as_object_mut() {
        b.entry("id").or_insert_with(|| json!(id));
    }
    let mut s = state.lock();
    let key = ids::key(&id);
    let etag = new_etag();
    if crate::compute::is_compute_id(&id) {
        // Compute is read-only over ARM: the admin API is how it gets anything.
        return match crate::compute::seeded(&id, body) {
            Ok(resource) => {
                s.data.resources.insert(key, resource.clone());
                s.persist();
                Json(resource).into_response()
            }
            Err(e) => e.into_response(),
        };
    }
    if let Some(slot) = s.data.resources.get_mut(&key) {
        stamp_etag(&mut body, &etag);
        *slot = body.clone();
        s.persist();
        return Json(body).into_response();
    }
    let Some((parent, collection, name)) = ids::split_child_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pkey = ids::key(parent);
    let Some(mut p) = s.data.resources.get(&pkey).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let list = &mut p["properties"][collection];
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut() {
        items.retain(|c| {
            !c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        items.push(body);
    }
    stamp_etag(&mut p, &etag);
    s.data.resources.insert(pkey, p.clone());
    s.persist();
    Json(p).into_response()
}

/// Deletes a stored resource or child as another writer would (no in-use checks).
async fn remove(State(state): State<Shared>, Path(id): Path<String>) -> StatusCode {
    let id = format!("/{}", id.trim_start_matches('/'));
    let mut s = state.lock();
    let key = ids::key(&id);
    if s.data.resources.remove(&key).is_some() {
        s.persist();
        return StatusCode::NO_CONTENT;
    }
    let Some((parent, collection, name)) = ids::split_child_id(&id) else {
        return StatusCode::NOT_FOUND;
    };
    let pkey = ids::key(parent);
    let Some(mut p) = s.data.resources.get(&pkey).cloned() else {
        return StatusCode::NOT_FOUND;
    };
    let Some(items) = p["properties"][collection].as_array_mut() else {
        return StatusCode::NOT_FOUND;
    };
    let before = items.len();
    items.retain(|c| {
        !c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    if items.len() == before {
        return StatusCode::NOT_FOUND;
    }
    stamp_etag(&mut p, &new_etag());
    s.data.resources.insert(pkey, p);
    s.persist();
    StatusCode::NO_CONTENT
}

/// One `METHOD path: [properties]` line per request, in a journal as `GET /_mock/journal`
/// returns it, whose body carried properties Azure would have ignored.
pub fn ignored_property_lines(journal: &Value) -> Vec<String> {
    journal["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let ignored = e.get("ignoredProperties")?;
            Some(format!("{} {}: {ignored}", e["method"], e["path"]))
        })
        .collect()
}
