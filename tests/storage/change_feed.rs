//! `Store::change_feed` (`kalavpp_core::conformance::change_feed`): PostgreSQL stores of one
//! schema hear each other's announcements (and not their own); SQLite, a single-process backend,
//! has no feed.

use std::sync::Arc;

use kalavpp_core::conformance::change_feed::change_feed_reaches_the_other_processes_of_one_database;
use kalavpp_core::storage::postgres::PostgresStore;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feed_reaches_the_other_processes_of_one_database_sqlite() {
    let db = SqliteFile::create().await;
    change_feed_reaches_the_other_processes_of_one_database(db.store.clone(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feed_reaches_the_other_processes_of_one_database_postgres() {
    let Some(db) = PostgresSchema::from_env().await else {
        return;
    };
    let other = PostgresStore::connect(&db.url, 2).await.expect("a second store on the same schema");
    change_feed_reaches_the_other_processes_of_one_database(db.store.clone(), Some(Arc::new(other))).await;
    db.drop_schema().await;
}
