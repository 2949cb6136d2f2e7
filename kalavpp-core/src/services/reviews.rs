//! Product reviews: written by buyers, edited and deleted by their authors, hidden or deleted by
//! admins. Every change refreshes the product's and vendor's rating in the same transaction and
//! makes the catalog caches stale.

use serde_json::json;
use tracing::instrument;

use super::catalog::{audit, is_public};
use crate::auth::Actor;
use crate::domain::{Page, PageRequest, ProductId, ReviewId, now};
use crate::domain::{Product, Review};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::storage::Conflict;
use crate::storage::{NewReview, ReviewEdit, StoreError};

/// Longest review text, in characters (after trimming).
pub const MAX_REVIEW_BODY: usize = 5000;
/// Longest review title, in characters (after trimming).
pub const MAX_REVIEW_TITLE: usize = 200;

/// A new review as its author sends it.
#[derive(Debug, Clone, Default)]
pub struct ReviewDraft {
    /// 1 to 5.
    pub rating: i64,
    /// Optional headline, up to 200 characters (blank means none).
    pub title: Option<String>,
    /// 1 to 5000 characters after trimming.
    pub body: String,
}

/// An author's partial edit (`None` keeps a field; `title: Some(None)` clears the title).
#[derive(Debug, Clone, Default)]
pub struct ReviewChanges {
    /// New rating, 1 to 5.
    pub rating: Option<i64>,
    /// New title (`Some(None)` or a blank one clears it).
    pub title: Option<Option<String>>,
    /// New text.
    pub body: Option<String>,
}

/// Review services; get one from [`crate::Marketplace::reviews`].
pub struct Reviews<'a> {
    inner: &'a Inner,
}

fn product_not_found() -> Error {
    Error::not_found("product_not_found", "product not found")
}

fn review_not_found() -> Error {
    Error::not_found("review_not_found", "review not found")
}

fn parse_rating(rating: i64) -> std::result::Result<i32, String> {
    match i32::try_from(rating) {
        Ok(r) if (1..=5).contains(&r) => Ok(r),
        _ => Err("must be a whole number from 1 to 5".into()),
    }
}

/// Trimmed title; blank is no title. Control characters are refused.
fn parse_title(text: &str) -> std::result::Result<Option<String>, String> {
    let title = text.trim();
    if title.chars().count() > MAX_REVIEW_TITLE {
        Err(format!("must be at most {MAX_REVIEW_TITLE} characters"))
    } else if title.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok((!title.is_empty()).then(|| title.to_owned()))
    }
}

/// Trimmed text, otherwise stored as given (markup included: it is data, escaped by whoever
/// renders it). Line breaks and tabs are fine; other control characters are refused.
fn parse_body(text: &str) -> std::result::Result<String, String> {
    let body = text.trim();
    match body.chars().count() {
        0 => Err("is required".into()),
        n if n > MAX_REVIEW_BODY => Err(format!("must be at most {MAX_REVIEW_BODY} characters")),
        _ if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
            Err("must not contain control characters other than line breaks and tabs".into())
        }
        _ => Ok(body.to_owned()),
    }
}

