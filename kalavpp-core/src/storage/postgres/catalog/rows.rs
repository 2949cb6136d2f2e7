//! Catalog rows of the postgres backend read into domain values (products with their category,
//! vendor and images; categories; digital assets) and the columns they are read from.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::{Category, CategoryRef, Product, ProductAsset, ProductImage, VendorRef};
use crate::domain::{CategoryId, ImageId, Money, ProductId, ProductKind, ProductStatus, VendorId, VendorStatus};
use crate::storage::postgres::map_err;
use crate::storage::{StoreError, StoreResult};

/// Columns of a category read from `categories c`, with its count of publicly visible products.
pub(super) const CATEGORY_COLUMNS: &str = "c.id, c.slug, c.name, c.parent_id,
     (SELECT count(*) FROM products p JOIN vendors v ON v.id = p.vendor_id
      WHERE p.category_id = c.id AND p.status = 'published' AND v.status = 'approved')";

/// Columns of a product read from `PRODUCT_FROM`; images are loaded separately.
const PRODUCT_COLUMNS: &str = "p.id, p.slug, p.title, p.description, p.kind, p.price_cents, p.stock, p.status, p.tags,
     c.id, c.slug, c.name, v.id, v.slug, v.shop_name, v.status,
     EXISTS (SELECT 1 FROM product_assets a WHERE a.product_id = p.id),
     p.rating_avg, p.rating_count, p.sales_count, p.created_at, p.updated_at";

pub(super) const PRODUCT_FROM: &str = "products p JOIN categories c ON c.id = p.category_id JOIN vendors v ON v.id = p.vendor_id";

pub(super) const IMAGE_COLUMNS: &str = "id, product_id, position, key, thumb_key, width, height, created_at";

pub(super) const ASSET_COLUMNS: &str = "product_id, filename, key, size_bytes, sha256, created_at";

pub(super) fn category_from_row(row: &Row) -> StoreResult<Category> {
    Ok(Category {
        id: CategoryId(row.try_get(0).map_err(map_err)?),
        slug: row.try_get(1).map_err(map_err)?,
        name: row.try_get(2).map_err(map_err)?,
        parent_id: row.try_get::<_, Option<Uuid>>(3).map_err(map_err)?.map(CategoryId),
        product_count: row.try_get(4).map_err(map_err)?,
    })
}

pub(super) async fn load_category(client: &impl GenericClient, id: CategoryId) -> StoreResult<Option<Category>> {
    let row = client
        .query_opt(&format!("SELECT {CATEGORY_COLUMNS} FROM categories c WHERE c.id = $1"), &[&id.0])
        .await
        .map_err(map_err)?;
    row.as_ref().map(category_from_row).transpose()
}

/// A product row without its images (filled in by [`with_images`]).
fn product_from_row(row: &Row) -> StoreResult<Product> {
    let tags: String = row.try_get(8).map_err(map_err)?;
    Ok(Product {
        id: ProductId(row.try_get(0).map_err(map_err)?),
        slug: row.try_get(1).map_err(map_err)?,
        title: row.try_get(2).map_err(map_err)?,
        description: row.try_get(3).map_err(map_err)?,
        kind: ProductKind::parse(row.try_get(4).map_err(map_err)?).map_err(StoreError::backend)?,
        price: Money(row.try_get(5).map_err(map_err)?),
        stock: row.try_get(6).map_err(map_err)?,
        status: ProductStatus::parse(row.try_get(7).map_err(map_err)?).map_err(StoreError::backend)?,
        tags: serde_json::from_str(&tags).map_err(|e| StoreError::backend_caused(format!("products.tags: {e}"), e))?,
        category: CategoryRef {
            id: CategoryId(row.try_get(9).map_err(map_err)?),
            slug: row.try_get(10).map_err(map_err)?,
            name: row.try_get(11).map_err(map_err)?,
        },
        vendor: VendorRef {
            id: VendorId(row.try_get(12).map_err(map_err)?),
            slug: row.try_get(13).map_err(map_err)?,
            shop_name: row.try_get(14).map_err(map_err)?,
            status: VendorStatus::parse(row.try_get(15).map_err(map_err)?).map_err(StoreError::backend)?,
        },
        images: Vec::new(),
        has_asset: row.try_get(16).map_err(map_err)?,
        rating_avg: row.try_get(17).map_err(map_err)?,
        rating_count: row.try_get(18).map_err(map_err)?,
        sales_count: row.try_get(19).map_err(map_err)?,
        created_at: row.try_get(20).map_err(map_err)?,
        updated_at: row.try_get(21).map_err(map_err)?,
    })
}

pub(super) fn image_from_row(row: &Row) -> StoreResult<ProductImage> {
    Ok(ProductImage {
        id: ImageId(row.try_get(0).map_err(map_err)?),
        product_id: ProductId(row.try_get(1).map_err(map_err)?),
        position: row.try_get(2).map_err(map_err)?,
        key: row.try_get(3).map_err(map_err)?,
        thumb_key: row.try_get(4).map_err(map_err)?,
        width: row.try_get(5).map_err(map_err)?,
        height: row.try_get(6).map_err(map_err)?,
        created_at: row.try_get(7).map_err(map_err)?,
    })
}

pub(super) fn asset_from_row(row: &Row) -> StoreResult<ProductAsset> {
    Ok(ProductAsset {
        product_id: ProductId(row.try_get(0).map_err(map_err)?),
        filename: row.try_get(1).map_err(map_err)?,
        key: row.try_get(2).map_err(map_err)?,
        size_bytes: row.try_get(3).map_err(map_err)?,
        sha256: row.try_get(4).map_err(map_err)?,
        created_at: row.try_get(5).map_err(map_err)?,
    })
}

/// Fills in the images of `products` (one query for all of them), each in position order.
async fn with_images(client: &impl GenericClient, mut products: Vec<Product>) -> StoreResult<Vec<Product>> {
    if products.is_empty() {
        return Ok(products);
    }
    let ids: Vec<Uuid> = products.iter().map(|p| p.id.0).collect();
    let rows = client
        .query(
            &format!("SELECT {IMAGE_COLUMNS} FROM product_images WHERE product_id = ANY($1) ORDER BY product_id, position, id"),
            &[&ids],
        )
        .await
        .map_err(map_err)?;
    let mut images: HashMap<ProductId, Vec<ProductImage>> = HashMap::new();
    for row in &rows {
        let image = image_from_row(row)?;
        images.entry(image.product_id).or_default().push(image);
    }
    for product in &mut products {
        product.images = images.remove(&product.id).unwrap_or_default();
    }
    Ok(products)
}

/// Products matching `condition` (over `PRODUCT_FROM`) in `order`, with their images.
pub(super) async fn query_products(
    client: &impl GenericClient,
    condition: &str,
    order: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<Product>> {
    let rows = client
        .query(
            &format!("SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} WHERE {condition} ORDER BY {order}"),
            params,
        )
        .await
        .map_err(map_err)?;
    let products = rows.iter().map(product_from_row).collect::<StoreResult<Vec<_>>>()?;
    with_images(client, products).await
}

pub(super) async fn load_product(client: &impl GenericClient, id: ProductId) -> StoreResult<Option<Product>> {
    Ok(query_products(client, "p.id = $1", "p.id", &[&id.0]).await?.pop())
}

pub(super) fn tags_json(tags: &[String]) -> StoreResult<String> {
    serde_json::to_string(tags).map_err(|e| StoreError::backend_caused(format!("products.tags: {e}"), e))
}
