//! Per-client-IP rate limits (GCRA via governor): one for all of `/api/v1`, a stricter one for
//! the credential routes.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::http_error::ApiError;

/// One keyed limiter and how to find the client's address.
#[derive(Clone)]
pub struct IpRateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    trust_proxy: bool,
}

impl IpRateLimit {
    /// `max` requests per `window` per IP, refilled smoothly; `max == 0` disables the limit.
    pub fn new(window: Duration, max: u32, trust_proxy: bool) -> Self {
        let limiter = NonZeroU32::new(max).map(|burst| {
            let period = (window / max).max(Duration::from_nanos(1));
            let quota = Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(burst))
                .allow_burst(burst);
            Arc::new(RateLimiter::keyed(quota))
        });
        Self { limiter, trust_proxy }
    }

    /// Forgets idle clients; called periodically so the table stays small.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn client_ip(&self, request: &Request) -> IpAddr {
        if self.trust_proxy {
            // The proxy appends the address it saw; the right-most entry is the one it vouches for.
            let forwarded = request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse().ok());
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip())
    }

    /// `Err(seconds to wait)` when the client is over its limit.
    pub fn check(&self, request: &Request) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&self.client_ip(request)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Middleware applying `limit`.
pub async fn enforce(State(limit): State<IpRateLimit>, request: Request, next: Next) -> Response {
    match limit.check(&request) {
        Ok(()) => next.run(request).await,
        Err(seconds) => ApiError::RateLimited(seconds.max(1)).into_response(),
    }
}
