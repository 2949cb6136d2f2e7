//! Vendors (artists): their shop, application status, and the vendor list's filters.

use serde::Serialize;

use super::{Timestamp, UserId, VendorId, VendorStatus};

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

/// Filters of vendor lists.
#[derive(Debug, Clone, Default)]
pub struct VendorFilter {
    /// Only this status.
    pub status: Option<VendorStatus>,
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
