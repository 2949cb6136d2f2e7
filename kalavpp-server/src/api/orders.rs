//! `/cart`, `/checkout`, `/orders`, `/downloads`, `/payments/webhook`, the vendor's orders and
//! earnings, and `/admin/orders`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use kalavpp_core::Error;
use kalavpp_core::domain::OrderFilter;
use kalavpp_core::domain::{OrderId, OrderItemId, OrderStatus, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::parse_time;
use super::dto::OrderPage;
use super::orders_dto::{
    AdminOrderBody, BalanceBody, CartBody, CheckoutBody, DownloadBody, LedgerEntryBody, OrderBody, OrderItemBody, PaymentActionBody,
};
use crate::app::AppState;
use crate::extract::{AdminUser, ApiJson, ApiQuery, AuthUser, JsonOrEmpty, Pagination};
use crate::http_error::{ApiResult, Problem};
use crate::stored_file::{Served, serve_stored};

/// The order routes behind the general rate limit.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(add_to_cart))
        .routes(routes!(set_cart_quantity, remove_from_cart))
        .routes(routes!(checkout))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(order_downloads))
        .routes(routes!(download))
        .routes(routes!(vendor_orders))
        .routes(routes!(fulfil))
        .routes(routes!(earnings))
}

/// The admin routes of this resource (`/admin/...`), mounted behind the admin gate.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_orders))
        .routes(routes!(admin_order))
        .routes(routes!(refund))
}

/// The provider webhook (not rate limited: the provider retries from few addresses).
pub fn webhook_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook))
}

/// A product to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToCartRequest {
    /// The product id.
    pub product_id: String,
    /// Units to add (1 to 1000).
    #[serde(deserialize_with = "crate::extract::whole_number")]
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// A new quantity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityRequest {
    /// 0 removes the line.
    #[serde(deserialize_with = "crate::extract::whole_number")]
    #[schema(minimum = 0, maximum = 1000)]
    pub quantity: i64,
}

/// Checkout options.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// `{name, line1, line2?, city, postal_code, country, phone?}`; required when any item is physical.
    #[schema(value_type = Option<Object>)]
    pub shipping_address: Option<serde_json::Value>,
}

/// Shipping details of a fulfilled line.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfilRequest {
    /// Carrier tracking number.
    pub tracking_number: Option<String>,
    /// Carrier name.
    pub carrier: Option<String>,
}

/// Filters of order lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Order status.
    #[param(value_type = Option<super::enums::OrderStatus>)]
    pub status: Option<String>,
    /// Vendor id (admin only).
    #[param(format = Uuid)]
    pub vendor: Option<String>,
    /// Created from (RFC 3339 or YYYY-MM-DD).
    pub from: Option<String>,
    /// Created up to (inclusive).
    pub to: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

/// A vendor's balance and one page of its ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarningsBody {
    /// Balances in cents.
    pub balance: BalanceBody,
    /// Ledger entries of this page, newest first.
    pub entries: Vec<LedgerEntryBody>,
    /// 1-based page number of `entries`.
    pub page: u32,
    /// Page size (at most 100).
    pub per_page: u32,
    /// Ledger entries in all.
    pub total: i64,
}

/// Webhook acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBody {
    /// Always true for a verified event.
    pub received: bool,
    /// `applied`, `duplicate`, `ignored` or `auto_refund`.
    #[schema(value_type = super::enums::WebhookOutcome)]
    pub outcome: &'static str,
}

fn order_id(text: &str) -> Result<OrderId, Error> {
    OrderId::parse(text).ok_or_else(|| Error::not_found("order_not_found", "order not found"))
}

fn blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn order_filter(query: OrderListQuery, allow_vendor: bool) -> Result<OrderFilter, Error> {
    let status = blank(query.status)
        .map(|s| OrderStatus::parse(&s).map_err(|m| Error::invalid("status", m)))
        .transpose()?;
    let vendor = match blank(query.vendor) {
        Some(v) if allow_vendor => Some(VendorId::parse(&v).ok_or_else(|| Error::invalid("vendor", "must be a vendor id"))?),
        _ => None,
    };
    let from = blank(query.from)
        .map(|t| parse_time(&t, false).map_err(|m| Error::invalid("from", m)))
        .transpose()?;
    let to = blank(query.to)
        .map(|t| parse_time(&t, true).map_err(|m| Error::invalid("to", m)))
        .transpose()?;
    Ok(OrderFilter {
        user_id: None,
        vendor_id: vendor,
        status,
        from,
        to,
    })
}

#[utoipa::path(get, path = "/api/v1/cart", tag = "orders", security(("bearer" = [])), responses((status = 200, body = CartBody), (status = 401, body = Problem)))]
async fn get_cart(State(state): State<AppState>, AuthUser(actor): AuthUser) -> ApiResult<Json<CartBody>> {
    Ok(Json(state.market.cart().view(&actor).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/cart/items", tag = "orders", security(("bearer" = [])), request_body = AddToCartRequest,
    responses((status = 200, body = CartBody), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "over stock"), (status = 422, body = Problem, description = "not for sale, own product, bad quantity")))]
