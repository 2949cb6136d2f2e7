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

use super::{HealthStore, Store, StoreError, StoreResult};

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
            .map_err(|e| StoreError::Unavailable(with_cause(&e)))?;
        let feed = std::sync::Arc::new(change_feed::PgChangeFeed::new(config_for_feed, tls, pool.clone()).await?);
        Ok(Self { pool, feed })
    }

    /// Runs the migrations on `url` and returns the versions applied.
    pub async fn migrate_only(url: &str) -> StoreResult<Vec<i32>> {
        let (config, tls) = parse_url(url)?;
        migrate(&config, &tls).await
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable(with_cause(&e)))
    }
}

/// The connection settings of `url` and the TLS connector its `sslmode` asks for.
fn parse_url(url: &str) -> StoreResult<(tokio_postgres::Config, tls::RustlsConnector)> {
    let (url, verify) = tls::split_verify_mode(url);
    // `postgresql://` is the libpq spelling; tokio-postgres accepts both.
    let config = tokio_postgres::Config::from_str(&url).map_err(|e| StoreError::Unavailable(format!("invalid DATABASE_URL: {e}")))?;
    Ok((config, tls::connector(verify)?))
}

async fn migrate(config: &tokio_postgres::Config, tls: &tls::RustlsConnector) -> StoreResult<Vec<i32>> {
    let (mut client, connection) = config
        .connect(tls.clone())
        .await
        .map_err(|e| StoreError::Unavailable(with_cause(&e)))?;
    let connection = tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(map_err)?;
    let outcome = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .map(|report| report.applied_migrations().iter().map(refinery::Migration::version).collect())
        .map_err(|e| StoreError::Backend(format!("migration failed: {e}")));
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

/// Unique-index names mapped to the `table.column` form SQLite reports, so both backends say the same.
fn conflict_name(constraint: &str) -> String {
    match constraint {
        "users_email_key" => "users.email".into(),
        "refresh_tokens_hash_key" => "refresh_tokens.token_hash".into(),
        // Its primary key is the token hash, not an `id` column.
        "password_resets_pkey" => "password_resets.token_hash".into(),
        "vendors_user_id_key" => "vendors.user_id".into(),
        "vendors_slug_key" => "vendors.slug".into(),
        "categories_slug_key" => "categories.slug".into(),
        "products_slug_key" => "products.slug".into(),
        // One asset per product: its primary key is the product id.
        "product_assets_pkey" => "product_assets.product_id".into(),
        "orders_number_key" => "orders.number".into(),
        "orders_payment_session_key" => "orders.payment_session_id".into(),
        "reviews_product_user_key" => "reviews.product_user".into(),
        other => match other.strip_suffix("_pkey") {
            Some(table) => format!("{table}.id"),
            None => other.to_owned(),
        },
    }
}

/// Maps a tokio-postgres error onto [`StoreError`].
pub(crate) fn map_err(err: tokio_postgres::Error) -> StoreError {
    if let Some(db) = err.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(conflict_name(db.constraint().unwrap_or("unique")));
        }
        let code = db.code();
        if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *code == SqlState::UNTRANSLATABLE_CHARACTER {
            return StoreError::InvalidInput(db.message().to_owned());
        }
        if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE {
            return StoreError::Unavailable(format!("{}: {}", code.code(), db.message()));
        }
        return StoreError::Backend(format!("{}: {}", code.code(), db.message()));
    }
    if err.is_closed() {
        return StoreError::Unavailable(with_cause(&err));
    }
    StoreError::Backend(with_cause(&err))
}

/// A tokio-postgres error with its cause: its own text is often only "db error" or "error
/// connecting to server", and the reason (refused, unknown database, authentication) is the source.
pub(crate) fn with_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = inner.source();
    }
    text
}

/// Escapes `%`, `_` and `\` for an `ILIKE` pattern.
pub(crate) fn like_pattern(text: &str) -> String {
    super::sqlite::like_pattern(text)
}

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
