//! Dashboards and analytics: aggregates computed by the database.

use chrono::NaiveDate;
use serde::Serialize;

use super::{CategoryId, Money, ProductId, Timestamp, VendorId};

/// Sales figures of one vendor over its paid (and completed) orders; refunded orders are out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VendorSales {
    /// Products in any status but archived.
    pub product_count: i64,
    /// Paid orders holding at least one of the vendor's lines.
    pub order_count: i64,
    /// Units sold on those orders.
    pub units_sold: i64,
    /// Sum of the vendor's line totals.
    pub gross_sales: Money,
    /// The platform's commission on them.
    pub commission: Money,
    /// What the vendor earns (`gross_sales - commission`).
    pub net_earnings: Money,
    /// Per paid day since the window start (days without sales are absent).
    pub by_day: Vec<DaySales>,
    /// Best sellers by units, then gross.
    pub top_products: Vec<ProductSales>,
}

/// One day of sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DaySales {
    /// The UTC day.
    pub date: NaiveDate,
    /// Paid orders that day.
    pub orders: i64,
    /// Gross amount that day.
    pub gross: Money,
    /// Commission that day.
    pub commission: Money,
}

/// A product's sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSales {
    /// The product.
    pub product_id: ProductId,
    /// Its current title.
    pub title: String,
    /// Its slug.
    pub slug: String,
    /// Its vendor.
    pub vendor_id: VendorId,
    /// Units sold.
    pub units_sold: i64,
    /// Gross amount.
    pub gross: Money,
}

/// A vendor's sales (admin analytics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorRanking {
    /// The vendor.
    pub vendor_id: VendorId,
    /// Shop name.
    pub shop_name: String,
    /// Shop slug.
    pub slug: String,
    /// Paid orders with its lines.
    pub orders: i64,
    /// Units sold.
    pub units_sold: i64,
    /// Gross amount.
    pub gross: Money,
    /// Commission earned on it.
    pub commission: Money,
}

/// A category's sales (admin analytics; by the product's current category).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryRanking {
    /// The category.
    pub category_id: CategoryId,
    /// Its name.
    pub name: String,
    /// Its slug.
    pub slug: String,
    /// Units sold.
    pub units_sold: i64,
    /// Gross amount.
    pub gross: Money,
}

/// Counts for the admin dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MarketplaceTotals {
    /// All accounts.
    pub users_total: i64,
    /// Accounts with role `customer`.
    pub customers: i64,
    /// Accounts with role `vendor`.
    pub vendors: i64,
    /// Accounts with role `admin`.
    pub admins: i64,
    /// Accounts created since the window start.
    pub new_users: i64,
    /// Vendor applications waiting.
    pub vendors_pending: i64,
    /// Approved vendors.
    pub vendors_approved: i64,
    /// Rejected applications.
    pub vendors_rejected: i64,
    /// Suspended vendors.
    pub vendors_suspended: i64,
    /// Published products (of any vendor).
    pub products_published: i64,
    /// Products in any status.
    pub products_total: i64,
    /// All orders.
    pub orders_total: i64,
    /// Orders in status `paid`.
    pub orders_paid: i64,
    /// Orders in status `completed`.
    pub orders_completed: i64,
    /// Orders waiting for payment.
    pub orders_pending_payment: i64,
    /// Refunded orders.
    pub orders_refunded: i64,
    /// Total of paid and completed orders.
    pub gmv: Money,
    /// Commission on paid and completed orders.
    pub commission: Money,
    /// Payout requests waiting for a decision.
    pub payouts_requested: Money,
    /// Approved payouts waiting to be sent.
    pub payouts_approved: Money,
    /// Payouts sent.
    pub payouts_paid: Money,
}

/// Paid orders and new accounts between two instants, per UTC day, plus the best sellers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AnalyticsData {
    /// Paid (and completed) orders per day they were paid; days without orders are absent.
    pub sales: Vec<DaySales>,
    /// New accounts per day; days without any are absent.
    pub new_users: Vec<(NaiveDate, i64)>,
    /// Best vendors by gross.
    pub top_vendors: Vec<VendorRanking>,
    /// Best products by gross.
    pub top_products: Vec<ProductSales>,
    /// Best categories by gross.
    pub top_categories: Vec<CategoryRanking>,
}

/// A time window `[from, to)` and how many entries each ranking holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsWindow {
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// Entries per ranking.
    pub top: i64,
}