async fn add_to_cart(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiJson(body): ApiJson<AddToCartRequest>,
) -> ApiResult<Json<CartBody>> {
    Ok(Json(state.market.cart().add(&actor, &body.product_id, body.quantity).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/cart/items/{product_id}", tag = "orders", security(("bearer" = [])), request_body = QuantityRequest,
    params(("product_id" = String, Path)),
    responses((status = 200, body = CartBody), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn set_cart_quantity(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(product_id): Path<String>,
    ApiJson(body): ApiJson<QuantityRequest>,
) -> ApiResult<Json<CartBody>> {
    Ok(Json(state.market.cart().set(&actor, &product_id, body.quantity).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/cart/items/{product_id}", tag = "orders", security(("bearer" = [])), params(("product_id" = String, Path)),
    responses((status = 200, body = CartBody), (status = 401, body = Problem)))]
async fn remove_from_cart(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(product_id): Path<String>,
) -> ApiResult<Json<CartBody>> {
    Ok(Json(state.market.cart().remove(&actor, &product_id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/checkout", tag = "orders", security(("bearer" = [])), request_body = CheckoutRequest,
    responses((status = 201, body = CheckoutBody), (status = 401, body = Problem), (status = 409, body = Problem, description = "out of stock"),
              (status = 422, body = Problem, description = "empty cart or missing shipping address"), (status = 502, body = Problem)))]
async fn checkout(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    JsonOrEmpty(body): JsonOrEmpty<CheckoutRequest>,
) -> ApiResult<(StatusCode, Json<CheckoutBody>)> {
    let outcome = state.market.orders().checkout(&actor, body.shipping_address).await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckoutBody {
            order: (&outcome.order).into(),
            checkout_url: outcome.checkout_url,
            payment_session_id: outcome.payment_session_id,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = OrderPage), (status = 401, body = Problem)))]
async fn list_orders(State(state): State<AppState>, AuthUser(actor): AuthUser, Pagination(page): Pagination) -> ApiResult<Json<OrderPage>> {
    let orders = state.market.orders().mine(&actor, page).await?;
    Ok(Json(OrderPage::from_page_ref(&orders, |o| OrderBody::from(o))))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OrderBody), (status = 401, body = Problem), (status = 404, body = Problem, description = "unknown or another user's order")))]
async fn get_order(State(state): State<AppState>, AuthUser(actor): AuthUser, Path(id): Path<String>) -> ApiResult<Json<OrderBody>> {
    Ok(Json((&state.market.orders().get(&actor, order_id(&id)?).await?).into()))
}

#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OrderBody), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_order(State(state): State<AppState>, AuthUser(actor): AuthUser, Path(id): Path<String>) -> ApiResult<Json<OrderBody>> {
    Ok(Json((&state.market.orders().cancel(&actor, order_id(&id)?).await?).into()))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}/downloads", tag = "orders", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<DownloadBody>), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "not paid")))]
async fn order_downloads(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DownloadBody>>> {
    let links = state.market.downloads().links(&actor, order_id(&id)?).await?;
    Ok(Json(
        links
            .into_iter()
            .map(|l| DownloadBody::new(l, &state.settings.backend_url))
            .collect(),
    ))
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266 / 5987).
fn content_disposition(filename: &str) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// What a download request is.
enum DownloadRequest {
    /// A `GET` from byte 0 (no `Range`, or one starting at 0, or a suffix range): counted.
    Start,
    /// A `HEAD`: never counted.
    Head,
    /// A `Range` after byte 0: free within an hour of a counted download of the link, counted
    /// otherwise.
    Continue,
}

fn download_kind(request: &Request) -> DownloadRequest {
    if request.method() == axum::http::Method::HEAD {
        return DownloadRequest::Head;
    }
    let Some(range) = request.headers().get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return DownloadRequest::Start;
    };
    let first = range.trim().strip_prefix("bytes=").and_then(|r| r.split(',').next()).map(str::trim);
    match first.and_then(|r| r.split_once('-')) {
        Some((start, _)) if !(start.trim().is_empty() || start.trim().trim_start_matches('0').is_empty()) => DownloadRequest::Continue,
        _ => DownloadRequest::Start,
    }
}

#[utoipa::path(get, path = "/api/v1/downloads/{token}", tag = "orders", params(("token" = String, Path, description = "signed link token")),
    responses((status = 200, description = "the file (attachment; Range supported)"), (status = 206, description = "partial content"),
              (status = 403, body = Problem, description = "tampered"), (status = 410, body = Problem, description = "expired or used up")))]
