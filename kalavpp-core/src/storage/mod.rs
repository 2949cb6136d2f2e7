//! Storage traits (units of work, one transaction per method) and the two backends.
//!
//! Services validate and decide; a store method commits everything that must be atomic together.
//! Uniqueness and races are decided by the database (unique keys, conditional updates).

mod account_stores;
mod catalog_records;
mod catalog_stores;
mod change_feed;
mod conflict;
mod intent_records;
mod operation_stores;
mod order_records;
mod order_stores;
mod payout_records;
#[cfg(feature = "postgres")]
pub mod postgres;
mod records;
mod review_records;
mod sql_fragments;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use account_stores::{PasswordResetStore, SessionStore, UserStore, VendorStore};
pub use catalog_records::*;
pub use catalog_stores::{CartStore, CatalogStore, DownloadStore, ReviewStore};
pub use change_feed::ChangeFeed;
pub use conflict::{Conflict, HasStatus, Sluggable, Table};
pub use intent_records::*;
pub use operation_stores::{AuditStore, HealthStore, JobLeaseStore, OutboxStore, StatsStore};
pub use order_records::*;
pub use order_stores::{LedgerStore, OrderStore, PaymentIntentStore, PayoutStore};
pub use payout_records::*;
pub use records::*;
pub use review_records::*;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use sql_fragments::{like_pattern, payout_guard, set_status, status_guard};

/// What a store method can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the method works on does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a conditional write refused the change; says which ([`Conflict`]).
    #[error("conflict on {0}")]
    Conflict(Conflict),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused a value no client input should carry (e.g. a NUL character in text on
    /// PostgreSQL). Reported to the caller as a bad request, never as a server error.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Any other database failure. `message` says what failed (in the driver's words where there
    /// is a driver error); `source` keeps that error with its own causes for logs
    /// ([`crate::error::report`] prints the whole chain). Neither is ever shown to clients.
    #[error("database error: {message}")]
    Backend {
        /// What failed, in words.
        message: String,
        /// The error that caused it, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// A [`StoreError::Backend`] without an underlying error.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::Backend`] caused by `source`.
    pub fn backend_caused(message: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<Conflict> for StoreError {
    fn from(conflict: Conflict) -> Self {
        Self::Conflict(conflict)
    }
}

/// Result alias of store methods.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the marketplace needs from a backend. `Marketplace` holds an `Arc<dyn Store>`, so an
/// embedder may bring its own implementation (and run the conformance suite against it).
pub trait Store:
    UserStore
    + SessionStore
    + PasswordResetStore
    + OutboxStore
    + AuditStore
    + HealthStore
    + VendorStore
    + CatalogStore
    + CartStore
    + OrderStore
    + PaymentIntentStore
    + LedgerStore
    + DownloadStore
    + PayoutStore
    + StatsStore
    + ReviewStore
    + JobLeaseStore
{
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;

    /// The cross-process change feed, for backends that several processes share (PostgreSQL);
    /// `None` (the default) for single-process backends.
    fn change_feed(&self) -> Option<std::sync::Arc<dyn ChangeFeed>> {
        None
    }
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod tests {
    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let sqlite = super::sqlite::embedded_migration_versions();
        let postgres = super::postgres::embedded_migration_versions();
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres must hold the same versions"
        );
    }
}
