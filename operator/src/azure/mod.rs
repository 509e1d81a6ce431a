//! The Azure port: read what the plan needs and carry out the diff's operations, through the
//! azure_mgmt_network SDK.

pub mod arm_json;
mod client;
pub mod transport;

use std::time::Duration;

use crate::diff::Op;
use crate::model::Observed;

pub use client::{AzureClient, Settings, default_credential};

/// What to read from Azure for one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObserveRequest {
    /// The cluster resource group (load balancers, NSG, route table, public IPs).
    pub resource_group: String,
    /// More resource groups whose public IPs Services name.
    pub public_ip_groups: Vec<String>,
    /// Load balancer names.
    pub load_balancers: Vec<String>,
    /// NSG name, if managed.
    pub security_group: Option<String>,
    /// Route table name, if managed.
    pub route_table: Option<String>,
}

/// Why an Azure call failed, in the terms the controller acts on.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// 429: wait `retry_after` (or back off) and try again.
    #[error("throttled by ARM{}: {message}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Throttled {
        /// From `Retry-After`, when given.
        retry_after: Option<Duration>,
        /// ARM's message.
        message: String,
    },
    /// 412: someone else changed the resource; re-read and re-plan.
    #[error("precondition failed (the resource changed since it was read): {0}")]
    Precondition(String),
    /// 409 or another operation in progress.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// A resource still in use (e.g. a public IP referenced by a frontend).
    #[error("in use: {0}")]
    InUse(String),
    /// A limit or quota (terminal until the spec or the quota changes).
    #[error("Azure limit or quota: {0}")]
    Limit(String),
    /// 401/403 (terminal until permissions change).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400: ARM refused the request body.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// 5xx, I/O, timeouts: retry with back-off.
    #[error("transient: {0}")]
    Transient(String),
}

impl AzureError {
    /// Terminal errors need a change by a person (spec, quota, permissions): the AksNetwork is
    /// `Stalled`. The others are retried.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            AzureError::Limit(_) | AzureError::Forbidden(_) | AzureError::Invalid(_)
        )
    }

    /// CamelCase reason for conditions and Events.
    pub fn reason(&self) -> &'static str {
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
                message,
            } => AzureError::Throttled {
                retry_after: wait,
                message,
            },
            other => other,
        }
    }

    /// Classify an SDK error.
    pub fn from_sdk(err: &azure_core::Error) -> Self {
        let message = err.to_string();
        match err.kind() {
            azure_core::error::ErrorKind::HttpResponse { status, error_code } => {
                let code = error_code.clone().unwrap_or_default();
                let text = format!("{code}: {message}");
                match u16::from(*status) {
                    429 => AzureError::Throttled {
                        retry_after: None,
                        message: text,
                    },
                    412 => AzureError::Precondition(text),
                    409 => AzureError::Conflict(text),
                    404 => AzureError::NotFound(text),
                    401 | 403 => AzureError::Forbidden(text),
                    400 if code.contains("InUse") || code.contains("CannotBeDeleted") => {
                        AzureError::InUse(text)
                    }
                    400 if code.contains("Limit") || code.contains("Quota") => {
                        AzureError::Limit(text)
                    }
                    400..=499 => AzureError::Invalid(text),
                    _ => AzureError::Transient(text),
                }
            }
            _ => AzureError::Transient(message),
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

    /// Carry out one operation, waiting for a long-running one to finish.
    fn apply(&self, op: &Op) -> impl std::future::Future<Output = Result<(), AzureError>> + Send;
}
