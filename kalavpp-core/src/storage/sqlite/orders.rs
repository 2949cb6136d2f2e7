use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::audit::insert_audit;
use super::intents::{expire_sessions_of, finish_intent, insert_intent};
use super::outbox::insert_email;
use super::{SqliteStore, bad_value, map_err, parse_ts, parse_uuid, ts};
use crate::domain::ledger::{self, BucketSum, LinePosting, PaidLine};
use crate::domain::order_flow::OrderEvent;
use crate::domain::{EventOutcome, Order, OrderFilter, OrderItem, Timestamp};
use crate::domain::{
    FulfilmentStatus, LedgerBucket, LedgerEntryId, Money, OrderId, OrderItemId, OrderStatus, Page, PageRequest, ProductId, ProductKind,
    UserId, VendorId, all_delivered, can_ship, fulfilment_on_payment, refuses_payment,
};
use crate::payments::PaymentEventKind;
use crate::storage::{Conflict, HasStatus, set_status, status_guard};
use crate::storage::{Fulfilment, NewOrder, OrderStore, PaymentEventRecord, Refund, StoreError, StoreResult};

const ORDER_COLUMNS: &str = "id, number, user_id, status, currency, subtotal_cents, total_cents, commission_cents, shipping_address,
     payment_provider, payment_session_id, payment_intent_id, refund_id, created_at, updated_at, paid_at";

const ITEM_COLUMNS: &str = "id, product_id, vendor_id, title, kind, quantity, unit_price_cents, line_total_cents, commission_bps,
     commission_cents, vendor_net_cents, fulfilment_status, tracking_number, carrier, shipped_at, order_id";

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    let address: Option<String> = row.get(8)?;
    let paid_at: Option<String> = row.get(15)?;
    Ok(Order {
        id: OrderId(parse_uuid(&row.get::<_, String>(0)?)?),
        number: row.get(1)?,
        user_id: UserId(parse_uuid(&row.get::<_, String>(2)?)?),
        status: OrderStatus::parse(&row.get::<_, String>(3)?).map_err(bad_value)?,
        currency: row.get(4)?,
        subtotal: Money(row.get(5)?),
        total: Money(row.get(6)?),
        commission: Money(row.get(7)?),
        shipping_address: address.and_then(|a| serde_json::from_str(&a).ok()),
        payment_provider: row.get(9)?,
        payment_session_id: row.get(10)?,
        payment_intent_id: row.get(11)?,
        refund_id: row.get(12)?,
        items: Vec::new(),
        created_at: parse_ts(&row.get::<_, String>(13)?)?,
        updated_at: parse_ts(&row.get::<_, String>(14)?)?,
        paid_at: paid_at.as_deref().map(parse_ts).transpose()?,
    })
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<(OrderId, OrderItem)> {
    let shipped_at: Option<String> = row.get(14)?;
    let item = OrderItem {
        id: OrderItemId(parse_uuid(&row.get::<_, String>(0)?)?),
        product_id: ProductId(parse_uuid(&row.get::<_, String>(1)?)?),
        vendor_id: VendorId(parse_uuid(&row.get::<_, String>(2)?)?),
        title: row.get(3)?,
        kind: ProductKind::parse(&row.get::<_, String>(4)?).map_err(bad_value)?,
        quantity: row.get(5)?,
        unit_price: Money(row.get(6)?),
        line_total: Money(row.get(7)?),
        commission_bps: row.get(8)?,
        commission: Money(row.get(9)?),
        vendor_net: Money(row.get(10)?),
        fulfilment_status: FulfilmentStatus::parse(&row.get::<_, String>(11)?).map_err(bad_value)?,
        tracking_number: row.get(12)?,
        carrier: row.get(13)?,
        shipped_at: shipped_at.as_deref().map(parse_ts).transpose()?,
    };
    Ok((OrderId(parse_uuid(&row.get::<_, String>(15)?)?), item))
}

