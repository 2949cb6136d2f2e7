//! The catalog: categories, products with their images and digital assets, and the queries
//! and filters that list them.

use serde::Serialize;

use super::{CategoryId, ImageId, Money, ProductId, ProductKind, ProductStatus, Timestamp, VendorId, VendorRef};

/// A catalog category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Category id.
    pub id: CategoryId,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Parent category.
    pub parent_id: Option<CategoryId>,
    /// Publicly visible products directly in this category.
    pub product_count: i64,
}

/// The category shown with a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryRef {
    /// Category id.
    pub id: CategoryId,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
}

/// A stored product image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductImage {
    /// Image id.
    pub id: ImageId,
    /// The product.
    pub product_id: ProductId,
    /// Order among the product's images (0 first).
    pub position: i32,
    /// File-store key of the re-encoded image.
    pub key: String,
    /// File-store key of the thumbnail.
    pub thumb_key: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Upload time.
    pub created_at: Timestamp,
}

/// A digital product's downloadable file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductAsset {
    /// The product.
    pub product_id: ProductId,
    /// File name shown to buyers (sanitised).
    pub filename: String,
    /// File-store key (private).
    pub key: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Upload time.
    pub created_at: Timestamp,
}

/// A product with everything shown about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    /// Product id.
    pub id: ProductId,
    /// Unique slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Physical or digital.
    pub kind: ProductKind,
    /// Price in cents.
    pub price: Money,
    /// Units left (physical only; `None` = unlimited).
    pub stock: Option<i64>,
    /// Lifecycle state.
    pub status: ProductStatus,
    /// Lower-case tags.
    pub tags: Vec<String>,
    /// The category.
    pub category: CategoryRef,
    /// The vendor.
    pub vendor: VendorRef,
    /// Images in order.
    pub images: Vec<ProductImage>,
    /// Whether a digital asset was uploaded.
    pub has_asset: bool,
    /// Average visible review rating.
    pub rating_avg: f64,
    /// Number of visible reviews.
    pub rating_count: i64,
    /// Units sold (for `popular`).
    pub sales_count: i64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// How public product lists are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProductSort {
    /// Newest first (default).
    #[default]
    Newest,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Best rated first.
    Rating,
    /// Most sold first.
    Popular,
}

/// Filters of the public catalog (only published products of approved vendors are listed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProductQuery {
    /// Search terms (already normalised: lower-case words, stop words removed); all must match.
    pub terms: Vec<String>,
    /// Any of these categories (a category and its descendants).
    pub category_ids: Vec<CategoryId>,
    /// Only this vendor.
    pub vendor_id: Option<VendorId>,
    /// Only this kind.
    pub kind: Option<ProductKind>,
    /// Lowest price in cents.
    pub min_price: Option<i64>,
    /// Highest price in cents.
    pub max_price: Option<i64>,
    /// Order.
    pub sort: ProductSort,
    /// Count at most this many matches: when more match, the page's `total` is this number and
    /// `total_capped` is set (the items are the same either way). `None` counts every match.
    pub count_cap: Option<i64>,
}

/// Filters of the admin's product list ([`crate::storage::CatalogStore::list_all_products`]): unlike the
/// public catalog it sees every status and every vendor's products.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminProductFilter {
    /// Case-insensitive text the title or the slug contains.
    pub q: Option<String>,
    /// Only this status.
    pub status: Option<ProductStatus>,
    /// Only this vendor's products.
    pub vendor_id: Option<VendorId>,
}
