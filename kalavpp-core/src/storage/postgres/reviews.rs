use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::audit::insert_audit;
use super::{PostgresStore, map_err};
use crate::domain::Review;
use crate::domain::{Page, PageRequest, ProductId, ReviewId, UserId, VendorId};
use crate::storage::{NewAudit, NewReview, ReviewEdit, ReviewStore, StoreError, StoreResult};

/// Columns of a review read from `reviews r JOIN users u ON u.id = r.user_id`.
const REVIEW_COLUMNS: &str =
    "r.id, r.product_id, r.vendor_id, r.user_id, u.name, r.rating, r.title, r.body, r.hidden, r.created_at, r.updated_at";

fn review_from_row(row: &Row) -> StoreResult<Review> {
    Ok(Review {
        id: ReviewId(row.try_get(0).map_err(map_err)?),
        product_id: ProductId(row.try_get(1).map_err(map_err)?),
        vendor_id: VendorId(row.try_get(2).map_err(map_err)?),
        user_id: UserId(row.try_get(3).map_err(map_err)?),
        author_name: row.try_get(4).map_err(map_err)?,
        rating: row.try_get(5).map_err(map_err)?,
        title: row.try_get(6).map_err(map_err)?,
        body: row.try_get(7).map_err(map_err)?,
        hidden: row.try_get(8).map_err(map_err)?,
        created_at: row.try_get(9).map_err(map_err)?,
        updated_at: row.try_get(10).map_err(map_err)?,
    })
}

async fn load_review(client: &impl GenericClient, id: Uuid) -> StoreResult<Option<Review>> {
    let row = client
        .query_opt(
            &format!("SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id WHERE r.id = $1"),
            &[&id],
        )
        .await
        .map_err(map_err)?;
    row.as_ref().map(review_from_row).transpose()
}

/// Locks the product row and then its vendor's row, in that order, so that concurrent review
/// changes of one product or one vendor run one after the other: each recomputation then reads
/// every review committed before it (under READ COMMITTED every statement takes a new snapshot).
async fn lock_product_and_vendor(client: &impl GenericClient, product_id: Uuid) -> StoreResult<Option<Uuid>> {
    let Some(row) = client
        .query_opt("SELECT vendor_id FROM products WHERE id = $1 FOR NO KEY UPDATE", &[&product_id])
        .await
        .map_err(map_err)?
    else {
        return Ok(None);
    };
    let vendor_id: Uuid = row.get(0);
    client
        .execute("SELECT 1 FROM vendors WHERE id = $1 FOR NO KEY UPDATE", &[&vendor_id])
        .await
        .map_err(map_err)?;
    Ok(Some(vendor_id))
}

/// The product of a review, with it and its vendor locked (`NotFound` when there is no such review,
/// or it is not by `author` when one is given).
async fn lock_review_owner(client: &impl GenericClient, id: Uuid, author: Option<Uuid>) -> StoreResult<(Uuid, Uuid)> {
    let row = client
        .query_opt(
            "SELECT product_id FROM reviews WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2)",
            &[&id, &author],
        )
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
    let product_id: Uuid = row.get(0);
    let vendor_id = lock_product_and_vendor(client, product_id).await?.ok_or(StoreError::NotFound)?;
    Ok((product_id, vendor_id))
}

