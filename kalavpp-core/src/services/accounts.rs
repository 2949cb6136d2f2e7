//! Accounts and authentication.

use chrono::TimeDelta;
use tracing::instrument;

use crate::auth::{Actor, IssuedTokens, hash_token, random_token};
use crate::domain::{Email, Password, Role, SessionFamilyId, User, UserId, UserName, UserStatus, now};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::storage::Conflict;
use crate::storage::{NewPasswordReset, NewRefreshToken, NewUser, PasswordChange, RefreshOutcome, RotatedToken, StoreError};

use super::emails;

const RESET_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// Activity pushes an admin panel session's idle deadline only when the stored one was set more
/// than this long ago (or a quarter of the idle limit, when that is shorter), so a page view is
/// not always a database write.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// Which limits a new login session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionKind {
    /// Storefront and API sessions: the refresh TTL, no idle limit.
    Standard,
    /// Admin panel sessions: the shorter of the refresh TTL and the panel's absolute limit, and
    /// the panel's idle limit.
    Panel,
}

fn duration(value: std::time::Duration, fallback: TimeDelta) -> TimeDelta {
    TimeDelta::from_std(value).unwrap_or(fallback)
}

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

/// A signed-in user and their tokens.
#[derive(Debug, Clone)]
pub struct AuthSession {
    /// The account.
    pub user: User,
    /// Access and refresh token.
    pub tokens: IssuedTokens,
}

/// Account services; get one from [`crate::Marketplace::accounts`].
pub struct Accounts<'a> {
    inner: &'a Inner,
}

fn invalid_credentials() -> Error {
    Error::unauthorized("invalid_credentials", "email or password is incorrect")
}

fn invalid_refresh() -> Error {
    Error::unauthorized("invalid_refresh_token", "the refresh token is invalid, expired or revoked")
}

