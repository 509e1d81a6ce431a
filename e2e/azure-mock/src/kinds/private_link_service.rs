//! Private Link Services: IP configurations in a subnet whose Private Link Service network
//! policies are disabled (private addresses allocated as for load balancer frontends), the
//! internal load balancer frontends they serve, visibility and auto-approval lists, proxy
//! protocol, FQDNs, and the alias Azure computes.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::error::{ArmError, ArmResult};
use crate::json;
use crate::normalize::Put;
use crate::store::{Data, children, find_child};

use super::load_balancer::private_address;

/// IP configurations a Private Link Service may have (Azure's limit).
pub const MAX_IP_CONFIGURATIONS: usize = 8;

/// Normalizes a Private Link Service.
pub fn normalize(put: &Put, props: &mut Map<String, Value>) -> ArmResult<()> {
    for read_only in ["networkInterfaces", "privateEndpointConnections", "alias"] {
        props.remove(read_only);
    }
    let frontends = json::reference_list(props, "loadBalancerFrontendIpConfigurations")?;
    if frontends.is_empty() {
        return Err(ArmError::bad_request(
            "PrivateLinkServiceMustHaveLoadBalancerFrontendIpConfiguration",
            format!(
                "Private link service {} must reference a load balancer frontend IP configuration.",
                put.id
            ),
        ));
    }
    for target in &frontends {
        let frontend = put
            .data
            .child(target)
            .filter(|_| {
                target
                    .to_ascii_lowercase()
                    .contains("/providers/microsoft.network/loadbalancers/")
            })
            .ok_or_else(|| ArmError::missing_reference(target, &put.id))?;
        if frontend["properties"]["subnet"]["id"].as_str().is_none() {
            // Unconfirmed code: Azure serves Private Link Services from internal frontends only.
            return Err(ArmError::bad_request(
                "PrivateLinkServiceFrontendIpConfigurationMustBeInternal",
                format!(
                    "Private link service {} can only use an internal load balancer frontend; {target} has no subnet.",
                    put.id
                ),
            ));
        }
    }
    let count = props
        .get("ipConfigurations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if count == 0 || count > MAX_IP_CONFIGURATIONS {
        // Unconfirmed code: Azure documents 1 to 8 IP configurations.
        return Err(ArmError::bad_request(
            "PrivateLinkServiceIpConfigurationCountOutOfRange",
            format!(
                "Private link service {} has {count} IP configurations; it takes 1 to {MAX_IP_CONFIGURATIONS}.",
                put.id
            ),
        ));
    }
    let mut taken: Vec<IpAddr> = Vec::new();
    for (i, config) in props
        .get_mut("ipConfigurations")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = config["id"].as_str().unwrap_or_default().to_string();
        let name = config["name"].as_str().unwrap_or_default().to_string();
        let path = format!("properties.ipConfigurations[{i}].properties");
        let p = config["properties"]
            .as_object_mut()
            .expect("normalized child has properties");
        let subnet_id = json::reference(p, "subnet", &path)?
            .ok_or_else(|| ArmError::invalid_property(&format!("{path}.subnet"), "is required"))?;
        let subnet = put
            .data
            .child(&subnet_id)
            .ok_or_else(|| ArmError::missing_reference(&subnet_id, &id))?;
        let policies = subnet["properties"]["privateLinkServiceNetworkPolicies"]
            .as_str()
            .unwrap_or("Enabled");
        if policies.eq_ignore_ascii_case("Enabled") {
            return Err(ArmError::bad_request(
                "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled",
                format!(
                    "Private link service {} cannot be created in a subnet {subnet_id} since it has private link service network policies enabled.",
                    put.id
                ),
            ));
        }
        let kept = put
            .existing
            .and_then(|e| find_child(e, "ipConfigurations", &name))
            .and_then(|c| c["properties"]["privateIPAddress"].as_str())
            .map(str::to_string);
        private_address(put, &subnet_id, &id, &path, p, kept, &mut taken)?;
        let primary = p.get("primary").and_then(Value::as_bool).unwrap_or(i == 0);
        p.insert("primary".into(), json!(primary));
        p.insert("provisioningState".into(), json!("Succeeded"));
    }
    let proxy = props
        .get("enableProxyProtocol")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    props.insert("enableProxyProtocol".into(), json!(proxy));
    for set in ["visibility", "autoApproval"] {
        let subscriptions = props
            .get(set)
            .and_then(|s| s.get("subscriptions"))
            .cloned()
            .unwrap_or(json!([]));
        props.insert(set.into(), json!({ "subscriptions": subscriptions }));
    }
    props.entry("fqdns").or_insert(json!([]));
    props.insert("networkInterfaces".into(), json!([]));
    props.insert("privateEndpointConnections".into(), json!([]));
    Ok(())
}

/// The alias Azure gives a Private Link Service: `{name}.{guid}.{location}.azure.privatelinkservice`.
pub fn add_alias(resource: &mut Value) {
    let name = resource["name"].as_str().unwrap_or_default().to_string();
    let location = resource["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let guid = resource["properties"]["resourceGuid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    resource["properties"]["alias"] =
        json!(format!("{name}.{guid}.{location}.azure.privatelinkservice"));
}

/// The Private Link Services (ids) that use a frontend of the load balancer `lb_id` (any of
/// them, or the one named `frontend`).
pub fn services_on(data: &Data, lb_id: &str, frontend: Option<&str>) -> Vec<String> {
    let prefix = format!("{lb_id}/frontendIPConfigurations/").to_ascii_lowercase();
    data.of_type("privateLinkServices")
        .filter(|pls| {
            children_refs(pls).any(|id| {
                let id = id.to_ascii_lowercase();
                id.starts_with(&prefix)
                    && frontend.is_none_or(|f| id[prefix.len()..].eq_ignore_ascii_case(f))
            })
        })
        .filter_map(|pls| pls["id"].as_str().map(str::to_string))
        .collect()
}

fn children_refs(pls: &Value) -> impl Iterator<Item = &str> {
    pls["properties"]["loadBalancerFrontendIpConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
}

/// `InUseLoadBalancerCannotBeDeleted`-style refusal when a Private Link Service uses one of the
/// load balancer's frontends (unconfirmed code).
pub fn load_balancer_in_use(data: &Data, lb: &Value) -> Option<ArmError> {
    let id = lb["id"].as_str().unwrap_or_default();
    let user = services_on(data, id, None).into_iter().next()?;
    Some(ArmError::bad_request(
        "LoadBalancerInUseByPrivateLinkService",
        format!(
            "Load balancer {id} cannot be deleted since private link service {user} uses its frontend IP configurations."
        ),
    ))
}

/// The frontends of `existing` (a load balancer) that a Private Link Service uses and the new
/// body drops: refused, as the service would lose its frontend (unconfirmed code).
pub fn dropped_frontend_in_use(put: &Put, props: &Map<String, Value>) -> ArmResult<()> {
    let Some(existing) = put.existing else {
        return Ok(());
    };
    for old in children(existing, "frontendIPConfigurations") {
        let name = old["name"].as_str().unwrap_or_default();
        let kept = props
            .get("frontendIPConfigurations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|f| {
                f["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
        if kept {
            continue;
        }
        if let Some(user) = services_on(put.data, &put.id, Some(name))
            .into_iter()
            .next()
        {
            return Err(ArmError::bad_request(
                "FrontendIPConfigurationInUseByPrivateLinkService",
                format!(
                    "Frontend IP configuration {name} of load balancer {} cannot be removed since private link service {user} uses it.",
                    put.id
                ),
            ));
        }
    }
    Ok(())
}
