//! The facade embedders hold: configuration, the store and the shared services.

use std::sync::Arc;

use crate::auth::{PasswordHasher, TokenIssuer};
use crate::cache::CatalogCache;
use crate::config::DatabaseUrl;
use crate::config::{Config, FileStorage};
use crate::error::{Error, Result};
use crate::files::{FileStore, LocalFileStore};
use crate::payments::PaymentProvider;
use crate::payments::dev::DevPaymentProvider;
use crate::services::{Accounts, Administration, Cart, Catalog, Downloads, Jobs, Media, Orders, Payouts, Reviews, Stats, Vendors};
use crate::storage::Store;
#[cfg(feature = "postgres")]
use crate::storage::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
use crate::storage::sqlite::SqliteStore;

/// A running marketplace: cheap to clone, safe to share between tasks. Several may live in one
/// process (nothing is global).
#[derive(Clone)]
pub struct Marketplace {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) tokens: TokenIssuer,
    pub(crate) files: Arc<dyn FileStore>,
    pub(crate) payments: Arc<dyn PaymentProvider>,
    pub(crate) cache: Arc<CatalogCache>,
    /// Bounds concurrent image decodes and the pixels they hold.
    pub(crate) images: crate::files::gate::ImageGate,
    /// Tasks that live as long as the marketplace (cross-process cache sync); aborted on drop.
    background: Vec<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Marketplace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marketplace")
            .field("backend", &self.inner.store.backend_name())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Builds a [`Marketplace`], optionally over a store the embedder brings.
#[derive(Debug)]
pub struct MarketplaceBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    files: Option<Arc<dyn FileStore>>,
    payments: Option<Arc<dyn PaymentProvider>>,
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.backend_name())
    }
}

impl MarketplaceBuilder {
    /// Uses `store` instead of opening `config.database_url`.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses `files` for images and digital assets instead of a directory under `data_dir`.
    #[must_use]
    pub fn files(mut self, files: Arc<dyn FileStore>) -> Self {
        self.files = Some(files);
        self
    }

    /// Uses `payments` instead of the provider the configuration selects.
    #[must_use]
    pub fn payments(mut self, payments: Arc<dyn PaymentProvider>) -> Self {
        self.payments = Some(payments);
        self
    }

    /// Opens the store (running migrations) unless one was given, and assembles the marketplace.
    pub async fn build(self) -> Result<Marketplace> {
        let store = match self.store {
            Some(store) => store,
            None => open_store(&self.config).await?,
        };
        let files = match self.files {
            Some(files) => files,
            None => open_files(&self.config).await?,
        };
        let payments = match self.payments {
            Some(payments) => payments,
            None => default_payments(&self.config)?,
        };
        Ok(Marketplace::assemble(self.config, store, files, payments))
    }
}

/// The file store `config.file_storage` names: `<data dir>/files`, or an S3 bucket (checked now).
pub async fn open_files(config: &Config) -> Result<Arc<dyn FileStore>> {
    let local_root = config.data_dir.join("files");
    match &config.file_storage {
        FileStorage::Local => {
            Ok(Arc::new(LocalFileStore::new(local_root).map_err(|e| {
                Error::Internal(format!("cannot use the data directory for files: {e}"))
            })?))
        }
        #[cfg(feature = "s3")]
        FileStorage::S3(s3) => Ok(Arc::new(
            crate::files::s3::S3FileStore::connect(s3, local_root)
                .await
                .map_err(|e| Error::Internal(format!("AWS_S3_BUCKET: {e}")))?,
        )),
        #[cfg(not(feature = "s3"))]
        FileStorage::S3(_) => Err(Error::Internal(
            "AWS_S3_BUCKET: this build has no S3 support (cargo feature `s3` of kalavpp-core)".into(),
        )),
    }
}

/// Stripe when configured, otherwise the development provider (refused in production by
/// [`Config::production_problems`]).
fn default_payments(config: &Config) -> Result<Arc<dyn PaymentProvider>> {
    match &config.stripe {
        #[cfg(feature = "stripe")]
        Some(stripe) => crate::payments::stripe::provider(stripe),
        #[cfg(not(feature = "stripe"))]
        Some(_) => Err(Error::Internal(NO_STRIPE.into())),
        None => Ok(Arc::new(DevPaymentProvider::new(&config.backend_url))),
    }
}

/// Opens the backend named by `config.database_url` and runs its migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    match &config.database_url {
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => {
            let store = PostgresStore::connect(url.expose(), config.postgres_max_connections)
                .await
                .map_err(|e| Error::Internal(crate::error::report(&e)))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "postgres"))]
        DatabaseUrl::Postgres(_) => Err(Error::Internal(NO_POSTGRES.into())),
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(location) => {
            let store = SqliteStore::open(location.clone(), config.sqlite_readers)
                .await
                .map_err(|e| Error::Internal(crate::error::report(&e)))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "sqlite"))]
        DatabaseUrl::Sqlite(_) => Err(Error::Internal(NO_SQLITE.into())),
    }
}

/// Why a `postgres://` URL cannot be opened by a build without the `postgres` feature.
#[cfg(not(feature = "postgres"))]
pub(crate) const NO_POSTGRES: &str = "DATABASE_URL: this build has no PostgreSQL support; enable the `postgres` feature of kalavpp-core";
/// Why a SQLite URL cannot be opened by a build without the `sqlite` feature.
#[cfg(not(feature = "sqlite"))]
pub(crate) const NO_SQLITE: &str = "DATABASE_URL: this build has no SQLite support; enable the `sqlite` feature of kalavpp-core";
/// Why Stripe settings cannot be used by a build without the `stripe` feature.
#[cfg(not(feature = "stripe"))]
const NO_STRIPE: &str = "STRIPE_SECRET_KEY: this build has no Stripe support; enable the `stripe` feature of kalavpp-core (or bring a provider with `MarketplaceBuilder::payments`)";

