//! The `aksnet-operator` binary.

use clap::Parser;

/// Makes an Azure network follow a Kubernetes cluster.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {}

fn main() -> std::process::ExitCode {
    let _args = Args::parse();
    eprintln!(
        "aksnet-operator: the controllers are not built yet (group {}, class {})",
        aksnet_operator::API_GROUP,
        aksnet_operator::DEFAULT_LOAD_BALANCER_CLASS
    );
    std::process::ExitCode::from(2)
}
