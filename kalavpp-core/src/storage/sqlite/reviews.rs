use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::insert_audit;
use super::{SqliteStore, map_err, parse_ts, parse_uuid, ts};
use crate::domain::Review;
use crate::domain::{Page, PageRequest, ProductId, ReviewId, UserId, VendorId};
use crate::storage::{NewAudit, NewReview, ReviewEdit, ReviewStore, StoreError, StoreResult};

/// Columns of a review read from `reviews r JOIN users u ON u.id = r.user_id`.
const REVIEW_COLUMNS: &str =
    "r.id, r.product_id, r.vendor_id, r.user_id, u.name, r.rating, r.title, r.body, r.hidden, r.created_at, r.updated_at";

fn review_from_row(row: &Row<'_>) -> rusqlite::Result<Review> {
    Ok(Review {
        id: ReviewId(parse_uuid(&row.get::<_, String>(0)?)?),
        product_id: ProductId(parse_uuid(&row.get::<_, String>(1)?)?),
        vendor_id: VendorId(parse_uuid(&row.get::<_, String>(2)?)?),
        user_id: UserId(parse_uuid(&row.get::<_, String>(3)?)?),
        author_name: row.get(4)?,
        rating: row.get(5)?,
        title: row.get(6)?,
        body: row.get(7)?,
        hidden: row.get(8)?,
        created_at: parse_ts(&row.get::<_, String>(9)?)?,
        updated_at: parse_ts(&row.get::<_, String>(10)?)?,
    })
}

