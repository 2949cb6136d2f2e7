//! Server settings read from the environment (and `.env`), with the seed deployment's names.

mod backup;
mod file_storage;
mod mail;
#[cfg(test)]
mod tests;
mod values;

pub use backup::{BackupSchedule, DEFAULT_BACKUP_KEEP};

use std::collections::HashMap;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kalavpp_core::config::{Config, DatabaseUrl, HashCost, Mode, Secret, TokenConfig};

use backup::backup_settings;
use file_storage::file_storage_settings;
use mail::mail_settings;
use values::{duration, flag, number};

/// Everything the server needs: the core config plus HTTP concerns.
#[derive(Debug, Clone)]
#[expect(clippy::struct_excessive_bools, reason = "independent on/off settings, each from its own variable")]
pub struct Settings {
    /// Settings of the embedded marketplace.
    pub core: Config,
    /// Address to bind (`HOST`, default 127.0.0.1).
    pub host: IpAddr,
    /// Port to bind (`PORT`, default 5000; 0 picks a free one).
    pub port: u16,
    /// Public base URL of this server (`BACKEND_URL`).
    pub backend_url: String,
    /// Allowed CORS origins (`CORS_ORIGIN`, comma separated).
    pub cors_origins: Vec<String>,
    /// Rate-limit window (`RATE_LIMIT_WINDOW_MS`, default 900000).
    pub rate_limit_window: Duration,
    /// Requests per window and client IP on `/api/v1` (`RATE_LIMIT_MAX_REQUESTS`, default 100; 0 disables).
    pub rate_limit_max: u32,
    /// Requests per window and client IP on login, register, forgot and refresh
    /// (`AUTH_RATE_LIMIT_MAX_REQUESTS`, default a fifth of the general limit, at least 5).
    pub auth_rate_limit_max: u32,
    /// Whether to take the client IP from `X-Forwarded-For` (`TRUST_PROXY`).
    pub trust_proxy: bool,
    /// Whether the secrets were generated into the data directory (development only).
    pub generated_secrets: bool,
    /// Bearer token required by `GET /metrics` (`METRICS_TOKEN`); open when unset (development
    /// only: production refuses to start without it).
    pub metrics_token: Option<String>,
    /// Adjustments made to the configuration that the operator should know about (printed by
    /// `check-config` and at start-up), e.g. a checkout expiry raised to Stripe's minimum.
    pub notes: Vec<String>,
    /// Whether the server-rendered storefront is served at `/` (`STOREFRONT`, default true).
    pub storefront: bool,
    /// Whether the links in emails and the payment return URLs point at the storefront (the
    /// storefront is on and `FRONTEND_URL` is not set): the core's `frontend_url` is then
    /// `BACKEND_URL` and follows it when the port is picked at start-up.
    pub frontend_is_storefront: bool,
    /// Scheduled backups (`BACKUP_INTERVAL`, `BACKUP_KEEP`, `BACKUP_DIR`); `None` when
    /// `BACKUP_INTERVAL` is unset.
    pub backups: Option<BackupSchedule>,
}

/// Whether `KALAVPP_ENV` or `NODE_ENV` in `vars` says `production`.
pub fn is_production(vars: &HashMap<String, String>) -> bool {
    ["KALAVPP_ENV", "NODE_ENV"]
        .iter()
        .filter_map(|name| vars.get(*name))
        .any(|v| v.trim().eq_ignore_ascii_case("production"))
}

