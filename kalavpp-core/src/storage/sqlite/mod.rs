//! SQLite backend: WAL, one writer connection plus a pool of readers, all blocking work on
//! Tokio's blocking pool.

mod audit;
mod cart;
mod catalog;
mod intents;
mod leases;
mod orders;
mod outbox;
mod payouts;
mod pool;
mod reviews;
mod sessions;
mod stats;
mod users;
mod vendors;

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{Conflict, HealthStore, Sluggable, Store, StoreError, StoreResult, Table};
use pool::ConnectionPool;

mod embedded {
    refinery::embed_migrations!("../migrations/sqlite");
}

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: ConnectionPool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

pub use crate::config::SqliteLocation;

impl SqliteStore {
    /// Opens (creating if needed) the database and runs the embedded migrations.
    pub async fn open(location: SqliteLocation, readers: usize) -> StoreResult<Self> {
        let pool = tokio::task::spawn_blocking(move || -> StoreResult<ConnectionPool> {
            match location {
                SqliteLocation::Memory => {
                    let mut conn = Connection::open_in_memory().map_err(map_err)?;
                    configure(&conn)?;
                    migrate(&mut conn)?;
                    Ok(ConnectionPool::single(conn))
                }
                SqliteLocation::File(path) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
                    }
                    let mut writer = open_file(&path, false)?;
                    writer.pragma_update(None, "journal_mode", "WAL").map_err(map_err)?;
                    migrate(&mut writer)?;
                    let readers = (0..readers.max(1))
                        .map(|_| open_file(&path, true))
                        .collect::<StoreResult<Vec<_>>>()?;
                    Ok(ConnectionPool::new(writer, readers))
                }
            }
        })
        .await
        .map_err(|e| StoreError::backend_caused(format!("a blocking task failed: {e}"), e))??;
        Ok(Self { pool })
    }

    /// Runs the migrations on `location` and returns the versions applied.
    pub async fn migrate_only(location: SqliteLocation) -> StoreResult<Vec<i32>> {
        tokio::task::spawn_blocking(move || {
            let mut conn = match &location {
                SqliteLocation::Memory => Connection::open_in_memory().map_err(map_err)?,
                SqliteLocation::File(path) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    }
                    open_file(path, false)?
                }
            };
            configure(&conn)?;
            migrate(&mut conn)
        })
        .await
        .map_err(|e| StoreError::backend_caused(format!("a blocking task failed: {e}"), e))?
    }
}

/// Writes a consistent copy of the database file at `source` to `destination` (`VACUUM INTO`:
/// an online, compacted snapshot; the server may keep running). `destination` must not exist.
pub async fn backup_file(source: &Path, destination: &Path) -> StoreResult<()> {
    let (source, destination) = (source.to_owned(), destination.to_owned());
    tokio::task::spawn_blocking(move || {
        if destination.exists() {
            return Err(StoreError::Conflict(Conflict::BackupExists(destination)));
        }
        let conn = open_file(&source, true)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(map_err)?;
        let target = destination
            .to_str()
            .ok_or_else(|| StoreError::backend("the backup path is not UTF-8"))?;
        conn.execute("VACUUM INTO ?1", [target]).map_err(map_err)?;
        Ok(())
    })
    .await
    .map_err(|e| StoreError::backend_caused(format!("a blocking task failed: {e}"), e))?
}

/// Runs `PRAGMA integrity_check` on the database file at `path` (read only); `Ok(())` when SQLite
/// answers `ok`, otherwise the first problem it reports.
pub async fn integrity_check(path: &Path) -> StoreResult<()> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let conn = open_file(&path, true)?;
        let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(map_err)?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::backend(format!("integrity_check: {verdict}")))
        }
    })
    .await
    .map_err(|e| StoreError::backend_caused(format!("a blocking task failed: {e}"), e))?
}

/// The number of rows of every table of the SQLite database at `path` (the migration history
/// left out), by table name.
pub async fn table_row_counts(path: &Path) -> StoreResult<std::collections::BTreeMap<String, i64>> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let conn = open_file(&path, true)?;
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                 AND name <> 'refinery_schema_history' ORDER BY name",
            )
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
            .map_err(map_err)?;
        let mut counts = std::collections::BTreeMap::new();
        for table in tables {
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            let count: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {quoted}"), [], |r| r.get(0))
                .map_err(map_err)?;
            counts.insert(table, count);
        }
        Ok(counts)
    })
    .await
    .map_err(|e| StoreError::backend_caused(format!("a blocking task failed: {e}"), e))?
}

