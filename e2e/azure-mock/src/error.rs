//! ARM's error responses: `{"error": {"code", "message", "details"}}` with an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error as Azure Resource Manager reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ArmError {
    /// HTTP status.
    pub status: StatusCode,
    /// ARM error code, e.g. `ResourceNotFound`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ArmError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `ResourceNotFound` for a resource id.
    pub fn not_found(kind: &str, name: &str, resource_group: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{kind}/{name}' under resource group '{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    /// 404 `ResourceGroupNotFound`.
    pub fn resource_group_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{name}' could not be found."),
        )
    }

    /// 400 `InvalidResourceReference`: `from` references `target`, which does not exist.
    pub fn missing_reference(target: &str, from: &str) -> Self {
        Self::bad_request(
            "InvalidResourceReference",
            format!(
                "Resource {target} referenced by resource {from} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
            ),
        )
    }

    /// 400 `InvalidRequestFormat` naming a property.
    pub fn invalid_property(path: &str, why: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "InvalidRequestFormat",
            format!("Cannot parse the request. Property '{path}' {why}."),
        )
    }

    /// The JSON body ARM sends.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message, "details": []}})
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Result of an ARM operation.
pub type ArmResult<T> = Result<T, ArmError>;
