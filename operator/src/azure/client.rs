//! [`AzurePort`] over the azure_mgmt_network 0.21 SDK.
//!
//! Bodies go through [`arm_json`]: the observed ARM JSON of each resource is kept from the last
//! read, and a write starts from it, so properties aksnet does not model survive. The transport
//! adds `If-Match` with the observed ETag (or `If-None-Match: *` on create), keeps the write
//! budget and counts calls; the SDK's retry policy honours `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::auth::TokenCredential;
use azure_core::{TransportOptions, Url};
use azure_mgmt_network::package_2024_03::{Client, ClientBuilder, models};
use std::future::IntoFuture;

use futures::StreamExt;
use serde_json::Value;

use super::arm_json::{self, Scope};
use super::transport::{ArmTransport, BudgetSettings, Shared, WriteBudget};
use super::{AzureError, AzurePort, Fault, ObserveRequest};
use crate::diff::Op;
use crate::leader::Fence;
use crate::metrics::Metrics;
use crate::model::{Applied, Observed, Quota, canonical_id, name_key};

/// How to reach ARM.
#[derive(Clone, Debug)]
pub struct Settings {
    /// ARM endpoint, e.g. `https://management.azure.com` (or azure-mock's URL).
    pub endpoint: Url,
    /// Subscription id.
    pub subscription: String,
    /// The write budget.
    pub budget: BudgetSettings,
    /// How often a delete is polled until the resource is gone.
    pub poll_interval: Duration,
}

/// The SDK-backed Azure port.
pub struct AzureClient {
    net: Client,
    scope: Scope,
    poll_interval: Duration,
    /// Observed ARM bodies by lower-cased id.
    raw: Mutex<HashMap<String, Value>>,
    /// What the transport notes (throttling, failed operations) and takes (delete ETags).
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AzureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureClient")
            .field("scope", &self.scope)
            .finish()
    }
}

fn model<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, AzureError> {
    serde_json::from_value(v).map_err(|e| {
        AzureError::Invalid(Fault::local(format!(
            "body does not fit the SDK model: {e}"
        )))
    })
}

fn json<T: serde::Serialize>(m: &T) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

impl AzureClient {
    /// A client for `settings` with `credential`, counting calls in `metrics`.
    pub fn new(
        settings: &Settings,
        credential: Arc<dyn TokenCredential>,
        metrics: Arc<Metrics>,
        fence: Fence,
    ) -> Result<Self, AzureError> {
        let budget = Arc::new(WriteBudget::new(settings.budget));
        let shared = Arc::new(Shared::default());
        let transport = ArmTransport::new(
            azure_core::new_http_client(),
            budget,
            metrics,
            shared.clone(),
            fence,
        );
        let net = ClientBuilder::new(credential)
            .endpoint(settings.endpoint.clone())
            .transport(TransportOptions::new_custom_policy(Arc::new(transport)))
            .build()
            .map_err(|e| AzureError::Invalid(Fault::local(format!("ARM client: {e}"))))?;
        Ok(Self {
            net,
            scope: Scope {
                subscription: settings.subscription.clone(),
            },
            poll_interval: settings.poll_interval,
            raw: Mutex::new(HashMap::new()),
            shared,
        })
    }

    /// An SDK error, classified, with ARM's requested wait when it was throttled.
    fn error(&self, e: &azure_core::Error) -> AzureError {
        AzureError::from_sdk(e).with_retry_after(self.shared.throttle.remaining())
    }

    /// An SDK error of a write on the resource `id`: a failed long-running operation gets the
    /// code and message its status carried.
    fn write_error(&self, e: &azure_core::Error, id: &str) -> AzureError {
        let err = match self.shared.operations.take(id) {
            Some((code, message))
                if !matches!(e.kind(), azure_core::error::ErrorKind::HttpResponse { .. }) =>
            {
                AzureError::failed_operation(code, message)
            }
            _ => self.error(e),
        };
        err.on(id)
    }

    /// The last observed body of `id`, when the write updates what was observed (`etag` set);
    /// a create starts from nothing, so a stale body (and its entity tag) never comes back.
    fn base(&self, id: &str, etag: &Option<String>) -> Option<Value> {
        etag.as_ref().and_then(|_| self.recall(id))
    }

