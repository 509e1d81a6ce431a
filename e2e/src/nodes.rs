//! Node objects for clusters without kubelets: created through the API with an InternalIP and
//! a pod CIDR, as a kubelet and the node IPAM controller would set them.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// Create node `name` with InternalIP `ip` and pod CIDR `cidr`.
pub async fn create_node(
    nodes: &Api<Node>,
    name: &str,
    ip: &str,
    cidr: &str,
) -> Result<(), kube::Error> {
    let node: Node = serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}),
    )
    .map_err(kube::Error::SerdeError)?;
    nodes.create(&PostParams::default(), &node).await?;
    let status = json!({"status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}
