use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::audit::insert_audit;
use super::intents::{expire_sessions_of, finish_intent, insert_intent};
use super::outbox::insert_email;
use super::{PostgresStore, map_err};
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

fn order_from_row(row: &Row) -> StoreResult<Order> {
    Ok(Order {
        id: OrderId(row.try_get(0).map_err(map_err)?),
        number: row.try_get(1).map_err(map_err)?,
        user_id: UserId(row.try_get(2).map_err(map_err)?),
        status: OrderStatus::parse(row.try_get(3).map_err(map_err)?).map_err(StoreError::backend)?,
        currency: row.try_get(4).map_err(map_err)?,
        subtotal: Money(row.try_get(5).map_err(map_err)?),
        total: Money(row.try_get(6).map_err(map_err)?),
        commission: Money(row.try_get(7).map_err(map_err)?),
        shipping_address: row.try_get(8).map_err(map_err)?,
        payment_provider: row.try_get(9).map_err(map_err)?,
        payment_session_id: row.try_get(10).map_err(map_err)?,
        payment_intent_id: row.try_get(11).map_err(map_err)?,
        refund_id: row.try_get(12).map_err(map_err)?,
        items: Vec::new(),
        created_at: row.try_get(13).map_err(map_err)?,
        updated_at: row.try_get(14).map_err(map_err)?,
        paid_at: row.try_get(15).map_err(map_err)?,
    })
}

fn item_from_row(row: &Row) -> StoreResult<(OrderId, OrderItem)> {
    let item = OrderItem {
        id: OrderItemId(row.try_get(0).map_err(map_err)?),
        product_id: ProductId(row.try_get(1).map_err(map_err)?),
        vendor_id: VendorId(row.try_get(2).map_err(map_err)?),
        title: row.try_get(3).map_err(map_err)?,
        kind: ProductKind::parse(row.try_get(4).map_err(map_err)?).map_err(StoreError::backend)?,
        quantity: row.try_get(5).map_err(map_err)?,
        unit_price: Money(row.try_get(6).map_err(map_err)?),
        line_total: Money(row.try_get(7).map_err(map_err)?),
        commission_bps: row.try_get(8).map_err(map_err)?,
        commission: Money(row.try_get(9).map_err(map_err)?),
        vendor_net: Money(row.try_get(10).map_err(map_err)?),
        fulfilment_status: FulfilmentStatus::parse(row.try_get(11).map_err(map_err)?).map_err(StoreError::backend)?,
        tracking_number: row.try_get(12).map_err(map_err)?,
        carrier: row.try_get(13).map_err(map_err)?,
        shipped_at: row.try_get(14).map_err(map_err)?,
    };
    Ok((OrderId(row.try_get(15).map_err(map_err)?), item))
}

/// Fills in the lines of `orders` (only `vendor`'s lines when given), one query for all of them.
async fn attach_items(client: &impl GenericClient, orders: &mut [Order], vendor: Option<VendorId>) -> StoreResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id.0).collect();
    let vendor = vendor.map(|v| v.0);
    let rows = client
        .query(
            &format!(
                "SELECT {ITEM_COLUMNS} FROM order_items WHERE order_id = ANY($1) AND ($2::uuid IS NULL OR vendor_id = $2)
                 ORDER BY order_id, position"
            ),
            &[&ids, &vendor],
        )
        .await
        .map_err(map_err)?;
    let mut by_order: HashMap<OrderId, Vec<OrderItem>> = HashMap::new();
    for row in &rows {
        let (order_id, item) = item_from_row(row)?;
        by_order.entry(order_id).or_default().push(item);
    }
    for order in orders {
        order.items = by_order.remove(&order.id).unwrap_or_default();
    }
    Ok(())
}

