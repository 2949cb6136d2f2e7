//! `/vendor/payouts` (own requests) and `/admin/payouts` (decisions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kalavpp_core::Error;
use kalavpp_core::domain::Payout;
use kalavpp_core::domain::{PayoutId, PayoutStatus, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::PayoutPage;
use crate::app::AppState;
use crate::extract::{AdminUser, ApiJson, ApiQuery, AuthUser, Pagination};
use crate::http_error::{ApiResult, Problem};

/// The payout routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_payouts, request_payout))
}

/// The admin routes of this resource (`/admin/...`), mounted behind the admin gate.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_payouts))
        .routes(routes!(admin_payout))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(mark_paid))
}

/// A payout request.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutBody {
    /// Request id.
    pub id: String,
    /// The vendor.
    pub vendor_id: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// Installation currency.
    pub currency: String,
    /// `requested`, `approved`, `paid` or `rejected`.
    #[schema(value_type = super::enums::PayoutStatus)]
    pub status: String,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// Transfer reference once paid.
    pub reference: Option<String>,
    /// When the vendor asked (RFC 3339).
    pub requested_at: DateTime<Utc>,
    /// When it was approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was rejected.
    pub rejected_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Payout> for PayoutBody {
    fn from(p: &Payout) -> Self {
        Self {
            id: p.id.to_string(),
            vendor_id: p.vendor_id.to_string(),
            amount_cents: p.amount.cents(),
            currency: p.currency.clone(),
            status: p.status.to_string(),
            rejection_reason: p.rejection_reason.clone(),
            reference: p.reference.clone(),
            requested_at: p.requested_at,
            approved_at: p.approved_at,
            paid_at: p.paid_at,
            rejected_at: p.rejected_at,
            updated_at: p.updated_at,
        }
    }
}

/// A vendor's payout request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// Amount in cents, > 0 and at most the available balance.
    #[serde(deserialize_with = "crate::extract::whole_number")]
    #[schema(minimum = 1, maximum = 100_000_000_000i64)]
    pub amount_cents: i64,
}

/// Why a payout is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectPayoutRequest {
    /// Shown to the vendor (1 to 1000 characters).
    pub reason: String,
}

/// How a payout was sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaidRequest {
    /// Transfer reference (1 to 200 characters).
    pub reference: String,
}

/// Filters of payout lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayoutListQuery {
    /// `requested`, `approved`, `paid` or `rejected`.
    #[param(value_type = Option<super::enums::PayoutStatus>)]
    pub status: Option<String>,
    /// Only this vendor's requests (admin list only).
    #[param(format = Uuid)]
    pub vendor: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

fn status_filter(query: &PayoutListQuery) -> Result<Option<PayoutStatus>, Error> {
    query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| PayoutStatus::parse(s).map_err(|m| Error::invalid("status", m)))
        .transpose()
}

fn payout_id(text: &str) -> Result<PayoutId, Error> {
    PayoutId::parse(text).ok_or_else(|| Error::not_found("payout_not_found", "payout not found"))
}

/// Filters of `GET /vendor/payouts` (the document's view of [`PayoutListQuery`]: no `vendor`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "read only by the OpenAPI document (IntoParams), never constructed")]
pub struct VendorPayoutListQuery {
    /// `requested`, `approved`, `paid` or `rejected`.
    #[param(value_type = Option<super::enums::PayoutStatus>)]
    status: Option<String>,
    /// 1-based page.
    page: Option<i64>,
    /// Page size, at most 100.
    per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/vendor/payouts", tag = "vendors", security(("bearer" = [])), params(VendorPayoutListQuery),
    responses((status = 200, body = PayoutPage, description = "own payout requests, newest first"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn my_payouts(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<PayoutListQuery>,
) -> ApiResult<Json<PayoutPage>> {
    let status = status_filter(&query)?;
    let payouts = state.market.payouts().mine(&actor, status, page).await?;
    Ok(Json(PayoutPage::from_page_ref(&payouts, |p| PayoutBody::from(p))))
}

#[utoipa::path(post, path = "/api/v1/vendor/payouts", tag = "vendors", security(("bearer" = [])), request_body = PayoutRequest,
    responses((status = 201, body = PayoutBody, description = "requested; the amount is held"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 409, body = Problem, description = "more than the available balance"),
              (status = 422, body = Problem)))]
async fn request_payout(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiJson(body): ApiJson<PayoutRequest>,
) -> ApiResult<(StatusCode, Json<PayoutBody>)> {
    let payout = state.market.payouts().request(&actor, body.amount_cents).await?;
    Ok((StatusCode::CREATED, Json((&payout).into())))
}

#[utoipa::path(get, path = "/api/v1/admin/payouts", tag = "admin", security(("bearer" = [])), params(PayoutListQuery),
    responses((status = 200, body = PayoutPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn admin_payouts(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<PayoutListQuery>,
) -> ApiResult<Json<PayoutPage>> {
    let status = status_filter(&query)?;
    let vendor = query
        .vendor
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| VendorId::parse(v).ok_or_else(|| Error::invalid("vendor", "must be a vendor id")))
        .transpose()?;
    let payouts = state.market.payouts().list(&actor, status, vendor, page).await?;
    Ok(Json(PayoutPage::from_page_ref(&payouts, |p| PayoutBody::from(p))))
}

#[utoipa::path(get, path = "/api/v1/admin/payouts/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PayoutBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn admin_payout(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<Json<PayoutBody>> {
    Ok(Json((&state.market.payouts().get(&actor, payout_id(&id)?).await?).into()))
}

#[utoipa::path(post, path = "/api/v1/admin/payouts/{id}/approve", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PayoutBody, description = "approved"), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem, description = "not `requested`")))]
async fn approve(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<Json<PayoutBody>> {
    Ok(Json((&state.market.payouts().approve(&actor, payout_id(&id)?).await?).into()))
}

#[utoipa::path(post, path = "/api/v1/admin/payouts/{id}/reject", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = RejectPayoutRequest,
    responses((status = 200, body = PayoutBody, description = "rejected; the held amount is available again"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reject(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectPayoutRequest>,
) -> ApiResult<Json<PayoutBody>> {
    Ok(Json(
        (&state.market.payouts().reject(&actor, payout_id(&id)?, &body.reason).await?).into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/payouts/{id}/mark-paid", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = MarkPaidRequest,
    responses((status = 200, body = PayoutBody, description = "paid; the held amount leaves the ledger as a payout"), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "not `approved` (e.g. already paid)"),
              (status = 422, body = Problem)))]
async fn mark_paid(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MarkPaidRequest>,
) -> ApiResult<Json<PayoutBody>> {
    Ok(Json(
        (&state.market.payouts().mark_paid(&actor, payout_id(&id)?, &body.reference).await?).into(),
    ))
}
