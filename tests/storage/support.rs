//! Fixtures of the storage conformance suite: a fresh store per test on every backend, small
//! record builders, and the `conformance!` macro that runs one behaviour on each backend.
//!
//! The PostgreSQL helpers ([`PostgresSchema`], [`url_with_search_path`]) are public so that other
//! suites (e.g. the server's end-to-end tests) can copy the idea: one fresh schema per test,
//! selected through the connection's `search_path`.

use std::sync::Arc;

use chrono::TimeDelta;
use kalavpp_core::domain::{self, AuditId, Email, EmailId, Role, SessionFamilyId, User, UserId, UserName, UserStatus};
use kalavpp_core::storage::postgres::PostgresStore;
use kalavpp_core::storage::sqlite::{SqliteLocation, SqliteStore};
use kalavpp_core::storage::{
    AdminUserChange, NewAudit, NewEmail, NewRefreshToken, NewUser, RefreshOutcome, RotatedToken, Store, Timestamp,
};
use uuid::Uuid;

/// What every behaviour receives: the store under test.
pub type Db = Arc<dyn Store>;

/// The variable naming a PostgreSQL server to run the suite against (`postgres://...`).
pub const POSTGRES_URL_VAR: &str = "KALAVPP_TEST_POSTGRES_URL";

/// Runs each named behaviour (an `async fn(Db)`) as three tests: `<name>_sqlite` on a fresh
/// database file, `<name>_sqlite_memory` on `sqlite::memory:`, and `<name>_postgres` in a fresh
/// schema (skipped with a note when `KALAVPP_TEST_POSTGRES_URL` is not set).
macro_rules! conformance {
    ($($behaviour:ident),* $(,)?) => {
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$behaviour _sqlite>]() {
                    let db = crate::support::SqliteFile::create().await;
                    $behaviour(db.store.clone()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$behaviour _sqlite_memory>]() {
                    $behaviour(crate::support::sqlite_memory().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$behaviour _postgres>]() {
                    let Some(db) = crate::support::PostgresSchema::from_env().await else {
                        return;
                    };
                    $behaviour(db.store.clone()).await;
                    db.drop_schema().await;
                }
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// A SQLite database file in a fresh temporary directory (deleted on drop).
pub struct SqliteFile {
    pub store: Db,
    // Declared after `store` so that the store is dropped before its directory.
    _dir: tempfile::TempDir,
}

impl SqliteFile {
    pub async fn create() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let location = SqliteLocation::File(dir.path().join("kalavpp.db"));
        let store = SqliteStore::open(location, 2).await.expect("open a SQLite database file");
        Self {
            store: Arc::new(store),
            _dir: dir,
        }
    }
}

/// A private in-memory SQLite database, opened through its URL spelling.
pub async fn sqlite_memory() -> Db {
    let location = SqliteLocation::parse("sqlite::memory:").expect("sqlite::memory: is a valid location");
    assert_eq!(location, SqliteLocation::Memory);
    Arc::new(SqliteStore::open(location, 2).await.expect("open an in-memory SQLite database"))
}

/// A [`PostgresStore`] in its own, freshly created schema `t_<uuid>`.
pub struct PostgresSchema {
    pub store: Db,
    /// The schema name (`t_` + a simple UUID).
    pub schema: String,
    /// The URL the store was connected with (search_path set to `schema`).
    pub url: String,
    admin: tokio_postgres::Client,
    connection: tokio::task::JoinHandle<()>,
}

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

/// `url` with the connection option `-c search_path=<schema>` added. Handles URLs with or without
/// a query string (`postgres://...?sslmode=disable` gets `&options=...`) and the key-value form
/// (`host=... user=...`).
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}options=-c%20search_path%3D{schema}")
    } else {
        format!("{url} options='-c search_path={schema}'")
    }
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/// The current time at the precision both backends store.
pub fn now() -> Timestamp {
    domain::now()
}