/// An order with all its lines, read through `client` (inside the caller's transaction, if any).
async fn load_order(client: &impl GenericClient, id: Uuid) -> StoreResult<Option<Order>> {
    let row = client
        .query_opt(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"), &[&id])
        .await
        .map_err(map_err)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut orders = [order_from_row(&row)?];
    attach_items(client, &mut orders, None).await?;
    let [order] = orders;
    Ok(Some(order))
}

/// Locks the products of the lines of `orders` in id order (the order `place_order` reserves them
/// in), so that transactions touching the same products never wait for each other in a cycle.
async fn lock_products(client: &impl GenericClient, orders: &[Uuid]) -> StoreResult<()> {
    client
        .execute(
            "SELECT 1 FROM products WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ANY($1))
             ORDER BY id FOR NO KEY UPDATE",
            &[&orders],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Puts the stock of the physical lines of `orders` back.
async fn release_stock(client: &impl GenericClient, orders: &[Uuid]) -> StoreResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    lock_products(client, orders).await?;
    client
        .execute(
            "UPDATE products p SET stock = p.stock + r.quantity
             FROM (SELECT product_id, sum(quantity)::bigint AS quantity FROM order_items
                   WHERE order_id = ANY($1) AND kind = 'physical' GROUP BY product_id) r
             WHERE p.id = r.product_id AND p.stock IS NOT NULL",
            &[&orders],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

/// A line's ledger key on this backend: (item id, vendor id, order id).
pub(super) type LineKey = (Uuid, Uuid, Uuid);

/// Appends one posting computed by [`crate::domain::ledger`] (the one ledger insert of order lines).
pub(super) async fn insert_ledger_entry(client: &impl GenericClient, posting: &LinePosting<LineKey>, at: &Timestamp) -> StoreResult<()> {
    let (item, vendor, order) = &posting.line;
    client
        .execute(
            "INSERT INTO ledger_entries (id, vendor_id, order_id, order_item_id, kind, bucket, amount_cents, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &LedgerEntryId::new().0,
                vendor,
                order,
                item,
                &posting.kind.as_str(),
                &posting.bucket.as_str(),
                &posting.amount.0,
                at,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Appends every posting, in order.
async fn insert_postings(client: &impl GenericClient, postings: &[LinePosting<LineKey>], at: &Timestamp) -> StoreResult<()> {
    for posting in postings {
        insert_ledger_entry(client, posting, at).await?;
    }
    Ok(())
}

/// Reads (item, vendor, bucket, sum) rows of one order into [`BucketSum`]s.
fn bucket_sums(rows: &[Row], order: Uuid) -> StoreResult<Vec<BucketSum<LineKey>>> {
    rows.iter()
        .map(|row| {
            Ok(BucketSum {
                line: (row.get(0), row.get(1), order),
                bucket: LedgerBucket::parse(row.get(2)).map_err(StoreError::backend)?,
                sum: Money(row.get(3)),
            })
        })
        .collect()
}

/// Locks the order row (`FOR UPDATE`) and returns its status; `None` when there is no such order.
async fn lock_order(client: &impl GenericClient, order_id: Uuid) -> StoreResult<Option<OrderStatus>> {
    let row = client
        .query_opt("SELECT status FROM orders WHERE id = $1 FOR UPDATE", &[&order_id])
        .await
        .map_err(map_err)?;
    row.map(|r| OrderStatus::parse(r.get(0)).map_err(StoreError::backend)).transpose()
}

/// Moves the matured pending credit of every line to available (see
/// [`crate::storage::LedgerStore::release_matured_credits`]).
pub(super) async fn release_matured(
    store: &PostgresStore,
    paid_before: Timestamp,
    shipped_before: Timestamp,
    at: Timestamp,
) -> StoreResult<u64> {
    let matured = format!(
        "SELECT i.id, i.vendor_id, i.order_id, sum(l.amount_cents)::bigint FROM order_items i
         JOIN orders o ON o.id = i.order_id
         JOIN ledger_entries l ON l.order_item_id = i.id AND l.bucket = 'pending'
         WHERE o.status IN ({}) AND ($3::uuid[] IS NULL OR o.id = ANY($3))
           AND ((i.kind = 'digital' AND o.paid_at < $1) OR (i.kind = 'physical' AND i.shipped_at IS NOT NULL AND i.shipped_at < $2))
         GROUP BY i.id, i.vendor_id, i.order_id HAVING sum(l.amount_cents) > 0",
        status_guard(OrderEvent::Refunded)
    );
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(map_err)?;
    let candidates = tx
        .query(&matured, &[&paid_before, &shipped_before, &None::<Vec<Uuid>>])
        .await
        .map_err(map_err)?;
    if candidates.is_empty() {
        return Ok(0);
    }
    // Lock just those orders (in id order, as refunds and payments do), then read the sums
    // again under the locks: a refund running meanwhile has either reversed them or waits.
    let mut orders: Vec<Uuid> = candidates.iter().map(|r| r.get(2)).collect();
    orders.sort_unstable();
    orders.dedup();
    tx.execute("SELECT 1 FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE", &[&orders])
        .await
        .map_err(map_err)?;
    let rows = tx
        .query(&matured, &[&paid_before, &shipped_before, &Some(orders)])
        .await
        .map_err(map_err)?;
    for row in &rows {
        let (item, vendor, order, pending): (Uuid, Uuid, Uuid, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
        insert_postings(&tx, &ledger::release_postings((item, vendor, order), Money(pending)), &at).await?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(rows.len() as u64)
}

/// Holds (or releases) a disputed order's line shares (see
/// [`crate::storage::LedgerStore::hold_for_dispute`]).
pub(super) async fn dispute_hold(store: &PostgresStore, order_id: OrderId, hold: bool, at: Timestamp) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(map_err)?;
    let status = lock_order(&tx, order_id.0).await?.ok_or(StoreError::NotFound)?;
    if !status.is_refundable() {
        return Ok(0);
    }
    let from: Vec<&str> = ledger::dispute_sources(hold).iter().map(|bucket| bucket.as_str()).collect();
    let rows = tx
        .query(
            "SELECT order_item_id, vendor_id, bucket, sum(amount_cents)::bigint FROM ledger_entries
             WHERE order_id = $1 AND order_item_id IS NOT NULL AND bucket = ANY($2)
             GROUP BY order_item_id, vendor_id, bucket HAVING sum(amount_cents) <> 0 ORDER BY order_item_id, bucket",
            &[&order_id.0, &from],
        )
        .await
        .map_err(map_err)?;
    let sums = bucket_sums(&rows, order_id.0)?;
    let lines: std::collections::HashSet<Uuid> = sums.iter().map(|sum| sum.line.0).collect();
    insert_postings(&tx, &ledger::dispute_postings(hold, &sums), &at).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(lines.len() as u64)
}

/// The guarded status updates of the order events (`SET status = <target> ... WHERE id = $n AND
/// status IN (<allowed from>)`), built once from the status machine.
static PAY_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, paid_at = $1, updated_at = $1, payment_intent_id = coalesce($2::text, payment_intent_id) WHERE id = $3 AND status IN ({})",
        set_status(OrderEvent::PaymentSucceeded),
        status_guard(OrderEvent::PaymentSucceeded)
    )
});
static FAIL_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, updated_at = $1, payment_intent_id = coalesce($2::text, payment_intent_id) WHERE id = $3 AND status IN ({})",
        set_status(OrderEvent::PaymentFailed),
        status_guard(OrderEvent::PaymentFailed)
    )
});
static EXPIRE_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, updated_at = $1, closed_at = $1 WHERE id = $2 AND status IN ({})",
        set_status(OrderEvent::Expired),
        status_guard(OrderEvent::Expired)
    )
});
static COMPLETE_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, updated_at = $1 WHERE id = $2 AND status IN ({})",
        set_status(OrderEvent::AllDelivered),
        status_guard(OrderEvent::AllDelivered)
    )
});
static REFUND_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}, refund_id = $1, updated_at = $2, closed_at = $2 WHERE id = $3 AND status IN ({})",
        set_status(OrderEvent::Refunded),
        status_guard(OrderEvent::Refunded)
    )
});

