//! The text of the emails the account flows queue in the outbox.

use crate::domain::{EmailId, now};
use crate::storage::NewEmail;

/// Template name of the password-reset email; its body holds a one-time token.
pub const PASSWORD_RESET: &str = "password_reset";

/// The password-reset email with its link.
pub fn password_reset(recipient: &str, name: &str, frontend_url: &str, token: &str) -> NewEmail {
    let link = format!("{}/reset-password?token={token}", frontend_url.trim_end_matches('/'));
    NewEmail {
        id: EmailId::new(),
        recipient: recipient.to_owned(),
        template: PASSWORD_RESET.into(),
        subject: "Reset your KALAVPP password".into(),
        body_text: format!(
            "Hello {name},\n\nSomeone asked to reset the password of your KALAVPP account.\n\
             Open this link within one hour to choose a new one:\n\n{link}\n\n\
             Reset token: {token}\n\nIf it wasn't you, ignore this email; your password stays as it is.\n"
        ),
        body_html: None,
        created_at: now(),
    }
}
