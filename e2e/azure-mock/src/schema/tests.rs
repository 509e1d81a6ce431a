use serde_json::{Value, json};

use super::{child_model, conform, resource_model};

fn nsg_rule(props: Value) -> Value {
    json!({"location": "westeurope", "properties": {"securityRules": [
        {"name": "r", "properties": props}
    ]}})
}

fn conform_nsg(body: &mut Value, version: &str) -> Result<Vec<String>, String> {
    let model = resource_model("networkSecurityGroups").expect("model");
    conform(model, body, version).map_err(|e| format!("{} {}", e.code, e.message))
}

const RULE: &str = r#"{"protocol":"Tcp","access":"Allow","priority":100,"direction":"Inbound"}"#;

fn rule() -> Value {
    serde_json::from_str(RULE).expect("rule")
}

#[test]
fn names_and_enum_values_take_the_specification_casing() {
    let mut body = json!({"LOCATION": "westeurope", "Properties": {"securityRules": [
        {"name": "r", "PROPERTIES": {"protocol": "tcp", "Access": "allow", "priority": 100,
            "direction": "INBOUND", "destinationPortRange": "80"}}
    ]}});
    assert_eq!(conform_nsg(&mut body, "2024-03-01"), Ok(vec![]));
    let p = &body["properties"]["securityRules"][0]["properties"];
    assert_eq!(body["location"], "westeurope");
    assert_eq!(p["protocol"], "Tcp");
    assert_eq!(p["access"], "Allow");
    assert_eq!(p["direction"], "Inbound");
    assert_eq!(p["destinationPortRange"], "80");
}

#[test]
fn unknown_properties_are_dropped_and_reported_up_to_the_model_version() {
    let mut props = rule();
    props["bogus"] = json!(1);
    let mut body = nsg_rule(props);
    body["identity"] = json!({"type": "SystemAssigned"});
    let ignored = conform_nsg(&mut body, "2024-03-01").expect("valid");
    assert_eq!(
        ignored,
        vec![
            "identity".to_string(),
            "properties.securityRules[0].properties.bogus".to_string()
        ]
    );
    assert!(body.get("identity").is_none());
    assert!(
        body["properties"]["securityRules"][0]["properties"]
            .get("bogus")
            .is_none()
    );

    // A newer api-version may know it: kept, not reported.
    let mut props = rule();
    props["bogus"] = json!(1);
    let mut body = nsg_rule(props);
    assert_eq!(conform_nsg(&mut body, "2026-03-01"), Ok(vec![]));
    assert_eq!(
        body["properties"]["securityRules"][0]["properties"]["bogus"],
        1
    );
}

#[test]
fn read_only_and_null_properties_are_dropped_silently() {
    let mut props = rule();
    props["provisioningState"] = json!("Failed");
    props["description"] = Value::Null;
    let mut body = nsg_rule(props);
    body["etag"] = json!("W/\"x\"");
    body["properties"]["defaultSecurityRules"] = json!([{"name": "x"}]);
    assert_eq!(conform_nsg(&mut body, "2024-03-01"), Ok(vec![]));
    let p = &body["properties"]["securityRules"][0]["properties"];
    assert!(p.get("provisioningState").is_none());
    assert!(p.get("description").is_none());
    assert!(body.get("etag").is_none());
    assert!(body["properties"].get("defaultSecurityRules").is_none());
}

#[test]
fn wrong_types_name_the_property() {
    for (key, value, why) in [
        ("priority", json!("100"), "must be an integer"),
        ("destinationPortRange", json!(80), "must be a string"),
        (
            "sourceAddressPrefixes",
            json!("10.0.0.0/8"),
            "must be an array",
        ),
        ("protocol", json!(6), "must be a string"),
    ] {
        let mut props = rule();
        props[key] = value;
        let err = conform_nsg(&mut nsg_rule(props), "2024-03-01").expect_err(key);
        assert_eq!(
            err,
            format!(
                "InvalidRequestFormat Cannot parse the request. Property 'properties.securityRules[0].properties.{key}' {why}."
            )
        );
    }
    let mut body = json!({"location": "westeurope", "tags": {"a": 1}});
    let err = conform_nsg(&mut body, "2024-03-01").expect_err("tags");
    assert!(err.contains("'tags.a' must be a string"), "{err}");
}

#[test]
fn required_properties_are_reported_even_without_their_envelope() {
    let mut props = rule();
    props.as_object_mut().expect("object").remove("direction");
    let err = conform_nsg(&mut nsg_rule(props), "2024-03-01").expect_err("missing");
    assert!(
        err.ends_with("Property 'properties.securityRules[0].properties.direction' is required."),
        "{err}"
    );
    let route = child_model("routeTables", "routes").expect("route model");
    let err = conform(route, &mut json!({"name": "r"}), "2024-03-01").expect_err("no envelope");
    assert!(
        err.message
            .ends_with("Property 'properties.nextHopType' is required."),
        "{}",
        err.message
    );
}

#[test]
fn closed_enums_refuse_other_values_open_ones_keep_them() {
    let pip = resource_model("publicIPAddresses").expect("model");
    let mut body = json!({"location": "westeurope", "properties": {
        "dnsSettings": {"domainNameLabel": "web", "domainNameLabelScope": "Everyone"}}});
    let err = conform(pip, &mut body, "2024-03-01").expect_err("closed enum");
    assert!(
        err.message.contains(
            "'properties.dnsSettings.domainNameLabelScope' has an invalid value 'Everyone'"
        ),
        "{}",
        err.message
    );
    let mut body = json!({"location": "westeurope", "sku": {"name": "StandardV2"},
        "properties": {"dnsSettings": {"domainNameLabelScope": "noreuse"}}});
    conform(pip, &mut body, "2024-03-01").expect("valid");
    assert_eq!(body["sku"]["name"], "StandardV2");
    assert_eq!(
        body["properties"]["dnsSettings"]["domainNameLabelScope"],
        "NoReuse"
    );
}

#[test]
fn references_keep_only_their_id() {
    let lb = resource_model("loadBalancers").expect("model");
    let mut body = json!({"location": "westeurope", "properties": {"frontendIPConfigurations": [
        {"name": "fe", "properties": {"publicIPAddress": {
            "ID": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip",
            "location": "westeurope", "properties": {"ipAddress": "203.0.113.4"}}}}
    ]}});
    assert_eq!(conform(lb, &mut body, "2024-03-01"), Ok(vec![]));
    assert_eq!(
        body["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"],
        json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip"})
    );
    let mut body = json!({"location": "westeurope", "properties": {"probes": [
        {"name": "p", "properties": {"protocol": "Tcp", "port": 80,
            "loadBalancingRules": [{"id": 5}]}}]}});
    assert_eq!(
        conform(lb, &mut body, "2024-03-01"),
        Ok(vec![]),
        "read-only back-references are not looked into"
    );
}

#[test]
fn every_writable_child_collection_has_a_model() {
    for kind in crate::ids::KINDS {
        assert!(resource_model(kind.segment).is_some(), "{}", kind.segment);
        for child in kind.children.iter().filter(|c| c.writable) {
            assert!(
                child_model(kind.segment, child.segment).is_some(),
                "{}/{}",
                kind.segment,
                child.segment
            );
        }
    }
}
