use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PostgresStore, map_err};
use crate::domain::{Balance, CartLine, LedgerEntry, Timestamp};
use crate::domain::{
    LedgerBucket, LedgerEntryId, LedgerKind, Money, OrderId, OrderItemId, Page, PageRequest, PayoutId, ProductId, ProductKind, UserId,
    VendorId,
};
use crate::storage::{CartStore, DownloadStore, DownloadUse, LedgerStore, NewDownloadLink, StoreError, StoreResult};

fn cart_line_from_row(row: &Row) -> StoreResult<CartLine> {
    let stock: Option<i64> = row.try_get(7).map_err(map_err)?;
    let quantity: i64 = row.try_get(3).map_err(map_err)?;
    let for_sale: bool = row.try_get(8).map_err(map_err)?;
    Ok(CartLine {
        product_id: ProductId(row.try_get(0).map_err(map_err)?),
        title: row.try_get(1).map_err(map_err)?,
        slug: row.try_get(2).map_err(map_err)?,
        quantity,
        unit_price: Money(row.try_get(4).map_err(map_err)?),
        vendor_id: VendorId(row.try_get(5).map_err(map_err)?),
        kind: ProductKind::parse(row.try_get(6).map_err(map_err)?).map_err(StoreError::backend)?,
        stock,
        available: for_sale && stock.is_none_or(|s| s >= quantity),
        added_at: row.try_get(9).map_err(map_err)?,
    })
}

#[async_trait]
impl CartStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.title, p.slug, ci.quantity, p.price_cents, p.vendor_id, p.kind, p.stock,
                     p.status = 'published' AND v.status = 'approved', ci.added_at
                 FROM cart_items ci JOIN products p ON p.id = ci.product_id JOIN vendors v ON v.id = p.vendor_id
                 WHERE ci.user_id = $1 ORDER BY ci.added_at, p.id",
                &[&user_id.0],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(cart_line_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn add_to_cart(&self, user_id: UserId, product_id: ProductId, quantity: i64, at: Timestamp) -> StoreResult<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO cart_items (user_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + excluded.quantity
                 RETURNING quantity",
                &[&user_id.0, &product_id.0, &quantity, &at],
            )
            .await
            .map_err(map_err)?;
        Ok(row.get(0))
    }

    #[tracing::instrument(skip_all)]
    async fn set_cart_quantity(&self, user_id: UserId, product_id: ProductId, quantity: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        let changed = if quantity <= 0 {
            client
                .execute(
                    "DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2",
                    &[&user_id.0, &product_id.0],
                )
                .await
        } else {
            client
                .execute(
                    "UPDATE cart_items SET quantity = $3 WHERE user_id = $1 AND product_id = $2",
                    &[&user_id.0, &product_id.0, &quantity],
                )
                .await
        }
        .map_err(map_err)?;
        Ok(changed > 0)
    }

    #[tracing::instrument(skip_all)]
    async fn remove_from_cart(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool> {
        let removed = self
            .client()
            .await?
            .execute(
                "DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2",
                &[&user_id.0, &product_id.0],
            )
            .await
            .map_err(map_err)?;
        Ok(removed > 0)
    }
}

fn ledger_from_row(row: &Row) -> StoreResult<LedgerEntry> {
    Ok(LedgerEntry {
        id: LedgerEntryId(row.try_get(0).map_err(map_err)?),
        vendor_id: VendorId(row.try_get(1).map_err(map_err)?),
        order_id: row.try_get::<_, Option<Uuid>>(2).map_err(map_err)?.map(OrderId),
        order_item_id: row.try_get::<_, Option<Uuid>>(3).map_err(map_err)?.map(OrderItemId),
        kind: LedgerKind::parse(row.try_get(4).map_err(map_err)?).map_err(StoreError::backend)?,
        bucket: LedgerBucket::parse(row.try_get(5).map_err(map_err)?).map_err(StoreError::backend)?,
        amount: Money(row.try_get(6).map_err(map_err)?),
        created_at: row.try_get(7).map_err(map_err)?,
        payout_id: row.try_get::<_, Option<Uuid>>(8).map_err(map_err)?.map(PayoutId),
    })
}

