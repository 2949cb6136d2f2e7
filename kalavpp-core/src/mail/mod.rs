//! Email delivery (DESIGN.md, rule 6): services write messages to the outbox in the same
//! transaction as the change that causes them; an [`OutboxWorker`] claims due messages, hands them
//! to a [`Mailer`] and records the outcome, retrying with exponential backoff.
//!
//! Mailers: `SmtpMailer` (cargo feature `smtp`: lettre over rustls; `SMTP_URL`, or SendGrid's
//! SMTP relay from `SENDGRID_API_KEY`) and [`LogMailer`] (development default: logs recipient and
//! subject, never the body). An embedder may bring its own [`Mailer`].

#[cfg(feature = "smtp")]
mod smtp;
pub(crate) mod templates;
mod worker;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::MailConfig;
use crate::domain::EmailId;

#[cfg(feature = "smtp")]
pub use smtp::{SmtpMailer, check_email_address, check_smtp_url, sendgrid_smtp_url};
pub use worker::{DeliveryReport, OutboxPolicy, OutboxWorker};

/// One message ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Outbox id (for logs; mailers may ignore it).
    pub id: EmailId,
    /// Sender address (`EMAIL_FROM`).
    pub from_address: String,
    /// Sender display name (`EMAIL_FROM_NAME`).
    pub from_name: String,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body; when present the message is `multipart/alternative` (text + HTML).
    pub html: Option<String>,
}

impl std::fmt::Debug for OutgoingEmail {
    /// Leaves the bodies out: they may hold one-time tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("id", &self.id)
            .field("from_address", &self.from_address)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The message cannot be built (e.g. an invalid address); retrying cannot help, so the worker
    /// marks it `failed` at once.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Delivery failed (connection, TLS, authentication, or a 4xx/5xx reply); the worker retries.
    #[error("{0}")]
    Delivery(String),
    /// The mailer is misconfigured (e.g. a malformed `SMTP_URL`).
    #[error("mail configuration: {0}")]
    Config(String),
}

impl MailError {
    /// Whether retrying the same message can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Invalid(_))
    }
}

/// Sends one message. Implementations must be cheap to share between tasks.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `message`; `Ok` once the receiving server (or sink) accepted it.
    async fn send(&self, message: &OutgoingEmail) -> Result<(), MailError>;
    /// A short description for logs (`smtp://host:port`, `log`), never holding credentials.
    fn describe(&self) -> String;
}

/// Delivers nowhere: logs the recipient and subject (never the body, which may hold a reset
/// token) and reports success. The development default when no SMTP server is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, message: &OutgoingEmail) -> Result<(), MailError> {
        tracing::info!(
            email_id = %message.id,
            to = %message.to,
            subject = %message.subject,
            "email logged, not sent (no SMTP_URL or SENDGRID_API_KEY configured)"
        );
        Ok(())
    }

    fn describe(&self) -> String {
        "log".into()
    }
}

/// The mailer `config` selects: `SmtpMailer` when an SMTP URL is set, otherwise [`LogMailer`].
/// Must be called inside a Tokio runtime (the SMTP connection pool starts a task). Without the
/// `smtp` feature an SMTP URL is refused with [`MailError::Config`].
pub fn mailer_for(config: &MailConfig) -> Result<Arc<dyn Mailer>, MailError> {
    match &config.smtp_url {
        #[cfg(feature = "smtp")]
        Some(url) => Ok(Arc::new(SmtpMailer::from_url(url.expose())?)),
        #[cfg(not(feature = "smtp"))]
        Some(_) => Err(MailError::Config(
            "SMTP_URL: this build has no SMTP support; enable the `smtp` feature of kalavpp-core".into(),
        )),
        None => Ok(Arc::new(LogMailer)),
    }
}

#[cfg(all(test, not(feature = "smtp")))]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn an_smtp_url_without_the_feature_is_a_clear_error() {
        let mut config = MailConfig::default();
        assert_eq!(mailer_for(&config).expect("log mailer").describe(), "log");
        config.smtp_url = Some(Secret::new("smtps://user:hunter2@smtp.example.com:465"));
        let err = mailer_for(&config).err().expect("refused");
        let shown = err.to_string();
        assert!(shown.contains("enable the `smtp` feature"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
