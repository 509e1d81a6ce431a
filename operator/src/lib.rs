//! The aksnet operator: the Azure adapter ([`azure`]), the apply engine that carries out a plan
//! ([`apply`]), and the controllers that wire them to Kubernetes ([`controller`]). The pure
//! planning core lives in the `aksnet-core` crate and is re-exported here.
//!
//! See `docs/architecture.md` for the design.

pub use aksnet_core::{annotations, blame, diff, memo, model, naming, plan, problem, simulate};

pub mod apply;
pub mod azure;
pub mod controller;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod presence;
pub mod process;
pub mod redact;
pub mod server;

/// The `loadBalancerClass` aksnet serves (Services without a class are served too).
pub const DEFAULT_LOAD_BALANCER_CLASS: &str = "aksnet.io/azure";

/// The API group of the resources the operator reads, re-exported for the binary.
pub use aksnet_crds::API_GROUP;

/// Helpers of the crate's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    /// A log writer into a shared buffer.
    #[derive(Clone, Default)]
    pub struct Buffer(pub Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        /// What was written, as text.
        pub fn text(&self) -> String {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
