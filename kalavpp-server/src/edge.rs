//! The one middleware at the edge of every request (each `from_fn` layer costs an allocation and
//! a boxed future per request, so these protections share one): refuses an encoded NUL in the
//! URI, bounds the request (other than an asset upload) by [`REQUEST_TIMEOUT`] with a `408`, gives
//! bodiless error responses a body (the storefront's HTML error page on storefront paths when the
//! storefront is served, problem+json everywhere else), and sets the security headers a response
//! does not set itself.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::upload_limits::{REQUEST_TIMEOUT, is_asset_upload};

/// The content security policy of every response that brings none of its own.
const CONTENT_SECURITY_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
);
/// `Strict-Transport-Security` in production.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=63072000; includeSubDomains");

/// What the edge middleware is configured with.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// The storefront is served: its paths get HTML error pages.
    pub storefront: bool,
    /// Production: responses carry `Strict-Transport-Security`.
    pub hsts: bool,
}

/// The edge middleware (see the module documentation).
pub async fn edge(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let html_errors = edge.storefront && !crate::storefront::outside_storefront(request.uri().path());
    if let Some(refused) = crate::http_error::nul_refusal(request.uri()) {
        return secured(refused, edge.hsts);
    }
    let response = if is_asset_upload(request.method(), request.uri().path()) {
        next.run(request).await
    } else {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
            Ok(response) => response,
            Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
        }
    };
    let response = if html_errors {
        crate::storefront::html_for_bare(response)
    } else {
        crate::http_error::problem_for_bare(response)
    };
    secured(response, edge.hsts)
}

/// Adds each security header `response` does not already carry.
fn secured(mut response: Response, hsts: bool) -> Response {
    set_security_headers(response.headers_mut(), hsts);
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
}
