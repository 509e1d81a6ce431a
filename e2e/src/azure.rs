//! azure-mock for end-to-end tests: a server on a free port, an ARM client with a token from
//! the mock's own endpoint, seeding of a cluster's Azure network, and the admin API.

use std::net::SocketAddr;

use azure_mock::{Config, MockServer};
use serde_json::{Value, json};

/// Tenant, client id and secret the tests authenticate with (any value works with the mock).
pub const TENANT: &str = "tenant-e2e";
/// Client id.
pub const CLIENT_ID: &str = "aksnet-e2e";
/// Client secret.
pub const CLIENT_SECRET: &str = "secret-e2e";

/// Errors of the mock helpers.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The mock did not start.
    #[error("azure-mock: {0}")]
    Start(String),
    /// An HTTP call failed.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// ARM answered with an unexpected status.
    #[error("{method} {path}: {status} {body}")]
    Status {
        /// Verb.
        method: String,
        /// Path.
        path: String,
        /// Status.
        status: u16,
        /// Body.
        body: Value,
    },
}

/// Names of a cluster's Azure network to create in the mock.
#[derive(Clone, Copy, Debug)]
pub struct Seed<'a> {
    /// Subscription id.
    pub subscription: &'a str,
    /// Node resource group.
    pub resource_group: &'a str,
    /// Virtual network.
    pub vnet: &'a str,
    /// Node subnet.
    pub subnet: &'a str,
    /// NSG.
    pub security_group: &'a str,
    /// Route table.
    pub route_table: &'a str,
}

/// One write of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalWrite {
    /// Its place in the journal (every request counts).
    pub index: usize,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The client id whose token it carried.
    pub caller: String,
    /// The HTTP status the mock answered.
    pub status: u16,
}

/// A running azure-mock.
pub struct MockAzure {
    server: MockServer,
    http: reqwest::Client,
}

impl MockAzure {
    /// Start a mock on 127.0.0.1 with `config`.
    pub async fn start(config: Config) -> Result<Self, MockError> {
        let addr: SocketAddr = "127.0.0.1:0"
            .parse()
            .map_err(|e| MockError::Start(format!("{e}")))?;
        let server = MockServer::start(addr, config, None)
            .await
            .map_err(|e| MockError::Start(e.to_string()))?;
        Ok(Self {
            server,
            http: reqwest::Client::new(),
        })
    }

