//! `Store::change_feed`: PostgreSQL stores of one schema hear each other's announcements (and not
//! their own); SQLite, a single-process backend, has no feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kalavpp_core::storage::postgres::PostgresStore;
use uuid::Uuid;

use crate::support::*;

conformance_with_sql!(change_feed_reaches_the_other_processes_of_one_database);

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

async fn change_feed_reaches_the_other_processes_of_one_database(store: Db, raw: RawSql) {
    let url = match raw {
        RawSql::Sqlite(_) => {
            assert!(store.change_feed().is_none(), "one process, nothing to tell");
            return;
        }
        RawSql::Postgres(url) => url,
    };
    let other = PostgresStore::connect(&url, 2).await.expect("a second store on the same schema");
    let (here, there) = (
        store.change_feed().expect("a feed"),
        kalavpp_core::storage::Store::change_feed(&other).expect("a feed"),
    );
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
