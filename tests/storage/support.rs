//! The backends of the storage conformance runner: a fresh store per test on every backend, direct
//! SQL on its database, and the `conformance!` macro that runs each exported case on each backend.
//! The cases themselves, and their record builders, are `kalavpp_core::conformance`.
//!
//! The PostgreSQL helpers ([`PostgresSchema`], [`url_with_search_path`]) are public so that other
//! suites (e.g. the server's end-to-end tests) can copy the idea: one fresh schema per test,
//! selected through the connection's `search_path`. They, and the `_postgres` runs, exist only
//! when kalavpp-core's `postgres` feature is on (a SQLite-only build runs the SQLite half).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kalavpp_core::DatabaseUrl;
pub use kalavpp_core::conformance::Db;
use kalavpp_core::conformance::{Case, RawSql, SqlCase};
#[cfg(feature = "postgres")]
use kalavpp_core::storage::postgres::PostgresStore;
use kalavpp_core::storage::sqlite::{SqliteLocation, SqliteStore};
#[cfg(feature = "postgres")]
use uuid::Uuid;

/// The variable naming a PostgreSQL server to run the suite against (`postgres://...`).
#[cfg(feature = "postgres")]
pub const POSTGRES_URL_VAR: &str = "KALAVPP_TEST_POSTGRES_URL";

/// Runs the cases of one group of `kalavpp_core::conformance`, as its `__conformance_<group>!`
/// macro lists them (`kalavpp_core::__conformance_audit!(conformance)`), each as tests of its own,
/// through the group's `cases()`/`sql_cases()` registry an embedder uses:
///
/// - a case that needs only the store (`store: [...]`) as `<name>_sqlite` on a fresh database file,
///   `<name>_sqlite_memory` on `sqlite::memory:`, and `<name>_postgres` in a fresh schema (skipped
///   with a note when `KALAVPP_TEST_POSTGRES_URL` is not set);
/// - a case that also needs direct SQL (`sql: [...]`) as `<name>_sqlite` and `<name>_postgres`
///   only: a `sqlite::memory:` database is private to the store's own connection.
macro_rules! conformance {
    (group: $group:ident, store: [$($case:ident),* $(,)?], sql: [$($sql:ident),* $(,)?] $(,)?) => {
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$case _sqlite>]() {
                    let case = crate::support::store_case(kalavpp_core::conformance::$group::cases(), stringify!($case));
                    let db = crate::support::SqliteFile::create().await;
                    (case.run)(db.store.clone()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$case _sqlite_memory>]() {
                    let case = crate::support::store_case(kalavpp_core::conformance::$group::cases(), stringify!($case));
                    (case.run)(crate::support::sqlite_memory().await).await;
                }

                #[cfg(feature = "postgres")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$case _postgres>]() {
                    let case = crate::support::store_case(kalavpp_core::conformance::$group::cases(), stringify!($case));
                    let Some(db) = crate::support::PostgresSchema::from_env().await else {
                        return;
                    };
                    (case.run)(db.store.clone()).await;
                    db.drop_schema().await;
                }
            }
        )*
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$sql _sqlite>]() {
                    let case = crate::support::sql_case(kalavpp_core::conformance::$group::sql_cases(), stringify!($sql));
                    let db = crate::support::SqliteFile::create().await;
                    let sql = std::sync::Arc::new(crate::support::SqliteSql(db.path.clone()));
                    (case.run)(db.store.clone(), sql).await;
                }

                #[cfg(feature = "postgres")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$sql _postgres>]() {
                    let case = crate::support::sql_case(kalavpp_core::conformance::$group::sql_cases(), stringify!($sql));
                    let Some(db) = crate::support::PostgresSchema::from_env().await else {
                        return;
                    };
                    let sql = std::sync::Arc::new(crate::support::PostgresSql(db.url.clone()));
                    (case.run)(db.store.clone(), sql).await;
                    db.drop_schema().await;
                }
            }
        )*
    };
}

/// The case named `name` in a group's `cases()`.
pub fn store_case(cases: Vec<Case>, name: &str) -> Case {
    let named: Vec<Case> = cases.into_iter().filter(|case| case.name == name).collect();
    assert_eq!(named.len(), 1, "{name} is in the registry once");
    named[0]
}

