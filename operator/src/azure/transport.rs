//! The last step of every ARM request: concurrency guards (`If-Match` / `If-None-Match` from
//! the body's `etag`), the write budget, metrics, ARM's `Retry-After` on throttling, then the
//! HTTP client.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use azure_core::headers::{HeaderName, Headers, RETRY_AFTER, RETRY_AFTER_MS};
use azure_core::{Body, Context, HttpClient, Method, Policy, PolicyResult, Request, StatusCode};
use tokio::sync::Mutex;

use crate::metrics::{ArmCall, Metrics};

/// Spaces writes so that at most `per_minute` leave per minute, with a burst of `burst`.
/// Callers wait for their turn (they are not refused), so a burst of changes is slowed, not lost.
#[derive(Debug)]
pub struct WriteBudget {
    spacing: Duration,
    burst: u32,
    next: Mutex<Instant>,
}

impl WriteBudget {
    /// A budget of `per_minute` writes (at least 1) with bursts of `burst`.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let spacing = Duration::from_secs(60) / per_minute.max(1);
        let burst = burst.max(1);
        let now = Instant::now();
        Self {
            spacing,
            burst,
            next: Mutex::new(now.checked_sub(spacing * burst).unwrap_or(now)),
        }
    }

    /// Wait until a write may go.
    pub async fn acquire(&self) {
        let wait = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let earliest = now
                .checked_sub(self.spacing * (self.burst - 1))
                .unwrap_or(now);
            let slot = (*next).max(earliest);
            *next = slot + self.spacing;
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tracing::debug!(wait_ms = wait.as_millis() as u64, "write budget: waiting");
            tokio::time::sleep(wait).await;
        }
    }
}

/// How long ARM last asked us to wait (`Retry-After` on a 429). The SDK's retry policy honours
/// it between its own retries; once those are spent, the controller waits out what is left
/// instead of guessing with its back-off.
#[derive(Debug, Default)]
pub struct ThrottleHint(std::sync::Mutex<Option<Instant>>);

impl ThrottleHint {
    fn note(&self, wait: Duration) {
        if let Ok(mut until) = self.0.lock() {
            *until = Some(Instant::now() + wait);
        }
    }

    /// What is left of the last wait ARM asked for, if any.
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.0.lock().ok()?)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

/// The wait a throttled response asks for: `retry-after-ms`, `x-ms-retry-after-ms` or
/// `retry-after` in seconds.
fn retry_after(headers: &Headers) -> Option<Duration> {
    let ms = |name: &HeaderName| headers.get_optional_str(name)?.trim().parse::<u64>().ok();
    ms(&RETRY_AFTER_MS)
        .or_else(|| ms(&HeaderName::from_static("x-ms-retry-after-ms")))
        .map(Duration::from_millis)
        .or_else(|| {
            let secs = headers
                .get_optional_str(&RETRY_AFTER)?
                .trim()
                .parse()
                .ok()?;
            Some(Duration::from_secs(secs))
        })
}

/// The transport policy.
#[derive(Debug)]
pub struct ArmTransport {
    http: Arc<dyn HttpClient>,
    budget: Arc<WriteBudget>,
    metrics: Arc<Metrics>,
    throttle: Arc<ThrottleHint>,
}

impl ArmTransport {
    /// A transport over `http` that notes ARM's throttling waits in `throttle`.
    pub fn new(
        http: Arc<dyn HttpClient>,
        budget: Arc<WriteBudget>,
        metrics: Arc<Metrics>,
        throttle: Arc<ThrottleHint>,
    ) -> Self {
        Self {
            http,
            budget,
            metrics,
            throttle,
        }
    }
}

/// The resource type an ARM path is about: the segment before the last name
/// (`.../loadBalancers/lb` → `loadBalancers`; an operation status poll → `operations`).
fn resource_type(path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("providers"))
    {
        Some(i) if parts.len() > i + 2 => {
            let rest = &parts[i + 2..];
            let kinds: Vec<&str> = rest.iter().step_by(2).copied().collect();
            kinds.join("/")
        }
        _ => parts
            .get(parts.len().saturating_sub(2))
            .copied()
            .unwrap_or("other")
            .to_string(),
    }
}

