//! The HTTP endpoints: `/metrics` (Prometheus text), `/healthz` and `/readyz`.
//!
//! Readiness is not leadership: a replica is Ready once its caches are filled, whether it
//! leads or stands by, and whether or not the AksNetwork it manages exists yet. The body says
//! which (`role: leader`, `network: ... not found`), so a person reading it knows what the
//! operator waits for.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// What `/readyz` reports, updated by the parts that know it.
#[derive(Debug, Default)]
pub struct Health {
    synced: AtomicBool,
    role: Mutex<String>,
    network: Mutex<String>,
}

impl Health {
    /// Nothing known yet: not Ready.
    pub fn new(role: &str) -> Self {
        Self {
            role: Mutex::new(role.to_string()),
            ..Self::default()
        }
    }

    /// The caches are filled: Ready.
    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::Release);
    }

    /// `leader`, `standby` or `single`.
    pub fn set_role(&self, role: &str) {
        if let Ok(mut r) = self.role.lock() {
            *r = role.to_string();
        }
    }

    /// What is known of the managed AksNetwork, in a few words.
    pub fn set_network(&self, line: String) {
        if let Ok(mut n) = self.network.lock() {
            *n = line;
        }
    }

    /// The status code and body of `/readyz`.
    pub fn report(&self) -> (StatusCode, String) {
        let read = |m: &Mutex<String>| m.lock().map(|s| s.clone()).unwrap_or_default();
        let synced = self.synced.load(Ordering::Acquire);
        let mut body = String::from(if synced {
            "ok\n"
        } else {
            "caches not synced\n"
        });
        body.push_str(&format!("role: {}\n", read(&self.role)));
        let network = read(&self.network);
        if !network.is_empty() {
            body.push_str(&format!("network: {network}\n"));
        }
        let code = if synced {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (code, body)
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    health: Arc<Health>,
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &s.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    s.health.report()
}

/// Serve until `shutdown` turns true; `/readyz` answers from `health`.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    health: Arc<Health>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(AppState { registry, health });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synced_standby_is_ready_and_says_what_it_waits_for() {
        let h = Health::new("standby");
        assert_eq!(h.report().0, StatusCode::SERVICE_UNAVAILABLE);
        h.set_synced();
        h.set_network("default not found: waiting for it".into());
        let (code, body) = h.report();
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            body,
            "ok\nrole: standby\nnetwork: default not found: waiting for it\n"
        );
    }
}
