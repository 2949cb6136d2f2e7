//! Categories, products and the public catalog (browse, search, detail), with caching.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::json;
use tracing::instrument;

use crate::auth::{Actor, AdminCap, VendorCap};
use crate::domain::{
    AuditId, CategoryId, Money, Page, PageRequest, ProductId, ProductKind, ProductStatus, Role, VendorId, VendorStatus, now, slugify,
};
use crate::domain::{Category, Product, ProductQuery, ProductSort};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::storage::{CategoryChange, NewAudit, NewCategory, NewProduct, ProductUpdate, StoreError};
use crate::storage::{Conflict, Sluggable};

use super::match_sets::{MatchSet, page_of_matches};
use super::search::search_terms;

/// Highest price accepted, in cents (one million in the installation currency).
pub const MAX_PRICE_CENTS: i64 = 100_000_000;
/// Highest stock accepted.
pub const MAX_STOCK: i64 = 1_000_000;
/// A search counts its matches exactly up to this many; past it the page's `total` is this
/// number and `total_capped` is set ("1,000+"), so a common word never counts every match.
pub const SEARCH_COUNT_CAP: i64 = 1_000;

/// The fields of a new product, as sent by a vendor.
#[derive(Debug, Clone, Default)]
pub struct ProductDraft {
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 20000 characters.
    pub description: String,
    /// `physical` or `digital`.
    pub kind: String,
    /// 1 to [`MAX_PRICE_CENTS`].
    pub price_cents: i64,
    /// Required for physical products, absent for digital ones.
    pub stock: Option<i64>,
    /// Category id or slug.
    pub category_id: String,
    /// Up to 20 tags of 1 to 40 characters.
    pub tags: Vec<String>,
    /// `draft` (default) or `published`.
    pub status: Option<String>,
}

/// A partial product update (`None` keeps a field).
#[derive(Debug, Clone, Default)]
pub struct ProductEdit {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New price.
    pub price_cents: Option<i64>,
    /// New stock (physical products).
    pub stock: Option<i64>,
    /// New category id or slug.
    pub category_id: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New status: `draft`, `published` or `archived`.
    pub status: Option<String>,
}

/// Public catalog filters as a client sends them (validated here).
#[derive(Debug, Clone, Default)]
pub struct BrowseFilters {
    /// Full-text query over title, description and tags.
    pub q: Option<String>,
    /// Category id or slug (child categories included).
    pub category: Option<String>,
    /// Vendor id or slug.
    pub vendor: Option<String>,
    /// `physical` or `digital`.
    pub kind: Option<String>,
    /// Lowest price in cents.
    pub min_price: Option<String>,
    /// Highest price in cents.
    pub max_price: Option<String>,
    /// `newest`, `price_asc`, `price_desc`, `rating` or `popular`.
    pub sort: Option<String>,
}

/// A category with the count of visible products in it and its descendants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryView {
    /// Category id.
    pub id: CategoryId,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Parent.
    pub parent_id: Option<CategoryId>,
    /// Visible products here and in every descendant.
    pub product_count: i64,
}

/// A category to create or rename.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    /// Display name, 1 to 80 characters.
    pub name: Option<String>,
    /// Slug; made from the name when absent on create.
    pub slug: Option<String>,
    /// Parent id or slug (`Some(None)` makes it top-level).
    pub parent: Option<Option<String>>,
}

/// Catalog services; get one from [`crate::Marketplace::catalog`].
pub struct Catalog<'a> {
    inner: &'a Inner,
}

fn product_not_found() -> Error {
    Error::not_found("product_not_found", "product not found")
}

fn category_not_found() -> Error {
    Error::not_found("category_not_found", "category not found")
}

/// Whether the public may see `product`.
pub(crate) fn is_public(product: &Product) -> bool {
    product.status == ProductStatus::Published && product.vendor.status == VendorStatus::Approved
}