fn load_review(conn: &Connection, id: &str) -> StoreResult<Option<Review>> {
    conn.prepare_cached(&format!(
        "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([id], review_from_row).optional())
    .map_err(map_err)
}

/// The product and vendor of a review (`NotFound` when there is no such review, or it is not by
/// `author` when one is given).
fn review_owner(conn: &Connection, id: &str, author: Option<String>) -> StoreResult<(String, String)> {
    conn.query_row(
        "SELECT product_id, vendor_id FROM reviews WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
        params![id, author],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)
}

/// Recomputes `rating_avg` (rounded half up to two decimals, computed in integers so both backends
/// agree) and `rating_count` of the product and of the vendor from their visible reviews.
fn refresh_ratings(conn: &Connection, product_id: &str, vendor_id: &str) -> StoreResult<()> {
    const AVG: &str = "CASE WHEN count(*) = 0 THEN 0.0
                       ELSE ((200 * sum(rating) + count(*)) / (2 * count(*))) / 100.0 END";
    conn.execute(
        &format!(
            "UPDATE products SET
                 rating_count = (SELECT count(*) FROM reviews WHERE product_id = ?1 AND hidden = 0),
                 rating_avg = (SELECT {AVG} FROM reviews WHERE product_id = ?1 AND hidden = 0)
             WHERE id = ?1"
        ),
        [product_id],
    )
    .map_err(map_err)?;
    conn.execute(
        &format!(
            "UPDATE vendors SET
                 rating_count = (SELECT count(*) FROM reviews WHERE vendor_id = ?1 AND hidden = 0),
                 rating_avg = (SELECT {AVG} FROM reviews WHERE vendor_id = ?1 AND hidden = 0)
             WHERE id = ?1"
        ),
        [vendor_id],
    )
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl ReviewStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn insert_review(&self, review: NewReview) -> StoreResult<Review> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = review.id.to_string();
                let product_id = review.product_id.to_string();
                let vendor_id: String = tx
                    .query_row("SELECT vendor_id FROM products WHERE id = ?1", [&product_id], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?
                    .ok_or(StoreError::NotFound)?;
                tx.execute(
                    "INSERT INTO reviews (id, product_id, vendor_id, user_id, rating, title, body, hidden, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
                    params![
                        id,
                        product_id,
                        vendor_id,
                        review.user_id.to_string(),
                        review.rating,
                        review.title,
                        review.body,
                        ts(review.at)
                    ],
                )
                .map_err(map_err)?;
                refresh_ratings(&tx, &product_id, &vendor_id)?;
                let stored = load_review(&tx, &id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn review_by_id(&self, id: ReviewId) -> StoreResult<Option<Review>> {
        self.pool.read(move |conn| load_review(conn, &id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_product_reviews(&self, product_id: ProductId, page: PageRequest) -> StoreResult<Page<Review>> {
        let product_id = product_id.to_string();
        self.pool
            .read(move |conn| {
                let total: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM reviews WHERE product_id = ?1 AND hidden = 0",
                        [&product_id],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id
                         WHERE r.product_id = ?1 AND r.hidden = 0
                         ORDER BY r.created_at DESC, r.id DESC LIMIT ?2 OFFSET ?3"
                    ))
                    .map_err(map_err)?;
                let items = stmt
                    .query_map(params![product_id, page.limit(), page.offset()], review_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_reviews(&self, hidden: Option<bool>, page: PageRequest) -> StoreResult<Page<Review>> {
        self.pool
            .read(move |conn| {
                let total: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM reviews WHERE ?1 IS NULL OR hidden = ?1",
                        params![hidden],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id
                         WHERE ?1 IS NULL OR r.hidden = ?1
                         ORDER BY r.created_at DESC, r.id DESC LIMIT ?2 OFFSET ?3"
                    ))
                    .map_err(map_err)?;
                let items = stmt
                    .query_map(params![hidden, page.limit(), page.offset()], review_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn has_bought(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool> {
        self.pool
            .read(move |conn| {
                conn.query_row(
                    "SELECT EXISTS (
                         SELECT 1 FROM order_items i JOIN orders o ON o.id = i.order_id
                         WHERE o.user_id = ?1 AND i.product_id = ?2 AND o.status IN ('paid', 'completed'))",
                    params![user_id.to_string(), product_id.to_string()],
                    |r| r.get(0),
                )
                .map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_review(&self, edit: ReviewEdit) -> StoreResult<Review> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = edit.id.to_string();
                let (product_id, vendor_id) = review_owner(&tx, &id, Some(edit.author_id.to_string()))?;
                tx.execute(
                    "UPDATE reviews SET
                         rating = coalesce(?1, rating),
                         title = CASE WHEN ?2 THEN ?3 ELSE title END,
                         body = coalesce(?4, body),
                         updated_at = ?5
                     WHERE id = ?6",
                    params![
                        edit.rating,
                        edit.title.is_some(),
                        edit.title.clone().flatten(),
                        edit.body,
                        ts(edit.at),
                        id
                    ],
                )
                .map_err(map_err)?;
                refresh_ratings(&tx, &product_id, &vendor_id)?;
                let stored = load_review(&tx, &id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn set_review_hidden(&self, id: ReviewId, hidden: bool, audit: NewAudit) -> StoreResult<Review> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = id.to_string();
                let (product_id, vendor_id) = review_owner(&tx, &id, None)?;
                tx.execute(
                    "UPDATE reviews SET hidden = ?1, updated_at = ?2 WHERE id = ?3",
                    params![hidden, ts(audit.at), id],
                )
                .map_err(map_err)?;
                refresh_ratings(&tx, &product_id, &vendor_id)?;
                insert_audit(&tx, &audit)?;
                let stored = load_review(&tx, &id)?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_review(&self, id: ReviewId, audit: Option<NewAudit>) -> StoreResult<()> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = id.to_string();
                let (product_id, vendor_id) = review_owner(&tx, &id, None)?;
                tx.execute("DELETE FROM reviews WHERE id = ?1", [&id]).map_err(map_err)?;
                refresh_ratings(&tx, &product_id, &vendor_id)?;
                if let Some(audit) = &audit {
                    insert_audit(&tx, audit)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(())
            })
            .await
    }
}
