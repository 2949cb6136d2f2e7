//! Signing up: new customers, and admins created by the operator.

use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Email, Password, Role, User, UserId, UserName, now};
use crate::error::{Error, Result, Violations};
use crate::storage::Conflict;
use crate::storage::{NewUser, StoreError};

use crate::services::emails;

use super::Accounts;
use super::sessions::{AuthSession, SessionKind};

/// What a new customer sends to sign up.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Email address (case-insensitive, unique).
    pub email: String,
    /// Password, 8 to 128 characters.
    pub password: String,
    /// Display name.
    pub name: String,
}

impl Accounts<'_> {
    /// Signs up a new customer and signs them in; the welcome email is queued in the same
    /// transaction as the account. `Conflict(email_taken)` for a known email.
    #[instrument(skip_all)]
    pub async fn register(&self, registration: Registration) -> Result<AuthSession> {
        let user = self
            .create_user(
                &registration.email,
                &registration.password,
                &registration.name,
                Role::Customer,
                true,
            )
            .await?;
        self.start_session(user, SessionKind::Standard).await
    }

    /// Creates an administrator (CLI and embedders: requires [`Actor::System`]).
    #[instrument(skip_all)]
    pub async fn create_admin(&self, actor: &Actor, email: &str, password: &str, name: &str) -> Result<User> {
        if *actor != Actor::System {
            return Err(Error::forbidden("system_only", "only the operator may create administrators"));
        }
        self.create_user(email, password, name, Role::Admin, false).await
    }

    /// Validates and stores a new account, with its welcome email when `welcome` is set.
    async fn create_user(&self, email: &str, password: &str, name: &str, role: Role, welcome: bool) -> Result<User> {
        let mut violations = Violations::new();
        let email = violations.check("email", Email::parse(email));
        let password = violations.check("password", Password::parse(password));
        let name = violations.check("name", UserName::parse(name));
        violations.finish()?;
        let (Some(email), Some(password), Some(name)) = (email, password, name) else {
            return Err(Error::Internal("validation inconsistency".into()));
        };
        let password_hash = self.inner.hasher.hash(&password).await?;
        let welcome_email = welcome.then(|| emails::welcome(email.as_str(), name.as_str(), &self.inner.config.frontend_url));
        let new_user = NewUser {
            id: UserId::new(),
            email,
            name,
            password_hash,
            role,
            created_at: now(),
            welcome_email,
        };
        self.inner.store.insert_user(new_user).await.map_err(|err| match err {
            StoreError::Conflict(Conflict::EmailTaken) => Error::conflict("email_taken", "an account with this email already exists"),
            other => other.into(),
        })
    }
}
