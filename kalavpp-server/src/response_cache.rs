//! Ready-to-send JSON bodies of hot public catalog reads, keyed by the catalog cache generation
//! (so any catalog write makes every entry stale at once) and the *normalised* request — built from
//! the parsed parameters only, so unknown parameters, their order, case and spacing make no new
//! keys. Bounded by bytes (key + body of each entry), never by count.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use moka::future::Cache;
use serde::Serialize;

use crate::http_error::ApiError;

/// What one entry costs beyond its key and body (moka's bookkeeping, the `Bytes` header).
const ENTRY_OVERHEAD: usize = 160;

/// Serialized public responses, keyed by `<generation>|<normalised request>` (one string, so a
/// lookup borrows the key the handler built instead of copying it).
#[derive(Clone)]
pub struct ResponseCache {
    entries: Cache<String, Bytes>,
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of keys and bodies; entries live at most 5 minutes.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_bytes.max(64 * 1024))
                .weigher(|key: &String, body: &Bytes| u32::try_from(key.len() + body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX))
                .time_to_live(Duration::from_mins(5))
                .build(),
        }
    }

    /// The cached body for `key`, which begins with the catalog generation it was built at
    /// (`format!("{generation}|...")`), so a catalog write makes every older key unreachable.
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        self.entries.get(key).await
    }

    /// Serializes `body`, remembers it under `key` (see [`ResponseCache::get`]) and returns it.
    pub async fn store<T: Serialize>(&self, key: String, body: &T) -> Result<Bytes, ApiError> {
        let bytes = Bytes::from(serde_json::to_vec(body).map_err(|e| kalavpp_core::Error::Internal(e.to_string()))?);
        self.entries.insert(key, bytes.clone()).await;
        Ok(bytes)
    }

    /// Estimated bytes held now (after pending evictions ran).
    pub async fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }
}

/// A JSON response from ready bytes.
pub fn json_bytes(bytes: Bytes) -> Response {
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A filter value as a cache key part: trimmed, inner whitespace folded to one space; absent
/// and blank are the same. Case is kept (the catalog decides what case means per filter).
pub fn key_part(value: Option<&str>) -> String {
    value
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A search text as a cache key part: as [`key_part`], in lower case (search ignores case).
pub fn search_key_part(value: Option<&str>) -> String {
    key_part(value).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn distinct_keys_never_outgrow_the_budget() {
        let cache = ResponseCache::new(256 * 1024);
        let body = serde_json::json!({"items": "x".repeat(2_000)});
        for n in 0..5_000 {
            cache.store(format!("1|list|junk-{n}"), &body).await.unwrap();
        }
        let held = cache.weighted_bytes().await;
        assert!(held <= 256 * 1024, "{held} bytes held");
        assert!(held > 100 * 1024, "the cache is used: {held}");
    }

    #[test]
    fn key_parts_ignore_spacing_and_search_ignores_case() {
        assert_eq!(key_part(Some("  Oil   Painting ")), "Oil Painting");
        assert_eq!(search_key_part(Some("  Oil   Painting ")), "oil painting");
        assert_eq!(key_part(Some("")), key_part(None));
    }
}
