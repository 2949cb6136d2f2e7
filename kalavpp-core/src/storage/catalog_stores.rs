//! Store traits of the catalog: categories and products, carts, downloads and reviews.

use async_trait::async_trait;

use crate::domain::{
    AdminProductFilter, CartLine, Category, CategoryId, ImageId, Page, PageRequest, Product, ProductAsset, ProductId, ProductImage,
    ProductQuery, Review, ReviewId, Timestamp, UserId, VendorId,
};

use super::{
    CategoryChange, DownloadUse, NewAudit, NewCategory, NewDownloadLink, NewProduct, NewReview, ProductUpdate, ReviewEdit, SearchMatch,
    StoreResult,
};

/// Categories, products, images and digital assets.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// All categories with their visible product counts, ordered by name.
    async fn list_categories(&self) -> StoreResult<Vec<Category>>;
    /// Creates a category. `Conflict::SlugTaken(Sluggable::Category)` when the slug is taken.
    async fn insert_category(&self, category: NewCategory) -> StoreResult<Category>;
    /// Renames / moves a category.
    async fn update_category(&self, change: CategoryChange) -> StoreResult<Category>;
    /// Deletes a category. `Conflict::CategoryInUse` while products (of any status) or
    /// child categories use it.
    async fn delete_category(&self, id: CategoryId, audit: NewAudit) -> StoreResult<()>;
    /// Creates a product.
    async fn insert_product(&self, product: NewProduct) -> StoreResult<Product>;
    /// A product in any status.
    async fn product_by_id(&self, id: ProductId) -> StoreResult<Option<Product>>;
    /// A product in any status, by slug.
    async fn product_by_slug(&self, slug: &str) -> StoreResult<Option<Product>>;
    /// Replaces a product's editable fields (and writes the audit row, if any).
    async fn update_product(&self, update: ProductUpdate) -> StoreResult<Product>;
    /// Published products of approved vendors matching `query`.
    async fn list_products(&self, query: &ProductQuery, page: PageRequest) -> StoreResult<Page<Product>>;
    /// Every published product of an approved vendor matching all of `terms` (normalised search
    /// terms, at least one), in no particular order; `None` when more than `limit` match. The
    /// catalog service caches the set and answers searches for these terms from it. The default
    /// says "too many" always, so a store without it answers every search with
    /// [`CatalogStore::list_products`].
    async fn search_matches(&self, terms: &[String], limit: usize) -> StoreResult<Option<Vec<SearchMatch>>> {
        let _ = (terms, limit);
        Ok(None)
    }
    /// Products (in any status) by id, in the order of `ids`; unknown ids are left out.
    async fn products_by_ids(&self, ids: &[ProductId]) -> StoreResult<Vec<Product>> {
        let mut products = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(product) = self.product_by_id(*id).await? {
                products.push(product);
            }
        }
        Ok(products)
    }
    /// Every product matching `filter` in any status, of any vendor (the admin's moderation
    /// list), newest first (then by id). Does not use the public full-text index.
    async fn list_all_products(&self, filter: &AdminProductFilter, page: PageRequest) -> StoreResult<Page<Product>>;
    /// All products of a vendor in every status, newest first.
    async fn list_vendor_products(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<Product>>;
    /// Appends an image unless the product already has `max_images` (`Conflict::TooManyImages`).
    async fn add_product_image(&self, image: ProductImage, max_images: i64) -> StoreResult<ProductImage>;
    /// Removes an image of a product and returns it (for file clean-up), writing the audit row (an
    /// admin's removal) in the same transaction; `None` (and no audit row) when not found.
    async fn delete_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        audit: Option<NewAudit>,
    ) -> StoreResult<Option<ProductImage>>;
    /// Moves an image of a product to `position` (0 first; past the end means last) and numbers
    /// the product's images 0, 1, … in that order, writing the audit row (an admin's move) in the
    /// same transaction; `false` (and no audit row) when the image is not the product's.
    async fn move_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        position: usize,
        audit: Option<NewAudit>,
    ) -> StoreResult<bool>;
    /// Sets (or replaces) a product's digital asset; returns the replaced one.
    async fn set_product_asset(&self, asset: ProductAsset) -> StoreResult<Option<ProductAsset>>;
    /// A product's digital asset.
    async fn product_asset(&self, product_id: ProductId) -> StoreResult<Option<ProductAsset>>;
}

