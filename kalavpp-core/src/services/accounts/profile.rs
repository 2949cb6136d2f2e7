//! The signed-in user's own account: reading it and changing name, email or password.

use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Password, User, UserName, now};
use crate::error::{Error, Result, Violations};
use crate::storage::PasswordChange;

use super::Accounts;

/// Changes a user makes to their own account.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    /// New display name.
    pub name: Option<String>,
    /// The current password, required to set a new one.
    pub current_password: Option<String>,
    /// The new password.
    pub new_password: Option<String>,
}

impl Accounts<'_> {
    /// The signed-in user's account.
    #[instrument(skip_all)]
    pub async fn me(&self, actor: &Actor) -> Result<User> {
        let id = actor.require_user()?;
        self.inner
            .store
            .user_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("user_not_found", "account not found"))
    }

    /// Renames the account and/or changes its password (which needs the current one and signs
    /// out every other session).
    #[instrument(skip_all)]
    pub async fn update_me(&self, actor: &Actor, changes: ProfileChanges) -> Result<User> {
        let id = actor.require_user()?;
        let session = match actor {
            Actor::User { session, .. } => *session,
            _ => None,
        };
        let mut violations = Violations::new();
        let name = changes.name.as_deref().and_then(|n| violations.check("name", UserName::parse(n)));
        let new_password = changes
            .new_password
            .as_deref()
            .and_then(|p| violations.check("new_password", Password::parse(p)));
        if changes.new_password.is_some() && changes.current_password.is_none() {
            violations.add("current_password", "is required to change the password");
        }
        violations.finish()?;
        if let Some(new_password) = new_password {
            let credentials = self
                .inner
                .store
                .credentials_by_id(id)
                .await?
                .ok_or_else(|| Error::not_found("user_not_found", "account not found"))?;
            let current = changes.current_password.as_deref().unwrap_or_default();
            if !self.inner.hasher.verify(current, Some(&credentials.password_hash)).await? {
                return Err(Error::invalid("current_password", "is incorrect"));
            }
            let password_hash = self.inner.hasher.hash(&new_password).await?;
            self.inner
                .store
                .change_password(PasswordChange {
                    user_id: id,
                    password_hash,
                    keep_session: session,
                    at: now(),
                })
                .await?;
        }
        match name {
            Some(name) => Ok(self.inner.store.update_user_name(id, &name, now()).await?),
            None => self.me(actor).await,
        }
    }
}
