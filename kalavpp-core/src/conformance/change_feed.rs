//! `Store::change_feed`: stores of one database hear each other's announcements (and not their
//! own); a single-process backend (SQLite) has no feed.
//!
//! Not a [`Case`](super::Case): it needs a second store on the database of the first, as another
//! process would open it, so it is called directly:
//! [`change_feed_reaches_the_other_processes_of_one_database`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::conformance::Db;

async fn wait_for(count: &AtomicUsize, at_least: usize) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if count.load(Ordering::SeqCst) >= at_least {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Checks the change feed of `store`. `other` is a second store on the same database (for a backend
/// that syncs caches across processes, like PostgreSQL's `LISTEN/NOTIFY`), or `None` for a
/// single-process backend, which must then have no feed at all.
///
/// # Panics
///
/// When the store does not behave: a feed where none is expected, no feed where one is, an
/// announcement not heard by the other store or heard back by its own origin.
pub async fn change_feed_reaches_the_other_processes_of_one_database(store: Db, other: Option<Db>) {
    let Some(other) = other else {
        assert!(store.change_feed().is_none(), "one process, nothing to tell");
        return;
    };
    let (here, there) = (store.change_feed().expect("a feed"), other.change_feed().expect("a feed"));
    let (origin_here, origin_there) = (Uuid::new_v4(), Uuid::new_v4());
    let heard = Arc::new(AtomicUsize::new(0));
    let listener = {
        let heard = heard.clone();
        tokio::spawn(async move {
            let on_change = || {
                heard.fetch_add(1, Ordering::SeqCst);
            };
            there.listen(origin_there, &on_change).await
        })
    };
    assert!(
        wait_for(&heard, 1).await,
        "listening starts with one invalidation (changes may have been missed)"
    );

    here.announce(origin_here).await.expect("announce");
    assert!(wait_for(&heard, 2).await, "the other process hears the announcement");
    // Its own announcements (same origin) are ignored.
    here.announce(origin_there).await.expect("announce");
    here.announce(origin_here).await.expect("announce");
    assert!(wait_for(&heard, 3).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(heard.load(Ordering::SeqCst), 3, "an origin's own announcement is not heard back");
    listener.abort();
}
