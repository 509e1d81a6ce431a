//! ARM request handling: auth, faults, throttling, then GET / PUT / PATCH / DELETE / list of
//! resource groups, Microsoft.Network resources and their children, and operation status.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api_version::{self, NETWORK_VERSIONS, RESOURCES_VERSIONS};
use crate::compute::{COMPUTE_VERSIONS, ComputePath};
use crate::error::{ArmError, ArmResult};
use crate::ids::{self, ArmPath, ChildKind, Kind};
use crate::json::new_etag;
use crate::kinds;
use crate::normalize::{self, Put, stamp_etag, valid_name};
use crate::schema;
use crate::server::base_url;
use crate::state::{IgnoredProperties, Shared, State as MockState};
use crate::store;
use crate::usages;

/// What one request asked for, parsed.
struct Req<'a> {
    method: &'a Method,
    query: HashMap<String, String>,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    base: String,
    path: &'a str,
}

impl Req<'_> {
    fn api_version(&self) -> Option<&str> {
        self.query.get("api-version").map(String::as_str)
    }
}

/// The fallback handler: every ARM path lands here.
pub async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = crate::auth::check(&state, &headers) {
        return e.into_response();
    }
    if body.len() > crate::server::ARM_MAX_BODY {
        return ArmError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!(
                "The request content size {} exceeds the maximum of {} bytes.",
                body.len(),
                crate::server::ARM_MAX_BODY
            ),
        )
        .into_response();
    }
    let Some(path) = ids::parse(uri.path()) else {
        return ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "No HTTP resource was found that matches the request URI '{}'.",
                uri.path()
            ),
        )
        .into_response();
    };
    let latency = state.lock().faults.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let req = Req {
        method: &method,
        query,
        headers: &headers,
        body: &body,
        base: base_url(&headers),
        path: uri.path(),
    };
    let write = method != Method::GET && method != Method::HEAD;
    let mut s = state.lock();
    if let Some(response) = injected_fault(&mut s) {
        return response;
    }
    let remaining = match throttle(&mut s, subscription(&path), write) {
        Ok(r) => r,
        Err(wait) => return throttled(wait),
    };
    let response = match dispatch(&mut s, path, &req) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    drop(s);
    let mut response = serialize_deferred(response);
    let h = response.headers_mut();
    let kind = if write { "writes" } else { "reads" };
    if let Ok(v) = HeaderValue::from_str(&remaining.to_string()) {
        h.insert(
            format!("x-ms-ratelimit-remaining-subscription-{kind}")
                .as_str()
                .parse::<axum::http::HeaderName>()
                .expect("static header name"),
            v,
        );
    }
    for name in ["x-ms-request-id", "x-ms-correlation-request-id"] {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            h.insert(name, v);
        }
    }
    response
}

/// A JSON body that is serialized only once the state lock is released: a load balancer with
/// a thousand rules takes milliseconds to serialize, and readers need not wait on each other
/// for that.
#[derive(Debug, Clone)]
struct DeferredJson(Value);

/// A response whose JSON body [`serialize_deferred`] writes later.
fn deferred_json(status: StatusCode, body: Value) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(DeferredJson(body));
    response
}

