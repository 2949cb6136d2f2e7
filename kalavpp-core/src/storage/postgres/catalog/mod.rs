//! The catalog of the postgres backend: categories, products, their images and digital assets.

mod rows;
mod search;

use async_trait::async_trait;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::audit::insert_audit;
use super::like_pattern;
use super::{PostgresStore, map_err};
use crate::domain::AdminProductFilter;
use crate::domain::{Category, Product, ProductAsset, ProductImage, ProductQuery};
use crate::domain::{CategoryId, ImageId, Page, PageRequest, ProductId, ProductKind, VendorId};
use crate::storage::Conflict;
use crate::storage::{
    CatalogStore, CategoryChange, NewAudit, NewCategory, NewProduct, ProductUpdate, SearchMatch, StoreError, StoreResult,
};

use rows::{
    ASSET_COLUMNS, CATEGORY_COLUMNS, IMAGE_COLUMNS, PRODUCT_FROM, asset_from_row, category_from_row, image_from_row, load_category,
    load_product, query_products, tags_json,
};
use search::{sort_order, ts_query};

#[async_trait]
impl CatalogStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn list_categories(&self) -> StoreResult<Vec<Category>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {CATEGORY_COLUMNS} FROM categories c ORDER BY c.name COLLATE \"C\", c.id"),
                &[],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(category_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn insert_category(&self, category: NewCategory) -> StoreResult<Category> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO categories (id, slug, name, parent_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &category.id.0,
                &category.slug,
                &category.name,
                &category.parent_id.map(|p| p.0),
                &category.audit.at,
            ],
        )
        .await
        .map_err(map_err)?;
        insert_audit(&tx, &category.audit).await?;
        let stored = load_category(&tx, category.id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn update_category(&self, change: CategoryChange) -> StoreResult<Category> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let changed = tx
            .execute(
                "UPDATE categories SET name = coalesce($2::text, name), slug = coalesce($3::text, slug),
                     parent_id = CASE WHEN $4::boolean THEN $5::uuid ELSE parent_id END
                 WHERE id = $1",
                &[
                    &change.id.0,
                    &change.name,
                    &change.slug,
                    &change.parent_id.is_some(),
                    &change.parent_id.flatten().map(|p| p.0),
                ],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&tx, &change.audit).await?;
        let stored = load_category(&tx, change.id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_category(&self, id: CategoryId, audit: NewAudit) -> StoreResult<()> {
        let in_use = || StoreError::Conflict(Conflict::CategoryInUse);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let deleted = tx
            .execute(
                "DELETE FROM categories c WHERE c.id = $1
                     AND NOT EXISTS (SELECT 1 FROM products p WHERE p.category_id = c.id)
                     AND NOT EXISTS (SELECT 1 FROM categories k WHERE k.parent_id = c.id)",
                &[&id.0],
            )
            .await
            // A product or child added concurrently still trips the foreign key.
            .map_err(|e| match e.code() {
                Some(code) if *code == SqlState::FOREIGN_KEY_VIOLATION => in_use(),
                _ => map_err(e),
            })?;
        if deleted == 0 {
            let exists = tx
                .query_opt("SELECT 1 FROM categories WHERE id = $1", &[&id.0])
                .await
                .map_err(map_err)?
                .is_some();
            return Err(if exists { in_use() } else { StoreError::NotFound });
        }
        insert_audit(&tx, &audit).await?;
        tx.commit().await.map_err(map_err)
    }

    #[tracing::instrument(skip_all)]
    async fn insert_product(&self, product: NewProduct) -> StoreResult<Product> {
        let tags = tags_json(&product.tags)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO products (id, vendor_id, category_id, slug, title, description, kind, price_cents, stock, status, tags,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            &[
                &product.id.0,
                &product.vendor_id.0,
                &product.category_id.0,
                &product.slug,
                &product.title,
                &product.description,
                &product.kind.as_str(),
                &product.price.cents(),
                &product.stock,
                &product.status.as_str(),
                &tags,
                &product.at,
            ],
        )
        .await
        .map_err(map_err)?;
        let stored = load_product(&tx, product.id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn product_by_id(&self, id: ProductId) -> StoreResult<Option<Product>> {
        load_product(&self.client().await?, id).await
    }

    #[tracing::instrument(skip_all)]
    async fn product_by_slug(&self, slug: &str) -> StoreResult<Option<Product>> {
        Ok(query_products(&self.client().await?, "p.slug = $1", "p.id", &[&slug]).await?.pop())
    }

    #[tracing::instrument(skip_all)]
    async fn update_product(&self, update: ProductUpdate) -> StoreResult<Product> {
        let tags = tags_json(&update.tags)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let changed = tx
            .execute(
                "UPDATE products SET title = $2, description = $3, kind = $4, price_cents = $5, stock = $6, category_id = $7,
                     status = $8, tags = $9, updated_at = $10
                 WHERE id = $1",
                &[
                    &update.id.0,
                    &update.title,
                    &update.description,
                    &update.kind.as_str(),
                    &update.price.cents(),
                    &update.stock,
                    &update.category_id.0,
                    &update.status.as_str(),
                    &tags,
                    &update.at,
                ],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(audit) = &update.audit {
            insert_audit(&tx, audit).await?;
        }
        let stored = load_product(&tx, update.id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn list_products(&self, query: &ProductQuery, page: PageRequest) -> StoreResult<Page<Product>> {
        let terms = ts_query(&query.terms);
        let categories: Vec<Uuid> = query.category_ids.iter().map(|c| c.0).collect();
        let vendor = query.vendor_id.map(|v| v.0);
        let kind = query.kind.map(ProductKind::as_str);
        let condition = "p.status = 'published' AND v.status = 'approved'
             AND ($1::text IS NULL OR p.search_vector @@ to_tsquery('english', $1))
             AND (cardinality($2::uuid[]) = 0 OR p.category_id = ANY($2))
             AND ($3::uuid IS NULL OR p.vendor_id = $3)
             AND ($4::text IS NULL OR p.kind = $4)
             AND ($5::bigint IS NULL OR p.price_cents >= $5)
             AND ($6::bigint IS NULL OR p.price_cents <= $6)";
        let client = self.client().await?;
        let cap = query.count_cap.map(|c| c.max(0));
        // A capped count stops one row past the cap (the planner may then walk a sort index or
        // the text index and quit early) instead of counting every match.
        let count_sql = match cap {
            Some(cap) => format!(
                "SELECT count(*) FROM (SELECT 1 FROM products p JOIN vendors v ON v.id = p.vendor_id WHERE {condition} LIMIT {}) s",
                cap.saturating_add(1)
            ),
            None => format!("SELECT count(*) FROM {PRODUCT_FROM} WHERE {condition}"),
        };
        let counted: i64 = client
            .query_one(
                &count_sql,
                &[&terms, &categories, &vendor, &kind, &query.min_price, &query.max_price],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let (total, capped) = match cap {
            Some(cap) if counted > cap => (cap, true),
            _ => (counted, false),
        };
        if !capped && page.offset() >= total {
            return Ok(Page::new(Vec::new(), page, total));
        }
        let items = query_products(
            &client,
            condition,
            &format!("{} LIMIT $7 OFFSET $8", sort_order(query.sort)),
            &[
                &terms,
                &categories,
                &vendor,
                &kind,
                &query.min_price,
                &query.max_price,
                &page.limit(),
                &page.offset(),
            ],
        )
        .await?;
        Ok(Page::capped(items, page, total, capped))
    }

    #[tracing::instrument(skip_all)]
    async fn search_matches(&self, terms: &[String], limit: usize) -> StoreResult<Option<Vec<SearchMatch>>> {
        let terms = ts_query(terms);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT p.id, p.category_id, p.vendor_id, p.kind, p.price_cents, p.created_at, p.rating_avg, p.rating_count, p.sales_count
                 FROM products p JOIN vendors v ON v.id = p.vendor_id
                 WHERE p.status = 'published' AND v.status = 'approved'
                   AND ($1::text IS NULL OR p.search_vector @@ to_tsquery('english', $1))
                 LIMIT $2",
                &[&terms, &limit.saturating_add(1)],
            )
            .await
            .map_err(map_err)?;
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit {
            return Ok(None);
        }
        rows.iter()
            .map(|row| {
                Ok(SearchMatch {
                    id: ProductId(row.try_get(0).map_err(map_err)?),
                    category_id: CategoryId(row.try_get(1).map_err(map_err)?),
                    vendor_id: VendorId(row.try_get(2).map_err(map_err)?),
                    kind: ProductKind::parse(row.try_get(3).map_err(map_err)?).map_err(StoreError::backend)?,
                    price_cents: row.try_get(4).map_err(map_err)?,
                    created_at: row.try_get(5).map_err(map_err)?,
                    rating_avg: row.try_get(6).map_err(map_err)?,
                    rating_count: row.try_get(7).map_err(map_err)?,
                    sales_count: row.try_get(8).map_err(map_err)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }

    #[tracing::instrument(skip_all)]
    async fn products_by_ids(&self, ids: &[ProductId]) -> StoreResult<Vec<Product>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let client = self.client().await?;
        let mut loaded = query_products(&client, "p.id = ANY($1)", "p.id", &[&uuids]).await?;
        let position: std::collections::HashMap<ProductId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        loaded.sort_by_key(|p| position.get(&p.id).copied().unwrap_or(usize::MAX));
        Ok(loaded)
    }

    #[tracing::instrument(skip_all)]
    async fn list_all_products(&self, filter: &AdminProductFilter, page: PageRequest) -> StoreResult<Page<Product>> {
        let q = filter
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(|q| like_pattern(&q.to_lowercase()));
        let status = filter.status.map(crate::domain::ProductStatus::as_str);
        let vendor = filter.vendor_id.map(|v| v.0);
        let condition = "($1::text IS NULL OR lower(p.title) LIKE $1 OR p.slug LIKE $1)
             AND ($2::text IS NULL OR p.status = $2) AND ($3::uuid IS NULL OR p.vendor_id = $3)";
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM products p WHERE {condition}"),
                &[&q, &status, &vendor],
            )
            .await
            .map_err(map_err)?
            .get(0);
        let items = query_products(
            &client,
            condition,
            "p.created_at DESC, p.id DESC LIMIT $4 OFFSET $5",
            &[&q, &status, &vendor, &page.limit(), &page.offset()],
        )
        .await?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn list_vendor_products(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<Product>> {
        let client = self.client().await?;
        let total: i64 = client
            .query_one("SELECT count(*) FROM products WHERE vendor_id = $1", &[&vendor_id.0])
            .await
            .map_err(map_err)?
            .get(0);
        let items = query_products(
            &client,
            "p.vendor_id = $1",
            "p.created_at DESC, p.id DESC LIMIT $2 OFFSET $3",
            &[&vendor_id.0, &page.limit(), &page.offset()],
        )
        .await?;
        Ok(Page::new(items, page, total))
    }

    #[tracing::instrument(skip_all)]
    async fn add_product_image(&self, image: ProductImage, max_images: i64) -> StoreResult<ProductImage> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Locking the product row queues concurrent uploads to one product, so the count below
        // cannot be raced past `max_images`.
        let product = tx
            .query_opt("SELECT id FROM products WHERE id = $1 FOR NO KEY UPDATE", &[&image.product_id.0])
            .await
            .map_err(map_err)?;
        if product.is_none() {
            return Err(StoreError::NotFound);
        }
        let row = tx
            .query_one(
                "SELECT count(*), coalesce(max(position), -1) FROM product_images WHERE product_id = $1",
                &[&image.product_id.0],
            )
            .await
            .map_err(map_err)?;
        let (count, last): (i64, i32) = (row.get(0), row.get(1));
        if count >= max_images {
            return Err(StoreError::Conflict(Conflict::TooManyImages));
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO product_images (id, product_id, position, key, thumb_key, width, height, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {IMAGE_COLUMNS}"
                ),
                &[
                    &image.id.0,
                    &image.product_id.0,
                    &(last + 1),
                    &image.key,
                    &image.thumb_key,
                    &image.width,
                    &image.height,
                    &image.created_at,
                ],
            )
            .await
            .map_err(map_err)?;
        let stored = image_from_row(&row)?;
        tx.execute(
            "UPDATE products SET updated_at = $2 WHERE id = $1",
            &[&image.product_id.0, &image.created_at],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        audit: Option<NewAudit>,
    ) -> StoreResult<Option<ProductImage>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let row = tx
            .query_opt(
                &format!("DELETE FROM product_images WHERE id = $1 AND product_id = $2 RETURNING {IMAGE_COLUMNS}"),
                &[&image_id.0, &product_id.0],
            )
            .await
            .map_err(map_err)?;
        let removed = row.as_ref().map(image_from_row).transpose()?;
        if let (Some(_), Some(audit)) = (&removed, &audit) {
            insert_audit(&tx, audit).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(removed)
    }

    #[tracing::instrument(skip_all)]
    async fn move_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        position: usize,
        audit: Option<NewAudit>,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The product row serialises moves with uploads and removals of its images.
        let product = tx
            .query_opt("SELECT id FROM products WHERE id = $1 FOR NO KEY UPDATE", &[&product_id.0])
            .await
            .map_err(map_err)?;
        if product.is_none() {
            return Ok(false);
        }
        let mut ids: Vec<uuid::Uuid> = tx
            .query(
                "SELECT id FROM product_images WHERE product_id = $1 ORDER BY position, created_at, id",
                &[&product_id.0],
            )
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let Some(from) = ids.iter().position(|id| *id == image_id.0) else {
            return Ok(false);
        };
        let id = ids.remove(from);
        ids.insert(position.min(ids.len()), id);
        for (index, id) in ids.iter().enumerate() {
            let index = i32::try_from(index).unwrap_or(i32::MAX);
            tx.execute(
                "UPDATE product_images SET position = $1 WHERE id = $2 AND position <> $1",
                &[&index, id],
            )
            .await
            .map_err(map_err)?;
        }
        if let Some(audit) = &audit {
            insert_audit(&tx, audit).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn set_product_asset(&self, asset: ProductAsset) -> StoreResult<Option<ProductAsset>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let product = tx
            .query_opt("SELECT id FROM products WHERE id = $1 FOR NO KEY UPDATE", &[&asset.product_id.0])
            .await
            .map_err(map_err)?;
        if product.is_none() {
            return Err(StoreError::NotFound);
        }
        let previous = tx
            .query_opt(
                &format!("SELECT {ASSET_COLUMNS} FROM product_assets WHERE product_id = $1"),
                &[&asset.product_id.0],
            )
            .await
            .map_err(map_err)?;
        let previous = previous.as_ref().map(asset_from_row).transpose()?;
        tx.execute(
            "INSERT INTO product_assets (product_id, filename, key, size_bytes, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (product_id) DO UPDATE SET filename = excluded.filename, key = excluded.key,
                 size_bytes = excluded.size_bytes, sha256 = excluded.sha256, created_at = excluded.created_at",
            &[
                &asset.product_id.0,
                &asset.filename,
                &asset.key,
                &asset.size_bytes,
                &asset.sha256,
                &asset.created_at,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(previous)
    }

    #[tracing::instrument(skip_all)]
    async fn product_asset(&self, product_id: ProductId) -> StoreResult<Option<ProductAsset>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {ASSET_COLUMNS} FROM product_assets WHERE product_id = $1"),
                &[&product_id.0],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(asset_from_row).transpose()
    }
}
