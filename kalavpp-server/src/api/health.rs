//! `/healthz` and `/readyz`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Health routes (not rate limited).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Health status.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthBody, description = "the process is up")))]
async fn healthz() -> impl axum::response::IntoResponse {
    // The serialized `HealthBody { status: "ok" }`, as static bytes: liveness probes are frequent.
    ([(axum::http::header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = HealthBody, description = "the database answers"), (status = 503, body = HealthBody)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let database = Some(state.market.backend_name());
    match state.market.ready().await {
        Ok(()) => (StatusCode::OK, Json(HealthBody { status: "ok", database })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthBody {
                    status: "unavailable",
                    database,
                }),
            )
        }
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", description = "Prometheus text: request counts and durations by route, cache, outbox and marketplace gauges"),
              (status = 401, body = crate::http_error::Problem, description = "`METRICS_TOKEN` is set and was not presented")))]
async fn metrics(state: State<AppState>, headers: axum::http::HeaderMap) -> axum::response::Response {
    crate::metrics::scrape(state, headers).await
}