/// Writes a deferred JSON body into the response.
fn serialize_deferred(mut response: Response) -> Response {
    let Some(DeferredJson(body)) = response.extensions_mut().remove::<DeferredJson>() else {
        return response;
    };
    let (json, bytes) = axum::Json(body).into_response().into_parts();
    if !json.status.is_success() {
        return Response::from_parts(json, bytes);
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.extend(json.headers);
    Response::from_parts(parts, bytes)
}

fn subscription(path: &ArmPath) -> &str {
    match path {
        ArmPath::ResourceGroups { sub }
        | ArmPath::ResourceGroup { sub, .. }
        | ArmPath::Resources { sub, .. }
        | ArmPath::List { sub, .. }
        | ArmPath::Resource { sub, .. }
        | ArmPath::ChildList { sub, .. }
        | ArmPath::Child { sub, .. }
        | ArmPath::Operation { sub, .. }
        | ArmPath::GroupOperation { sub, .. }
        | ArmPath::Providers { sub, .. }
        | ArmPath::Compute(ComputePath { sub, .. })
        | ArmPath::Usages { sub, .. } => sub,
    }
}

/// Faults queued through the admin API.
fn injected_fault(s: &mut MockState) -> Option<Response> {
    s.request_counter += 1;
    let retry_after = s.faults.retry_after_seconds.unwrap_or(1);
    let rate_hit = s.faults.throttle_rate > 0.0 && {
        // A deterministic spread: request n is throttled when floor(n*rate) advances.
        let n = s.request_counter as f64;
        (n * s.faults.throttle_rate).floor() > ((n - 1.0) * s.faults.throttle_rate).floor()
    };
    if s.faults.throttle_next > 0 || rate_hit {
        s.faults.throttle_next = s.faults.throttle_next.saturating_sub(1);
        return Some(throttled(retry_after));
    }
    if s.faults.error_next > 0 {
        s.faults.error_next -= 1;
        let status = s
            .faults
            .error_status
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(
            ArmError::new(
                status,
                "InternalServerError",
                "The server encountered an internal error (injected by azure-mock).",
            )
            .into_response(),
        );
    }
    None
}

fn throttled(retry_after: u64) -> Response {
    let mut r = ArmError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "SubscriptionRequestsThrottled",
        format!("Number of requests for subscription exceeded the limit. Please try again after '{retry_after}' seconds."),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

/// Counts the request against the subscription's budget: the remaining count, or the seconds
/// until the window resets when the budget is spent.
fn throttle(s: &mut MockState, sub: &str, write: bool) -> Result<u64, u64> {
    let window = s.config.throttle_window;
    let now = Instant::now();
    let start = *s.throttle.window_start.get_or_insert(now);
    if now.duration_since(start) >= window {
        s.throttle.window_start = Some(now);
        s.throttle.counts.clear();
    }
    let budget = if write {
        s.config.write_budget
    } else {
        s.config.read_budget
    };
    let counts = s
        .throttle
        .counts
        .entry(sub.to_ascii_lowercase())
        .or_default();
    let used = if write { &mut counts.1 } else { &mut counts.0 };
    if *used >= budget {
        let start = s.throttle.window_start.unwrap_or(now);
        let wait = window
            .saturating_sub(now.duration_since(start))
            .as_secs()
            .max(1);
        return Err(wait);
    }
    *used += 1;
    Ok(budget - *used)
}

fn dispatch(s: &mut MockState, path: ArmPath, req: &Req) -> ArmResult<Response> {
    let m = req.method;
    match path {
        ArmPath::Operation {
            sub,
            location,
            id,
            result,
        } => {
            api_version::check(req.api_version(), NETWORK_VERSIONS, "operations")?;
            operation(s, &sub, &location, &id, result, req)
        }
        ArmPath::Providers { sub, namespace } => {
            api_version::check(req.api_version(), RESOURCES_VERSIONS, "providers")?;
            if *req.method != Method::GET {
                return Err(method_not_allowed(req.method));
            }
            let body = crate::discovery::providers(&sub, namespace.as_deref())?;
            Ok(axum::Json(body).into_response())
        }
        ArmPath::Compute(path) => compute(s, &path, req),
        ArmPath::GroupOperation { sub, id } => {
            api_version::check(req.api_version(), RESOURCES_VERSIONS, "operationresults")?;
            operation(s, &sub, "", &id, true, req)
        }
        ArmPath::Usages { sub, location } => {
            api_version::check(req.api_version(), NETWORK_VERSIONS, "usages")?;
            if *m != Method::GET {
                return Err(method_not_allowed(m));
            }
            let items = usages::list(&s.data, &s.config.limits, &sub, &location);
            Ok(page(items, req, s.config.page_size))
        }
        ArmPath::ResourceGroups { sub } => {
            api_version::check(
                req.api_version(),
                RESOURCES_VERSIONS,
                "Microsoft.Resources/resourceGroups",
            )?;
            let prefix = format!("/subscriptions/{sub}/").to_ascii_lowercase();
            let items: Vec<Value> = s
                .data
                .resource_groups
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.clone())
                .collect();
            Ok(page(items, req, s.config.page_size))
        }
        ArmPath::Resources { sub, rg } => {
            api_version::check(req.api_version(), RESOURCES_VERSIONS, "resources")?;
            if *m != Method::GET {
                return Err(method_not_allowed(m));
            }
            if let Some(rg) = &rg {
                require_rg(s, &sub, rg)?;
            }
            let query = |k: &str| req.query.get(k).map(String::as_str);
            let items = crate::generic::list(
                &s.data,
                &sub,
                rg.as_deref(),
                query("$filter"),
                query("$top"),
            )?;
            Ok(page(items, req, s.config.page_size))
        }
        ArmPath::ResourceGroup { sub, rg } => {
            api_version::check(
                req.api_version(),
                RESOURCES_VERSIONS,
                "Microsoft.Resources/resourceGroups",
            )?;
            resource_group(s, &sub, &rg, req)
        }
        ArmPath::List { sub, rg, kind } => {
            api_version::check(req.api_version(), NETWORK_VERSIONS, &kind.arm_type())?;
            if *m != Method::GET {
                return Err(method_not_allowed(m));
            }
            if let Some(rg) = &rg {
                require_rg(s, &sub, rg)?;
            }
            let mut prefix = format!("/subscriptions/{sub}/").to_ascii_lowercase();
            if let Some(rg) = &rg {
                prefix = format!("/subscriptions/{sub}/resourcegroups/{rg}/").to_ascii_lowercase();
            }
            let items: Vec<&Value> = s
                .data
                .of_type(kind.segment)
                .filter(|r| {
                    r["id"]
                        .as_str()
                        .is_some_and(|id| id.to_ascii_lowercase().starts_with(&prefix))
                })
                .collect();
            // Only the page's resources get their back-references worked out.
            let refs = kinds::BackReferences::new(&s.data);
            Ok(page_of(items, req, s.config.page_size, |r| {
                view_with(s, &refs, r)
            }))
        }
        ArmPath::Resource {
            sub,
            rg,
            kind,
            name,
        } => {
            let version =
                api_version::check(req.api_version(), NETWORK_VERSIONS, &kind.arm_type())?
                    .to_string();
            resource(s, &sub, &rg, kind, &name, &version, req)
        }
        ArmPath::ChildList {
            sub,
            rg,
            kind,
            name,
            child,
        } => {
            api_version::check(req.api_version(), NETWORK_VERSIONS, &kind.arm_type())?;
            if *m != Method::GET {
                return Err(method_not_allowed(m));
            }
            let parent = stored(s, &sub, &rg, kind, &name)?;
            let parent = view(s, &parent);
            Ok(page(
                store::children(&parent, child.segment).to_vec(),
                req,
                s.config.page_size,
            ))
        }
        ArmPath::Child {
            sub,
            rg,
            kind,
            name,
            child,
            child_name,
        } => {
            let version =
                api_version::check(req.api_version(), NETWORK_VERSIONS, &kind.arm_type())?
                    .to_string();
            child_resource(s, &sub, &rg, kind, &name, child, &child_name, &version, req)
        }
    }
}

fn method_not_allowed(m: &Method) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("The requested resource does not support http method '{m}'."),
    )
}

