use async_trait::async_trait;
use rusqlite::{Row, params};

use super::{SqliteStore, bad_value, map_err, parse_ts, parse_uuid, ts};
use crate::domain::{Balance, CartLine, LedgerEntry, Timestamp};
use crate::domain::{
    LedgerBucket, LedgerEntryId, LedgerKind, Money, OrderId, OrderItemId, Page, PageRequest, PayoutId, ProductId, ProductKind, UserId,
    VendorId,
};
use crate::storage::{CartStore, DownloadStore, DownloadUse, LedgerStore, NewDownloadLink, StoreResult};

fn cart_line_from_row(row: &Row<'_>) -> rusqlite::Result<CartLine> {
    let kind = ProductKind::parse(&row.get::<_, String>(6)?).map_err(bad_value)?;
    let stock: Option<i64> = row.get(7)?;
    let quantity: i64 = row.get(3)?;
    let for_sale: bool = row.get(8)?;
    Ok(CartLine {
        product_id: ProductId(parse_uuid(&row.get::<_, String>(0)?)?),
        title: row.get(1)?,
        slug: row.get(2)?,
        quantity,
        unit_price: Money(row.get(4)?),
        vendor_id: VendorId(parse_uuid(&row.get::<_, String>(5)?)?),
        kind,
        stock,
        available: for_sale && stock.is_none_or(|s| s >= quantity),
        added_at: parse_ts(&row.get::<_, String>(9)?)?,
    })
}

