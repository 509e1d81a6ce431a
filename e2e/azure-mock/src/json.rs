//! Small helpers for reading and shaping ARM JSON bodies, with errors that name the property.

use serde_json::{Map, Value};

use crate::error::{ArmError, ArmResult};

/// The object at `value`, or an error naming `path`.
pub fn object<'a>(value: &'a Value, path: &str) -> ArmResult<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| ArmError::invalid_property(path, "must be an object"))
}

/// An optional string property.
pub fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> ArmResult<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ArmError::invalid_property(
            &format!("{path}.{key}"),
            "must be a string",
        )),
    }
}

/// An optional integer property.
pub fn opt_int(obj: &Map<String, Value>, key: &str, path: &str) -> ArmResult<Option<i64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            ArmError::invalid_property(&format!("{path}.{key}"), "must be an integer")
        }),
    }
}

/// An optional array property (absent or null is empty).
pub fn opt_array<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> ArmResult<&'a [Value]> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(ArmError::invalid_property(
            &format!("{path}.{key}"),
            "must be an array",
        )),
    }
}

/// An optional array of strings.
pub fn opt_strings(obj: &Map<String, Value>, key: &str, path: &str) -> ArmResult<Vec<String>> {
    opt_array(obj, key, path)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                ArmError::invalid_property(&format!("{path}.{key}[{i}]"), "must be a string")
            })
        })
        .collect()
}

/// The `id` of a sub-resource reference such as `{"id": "/subscriptions/..."}`.
pub fn reference(obj: &Map<String, Value>, key: &str, path: &str) -> ArmResult<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(r)) => match r.get("id") {
            Some(Value::String(id)) => Ok(Some(id.clone())),
            _ => Err(ArmError::invalid_property(
                &format!("{path}.{key}.id"),
                "must be a string",
            )),
        },
        Some(_) => Err(ArmError::invalid_property(
            &format!("{path}.{key}"),
            "must be an object with an id",
        )),
    }
}

/// The `properties` object of a resource (absent is empty).
pub fn properties(body: &Value, path: &str) -> ArmResult<Map<String, Value>> {
    match body.get("properties") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(p)) => Ok(p.clone()),
        Some(_) => Err(ArmError::invalid_property(
            &format!("{path}.properties"),
            "must be an object",
        )),
    }
}

/// Tags a resource may carry (Azure's limit).
pub const MAX_TAGS: usize = 50;

/// Longest tag name Azure takes.
const MAX_TAG_NAME: usize = 512;

/// Longest tag value Azure takes.
const MAX_TAG_VALUE: usize = 256;

/// Azure's rules for one tag: a name of 1 to 512 characters, none of `<>%&\?/` or a control
/// character in it, and a value of at most 256 characters.
fn check_tag(name: &str, value: &str) -> ArmResult<()> {
    if name.trim().is_empty() {
        return Err(ArmError::bad_request(
            "InvalidTagName",
            "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.",
        ));
    }
    if name.chars().count() > MAX_TAG_NAME {
        return Err(ArmError::bad_request(
            "InvalidTagName",
            format!(
                "Tag key too large. Following tag name '{name}' exceeded the maximum length. Maximum allowed length for tag name - '{MAX_TAG_NAME}' characters."
            ),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | '%' | '&' | '\\' | '?' | '/'))
    {
        return Err(ArmError::bad_request(
            "InvalidTagNameCharacters",
            format!(
                "The tag names '{name}' have reserved characters '<,>,%,&,\\,?,/' or control characters."
            ),
        ));
    }
    if value.chars().count() > MAX_TAG_VALUE {
        return Err(ArmError::bad_request(
            "InvalidTagValueLength",
            format!(
                "Tag value too large. Following tag value '{value}' exceeded the maximum length. Maximum allowed length for tag value - '{MAX_TAG_VALUE}' characters."
            ),
        ));
    }
    Ok(())
}

/// Checks that `tags` is a map of at most [`MAX_TAGS`] strings, each tag as Azure takes it, and
/// returns it.
pub fn tags(body: &Value) -> ArmResult<Option<Value>> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(t)) => {
            if t.len() > MAX_TAGS {
                // Unconfirmed code: Azure allows 50 tags per resource; no public report quotes
                // the error code of a 51st.
                return Err(ArmError::bad_request(
                    "InvalidTagCount",
                    format!(
                        "The resource has {} tags; at most {MAX_TAGS} tags are allowed.",
                        t.len()
                    ),
                ));
            }
            for (k, v) in t {
                let Some(v) = v.as_str() else {
                    return Err(ArmError::invalid_property(
                        &format!("tags.{k}"),
                        "must be a string",
                    ));
                };
                check_tag(k, v)?;
            }
            Ok(Some(Value::Object(t.clone())))
        }
        Some(_) => Err(ArmError::invalid_property("tags", "must be an object")),
    }
}

/// The ids of a list of references (`properties.<key>: [{"id": ...}]`); none when absent.
pub fn reference_list(props: &Map<String, Value>, key: &str) -> ArmResult<Vec<String>> {
    let Some(list) = props.get(key).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = list.as_array().ok_or_else(|| {
        ArmError::invalid_property(&format!("properties.{key}"), "must be an array")
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r["id"].as_str().map(str::to_string).ok_or_else(|| {
                ArmError::invalid_property(&format!("properties.{key}[{i}].id"), "must be a string")
            })
        })
        .collect()
}

/// `{"id": id}`.
pub fn id_ref(id: &str) -> Value {
    serde_json::json!({ "id": id })
}

/// Whether two ids name the same resource (ARM ids are case-insensitive).
pub fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A fresh ETag in ARM's weak form.
pub fn new_etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
}

/// `Cannot parse the request. Property '<path>.<key>' is required.`
pub fn required(path: &str, key: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidRequestFormat",
        format!("Cannot parse the request. Property '{path}.{key}' is required."),
    )
}

/// A string property that must be one of `allowed` (case-insensitive), returned in its
/// canonical casing; `default` applies when it is absent, otherwise it is required.
pub fn enum_value(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    allowed: &[&str],
    default: Option<&str>,
) -> ArmResult<String> {
    let v = opt_str(obj, key, path)?
        .or(default)
        .ok_or_else(|| required(path, key))?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(v))
        .map(|a| a.to_string())
        .ok_or_else(|| {
            ArmError::invalid_property(
                &format!("{path}.{key}"),
                format!(
                    "has an invalid value '{v}'; allowed: {}",
                    allowed.join(", ")
                ),
            )
        })
}

/// The `sku` of a resource: a name from `names` (default `default`) and a tier (default
/// Regional).
pub fn sku(body: &Value, names: &[&str], default: &str) -> ArmResult<Value> {
    let empty = Map::new();
    let sku = match body.get("sku") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(s)) => s,
        Some(_) => return Err(ArmError::invalid_property("sku", "must be an object")),
    };
    let name = enum_value(sku, "name", "sku", names, Some(default))?;
    let tier = enum_value(
        sku,
        "tier",
        "sku",
        &["Regional", "Global"],
        Some("Regional"),
    )?;
    Ok(serde_json::json!({"name": name, "tier": tier}))
}