    /// `Ok(None)` when the resource does not exist (but not when its resource group does not:
    /// that is the network's problem).
    fn found<T>(&self, r: azure_core::Result<T>) -> Result<Option<T>, AzureError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) => match self.error(&e) {
                AzureError::NotFound(f)
                    if !f.code.eq_ignore_ascii_case("ResourceGroupNotFound") =>
                {
                    Ok(None)
                }
                other => Err(other),
            },
        }
    }

    fn remember(&self, id: String, body: Value) {
        if let Ok(mut raw) = self.raw.lock() {
            raw.insert(name_key(&id), body);
        }
    }

    fn recall(&self, id: &str) -> Option<Value> {
        self.raw.lock().ok()?.get(&name_key(id)).cloned()
    }

    fn forget(&self, id: &str) {
        if let Ok(mut raw) = self.raw.lock() {
            raw.remove(&name_key(id));
        }
    }

    /// PUT `body` as the SDK model `M` through `send` (which waits for the long-running
    /// operation), remember the result as the resource's last observed body, and answer it.
    async fn put<M, F, Fut>(&self, id: String, body: Value, send: F) -> Result<Value, AzureError>
    where
        M: serde::de::DeserializeOwned + serde::Serialize,
        F: FnOnce(M) -> Fut,
        Fut: std::future::Future<Output = azure_core::Result<M>>,
    {
        let done = send(model::<M>(body).map_err(|e| e.on(&id))?)
            .await
            .map_err(|e| self.write_error(&e, &id))?;
        let v = json(&done);
        self.remember(id, v.clone());
        Ok(v)
    }

    /// Send a DELETE (with `If-Match: etag` when the resource was read with one), poll `get`
    /// until the resource is gone, and forget it.
    async fn delete<R, Fut, F, GetFut, T>(
        &self,
        id: String,
        etag: Option<&str>,
        send: Fut,
        get: F,
    ) -> Result<(), AzureError>
    where
        Fut: std::future::Future<Output = azure_core::Result<R>>,
        F: Fn() -> GetFut,
        GetFut: std::future::Future<Output = azure_core::Result<T>>,
    {
        if let Some(etag) = etag {
            self.shared.delete_etags.expect(&id, etag);
        }
        send.await.map_err(|e| self.write_error(&e, &id))?;
        self.wait_gone(get).await.map_err(|e| e.on(&id))?;
        self.forget(&id);
        Ok(())
    }

    /// Poll until a deleted resource is gone.
    async fn wait_gone<F, Fut, T>(&self, get: F) -> Result<(), AzureError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = azure_core::Result<T>>,
    {
        for _ in 0..600 {
            if self.found(get().await)?.is_none() {
                return Ok(());
            }
            tokio::time::sleep(self.poll_interval).await;
        }
        Err(AzureError::Transient(Fault::local(
            "delete did not finish in time",
        )))
    }
}

