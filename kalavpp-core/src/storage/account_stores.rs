//! Store traits of accounts and shops: users, sessions, password resets and vendors.

use async_trait::async_trait;

use crate::domain::{
    Email, Page, PageRequest, SessionFamilyId, Timestamp, User, UserFilter, UserId, UserName, Vendor, VendorFilter, VendorId,
};

use super::{
    AdminUserChange, NewEmail, NewPasswordReset, NewRefreshToken, NewUser, NewVendor, PasswordChange, RefreshOutcome, RotatedToken,
    SessionOwner, StoreResult, UserCredentials, VendorDecision, VendorProfileChange,
};

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates an account and queues its `welcome_email` (if any) in the same transaction;
    /// `Conflict::EmailTaken` when the email is taken (and then nothing is queued).
    async fn insert_user(&self, user: NewUser) -> StoreResult<User>;
    /// An account by id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// An account and its password hash by (normalised) email.
    async fn credentials_by_email(&self, email: &Email) -> StoreResult<Option<UserCredentials>>;
    /// An account and its password hash by id.
    async fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<UserCredentials>>;
    /// Renames an account; `NotFound` when it does not exist.
    async fn update_user_name(&self, id: UserId, name: &UserName, at: Timestamp) -> StoreResult<User>;
    /// Replaces the password hash and revokes every login session except `keep_session`.
    async fn change_password(&self, change: PasswordChange) -> StoreResult<()>;
    /// Accounts matching `filter`, newest first.
    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> StoreResult<Page<User>>;
    /// Applies an admin's change of status and/or role, writes the audit row, and revokes all
    /// sessions when the account is suspended, in one transaction. `NotFound` for an unknown id.
    async fn admin_update_user(&self, change: AdminUserChange) -> StoreResult<User>;
}

/// Refresh-token families (login sessions).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores the first refresh token of a new login session.
    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()>;
    /// Marks the presented token used and stores `next` in the same family, in one transaction.
    /// A token that was already used revokes its whole family and reports `Reused`.
    async fn rotate_refresh_token(&self, presented_hash: &str, next: RotatedToken) -> StoreResult<RefreshOutcome>;
    /// Revokes the family of the presented token; `false` when the token is unknown.
    async fn revoke_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool>;
    /// Reads (never rotates or revokes) the session of a presented token: `Some` only when the
    /// token is the family's current one (not yet rotated away) and its session is neither
    /// revoked nor expired at `at` (its absolute end, or its idle deadline when it has one);
    /// `None` otherwise. Used by cookie sessions (the admin panel),
    /// which present the same token on every request.
    async fn current_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<Option<SessionOwner>>;
    /// Whether the login session `family` of `user` is live at `at`: neither revoked (logout,
    /// suspension, password change or reset, refresh-token reuse) nor expired (absolute end or
    /// idle deadline). Checked on every
    /// request that presents an access token, so a token dies with its session.
    async fn session_is_live(&self, family: SessionFamilyId, user: UserId, at: Timestamp) -> StoreResult<bool>;
    /// Pushes the idle deadline of session `family` to `idle_expires_at` (never back) when the
    /// session has an idle limit and is live at `at` (not revoked, neither its absolute end nor its
    /// idle deadline passed); `false`, changing nothing, otherwise — an idle session is not revived.
    async fn touch_session(&self, family: SessionFamilyId, idle_expires_at: Timestamp, at: Timestamp) -> StoreResult<bool>;
    /// Ends (revokes at `at`) the session of a presented token when its idle deadline has passed
    /// at `at`; `true` when it ended one now. Sessions without an idle limit are never ended here.
    async fn end_idle_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool>;
}

/// Password reset tokens.
#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// Stores a reset token (hashed) and queues its email, in one transaction.
    async fn create_password_reset(&self, reset: NewPasswordReset, email: NewEmail) -> StoreResult<()>;
    /// Uses a reset token once: when it is unused and unexpired, sets the new password hash and
    /// revokes every session of the user. `None` when the token is unknown, used or expired.
    async fn consume_password_reset(&self, token_hash: &str, new_password_hash: &str, at: Timestamp) -> StoreResult<Option<UserId>>;
    /// Whether a reset token is unused and unexpired at `at` (read only; checked before the new
    /// password is hashed, so unknown tokens cost no hashing).
    async fn password_reset_is_valid(&self, token_hash: &str, at: Timestamp) -> StoreResult<bool>;
}

/// Vendors and their applications.
#[async_trait]
pub trait VendorStore: Send + Sync {
    /// Stores a new application (`pending`). `Conflict::AlreadyApplied` when the user already
    /// has one, `Conflict::SlugTaken(Sluggable::Vendor)` when the slug is taken.
    async fn insert_vendor(&self, vendor: NewVendor) -> StoreResult<Vendor>;
    /// Turns a `rejected` application of `vendor.user_id` back into a `pending` one with new
    /// details; `None` when the user has no rejected application.
    async fn reapply_vendor(&self, vendor: NewVendor) -> StoreResult<Option<Vendor>>;
    /// A vendor by id.
    async fn vendor_by_id(&self, id: VendorId) -> StoreResult<Option<Vendor>>;
    /// A vendor by slug.
    async fn vendor_by_slug(&self, slug: &str) -> StoreResult<Option<Vendor>>;
    /// The vendor of a user.
    async fn vendor_by_user(&self, user_id: UserId) -> StoreResult<Option<Vendor>>;
    /// Vendors matching `filter`, newest first.
    async fn list_vendors(&self, filter: &VendorFilter, page: PageRequest) -> StoreResult<Page<Vendor>>;
    /// Applies a vendor's own profile change.
    async fn update_vendor_profile(&self, id: VendorId, change: VendorProfileChange, at: Timestamp) -> StoreResult<Vendor>;
    /// Applies an admin decision (status, commission, role, audit row, email) in one transaction.
    /// `NotFound` for an unknown vendor, `Conflict::StaleStatus(HasStatus::Vendor)` when its status is not in `from`.
    async fn decide_vendor(&self, decision: VendorDecision) -> StoreResult<Vendor>;
}
