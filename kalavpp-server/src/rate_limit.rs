//! Per-client-IP rate limits (GCRA via governor): one for all of `/api/v1`, a stricter one for
//! the credential routes.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
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

    /// The limiter's key for a client: its IPv4 address, or the /64 network of an IPv6 one
    /// (one subscriber usually holds a whole /64, so per-address keys would let it rotate freely).
    fn client_key(&self, request: &Request) -> IpAddr {
        client_network(self.client_ip(request))
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
        limiter.check_key(&self.client_key(request)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// A [`Guard`](crate::guard::Guard) check: `429` (problem+json with `Retry-After`) for a client
/// over its limit.
impl crate::guard::Check for IpRateLimit {
    fn refuse(&self, request: &Request) -> Option<Response> {
        self.check(request)
            .err()
            .map(|seconds| ApiError::RateLimited(seconds.max(1)).into_response())
    }
}

/// A [`Guard`](crate::guard::Guard) check applying the limit to every method but `GET`, `HEAD` and
/// `OPTIONS` (e.g. `PATCH /auth/me`, which may verify a password, while reading the account stays
/// cheap).
#[derive(Clone)]
pub struct OnWrites(pub IpRateLimit);

impl crate::guard::Check for OnWrites {
    fn refuse(&self, request: &Request) -> Option<Response> {
        if request.method().is_safe() {
            return None;
        }
        self.0.refuse(request)
    }
}

/// The rate-limit key of an address: IPv4 (and IPv4-mapped IPv6) as is, other IPv6 addresses
/// cut to their /64 network.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::client_network;

    #[test]
    fn ipv6_clients_share_their_64_and_ipv4_stays_whole() {
        let a = client_network("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = client_network("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        let other = client_network("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a, "2001:db8:1:2::".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(
            client_network("10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(
            client_network("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<std::net::IpAddr>().unwrap()
        );
    }
}
