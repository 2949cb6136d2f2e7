//! `HealthStore::ping` and `Store::backend_name`.

use crate::support::*;

conformance!(ping_succeeds);

async fn ping_succeeds(store: Db) {
    store.ping().await.expect("ping an empty database");
    new_user(&store, "ann@example.com").await;
    store.ping().await.expect("ping again");
}

// `backend_name` differs by backend on purpose, so it is checked per backend rather than through
// `conformance!`.

#[tokio::test]
async fn backend_name_sqlite() {
    let db = SqliteFile::create().await;
    assert_eq!(db.store.backend_name(), "sqlite");
}

#[tokio::test]
async fn backend_name_sqlite_memory() {
    assert_eq!(sqlite_memory().await.backend_name(), "sqlite");
}

#[tokio::test]
async fn backend_name_postgres() {
    let Some(db) = PostgresSchema::from_env().await else {
        return;
    };
    assert_eq!(db.store.backend_name(), "postgres");
    assert!(db.url.ends_with(&format!("search_path%3D{}", db.schema)), "{}", db.url);
    db.drop_schema().await;
}

#[test]
fn search_path_is_added_to_any_url_form() {
    assert_eq!(
        url_with_search_path("postgres://u@h:5432/db", "t_1"),
        "postgres://u@h:5432/db?options=-c%20search_path%3Dt_1"
    );
    assert_eq!(
        url_with_search_path("postgresql://u@h/db?sslmode=disable", "t_1"),
        "postgresql://u@h/db?sslmode=disable&options=-c%20search_path%3Dt_1"
    );
    assert_eq!(
        url_with_search_path("host=h user=u", "t_1"),
        "host=h user=u options='-c search_path=t_1'"
    );
    for url in [
        url_with_search_path("postgres://u@h:5432/db", "t_1"),
        url_with_search_path("host=h user=u", "t_1"),
    ] {
        let config: tokio_postgres::Config = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(config.get_options(), Some("-c search_path=t_1"), "{url}");
    }
}
