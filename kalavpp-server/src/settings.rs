//! Server settings read from the environment (and `.env`), with the seed deployment's names.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kalavpp_core::config::{
    Config, DEFAULT_EMAIL_FROM, DatabaseUrl, FileStorage, HashCost, MailConfig, Mode, S3Config, Secret, TokenConfig, is_placeholder,
};

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

/// When and where the server takes its scheduled backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// How often (`BACKUP_INTERVAL`, e.g. `6h` or `1d`).
    pub interval: Duration,
    /// How many backups to keep (`BACKUP_KEEP`, default [`DEFAULT_BACKUP_KEEP`]).
    pub keep: usize,
    /// Where they go (`BACKUP_DIR`, default `<data dir>/backups`), one directory each.
    pub dir: PathBuf,
}

/// Scheduled backups kept when `BACKUP_KEEP` is unset.
pub const DEFAULT_BACKUP_KEEP: usize = 7;

/// `BACKUP_INTERVAL`, `BACKUP_KEEP` and `BACKUP_DIR`.
fn backup_settings(
    problems: &mut Vec<String>,
    get: &impl Fn(&str) -> Option<String>,
    data_dir: &Path,
    database_url: &DatabaseUrl,
) -> Option<BackupSchedule> {
    let keep = number(problems, "BACKUP_KEEP", get("BACKUP_KEEP"), DEFAULT_BACKUP_KEEP);
    if !(1..=1000).contains(&keep) {
        problems.push("BACKUP_KEEP: must be between 1 and 1000".into());
    }
    let dir = get("BACKUP_DIR").map_or_else(|| data_dir.join("backups"), PathBuf::from);
    let Some(text) = get("BACKUP_INTERVAL") else {
        for name in ["BACKUP_KEEP", "BACKUP_DIR"] {
            if get(name).is_some() {
                problems.push(format!(
                    "{name}: is set but BACKUP_INTERVAL is not (no scheduled backups would be taken)"
                ));
            }
        }
        return None;
    };
    let Some(interval) = parse_duration(&text).filter(|d| *d >= Duration::from_secs(1)) else {
        problems.push(format!("BACKUP_INTERVAL: `{text}` is not a duration such as 6h or 1d"));
        return None;
    };
    if *database_url == DatabaseUrl::memory() {
        problems.push("BACKUP_INTERVAL: an in-memory database cannot be backed up".into());
    }
    Some(BackupSchedule {
        interval,
        keep: keep.clamp(1, 1000),
        dir,
    })
}

/// `AWS_S3_BUCKET` and its companions: S3 storage for uploads when the bucket is set.
fn file_storage_settings(problems: &mut Vec<String>, get: &impl Fn(&str) -> Option<String>) -> FileStorage {
    let Some(bucket) = get("AWS_S3_BUCKET") else {
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"] {
            if get(name).is_some() {
                problems.push(format!("{name}: is set but AWS_S3_BUCKET is not (files would stay on local disk)"));
            }
        }
        return FileStorage::Local;
    };
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
    if !valid_bucket {
        problems.push("AWS_S3_BUCKET: must be an S3 bucket name (3–63 lowercase letters, digits, dots or hyphens)".into());
    }
    let region = get("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
    if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        problems.push("AWS_REGION: must be a region name such as eu-west-1".into());
    }
    let (access_key_id, secret_access_key) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"));
    if access_key_id.is_some() != secret_access_key.is_some() {
        problems.push("AWS_ACCESS_KEY_ID: and AWS_SECRET_ACCESS_KEY must be set together (or neither, to use the instance's role)".into());
    }
    let endpoint = get("AWS_ENDPOINT_URL").map(|e| e.trim_end_matches('/').to_owned());
    if endpoint
        .as_deref()
        .is_some_and(|e| !(e.starts_with("http://") || e.starts_with("https://")) || e.len() < "http://x".len())
    {
        problems.push("AWS_ENDPOINT_URL: must be an http:// or https:// URL".into());
    }
    FileStorage::S3(S3Config {
        bucket,
        region,
        access_key_id,
        secret_access_key: secret_access_key.map(Secret::new),
        endpoint,
    })
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