/// Server-side carts.
#[async_trait]
pub trait CartStore: Send + Sync {
    /// The user's cart lines with each product's current state, oldest first.
    async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>>;
    /// Adds `quantity` to the line of `product_id` (creating it); returns the new quantity.
    async fn add_to_cart(&self, user_id: UserId, product_id: ProductId, quantity: i64, at: Timestamp) -> StoreResult<i64>;
    /// Sets a line's quantity (0 removes it); `false` when the line does not exist.
    async fn set_cart_quantity(&self, user_id: UserId, product_id: ProductId, quantity: i64) -> StoreResult<bool>;
    /// Removes a line; `false` when it did not exist.
    async fn remove_from_cart(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool>;
}

/// Download links of paid digital lines.
#[async_trait]
pub trait DownloadStore: Send + Sync {
    /// Stores a new link for a line and returns the downloads it allows: the line's remaining
    /// count carries over (at most `link.downloads`; the newest earlier link's count), so asking
    /// for links again never resets the limit. Earlier links of the line stop counting (their
    /// count becomes 0) and only the line's five newest links are kept.
    async fn create_download_link(&self, link: NewDownloadLink) -> StoreResult<i32>;
    /// Counts one download of a link of `user_id` (conditional decrement) and returns the file,
    /// or why not. Links of orders that are no longer paid are `Unknown`.
    async fn use_download_link(&self, id: uuid::Uuid, user_id: UserId, at: Timestamp) -> StoreResult<DownloadUse>;
    /// Like [`DownloadStore::use_download_link`] without counting. With `resumed_since: None` (a
    /// `HEAD`) the link must have downloads left; with `Some(t)` (a `Range` request continuing a
    /// download) the link must have counted a download at or after `t`, whatever is left.
    async fn peek_download_link(
        &self,
        id: uuid::Uuid,
        user_id: UserId,
        at: Timestamp,
        resumed_since: Option<Timestamp>,
    ) -> StoreResult<DownloadUse>;
}

/// Product reviews. Every mutation recomputes, in the same transaction, `rating_avg` and
/// `rating_count` of the review's product and of its vendor from the visible (not hidden) reviews:
/// the count, and the average rounded half up to two decimals (0 without reviews).
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Stores a review of `review.product_id` (its vendor is read from the product).
    /// `Conflict::AlreadyReviewed` when the user already reviewed the product,
    /// `NotFound` when the product does not exist.
    async fn insert_review(&self, review: NewReview) -> StoreResult<Review>;
    /// A review (hidden or not) by id.
    async fn review_by_id(&self, id: ReviewId) -> StoreResult<Option<Review>>;
    /// The visible reviews of a product, newest first (ties by id, newest first).
    async fn list_product_reviews(&self, product_id: ProductId, page: PageRequest) -> StoreResult<Page<Review>>;
    /// Every review of every product for moderation, newest first (ties by id, newest first):
    /// all of them with `hidden == None`, only hidden (`Some(true)`) or only visible (`Some(false)`) ones.
    async fn list_reviews(&self, hidden: Option<bool>, page: PageRequest) -> StoreResult<Page<Review>>;
    /// Whether `user_id` has an order in status `paid` or `completed` with a line of `product_id`
    /// (unpaid, failed, cancelled, expired and refunded orders do not count).
    async fn has_bought(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool>;
    /// Applies the author's edit. `NotFound` when the review does not exist or is not by
    /// `edit.author_id`.
    async fn update_review(&self, edit: ReviewEdit) -> StoreResult<Review>;
    /// Hides or shows a review again and writes the audit row. `NotFound` for an unknown review
    /// (nothing is audited then).
    async fn set_review_hidden(&self, id: ReviewId, hidden: bool, audit: NewAudit) -> StoreResult<Review>;
    /// Deletes a review and writes the audit row, if any (admin deletions). `NotFound` for an
    /// unknown review (nothing is audited then).
    async fn delete_review(&self, id: ReviewId, audit: Option<NewAudit>) -> StoreResult<()>;
}