impl<'a> Reviews<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    async fn find_product(&self, id_or_slug: &str) -> Result<Option<Product>> {
        let key = id_or_slug.trim().to_lowercase();
        Ok(match ProductId::parse(&key) {
            Some(id) => self.inner.store.product_by_id(id).await?,
            None => self.inner.store.product_by_slug(&key).await?,
        })
    }

    async fn existing(&self, id: ReviewId) -> Result<Review> {
        self.inner.store.review_by_id(id).await?.ok_or_else(review_not_found)
    }

    /// The visible reviews of a product (id or slug), newest first. The product must be visible
    /// to the actor as on its detail page (`NotFound` otherwise).
    #[instrument(skip_all)]
    pub async fn list(&self, actor: &Actor, product: &str, page: PageRequest) -> Result<Page<Review>> {
        let product = super::Catalog::new(self.inner).product(actor, product).await?;
        Ok(self.inner.store.list_product_reviews(product.id, page).await?)
    }

    /// Writes the actor's review of a product (id or slug).
    ///
    /// Signed-in users only (`Unauthorized`). The product must exist; one that is not public
    /// (a draft, archived, or of a vendor no longer approved) is `NotFound` except for someone who
    /// bought it, who may still review it. The product's own vendor is `Forbidden(own_product)`;
    /// anyone without a paid or completed order of it `Forbidden(not_a_buyer)`. Then the fields
    /// are validated together (`Validation`), and a second review is `Conflict(already_reviewed)`.
    #[instrument(skip_all)]
    pub async fn create(&self, actor: &Actor, product: &str, draft: ReviewDraft) -> Result<Review> {
        let user_id = actor.require_user()?;
        let product = self.find_product(product).await?.ok_or_else(product_not_found)?;
        let own_shop = self.inner.store.vendor_by_user(user_id).await?;
        if own_shop.is_some_and(|v| v.id == product.vendor.id) {
            return Err(Error::forbidden("own_product", "vendors cannot review their own works"));
        }
        if !self.inner.store.has_bought(user_id, product.id).await? {
            return Err(if is_public(&product) {
                Error::forbidden("not_a_buyer", "only customers with a paid order of this work may review it")
            } else {
                product_not_found()
            });
        }
        let mut violations = Violations::new();
        let rating = violations.check("rating", parse_rating(draft.rating));
        let title = draft
            .title
            .as_deref()
            .and_then(|t| violations.check("title", parse_title(t)))
            .flatten();
        let body = violations.check("body", parse_body(&draft.body));
        violations.finish()?;
        let review = NewReview {
            id: ReviewId::new(),
            product_id: product.id,
            user_id,
            rating: rating.unwrap_or_default(),
            title,
            body: body.unwrap_or_default(),
            at: now(),
        };
        let created = self.inner.store.insert_review(review).await.map_err(|e| match e {
            StoreError::Conflict(Conflict::AlreadyReviewed) => {
                Error::conflict("already_reviewed", "you have already reviewed this work; edit your review instead")
            }
            StoreError::NotFound => product_not_found(),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(created)
    }

    /// The author edits their review (hidden ones too; they stay hidden). Anyone else is
    /// `Forbidden(not_review_author)`, admins included; an unknown review `NotFound`.
    #[instrument(skip_all)]
    pub async fn update(&self, actor: &Actor, id: ReviewId, changes: ReviewChanges) -> Result<Review> {
        let user_id = actor.require_user()?;
        let current = self.existing(id).await?;
        if current.user_id != user_id {
            return Err(Error::forbidden("not_review_author", "only the author may edit a review"));
        }
        let mut violations = Violations::new();
        let rating = changes.rating.and_then(|r| violations.check("rating", parse_rating(r)));
        let title = match &changes.title {
            Some(Some(t)) => violations.check("title", parse_title(t)),
            Some(None) => Some(None),
            None => None,
        };
        let body = changes.body.as_deref().and_then(|b| violations.check("body", parse_body(b)));
        if changes.rating.is_none() && changes.title.is_none() && changes.body.is_none() {
            violations.add("body", "send at least one of rating, title, body");
        }
        violations.finish()?;
        let edit = ReviewEdit {
            id,
            author_id: user_id,
            rating,
            title,
            body,
            at: now(),
        };
        let updated = self.inner.store.update_review(edit).await.map_err(|e| match e {
            StoreError::NotFound => review_not_found(),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(updated)
    }

    /// Deletes a review: its author may (not audited); an admin may delete any (audited as
    /// `review.delete`); anyone else is `Forbidden(not_review_author)`.
    #[instrument(skip_all)]
    pub async fn delete(&self, actor: &Actor, id: ReviewId) -> Result<()> {
        let current = match actor {
            Actor::Anonymous => return Err(Error::unauthorized("authentication_required", "sign in to do this")),
            _ => self.existing(id).await?,
        };
        // Admins first: an admin's deletion is an admin mutation (audited), even of their own review.
        let record = match actor.require_admin() {
            Ok(admin) => Some(admin),
            Err(_) if actor.user_id() == Some(current.user_id) => None,
            Err(_) => {
                return Err(Error::forbidden(
                    "not_review_author",
                    "only the author or an admin may delete a review",
                ));
            }
        }
        .map(|admin| {
            let details = json!({
                "product_id": current.product_id,
                "author_id": current.user_id,
                "rating": current.rating,
            });
            audit(&admin, "review.delete", "review", id.to_string(), details)
        });
        self.inner.store.delete_review(id, record).await.map_err(|e| match e {
            StoreError::NotFound => review_not_found(),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(())
    }

    /// Every review of every product for moderation (admins), newest first, hidden ones included
    /// unless `hidden` filters them: `Some(true)` only hidden, `Some(false)` only visible.
    #[instrument(skip_all)]
    pub async fn list_all(&self, actor: &Actor, hidden: Option<bool>, page: PageRequest) -> Result<Page<Review>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_reviews(hidden, page).await?)
    }

    /// Hides a review from lists and ratings, or shows it again (admins; audited as
    /// `review.hide` / `review.unhide`).
    #[instrument(skip_all)]
    pub async fn set_hidden(&self, actor: &Actor, id: ReviewId, hidden: bool) -> Result<Review> {
        let admin = actor.require_admin()?;
        let current = self.existing(id).await?;
        let action = if hidden { "review.hide" } else { "review.unhide" };
        let details = json!({ "hidden": hidden, "was_hidden": current.hidden, "product_id": current.product_id });
        let record = audit(&admin, action, "review", id.to_string(), details);
        let review = self.inner.store.set_review_hidden(id, hidden, record).await.map_err(|e| match e {
            StoreError::NotFound => review_not_found(),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(review)
    }
}
