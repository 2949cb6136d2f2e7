//! Ready HTML bytes of the anonymous catalog pages, keyed by the catalog generation (any catalog
//! write makes every entry stale at once) and the page's normalised path and parameters, bounded
//! by the total size of the bodies (a share of `CACHE_MAX_BYTES`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use moka::future::Cache;

use super::ShopError;

/// Rendered anonymous pages.
#[derive(Clone)]
pub struct PageCache {
    entries: Cache<(u64, String), Bytes>,
}

impl PageCache {
    /// A cache holding at most `max_bytes` of keys and pages; entries live at most 5 minutes.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_bytes.max(64 * 1024))
                .weigher(|key: &(u64, String), value: &Bytes| u32::try_from(key.1.len() + value.len() + 64).unwrap_or(u32::MAX))
                .time_to_live(Duration::from_mins(5))
                .build(),
        }
    }

    /// Estimated bytes held now (after pending evictions ran).
    pub async fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    /// The page kept for `key` at `generation`, or the one `render` makes (then kept). Concurrent
    /// callers for the same key wait for a single render (no stampede on a cold or just-invalidated
    /// cache); a failed render is not kept.
    pub async fn render_once<F>(&self, generation: u64, key: String, render: F) -> Result<Bytes, Arc<ShopError>>
    where
        F: Future<Output = Result<Bytes, ShopError>>,
    {
        self.entries.try_get_with((generation, key), render).await
    }
}
