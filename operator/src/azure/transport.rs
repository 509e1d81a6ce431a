//! The last step of every ARM request: the leadership fence (no write leaves a replica that
//! no longer leads), concurrency guards (`If-Match` / `If-None-Match` from the body's `etag`,
//! `If-Match` on deletes from the observed one), the write budget, metrics, ARM's
//! `Retry-After` on throttling, then the HTTP client.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use azure_core::headers::{HeaderName, Headers, RETRY_AFTER, RETRY_AFTER_MS};
use azure_core::{Body, Context, HttpClient, Method, Policy, PolicyResult, Request, StatusCode};
use tokio::sync::Mutex;

use crate::leader::Fence;
use crate::metrics::{ArmCall, Metrics};

/// How the write budget behaves (see `docs/architecture.md`, "Write budget").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetSettings {
    /// Writes that may leave back to back (the bucket's size). ARM's subscription write bucket
    /// holds 200.
    pub burst: u32,
    /// Writes per second once the bucket is empty (its refill). ARM refills 10 per second.
    pub per_second: f64,
    /// Writes of ARM's remaining count that aksnet leaves to others (other controllers and
    /// people share the subscription's budget): below it, one write every few seconds.
    pub reserve: u64,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        Self {
            burst: 200,
            per_second: 10.0,
            reserve: 20,
        }
    }
}

#[derive(Debug)]
struct BudgetState {
    tokens: f64,
    refilled: Instant,
    /// What ARM last said is left (`x-ms-ratelimit-remaining-subscription-writes`), less the
    /// writes sent since.
    arm_remaining: Option<u64>,
    /// No write before this (a 429's `Retry-After`).
    paused_until: Option<Instant>,
    /// Earliest next write while ARM's remaining count is at the reserve.
    trickle_at: Option<Instant>,
}

/// A token bucket shared by every write in flight that follows what ARM says is left: it
/// never lets more writes go than ARM's remaining count (less a reserve), slows its refill as
/// that count runs low, and pauses for a 429's `Retry-After`. Callers wait their turn (they are
/// not refused), so a burst of changes is slowed, not lost.
#[derive(Debug)]
pub struct WriteBudget {
    settings: BudgetSettings,
    state: Mutex<BudgetState>,
}

/// How long to wait between writes while ARM's remaining count is at the reserve.
const TRICKLE: Duration = Duration::from_secs(5);

impl WriteBudget {
    /// A full bucket.
    pub fn new(settings: BudgetSettings) -> Self {
        let settings = BudgetSettings {
            burst: settings.burst.max(1),
            per_second: settings.per_second.max(0.01),
            ..settings
        };
        Self {
            state: Mutex::new(BudgetState {
                tokens: f64::from(settings.burst),
                refilled: Instant::now(),
                arm_remaining: None,
                paused_until: None,
                trickle_at: None,
            }),
            settings,
        }
    }

    /// The refill rate now: the configured one, scaled down as ARM's remaining count nears
    /// the reserve (at twice the burst above the reserve it is the full rate).
    fn rate(&self, arm_remaining: Option<u64>) -> f64 {
        let full = self.settings.per_second;
        match arm_remaining {
            None => full,
            Some(left) => {
                let above = left.saturating_sub(self.settings.reserve) as f64;
                let span = 2.0 * f64::from(self.settings.burst);
                (full * (above / span).min(1.0)).max(1.0 / TRICKLE.as_secs_f64())
            }
        }
    }

