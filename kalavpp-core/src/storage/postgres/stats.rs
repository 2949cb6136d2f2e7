//! Dashboards and analytics as SQL aggregates, grouped by UTC day.

use async_trait::async_trait;
use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, map_err};
use crate::domain::{
    AnalyticsData, CategoryRanking, DaySales, MarketplaceTotals, ProductSales, StatsWindow, Timestamp, VendorRanking, VendorSales,
};
use crate::domain::{CategoryId, Money, ProductId, VendorId};
use crate::storage::{StatsStore, StoreError, StoreResult};

/// Orders whose money counts: paid, and not refunded since.
const COUNTED: &str = "('paid', 'completed')";

fn day(text: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| StoreError::backend_caused(format!("not a day: {text}: {e}"), e))
}

fn day_sales(row: &Row) -> StoreResult<DaySales> {
    Ok(DaySales {
        date: day(row.get(0))?,
        orders: row.get(1),
        gross: Money(row.get(2)),
        commission: Money(row.get(3)),
    })
}

#[expect(clippy::unnecessary_wraps, reason = "the same shape as the other row readers it is collected with")]
fn product_sales(row: &Row) -> StoreResult<ProductSales> {
    Ok(ProductSales {
        product_id: ProductId(row.get(0)),
        title: row.get(1),
        slug: row.get(2),
        vendor_id: VendorId(row.get(3)),
        units_sold: row.get(4),
        gross: Money(row.get(5)),
    })
}

async fn collect<T>(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    map: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    client.query(sql, params).await.map_err(map_err)?.iter().map(map).collect()
}

/// A read-only repeatable-read transaction: every figure of a dashboard comes from one snapshot.
async fn snapshot(client: &mut deadpool_postgres::Object) -> StoreResult<deadpool_postgres::Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(map_err)
}

