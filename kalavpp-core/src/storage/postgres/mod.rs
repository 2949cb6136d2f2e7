//! PostgreSQL backend: tokio-postgres over a deadpool connection pool.

mod audit;
mod cart;
mod catalog;
mod change_feed;
mod intents;
mod leases;
mod orders;
mod outbox;
mod payouts;
mod reviews;
mod sessions;
mod snapshot;
mod stats;
mod tls;
mod users;
mod vendors;

use std::str::FromStr;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;

pub use snapshot::dump_in_snapshot;

use super::{Conflict, HealthStore, Sluggable, Store, StoreError, StoreResult, Table};
use crate::error::report;

mod embedded {
    refinery::embed_migrations!("../migrations/postgres");
}

/// Advisory lock key held while migrating, so several instances starting together migrate once.
const MIGRATION_LOCK: i64 = 0x6b61_6c61_7670_7001;

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    feed: std::sync::Arc<change_feed::PgChangeFeed>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`), runs the embedded migrations and builds the pool.
    pub async fn connect(url: &str, max_connections: usize) -> StoreResult<Self> {
        let (config, tls) = parse_url(url)?;
        migrate(&config, &tls).await?;
        let config_for_feed = config.clone();
        let manager = Manager::from_config(
            config,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Unavailable(report(&e)))?;
        let feed = std::sync::Arc::new(change_feed::PgChangeFeed::new(config_for_feed, tls, pool.clone()).await?);
        Ok(Self { pool, feed })
    }

    /// Runs the migrations on `url` and returns the versions applied.
    pub async fn migrate_only(url: &str) -> StoreResult<Vec<i32>> {
        let (config, tls) = parse_url(url)?;
        migrate(&config, &tls).await
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable(report(&e)))
    }
}

/// Checks that the driver can read `url` (as [`PostgresStore::connect`] will); the error names
/// the offending option, never its value.
pub(crate) fn validate_url(url: &str) -> Result<(), String> {
    let (url, _) = tls::split_verify_mode(url);
    tokio_postgres::Config::from_str(&url).map(|_| ()).map_err(|e| report(&e))
}

/// The connection settings of `url` and the TLS connector its `sslmode` asks for.
fn parse_url(url: &str) -> StoreResult<(tokio_postgres::Config, tls::RustlsConnector)> {
    let (url, verify) = tls::split_verify_mode(url);
    // `postgresql://` is the libpq spelling; tokio-postgres accepts both.
    let config = tokio_postgres::Config::from_str(&url).map_err(|e| StoreError::Unavailable(format!("invalid DATABASE_URL: {e}")))?;
    Ok((config, tls::connector(verify)?))
}

async fn migrate(config: &tokio_postgres::Config, tls: &tls::RustlsConnector) -> StoreResult<Vec<i32>> {
    let (mut client, connection) = config.connect(tls.clone()).await.map_err(|e| StoreError::Unavailable(report(&e)))?;
    let connection = tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(map_err)?;
    let outcome = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .map(|report| report.applied_migrations().iter().map(refinery::Migration::version).collect())
        .map_err(|e| StoreError::backend_caused(format!("migration failed: {e}"), e));
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    drop(client);
    let _ = connection.await;
    outcome
}

/// The migration versions embedded for PostgreSQL.
pub fn embedded_migration_versions() -> Vec<i32> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(refinery::Migration::version)
        .collect()
}

/// The [`Conflict`] of a unique violation PostgreSQL reports by constraint name (the unique index
/// or `table_pkey`); `None` for one no migration declares. The SQLite backend maps its
/// `table.column` reports onto the same variants.
pub(crate) fn conflict_for(constraint: &str) -> Option<Conflict> {
    Some(match constraint {
        "users_email_key" => Conflict::EmailTaken,
        "vendors_slug_key" => Conflict::SlugTaken(Sluggable::Vendor),
        "categories_slug_key" => Conflict::SlugTaken(Sluggable::Category),
        "products_slug_key" => Conflict::SlugTaken(Sluggable::Product),
        "vendors_user_id_key" => Conflict::AlreadyApplied,
        "refresh_tokens_hash_key" => Conflict::RefreshTokenTaken,
        // Its primary key is the token hash.
        "password_resets_pkey" => Conflict::ResetTokenTaken,
        // One asset per product: its primary key is the product id.
        "product_assets_pkey" => Conflict::AssetExists,
        "orders_number_key" => Conflict::OrderNumberTaken,
        "orders_payment_session_key" => Conflict::PaymentSessionTaken,
        "payment_events_pkey" => Conflict::EventAlreadyRecorded,
        "payment_intents_key" => Conflict::IdempotencyKeyTaken,
        "reviews_product_user_key" => Conflict::AlreadyReviewed,
        other => Conflict::DuplicateId(Table::from_name(other.strip_suffix("_pkey")?)?),
    })
}

