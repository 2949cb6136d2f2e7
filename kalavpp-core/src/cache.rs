//! In-process caches of catalog reads (moka), replacing Redis.
//!
//! Every catalog write bumps a generation counter that is part of every cache key, so a read right
//! after a write can never see the old value; stale entries simply age out (TTL) or are evicted (size).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;

use crate::domain::{Page, PageRequest};
use crate::storage::{Category, Product, ProductQuery};

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
        Self::new(Duration::from_secs(300))
    }
}

impl CatalogCache {
    /// Caches whose entries live at most `ttl` (a safety net; writes invalidate at once).
    pub fn new(ttl: Duration) -> Self {
        Self {
            generation: AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            products: Cache::builder().max_capacity(20_000).time_to_live(ttl).build(),
            lists: Cache::builder().max_capacity(5_000).time_to_live(ttl).build(),
            categories: Cache::builder().max_capacity(4).time_to_live(ttl).build(),
        }
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

    pub(crate) fn list_key(&self, query: &ProductQuery, page: PageRequest) -> (u64, ProductQuery, u32, u32) {
        (self.generation(), query.clone(), page.page(), page.per_page())
    }
}