fn suspended() -> Error {
    Error::forbidden("account_suspended", "this account is suspended")
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

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

    /// Signs in with email and password. Wrong email and wrong password fail alike (`401`);
    /// a suspended account is `403` once the password is right.
    #[instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthSession> {
        let user = self.check_credentials(email, password).await?;
        if user.status == UserStatus::Suspended {
            return Err(suspended());
        }
        self.start_session(user, SessionKind::Standard).await
    }

    /// Signs in to the admin panel: like [`Accounts::login`], but only an active account with role
    /// `admin` gets a session. Everyone else — wrong email or password, another role, a suspended
    /// account — gets the same `401 invalid_credentials`, so the panel tells nothing about accounts.
    /// The session is an ordinary login session: its refresh token is the panel's cookie value
    /// (see [`Accounts::authenticate_session`]), and logout, suspension and password changes end it.
    /// It is shorter-lived than a customer's: it ends [`Config::admin_session_max`] after sign-in
    /// (at most the refresh TTL) and after [`Config::admin_idle_timeout`] without a request.
    ///
    /// [`Config::admin_session_max`]: crate::Config::admin_session_max
    /// [`Config::admin_idle_timeout`]: crate::Config::admin_idle_timeout
    #[instrument(skip_all)]
    pub async fn admin_login(&self, email: &str, password: &str) -> Result<AuthSession> {
        let user = self.check_credentials(email, password).await?;
        if user.role != Role::Admin || user.status != UserStatus::Active {
            return Err(invalid_credentials());
        }
        self.start_session(user, SessionKind::Panel).await
    }

    /// The account behind `email` when `password` is right (whatever its role or status);
    /// `invalid_credentials` otherwise, costing the same time for unknown emails.
    async fn check_credentials(&self, email: &str, password: &str) -> Result<User> {
        let credentials = match Email::parse(email) {
            Ok(email) => self.inner.store.credentials_by_email(&email).await?,
            Err(_) => None,
        };
        let hash = credentials.as_ref().map(|c| c.password_hash.as_str());
        if !self.inner.hasher.verify(password, hash).await? {
            return Err(invalid_credentials());
        }
        credentials.map(|c| c.user).ok_or_else(invalid_credentials)
    }

    /// Turns a login session's current refresh token into an actor **without rotating it**, for
    /// cookie sessions that present the same token on every request (the admin panel). The token
    /// must be its session's current one (a rotated-away token fails), in a session neither revoked
    /// (logout, suspension, password change or reset) nor expired; the account is re-read, must be
    /// active, and its current role is used. `401 invalid_session` otherwise (`403` if suspended).
    ///
    /// Sessions with an idle limit (admin panel sessions, see [`Accounts::admin_login`]): a token
    /// presented after the idle deadline ends its session for good (`401 session_idle_timeout`);
    /// an accepted one pushes the deadline to a full idle limit from now (written at most about
    /// once a minute).
    #[instrument(skip_all)]
    pub async fn authenticate_session(&self, refresh_token: &str) -> Result<Actor> {
        let invalid = || Error::unauthorized("invalid_session", "the session is invalid, expired or ended");
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Err(invalid());
        }
        let at = now();
        let hash = self.inner.tokens.refresh_token_hash(refresh_token);
        let Some(owner) = self.inner.store.current_session(&hash, at).await? else {
            if self.inner.store.end_idle_session(&hash, at).await? {
                tracing::info!("an admin panel session ended after inactivity");
                return Err(Error::unauthorized(
                    "session_idle_timeout",
                    "the session ended after a period of inactivity; sign in again",
                ));
            }
            return Err(invalid());
        };
        let user = self.inner.store.user_by_id(owner.user_id).await?.ok_or_else(invalid)?;
        if user.status == UserStatus::Suspended {
            return Err(suspended());
        }
        if let Some(deadline) = owner.idle_expires_at {
            let idle = duration(self.inner.config.admin_idle_timeout, TimeDelta::minutes(30));
            let pushed = at + idle;
            if pushed - deadline >= TOUCH_INTERVAL.min(idle / 4) {
                self.inner.store.touch_session(owner.family, pushed, at).await?;
            }
        }
        Ok(Actor::User {
            id: user.id,
            role: user.role,
            session: Some(owner.family),
        })
    }

    async fn start_session(&self, user: User, kind: SessionKind) -> Result<AuthSession> {
        let at = now();
        let family = SessionFamilyId::new();
        let refresh_token = self.inner.tokens.new_refresh_token();
        let mut lifetime = duration(self.inner.tokens.refresh_ttl(), TimeDelta::days(7));
        let mut idle_expires_at = None;
        if kind == SessionKind::Panel {
            let config = &self.inner.config;
            lifetime = lifetime.min(duration(config.admin_session_max, TimeDelta::hours(8)));
            idle_expires_at = Some(at + duration(config.admin_idle_timeout, TimeDelta::minutes(30)));
        }
        self.inner
            .store
            .insert_refresh_token(NewRefreshToken {
                id: uuid::Uuid::now_v7(),
                family,
                user_id: user.id,
                token_hash: self.inner.tokens.refresh_token_hash(&refresh_token),
                issued_at: at,
                expires_at: at + lifetime,
                idle_expires_at,
            })
            .await?;
        let (access_token, expires_in) = self.inner.tokens.access_token(user.id, user.role, family, at)?;
        Ok(AuthSession {
            user,
            tokens: IssuedTokens {
                access_token,
                refresh_token,
                expires_in,
            },
        })
    }

    /// Rotates a refresh token: the presented one stops working and a new pair is issued in the
    /// same session. Presenting an already-rotated token revokes the whole session (`401`).
    #[instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthSession> {
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Err(invalid_refresh());
        }
        let at = now();
        let next_token = self.inner.tokens.new_refresh_token();
        let next = RotatedToken {
            id: uuid::Uuid::now_v7(),
            token_hash: self.inner.tokens.refresh_token_hash(&next_token),
            at,
        };
        let presented = self.inner.tokens.refresh_token_hash(refresh_token);
        match self.inner.store.rotate_refresh_token(&presented, next).await? {
            RefreshOutcome::Rotated { user_id, family } => {
                let user = self.inner.store.user_by_id(user_id).await?.ok_or_else(invalid_refresh)?;
                if user.status == UserStatus::Suspended {
                    self.inner
                        .store
                        .revoke_session(&self.inner.tokens.refresh_token_hash(&next_token), at)
                        .await?;
                    return Err(suspended());
                }
                let (access_token, expires_in) = self.inner.tokens.access_token(user.id, user.role, family, at)?;
                Ok(AuthSession {
                    user,
                    tokens: IssuedTokens {
                        access_token,
                        refresh_token: next_token,
                        expires_in,
                    },
                })
            }
            RefreshOutcome::Reused => {
                tracing::warn!("refresh token reuse detected; session revoked");
                Err(Error::unauthorized(
                    "refresh_token_reused",
                    "this refresh token was already used; the session is revoked",
                ))
            }
            RefreshOutcome::Invalid => Err(invalid_refresh()),
        }
    }

    /// Ends the session the refresh token belongs to. Unknown tokens are ignored.
    #[instrument(skip_all)]
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Ok(());
        }
        let hash = self.inner.tokens.refresh_token_hash(refresh_token);
        self.inner.store.revoke_session(&hash, now()).await?;
        Ok(())
    }

    /// Turns an access token into an actor: checks the token, then its login session (which must
    /// still be live: logout, password change or reset, suspension and refresh-token reuse end it,
    /// and with it every access token issued in it), then the account (which must exist and be
    /// active; its current role is used).
    #[instrument(skip_all)]
    pub async fn authenticate(&self, access_token: &str) -> Result<Actor> {
        let (user_id, session) = self.inner.tokens.verify_access(access_token)?;
        let invalid = || Error::unauthorized("invalid_token", "the access token is invalid or expired");
        let family = session.ok_or_else(invalid)?;
        let user = self.inner.store.user_by_id(user_id).await?.ok_or_else(invalid)?;
        if user.status == UserStatus::Suspended {
            return Err(suspended());
        }
        if !self.inner.store.session_is_live(family, user_id, now()).await? {
            return Err(Error::unauthorized(
                "session_ended",
                "the session of this access token has ended; sign in again",
            ));
        }
        let session = Some(family);
        Ok(Actor::User {
            id: user.id,
            role: user.role,
            session,
        })
    }

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
