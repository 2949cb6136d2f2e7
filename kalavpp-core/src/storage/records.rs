//! Plain records passed into and out of the store traits.

use crate::domain::Timestamp;
use uuid::Uuid;

use crate::domain::{AuditId, Email, EmailId, Role, SessionFamilyId, User, UserId, UserName, UserStatus};

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Its id.
    pub id: UserId,
    /// Normalised email.
    pub email: Email,
    /// Display name.
    pub name: UserName,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Initial role.
    pub role: Role,
    /// Creation time.
    pub created_at: Timestamp,
    /// A message queued in the same transaction as the account (the welcome email), if any.
    pub welcome_email: Option<NewEmail>,
}

/// An account with its password hash, for credential checks only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// A new password for an account.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// Whose password.
    pub user_id: UserId,
    /// New argon2id PHC string.
    pub password_hash: String,
    /// The session that stays signed in (the one making the change), if any.
    pub keep_session: Option<SessionFamilyId>,
    /// When.
    pub at: Timestamp,
}

/// An admin's change to an account, with its audit row.
#[derive(Debug, Clone)]
pub struct AdminUserChange {
    /// The account to change.
    pub user_id: UserId,
    /// New status, if changing.
    pub status: Option<UserStatus>,
    /// New role, if changing.
    pub role: Option<Role>,
    /// The audit row written in the same transaction.
    pub audit: NewAudit,
}

/// A new audit-log row.
#[derive(Debug, Clone)]
pub struct NewAudit {
    /// Row id.
    pub id: AuditId,
    /// When.
    pub at: Timestamp,
    /// Who (None for the system / CLI).
    pub actor_id: Option<UserId>,
    /// `<target>.<verb>`, e.g. `user.update`.
    pub action: String,
    /// Kind of thing changed, e.g. `user`.
    pub target_type: String,
    /// Id of the thing changed.
    pub target_id: String,
    /// A small JSON object of what changed.
    pub details: serde_json::Value,
}

/// The first refresh token of a login session.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// Row id.
    pub id: Uuid,
    /// The session (family) it starts.
    pub family: SessionFamilyId,
    /// Whose session.
    pub user_id: UserId,
    /// Keyed hash of the token.
    pub token_hash: String,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Absolute end of the session; rotations keep it.
    pub expires_at: Timestamp,
    /// Idle deadline (admin panel sessions): the session ends when it passes without activity;
    /// [`super::SessionStore::touch_session`] pushes it. `None`: no idle limit (storefront, API).
    pub idle_expires_at: Option<Timestamp>,
}

/// The token that replaces a presented one on rotation.
#[derive(Debug, Clone)]
pub struct RotatedToken {
    /// Row id.
    pub id: Uuid,
    /// Keyed hash of the new token.
    pub token_hash: String,
    /// Rotation time.
    pub at: Timestamp,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Rotated: the new token is stored in the same family.
    Rotated {
        /// Whose session.
        user_id: UserId,
        /// The session.
        family: SessionFamilyId,
    },
    /// The token had already been rotated: the whole family is now revoked.
    Reused,
    /// Unknown, revoked or expired.
    Invalid,
}

/// The owner of a live login session, as found by [`super::SessionStore::current_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOwner {
    /// Whose session.
    pub user_id: UserId,
    /// The session.
    pub family: SessionFamilyId,
    /// The session's idle deadline, when it has one (admin panel sessions).
    pub idle_expires_at: Option<Timestamp>,
}

/// A new password-reset token.
#[derive(Debug, Clone)]
pub struct NewPasswordReset {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Whose password.
    pub user_id: UserId,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A message to queue in the outbox.
#[derive(Debug, Clone)]
pub struct NewEmail {
    /// Message id.
    pub id: EmailId,
    /// Recipient address.
    pub recipient: String,
    /// Template name, e.g. `password_reset`.
    pub template: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body, if any.
    pub body_html: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
}

/// A message claimed for delivery by [`super::OutboxStore::claim_emails`]: what a worker needs to
/// send it. `Debug` leaves the bodies out (they may hold one-time tokens).
#[derive(Clone, PartialEq)]
pub struct ClaimedEmail {
    /// Message id.
    pub id: EmailId,
    /// Recipient address.
    pub recipient: String,
    /// Template name.
    pub template: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body, if any.
    pub body_html: Option<String>,
    /// Delivery attempts including the one this claim starts.
    pub attempts: i32,
    /// When it was queued.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for ClaimedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedEmail")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("template", &self.template)
            .field("subject", &self.subject)
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}