fn parse_title(text: &str) -> std::result::Result<String, String> {
    let title = text.trim();
    match title.chars().count() {
        0 => Err("is required".into()),
        n if n > 200 => Err("must be at most 200 characters".into()),
        _ if title.chars().any(char::is_control) => Err("must not contain control characters".into()),
        _ => Ok(title.to_owned()),
    }
}

fn parse_description(text: &str) -> std::result::Result<String, String> {
    let description = text.trim();
    match description.chars().count() {
        0 => Err("is required".into()),
        n if n > 20_000 => Err("must be at most 20000 characters".into()),
        _ => Ok(description.to_owned()),
    }
}

fn parse_price(cents: i64) -> std::result::Result<Money, String> {
    if cents <= 0 {
        Err("must be > 0".into())
    } else if cents > MAX_PRICE_CENTS {
        Err(format!("must be at most {MAX_PRICE_CENTS}"))
    } else {
        Ok(Money(cents))
    }
}

fn parse_stock(stock: i64) -> std::result::Result<i64, String> {
    if (0..=MAX_STOCK).contains(&stock) {
        Ok(stock)
    } else {
        Err(format!("must be between 0 and {MAX_STOCK}"))
    }
}

fn parse_tags(tags: &[String]) -> std::result::Result<Vec<String>, String> {
    if tags.len() > 20 {
        return Err("at most 20 tags".into());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > 40 || tag.chars().any(char::is_control) {
            return Err("each tag must be 1 to 40 characters".into());
        }
        if seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    Ok(out)
}

fn parse_sort(text: &str) -> std::result::Result<ProductSort, String> {
    match text {
        "newest" => Ok(ProductSort::Newest),
        "price_asc" => Ok(ProductSort::PriceAsc),
        "price_desc" => Ok(ProductSort::PriceDesc),
        "rating" => Ok(ProductSort::Rating),
        "popular" => Ok(ProductSort::Popular),
        _ => Err("must be one of newest, price_asc, price_desc, rating, popular".into()),
    }
}

fn parse_cents_filter(text: &str) -> std::result::Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err("must be a whole number of cents ≥ 0".into()),
    }
}

