//! Applying YAML manifests (CRDs, samples) with server-side apply, as GitOps tools do.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::runtime::{conditions, wait::await_condition};
use serde::Deserialize;

/// The field manager our applies use.
pub const FIELD_MANAGER: &str = "aksnet-e2e";

/// Failures of applying a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A document is not valid YAML or not a Kubernetes object.
    #[error("manifest document {index}: {source}")]
    Parse {
        /// Position of the document in the stream (0-based).
        index: usize,
        /// The parse error.
        source: serde_yaml::Error,
    },
    /// A document has no apiVersion/kind/name.
    #[error("manifest document {index} lacks apiVersion, kind or metadata.name")]
    Incomplete {
        /// Position of the document in the stream (0-based).
        index: usize,
    },
    /// The API server has no such kind.
    #[error("the API server does not serve {0}")]
    UnknownKind(String),
    /// The API server refused the object.
    #[error("applying {what}: {source}")]
    Api {
        /// `Kind/name` of the object.
        what: String,
        /// The API server's answer.
        source: kube::Error,
    },
    /// A CRD did not become Established in time.
    #[error("CRD {0} was not established in time")]
    NotEstablished(String),
}

/// Parses a multi-document YAML stream into objects, skipping empty documents.
pub fn parse(yaml: &str) -> Result<Vec<DynamicObject>, ApplyError> {
    let mut objects = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|source| ApplyError::Parse { index, source })?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject =
            serde_yaml::from_value(value).map_err(|source| ApplyError::Parse { index, source })?;
        if obj.types.is_none() || obj.metadata.name.is_none() {
            return Err(ApplyError::Incomplete { index });
        }
        objects.push(obj);
    }
    Ok(objects)
}

/// Server-side-applies every object of a YAML stream (namespaced ones into `namespace` unless
/// they name one) and returns `Kind/name` for each. CRDs are waited on until Established.
pub async fn apply_yaml(
    client: &kube::Client,
    yaml: &str,
    namespace: Option<&str>,
) -> Result<Vec<String>, ApplyError> {
    let mut applied = Vec::new();
    for obj in parse(yaml)? {
        applied.push(apply_object(client, obj, namespace).await?);
    }
    Ok(applied)
}

async fn apply_object(
    client: &kube::Client,
    obj: DynamicObject,
    namespace: Option<&str>,
) -> Result<String, ApplyError> {
    let types = obj.types.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let what = format!("{}/{name}", types.kind);
    let (resource, caps) = resolve(client, &types.api_version, &types.kind).await?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Cluster => Api::all_with(client.clone(), &resource),
        Scope::Namespaced => {
            let ns = obj
                .metadata
                .namespace
                .as_deref()
                .or(namespace)
                .unwrap_or("default");
            Api::namespaced_with(client.clone(), ns, &resource)
        }
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&obj))
        .await
        .map_err(|source| ApplyError::Api {
            what: what.clone(),
            source,
        })?;
    if types.kind == "CustomResourceDefinition" {
        wait_established(client, &name).await?;
    }
    Ok(what)
}

/// Looks a kind up in discovery (fresh each time, so CRDs applied just before are found).
async fn resolve(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
) -> Result<(ApiResource, ApiCapabilities), ApplyError> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gv = kube::core::GroupVersion::gv(group, version);
    let gvk = kube::core::GroupVersionKind::gvk(&gv.group, &gv.version, kind);
    kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|_| ApplyError::UnknownKind(format!("{api_version}/{kind}")))
}

/// Waits (up to 30 s) until a CRD is Established and served.
pub async fn wait_established(client: &kube::Client, name: &str) -> Result<(), ApplyError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let established = await_condition(crds, name, conditions::is_crd_established());
    match tokio::time::timeout(std::time::Duration::from_secs(30), established).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(ApplyError::NotEstablished(name.to_string())),
    }
}
