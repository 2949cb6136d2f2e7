//! Ready-to-send JSON bodies of hot public catalog reads, keyed by the catalog cache generation
//! (so any catalog write makes every entry stale at once) and the normalised request.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use moka::future::Cache;
use serde::Serialize;

use crate::http_error::ApiError;

/// Serialized public responses.
#[derive(Clone)]
pub struct ResponseCache {
    entries: Cache<(u64, String), Bytes>,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self {
            entries: Cache::builder().max_capacity(20_000).time_to_live(Duration::from_secs(300)).build(),
        }
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

impl ResponseCache {
    /// The cached body for `key` at `generation`.
    pub async fn get(&self, generation: u64, key: &str) -> Option<Bytes> {
        self.entries.get(&(generation, key.to_owned())).await
    }

    /// Serializes `body`, remembers it under `(generation, key)` and returns it.
    pub async fn store<T: Serialize>(&self, generation: u64, key: String, body: &T) -> Result<Bytes, ApiError> {
        let bytes = Bytes::from(serde_json::to_vec(body).map_err(|e| kalavpp_core::Error::Internal(e.to_string()))?);
        self.entries.insert((generation, key), bytes.clone()).await;
        Ok(bytes)
    }
}