#[expect(clippy::ref_option, reason = "called on the drafts' optional fields in place")]
fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    // ----- categories -------------------------------------------------------------------

    async fn raw_categories(&self) -> Result<Arc<Vec<Category>>> {
        let cache = &self.inner.cache;
        let generation = cache.generation();
        if let Some(hit) = cache.categories.get(&generation).await {
            cache.record(true, "categories");
            return Ok(hit);
        }
        cache.record(false, "categories");
        // Read once per generation: visitors arriving while it is read wait for that read (the
        // counts group every visible product) instead of each starting their own.
        let store = self.inner.store.clone();
        cache
            .categories
            .try_get_with(generation, async move { store.list_categories().await.map(Arc::new) })
            .await
            .map_err(|shared| match Arc::try_unwrap(shared) {
                Ok(err) => Error::from(err),
                Err(shared) => Error::Internal(format!("reading the categories failed: {shared}")),
            })
    }

    /// Every category with visible product counts that include descendants, ordered by name.
    #[instrument(skip_all)]
    pub async fn categories(&self) -> Result<Vec<CategoryView>> {
        let categories = self.raw_categories().await?;
        Ok(categories
            .iter()
            .map(|c| CategoryView {
                id: c.id,
                slug: c.slug.clone(),
                name: c.name.clone(),
                parent_id: c.parent_id,
                product_count: descendants(&categories, c.id)
                    .iter()
                    .filter_map(|id| categories.iter().find(|x| x.id == *id))
                    .map(|x| x.product_count)
                    .sum(),
            })
            .collect())
    }

    async fn find_category(&self, id_or_slug: &str) -> Result<Option<Category>> {
        let categories = self.raw_categories().await?;
        let wanted = id_or_slug.trim().to_lowercase();
        let by_id = CategoryId::parse(&wanted);
        Ok(categories.iter().find(|c| Some(c.id) == by_id || c.slug == wanted).cloned())
    }

    /// Creates a category (admin).
    #[instrument(skip_all)]
    pub async fn create_category(&self, actor: &Actor, input: CategoryInput) -> Result<Category> {
        let admin = actor.require_admin()?;
        let mut violations = Violations::new();
        let name = match input.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() && n.chars().count() <= 80 => Some(n.to_owned()),
            _ => {
                violations.add("name", "must be 1 to 80 characters");
                None
            }
        };
        let slug = input
            .slug
            .as_deref()
            .map(slugify)
            .or_else(|| name.as_deref().map(slugify))
            .unwrap_or_default();
        if slug.is_empty() && name.is_some() {
            violations.add("slug", "must contain letters or digits");
        }
        let parent = match input.parent.flatten() {
            Some(p) => match self.find_category(&p).await? {
                Some(c) => Some(c.id),
                None => {
                    violations.add("parent_id", "no such category");
                    None
                }
            },
            None => None,
        };
        violations.finish()?;
        let id = CategoryId::new();
        let category = NewCategory {
            id,
            slug: slug.clone(),
            name: name.clone().unwrap_or_default(),
            parent_id: parent,
            audit: audit(
                &admin,
                "category.create",
                "category",
                id.to_string(),
                json!({ "name": name, "slug": slug, "parent_id": parent }),
            ),
        };
        let created = self.inner.store.insert_category(category).await.map_err(slug_conflict)?;
        self.inner.cache.invalidate();
        Ok(created)
    }

    /// Renames or moves a category (admin). A category cannot become its own descendant.
    #[instrument(skip_all)]
    pub async fn update_category(&self, actor: &Actor, id: CategoryId, input: CategoryInput) -> Result<Category> {
        let admin = actor.require_admin()?;
        let categories = self.raw_categories().await?;
        if !categories.iter().any(|c| c.id == id) {
            return Err(category_not_found());
        }
        let mut violations = Violations::new();
        let name = match input.name.as_deref().map(str::trim) {
            Some(n) if n.is_empty() || n.chars().count() > 80 => {
                violations.add("name", "must be 1 to 80 characters");
                None
            }
            other => other.map(str::to_owned),
        };
        let slug = input.slug.as_deref().map(slugify);
        if slug.as_deref() == Some("") {
            violations.add("slug", "must contain letters or digits");
        }
        let parent = match &input.parent {
            Some(Some(p)) => match self.find_category(p).await? {
                Some(c) if descendants(&categories, id).contains(&c.id) => {
                    violations.add("parent_id", "a category cannot be moved under itself or its descendants");
                    None
                }
                Some(c) => Some(Some(c.id)),
                None => {
                    violations.add("parent_id", "no such category");
                    None
                }
            },
            Some(None) => Some(None),
            None => None,
        };
        violations.finish()?;
        let details = json!({ "name": name, "slug": slug, "parent_id": parent });
        let change = CategoryChange {
            id,
            name,
            slug,
            parent_id: parent,
            audit: audit(&admin, "category.update", "category", id.to_string(), details),
        };
        let updated = self.inner.store.update_category(change).await.map_err(slug_conflict)?;
        self.inner.cache.invalidate();
        Ok(updated)
    }

    /// Deletes a category that has no products and no children (admin).
    #[instrument(skip_all)]
    pub async fn delete_category(&self, actor: &Actor, id: CategoryId) -> Result<()> {
        let admin = actor.require_admin()?;
        let record = audit(&admin, "category.delete", "category", id.to_string(), json!({}));
        self.inner.store.delete_category(id, record).await.map_err(|e| match e {
            StoreError::NotFound => category_not_found(),
            StoreError::Conflict(Conflict::CategoryInUse) => {
                Error::conflict("category_in_use", "the category still has products or child categories")
            }
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(())
    }

    // ----- products ---------------------------------------------------------------------

    /// Creates a product for the actor's approved shop.
    #[instrument(skip_all)]
    pub async fn create_product(&self, actor: &Actor, draft: ProductDraft) -> Result<Product> {
        let vendor = super::Vendors::new(self.inner).require_approved(actor).await?;
        let mut violations = Violations::new();
        let title = violations.check("title", parse_title(&draft.title));
        let description = violations.check("description", parse_description(&draft.description));
        let kind = violations.check("kind", ProductKind::parse(&draft.kind));
        let price = violations.check("price_cents", parse_price(draft.price_cents));
        let tags = violations.check("tags", parse_tags(&draft.tags));
        let status = match draft.status.as_deref() {
            None | Some("draft") => Some(ProductStatus::Draft),
            Some("published") => Some(ProductStatus::Published),
            Some(_) => {
                violations.add("status", "must be draft or published");
                None
            }
        };
        let stock = match (kind, draft.stock) {
            (Some(ProductKind::Physical), Some(stock)) => violations.check("stock", parse_stock(stock)),
            (Some(ProductKind::Physical), None) => {
                violations.add("stock", "is required for physical products");
                None
            }
            (Some(ProductKind::Digital), Some(_)) => {
                violations.add("stock", "must be absent for digital products (they are unlimited)");
                None
            }
            _ => None,
        };
        let category = match self.find_category(&draft.category_id).await? {
            Some(c) => Some(c.id),
            None => {
                violations.add("category_id", "no such category");
                None
            }
        };
        violations.finish()?;
        let (Some(title), Some(description), Some(kind), Some(price), Some(tags), Some(status), Some(category_id)) =
            (title, description, kind, price, tags, status, category)
        else {
            return Err(Error::Internal("validation inconsistency".into()));
        };
        let base = match slugify(&title) {
            s if s.is_empty() => "work".to_owned(),
            s => s,
        };
        let mut product = NewProduct {
            id: ProductId::new(),
            vendor_id: vendor.id(),
            category_id,
            slug: base.clone(),
            title,
            description,
            kind,
            price,
            stock,
            status,
            tags,
            at: now(),
        };
        for attempt in 0..6 {
            match self.inner.store.insert_product(product.clone()).await {
                Ok(created) => {
                    self.inner.cache.invalidate();
                    return Ok(created);
                }
                Err(StoreError::Conflict(Conflict::SlugTaken(Sluggable::Product))) if attempt < 5 => {
                    product.slug = format!("{base}-{}", hex_suffix());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::conflict("slug_taken", "could not find a free product slug"))
    }

    /// Loads a product the actor may change: its owning approved vendor, or an admin.
    /// Returns the product and, when an admin user acts (on any product), the [`AdminCap`] its
    /// audit row is written with; the owning vendor and the system change products unaudited.
    async fn editable(&self, actor: &Actor, id: ProductId) -> Result<(Product, Option<AdminCap>)> {
        let product = self.inner.store.product_by_id(id).await?.ok_or_else(product_not_found)?;
        if let Ok(admin) = actor.require_admin() {
            let audited = admin.user_id().is_some().then_some(admin);
            return Ok((product, audited));
        }
        let user = actor.require_user()?;
        let own_vendor = self.inner.store.vendor_by_user(user).await?;
        match own_vendor {
            Some(vendor) if vendor.id == product.vendor.id => {
                // The account's current role and the shop's status decide, as for every
                // vendor-only operation: a vendor demoted to customer (or whose shop was
                // suspended) no longer changes its works.
                VendorCap::check(actor, Some(vendor))?;
                Ok((product, None))
            }
            _ if is_public(&product) => Err(Error::forbidden("not_product_owner", "this product belongs to another vendor")),
            _ => Err(product_not_found()),
        }
    }

    /// Partially updates a product (owning vendor or admin; admin edits are audited).
    #[instrument(skip_all)]
    pub async fn update_product(&self, actor: &Actor, id: ProductId, edit: ProductEdit) -> Result<Product> {
        let (current, admin) = self.editable(actor, id).await?;
        let mut violations = Violations::new();
        let title = edit.title.as_deref().map(|t| violations.check("title", parse_title(t)));
        let description = edit
            .description
            .as_deref()
            .map(|d| violations.check("description", parse_description(d)));
        let kind = match edit.kind.as_deref() {
            Some(k) => violations.check("kind", ProductKind::parse(k)),
            None => Some(current.kind),
        };
        let price = edit.price_cents.map(|p| violations.check("price_cents", parse_price(p)));
        let tags = edit.tags.as_deref().map(|t| violations.check("tags", parse_tags(t)));
        let status = edit.status.as_deref().map(|s| violations.check("status", ProductStatus::parse(s)));
        let stock = match (kind, edit.stock, current.stock) {
            (Some(ProductKind::Physical), Some(stock), _) => violations.check("stock", parse_stock(stock)),
            (Some(ProductKind::Physical), None, Some(existing)) => Some(existing),
            (Some(ProductKind::Physical), None, None) => {
                violations.add("stock", "is required for physical products");
                None
            }
            (Some(ProductKind::Digital), Some(_), _) => {
                violations.add("stock", "must be absent for digital products (they are unlimited)");
                None
            }
            _ => None,
        };
        let category = match edit.category_id.as_deref() {
            Some(c) => match self.find_category(c).await? {
                Some(c) => Some(c.id),
                None => {
                    violations.add("category_id", "no such category");
                    None
                }
            },
            None => Some(current.category.id),
        };
        violations.finish()?;
        let update = ProductUpdate {
            id,
            title: title.flatten().unwrap_or(current.title.clone()),
            description: description.flatten().unwrap_or(current.description.clone()),
            kind: kind.unwrap_or(current.kind),
            price: price.flatten().unwrap_or(current.price),
            stock,
            category_id: category.unwrap_or(current.category.id),
            status: status.flatten().unwrap_or(current.status),
            tags: tags.flatten().unwrap_or(current.tags.clone()),
            at: now(),
            audit: admin.map(|admin| {
                let fields: Vec<&str> = [
                    edit.title.as_ref().map(|_| "title"),
                    edit.description.as_ref().map(|_| "description"),
                    edit.kind.as_ref().map(|_| "kind"),
                    edit.price_cents.as_ref().map(|_| "price_cents"),
                    edit.stock.as_ref().map(|_| "stock"),
                    edit.category_id.as_ref().map(|_| "category_id"),
                    edit.tags.as_ref().map(|_| "tags"),
                    edit.status.as_ref().map(|_| "status"),
                ]
                .into_iter()
                .flatten()
                .collect();
                audit(&admin, "product.update", "product", id.to_string(), json!({ "fields": fields }))
            }),
        };
        let updated = self.inner.store.update_product(update).await?;
        self.inner.cache.invalidate();
        Ok(updated)
    }

    /// Archives a product (owning vendor or admin); orders keep their snapshot.
    #[instrument(skip_all)]
    pub async fn archive_product(&self, actor: &Actor, id: ProductId) -> Result<()> {
        let (current, admin) = self.editable(actor, id).await?;
        let update = ProductUpdate {
            id,
            title: current.title,
            description: current.description,
            kind: current.kind,
            price: current.price,
            stock: current.stock,
            category_id: current.category.id,
            status: ProductStatus::Archived,
            tags: current.tags,
            at: now(),
            audit: admin.map(|a| audit(&a, "product.archive", "product", id.to_string(), json!({}))),
        };
        self.inner.store.update_product(update).await?;
        self.inner.cache.invalidate();
        Ok(())
    }

    /// A product by id or slug: public ones for anyone; drafts, archived ones and those of
    /// non-approved vendors only for their vendor and admins (others get `NotFound`).
    #[instrument(skip_all)]
    pub async fn product(&self, actor: &Actor, id_or_slug: &str) -> Result<Arc<Product>> {
        let key = id_or_slug.trim().to_lowercase();
        let cache = &self.inner.cache;
        let cache_key = (cache.generation(), key.clone());
        let product = match cache.products.get(&cache_key).await {
            Some(hit) => {
                cache.record(true, "product");
                hit
            }
            None => {
                cache.record(false, "product");
                let found = match ProductId::parse(&key) {
                    Some(id) => self.inner.store.product_by_id(id).await?,
                    None => self.inner.store.product_by_slug(&key).await?,
                };
                let product = Arc::new(found.ok_or_else(product_not_found)?);
                cache.products.insert(cache_key, product.clone()).await;
                product
            }
        };
        if is_public(&product) || self.may_see_hidden(actor, product.vendor.id).await? {
            Ok(product)
        } else {
            Err(product_not_found())
        }
    }

    async fn may_see_hidden(&self, actor: &Actor, vendor: VendorId) -> Result<bool> {
        Ok(match actor {
            _ if actor.require_admin().is_ok() => true,
            Actor::User {
                id, role: Role::Vendor, ..
            } => self.inner.store.vendor_by_user(*id).await?.is_some_and(|v| v.id == vendor),
            _ => false,
        })
    }

    /// The public catalog: published products of approved vendors, filtered, sorted, paginated.
    /// Unknown `sort` values and malformed numbers are validation errors.
    #[instrument(skip_all)]
    pub async fn browse(&self, filters: BrowseFilters, page: PageRequest) -> Result<Arc<Page<Product>>> {
        let mut violations = Violations::new();
        let sort = non_blank(&filters.sort).map_or(Some(ProductSort::Newest), |s| violations.check("sort", parse_sort(s)));
        let kind = non_blank(&filters.kind).map(|k| violations.check("kind", ProductKind::parse(k)));
        let min_price = non_blank(&filters.min_price).map(|p| violations.check("min_price", parse_cents_filter(p)));
        let max_price = non_blank(&filters.max_price).map(|p| violations.check("max_price", parse_cents_filter(p)));
        if let (Some(Some(min)), Some(Some(max))) = (min_price, max_price)
            && min > max
        {
            violations.add("min_price", "must not be greater than max_price");
        }
        violations.finish()?;
        let mut query = ProductQuery {
            sort: sort.unwrap_or_default(),
            kind: kind.flatten(),
            min_price: min_price.flatten(),
            max_price: max_price.flatten(),
            ..ProductQuery::default()
        };
        let empty = || Arc::new(Page::new(Vec::new(), page, 0));
        if let Some(q) = non_blank(&filters.q) {
            query.terms = search_terms(q);
            if query.terms.is_empty() {
                return Ok(empty());
            }
            // The same words in another order are the same search (every term must match).
            query.terms.sort_unstable();
            query.count_cap = Some(SEARCH_COUNT_CAP);
        }
        if let Some(category) = non_blank(&filters.category) {
            let categories = self.raw_categories().await?;
            match self.find_category(category).await? {
                Some(c) => query.category_ids = descendants(&categories, c.id),
                None => return Ok(empty()),
            }
        }
        if let Some(vendor) = non_blank(&filters.vendor) {
            match super::Vendors::new(self.inner).public(vendor).await {
                Ok(v) => query.vendor_id = Some(v.id),
                Err(Error::NotFound { .. }) => return Ok(empty()),
                Err(other) => return Err(other),
            }
        }
        let cache = &self.inner.cache;
        let key = cache.list_key(&query, page);
        if let Some(hit) = cache.lists.get(&key).await {
            cache.record(true, "list");
            return Ok(hit);
        }
        cache.record(false, "list");
        let listed = match self.answer_from_match_set(&query, page).await? {
            Some(page) => page,
            None => self.inner.store.list_products(&query, page).await?,
        };
        let listed = Arc::new(listed);
        cache.lists.insert(key, listed.clone()).await;
        Ok(listed)
    }

    /// A search page from the cached match set of its terms (read on the second search for them in
    /// a catalog generation, then reused), or `None` for a first search, when the terms match too
    /// many products to hold a set, or when the set could not be read.
    async fn answer_from_match_set(&self, query: &ProductQuery, page: PageRequest) -> Result<Option<Page<Product>>> {
        if query.terms.is_empty() {
            return Ok(None);
        }
        let cache = &self.inner.cache;
        let key = (cache.generation(), query.terms.clone());
        if !cache.matches.contains_key(&key) && !cache.searched_once.contains_key(&key) {
            // The first search for these terms in this generation goes to the database.
            cache.searched_once.insert(key, ()).await;
            return Ok(None);
        }
        let (store, terms, limit) = (self.inner.store.clone(), query.terms.clone(), cache.match_rows_limit());
        let set = cache
            .matches
            .try_get_with(key, async move {
                let rows = store.search_matches(&terms, limit).await?;
                Ok::<_, crate::storage::StoreError>(Arc::new(rows.map_or(MatchSet::TooMany, MatchSet::Rows)))
            })
            .await;
        let set = match set {
            Ok(set) => set,
            Err(err) => {
                tracing::warn!(error = %err, "reading a search match set failed; searching in the database instead");
                return Ok(None);
            }
        };
        let MatchSet::Rows(rows) = &*set else {
            return Ok(None);
        };
        let (ids, total, capped) = page_of_matches(rows, query, page);
        let items = self.inner.store.products_by_ids(&ids).await?;
        Ok(Some(Page::capped(items, page, total, capped)))
    }

    /// Every product of the actor's shop in every status (approved vendors; a suspended vendor
    /// still sees, but cannot change, its own works).
    #[instrument(skip_all)]
    pub async fn vendor_products(&self, actor: &Actor, page: PageRequest) -> Result<Page<Product>> {
        let vendors = super::Vendors::new(self.inner);
        let vendor = match vendors.require_approved(actor).await {
            Ok(cap) => cap.into_vendor(),
            Err(refused) => match vendors.mine(actor).await {
                Ok(vendor) if vendor.status == VendorStatus::Suspended => vendor,
                _ => return Err(refused),
            },
        };
        Ok(self.inner.store.list_vendor_products(vendor.id, page).await?)
    }

    pub(crate) async fn editable_product(&self, actor: &Actor, id: ProductId) -> Result<(Product, Option<AdminCap>)> {
        self.editable(actor, id).await
    }
}

/// `root` and every category below it.
fn descendants(categories: &[Category], root: CategoryId) -> Vec<CategoryId> {
    let mut children: HashMap<CategoryId, Vec<CategoryId>> = HashMap::new();
    for c in categories {
        if let Some(parent) = c.parent_id {
            children.entry(parent).or_default().push(c.id);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for kid in kids {
                if !out.contains(kid) {
                    out.push(*kid);
                }
            }
        }
        i += 1;
    }
    out
}

fn slug_conflict(err: StoreError) -> Error {
    match err {
        StoreError::Conflict(Conflict::SlugTaken(Sluggable::Category)) => {
            Error::conflict("slug_taken", "a category with this slug already exists")
        }
        StoreError::NotFound => category_not_found(),
        other => other.into(),
    }
}

fn hex_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_owned()
}

/// The audit row of an admin's change, written now (see [`NewAudit::by_admin`]).
pub(crate) fn audit(admin: &AdminCap, action: &str, target_type: &str, target_id: String, details: serde_json::Value) -> NewAudit {
    NewAudit::by_admin(admin, now(), action, target_type, target_id, details)
}

/// The audit row of an event no admin is acting in at this moment: a refund the payment
/// provider reports, or one the reconciler completes for the admin recorded with its intent
/// (`actor`; `None` for the provider or the system).
pub(crate) fn event_audit(
    actor: Option<crate::domain::UserId>,
    action: &str,
    target_type: &str,
    target_id: String,
    details: serde_json::Value,
) -> NewAudit {
    NewAudit {
        id: AuditId::new(),
        at: now(),
        actor_id: actor,
        action: action.into(),
        target_type: target_type.into(),
        target_id,
        details,
    }
}