/// Fills in the lines of `orders` (only `vendor`'s lines when given).
fn attach_items(conn: &Connection, orders: &mut [Order], vendor: Option<VendorId>) -> StoreResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["?"; orders.len()].join(", ");
    let mut args: Vec<String> = orders.iter().map(|o| o.id.to_string()).collect();
    let vendor_condition = match vendor {
        Some(vendor) => {
            args.push(vendor.to_string());
            format!(" AND vendor_id = ?{}", args.len())
        }
        None => String::new(),
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {ITEM_COLUMNS} FROM order_items WHERE order_id IN ({placeholders}){vendor_condition} ORDER BY order_id, position"
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), item_from_row)
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(map_err)?;
    let mut by_order: HashMap<OrderId, Vec<OrderItem>> = HashMap::new();
    for (order_id, item) in rows {
        by_order.entry(order_id).or_default().push(item);
    }
    for order in orders {
        order.items = by_order.remove(&order.id).unwrap_or_default();
    }
    Ok(())
}

fn load_order(conn: &Connection, id: &str) -> StoreResult<Option<Order>> {
    let order = conn
        .prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], order_from_row).optional())
        .map_err(map_err)?;
    let Some(order) = order else {
        return Ok(None);
    };
    let mut orders = [order];
    attach_items(conn, &mut orders, None)?;
    let [order] = orders;
    Ok(Some(order))
}

/// Puts the stock of the order's physical lines back.
fn release_stock(tx: &Connection, order_id: &str) -> StoreResult<()> {
    tx.execute(
        "UPDATE products SET stock = stock + (
             SELECT sum(i.quantity) FROM order_items i WHERE i.order_id = ?1 AND i.product_id = products.id AND i.kind = 'physical')
         WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ?1 AND kind = 'physical') AND stock IS NOT NULL",
        [order_id],
    )
    .map_err(map_err)?;
    Ok(())
}

/// A line's ledger key on this backend: (item id, vendor id, order id) as stored text.
pub(super) type LineKey = (String, String, String);

/// Appends one posting computed by [`crate::domain::ledger`] (the one ledger insert of order lines).
pub(super) fn insert_ledger_entry(tx: &Connection, posting: &LinePosting<LineKey>, at: &str) -> StoreResult<()> {
    let (item, vendor, order) = &posting.line;
    tx.execute(
        "INSERT INTO ledger_entries (id, vendor_id, order_id, order_item_id, kind, bucket, amount_cents, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            LedgerEntryId::new().to_string(),
            vendor,
            order,
            item,
            posting.kind.as_str(),
            posting.bucket.as_str(),
            posting.amount.0,
            at
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Appends every posting, in order.
fn insert_postings(tx: &Connection, postings: &[LinePosting<LineKey>], at: &str) -> StoreResult<()> {
    postings.iter().try_for_each(|posting| insert_ledger_entry(tx, posting, at))
}

/// Moves the matured pending credit of every line to available (see
/// [`crate::storage::LedgerStore::release_matured_credits`]).
/// Lines of paid orders whose pending credit has matured: (item, vendor, order, pending cents).
static MATURED_LINES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT i.id, i.vendor_id, i.order_id, sum(l.amount_cents) FROM order_items i
     JOIN orders o ON o.id = i.order_id
     JOIN ledger_entries l ON l.order_item_id = i.id AND l.bucket = 'pending'
     WHERE o.status IN ({})
       AND ((i.kind = 'digital' AND o.paid_at < ?1) OR (i.kind = 'physical' AND i.shipped_at IS NOT NULL AND i.shipped_at < ?2))
     GROUP BY i.id, i.vendor_id, i.order_id HAVING sum(l.amount_cents) > 0",
        status_guard(OrderEvent::Refunded)
    )
});

