//! Operator tasks on a database outside a running marketplace — migrations, consistent copies and
//! integrity checks — for a CLI's `migrate`, `backup` and `restore` (the server's use them), so that
//! no application code reaches into [`crate::storage`].

use crate::config::DatabaseUrl;
use crate::storage::StoreResult;

#[cfg(feature = "postgres")]
pub use crate::storage::postgres::dump_in_snapshot;
#[cfg(feature = "sqlite")]
pub use crate::storage::sqlite::{backup_file, integrity_check, table_row_counts};

/// Runs the pending migrations of the database at `url` without opening a marketplace; returns
/// the versions it applied (none when the database is up to date). A URL whose backend this build
/// lacks (a cargo feature turned off) is refused with an error saying which feature to enable.
pub async fn migrate(url: &DatabaseUrl) -> StoreResult<Vec<i32>> {
    match url {
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => crate::storage::postgres::PostgresStore::migrate_only(url.expose()).await,
        #[cfg(not(feature = "postgres"))]
        DatabaseUrl::Postgres(_) => Err(crate::storage::StoreError::backend(crate::marketplace::NO_POSTGRES)),
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(location) => crate::storage::sqlite::SqliteStore::migrate_only(location.clone()).await,
        #[cfg(not(feature = "sqlite"))]
        DatabaseUrl::Sqlite(_) => Err(crate::storage::StoreError::backend(crate::marketplace::NO_SQLITE)),
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    #[tokio::test]
    async fn migrate_applies_every_version_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url: crate::DatabaseUrl = format!("sqlite://{}", dir.path().join("shop.db").display()).parse().expect("url");
        let first = super::migrate(&url).await.expect("first run");
        assert!(!first.is_empty());
        assert!(super::migrate(&url).await.expect("second run").is_empty());
        super::integrity_check(&dir.path().join("shop.db")).await.expect("intact");
    }
}
