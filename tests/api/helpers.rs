//! `spawn_app` and friends: a fresh server with a fresh database per test.

use std::collections::HashMap;

use kalavpp_core::auth::Actor;
use kalavpp_core::{HashCost, Marketplace};
use kalavpp_server::{Application, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Access-token key used by every test server, so tests can forge tokens with it.
pub const JWT_SECRET: &str = "test-access-secret-0123456789-abcdefghijklmnop";
pub const JWT_REFRESH_SECRET: &str = "test-refresh-secret-0123456789-abcdefghijklmn";
pub const PASSWORD: &str = "correct horse battery";

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each `async fn(TestApp)` as `<name>_sqlite` and `<name>_postgres` (the latter skipped with
/// a note when `KALAVPP_TEST_POSTGRES_URL` is not set).
macro_rules! on_both_backends {
    ($($flow:ident),* $(,)?) => {
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$flow _sqlite>]() {
                    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite, &[]).await.expect("sqlite app");
                    $flow(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$flow _postgres>]() {
                    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres, &[]).await else {
                        return;
                    };
                    $flow(app).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub market: Marketplace,
    pub backend: Backend,
    /// The database the server runs on.
    pub database_url: String,
    _data_dir: tempfile::TempDir,
}

/// A signed-in user as the tests see it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub access: String,
    pub refresh: String,
}

/// A fresh PostgreSQL schema on `KALAVPP_TEST_POSTGRES_URL`, as a connection URL.
async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var("KALAVPP_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty())?;
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    let schema = format!("e2e_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options=-c%20search_path%3D{schema}"))
}

/// Builds settings as the binary would from `overrides` on top of test defaults.
pub fn test_settings(data_dir: &std::path::Path, database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("KALAVPP_DATA_DIR", data_dir.to_str().expect("utf-8 path")),
        ("DATABASE_URL", database_url),
        ("PORT", "0"),
        ("JWT_SECRET", JWT_SECRET),
        ("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET),
        ("RATE_LIMIT_MAX_REQUESTS", "100000"),
        ("CORS_ORIGIN", "http://shop.test"),
        // Most flows pay out right after a sale; the refund window has tests of its own.
        ("REFUND_WINDOW_DAYS", "0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut settings = kalavpp_server::settings::load(&vars, false).expect("valid test settings");
    settings.core.hash_cost = HashCost::TestsOnly;
    settings
}

/// Starts a server on `backend`; `None` for PostgreSQL when no test database is configured.
pub async fn spawn_app(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", data_dir.path().join("kalavpp.db").display()),
        Backend::Postgres => {
            if let Some(url) = fresh_postgres_url().await {
                url
            } else {
                eprintln!("note: KALAVPP_TEST_POSTGRES_URL is not set; skipping the PostgreSQL run");
                return None;
            }
        }
    };
    Some(spawn_app_at(backend, &database_url, data_dir, overrides).await)
}

/// Starts a server on an existing database (e.g. a second instance beside another one).
pub async fn spawn_app_at(backend: Backend, database_url: &str, data_dir: tempfile::TempDir, overrides: &[(&str, &str)]) -> TestApp {
    let settings = test_settings(data_dir.path(), database_url, overrides);
    let app = Application::build(settings).await.expect("build the application");
    let base = format!("http://127.0.0.1:{}", app.port());
    let market = app.marketplace().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        market,
        backend,
        database_url: database_url.to_owned(),
        _data_dir: data_dir,
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The problem `code`, for error replies.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// Field names of a validation problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self
    }

    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        let content_type = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(content_type, "application/problem+json", "errors are problem+json");
        assert_eq!(self.code(), code, "unexpected problem code; body: {}", self.body);
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/healthz") || path.starts_with("/readyz") || path.starts_with("/api/") {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v1{path}", self.base)
        }
    }

    /// Sends a request; `path` is relative to `/api/v1` unless it starts with `/api/` or is a health route.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        read(response).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    /// Registers `email` with [`PASSWORD`] and returns the session.
    pub async fn register(&self, email: &str) -> Session {
        let name = email.split('@').next().unwrap_or("user");
        let reply = self
            .post("/auth/register", None, json!({"email": email, "password": PASSWORD, "name": name}))
            .await
            .expect(201);
        session_from(&reply.body)
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post("/auth/login", None, json!({"email": email, "password": password})).await
    }

    /// Creates an admin through the core (as `kalavpp create-admin` does) and signs them in.
    pub async fn admin(&self) -> Session {
        let email = format!("admin-{}@kalavpp.test", uuid::Uuid::new_v4().simple());
        self.market
            .accounts()
            .create_admin(&Actor::System, &email, PASSWORD, "Admin")
            .await
            .expect("create admin");
        session_from(&self.login(&email, PASSWORD).await.expect(200).body)
    }
}

pub fn session_from(body: &Value) -> Session {
    Session {
        id: body["user"]["id"].as_str().expect("user.id").to_owned(),
        access: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply { status, headers, body }
}