/// Runs a guarded status update of one order; `Conflict::StaleStatus` when the guard refused it.
async fn transition(client: &impl GenericClient, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<()> {
    let changed = client.execute(sql, params).await.map_err(map_err)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)))
    }
}

/// The fulfilment of every line of an order.
async fn line_fulfilments(client: &impl GenericClient, order_id: Uuid) -> StoreResult<Vec<FulfilmentStatus>> {
    let rows = client
        .query("SELECT fulfilment_status FROM order_items WHERE order_id = $1", &[&order_id])
        .await
        .map_err(map_err)?;
    rows.iter()
        .map(|row| FulfilmentStatus::parse(row.get(0)).map_err(StoreError::backend))
        .collect()
}

/// Completes a paid order when every line is delivered or shipped (`fulfilments`).
async fn complete_if_delivered(
    client: &impl GenericClient,
    order_id: Uuid,
    fulfilments: &[FulfilmentStatus],
    at: &Timestamp,
) -> StoreResult<()> {
    if all_delivered(fulfilments.iter().copied()) {
        transition(client, &COMPLETE_ORDER, &[at, &order_id]).await?;
    }
    Ok(())
}

async fn pay_order(client: &impl GenericClient, order_id: Uuid, event: &PaymentEventRecord) -> StoreResult<()> {
    let at = &event.at;
    transition(client, &PAY_ORDER, &[at, &event.payment_intent_id, &order_id]).await?;
    let rows = client
        .query(
            "SELECT id, vendor_id, kind, commission_cents, vendor_net_cents, fulfilment_status FROM order_items
             WHERE order_id = $1 ORDER BY position",
            &[&order_id],
        )
        .await
        .map_err(map_err)?;
    let mut fulfilments = Vec::with_capacity(rows.len());
    let mut lines: Vec<PaidLine<LineKey>> = Vec::with_capacity(rows.len());
    for row in &rows {
        let item: Uuid = row.get(0);
        let kind = ProductKind::parse(row.get(2)).map_err(StoreError::backend)?;
        let next = fulfilment_on_payment(kind);
        if next.as_str() != row.get::<_, &str>(5) {
            client
                .execute(
                    "UPDATE order_items SET fulfilment_status = $1 WHERE id = $2",
                    &[&next.as_str(), &item],
                )
                .await
                .map_err(map_err)?;
        }
        fulfilments.push(next);
        lines.push(PaidLine {
            line: (item, row.get(1), order_id),
            digital: kind == ProductKind::Digital,
            net: Money(row.get(4)),
            commission: Money(row.get(3)),
        });
    }
    insert_postings(client, &ledger::payment_postings(&lines, event.digital_credit_pending), at).await?;
    lock_products(client, &[order_id]).await?;
    client
        .execute(
            "UPDATE products p SET sales_count = p.sales_count + s.quantity
             FROM (SELECT product_id, sum(quantity)::bigint AS quantity FROM order_items WHERE order_id = $1 GROUP BY product_id) s
             WHERE p.id = s.product_id",
            &[&order_id],
        )
        .await
        .map_err(map_err)?;
    if let Some(email) = &event.confirmation {
        insert_email(client, email).await?;
    }
    // Everything delivered (an all-digital order): complete.
    complete_if_delivered(client, order_id, &fulfilments, at).await
}