/// The case named `name` in a group's `sql_cases()`.
pub fn sql_case(cases: Vec<SqlCase>, name: &str) -> SqlCase {
    let named: Vec<SqlCase> = cases.into_iter().filter(|case| case.name == name).collect();
    assert_eq!(named.len(), 1, "{name} is in the registry once");
    named[0]
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// A SQLite database file in a fresh temporary directory (deleted on drop).
pub struct SqliteFile {
    pub store: Db,
    /// The database file.
    pub path: PathBuf,
    // Declared after `store` so that the store is dropped before its directory.
    _dir: tempfile::TempDir,
}

impl SqliteFile {
    pub async fn create() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("kalavpp.db");
        let store = SqliteStore::open(SqliteLocation::File(path.clone()), 2)
            .await
            .expect("open a SQLite database file");
        Self {
            store: Arc::new(store),
            path,
            _dir: dir,
        }
    }
}

/// A private in-memory SQLite database, opened through its URL spelling.
pub async fn sqlite_memory() -> Db {
    let url: DatabaseUrl = "sqlite::memory:".parse().expect("sqlite::memory: is a valid location");
    assert_eq!(url, DatabaseUrl::Sqlite(SqliteLocation::Memory));
    let DatabaseUrl::Sqlite(location) = url else { unreachable!() };
    Arc::new(SqliteStore::open(location, 2).await.expect("open an in-memory SQLite database"))
}

/// A [`PostgresStore`] in its own, freshly created schema `t_<uuid>`.
#[cfg(feature = "postgres")]
pub struct PostgresSchema {
    pub store: Db,
    /// The schema name (`t_` + a simple UUID).
    pub schema: String,
    /// The URL the store was connected with (search_path set to `schema`).
    pub url: String,
    admin: tokio_postgres::Client,
    connection: tokio::task::JoinHandle<()>,
}

#[cfg(feature = "postgres")]
impl PostgresSchema {
    /// A fresh schema on the server named by `KALAVPP_TEST_POSTGRES_URL`; `None` (with a note on
    /// stderr) when the variable is not set.
    pub async fn from_env() -> Option<Self> {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(Self::create(url.trim()).await),
            _ => {
                eprintln!("note: {POSTGRES_URL_VAR} is not set; skipping the PostgreSQL run of this test");
                None
            }
        }
    }

    /// Creates schema `t_<uuid>` on `base_url` and connects a store whose search_path is that schema
    /// (so the migrations, and every query, run inside it).
    pub async fn create(base_url: &str) -> Self {
        let (admin, connection) = tokio_postgres::connect(base_url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {POSTGRES_URL_VAR}: {e}"));
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let schema = format!("t_{}", Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap_or_else(|e| panic!("create schema {schema}: {e}"));
        let url = url_with_search_path(base_url, &schema);
        let store = PostgresStore::connect(&url, 4)
            .await
            .unwrap_or_else(|e| panic!("connect a store to schema {schema}: {e}"));
        Self {
            store: Arc::new(store),
            schema,
            url,
            admin,
            connection,
        }
    }

    /// Drops the schema and everything in it. Tests call this only when they pass, so a failing
    /// test leaves its schema behind for inspection.
    pub async fn drop_schema(self) {
        drop(self.store);
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .unwrap_or_else(|e| panic!("drop schema {}: {e}", self.schema));
        drop(self.admin);
        let _ = self.connection.await;
    }
}

/// Direct SQL on a SQLite database file, through a connection of its own.
#[derive(Debug, Clone)]
pub struct SqliteSql(pub PathBuf);

#[async_trait]
impl RawSql for SqliteSql {
    async fn execute(&self, statements: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let (path, statements) = (self.0.clone(), statements.to_owned());
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(&path)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.execute_batch(&statements)
        })
        .await??;
        Ok(())
    }
}

/// Direct SQL on PostgreSQL, through a connection of its own to a URL (with the test schema on its
/// search_path).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone)]
pub struct PostgresSql(pub String);

#[cfg(feature = "postgres")]
#[async_trait]
impl RawSql for PostgresSql {
    async fn execute(&self, statements: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let (client, connection) = tokio_postgres::connect(&self.0, tokio_postgres::NoTls).await?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let result = client.batch_execute(statements).await;
        drop(client);
        let _ = connection.await;
        Ok(result?)
    }
}

/// `url` with the connection option `-c search_path=<schema>` added. Handles URLs with or without
/// a query string (`postgres://...?sslmode=disable` gets `&options=...`) and the key-value form
/// (`host=... user=...`).
#[cfg(feature = "postgres")]
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}options=-c%20search_path%3D{schema}")
    } else {
        format!("{url} options='-c search_path={schema}'")
    }
}
