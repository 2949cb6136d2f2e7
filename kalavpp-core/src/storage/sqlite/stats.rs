//! Dashboards and analytics as SQL aggregates (timestamps are fixed-width RFC 3339 text, so the
//! first ten characters are the UTC day).

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, bad_value, map_err, parse_uuid, ts};
use crate::domain::{
    AnalyticsData, CategoryRanking, DaySales, MarketplaceTotals, ProductSales, StatsWindow, Timestamp, VendorRanking, VendorSales,
};
use crate::domain::{CategoryId, Money, ProductId, VendorId};
use crate::storage::{StatsStore, StoreResult};

/// Orders whose money counts: paid, and not refunded since.
const COUNTED: &str = "('paid', 'completed')";

fn day(text: &str) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| bad_value(e.to_string()))
}

fn day_sales(row: &Row<'_>) -> rusqlite::Result<DaySales> {
    Ok(DaySales {
        date: day(&row.get::<_, String>(0)?)?,
        orders: row.get(1)?,
        gross: Money(row.get(2)?),
        commission: Money(row.get(3)?),
    })
}

fn product_sales(row: &Row<'_>) -> rusqlite::Result<ProductSales> {
    Ok(ProductSales {
        product_id: ProductId(parse_uuid(&row.get::<_, String>(0)?)?),
        title: row.get(1)?,
        slug: row.get(2)?,
        vendor_id: VendorId(parse_uuid(&row.get::<_, String>(3)?)?),
        units_sold: row.get(4)?,
        gross: Money(row.get(5)?),
    })
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_map(params, map)?.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(map_err)
}

