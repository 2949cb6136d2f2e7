//! Function-level authorization of `/api/v1/admin/*`: every request there is authenticated and
//! must come from an admin before any handler, body or query is looked at, so a customer or a
//! vendor gets `403` (and an anonymous caller `401`) from every admin route, whatever it sends.
//! The services check the actor again (deny by default); this is the outer wall.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::extract::AuthUser;
use crate::rate_limit::IpRateLimit;

/// Whether `path` (with or without the `/api/v1` prefix) is an admin API route.
fn is_admin_path(path: &str) -> bool {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    path == "/admin" || path.starts_with("/admin/")
}

/// The gate of `/api/v1`, in one layer: the general rate limit, then `401`/`403` problems for
/// non-admins on admin paths (the authenticated actor is kept in the request so the handler's
/// extractor does not look it up again).
pub async fn v1_gate(State((state, limit)): State<(AppState, IpRateLimit)>, request: Request, next: Next) -> Response {
    if let Err(seconds) = limit.check(&request) {
        return crate::http_error::ApiError::RateLimited(seconds.max(1)).into_response();
    }
    match admit(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Lets a request through unless it is for an admin path and not from an admin.
async fn admit(state: &AppState, request: Request) -> Result<Request, Response> {
    if !is_admin_path(request.uri().path()) {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let actor = match AuthUser::from_request_parts(&mut parts, state).await {
        Ok(AuthUser(actor)) => actor,
        Err(rejection) => return Err(rejection.into_response()),
    };
    if let Err(err) = actor.require_admin() {
        return Err(crate::http_error::ApiError::from(err).into_response());
    }
    Ok(Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::is_admin_path;

    #[test]
    fn admin_paths_are_recognised_with_and_without_the_prefix() {
        assert!(is_admin_path("/admin/users"));
        assert!(is_admin_path("/api/v1/admin/payouts/1/approve"));
        assert!(is_admin_path("/api/v1/admin"));
        assert!(!is_admin_path("/api/v1/administrators"));
        assert!(!is_admin_path("/api/v1/vendor/stats"));
    }
}
