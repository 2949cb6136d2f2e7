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
//!
//! # Cargo features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `sqlite` | yes | the SQLite backend, `storage::sqlite` (rusqlite, bundled) |
//! | `postgres` | | the PostgreSQL backend, `storage::postgres` (tokio-postgres, deadpool, rustls), with cache sync across instances |
//! | `stripe` | | `payments::stripe` (async-stripe); the development provider [`payments::dev`] is always there |
//! | `smtp` | | `mail::SmtpMailer` (lettre); the outbox and [`mail::LogMailer`] are always there |
//! | `images` | | decoding, re-encoding and thumbnails of product images (image); without it image uploads are refused ([`Error::UnsupportedMedia`], code `image_support_disabled`) |
//! | `s3` | | `files::s3`, uploads in an S3 bucket (object_store) |
//! | `conformance` | | `conformance`, the storage conformance suite, to run against your own [`storage::Store`] |
//!
//! Settings that need a feature the build lacks fail clearly instead of being ignored:
//! [`Marketplace::open`] refuses a `postgres://` [`DatabaseUrl`] without `postgres` (it still
//! parses) and Stripe settings without `stripe`; [`mail::mailer_for`] refuses an SMTP URL without
//! `smtp`. A SQLite-only build: `default-features = false, features = ["sqlite"]`.

pub mod auth;
pub mod cache;
mod cache_sync;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod domain;
pub mod error;
pub mod files;
pub mod mail;
pub mod maintenance;
pub mod payments;
pub mod services;
pub mod storage;

mod marketplace;

pub use marketplace::{open_files, open_store};

pub use config::{Config, DatabaseUrl, DatabaseUrlError, HashCost, MailConfig, Mode, PostgresUrl, Secret, StripeConfig, TokenConfig};
pub use error::{Error, FieldError, Result};
pub use marketplace::{Marketplace, MarketplaceBuilder};
