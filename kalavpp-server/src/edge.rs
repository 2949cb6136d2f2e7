//! The edge of every request: [`Edge`], the outermost layer, and [`EdgeGate`], the check that
//! runs inside CORS and compression (so its refusals carry CORS headers). Each protection here
//! used to be a layer of its own (a request-id setter, a trace layer, a request-id propagator,
//! `from_fn` middlewares with their boxed `Next`, a rate limit on every `/api/v1` route); now they
//! are two layers whose futures are not boxed:
//! - a request id (`x-request-id`: the client's, or `<process prefix>-<counter>`) on the request
//!   and on the response;
//! - a trace span per request (`http` with method, path and request id) around everything
//!   inside, and a log line for every `5xx` with its latency;
//! - ([`EdgeGate`]) an encoded NUL in the URI refused before anything reads it, and the general
//!   rate limit of `/api/v1` (every path under it, known or not, but the OpenAPI document and the
//!   Stripe webhook, which Stripe retries and which proves itself by its signature), before any
//!   routing;
//! - (in [`crate::deadline`], inside CORS) the request, other than an asset upload, bounded by
//!   [`REQUEST_TIMEOUT`](crate::upload_limits::REQUEST_TIMEOUT), with a `408`;
//! - bodiless error responses given a body (the storefront's HTML error page on storefront paths
//!   when the storefront is served, problem+json everywhere else);
//! - the security headers a response does not set itself.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::guard::Check;
use crate::rate_limit::IpRateLimit;

/// The content security policy of every response that brings none of its own.
const CONTENT_SECURITY_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
);
/// `Strict-Transport-Security` in production.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=63072000; includeSubDomains");
/// The request id header, read from the client and set on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The API prefix the general rate limit applies to.
const API_V1: &str = "/api/v1/";

/// The edge layer (see the module documentation).
#[derive(Clone)]
pub struct Edge {
    shared: Arc<EdgeShared>,
}

struct EdgeShared {
    /// The storefront is served: its paths get HTML error pages.
    storefront: bool,
    /// Production: responses carry `Strict-Transport-Security`.
    hsts: bool,
    ids: RequestIds,
}

impl Edge {
    /// The edge of a server that serves the storefront (`storefront`) and runs in production
    /// behind TLS (`hsts`).
    pub fn new(storefront: bool, hsts: bool) -> Self {
        Self {
            shared: Arc::new(EdgeShared {
                storefront,
                hsts,
                ids: RequestIds::new(),
            }),
        }
    }
}

impl<S> Layer<S> for Edge {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> EdgeService<S> {
        EdgeService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`Edge`] wraps around the application.
#[derive(Clone)]
pub struct EdgeService<S> {
    inner: S,
    shared: Arc<EdgeShared>,
}

impl<S, B> Service<Request> for EdgeService<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let (storefront, hsts) = (self.shared.storefront, self.shared.hsts);
        // A client's own id is kept when it is a short printable token; anything else (long,
        // spaces, non-ASCII) is replaced, so logs and echoes stay bounded.
        let id = match request.headers().get(REQUEST_ID).filter(|id| acceptable_client_id(id)) {
            Some(id) => id.clone(),
            None => {
                let id = self.shared.ids.next();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let span = tracing::info_span!(
            "http",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = id.to_str().unwrap_or("-")
        );
        let html_errors = storefront && !crate::storefront::outside_storefront(request.uri().path());
        let started = Instant::now();
        // Called here, not in the future, so the inner stack is never cloned per request.
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        EdgeFuture {
            inner: inner.instrument(span),
            started,
            exit: Some(Exit { html_errors, hsts, id }),
        }
    }
}

/// What the response gets on its way out.
struct Exit {
    html_errors: bool,
    hsts: bool,
    id: HeaderValue,
}

pin_project_lite::pin_project! {
    /// The future of [`EdgeService`] (not boxed): the inner response, finished on the way out.
    pub struct EdgeFuture<F> {
        #[pin]
        inner: tracing::instrument::Instrumented<F>,
        started: Instant,
        exit: Option<Exit>,
    }
}

impl<F, B> std::future::Future for EdgeFuture<F>
where
    F: std::future::Future<Output = Result<axum::http::Response<B>, Infallible>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.exit.is_none() {
            // Polled again after it completed: never ready again (the inner future is spent).
            return Poll::Pending;
        }
        let Ok(response) = std::task::ready!(this.inner.as_mut().poll(cx));
        let response = response.map(Body::new);
        let Some(exit) = this.exit.take() else {
            return Poll::Pending;
        };
        if response.status().is_server_error() {
            let _entered = this.inner.as_ref().get_ref().span().enter();
            tracing::error!(
                status = response.status().as_u16(),
                latency_ms = this.started.elapsed().as_millis(),
                "response failed"
            );
        }
        Poll::Ready(Ok(finish(response, exit.html_errors, exit.hsts, exit.id)))
    }
}

