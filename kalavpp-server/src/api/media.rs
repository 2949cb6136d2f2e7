//! `GET /media/{path}`: public product images, with long cache headers.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kalavpp_core::files::validate_key;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http_error::problem;
use crate::stored_file::{Served, serve_stored};

/// The media route (outside `/api/v1`, not rate limited).
pub fn routes() -> OpenApiRouter<AppState> {
    // Keys span several segments (`products/<id>.jpg`), so the route is a wildcard; the OpenAPI
    // document keeps its single `{path}` parameter.
    let documented = OpenApiRouter::<AppState>::new().routes(routes!(media)).into_openapi();
    OpenApiRouter::with_openapi(documented).route("/media/{*path}", axum::routing::get(media))
}

#[utoipa::path(get, path = "/media/{path}", tag = "catalog", params(("path" = String, Path, description = "e.g. products/<id>.jpg")),
    responses((status = 200, description = "the image (immutable; cached for a year)"), (status = 304, description = "not modified"), (status = 404, description = "no such file"), (status = 503, description = "the file storage cannot be reached")))]
async fn media(State(state): State<AppState>, Path(path): Path<String>, request: Request) -> Response {
    let not_found = || problem(StatusCode::NOT_FOUND, "not_found", "no such file", vec![]);
    // Only image keys are public; assets live under another prefix and are never served here.
    let key = format!("media/{path}");
    if validate_key(&key).is_err() {
        return not_found();
    }
    match serve_stored(state.market.files(), &key, request, None).await {
        Ok(Served::Response(response)) if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED => {
            let mut response = response;
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            response
        }
        Ok(Served::Response(response)) => response,
        Ok(Served::Missing) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "serving an image failed");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the image cannot be read right now",
                vec![],
            )
        }
    }
}