/// Recomputes `rating_avg` (rounded half up to two decimals, computed in integers so both backends
/// agree) and `rating_count` of the product and of the vendor from their visible reviews.
async fn refresh_ratings(client: &impl GenericClient, product_id: Uuid, vendor_id: Uuid) -> StoreResult<()> {
    const AVG: &str = "CASE WHEN count(*) = 0 THEN 0::double precision
                       ELSE ((200 * sum(rating) + count(*)) / (2 * count(*)))::double precision / 100::double precision END";
    client
        .execute(
            &format!(
                "UPDATE products SET
                     rating_count = (SELECT count(*) FROM reviews WHERE product_id = $1 AND NOT hidden),
                     rating_avg = (SELECT {AVG} FROM reviews WHERE product_id = $1 AND NOT hidden)
                 WHERE id = $1"
            ),
            &[&product_id],
        )
        .await
        .map_err(map_err)?;
    client
        .execute(
            &format!(
                "UPDATE vendors SET
                     rating_count = (SELECT count(*) FROM reviews WHERE vendor_id = $1 AND NOT hidden),
                     rating_avg = (SELECT {AVG} FROM reviews WHERE vendor_id = $1 AND NOT hidden)
                 WHERE id = $1"
            ),
            &[&vendor_id],
        )
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl ReviewStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn insert_review(&self, review: NewReview) -> StoreResult<Review> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let product_id = review.product_id.0;
        let vendor_id = lock_product_and_vendor(&tx, product_id).await?.ok_or(StoreError::NotFound)?;
        tx.execute(
            "INSERT INTO reviews (id, product_id, vendor_id, user_id, rating, title, body, hidden, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, $8)",
            &[
                &review.id.0,
                &product_id,
                &vendor_id,
                &review.user_id.0,
                &review.rating,
                &review.title,
                &review.body,
                &review.at,
            ],
        )
        .await
        .map_err(map_err)?;
        refresh_ratings(&tx, product_id, vendor_id).await?;
        let stored = load_review(&tx, review.id.0).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn review_by_id(&self, id: ReviewId) -> StoreResult<Option<Review>> {
        load_review(&self.client().await?, id.0).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_product_reviews(&self, product_id: ProductId, page: PageRequest) -> StoreResult<Page<Review>> {
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                "SELECT count(*) FROM reviews WHERE product_id = $1 AND NOT hidden",
                &[&product_id.0],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!(
                    "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id
                     WHERE r.product_id = $1 AND NOT r.hidden
                     ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3"
                ),
                &[&product_id.0, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(review_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn list_reviews(&self, hidden: Option<bool>, page: PageRequest) -> StoreResult<Page<Review>> {
        let client = self.client().await?;
        let total: i64 = client
            .query_one("SELECT count(*) FROM reviews WHERE $1::bool IS NULL OR hidden = $1", &[&hidden])
            .await
            .map_err(map_err)?
            .get(0);
        let rows = client
            .query(
                &format!(
                    "SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.user_id
                     WHERE $1::bool IS NULL OR r.hidden = $1
                     ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3"
                ),
                &[&hidden, &page.limit(), &page.offset()],
            )
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(review_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn has_bought(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT EXISTS (
                     SELECT 1 FROM order_items i JOIN orders o ON o.id = i.order_id
                     WHERE o.user_id = $1 AND i.product_id = $2 AND o.status IN ('paid', 'completed'))",
                &[&user_id.0, &product_id.0],
            )
            .await
            .map_err(map_err)?;
        Ok(row.get(0))
    }

    #[tracing::instrument(skip_all)]
    async fn update_review(&self, edit: ReviewEdit) -> StoreResult<Review> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let (product_id, vendor_id) = lock_review_owner(&tx, edit.id.0, Some(edit.author_id.0)).await?;
        let changed = tx
            .execute(
                "UPDATE reviews SET
                     rating = coalesce($3::integer, rating),
                     title = CASE WHEN $4::boolean THEN $5::text ELSE title END,
                     body = coalesce($6::text, body),
                     updated_at = $7
                 WHERE id = $1 AND user_id = $2",
                &[
                    &edit.id.0,
                    &edit.author_id.0,
                    &edit.rating,
                    &edit.title.is_some(),
                    &edit.title.clone().flatten(),
                    &edit.body,
                    &edit.at,
                ],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            // Deleted since it was looked up.
            return Err(StoreError::NotFound);
        }
        refresh_ratings(&tx, product_id, vendor_id).await?;
        let stored = load_review(&tx, edit.id.0).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn set_review_hidden(&self, id: ReviewId, hidden: bool, audit: NewAudit) -> StoreResult<Review> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let (product_id, vendor_id) = lock_review_owner(&tx, id.0, None).await?;
        let changed = tx
            .execute(
                "UPDATE reviews SET hidden = $2, updated_at = $3 WHERE id = $1",
                &[&id.0, &hidden, &audit.at],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        refresh_ratings(&tx, product_id, vendor_id).await?;
        insert_audit(&tx, &audit).await?;
        let stored = load_review(&tx, id.0).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_review(&self, id: ReviewId, audit: Option<NewAudit>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let (product_id, vendor_id) = lock_review_owner(&tx, id.0, None).await?;
        let deleted = tx.execute("DELETE FROM reviews WHERE id = $1", &[&id.0]).await.map_err(map_err)?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        refresh_ratings(&tx, product_id, vendor_id).await?;
        if let Some(audit) = &audit {
            insert_audit(&tx, audit).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }
}