    /// Wait until a write may go, and take its token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut st = self.state.lock().await;
                let now = Instant::now();
                let rate = self.rate(st.arm_remaining);
                let elapsed = now.saturating_duration_since(st.refilled).as_secs_f64();
                st.tokens = (st.tokens + elapsed * rate).min(f64::from(self.settings.burst));
                st.refilled = now;
                let low = st
                    .arm_remaining
                    .is_some_and(|left| left <= self.settings.reserve);
                let gate = st
                    .paused_until
                    .into_iter()
                    .chain(st.trickle_at.filter(|_| low))
                    .max()
                    .filter(|t| *t > now);
                match gate {
                    Some(until) => until - now,
                    None if st.tokens >= 1.0 => {
                        st.tokens -= 1.0;
                        st.arm_remaining = st.arm_remaining.map(|r| r.saturating_sub(1));
                        st.trickle_at = low.then_some(now + TRICKLE);
                        return;
                    }
                    None => Duration::from_secs_f64((1.0 - st.tokens) / rate),
                }
            };
            tracing::debug!(wait_ms = wait.as_millis() as u64, "write budget: waiting");
            tokio::time::sleep(wait).await;
        }
    }

    /// ARM said this many writes are left.
    pub async fn note_remaining(&self, left: u64) {
        self.state.lock().await.arm_remaining = Some(left);
    }

    /// ARM throttled: no write for `wait`.
    pub async fn pause(&self, wait: Duration) {
        let mut st = self.state.lock().await;
        let until = Instant::now() + wait;
        st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
    }
}

/// Errors that long-running operations ended with, by the resource they were about: the SDK
/// reports only "Long running operation failed", so the transport reads ARM's code and
/// message from the operation's status as it passes.
#[derive(Debug, Default)]
pub struct OperationFailures {
    /// Operation status URL path → the resource path the operation is about.
    operations: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Resource path → (code, message) of its last failed operation.
    failed: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
}

impl OperationFailures {
    fn started(&self, operation: &str, resource: &str) {
        if let Ok(mut ops) = self.operations.lock() {
            ops.insert(
                operation.to_ascii_lowercase(),
                resource.to_ascii_lowercase(),
            );
        }
    }

    fn ended(&self, operation: &str, body: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Status {
            status: String,
            error: Option<Detail>,
        }
        #[derive(serde::Deserialize)]
        struct Detail {
            code: Option<String>,
            message: Option<String>,
        }
        let Ok(status) = serde_json::from_slice::<Status>(body) else {
            return;
        };
        if status.status.eq_ignore_ascii_case("InProgress") {
            return;
        }
        let resource = self
            .operations
            .lock()
            .ok()
            .and_then(|mut ops| ops.remove(&operation.to_ascii_lowercase()));
        if let (Some(resource), true) = (resource, status.status.eq_ignore_ascii_case("Failed")) {
            let detail = status.error.unwrap_or(Detail {
                code: None,
                message: None,
            });
            if let Ok(mut failed) = self.failed.lock() {
                failed.insert(
                    resource,
                    (
                        detail.code.unwrap_or_default(),
                        detail.message.unwrap_or_default(),
                    ),
                );
            }
        }
    }

