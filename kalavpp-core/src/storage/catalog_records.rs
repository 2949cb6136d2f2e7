//! Records of vendors, categories and products passed through the store traits.

use super::{NewAudit, NewEmail};
use crate::domain::Timestamp;
use crate::domain::{CategoryId, Money, ProductId, ProductKind, ProductStatus, UserId, VendorId, VendorStatus};

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
