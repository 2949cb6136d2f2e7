//! Administration of users, and read access to the outbox and audit log.

use serde_json::json;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{AdminProductFilter, Product};
use crate::domain::{AuditEntry, AuditFilter, EmailFilter, OutboxEmail, UserFilter};
use crate::domain::{EmailId, ProductStatus, VendorId, VendorStatus};
use crate::domain::{Page, PageRequest, Role, User, UserId, UserStatus, now};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::storage::StoreError;
use crate::storage::{AdminUserChange, NewAudit};

/// The admin's product search ([`Administration::list_products`]).
#[derive(Debug, Clone, Default)]
pub struct ProductSearch {
    /// Text the title or slug contains (case-insensitive; at most 200 characters).
    pub q: Option<String>,
    /// Only this status.
    pub status: Option<ProductStatus>,
    /// Only this vendor's products: its id or its slug (an unknown one matches nothing).
    pub vendor: Option<String>,
}

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
        if admin.is(user_id) && (status == Some(UserStatus::Suspended) || role.is_some_and(|r| r != Role::Admin)) {
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
            audit: NewAudit::by_admin(&admin, at, "user.update", "user", user_id, serde_json::Value::Object(details)),
        };
        let user = self.inner.store.admin_update_user(change).await.map_err(|e| match e {
            crate::storage::StoreError::NotFound => Error::not_found("user_not_found", "user not found"),
            other => other.into(),
        })?;
        // A suspended account's shop closes with it: its works leave the catalogue and nothing
        // more can be bought from it. Reactivating the account leaves the shop suspended until an
        // admin reinstates it (it may have been suspended for its own reasons).
        if status == Some(UserStatus::Suspended)
            && let Some(vendor) = self.inner.store.vendor_by_user(user_id).await?
            && vendor.status == VendorStatus::Approved
        {
            super::Vendors::new(self.inner).suspend_as(&admin, vendor.id).await?;
        }
        Ok(user)
    }

    /// The email outbox, newest first.
    #[instrument(skip_all)]
    pub async fn list_emails(&self, actor: &Actor, filter: EmailFilter, page: PageRequest) -> Result<Page<OutboxEmail>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_emails(&filter, page).await?)
    }

    /// Puts a `failed` email back in the outbox queue (attempts reset, due now), with an
    /// `email.retry` audit row in the same transaction; the outbox worker then sends it.
    /// `409 email_not_failed` for a message in any other status, `404 email_not_found` for an
    /// unknown id.
    #[instrument(skip_all)]
    pub async fn retry_email(&self, actor: &Actor, id: EmailId) -> Result<()> {
        let admin = actor.require_admin()?;
        let at = now();
        let audit = NewAudit::by_admin(&admin, at, "email.retry", "email", id, json!({}));
        match self.inner.store.retry_email(id, audit, at).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::conflict("email_not_failed", "only a failed email can be retried")),
            Err(StoreError::NotFound) => Err(Error::not_found("email_not_found", "email not found")),
            Err(other) => Err(other.into()),
        }
    }

    /// Every product in any status, of any vendor (moderation), newest first, narrowed by
    /// `search`. Unlike the public catalog it does not use the full-text index: `q` is a plain
    /// substring of the title or slug.
    #[instrument(skip_all)]
    pub async fn list_products(&self, actor: &Actor, search: ProductSearch, page: PageRequest) -> Result<Page<Product>> {
        actor.require_admin()?;
        let q = search.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
        if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(Error::invalid("q", "must be at most 200 characters"));
        }
        let vendor_id = match search.vendor.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(vendor) => {
                let found = match VendorId::parse(vendor) {
                    Some(id) => self.inner.store.vendor_by_id(id).await?,
                    None => self.inner.store.vendor_by_slug(&vendor.to_lowercase()).await?,
                };
                match found {
                    Some(v) => Some(v.id),
                    None => return Ok(Page::new(Vec::new(), page, 0)),
                }
            }
        };
        let filter = AdminProductFilter {
            q,
            status: search.status,
            vendor_id,
        };
        Ok(self.inner.store.list_all_products(&filter, page).await?)
    }

    /// The audit log, newest first.
    #[instrument(skip_all)]
    pub async fn list_audit(&self, actor: &Actor, filter: AuditFilter, page: PageRequest) -> Result<Page<AuditEntry>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_audit(&filter, page).await?)
    }
}
