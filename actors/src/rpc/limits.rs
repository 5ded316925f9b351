//! Per-connection request limits of the gateway: a token bucket per connection (HTTP keep-alive or
//! WebSocket), refilled at `http.max_requests_per_sec`. A call beyond it is answered -32005
//! "rate limit exceeded" and nothing runs; each call of a batch counts.

use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification};
use jsonrpsee::server::middleware::rpc::RpcServiceT;
use jsonrpsee::types::{ErrorObject, Request};
use jsonrpsee::MethodResponse;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

/// The error code of a refused call (as Infura and other gateways answer a rate limit).
pub const RATE_LIMITED: i32 = -32005;

/// A token bucket: `rate` tokens a second, at most `rate` banked.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket of `rate` calls a second.
    pub fn new(rate: u32) -> Self {
        Bucket {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens if there are that many (after refilling for the time passed).
    pub fn take(&mut self, n: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.last = now;
        let want = n as f64;
        if self.tokens >= want {
            self.tokens -= want;
            true
        } else {
            false
        }
    }
}

/// The middleware: one per connection (jsonrpsee builds the RPC middleware for each).
#[derive(Clone)]
pub struct ConnLimit<S> {
    service: S,
    rate: u32,
    bucket: Arc<Mutex<Bucket>>,
}

impl<S> ConnLimit<S> {
    /// Wraps `service` with a bucket of `rate` calls a second.
    pub fn new(service: S, rate: u32) -> Self {
        ConnLimit {
            service,
            rate,
            bucket: Arc::new(Mutex::new(Bucket::new(rate))),
        }
    }

    fn refused(&self) -> ErrorObject<'static> {
        ErrorObject::owned(
            RATE_LIMITED,
            format!(
                "rate limit exceeded: at most {} calls a second per connection (http.max_requests_per_sec); retry shortly",
                self.rate
            ),
            None::<()>,
        )
    }
}

impl<S> RpcServiceT for ConnLimit<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl std::future::Future<Output = Self::MethodResponse> + Send + 'a {
        let allowed = self.bucket.lock().take(1, Instant::now());
        let service = self.service.clone();
        let refused = (!allowed).then(|| self.refused());
        async move {
            match refused {
                None => service.call(request).await,
                Some(e) => MethodResponse::error(request.id().into_owned(), e),
            }
        }
    }

    fn batch<'a>(
        &self,
        mut requests: Batch<'a>,
    ) -> impl std::future::Future<Output = Self::BatchResponse> + Send + 'a {
        let n = requests.len();
        let allowed = self.bucket.lock().take(n, Instant::now());
        if !allowed {
            // Each call of the batch is answered with the refusal; none runs.
            let e = self.refused();
            for entry in requests.iter_mut() {
                if let Ok(BatchEntry::Call(req)) = entry {
                    let id = req.id().into_owned();
                    *entry = Err(jsonrpsee::core::middleware::BatchEntryErr::new(
                        id,
                        e.clone(),
                    ));
                }
            }
        }
        self.service.batch(requests)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl std::future::Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_refills_at_its_rate_and_banks_no_more_than_a_second() {
        let start = Instant::now();
        let mut b = Bucket::new(10);
        b.last = start;
        assert!(b.take(10, start), "starts full");
        assert!(!b.take(1, start), "then empty");
        assert!(
            b.take(5, start + Duration::from_millis(500)),
            "half a second: five"
        );
        assert!(!b.take(1, start + Duration::from_millis(500)));
        assert!(
            !b.take(11, start + Duration::from_secs(60)),
            "never more than a second banked"
        );
        assert!(b.take(10, start + Duration::from_secs(61)));
    }
}
