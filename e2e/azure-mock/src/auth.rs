//! The token endpoint (as Microsoft Entra ID serves it) and the bearer-token check on ARM calls.
//!
//! Azure identity libraries work unchanged when their authority host points here: the Rust
//! client-secret and workload-identity credentials post to `/{tenant}/oauth2/v2.0/token`;
//! MSAL-based SDKs (Python, Go) first read the OpenID configuration and instance discovery.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use crate::error::ArmError;
use crate::server::{Base, base_url};
use crate::state::Shared;

/// Seconds an issued token lives.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The OAuth 2.0 token request fields the mock reads.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/token`: client-credentials grants with a secret or a federated
/// assertion (workload identity) get a bearer token for ARM.
pub async fn token(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    Form(req): Form<TokenRequest>,
) -> Response {
    let oauth_error = |error: &str, description: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": error, "error_description": description, "error_codes": [7000215]}),
            ),
        )
            .into_response()
    };
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            "unsupported_grant_type",
            format!(
                "AADSTS70003: grant type {:?} is not supported",
                req.grant_type
            ),
        );
    }
    if req.client_id.as_deref().is_none_or(str::is_empty) {
        return oauth_error(
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'."
                .into(),
        );
    }
    if req.client_secret.as_deref().is_none_or(str::is_empty)
        && req.client_assertion.as_deref().is_none_or(str::is_empty)
    {
        return oauth_error("invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.".into());
    }
    let token = format!("mock.{}.{}", tenant, uuid::Uuid::new_v4().simple());
    {
        let mut s = state.lock();
        s.data.tokens.insert(token.clone());
        s.data
            .callers
            .insert(token.clone(), req.client_id.clone().unwrap_or_default());
        s.persist();
    }
    tracing::debug!(tenant, scope = ?req.scope, "issued token");
    Json(json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
        "access_token": token,
    }))
    .into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    Path(tenant): Path<String>,
    Base(base): Base,
) -> Json<serde_json::Value> {
    Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "azure-mock",
    }))
}

/// `GET /common/discovery/instance`: MSAL's instance discovery, answering that this host is a
/// known authority.
pub async fn instance_discovery(headers: HeaderMap) -> Json<serde_json::Value> {
    let base = base_url(&headers);
    let host = base.split("://").nth(1).unwrap_or_default().to_string();
    Json(json!({
        "tenant_discovery_endpoint": format!("{base}/common/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
}

/// Checks the bearer token of an ARM request.
pub fn check(state: &Shared, headers: &HeaderMap) -> Result<(), ArmError> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(ArmError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let token = value.strip_prefix("Bearer ").unwrap_or_default();
    if state.lock().data.tokens.contains(token) {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ))
    }
}
