//! The REST API under `/api/v1` and its OpenAPI document.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod catalog_dto;
pub mod dev_checkout;
pub mod dto;
pub mod enums;
pub mod health;
pub mod media;
pub mod openapi;
pub mod orders;
pub mod orders_dto;
pub mod payouts;
pub mod reviews;
pub mod stats;
pub mod vendors;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::admin_gate::admin_only;
use crate::app::AppState;
use crate::guard::Guard;
use crate::rate_limit::{IpRateLimit, OnWrites};

#[derive(OpenApi)]
#[openapi(
    info(title = "KALAVPP API", description = "Multi-vendor marketplace REST API (v1)."),
    modifiers(&BearerAuth),
    components(schemas(
        enums::Role, enums::AssignableRole, enums::UserStatus, enums::VendorStatus, enums::ProductKind,
        enums::ProductStatus, enums::NewProductStatus, enums::ProductSort, enums::OrderStatus,
        enums::FulfilmentStatus, enums::PayoutStatus, enums::LedgerKind, enums::LedgerBucket,
        enums::EmailStatus, enums::Interval, enums::PaymentActionKind, enums::PaymentActionStatus,
        enums::WebhookOutcome,
    )),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "vendors", description = "Vendor applications and shops"),
        (name = "catalog", description = "Categories and products"),
        (name = "orders", description = "Cart, checkout, orders, payments and downloads"),
        (name = "reviews", description = "Product reviews by buyers"),
        (name = "admin", description = "Administration (role admin)"),
        (name = "operations", description = "Health and documentation"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The whole HTTP surface: health routes, `/api/v1` with its credential rate limits (the general
/// one is the [`EdgeGate`](crate::edge::EdgeGate)'s), and the OpenAPI document.
pub fn router(state: AppState, general: IpRateLimit, credentials: IpRateLimit) -> Router {
    let max_asset_bytes = state.market.config().max_asset_bytes;
    let panel = crate::admin::routes(credentials.clone());
    // One pool of image-upload slots for the API and the studio.
    let image_slots = crate::upload_limits::image_upload_slots();
    let storefront = if state.settings.storefront {
        crate::storefront::routes(credentials.clone()).merge(crate::studio::routes(image_slots.clone(), max_asset_bytes, general.clone()))
    } else {
        Router::new().route("/", get(crate::storefront::api_index))
    };
    let credential_routes = auth::credential_routes().layer(Guard(credentials.clone()));
    let me_routes = auth::me_routes().layer(Guard(OnWrites(credentials)));
    // Every `/admin/...` route, and only those, behind the admin gate.
    let admin_routes = OpenApiRouter::new()
        .merge(admin::routes())
        .merge(vendors::admin_routes())
        .merge(payouts::admin_routes())
        .merge(stats::admin_routes())
        .merge(catalog::admin_routes())
        .merge(orders::admin_routes())
        .merge(reviews::admin_routes());
    let v1 = OpenApiRouter::new()
        .merge(credential_routes)
        .merge(auth::routes())
        .merge(me_routes)
        .merge(admin_only(state.clone(), admin_routes))
        .merge(vendors::routes())
        .merge(payouts::routes())
        .merge(stats::routes())
        .merge(catalog::routes())
        .merge(catalog::upload_routes(max_asset_bytes, image_slots))
        .merge(orders::routes())
        .merge(reviews::routes())
        .merge(orders::webhook_routes());
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        // The routes carry their full `/api/v1/...` paths: nesting would strip the prefix and
        // re-parse the URI through one more boxed service on every request.
        .merge(v1)
        .merge(health::routes())
        .merge(media::routes())
        .split_for_parts();
    env!("CARGO_PKG_VERSION").clone_into(&mut openapi.info.version);
    let document = Bytes::from(serde_json::to_vec(&openapi::finish(&openapi)).unwrap_or_else(|_| b"{}".to_vec()));
    // Swagger UI from the binary (`vendored`); it reads the document above, the validator badge
    // (which would call swagger.io) is off.
    let docs = utoipa_swagger_ui::SwaggerUi::new("/api/docs")
        .config(utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"]).validator_url("none"));
    api.merge(dev_checkout::routes())
        .merge(docs)
        .merge(panel)
        .merge(storefront)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .layer(crate::metrics::Track(state.metrics.clone()))
        .with_state(state)
}
