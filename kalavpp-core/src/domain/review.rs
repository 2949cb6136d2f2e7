//! Product reviews.

use serde::Serialize;

use super::{ProductId, ReviewId, Timestamp, UserId, VendorId};

/// A stored review with its author's display name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    /// Review id.
    pub id: ReviewId,
    /// The reviewed product.
    pub product_id: ProductId,
    /// The product's vendor (snapshotted when the review is written; products never change vendor).
    pub vendor_id: VendorId,
    /// The author.
    pub user_id: UserId,
    /// The author's current display name.
    pub author_name: String,
    /// 1 to 5 stars.
    pub rating: i32,
    /// Optional headline.
    pub title: Option<String>,
    /// The review text, stored as given (no markup processing).
    pub body: String,
    /// Hidden by an admin: left out of lists and rating averages.
    pub hidden: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change (edit or moderation).
    pub updated_at: Timestamp,
}