/// Whether load balancer `name` is `base` or one it grew to (`<base>-<n>`), in any case.
fn in_profile(base: &str, name: &str) -> bool {
    let (base, name) = (name_key(base), name_key(name));
    name == base
        || name
            .strip_prefix(&base)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl AzureClient {
    /// The subscription's public IP quota and usage in `location` (ARM's network `usages`);
    /// `None` when this identity may not read it (the plan then leaves the quota to Azure).
    async fn public_ip_quota(&self, location: &str) -> Result<Option<Quota>, AzureError> {
        let sub = &self.scope.subscription;
        let mut pages = self
            .net
            .usages_client()
            .list(location, sub.clone())
            .into_stream();
        while let Some(page) = pages.next().await {
            let page = match page.map_err(|e| self.error(&e)) {
                Ok(p) => p,
                Err(AzureError::Forbidden(f)) => {
                    tracing::warn!(code = %f.code, "cannot read the public IP quota; Azure will enforce it");
                    return Ok(None);
                }
                Err(e) => {
                    let id = format!(
                        "/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/usages"
                    );
                    return Err(e.on(&id));
                }
            };
            let found = page
                .value
                .iter()
                .find(|u| u.name.value.as_deref() == Some("PublicIPAddresses"));
            if let Some(u) = found {
                return Ok(Some(Quota {
                    used: usize::try_from(u.current_value).unwrap_or(0),
                    limit: usize::try_from(u.limit).unwrap_or(usize::MAX),
                }));
            }
        }
        Ok(None)
    }
}

impl AzureClient {
    /// The Private Link Services of resource group `group` (none when it does not exist).
    async fn observe_private_links(
        &self,
        group: &str,
        observed: &mut Observed,
    ) -> Result<(), AzureError> {
        let sub = &self.scope.subscription;
        let mut pages = self
            .net
            .private_link_services_client()
            .list(group.to_string(), sub.clone())
            .into_stream();
        while let Some(page) = pages.next().await {
            let page = match self.found(page) {
                Ok(Some(p)) => p,
                Ok(None) | Err(AzureError::NotFound(_)) => break,
                Err(e) => {
                    return Err(e.on(&format!("/subscriptions/{sub}/resourceGroups/{group}")));
                }
            };
            for pls in page.value {
                let v = json(&pls);
                let p = arm_json::private_link_service(&v, group);
                let id = self.scope.id(group, "privateLinkServices", &p.name);
                if observed
                    .private_link_service(&p.resource_group, &p.name)
                    .is_none()
                {
                    self.remember(id, v);
                    observed.private_link_services.push(p);
                }
            }
        }
        Ok(())
    }
}

impl AzurePort for AzureClient {
    async fn observe(&self, req: &ObserveRequest) -> Result<Observed, AzureError> {
        let sub = &self.scope.subscription;
        let rg = &req.resource_group;
        let mut observed = Observed::default();
        // What was read is all there is: bodies of resources gone since are forgotten.
        if let Ok(mut raw) = self.raw.lock() {
            raw.clear();
        }
        let mut groups = vec![rg.clone()];
        groups.extend(req.public_ip_groups.iter().cloned());
        groups.sort_by_key(|g| name_key(g));
        groups.dedup_by_key(|g| name_key(g));
        let mut seen = std::collections::HashSet::new();
        for group in &groups {
            let mut pages = self
                .net
                .public_ip_addresses_client()
                .list(group.clone(), sub.clone())
                .into_stream();
            while let Some(page) = pages.next().await {
                let page = match self.found(page) {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    // A resource group a Service names that does not exist holds no IPs; the
                    // cluster's own missing is the network's problem.
                    Err(AzureError::NotFound(_)) if name_key(group) != name_key(rg) => break,
                    Err(e) => {
                        return Err(e.on(&format!("/subscriptions/{sub}/resourceGroups/{group}")));
                    }
                };
                for pip in page.value {
                    let v = json(&pip);
                    let p = arm_json::public_ip(&v, group);
                    // One resource is one public IP, however the group was spelt.
                    let id = self
                        .scope
                        .id(&p.resource_group, "publicIPAddresses", &p.name);
                    if seen.insert(canonical_id(&id)) {
                        self.remember(id, v);
                        observed.public_ips.push(p);
                    }
                }
            }
        }
        // One list of the resource group: the profiles' load balancers and those they grew
        // to (`<name>-<n>`).
        let mut pages = self
            .net
            .load_balancers_client()
            .list(rg.clone(), sub.clone())
            .into_stream();
        while let Some(page) = pages.next().await {
            let Some(page) = self
                .found(page)
                .map_err(|e| e.on(&format!("/subscriptions/{sub}/resourceGroups/{rg}")))?
            else {
                break;
            };
            for lb in page.value {
                let v = json(&lb);
                let seen = arm_json::load_balancer(&v, rg);
                if req
                    .load_balancers
                    .iter()
                    .any(|base| in_profile(base, &seen.name))
                {
                    self.remember(self.scope.id(rg, "loadBalancers", &seen.name), v);
                    observed.load_balancers.push(seen);
                }
            }
        }
        if let Some(name) = &req.security_group
            && let Some(nsg) = self
                .found(
                    self.net
                        .network_security_groups_client()
                        .get(rg.clone(), name.clone(), sub.clone())
                        .await,
                )
                .map_err(|e| e.on(&self.scope.id(rg, "networkSecurityGroups", name)))?
        {
            let v = json(&nsg);
            observed.security_group = Some(arm_json::security_group(&v, rg));
            self.remember(self.scope.id(rg, "networkSecurityGroups", name), v);
        }
        if let Some(name) = &req.route_table
            && let Some(rt) = self
                .found(
                    self.net
                        .route_tables_client()
                        .get(rg.clone(), name.clone(), sub.clone())
                        .await,
                )
                .map_err(|e| e.on(&self.scope.id(rg, "routeTables", name)))?
        {
            let v = json(&rt);
            observed.route_table = Some(arm_json::route_table(&v, rg));
            self.remember(self.scope.id(rg, "routeTables", name), v);
        }
        if let Some((vnet_rg, vnet)) = &req.vnet
            && let Some(v) = self
                .found(
                    self.net
                        .virtual_networks_client()
                        .get(vnet_rg.clone(), vnet.clone(), sub.clone())
                        .await,
                )
                .map_err(|e| e.on(&self.scope.id(vnet_rg, "virtualNetworks", vnet)))?
        {
            let v = json(&v);
            observed.subnets = Some(arm_json::subnets(&v));
            observed.private_link_subnets = arm_json::private_link_subnets(&v);
            if let Some((subnet, body)) = req
                .node_subnet
                .as_deref()
                .and_then(|name| arm_json::subnet_of(&v, name))
            {
                self.remember(subnet.id.clone(), body.clone());
                observed.node_subnet = Some(subnet);
            }
        }
        for group in &req.private_link_groups {
            self.observe_private_links(group, &mut observed).await?;
        }
        for id in &req.nat_gateways {
            let Some(gw) = crate::model::NetworkResource::parse(id) else {
                continue;
            };
            let gw_rg = &gw.resource_group;
            let found = self
                .found(
                    self.net
                        .nat_gateways_client()
                        .get(gw_rg.clone(), gw.name.clone(), gw.subscription.clone())
                        .await,
                )
                .or_else(|e| match e {
                    // A gateway in a resource group that does not exist does not exist.
                    AzureError::NotFound(_) => Ok(None),
                    other => Err(other.on(id)),
                })?;
            if let Some(g) = found {
                let v = json(&g);
                let g = arm_json::nat_gateway(&v, gw_rg);
                // Its body is kept under the id aksnet writes it by (the managed one's).
                self.remember(self.scope.id(&g.resource_group, "natGateways", &g.name), v);
                observed.nat_gateways.push(g);
            }
        }
        for id in &req.ip_prefixes {
            let Some((prefix_rg, name)) = arm_json::resource_group_and_name(id) else {
                observed.ip_prefixes.insert(canonical_id(id), false);
                continue;
            };
            let found = self
                .found(
                    self.net
                        .public_ip_prefixes_client()
                        .get(prefix_rg, name, sub.clone())
                        .await,
                )
                .or_else(|e| match e {
                    // A prefix in a resource group that does not exist does not exist.
                    AzureError::NotFound(_) => Ok(None),
                    other => Err(other.on(id)),
                })?;
            observed
                .ip_prefixes
                .insert(canonical_id(id), found.is_some());
        }
        if let Some(location) = &req.location {
            observed.public_ip_quota = self.public_ip_quota(location).await?;
        }
        Ok(observed)
    }

    async fn apply(&self, op: &Op) -> Result<Applied, AzureError> {
        let sub = self.scope.subscription.clone();
        let net = &self.net;
        // Put one resource (read before, so that what others set on it is kept) through an
        // SDK client whose `create_or_update` takes (resource group, name, model,
        // subscription), and read Azure's answer back.
        macro_rules! put_by_name {
            ($r:ident, $kind:literal, $client:ident, $model:ty, $body:path, $read:path, $applied:path) => {{
                let id = self.scope.id(&$r.resource_group, $kind, &$r.name);
                let body = $body($r, self.base(&id, &$r.etag).as_ref());
                let (rg, name) = ($r.resource_group.clone(), $r.name.clone());
                let send = |m: $model| {
                    net.$client()
                        .create_or_update(rg, name, m, sub)
                        .into_future()
                };
                let v = self.put(id, body, send).await?;
                Ok($applied($read(&v, &$r.resource_group)))
            }};
        }
        // Delete one resource through an SDK client whose `delete` and `get` take
        // (resource group, name, subscription); see `AzureClient::delete`.
        macro_rules! delete_by_name {
            ($client:expr, $kind:literal, $rg:ident, $name:ident, $etag:ident) => {{
                let client = $client;
                let (rg, n) = ($rg.clone(), $name.clone());
                let get = || client.get(rg.clone(), n.clone(), sub.clone()).into_future();
                let id = self.scope.id($rg, $kind, $name);
                let sent = client.delete(rg.clone(), n.clone(), sub.clone()).send();
                self.delete(id, $etag.as_deref(), sent, get).await?;
            }};
        }
        match op {
            Op::PutPublicIp(p) => put_by_name!(
                p,
                "publicIPAddresses",
                public_ip_addresses_client,
                models::PublicIpAddress,
                arm_json::public_ip_body,
                arm_json::public_ip,
                Applied::PublicIp
            ),
            Op::PutLoadBalancer(lb) => {
                let id = self.scope.id(&lb.resource_group, "loadBalancers", &lb.name);
                let body = arm_json::load_balancer_body(lb, &id, self.base(&id, &lb.etag).as_ref());
                let v = self
                    .put(id, body, |m: models::LoadBalancer| {
                        net.load_balancers_client()
                            .create_or_update(lb.resource_group.clone(), lb.name.clone(), m, sub)
                            .into_future()
                    })
                    .await?;
                Ok(Applied::LoadBalancer(arm_json::load_balancer(
                    &v,
                    &lb.resource_group,
                )))
            }
            Op::PutSecurityGroup(nsg) => put_by_name!(
                nsg,
                "networkSecurityGroups",
                network_security_groups_client,
                models::NetworkSecurityGroup,
                arm_json::security_group_body,
                arm_json::security_group,
                Applied::SecurityGroup
            ),
            Op::PutRouteTable(rt) => put_by_name!(
                rt,
                "routeTables",
                route_tables_client,
                models::RouteTable,
                arm_json::route_table_body,
                arm_json::route_table,
                Applied::RouteTable
            ),
            Op::PutNatGateway(g) => put_by_name!(
                g,
                "natGateways",
                nat_gateways_client,
                models::NatGateway,
                arm_json::nat_gateway_body,
                arm_json::nat_gateway,
                Applied::NatGateway
            ),
            Op::PutSubnet(subnet) => {
                let Some(((rg, vnet), name)) = arm_json::subnet_path(&subnet.id) else {
                    return Err(AzureError::Invalid(Fault::local("not a subnet id")).on(&subnet.id));
                };
                let Some(observed) = self.recall(&subnet.id) else {
                    return Err(AzureError::Precondition(Fault::local(
                        "the subnet was not read before this write",
                    ))
                    .on(&subnet.id));
                };
                let body = arm_json::subnet_body(subnet, &observed);
                let v = self
                    .put(subnet.id.clone(), body, |m: models::Subnet| {
                        net.subnets_client()
                            .create_or_update(rg, vnet, name, m, sub)
                            .into_future()
                    })
                    .await?;
                Ok(Applied::Subnet(arm_json::subnet(&v, &subnet.id)))
            }
            Op::PutPrivateLinkService(pls) => put_by_name!(
                pls,
                "privateLinkServices",
                private_link_services_client,
                models::PrivateLinkService,
                arm_json::private_link_service_body,
                arm_json::private_link_service,
                Applied::PrivateLinkService
            ),
            Op::DeletePrivateLinkService {
                resource_group,
                name,
                etag,
            } => {
                delete_by_name!(
                    net.private_link_services_client(),
                    "privateLinkServices",
                    resource_group,
                    name,
                    etag
                );
                Ok(Applied::DeletedPrivateLinkService {
                    resource_group: resource_group.clone(),
                    name: name.clone(),
                })
            }
            Op::DeleteNatGateway {
                resource_group,
                name,
                etag,
            } => {
                delete_by_name!(
                    net.nat_gateways_client(),
                    "natGateways",
                    resource_group,
                    name,
                    etag
                );
                Ok(Applied::DeletedNatGateway {
                    resource_group: resource_group.clone(),
                    name: name.clone(),
                })
            }
            Op::DeleteLoadBalancer {
                resource_group,
                name,
                etag,
            } => {
                delete_by_name!(
                    net.load_balancers_client(),
                    "loadBalancers",
                    resource_group,
                    name,
                    etag
                );
                Ok(Applied::DeletedLoadBalancer { name: name.clone() })
            }
            Op::DeletePublicIp {
                resource_group,
                name,
                etag,
            } => {
                delete_by_name!(
                    net.public_ip_addresses_client(),
                    "publicIPAddresses",
                    resource_group,
                    name,
                    etag
                );
                Ok(Applied::DeletedPublicIp {
                    resource_group: resource_group.clone(),
                    name: name.clone(),
                })
            }
        }
    }
}

/// Build the credential: workload identity or client secret from the environment
/// (`AZURE_FEDERATED_TOKEN_FILE` / `AZURE_CLIENT_SECRET`, with `AZURE_TENANT_ID` and
/// `AZURE_CLIENT_ID`), then managed identity, then the Azure CLI; tokens come from
/// `authority_host` when given.
pub fn default_credential(
    authority_host: Option<&str>,
) -> Result<Arc<dyn TokenCredential>, AzureError> {
    let mut options = azure_identity::TokenCredentialOptions::default();
    if let Some(host) = authority_host {
        options.set_authority_host(host.to_string());
    }
    let credential = azure_identity::DefaultAzureCredentialBuilder::new()
        .with_options(options)
        .build()
        .map_err(|e| AzureError::Forbidden(Fault::local(format!("no Azure credential: {e}"))))?;
    Ok(Arc::new(credential))
}
