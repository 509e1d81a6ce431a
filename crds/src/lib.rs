//! aksnet's custom resources: the [`AksNetwork`] type, the IP-plan arithmetic ([`ipplan`]) and the
//! Rust copy of the schema's validation ([`validate`]).

pub mod aksnetwork;
pub mod crdgen;
pub mod ipplan;
pub mod rules;
pub mod validate;

pub use aksnetwork::*;

/// The API group of aksnet's resources.
pub const API_GROUP: &str = "aksnet.io";
