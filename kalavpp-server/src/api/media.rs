//! `GET /media/{path}`: public product images, with long cache headers.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http_error::problem;

/// The media route (outside `/api/v1`, not rate limited).
pub fn routes() -> OpenApiRouter<AppState> {
    // Keys span several segments (`products/<id>.jpg`), so the route is a wildcard; the OpenAPI
    // document keeps its single `{path}` parameter.
    let documented = OpenApiRouter::<AppState>::new().routes(routes!(media)).into_openapi();
    OpenApiRouter::with_openapi(documented).route("/media/{*path}", axum::routing::get(media))
}

#[utoipa::path(get, path = "/media/{path}", tag = "catalog", params(("path" = String, Path, description = "e.g. products/<id>.jpg")),
    responses((status = 200, description = "the image (immutable; cached for a year)"), (status = 404, description = "no such file")))]
async fn media(State(state): State<AppState>, Path(path): Path<String>, request: Request) -> Response {
    let not_found = || problem(StatusCode::NOT_FOUND, "not_found", "no such file", vec![]);
    // Only image keys are public; assets live under another prefix and are never served here.
    let key = format!("media/{path}");
    let Some(local) = state.market.files().local_path(&key) else {
        return not_found();
    };
    // Directories (e.g. `/media/products`) are not files to serve.
    if !tokio::fs::metadata(&local).await.is_ok_and(|m| m.is_file()) {
        return not_found();
    }
    match ServeFile::new(local).oneshot(request).await {
        Ok(response) if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED => {
            let mut response = response.into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            response
        }
        Ok(response) if response.status() == StatusCode::NOT_FOUND => not_found(),
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}
