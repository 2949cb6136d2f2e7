//! `kalavpp-core`: a multi-vendor marketplace as a library.
//!
//! Build a [`Marketplace`] from a [`Config`] and call its services; every call takes an
//! [`auth::Actor`] and checks what it may do. Storage is SQLite (default) or PostgreSQL, chosen
//! by the database URL, or any implementation of [`storage::Store`] an embedder brings.
//!
//! ```no_run
//! # async fn demo() -> kalavpp_core::Result<()> {
//! use kalavpp_core::{Config, DatabaseUrl, Marketplace, services::Registration};
//! let market = Marketplace::open(Config::for_development(DatabaseUrl::memory())).await?;
//! let session = market
//!     .accounts()
//!     .register(Registration { email: "ann@example.com".into(), password: "correct horse".into(), name: "Ann".into() })
//!     .await?;
//! println!("{} signed up", session.user.email);
//! # Ok(()) }
//! ```

pub mod auth;
pub mod cache;
mod cache_sync;
pub mod config;
pub mod domain;
pub mod error;
pub mod files;
pub mod mail;
pub mod payments;
pub mod services;
pub mod storage;

mod marketplace;

pub use marketplace::{open_files, open_store};

pub use config::{Config, DatabaseUrl, DatabaseUrlError, HashCost, MailConfig, Mode, PostgresUrl, Secret, StripeConfig, TokenConfig};
pub use error::{Error, FieldError, Result};
pub use marketplace::{Marketplace, MarketplaceBuilder};
