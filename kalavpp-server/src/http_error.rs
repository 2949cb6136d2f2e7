//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kalavpp_core::{Error, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Stable snake_case machine code.
    pub code: String,
    /// Per-field validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ProblemField>)]
    pub errors: Vec<FieldError>,
}

/// One field of a validation problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error leaving an HTTP handler.
#[derive(Debug)]
pub enum ApiError {
    /// An error from the marketplace services.
    Core(Error),
    /// A request we could not read (status, code, detail).
    Http(StatusCode, &'static str, String),
    /// Too many requests; retry after this many seconds.
    RateLimited(u64),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self::Core(err)
    }
}

impl ApiError {
    /// A `400` for an unreadable request.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Http(StatusCode::BAD_REQUEST, code, detail.into())
    }
}

/// Builds a problem response.
pub fn problem(status: StatusCode, code: &str, detail: impl Into<String>, errors: Vec<FieldError>) -> Response {
    let body = Problem {
        kind: format!("urn:kalavpp:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        code: code.to_owned(),
        errors,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Core(err) => {
                let code = err.code();
                match err {
                    Error::NotFound { message, .. } => problem(StatusCode::NOT_FOUND, code, message, vec![]),
                    Error::Unauthorized { message, .. } => {
                        let mut response = problem(StatusCode::UNAUTHORIZED, code, message, vec![]);
                        response
                            .headers_mut()
                            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                        response
                    }
                    Error::Forbidden { message, .. } => problem(StatusCode::FORBIDDEN, code, message, vec![]),
                    Error::Conflict { message, .. } => problem(StatusCode::CONFLICT, code, message, vec![]),
                    Error::BadRequest { message, .. } => problem(StatusCode::BAD_REQUEST, code, message, vec![]),
                    Error::Gone { message, .. } => problem(StatusCode::GONE, code, message, vec![]),
                    Error::Upstream { message, .. } => problem(StatusCode::BAD_GATEWAY, code, message, vec![]),
                    Error::TooLarge { message, .. } => problem(StatusCode::PAYLOAD_TOO_LARGE, code, message, vec![]),
                    Error::UnsupportedMedia { message, .. } => problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, code, message, vec![]),
                    Error::Validation(errors) => problem(StatusCode::UNPROCESSABLE_ENTITY, code, "the request has invalid fields", errors),
                    Error::Internal(detail) => {
                        tracing::error!(%detail, "internal error");
                        problem(StatusCode::INTERNAL_SERVER_ERROR, code, "something went wrong on our side", vec![])
                    }
                }
            }
            Self::Http(status, code, detail) => problem(status, code, detail, vec![]),
            Self::RateLimited(seconds) => {
                let mut response = problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many requests; retry in {seconds} s"),
                    vec![],
                );
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

/// Result alias of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Gives a bodiless error response (405 from the router, 408 from the request timeout, ...) a
/// problem+json body so that every error a client sees has the same shape; other responses pass.
pub fn problem_for_bare(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ if status.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let mut replaced = problem(status, code, status.canonical_reason().unwrap_or("error"), vec![]);
    for (name, value) in response.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replaced
}

/// The `404` for unknown routes.
pub async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "not_found", "no such route", vec![])
}

/// No route takes text with a NUL character (PostgreSQL cannot even store one), so an encoded NUL
/// (`%00`) is refused before any handler runs: in the path it names nothing (`404`), in the query
/// string it is a `422` on that parameter. `None` for a URI without one.
pub fn nul_refusal(uri: &axum::http::Uri) -> Option<Response> {
    let has_nul = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    if has_nul(uri.path()) {
        return Some(ApiError::from(Error::not_found("not_found", "no such resource")).into_response());
    }
    let query = uri.query().filter(|q| has_nul(q))?;
    let fields = query
        .split('&')
        .filter(|pair| has_nul(pair))
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let name = if has_nul(name) || name.is_empty() { "query" } else { name };
            kalavpp_core::FieldError::new(name, "must not contain NUL characters")
        })
        .collect();
    Some(ApiError::from(Error::Validation(fields)).into_response())
}
