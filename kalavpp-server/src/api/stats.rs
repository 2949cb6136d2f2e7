//! `GET /vendor/stats`, `GET /admin/stats` and `GET /admin/analytics`.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use kalavpp_core::Error;
use kalavpp_core::domain::{CategoryRanking, MarketplaceTotals, ProductSales, VendorRanking};
use kalavpp_core::services::{Analytics, Interval, VendorDashboard};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::parse_time;
use super::orders_dto::BalanceBody;
use crate::app::AppState;
use crate::extract::{AdminUser, ApiQuery, AuthUser};
use crate::http_error::{ApiResult, Problem};

/// The dashboard routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(vendor_stats))
}

/// The admin routes of this resource (`/admin/...`), mounted behind the admin gate.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(admin_stats)).routes(routes!(admin_analytics))
}

/// One day of a vendor's sales.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesDayBody {
    /// UTC day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// Paid orders with the vendor's lines that day.
    pub orders: i64,
    /// The vendor's gross that day.
    pub gross_cents: i64,
}

/// A product's sales.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductSalesBody {
    /// Product id.
    pub product_id: String,
    /// Current title.
    pub title: String,
    /// Current slug.
    pub slug: String,
    /// Its vendor.
    pub vendor_id: String,
    /// Units sold.
    pub units_sold: i64,
    /// Gross in cents.
    pub gross_cents: i64,
}

impl From<&ProductSales> for ProductSalesBody {
    fn from(p: &ProductSales) -> Self {
        Self {
            product_id: p.product_id.to_string(),
            title: p.title.clone(),
            slug: p.slug.clone(),
            vendor_id: p.vendor_id.to_string(),
            units_sold: p.units_sold,
            gross_cents: p.gross.cents(),
        }
    }
}

/// A vendor's dashboard. Sales figures count paid and completed orders (refunded ones are out);
/// `commission_cents + net_earnings_cents == gross_sales_cents`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorStatsBody {
    /// Own products in any status but archived.
    pub product_count: i64,
    /// Paid orders holding the vendor's lines.
    pub order_count: i64,
    /// Units sold.
    pub units_sold: i64,
    /// Sum of the vendor's line totals.
    pub gross_sales_cents: i64,
    /// The platform's commission on them.
    pub commission_cents: i64,
    /// What the vendor earns.
    pub net_earnings_cents: i64,
    /// Balances from the ledger.
    pub balance: BalanceBody,
    /// The last 30 days, oldest first, days without sales included.
    pub sales_by_day: Vec<SalesDayBody>,
    /// Best sellers by units.
    pub top_products: Vec<ProductSalesBody>,
    /// Installation currency.
    pub currency: String,
}

impl VendorStatsBody {
    fn new(d: VendorDashboard, currency: &str) -> Self {
        let s = d.sales;
        Self {
            product_count: s.product_count,
            order_count: s.order_count,
            units_sold: s.units_sold,
            gross_sales_cents: s.gross_sales.cents(),
            commission_cents: s.commission.cents(),
            net_earnings_cents: s.net_earnings.cents(),
            balance: d.balance.into(),
            sales_by_day: s
                .by_day
                .iter()
                .map(|d| SalesDayBody {
                    date: d.date,
                    orders: d.orders,
                    gross_cents: d.gross.cents(),
                })
                .collect(),
            top_products: s.top_products.iter().map(ProductSalesBody::from).collect(),
            currency: currency.to_owned(),
        }
    }
}

/// Accounts by role.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCountsBody {
    /// All accounts.
    pub total: i64,
    /// Customers.
    pub customers: i64,
    /// Vendors.
    pub vendors: i64,
    /// Admins.
    pub admins: i64,
    /// Created in the last 30 days.
    pub new_last_30d: i64,
}

/// Vendors by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorCountsBody {
    /// Waiting for a decision.
    pub pending: i64,
    /// Selling.
    pub approved: i64,
    /// Turned down.
    pub rejected: i64,
    /// Suspended.
    pub suspended: i64,
}

/// Products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductCountsBody {
    /// Published.
    pub published: i64,
    /// In any status.
    pub total: i64,
}

