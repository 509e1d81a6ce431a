//! Request bodies checked against the Microsoft.Network 2024-03-01 API definitions, the way the
//! network resource provider reads them.
//!
//! The models of the `network` module describe, for every type the mock serves, each
//! property's JSON shape, whether it is read-only and whether it is required, as the published
//! OpenAPI specification (Azure/azure-rest-api-specs, `Microsoft.Network/stable/2024-03-01`)
//! defines them. [`conform`] walks a body against its model and makes it what the provider
//! would have read:
//!
//! - property names match case-insensitively and are stored in the specification's casing;
//! - a value of the wrong JSON type, a missing required property or a value outside a closed
//!   enum is refused with 400 `InvalidRequestFormat` naming the property's path;
//! - enum values take the specification's casing; open (`modelAsString`) enums keep other
//!   values for the type-specific rules to judge;
//! - read-only properties are dropped: the server computes them;
//! - references (`SubResource` and resources referenced by id) keep only their `id`;
//! - `null` is the same as absent;
//! - properties the model does not know are dropped, as the provider's deserializer drops
//!   them, and reported so that a client can see what Azure would have ignored. For
//!   api-versions newer than the models they are kept instead, since they may be real.

mod network;

use serde_json::{Map, Value};

use crate::error::{ArmError, ArmResult};

/// The api-version the models describe.
pub const MODEL_VERSION: &str = "2024-03-01";