pub fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub fn email(text: &str) -> Email {
    Email::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub fn name(text: &str) -> UserName {
    UserName::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A new customer account: the name is the email's local part, created now.
pub fn user(address: &str) -> NewUser {
    let local = address.split('@').next().unwrap_or(address);
    NewUser {
        id: UserId::new(),
        email: email(address),
        name: name(local),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$hash-of-{local}"),
        role: Role::Customer,
        created_at: now(),
    }
}

/// Inserts [`user`]`(address)`.
pub async fn new_user(store: &dyn Store, address: &str) -> User {
    store.insert_user(user(address)).await.expect("insert user")
}

/// Inserts a customer with a given name and creation time.
pub async fn new_user_at(store: &dyn Store, address: &str, display_name: &str, created_at: Timestamp) -> User {
    let record = NewUser {
        name: name(display_name),
        created_at,
        ..user(address)
    };
    store.insert_user(record).await.expect("insert user")
}

/// A random refresh-token hash.
pub fn token() -> String {
    format!("rt-{}", Uuid::new_v4().simple())
}

/// The first token of a login session that ends in a day.
pub fn refresh_token(user_id: UserId) -> NewRefreshToken {
    let issued_at = now();
    NewRefreshToken {
        id: Uuid::now_v7(),
        family: SessionFamilyId::new(),
        user_id,
        token_hash: token(),
        issued_at,
        expires_at: issued_at + TimeDelta::days(1),
    }
}

/// A login session: its family and its current refresh-token hash.
#[derive(Debug, Clone)]
pub struct Login {
    pub family: SessionFamilyId,
    pub token: String,
}

/// Starts a login session for `user_id`.
pub async fn login(store: &dyn Store, user_id: UserId) -> Login {
    let record = refresh_token(user_id);
    let login = Login {
        family: record.family,
        token: record.token_hash.clone(),
    };
    store.insert_refresh_token(record).await.expect("insert refresh token");
    login
}

/// A replacement token for a rotation at `at`.
pub fn rotated_at(at: Timestamp) -> RotatedToken {
    RotatedToken {
        id: Uuid::now_v7(),
        token_hash: token(),
        at,
    }
}

/// Presents `presented` now; returns the outcome and the hash of the replacement offered.
pub async fn refresh(store: &dyn Store, presented: &str) -> (RefreshOutcome, String) {
    refresh_at(store, presented, now()).await
}

/// Presents `presented` at `at`; returns the outcome and the hash of the replacement offered.
pub async fn refresh_at(store: &dyn Store, presented: &str, at: Timestamp) -> (RefreshOutcome, String) {
    let next = rotated_at(at);
    let next_hash = next.token_hash.clone();
    let outcome = store.rotate_refresh_token(presented, next).await.expect("rotate refresh token");
    (outcome, next_hash)
}

/// An outbox message created now.
pub fn mail(recipient: &str, template: &str) -> NewEmail {
    NewEmail {
        id: EmailId::new(),
        recipient: recipient.to_owned(),
        template: template.to_owned(),
        subject: format!("{template} for {recipient}"),
        body_text: format!("Hello {recipient},\nthis is {template}."),
        body_html: Some(format!("<p>Hello {recipient}</p>")),
        created_at: now(),
    }
}

/// An audit row about user `target`.
pub fn audit_row(actor_id: Option<UserId>, action: &str, target: UserId, at: Timestamp) -> NewAudit {
    NewAudit {
        id: AuditId::new(),
        at,
        actor_id,
        action: action.to_owned(),
        target_type: "user".to_owned(),
        target_id: target.to_string(),
        details: serde_json::json!({ "action": action }),
    }
}

/// An admin change of `target` by `actor` at `at`, with an audit row of action `user.update`.
pub fn admin_change(
    actor: Option<UserId>,
    target: UserId,
    status: Option<UserStatus>,
    role: Option<Role>,
    at: Timestamp,
) -> AdminUserChange {
    AdminUserChange {
        user_id: target,
        status,
        role,
        audit: audit_row(actor, "user.update", target, at),
    }
}