/// `SMTP_URL` (or SendGrid's relay from `SENDGRID_API_KEY`), `EMAIL_FROM`, `EMAIL_FROM_NAME` and
/// the outbox worker's `MAIL_POLL_INTERVAL_MS`, `MAIL_MAX_ATTEMPTS`, `MAIL_RETRY_BASE_MS`.
/// Problems never repeat the SMTP URL or the key.
fn mail_settings(problems: &mut Vec<String>, get: &impl Fn(&str) -> Option<String>) -> MailConfig {
    let defaults = MailConfig::default();
    let smtp_url = match (get("SMTP_URL"), get("SENDGRID_API_KEY")) {
        // An explicit SMTP server wins over the SendGrid shortcut.
        (Some(url), _) => match kalavpp_core::mail::check_smtp_url(&url) {
            Ok(()) => Some(Secret::new(url)),
            Err(why) => {
                problems.push(format!("SMTP_URL: {why}"));
                None
            }
        },
        (None, Some(key)) if is_placeholder(&key) => {
            problems.push("SENDGRID_API_KEY: is still a placeholder value; set your SendGrid API key or remove the variable".into());
            None
        }
        (None, Some(key)) => Some(Secret::new(kalavpp_core::mail::sendgrid_smtp_url(&key))),
        (None, None) => None,
    };
    let from_address = get("EMAIL_FROM").unwrap_or_else(|| DEFAULT_EMAIL_FROM.into());
    if let Err(why) = kalavpp_core::mail::check_email_address(&from_address) {
        problems.push(format!("EMAIL_FROM: `{from_address}` is not an email address ({why})"));
    }
    let from_name = get("EMAIL_FROM_NAME").unwrap_or(defaults.from_name);
    if from_name.chars().any(char::is_control) || from_name.chars().count() > 100 {
        problems.push("EMAIL_FROM_NAME: must be one line of at most 100 characters".into());
    }
    let poll_ms = number(problems, "MAIL_POLL_INTERVAL_MS", get("MAIL_POLL_INTERVAL_MS"), 1000u64);
    if !(1..=3_600_000).contains(&poll_ms) {
        problems.push("MAIL_POLL_INTERVAL_MS: must be between 1 and 3600000".into());
    }
    let max_attempts = number(problems, "MAIL_MAX_ATTEMPTS", get("MAIL_MAX_ATTEMPTS"), defaults.max_attempts);
    if !(1..=100).contains(&max_attempts) {
        problems.push("MAIL_MAX_ATTEMPTS: must be between 1 and 100".into());
    }
    let retry_base_ms = number(problems, "MAIL_RETRY_BASE_MS", get("MAIL_RETRY_BASE_MS"), 30_000u64);
    if !(1..=86_400_000).contains(&retry_base_ms) {
        problems.push("MAIL_RETRY_BASE_MS: must be between 1 and 86400000".into());
    }
    MailConfig {
        smtp_url,
        from_address,
        from_name,
        poll_interval: Duration::from_millis(poll_ms.clamp(1, 3_600_000)),
        max_attempts: max_attempts.clamp(1, 100),
        retry_base: Duration::from_millis(retry_base_ms.clamp(1, 86_400_000)),
    }
}

fn number<T: std::str::FromStr + Copy>(problems: &mut Vec<String>, name: &str, value: Option<String>, default: T) -> T {
    match value {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            problems.push(format!("{name}: `{text}` is not a valid number"));
            default
        }),
    }
}

fn flag(problems: &mut Vec<String>, name: &str, value: Option<String>) -> bool {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => false,
        Some("true" | "1" | "yes" | "on") => true,
        Some(other) => {
            problems.push(format!("{name}: `{other}` is not true or false"));
            false
        }
    }
}

/// Parses `15m`, `7d`, `12h`, `30s`, `500ms` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => return (n > 0).then(|| Duration::from_millis(n)),
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

