//! The `api-version` query parameter: required, and checked against the versions Azure serves.

use axum::http::StatusCode;

use crate::error::{ArmError, ArmResult};

/// Stable Microsoft.Network API versions (the folders of Azure/azure-rest-api-specs
/// `specification/network/resource-manager/Microsoft.Network/stable`). The Rust SDK 0.21 sends
/// 2024-03-01; current Python SDKs send 2026-03-01.
pub const NETWORK_VERSIONS: &[&str] = &[
    "2015-06-15",
    "2016-03-30",
    "2016-06-01",
    "2016-09-01",
    "2016-12-01",
    "2017-03-01",
    "2017-06-01",
    "2017-08-01",
    "2017-09-01",
    "2017-10-01",
    "2017-11-01",
    "2018-01-01",
    "2018-02-01",
    "2018-04-01",
    "2018-06-01",
    "2018-07-01",
    "2018-08-01",
    "2018-10-01",
    "2018-11-01",
    "2018-12-01",
    "2019-02-01",
    "2019-04-01",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-09-01",
    "2019-11-01",
    "2019-12-01",
    "2020-03-01",
    "2020-04-01",
    "2020-05-01",
    "2020-06-01",
    "2020-07-01",
    "2020-08-01",
    "2020-11-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-08-01",
    "2022-01-01",
    "2022-05-01",
    "2022-07-01",
    "2022-09-01",
    "2022-11-01",
    "2023-02-01",
    "2023-04-01",
    "2023-05-01",
    "2023-06-01",
    "2023-09-01",
    "2023-11-01",
    "2024-01-01",
    "2024-03-01",
    "2024-05-01",
    "2024-07-01",
    "2024-10-01",
    "2025-01-01",
    "2025-03-01",
    "2025-05-01",
    "2025-07-01",
    "2026-01-01",
    "2026-03-01",
];

/// Stable Microsoft.Resources API versions (resource groups).
pub const RESOURCES_VERSIONS: &[&str] = &[
    "2016-09-01",
    "2017-05-10",
    "2018-02-01",
    "2018-05-01",
    "2019-05-01",
    "2019-05-10",
    "2019-07-01",
    "2019-08-01",
    "2019-10-01",
    "2020-06-01",
    "2020-08-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-09-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
];

/// The first version in which a VNet PUT without `subnets` keeps the existing subnets.
pub const SUBNETS_KEPT_SINCE: &str = "2023-09-01";

/// Checks the request's api-version against a provider's versions and returns it.
pub fn check<'a>(
    version: Option<&'a str>,
    supported: &[&str],
    arm_type: &str,
) -> ArmResult<&'a str> {
    let Some(v) = version else {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if supported.contains(&v) {
        return Ok(v);
    }
    Err(ArmError::new(
        StatusCode::BAD_REQUEST,
        "NoRegisteredProviderFound",
        format!(
            "No registered resource provider found for location 'global' and API version '{v}' for type '{arm_type}'. The supported api-versions are '{}'.",
            supported.join(", ")
        ),
    ))
}
