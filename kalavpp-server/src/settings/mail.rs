//! Outgoing mail: `SMTP_URL`, `EMAIL_FROM` and the mail worker's settings.

use std::time::Duration;

use kalavpp_core::config::{DEFAULT_EMAIL_FROM, MailConfig, Secret, is_placeholder};

use super::values::number;

/// `SMTP_URL` (or SendGrid's relay from `SENDGRID_API_KEY`), `EMAIL_FROM`, `EMAIL_FROM_NAME` and
/// the outbox worker's `MAIL_POLL_INTERVAL_MS`, `MAIL_MAX_ATTEMPTS`, `MAIL_RETRY_BASE_MS`.
/// Problems never repeat the SMTP URL or the key.
pub(super) fn mail_settings(problems: &mut Vec<String>, get: &impl Fn(&str) -> Option<String>) -> MailConfig {
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
