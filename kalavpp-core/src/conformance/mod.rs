//! The storage conformance suite (DESIGN.md, rule 4), exported so that an embedder's own
//! [`Store`] can be held to the same behaviour as the built-in SQLite and PostgreSQL backends.
//! Compiled only with the `conformance` feature.
//!
//! Every case is a behaviour written once against `dyn Store` that asserts what the marketplace
//! relies on: units of work are atomic, uniqueness and races are decided by the store, lists
//! filter, sort and paginate as documented. A case panics (through `assert!` and `expect`) when
//! the store does not behave, so it is meant to run inside a test.
//!
//! - [`cases()`] need only the store.
//! - [`sql_cases()`] also need direct SQL on the database behind it ([`RawSql`]), to set columns
//!   that no store method writes on its own. They assume kalavpp's schema (`migrations/`): a store
//!   that keeps its data elsewhere skips them; the built-in backends run them.
//! - [`change_feed::change_feed_reaches_the_other_processes_of_one_database`] needs a second store
//!   on the same database (or none, for a single-process backend).
//!
//! Each case must get a **fresh** store: migrated, empty but for what the migrations seed (the
//! categories of `V2`, whose ids the cases use). Run it on a multi-threaded Tokio runtime: some
//! cases race concurrent tasks against each other.
//!
//! Here the built-in in-memory SQLite store stands for yours: `fresh_store` is the one function
//! an embedder writes (open its store on a new, migrated database).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use kalavpp_core::conformance::{self, Db};
//! use kalavpp_core::storage::sqlite::{SqliteLocation, SqliteStore};
//!
//! /// A store on a fresh, migrated database, as an `Arc<dyn Store>`.
//! async fn fresh_store() -> Db {
//!     Arc::new(SqliteStore::open(SqliteLocation::Memory, 2).await.expect("open the store"))
//! }
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_store_conforms() {
//!     for case in conformance::cases() {
//!         eprintln!("conformance: {}::{}", case.group, case.name);
//!         (case.run)(fresh_store().await).await;
//!     }
//! }
//! ```
//!
//! The suite's own runner (`tests/storage` in the repository) turns every case into a test of its
//! own per backend, `<group>::<name>_sqlite`, `_sqlite_memory` and `_postgres`.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use crate::storage::Store;

/// What every case receives: the store under test.
pub type Db = Arc<dyn Store>;

/// A case that needs only the store.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The area it covers, the module it lives in (`"catalog"`, `"orders"`, ...).
    pub group: &'static str,
    /// Its name, unique within its group (`"duplicate_product_slug_is_a_conflict"`).
    pub name: &'static str,
    /// Runs the behaviour against a fresh store; panics when the store does not behave.
    pub run: fn(Db) -> BoxFuture<'static, ()>,
}

/// A case that also needs direct SQL on the database behind the store ([`RawSql`]).
#[derive(Debug, Clone, Copy)]
pub struct SqlCase {
    /// The area it covers, the module it lives in.
    pub group: &'static str,
    /// Its name, unique within its group.
    pub name: &'static str,
    /// Runs the behaviour against a fresh store and the SQL access to its database; panics when
    /// the store does not behave.
    pub run: fn(Db, Arc<dyn RawSql>) -> BoxFuture<'static, ()>,
}

/// Direct access to the database behind the store under test, for the [`sql_cases()`]: statements
/// without parameters, written to be valid in both SQLite and PostgreSQL against kalavpp's schema
/// (e.g. `UPDATE products SET rating_avg = 4.5 WHERE slug = 'a'`).
#[async_trait]
pub trait RawSql: Send + Sync {
    /// Runs `statements` (one or more, separated by `;`) on a connection of its own, visible to
    /// the store once it returns.
    async fn execute(&self, statements: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Defines `cases()` and `sql_cases()` of a group module from its case list (the
/// `__conformance_<group>!` macro at the top of each module, which runners use too).
macro_rules! define_cases {
    (group: $group:ident, store: [$($case:ident),* $(,)?], sql: [$($sql:ident),* $(,)?] $(,)?) => {
        /// The cases of this group that need only a store.
        pub fn cases() -> Vec<$crate::conformance::Case> {
            vec![$(
                $crate::conformance::Case {
                    group: stringify!($group),
                    name: stringify!($case),
                    run: |db| ::futures_util::FutureExt::boxed($case(db)),
                },
            )*]
        }

        /// The cases of this group that also need direct SQL.
        pub fn sql_cases() -> Vec<$crate::conformance::SqlCase> {
            vec![$(
                $crate::conformance::SqlCase {
                    group: stringify!($group),
                    name: stringify!($sql),
                    run: |db, sql| ::futures_util::FutureExt::boxed($sql(db, sql)),
                },
            )*]
        }
    };
}

// The groups: one module per store area. Their behaviours are public for runners (the repository's
// `tests/storage` names one test after each), hidden from the docs: [`cases()`] is the way in.
#[doc(hidden)]
pub mod audit;
#[doc(hidden)]
pub mod cart;
#[doc(hidden)]
pub mod catalog;
pub mod change_feed;
#[doc(hidden)]
pub mod downloads;
#[doc(hidden)]
pub mod health;
#[doc(hidden)]
pub mod intents;
#[doc(hidden)]
pub mod leases;
#[doc(hidden)]
pub mod ledger;
#[doc(hidden)]
pub mod orders;
#[doc(hidden)]
pub mod outbox;
#[doc(hidden)]
pub mod panel;
#[doc(hidden)]
pub mod payments;
#[doc(hidden)]
pub mod payouts;
#[doc(hidden)]
pub mod resets;
#[doc(hidden)]
pub mod reviews;
#[doc(hidden)]
pub mod sessions;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod users;
#[doc(hidden)]
pub mod vendors;

mod prelude;

/// Every case that needs only a store, group by group.
pub fn cases() -> Vec<Case> {
    [
        audit::cases(),
        cart::cases(),
        catalog::cases(),
        downloads::cases(),
        health::cases(),
        intents::cases(),
        leases::cases(),
        ledger::cases(),
        orders::cases(),
        outbox::cases(),
        panel::cases(),
        payments::cases(),
        payouts::cases(),
        resets::cases(),
        reviews::cases(),
        sessions::cases(),
        stats::cases(),
        users::cases(),
        vendors::cases(),
    ]
    .concat()
}

/// Every case that also needs direct SQL on the database behind the store ([`RawSql`]).
pub fn sql_cases() -> Vec<SqlCase> {
    [
        audit::sql_cases(),
        cart::sql_cases(),
        catalog::sql_cases(),
        downloads::sql_cases(),
        health::sql_cases(),
        intents::sql_cases(),
        leases::sql_cases(),
        ledger::sql_cases(),
        orders::sql_cases(),
        outbox::sql_cases(),
        panel::sql_cases(),
        payments::sql_cases(),
        payouts::sql_cases(),
        resets::sql_cases(),
        reviews::sql_cases(),
        sessions::sql_cases(),
        stats::sql_cases(),
        users::sql_cases(),
        vendors::sql_cases(),
    ]
    .concat()
}
