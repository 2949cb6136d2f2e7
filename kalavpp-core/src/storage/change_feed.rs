//! Cache coherence across processes: several servers on one PostgreSQL database tell each other
//! when their in-process caches are stale (`LISTEN/NOTIFY`). A single-process backend (SQLite) has
//! no feed: its one process invalidates its caches directly.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;

/// A database-wide signal that cached catalog reads are stale.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Tells every listener (other processes) that something changed. `origin` identifies the
    /// announcing marketplace, so it can ignore its own announcements.
    async fn announce(&self, origin: Uuid) -> StoreResult<()>;
    /// Listens until the connection ends: calls `on_change` once as soon as listening has started
    /// (announcements may have been missed before), then once per announcement of another origin.
    /// Returns (with an error) when the connection is lost; the caller listens again.
    async fn listen(&self, origin: Uuid, on_change: &(dyn Fn() + Send + Sync)) -> StoreResult<()>;
}