fn vendor_sales(conn: &Connection, vendor: &str, window: StatsWindow) -> StoreResult<VendorSales> {
    let product_count: i64 = conn
        .query_row(
            "SELECT count(*) FROM products WHERE vendor_id = ?1 AND status <> 'archived'",
            [vendor],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let (order_count, units_sold, gross, commission, net): (i64, i64, i64, i64, i64) = conn
        .query_row(
            &format!(
                "SELECT count(DISTINCT i.order_id), coalesce(sum(i.quantity), 0), coalesce(sum(i.line_total_cents), 0),
                        coalesce(sum(i.commission_cents), 0), coalesce(sum(i.vendor_net_cents), 0)
                 FROM order_items i JOIN orders o ON o.id = i.order_id
                 WHERE i.vendor_id = ?1 AND o.status IN {COUNTED}"
            ),
            [vendor],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .map_err(map_err)?;
    let by_day = collect(
        conn,
        &format!(
            "SELECT substr(o.paid_at, 1, 10) AS day, count(DISTINCT o.id), sum(i.line_total_cents), sum(i.commission_cents)
             FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE i.vendor_id = ?1 AND o.status IN {COUNTED} AND o.paid_at >= ?2 AND o.paid_at < ?3
             GROUP BY day ORDER BY day"
        ),
        params![vendor, ts(window.from), ts(window.to)],
        day_sales,
    )?;
    let top_products = collect(
        conn,
        &format!(
            "SELECT i.product_id, p.title, p.slug, p.vendor_id, sum(i.quantity) AS units, sum(i.line_total_cents) AS gross
             FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
             WHERE i.vendor_id = ?1 AND o.status IN {COUNTED}
             GROUP BY i.product_id, p.title, p.slug, p.vendor_id ORDER BY units DESC, gross DESC, i.product_id LIMIT ?2"
        ),
        params![vendor, window.top],
        product_sales,
    )?;
    Ok(VendorSales {
        product_count,
        order_count,
        units_sold,
        gross_sales: Money(gross),
        commission: Money(commission),
        net_earnings: Money(net),
        by_day,
        top_products,
    })
}

fn marketplace_totals(conn: &Connection, new_since: &str) -> StoreResult<MarketplaceTotals> {
    conn.query_row(
        &format!(
            "SELECT
               (SELECT count(*) FROM users),
               (SELECT count(*) FROM users WHERE role = 'customer'),
               (SELECT count(*) FROM users WHERE role = 'vendor'),
               (SELECT count(*) FROM users WHERE role = 'admin'),
               (SELECT count(*) FROM users WHERE created_at >= ?1),
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
               (SELECT coalesce(sum(total_cents), 0) FROM orders WHERE status IN {COUNTED}),
               (SELECT coalesce(sum(commission_cents), 0) FROM orders WHERE status IN {COUNTED}),
               (SELECT coalesce(sum(amount_cents), 0) FROM payouts WHERE status = 'requested'),
               (SELECT coalesce(sum(amount_cents), 0) FROM payouts WHERE status = 'approved'),
               (SELECT coalesce(sum(amount_cents), 0) FROM payouts WHERE status = 'paid')"
        ),
        [new_since],
        |r| {
            Ok(MarketplaceTotals {
                users_total: r.get(0)?,
                customers: r.get(1)?,
                vendors: r.get(2)?,
                admins: r.get(3)?,
                new_users: r.get(4)?,
                vendors_pending: r.get(5)?,
                vendors_approved: r.get(6)?,
                vendors_rejected: r.get(7)?,
                vendors_suspended: r.get(8)?,
                products_published: r.get(9)?,
                products_total: r.get(10)?,
                orders_total: r.get(11)?,
                orders_paid: r.get(12)?,
                orders_completed: r.get(13)?,
                orders_pending_payment: r.get(14)?,
                orders_refunded: r.get(15)?,
                gmv: Money(r.get(16)?),
                commission: Money(r.get(17)?),
                payouts_requested: Money(r.get(18)?),
                payouts_approved: Money(r.get(19)?),
                payouts_paid: Money(r.get(20)?),
            })
        },
    )
    .map_err(map_err)
}

fn analytics(conn: &Connection, window: StatsWindow) -> StoreResult<AnalyticsData> {
    let (from, to) = (ts(window.from), ts(window.to));
    let sales = collect(
        conn,
        &format!(
            "SELECT substr(paid_at, 1, 10) AS day, count(*), sum(total_cents), sum(commission_cents) FROM orders
             WHERE status IN {COUNTED} AND paid_at >= ?1 AND paid_at < ?2 GROUP BY day ORDER BY day"
        ),
        params![from, to],
        day_sales,
    )?;
    let new_users = collect(
        conn,
        "SELECT substr(created_at, 1, 10) AS day, count(*) FROM users WHERE created_at >= ?1 AND created_at < ?2 GROUP BY day ORDER BY day",
        params![from, to],
        |r| Ok((day(&r.get::<_, String>(0)?)?, r.get(1)?)),
    )?;
    let top_vendors = collect(
        conn,
        &format!(
            "SELECT i.vendor_id, v.shop_name, v.slug, count(DISTINCT i.order_id), sum(i.quantity), sum(i.line_total_cents) AS gross,
                    sum(i.commission_cents)
             FROM orders o JOIN order_items i ON i.order_id = o.id JOIN vendors v ON v.id = i.vendor_id
             WHERE o.status IN {COUNTED} AND o.paid_at >= ?1 AND o.paid_at < ?2
             GROUP BY i.vendor_id, v.shop_name, v.slug ORDER BY gross DESC, i.vendor_id LIMIT ?3"
        ),
        params![from, to, window.top],
        |r| {
            Ok(VendorRanking {
                vendor_id: VendorId(parse_uuid(&r.get::<_, String>(0)?)?),
                shop_name: r.get(1)?,
                slug: r.get(2)?,
                orders: r.get(3)?,
                units_sold: r.get(4)?,
                gross: Money(r.get(5)?),
                commission: Money(r.get(6)?),
            })
        },
    )?;
    let top_products = collect(
        conn,
        &format!(
            "SELECT i.product_id, p.title, p.slug, p.vendor_id, sum(i.quantity), sum(i.line_total_cents) AS gross
             FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
             WHERE o.status IN {COUNTED} AND o.paid_at >= ?1 AND o.paid_at < ?2
             GROUP BY i.product_id, p.title, p.slug, p.vendor_id ORDER BY gross DESC, i.product_id LIMIT ?3"
        ),
        params![from, to, window.top],
        product_sales,
    )?;
    let top_categories = collect(
        conn,
        &format!(
            "SELECT c.id, c.name, c.slug, sum(i.quantity), sum(i.line_total_cents) AS gross
             FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                  JOIN categories c ON c.id = p.category_id
             WHERE o.status IN {COUNTED} AND o.paid_at >= ?1 AND o.paid_at < ?2
             GROUP BY c.id, c.name, c.slug ORDER BY gross DESC, c.id LIMIT ?3"
        ),
        params![from, to, window.top],
        |r| {
            Ok(CategoryRanking {
                category_id: CategoryId(parse_uuid(&r.get::<_, String>(0)?)?),
                name: r.get(1)?,
                slug: r.get(2)?,
                units_sold: r.get(3)?,
                gross: Money(r.get(4)?),
            })
        },
    )?;
    Ok(AnalyticsData {
        sales,
        new_users,
        top_vendors,
        top_products,
        top_categories,
    })
}

#[async_trait]
impl StatsStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn vendor_sales(&self, vendor_id: VendorId, window: StatsWindow) -> StoreResult<VendorSales> {
        // One read transaction, so every figure comes from the same snapshot.
        self.pool
            .read(move |conn| {
                let tx = conn.unchecked_transaction().map_err(map_err)?;
                vendor_sales(&tx, &vendor_id.to_string(), window)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn marketplace_totals(&self, new_since: Timestamp) -> StoreResult<MarketplaceTotals> {
        self.pool.read(move |conn| marketplace_totals(conn, &ts(new_since))).await
    }

    #[tracing::instrument(skip_all)]
    async fn analytics(&self, window: StatsWindow) -> StoreResult<AnalyticsData> {
        self.pool
            .read(move |conn| {
                let tx = conn.unchecked_transaction().map_err(map_err)?;
                analytics(&tx, window)
            })
            .await
    }
}
