//! How the mock behaves: limits, throttling budget, long-running operation timing, paging.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Azure's documented networking limits (configurable, so tests can hit them cheaply): on
/// the command line, and at run time through `/_mock/limits`, where a limit left out of a
/// body keeps Azure's value (`PUT`) or its current one (`PATCH`), and an unknown one is
/// refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, clap::Args)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Limits {
    /// Routes per route table (Azure: 400).
    #[arg(long, default_value_t = Limits::AZURE.routes_per_table)]
    pub routes_per_table: usize,
    /// Security rules per NSG (Azure: 1,000).
    #[arg(long, default_value_t = Limits::AZURE.rules_per_nsg)]
    pub rules_per_nsg: usize,
    /// Load-balancing plus inbound NAT rules per load balancer (Azure: 1,500).
    #[arg(long, default_value_t = Limits::AZURE.rules_per_load_balancer)]
    pub rules_per_load_balancer: usize,
    /// Frontend IP configurations per load balancer (Azure: 600).
    #[arg(long, default_value_t = Limits::AZURE.frontends_per_load_balancer)]
    pub frontends_per_load_balancer: usize,
    /// Health probes per load balancer (Azure: 1,000).
    #[arg(long, default_value_t = Limits::AZURE.probes_per_load_balancer)]
    pub probes_per_load_balancer: usize,
    /// Public IP addresses per subscription and region (Azure default quota: 1,000), also
    /// served as the `PublicIPAddresses` usage.
    #[arg(long, default_value_t = Limits::AZURE.public_ips_per_subscription)]
    pub public_ips_per_subscription: usize,
    /// Source or destination address prefixes, or source or destination port ranges, summed
    /// over the rules of one NSG, each kind on its own (Azure: 4,000).
    #[arg(long, default_value_t = Limits::AZURE.addresses_or_ports_per_nsg)]
    pub addresses_or_ports_per_nsg: usize,
}

impl Limits {
    /// Azure's values.
    pub const AZURE: Limits = Limits {
        routes_per_table: 400,
        rules_per_nsg: 1000,
        rules_per_load_balancer: 1500,
        frontends_per_load_balancer: 600,
        probes_per_load_balancer: 1000,
        public_ips_per_subscription: 1000,
        addresses_or_ports_per_nsg: 4000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::AZURE
    }
}

/// The mock's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a long-running operation stays InProgress.
    pub operation_duration: Duration,
    /// Limits refused with ARM's errors.
    pub limits: Limits,
    /// Reads allowed per subscription per throttle window.
    pub read_budget: u64,
    /// Writes allowed per subscription per throttle window.
    pub write_budget: u64,
    /// The throttle window.
    pub throttle_window: Duration,
    /// Items per page of a list; more come through `nextLink`.
    pub page_size: usize,
    /// Where state is persisted; in memory only when `None`.
    pub data_dir: Option<PathBuf>,
    /// Where public IPv4 addresses come from, in order (documentation and benchmarking
    /// ranges by default: never routable).
    pub public_ipv4_pools: Vec<Ipv4Net>,
}

/// The default public IPv4 pools: TEST-NET-3 and TEST-NET-1 (RFC 5737), then the
/// benchmarking range 198.18.0.0/15 (RFC 2544), about 131,000 addresses in all.
pub fn default_public_ipv4_pools() -> Vec<Ipv4Net> {
    [
        Ipv4Net::new(Ipv4Addr::new(203, 0, 113, 0), 24),
        Ipv4Net::new(Ipv4Addr::new(192, 0, 2, 0), 24),
        Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 15),
    ]
    .into_iter()
    .flatten()
    .collect()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            operation_duration: Duration::ZERO,
            limits: Limits::default(),
            read_budget: 12_000,
            write_budget: 1_200,
            throttle_window: Duration::from_secs(3600),
            page_size: 100,
            data_dir: None,
            public_ipv4_pools: default_public_ipv4_pools(),
        }
    }
}