/// Maps a tokio-postgres error onto [`StoreError`]; a backend error keeps the driver's error as
/// its source.
pub(crate) fn map_err(err: tokio_postgres::Error) -> StoreError {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            let constraint = db.constraint().unwrap_or("unique");
            return match conflict_for(constraint) {
                Some(conflict) => StoreError::Conflict(conflict),
                None => StoreError::backend_caused(format!("unmapped unique constraint {constraint}"), err),
            };
        }
        if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *code == SqlState::UNTRANSLATABLE_CHARACTER {
            return StoreError::InvalidInput(db.message().to_owned());
        }
        if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE {
            return StoreError::Unavailable(format!("{}: {}", code.code(), db.message()));
        }
        let message = format!("{}: {}", code.code(), db.message());
        return StoreError::backend_caused(message, err);
    }
    if err.is_closed() {
        return StoreError::Unavailable(report(&err));
    }
    StoreError::backend_caused(report(&err), err)
}

pub(crate) use super::like_pattern;

#[async_trait]
impl HealthStore for PostgresStore {
    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.query_one("SELECT 1", &[]).await.map_err(map_err).map(|_| ())
    }
}

impl Store for PostgresStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn change_feed(&self) -> Option<std::sync::Arc<dyn super::ChangeFeed>> {
        Some(self.feed.clone())
    }
}

#[cfg(test)]
mod conflict_tests {
    use super::*;

    #[test]
    fn unique_violations_map_to_their_conflict() {
        let cases = [
            ("users_email_key", Conflict::EmailTaken),
            ("vendors_slug_key", Conflict::SlugTaken(Sluggable::Vendor)),
            ("categories_slug_key", Conflict::SlugTaken(Sluggable::Category)),
            ("products_slug_key", Conflict::SlugTaken(Sluggable::Product)),
            ("vendors_user_id_key", Conflict::AlreadyApplied),
            ("refresh_tokens_hash_key", Conflict::RefreshTokenTaken),
            ("password_resets_pkey", Conflict::ResetTokenTaken),
            ("product_assets_pkey", Conflict::AssetExists),
            ("orders_number_key", Conflict::OrderNumberTaken),
            ("orders_payment_session_key", Conflict::PaymentSessionTaken),
            ("payment_events_pkey", Conflict::EventAlreadyRecorded),
            ("payment_intents_key", Conflict::IdempotencyKeyTaken),
            ("reviews_product_user_key", Conflict::AlreadyReviewed),
            ("cart_items_pkey", Conflict::DuplicateId(Table::CartItems)),
            ("job_leases_pkey", Conflict::DuplicateId(Table::JobLeases)),
            ("users_pkey", Conflict::DuplicateId(Table::Users)),
            ("outbox_pkey", Conflict::DuplicateId(Table::Outbox)),
            ("sessions_pkey", Conflict::DuplicateId(Table::Sessions)),
            ("products_pkey", Conflict::DuplicateId(Table::Products)),
            ("order_items_pkey", Conflict::DuplicateId(Table::OrderItems)),
        ];
        for (constraint, conflict) in cases {
            assert_eq!(conflict_for(constraint), Some(conflict), "{constraint}");
        }
        for unknown in ["unique", "users_name_key", "nosuch_pkey", "", "_pkey"] {
            assert_eq!(conflict_for(unknown), None, "{unknown}");
        }
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
            if let Some(rest) = line.strip_prefix("CREATE UNIQUE INDEX ") {
                let name = rest.split_whitespace().next().unwrap();
                assert!(conflict_for(name).is_some(), "unmapped unique index: {name}");
                indexes += 1;
            }
            if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                let table = rest.split_whitespace().next().unwrap();
                assert!(conflict_for(&format!("{table}_pkey")).is_some(), "unmapped primary key of {table}");
            }
        }
        assert!(indexes >= 10, "found {indexes} unique indexes");
    }

    /// Both backends name the same clash the same way.
    #[cfg(feature = "sqlite")]
    #[test]
    fn both_backends_agree() {
        let pairs = [
            ("users_email_key", "users.email"),
            ("reviews_product_user_key", "reviews.product_id, reviews.user_id"),
            ("password_resets_pkey", "password_resets.token_hash"),
            ("product_assets_pkey", "product_assets.product_id"),
            ("payment_events_pkey", "payment_events.event_id"),
            ("cart_items_pkey", "cart_items.user_id, cart_items.product_id"),
            ("job_leases_pkey", "job_leases.name"),
            ("payouts_pkey", "payouts.id"),
        ];
        for (constraint, columns) in pairs {
            assert_eq!(
                conflict_for(constraint),
                crate::storage::sqlite::conflict_for(columns),
                "{constraint}"
            );
        }
    }
}
