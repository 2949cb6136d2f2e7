use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Role, UserId, UserStatus};

/// A display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    /// Validates `input`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim();
        if name.is_empty() {
            Err("is required".into())
        } else if name.chars().count() > 100 {
            Err("must be at most 100 characters".into())
        } else if name.chars().any(char::is_control) {
            Err("must not contain control characters".into())
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user account as the services see it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Account id.
    pub id: UserId,
    /// Normalised email, unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Current status.
    pub status: UserStatus,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// Last change to the account.
    pub updated_at: DateTime<Utc>,
}

/// Filters of the admin user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of email or name.
    pub q: Option<String>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only this status.
    pub status: Option<UserStatus>,
}
