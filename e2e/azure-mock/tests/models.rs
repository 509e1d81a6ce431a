//! The mock's Microsoft.Network 2024-03-01 models checked against the azure_mgmt_network 0.21
//! models, which are generated from the same published specification:
//!
//! - a body with every writable property the mock knows survives a round trip through the
//!   SDK's types unchanged: the names, nesting and JSON types agree (a misspelt or invented
//!   property would be dropped by the SDK);
//! - a body with only what the mock requires deserializes into the SDK's types (the SDK
//!   requires nothing more), and removing any one of those properties makes it fail (the mock
//!   requires nothing the SDK does not).

use azure_mgmt_network::package_2024_03::models;
use azure_mock::schema::{Model, Shape, resource_model};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

type RoundTrip = fn(Value) -> Result<Value, String>;

fn round_trip<T: DeserializeOwned + Serialize>(v: Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// Every resource type the mock serves, with the SDK type of the same definition.
fn types() -> [(&'static str, RoundTrip); 8] {
    [
        ("publicIPAddresses", round_trip::<models::PublicIpAddress>),
        ("publicIPPrefixes", round_trip::<models::PublicIpPrefix>),
        ("loadBalancers", round_trip::<models::LoadBalancer>),
        (
            "networkSecurityGroups",
            round_trip::<models::NetworkSecurityGroup>,
        ),
        ("routeTables", round_trip::<models::RouteTable>),
        ("virtualNetworks", round_trip::<models::VirtualNetwork>),
        ("natGateways", round_trip::<models::NatGateway>),
        (
            "privateLinkServices",
            round_trip::<models::PrivateLinkService>,
        ),
    ]
}

fn model(segment: &str) -> &'static Model {
    resource_model(segment).unwrap_or_else(|| panic!("no model for {segment}"))
}

/// A value of `shape`, or `None` for what a client never sends (read-only, opaque).
fn sample(shape: &'static Shape) -> Option<Value> {
    Some(match shape {
        Shape::String => json!("s"),
        Shape::Int => json!(4),
        Shape::Bool => json!(true),
        Shape::Enum { values, .. } => json!(values[0]),
        Shape::Object(m) | Shape::Envelope(m) => full(m),
        Shape::Array(item) => json!([sample(item)?]),
        Shape::Tags => json!({"k": "v"}),
        Shape::Reference => json!({"id": "/subscriptions/s/resourceGroups/rg/providers/x/y/z"}),
        Shape::ReadOnly | Shape::Opaque => return None,
    })
}

/// An object with every writable property of `model`.
fn full(model: &'static Model) -> Value {
    let map: Map<String, Value> = model
        .all_fields()
        .filter_map(|f| Some((f.name.to_string(), sample(&f.shape)?)))
        .collect();
    Value::Object(map)
}

/// Whether a model requires something, itself or in what it nests.
fn requires(model: &'static Model) -> bool {
    model.all_fields().any(|f| {
        f.required
            || match &f.shape {
                Shape::Object(m) | Shape::Envelope(m) | Shape::Array(Shape::Object(m)) => {
                    requires(m)
                }
                _ => false,
            }
    })
}

/// An object with only the required properties of `model`, plus the envelopes, objects and
/// collections that carry required properties of their own. Returns it with the JSON pointers
/// of the required properties.
fn minimal(model: &'static Model, at: &str, required: &mut Vec<String>) -> Value {
    let mut map = Map::new();
    for f in model.all_fields() {
        let here = format!("{at}/{}", f.name);
        let value = match &f.shape {
            Shape::Object(m) | Shape::Envelope(m) if f.required || requires(m) => {
                minimal(m, &here, required)
            }
            Shape::Array(Shape::Object(m)) if f.required || requires(m) => {
                json!([minimal(m, &format!("{here}/0"), required)])
            }
            shape if f.required => sample(shape).expect("required properties are writable"),
            _ => continue,
        };
        if f.required {
            required.push(here);
        }
        map.insert(f.name.to_string(), value);
    }
    Value::Object(map)
}

/// The JSON pointers at which two values differ.
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (va, vb) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                differences(va, vb, &format!("{at}/{key}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(va, vb, &format!("{at}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: mock {a} / SDK {b}")),
        _ => {}
    }
}

#[test]
fn every_property_the_mock_knows_round_trips_through_the_sdk_types() {
    let mut problems = Vec::new();
    for (segment, trip) in types() {
        let body = full(model(segment));
        match trip(body.clone()) {
            Ok(back) => differences(&body, &back, segment, &mut problems),
            Err(e) => problems.push(format!("{segment}: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "the mock's models disagree with the SDK's:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_mock_requires_exactly_what_the_sdk_requires() {
    let mut checked = 0;
    for (segment, trip) in types() {
        let mut required = Vec::new();
        let body = minimal(model(segment), "", &mut required);
        if let Err(e) = trip(body.clone()) {
            panic!("{segment}: the SDK requires more than the mock: {e}\nbody: {body}");
        }
        for pointer in required {
            let mut without = body.clone();
            let (parent, key) = pointer.rsplit_once('/').expect("pointer");
            without
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .expect("parent object")
                .remove(key);
            assert!(
                trip(without).is_err(),
                "{segment}{pointer}: the mock requires it, the SDK does not"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} required properties checked");
}
