//! Mounting KALAVPP inside another axum application: the marketplace's REST API (and media,
//! health and admin routes) under `/shop`, beside the host's own routes, which use the same
//! `Marketplace` (one database, one cache, one set of background jobs).
//!
//! Run with `cargo run -p kalavpp-server --example mount`. It starts on a free port with an
//! in-memory database, calls its own routes as a client would, prints what it saw and exits
//! (non-zero if anything was not as expected).
//!
//! The server-rendered storefront, studio and panel link to root paths (`/cart`, `/studio`), so
//! a host that mounts under a prefix turns the storefront off (`STOREFRONT=false`) and builds its
//! own pages on the API and the shared `Marketplace`, as below.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use kalavpp_core::Marketplace;
use kalavpp_core::domain::PageRequest;
use kalavpp_core::services::BrowseFilters;
use kalavpp_server::Mountable;
use serde_json::{Value, json};

/// The host application's own page: numbers read straight from the shared marketplace.
async fn host_home(State(market): State<Marketplace>) -> String {
    let works = market
        .catalog()
        .browse(BrowseFilters::default(), PageRequest::new(1, 1))
        .await
        .map(|page| page.total)
        .unwrap_or_default();
    format!("Welcome to the host app. The shop under /shop has {works} published works.\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // The settings the binary reads from its environment; the shop's public URL carries the prefix
    // so image URLs and email links point under /shop.
    let secret = |seed: &str| format!("{seed}-{}", kalavpp_core::auth::random_token(40));
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", "sqlite::memory:".to_owned()),
        ("BACKEND_URL", format!("{base}/shop")),
        ("STOREFRONT", "false".to_owned()),
        ("JWT_SECRET", secret("access")),
        ("JWT_REFRESH_SECRET", secret("refresh")),
        (
            "KALAVPP_DATA_DIR",
            std::env::temp_dir().join("kalavpp-mount-example").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = kalavpp_server::settings::load(&vars, false).map_err(|problems| problems.join("\n"))?;
    let market = Marketplace::open(settings.core.clone()).await?;
    let shop = Mountable::new(settings, market.clone())?;
    let jobs = shop.start_jobs();

    let app = Router::new()
        .route("/", get(host_home))
        .with_state(market.clone())
        .nest("/shop", shop.router());
    let server = tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });

    // A client of the mounted shop.
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/shop/healthz")).send().await?;
    println!("GET /shop/healthz -> {}", health.status());
    let registered = client
        .post(format!("{base}/shop/api/v1/auth/register"))
        .json(&json!({"email": "ann@example.com", "password": "watercolours-at-dawn", "name": "Ann"}))
        .send()
        .await?;
    let status = registered.status();
    let body: Value = registered.json().await?;
    println!("POST /shop/api/v1/auth/register -> {status} ({})", body["user"]["email"]);
    let me: Value = client
        .get(format!("{base}/shop/api/v1/auth/me"))
        .bearer_auth(body["access_token"].as_str().unwrap_or_default())
        .send()
        .await?
        .json()
        .await?;
    println!("GET /shop/api/v1/auth/me -> {}", me["email"]);
    let categories: Value = client.get(format!("{base}/shop/api/v1/categories")).send().await?.json().await?;
    let category_count = categories.as_array().map_or(0, Vec::len);
    println!("GET /shop/api/v1/categories -> {category_count} categories");
    // The host sees the account the shop created: one marketplace.
    let filter = kalavpp_core::domain::UserFilter {
        q: Some("ann@example.com".into()),
        ..Default::default()
    };
    let users = market
        .admin()
        .list_users(&kalavpp_core::auth::Actor::System, filter, PageRequest::default())
        .await?;
    println!("host app sees the new account: {}", users.total == 1);
    let home = client.get(format!("{base}/")).send().await?.text().await?;
    print!("GET / -> {home}");
    let outside = client.get(format!("{base}/api/v1/categories")).send().await?.status();
    println!("GET /api/v1/categories (outside the prefix) -> {outside}");

    server.abort();
    jobs.stop().await;
    let ok = health.status().is_success()
        && status.as_u16() == 201
        && me["email"] == "ann@example.com"
        && category_count > 0
        && users.total == 1
        && home.contains("0 published works")
        && outside.as_u16() == 404;
    if !ok {
        return Err("the mounted shop did not answer as expected".into());
    }
    println!("the shop is mounted under /shop");
    Ok(())
}