/// Orders by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCountsBody {
    /// All orders.
    pub total: i64,
    /// Paid and not refunded (`paid` plus `completed`).
    pub paid: i64,
    /// Of those, completed (every item shipped or delivered).
    pub completed: i64,
    /// Waiting for payment.
    pub pending_payment: i64,
    /// Refunded.
    pub refunded: i64,
}

/// Payout sums.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutSumsBody {
    /// Requests waiting for a decision.
    pub requested_cents: i64,
    /// Approved, not yet sent.
    pub approved_cents: i64,
    /// Sent.
    pub paid_cents: i64,
}

/// The admin dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminStatsBody {
    /// Accounts.
    pub users: UserCountsBody,
    /// Vendors.
    pub vendors: VendorCountsBody,
    /// Products.
    pub products: ProductCountsBody,
    /// Orders.
    pub orders: OrderCountsBody,
    /// Total of paid (and completed) orders; refunded ones are out.
    pub gmv_cents: i64,
    /// The platform's commission on them.
    pub commission_cents: i64,
    /// Payouts.
    pub payouts: PayoutSumsBody,
    /// Installation currency.
    pub currency: String,
}

impl AdminStatsBody {
    fn new(t: MarketplaceTotals, currency: &str) -> Self {
        Self {
            users: UserCountsBody {
                total: t.users_total,
                customers: t.customers,
                vendors: t.vendors,
                admins: t.admins,
                new_last_30d: t.new_users,
            },
            vendors: VendorCountsBody {
                pending: t.vendors_pending,
                approved: t.vendors_approved,
                rejected: t.vendors_rejected,
                suspended: t.vendors_suspended,
            },
            products: ProductCountsBody {
                published: t.products_published,
                total: t.products_total,
            },
            orders: OrderCountsBody {
                total: t.orders_total,
                paid: t.orders_paid + t.orders_completed,
                completed: t.orders_completed,
                pending_payment: t.orders_pending_payment,
                refunded: t.orders_refunded,
            },
            gmv_cents: t.gmv.cents(),
            commission_cents: t.commission.cents(),
            payouts: PayoutSumsBody {
                requested_cents: t.payouts_requested.cents(),
                approved_cents: t.payouts_approved.cents(),
                paid_cents: t.payouts_paid.cents(),
            },
            currency: currency.to_owned(),
        }
    }
}

/// Query of `GET /admin/analytics`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Start (RFC 3339 or `YYYY-MM-DD`); default 29 days before `to`.
    pub from: Option<String>,
    /// End, inclusive (RFC 3339 or `YYYY-MM-DD` = the whole day); default now.
    pub to: Option<String>,
    /// `day` (default), `week` or `month`.
    #[param(value_type = Option<super::enums::Interval>)]
    pub interval: Option<String>,
}

/// One period of the series.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodBody {
    /// `YYYY-MM-DD` for days and weeks (their Monday), `YYYY-MM` for months.
    pub period: String,
    /// Paid orders (not refunded since), by the time they were paid.
    pub orders: i64,
    /// Their totals.
    pub gmv_cents: i64,
    /// The platform's commission on them.
    pub commission_cents: i64,
    /// Accounts created.
    pub new_users: i64,
}

/// A vendor's sales in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorRankingBody {
    /// Vendor id.
    pub vendor_id: String,
    /// Shop name.
    pub shop_name: String,
    /// Shop slug.
    pub slug: String,
    /// Paid orders with its lines.
    pub orders: i64,
    /// Units sold.
    pub units_sold: i64,
    /// Gross in cents.
    pub gmv_cents: i64,
    /// Commission in cents.
    pub commission_cents: i64,
}

impl From<&VendorRanking> for VendorRankingBody {
    fn from(v: &VendorRanking) -> Self {
        Self {
            vendor_id: v.vendor_id.to_string(),
            shop_name: v.shop_name.clone(),
            slug: v.slug.clone(),
            orders: v.orders,
            units_sold: v.units_sold,
            gmv_cents: v.gross.cents(),
            commission_cents: v.commission.cents(),
        }
    }
}