    /// The (code, message) the last failed operation on the resource at ARM id `id` ended
    /// with, taken out.
    pub fn take(&self, id: &str) -> Option<(String, String)> {
        self.failed.lock().ok()?.remove(&id.to_ascii_lowercase())
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

/// The entity tags deletes must carry: the SDK's delete builders take no `If-Match`, so the
/// client notes the observed ETag of what it is about to delete and the transport adds it.
#[derive(Debug, Default)]
pub struct DeleteEtags(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl DeleteEtags {
    /// The next DELETE of the resource at ARM id `id` carries `If-Match: etag`.
    pub fn expect(&self, id: &str, etag: &str) {
        if let Ok(mut tags) = self.0.lock() {
            tags.insert(id.to_ascii_lowercase(), etag.to_string());
        }
    }

    fn take(&self, path: &str) -> Option<String> {
        self.0.lock().ok()?.remove(&path.to_ascii_lowercase())
    }
}

/// What the transport shares with the client.
#[derive(Debug, Default)]
pub struct Shared {
    /// ARM's last `Retry-After`.
    pub throttle: ThrottleHint,
    /// Errors of failed long-running operations.
    pub operations: OperationFailures,
    /// ETags for deletes.
    pub delete_etags: DeleteEtags,
}

/// The transport policy.
#[derive(Debug)]
pub struct ArmTransport {
    http: Arc<dyn HttpClient>,
    budget: Arc<WriteBudget>,
    metrics: Arc<Metrics>,
    shared: Arc<Shared>,
    fence: Fence,
}

impl ArmTransport {
    /// A transport over `http` that sends writes only while `fence` holds, notes ARM's
    /// throttling waits and the errors of failed long-running operations in `shared`, and
    /// takes the ETags of deletes from it.
    pub fn new(
        http: Arc<dyn HttpClient>,
        budget: Arc<WriteBudget>,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
        fence: Fence,
    ) -> Self {
        Self {
            http,
            budget,
            metrics,
            shared,
            fence,
        }
    }

    /// The error of a write this replica may no longer send.
    fn fenced(&self) -> azure_core::Error {
        self.metrics.writes_fenced.inc();
        tracing::warn!("an Azure write was not sent: this replica no longer leads");
        azure_core::Error::message(
            azure_core::error::ErrorKind::Other,
            "not sent: this replica no longer holds the leader lease",
        )
    }
}

/// Whether an ARM path is a long-running operation's status.
fn is_operation_status(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.contains("/providers/microsoft.network/locations/") && p.contains("/operations/")
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
        let path = request.url().path().to_string();
        if method == Method::Put {
            match body_etag(request.body()) {
                Some(etag) => request.insert_header("if-match", etag),
                None => request.insert_header("if-none-match", "*"),
            }
        }
        if method == Method::Delete
            && let Some(etag) = self.shared.delete_etags.take(&path)
        {
            request.insert_header("if-match", etag);
        }
        if write {
            if !self.fence.holds() {
                return Err(self.fenced());
            }
            self.budget.acquire().await;
            // The budget may have made the write wait: leadership is checked again last.
            if !self.fence.holds() {
                return Err(self.fenced());
            }
        }
        let resource = resource_type(&path);
        let started = Instant::now();
        let mut result = self.http.execute_request(request).await;
        let code = match &result {
            Ok(r) => u16::from(r.status()).to_string(),
            Err(_) => "error".to_string(),
        };
        if let Ok(r) = &result {
            if r.status() == StatusCode::TooManyRequests
                && let Some(wait) = retry_after(r.headers())
            {
                self.shared.throttle.note(wait);
                self.budget.pause(wait).await;
            }
            if write
                && let Some(left) = r
                    .headers()
                    .get_optional_str(&HeaderName::from_static(REMAINING_WRITES))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            {
                self.budget.note_remaining(left).await;
            }
            if write
                && let Some(op) = r
                    .headers()
                    .get_optional_str(&azure_core::headers::AZURE_ASYNCOPERATION)
                    .and_then(|u| azure_core::Url::parse(u).ok())
            {
                self.shared.operations.started(op.path(), &path);
            }
        }
        if method == Method::Get && is_operation_status(&path) {
            result = match result {
                Ok(r) => {
                    let (status, headers, body) = r.deconstruct();
                    let bytes = body.collect().await?;
                    self.shared.operations.ended(&path, &bytes);
                    Ok(azure_core::Response::new(
                        status,
                        headers,
                        Box::pin(futures::stream::once(futures::future::ready(Ok(bytes)))),
                    ))
                }
                Err(e) => Err(e),
            };
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

/// ARM's count of writes left to the subscription.
const REMAINING_WRITES: &str = "x-ms-ratelimit-remaining-subscription-writes";

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

    fn transport(http: Arc<dyn HttpClient>, shared: Arc<Shared>, fence: Fence) -> ArmTransport {
        ArmTransport::new(
            http,
            Arc::new(WriteBudget::new(BudgetSettings::default())),
            Arc::new(Metrics::new(
                &mut prometheus_client::registry::Registry::default(),
            )),
            shared,
            fence,
        )
    }

    /// Answers 200 and keeps the headers of every request it was sent.
    #[derive(Debug, Default)]
    struct Recording(std::sync::Mutex<Vec<(Method, Option<String>)>>);

    #[async_trait::async_trait]
    impl HttpClient for Recording {
        async fn execute_request(&self, r: &Request) -> azure_core::Result<azure_core::Response> {
            let if_match = r
                .headers()
                .get_optional_str(&HeaderName::from_static("if-match"))
                .map(str::to_string);
            if let Ok(mut sent) = self.0.lock() {
                sent.push((*r.method(), if_match));
            }
            Ok(azure_core::Response::new(
                StatusCode::Ok,
                Headers::new(),
                Box::pin(futures::stream::empty()),
            ))
        }
    }

    #[tokio::test]
    async fn deletes_carry_the_observed_etag_and_a_closed_fence_sends_no_write() {
        let http = Arc::new(Recording::default());
        let shared = Arc::new(Shared::default());
        let id =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/a";
        shared.delete_etags.expect(id, "W/\"7\"");
        let open = transport(http.clone(), shared.clone(), Fence::unfenced());
        let url =
            azure_core::Url::parse(&format!("http://127.0.0.1{}", id.to_uppercase())).expect("url");
        let mut delete = Request::new(url.clone(), Method::Delete);
        open.send(&Context::new(), &mut delete, &[])
            .await
            .expect("sent");
        let closed = transport(http.clone(), shared, Fence::closed());
        let mut put = Request::new(url.clone(), Method::Put);
        assert!(closed.send(&Context::new(), &mut put, &[]).await.is_err());
        let mut get = Request::new(url, Method::Get);
        closed
            .send(&Context::new(), &mut get, &[])
            .await
            .expect("reads still go");
        let sent = http.0.lock().expect("sent").clone();
        assert_eq!(
            sent,
            vec![
                (Method::Delete, Some("W/\"7\"".to_string())),
                (Method::Get, None)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_answer_leaves_its_wait_for_the_controller() {
        let shared = Arc::new(Shared::default());
        let hint = &shared.throttle;
        assert_eq!(hint.remaining(), None);
        let transport = transport(Arc::new(Throttling), shared.clone(), Fence::unfenced());
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
        let budget = WriteBudget::new(BudgetSettings {
            burst: 2,
            per_second: 1.0,
            reserve: 0,
        });
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            budget.acquire().await;
        }
        // Two go at once; the third and the fourth wait a second each.
        assert_eq!(start.elapsed().as_secs(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_never_spends_what_arm_does_not_have() {
        let budget = WriteBudget::new(BudgetSettings {
            burst: 100,
            per_second: 100.0,
            reserve: 3,
        });
        budget.note_remaining(5).await;
        let start = tokio::time::Instant::now();
        // 5 left, 3 reserved: two go at once, then one every TRICKLE.
        budget.acquire().await;
        budget.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        budget.acquire().await;
        budget.acquire().await;
        assert!(start.elapsed() >= TRICKLE, "{:?}", start.elapsed());
        // ARM refilled: full speed again.
        budget.note_remaining(1000).await;
        let again = tokio::time::Instant::now();
        for _ in 0..10 {
            budget.acquire().await;
        }
        assert!(again.elapsed() <= TRICKLE, "{:?}", again.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_pauses_every_writer() {
        let budget = WriteBudget::new(BudgetSettings::default());
        budget.pause(Duration::from_secs(7)).await;
        let start = tokio::time::Instant::now();
        budget.acquire().await;
        assert_eq!(start.elapsed().as_secs(), 7);
    }

    #[test]
    fn failed_operations_are_told_by_resource() {
        let ops = OperationFailures::default();
        ops.started(
            "/subscriptions/s/providers/Microsoft.Network/locations/w/operations/1",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/a",
        );
        ops.ended(
            "/subscriptions/s/providers/Microsoft.Network/locations/w/operations/1",
            br#"{"status":"Failed","error":{"code":"PublicIPAddressAllocationFailed","message":"none left"}}"#,
        );
        assert_eq!(
            ops.take(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/A"
            ),
            Some(("PublicIPAddressAllocationFailed".into(), "none left".into()))
        );
        assert_eq!(
            ops.take(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/a"
            ),
            None
        );
    }
}
