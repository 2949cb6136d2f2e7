//! `GET /admin/settings`: the running configuration, read-only. Secrets (JWT keys, Stripe keys,
//! the SMTP URL, which may carry a password, the metrics token) are never shown — only whether
//! they are set — and the database URL is shown with its password masked.

use std::time::Duration;

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::config::{Config, HashCost, Mode, redact_url_password};

use super::products::chrome;
use super::{Chrome, PanelAdmin, PanelResult, query_map, render};
use crate::app::AppState;
use crate::settings::Settings;

/// What a secret looks like on the page.
const MASK: &str = "•••••• (set)";
const NOT_SET: &str = "not set";

/// One setting: what it is, the variable that sets it and its (safe to show) value.
struct Row {
    name: &'static str,
    var: &'static str,
    value: String,
}

/// A group of settings under a heading.
struct Section {
    title: &'static str,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    backend: &'static str,
    sections: Vec<Section>,
    notes: Vec<String>,
}

fn row(name: &'static str, var: &'static str, value: impl Into<String>) -> Row {
    Row {
        name,
        var,
        value: value.into(),
    }
}

fn secret(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => MASK.to_owned(),
        _ => NOT_SET.to_owned(),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// A duration in the largest unit that divides it (`30 min`, `8 h`, `7 days`, `1500 ms`).
fn span(d: Duration) -> String {
    let ms = d.as_millis();
    let secs = d.as_secs();
    if !ms.is_multiple_of(1000) || secs == 0 {
        format!("{ms} ms")
    } else if secs.is_multiple_of(86_400) {
        let days = secs / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

/// `scheme://host[:port]` of a server URL, without user, password, path or query.
fn server_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(set)".to_owned();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}")
}

/// Whether a server URL carries a user (and maybe a password) before its host.
fn has_credentials(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .is_some_and(|authority| authority.contains('@'))
}

/// The configuration as rows; never a secret value.
fn sections(settings: &Settings, core: &Config) -> Vec<Section> {
    let tokens = &core.tokens;
    let mail = &core.mail;
    let stripe = core.stripe.as_ref();
    vec![
        Section {
            title: "Server",
            rows: vec![
                row(
                    "Mode",
                    "KALAVPP_ENV",
                    match core.mode {
                        Mode::Production => "production",
                        Mode::Development => "development",
                    },
                ),
                row("Address", "HOST / PORT", format!("{}:{}", settings.host, settings.port)),
                row("Public URL", "BACKEND_URL", core.backend_url.clone()),
                row("Links in emails", "FRONTEND_URL", core.frontend_url.clone()),
                row("Storefront at /", "STOREFRONT", yes_no(settings.storefront)),
                row("Allowed CORS origins", "CORS_ORIGIN", settings.cors_origins.join(", ")),
                row("Client IP from X-Forwarded-For", "TRUST_PROXY", yes_no(settings.trust_proxy)),
                row("Rate-limit window", "RATE_LIMIT_WINDOW_MS", span(settings.rate_limit_window)),
                row(
                    "Requests per window and IP",
                    "RATE_LIMIT_MAX_REQUESTS",
                    settings.rate_limit_max.to_string(),
                ),
                row(
                    "Sign-in requests per window and IP",
                    "AUTH_RATE_LIMIT_MAX_REQUESTS",
                    settings.auth_rate_limit_max.to_string(),
                ),
                row("Metrics token", "METRICS_TOKEN", secret(settings.metrics_token.as_deref())),
                row("Data directory", "KALAVPP_DATA_DIR", core.data_dir.display().to_string()),
                row("Cache budget", "CACHE_MAX_BYTES", bytes(core.cache_max_bytes)),
            ],
        },
        Section {
            title: "Database",
            rows: vec![
                row("Database URL", "DATABASE_URL", core.database_url.redacted()),
                row("SQLite read connections", "", core.sqlite_readers.to_string()),
                row("PostgreSQL connections", "", core.postgres_max_connections.to_string()),
            ],
        },
        Section {
            title: "Sign-in and sessions",
            rows: vec![
                row("Access-token key", "JWT_SECRET", secret(Some(tokens.access_secret.expose()))),
                row(
                    "Refresh-token key",
                    "JWT_REFRESH_SECRET",
                    secret(Some(tokens.refresh_secret.expose())),
                ),
                row("Keys generated in the data directory", "", yes_no(settings.generated_secrets)),
                row("Access-token lifetime", "JWT_ACCESS_EXPIRATION", span(tokens.access_ttl)),
                row("Login session lifetime", "JWT_REFRESH_EXPIRATION", span(tokens.refresh_ttl)),
                row("Admin panel idle timeout", "", span(core.admin_idle_timeout)),
                row(
                    "Admin panel session limit",
                    "",
                    span(core.admin_session_max.min(tokens.refresh_ttl)),
                ),
                row(
                    "Password hashing",
                    "",
                    match core.hash_cost {
                        HashCost::Owasp => "Argon2id (OWASP parameters)",
                        HashCost::TestsOnly => "Argon2id (test-only parameters)",
                    },
                ),
            ],
        },
        Section {
            title: "Payments and money",
            rows: vec![
                row(
                    "Payment provider",
                    "",
                    if stripe.is_some() { "Stripe" } else { "development provider" },
                ),
                row(
                    "Stripe secret key",
                    "STRIPE_SECRET_KEY",
                    secret(stripe.map(|s| s.secret_key.expose())),
                ),
                row(
                    "Stripe webhook secret",
                    "STRIPE_WEBHOOK_SECRET",
                    secret(stripe.map(|s| s.webhook_secret.expose())),
                ),
                row(
                    "Stripe API",
                    "STRIPE_API_BASE",
                    stripe
                        .and_then(|s| s.api_base.as_deref())
                        .map_or_else(|| "Stripe".to_owned(), redact_url_password),
                ),
                row("Currency", "KALAVPP_CURRENCY", core.currency.to_uppercase()),
                row(
                    "Default commission",
                    "STRIPE_COMMISSION_RATE",
                    format!("{}.{:02} %", core.commission_bps / 100, core.commission_bps % 100),
                ),
                row("Checkout expiry", "CHECKOUT_EXPIRY_MINUTES", span(core.checkout_ttl)),
                row(
                    "Unpaid orders per customer",
                    "MAX_UNPAID_ORDERS",
                    match core.max_unpaid_orders {
                        0 => "no limit".to_owned(),
                        n => n.to_string(),
                    },
                ),
                row("Refund window", "REFUND_WINDOW_DAYS", span(core.refund_window)),
                row("Payment retry delay", "PAYMENT_RETRY_BASE_MS", span(core.payment_retry_base)),
                row("Payment action lease", "PAYMENT_LEASE_MS", span(core.payment_lease)),
                row("Largest digital file", "MAX_ASSET_BYTES", bytes(core.max_asset_bytes)),
                row("Download link lifetime", "", span(core.download_ttl)),
                row("Downloads per link", "", core.download_limit.to_string()),
            ],
        },
        Section {
            title: "Email",
            rows: vec![
                row(
                    "SMTP server",
                    "SMTP_URL / SENDGRID_API_KEY",
                    mail.smtp_url
                        .as_ref()
                        .map_or_else(|| "not set (emails are only logged)".to_owned(), |url| server_of(url.expose())),
                ),
                row(
                    "SMTP credentials",
                    "",
                    if mail.smtp_url.as_ref().is_some_and(|url| has_credentials(url.expose())) {
                        MASK
                    } else {
                        NOT_SET
                    },
                ),
                row("Sender address", "EMAIL_FROM", mail.from_address.clone()),
                row("Sender name", "EMAIL_FROM_NAME", mail.from_name.clone()),
                row("Outbox poll interval", "MAIL_POLL_INTERVAL_MS", span(mail.poll_interval)),
                row("Delivery attempts", "MAIL_MAX_ATTEMPTS", mail.max_attempts.to_string()),
                row("First retry delay", "MAIL_RETRY_BASE_MS", span(mail.retry_base)),
            ],
        },
    ]
}

/// `GET /admin/settings`.
pub async fn page(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    render(&SettingsPage {
        chrome: chrome(&admin, &query, "settings"),
        backend: if state.market.config().database_url.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        sections: sections(&state.settings, state.market.config()),
        notes: state.settings.notes.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRETS: [&str; 7] = [
        "access-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "refresh-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "sk_test_stripe-secret-key-value",
        "whsec_webhook-secret-value",
        "smtp-pass-value",
        "metrics-token-value-0123456789",
        "pg-password-value",
    ];

    fn settings() -> Settings {
        let vars: HashMap<String, String> = [
            (
                "DATABASE_URL",
                "postgres://shop:pg-password-value@db.example:5432/kalavpp?sslmode=require",
            ),
            ("JWT_SECRET", SECRETS[0]),
            ("JWT_REFRESH_SECRET", SECRETS[1]),
            ("STRIPE_SECRET_KEY", SECRETS[2]),
            ("STRIPE_WEBHOOK_SECRET", SECRETS[3]),
            ("STRIPE_API_BASE", "http://stripe-user:pg-password-value@127.0.0.1:12111"),
            ("SMTP_URL", "smtps://mailer:smtp-pass-value@smtp.example.com:465"),
            ("METRICS_TOKEN", SECRETS[5]),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        crate::settings::load(&vars, false).expect("valid settings")
    }

    #[test]
    fn no_secret_and_no_database_password_is_shown() {
        let settings = settings();
        let page = SettingsPage {
            chrome: Chrome {
                name: "Root".into(),
                csrf: "token".into(),
                done: None,
                section: "settings",
            },
            backend: "PostgreSQL",
            sections: sections(&settings, &settings.core),
            notes: settings.notes.clone(),
        };
        let html = page.render().expect("renders");
        for secret in SECRETS {
            assert!(!html.contains(secret), "{secret} shows in {html}");
        }
        assert!(html.contains("postgres://shop:***@db.example:5432/kalavpp"), "{html}");
        assert!(
            html.contains("smtps://smtp.example.com:465"),
            "the SMTP server without its credentials: {html}"
        );
        assert!(!html.contains("mailer"), "not even the SMTP user name");
        assert_eq!(html.matches(MASK).count(), 6, "every secret is masked: {html}");
    }

    #[test]
    fn spans_and_servers() {
        assert_eq!(span(Duration::from_mins(30)), "30 min");
        assert_eq!(span(Duration::from_hours(8)), "8 h");
        assert_eq!(span(Duration::from_hours(7 * 24)), "7 days");
        assert_eq!(span(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(span(Duration::from_secs(45)), "45 s");
        assert_eq!(server_of("smtp://u:p@host:25/x?y"), "smtp://host:25");
        assert_eq!(server_of("smtp://host"), "smtp://host");
        assert_eq!(server_of("garbage"), "(set)");
    }
}
