//! azure-mock: an Azurite-style Azure Resource Manager server for Microsoft.Network resources.
//!
//! It speaks ARM's protocol for resource groups, virtual networks and subnets, public IP
//! addresses and prefixes, NAT gateways, Private Link Services, load balancers (and their
//! children), network security groups (and rules) and route tables (and routes): full-replace
//! PUT, long-running operations, ETags, referential integrity, limits, throttling, bearer
//! tokens from its own token endpoint, and an admin API under `/_mock/`; plus the discovery
//! calls clients make first (cloud metadata, provider reads) and a read-only
//! Microsoft.Compute. Azure SDKs cannot tell it from Azure for these resources.
//! See the crate README for the protocol details and the admin API.

pub mod admin;
pub mod api_version;
pub mod arm;
pub mod auth;
pub mod compute;
pub mod config;
pub mod discovery;
pub mod error;
pub mod generic;
pub mod ids;
pub mod json;
pub mod kinds;
pub mod normalize;
pub mod schema;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod usages;

pub use config::{Config, Limits, default_public_ipv4_pools};
pub use server::{MockServer, ServeError, Tls};

/// The current time in RFC 3339, as ARM writes timestamps.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
