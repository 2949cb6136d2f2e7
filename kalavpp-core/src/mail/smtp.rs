//! [`SmtpMailer`]: lettre's async SMTP transport (rustls with aws-lc-rs, webpki roots, pooled
//! connections) sending `multipart/alternative` text + HTML messages.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{MailError, Mailer, OutgoingEmail};

/// How long one SMTP command may take before the attempt counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends through an SMTP server named by a URL:
///
/// - `smtps://user:pass@host:465` — TLS from the first byte (recommended; SendGrid uses this);
/// - `smtp://user:pass@host:587?tls=required` — STARTTLS required;
/// - `smtp://host:25` — plain text (a relay on the same machine, tests).
///
/// User and password must be percent-encoded. `Debug` and [`Mailer::describe`] show only scheme,
/// host and port.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    endpoint: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the mailer (no connection is made yet). Must be called inside a Tokio runtime: the
    /// connection pool starts a clean-up task.
    pub fn from_url(url: &str) -> Result<Self, MailError> {
        check_smtp_url(url).map_err(MailError::Config)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(e.to_string()))?
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(4).idle_timeout(Duration::from_mins(1)))
            .build();
        Ok(Self {
            transport,
            endpoint: endpoint_of(url),
        })
    }

    /// The message as lettre builds it (headers, `multipart/alternative` body, envelope).
    pub fn build_message(message: &OutgoingEmail) -> Result<Message, MailError> {
        let from_address: Address = message
            .from_address
            .parse()
            .map_err(|e| MailError::Invalid(format!("sender address `{}`: {e}", message.from_address)))?;
        let to: Address = message
            .to
            .parse()
            .map_err(|e| MailError::Invalid(format!("recipient address `{}`: {e}", message.to)))?;
        let from_name = Some(message.from_name.trim().to_owned()).filter(|n| !n.is_empty());
        // The outbox id makes the Message-ID, so a message re-sent after a crash is recognisable.
        let message_id = format!("<{}@{}>", message.id, from_address.domain());
        let builder = Message::builder()
            .from(Mailbox::new(from_name, from_address))
            .to(Mailbox::new(None, to))
            .subject(message.subject.clone())
            .message_id(Some(message_id));
        let built = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(message.text.clone())),
        };
        built.map_err(|e| MailError::Invalid(e.to_string()))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &OutgoingEmail) -> Result<(), MailError> {
        let built = Self::build_message(message)?;
        self.transport
            .send(built)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Delivery(e.to_string()))
    }

    fn describe(&self) -> String {
        self.endpoint.clone()
    }
}

/// Checks that `url` is an SMTP URL lettre accepts (`smtp://` or `smtps://`, a host, a known
/// `tls=` value). The error never repeats the URL, which may hold a password.
pub fn check_smtp_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err("must start with smtp:// or smtps://".into());
    }
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| format!("is not a usable SMTP URL ({e})"))
}

/// Checks that `address` is a mailbox address lettre can send from or to (`local@domain`).
pub fn check_email_address(address: &str) -> Result<(), String> {
    address.parse::<Address>().map(|_| ()).map_err(|e| e.to_string())
}

/// SendGrid's SMTP relay for an API key: `smtps://apikey:<key>@smtp.sendgrid.net:465`.
pub fn sendgrid_smtp_url(api_key: &str) -> String {
    format!("smtps://apikey:{}@smtp.sendgrid.net:465", percent_encode(api_key))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for URL user info).
fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `scheme://host:port` of an SMTP URL, without user info, path or query.
fn endpoint_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
    // Cut the user info at the last `@` first: a password may hold a (mis-encoded) `/`.
    let after_credentials = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = after_credentials.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailId;

    fn outgoing(html: Option<&str>) -> OutgoingEmail {
        OutgoingEmail {
            id: EmailId::new(),
            from_address: "shop@example.com".into(),
            from_name: "KALAVPP Shop".into(),
            to: "ann@example.com".into(),
            subject: "Grüße".into(),
            text: "Hello Ann\n".into(),
            html: html.map(Into::into),
        }
    }

    #[test]
    fn urls_are_checked_without_echoing_them() {
        assert!(check_smtp_url("smtp://127.0.0.1:2525").is_ok());
        assert!(check_smtp_url("smtps://user:pa%2Fss@smtp.example.com:465").is_ok());
        assert!(check_smtp_url("smtp://mail.example.com:587?tls=required").is_ok());
        let bad = check_smtp_url("https://user:hunter2@example.com").unwrap_err();
        assert!(!bad.contains("hunter2"), "{bad}");
        let bad = check_smtp_url("smtp://user:hunter2@mail.example.com?tls=sometimes").unwrap_err();
        assert!(!bad.contains("hunter2"), "{bad}");
        assert!(check_smtp_url("smtp://").is_err());
    }

    #[test]
    fn addresses_are_checked() {
        assert!(check_email_address("no-reply@localhost").is_ok());
        assert!(check_email_address("shop@example.com").is_ok());
        assert!(check_email_address("shop").is_err());
        assert!(check_email_address("a b@example.com").is_err());
    }

    #[test]
    fn sendgrid_url_carries_the_key_as_password() {
        let url = sendgrid_smtp_url("SG.abc_DEF-1.x/y+z=");
        assert_eq!(url, "smtps://apikey:SG.abc_DEF-1.x%2Fy%2Bz%3D@smtp.sendgrid.net:465");
        assert!(check_smtp_url(&url).is_ok());
        assert_eq!(endpoint_of(&url), "smtps://smtp.sendgrid.net:465");
        // A password with an unencoded `/` must not leak into the description either.
        assert_eq!(
            endpoint_of("smtps://user:12/34@mail.example.com:465"),
            "smtps://mail.example.com:465"
        );
    }

    #[tokio::test]
    async fn debug_and_describe_hide_credentials() {
        let mailer = SmtpMailer::from_url("smtps://apikey:SG.secret@smtp.sendgrid.net:465").unwrap();
        assert_eq!(mailer.describe(), "smtps://smtp.sendgrid.net:465");
        assert!(!format!("{mailer:?}").contains("secret"));
    }

    #[test]
    fn messages_are_multipart_alternative_with_the_sender_name() {
        let built = SmtpMailer::build_message(&outgoing(Some("<p>Hello Ann</p>"))).unwrap();
        let raw = String::from_utf8(built.formatted()).unwrap();
        assert!(raw.contains("From: \"KALAVPP Shop\" <shop@example.com>"), "{raw}");
        assert!(raw.contains("To: ann@example.com"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert_eq!(built.envelope().to().len(), 1);

        let plain = SmtpMailer::build_message(&outgoing(None)).unwrap();
        let raw = String::from_utf8(plain.formatted()).unwrap();
        assert!(!raw.contains("multipart"), "{raw}");
    }

    #[test]
    fn bad_recipients_are_permanent_errors() {
        let message = OutgoingEmail {
            to: "not an address".into(),
            ..outgoing(None)
        };
        let err = SmtpMailer::build_message(&message).unwrap_err();
        assert!(err.is_permanent(), "{err}");
    }
}