/// Microsoft.Compute reads: a list, or one resource.
fn compute(s: &MockState, path: &ComputePath, req: &Req) -> ArmResult<Response> {
    api_version::check(req.api_version(), COMPUTE_VERSIONS, &path.arm_type())?;
    if *req.method != Method::GET {
        return Err(method_not_allowed(req.method));
    }
    if let Some(rg) = &path.rg {
        require_rg(s, &path.sub, rg)?;
    }
    if path.is_get() {
        let found = s.data.get(&crate::compute::id(path));
        let resource = found.ok_or_else(|| crate::compute::not_found(path))?;
        return Ok(deferred_json(StatusCode::OK, resource.clone()));
    }
    let items = crate::compute::list(path, s.data.resources.iter());
    Ok(page(items, req, s.config.page_size))
}

fn require_rg(s: &MockState, sub: &str, rg: &str) -> ArmResult<()> {
    if s.data.has_resource_group(sub, rg) {
        Ok(())
    } else {
        Err(ArmError::resource_group_not_found(rg))
    }
}

fn stored_ref<'a>(
    s: &'a MockState,
    sub: &str,
    rg: &str,
    kind: &Kind,
    name: &str,
) -> ArmResult<&'a Value> {
    require_rg(s, sub, rg)?;
    s.data
        .get(&ids::resource_id(sub, rg, kind, name))
        .ok_or_else(|| ArmError::not_found(&kind.arm_type(), name, rg))
}

fn stored(s: &MockState, sub: &str, rg: &str, kind: &Kind, name: &str) -> ArmResult<Value> {
    stored_ref(s, sub, rg, kind, name).cloned()
}

