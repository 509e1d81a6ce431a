//! Shared set-up of the conformance tests: a mock on a free port, an azure_identity
//! client-secret credential pointed at its token endpoint, the azure_mgmt_network client, and
//! a raw HTTP client for what the SDK does not expose (headers, statuses, the admin API).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use azure_core::auth::TokenCredential;
use azure_identity::ClientSecretCredential;
use azure_mock::{Config, MockServer};
use serde_json::{Value, json};

/// The subscription the tests use.
pub const SUB: &str = "00000000-0000-0000-0000-0000000000aa";
/// The resource group the tests use.
pub const RG: &str = "rg-conformance";

/// A running mock with clients.
pub struct Env {
    /// The server.
    pub server: MockServer,
    /// The SDK client.
    pub net: azure_mgmt_network::package_2024_03::Client,
    /// The credential, for raw requests.
    pub credential: Arc<dyn TokenCredential>,
    /// A plain HTTP client.
    pub http: reqwest::Client,
}

impl Env {
    /// Starts a mock with `config` and creates the test resource group.
    pub async fn start(config: Config) -> Env {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let server = MockServer::start(addr, config, None)
            .await
            .expect("start mock");
        let url = azure_core::Url::parse(&server.url()).expect("url");
        let credential: Arc<dyn TokenCredential> = Arc::new(ClientSecretCredential::new(
            azure_core::new_http_client(),
            url.clone(),
            "tenant-1".into(),
            "client-1".into(),
            "secret-1".into(),
        ));
        let net = azure_mgmt_network::package_2024_03::ClientBuilder::new(credential.clone())
            .endpoint(url)
            .build()
            .expect("client");
        let env = Env {
            server,
            net,
            credential,
            http: reqwest::Client::new(),
        };
        let (status, _) = env
            .arm(
                "PUT",
                &format!("/subscriptions/{SUB}/resourceGroups/{RG}?api-version=2024-03-01"),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(status, 201, "resource group created");
        env
    }

    /// A bearer token from the mock's token endpoint, through azure_identity.
    pub async fn token(&self) -> String {
        self.credential
            .get_token(&["https://management.azure.com/.default"])
            .await
            .expect("token")
            .token
            .secret()
            .to_string()
    }

    /// Starts a mock with these limits (the rest default).
    pub async fn with_limits(limits: azure_mock::Limits) -> Env {
        Env::start(Config {
            limits,
            ..Config::default()
        })
        .await
    }

    /// A raw ARM request with the bearer token; returns status and JSON body (Null when empty).
    pub async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, body) = self.arm_full(method, path, body, &[]).await;
        (status, body)
    }

    /// A raw ARM request with extra headers; returns status, headers and body.
    pub async fn arm_full(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = format!("{}{path}", self.server.url());
        let mut req = self
            .http
            .request(method.parse().expect("method"), url)
            .bearer_auth(self.token().await);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json body")
        };
        (status, headers, body)
    }

    /// A call to the admin API.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(
            method.parse().expect("method"),
            format!("{}/_mock{path}", self.server.url()),
        );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin request");
        assert!(
            resp.status().is_success(),
            "admin {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    /// The ignored body properties the journal recorded, per request (`METHOD path: [..]`).
    pub async fn ignored_properties(&self) -> Vec<String> {
        azure_mock::admin::ignored_property_lines(&self.admin("GET", "/journal", None).await)
    }

    /// Asserts that no request so far sent a property Azure would ignore.
    pub async fn assert_nothing_ignored(&self) {
        let ignored = self.ignored_properties().await;
        assert!(ignored.is_empty(), "ignored properties: {ignored:?}");
    }

    /// The id of a resource in the test resource group.
    pub fn id(&self, kind: &str, name: &str) -> String {
        format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/{kind}/{name}"
        )
    }
}

/// The HTTP status and ARM error code of an SDK error.
pub fn error_code(err: &azure_core::Error) -> (u16, String) {
    match err.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, error_code } => {
            (u16::from(*status), error_code.clone().unwrap_or_default())
        }
        other => panic!("not an HTTP error: {other:?} ({err})"),
    }
}

/// Deserializes a model from JSON, as a caller would build one.
pub fn model<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("model")
}
