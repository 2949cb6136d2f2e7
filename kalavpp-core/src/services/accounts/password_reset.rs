//! Password resets: a one-hour token mailed on request, and the new password set with it.

use chrono::TimeDelta;
use tracing::instrument;

use crate::auth::{hash_token, random_token};
use crate::domain::{Email, Password, UserStatus, now};
use crate::error::{Error, Result, Violations};
use crate::storage::NewPasswordReset;

use crate::services::emails;

use super::Accounts;

const RESET_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);

impl Accounts<'_> {
    /// Queues a password-reset email when the address belongs to an active account. Says nothing
    /// either way, so callers cannot probe which emails exist.
    #[instrument(skip_all)]
    pub async fn forgot_password(&self, email: &str) -> Result<()> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(credentials) = self.inner.store.credentials_by_email(&email).await? else {
            return Ok(());
        };
        if credentials.user.status != UserStatus::Active {
            return Ok(());
        }
        let token = random_token(32);
        let at = now();
        let message = emails::password_reset(
            &credentials.user.email,
            &credentials.user.name,
            &self.inner.config.frontend_url,
            &token,
        );
        self.inner
            .store
            .create_password_reset(
                NewPasswordReset {
                    token_hash: hash_token(&token),
                    user_id: credentials.user.id,
                    created_at: at,
                    expires_at: at + RESET_TOKEN_LIFETIME,
                },
                message,
            )
            .await?;
        Ok(())
    }

    /// Sets a new password with a reset token (single use, one hour) and signs out every session.
    #[instrument(skip_all)]
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        let mut violations = Violations::new();
        if token.trim().is_empty() {
            violations.add("token", "is required");
        }
        let password = violations.check("new_password", Password::parse(new_password));
        violations.finish()?;
        let Some(password) = password else {
            return Err(Error::Internal("validation inconsistency".into()));
        };
        let token_hash = hash_token(token.trim());
        let invalid_token = || Error::invalid("token", "is invalid, expired or already used");
        // Unknown tokens are refused before the (deliberately expensive) hashing.
        if !self.inner.store.password_reset_is_valid(&token_hash, now()).await? {
            return Err(invalid_token());
        }
        let password_hash = self.inner.hasher.hash(&password).await?;
        match self.inner.store.consume_password_reset(&token_hash, &password_hash, now()).await? {
            Some(_) => Ok(()),
            None => Err(invalid_token()),
        }
    }
}
