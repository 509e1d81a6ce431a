//! The `azure-mock` binary: an ARM server for Microsoft.Network on 127.0.0.1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use azure_mock::{Config, Limits, MockServer, Tls};
use clap::Parser;

/// An Azurite-style Azure Resource Manager server for networking resources.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "AZURE_MOCK_ADDR", default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Persist state here so a restart keeps it; in memory only when unset.
    #[arg(long, env = "AZURE_MOCK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TLS certificate (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a generated certificate; its CA is written to this file for clients to trust.
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: Option<PathBuf>,
    /// How long long-running operations stay InProgress, in milliseconds.
    #[arg(long, default_value_t = 0)]
    operation_ms: u64,
    /// Reads per subscription per throttle window.
    #[arg(long, default_value_t = 12_000)]
    read_budget: u64,
    /// Writes per subscription per throttle window.
    #[arg(long, default_value_t = 1_200)]
    write_budget: u64,
    /// Throttle window in seconds.
    #[arg(long, default_value_t = 3600)]
    throttle_window_secs: u64,
    /// Items per page of list responses.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Azure's limits, refused with its error codes.
    #[command(flatten)]
    limits: Limits,
    /// Where public IPv4 addresses come from, in order (repeat the flag; default
    /// 203.0.113.0/24, 192.0.2.0/24, 198.18.0.0/15).
    #[arg(long = "public-ip-pool", value_name = "CIDR")]
    public_ip_pools: Vec<ipnet::Ipv4Net>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        operation_duration: Duration::from_millis(args.operation_ms),
        limits: args.limits,
        read_budget: args.read_budget,
        write_budget: args.write_budget,
        throttle_window: Duration::from_secs(args.throttle_window_secs),
        page_size: args.page_size,
        data_dir: args.data_dir,
        public_ipv4_pools: if args.public_ip_pools.is_empty() {
            azure_mock::default_public_ipv4_pools()
        } else {
            args.public_ip_pools
        },
    };
    let tls = match (args.tls_cert, args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(Tls::Files { cert, key }),
        (_, _, Some(cert_out)) => Some(Tls::SelfSigned { cert_out }),
        _ => None,
    };
    let server = match MockServer::start(args.addr, config, tls).await {
        Ok(s) => s,
        Err(err) => {
            eprintln!("azure-mock: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // One line on stdout that scripts wait for.
    println!("READY url={}", server.url());
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("azure-mock: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}