/// Whether any line has matured (read on a reader connection, so the minutely job takes the
/// writer only when it has something to write).
pub(super) fn any_matured(conn: &mut Connection, paid_before: Timestamp, shipped_before: Timestamp) -> StoreResult<bool> {
    conn.query_row(
        &format!("SELECT EXISTS ({})", *MATURED_LINES),
        params![ts(paid_before), ts(shipped_before)],
        |r| r.get(0),
    )
    .map_err(map_err)
}

pub(super) fn release_matured(conn: &mut Connection, paid_before: Timestamp, shipped_before: Timestamp, at: Timestamp) -> StoreResult<u64> {
    let tx = conn.savepoint().map_err(map_err)?;
    let matured: Vec<(String, String, String, i64)> = tx
        .prepare_cached(&MATURED_LINES)
        .and_then(|mut stmt| {
            stmt.query_map(params![ts(paid_before), ts(shipped_before)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
        .map_err(map_err)?;
    let at = ts(at);
    for (item, vendor, order, pending) in &matured {
        let postings = ledger::release_postings((item.clone(), vendor.clone(), order.clone()), Money(*pending));
        insert_postings(&tx, &postings, &at)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(matured.len() as u64)
}

/// Holds (or releases) a disputed order's line shares (see
/// [`crate::storage::LedgerStore::hold_for_dispute`]).
pub(super) fn dispute_hold(conn: &mut Connection, order_id: OrderId, hold: bool, at: Timestamp) -> StoreResult<u64> {
    let tx = conn.savepoint().map_err(map_err)?;
    let order = order_id.to_string();
    let Some(status) = order_status(&tx, &order)? else {
        return Err(StoreError::NotFound);
    };
    if !status.is_refundable() {
        return Ok(0);
    }
    let from = ledger::dispute_sources(hold);
    let sums: Vec<(String, String, String, i64)> = tx
        .prepare_cached(
            "SELECT order_item_id, vendor_id, bucket, sum(amount_cents) FROM ledger_entries
             WHERE order_id = ?1 AND order_item_id IS NOT NULL AND bucket IN (?2, ?3)
             GROUP BY order_item_id, vendor_id, bucket HAVING sum(amount_cents) <> 0 ORDER BY order_item_id, bucket",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![order, from[0].as_str(), from[from.len() - 1].as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
        .map_err(map_err)?;
    let at = ts(at);
    let sums = bucket_sums(sums, &order)?;
    let lines: std::collections::HashSet<&str> = sums.iter().map(|sum| sum.line.0.as_str()).collect();
    let lines = lines.len() as u64;
    insert_postings(&tx, &ledger::dispute_postings(hold, &sums), &at)?;
    tx.commit().map_err(map_err)?;
    Ok(lines)
}

/// Parses (item, vendor, bucket, sum) rows of one order into [`BucketSum`]s.
fn bucket_sums(rows: Vec<(String, String, String, i64)>, order: &str) -> StoreResult<Vec<BucketSum<LineKey>>> {
    rows.into_iter()
        .map(|(item, vendor, bucket, sum)| {
            Ok(BucketSum {
                line: (item, vendor, order.to_owned()),
                bucket: LedgerBucket::parse(&bucket).map_err(StoreError::backend)?,
                sum: Money(sum),
            })
        })
        .collect()
}

/// One line's money: (item id, vendor id, kind, commission, vendor net, fulfilment).
type LineMoney = (String, String, String, i64, i64, String);

/// The lines of an order, in line order.
fn item_money(tx: &Connection, order_id: &str) -> StoreResult<Vec<LineMoney>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, vendor_id, kind, commission_cents, vendor_net_cents, fulfilment_status FROM order_items
             WHERE order_id = ?1 ORDER BY position",
        )
        .map_err(map_err)?;
    stmt.query_map([order_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    })
    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
    .map_err(map_err)
}

fn order_status(tx: &Connection, order_id: &str) -> StoreResult<Option<OrderStatus>> {
    let status: Option<String> = tx
        .query_row("SELECT status FROM orders WHERE id = ?1", [order_id], |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    status.map(|s| OrderStatus::parse(&s).map_err(StoreError::backend)).transpose()
}

/// The guarded status updates of the order events (`SET status = <target> ... WHERE id = ?n AND
/// status IN (<allowed from>)`), built once from the status machine.
static PAY_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, paid_at = ?1, updated_at = ?1, payment_intent_id = coalesce(?2, payment_intent_id) WHERE id = ?3 AND status IN ({})",
        set_status(OrderEvent::PaymentSucceeded),
        status_guard(OrderEvent::PaymentSucceeded)
    )
});
static FAIL_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, updated_at = ?1, payment_intent_id = coalesce(?2, payment_intent_id) WHERE id = ?3 AND status IN ({})",
        set_status(OrderEvent::PaymentFailed),
        status_guard(OrderEvent::PaymentFailed)
    )
});
static EXPIRE_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, updated_at = ?1, closed_at = ?1 WHERE id = ?2 AND status IN ({})",
        set_status(OrderEvent::Expired),
        status_guard(OrderEvent::Expired)
    )
});
static COMPLETE_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, updated_at = ?1 WHERE id = ?2 AND status IN ({})",
        set_status(OrderEvent::AllDelivered),
        status_guard(OrderEvent::AllDelivered)
    )
});
static REFUND_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, refund_id = ?1, updated_at = ?2, closed_at = ?2 WHERE id = ?3 AND status IN ({})",
        set_status(OrderEvent::Refunded),
        status_guard(OrderEvent::Refunded)
    )
});

