//! `/vendors` (public), `/vendor` (own shop) and `/admin/vendors`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kalavpp_core::Error;
use kalavpp_core::domain::VendorFilter;
use kalavpp_core::domain::{VendorId, VendorStatus};
use kalavpp_core::services::{VendorApplication, VendorProfileEdit};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog_dto::{VendorBody, VendorPublicBody};
use super::dto::{ProductPage, VendorPage, VendorPublicPage};
use crate::app::AppState;
use crate::extract::{AdminUser, ApiJson, ApiQuery, AuthUser, Pagination, double_option};
use crate::http_error::{ApiResult, Problem};

/// The vendor routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(apply))
        .routes(routes!(list_vendors))
        .routes(routes!(vendor_profile))
        .routes(routes!(my_vendor, update_my_vendor))
        .routes(routes!(my_products))
}

/// The admin routes of this resource (`/admin/...`), mounted behind the admin gate.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_list_vendors))
        .routes(routes!(admin_update_vendor))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
}

/// A vendor application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// Shop name, 2 to 80 characters (the slug is made from it).
    pub shop_name: String,
    /// Public description, up to 5000 characters.
    pub bio: Option<String>,
    /// Private payout details (object or string, up to 4 KiB).
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
}

/// Changes to the own shop (`null` clears `bio` / `payout_details`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVendorRequest {
    /// New shop name.
    pub shop_name: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub bio: Option<Option<String>>,
    /// New payout details.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<Option<serde_json::Value>>,
}

/// An admin's change to a vendor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminVendorRequest {
    /// Commission override in basis points (0..=10000); `null` returns to the default rate.
    #[serde(default, deserialize_with = "crate::extract::double_option_whole_number")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10_000)]
    pub commission_bps: Option<Option<i64>>,
}

/// Why an application is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the applicant (1 to 1000 characters).
    pub reason: String,
}

/// Filters of `GET /admin/vendors`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VendorListQuery {
    /// `pending`, `approved`, `rejected` or `suspended`.
    #[param(value_type = Option<super::enums::VendorStatus>)]
    pub status: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

fn vendor_id(text: &str) -> Result<VendorId, Error> {
    VendorId::parse(text).ok_or_else(|| Error::not_found("vendor_not_found", "vendor not found"))
}

#[utoipa::path(post, path = "/api/v1/vendors/apply", tag = "vendors", security(("bearer" = [])), request_body = ApplyRequest,
    responses((status = 201, body = VendorBody, description = "application stored as pending"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem, description = "already applied"), (status = 422, body = Problem)))]
async fn apply(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiJson(body): ApiJson<ApplyRequest>,
) -> ApiResult<(StatusCode, Json<VendorBody>)> {
    let application = VendorApplication {
        shop_name: body.shop_name,
        bio: body.bio,
        payout_details: body.payout_details,
    };
    let vendor = state.market.vendors().apply(&actor, application).await?;
    Ok((StatusCode::CREATED, Json(vendor.into())))
}

#[utoipa::path(get, path = "/api/v1/vendors", tag = "vendors", params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = VendorPublicPage, description = "approved vendors")))]
async fn list_vendors(State(state): State<AppState>, Pagination(page): Pagination) -> ApiResult<Json<VendorPublicPage>> {
    let vendors = state.market.vendors().list_public(page).await?;
    Ok(Json(VendorPublicPage::from_page_ref(&vendors, |v| VendorPublicBody::from(v))))
}

#[utoipa::path(get, path = "/api/v1/vendors/{id_or_slug}", tag = "vendors", params(("id_or_slug" = String, Path)),
    responses((status = 200, body = VendorPublicBody), (status = 404, body = Problem)))]
async fn vendor_profile(State(state): State<AppState>, Path(id_or_slug): Path<String>) -> ApiResult<Json<VendorPublicBody>> {
    let vendor = state.market.vendors().public(&id_or_slug).await?;
    Ok(Json(VendorPublicBody::from(&vendor)))
}

#[utoipa::path(get, path = "/api/v1/vendor/me", tag = "vendors", security(("bearer" = [])),
    responses((status = 200, body = VendorBody), (status = 401, body = Problem), (status = 404, body = Problem, description = "no application")))]
async fn my_vendor(State(state): State<AppState>, AuthUser(actor): AuthUser) -> ApiResult<Json<VendorBody>> {
    Ok(Json(state.market.vendors().mine(&actor).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/vendor/me", tag = "vendors", security(("bearer" = [])), request_body = UpdateVendorRequest,
    responses((status = 200, body = VendorBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_my_vendor(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiJson(body): ApiJson<UpdateVendorRequest>,
) -> ApiResult<Json<VendorBody>> {
    let edit = VendorProfileEdit {
        shop_name: body.shop_name,
        bio: body.bio,
        payout_details: body.payout_details,
    };
    Ok(Json(state.market.vendors().update_mine(&actor, edit).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/vendor/products", tag = "vendors", security(("bearer" = [])),
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = ProductPage, description = "own products in every status"), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn my_products(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Pagination(page): Pagination,
) -> ApiResult<Json<ProductPage>> {
    let products = state.market.catalog().vendor_products(&actor, page).await?;
    let currency = &state.market.config().currency;
    Ok(Json(ProductPage::from_page_ref(&products, |p| {
        state.media_urls.product(p, currency)
    })))
}

#[utoipa::path(get, path = "/api/v1/admin/vendors", tag = "admin", security(("bearer" = [])), params(VendorListQuery),
    responses((status = 200, body = VendorPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn admin_list_vendors(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<VendorListQuery>,
) -> ApiResult<Json<VendorPage>> {
    let status = query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| VendorStatus::parse(s).map_err(|m| Error::invalid("status", m)))
        .transpose()?;
    let vendors = state.market.vendors().list_all(&actor, VendorFilter { status }, page).await?;
    Ok(Json(VendorPage::from_page(vendors, VendorBody::from)))
}

#[utoipa::path(patch, path = "/api/v1/admin/vendors/{id}", tag = "admin", security(("bearer" = [])), request_body = AdminVendorRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = VendorBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn admin_update_vendor(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AdminVendorRequest>,
) -> ApiResult<Json<VendorBody>> {
    let Some(commission) = body.commission_bps else {
        return Err(Error::invalid("commission_bps", "nothing to change").into());
    };
    Ok(Json(
        state
            .market
            .vendors()
            .set_commission(&actor, vendor_id(&id)?, commission)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/vendors/{id}/approve", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = VendorBody, description = "approved; the user becomes a vendor"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn approve(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<Json<VendorBody>> {
    Ok(Json(state.market.vendors().approve(&actor, vendor_id(&id)?).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/admin/vendors/{id}/reject", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = RejectRequest,
    responses((status = 200, body = VendorBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reject(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> ApiResult<Json<VendorBody>> {
    Ok(Json(
        state.market.vendors().reject(&actor, vendor_id(&id)?, &body.reason).await?.into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/vendors/{id}/suspend", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = VendorBody, description = "suspended; products hidden"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn suspend(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<Json<VendorBody>> {
    Ok(Json(state.market.vendors().suspend(&actor, vendor_id(&id)?).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/admin/vendors/{id}/reinstate", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = VendorBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
async fn reinstate(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<Json<VendorBody>> {
    Ok(Json(state.market.vendors().reinstate(&actor, vendor_id(&id)?).await?.into()))
}
