//! In-process caches of catalog reads (moka), replacing Redis.
//!
//! Every catalog write bumps a generation counter that is part of every cache key, so a read right
//! after a write can never see the old value; stale entries simply age out (TTL) or are evicted.
//!
//! Every cache is bounded by **bytes** (an estimate of each entry's heap size, through moka's
//! weigher), never by entry count: however many distinct queries anonymous clients send, the
//! caches together stay within the budget they were given.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;

use crate::domain::{Category, Product, ProductQuery};
use crate::domain::{Page, PageRequest};
use crate::services::match_sets::{MATCH_BYTES, MatchSet};

/// Hit and miss counters of the catalog caches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that went to the database.
    pub misses: u64,
}

/// The catalog caches of one marketplace.
pub struct CatalogCache {
    generation: AtomicU64,
    /// Woken on every local invalidation, so the marketplace can tell other processes.
    changed: tokio::sync::Notify,
    hits: AtomicU64,
    misses: AtomicU64,
    pub(crate) products: Cache<(u64, String), Arc<Product>>,
    pub(crate) lists: Cache<(u64, ProductQuery, u32, u32), Arc<Page<Product>>>,
    pub(crate) categories: Cache<u64, Arc<Vec<Category>>>,
    /// Match sets of search terms (see `services::match_sets`).
    pub(crate) matches: Cache<(u64, Vec<String>), Arc<MatchSet>>,
    /// Terms searched once in this generation: their match set is read on the second search, so
    /// one-off searches (a stream of distinct words) stay on the database plans and never pay
    /// for a set nobody reuses.
    pub(crate) searched_once: Cache<(u64, Vec<String>), ()>,
    /// The most matches one cached set may hold.
    match_rows_limit: usize,
}

impl std::fmt::Debug for CatalogCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogCache")
            .field("generation", &self.generation())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self::new(Duration::from_mins(5), DEFAULT_CATALOG_CACHE_BYTES)
    }
}

/// The catalog caches' default budget (32 MiB).
pub const DEFAULT_CATALOG_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Estimated heap bytes of a cached product (strings, tags, images, and the struct itself).
pub fn product_bytes(product: &Product) -> u64 {
    let strings = product.slug.len()
        + product.title.len()
        + product.description.len()
        + product.tags.iter().map(|t| t.len() + 24).sum::<usize>()
        + product.category.name.len()
        + product.category.slug.len()
        + product.vendor.shop_name.len()
        + product.vendor.slug.len()
        + product.images.iter().map(|i| i.key.len() + i.thumb_key.len() + 64).sum::<usize>();
    (std::mem::size_of::<Product>() + strings + 64) as u64
}

fn weight(bytes: u64) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl CatalogCache {
    /// Caches whose entries live at most `ttl` (a safety net; writes invalidate at once) and
    /// hold at most `max_bytes` together: a quarter for single products, a quarter for list and
    /// search pages, the rest for search match sets and (a small fixed share) the category tree.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let max_bytes = max_bytes.max(64 * 1024);
        let match_bytes = max_bytes / 2 - max_bytes / 16;
        Self {
            generation: AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            products: Cache::builder()
                .max_capacity(max_bytes / 4)
                .weigher(|key: &(u64, String), product: &Arc<Product>| weight(key.1.len() as u64 + product_bytes(product)))
                .time_to_live(ttl)
                .build(),
            matches: Cache::builder()
                .max_capacity(match_bytes)
                .weigher(|key: &(u64, Vec<String>), set: &Arc<MatchSet>| {
                    weight(key.1.iter().map(|t| t.len() + 24).sum::<usize>() as u64 + set.bytes())
                })
                .time_to_live(ttl)
                .build(),
            searched_once: Cache::builder()
                .max_capacity(max_bytes / 64)
                .weigher(|key: &(u64, Vec<String>), (): &()| weight(key.1.iter().map(|t| t.len() + 24).sum::<usize>() as u64 + 64))
                .time_to_live(ttl)
                .build(),
            // A quarter of the share each, so a few common words stay cached side by side.
            match_rows_limit: usize::try_from(match_bytes / 4).unwrap_or(usize::MAX) / MATCH_BYTES,
            lists: Cache::builder()
                .max_capacity(max_bytes / 4)
                .weigher(|key: &(u64, ProductQuery, u32, u32), page: &Arc<Page<Product>>| {
                    let key_bytes = key.1.terms.iter().map(|t| t.len() + 24).sum::<usize>() + key.1.category_ids.len() * 16 + 128;
                    weight(key_bytes as u64 + page.items.iter().map(product_bytes).sum::<u64>())
                })
                .time_to_live(ttl)
                .build(),
            categories: Cache::builder()
                .max_capacity(max_bytes / 16)
                .weigher(|_: &u64, categories: &Arc<Vec<Category>>| {
                    weight(
                        categories
                            .iter()
                            .map(|c| (std::mem::size_of::<Category>() + c.name.len() + c.slug.len()) as u64)
                            .sum(),
                    )
                })
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Estimated bytes held by the catalog caches now (after pending evictions ran).
    pub async fn weighted_bytes(&self) -> u64 {
        self.products.run_pending_tasks().await;
        self.lists.run_pending_tasks().await;
        self.categories.run_pending_tasks().await;
        self.matches.run_pending_tasks().await;
        self.searched_once.run_pending_tasks().await;
        self.products.weighted_size()
            + self.lists.weighted_size()
            + self.categories.weighted_size()
            + self.matches.weighted_size()
            + self.searched_once.weighted_size()
    }

    /// The current generation; it changes on every catalog write.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes every cached catalog read stale. Called after each write that could change what
    /// the catalog shows (products, images, vendors, categories, reviews, stock).
    pub fn invalidate(&self) {
        self.invalidate_local();
        self.changed.notify_one();
    }

    /// Makes every cached read stale without telling other processes (used when another process
    /// announced a change).
    pub fn invalidate_local(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        tracing::debug!(generation = self.generation(), "catalog cache invalidated");
    }

    /// Resolves after the next [`CatalogCache::invalidate`] (invalidations in between coalesce).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Hit and miss counts so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn record(&self, hit: bool, cache: &'static str) {
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        tracing::trace!(cache, hit, "catalog cache lookup");
    }

    /// The most matches a cached match set may hold.
    pub(crate) fn match_rows_limit(&self) -> usize {
        self.match_rows_limit
    }

    pub(crate) fn list_key(&self, query: &ProductQuery, page: PageRequest) -> (u64, ProductQuery, u32, u32) {
        (self.generation(), query.clone(), page.page(), page.per_page())
    }
}