#[async_trait]
impl StatsStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn vendor_sales(&self, vendor_id: VendorId, window: StatsWindow) -> StoreResult<VendorSales> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let vendor = vendor_id.0;
        let product_count: i64 = tx
            .query_one(
                "SELECT count(*) FROM products WHERE vendor_id = $1 AND status <> 'archived'",
                &[&vendor],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let totals = tx
            .query_one(
                &format!(
                    "SELECT count(DISTINCT i.order_id), coalesce(sum(i.quantity), 0)::bigint, coalesce(sum(i.line_total_cents), 0)::bigint,
                            coalesce(sum(i.commission_cents), 0)::bigint, coalesce(sum(i.vendor_net_cents), 0)::bigint
                     FROM order_items i JOIN orders o ON o.id = i.order_id
                     WHERE i.vendor_id = $1 AND o.status IN {COUNTED}"
                ),
                &[&vendor],
            )
            .await
            .map_err(map_err)?;
        let by_day = collect(
            &tx,
            &format!(
                "SELECT to_char(o.paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(DISTINCT o.id),
                        sum(i.line_total_cents)::bigint, sum(i.commission_cents)::bigint
                 FROM order_items i JOIN orders o ON o.id = i.order_id
                 WHERE i.vendor_id = $1 AND o.status IN {COUNTED} AND o.paid_at >= $2 AND o.paid_at < $3
                 GROUP BY day ORDER BY day"
            ),
            &[&vendor, &window.from, &window.to],
            day_sales,
        )
        .await?;
        let top_products = collect(
            &tx,
            &format!(
                "SELECT i.product_id, p.title, p.slug, p.vendor_id, sum(i.quantity)::bigint AS units, sum(i.line_total_cents)::bigint AS gross
                 FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
                 WHERE i.vendor_id = $1 AND o.status IN {COUNTED}
                 GROUP BY i.product_id, p.title, p.slug, p.vendor_id ORDER BY units DESC, gross DESC, i.product_id LIMIT $2"
            ),
            &[&vendor, &window.top],
            product_sales,
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(VendorSales {
            product_count,
            order_count: totals.get(0),
            units_sold: totals.get(1),
            gross_sales: Money(totals.get(2)),
            commission: Money(totals.get(3)),
            net_earnings: Money(totals.get(4)),
            by_day,
            top_products,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn marketplace_totals(&self, new_since: Timestamp) -> StoreResult<MarketplaceTotals> {
        let r = self
            .client()
            .await?
            .query_one(
                &format!(
                    "SELECT
                       (SELECT count(*) FROM users),
                       (SELECT count(*) FROM users WHERE role = 'customer'),
                       (SELECT count(*) FROM users WHERE role = 'vendor'),
                       (SELECT count(*) FROM users WHERE role = 'admin'),
                       (SELECT count(*) FROM users WHERE created_at >= $1),
                       (SELECT count(*) FROM vendors WHERE status = 'pending'),
                       (SELECT count(*) FROM vendors WHERE status = 'approved'),
                       (SELECT count(*) FROM vendors WHERE status = 'rejected'),
                       (SELECT count(*) FROM vendors WHERE status = 'suspended'),
                       (SELECT count(*) FROM products WHERE status = 'published'),
                       (SELECT count(*) FROM products),
                       (SELECT count(*) FROM orders),
                       (SELECT count(*) FROM orders WHERE status = 'paid'),
                       (SELECT count(*) FROM orders WHERE status = 'completed'),
                       (SELECT count(*) FROM orders WHERE status = 'pending_payment'),
                       (SELECT count(*) FROM orders WHERE status = 'refunded'),
                       (SELECT coalesce(sum(total_cents), 0)::bigint FROM orders WHERE status IN {COUNTED}),
                       (SELECT coalesce(sum(commission_cents), 0)::bigint FROM orders WHERE status IN {COUNTED}),
                       (SELECT coalesce(sum(amount_cents), 0)::bigint FROM payouts WHERE status = 'requested'),
                       (SELECT coalesce(sum(amount_cents), 0)::bigint FROM payouts WHERE status = 'approved'),
                       (SELECT coalesce(sum(amount_cents), 0)::bigint FROM payouts WHERE status = 'paid')"
                ),
                &[&new_since],
            )
            .await
            .map_err(map_err)?;
        Ok(MarketplaceTotals {
            users_total: r.get(0),
            customers: r.get(1),
            vendors: r.get(2),
            admins: r.get(3),
            new_users: r.get(4),
            vendors_pending: r.get(5),
            vendors_approved: r.get(6),
            vendors_rejected: r.get(7),
            vendors_suspended: r.get(8),
            products_published: r.get(9),
            products_total: r.get(10),
            orders_total: r.get(11),
            orders_paid: r.get(12),
            orders_completed: r.get(13),
            orders_pending_payment: r.get(14),
            orders_refunded: r.get(15),
            gmv: Money(r.get(16)),
            commission: Money(r.get(17)),
            payouts_requested: Money(r.get(18)),
            payouts_approved: Money(r.get(19)),
            payouts_paid: Money(r.get(20)),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn analytics(&self, window: StatsWindow) -> StoreResult<AnalyticsData> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let range: [&(dyn ToSql + Sync); 3] = [&window.from, &window.to, &window.top];
        let sales = collect(
            &tx,
            &format!(
                "SELECT to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*), sum(total_cents)::bigint, sum(commission_cents)::bigint
                 FROM orders WHERE status IN {COUNTED} AND paid_at >= $1 AND paid_at < $2 GROUP BY day ORDER BY day"
            ),
            &range[..2],
            day_sales,
        )
        .await?;
        let new_users = collect(
            &tx,
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) FROM users
             WHERE created_at >= $1 AND created_at < $2 GROUP BY day ORDER BY day",
            &range[..2],
            |r| Ok((day(r.get(0))?, r.get(1))),
        )
        .await?;
        let top_vendors = collect(
            &tx,
            &format!(
                "SELECT i.vendor_id, v.shop_name, v.slug, count(DISTINCT i.order_id), sum(i.quantity)::bigint,
                        sum(i.line_total_cents)::bigint AS gross, sum(i.commission_cents)::bigint
                 FROM orders o JOIN order_items i ON i.order_id = o.id JOIN vendors v ON v.id = i.vendor_id
                 WHERE o.status IN {COUNTED} AND o.paid_at >= $1 AND o.paid_at < $2
                 GROUP BY i.vendor_id, v.shop_name, v.slug ORDER BY gross DESC, i.vendor_id LIMIT $3"
            ),
            &range,
            |r| {
                Ok(VendorRanking {
                    vendor_id: VendorId(r.get(0)),
                    shop_name: r.get(1),
                    slug: r.get(2),
                    orders: r.get(3),
                    units_sold: r.get(4),
                    gross: Money(r.get(5)),
                    commission: Money(r.get(6)),
                })
            },
        )
        .await?;
        let top_products = collect(
            &tx,
            &format!(
                "SELECT i.product_id, p.title, p.slug, p.vendor_id, sum(i.quantity)::bigint, sum(i.line_total_cents)::bigint AS gross
                 FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                 WHERE o.status IN {COUNTED} AND o.paid_at >= $1 AND o.paid_at < $2
                 GROUP BY i.product_id, p.title, p.slug, p.vendor_id ORDER BY gross DESC, i.product_id LIMIT $3"
            ),
            &range,
            product_sales,
        )
        .await?;
        let top_categories = collect(
            &tx,
            &format!(
                "SELECT c.id, c.name, c.slug, sum(i.quantity)::bigint, sum(i.line_total_cents)::bigint AS gross
                 FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                      JOIN categories c ON c.id = p.category_id
                 WHERE o.status IN {COUNTED} AND o.paid_at >= $1 AND o.paid_at < $2
                 GROUP BY c.id, c.name, c.slug ORDER BY gross DESC, c.id LIMIT $3"
            ),
            &range,
            |r| {
                Ok(CategoryRanking {
                    category_id: CategoryId(r.get(0)),
                    name: r.get(1),
                    slug: r.get(2),
                    units_sold: r.get(3),
                    gross: Money(r.get(4)),
                })
            },
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(AnalyticsData {
            sales,
            new_users,
            top_vendors,
            top_products,
            top_categories,
        })
    }
}
