//! Records of vendors, categories and products passed through the store traits.

use serde::Serialize;

use super::{NewAudit, NewEmail, Timestamp};
use crate::domain::{CategoryId, ImageId, Money, ProductId, ProductKind, ProductStatus, UserId, VendorId, VendorStatus};

/// A vendor (shop) and its application state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vendor {
    /// Vendor id.
    pub id: VendorId,
    /// The owning user.
    pub user_id: UserId,
    /// Unique URL slug made from the shop name at application time.
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
    /// Public description.
    pub bio: Option<String>,
    /// Private payout details (JSON), seen by the vendor and admins only.
    pub payout_details: Option<serde_json::Value>,
    /// Application state.
    pub status: VendorStatus,
    /// Why the application was rejected.
    pub rejection_reason: Option<String>,
    /// Per-vendor commission override in basis points.
    pub commission_bps: Option<i32>,
    /// Average visible review rating.
    pub rating_avg: f64,
    /// Number of visible reviews.
    pub rating_count: i64,
    /// Published products (visible while approved).
    pub product_count: i64,
    /// Application time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// First approval.
    pub approved_at: Option<Timestamp>,
}

/// A new vendor application.
#[derive(Debug, Clone)]
pub struct NewVendor {
    /// Vendor id.
    pub id: VendorId,
    /// The applying user.
    pub user_id: UserId,
    /// Slug (unique; `Conflict::SlugTaken(Sluggable::Vendor)` when taken).
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
    /// Description.
    pub bio: Option<String>,
    /// Payout details.
    pub payout_details: Option<serde_json::Value>,
    /// Application time.
    pub at: Timestamp,
}

/// Changes a vendor makes to its own profile (`None` keeps a field).
#[derive(Debug, Clone, Default)]
pub struct VendorProfileChange {
    /// New shop name.
    pub shop_name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub bio: Option<Option<String>>,
    /// New payout details (`Some(None)` clears them).
    pub payout_details: Option<Option<serde_json::Value>>,
}

/// An admin decision on a vendor, applied only when the vendor is in one of `from`.
#[derive(Debug, Clone)]
pub struct VendorDecision {
    /// The vendor.
    pub vendor_id: VendorId,
    /// Statuses the decision applies to; any other is `Conflict::StaleStatus(HasStatus::Vendor)`.
    pub from: Vec<VendorStatus>,
    /// The new status (None: status unchanged, e.g. a commission change).
    pub to: Option<VendorStatus>,
    /// Rejection reason to store (cleared on approval).
    pub rejection_reason: Option<String>,
    /// New commission override (`Some(None)` clears it).
    pub commission_bps: Option<Option<i32>>,
    /// Whether the owning user becomes role `vendor` (approval; admins keep their role).
    pub grant_vendor_role: bool,
    /// Audit row written in the same transaction.
    pub audit: NewAudit,
    /// Email queued in the same transaction.
    pub email: Option<NewEmail>,
}

/// Filters of vendor lists.
#[derive(Debug, Clone, Default)]
pub struct VendorFilter {
    /// Only this status.
    pub status: Option<VendorStatus>,
}

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

/// A new category.
#[derive(Debug, Clone)]
pub struct NewCategory {
    /// Category id.
    pub id: CategoryId,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Parent category.
    pub parent_id: Option<CategoryId>,
    /// Audit row.
    pub audit: NewAudit,
}

/// Changes to a category (`None` keeps a field).
#[derive(Debug, Clone)]
pub struct CategoryChange {
    /// The category.
    pub id: CategoryId,
    /// New name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New parent (`Some(None)` makes it top-level).
    pub parent_id: Option<Option<CategoryId>>,
    /// Audit row.
    pub audit: NewAudit,
}

/// The vendor shown with a product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VendorRef {
    /// Vendor id.
    pub id: VendorId,
    /// Vendor slug.
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
    /// Vendor status (products of non-approved vendors are not public).
    pub status: VendorStatus,
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

/// A new product.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// Product id.
    pub id: ProductId,
    /// The vendor.
    pub vendor_id: VendorId,
    /// The category.
    pub category_id: CategoryId,
    /// Slug (unique; `Conflict::SlugTaken(Sluggable::Product)` when taken).
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Kind.
    pub kind: ProductKind,
    /// Price.
    pub price: Money,
    /// Stock (physical) or None (digital).
    pub stock: Option<i64>,
    /// Initial status.
    pub status: ProductStatus,
    /// Tags.
    pub tags: Vec<String>,
    /// Creation time.
    pub at: Timestamp,
}

/// The full new state of an edited product's editable fields.
#[derive(Debug, Clone)]
pub struct ProductUpdate {
    /// The product.
    pub id: ProductId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Kind.
    pub kind: ProductKind,
    /// Price.
    pub price: Money,
    /// Stock.
    pub stock: Option<i64>,
    /// Category.
    pub category_id: CategoryId,
    /// Status.
    pub status: ProductStatus,
    /// Tags.
    pub tags: Vec<String>,
    /// When.
    pub at: Timestamp,
    /// Audit row (admin edits).
    pub audit: Option<NewAudit>,
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

/// What a search needs of one matching product to filter, count, sort and page the matches in
/// memory (one row of a cached match set): every column a public filter or sort reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchMatch {
    /// The product.
    pub id: ProductId,
    /// Its category.
    pub category_id: CategoryId,
    /// Its vendor.
    pub vendor_id: VendorId,
    /// Original or digital.
    pub kind: ProductKind,
    /// Price in cents.
    pub price_cents: i64,
    /// Listed at (the `newest` sort).
    pub created_at: Timestamp,
    /// Average rating (the `rating` sort).
    pub rating_avg: f64,
    /// Number of ratings (the `rating` sort's tie-break).
    pub rating_count: i64,
    /// Units sold (the `popular` sort).
    pub sales_count: i64,
}
