//! The Azure port: read what the plan needs and carry out the diff's operations, through the
//! azure_mgmt_network SDK.

pub mod arm_json;
mod client;
pub mod transport;

use std::time::Duration;

use crate::diff::Op;
use crate::model::{Applied, Observed};

pub use client::{AzureClient, Settings, default_credential};
pub use transport::BudgetSettings;

/// What to read from Azure for one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObserveRequest {
    /// The cluster resource group (load balancers, NSG, route table, public IPs).
    pub resource_group: String,
    /// More resource groups whose public IPs Services name.
    pub public_ip_groups: Vec<String>,
    /// Load balancer names: each profile's; the ones it grew to (`<name>-<n>`) are read too.
    pub load_balancers: Vec<String>,
    /// NSG name, if managed.
    pub security_group: Option<String>,
    /// Route table name, if managed.
    pub route_table: Option<String>,
    /// The cluster VNet (resource group, name), whose subnets internal frontends use.
    pub vnet: Option<(String, String)>,
    /// The node subnet of that VNet, whose NAT gateway egress looks at.
    pub node_subnet: Option<String>,
    /// ARM ids of NAT gateways: the managed one and the one the spec names (which may be in
    /// another subscription).
    pub nat_gateways: Vec<String>,
    /// Resource groups whose Private Link Services to read: the cluster's and those Services
    /// name (`azure-pls-resource-group`).
    pub private_link_groups: Vec<String>,
    /// ARM ids of public IP prefixes Services name.
    pub ip_prefixes: Vec<String>,
    /// The region whose public IP quota and usage to read (`None`: not read).
    pub location: Option<String>,
}

/// What ARM said when it refused a request: its code, its message and the resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// ARM's error code (e.g. `DnsRecordInUse`); empty when the failure was not ARM's answer.
    pub code: String,
    /// ARM's message, or what went wrong on the way.
    pub message: String,
    /// The ARM id of the resource the request was about, when known.
    pub resource: String,
}

impl Fault {
    /// A fault that is not ARM's answer (I/O, a body that does not fit the model, ...).
    pub fn local(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code.is_empty(), self.resource.is_empty()) {
            (true, true) => write!(f, "{}", self.message),
            (true, false) => write!(f, "{} (resource {})", self.message, self.resource),
            (false, true) => write!(f, "{}: {}", self.code, self.message),
            (false, false) => write!(
                f,
                "{}: {} (resource {})",
                self.code, self.message, self.resource
            ),
        }
    }
}

/// Why an Azure call failed, in the terms the controller acts on.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// 429: wait `retry_after` (or back off) and try again.
    #[error("throttled by ARM{}: {fault}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Throttled {
        /// From `Retry-After`, when given.
        retry_after: Option<Duration>,
        /// ARM's answer.
        fault: Fault,
    },
    /// 412: someone else changed the resource; re-read and re-plan.
    #[error("precondition failed (the resource changed since it was read): {0}")]
    Precondition(Fault),
    /// 409 or another operation in progress.
    #[error("conflict: {0}")]
    Conflict(Fault),
    /// 404.
    #[error("not found: {0}")]
    NotFound(Fault),
    /// A resource still in use (e.g. a public IP referenced by a frontend).
    #[error("in use: {0}")]
    InUse(Fault),
    /// A limit or quota.
    #[error("Azure limit or quota: {0}")]
    Limit(Fault),
    /// 401/403 (needs a change of permissions).
    #[error("forbidden: {0}")]
    Forbidden(Fault),
    /// 400, or a long-running operation that failed: ARM refused the request.
    #[error("refused: {0}")]
    Invalid(Fault),
    /// 5xx, I/O, timeouts: retry with back-off.
    #[error("transient: {0}")]
    Transient(Fault),
}

/// The [`Fault`] of an [`AzureError`] (`&` or `&mut`, as the error is borrowed).
macro_rules! fault_of {
    ($error:expr) => {
        match $error {
            AzureError::Throttled { fault, .. }
            | AzureError::Precondition(fault)
            | AzureError::Conflict(fault)
            | AzureError::NotFound(fault)
            | AzureError::InUse(fault)
            | AzureError::Limit(fault)
            | AzureError::Forbidden(fault)
            | AzureError::Invalid(fault)
            | AzureError::Transient(fault) => fault,
        }
    };
}

impl AzureError {
    /// ARM's answer.
    pub fn fault(&self) -> &Fault {
        fault_of!(self)
    }

