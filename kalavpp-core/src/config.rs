//! Typed settings of the library. No globals: an embedder builds a [`Config`] and hands it over.

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

/// The database of an installation (`DATABASE_URL`), parsed once: a SQLite location or a
/// PostgreSQL URL. `Debug` and `Display` never show a PostgreSQL password
/// (`postgres://user:***@host:port/db?…`).
///
/// Accepted forms: `sqlite::memory:` (or `sqlite://:memory:`), `sqlite://path`, `sqlite:path`
/// (a `?…` suffix of a SQLite URL is ignored), `postgres://…` and `postgresql://…` with the
/// parameters libpq and tokio-postgres know (`sslmode=`, `user=`, `password=`, …). Anything else
/// is refused by [`DatabaseUrl::parse`] with a [`DatabaseUrlError`] that never repeats the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database: a file or a private in-memory database.
    Sqlite(SqliteLocation),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

/// Where a SQLite database lives (parsed from a URL by [`DatabaseUrl`]). Defined here rather than
/// in `storage::sqlite` (which re-exports it) so that URLs parse in builds without the `sqlite`
/// feature too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A private in-memory database (one connection serves reads and writes).
    Memory,
    /// A database file.
    File(PathBuf),
}

/// Why a text is not a [`DatabaseUrl`]. The messages name the problem, never the URL (which may
/// hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseUrlError {
    /// The text is empty.
    #[error("is empty; {USE}")]
    Empty,
    /// The text does not start with a `scheme:`.
    #[error("has no scheme; {USE}")]
    NoScheme,
    /// A scheme other than `sqlite:`, `postgres:` or `postgresql:` (holds the scheme only).
    #[error("`{0}:` is not a supported scheme; {USE}")]
    UnknownScheme(String),
    /// A `sqlite:` URL without a path.
    #[error("names no SQLite file; use sqlite://<path> or sqlite::memory:")]
    EmptySqlitePath,
    /// A `postgres://` URL the driver cannot read (holds the driver's reason, which names the
    /// offending option, not its value).
    #[error("is not a valid PostgreSQL URL: {0}")]
    InvalidPostgres(String),
}

const USE: &str = "use sqlite://<path>, sqlite::memory: or postgres://user@host/database";