fn duration(problems: &mut Vec<String>, name: &str, value: Option<String>, default: Duration) -> Duration {
    match value {
        None => default,
        Some(text) => parse_duration(&text).unwrap_or_else(|| {
            problems.push(format!("{name}: `{text}` is not a duration such as 15m, 12h or 7d"));
            default
        }),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_mins(15)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_hours(7 * 24)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("ten"), None);
    }

    #[test]
    fn backup_schedule_settings() {
        let dev = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("JWT_SECRET", "a".repeat(40)),
                ("JWT_REFRESH_SECRET", "b".repeat(40)),
                ("KALAVPP_DATA_DIR", "/srv/kv".into()),
            ];
            pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
            load(&pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(), false)
        };
        assert_eq!(dev(&[]).unwrap().backups, None);
        let schedule = dev(&[("BACKUP_INTERVAL", "6h")]).unwrap().backups.unwrap();
        assert_eq!(
            schedule,
            BackupSchedule {
                interval: Duration::from_hours(6),
                keep: DEFAULT_BACKUP_KEEP,
                dir: PathBuf::from("/srv/kv/backups")
            }
        );
        let custom = dev(&[("BACKUP_INTERVAL", "1d"), ("BACKUP_KEEP", "3"), ("BACKUP_DIR", "/var/backups/kv")]).unwrap();
        assert_eq!(
            custom.backups.as_ref().map(|b| (b.keep, b.dir.clone())),
            Some((3, PathBuf::from("/var/backups/kv")))
        );
        for (extra, name) in [
            (&[("BACKUP_INTERVAL", "often")][..], "BACKUP_INTERVAL"),
            (&[("BACKUP_INTERVAL", "1d"), ("BACKUP_KEEP", "0")][..], "BACKUP_KEEP"),
            (&[("BACKUP_KEEP", "3")][..], "BACKUP_KEEP"),
            (&[("BACKUP_DIR", "/tmp/b")][..], "BACKUP_DIR"),
            (
                &[("BACKUP_INTERVAL", "1h"), ("DATABASE_URL", "sqlite::memory:")][..],
                "BACKUP_INTERVAL",
            ),
        ] {
            let problems = dev(extra).unwrap_err();
            assert!(problems.iter().any(|p| p.starts_with(name)), "{extra:?}: {problems:?}");
        }
    }

    #[test]
    fn production_lists_every_problem() {
        let problems = load(
            &vars(&[
                ("NODE_ENV", "production"),
                ("JWT_SECRET", "CHANGE-TO-STRONG-RANDOM-STRING-64-CHARS"),
            ]),
            true,
        )
        .unwrap_err();
        let text = problems.join("\n");
        for name in ["JWT_SECRET", "JWT_REFRESH_SECRET", "CORS_ORIGIN", "BACKEND_URL"] {
            assert!(problems.iter().any(|p| p.starts_with(name)), "{name} missing from {text}");
        }
    }

    #[test]
    fn production_accepts_strong_settings() {
        let settings = load(
            &vars(&[
                ("KALAVPP_ENV", "production"),
                ("JWT_SECRET", &"a".repeat(40)),
                ("JWT_REFRESH_SECRET", &"b".repeat(40)),
                ("CORS_ORIGIN", "https://shop.example.com, https://admin.example.com"),
                ("BACKEND_URL", "https://api.example.com"),
                ("STRIPE_SECRET_KEY", "sk_test_abcdefghijklmnopqrstuvwxyz"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_abcdefghijklmnopqrstuvwxyz"),
                ("METRICS_TOKEN", "metrics-token-0123456789"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(settings.cors_origins, vec!["https://shop.example.com", "https://admin.example.com"]);
        assert_eq!(settings.rate_limit_max, 100);
        assert_eq!(settings.auth_rate_limit_max, 20);
    }

    fn dev(pairs: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
        let mut all = vec![("JWT_SECRET", "a".repeat(40)), ("JWT_REFRESH_SECRET", "b".repeat(40))];
        all.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
        load(&all.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(), false)
    }

    #[test]
    fn mail_defaults_log_only() {
        let mail = dev(&[]).unwrap().core.mail;
        assert_eq!(mail, MailConfig::default());
        assert!(mail.smtp_url.is_none());
        assert_eq!(
            (mail.from_address.as_str(), mail.from_name.as_str()),
            ("no-reply@localhost", "KALAVPP")
        );
        assert_eq!(mail.poll_interval, Duration::from_secs(1));
    }

    #[test]
    fn mail_settings_are_read() {
        let mail = dev(&[
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
            ("SENDGRID_API_KEY", "SG.ignored-when-smtp-url-is-set"),
            ("EMAIL_FROM", "shop@example.com"),
            ("EMAIL_FROM_NAME", "Art Shop"),
            ("MAIL_POLL_INTERVAL_MS", "50"),
            ("MAIL_MAX_ATTEMPTS", "3"),
            ("MAIL_RETRY_BASE_MS", "20"),
        ])
        .unwrap()
        .core
        .mail;
        assert_eq!(mail.smtp_url.as_ref().map(Secret::expose), Some("smtp://127.0.0.1:2525"));
        assert_eq!(
            (mail.from_address.as_str(), mail.from_name.as_str()),
            ("shop@example.com", "Art Shop")
        );
        assert_eq!(
            (mail.poll_interval, mail.max_attempts, mail.retry_base),
            (Duration::from_millis(50), 3, Duration::from_millis(20))
        );

        let sendgrid = dev(&[("SENDGRID_API_KEY", "SG.abc.def")]).unwrap();
        let url = sendgrid.core.mail.smtp_url.clone().unwrap();
        assert_eq!(url.expose(), "smtps://apikey:SG.abc.def@smtp.sendgrid.net:465");
        assert!(!format!("{sendgrid:?}").contains("SG.abc.def"), "the key never shows in Debug");
    }

    #[test]
    fn bad_mail_settings_are_each_reported_without_secrets() {
        let problems = dev(&[
            ("SMTP_URL", "http://user:hunter2@mail.example.com"),
            ("EMAIL_FROM", "not an address"),
            ("EMAIL_FROM_NAME", "Two\nlines"),
            ("MAIL_POLL_INTERVAL_MS", "0"),
            ("MAIL_MAX_ATTEMPTS", "many"),
            ("MAIL_RETRY_BASE_MS", "-5"),
        ])
        .unwrap_err();
        for name in [
            "SMTP_URL",
            "EMAIL_FROM:",
            "EMAIL_FROM_NAME",
            "MAIL_POLL_INTERVAL_MS",
            "MAIL_MAX_ATTEMPTS",
            "MAIL_RETRY_BASE_MS",
        ] {
            assert!(problems.iter().any(|p| p.starts_with(name)), "{name} missing from {problems:?}");
        }
        assert!(!problems.join("\n").contains("hunter2"), "{problems:?}");
        let placeholder = dev(&[("SENDGRID_API_KEY", "your_sendgrid_api_key")]).unwrap_err();
        assert!(placeholder[0].starts_with("SENDGRID_API_KEY"), "{placeholder:?}");
        assert!(!placeholder[0].contains("your_sendgrid_api_key"));
    }

    #[test]
    fn production_without_smtp_still_starts_but_a_localhost_sender_with_smtp_does_not() {
        let strong = [
            ("KALAVPP_ENV", "production"),
            ("CORS_ORIGIN", "https://shop.example.com"),
            ("BACKEND_URL", "https://api.example.com"),
            ("STRIPE_SECRET_KEY", "sk_test_abcdefghijklmnopqrstuvwxyz"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abcdefghijklmnopqrstuvwxyz"),
            ("METRICS_TOKEN", "metrics-token-0123456789"),
        ];
        assert!(dev(&strong).is_ok(), "mail only logged is allowed (with a warning at start)");
        let mut with_smtp = strong.to_vec();
        with_smtp.push(("SMTP_URL", "smtps://u:p@smtp.example.com"));
        let problems = dev(&with_smtp).unwrap_err();
        assert!(problems.iter().any(|p| p.starts_with("EMAIL_FROM")), "{problems:?}");
        with_smtp.push(("EMAIL_FROM", "shop@example.com"));
        assert!(dev(&with_smtp).is_ok());
    }

    #[test]
    fn bad_numbers_are_reported() {
        let problems = load(
            &vars(&[
                ("PORT", "http"),
                ("JWT_SECRET", &"a".repeat(40)),
                ("JWT_REFRESH_SECRET", &"b".repeat(40)),
            ]),
            false,
        )
        .unwrap_err();
        assert!(problems[0].starts_with("PORT"));
    }

    #[test]
    fn production_needs_a_metrics_token_and_stripe_sessions_last_at_least_30_minutes() {
        let strong = [
            ("KALAVPP_ENV", "production"),
            ("CORS_ORIGIN", "https://shop.example.com"),
            ("BACKEND_URL", "https://api.example.com"),
            ("STRIPE_SECRET_KEY", "sk_test_abcdefghijklmnopqrstuvwxyz"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abcdefghijklmnopqrstuvwxyz"),
            ("CHECKOUT_EXPIRY_MINUTES", "10"),
        ];
        let problems = dev(&strong).unwrap_err();
        assert!(problems.iter().any(|p| p.starts_with("METRICS_TOKEN")), "{problems:?}");
        let mut with_token = strong.to_vec();
        with_token.push(("METRICS_TOKEN", "metrics-token-0123456789"));
        let settings = dev(&with_token).unwrap();
        assert_eq!(settings.core.checkout_ttl, Duration::from_mins(31));
        assert!(
            settings.notes.iter().any(|n| n.starts_with("CHECKOUT_EXPIRY_MINUTES")),
            "{:?}",
            settings.notes
        );
        // The development provider keeps short reservations as asked.
        let short = dev(&[("CHECKOUT_EXPIRY_MINUTES", "10")]).unwrap();
        assert_eq!(short.core.checkout_ttl, Duration::from_mins(10));
        assert!(short.notes.is_empty());
        assert_eq!(short.core.max_unpaid_orders, 5);
        assert_eq!(dev(&[("MAX_UNPAID_ORDERS", "0")]).unwrap().core.max_unpaid_orders, 0);
        assert!(dev(&[("MAX_UNPAID_ORDERS", "lots")]).is_err());
    }

    #[test]
    fn database_urls_are_parsed_once_with_one_clear_problem() {
        assert_eq!(
            dev(&[]).unwrap().core.database_url,
            DatabaseUrl::sqlite_file(PathBuf::from("./data").join("kalavpp.db"))
        );
        assert_eq!(
            dev(&[("DATABASE_URL", "sqlite:shop.db")]).unwrap().core.database_url,
            DatabaseUrl::sqlite_file("shop.db")
        );
        assert!(
            dev(&[("DATABASE_URL", "postgresql://shop@db/kalavpp?sslmode=require")])
                .unwrap()
                .core
                .database_url
                .is_postgres()
        );
        for refused in [
            "mysql://root:hunter2@db/shop",
            "sqlite://",
            "shop.db",
            "postgres://shop:hunter2@db/kalavpp?port=x",
        ] {
            let problems = dev(&[("DATABASE_URL", refused)]).unwrap_err();
            let problem = problems
                .iter()
                .find(|p| p.starts_with("DATABASE_URL: "))
                .unwrap_or_else(|| panic!("{refused}: {problems:?}"));
            assert!(!problem.contains("hunter2"), "{problem}");
        }
    }

    #[test]
    fn the_database_password_never_shows() {
        let settings = dev(&[("DATABASE_URL", "postgres://shop:hunter2@db.internal:5432/kalavpp")]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert!(!format!("{:?}", settings.core).contains("hunter2"));
        match &settings.core.database_url {
            DatabaseUrl::Postgres(url) => assert_eq!(url.expose(), "postgres://shop:hunter2@db.internal:5432/kalavpp"),
            other @ DatabaseUrl::Sqlite(_) => panic!("{other:?}"),
        }
    }
}
