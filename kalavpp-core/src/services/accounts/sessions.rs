//! Sessions: logins (storefront and admin panel), refresh-token rotation, logout, and the
//! authentication of each request.

use chrono::TimeDelta;
use tracing::instrument;

use crate::auth::{Actor, IssuedTokens};
use crate::domain::{Email, Role, SessionFamilyId, User, UserStatus, now};
use crate::error::{Error, Result};
use crate::storage::{NewRefreshToken, RefreshOutcome, RotatedToken};

use super::Accounts;

/// Activity pushes an admin panel session's idle deadline only when the stored one was set more
/// than this long ago (or a quarter of the idle limit, when that is shorter), so a page view is
/// not always a database write.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// Which limits a new login session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionKind {
    /// Storefront and API sessions: the refresh TTL, no idle limit.
    Standard,
    /// Admin panel sessions: the shorter of the refresh TTL and the panel's absolute limit, and
    /// the panel's idle limit.
    Panel,
}

fn duration(value: std::time::Duration, fallback: TimeDelta) -> TimeDelta {
    TimeDelta::from_std(value).unwrap_or(fallback)
}

/// A signed-in user and their tokens.
#[derive(Debug, Clone)]
pub struct AuthSession {
    /// The account.
    pub user: User,
    /// Access and refresh token.
    pub tokens: IssuedTokens,
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

impl Accounts<'_> {
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

    pub(super) async fn start_session(&self, user: User, kind: SessionKind) -> Result<AuthSession> {
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
}