/// Runs a guarded status update of one order; `Conflict::StaleStatus` when the guard refused it.
fn transition(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<()> {
    let changed = tx.prepare_cached(sql).and_then(|mut stmt| stmt.execute(params)).map_err(map_err)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)))
    }
}

/// Completes a paid order when every line is delivered or shipped (`fulfilments`).
fn complete_if_delivered(tx: &Connection, order_id: &str, fulfilments: &[FulfilmentStatus], at: &str) -> StoreResult<()> {
    if all_delivered(fulfilments.iter().copied()) {
        transition(tx, &COMPLETE_ORDER, params![at, order_id])?;
    }
    Ok(())
}

fn pay_order(tx: &Connection, order_id: &str, event: &PaymentEventRecord, at: &str) -> StoreResult<()> {
    transition(tx, &PAY_ORDER, params![at, event.payment_intent_id, order_id])?;
    let mut fulfilments = Vec::new();
    let mut lines: Vec<PaidLine<LineKey>> = Vec::new();
    for (item, vendor, kind, commission, net, fulfilment) in item_money(tx, order_id)? {
        let kind = ProductKind::parse(&kind).map_err(StoreError::backend)?;
        let next = fulfilment_on_payment(kind);
        if next.as_str() != fulfilment {
            tx.prepare_cached("UPDATE order_items SET fulfilment_status = ?1 WHERE id = ?2")
                .and_then(|mut stmt| stmt.execute(params![next.as_str(), item]))
                .map_err(map_err)?;
        }
        fulfilments.push(next);
        lines.push(PaidLine {
            line: (item, vendor, order_id.to_owned()),
            digital: kind == ProductKind::Digital,
            net: Money(net),
            commission: Money(commission),
        });
    }
    insert_postings(tx, &ledger::payment_postings(&lines, event.digital_credit_pending), at)?;
    tx.execute(
        "UPDATE products SET sales_count = sales_count + (
             SELECT sum(i.quantity) FROM order_items i WHERE i.order_id = ?1 AND i.product_id = products.id)
         WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ?1)",
        [order_id],
    )
    .map_err(map_err)?;
    if let Some(email) = &event.confirmation {
        insert_email(tx, email)?;
    }
    // Everything delivered (an all-digital order): complete.
    complete_if_delivered(tx, order_id, &fulfilments, at)
}