/// The `etag` field of a JSON body, if any.
fn body_etag(body: &Body) -> Option<String> {
    let Body::Bytes(bytes) = body else {
        return None;
    };
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("etag")?.as_str().map(str::to_string)
}

#[async_trait::async_trait]
impl Policy for ArmTransport {
    async fn send(
        &self,
        _ctx: &Context,
        request: &mut Request,
        _next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let method = *request.method();
        let write = matches!(
            method,
            Method::Put | Method::Patch | Method::Delete | Method::Post
        );
        if method == Method::Put {
            match body_etag(request.body()) {
                Some(etag) => request.insert_header("if-match", etag),
                None => request.insert_header("if-none-match", "*"),
            }
        }
        if write {
            self.budget.acquire().await;
        }
        let resource = resource_type(request.url().path());
        let started = Instant::now();
        let result = self.http.execute_request(request).await;
        let code = match &result {
            Ok(r) => u16::from(r.status()).to_string(),
            Err(_) => "error".to_string(),
        };
        if let Ok(r) = &result
            && r.status() == StatusCode::TooManyRequests
            && let Some(wait) = retry_after(r.headers())
        {
            self.throttle.note(wait);
        }
        let labels = ArmCall {
            resource,
            verb: method.as_ref().to_string(),
            code,
        };
        self.metrics.arm_requests.get_or_create(&labels).inc();
        self.metrics
            .arm_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(verb = %labels.verb, resource = %labels.resource, code = %labels.code, "ARM call");
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_from_paths() {
        let base = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network";
        assert_eq!(
            resource_type(&format!("{base}/loadBalancers/lb")),
            "loadBalancers"
        );
        assert_eq!(
            resource_type(&format!("{base}/publicIPAddresses")),
            "publicIPAddresses"
        );
        assert_eq!(
            resource_type(&format!("{base}/networkSecurityGroups/n/securityRules/r")),
            "networkSecurityGroups/securityRules"
        );
        assert_eq!(
            resource_type(
                "/subscriptions/s/providers/Microsoft.Network/locations/westeurope/operations/x"
            ),
            "locations/operations"
        );
    }

    /// Answers every request with 429 and `Retry-After: 7`.
    #[derive(Debug)]
    struct Throttling;

    #[async_trait::async_trait]
    impl HttpClient for Throttling {
        async fn execute_request(&self, _: &Request) -> azure_core::Result<azure_core::Response> {
            let mut headers = Headers::new();
            headers.insert(RETRY_AFTER, "7");
            Ok(azure_core::Response::new(
                StatusCode::TooManyRequests,
                headers,
                Box::pin(futures::stream::empty()),
            ))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_answer_leaves_its_wait_for_the_controller() {
        let hint = Arc::new(ThrottleHint::default());
        assert_eq!(hint.remaining(), None);
        let transport = ArmTransport::new(
            Arc::new(Throttling),
            Arc::new(WriteBudget::new(60, 10)),
            Arc::new(Metrics::new(
                &mut prometheus_client::registry::Registry::default(),
            )),
            hint.clone(),
        );
        let url = azure_core::Url::parse("http://127.0.0.1/subscriptions/s").expect("url");
        let mut request = Request::new(url, Method::Get);
        let response = transport
            .send(&Context::new(), &mut request, &[])
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::TooManyRequests);
        assert_eq!(hint.remaining(), Some(Duration::from_secs(7)));
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(hint.remaining(), None, "the wait is over");
    }

    #[test]
    fn retry_after_in_seconds_or_milliseconds() {
        let mut h = Headers::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "3");
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER_MS, "250");
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = Headers::new();
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(
            retry_after(&h),
            None,
            "HTTP dates are left to the SDK's policy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_spaces_writes_after_the_burst() {
        let budget = WriteBudget::new(60, 2);
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            budget.acquire().await;
        }
        // Two go at once; the third and the fourth wait a second each.
        assert_eq!(start.elapsed().as_secs(), 2);
    }
}
