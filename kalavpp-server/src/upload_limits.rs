//! Time and concurrency bounds around request handling: every request but a digital-asset
//! upload must finish within 30 s (asset uploads stream for as long as they keep the core's
//! minimum transfer rate), and only a few image uploads are read into memory at once.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// How long any other request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `POST /api/v1/products/{id}/asset` and the studio's `POST /studio/works/{id}/file`: streamed,
/// exempt from [`REQUEST_TIMEOUT`].
pub fn is_asset_upload(method: &Method, path: &str) -> bool {
    let one_segment = |id: &str| !id.is_empty() && !id.contains('/');
    method == Method::POST
        && (path
            .strip_prefix("/api/v1/products/")
            .and_then(|rest| rest.strip_suffix("/asset"))
            .is_some_and(one_segment)
            || path
                .strip_prefix("/studio/works/")
                .and_then(|rest| rest.strip_suffix("/file"))
                .is_some_and(one_segment))
}

/// How many image uploads are read and processed at once (each body is up to 10 MiB in memory);
/// more wait for a turn, their bodies still unread.
pub fn image_upload_slots() -> Arc<Semaphore> {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    Arc::new(Semaphore::new(cores * 2))
}

/// Middleware holding one image-upload slot for the whole request.
pub async fn one_image_upload_at_a_time(State(slots): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    let Ok(_slot) = slots.acquire_owned().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asset_uploads_skip_the_timeout() {
        assert!(is_asset_upload(&Method::POST, "/api/v1/products/0190/asset"));
        assert!(!is_asset_upload(&Method::GET, "/api/v1/products/0190/asset"));
        assert!(!is_asset_upload(&Method::POST, "/api/v1/products/0190/images"));
        assert!(!is_asset_upload(&Method::POST, "/api/v1/products//asset"));
        assert!(!is_asset_upload(&Method::POST, "/api/v1/products/a/b/asset"));
        assert!(!is_asset_upload(&Method::POST, "/api/v1/orders/x/asset"));
        assert!(is_asset_upload(&Method::POST, "/studio/works/0190/file"));
        assert!(!is_asset_upload(&Method::POST, "/studio/works/0190/images"));
        assert!(!is_asset_upload(&Method::POST, "/studio/works/a/b/file"));
    }
}
