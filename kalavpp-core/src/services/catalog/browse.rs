//! The public catalog: browsing and searching listed products (cached), and one product's page.

use std::sync::Arc;

use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Page, PageRequest, ProductId, ProductKind, Role, VendorId};
use crate::domain::{Product, ProductQuery, ProductSort};
use crate::error::{Error, Result, Violations};

use crate::services::Vendors;
use crate::services::match_sets::{MatchSet, page_of_matches};
use crate::services::search::search_terms;

use super::categories::descendants;
use super::{Catalog, SEARCH_COUNT_CAP, is_public, product_not_found};

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

impl Catalog<'_> {
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
            match Vendors::new(self.inner).public(vendor).await {
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
}
