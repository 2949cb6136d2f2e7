//! Typed settings of the library. No globals: an embedder builds a [`Config`] and hands it over.

mod database_url;

pub use database_url::{DatabaseUrl, DatabaseUrlError, PostgresUrl, SqliteLocation, redact_url_password};

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A secret string whose `Debug` and `Display` never print the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret value; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Development (forgiving defaults) or production (refuses unsafe settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Generated secrets, dev payment provider, emails logged.
    Development,
    /// Everything must be configured explicitly.
    Production,
}

/// How expensive password hashing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashCost {
    /// Argon2id with OWASP parameters (m=19456 KiB, t=2, p=1). Always use this in real deployments.
    Owasp,
    /// Argon2id with tiny parameters, for test suites only.
    TestsOnly,
}

/// Settings of the JWT access tokens and the refresh tokens.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// HMAC key of the access tokens (`JWT_SECRET`).
    pub access_secret: Secret,
    /// Key used to hash refresh tokens at rest (`JWT_REFRESH_SECRET`).
    pub refresh_secret: Secret,
    /// Lifetime of an access token (`JWT_ACCESS_EXPIRATION`, default 15 minutes).
    pub access_ttl: Duration,
    /// Absolute lifetime of a login session (`JWT_REFRESH_EXPIRATION`, default 7 days).
    pub refresh_ttl: Duration,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
}

/// Everything `kalavpp-core` needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Development or production.
    pub mode: Mode,
    /// `sqlite://path`, `sqlite::memory:` or `postgres://...` (the password never shows in `Debug`).
    pub database_url: DatabaseUrl,
    /// Where the SQLite file, uploads and generated secrets live.
    pub data_dir: PathBuf,
    /// Token settings.
    pub tokens: TokenConfig,
    /// Public URL of the storefront, used in links inside emails (`FRONTEND_URL`).
    pub frontend_url: String,
    /// ISO 4217 currency of the installation, lower case.
    pub currency: String,
    /// Password hashing cost.
    pub hash_cost: HashCost,
    /// Size of the SQLite read pool.
    pub sqlite_readers: usize,
    /// Maximum PostgreSQL connections.
    pub postgres_max_connections: usize,
    /// Largest digital asset accepted, in bytes (`MAX_ASSET_BYTES`, default 200 MiB).
    pub max_asset_bytes: u64,
    /// Public URL of the server (`BACKEND_URL`), for links to our own pages.
    pub backend_url: String,
    /// Default platform commission in basis points (`STRIPE_COMMISSION_RATE` percent × 100; default 1000 = 10 %).
    pub commission_bps: u32,
    /// Stripe settings; `None` selects the development payment provider.
    pub stripe: Option<StripeConfig>,
    /// How long an unpaid order keeps its stock reserved (`CHECKOUT_EXPIRY_MINUTES`, default 60).
    pub checkout_ttl: Duration,
    /// First retry delay of a failed payment action (refund, session expiry), doubled per
    /// attempt up to one hour (`PAYMENT_RETRY_BASE_MS`, default 30 s).
    pub payment_retry_base: Duration,
    /// Memory budget of every cache of the installation together (`CACHE_MAX_BYTES`, default
    /// 64 MiB): half for the library's catalog caches, the rest for an embedding server's own
    /// caches (the KALAVPP server: ready API responses and storefront pages, a quarter each).
    pub cache_max_bytes: u64,
    /// How long a sale stays `pending` (refundable) before the vendor may draw it:
    /// digital lines from payment, physical lines from shipping (`REFUND_WINDOW_DAYS`, default
    /// 14; 0 makes digital sales available at once and physical ones when shipped).
    pub refund_window: Duration,
    /// How long one attempt at a payment action holds it before the reconciler may try again
    /// (`PAYMENT_LEASE_MS`, default 2 minutes; longer than any provider call).
    pub payment_lease: Duration,
    /// How many unpaid orders one customer may hold at once (`MAX_UNPAID_ORDERS`, default 5;
    /// 0 = no limit), so one account cannot keep a shop's one-of-a-kind works reserved.
    pub max_unpaid_orders: u32,
    /// How long a download link works (default 24 h).
    pub download_ttl: Duration,
    /// How many downloads one link allows (default 5).
    pub download_limit: i32,
    /// Email delivery: transport, sender and retry policy of the outbox worker.
    pub mail: MailConfig,
    /// How long an admin panel session may go without a request (default 30 minutes): a request
    /// after that is refused and ends the session; activity pushes the deadline.
    pub admin_idle_timeout: Duration,
    /// Absolute limit of an admin panel session (default 8 hours; never longer than
    /// `tokens.refresh_ttl`).
    pub admin_session_max: Duration,
    /// Where images and digital assets are kept (default: `<data dir>/files`).
    pub file_storage: FileStorage,
}