fn open_file(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(map_err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
    // Every commit reaches the disk before it is acknowledged: orders, payments, refunds and
    // ledger rows survive a power loss, not just a process crash (WAL + NORMAL could lose the
    // last commits on power loss).
    conn.pragma_update(None, "synchronous", "FULL").map_err(map_err)?;
    // A larger page cache per connection (16 MiB) and in-memory temporary sorts.
    conn.pragma_update(None, "cache_size", -16_384).map_err(map_err)?;
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(map_err)?;
    // SQLite's own lower() folds ASCII only; searches fold case like Rust and PostgreSQL do.
    conn.create_scalar_function(
        "unicode_lower",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|text| text.to_lowercase())),
    )
    .map_err(map_err)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<Vec<i32>> {
    let report = embedded::migrations::runner()
        .run(conn)
        .map_err(|e| StoreError::backend_caused(format!("migration failed: {e}"), e))?;
    Ok(report.applied_migrations().iter().map(refinery::Migration::version).collect())
}

/// The migration versions embedded for SQLite.
pub fn embedded_migration_versions() -> Vec<i32> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(refinery::Migration::version)
        .collect()
}

/// Maps a rusqlite error onto [`StoreError`]: unique violations become the [`Conflict`] of
/// [`conflict_for`]; any other error keeps its source.
pub(crate) fn map_err(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) if failure.code == ErrorCode::ConstraintViolation => {
            let message = message.clone().unwrap_or_default();
            match message
                .strip_prefix("UNIQUE constraint failed: ")
                .map(|columns| (columns, conflict_for(columns)))
            {
                Some((_, Some(conflict))) => StoreError::Conflict(conflict),
                Some((columns, None)) => StoreError::backend_caused(format!("unmapped unique constraint on {columns}"), err),
                None => StoreError::backend_caused(message, err),
            }
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen
            ) =>
        {
            StoreError::Unavailable(err.to_string())
        }
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        _ => StoreError::backend_caused(err.to_string(), err),
    }
}

/// The [`Conflict`] of a unique violation SQLite reports as `table.column[, table.column]` (the
/// columns of the unique index or primary key); `None` for one no migration declares. The
/// PostgreSQL backend maps its constraint names onto the same variants.
pub(crate) fn conflict_for(columns: &str) -> Option<Conflict> {
    Some(match columns {
        "users.email" => Conflict::EmailTaken,
        "vendors.slug" => Conflict::SlugTaken(Sluggable::Vendor),
        "categories.slug" => Conflict::SlugTaken(Sluggable::Category),
        "products.slug" => Conflict::SlugTaken(Sluggable::Product),
        "vendors.user_id" => Conflict::AlreadyApplied,
        "refresh_tokens.token_hash" => Conflict::RefreshTokenTaken,
        // Its primary key is the token hash.
        "password_resets.token_hash" => Conflict::ResetTokenTaken,
        // One asset per product: its primary key is the product id.
        "product_assets.product_id" => Conflict::AssetExists,
        "orders.number" => Conflict::OrderNumberTaken,
        "orders.payment_session_id" => Conflict::PaymentSessionTaken,
        "payment_events.event_id" => Conflict::EventAlreadyRecorded,
        "payment_intents.idempotency_key" => Conflict::IdempotencyKeyTaken,
        "reviews.product_id, reviews.user_id" => Conflict::AlreadyReviewed,
        "cart_items.user_id, cart_items.product_id" => Conflict::DuplicateId(Table::CartItems),
        "job_leases.name" => Conflict::DuplicateId(Table::JobLeases),
        other => Conflict::DuplicateId(Table::from_name(other.strip_suffix(".id")?)?),
    })
}

/// Timestamps are stored as fixed-width RFC 3339 text so that text order is time order.
pub(crate) fn ts(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a timestamp written by [`ts`].
pub(crate) fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn parse_uuid(text: &str) -> rusqlite::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn bad_value(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, message.into())
}

pub(crate) use super::like_pattern;

#[async_trait]
impl HealthStore for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        self.pool
            .read(|conn| conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)).map_err(map_err))
            .await
            .map(|_| ())
    }
}

impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod conflict_tests {
    use super::*;
    use crate::storage::HasStatus;

    #[test]
    fn unique_violations_map_to_their_conflict() {
        let cases = [
            ("users.email", Conflict::EmailTaken),
            ("vendors.slug", Conflict::SlugTaken(Sluggable::Vendor)),
            ("categories.slug", Conflict::SlugTaken(Sluggable::Category)),
            ("products.slug", Conflict::SlugTaken(Sluggable::Product)),
            ("vendors.user_id", Conflict::AlreadyApplied),
            ("refresh_tokens.token_hash", Conflict::RefreshTokenTaken),
            ("password_resets.token_hash", Conflict::ResetTokenTaken),
            ("product_assets.product_id", Conflict::AssetExists),
            ("orders.number", Conflict::OrderNumberTaken),
            ("orders.payment_session_id", Conflict::PaymentSessionTaken),
            ("payment_events.event_id", Conflict::EventAlreadyRecorded),
            ("payment_intents.idempotency_key", Conflict::IdempotencyKeyTaken),
            ("reviews.product_id, reviews.user_id", Conflict::AlreadyReviewed),
            ("cart_items.user_id, cart_items.product_id", Conflict::DuplicateId(Table::CartItems)),
            ("job_leases.name", Conflict::DuplicateId(Table::JobLeases)),
            ("users.id", Conflict::DuplicateId(Table::Users)),
            ("outbox.id", Conflict::DuplicateId(Table::Outbox)),
            ("sessions.id", Conflict::DuplicateId(Table::Sessions)),
            ("products.id", Conflict::DuplicateId(Table::Products)),
            ("order_items.id", Conflict::DuplicateId(Table::OrderItems)),
        ];
        for (columns, conflict) in cases {
            assert_eq!(conflict_for(columns), Some(conflict), "{columns}");
        }
        for unknown in ["t.k", "users.name", "nosuch.id", "reviews.product_id", "", "users"] {
            assert_eq!(conflict_for(unknown), None, "{unknown}");
        }
        // A conditional-write conflict keeps its old `table.column` name in logs and messages.
        assert_eq!(Conflict::StaleStatus(HasStatus::Order).to_string(), "orders.status");
        assert_eq!(Conflict::DuplicateId(Table::Users).key(), "users.id");
    }

    #[test]
    fn every_unique_index_and_key_of_the_migrations_is_mapped() {
        let sql: String = embedded::migrations::runner()
            .get_migrations()
            .iter()
            .filter_map(|m| m.sql().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("\n");
        let mut indexes = 0;
        for line in sql.lines().map(str::trim) {
            // CREATE UNIQUE INDEX name ON table (a, b)
            if let Some(rest) = line.strip_prefix("CREATE UNIQUE INDEX ") {
                let (_, on) = rest.split_once(" ON ").expect(line);
                let (table, columns) = on.split_once(" (").expect(line);
                let columns = columns.trim_end_matches(';').trim_end_matches(')');
                let reported = columns
                    .split(',')
                    .map(|c| format!("{}.{}", table.trim(), c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ");
                assert!(conflict_for(&reported).is_some(), "unmapped unique index: {reported}");
                indexes += 1;
            }
            if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                let table = rest.split_whitespace().next().unwrap();
                let keyed = Table::from_name(table).is_some() || ["password_resets", "product_assets", "payment_events"].contains(&table);
                assert!(keyed, "table {table} has no mapped primary-key conflict");
            }
        }
        assert!(indexes >= 10, "found {indexes} unique indexes");
    }

    #[test]
    fn a_real_unique_violation_maps_and_other_errors_keep_their_source() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL); CREATE UNIQUE INDEX users_email_key ON users (email);",
        )
        .unwrap();
        conn.execute("INSERT INTO users VALUES ('a', 'x@example.com')", []).unwrap();
        let clash = conn.execute("INSERT INTO users VALUES ('b', 'x@example.com')", []).unwrap_err();
        assert!(matches!(map_err(clash), StoreError::Conflict(Conflict::EmailTaken)));
        let clash = conn.execute("INSERT INTO users VALUES ('a', 'y@example.com')", []).unwrap_err();
        assert!(matches!(map_err(clash), StoreError::Conflict(Conflict::DuplicateId(Table::Users))));
        let broken = conn.execute("INSERT INTO nosuch VALUES (1)", []).unwrap_err();
        match map_err(broken) {
            err @ StoreError::Backend { source: Some(_), .. } => {
                // The message keeps the driver's words (logs and CLI output show them), the source
                // keeps the error itself, and the report does not repeat them.
                assert!(err.to_string().contains("nosuch"), "{err}");
                let report = crate::error::report(&err);
                assert_eq!(report.matches("nosuch").count(), 1, "{report}");
            }
            other => panic!("expected a backend error with its source, got {other:?}"),
        }
    }
}
