//! Administration of users, and read access to the outbox and audit log.

use serde_json::json;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{AuditId, Page, PageRequest, Role, User, UserId, UserStatus, now};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::storage::{AdminUserChange, AuditEntry, AuditFilter, EmailFilter, NewAudit, OutboxEmail, UserFilter};

/// What an admin may change on an account.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// `customer` or `admin` (`vendor` comes from approving a vendor application).
    pub role: Option<String>,
}

/// Admin services; get one from [`crate::Marketplace::admin`].
pub struct Administration<'a> {
    inner: &'a Inner,
}

impl<'a> Administration<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Users matching `filter`, newest first.
    #[instrument(skip_all)]
    pub async fn list_users(&self, actor: &Actor, filter: UserFilter, page: PageRequest) -> Result<Page<User>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_users(&filter, page).await?)
    }

    /// Suspends / reactivates an account or changes its role, with an audit row. Suspending signs
    /// the user out everywhere. Admins cannot suspend or demote themselves.
    #[instrument(skip_all)]
    pub async fn update_user(&self, actor: &Actor, user_id: UserId, changes: UserChanges) -> Result<User> {
        let admin = actor.require_admin()?;
        let mut violations = Violations::new();
        let status = changes
            .status
            .as_deref()
            .and_then(|s| violations.check("status", UserStatus::parse(s)));
        let role = changes.role.as_deref().and_then(|r| violations.check("role", Role::parse(r)));
        if role == Some(Role::Vendor) {
            violations.add("role", "the vendor role is granted by approving a vendor application");
        }
        if changes.status.is_none() && changes.role.is_none() {
            violations.add("status", "nothing to change: give status and/or role");
        }
        violations.finish()?;
        if admin == Some(user_id) && (status == Some(UserStatus::Suspended) || role.is_some_and(|r| r != Role::Admin)) {
            return Err(Error::conflict(
                "cannot_demote_self",
                "administrators cannot suspend or demote themselves",
            ));
        }
        let before = self
            .inner
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| Error::not_found("user_not_found", "user not found"))?;
        let mut details = serde_json::Map::new();
        if let Some(status) = status {
            details.insert("status".into(), json!({"from": before.status, "to": status}));
        }
        if let Some(role) = role {
            details.insert("role".into(), json!({"from": before.role, "to": role}));
        }
        let at = now();
        let change = AdminUserChange {
            user_id,
            status,
            role,
            audit: NewAudit {
                id: AuditId::new(),
                at,
                actor_id: admin,
                action: "user.update".into(),
                target_type: "user".into(),
                target_id: user_id.to_string(),
                details: serde_json::Value::Object(details),
            },
        };
        self.inner.store.admin_update_user(change).await.map_err(|e| match e {
            crate::storage::StoreError::NotFound => Error::not_found("user_not_found", "user not found"),
            other => other.into(),
        })
    }

    /// The email outbox, newest first.
    #[instrument(skip_all)]
    pub async fn list_emails(&self, actor: &Actor, filter: EmailFilter, page: PageRequest) -> Result<Page<OutboxEmail>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_emails(&filter, page).await?)
    }

    /// The audit log, newest first.
    #[instrument(skip_all)]
    pub async fn list_audit(&self, actor: &Actor, filter: AuditFilter, page: PageRequest) -> Result<Page<AuditEntry>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_audit(&filter, page).await?)
    }
}
