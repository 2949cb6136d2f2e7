//! `HealthStore::ping` (the suite's `health` group) and `Store::backend_name`.

use crate::support::*;

kalavpp_core::__conformance_health!(conformance);

// `backend_name` differs by backend on purpose, so it is checked per backend rather than through
// the exported suite.

#[tokio::test]
async fn backend_name_sqlite() {
    let db = SqliteFile::create().await;
    assert_eq!(db.store.backend_name(), "sqlite");
}

#[tokio::test]
async fn backend_name_sqlite_memory() {
    assert_eq!(sqlite_memory().await.backend_name(), "sqlite");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn backend_name_postgres() {
    let Some(db) = PostgresSchema::from_env().await else {
        return;
    };
    assert_eq!(db.store.backend_name(), "postgres");
    assert!(db.url.ends_with(&format!("search_path%3D{}", db.schema)), "{}", db.url);
    db.drop_schema().await;
}

#[cfg(feature = "postgres")]
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

/// `sslmode` decides TLS as libpq does: `require` encrypts (the server's own certificate is not
/// checked), `disable` does not, `verify-full` refuses a certificate no trusted root vouches for.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn sslmode_decides_tls_postgres() {
    let Some(db) = PostgresSchema::from_env().await else {
        return;
    };
    let base = std::env::var(POSTGRES_URL_VAR).unwrap();
    let (observer, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.expect("observer");
    tokio::spawn(connection);
    let server_ssl: String = observer.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    for (mode, encrypted) in [("require", true), ("disable", false)] {
        let application = format!("kv_tls_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}&sslmode={mode}&application_name={application}", db.url);
        let connected = kalavpp_core::storage::postgres::PostgresStore::connect(&url, 2).await;
        if mode == "require" && server_ssl != "on" {
            let err = connected.expect_err("require against a server without TLS fails");
            assert!(err.to_string().to_lowercase().contains("tls"), "{err}");
            continue;
        }
        let store = connected.unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        kalavpp_core::storage::HealthStore::ping(&store).await.expect("ping");
        let rows = observer
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
                &[&application],
            )
            .await
            .unwrap();
        assert!(!rows.is_empty(), "the store's connections are visible");
        assert!(rows.iter().all(|r| r.get::<_, bool>(0) == encrypted), "sslmode={mode}");
    }
    if server_ssl == "on" {
        let refused = kalavpp_core::storage::postgres::PostgresStore::connect(&format!("{}&sslmode=verify-full", db.url), 2)
            .await
            .expect_err("a self-signed server certificate is refused under verify-full");
        assert!(refused.to_string().to_lowercase().contains("certificate"), "{refused}");
    }
    db.drop_schema().await;
}