/// The [`Guard`](crate::guard::Guard) check inside CORS: NUL refusals and the `/api/v1` rate limit
/// (see the module documentation).
#[derive(Clone)]
pub struct EdgeGate {
    /// The general limit of `/api/v1`.
    pub api_limit: IpRateLimit,
    /// Where refusals are counted (they never reach a route, so the route metrics miss them):
    /// as route `edge_refused`.
    pub metrics: crate::metrics::Metrics,
}

impl Check for EdgeGate {
    fn refuse(&self, request: &Request) -> Option<Response> {
        let path = request.uri().path();
        let refused = crate::http_error::nul_refusal(request.uri()).or_else(|| {
            (path.starts_with(API_V1) && !crate::api::openapi::NOT_RATE_LIMITED.contains(&path))
                .then(|| self.api_limit.refuse(request))
                .flatten()
        })?;
        self.metrics
            .record_request(request.method(), "edge_refused", refused.status().as_u16(), 0.0);
        Some(refused)
    }
}

/// The response as it leaves: a body for a bodiless error, the request id, the security headers.
fn finish(response: Response, html_errors: bool, hsts: bool, id: HeaderValue) -> Response {
    let mut response = if html_errors {
        crate::storefront::html_for_bare(response)
    } else {
        crate::http_error::problem_for_bare(response)
    };
    let headers = response.headers_mut();
    // Room for the id, `Vary` and the security headers at once (one growth, not several).
    headers.reserve(7);
    headers.insert(REQUEST_ID, id);
    // What CORS would add to every response (its allowed origin depends on the request's), set
    // here as one constant so the CORS layer carries no list it would clone per request.
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    set_security_headers(headers, hsts);
    response
}

fn set_security_headers(headers: &mut HeaderMap, hsts: bool) {
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(CONTENT_SECURITY_POLICY);
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    if hsts {
        headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HSTS);
    }
}

/// Whether a client's `x-request-id` is kept: 1 to 128 visible ASCII characters.
fn acceptable_client_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    (1..=128).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
}

/// Request ids `<process prefix>-<counter>`: unique across instances (a random 48-bit prefix per
/// router) without the random-number call and UUID formatting of a v4 id per request.
struct RequestIds {
    /// `<prefix>-`, ready to be followed by the counter.
    prefix: Box<[u8]>,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut prefix = kalavpp_core::auth::random_token(6).into_bytes();
        prefix.push(b'-');
        Self {
            prefix: prefix.into_boxed_slice(),
            next: AtomicU64::new(1),
        }
    }

    /// The next id, written into one buffer (no intermediate string).
    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut buffer = [0u8; 64];
        let prefix = self.prefix.len().min(buffer.len() - 16);
        buffer[..prefix].copy_from_slice(&self.prefix[..prefix]);
        let digits = hex_digits(n, &mut buffer[prefix..]);
        // The prefix is URL-safe base64 and `-`, the counter hex: always a valid header value.
        HeaderValue::from_bytes(&buffer[..prefix + digits]).unwrap_or(HeaderValue::from_static("-"))
    }
}

/// Writes `n` in lower-case hex (no leading zeros) at the start of `out`; returns the length.
fn hex_digits(n: u64, out: &mut [u8]) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let len = ((64 - n.leading_zeros()).div_ceil(4)).max(1) as usize;
    for (i, slot) in out[..len].iter_mut().enumerate() {
        let shift = 4 * (len - 1 - i);
        *slot = DIGITS[((n >> shift) & 0xf) as usize];
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_headers_fill_in_but_never_replace() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'"));
        set_security_headers(&mut headers, false);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "default-src 'none'");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
        set_security_headers(&mut headers, true);
        assert_eq!(headers[header::STRICT_TRANSPORT_SECURITY], "max-age=63072000; includeSubDomains");
    }

    #[test]
    fn only_short_printable_client_ids_are_kept() {
        assert!(acceptable_client_id(&HeaderValue::from_static("abc-123_x.y")));
        assert!(!acceptable_client_id(&HeaderValue::from_static("")));
        assert!(!acceptable_client_id(&HeaderValue::from_static("has space")));
        assert!(!acceptable_client_id(&HeaderValue::from_str(&"x".repeat(129)).unwrap()));
        assert!(!acceptable_client_id(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()));
    }

    #[test]
    fn request_ids_are_the_prefix_and_a_hex_counter() {
        let ids = RequestIds::new();
        let first = ids.next();
        let second = ids.next();
        let (prefix, counter) = first.to_str().unwrap().rsplit_once('-').unwrap();
        assert_eq!(prefix.len(), 8);
        assert_eq!(counter, "1");
        assert_eq!(second.to_str().unwrap(), format!("{prefix}-2"));
        for n in [0u64, 9, 10, 255, 256, 0xdead_beef, u64::MAX] {
            let mut out = [0u8; 16];
            let len = hex_digits(n, &mut out);
            assert_eq!(std::str::from_utf8(&out[..len]).unwrap(), format!("{n:x}"));
        }
    }
}