/// Reads settings from `vars`; in development, missing secrets are generated once into the data
/// directory. Returns every problem found, one line each, naming the variable.
pub fn load(vars: &HashMap<String, String>, generate_secrets: bool) -> Result<Settings, Vec<String>> {
    let mut problems = Vec::new();
    let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let production = is_production(vars);
    let mode = if production { Mode::Production } else { Mode::Development };

    let data_dir = PathBuf::from(get("KALAVPP_DATA_DIR").unwrap_or_else(|| "./data".into()));
    let database_url = match get("DATABASE_URL") {
        None => DatabaseUrl::sqlite_file(data_dir.join("kalavpp.db")),
        Some(text) => DatabaseUrl::parse(&text).unwrap_or_else(|e| {
            problems.push(format!("DATABASE_URL: {e}"));
            // Never used: the problem fails the load.
            DatabaseUrl::memory()
        }),
    };
    let host = if let Ok(host) = get("HOST").unwrap_or_else(|| "127.0.0.1".into()).parse::<IpAddr>() {
        host
    } else {
        problems.push("HOST: must be an IP address such as 127.0.0.1 or 0.0.0.0".into());
        IpAddr::from([127, 0, 0, 1])
    };
    let port = number(&mut problems, "PORT", get("PORT"), 5000u16);
    let access_ttl = duration(
        &mut problems,
        "JWT_ACCESS_EXPIRATION",
        get("JWT_ACCESS_EXPIRATION"),
        Duration::from_mins(15),
    );
    let refresh_ttl = duration(
        &mut problems,
        "JWT_REFRESH_EXPIRATION",
        get("JWT_REFRESH_EXPIRATION"),
        Duration::from_hours(7 * 24),
    );
    let window_ms = number(&mut problems, "RATE_LIMIT_WINDOW_MS", get("RATE_LIMIT_WINDOW_MS"), 900_000u64);
    if window_ms == 0 {
        problems.push("RATE_LIMIT_WINDOW_MS: must be greater than 0".into());
    }
    let rate_limit_max = number(&mut problems, "RATE_LIMIT_MAX_REQUESTS", get("RATE_LIMIT_MAX_REQUESTS"), 100u32);
    let auth_default = (rate_limit_max / 5).max(5).min(rate_limit_max);
    let auth_rate_limit_max = number(
        &mut problems,
        "AUTH_RATE_LIMIT_MAX_REQUESTS",
        get("AUTH_RATE_LIMIT_MAX_REQUESTS"),
        auth_default,
    );
    let trust_proxy = flag(&mut problems, "TRUST_PROXY", get("TRUST_PROXY"));
    let metrics_token = get("METRICS_TOKEN");
    if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
        problems.push("METRICS_TOKEN: must be at least 16 characters".into());
    }
    if production && metrics_token.is_none() {
        problems.push("METRICS_TOKEN: is required in production (/metrics reveals sales figures; scrape it with a bearer token)".into());
    }
    let max_unpaid_orders = number(&mut problems, "MAX_UNPAID_ORDERS", get("MAX_UNPAID_ORDERS"), 5u32);
    if max_unpaid_orders > 1000 {
        problems.push("MAX_UNPAID_ORDERS: must be between 0 (no limit) and 1000".into());
    }
    let payment_retry_ms = number(&mut problems, "PAYMENT_RETRY_BASE_MS", get("PAYMENT_RETRY_BASE_MS"), 30_000u64);
    if !(1..=3_600_000).contains(&payment_retry_ms) {
        problems.push("PAYMENT_RETRY_BASE_MS: must be between 1 and 3600000".into());
    }
    let cache_max_bytes = number(
        &mut problems,
        "CACHE_MAX_BYTES",
        get("CACHE_MAX_BYTES"),
        kalavpp_core::config::DEFAULT_CACHE_MAX_BYTES,
    );
    if cache_max_bytes < 1024 * 1024 {
        problems.push("CACHE_MAX_BYTES: must be at least 1048576 (1 MiB)".into());
    }
    let refund_window_days = number(&mut problems, "REFUND_WINDOW_DAYS", get("REFUND_WINDOW_DAYS"), 14u64);
    if refund_window_days > 365 {
        problems.push("REFUND_WINDOW_DAYS: must be between 0 and 365".into());
    }
    let payment_lease_ms = number(&mut problems, "PAYMENT_LEASE_MS", get("PAYMENT_LEASE_MS"), 120_000u64);
    if !(100..=3_600_000).contains(&payment_lease_ms) {
        problems.push("PAYMENT_LEASE_MS: must be between 100 and 3600000".into());
    }
    let mut notes = Vec::new();
    let max_asset_bytes = number(&mut problems, "MAX_ASSET_BYTES", get("MAX_ASSET_BYTES"), 200 * 1024 * 1024u64);
    if max_asset_bytes == 0 {
        problems.push("MAX_ASSET_BYTES: must be greater than 0".into());
    }

    let storefront = match get("STOREFRONT") {
        None => true,
        value => flag(&mut problems, "STOREFRONT", value),
    };
    let frontend_is_storefront = storefront && get("FRONTEND_URL").is_none();
    let frontend_url = get("FRONTEND_URL").unwrap_or_else(|| "http://localhost:3000".into());
    let backend_url = get("BACKEND_URL");
    let cors = get("CORS_ORIGIN");
    if mode == Mode::Production {
        if cors.is_none() {
            problems.push("CORS_ORIGIN: is missing (comma-separated list of allowed origins)".into());
        }
        if backend_url.is_none() {
            problems.push("BACKEND_URL: is missing (public URL of this server)".into());
        }
    }
    let cors_origins: Vec<String> = cors
        .unwrap_or_else(|| frontend_url.clone())
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &cors_origins {
        if !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.parse::<axum::http::HeaderValue>().is_err() {
            problems.push(format!("CORS_ORIGIN: `{origin}` is not an origin like https://shop.example.com"));
        }
    }
    let backend_url = backend_url
        .unwrap_or_else(|| format!("http://{host}:{port}"))
        .trim_end_matches('/')
        .to_owned();

    let commission_bps = match get("STRIPE_COMMISSION_RATE") {
        None => 1000,
        Some(text) => match text.parse::<f64>() {
            Ok(rate) if (0.0..=100.0).contains(&rate) => (rate * 100.0).round() as u32,
            _ => {
                problems.push(format!("STRIPE_COMMISSION_RATE: `{text}` is not a percentage between 0 and 100"));
                1000
            }
        },
    };
    let checkout_minutes = number(&mut problems, "CHECKOUT_EXPIRY_MINUTES", get("CHECKOUT_EXPIRY_MINUTES"), 60u64);
    if !(1..=1440).contains(&checkout_minutes) {
        problems.push("CHECKOUT_EXPIRY_MINUTES: must be between 1 and 1440".into());
    }
    let stripe = match (get("STRIPE_SECRET_KEY"), get("STRIPE_WEBHOOK_SECRET")) {
        (None, None) => None,
        (Some(key), webhook) => {
            if webhook.is_none() {
                problems.push("STRIPE_WEBHOOK_SECRET: is required with STRIPE_SECRET_KEY".into());
            }
            Some(kalavpp_core::StripeConfig {
                secret_key: Secret::new(key),
                webhook_secret: Secret::new(webhook.unwrap_or_default()),
                api_base: get("STRIPE_API_BASE"),
            })
        }
        (None, Some(_)) => {
            problems.push("STRIPE_SECRET_KEY: is required with STRIPE_WEBHOOK_SECRET".into());
            None
        }
    };

    let mut checkout_minutes = checkout_minutes.clamp(1, 1440);
    if stripe.is_some() && checkout_minutes < STRIPE_MIN_CHECKOUT_MINUTES {
        notes.push(format!(
            "CHECKOUT_EXPIRY_MINUTES: {checkout_minutes} raised to {STRIPE_MIN_CHECKOUT_MINUTES} (Stripe's Checkout Sessions last at least 30 minutes, plus a minute for the call)"
        ));
        checkout_minutes = STRIPE_MIN_CHECKOUT_MINUTES;
    }

    let mail = mail_settings(&mut problems, &get);
    let file_storage = file_storage_settings(&mut problems, &get);
    let backups = backup_settings(&mut problems, &get, &data_dir, &database_url);

    let currency = get("KALAVPP_CURRENCY").unwrap_or_else(|| "usd".into()).to_ascii_lowercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        problems.push("KALAVPP_CURRENCY: must be a three-letter ISO 4217 code such as usd".into());
    }

    let (mut access_secret, mut refresh_secret) = (get("JWT_SECRET"), get("JWT_REFRESH_SECRET"));
    let mut generated_secrets = false;
    if mode == Mode::Development && generate_secrets && (access_secret.is_none() || refresh_secret.is_none()) {
        match dev_secrets(&data_dir) {
            Ok((access, refresh)) => {
                generated_secrets = true;
                access_secret = access_secret.or(Some(access));
                refresh_secret = refresh_secret.or(Some(refresh));
            }
            Err(e) => problems.push(format!(
                "KALAVPP_DATA_DIR: cannot keep generated secrets in {}: {e}",
                data_dir.display()
            )),
        }
    }
    let core = Config {
        mode,
        database_url,
        data_dir,
        tokens: TokenConfig {
            access_secret: Secret::new(access_secret.unwrap_or_default()),
            refresh_secret: Secret::new(refresh_secret.unwrap_or_default()),
            access_ttl,
            refresh_ttl,
            issuer: "kalavpp".into(),
            audience: "kalavpp-api".into(),
        },
        frontend_url: if frontend_is_storefront {
            backend_url.clone()
        } else {
            frontend_url
        },
        currency,
        hash_cost: HashCost::Owasp,
        sqlite_readers: 4,
        postgres_max_connections: 16,
        max_asset_bytes,
        backend_url: backend_url.clone(),
        commission_bps,
        stripe,
        checkout_ttl: Duration::from_secs(checkout_minutes * 60),
        max_unpaid_orders,
        payment_lease: Duration::from_millis(payment_lease_ms.clamp(100, 3_600_000)),
        refund_window: Duration::from_secs(refund_window_days.min(365) * 24 * 3600),
        cache_max_bytes: cache_max_bytes.max(1024 * 1024),
        payment_retry_base: Duration::from_millis(payment_retry_ms.clamp(1, 3_600_000)),
        download_ttl: Duration::from_hours(24),
        download_limit: 5,
        mail,
        admin_idle_timeout: kalavpp_core::config::DEFAULT_ADMIN_IDLE_TIMEOUT,
        admin_session_max: kalavpp_core::config::DEFAULT_ADMIN_SESSION_MAX,
        file_storage,
    };
    problems.extend(core.production_problems());
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Settings {
        core,
        host,
        port,
        backend_url,
        cors_origins,
        rate_limit_window: Duration::from_millis(window_ms.max(1)),
        rate_limit_max,
        auth_rate_limit_max,
        trust_proxy,
        generated_secrets,
        metrics_token,
        notes,
        storefront,
        frontend_is_storefront,
        backups,
    })
}

/// Stripe refuses Checkout Sessions that expire sooner than 30 minutes after their creation; the
/// session's `expires_at` counts from the order's creation, just before the call, so one more
/// minute keeps every session above Stripe's minimum.
const STRIPE_MIN_CHECKOUT_MINUTES: u64 = 31;

/// Reads the development secrets from `<data dir>/secrets.env`, generating them the first time.
fn dev_secrets(data_dir: &Path) -> std::io::Result<(String, String)> {
    let path = data_dir.join("secrets.env");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
                .map(|v| v.trim().to_owned())
                .filter(|v| v.len() >= 32)
        };
        if let (Some(access), Some(refresh)) = (value("JWT_SECRET"), value("JWT_REFRESH_SECRET")) {
            return Ok((access, refresh));
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let access = kalavpp_core::auth::random_token(48);
    let refresh = kalavpp_core::auth::random_token(48);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    writeln!(
        file,
        "# Generated by KALAVPP in development mode. Keep private.\nJWT_SECRET={access}\nJWT_REFRESH_SECRET={refresh}"
    )?;
    Ok((access, refresh))
}
