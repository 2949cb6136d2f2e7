//! Storage conformance suite (DESIGN.md, rule 4): one behaviour, two backends.
//!
//! The behaviours live in `kalavpp_core::conformance` (the `conformance` feature, which exports
//! them for embedders' own stores); this binary runs every one of them on the built-in backends,
//! each as its own test: `<group>::<name>_sqlite` (a fresh database file),
//! `<group>::<name>_sqlite_memory` (`sqlite::memory:`) and `<group>::<name>_postgres` (a fresh
//! schema on `KALAVPP_TEST_POSTGRES_URL`; skipped with a note when that is not set). Every method
//! of every store trait is covered there. Behaviours that need direct SQL run on the SQLite file
//! and PostgreSQL. Without kalavpp-core's `postgres` feature only the SQLite runs are compiled.
//!
//! The cases of each group come from the library (`kalavpp_core::__conformance_<group>!`), so a
//! case added there is a test here without further ado; a new group is added to `groups!` below.

#[macro_use]
mod support;

/// Each group of the exported suite, as a module of tests named like the group.
macro_rules! groups {
    ($($group:ident => $list:ident),* $(,)?) => {
        $(
            mod $group {
                kalavpp_core::$list!(conformance);
            }
        )*
    };
}

groups! {
    audit => __conformance_audit,
    cart => __conformance_cart,
    catalog => __conformance_catalog,
    downloads => __conformance_downloads,
    intents => __conformance_intents,
    leases => __conformance_leases,
    ledger => __conformance_ledger,
    orders => __conformance_orders,
    outbox => __conformance_outbox,
    panel => __conformance_panel,
    payments => __conformance_payments,
    payouts => __conformance_payouts,
    resets => __conformance_resets,
    reviews => __conformance_reviews,
    sessions => __conformance_sessions,
    stats => __conformance_stats,
    users => __conformance_users,
    vendors => __conformance_vendors,
}

// What it checks of SQLite (no feed) is one assertion; the rest is PostgreSQL's `LISTEN/NOTIFY`.
#[cfg(feature = "postgres")]
mod change_feed;
// `ping` through the suite, plus what differs by backend on purpose.
mod health;
