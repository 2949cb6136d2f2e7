//! Embedding KALAVPP in your own Rust program: no HTTP server, just the services.
//!
//! Run with `cargo run --example embed`.

use kalavpp_core::auth::Actor;
use kalavpp_core::services::Registration;
use kalavpp_core::{Config, DatabaseUrl, Marketplace};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An in-memory SQLite database with generated secrets; use `"sqlite://path".parse()?` or
    // `"postgres://...".parse()?` for real data.
    let market = Marketplace::open(Config::for_development(DatabaseUrl::memory())).await?;

    let signed_up = market
        .accounts()
        .register(Registration {
            email: "Ann.Artist@example.com".into(),
            password: "watercolours-at-dawn".into(),
            name: "Ann Artist".into(),
        })
        .await?;
    println!("registered {} as {}", signed_up.user.email, signed_up.user.role);

    let session = market.accounts().login("ann.artist@example.com", "watercolours-at-dawn").await?;
    let actor = market.accounts().authenticate(&session.tokens.access_token).await?;
    let me = market.accounts().me(&actor).await?;
    println!("logged in: {me:#?}");

    // Operator actions use `Actor::System`.
    let admin = market
        .accounts()
        .create_admin(&Actor::System, "root@example.com", "a long admin password", "Root")
        .await?;
    println!("created admin {}", admin.email);
    Ok(())
}