async fn download(State(state): State<AppState>, Path(token): Path<String>, request: Request) -> ApiResult<Response> {
    // One download is one request from byte 0: a `HEAD`, or a `Range` continuing a download,
    // does not count again.
    let downloads = state.market.downloads();
    let file = match download_kind(&request) {
        DownloadRequest::Start => downloads.open(&token).await?,
        DownloadRequest::Head => downloads.check(&token).await?,
        DownloadRequest::Continue => downloads.resume(&token).await?,
    };
    let mut response = match serve_stored(state.market.files(), &file.key, request, None).await {
        Ok(Served::Response(response)) => response,
        Ok(Served::Missing) => return Err(Error::Internal(format!("asset file missing for key {}", file.key)).into()),
        Err(e) => return Err(Error::Internal(format!("reading asset {}: {e}", file.key)).into()),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&file.filename));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/payments/webhook", tag = "orders",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the body (`t=…,v1=…`)")),
    request_body(content = String, description = "the raw event, signed in the `Stripe-Signature` header"),
    responses((status = 200, body = WebhookBody), (status = 400, body = Problem, description = "bad, missing or stale signature"),
              (status = 413, body = Problem, description = "the body is larger than 1 MiB")))]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<WebhookBody>> {
    let body = body.map_err(crate::extract::body_rejection)?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let outcome = state.market.orders().handle_webhook(&body, signature).await?;
    let outcome = match outcome {
        kalavpp_core::domain::EventOutcome::Applied => "applied",
        kalavpp_core::domain::EventOutcome::Duplicate => "duplicate",
        kalavpp_core::domain::EventOutcome::Ignored => "ignored",
        kalavpp_core::domain::EventOutcome::AutoRefund => "auto_refund",
    };
    Ok(Json(WebhookBody { received: true, outcome }))
}

/// Filters of `GET /vendor/orders` (the document's view of [`OrderListQuery`]: no `vendor`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "read only by the OpenAPI document (IntoParams), never constructed")]
pub struct VendorOrderListQuery {
    /// Order status.
    #[param(value_type = Option<super::enums::OrderStatus>)]
    status: Option<String>,
    /// Created from (RFC 3339 or YYYY-MM-DD).
    from: Option<String>,
    /// Created up to (inclusive).
    to: Option<String>,
    /// 1-based page.
    page: Option<i64>,
    /// Page size, at most 100.
    per_page: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/vendor/orders", tag = "vendors", security(("bearer" = [])), params(VendorOrderListQuery),
    responses((status = 200, body = OrderPage, description = "orders with only this vendor's lines"), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn vendor_orders(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<OrderListQuery>,
) -> ApiResult<Json<OrderPage>> {
    let filter = order_filter(query, false)?;
    let orders = state.market.orders().for_vendor(&actor, filter, page).await?;
    Ok(Json(OrderPage::from_page_ref(&orders, |o| OrderBody::from(o))))
}

#[utoipa::path(post, path = "/api/v1/vendor/orders/{order_id}/items/{item_id}/fulfil", tag = "vendors", security(("bearer" = [])),
    params(("order_id" = String, Path), ("item_id" = String, Path)), request_body = FulfilRequest,
    responses((status = 200, body = OrderItemBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn fulfil(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path((order, item)): Path<(String, String)>,
    JsonOrEmpty(body): JsonOrEmpty<FulfilRequest>,
) -> ApiResult<Json<OrderItemBody>> {
    let item = OrderItemId::parse(&item).ok_or_else(|| Error::not_found("order_item_not_found", "order line not found"))?;
    let shipped = state
        .market
        .orders()
        .fulfil(&actor, order_id(&order)?, item, body.tracking_number, body.carrier)
        .await?;
    Ok(Json((&shipped).into()))
}

#[utoipa::path(get, path = "/api/v1/vendor/earnings", tag = "vendors", security(("bearer" = [])), params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = EarningsBody), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn earnings(State(state): State<AppState>, AuthUser(actor): AuthUser, Pagination(page): Pagination) -> ApiResult<Json<EarningsBody>> {
    let earnings = state.market.orders().earnings(&actor, page).await?;
    Ok(Json(EarningsBody {
        balance: earnings.balance.into(),
        entries: earnings.entries.items.iter().map(LedgerEntryBody::from).collect(),
        page: earnings.entries.page,
        per_page: earnings.entries.per_page,
        total: earnings.entries.total,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin", security(("bearer" = [])), params(OrderListQuery),
    responses((status = 200, body = OrderPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn admin_orders(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<OrderListQuery>,
) -> ApiResult<Json<OrderPage>> {
    let orders = state.market.orders().list_all(&actor, order_filter(query, true)?, page).await?;
    Ok(Json(OrderPage::from_page_ref(&orders, |o| OrderBody::from(o))))
}

#[utoipa::path(get, path = "/api/v1/admin/orders/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AdminOrderBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn admin_order(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
) -> ApiResult<Json<AdminOrderBody>> {
    let id = order_id(&id)?;
    let orders = state.market.orders();
    let order = orders.get(&actor, id).await?;
    let actions = orders.payment_actions(&actor, id).await?;
    Ok(Json(AdminOrderBody {
        order: (&order).into(),
        payment_actions: actions.iter().map(PaymentActionBody::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/refund", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = OrderBody, description = "refunded"), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem, description = "not paid or already refunded"), (status = 502, body = Problem)))]
async fn refund(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<Json<OrderBody>> {
    Ok(Json((&state.market.orders().refund(&actor, order_id(&id)?).await?).into()))
}
