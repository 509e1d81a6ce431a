//! Turning a PUT body into the stored resource: validation, server-computed fields (ids, types,
//! provisioning state, GUIDs, addresses, defaults) and the type-specific rules of each kind.
//!
//! A PUT replaces the whole resource, children included, exactly as ARM does: a child missing
//! from the body is gone.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::error::{ArmError, ArmResult};
use crate::ids::Kind;
use crate::json;
use crate::kinds;
use crate::store::Data;

/// Everything a PUT of a top-level resource is checked against.
pub struct Put<'a> {
    /// Current state (for references and allocation).
    pub data: &'a Data,
    /// The resource type.
    pub kind: &'static Kind,
    /// Canonical id of the resource.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The stored resource, when this is an update.
    pub existing: Option<&'a Value>,
    /// The request's api-version.
    pub api_version: &'a str,
    /// The mock's settings: Azure limits in force, address pools.
    pub config: &'a Config,
}

/// Validates a PUT body and returns the resource to store (without its etag).
pub fn normalize(put: &Put, body: Value) -> ArmResult<Value> {
    json::object(&body, "body")?;
    let location = match body.get("location") {
        Some(Value::String(l)) if !l.is_empty() => l.to_ascii_lowercase().replace(' ', ""),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
        Some(_) => return Err(ArmError::invalid_property("location", "must be a string")),
    };
    if let Some(old) = put.existing.and_then(|e| e["location"].as_str())
        && !old.eq_ignore_ascii_case(&location)
    {
        return Err(ArmError::bad_request(
            "InvalidResourceLocation",
            format!(
                "The resource '{}' already exists in location '{old}'. A resource with the same name cannot be created in location '{location}'.",
                put.name
            ),
        ));
    }
    let mut props = json::properties(&body, "")?;
    for read_only in ["provisioningState", "resourceGuid"] {
        props.remove(read_only);
    }
    for child in put.kind.children {
        normalize_children(put, child.segment, &mut props)?;
    }
    let mut out = Map::new();
    out.insert("name".into(), json!(put.name));
    out.insert("id".into(), json!(put.id));
    out.insert("type".into(), json!(put.kind.arm_type()));
    out.insert("location".into(), json!(location));
    if let Some(tags) = json::tags(&body)? {
        out.insert("tags".into(), tags);
    }
    kinds::normalize(put, &body, &mut props, &mut out)?;
    if has_resource_guid(put.kind) {
        let guid = put
            .existing
            .and_then(|e| e["properties"]["resourceGuid"].as_str())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        props.insert("resourceGuid".into(), json!(guid));
    }
    props.insert("provisioningState".into(), json!("Succeeded"));
    out.insert("properties".into(), Value::Object(props));
    Ok(Value::Object(out))
}

fn has_resource_guid(kind: &Kind) -> bool {
    kind.segment != "publicIPPrefixes"
}

/// Gives every child of a collection its id, type and provisioning state, and refuses unnamed
/// or duplicate children.
fn normalize_children(
    put: &Put,
    collection: &str,
    props: &mut Map<String, Value>,
) -> ArmResult<()> {
    let Some(list) = props.get_mut(collection) else {
        return Ok(());
    };
    let Value::Array(items) = list else {
        return Err(ArmError::invalid_property(
            &format!("properties.{collection}"),
            "must be an array",
        ));
    };
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in items.iter_mut().enumerate() {
        let path = format!("properties.{collection}[{i}]");
        let Value::Object(child) = item else {
            return Err(ArmError::invalid_property(&path, "must be an object"));
        };
        let Some(name) = json::opt_str(child, "name", &path)?.map(str::to_string) else {
            return Err(ArmError::bad_request(
                "InvalidRequestFormat",
                format!("Cannot parse the request. Property '{path}.name' is required."),
            ));
        };
        if !valid_name(&name) {
            return Err(ArmError::bad_request(
                "InvalidResourceName",
                format!(
                    "Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'."
                ),
            ));
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "DuplicateResourceName",
                format!(
                    "Resource {} has two child resources with the same name ({name}).",
                    put.id
                ),
            ));
        }
        seen.push(lower);
        let mut child_props = match child.get("properties") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => {
                return Err(ArmError::invalid_property(
                    &format!("{path}.properties"),
                    "must be an object",
                ));
            }
        };
        child_props.insert("provisioningState".into(), json!("Succeeded"));
        let mut normalized = Map::new();
        normalized.insert("name".into(), json!(name));
        normalized.insert(
            "id".into(),
            json!(format!("{}/{collection}/{name}", put.id)),
        );
        normalized.insert(
            "type".into(),
            json!(format!("{}/{collection}", put.kind.arm_type())),
        );
        normalized.insert("properties".into(), Value::Object(child_props));
        *item = Value::Object(normalized);
    }
    Ok(())
}

/// ARM's rule for resource names: 1-80 characters, word characters, `.`, `-` and `_`, starting
/// with a word character and ending with a word character or `_`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    !b.is_empty()
        && b.len() <= 80
        && b.first().is_some_and(word)
        && b.last().is_some_and(word)
        && b.iter().all(|c| word(c) || *c == b'.' || *c == b'-')
}

/// Sets `etag` on a resource and every child (ARM gives children the parent's etag).
pub fn stamp_etag(resource: &mut Value, etag: &str) {
    resource["etag"] = json!(etag);
    if let Some(props) = resource["properties"].as_object_mut() {
        for value in props.values_mut() {
            if let Value::Array(items) = value {
                for item in items
                    .iter_mut()
                    .filter(|i| i.get("id").is_some() && i.get("name").is_some())
                {
                    item["etag"] = json!(etag);
                }
            }
        }
    }
}

/// Reads `idleTimeoutInMinutes` of `props` (4 when absent), refuses a value outside `range`
/// with `code` naming `what`, and stores the value.
pub fn idle_timeout(
    props: &mut Map<String, Value>,
    path: &str,
    range: std::ops::RangeInclusive<i64>,
    code: &str,
    what: &str,
) -> ArmResult<()> {
    let idle = json::opt_int(props, "idleTimeoutInMinutes", path)?.unwrap_or(4);
    if !range.contains(&idle) {
        return Err(ArmError::bad_request(
            code,
            format!(
                "The idle timeout of {what} is {idle} minutes, outside {}..{}.",
                range.start(),
                range.end()
            ),
        ));
    }
    props.insert("idleTimeoutInMinutes".into(), json!(idle));
    Ok(())
}

/// Refuses a collection that exceeds a limit with `code` and the message `message` makes of
/// the limit.
pub fn check_limit(
    count: usize,
    limit: usize,
    code: &str,
    message: impl FnOnce(usize) -> String,
) -> ArmResult<()> {
    if count > limit {
        return Err(ArmError::bad_request(code, message(limit)));
    }
    Ok(())
}
