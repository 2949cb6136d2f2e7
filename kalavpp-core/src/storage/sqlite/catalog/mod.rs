//! The catalog of the sqlite backend: categories, products, their images and digital assets.

macro_rules! product_columns {
    () => {
        "SELECT p.id, p.slug, p.title, p.description, p.kind, p.price_cents, p.stock, p.status, p.tags,
             p.rating_avg, p.rating_count, p.sales_count, p.created_at, p.updated_at,
             c.id, c.slug, c.name, v.id, v.slug, v.shop_name, v.status,
             EXISTS (SELECT 1 FROM product_assets a WHERE a.product_id = p.id)"
    };
}

mod rows;
mod search;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};

use super::audit::insert_audit;
use super::like_pattern;
use super::{SqliteStore, bad_value, map_err, parse_ts, parse_uuid, ts};
use crate::domain::AdminProductFilter;
use crate::domain::{Category, Product, ProductAsset, ProductImage, ProductQuery};
use crate::domain::{CategoryId, ImageId, Page, PageRequest, ProductId, ProductKind, VendorId};
use crate::storage::Conflict;
use crate::storage::{
    CatalogStore, CategoryChange, NewAudit, NewCategory, NewProduct, ProductUpdate, SearchMatch, StoreError, StoreResult,
};

use rows::{
    ASSET_SELECT, CATEGORY_SELECT, IMAGE_COLUMNS, PRODUCT_SELECT, asset_from_row, attach_images, category_from_row, image_from_row,
    load_category, load_product, load_products_in_order, product_from_row, tags_json,
};
use search::{BROWSE_FROM, SEARCH_FROM, SearchPlans, VISIBLE, fts_query, order_by, search_capped, sort_index};