/// A category's sales in the window (by each product's current category).
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRankingBody {
    /// Category id.
    pub category_id: String,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Units sold.
    pub units_sold: i64,
    /// Gross in cents.
    pub gmv_cents: i64,
}

impl From<&CategoryRanking> for CategoryRankingBody {
    fn from(c: &CategoryRanking) -> Self {
        Self {
            category_id: c.category_id.to_string(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            units_sold: c.units_sold,
            gmv_cents: c.gross.cents(),
        }
    }
}

/// Marketplace analytics.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsBody {
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end (inclusive).
    pub to: DateTime<Utc>,
    /// `day`, `week` or `month`.
    #[schema(value_type = super::enums::Interval)]
    pub interval: String,
    /// Every period of the window, oldest first, empty ones included.
    pub series: Vec<PeriodBody>,
    /// Best vendors by gross (10 at most).
    pub top_vendors: Vec<VendorRankingBody>,
    /// Best products by gross (10 at most).
    pub top_products: Vec<ProductSalesBody>,
    /// Best categories by gross (10 at most).
    pub top_categories: Vec<CategoryRankingBody>,
    /// Installation currency.
    pub currency: String,
}

impl AnalyticsBody {
    fn new(a: Analytics, currency: &str) -> Self {
        Self {
            from: a.from,
            to: a.to,
            interval: match a.interval {
                Interval::Day => "day",
                Interval::Week => "week",
                Interval::Month => "month",
            }
            .into(),
            series: a
                .series
                .into_iter()
                .map(|p| PeriodBody {
                    period: p.period,
                    orders: p.orders,
                    gmv_cents: p.gmv.cents(),
                    commission_cents: p.commission.cents(),
                    new_users: p.new_users,
                })
                .collect(),
            top_vendors: a.top_vendors.iter().map(VendorRankingBody::from).collect(),
            top_products: a.top_products.iter().map(ProductSalesBody::from).collect(),
            top_categories: a.top_categories.iter().map(CategoryRankingBody::from).collect(),
            currency: currency.to_owned(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/vendor/stats", tag = "vendors", security(("bearer" = [])),
    responses((status = 200, body = VendorStatsBody), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn vendor_stats(State(state): State<AppState>, AuthUser(actor): AuthUser) -> ApiResult<Json<VendorStatsBody>> {
    let dashboard = state.market.stats().vendor_dashboard(&actor).await?;
    Ok(Json(VendorStatsBody::new(dashboard, &state.market.config().currency)))
}

#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = AdminStatsBody), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn admin_stats(State(state): State<AppState>, AdminUser(actor): AdminUser) -> ApiResult<Json<AdminStatsBody>> {
    let totals = state.market.stats().marketplace(&actor).await?;
    Ok(Json(AdminStatsBody::new(totals, &state.market.config().currency)))
}

fn time_param(field: &str, value: Option<String>, end_of_day: bool) -> Result<Option<DateTime<Utc>>, Error> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(|v| parse_time(&v, end_of_day).map_err(|m| Error::invalid(field, m)))
        .transpose()
}

#[utoipa::path(get, path = "/api/v1/admin/analytics", tag = "admin", security(("bearer" = [])), params(AnalyticsQuery),
    responses((status = 200, body = AnalyticsBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem, description = "invalid parameters, or a window of more than 400 periods of `interval`")))]
async fn admin_analytics(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> ApiResult<Json<AnalyticsBody>> {
    let from = time_param("from", query.from, false);
    let to = time_param("to", query.to, true);
    let interval = query
        .interval
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|i| Interval::parse(i).map_err(|m| Error::invalid("interval", m)))
        .transpose();
    let mut errors = Vec::new();
    for err in [from.as_ref().err(), to.as_ref().err(), interval.as_ref().err()]
        .into_iter()
        .flatten()
    {
        if let Error::Validation(fields) = err {
            errors.extend(fields.iter().cloned());
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    let (from, to, interval) = (from?, to?, interval?.unwrap_or(Interval::Day));
    let analytics = state.market.stats().analytics(&actor, from, to, interval).await?;
    Ok(Json(AnalyticsBody::new(analytics, &state.market.config().currency)))
}
