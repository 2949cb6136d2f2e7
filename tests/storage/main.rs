//! Storage conformance suite (DESIGN.md, rule 4): one behaviour, two backends.
//!
//! Every behaviour is an `async fn(Db)` written once against `dyn Store` and instantiated by
//! `conformance!` as `<name>_sqlite` (a fresh database file), `<name>_sqlite_memory`
//! (`sqlite::memory:`) and `<name>_postgres` (a fresh schema on `KALAVPP_TEST_POSTGRES_URL`; skipped
//! with a note when that is not set). Every method of every store trait is covered here.
//! Behaviours that need direct SQL (`conformance_with_sql!`) run on the SQLite file and PostgreSQL.
//! Without kalavpp-core's `postgres` feature only the SQLite runs are compiled.

#[macro_use]
mod support;

mod audit;
mod cart;
mod catalog;
// What it checks of SQLite (no feed) is one assertion; the rest is PostgreSQL's `LISTEN/NOTIFY`.
#[cfg(feature = "postgres")]
mod change_feed;
mod downloads;
mod health;
mod intents;
mod leases;
mod ledger;
mod orders;
mod outbox;
mod panel;
mod payments;
mod payouts;
mod resets;
mod reviews;
mod sessions;
mod stats;
mod users;
mod vendors;