/// The JSON shape of one property.
#[derive(Debug)]
pub enum Shape {
    /// A string.
    String,
    /// An integer.
    Int,
    /// `true` or `false`.
    Bool,
    /// A string from a list of values, matched case-insensitively. `open` enums
    /// (`modelAsString: true`) accept other values too.
    Enum {
        /// The values in the specification's casing.
        values: &'static [&'static str],
        /// Whether other values are accepted.
        open: bool,
    },
    /// An object with a model.
    Object(&'static Model),
    /// The `properties` envelope of a resource (flattened by SDKs): an object with a model,
    /// checked as an empty object when absent so that its required properties are reported.
    Envelope(&'static Model),
    /// An array of one shape.
    Array(&'static Shape),
    /// A map of strings (`tags`).
    Tags,
    /// A reference to another resource: an object of which only `id` is kept.
    Reference,
    /// A read-only property: accepted and dropped.
    ReadOnly,
    /// A value the mock does not look into; kept as sent.
    Opaque,
}

/// One property of a model.
#[derive(Debug)]
pub struct Field {
    /// Its name in the specification's casing.
    pub name: &'static str,
    /// Its shape.
    pub shape: Shape,
    /// Whether the specification requires it.
    pub required: bool,
}

/// The properties of one object type.
#[derive(Debug)]
pub struct Model {
    /// The specification's name for the type.
    pub name: &'static str,
    /// Properties it shares with its family (the `allOf` bases of the definitions).
    pub inherits: &'static [Field],
    /// Its own properties.
    pub fields: &'static [Field],
}

impl Model {
    /// The field named `key`, matched case-insensitively.
    pub fn field(&'static self, key: &str) -> Option<&'static Field> {
        self.all_fields().find(|f| f.name.eq_ignore_ascii_case(key))
    }

    /// Every property, inherited ones first.
    pub fn all_fields(&'static self) -> impl Iterator<Item = &'static Field> {
        self.inherits.iter().chain(self.fields)
    }
}

/// The model of a top-level resource type, by URL segment (e.g. `loadBalancers`).
pub fn resource_model(segment: &str) -> Option<&'static Model> {
    network::resource(segment)
}

/// The model of a child collection's items, by parent and child URL segment.
pub fn child_model(parent: &str, child: &str) -> Option<&'static Model> {
    let parent = resource_model(parent)?;
    let Shape::Envelope(props) = &parent.field("properties")?.shape else {
        return None;
    };
    match &props.field(child)?.shape {
        Shape::Array(Shape::Object(model)) => Some(model),
        _ => None,
    }
}

/// Conforms `body` to `model` in place (see the module documentation) and returns the paths
/// of the properties dropped because the model does not know them.
pub fn conform(
    model: &'static Model,
    body: &mut Value,
    api_version: &str,
) -> ArmResult<Vec<String>> {
    let mut walk = Walk {
        drop_unknown: api_version <= MODEL_VERSION,
        ignored: Vec::new(),
    };
    walk.object(model, body, "")?;
    Ok(walk.ignored)
}

struct Walk {
    drop_unknown: bool,
    ignored: Vec<String>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Walk {
    fn object(&mut self, model: &'static Model, value: &mut Value, path: &str) -> ArmResult<()> {
        let Value::Object(map) = value else {
            let at = if path.is_empty() { "body" } else { path };
            return Err(ArmError::invalid_property(at, "must be an object"));
        };
        let sent = std::mem::take(map);
        let mut kept = Map::new();
        for (key, mut v) in sent {
            let Some(field) = model.field(&key) else {
                if self.drop_unknown {
                    self.ignored.push(join(path, &key));
                } else {
                    kept.insert(key, v);
                }
                continue;
            };
            if v.is_null() || matches!(field.shape, Shape::ReadOnly) {
                continue;
            }
            let at = join(path, field.name);
            self.shape(&field.shape, &mut v, &at)?;
            kept.insert(field.name.to_string(), v);
        }
        for field in model.all_fields() {
            if kept.contains_key(field.name) {
                continue;
            }
            if field.required {
                return Err(ArmError::invalid_property(
                    &join(path, field.name),
                    "is required",
                ));
            }
            if let Shape::Envelope(inner) = &field.shape {
                // A missing envelope still has to carry its required properties.
                let mut empty = Value::Object(Map::new());
                self.object(inner, &mut empty, &join(path, field.name))?;
            }
        }
        *map = kept;
        Ok(())
    }

    fn shape(&mut self, shape: &'static Shape, v: &mut Value, path: &str) -> ArmResult<()> {
        let wrong = |what: &str| invalid(path, what);
        match shape {
            Shape::String if !v.is_string() => wrong("must be a string"),
            Shape::Int if !(v.is_i64() || v.is_u64()) => wrong("must be an integer"),
            Shape::Bool if !v.is_boolean() => wrong("must be true or false"),
            Shape::String | Shape::Int | Shape::Bool | Shape::ReadOnly | Shape::Opaque => Ok(()),
            Shape::Enum { values, open } => {
                let Some(sent) = v.as_str() else {
                    return wrong("must be a string");
                };
                match values.iter().find(|a| a.eq_ignore_ascii_case(sent)) {
                    Some(canonical) => {
                        *v = Value::String((*canonical).to_string());
                        Ok(())
                    }
                    None if *open => Ok(()),
                    None => invalid(
                        path,
                        format!(
                            "has an invalid value '{sent}'; allowed: {}",
                            values.join(", ")
                        ),
                    ),
                }
            }
            Shape::Object(model) | Shape::Envelope(model) => self.object(model, v, path),
            Shape::Array(item) => {
                let Value::Array(items) = v else {
                    return wrong("must be an array");
                };
                for (i, element) in items.iter_mut().enumerate() {
                    self.shape(item, element, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Shape::Tags => {
                let Value::Object(tags) = v else {
                    return wrong("must be an object");
                };
                match tags.iter().find(|(_, t)| !t.is_string()) {
                    Some((k, _)) => invalid(&format!("{path}.{k}"), "must be a string"),
                    None => Ok(()),
                }
            }
            Shape::Reference => {
                let Value::Object(r) = v else {
                    return wrong("must be an object with an id");
                };
                let id = r
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("id"))
                    .map(|(_, id)| id.clone());
                let mut only_id = Map::new();
                match id {
                    Some(Value::String(id)) => {
                        only_id.insert("id".into(), Value::String(id));
                    }
                    None | Some(Value::Null) => {}
                    Some(_) => return invalid(&format!("{path}.id"), "must be a string"),
                }
                *v = Value::Object(only_id);
                Ok(())
            }
        }
    }
}

fn invalid<T>(path: &str, why: impl std::fmt::Display) -> ArmResult<T> {
    Err(ArmError::invalid_property(path, why))
}

#[cfg(test)]
mod tests;