    /// This error, about the resource with ARM id `id` (kept when already known).
    pub fn on(mut self, id: &str) -> Self {
        let fault = fault_of!(&mut self);
        if fault.resource.is_empty() {
            fault.resource = id.to_string();
        }
        self
    }

    /// A refusal that only a change of the request can mend (ARM said no to what was asked,
    /// not to when it was asked): the Services the request carried are to blame.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            AzureError::Invalid(_) | AzureError::Limit(_) | AzureError::InUse(_)
        )
    }

    /// Problems of the network, not of one Service: permissions, a resource group, VNet or
    /// NSG that does not exist. The AksNetwork is `Stalled` until a person acts.
    pub fn is_network_level(&self) -> bool {
        match self {
            AzureError::Forbidden(_) => true,
            AzureError::NotFound(f) => f.code.eq_ignore_ascii_case("ResourceGroupNotFound"),
            _ => false,
        }
    }

    /// CamelCase reason for conditions and Events: ARM's code when it gave one.
    pub fn reason(&self) -> &str {
        let code = &self.fault().code;
        if !code.is_empty() {
            return code;
        }
        match self {
            AzureError::Throttled { .. } => "AzureThrottled",
            AzureError::Precondition(_) => "AzureConcurrentChange",
            AzureError::Conflict(_) => "AzureConflict",
            AzureError::NotFound(_) => "AzureNotFound",
            AzureError::InUse(_) => "AzureResourceInUse",
            AzureError::Limit(_) => "AzureQuotaOrLimit",
            AzureError::Forbidden(_) => "AzureForbidden",
            AzureError::Invalid(_) => "AzureInvalidRequest",
            AzureError::Transient(_) => "AzureUnavailable",
        }
    }

    /// This error with ARM's requested wait, when it is a throttle that does not carry one.
    pub fn with_retry_after(self, wait: Option<Duration>) -> Self {
        match self {
            AzureError::Throttled {
                retry_after: None,
                fault,
            } => AzureError::Throttled {
                retry_after: wait,
                fault,
            },
            other => other,
        }
    }

    /// Classify an ARM answer by HTTP status and error code.
    pub fn classify(status: u16, fault: Fault) -> Self {
        let code = fault.code.as_str();
        match status {
            429 => AzureError::Throttled {
                retry_after: None,
                fault,
            },
            412 => AzureError::Precondition(fault),
            409 => AzureError::Conflict(fault),
            404 => AzureError::NotFound(fault),
            401 | 403 => AzureError::Forbidden(fault),
            400 if code.contains("InUse") || code.contains("CannotBeDeleted") => {
                AzureError::InUse(fault)
            }
            400 if code.contains("Limit") || code.contains("Quota") => AzureError::Limit(fault),
            400..=499 => AzureError::Invalid(fault),
            _ => AzureError::Transient(fault),
        }
    }

    /// Classify an SDK error, with ARM's code and message from the response body.
    pub fn from_sdk(err: &azure_core::Error) -> Self {
        match err.kind() {
            azure_core::error::ErrorKind::HttpResponse { status, error_code } => {
                let http = err.as_http_error();
                let fault = Fault {
                    code: error_code
                        .clone()
                        .or_else(|| http.and_then(|h| h.error_code()).map(str::to_string))
                        .unwrap_or_default(),
                    message: http
                        .and_then(|h| h.error_message())
                        .map_or_else(|| err.to_string(), str::to_string),
                    resource: String::new(),
                };
                Self::classify(u16::from(*status), fault)
            }
            _ => AzureError::Transient(Fault::local(err.to_string())),
        }
    }

    /// A long-running operation that ended `Failed`, with the error its status carried.
    pub fn failed_operation(code: String, message: String) -> Self {
        let fault = Fault {
            code,
            message,
            resource: String::new(),
        };
        let c = fault.code.to_ascii_lowercase();
        if c.is_empty()
            || c.contains("internal")
            || c.contains("retryable")
            || c.contains("timeout")
        {
            AzureError::Transient(fault)
        } else {
            Self::classify(400, fault)
        }
    }
}

/// The operations aksnet needs from Azure.
pub trait AzurePort: Send + Sync {
    /// Read the resources the plan and diff look at.
    fn observe(
        &self,
        request: &ObserveRequest,
    ) -> impl std::future::Future<Output = Result<Observed, AzureError>> + Send;

    /// Carry out one operation, waiting for a long-running one to finish; answers with the
    /// resource as Azure holds it now.
    fn apply(
        &self,
        op: &Op,
    ) -> impl std::future::Future<Output = Result<Applied, AzureError>> + Send;
}