/// Where uploaded images and digital assets are kept.
#[derive(Debug, Clone, Default)]
pub enum FileStorage {
    /// A directory under the data directory: `<data dir>/files`.
    #[default]
    Local,
    /// An S3 bucket (`AWS_S3_BUCKET`); needs the `s3` cargo feature.
    S3(S3Config),
}

/// An S3 bucket, or a bucket of an S3-compatible service (MinIO, moto, …).
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `AWS_S3_BUCKET`.
    pub bucket: String,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`; with no keys the usual AWS sources (instance role, …) are used.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// `AWS_ENDPOINT_URL`: an S3-compatible service instead of AWS (`http://` allowed).
    pub endpoint: Option<String>,
}

/// Default of [`Config::admin_idle_timeout`]: 30 minutes.
pub const DEFAULT_ADMIN_IDLE_TIMEOUT: Duration = Duration::from_mins(30);

/// Default of [`Config::admin_session_max`]: 8 hours.
pub const DEFAULT_ADMIN_SESSION_MAX: Duration = Duration::from_hours(8);

/// Email delivery settings. Messages are always written to the outbox first; a worker delivers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// SMTP server (`SMTP_URL`, or `smtps://apikey:<key>@smtp.sendgrid.net:465` built from
    /// `SENDGRID_API_KEY`). It may hold a password, hence a [`Secret`]. `None`: messages are only
    /// logged (recipient and subject), which is the development default. Delivery needs the cargo
    /// feature `smtp` (`mail::mailer_for` refuses the URL without it).
    pub smtp_url: Option<Secret>,
    /// Sender address (`EMAIL_FROM`, default `no-reply@localhost`).
    pub from_address: String,
    /// Sender display name (`EMAIL_FROM_NAME`, default `KALAVPP`).
    pub from_name: String,
    /// How often the worker looks for due messages (`MAIL_POLL_INTERVAL_MS`, default 1 s).
    pub poll_interval: Duration,
    /// Delivery attempts before a message is marked `failed` (`MAIL_MAX_ATTEMPTS`, default 8).
    pub max_attempts: u32,
    /// Delay before the first retry, doubled for each further one up to one hour
    /// (`MAIL_RETRY_BASE_MS`, default 30 s).
    pub retry_base: Duration,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from_address: DEFAULT_EMAIL_FROM.into(),
            from_name: "KALAVPP".into(),
            poll_interval: Duration::from_secs(1),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
        }
    }
}

/// Default of [`Config::cache_max_bytes`]: 64 MiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The development sender address, refused in production when mail is really delivered.
pub const DEFAULT_EMAIL_FROM: &str = "no-reply@localhost";

/// Stripe credentials. Used by the cargo feature `stripe`; a build without it refuses them when
/// the marketplace is opened.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`.
    pub secret_key: Secret,
    /// `STRIPE_WEBHOOK_SECRET`.
    pub webhook_secret: Secret,
    /// `STRIPE_API_BASE`: another Stripe-shaped server (tests); `None` for Stripe itself.
    pub api_base: Option<String>,
}

impl Config {
    /// A development configuration over `database_url` with freshly generated random secrets.
    /// Handy for tests and embedding examples.
    pub fn for_development(database_url: impl Into<DatabaseUrl>) -> Self {
        Self {
            mode: Mode::Development,
            database_url: database_url.into(),
            data_dir: PathBuf::from("./data"),
            tokens: TokenConfig {
                access_secret: Secret::new(crate::auth::random_token(32)),
                refresh_secret: Secret::new(crate::auth::random_token(32)),
                access_ttl: Duration::from_mins(15),
                refresh_ttl: Duration::from_hours(7 * 24),
                issuer: "kalavpp".into(),
                audience: "kalavpp-api".into(),
            },
            frontend_url: "http://localhost:3000".into(),
            currency: "usd".into(),
            hash_cost: HashCost::Owasp,
            sqlite_readers: 4,
            postgres_max_connections: 16,
            max_asset_bytes: 200 * 1024 * 1024,
            backend_url: "http://127.0.0.1:5000".into(),
            commission_bps: 1000,
            stripe: None,
            checkout_ttl: Duration::from_hours(1),
            max_unpaid_orders: 5,
            payment_lease: Duration::from_mins(2),
            refund_window: Duration::from_hours(14 * 24),
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            payment_retry_base: Duration::from_secs(30),
            download_ttl: Duration::from_hours(24),
            download_limit: 5,
            mail: MailConfig::default(),
            admin_idle_timeout: DEFAULT_ADMIN_IDLE_TIMEOUT,
            admin_session_max: DEFAULT_ADMIN_SESSION_MAX,
            file_storage: FileStorage::Local,
        }
    }