/// A stored resource as GET shows it: back-references added, provisioning state of the moment.
fn view(s: &MockState, resource: &Value) -> Value {
    view_with(s, &kinds::BackReferences::new(&s.data), resource)
}

/// [`view`] with back-references shared by the resources of one read.
fn view_with(s: &MockState, refs: &kinds::BackReferences<'_>, resource: &Value) -> Value {
    let mut v = resource.clone();
    refs.add(&mut v);
    let key = ids::key(v["id"].as_str().unwrap_or_default());
    if s.is_busy(&key) {
        v["properties"]["provisioningState"] = json!("Updating");
    }
    v
}

fn page(items: Vec<Value>, req: &Req, size: usize) -> Response {
    page_of(items, req, size, |v| v)
}

/// One page of a list (`$skiptoken` is the offset), each item shown through `show`, with a
/// `nextLink` (keeping the list's `$filter` and `$top`) while more follow.
fn page_of<T>(items: Vec<T>, req: &Req, size: usize, show: impl Fn(T) -> Value) -> Response {
    let skip: usize = req
        .query
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = size.max(1);
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(size).map(show).collect();
    let mut body = json!({ "value": value });
    if skip + size < total {
        let version = req.api_version().unwrap_or_default();
        // The next page is of the same list: its `$filter` and `$top` go along.
        let carried: String = ["$filter", "$top"]
            .iter()
            .filter_map(|k| {
                let v = req.query.get(*k)?;
                let v: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
                Some(format!("&%24{}={v}", &k[1..]))
            })
            .collect();
        body["nextLink"] = json!(format!(
            "{}{}?api-version={version}{carried}&%24skiptoken={}",
            req.base,
            req.path,
            skip + size
        ));
    }
    deferred_json(StatusCode::OK, body)
}

fn parse_body(body: &Bytes) -> ArmResult<Value> {
    if body.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'The request body is empty.'",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ArmError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })
}

/// If-Match / If-None-Match against the stored etag.
fn preconditions(headers: &HeaderMap, existing: Option<&Value>) -> ArmResult<()> {
    let current = existing.and_then(|e| e["etag"].as_str());
    let failed =
        |msg: String| ArmError::new(StatusCode::PRECONDITION_FAILED, "PreconditionFailed", msg);
    if let Some(want) = headers.get("if-match").and_then(|v| v.to_str().ok()) {
        match current {
            None => {
                return Err(failed(
                    "The resource does not exist, so the If-Match condition cannot be met.".into(),
                ));
            }
            Some(c) if want != "*" && want != c => {
                return Err(failed(format!(
                    "Precondition failed: the etag {want} in If-Match does not match the current etag {c} of the resource."
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(none) = headers.get("if-none-match").and_then(|v| v.to_str().ok())
        && let Some(c) = current
        && (none == "*" || none == c)
    {
        return Err(failed(format!(
            "Precondition failed: the resource exists with etag {c} and If-None-Match is {none}."
        )));
    }
    Ok(())
}

fn resource_group(s: &mut MockState, sub: &str, rg: &str, req: &Req) -> ArmResult<Response> {
    let id = ids::resource_group_id(sub, rg);
    let key = ids::key(&id);
    let existing = s.data.resource_groups.get(&key).cloned();
    match *req.method {
        Method::GET => existing
            .map(|v| axum::Json(v).into_response())
            .ok_or_else(|| ArmError::resource_group_not_found(rg)),
        Method::HEAD => Ok(existence(existing.is_some())),
        Method::PUT => {
            let body = parse_body(req.body)?;
            let location = body["location"]
                .as_str()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    ArmError::bad_request(
                        "LocationRequired",
                        "The location property is required for this definition.",
                    )
                })?;
            let name = existing
                .as_ref()
                .and_then(|e| e["name"].as_str())
                .unwrap_or(rg)
                .to_string();
            let mut rg_body = json!({
                "id": existing.as_ref().and_then(|e| e["id"].as_str()).unwrap_or(&id),
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": location.to_ascii_lowercase().replace(' ', ""),
                "properties": {"provisioningState": "Succeeded"},
            });
            if let Some(tags) = crate::json::tags(&body)? {
                rg_body["tags"] = tags;
            }
            s.data.resource_groups.insert(key, rg_body.clone());
            s.persist();
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((status, axum::Json(rg_body)).into_response())
        }
        Method::PATCH => {
            let mut current = existing.ok_or_else(|| ArmError::resource_group_not_found(rg))?;
            let body = parse_body(req.body)?;
            if let Some(tags) = crate::json::tags(&body)? {
                current["tags"] = tags;
            }
            s.data.resource_groups.insert(key, current.clone());
            s.persist();
            Ok(axum::Json(current).into_response())
        }
        Method::DELETE => {
            existing.ok_or_else(|| ArmError::resource_group_not_found(rg))?;
            let prefix = format!("{key}/");
            s.data.resources.retain(|k, _| !k.starts_with(&prefix));
            s.data.resource_groups.remove(&key);
            let op = s.start_operation(None);
            s.persist();
            // Microsoft.Resources answers with a `Location` of its own operation results
            // (polled with its api-version), not a Microsoft.Network operation.
            let mut response = StatusCode::ACCEPTED.into_response();
            let version = req.api_version().unwrap_or("2021-04-01");
            let url = format!(
                "{}/subscriptions/{sub}/operationresults/{op}?api-version={version}",
                req.base
            );
            let wait = s.operations.get(&op).map_or(0, |o| retry_secs(o.done_at));
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&url) {
                h.insert("location", v);
            }
            h.insert("retry-after", HeaderValue::from(wait));
            Ok(response)
        }
        _ => Err(method_not_allowed(req.method)),
    }
}

/// Headers of a long-running operation's first response.
fn lro_headers(
    s: &MockState,
    response: &mut Response,
    sub: &str,
    location: &str,
    op: &str,
    req: &Req,
    with_location: bool,
) {
    let version = req.api_version().unwrap_or("2024-03-01");
    let base = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}",
        req.base
    );
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/operations/{op}?api-version={version}")) {
        h.insert("azure-asyncoperation", v);
    }
    if with_location
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{base}/operationResults/{op}?api-version={version}"
        ))
    {
        h.insert("location", v);
    }
    let wait = s.operations.get(op).map_or(0, |o| retry_secs(o.done_at));
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        h.insert("retry-after", v);
    }
}

