//! Private Link Services in ARM's JSON shape, both ways.

use serde_json::{Value, json};

use super::{children, ensure_object, list, s, tags};
use crate::model::{PlsIpConfiguration, PrivateLinkService};

/// A Private Link Service from its ARM body.
pub fn private_link_service(v: &Value, resource_group: &str) -> PrivateLinkService {
    let props = v.get("properties").unwrap_or(&Value::Null);
    let subscriptions = |key: &str| -> Vec<String> {
        let mut out: Vec<String> = props[key]["subscriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        out.sort();
        out
    };
    let mut fqdns: Vec<String> = props["fqdns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    fqdns.sort();
    PrivateLinkService {
        name: s(v, &["name"]).unwrap_or_default(),
        resource_group: resource_group.to_string(),
        location: s(v, &["location"]).unwrap_or_default(),
        tags: tags(v),
        frontend_ids: list(v, "loadBalancerFrontendIpConfigurations")
            .iter()
            .filter_map(|f| s(f, &["id"]))
            .collect(),
        ip_configurations: list(v, "ipConfigurations")
            .iter()
            .map(ip_configuration)
            .collect(),
        visibility: subscriptions("visibility"),
        auto_approval: subscriptions("autoApproval"),
        fqdns,
        proxy_protocol: props["enableProxyProtocol"].as_bool().unwrap_or(false),
        alias: s(v, &["properties", "alias"]),
        etag: s(v, &["etag"]),
    }
}

fn ip_configuration(v: &Value) -> PlsIpConfiguration {
    let is_static = s(v, &["properties", "privateIPAllocationMethod"])
        .is_some_and(|m| m.eq_ignore_ascii_case("Static"));
    let address = s(v, &["properties", "privateIPAddress"]);
    PlsIpConfiguration {
        name: s(v, &["name"]).unwrap_or_default(),
        subnet_id: s(v, &["properties", "subnet", "id"]).unwrap_or_default(),
        static_ip: address.clone().filter(|_| is_static),
        primary: v["properties"]["primary"].as_bool().unwrap_or(false),
        private_ip: address,
    }
}

fn ip_configuration_json(c: &PlsIpConfiguration) -> Value {
    let mut props = json!({
        "subnet": {"id": c.subnet_id},
        "primary": c.primary,
        "privateIPAddressVersion": "IPv4",
        "privateIPAllocationMethod": if c.static_ip.is_some() { "Static" } else { "Dynamic" },
    });
    if let Some(ip) = &c.static_ip {
        props["privateIPAddress"] = json!(ip);
    }
    json!({"name": c.name, "properties": props})
}

/// The ARM body of a Private Link Service: the observed body (if any) with what aksnet sets;
/// an unchanged IP configuration keeps its observed JSON.
pub fn private_link_service_body(pls: &PrivateLinkService, observed: Option<&Value>) -> Value {
    let mut v = observed
        .cloned()
        .unwrap_or_else(|| json!({"location": pls.location}));
    v["tags"] = json!(pls.tags);
    let old = observed.cloned().unwrap_or(Value::Null);
    let props = ensure_object(&mut v, "properties");
    props.insert(
        "loadBalancerFrontendIpConfigurations".into(),
        Value::Array(
            pls.frontend_ids
                .iter()
                .map(|id| json!({"id": id}))
                .collect(),
        ),
    );
    props.insert(
        "ipConfigurations".into(),
        children(
            &old,
            "ipConfigurations",
            &pls.ip_configurations,
            ip_configuration,
            ip_configuration_json,
            |seen, want| {
                seen.subnet_id.eq_ignore_ascii_case(&want.subnet_id)
                    && seen.primary == want.primary
                    && seen.static_ip == want.static_ip
            },
        ),
    );
    props.insert(
        "visibility".into(),
        json!({"subscriptions": pls.visibility}),
    );
    props.insert(
        "autoApproval".into(),
        json!({"subscriptions": pls.auto_approval}),
    );
    props.insert("fqdns".into(), json!(pls.fqdns));
    props.insert("enableProxyProtocol".into(), json!(pls.proxy_protocol));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_link_services_both_ways_keep_what_azure_allocated() {
        let pls = PrivateLinkService {
            name: "pls-a".into(),
            resource_group: "rg".into(),
            location: "westeurope".into(),
            frontend_ids: vec!["/x/loadBalancers/l/frontendIPConfigurations/f".into()],
            ip_configurations: vec![
                PlsIpConfiguration {
                    name: "s-pls-a-static-10.0.0.9".into(),
                    subnet_id: "/x/subnets/s".into(),
                    static_ip: Some("10.0.0.9".into()),
                    primary: true,
                    private_ip: None,
                },
                PlsIpConfiguration {
                    name: "s-pls-a-dynamic-0".into(),
                    subnet_id: "/x/subnets/s".into(),
                    static_ip: None,
                    primary: false,
                    private_ip: None,
                },
            ],
            visibility: vec!["*".into()],
            proxy_protocol: true,
            ..Default::default()
        };
        let mut body = private_link_service_body(&pls, None);
        body["name"] = json!("pls-a");
        // Azure allocates the dynamic address and computes the alias.
        body["properties"]["ipConfigurations"][1]["properties"]["privateIPAddress"] =
            json!("10.0.0.10");
        body["properties"]["alias"] = json!("pls-a.guid.westeurope.azure.privatelinkservice");
        let back = private_link_service(&body, "rg");
        assert_eq!(
            back.ip_configurations[1].private_ip.as_deref(),
            Some("10.0.0.10")
        );
        assert_eq!(back.ip_configurations[1].static_ip, None);
        assert_eq!(
            back.alias.as_deref(),
            Some("pls-a.guid.westeurope.azure.privatelinkservice")
        );
        // Written again unchanged, the allocated address stays in the body.
        let again = private_link_service_body(&back, Some(&body));
        assert_eq!(
            again["properties"]["ipConfigurations"][1]["properties"]["privateIPAddress"],
            "10.0.0.10"
        );
        let mut plain = back.clone();
        for c in &mut plain.ip_configurations {
            c.private_ip = None;
        }
        plain.alias = None;
        assert_eq!(plain, pls);
    }
}
