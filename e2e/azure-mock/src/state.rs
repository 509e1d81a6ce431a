//! Shared server state: the stored resources plus what lives only in memory (operations,
//! provisioning windows, journal, faults, throttle counters).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::ArmError;
use crate::store::Data;

/// A long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// When it stops being InProgress.
    pub done_at: Instant,
    /// The error it ends with, or `None` for Succeeded.
    pub failure: Option<ArmError>,
    /// The resource a PUT wrote (GET on `operationResults` returns it); `None` for deletes.
    pub resource_id: Option<String>,
    /// When it started (RFC 3339).
    pub start_time: String,
}

/// One handled request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The api-version sent, if any.
    pub api_version: Option<String>,
    /// Response status.
    pub status: u16,
    /// Milliseconds spent.
    pub duration_ms: u64,
    /// When it arrived (RFC 3339).
    pub time: String,
    /// The client id its bearer token was issued to (as Azure's activity log names the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Body properties Azure would have ignored (unknown to the api-version's definitions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_properties: Vec<String>,
}

/// The body properties a write ignored, carried from the handler to the journal as a response
/// extension.
#[derive(Debug, Clone)]
pub struct IgnoredProperties(pub Vec<String>);

/// Faults the admin API injects into the next requests (an unknown field is refused, so a
/// misspelt fault is never silently not injected).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// Milliseconds added to every ARM request.
    #[serde(default)]
    pub latency_ms: u64,
    /// The next N ARM requests get 429 with Retry-After.
    #[serde(default)]
    pub throttle_next: u32,
    /// Every ARM request is throttled with this probability (0.0-1.0).
    #[serde(default)]
    pub throttle_rate: f64,
    /// The next N ARM requests fail with `error_status`.
    #[serde(default)]
    pub error_next: u32,
    /// Status of injected errors (5xx); 500 by default.
    #[serde(default)]
    pub error_status: Option<u16>,
    /// The next N long-running operations end Failed.
    #[serde(default)]
    pub fail_next_operations: u32,
    /// Seconds sent in Retry-After for injected 429s (default 1).
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
}

impl Faults {
    /// Why these faults cannot be injected, naming the field: a throttle rate outside 0 to 1,
    /// or an error status that is not one.
    pub fn invalid(&self) -> Option<String> {
        if !(0.0..=1.0).contains(&self.throttle_rate) {
            return Some(format!(
                "throttleRate: {} is not a probability (0.0 to 1.0)",
                self.throttle_rate
            ));
        }
        match self.error_status {
            Some(status) if !(400..=599).contains(&status) => Some(format!(
                "errorStatus: {status} is not an error status (400 to 599)"
            )),
            _ => None,
        }
    }
}

/// Per-subscription request counters of the current throttle window.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    /// When the window started.
    pub window_start: Option<Instant>,
    /// Reads and writes counted per subscription in this window.
    pub counts: HashMap<String, (u64, u64)>,
}

/// Everything the server keeps.
#[derive(Debug)]
pub struct State {
    /// Stored resources and tokens.
    pub data: Data,
    /// Settings.
    pub config: Config,
    /// Long-running operations by id.
    pub operations: HashMap<String, Operation>,
    /// Resources in the middle of an operation (key → until).
    pub busy: HashMap<String, Instant>,
    /// Handled requests.
    pub journal: Vec<JournalEntry>,
    /// Injected faults.
    pub faults: Faults,
    /// Throttle counters.
    pub throttle: Throttle,
    /// A counter for the deterministic part of `throttle_rate`.
    pub request_counter: u64,
}

/// The state behind a mutex, shared by every handler.
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<State>>);

impl Shared {
    /// Wraps the state.
    pub fn new(data: Data, config: Config) -> Self {
        Self(Arc::new(Mutex::new(State {
            data,
            config,
            operations: HashMap::new(),
            busy: HashMap::new(),
            journal: Vec::new(),
            faults: Faults::default(),
            throttle: Throttle::default(),
            request_counter: 0,
        })))
    }

    /// Locks the state; a poisoned lock (a panicked handler) is taken over, since every write
    /// replaces whole values.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Persists the data when a data dir is configured.
    pub fn persist(&self) {
        if let Some(dir) = &self.config.data_dir
            && let Err(err) = self.data.save(dir)
        {
            tracing::error!(%err, "persisting state");
        }
    }

    /// Starts a long-running operation and returns its id.
    pub fn start_operation(&mut self, resource_id: Option<String>) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let failure = (self.faults.fail_next_operations > 0).then(|| {
            self.faults.fail_next_operations -= 1;
            ArmError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "An error occurred while processing the operation (injected by azure-mock).",
            )
        });
        let op = Operation {
            done_at: Instant::now() + self.config.operation_duration,
            failure,
            resource_id,
            start_time: crate::now_rfc3339(),
        };
        self.operations.insert(id.clone(), op);
        id
    }

    /// Marks a resource busy (provisioningState Updating) for the operation duration.
    pub fn mark_busy(&mut self, key: &str) {
        if self.config.operation_duration > Duration::ZERO {
            self.busy.insert(
                key.to_string(),
                Instant::now() + self.config.operation_duration,
            );
        }
    }

    /// Whether a resource is in the middle of an operation.
    pub fn is_busy(&self, key: &str) -> bool {
        self.busy
            .get(key)
            .is_some_and(|until| Instant::now() < *until)
    }
}