#[async_trait]
impl CatalogStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn list_categories(&self) -> StoreResult<Vec<Category>> {
        self.pool
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached(&format!("{CATEGORY_SELECT} ORDER BY c.name, c.id"))
                    .map_err(map_err)?;
                stmt.query_map([], category_from_row)
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn insert_category(&self, category: NewCategory) -> StoreResult<Category> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                tx.execute(
                    "INSERT INTO categories (id, slug, name, parent_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        category.id.to_string(),
                        category.slug,
                        category.name,
                        category.parent_id.map(|p| p.to_string()),
                        ts(category.audit.at)
                    ],
                )
                .map_err(map_err)?;
                insert_audit(&tx, &category.audit)?;
                let stored = load_category(&tx, category.id)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_category(&self, change: CategoryChange) -> StoreResult<Category> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let changed = tx
                    .execute(
                        "UPDATE categories SET name = coalesce(?1, name), slug = coalesce(?2, slug),
                             parent_id = CASE WHEN ?3 THEN ?4 ELSE parent_id END
                         WHERE id = ?5",
                        params![
                            change.name,
                            change.slug,
                            change.parent_id.is_some(),
                            change.parent_id.flatten().map(|p| p.to_string()),
                            change.id.to_string()
                        ],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_audit(&tx, &change.audit)?;
                let stored = load_category(&tx, change.id)?;
                tx.commit().map_err(map_err)?;
                Ok(stored)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_category(&self, id: CategoryId, audit: NewAudit) -> StoreResult<()> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let id = id.to_string();
                let in_use: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM products WHERE category_id = ?1)
                             OR EXISTS (SELECT 1 FROM categories WHERE parent_id = ?1)",
                        [&id],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                if in_use {
                    return Err(StoreError::Conflict(Conflict::CategoryInUse));
                }
                if tx.execute("DELETE FROM categories WHERE id = ?1", [&id]).map_err(map_err)? == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_audit(&tx, &audit)?;
                tx.commit().map_err(map_err)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn insert_product(&self, product: NewProduct) -> StoreResult<Product> {
        self.pool
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO products (id, vendor_id, category_id, slug, title, description, kind, price_cents, stock, status,
                         tags, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                    params![
                        product.id.to_string(),
                        product.vendor_id.to_string(),
                        product.category_id.to_string(),
                        product.slug,
                        product.title,
                        product.description,
                        product.kind.as_str(),
                        product.price.cents(),
                        product.stock,
                        product.status.as_str(),
                        tags_json(&product.tags),
                        ts(product.at)
                    ],
                )
                .map_err(map_err)?;
                load_product(conn, "id", product.id.to_string())?.ok_or(StoreError::NotFound)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn product_by_id(&self, id: ProductId) -> StoreResult<Option<Product>> {
        self.pool.read(move |conn| load_product(conn, "id", id.to_string())).await
    }

    #[tracing::instrument(skip_all)]
    async fn product_by_slug(&self, slug: &str) -> StoreResult<Option<Product>> {
        let slug = slug.to_owned();
        self.pool.read(move |conn| load_product(conn, "slug", slug)).await
    }

    #[tracing::instrument(skip_all)]
    async fn update_product(&self, update: ProductUpdate) -> StoreResult<Product> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let changed = tx
                    .execute(
                        "UPDATE products SET title = ?1, description = ?2, kind = ?3, price_cents = ?4, stock = ?5,
                             category_id = ?6, status = ?7, tags = ?8, updated_at = ?9
                         WHERE id = ?10",
                        params![
                            update.title,
                            update.description,
                            update.kind.as_str(),
                            update.price.cents(),
                            update.stock,
                            update.category_id.to_string(),
                            update.status.as_str(),
                            tags_json(&update.tags),
                            ts(update.at),
                            update.id.to_string()
                        ],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                if let Some(audit) = &update.audit {
                    insert_audit(&tx, audit)?;
                }
                let product = load_product(&tx, "id", update.id.to_string())?.ok_or(StoreError::NotFound)?;
                tx.commit().map_err(map_err)?;
                Ok(product)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_products(&self, query: &ProductQuery, page: PageRequest) -> StoreResult<Page<Product>> {
        let mut conditions = vec![VISIBLE.to_owned()];
        let mut args: Vec<Value> = Vec::new();
        if !query.terms.is_empty() {
            args.push(Value::Text(fts_query(&query.terms)));
        }
        if !query.category_ids.is_empty() {
            let mut slots = Vec::new();
            for id in &query.category_ids {
                args.push(Value::Text(id.to_string()));
                slots.push(format!("?{}", args.len()));
            }
            conditions.push(format!("p.category_id IN ({})", slots.join(", ")));
        }
        if let Some(vendor) = query.vendor_id {
            args.push(Value::Text(vendor.to_string()));
            conditions.push(format!("p.vendor_id = ?{}", args.len()));
        }
        if let Some(kind) = query.kind {
            args.push(Value::Text(kind.as_str().to_owned()));
            conditions.push(format!("p.kind = ?{}", args.len()));
        }
        if let Some(min) = query.min_price {
            args.push(Value::Integer(min));
            conditions.push(format!("p.price_cents >= ?{}", args.len()));
        }
        if let Some(max) = query.max_price {
            args.push(Value::Integer(max));
            conditions.push(format!("p.price_cents <= ?{}", args.len()));
        }
        // Without the full-text condition: the filters every plan below shares.
        let filters = conditions.join(" AND ");
        if !query.terms.is_empty() {
            conditions.push("products_fts MATCH ?1".to_owned());
        }
        let filter = conditions.join(" AND ");
        let from = if query.terms.is_empty() { BROWSE_FROM } else { SEARCH_FROM };
        let order = order_by(query.sort);
        let (limit, offset) = (page.limit(), page.offset());
        let count_sql = format!("SELECT count(*) {from} WHERE {filter}");
        if let (false, Some(cap)) = (query.terms.is_empty(), query.count_cap.map(|c| c.max(0))) {
            let plans = SearchPlans {
                // The full-text index drives, matches are read in `seq` order and counting stops
                // one past the cap; `max(f.rowid)` tells how far into the table that went.
                count: format!(
                    "SELECT count(*), coalesce(max(r), 0) FROM (SELECT f.rowid AS r {SEARCH_FROM} WHERE {filter} LIMIT {})",
                    cap.saturating_add(1)
                ),
                // Every match read, sorted, one page kept: for rare words and small match sets.
                by_matches: format!("SELECT p.id {SEARCH_FROM} WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"),
                // Products walked in the page's order through an index that holds every
                // tie-break, each tested against the match set (the set is built once per
                // statement; the test reads the index only), stopping after the page.
                by_order: format!(
                    "SELECT p.id FROM products p INDEXED BY {} CROSS JOIN vendors v ON v.id = p.vendor_id
                     WHERE {filters} AND p.seq IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ?1)
                     ORDER BY {order} LIMIT {limit} OFFSET {offset}",
                    sort_index(query.sort)
                ),
            };
            return self.pool.read(move |conn| search_capped(conn, &plans, &args, cap, page)).await;
        }
        // Two steps: the ids of the page (a narrow sort), then the full rows of those ids only.
        // The total rides along as a window count, so the full-text match runs once.
        let ids_sql = format!("SELECT p.id, count(*) OVER () {from} WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
        let cap = query.count_cap.map(|c| c.max(0));
        self.pool
            .read(move |conn| {
                let rows: Vec<(String, i64)> = conn
                    .prepare_cached(&ids_sql)
                    .and_then(|mut stmt| {
                        stmt.query_map(params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect()
                    })
                    .map_err(map_err)?;
                let total = match rows.first() {
                    Some((_, total)) => *total,
                    // Past the last page the window count is not seen: count separately.
                    None if page.offset() > 0 => conn
                        .prepare_cached(&count_sql)
                        .and_then(|mut stmt| stmt.query_row(params_from_iter(args.iter()), |r| r.get(0)))
                        .map_err(map_err)?,
                    None => 0,
                };
                let ids: Vec<String> = rows.into_iter().map(|(id, _)| id).collect();
                let items = load_products_in_order(conn, &ids)?;
                Ok(match cap {
                    Some(cap) if total > cap => Page::capped(items, page, cap, true),
                    _ => Page::new(items, page, total),
                })
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn search_matches(&self, terms: &[String], limit: usize) -> StoreResult<Option<Vec<SearchMatch>>> {
        let fts = fts_query(terms);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        self.pool
            .read(move |conn| {
                let matches = conn
                    .prepare_cached(&format!(
                        "SELECT p.id, p.category_id, p.vendor_id, p.kind, p.price_cents, p.created_at, p.rating_avg, p.rating_count,
                             p.sales_count {SEARCH_FROM} WHERE {VISIBLE} AND products_fts MATCH ?1 LIMIT ?2"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(params![fts, limit.saturating_add(1)], |row| {
                            Ok(SearchMatch {
                                id: ProductId(parse_uuid(&row.get::<_, String>(0)?)?),
                                category_id: CategoryId(parse_uuid(&row.get::<_, String>(1)?)?),
                                vendor_id: VendorId(parse_uuid(&row.get::<_, String>(2)?)?),
                                kind: ProductKind::parse(&row.get::<_, String>(3)?).map_err(bad_value)?,
                                price_cents: row.get(4)?,
                                created_at: parse_ts(&row.get::<_, String>(5)?)?,
                                rating_avg: row.get(6)?,
                                rating_count: row.get(7)?,
                                sales_count: row.get(8)?,
                            })
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err)?;
                Ok((i64::try_from(matches.len()).unwrap_or(i64::MAX) <= limit).then_some(matches))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn products_by_ids(&self, ids: &[ProductId]) -> StoreResult<Vec<Product>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.pool.read(move |conn| load_products_in_order(conn, &ids)).await
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
        let vendor = filter.vendor_id.map(|v| v.to_string());
        self.pool
            .read(move |conn| {
                let condition = "(?1 IS NULL OR unicode_lower(p.title) LIKE ?1 ESCAPE '\\' OR p.slug LIKE ?1 ESCAPE '\\')
                     AND (?2 IS NULL OR p.status = ?2) AND (?3 IS NULL OR p.vendor_id = ?3)";
                let total: i64 = conn
                    .prepare_cached(&format!("SELECT count(*) FROM products p WHERE {condition}"))
                    .and_then(|mut stmt| stmt.query_row(params![q, status, vendor], |r| r.get(0)))
                    .map_err(map_err)?;
                let mut items = conn
                    .prepare_cached(&format!(
                        "{PRODUCT_SELECT} WHERE {condition} ORDER BY p.created_at DESC, p.id DESC LIMIT ?4 OFFSET ?5"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(params![q, status, vendor, page.limit(), page.offset()], product_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err)?;
                attach_images(conn, &mut items)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_vendor_products(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<Product>> {
        self.pool
            .read(move |conn| {
                let vendor = vendor_id.to_string();
                let total: i64 = conn
                    .query_row("SELECT count(*) FROM products WHERE vendor_id = ?1", [&vendor], |r| r.get(0))
                    .map_err(map_err)?;
                let mut items = conn
                    .prepare_cached(&format!(
                        "{PRODUCT_SELECT} WHERE p.vendor_id = ?1 ORDER BY p.created_at DESC, p.id DESC LIMIT ?2 OFFSET ?3"
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(params![vendor, page.limit(), page.offset()], product_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err)?;
                attach_images(conn, &mut items)?;
                Ok(Page::new(items, page, total))
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn add_product_image(&self, image: ProductImage, max_images: i64) -> StoreResult<ProductImage> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let product = image.product_id.to_string();
                let exists: bool = tx
                    .query_row("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)", [&product], |r| r.get(0))
                    .map_err(map_err)?;
                if !exists {
                    return Err(StoreError::NotFound);
                }
                let (count, next): (i64, i32) = tx
                    .query_row(
                        "SELECT count(*), coalesce(max(position) + 1, 0) FROM product_images WHERE product_id = ?1",
                        [&product],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(map_err)?;
                if count >= max_images {
                    return Err(StoreError::Conflict(Conflict::TooManyImages));
                }
                tx.execute(
                    &format!("INSERT INTO product_images ({IMAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    params![
                        image.id.to_string(),
                        product,
                        next,
                        image.key,
                        image.thumb_key,
                        image.width,
                        image.height,
                        ts(image.created_at)
                    ],
                )
                .map_err(map_err)?;
                tx.execute(
                    "UPDATE products SET updated_at = ?1 WHERE id = ?2",
                    params![ts(image.created_at), product],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(ProductImage { position: next, ..image })
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        audit: Option<NewAudit>,
    ) -> StoreResult<Option<ProductImage>> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let removed = tx
                    .query_row(
                        &format!("DELETE FROM product_images WHERE id = ?1 AND product_id = ?2 RETURNING {IMAGE_COLUMNS}"),
                        params![image_id.to_string(), product_id.to_string()],
                        image_from_row,
                    )
                    .optional()
                    .map_err(map_err)?;
                if let (Some(_), Some(audit)) = (&removed, &audit) {
                    insert_audit(&tx, audit)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(removed)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn move_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        position: usize,
        audit: Option<NewAudit>,
    ) -> StoreResult<bool> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let mut ids: Vec<String> = {
                    let mut statement = tx
                        .prepare("SELECT id FROM product_images WHERE product_id = ?1 ORDER BY position, created_at, id")
                        .map_err(map_err)?;
                    let rows = statement
                        .query_map([product_id.to_string()], |row| row.get::<_, String>(0))
                        .map_err(map_err)?;
                    rows.collect::<Result<_, _>>().map_err(map_err)?
                };
                let wanted = image_id.to_string();
                let Some(from) = ids.iter().position(|id| *id == wanted) else {
                    return Ok(false);
                };
                let id = ids.remove(from);
                ids.insert(position.min(ids.len()), id);
                for (index, id) in ids.iter().enumerate() {
                    let index = i64::try_from(index).unwrap_or(i64::MAX);
                    tx.execute(
                        "UPDATE product_images SET position = ?1 WHERE id = ?2 AND position <> ?1",
                        params![index, id],
                    )
                    .map_err(map_err)?;
                }
                if let Some(audit) = &audit {
                    insert_audit(&tx, audit)?;
                }
                tx.commit().map_err(map_err)?;
                Ok(true)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn set_product_asset(&self, asset: ProductAsset) -> StoreResult<Option<ProductAsset>> {
        self.pool
            .write(move |conn| {
                let tx = conn.savepoint().map_err(map_err)?;
                let product = asset.product_id.to_string();
                let exists: bool = tx
                    .query_row("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)", [&product], |r| r.get(0))
                    .map_err(map_err)?;
                if !exists {
                    return Err(StoreError::NotFound);
                }
                let previous = tx
                    .query_row(&format!("{ASSET_SELECT} WHERE product_id = ?1"), [&product], asset_from_row)
                    .optional()
                    .map_err(map_err)?;
                tx.execute(
                    "INSERT INTO product_assets (product_id, filename, key, size_bytes, sha256, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (product_id) DO UPDATE SET filename = excluded.filename, key = excluded.key,
                         size_bytes = excluded.size_bytes, sha256 = excluded.sha256, created_at = excluded.created_at",
                    params![
                        product,
                        asset.filename,
                        asset.key,
                        asset.size_bytes,
                        asset.sha256,
                        ts(asset.created_at)
                    ],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(previous)
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn product_asset(&self, product_id: ProductId) -> StoreResult<Option<ProductAsset>> {
        self.pool
            .read(move |conn| {
                conn.query_row(
                    &format!("{ASSET_SELECT} WHERE product_id = ?1"),
                    [product_id.to_string()],
                    asset_from_row,
                )
                .optional()
                .map_err(map_err)
            })
            .await
    }
}
