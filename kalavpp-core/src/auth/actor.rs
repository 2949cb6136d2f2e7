use crate::domain::{Role, SessionFamilyId, UserId};
use crate::error::{Error, Result};

/// Who is calling a service. Every service method takes one and checks it (deny by default);
/// admin and vendor rights are obtained from it as capabilities ([`AdminCap`](super::AdminCap)
/// via [`Actor::require_admin`], [`VendorCap`](super::VendorCap)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// No credentials.
    Anonymous,
    /// A signed-in, active user.
    User {
        /// The user's id.
        id: UserId,
        /// The user's current role.
        role: Role,
        /// The login session the access token belongs to, when known.
        session: Option<SessionFamilyId>,
    },
    /// The operator: CLI commands and embedding code acting with full rights.
    System,
}

impl Actor {
    /// The signed-in user's id, or `Unauthorized`.
    pub fn require_user(&self) -> Result<UserId> {
        match self {
            Self::User { id, .. } => Ok(*id),
            _ => Err(Error::unauthorized("authentication_required", "sign in to do this")),
        }
    }

    /// The user id behind this actor, if any (used as the audit-log actor).
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User { id, .. } => Some(*id),
            _ => None,
        }
    }
}