    /// Problems that make this configuration unsafe for production, one line each, naming the
    /// variable. Empty in development mode.
    pub fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.mode != Mode::Production {
            return problems;
        }
        let access = self.tokens.access_secret.expose();
        let refresh = self.tokens.refresh_secret.expose();
        problems.extend(secret_problem("JWT_SECRET", access));
        problems.extend(secret_problem("JWT_REFRESH_SECRET", refresh));
        if !access.is_empty() && access == refresh {
            problems.push("JWT_REFRESH_SECRET: must differ from JWT_SECRET".into());
        }
        match &self.stripe {
            None => problems.push("STRIPE_SECRET_KEY: is missing; the development payment provider is not allowed in production".into()),
            Some(stripe) => {
                if stripe.secret_key.expose().is_empty() || stripe.secret_key.expose().contains("YOUR_") {
                    problems.push("STRIPE_SECRET_KEY: is missing or still a placeholder".into());
                }
                if stripe.webhook_secret.expose().is_empty() || stripe.webhook_secret.expose().contains("YOUR_") {
                    problems.push("STRIPE_WEBHOOK_SECRET: is missing or still a placeholder".into());
                }
            }
        }
        if self.mail.smtp_url.is_some() && self.mail.from_address.to_ascii_lowercase().ends_with("@localhost") {
            problems.push(format!(
                "EMAIL_FROM: is missing or `{}`; mail servers refuse such a sender (set an address of your domain)",
                self.mail.from_address
            ));
        }
        if self.hash_cost != HashCost::Owasp {
            problems.push("password hashing: test-only cost is not allowed in production".into());
        }
        problems
    }
}

/// Why `value` is not acceptable as the secret `name`, if it is not.
pub fn secret_problem(name: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        Some(format!("{name}: is missing (set a random value of at least 32 bytes)"))
    } else if is_placeholder(value) {
        Some(format!("{name}: is still a placeholder value; generate a random one"))
    } else if value.len() < 32 {
        Some(format!("{name}: is shorter than 32 bytes ({} bytes)", value.len()))
    } else {
        None
    }
}

/// Whether `value` is a placeholder from a sample `.env` (`CHANGE-TO-...`, `your_api_key`, ...).
pub fn is_placeholder(value: &str) -> bool {
    const PLACEHOLDERS: [&str; 8] = [
        "change-to",
        "change_to",
        "changeme",
        "change-me",
        "change_me",
        "your_",
        "your-",
        "placeholder",
    ];
    let lower = value.to_ascii_lowercase();
    PLACEHOLDERS.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let config = Config::for_development(DatabaseUrl::memory());
        let printed = format!("{config:?}");
        assert!(!printed.contains(config.tokens.access_secret.expose()));
        assert!(printed.contains("Secret([redacted])"));
    }

    #[test]
    fn debug_redacts_the_smtp_url() {
        let mut config = Config::for_development(DatabaseUrl::memory());
        config.mail.smtp_url = Some(Secret::new("smtps://apikey:SG.very-secret@smtp.sendgrid.net:465"));
        let printed = format!("{config:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(!printed.contains("sendgrid"), "{printed}");
    }

    #[test]
    fn production_wants_a_real_sender_when_mail_is_delivered() {
        let mut config = Config::for_development(DatabaseUrl::memory());
        config.mode = Mode::Production;
        assert!(
            !config.production_problems().iter().any(|p| p.starts_with("EMAIL_FROM")),
            "log-only mail needs no sender"
        );
        config.mail.smtp_url = Some(Secret::new("smtps://user:pass@smtp.example.com"));
        assert!(config.production_problems().iter().any(|p| p.starts_with("EMAIL_FROM")));
        config.mail.from_address = "shop@example.com".into();
        assert!(!config.production_problems().iter().any(|p| p.starts_with("EMAIL_FROM")));
    }

    #[test]
    fn production_refuses_weak_secrets() {
        let mut config = Config::for_development(DatabaseUrl::memory());
        config.mode = Mode::Production;
        config.tokens.access_secret = Secret::new("CHANGE-TO-STRONG-RANDOM-STRING-64-CHARS");
        config.tokens.refresh_secret = Secret::new("short");
        config.stripe = Some(StripeConfig {
            secret_key: Secret::new("sk_live_abcdefghijklmnopqrstuvwxyz"),
            webhook_secret: Secret::new("whsec_abcdefghijklmnopqrstuvwxyz"),
            api_base: None,
        });
        let problems = config.production_problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("JWT_SECRET"));
        assert!(problems[1].starts_with("JWT_REFRESH_SECRET"));
        config.stripe = None;
        assert!(
            config.production_problems().iter().any(|p| p.starts_with("STRIPE_SECRET_KEY")),
            "the dev provider is refused"
        );
    }
}