impl Marketplace {
    /// Starts building a marketplace from `config`.
    pub fn builder(config: Config) -> MarketplaceBuilder {
        MarketplaceBuilder {
            config,
            store: None,
            files: None,
            payments: None,
        }
    }

    /// Opens the database named in `config` (running migrations) and returns the marketplace.
    pub async fn open(config: Config) -> Result<Self> {
        Self::builder(config).build().await
    }

    fn assemble(config: Config, store: Arc<dyn Store>, files: Arc<dyn FileStore>, payments: Arc<dyn PaymentProvider>) -> Self {
        let hasher = PasswordHasher::new(config.hash_cost);
        let tokens = TokenIssuer::new(config.tokens.clone());
        let cache = Arc::new(CatalogCache::new(std::time::Duration::from_mins(5), config.cache_max_bytes / 2));
        let background = match (store.change_feed(), tokio::runtime::Handle::try_current()) {
            (Some(feed), Ok(runtime)) => crate::cache_sync::start(&runtime, feed, cache.clone()),
            _ => Vec::new(),
        };
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                hasher,
                tokens,
                files,
                payments,
                cache,
                images: crate::files::gate::ImageGate::default(),
                background,
            }),
        }
    }

    /// Accounts and authentication: register, login, refresh, logout, profile, password reset.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(&self.inner)
    }

    /// Administration: users, the outbox, the audit log.
    pub fn admin(&self) -> Administration<'_> {
        Administration::new(&self.inner)
    }

    /// Vendor applications, profiles and admin decisions.
    pub fn vendors(&self) -> Vendors<'_> {
        Vendors::new(&self.inner)
    }

    /// Categories, products and the public catalog.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog::new(&self.inner)
    }

    /// Product images and digital assets.
    pub fn media(&self) -> Media<'_> {
        Media::new(&self.inner)
    }

    /// The signed-in user's cart.
    pub fn cart(&self) -> Cart<'_> {
        Cart::new(&self.inner)
    }

    /// Checkout, orders, payment events, fulfilment, refunds and earnings.
    pub fn orders(&self) -> Orders<'_> {
        Orders::new(&self.inner)
    }

    /// Vendor payout requests and the admin decisions on them.
    pub fn payouts(&self) -> Payouts<'_> {
        Payouts::new(&self.inner)
    }

    /// The vendor and admin dashboards and marketplace analytics.
    pub fn stats(&self) -> Stats<'_> {
        Stats::new(&self.inner)
    }

    /// Download links of paid digital works.
    pub fn downloads(&self) -> Downloads<'_> {
        Downloads::new(&self.inner)
    }

    /// Scheduled jobs that the instances sharing this database take turns at.
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs::new(&self.inner)
    }

    /// Product reviews: write, edit, delete, moderate, list.
    pub fn reviews(&self) -> Reviews<'_> {
        Reviews::new(&self.inner)
    }

    /// The payment provider in use.
    pub fn payments(&self) -> &Arc<dyn PaymentProvider> {
        &self.inner.payments
    }

    /// The file store holding images and assets.
    pub fn files(&self) -> &Arc<dyn FileStore> {
        &self.inner.files
    }

    /// The catalog caches (generation, hit/miss counts).
    pub fn catalog_cache(&self) -> &CatalogCache {
        &self.inner.cache
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The storage backend, around every service check: for tests and benchmarks only (the
    /// `testing` feature), never for application code.
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Arc<dyn Store> {
        self.backend()
    }

    /// The storage backend, for the library's own workers.
    pub(crate) fn backend(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The name of the storage backend (`sqlite`, `postgres`, or an embedder's own).
    pub fn backend_name(&self) -> &'static str {
        self.inner.store.backend_name()
    }

    /// Succeeds when the database answers.
    pub async fn ready(&self) -> Result<()> {
        self.inner.store.ping().await.map_err(Error::from)
    }
}

/// Settings whose support a build leaves out (cargo features) are refused with a clear error.
#[cfg(all(test, not(all(feature = "postgres", feature = "sqlite", feature = "stripe"))))]
mod feature_tests {
    use super::*;

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn a_postgres_url_without_the_feature_is_a_clear_error() {
        let url: DatabaseUrl = "postgres://shop:pw@db.example/kalavpp".parse().expect("parses without the feature");
        let err = Marketplace::open(Config::for_development(url)).await.expect_err("refused");
        assert!(err.to_string().contains("enable the `postgres` feature"), "{err}");
    }

    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn a_sqlite_url_without_the_feature_is_a_clear_error() {
        let err = Marketplace::open(Config::for_development(DatabaseUrl::memory()))
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("enable the `sqlite` feature"), "{err}");
    }

    #[cfg(not(feature = "stripe"))]
    #[test]
    fn stripe_settings_without_the_feature_are_a_clear_error() {
        use crate::config::{Secret, StripeConfig};
        let mut config = Config::for_development(DatabaseUrl::memory());
        config.stripe = Some(StripeConfig {
            secret_key: Secret::new("sk_test_abcdefghijklmnopqrstuvwxyz"),
            webhook_secret: Secret::new("whsec_abcdefghijklmnopqrstuvwxyz"),
            api_base: None,
        });
        let err = default_payments(&config).expect_err("refused");
        assert!(err.to_string().contains("enable the `stripe` feature"), "{err}");
        config.stripe = None;
        assert_eq!(default_payments(&config).expect("the development provider").name(), "dev");
    }
}
