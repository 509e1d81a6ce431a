//! The calls ARM clients make before anything else: the cloud's endpoints
//! (`GET /metadata/endpoints`, pointing at this mock) and resource provider reads
//! (`GET /subscriptions/{s}/providers[/{namespace}]`: resource types, api-versions, locations
//! and zone mappings).

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::api_version::NETWORK_VERSIONS;
use crate::compute::{COMPUTE, COMPUTE_VERSIONS};
use crate::error::{ArmError, ArmResult};
use crate::ids::{KINDS, NETWORK};
use crate::server::base_url;

/// The regions the mock says it serves: (name, display name). Resources may name any.
pub const LOCATIONS: &[(&str, &str)] = &[
    ("westeurope", "West Europe"),
    ("northeurope", "North Europe"),
    ("swedencentral", "Sweden Central"),
    ("uksouth", "UK South"),
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("centralus", "Central US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    ("southeastasia", "Southeast Asia"),
];

/// The audiences Azure Resource Manager accepts tokens for (the mock takes the same).
const AUDIENCES: [&str; 2] = [
    "https://management.core.windows.net/",
    "https://management.azure.com/",
];

/// `GET /metadata/endpoints`: the cloud's endpoints, every one of them this mock. With
/// `api-version` 2019-05-01 or later, a list of clouds (what the Azure CLI reads); without one
/// or with `1.0`/`2015-01-01`, the single legacy object older SDKs read.
pub async fn metadata_endpoints(
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Json<Value> {
    let base = base_url(&headers);
    let root = format!("{base}/");
    let legacy = query
        .get("api-version")
        .is_none_or(|v| v.as_str() < "2019-05-01");
    if legacy {
        return Json(json!({
            "galleryEndpoint": root,
            "graphEndpoint": root,
            "portalEndpoint": root,
            "authentication": {"loginEndpoint": root, "audiences": AUDIENCES},
        }));
    }
    Json(json!([{
        "name": "AzureMock",
        "portal": base,
        "resourceManager": root,
        "authentication": {
            "loginEndpoint": root,
            "audiences": AUDIENCES,
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "gallery": root,
        "graph": root,
        "graphAudience": root,
        "microsoftGraphResourceId": root,
        "batch": root,
        "media": root,
        "sqlManagement": root,
        "activeDirectoryDataLake": root,
        "vmImageAliasDoc": format!("{base}/vmImageAliasDoc"),
        "suffixes": {
            "storage": "core.windows.net",
            "keyVaultDns": "vault.azure.net",
            "sqlServerHostname": "database.windows.net",
            "acrLoginServer": "azurecr.io",
        },
    }]))
}

/// `GET /subscriptions/{s}/providers` (every provider) or `…/providers/{namespace}` (one).
pub fn providers(sub: &str, namespace: Option<&str>) -> ArmResult<Value> {
    let all = [network(sub), compute(sub)];
    match namespace {
        None => Ok(json!({"value": all})),
        Some(ns) => all
            .into_iter()
            .find(|p| {
                p["namespace"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(ns))
            })
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "InvalidResourceNamespace",
                    format!("The resource namespace '{ns}' is invalid."),
                )
            }),
    }
}

/// Microsoft.Network as the mock serves it.
fn network(sub: &str) -> Value {
    let segments: Vec<&str> = KINDS.iter().map(|k| k.segment).collect();
    let mut types = resource_types(
        &segments,
        NETWORK_VERSIONS,
        &["publicIPAddresses", "publicIPPrefixes", "natGateways"],
    );
    let versions = newest_first(NETWORK_VERSIONS);
    types.extend(
        ["locations", "locations/operations", "locations/operationResults", "locations/usages"]
            .map(|t| json!({"resourceType": t, "locations": [], "apiVersions": versions, "capabilities": "None"})),
    );
    provider(sub, NETWORK, types)
}

/// Microsoft.Compute as the mock serves it (read-only).
fn compute(sub: &str) -> Value {
    let mut segments = crate::compute::TYPES.to_vec();
    segments.push("virtualMachineScaleSets/virtualMachines");
    let types = resource_types(
        &segments,
        COMPUTE_VERSIONS,
        &["virtualMachines", "virtualMachineScaleSets"],
    );
    provider(sub, COMPUTE, types)
}

/// A registered provider.
fn provider(sub: &str, namespace: &str, types: Vec<Value>) -> Value {
    json!({
        "id": format!("/subscriptions/{sub}/providers/{namespace}"),
        "namespace": namespace,
        "registrationPolicy": "RegistrationRequired",
        "registrationState": "Registered",
        "resourceTypes": types,
    })
}

/// API versions, newest first (as ARM lists them).
fn newest_first(versions: &[&'static str]) -> Vec<&'static str> {
    versions.iter().rev().copied().collect()
}

/// Resource types in every location of [`LOCATIONS`]; `zoned` ones with zones 1 to 3 there.
fn resource_types(segments: &[&str], versions: &[&'static str], zoned: &[&str]) -> Vec<Value> {
    let versions = newest_first(versions);
    let display: Vec<&str> = LOCATIONS.iter().map(|(_, d)| *d).collect();
    segments
        .iter()
        .map(|segment| {
            let mut t = json!({
                "resourceType": segment,
                "locations": display,
                "apiVersions": versions,
                "defaultApiVersion": versions[0],
                "capabilities": "SupportsTags, SupportsLocation",
            });
            if zoned.contains(segment) {
                t["zoneMappings"] = LOCATIONS
                    .iter()
                    .map(|(_, d)| json!({"location": d, "zones": ["1", "2", "3"]}))
                    .collect();
            }
            t
        })
        .collect()
}