#[async_trait]
impl CartStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>> {
        self.pool
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT p.id, p.title, p.slug, ci.quantity, p.price_cents, p.vendor_id, p.kind, p.stock,
                         p.status = 'published' AND v.status = 'approved', ci.added_at
                     FROM cart_items ci JOIN products p ON p.id = ci.product_id JOIN vendors v ON v.id = p.vendor_id
                     WHERE ci.user_id = ?1 ORDER BY ci.added_at, p.id",
                )
                .and_then(|mut stmt| stmt.query_map([user_id.to_string()], cart_line_from_row)?.collect())
                .map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn add_to_cart(&self, user_id: UserId, product_id: ProductId, quantity: i64, at: Timestamp) -> StoreResult<i64> {
        self.pool
            .write(move |conn| {
                conn.query_row(
                    "INSERT INTO cart_items (user_id, product_id, quantity, added_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + excluded.quantity
                     RETURNING quantity",
                    params![user_id.to_string(), product_id.to_string(), quantity, ts(at)],
                    |r| r.get(0),
                )
                .map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn set_cart_quantity(&self, user_id: UserId, product_id: ProductId, quantity: i64) -> StoreResult<bool> {
        self.pool
            .write(move |conn| {
                let changed = if quantity <= 0 {
                    conn.execute(
                        "DELETE FROM cart_items WHERE user_id = ?1 AND product_id = ?2",
                        params![user_id.to_string(), product_id.to_string()],
                    )
                } else {
                    conn.execute(
                        "UPDATE cart_items SET quantity = ?3 WHERE user_id = ?1 AND product_id = ?2",
                        params![user_id.to_string(), product_id.to_string(), quantity],
                    )
                }
                .map_err(map_err)?;
                Ok(changed > 0)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn remove_from_cart(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool> {
        self.pool
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM cart_items WHERE user_id = ?1 AND product_id = ?2",
                    params![user_id.to_string(), product_id.to_string()],
                )
                .map(|n| n > 0)
                .map_err(map_err)
            })
            .await
    }
}

fn ledger_from_row(row: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    let order: Option<String> = row.get(2)?;
    let item: Option<String> = row.get(3)?;
    Ok(LedgerEntry {
        id: LedgerEntryId(parse_uuid(&row.get::<_, String>(0)?)?),
        vendor_id: VendorId(parse_uuid(&row.get::<_, String>(1)?)?),
        order_id: order.as_deref().map(parse_uuid).transpose()?.map(OrderId),
        order_item_id: item.as_deref().map(parse_uuid).transpose()?.map(OrderItemId),
        kind: LedgerKind::parse(&row.get::<_, String>(4)?).map_err(bad_value)?,
        bucket: LedgerBucket::parse(&row.get::<_, String>(5)?).map_err(bad_value)?,
        amount: Money(row.get(6)?),
        created_at: parse_ts(&row.get::<_, String>(7)?)?,
        payout_id: row
            .get::<_, Option<String>>(8)?
            .as_deref()
            .map(parse_uuid)
            .transpose()?
            .map(PayoutId),
    })
}

#[async_trait]
impl LedgerStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn vendor_balance(&self, vendor_id: VendorId) -> StoreResult<Balance> {
        self.pool
            .read(move |conn| {
                let mut balance = Balance::default();
                let mut stmt = conn
                    .prepare_cached("SELECT bucket, sum(amount_cents) FROM ledger_entries WHERE vendor_id = ?1 GROUP BY bucket")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([vendor_id.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                for (bucket, sum) in rows {
                    let slot = match bucket.as_str() {
                        "pending" => &mut balance.pending,
                        "available" => &mut balance.available,
                        "held" => &mut balance.held,
                        "paid_out" => &mut balance.paid_out,
                        _ => &mut balance.commission,
                    };
                    *slot = Money(sum);
                }
                Ok(balance)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn ledger_entries(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<LedgerEntry>> {
        self.pool
            .read(move |conn| {
                let vendor = vendor_id.to_string();
                let total: i64 = conn
                    .query_row("SELECT count(*) FROM ledger_entries WHERE vendor_id = ?1", [&vendor], |r| r.get(0))
                    .map_err(map_err)?;
                let items = conn
                    .prepare_cached(
                        "SELECT id, vendor_id, order_id, order_item_id, kind, bucket, amount_cents, created_at, payout_id FROM ledger_entries
                         WHERE vendor_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_map(params![vendor, page.limit(), page.offset()], ledger_from_row)?
                            .collect()
                    })
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn release_matured_credits(&self, paid_before: Timestamp, shipped_before: Timestamp, at: Timestamp) -> StoreResult<u64> {
        if !self
            .pool
            .read(move |conn| super::orders::any_matured(conn, paid_before, shipped_before))
            .await?
        {
            return Ok(0);
        }
        self.pool
            .write(move |conn| super::orders::release_matured(conn, paid_before, shipped_before, at))
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn hold_for_dispute(&self, order_id: OrderId, hold: bool, at: Timestamp) -> StoreResult<u64> {
        self.pool
            .write(move |conn| super::orders::dispute_hold(conn, order_id, hold, at))
            .await
    }
}

#[async_trait]
impl DownloadStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn create_download_link(&self, link: NewDownloadLink) -> StoreResult<i32> {
        self.pool
            .write(move |conn| {
                use rusqlite::OptionalExtension;
                let tx = conn.savepoint().map_err(map_err)?;
                let item = link.order_item_id.to_string();
                let user = link.user_id.to_string();
                let remaining: Option<i32> = tx
                    .query_row(
                        "SELECT max(downloads_left) FROM download_links WHERE order_item_id = ?1 AND user_id = ?2",
                        params![item, user],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?
                    .flatten();
                let downloads = remaining.map_or(link.downloads, |left| left.min(link.downloads));
                let id = link.id.to_string();
                tx.execute(
                    "INSERT INTO download_links (id, order_item_id, user_id, expires_at, downloads_left, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, item, user, ts(link.expires_at), downloads, ts(link.at)],
                )
                .map_err(map_err)?;
                tx.execute(
                    "UPDATE download_links SET downloads_left = 0 WHERE order_item_id = ?1 AND id <> ?2",
                    params![item, id],
                )
                .map_err(map_err)?;
                tx.execute(
                    "DELETE FROM download_links WHERE order_item_id = ?1 AND id NOT IN (
                         SELECT id FROM download_links WHERE order_item_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 5)",
                    [&item],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(downloads)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn use_download_link(&self, id: uuid::Uuid, user_id: UserId, at: Timestamp) -> StoreResult<DownloadUse> {
        self.pool
            .write(move |conn| open_download_link(conn, id, user_id, at, Opening::Count))
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn peek_download_link(
        &self,
        id: uuid::Uuid,
        user_id: UserId,
        at: Timestamp,
        resumed_since: Option<Timestamp>,
    ) -> StoreResult<DownloadUse> {
        let how = resumed_since.map_or(Opening::Peek, Opening::Resume);
        self.pool.read(move |conn| open_download_link(conn, id, user_id, at, how)).await
    }
}

/// How a download request uses its link.
#[derive(Clone, Copy)]
enum Opening {
    /// A new download: counted.
    Count,
    /// A `HEAD`: not counted, downloads must be left.
    Peek,
    /// A `Range` continuation: not counted, the link must have counted a download since then.
    Resume(Timestamp),
}

/// One row of the download-link query: expiry, downloads left, asset key, file name, size, last counted.
type LinkRow = (String, i32, Option<String>, Option<String>, Option<i64>, Option<String>);
/// Checks a link and, for [`Opening::Count`], takes one download off it (conditional decrement).
fn open_download_link(
    conn: &mut rusqlite::Connection,
    id: uuid::Uuid,
    user_id: UserId,
    at: Timestamp,
    how: Opening,
) -> StoreResult<DownloadUse> {
    use rusqlite::OptionalExtension;
    let count = matches!(how, Opening::Count);
    let id = id.to_string();
    // A savepoint: inside the writer's group when counting, its own read transaction otherwise.
    let tx = conn.savepoint().map_err(map_err)?;
    let link: Option<LinkRow> = tx
        .query_row(
            "SELECT l.expires_at, l.downloads_left, a.key, a.filename, a.size_bytes, l.last_counted_at FROM download_links l
             JOIN order_items i ON i.id = l.order_item_id JOIN orders o ON o.id = i.order_id
             LEFT JOIN product_assets a ON a.product_id = i.product_id
             WHERE l.id = ?1 AND l.user_id = ?2 AND o.status IN ('paid', 'completed')",
            params![id, user_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()
        .map_err(map_err)?;
    let Some((expires_at, left, key, filename, size_bytes, last_counted)) = link else {
        return Ok(DownloadUse::Unknown);
    };
    if parse_ts(&expires_at).map_err(map_err)? <= at {
        return Ok(DownloadUse::Expired);
    }
    match how {
        Opening::Resume(since) => {
            let counted = last_counted.as_deref().map(parse_ts).transpose().map_err(map_err)?;
            if counted.is_none_or(|counted| counted < since) {
                return Ok(DownloadUse::Exhausted);
            }
        }
        Opening::Count | Opening::Peek if left <= 0 => return Ok(DownloadUse::Exhausted),
        Opening::Count | Opening::Peek => {}
    }
    // No file to serve: not counted.
    let (Some(key), Some(filename), Some(size_bytes)) = (key, filename, size_bytes) else {
        return Ok(DownloadUse::Unknown);
    };
    if !count {
        return Ok(DownloadUse::Granted {
            key,
            filename,
            size_bytes,
            downloads_left: left,
        });
    }
    let downloads_left: Option<i32> = tx
        .query_row(
            "UPDATE download_links SET downloads_left = downloads_left - 1, last_counted_at = ?2
             WHERE id = ?1 AND downloads_left > 0 RETURNING downloads_left",
            params![id, ts(at)],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    let Some(downloads_left) = downloads_left else {
        return Ok(DownloadUse::Exhausted);
    };
    tx.commit().map_err(map_err)?;
    Ok(DownloadUse::Granted {
        key,
        filename,
        size_bytes,
        downloads_left,
    })
}
