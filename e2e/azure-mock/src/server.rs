//! The HTTP server: routes, the request journal, plain HTTP or TLS, and [`MockServer`], the
//! handle tests and the binary use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::config::Config;
use crate::state::{IgnoredProperties, JournalEntry, Shared};
use crate::store::{Data, StoreError};
use crate::{admin, arm, auth, discovery};

/// Failures of starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the port or serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// The persisted state could not be loaded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TLS certificate could not be made or loaded.
    #[error("TLS: {0}")]
    Tls(String),
}

/// The URL scheme the server answers on.
#[derive(Debug, Clone, Copy)]
struct Scheme(&'static str);

/// The scheme and authority clients reached us on, e.g. `https://127.0.0.1:8443`.
pub struct Base(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Base(base_url(&parts.headers)))
    }
}

/// `scheme://host` from the request's Host header (and the scheme the router was built with).
pub fn base_url(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-azure-mock-scheme")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("{scheme}://{host}")
}

/// The largest request body ARM takes.
pub const ARM_MAX_BODY: usize = 4 << 20;

/// The router over shared state.
pub fn router(state: Shared, tls: bool) -> Router {
    let scheme = Scheme(if tls { "https" } else { "http" });
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(auth::openid_configuration),
        )
        .route("/common/discovery/instance", get(auth::instance_discovery))
        .route("/metadata/endpoints", get(discovery::metadata_endpoints))
        .nest("/_mock", admin::router())
        .fallback(arm::handle)
        // ARM takes request bodies up to 4 MiB (axum's default is 2 MiB): a load balancer with
        // hundreds of frontends and rules is that large. The ARM handler refuses larger ones as
        // ARM does.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), journal))
        .layer(middleware::from_fn(move |mut req: Request, next: Next| {
            let value = axum::http::HeaderValue::from_static(scheme.0);
            req.headers_mut().insert("x-azure-mock-scheme", value);
            next.run(req)
        }))
        .with_state(state)
}

/// Records every request except the admin API's in the journal.
async fn journal(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let api_version = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("api-version="))
            .map(str::to_string)
    });
    let time = crate::now_rfc3339();
    let caller = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| state.lock().data.callers.get(token).cloned());
    let response = next.run(req).await;
    if !path.starts_with("/_mock") {
        let entry = JournalEntry {
            method,
            path,
            api_version,
            status: response.status().as_u16(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            time,
            caller,
            ignored_properties: response
                .extensions()
                .get::<IgnoredProperties>()
                .map(|i| i.0.clone())
                .unwrap_or_default(),
        };
        state.lock().journal.push(entry);
    }
    response
}

/// TLS settings: a certificate and key in PEM files, or one generated for 127.0.0.1/localhost.
#[derive(Debug, Clone)]
pub enum Tls {
    /// Use these PEM files.
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// Generate a self-signed certificate and write it (PEM) here, for clients to trust.
    SelfSigned {
        /// Where the certificate is written.
        cert_out: PathBuf,
    },
}

/// A running mock server; it stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    tls: bool,
    state: Shared,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Starts a server on `addr` (port 0 picks a free one). State is loaded from
    /// `config.data_dir` when set.
    pub async fn start(
        addr: SocketAddr,
        config: Config,
        tls: Option<Tls>,
    ) -> Result<Self, ServeError> {
        let data = match &config.data_dir {
            Some(dir) => Data::load(dir)?,
            None => Data::default(),
        };
        let state = Shared::new(data, config);
        let app = router(state.clone(), tls.is_some()).into_make_service();
        let handle = axum_server::Handle::new();
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let task = match &tls {
            None => {
                let server = axum_server::from_tcp(listener)?.handle(handle.clone());
                tokio::spawn(async move {
                    if let Err(err) = server.serve(app).await {
                        tracing::error!(%err, "azure-mock stopped");
                    }
                })
            }
            Some(tls) => {
                let config = crate::tls::rustls_config(tls).await?;
                let server = axum_server::from_tcp_rustls(listener, config)?.handle(handle.clone());
                tokio::spawn(async move {
                    if let Err(err) = server.serve(app).await {
                        tracing::error!(%err, "azure-mock stopped");
                    }
                })
            }
        };
        Ok(Self {
            addr: bound,
            tls: tls.is_some(),
            state,
            handle,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (or `https://`): the ARM endpoint and the authority host.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The shared state, for in-process inspection.
    pub fn state(&self) -> &Shared {
        &self.state
    }

    /// Stops accepting, lets requests in flight finish, and persists state.
    pub async fn shutdown(mut self) {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        let _ = (&mut self.task).await;
        self.state.lock().persist();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}