#[async_trait]
impl OrderStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn place_order(&self, order: NewOrder) -> StoreResult<Order> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        if let Some(limit) = order.max_unpaid {
            // The buyer's row lock serialises this count with the buyer's concurrent checkouts.
            tx.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", &[&order.user_id.0])
                .await
                .map_err(map_err)?;
            let unpaid: i64 = tx
                .query_one(
                    "SELECT count(*) FROM orders WHERE user_id = $1 AND status IN ('pending_payment', 'payment_failed')",
                    &[&order.user_id.0],
                )
                .await
                .map_err(map_err)?
                .get(0);
            if unpaid >= limit {
                return Err(StoreError::Conflict(Conflict::TooManyUnpaidOrders));
            }
        }
        if order.take_from_cart {
            // Claim the cart lines first: a concurrent checkout of the same cart waits on these row
            // locks and then finds them gone.
            for item in &order.items {
                let taken = tx
                    .execute(
                        "DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2 AND quantity = $3",
                        &[&order.user_id.0, &item.product_id.0, &item.quantity],
                    )
                    .await
                    .map_err(map_err)?;
                if taken == 0 {
                    return Err(StoreError::Conflict(Conflict::CartChanged));
                }
            }
        }
        // Reserve in product-id order, so two checkouts sharing products lock them in the same
        // order and cannot deadlock.
        let mut reservations: Vec<_> = order.items.iter().collect();
        reservations.sort_by_key(|item| item.product_id);
        for item in reservations {
            let reserved = if item.kind == ProductKind::Physical {
                tx.execute(
                    "UPDATE products SET stock = stock - $1
                     WHERE id = $2 AND kind = 'physical' AND status = 'published' AND stock >= $1
                       AND vendor_id IN (SELECT id FROM vendors WHERE status = 'approved')",
                    &[&item.quantity, &item.product_id.0],
                )
                .await
                .map_err(map_err)?
            } else {
                let for_sale = tx
                    .query_opt(
                        "SELECT 1 FROM products p JOIN vendors v ON v.id = p.vendor_id
                         WHERE p.id = $1 AND p.kind = 'digital' AND p.status = 'published' AND v.status = 'approved'",
                        &[&item.product_id.0],
                    )
                    .await
                    .map_err(map_err)?;
                u64::from(for_sale.is_some())
            };
            if reserved == 0 {
                return Err(StoreError::Conflict(Conflict::OutOfStock));
            }
        }
        tx.execute(
            "INSERT INTO orders (id, number, user_id, status, currency, subtotal_cents, total_cents, commission_cents,
                 shipping_address, payment_provider, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending_payment', $4, $5, $6, $7, $8, $9, $10, $10)",
            &[
                &order.id.0,
                &order.number,
                &order.user_id.0,
                &order.currency,
                &order.subtotal.cents(),
                &order.total.cents(),
                &order.commission.cents(),
                &order.shipping_address,
                &order.payment_provider,
                &order.at,
            ],
        )
        .await
        .map_err(map_err)?;
        for (position, item) in order.items.iter().enumerate() {
            tx.execute(
                "INSERT INTO order_items (id, order_id, product_id, vendor_id, title, kind, quantity, unit_price_cents,
                     line_total_cents, commission_bps, commission_cents, vendor_net_cents, fulfilment_status, position)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'unfulfilled', $13)",
                &[
                    &item.id.0,
                    &order.id.0,
                    &item.product_id.0,
                    &item.vendor_id.0,
                    &item.title,
                    &item.kind.as_str(),
                    &item.quantity,
                    &item.unit_price.cents(),
                    &item.line_total.cents(),
                    &item.commission_bps,
                    &item.commission.cents(),
                    &item.vendor_net.cents(),
                    &i32::try_from(position).unwrap_or(i32::MAX),
                ],
            )
            .await
            .map_err(map_err)?;
        }
        if !order.take_from_cart {
            tx.execute("DELETE FROM cart_items WHERE user_id = $1", &[&order.user_id.0])
                .await
                .map_err(map_err)?;
        }
        let stored = load_order(&tx, order.id.0).await?.ok_or(StoreError::NotFound)?;
        if let Some(intent) = &order.checkout_intent {
            insert_intent(&tx, intent).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn attach_payment_session(&self, order_id: OrderId, session_id: &str) -> StoreResult<()> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE orders SET payment_session_id = $1 WHERE id = $2",
                &[&session_id, &order_id.0],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    #[tracing::instrument(skip_all)]
    async fn order_by_id(&self, id: OrderId) -> StoreResult<Option<Order>> {
        load_order(&self.client().await?, id.0).await
    }

    #[tracing::instrument(skip_all)]
    async fn order_by_payment_ref(&self, session_id: Option<&str>, payment_intent_id: Option<&str>) -> StoreResult<Option<Order>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id FROM orders WHERE ($1::text IS NOT NULL AND payment_session_id = $1)
                     OR ($2::text IS NOT NULL AND payment_intent_id = $2) LIMIT 1",
                &[&session_id, &payment_intent_id],
            )
            .await
            .map_err(map_err)?;
        match row {
            Some(row) => load_order(&client, row.get(0)).await,
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> StoreResult<Page<Order>> {
        let user = filter.user_id.map(|u| u.0);
        let vendor = filter.vendor_id.map(|v| v.0);
        let status = filter.status.map(OrderStatus::as_str);
        let condition = "($1::uuid IS NULL OR user_id = $1)
             AND ($2::uuid IS NULL OR id IN (SELECT order_id FROM order_items WHERE vendor_id = $2))
             AND ($3::text IS NULL OR status = $3)
             AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at <= $5)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM orders WHERE {condition}"),
                &[&user, &vendor, &status, &filter.from, &filter.to],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"),
                &[&user, &vendor, &status, &filter.from, &filter.to, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let mut orders = rows.iter().map(order_from_row).collect::<StoreResult<Vec<_>>>()?;
        attach_items(&client, &mut orders, filter.vendor_id).await?;
        Ok(Page::new(orders, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_order(&self, order_id: OrderId, user_id: UserId, at: Timestamp) -> StoreResult<Order> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let owner = tx
            .query_opt("SELECT user_id FROM orders WHERE id = $1 FOR UPDATE", &[&order_id.0])
            .await
            .map_err(map_err)?;
        if owner.map(|r| r.get::<_, Uuid>(0)) != Some(user_id.0) {
            return Err(StoreError::NotFound);
        }
        let changed = tx
            .execute(
                &format!(
                    "UPDATE orders SET status = '{}', updated_at = $1, closed_at = $1 WHERE id = $2 AND status IN ({})",
                    OrderEvent::Cancelled.target().as_str(),
                    status_guard(OrderEvent::Cancelled)
                ),
                &[&at, &order_id.0],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)));
        }
        release_stock(&tx, &[order_id.0]).await?;
        expire_sessions_of(&tx, &[order_id.0], &at).await?;
        let order = load_order(&tx, order_id.0).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(order)
    }

    #[tracing::instrument(skip_all)]
    async fn expire_orders(&self, created_before: Timestamp, at: Timestamp) -> StoreResult<Vec<OrderId>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The status condition is re-checked on each row it locks, so an order paid meanwhile is
        // left alone.
        let rows = tx
            .query(
                &format!(
    "UPDATE orders SET status = '{}', updated_at = $1, closed_at = $1 WHERE status IN ({}) AND created_at < $2 RETURNING id",
    OrderEvent::Expired.target().as_str(),
    status_guard(OrderEvent::Expired)
),
                &[&at, &created_before],
            )
            .await
            .map_err(map_err)?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        // All at once: their products are locked in one consistent order.
        release_stock(&tx, &ids).await?;
        expire_sessions_of(&tx, &ids, &at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(ids.into_iter().map(OrderId).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn apply_payment_event(&self, event: PaymentEventRecord) -> StoreResult<EventOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let order_id = event.order_id.0;
        let kind = match event.kind {
            PaymentEventKind::Succeeded => "succeeded",
            PaymentEventKind::Failed => "failed",
            PaymentEventKind::Expired => "expired",
            PaymentEventKind::Refunded => "refunded",
            PaymentEventKind::DisputeOpened => "dispute_opened",
            PaymentEventKind::DisputeWon => "dispute_won",
            PaymentEventKind::DisputeLost => "dispute_lost",
        };
        // A concurrent transaction inserting the same id makes this wait for its outcome: when it
        // commits, this inserts nothing and the event is a duplicate.
        let fresh = tx
            .execute(
                "INSERT INTO payment_events (event_id, order_id, kind, outcome, received_at) VALUES ($1, $2, $3, 'pending', $4)
                 ON CONFLICT (event_id) DO NOTHING",
                &[&event.event_id, &order_id, &kind, &event.at],
            )
            .await
            .map_err(map_err)?;
        if fresh == 0 {
            return Ok(EventOutcome::Duplicate);
        }
        // Events of one order (with different ids) are decided one after the other.
        let Some(status) = lock_order(&tx, order_id).await? else {
            return Err(StoreError::NotFound);
        };
        if let Some(late) = &event.late_payment {
            let paid_with: Option<String> = tx
                .query_one("SELECT payment_intent_id FROM orders WHERE id = $1", &[&order_id])
                .await
                .map_err(map_err)?
                .get(0);
            if (late.always && status.takes_payment()) || refuses_payment(status, paid_with.as_deref(), event.payment_intent_id.as_deref())
            {
                if insert_intent(&tx, &late.intent).await? {
                    insert_audit(&tx, &late.audit).await?;
                    if let Some(email) = &late.email {
                        insert_email(&tx, email).await?;
                    }
                }
                tx.execute(
                    "UPDATE payment_events SET outcome = 'auto_refund' WHERE event_id = $1",
                    &[&event.event_id],
                )
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                return Ok(EventOutcome::AutoRefund);
            }
        }
        // A refund (or lost dispute) of this order's payment seen before the payment itself: the
        // money is back with the buyer, so the late payment event pays nothing.
        let given_back = event.kind == PaymentEventKind::Succeeded
            && tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM payment_events WHERE order_id = $1 AND kind IN ('refunded', 'dispute_lost'))",
                    &[&order_id],
                )
                .await
                .map_err(map_err)?
                .get::<_, bool>(0);
        let applied = match (event.kind, status) {
            (PaymentEventKind::Succeeded, status) if status.after(OrderEvent::PaymentSucceeded).is_some() && !given_back => {
                pay_order(&tx, order_id, &event).await?;
                true
            }
            (PaymentEventKind::Failed, status) if status.after(OrderEvent::PaymentFailed).is_some() => {
                transition(&tx, &FAIL_ORDER, &[&event.at, &event.payment_intent_id, &order_id]).await?;
                true
            }
            (PaymentEventKind::Expired, status) if status.after(OrderEvent::Expired).is_some() => {
                transition(&tx, &EXPIRE_ORDER, &[&event.at, &order_id]).await?;
                release_stock(&tx, &[order_id]).await?;
                true
            }
            _ => false,
        };
        tx.execute(
            "UPDATE payment_events SET outcome = $1 WHERE event_id = $2",
            &[&if applied { "applied" } else { "ignored" }, &event.event_id],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(if applied { EventOutcome::Applied } else { EventOutcome::Ignored })
    }

    #[tracing::instrument(skip_all)]
    async fn fulfil_item(&self, fulfilment: Fulfilment) -> StoreResult<OrderItem> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let order_id = fulfilment.order_id.0;
        let item_id = fulfilment.item_id.0;
        // Fulfilments of one order are serialised, so the last line shipped sees all the others.
        let Some(status) = lock_order(&tx, order_id).await? else {
            return Err(StoreError::NotFound);
        };
        let line = tx
            .query_opt(
                "SELECT vendor_id, kind, fulfilment_status, vendor_net_cents FROM order_items WHERE id = $1 AND order_id = $2",
                &[&item_id, &order_id],
            )
            .await
            .map_err(map_err)?;
        let Some(line) = line else {
            return Err(StoreError::NotFound);
        };
        let (vendor, kind, fulfilment_status, net): (Uuid, &str, &str, i64) = (line.get(0), line.get(1), line.get(2), line.get(3));
        if vendor != fulfilment.vendor_id.0 {
            return Err(StoreError::NotFound);
        }
        let kind = ProductKind::parse(kind).map_err(StoreError::backend)?;
        let fulfilment_status = FulfilmentStatus::parse(fulfilment_status).map_err(StoreError::backend)?;
        if !can_ship(status, kind, fulfilment_status) {
            return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::OrderItem)));
        }
        let at = &fulfilment.at;
        tx.execute(
            "UPDATE order_items SET fulfilment_status = $1, tracking_number = $2, carrier = $3, shipped_at = $4 WHERE id = $5",
            &[
                &FulfilmentStatus::Shipped.as_str(),
                &fulfilment.tracking_number,
                &fulfilment.carrier,
                at,
                &item_id,
            ],
        )
        .await
        .map_err(map_err)?;
        if fulfilment.release_now {
            insert_postings(&tx, &ledger::release_postings((item_id, vendor, order_id), Money(net)), at).await?;
        }
        let fulfilments = line_fulfilments(&tx, order_id).await?;
        complete_if_delivered(&tx, order_id, &fulfilments, at).await?;
        let row = tx
            .query_one(&format!("SELECT {ITEM_COLUMNS} FROM order_items WHERE id = $1"), &[&item_id])
            .await
            .map_err(map_err)?;
        let (_, item) = item_from_row(&row)?;
        tx.commit().await.map_err(map_err)?;
        Ok(item)
    }

    #[tracing::instrument(skip_all)]
    async fn refund_order(&self, refund: Refund) -> StoreResult<Order> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let order_id = refund.order_id.0;
        let at = &refund.at;
        let status = lock_order(&tx, order_id).await?.ok_or(StoreError::NotFound)?;
        if !status.is_refundable() {
            return Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)));
        }
        transition(&tx, &REFUND_ORDER, &[&refund.refund_id, at, &order_id]).await?;
        if let Some(intent) = refund.intent_id {
            finish_intent(&tx, intent, Some(&refund.refund_id), at).await?;
        }
        // Reverse exactly what the ledger holds for each line, whatever bucket it sits in now.
        let sums = tx
            .query(
                "SELECT order_item_id, vendor_id, bucket, sum(amount_cents)::bigint FROM ledger_entries
                 WHERE order_id = $1 AND order_item_id IS NOT NULL GROUP BY order_item_id, vendor_id, bucket
                 ORDER BY order_item_id, vendor_id, bucket",
                &[&order_id],
            )
            .await
            .map_err(map_err)?;
        insert_postings(&tx, &ledger::refund_postings(&bucket_sums(&sums, order_id)?), at).await?;
        release_stock(&tx, &[order_id]).await?;
        // A refunded sale no longer counts towards `popular`.
        tx.execute(
            "UPDATE products SET sales_count = greatest(0, sales_count - (
                 SELECT sum(i.quantity) FROM order_items i WHERE i.order_id = $1 AND i.product_id = products.id))
             WHERE id IN (SELECT product_id FROM order_items WHERE order_id = $1)",
            &[&order_id],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &refund.audit).await?;
        if let Some(email) = &refund.email {
            insert_email(&tx, email).await?;
        }
        let order = load_order(&tx, order_id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(order)
    }
}