    /// The base URL (ARM endpoint and authority host).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A bearer token from the mock's token endpoint.
    pub async fn token(&self) -> Result<String, MockError> {
        let resp = self
            .http
            .post(format!("{}/{TENANT}/oauth2/v2.0/token", self.url()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
            .await?;
        let body: Value = resp.json().await?;
        Ok(body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// An ARM request; fails unless the status is 2xx.
    pub async fn arm(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, MockError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version=2024-03-01", self.url());
        let method_v: reqwest::Method = method
            .parse()
            .map_err(|_| MockError::Start(format!("bad verb {method}")))?;
        let mut req = self
            .http
            .request(method_v, url)
            .bearer_auth(self.token().await?);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(MockError::Status {
                method: method.into(),
                path: path.into(),
                status,
                body,
            });
        }
        Ok(body)
    }

    /// Create a resource group, a VNet with a subnet, an NSG with a rule of someone else's
    /// (`allow-bastion`, priority 500) and a route table with a route of someone else's
    /// (`to-onprem`): the Azure side of a cluster before aksnet runs.
    pub async fn seed(&self, seed: &Seed<'_>) -> Result<(), MockError> {
        let base = format!(
            "/subscriptions/{}/resourceGroups/{}",
            seed.subscription, seed.resource_group
        );
        self.arm("PUT", &base, Some(json!({"location": "westeurope"})))
            .await?;
        let net = format!("{base}/providers/Microsoft.Network");
        self.arm(
            "PUT",
            &format!("{net}/virtualNetworks/{}", seed.vnet),
            Some(json!({"location": "westeurope", "properties": {
                "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
                "subnets": [{"name": seed.subnet, "properties": {"addressPrefix": "10.224.0.0/16"}}]
            }})),
        )
        .await?;
        self.arm(
            "PUT",
            &format!("{net}/networkSecurityGroups/{}", seed.security_group),
            Some(json!({"location": "westeurope", "properties": {"securityRules": [
                {"name": "allow-bastion", "properties": {"priority": 500, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
                 "sourceAddressPrefix": "10.1.0.0/16", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}
            ]}})),
        )
        .await?;
        self.arm(
            "PUT",
            &format!("{net}/routeTables/{}", seed.route_table),
            Some(json!({"location": "westeurope", "properties": {"routes": [
                {"name": "to-onprem", "properties": {"addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualNetworkGateway"}}
            ]}})),
        )
        .await?;
        Ok(())
    }

    /// [`MockAzure::seed`] with the names the tests use (`aks-vnet`/`aks-subnet`, `aks-nsg`,
    /// `aks-rt`).
    pub async fn seed_cluster(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<(), MockError> {
        self.seed(&Seed {
            subscription,
            resource_group,
            vnet: "aks-vnet",
            subnet: "aks-subnet",
            security_group: "aks-nsg",
            route_table: "aks-rt",
        })
        .await
    }

    /// A resource's stored JSON (through ARM).
    pub async fn get(&self, id: &str) -> Result<Value, MockError> {
        self.arm("GET", id, None).await
    }

    async fn journal(&self) -> Result<Value, MockError> {
        Ok(self
            .http
            .get(format!("{}/_mock/journal", self.url()))
            .send()
            .await?
            .json()
            .await?)
    }

    /// The writes (PUT, PATCH, DELETE, POST) in the journal since it was last cleared, as
    /// `(method, path)`; token requests are not writes.
    pub async fn write_entries(&self) -> Result<Vec<(String, String)>, MockError> {
        Ok(self
            .writes_by_caller()
            .await?
            .into_iter()
            .map(|w| (w.method, w.path))
            .collect())
    }

    /// The writes in the journal since it was last cleared, in order, with who sent each.
    pub async fn writes_by_caller(&self) -> Result<Vec<JournalWrite>, MockError> {
        let journal = self.journal().await?;
        Ok(journal["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(index, e)| {
                let method = e["method"].as_str()?;
                let path = e["path"].as_str()?;
                let write = !matches!(method, "GET" | "HEAD") && !path.contains("/oauth2/");
                write.then(|| JournalWrite {
                    index,
                    method: method.to_string(),
                    path: path.to_string(),
                    caller: e["caller"].as_str().unwrap_or_default().to_string(),
                    status: e["status"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(0),
                })
            })
            .collect())
    }

    /// How many requests the journal holds (its next entry's index).
    pub async fn journal_len(&self) -> Result<usize, MockError> {
        Ok(self.journal().await?["entries"]
            .as_array()
            .map_or(0, Vec::len))
    }

    /// Writes (PUT, PATCH, DELETE, POST) in the journal since it was last cleared.
    pub async fn writes(&self) -> Result<u64, MockError> {
        Ok(self.journal().await?["writes"].as_u64().unwrap_or(0))
    }

    /// Body properties that Azure would have ignored (unknown to the api-version's
    /// definitions), one `METHOD path: [properties]` line per request since the journal was
    /// last cleared.
    pub async fn ignored_properties(&self) -> Result<Vec<String>, MockError> {
        Ok(azure_mock::admin::ignored_property_lines(
            &self.journal().await?,
        ))
    }

    /// The access tokens the mock's token endpoint issued.
    pub async fn issued_tokens(&self) -> Result<Vec<String>, MockError> {
        let body: Value = self
            .http
            .get(format!("{}/_mock/tokens", self.url()))
            .send()
            .await?
            .json()
            .await?;
        Ok(body["tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect())
    }

    /// Clear the journal.
    pub async fn clear_journal(&self) -> Result<(), MockError> {
        self.http
            .delete(format!("{}/_mock/journal", self.url()))
            .send()
            .await?;
        Ok(())
    }

    /// Delete a resource or child behind aksnet's back (another writer).
    pub async fn remove_out_of_band(&self, id: &str) -> Result<(), MockError> {
        self.http
            .delete(format!("{}/_mock/resources{id}", self.url()))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Replace a resource or child behind aksnet's back (another writer; no checks).
    pub async fn edit_out_of_band(&self, id: &str, body: &Value) -> Result<(), MockError> {
        self.http
            .put(format!("{}/_mock/resources{id}", self.url()))
            .json(body)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Inject faults (the admin API's `Faults`, e.g. `{"throttleNext": 2}`).
    pub async fn set_faults(&self, faults: &Value) -> Result<(), MockError> {
        self.http
            .put(format!("{}/_mock/faults", self.url()))
            .json(faults)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Change the limits Azure enforces, at run time.
    pub async fn set_limits(&self, limits: &azure_mock::Limits) -> Result<(), MockError> {
        self.http
            .put(format!("{}/_mock/limits", self.url()))
            .json(limits)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Stop the server.
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
