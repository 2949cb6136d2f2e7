//! Keeps the catalog caches of several processes on one database coherent: every local
//! invalidation is announced on the store's change feed, and every announcement of another process
//! invalidates the local caches. Both tasks end when the marketplace is dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::cache::CatalogCache;
use crate::storage::ChangeFeed;

/// Pause before listening again after the feed's connection was lost.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Starts the announcer and the listener of one marketplace; returns their abort handles.
pub(crate) fn start(runtime: &Handle, feed: Arc<dyn ChangeFeed>, cache: Arc<CatalogCache>) -> Vec<AbortHandle> {
    let origin = Uuid::new_v4();
    let announcer = {
        let (feed, cache) = (feed.clone(), cache.clone());
        runtime.spawn(async move {
            loop {
                cache.changed().await;
                if let Err(err) = feed.announce(origin).await {
                    tracing::warn!(error = %err, "announcing a catalog change to other instances failed");
                }
            }
        })
    };
    let listener = runtime.spawn(async move {
        loop {
            let on_change = || cache.invalidate_local();
            if let Err(err) = feed.listen(origin, &on_change).await {
                tracing::warn!(error = %err, "catalog change feed interrupted; listening again");
            }
            // Whatever was announced while not listening is covered by the invalidation that
            // `listen` makes once it is listening again.
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    });
    vec![announcer.abort_handle(), listener.abort_handle()]
}
