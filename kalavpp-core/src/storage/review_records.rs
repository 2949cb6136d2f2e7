//! Records of product reviews passed through [`super::ReviewStore`].

use crate::domain::Timestamp;
use crate::domain::{ProductId, ReviewId, UserId};

/// A new review (already validated by the service).
#[derive(Debug, Clone)]
pub struct NewReview {
    /// Review id.
    pub id: ReviewId,
    /// The reviewed product (its vendor is read from the product in the same transaction).
    pub product_id: ProductId,
    /// The author.
    pub user_id: UserId,
    /// 1 to 5 stars.
    pub rating: i32,
    /// Optional headline.
    pub title: Option<String>,
    /// The review text.
    pub body: String,
    /// Creation time.
    pub at: Timestamp,
}

/// An author's edit of their review (`None` keeps a field).
#[derive(Debug, Clone)]
pub struct ReviewEdit {
    /// The review.
    pub id: ReviewId,
    /// Only the review of this author is changed (`NotFound` otherwise).
    pub author_id: UserId,
    /// New rating.
    pub rating: Option<i32>,
    /// New title (`Some(None)` clears it).
    pub title: Option<Option<String>>,
    /// New text.
    pub body: Option<String>,
    /// When.
    pub at: Timestamp,
}
