//! Catalog rows of the sqlite backend read into domain values (products with their category,
//! vendor and images; categories; digital assets) and the columns they are read from.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::domain::{Category, CategoryRef, Product, ProductAsset, ProductImage, VendorRef};
use crate::domain::{CategoryId, ImageId, Money, ProductId, ProductKind, ProductStatus, VendorId, VendorStatus};
use crate::storage::sqlite::{bad_value, map_err, parse_ts, parse_uuid};
use crate::storage::{StoreError, StoreResult};

pub(super) const PRODUCT_SELECT: &str = concat!(
    product_columns!(),
    " FROM products p JOIN categories c ON c.id = p.category_id JOIN vendors v ON v.id = p.vendor_id"
);

pub(super) fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    let tags: String = row.get(8)?;
    Ok(Product {
        id: ProductId(parse_uuid(&row.get::<_, String>(0)?)?),
        slug: row.get(1)?,
        title: row.get(2)?,
        description: row.get(3)?,
        kind: ProductKind::parse(&row.get::<_, String>(4)?).map_err(bad_value)?,
        price: Money(row.get(5)?),
        stock: row.get(6)?,
        status: ProductStatus::parse(&row.get::<_, String>(7)?).map_err(bad_value)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        rating_avg: row.get(9)?,
        rating_count: row.get(10)?,
        sales_count: row.get(11)?,
        created_at: parse_ts(&row.get::<_, String>(12)?)?,
        updated_at: parse_ts(&row.get::<_, String>(13)?)?,
        category: CategoryRef {
            id: CategoryId(parse_uuid(&row.get::<_, String>(14)?)?),
            slug: row.get(15)?,
            name: row.get(16)?,
        },
        vendor: VendorRef {
            id: VendorId(parse_uuid(&row.get::<_, String>(17)?)?),
            slug: row.get(18)?,
            shop_name: row.get(19)?,
            status: VendorStatus::parse(&row.get::<_, String>(20)?).map_err(bad_value)?,
        },
        has_asset: row.get(21)?,
        images: Vec::new(),
    })
}

pub(super) fn image_from_row(row: &Row<'_>) -> rusqlite::Result<ProductImage> {
    Ok(ProductImage {
        id: ImageId(parse_uuid(&row.get::<_, String>(0)?)?),
        product_id: ProductId(parse_uuid(&row.get::<_, String>(1)?)?),
        position: row.get(2)?,
        key: row.get(3)?,
        thumb_key: row.get(4)?,
        width: row.get(5)?,
        height: row.get(6)?,
        created_at: parse_ts(&row.get::<_, String>(7)?)?,
    })
}

pub(super) const IMAGE_COLUMNS: &str = "id, product_id, position, key, thumb_key, width, height, created_at";

/// Fills in the images of `products` with one query.
pub(super) fn attach_images(conn: &Connection, products: &mut [Product]) -> StoreResult<()> {
    if products.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["?"; products.len()].join(", ");
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {IMAGE_COLUMNS} FROM product_images WHERE product_id IN ({placeholders}) ORDER BY product_id, position"
        ))
        .map_err(map_err)?;
    let ids = products.iter().map(|p| p.id.to_string());
    let images = stmt
        .query_map(params_from_iter(ids), image_from_row)
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(map_err)?;
    let mut by_product: HashMap<ProductId, Vec<ProductImage>> = HashMap::new();
    for image in images {
        by_product.entry(image.product_id).or_default().push(image);
    }
    for product in products {
        product.images = by_product.remove(&product.id).unwrap_or_default();
    }
    Ok(())
}

pub(super) fn load_product(conn: &Connection, column: &str, value: String) -> StoreResult<Option<Product>> {
    let product = conn
        .prepare_cached(&format!("{PRODUCT_SELECT} WHERE p.{column} = ?1"))
        .and_then(|mut stmt| stmt.query_row([value], product_from_row).optional())
        .map_err(map_err)?;
    let Some(product) = product else {
        return Ok(None);
    };
    let mut products = [product];
    attach_images(conn, &mut products)?;
    let [product] = products;
    Ok(Some(product))
}

/// The products with `ids`, in that order, with their images.
pub(super) fn load_products_in_order(conn: &Connection, ids: &[String]) -> StoreResult<Vec<Product>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let mut loaded = conn
        .prepare_cached(&format!("{PRODUCT_SELECT} WHERE p.id IN ({placeholders})"))
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(ids.iter()), product_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(map_err)?;
    let position: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
    loaded.sort_by_key(|p| position.get(&p.id.to_string()).copied().unwrap_or(usize::MAX));
    attach_images(conn, &mut loaded)?;
    Ok(loaded)
}

pub(super) fn load_category(conn: &Connection, id: CategoryId) -> StoreResult<Category> {
    conn.query_row(&format!("{CATEGORY_SELECT} WHERE c.id = ?1"), [id.to_string()], category_from_row)
        .optional()
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)
}

pub(super) const CATEGORY_SELECT: &str = "SELECT c.id, c.slug, c.name, c.parent_id,
         (SELECT count(*) FROM products p JOIN vendors v ON v.id = p.vendor_id
          WHERE p.category_id = c.id AND p.status = 'published' AND v.status = 'approved')
     FROM categories c";

pub(super) fn category_from_row(row: &Row<'_>) -> rusqlite::Result<Category> {
    let parent: Option<String> = row.get(3)?;
    Ok(Category {
        id: CategoryId(parse_uuid(&row.get::<_, String>(0)?)?),
        slug: row.get(1)?,
        name: row.get(2)?,
        parent_id: parent.as_deref().map(parse_uuid).transpose()?.map(CategoryId),
        product_count: row.get(4)?,
    })
}

pub(super) fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

pub(super) const ASSET_SELECT: &str = "SELECT product_id, filename, key, size_bytes, sha256, created_at FROM product_assets";

pub(super) fn asset_from_row(row: &Row<'_>) -> rusqlite::Result<ProductAsset> {
    Ok(ProductAsset {
        product_id: ProductId(parse_uuid(&row.get::<_, String>(0)?)?),
        filename: row.get(1)?,
        key: row.get(2)?,
        size_bytes: row.get(3)?,
        sha256: row.get(4)?,
        created_at: parse_ts(&row.get::<_, String>(5)?)?,
    })
}