#[async_trait]
impl LedgerStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn vendor_balance(&self, vendor_id: VendorId) -> StoreResult<Balance> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT bucket, sum(amount_cents)::bigint FROM ledger_entries WHERE vendor_id = $1 GROUP BY bucket",
                &[&vendor_id.0],
            )
            .await
            .map_err(map_err)?;
        let mut balance = Balance::default();
        for row in &rows {
            let (bucket, sum): (&str, i64) = (row.try_get(0).map_err(map_err)?, row.try_get(1).map_err(map_err)?);
            let slot = match bucket {
                "pending" => &mut balance.pending,
                "available" => &mut balance.available,
                "held" => &mut balance.held,
                "paid_out" => &mut balance.paid_out,
                _ => &mut balance.commission,
            };
            *slot = Money(sum);
        }
        Ok(balance)
    }

    #[tracing::instrument(skip_all)]
    async fn ledger_entries(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<LedgerEntry>> {
        let client = self.client().await?;
        let total: i64 = client
            .query_one("SELECT count(*) FROM ledger_entries WHERE vendor_id = $1", &[&vendor_id.0])
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                "SELECT id, vendor_id, order_id, order_item_id, kind, bucket, amount_cents, created_at, payout_id FROM ledger_entries
                 WHERE vendor_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                &[&vendor_id.0, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(ledger_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn release_matured_credits(&self, paid_before: Timestamp, shipped_before: Timestamp, at: Timestamp) -> StoreResult<u64> {
        super::orders::release_matured(self, paid_before, shipped_before, at).await
    }

    #[tracing::instrument(skip_all)]
    async fn hold_for_dispute(&self, order_id: OrderId, hold: bool, at: Timestamp) -> StoreResult<u64> {
        super::orders::dispute_hold(self, order_id, hold, at).await
    }
}

#[async_trait]
impl DownloadStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn create_download_link(&self, link: NewDownloadLink) -> StoreResult<i32> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The line's row lock serialises link creations of one line.
        tx.execute(
            "SELECT 1 FROM order_items WHERE id = $1 FOR NO KEY UPDATE",
            &[&link.order_item_id.0],
        )
        .await
        .map_err(map_err)?;
        // The earlier links' rows are locked too: a download counted on one of them right now
        // finishes first, and its count carries over.
        let remaining: Option<i32> = tx
            .query(
                "SELECT downloads_left FROM download_links WHERE order_item_id = $1 AND user_id = $2 FOR UPDATE",
                &[&link.order_item_id.0, &link.user_id.0],
            )
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| row.get::<_, i32>(0))
            .max();
        let downloads = remaining.map_or(link.downloads, |left| left.min(link.downloads));
        tx.execute(
            "INSERT INTO download_links (id, order_item_id, user_id, expires_at, downloads_left, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &link.id,
                &link.order_item_id.0,
                &link.user_id.0,
                &link.expires_at,
                &downloads,
                &link.at,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "UPDATE download_links SET downloads_left = 0 WHERE order_item_id = $1 AND id <> $2",
            &[&link.order_item_id.0, &link.id],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM download_links WHERE order_item_id = $1 AND id NOT IN (
                 SELECT id FROM download_links WHERE order_item_id = $1 ORDER BY created_at DESC, id DESC LIMIT 5)",
            &[&link.order_item_id.0],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(downloads)
    }

    #[tracing::instrument(skip_all)]
    async fn use_download_link(&self, id: Uuid, user_id: UserId, at: Timestamp) -> StoreResult<DownloadUse> {
        self.open_download_link(id, user_id, at, None, true).await
    }

    #[tracing::instrument(skip_all)]
    async fn peek_download_link(
        &self,
        id: Uuid,
        user_id: UserId,
        at: Timestamp,
        resumed_since: Option<Timestamp>,
    ) -> StoreResult<DownloadUse> {
        self.open_download_link(id, user_id, at, resumed_since, false).await
    }
}

impl PostgresStore {
    /// Checks a link and, when `count`, takes one download off it (conditional decrement); a
    /// `resumed_since` continuation needs a download counted since then instead of one left.
    async fn open_download_link(
        &self,
        id: Uuid,
        user_id: UserId,
        at: Timestamp,
        resumed_since: Option<Timestamp>,
        count: bool,
    ) -> StoreResult<DownloadUse> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // `FOR SHARE OF o`: a refund (which locks the order) waits for this download, or this
        // download waits for the refund and then finds the order no longer paid.
        let link = tx
            .query_opt(
                "SELECT l.expires_at, l.downloads_left, a.key, a.filename, a.size_bytes, l.last_counted_at FROM download_links l
                 JOIN order_items i ON i.id = l.order_item_id JOIN orders o ON o.id = i.order_id
                 LEFT JOIN product_assets a ON a.product_id = i.product_id
                 WHERE l.id = $1 AND l.user_id = $2 AND o.status IN ('paid', 'completed')
                 FOR SHARE OF o",
                &[&id, &user_id.0],
            )
            .await
            .map_err(map_err)?;
        let Some(link) = link else {
            return Ok(DownloadUse::Unknown);
        };
        let expires_at: Timestamp = link.try_get(0).map_err(map_err)?;
        let left: i32 = link.try_get(1).map_err(map_err)?;
        let key: Option<String> = link.try_get(2).map_err(map_err)?;
        let filename: Option<String> = link.try_get(3).map_err(map_err)?;
        let size_bytes: Option<i64> = link.try_get(4).map_err(map_err)?;
        let last_counted: Option<Timestamp> = link.try_get(5).map_err(map_err)?;
        if expires_at <= at {
            return Ok(DownloadUse::Expired);
        }
        // A resumed download needs a download counted since `since`, whatever is left; any
        // other opening needs a download left.
        if let Some(since) = resumed_since.filter(|_| !count) {
            if last_counted.is_none_or(|counted| counted < since) {
                return Ok(DownloadUse::Exhausted);
            }
        } else if left <= 0 {
            return Ok(DownloadUse::Exhausted);
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
        let row = tx
            .query_opt(
                "UPDATE download_links SET downloads_left = downloads_left - 1, last_counted_at = $2
                 WHERE id = $1 AND downloads_left > 0 RETURNING downloads_left",
                &[&id, &at],
            )
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(DownloadUse::Exhausted);
        };
        let downloads_left: i32 = row.try_get(0).map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(DownloadUse::Granted {
            key,
            filename,
            size_bytes,
            downloads_left,
        })
    }
}