#[async_trait]
impl OrderStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn place_order(&self, order: NewOrder) -> StoreResult<Order> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = order.id.to_string();
                let at = ts(order.at);
                if let Some(limit) = order.max_unpaid {
                    let unpaid: i64 = tx
                        .query_row(
                            "SELECT count(*) FROM orders WHERE user_id = ?1 AND status IN ('pending_payment', 'payment_failed')",
                            [order.user_id.to_string()],
                            |r| r.get(0),
                        )
                        .map_err(map_err)?;
                    if unpaid >= limit {
                        return Err(StoreError::Conflict(Conflict::TooManyUnpaidOrders));
                    }
                }
                if order.take_from_cart {
                    for item in &order.items {
                        let taken = tx
                            .execute(
                                "DELETE FROM cart_items WHERE user_id = ?1 AND product_id = ?2 AND quantity = ?3",
                                params![order.user_id.to_string(), item.product_id.to_string(), item.quantity],
                            )
                            .map_err(map_err)?;
                        if taken == 0 {
                            return Err(StoreError::Conflict(Conflict::CartChanged));
                        }
                    }
                }
                for item in &order.items {
                    let product = item.product_id.to_string();
                    let reserved = if item.kind == ProductKind::Physical {
                        tx.execute(
                            "UPDATE products SET stock = stock - ?1
                             WHERE id = ?2 AND kind = 'physical' AND status = 'published' AND stock >= ?1
                               AND vendor_id IN (SELECT id FROM vendors WHERE status = 'approved')",
                            params![item.quantity, product],
                        )
                        .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
                        .map_err(map_err)?
                    } else {
                        tx.query_row(
                            "SELECT count(*) FROM products p JOIN vendors v ON v.id = p.vendor_id
                             WHERE p.id = ?1 AND p.kind = 'digital' AND p.status = 'published' AND v.status = 'approved'",
                            [&product],
                            |r| r.get::<_, i64>(0),
                        )
                        .map_err(map_err)?
                    };
                    if reserved == 0 {
                        return Err(StoreError::Conflict(Conflict::OutOfStock));
                    }
                }
                tx.execute(
                    "INSERT INTO orders (id, number, user_id, status, currency, subtotal_cents, total_cents, commission_cents,
                         shipping_address, payment_provider, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'pending_payment', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                    params![
                        id,
                        order.number,
                        order.user_id.to_string(),
                        order.currency,
                        order.subtotal.cents(),
                        order.total.cents(),
                        order.commission.cents(),
                        order.shipping_address.as_ref().map(serde_json::Value::to_string),
                        order.payment_provider,
                        at
                    ],
                )
                .map_err(map_err)?;
                for (position, item) in order.items.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO order_items (id, order_id, product_id, vendor_id, title, kind, quantity, unit_price_cents,
                             line_total_cents, commission_bps, commission_cents, vendor_net_cents, fulfilment_status, position)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'unfulfilled', ?13)",
                        params![
                            item.id.to_string(),
                            id,
                            item.product_id.to_string(),
                            item.vendor_id.to_string(),
                            item.title,
                            item.kind.as_str(),
                            item.quantity,
                            item.unit_price.cents(),
                            item.line_total.cents(),
                            item.commission_bps,
                            item.commission.cents(),
                            item.vendor_net.cents(),
                            i64::try_from(position).unwrap_or(i64::MAX)
                        ],
                    )
                    .map_err(map_err)?;
                }
                if !order.take_from_cart {
                    tx.execute("DELETE FROM cart_items WHERE user_id = ?1", [order.user_id.to_string()])
                        .map_err(map_err)?;
                }
                let stored = load_order(&tx, &id)?.ok_or(StoreError::NotFound)?;
                if let Some(intent) = &order.checkout_intent {
                    insert_intent(&tx, intent)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn attach_payment_session(&self, order_id: OrderId, session_id: &str) -> StoreResult<()> {
        let session_id = session_id.to_owned();
        self.pool
            .write(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE orders SET payment_session_id = ?1 WHERE id = ?2",
                        params![session_id, order_id.to_string()],
                    )
                    .map_err(map_err)?;
                if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn order_by_id(&self, id: OrderId) -> StoreResult<Option<Order>> {
        self.pool.read(move |conn| load_order(conn, &id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn order_by_payment_ref(&self, session_id: Option<&str>, payment_intent_id: Option<&str>) -> StoreResult<Option<Order>> {
        let session_id = session_id.map(str::to_owned);
        let intent = payment_intent_id.map(str::to_owned);
        self.pool
            .read(move |conn| {
                let id: Option<String> = conn
                    .query_row(
                        "SELECT id FROM orders WHERE (?1 IS NOT NULL AND payment_session_id = ?1)
                             OR (?2 IS NOT NULL AND payment_intent_id = ?2) LIMIT 1",
                        params![session_id, intent],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?;
                match id {
                    Some(id) => load_order(conn, &id),
                    None => Ok(None),
                }
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> StoreResult<Page<Order>> {
        let user = filter.user_id.map(|u| u.to_string());
        let vendor = filter.vendor_id;
        let status = filter.status.map(OrderStatus::as_str);
        let from = filter.from.map(ts);
        let to = filter.to.map(ts);
        self.pool
            .read(move |conn| {
                let condition = "(?1 IS NULL OR user_id = ?1)
                     AND (?2 IS NULL OR id IN (SELECT order_id FROM order_items WHERE vendor_id = ?2))
                     AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at <= ?5)";
                let vendor_text = vendor.map(|v| v.to_string());
                let total: i64 = conn
                    .query_row(
                        &format!("SELECT count(*) FROM orders WHERE {condition}"),
                        params![user, vendor_text, status, from, to],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let mut orders = conn
                    .prepare_cached(&format!(
                        "SELECT {ORDER_COLUMNS} FROM orders WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(
                            params![user, vendor_text, status, from, to, page.limit(), page.offset()],
                            order_from_row,
                        )?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err)?;
                attach_items(conn, &mut orders, vendor)?;
                Ok(Page::new(orders, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_order(&self, order_id: OrderId, user_id: UserId, at: Timestamp) -> StoreResult<Order> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = order_id.to_string();
                let owner: Option<String> = tx
                    .query_row("SELECT user_id FROM orders WHERE id = ?1", [&id], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                if owner != Some(user_id.to_string()) {
                    return Err(StoreError::NotFound);
                }
                let changed = tx
                    .execute(
                        &format!(
                            "UPDATE orders SET status = '{}', updated_at = ?1, closed_at = ?1 WHERE id = ?2 AND status IN ({})",
                            OrderEvent::Cancelled.target().as_str(),
                            status_guard(OrderEvent::Cancelled)
                        ),
                        params![ts(at), id],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)));
                }
                release_stock(&tx, &id)?;
                expire_sessions_of(&tx, std::slice::from_ref(&id), &ts(at))?;
                let order = load_order(&tx, &id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(order)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn expire_orders(&self, created_before: Timestamp, at: Timestamp) -> StoreResult<Vec<OrderId>> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let ids: Vec<String> = tx
                    .prepare(
                        &format!(
    "UPDATE orders SET status = '{}', updated_at = ?1, closed_at = ?1 WHERE status IN ({}) AND created_at < ?2 RETURNING id",
    OrderEvent::Expired.target().as_str(),
    status_guard(OrderEvent::Expired)
),
                    )
                    .and_then(|mut stmt| stmt.query_map(params![ts(at), ts(created_before)], |r| r.get(0))?.collect())
                    .map_err(map_err)?;
                for id in &ids {
                    release_stock(&tx, id)?;
                }
                expire_sessions_of(&tx, &ids, &ts(at))?;
                tx.commit().map_err(map_err)?;
                ids.iter().map(|id| parse_uuid(id).map(OrderId).map_err(map_err)).collect()
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn apply_payment_event(&self, event: PaymentEventRecord) -> StoreResult<EventOutcome> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let at = ts(event.at);
                let order_id = event.order_id.to_string();
                let kind = match event.kind {
                    PaymentEventKind::Succeeded => "succeeded",
                    PaymentEventKind::Failed => "failed",
                    PaymentEventKind::Expired => "expired",
                    PaymentEventKind::Refunded => "refunded",
                    PaymentEventKind::DisputeOpened => "dispute_opened",
                    PaymentEventKind::DisputeWon => "dispute_won",
                    PaymentEventKind::DisputeLost => "dispute_lost",
                };
                let fresh = tx
                    .execute(
                        "INSERT INTO payment_events (event_id, order_id, kind, outcome, received_at) VALUES (?1, ?2, ?3, 'pending', ?4)
                         ON CONFLICT (event_id) DO NOTHING",
                        params![event.event_id, order_id, kind, at],
                    )
                    .map_err(map_err)?;
                if fresh == 0 {
                    return Ok(EventOutcome::Duplicate);
                }
                let Some(status) = order_status(&tx, &order_id)? else {
                    return Err(StoreError::NotFound);
                };
                if let Some(late) = &event.late_payment {
                    let paid_with: Option<String> = tx
                        .query_row("SELECT payment_intent_id FROM orders WHERE id = ?1", [&order_id], |r| r.get(0))
                        .map_err(map_err)?;
                    if (late.always && status.takes_payment())
                        || refuses_payment(status, paid_with.as_deref(), event.payment_intent_id.as_deref())
                    {
                        if insert_intent(&tx, &late.intent)? {
                            insert_audit(&tx, &late.audit)?;
                            if let Some(email) = &late.email {
                                insert_email(&tx, email)?;
                            }
                        }
                        tx.execute(
                            "UPDATE payment_events SET outcome = 'auto_refund' WHERE event_id = ?1",
                            [&event.event_id],
                        )
                        .map_err(map_err)?;
                        tx.commit().map_err(map_err)?;
                        return Ok(EventOutcome::AutoRefund);
                    }
                }
                // A refund (or lost dispute) of this order's payment seen before the payment itself:
                // the money is back with the buyer, so the late payment event pays nothing.
                let given_back = event.kind == PaymentEventKind::Succeeded
                    && tx
                        .query_row(
                            "SELECT EXISTS (SELECT 1 FROM payment_events WHERE order_id = ?1 AND kind IN ('refunded', 'dispute_lost'))",
                            [&order_id],
                            |r| r.get::<_, bool>(0),
                        )
                        .map_err(map_err)?;
                let applied = match (event.kind, status) {
                    (PaymentEventKind::Succeeded, status) if status.after(OrderEvent::PaymentSucceeded).is_some() && !given_back => {
                        pay_order(&tx, &order_id, &event, &at)?;
                        true
                    }
                    (PaymentEventKind::Failed, status) if status.after(OrderEvent::PaymentFailed).is_some() => {
                        transition(&tx, &FAIL_ORDER, params![at, event.payment_intent_id, order_id])?;
                        true
                    }
                    (PaymentEventKind::Expired, status) if status.after(OrderEvent::Expired).is_some() => {
                        transition(&tx, &EXPIRE_ORDER, params![at, order_id])?;
                        release_stock(&tx, &order_id)?;
                        true
                    }
                    _ => false,
                };
                let outcome = if applied { EventOutcome::Applied } else { EventOutcome::Ignored };
                tx.execute(
                    "UPDATE payment_events SET outcome = ?1 WHERE event_id = ?2",
                    params![if applied { "applied" } else { "ignored" }, event.event_id],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(outcome)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn fulfil_item(&self, fulfilment: Fulfilment) -> StoreResult<OrderItem> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let order_id = fulfilment.order_id.to_string();
                let item_id = fulfilment.item_id.to_string();
                let line: Option<(String, String, String, i64)> = tx
                    .query_row(
                        "SELECT vendor_id, kind, fulfilment_status, vendor_net_cents FROM order_items WHERE id = ?1 AND order_id = ?2",
                        [&item_id, &order_id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()
                    .map_err(map_err)?;
                let Some((vendor, kind, fulfilment_status, net)) = line else {
                    return Err(StoreError::NotFound);
                };
                if vendor != fulfilment.vendor_id.to_string() {
                    return Err(StoreError::NotFound);
                }
                let status = order_status(&tx, &order_id)?.ok_or(StoreError::NotFound)?;
                let kind = ProductKind::parse(&kind).map_err(StoreError::backend)?;
                let fulfilment_status = FulfilmentStatus::parse(&fulfilment_status).map_err(StoreError::backend)?;
                if !can_ship(status, kind, fulfilment_status) {
                    return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::OrderItem)));
                }
                let at = ts(fulfilment.at);
                tx.execute(
                    "UPDATE order_items SET fulfilment_status = ?1, tracking_number = ?2, carrier = ?3, shipped_at = ?4 WHERE id = ?5",
                    params![
                        FulfilmentStatus::Shipped.as_str(),
                        fulfilment.tracking_number,
                        fulfilment.carrier,
                        at,
                        item_id
                    ],
                )
                .map_err(map_err)?;
                if fulfilment.release_now {
                    let postings = ledger::release_postings((item_id.clone(), vendor, order_id.clone()), Money(net));
                    insert_postings(&tx, &postings, &at)?;
                }
                let fulfilments = item_money(&tx, &order_id)?
                    .into_iter()
                    .map(|line| FulfilmentStatus::parse(&line.5).map_err(StoreError::backend))
                    .collect::<StoreResult<Vec<_>>>()?;
                complete_if_delivered(&tx, &order_id, &fulfilments, &at)?;
                let item = tx
                    .query_row(
                        &format!("SELECT {ITEM_COLUMNS} FROM order_items WHERE id = ?1"),
                        [&item_id],
                        item_from_row,
                    )
                    .map_err(map_err)?
                    .1;
                tx.commit().map_err(map_err)?;
                Ok(item)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn refund_order(&self, refund: Refund) -> StoreResult<Order> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let order_id = refund.order_id.to_string();
                let at = ts(refund.at);
                let status = order_status(&tx, &order_id)?.ok_or(StoreError::NotFound)?;
                if !status.is_refundable() {
                    return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)));
                }
                transition(&tx, &REFUND_ORDER, params![refund.refund_id, at, order_id])?;
                if let Some(intent) = refund.intent_id {
                    finish_intent(&tx, intent, Some(&refund.refund_id), &at)?;
                }
                // Reverse exactly what the ledger holds for each line, whatever bucket it sits in now.
                let sums: Vec<(String, String, String, i64)> = tx
                    .prepare(
                        "SELECT order_item_id, vendor_id, bucket, sum(amount_cents) FROM ledger_entries
                         WHERE order_id = ?1 AND order_item_id IS NOT NULL GROUP BY order_item_id, vendor_id, bucket",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_map([&order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                            .collect()
                    })
                    .map_err(map_err)?;
                let sums = bucket_sums(sums, &order_id)?;
                insert_postings(&tx, &ledger::refund_postings(&sums), &at)?;
                release_stock(&tx, &order_id)?;
                // A refunded sale no longer counts towards `popular`.
                tx.execute(
                    "UPDATE products SET sales_count = max(0, sales_count - (
                         SELECT sum(i.quantity) FROM order_items i WHERE i.order_id = ?1 AND i.product_id = products.id))
                     WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ?1)",
                    [&order_id],
                )
                .map_err(map_err)?;
                insert_audit(&tx, &refund.audit)?;
                if let Some(email) = &refund.email {
                    insert_email(&tx, email)?;
                }
                let order = load_order(&tx, &order_id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(order)
            })
            .await
    }
}