impl DatabaseUrl {
    /// Parses a database URL (the accepted forms are listed on [`DatabaseUrl`]).
    pub fn parse(text: &str) -> Result<Self, DatabaseUrlError> {
        if text.trim().is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            // Without the `postgres` feature there is no driver to check the options with; such a
            // URL still parses, and opening it fails with a clear error.
            #[cfg(feature = "postgres")]
            crate::storage::postgres::validate_url(text).map_err(DatabaseUrlError::InvalidPostgres)?;
            return Ok(Self::Postgres(PostgresUrl(text.to_owned())));
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            if rest == ":memory:" || rest == "//:memory:" {
                return Ok(Self::Sqlite(SqliteLocation::Memory));
            }
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            return match path {
                "" => Err(DatabaseUrlError::EmptySqlitePath),
                ":memory:" => Ok(Self::Sqlite(SqliteLocation::Memory)),
                path => Ok(Self::Sqlite(SqliteLocation::File(PathBuf::from(path)))),
            };
        }
        match text.split_once(':') {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Err(DatabaseUrlError::UnknownScheme(scheme.to_owned()))
            }
            _ => Err(DatabaseUrlError::NoScheme),
        }
    }

    /// A private in-memory SQLite database (`sqlite::memory:`).
    pub fn memory() -> Self {
        Self::Sqlite(SqliteLocation::Memory)
    }

    /// A SQLite database file (`sqlite://path`).
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite(SqliteLocation::File(path.into()))
    }

    /// Whether this names a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// The URL with any password replaced by `***` (the same text as `Display`).
    pub fn redacted(&self) -> String {
        self.to_string()
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl From<SqliteLocation> for DatabaseUrl {
    fn from(location: SqliteLocation) -> Self {
        Self::Sqlite(location)
    }
}

impl From<PostgresUrl> for DatabaseUrl {
    fn from(url: PostgresUrl) -> Self {
        Self::Postgres(url)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(SqliteLocation::Memory) => f.write_str("sqlite::memory:"),
            Self::Sqlite(SqliteLocation::File(path)) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => fmt::Display::fmt(url, f),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// A `postgres://` (or `postgresql://`) URL whose `Debug` and `Display` never show the password
/// (of the authority or of a `password=` parameter): `postgres://user:***@host:port/db?…`.
/// Made by [`DatabaseUrl::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The full URL, password included; call only where the connection is made.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url_password(&self.0)
    }

    /// The URL without the password of its authority, and that password (percent-decoded), so a
    /// tool such as `pg_dump` can get it through `PGPASSWORD` instead of its command line (where
    /// every local user could read it).
    pub fn split_password(&self) -> (String, Option<String>) {
        let url = &self.0;
        let Some(scheme_end) = url.find("://") else {
            return (url.clone(), None);
        };
        let start = scheme_end + 3;
        let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
        let Some(at) = url[start..authority_end].rfind('@') else {
            return (url.clone(), None);
        };
        let userinfo = &url[start..start + at];
        let Some(colon) = userinfo.find(':') else {
            return (url.clone(), None);
        };
        let password = percent_decode(&userinfo[colon + 1..]);
        let without = format!("{}{}", &url[..start + colon], &url[start + at..]);
        (without, Some(password))
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({})", self.redacted())
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces the password of `scheme://user:password@host...` and of `password=` query or
/// key-value parameters with `***`.
pub fn redact_url_password(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?', '#']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(pos) = lower.find("password=") {
        let value_start = pos + "password=".len();
        let value_end = out[value_start..].find(['&', ' ', ';']).map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
    }
    out
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

#[cfg(test)]
mod database_url_tests {
    use std::path::PathBuf;

    use super::{DatabaseUrl, DatabaseUrlError, SqliteLocation};

    fn parse(text: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        text.parse()
    }

    fn file(path: &str) -> DatabaseUrl {
        DatabaseUrl::Sqlite(SqliteLocation::File(PathBuf::from(path)))
    }

    #[test]
    fn sqlite_forms_are_accepted() {
        assert_eq!(parse("sqlite::memory:"), Ok(DatabaseUrl::memory()));
        assert_eq!(parse("sqlite://:memory:"), Ok(DatabaseUrl::memory()));
        assert_eq!(parse("sqlite://data/kalavpp.db"), Ok(file("data/kalavpp.db")));
        assert_eq!(
            parse("sqlite:///var/lib/kalavpp/kalavpp.db"),
            Ok(file("/var/lib/kalavpp/kalavpp.db"))
        );
        assert_eq!(parse("sqlite:data/kalavpp.db"), Ok(file("data/kalavpp.db")));
        assert_eq!(parse("sqlite://data/kalavpp.db?mode=rwc"), Ok(file("data/kalavpp.db")));
        assert_eq!(DatabaseUrl::sqlite_file("a.db"), file("a.db"));
        assert!(!parse("sqlite://a.db").unwrap().is_postgres());
    }

    #[test]
    fn postgres_forms_are_accepted() {
        for text in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://postgres@127.0.0.1:5432/test",
            "postgres://shop:s3cr%40t@db.example:5432/kalavpp?sslmode=require",
            "postgres://shop:pw@db.example/kalavpp?sslmode=verify-full",
            "postgres://db/kalavpp?user=shop&password=hunter2&application_name=kalavpp",
            "postgres:///kalavpp?host=/var/run/postgresql",
        ] {
            match parse(text) {
                Ok(DatabaseUrl::Postgres(url)) => assert_eq!(url.expose(), text),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_forms_are_refused_with_a_clear_reason() {
        assert_eq!(parse(""), Err(DatabaseUrlError::Empty));
        assert_eq!(parse("  "), Err(DatabaseUrlError::Empty));
        assert_eq!(parse("sqlite:"), Err(DatabaseUrlError::EmptySqlitePath));
        assert_eq!(parse("sqlite://"), Err(DatabaseUrlError::EmptySqlitePath));
        assert_eq!(parse("sqlite://?mode=rwc"), Err(DatabaseUrlError::EmptySqlitePath));
        assert_eq!(
            parse("mysql://root:pw@db/shop"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert_eq!(parse("redis://cache"), Err(DatabaseUrlError::UnknownScheme("redis".into())));
        assert_eq!(parse("kalavpp.db"), Err(DatabaseUrlError::NoScheme));
        assert_eq!(parse("/var/lib/kalavpp.db"), Err(DatabaseUrlError::NoScheme));
        // The PostgreSQL options are checked by the driver, so only with the `postgres` feature.
        #[cfg(feature = "postgres")]
        assert!(matches!(
            parse("postgres://shop:hunter2@db/kalavpp?port=notaport"),
            Err(DatabaseUrlError::InvalidPostgres(_))
        ));
        #[cfg(feature = "postgres")]
        assert!(matches!(
            parse("postgres://shop:hunter2@db/kalavpp?no_such_option=1"),
            Err(DatabaseUrlError::InvalidPostgres(_))
        ));
        // The reasons name the problem, never the URL or its password.
        let mut refused = vec!["mysql://root:hunter2@db/shop", "root:hunter2@db"];
        if cfg!(feature = "postgres") {
            refused.extend([
                "postgres://shop:hunter2@db/kalavpp?port=hunter2x",
                "postgres://shop:hunter2@db/kalavpp?hunter2=1",
            ]);
        }
        for text in refused {
            let shown = parse(text).unwrap_err().to_string();
            assert!(!shown.contains("hunter2x") && !shown.contains(":hunter2@"), "{text}: {shown}");
            assert!(!shown.is_empty());
        }
        assert!(parse("ftp://x").unwrap_err().to_string().contains("sqlite://<path>"));
    }

    #[test]
    fn passwords_never_show() {
        let url = parse("postgres://shop:s3cr%40t@db.example:5432/kalavpp?sslmode=require").unwrap();
        for shown in [format!("{url:?}"), url.to_string(), url.redacted()] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("postgres://shop:***@db.example:5432/kalavpp?sslmode=require"),
                "{shown}"
            );
        }
        let DatabaseUrl::Postgres(inner) = &url else { panic!("{url:?}") };
        for shown in [format!("{inner:?}"), inner.to_string()] {
            assert!(!shown.contains("s3cr"), "{shown}");
        }
        assert_eq!(
            inner.split_password(),
            (
                "postgres://shop@db.example:5432/kalavpp?sslmode=require".to_owned(),
                Some("s3cr@t".to_owned())
            )
        );
        let kv = parse("postgres://db/kalavpp?user=shop&password=hunter2&application_name=x").unwrap();
        assert!(!format!("{kv:?}").contains("hunter2"));
        assert!(!kv.to_string().contains("hunter2"));
        assert_eq!(parse("sqlite://data/kalavpp.db").unwrap().to_string(), "sqlite://data/kalavpp.db");
        assert_eq!(parse("sqlite:data/kalavpp.db").unwrap().to_string(), "sqlite://data/kalavpp.db");
        assert_eq!(parse("sqlite::memory:").unwrap().to_string(), "sqlite::memory:");
        assert_eq!(
            parse("postgres://postgres@127.0.0.1/test").unwrap().to_string(),
            "postgres://postgres@127.0.0.1/test"
        );
        // A whole Config in Debug keeps it hidden too.
        let config = super::Config::for_development(url);
        assert!(!format!("{config:?}").contains("s3cr"));
    }
}