fn retry_secs(done_at: Instant) -> u64 {
    let left = done_at.saturating_duration_since(Instant::now());
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

/// ARM's answer to `HEAD` on a resource or resource group (`CheckExistence`): 204 when it
/// exists, 404 when it (or its resource group) does not, without a body.
fn existence(exists: bool) -> Response {
    if exists {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
    .into_response()
}

fn accepted(
    s: &MockState,
    sub: &str,
    location: &str,
    op: &str,
    req: &Req,
    with_location: bool,
) -> Response {
    let mut r = StatusCode::ACCEPTED.into_response();
    lro_headers(s, &mut r, sub, location, op, req, with_location);
    r
}

fn written(
    s: &mut MockState,
    key: String,
    mut resource: Value,
    created: bool,
    sub: &str,
    req: &Req,
    shown: impl Fn(&MockState, &Value) -> Value,
) -> Response {
    stamp_etag(&mut resource, &new_etag());
    let id = resource["id"].as_str().unwrap_or_default().to_string();
    let location = resource["location"]
        .as_str()
        .unwrap_or("global")
        .to_string();
    let op = s.start_operation(Some(id));
    if s.operations.get(&op).is_some_and(|o| o.failure.is_some()) {
        resource["properties"]["provisioningState"] = json!("Failed");
    }
    s.data.resources.insert(key.clone(), resource.clone());
    s.mark_busy(&key);
    s.persist();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = shown(s, &resource);
    let mut r = deferred_json(status, body);
    lro_headers(s, &mut r, sub, &location, &op, req, false);
    r
}

fn resource(
    s: &mut MockState,
    sub: &str,
    rg: &str,
    kind: &'static Kind,
    name: &str,
    version: &str,
    req: &Req,
) -> ArmResult<Response> {
    match *req.method {
        Method::GET => {
            let r = stored_ref(s, sub, rg, kind, name)?;
            Ok(deferred_json(StatusCode::OK, view(s, r)))
        }
        Method::HEAD => Ok(existence(stored_ref(s, sub, rg, kind, name).is_ok())),
        Method::PUT => {
            require_rg(s, sub, rg)?;
            let mut body = parse_body(req.body)?;
            let ignored = conform(schema::resource_model(kind.segment), &mut body, version)?;
            let key = ids::key(&ids::resource_id(sub, rg, kind, name));
            let existing = s.data.resources.get(&key).cloned();
            if existing.is_none() && !valid_name(name) {
                return Err(ArmError::bad_request(
                    "InvalidResourceName",
                    format!(
                        "Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'."
                    ),
                ));
            }
            preconditions(req.headers, existing.as_ref())?;
            let (id, name) = match &existing {
                Some(e) => (
                    e["id"].as_str().unwrap_or_default().to_string(),
                    e["name"].as_str().unwrap_or(name).to_string(),
                ),
                None => (ids::resource_id(sub, rg, kind, name), name.to_string()),
            };
            let put = Put {
                data: &s.data,
                kind,
                id,
                name,
                existing: existing.as_ref(),
                api_version: version,
                config: &s.config,
            };
            let resource = normalize::normalize(&put, body)?;
            Ok(with_ignored(
                written(s, key, resource, existing.is_none(), sub, req, view),
                ignored,
            ))
        }
        Method::PATCH => {
            let mut r = stored(s, sub, rg, kind, name)?;
            preconditions(req.headers, Some(&r))?;
            let body = parse_body(req.body)?;
            match crate::json::tags(&body)? {
                Some(tags) => r["tags"] = tags,
                None => {
                    if let Some(obj) = r.as_object_mut() {
                        obj.remove("tags");
                    }
                }
            }
            stamp_etag(&mut r, &new_etag());
            let key = ids::key(r["id"].as_str().unwrap_or_default());
            s.data.resources.insert(key, r.clone());
            s.persist();
            Ok(axum::Json(view(s, &r)).into_response())
        }
        Method::DELETE => {
            require_rg(s, sub, rg)?;
            let key = ids::key(&ids::resource_id(sub, rg, kind, name));
            let Some(existing) = s.data.resources.get(&key).cloned() else {
                return Ok(StatusCode::NO_CONTENT.into_response());
            };
            preconditions(req.headers, Some(&existing))?;
            if let Some(blocker) = kinds::delete_blocker(&s.data, &existing) {
                return Err(blocker);
            }
            s.data.resources.remove(&key);
            s.busy.remove(&key);
            let op = s.start_operation(None);
            s.persist();
            let location = existing["location"]
                .as_str()
                .unwrap_or("global")
                .to_string();
            Ok(accepted(s, sub, &location, &op, req, true))
        }
        _ => Err(method_not_allowed(req.method)),
    }
}

#[allow(clippy::too_many_arguments)]
fn child_resource(
    s: &mut MockState,
    sub: &str,
    rg: &str,
    kind: &'static Kind,
    name: &str,
    child: &'static ChildKind,
    child_name: &str,
    version: &str,
    req: &Req,
) -> ArmResult<Response> {
    let parent = stored(s, sub, rg, kind, name)?;
    let parent_id = parent["id"].as_str().unwrap_or_default().to_string();
    let key = ids::key(&parent_id);
    let existing = store::find_child(&parent, child.segment, child_name).cloned();
    let not_found = || {
        ArmError::not_found(
            &format!("{}/{}", kind.arm_type(), child.segment),
            &format!("{name}/{child_name}"),
            rg,
        )
    };
    match *req.method {
        Method::GET => {
            let shown = view(s, &parent);
            store::find_child(&shown, child.segment, child_name)
                .cloned()
                .map(|c| deferred_json(StatusCode::OK, c))
                .ok_or_else(not_found)
        }
        Method::PUT if child.writable => {
            preconditions(req.headers, existing.as_ref())?;
            let mut body = parse_body(req.body)?;
            let ignored = conform(
                schema::child_model(kind.segment, child.segment),
                &mut body,
                version,
            )?;
            body["name"] = json!(
                existing
                    .as_ref()
                    .and_then(|e| e["name"].as_str())
                    .unwrap_or(child_name)
            );
            let mut new_parent = parent.clone();
            replace_child(&mut new_parent, child.segment, child_name, Some(body));
            let put = Put {
                data: &s.data,
                kind,
                id: parent_id.clone(),
                name: parent["name"].as_str().unwrap_or(name).to_string(),
                existing: Some(&parent),
                api_version: version,
                config: &s.config,
            };
            let resource = normalize::normalize(&put, new_parent)?;
            let segment = child.segment;
            let child_name = child_name.to_string();
            let response = written(
                s,
                key,
                resource,
                existing.is_none(),
                sub,
                req,
                move |s, r| {
                    store::find_child(&view(s, r), segment, &child_name)
                        .cloned()
                        .unwrap_or(Value::Null)
                },
            );
            Ok(with_ignored(response, ignored))
        }
        Method::DELETE if child.writable => {
            let Some(existing) = existing else {
                return Ok(StatusCode::NO_CONTENT.into_response());
            };
            preconditions(req.headers, Some(&existing))?;
            if let Some(blocker) =
                kinds::child_delete_blocker(&s.data, existing["id"].as_str().unwrap_or_default())
            {
                return Err(blocker);
            }
            let mut new_parent = parent.clone();
            replace_child(&mut new_parent, child.segment, child_name, None);
            let put = Put {
                data: &s.data,
                kind,
                id: parent_id,
                name: parent["name"].as_str().unwrap_or(name).to_string(),
                existing: Some(&parent),
                api_version: version,
                config: &s.config,
            };
            let mut resource = normalize::normalize(&put, new_parent)?;
            stamp_etag(&mut resource, &new_etag());
            s.data.resources.insert(key, resource);
            let op = s.start_operation(None);
            s.persist();
            let location = parent["location"].as_str().unwrap_or("global").to_string();
            Ok(accepted(s, sub, &location, &op, req, true))
        }
        _ => Err(method_not_allowed(req.method)),
    }
}

/// Conforms a PUT body to its model (every writable type has one) and returns the properties
/// Azure would have ignored.
fn conform(
    model: Option<&'static schema::Model>,
    body: &mut Value,
    version: &str,
) -> ArmResult<Vec<String>> {
    match model {
        Some(model) => schema::conform(model, body, version),
        None => crate::json::object(body, "body").map(|_| Vec::new()),
    }
}

/// Attaches the ignored properties to the response for the journal, and logs them.
fn with_ignored(mut response: Response, ignored: Vec<String>) -> Response {
    if !ignored.is_empty() {
        tracing::info!(ignored = ?ignored, "request body properties Azure ignores");
        response.extensions_mut().insert(IgnoredProperties(ignored));
    }
    response
}

/// Replaces (or with `None` removes) one child in a parent body, keeping the others.
fn replace_child(parent: &mut Value, collection: &str, name: &str, child: Option<Value>) {
    if !parent["properties"][collection].is_array() {
        parent["properties"][collection] = json!([]);
    }
    let Some(list) = parent["properties"][collection].as_array_mut() else {
        return;
    };
    let at = list.iter().position(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    match (at, child) {
        (Some(i), Some(c)) => list[i] = c,
        (None, Some(c)) => list.push(c),
        (Some(i), None) => {
            list.remove(i);
        }
        (None, None) => {}
    }
}

fn operation(
    s: &MockState,
    sub: &str,
    location: &str,
    id: &str,
    result: bool,
    req: &Req,
) -> ArmResult<Response> {
    let op = s.operations.get(id).ok_or_else(|| {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("Operation {id} was not found."),
        )
    })?;
    let done = Instant::now() >= op.done_at;
    let mut response = if result {
        // `operationResults`: 202 until done, then the resource (PUT) or 204 (DELETE).
        match (done, &op.failure, &op.resource_id) {
            (false, _, _) => StatusCode::ACCEPTED.into_response(),
            (true, Some(err), _) => err.clone().into_response(),
            (true, None, Some(rid)) => match s.data.get(rid).or_else(|| s.data.child(rid)) {
                Some(r) => deferred_json(StatusCode::OK, view(s, r)),
                None => StatusCode::NO_CONTENT.into_response(),
            },
            (true, None, None) => StatusCode::NO_CONTENT.into_response(),
        }
    } else {
        let status = match (done, &op.failure) {
            (false, _) => "InProgress",
            (true, Some(_)) => "Failed",
            (true, None) => "Succeeded",
        };
        let mut body = json!({
            "id": format!("/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/operations/{id}"),
            "name": id,
            "status": status,
            "startTime": op.start_time,
        });
        if let (true, Some(err)) = (done, &op.failure) {
            body["error"] = json!({"code": err.code, "message": err.message});
        }
        axum::Json(body).into_response()
    };
    if !done {
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&retry_secs(op.done_at).to_string()) {
            h.insert("retry-after", v);
        }
        if result
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{}{}?api-version={}",
                req.base,
                req.path,
                req.api_version().unwrap_or_default()
            ))
        {
            h.insert("location", v);
        }
    }
    Ok(response)
}
